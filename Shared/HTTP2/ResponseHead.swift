internal import SkyportInterop
internal import SkyportRPC

/// How a client reads response header blocks and stream resets into gRPC terms.
enum ResponseHead {
    /// Reads a block of response headers: custom metadata, or the status when it is not a gRPC
    /// response (bad `:status` or `content-type`).
    static func parseHeaders(_ fields: [HeaderField]) -> (metadata: Metadata, failure: Status?) {
        var httpStatus: String?
        var contentType: String?
        var metadata = Metadata()
        for field in fields {
            switch field.name {
            case ":status": httpStatus = field.value
            case "content-type": contentType = field.value
            default: self.add(field, to: &metadata)
            }
        }
        if httpStatus != "200" {
            return (metadata, self.status(forHTTPStatus: httpStatus))
        }
        if let contentType, !RequestHead.isGRPCContentType(contentType) {
            return (metadata, Status(code: .unknown, message: "Unexpected content-type '\(contentType)'"))
        }
        return (metadata, nil)
    }

    /// Reads trailers (or a trailers-only response) into a status and trailing metadata.
    static func parseTrailers(_ fields: [HeaderField]) -> (status: Status, metadata: Metadata) {
        var code: String?
        var message = ""
        var httpStatus: String?
        var metadata = Metadata()
        for field in fields {
            switch field.name {
            case "grpc-status": code = field.value
            case "grpc-message": message = StatusMessageCoding.decode(field.value)
            case ":status": httpStatus = field.value
            default: self.add(field, to: &metadata)
            }
        }
        guard let code else {
            if let httpStatus, httpStatus != "200" { return (self.status(forHTTPStatus: httpStatus), metadata) }
            return (Status(code: .internal, message: "Response ended without grpc-status"), metadata)
        }
        return (Status(code: Status.Code(headerValue: code), message: message), metadata)
    }

    /// The status for a stream reset by the server before it sent a status.
    static func status(forReset code: UInt32) -> Status {
        switch HTTP2ErrorCode(rawValue: code) {
        case .cancel: Status(code: .cancelled, message: "Stream cancelled by the server")
        case .refusedStream: Status(code: .unavailable, message: "Stream refused by the server")
        case .enhanceYourCalm:
            Status(code: .resourceExhausted, message: "Server asked to slow down (ENHANCE_YOUR_CALM)")
        case .inadequateSecurity: Status(code: .permissionDenied, message: "Inadequate security")
        default: Status(code: .internal, message: "Stream reset by the server with HTTP/2 error \(code)")
        }
    }

    /// The status for a non-200 HTTP response, as the gRPC HTTP-to-status mapping defines it.
    static func status(forHTTPStatus value: String?) -> Status {
        let code: Status.Code =
            switch value {
            case "400": .internal
            case "401": .unauthenticated
            case "403": .permissionDenied
            case "404": .unimplemented
            case "429", "502", "503", "504": .unavailable
            default: .unknown
            }
        return Status(code: code, message: "HTTP status \(value ?? "missing")")
    }

    private static func add(_ field: HeaderField, to metadata: inout Metadata) {
        guard let entry = Metadata.entry(fromWireKey: field.name, value: field.value) else { return }
        switch entry.value {
        case .binary(let bytes): metadata.add(entry.key, binary: bytes)
        case .string(let text): metadata.add(entry.key, text)
        }
    }
}
