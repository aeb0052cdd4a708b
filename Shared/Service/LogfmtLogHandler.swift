import Foundation
public import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// swift-log handler writing one logfmt line per event to standard error:
///
/// `ts=2026-11-21T23:40:01.250Z level=info service=billing logger=billing msg="call finished" code=OK
/// duration_ms=0.842 method=/skyport.billing.v1.Billing/IngestUsage request_id=9f2c…` (one line)
///
/// Keys are sorted after `ts`, `level`, `service`, `logger` and `msg`; values with spaces, quotes, `=`,
/// control characters or Unicode line separators are quoted and escaped, so every event is exactly
/// one line. The current
/// call's request id (``RequestContext/requestID``) is added by ``metadataProvider``.
public struct LogfmtLogHandler: LogHandler {
    /// The service name on every line.
    public let service: String
    /// The logger's label.
    public let label: String
    /// Events below this level are dropped.
    public var logLevel: Logger.Level
    /// Metadata set on the logger.
    public var metadata: Logger.Metadata = [:]
    /// Adds contextual metadata (the request id) to every event.
    public var metadataProvider: Logger.MetadataProvider?
    private let sink: @Sendable (String) -> Void

    /// Adds `request_id` while a call runs.
    public static let metadataProvider = Logger.MetadataProvider {
        RequestContext.requestID.map { ["request_id": .string($0)] } ?? [:]
    }

    /// A handler for `label` writing to standard error, or to `sink` (tests).
    public init(
        service: String, label: String, level: Logger.Level,
        metadataProvider: Logger.MetadataProvider? = Self.metadataProvider,
        sink: @escaping @Sendable (String) -> Void = LogfmtLogHandler.standardError
    ) {
        self.service = service
        self.label = label
        self.logLevel = level
        self.metadataProvider = metadataProvider
        self.sink = sink
    }

    /// Writes `line` to standard error in one `write`, so lines from different threads never interleave.
    public static let standardError: @Sendable (String) -> Void = { line in
        var bytes = Array(line.utf8)
        bytes.append(UInt8(ascii: "\n"))
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(2, buffer.baseAddress! + offset, buffer.count - offset)
                if written <= 0 {
                    if written < 0 && errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
    }

    /// Metadata of this handler.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    /// Formats and writes one event.
    public func log(event: LogEvent) {
        var merged = self.metadata
        if let provided = self.metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        var line = "ts=\(Self.timestamp()) level=\(event.level) service=\(Self.quoted(self.service))"
        line += " logger=\(Self.quoted(self.label)) msg=\(Self.quoted(event.message.description))"
        for key in merged.keys.sorted() {
            line += " \(Self.sanitisedKey(key))=\(Self.quoted(Self.text(merged[key]!)))"
        }
        self.sink(line)
    }

    static func text(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let string): string
        case .stringConvertible(let convertible): convertible.description
        case .array(let values): "[" + values.map(Self.text).joined(separator: ",") + "]"
        case .dictionary(let values):
            "{" + values.keys.sorted().map { "\($0):\(Self.text(values[$0]!))" }.joined(separator: ",") + "}"
        }
    }

    /// The value as is when it needs no quoting, else in double quotes with `\`, `"` and control
    /// characters escaped.
    static func quoted(_ value: String) -> String {
        // Most values are plain printable ASCII: decided by byte, without decoding scalars.
        let plainASCII = value.utf8.allSatisfy { byte in
            byte > 0x20 && byte < 0x7F && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "=")
                && byte != UInt8(ascii: "\\")
        }
        if plainASCII && !value.isEmpty { return value }
        let needsQuotes =
            value.isEmpty
            || value.unicodeScalars.contains {
                Self.mustEscape($0) || $0 == " " || $0 == "\"" || $0 == "=" || $0 == "\\"
            }
        guard needsQuotes else { return value }
        var result = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default:
                if Self.mustEscape(scalar) {
                    result += String(format: "\\u%04x", scalar.value)
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }

    /// C0 controls, DEL, C1 controls and the Unicode line and paragraph separators.
    private static func mustEscape(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029
    }

    /// Keys keep letters, digits, `_`, `.` and `-`; anything else becomes `_`.
    static func sanitisedKey(_ key: String) -> String {
        let allowedASCII = key.utf8.allSatisfy { byte in
            (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x30 && byte <= 0x39)
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
        }
        if allowedASCII { return key }
        return String(
            key.unicodeScalars.map { scalar -> Character in
                let allowed =
                    ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
                    || scalar == "_" || scalar == "." || scalar == "-"
                return allowed ? Character(scalar) : "_"
            })
    }

    /// UTC, millisecond precision, RFC 3339. Formatted by hand: `String(format:)` was a visible share of
    /// a busy service's time, with one line per call.
    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        func append(_ value: Int, digits: Int) {
            var divisor = 1
            for _ in 1..<digits { divisor *= 10 }
            while divisor > 0 {
                bytes.append(UInt8(ascii: "0") + UInt8((value / divisor) % 10))
                divisor /= 10
            }
        }
        append(Int(parts.tm_year) + 1900, digits: 4)
        bytes.append(UInt8(ascii: "-"))
        append(Int(parts.tm_mon) + 1, digits: 2)
        bytes.append(UInt8(ascii: "-"))
        append(Int(parts.tm_mday), digits: 2)
        bytes.append(UInt8(ascii: "T"))
        append(Int(parts.tm_hour), digits: 2)
        bytes.append(UInt8(ascii: ":"))
        append(Int(parts.tm_min), digits: 2)
        bytes.append(UInt8(ascii: ":"))
        append(Int(parts.tm_sec), digits: 2)
        bytes.append(UInt8(ascii: "."))
        append(Int(now.tv_nsec / 1_000_000), digits: 3)
        bytes.append(UInt8(ascii: "Z"))
        return String(decoding: bytes, as: UTF8.self)
    }
}
