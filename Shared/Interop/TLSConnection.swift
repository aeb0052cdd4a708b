internal import COpenSSL
public import NIOCore
public import SkyportRPC

/// One TLS session (an OpenSSL `SSL`) driven entirely in memory: ciphertext from the network is
/// fed in, ciphertext for the network is drained out, so the caller (a NIO handler) owns all I/O.
///
/// Not `Sendable`: it belongs to one channel and is used only on that channel's event loop.
/// No method blocks; OpenSSL's "want read" means "feed more ciphertext and call again".
public final class TLSConnection {
    /// Progress of the handshake.
    public enum HandshakeState: Sendable, Hashable {
        /// The handshake finished and the post-handshake checks (ALPN) passed.
        case complete
        /// The handshake needs more ciphertext from the peer; drain and send any output first.
        case wantRead
    }

    /// Why `readPlaintext` stopped.
    public enum ReadResult: Sendable, Hashable {
        /// Everything decryptable so far was read; more needs more ciphertext.
        case wantRead
        /// The peer sent close_notify: no more plaintext will come.
        case closed
    }

    /// The context this connection was made from; retained because the SSL's callbacks use it.
    public let context: TLSContext
    /// The owned `SSL *`; it owns the two memory BIOs.
    private let ssl: OpaquePointer
    /// Ciphertext from the peer, read by OpenSSL.
    private let networkInput: OpaquePointer
    /// Ciphertext for the peer, written by OpenSSL.
    private let networkOutput: OpaquePointer
    /// Whether `doHandshake` has returned `.complete`.
    public private(set) var isHandshakeComplete = false
    /// The ALPN protocol both ends agreed on, once the handshake is complete.
    public private(set) var negotiatedALPN: String?
    /// The peer's names from a certificate that verified against the trust roots, once the handshake
    /// is complete; `nil` when the peer presented no certificate (a client without mutual TLS).
    public private(set) var peerIdentity: TLSIdentity?

    /// Creates a connection in the context's role.
    ///
    /// - Parameter serverHostname: client only: overrides `TLSConfiguration.serverHostname` for SNI
    ///   and certificate name verification (gRPC's `--server_host_override`).
    /// - Throws: `TLSError` when OpenSSL cannot allocate, or a client has no host name to verify.
    public init(context: TLSContext, serverHostname: String? = nil) throws {
        self.context = context
        ERR_clear_error()
        guard let ssl = SSL_new(context.pointer) else { throw TLSError.fromQueue("create SSL") }
        guard let input = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            throw TLSError.fromQueue("allocate BIO")
        }
        guard let output = BIO_new(BIO_s_mem()) else {
            BIO_free(input)
            SSL_free(ssl)
            throw TLSError.fromQueue("allocate BIO")
        }
        // The SSL takes ownership of both BIOs; SSL_free in deinit frees them.
        SSL_set_bio(ssl, input, output)
        self.ssl = ssl
        self.networkInput = input
        self.networkOutput = output
        switch context.configuration.role {
        case .server:
            SSL_set_accept_state(ssl)
        case .client:
            SSL_set_connect_state(ssl)
            guard let hostname = serverHostname ?? context.configuration.serverHostname, !hostname.isEmpty else {
                throw TLSError(operation: "configure client: serverHostname is required to verify the server")
            }
            try self.setExpectedHostname(hostname)
        }
    }

    deinit {
        SSL_free(self.ssl)
    }

    private func setExpectedHostname(_ hostname: String) throws {
        let parameters = SSL_get0_param(self.ssl)
        // An IP address is matched against IP SANs and must not be sent as SNI (RFC 6066 §3).
        if X509_VERIFY_PARAM_set1_ip_asc(parameters, hostname) == 1 { return }
        ERR_clear_error()
        X509_VERIFY_PARAM_set_hostflags(parameters, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
        guard X509_VERIFY_PARAM_set1_host(parameters, hostname, 0) == 1 else {
            throw TLSError.fromQueue("set expected host name")
        }
        guard skyport_SSL_set_tlsext_host_name(self.ssl, hostname) == 1 else {
            throw TLSError.fromQueue("set SNI host name")
        }
    }

    /// Hands ciphertext received from the network to OpenSSL, consuming all of `ciphertext`.
    public func feed(ciphertext: inout ByteBuffer) throws {
        while ciphertext.readableBytes > 0 {
            let written = ciphertext.withUnsafeReadableBytes { bytes in
                BIO_write(self.networkInput, bytes.baseAddress, Int32(clamping: bytes.count))
            }
            // A memory BIO only refuses when out of memory.
            guard written > 0 else { throw TLSError.fromQueue("buffer received ciphertext") }
            ciphertext.moveReaderIndex(forwardBy: Int(written))
        }
    }

    /// Advances the handshake with the ciphertext fed so far.
    ///
    /// Always `drainCiphertext` afterwards, also after a throw: the output may hold the next
    /// handshake flight or the alert that tells the peer why the handshake failed.
    ///
    /// - Throws: `TLSError`, with the verification failure when the peer's certificate was refused,
    ///   or when the server selected no ALPN protocol.
    public func doHandshake() throws -> HandshakeState {
        if self.isHandshakeComplete { return .complete }
        ERR_clear_error()
        let result = SSL_do_handshake(self.ssl)
        guard result == 1 else {
            switch SSL_get_error(self.ssl, result) {
            case SSL_ERROR_WANT_READ:
                return .wantRead
            case SSL_ERROR_WANT_WRITE:
                // Memory BIOs never fill up; the caller drains the output and feeds more input anyway.
                return .wantRead
            default:
                throw self.failure("handshake")
            }
        }
        guard let protocolName = self.readNegotiatedALPN() else {
            throw TLSError(
                operation: "handshake: the peer selected no application protocol (ALPN), expected one of "
                    + self.context.configuration.applicationProtocols.joined(separator: ", "))
        }
        self.negotiatedALPN = protocolName
        self.peerIdentity = self.readVerifiedPeerIdentity()
        self.isHandshakeComplete = true
        return .complete
    }

    /// Decrypts every complete record fed so far, appending the plaintext to `buffer`.
    ///
    /// Only call after the handshake completed. The plaintext is bounded by the ciphertext fed
    /// since the last call; drain afterwards, as records may provoke a reply (key update).
    ///
    /// - Throws: `TLSError` when a record is corrupt or the peer sent a fatal alert (for example,
    ///   a TLS 1.3 server refusing this client's certificate after the client's handshake finished).
    public func readPlaintext(into buffer: inout ByteBuffer) throws -> ReadResult {
        while true {
            ERR_clear_error()
            var readCount = 0
            var result: Int32 = 0
            // 16 KiB is the largest TLS record's plaintext.
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 16_384) { bytes in
                result = SSL_read_ex(self.ssl, bytes.baseAddress, bytes.count, &readCount)
                return result == 1 ? readCount : 0
            }
            if result == 1 { continue }
            switch SSL_get_error(self.ssl, result) {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
                return .wantRead
            case SSL_ERROR_ZERO_RETURN:
                return .closed
            default:
                throw self.failure("read")
            }
        }
    }

    /// Encrypts all of `buffer`; the records wait in the output for `drainCiphertext`.
    ///
    /// - Throws: `TLSError` before the handshake completed, after `shutdown`, or on an OpenSSL failure.
    public func writePlaintext(_ buffer: ByteBuffer) throws {
        guard self.isHandshakeComplete else { throw TLSError(operation: "write: the handshake is not complete") }
        var offset = 0
        let total = buffer.readableBytes
        // Partial writes are enabled, so loop until OpenSSL took everything.
        while offset < total {
            ERR_clear_error()
            var written = 0
            let result = buffer.withUnsafeReadableBytes { bytes in
                SSL_write_ex(self.ssl, bytes.baseAddress! + offset, bytes.count - offset, &written)
            }
            if result == 1 {
                offset += written
                continue
            }
            switch SSL_get_error(self.ssl, result) {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
                // With unbounded memory BIOs and renegotiation disabled, a write can only wait on
                // the network during a handshake, which the guard above excludes.
                throw TLSError.fromQueue("write: OpenSSL unexpectedly wants network I/O")
            default:
                throw self.failure("write")
            }
        }
    }

    /// Moves all pending ciphertext (handshake flights, records, alerts) into `buffer` for sending.
    public func drainCiphertext(into buffer: inout ByteBuffer) {
        while true {
            let pending = Int(skyport_BIO_pending(self.networkOutput))
            guard pending > 0 else { return }
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: pending) { bytes in
                let count = BIO_read(self.networkOutput, bytes.baseAddress, Int32(clamping: bytes.count))
                return max(0, Int(count))
            }
        }
    }

    /// Whether `drainCiphertext` has something to send.
    public var hasPendingCiphertext: Bool {
        skyport_BIO_pending(self.networkOutput) > 0
    }

    /// Queues a close_notify alert (drain it and send it before closing the socket). Does nothing
    /// before the handshake completed, when there is no session to close.
    public func shutdown() {
        guard self.isHandshakeComplete else { return }
        ERR_clear_error()
        // One call: sends our close_notify; we do not wait for the peer's (the socket closes next).
        _ = SSL_shutdown(self.ssl)
        ERR_clear_error()
    }

    private func readNegotiatedALPN() -> String? {
        var data: UnsafePointer<UInt8>? = nil
        var length: UInt32 = 0
        SSL_get0_alpn_selected(self.ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }

    private func readVerifiedPeerIdentity() -> TLSIdentity? {
        // A certificate that was not verified (server without trust roots never asks; the result
        // must be OK) is never reported as an identity.
        guard let certificate = SSL_get0_peer_certificate(self.ssl),
            SSL_get_verify_result(self.ssl) == Int(X509_V_OK)
        else { return nil }
        // get0 does not transfer a reference: take one for the owner to release.
        X509_up_ref(certificate)
        return CertificateX509(owning: certificate).identity()
    }

    private func failure(_ operation: String) -> TLSError {
        let verifyResult = SSL_get_verify_result(self.ssl)
        let verification: String? =
            verifyResult == Int(X509_V_OK) ? nil : String(cString: X509_verify_cert_error_string(verifyResult))
        return TLSError.fromQueue(operation, verificationFailure: verification)
    }
}
