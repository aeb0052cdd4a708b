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
        Migration(version: 3, name: "placement, heartbeats, versions, saved state, usage outbox") { dialect in
            [
                // Hosts: liveness from heartbeats, and the packages they hold ("app/version" lines).
                "ALTER TABLE hosts ADD COLUMN state TEXT NOT NULL DEFAULT 'up'",
                "ALTER TABLE hosts ADD COLUMN last_heartbeat_ms BIGINT NOT NULL DEFAULT 0",
                "ALTER TABLE hosts ADD COLUMN packages TEXT NOT NULL DEFAULT ''",
                // Sessions created here keep what their application version needs, for the claim.
                "ALTER TABLE sessions ADD COLUMN version_id TEXT NOT NULL DEFAULT ''",
                "ALTER TABLE sessions ADD COLUMN app_launch \(dialect.bytesType)",
                """
                CREATE TABLE app_versions (
                    app_id TEXT NOT NULL,
                    version_id TEXT NOT NULL,
                    launch \(dialect.bytesType) NOT NULL,
                    release_at_ms BIGINT NOT NULL,
                    deployed_at_ms BIGINT NOT NULL,
                    PRIMARY KEY (app_id, version_id)
                )
                """,
                """
                CREATE TABLE instances (
                    instance_id TEXT PRIMARY KEY,
                    host_id TEXT NOT NULL,
                    app_id TEXT NOT NULL,
                    version_id TEXT NOT NULL,
                    seats BIGINT NOT NULL,
                    sessions BIGINT NOT NULL,
                    cpu_units BIGINT NOT NULL,
                    memory_mib BIGINT NOT NULL,
                    state TEXT NOT NULL,
                    started_at_ms BIGINT NOT NULL,
                    ended_at_ms BIGINT,
                    end_reason TEXT NOT NULL DEFAULT ''
                )
                """,
                "CREATE INDEX instances_by_app ON instances (app_id, version_id, state)",
                "CREATE INDEX instances_by_host ON instances (host_id, state)",
                """
                CREATE TABLE placements (
                    session_id TEXT PRIMARY KEY,
                    app_id TEXT NOT NULL,
                    version_id TEXT NOT NULL,
                    user_id TEXT NOT NULL,
                    developer_id TEXT NOT NULL,
                    group_id TEXT NOT NULL,
                    home_datacentre TEXT NOT NULL,
                    host_id TEXT NOT NULL,
                    instance_id TEXT NOT NULL,
                    state TEXT NOT NULL,
                    placed_at_ms BIGINT NOT NULL,
                    connected_at_ms BIGINT,
                    ended_at_ms BIGINT,
                    end_reason TEXT NOT NULL DEFAULT ''
                )
                """,
                "CREATE INDEX placements_by_host ON placements (host_id, state)",
                "CREATE INDEX placements_by_group ON placements (group_id, state)",
                """
                CREATE TABLE session_states (
                    app_id TEXT NOT NULL,
                    user_id TEXT NOT NULL,
                    state \(dialect.bytesType) NOT NULL,
                    session_id TEXT NOT NULL,
                    saved_at_ms BIGINT NOT NULL,
                    PRIMARY KEY (app_id, user_id)
                )
                """,
                """
                CREATE TABLE buffer_targets (
                    app_id TEXT NOT NULL,
                    version_id TEXT NOT NULL,
                    target BIGINT NOT NULL,
                    PRIMARY KEY (app_id, version_id)
                )
                """,
                """
                CREATE TABLE host_events (
                    host_id TEXT NOT NULL,
                    event_id TEXT NOT NULL,
                    received_at_ms BIGINT NOT NULL,
                    PRIMARY KEY (host_id, event_id)
                )
                """,
                """
                CREATE TABLE usage_outbox (
                    record_id TEXT PRIMARY KEY,
                    kind TEXT NOT NULL,
                    developer_id TEXT NOT NULL,
                    app_id TEXT NOT NULL,
                    version_id TEXT NOT NULL,
                    subject_id TEXT NOT NULL,
                    started_at_ms BIGINT NOT NULL,
                    ended_at_ms BIGINT NOT NULL,
                    duration_ms BIGINT NOT NULL,
                    created_at_ms BIGINT NOT NULL,
                    delivered_at_ms BIGINT
                )
                """,
            ]
        },
        // Placements are kept after they end, so a query that scanned them grew with every session ever
        // placed: the active groups of each capacity summary (every probe of a redemption node, whose
        // measured latency routes sessions) took 3.5 ms at 47,000 placements, an instance's end 10 ms.
        // Partial indexes hold only live placements (and only grouped ones for the groups), so those
        // queries and the indexes' upkeep stay the size of what is live; `placed_at_ms` grows at its end.
        Migration(
            version: 4, name: "live placement indexes",
            sql: [
                """
                CREATE INDEX placements_live_groups ON placements (group_id, state)
                WHERE group_id <> '' AND state IN ('provisioned', 'connected')
                """,
                """
                CREATE INDEX placements_live_by_instance ON placements (instance_id)
                WHERE state IN ('provisioned', 'connected')
                """,
                "CREATE INDEX placements_by_time ON placements (placed_at_ms)",
            ]),
    ]
}
