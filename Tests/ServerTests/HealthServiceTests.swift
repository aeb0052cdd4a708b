import SkyportProto
import SkyportRPC
import SkyportServer
import Testing

@Suite struct HealthServiceTests {
    typealias Request = Grpc_Health_V1_HealthCheckRequest
    typealias Response = Grpc_Health_V1_HealthCheckResponse

    static func request(_ service: String) -> [UInt8] {
        var request = Request()
        request.service = service
        return request.serializedBytes()
    }

    /// Runs `Check` through the generated method table.
    static func check(_ health: HealthService, _ service: String) async throws -> (Status?, Response?) {
        let stream = FakeServerCallStream()
        stream.push(Self.request(service))
        stream.closeRequests()
        let method = try #require(health.method(Grpc_Health_V1_HealthMethods.check))
        await method.run(on: stream)
        var iterator = stream.sent.makeAsyncIterator()
        let response = try await iterator.next().map { try Response(serializedBytes: $0) }
        return (stream.status, response)
    }

    @Test func checkReportsKnownServicesAndNotFoundForUnknownOnes() async throws {
        let health = HealthService()
        health.setStatus(.serving, forService: "echo.Echo")
        health.setStatus(.notServing, forService: "grpc.testing.TestService")

        let (serverStatus, server) = try await Self.check(health, "")
        #expect(serverStatus?.code == .ok)
        #expect(server?.status == .serving)
        let (_, echo) = try await Self.check(health, "echo.Echo")
        #expect(echo?.status == .serving)
        let (_, testing) = try await Self.check(health, "grpc.testing.TestService")
        #expect(testing?.status == .notServing)

        let (unknownStatus, unknown) = try await Self.check(health, "no.Such")
        #expect(unknownStatus?.code == .notFound)
        #expect(unknown == nil)
    }

    @Test func watchSendsTheCurrentStatusThenEachChangeAndEndsAtShutdown() async throws {
        let health = HealthService()
        let stream = FakeServerCallStream()
        stream.push(Self.request("later.Service"))
        stream.closeRequests()
        let method = try #require(health.method(Grpc_Health_V1_HealthMethods.watch))
        let call = Task { await method.run(on: stream) }

        var responses = stream.sent.makeAsyncIterator()
        // Unknown at first: SERVICE_UNKNOWN, and the call stays open.
        #expect(try await responses.next().map { try Response(serializedBytes: $0).status } == .serviceUnknown)
        health.setStatus(.serving, forService: "later.Service")
        #expect(try await responses.next().map { try Response(serializedBytes: $0).status } == .serving)
        health.setStatus(.serving, forService: "other.Service")  // not watched: nothing is sent
        health.setStatus(.serving, forService: "later.Service")  // no change: nothing is sent
        health.setStatus(.notServing, forService: "later.Service")
        #expect(try await responses.next().map { try Response(serializedBytes: $0).status } == .notServing)
        health.setStatus(.serving, forService: "later.Service")
        #expect(try await responses.next().map { try Response(serializedBytes: $0).status } == .serving)

        health.enterShutdown()
        #expect(try await responses.next().map { try Response(serializedBytes: $0).status } == .notServing)
        await call.value
        #expect(await responses.next() == nil)
        #expect(stream.status?.code == .ok)
    }

    @Test func shutdownFlipsEveryServiceToNotServingAndSticks() async throws {
        let health = HealthService()
        health.setStatus(.serving, forService: "echo.Echo")
        health.enterShutdown()
        #expect(health.status(forService: "") == .notServing)
        #expect(health.status(forService: "echo.Echo") == .notServing)
        health.setStatus(.serving, forService: "echo.Echo")
        let (_, echo) = try await Self.check(health, "echo.Echo")
        #expect(echo?.status == .notServing)
    }

    @Test func watchStartedAfterShutdownGetsTheStatusAndEnds() async throws {
        let health = HealthService()
        health.enterShutdown()
        let stream = FakeServerCallStream()
        stream.push(Self.request(""))
        stream.closeRequests()
        let method = try #require(health.method(Grpc_Health_V1_HealthMethods.watch))
        await method.run(on: stream)
        var responses = stream.sent.makeAsyncIterator()
        #expect(try await responses.next().map { try Response(serializedBytes: $0).status } == .notServing)
        #expect(await responses.next() == nil)
    }
}
