import SkyportInterop
import Testing

@Suite struct IPAddressTests {
    @Test func parsesIPv4AndIPv6AddressesOnly() {
        #expect(IPAddress.bytes("203.0.113.7") == [203, 0, 113, 7])
        #expect(IPAddress.bytes("2001:db8::1") == [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1])
        #expect(IPAddress.bytes("::ffff:192.0.2.1")?.count == 16)
        for notAnAddress in [
            "", "203.0.113.0/24", "2001:db8::/32", "localhost", "1.2.3", "1.2.3.256", "fe80::1%eth0",
            "127.0.0.1:80", " 127.0.0.1",
        ] {
            #expect(IPAddress.bytes(notAnAddress) == nil, "\(notAnAddress)")
            #expect(!IPAddress.isAddress(notAnAddress))
        }
        #expect(IPAddress.isAddress("127.0.0.1") && IPAddress.isAddress("::1"))
        #expect(IPAddress.text([203, 0, 113, 7]) == "203.0.113.7")
        #expect(IPAddress.text(IPAddress.bytes("2001:0db8:0:0:0:0:0:1") ?? []) == "2001:db8::1")
        #expect(IPAddress.text([1, 2, 3]) == nil)
    }
}
