internal import COpenSSL

/// An owned OpenSSL memory or file BIO, used to move PEM text in and out of OpenSSL.
final class CertificateBIO {
    /// The owned `BIO *`.
    let pointer: OpaquePointer

    /// An empty, growable memory BIO.
    init() throws {
        guard let pointer = BIO_new(BIO_s_mem()) else { throw TLSError.fromQueue("allocate memory BIO") }
        self.pointer = pointer
    }

    /// A BIO reading the PEM source: the file at a path, or a copy of the bytes.
    init(reading source: TLSConfiguration.PEMSource) throws {
        switch source {
        case .file(let path):
            guard let pointer = BIO_new_file(path, "rb") else { throw TLSError.fromQueue("open PEM file \(path)") }
            self.pointer = pointer
        case .bytes(let bytes):
            // A copying memory BIO rather than BIO_new_mem_buf, whose read-only view would dangle
            // once the array's storage goes away.
            guard let pointer = BIO_new(BIO_s_mem()) else { throw TLSError.fromQueue("allocate memory BIO") }
            self.pointer = pointer
            if !bytes.isEmpty {
                let written = bytes.withUnsafeBytes { BIO_write(pointer, $0.baseAddress, Int32($0.count)) }
                guard written == Int32(bytes.count) else { throw TLSError.fromQueue("buffer PEM bytes") }
            }
        }
    }

    deinit {
        BIO_free(self.pointer)
    }

    /// Everything written to this memory BIO so far, as text (PEM is ASCII).
    func readAll() -> String {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = chunk.withUnsafeMutableBytes { BIO_read(self.pointer, $0.baseAddress, Int32($0.count)) }
            if count <= 0 { break }
            bytes.append(contentsOf: chunk[0..<Int(count)])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A PEM password callback that refuses: encrypted keys fail to load instead of OpenSSL
/// prompting on the terminal (its default when no callback is given).
func refusePEMPassword(
    _: UnsafeMutablePointer<CChar>?, _: Int32, _: Int32, _: UnsafeMutableRawPointer?
) -> Int32 { 0 }
