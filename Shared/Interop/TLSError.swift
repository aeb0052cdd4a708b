internal import COpenSSL

/// A TLS or certificate failure, carrying OpenSSL's explanation but never key material.
public struct TLSError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What Skyport was doing, e.g. `handshake` or `load private key`.
    public var operation: String
    /// OpenSSL's error queue at the time of failure, oldest first (from `ERR_error_string_n`).
    public var openSSLErrors: [String]
    /// The certificate verification result when the handshake failed verifying the peer
    /// (from `X509_verify_cert_error_string`), e.g. `hostname mismatch`.
    public var verificationFailure: String?

    /// Creates an error; usually built by the interop layer from OpenSSL's error queue.
    public init(operation: String, openSSLErrors: [String] = [], verificationFailure: String? = nil) {
        self.operation = operation
        self.openSSLErrors = openSSLErrors
        self.verificationFailure = verificationFailure
    }

    /// One line for logs: the operation, the verification failure and the OpenSSL errors.
    public var description: String {
        var text = "TLS error during \(self.operation)"
        if let verificationFailure { text += ": certificate verification failed (\(verificationFailure))" }
        if !self.openSSLErrors.isEmpty { text += ": " + self.openSSLErrors.joined(separator: "; ") }
        return text
    }
}

extension TLSError {
    /// Drains this thread's OpenSSL error queue into an error for `operation`.
    ///
    /// Draining matters: OpenSSL's queue is per thread and an event loop thread serves many
    /// connections, so a stale entry would be blamed on the next connection's failure.
    static func fromQueue(_ operation: String, verificationFailure: String? = nil) -> TLSError {
        TLSError(
            operation: operation, openSSLErrors: Self.drainErrorQueue(),
            verificationFailure: verificationFailure)
    }

    /// Returns and clears the queued OpenSSL error strings, oldest first.
    static func drainErrorQueue() -> [String] {
        var messages: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var text = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &text, text.count)
            messages.append(String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return messages
    }
}
