@testable import SkyportHTTP2
import SkyportInterop
import SkyportRPC
import Testing

@Suite struct RequestHeadTests {
    func fields(_ extra: [(String, String)] = [], contentType: String = "application/grpc", method: String = "POST")
        -> [HeaderField]
    {
        [
            HeaderField(":method", method), HeaderField(":scheme", "http"), HeaderField(":path", "/a.B/C"),
            HeaderField(":authority", "x"), HeaderField("content-type", contentType), HeaderField("te", "trailers"),
        ] + extra.map { HeaderField($0.0, $0.1) }
    }

    @Test func acceptsAGRPCRequestWithMetadataAndTimeout() {
        let result = RequestHead.validate(
            self.fields([("grpc-timeout", "250m"), ("x-user", "u1"), ("trace-bin", "AQI"), ("user-agent", "t")]))
        guard case .accept(let head) = result else {
            Issue.record("rejected: \(result)")
            return
        }
        #expect(head.path == "/a.B/C")
        #expect(head.timeout == .milliseconds(250))
        #expect(head.metadata["x-user"] == "u1")
        #expect(head.metadata[binary: "trace-bin"] == [1, 2])
        #expect(head.metadata["user-agent"] == nil)
        #expect(head.metadata["te"] == nil)
    }

    @Test(arguments: ["application/grpc", "application/grpc+proto", "application/grpc;charset=utf-8"])
    func acceptsGRPCContentTypes(contentType: String) {
        #expect(
            { if case .accept = RequestHead.validate(self.fields(contentType: contentType)) { true } else { false } }())
    }

    @Test(arguments: ["application/json", "application/grpcx", "text/plain"])
    func rejectsOtherContentTypesWith415(contentType: String) {
        #expect(
            RequestHead.validate(self.fields(contentType: contentType))
                == .rejectHTTP(
                    status: 415,
                    Status(code: .internal, message: "Invalid content-type '\(contentType)': expected application/grpc")
                ))
    }

    @Test func rejectsNonPostAndMalformedTimeoutAndUnknownEncoding() {
        guard case .rejectHTTP(405, _) = RequestHead.validate(self.fields(method: "GET")) else {
            Issue.record("GET accepted")
            return
        }
        guard case .reject(let status, _) = RequestHead.validate(self.fields([("grpc-timeout", "1x")])) else {
            Issue.record("bad timeout accepted")
            return
        }
        #expect(status.code == .internal)
        guard case .reject(let encoding, let extra) = RequestHead.validate(self.fields([("grpc-encoding", "gzip")]))
        else {
            Issue.record("gzip accepted")
            return
        }
        #expect(encoding.code == .unimplemented)
        #expect(extra.contains(HeaderField("grpc-accept-encoding", "identity")))
    }

    @Test func responseParsingMapsHTTPStatusesAndTrailers() {
        #expect(ResponseHead.parseHeaders([HeaderField(":status", "503")]).failure?.code == .unavailable)
        #expect(ResponseHead.parseHeaders([HeaderField(":status", "404")]).failure?.code == .unimplemented)
        #expect(
            ResponseHead.parseHeaders([HeaderField(":status", "200"), HeaderField("content-type", "text/html")])
                .failure?.code == .unknown)
        let trailers = ResponseHead.parseTrailers([
            HeaderField("grpc-status", "3"), HeaderField("grpc-message", "bad%20arg%E2%98%BA"),
            HeaderField("x-detail", "d"),
        ])
        #expect(trailers.status == Status(code: .invalidArgument, message: "bad arg☺"))
        #expect(trailers.metadata["x-detail"] == "d")
        #expect(ResponseHead.parseTrailers([]).status.code == .internal)
        #expect(ResponseHead.status(forReset: 8).code == .cancelled)
        #expect(ResponseHead.status(forReset: 7).code == .unavailable)
    }
}
