import SkyportRPC
import SkyportService
import Testing

@Suite struct ServiceSupportTests {
    @Test func textFieldsRefuseControlAndFormattingCharactersOnly() throws {
        for accepted in ["user-1", "Zoë Ångström", "ユーザー", "emoji 🎮 ok", "~!@#$%^&*()"] {
            #expect(try ServiceSupport.requireText(accepted, field: "f") == accepted)
        }
        for refused in [
            "a\u{7}b", "tab\there", "line\nbreak", "del\u{7F}", "zero\u{200B}width", "a\u{2028}b", "c1\u{85}",
        ] {
            #expect(throws: RPCError.self, "\(refused.unicodeScalars.map { $0.value })") {
                try ServiceSupport.requireText(refused, field: "f")
            }
        }
        #expect(throws: RPCError.self) { try ServiceSupport.requireText("", field: "f") }
        #expect(throws: RPCError.self) { try ServiceSupport.requireText("abc", field: "f", maxLength: 2) }
    }
}
