import Testing

@testable import RedemptionService

@Suite struct RedemptionPlaceholderTests {
    @Test func specificationName() { #expect(Redemption.specification.name == "redemption") }
}
