internal import COpenSSL

/// A configured OpenSSL `SSL_CTX`: certificates, trust roots, protocol versions and ALPN, shared
/// by every `TLSConnection` of one server or client.
///
/// `@unchecked Sendable` because the wrapped `SSL_CTX` is fully configured in `init` and never
/// mutated afterwards; OpenSSL documents creating `SSL` objects from a shared, unchanging
/// `SSL_CTX` on several threads as safe (the context is reference counted and its certificate
/// store locked internally).
public final class TLSContext: @unchecked Sendable {
    /// The configuration this context was built from.
    public let configuration: TLSConfiguration
    /// The owned `SSL_CTX *`.
    let pointer: OpaquePointer
    /// `applicationProtocols` in ALPN wire format (length-prefixed), for the server's selection.
    let alpnProtocols: [[UInt8]]

    /// Builds the context, reading any PEM files now.
    ///
    /// - Throws: `TLSError` when a certificate, key or trust root cannot be loaded, the key does not
    ///   match the certificate, or the configuration is incomplete for its role.
    public init(configuration: TLSConfiguration) throws {
        let method = configuration.role == .server ? TLS_server_method() : TLS_client_method()
        ERR_clear_error()
        guard let pointer = SSL_CTX_new(method) else { throw TLSError.fromQueue("create SSL_CTX") }
        self.pointer = pointer
        self.configuration = configuration
        self.alpnProtocols = configuration.applicationProtocols.map { Array($0.utf8) }
        // From here on a throw runs deinit, which frees the SSL_CTX.
        try self.configureProtocol()
        try self.configureIdentity()
        try self.configureVerification()
        try self.configureALPN()
    }

    deinit {
        SSL_CTX_free(self.pointer)
    }

    private func configureProtocol() throws {
        guard skyport_SSL_CTX_set_min_proto_version(self.pointer, TLS1_2_VERSION) == 1,
            skyport_SSL_CTX_set_max_proto_version(self.pointer, TLS1_3_VERSION) == 1
        else { throw TLSError.fromQueue("set protocol versions") }
        // HTTP/2 (RFC 9113 §9.2.2) forbids the non-AEAD and non-ephemeral TLS 1.2 suites.
        guard SSL_CTX_set_cipher_list(self.pointer, "ECDHE+AESGCM:ECDHE+CHACHA20") == 1 else {
            throw TLSError.fromQueue("set TLS 1.2 cipher suites")
        }
        _ = SSL_CTX_set_options(
            self.pointer,
            skyport_SSL_OP_NO_RENEGOTIATION() | skyport_SSL_OP_NO_COMPRESSION() | skyport_SSL_OP_NO_TICKET())
        // Connections are long-lived and clients never resume, so caches and tickets only cost memory.
        _ = skyport_SSL_CTX_disable_session_cache(self.pointer)
        _ = SSL_CTX_set_num_tickets(self.pointer, 0)
        // Partial writes and moving buffers suit memory BIOs fed from NIO ByteBuffers; releasing
        // buffers keeps idle connections small.
        _ = skyport_SSL_CTX_set_mode(self.pointer, skyport_SSL_MODE_defaults())
        // Key logging is never enabled: no SSL_CTX_set_keylog_callback, whatever the environment.
    }

    private func configureIdentity() throws {
        let configuration = self.configuration
        switch (configuration.certificateChain, configuration.privateKey) {
        case (nil, nil):
            if configuration.role == .server {
                throw TLSError(operation: "configure server: a certificate chain and private key are required")
            }
        case (let chain?, let key?):
            let certificates = try CertificateX509.loadAll(from: chain, what: "certificate chain")
            guard SSL_CTX_use_certificate(self.pointer, certificates[0].pointer) == 1 else {
                throw TLSError.fromQueue("use certificate")
            }
            for intermediate in certificates.dropFirst() {
                guard skyport_SSL_CTX_add1_chain_cert(self.pointer, intermediate.pointer) == 1 else {
                    throw TLSError.fromQueue("add intermediate certificate")
                }
            }
            let privateKey = try OwnedPKey.load(from: key)
            guard SSL_CTX_use_PrivateKey(self.pointer, privateKey.pointer) == 1,
                SSL_CTX_check_private_key(self.pointer) == 1
            else { throw TLSError.fromQueue("use private key (does it match the certificate?)") }
        default:
            throw TLSError(operation: "configure identity: give both a certificate chain and a private key, or neither")
        }
    }

    private func configureVerification() throws {
        let configuration = self.configuration
        if let roots = configuration.trustRoots {
            let certificates = try CertificateX509.loadAll(from: roots, what: "trust roots")
            let store = SSL_CTX_get_cert_store(self.pointer)
            for certificate in certificates {
                // Both calls take their own reference.
                guard X509_STORE_add_cert(store, certificate.pointer) == 1 else {
                    throw TLSError.fromQueue("add trust root")
                }
                if configuration.role == .server {
                    // Tells clients which CAs are acceptable, so they pick the right certificate.
                    guard SSL_CTX_add_client_CA(self.pointer, certificate.pointer) == 1 else {
                        throw TLSError.fromQueue("add acceptable client CA")
                    }
                }
            }
        }
        switch configuration.role {
        case .client:
            if configuration.trustRoots == nil, SSL_CTX_set_default_verify_paths(self.pointer) != 1 {
                throw TLSError.fromQueue("load the system trust store")
            }
            SSL_CTX_set_verify(self.pointer, SSL_VERIFY_PEER, nil)
        case .server where configuration.requireClientCertificate:
            guard configuration.trustRoots != nil else {
                throw TLSError(operation: "configure server: requireClientCertificate needs trustRoots")
            }
            SSL_CTX_set_verify(self.pointer, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
        case .server where configuration.trustRoots != nil:
            // Optional client certificates: verified when presented, so peerIdentity is trustworthy.
            SSL_CTX_set_verify(self.pointer, SSL_VERIFY_PEER, nil)
        case .server:
            SSL_CTX_set_verify(self.pointer, SSL_VERIFY_NONE, nil)
        }
    }

    private func configureALPN() throws {
        guard !self.alpnProtocols.isEmpty,
            self.alpnProtocols.allSatisfy({ !$0.isEmpty && $0.count <= 255 })
        else { throw TLSError(operation: "configure ALPN: protocols must be 1 to 255 bytes, and at least one") }
        switch self.configuration.role {
        case .client:
            let wire = self.alpnProtocols.flatMap { [UInt8($0.count)] + $0 }
            // Unlike most of OpenSSL, this returns 0 on success.
            guard SSL_CTX_set_alpn_protos(self.pointer, wire, UInt32(wire.count)) == 0 else {
                throw TLSError.fromQueue("set ALPN protocols")
            }
        case .server:
            SSL_CTX_set_client_hello_cb(self.pointer, requireALPNExtension, nil)
            // Unretained: every SSL using this context is owned by a TLSConnection that retains self.
            SSL_CTX_set_alpn_select_cb(self.pointer, selectALPN, Unmanaged.passUnretained(self).toOpaque())
        }
    }
}

/// Server ClientHello callback: a client offering no ALPN at all gets a `no_application_protocol`
/// alert (the ALPN select callback only runs when the extension is present).
private func requireALPNExtension(
    _ ssl: OpaquePointer?, _ alert: UnsafeMutablePointer<Int32>?, _: UnsafeMutableRawPointer?
) -> Int32 {
    var data: UnsafePointer<UInt8>? = nil
    var length = 0
    let type = UInt32(TLSEXT_TYPE_application_layer_protocol_negotiation)
    if SSL_client_hello_get0_ext(ssl, type, &data, &length) == 1 { return SSL_CLIENT_HELLO_SUCCESS }
    alert?.pointee = skyport_SSL_AD_NO_APPLICATION_PROTOCOL()
    return SSL_CLIENT_HELLO_ERROR
}

/// Server ALPN selection: the first of the server's protocols that the client offers, or a fatal
/// `no_application_protocol` alert.
private func selectALPN(
    _: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?, _ outLength: UnsafeMutablePointer<UInt8>?,
    _ offered: UnsafePointer<UInt8>?, _ offeredLength: UInt32, _ argument: UnsafeMutableRawPointer?
) -> Int32 {
    guard let argument, let offered, let out, let outLength else { return SSL_TLSEXT_ERR_ALERT_FATAL }
    let context = Unmanaged<TLSContext>.fromOpaque(argument).takeUnretainedValue()
    let list = UnsafeBufferPointer(start: offered, count: Int(offeredLength))
    for wanted in context.alpnProtocols {
        var index = 0
        while index < list.count {
            let length = Int(list[index])
            let start = index + 1
            guard start + length <= list.count else { return SSL_TLSEXT_ERR_ALERT_FATAL }
            if length == wanted.count, wanted.elementsEqual(list[start..<(start + length)]) {
                // Points into the client's list, which OpenSSL keeps alive for the handshake.
                out.pointee = offered + start
                outLength.pointee = UInt8(length)
                return SSL_TLSEXT_ERR_OK
            }
            index = start + length
        }
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL
}
