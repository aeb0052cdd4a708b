import SkyportRPC
@testable import SkyportStorage
import Testing

@Suite("Storage errors and checksums")
struct StorageErrorTests {
    @Test(
        "each storage error maps to its gRPC status",
        arguments: [
            (StorageError.uniqueViolation(constraint: "users_email_key"), Status.Code.alreadyExists),
            (.foreignKeyViolation(constraint: nil), .failedPrecondition),
            (.constraintViolation("NOT NULL"), .failedPrecondition),
            (.notFound("user 7"), .notFound),
            (.unavailable("connection refused"), .unavailable),
            (.conflict("deadlock"), .aborted),
            (.cancelled, .cancelled),
            (.decoding(column: "x", reason: "y"), .internal),
            (.migration("edited"), .internal),
            (.other("SQLSTATE 42P01: relation \"secret_table\" does not exist"), .internal),
        ])
    func mapping(error: StorageError, code: Status.Code) {
        #expect(error.rpcError.code == code)
        #expect(RPCError(error) == error.rpcError)
    }

    @Test("internal errors do not leak backend text to callers")
    func genericInternal() {
        let error = StorageError.other("SQLSTATE 42P01: relation \"secret_table\" does not exist").rpcError
        #expect(error.message == "internal storage error")
    }

    @Test("a migration's checksum changes when its SQL or name changes")
    func checksum() {
        let base = Migration(version: 1, name: "users", sql: ["CREATE TABLE users (id BIGINT PRIMARY KEY)"])
        let edited = Migration(version: 1, name: "users", sql: ["CREATE TABLE users (id BIGINT PRIMARY KEY, x TEXT)"])
        let renamed = Migration(version: 1, name: "people", sql: ["CREATE TABLE users (id BIGINT PRIMARY KEY)"])
        let split = Migration(version: 1, name: "users", sql: ["CREATE TABLE users (id BIGINT", " PRIMARY KEY)"])
        let checksums = Set([base, edited, renamed, split].map { $0.checksum(for: .sqlite) })
        #expect(checksums.count == 4)
        #expect(base.checksum(for: .sqlite) == base.checksum(for: .postgres))
    }
}
