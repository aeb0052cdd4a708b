import Synchronization

/// An `APIKeyStore` in memory, for tests and local tools.
public final class InMemoryAPIKeyStore: APIKeyStore {
    private let records: Mutex<[String: StoredAPIKey]>

    /// A store holding `records`.
    public init(_ records: [StoredAPIKey] = []) {
        self.records = Mutex(Dictionary(records.map { ($0.keyID, $0) }, uniquingKeysWith: { _, last in last }))
    }

    /// Adds or replaces a record.
    public func insert(_ record: StoredAPIKey) {
        self.records.withLock { $0[record.keyID] = record }
    }

    /// Removes the record for `keyID` (revocation).
    public func remove(keyID: String) {
        _ = self.records.withLock { $0.removeValue(forKey: keyID) }
    }

    /// The record for `keyID`.
    public func lookUp(keyID: String) async throws -> StoredAPIKey? {
        self.records.withLock { $0[keyID] }
    }
}
