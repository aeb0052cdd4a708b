public import SkyportStorage

/// Host management's schema, one migration per release; a released migration is never edited.
public enum HostManagerMigrations {
    /// Every migration, in order.
    public static let all = [
        Migration(
            version: 1, name: "hosts",
            sql: [
                """
                CREATE TABLE hosts (
                    host_id TEXT PRIMARY KEY,
                    address TEXT NOT NULL,
                    datacentre TEXT NOT NULL,
                    slots BIGINT NOT NULL,
                    cpu_units BIGINT NOT NULL,
                    memory_mib BIGINT NOT NULL,
                    gpu_score BIGINT NOT NULL,
                    registered_at_ms BIGINT NOT NULL,
                    last_seen_ms BIGINT NOT NULL
                )
                """
            ]),
        Migration(version: 2, name: "token keys and sessions") { dialect in
            [
                """
                CREATE TABLE token_keys (
                    key_id TEXT PRIMARY KEY,
                    private_key \(dialect.bytesType) NOT NULL,
                    public_key \(dialect.bytesType) NOT NULL,
                    created_at_ms BIGINT NOT NULL,
                    retired_at_ms BIGINT
                )
                """,
                """
                CREATE TABLE sessions (
                    session_id TEXT PRIMARY KEY,
                    app_id TEXT NOT NULL,
                    user_id TEXT NOT NULL,
                    developer_id TEXT NOT NULL,
                    group_id TEXT NOT NULL,
                    client_address TEXT NOT NULL,
                    token_hash \(dialect.bytesType) NOT NULL UNIQUE,
                    state TEXT NOT NULL,
                    created_at_ms BIGINT NOT NULL,
                    expires_at_ms BIGINT NOT NULL,
                    claimed_at_ms BIGINT,
                    claimed_by TEXT
                )
                """,
                "CREATE INDEX sessions_by_state ON sessions (state, expires_at_ms)",
            ]
        },
    ]
}
