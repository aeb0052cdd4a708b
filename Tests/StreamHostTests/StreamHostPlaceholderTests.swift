import Testing

@testable import StreamHostService

@Suite struct StreamHostPlaceholderTests {
    @Test func specificationName() { #expect(StreamHost.specification.name == "streamhost") }
}
