internal import SkyportInterop
internal import SkyportRPC

/// A validated gRPC request header block.
struct RequestHead: Sendable, Equatable {
    /// The `:path`.
    var path: String
    /// The timeout from `grpc-timeout`, if any.
    var timeout: Duration?
    /// Custom metadata (reserved headers removed, `-bin` values decoded).
    var metadata: Metadata

    /// How a header block was judged.
    enum Validation: Equatable {
        /// A gRPC request to route.
        case accept(RequestHead)
        /// Not a gRPC request: answer with this HTTP status (and a gRPC status for gRPC-aware clients).
        case rejectHTTP(status: Int, Status)
        /// A gRPC request that must end at once with this status (trailers-only).
        case reject(Status, extraHeaders: [HeaderField])
    }

    /// Validates request headers as the gRPC HTTP/2 protocol requires: POST, `application/grpc*`
    /// content type, a well-formed `grpc-timeout`, and an encoding we support (identity only).
    static func validate(_ fields: [HeaderField]) -> Validation {
        var method: String?
        var path: String?
        var contentType: String?
        var timeoutValue: String?
        var encoding: String?
        var metadata = Metadata()
        for field in fields {
            switch field.name {
            case ":method": method = field.value
            case ":path": path = field.value
            case "content-type": contentType = field.value
            case "grpc-timeout": timeoutValue = field.value
            case "grpc-encoding": encoding = field.value
            default:
                if let entry = Metadata.entry(fromWireKey: field.name, value: field.value) {
                    if case .binary(let bytes) = entry.value {
                        metadata.add(entry.key, binary: bytes)
                    } else if case .string(let text) = entry.value {
                        metadata.add(entry.key, text)
                    }
                }
            }
        }
        guard method == "POST" else {
            return .rejectHTTP(
                status: 405, Status(code: .internal, message: "gRPC requires POST, got \(method ?? "none")"))
        }
        guard let contentType, isGRPCContentType(contentType) else {
            return .rejectHTTP(
                status: 415,
                Status(
                    code: .internal, message: "Invalid content-type '\(contentType ?? "")': expected application/grpc"))
        }
        guard let path else {
            return .reject(Status(code: .unimplemented, message: "Missing :path"), extraHeaders: [])
        }
        var timeout: Duration?
        if let timeoutValue {
            guard let parsed = GRPCTimeout.parse(timeoutValue) else {
                return .reject(
                    Status(code: .internal, message: "Malformed grpc-timeout '\(timeoutValue)'"), extraHeaders: [])
            }
            timeout = parsed
        }
        if let encoding, encoding != "identity" {
            return .reject(
                Status(code: .unimplemented, message: "grpc-encoding '\(encoding)' is not supported"),
                extraHeaders: [HeaderField("grpc-accept-encoding", "identity")])
        }
        return .accept(RequestHead(path: path, timeout: timeout, metadata: metadata))
    }

    /// `application/grpc`, optionally followed by `+format` or `;params`.
    static func isGRPCContentType(_ value: String) -> Bool {
        guard value.hasPrefix("application/grpc") else { return false }
        let rest = value.dropFirst("application/grpc".count)
        return rest.isEmpty || rest.first == "+" || rest.first == ";"
    }
}

/// Header blocks the transport sends.
enum ResponseHeaders {
    static let contentType = HeaderField("content-type", "application/grpc")
    /// The blocks of a plain successful call, built once.
    private static let plainHeaders = [HeaderField(":status", "200"), contentType]
    private static let okTrailers = [HeaderField("grpc-status", "0")]

    /// Response headers with custom metadata.
    static func headers(_ metadata: Metadata) -> [HeaderField] {
        guard !metadata.isEmpty else { return plainHeaders }
        var fields = plainHeaders
        appendMetadata(metadata, to: &fields)
        return fields
    }

    /// Trailers: status, message and custom metadata.
    static func trailers(_ status: Status, _ metadata: Metadata) -> [HeaderField] {
        if status.code == .ok && status.message.isEmpty && metadata.isEmpty { return okTrailers }
        var fields = [HeaderField("grpc-status", String(status.code.rawValue))]
        if !status.message.isEmpty {
            fields.append(HeaderField("grpc-message", StatusMessageCoding.encode(status.message)))
        }
        appendMetadata(metadata, to: &fields)
        return fields
    }

    /// A trailers-only response: one HEADERS frame that ends the stream.
    static func trailersOnly(
        _ status: Status, _ metadata: Metadata, httpStatus: Int = 200,
        extra: [HeaderField] = []
    ) -> [HeaderField] {
        [HeaderField(":status", String(httpStatus)), contentType] + extra + trailers(status, metadata)
    }

    static func appendMetadata(_ metadata: Metadata, to fields: inout [HeaderField]) {
        for entry in metadata {
            if let value = Metadata.wireValue(for: entry) { fields.append(HeaderField(entry.key, value)) }
        }
    }
}
