-- The discovery registry: one row per node id ever announced (bounded by DISCOVERY_MAX_ENTRIES;
-- rows that are no longer live are evicted, least recently seen first, to make room).
-- Rows outlive their liveness on purpose: the bound key and the last sequence must survive so a
-- replayed announcement or deregistration is refused.
-- u64 sequences are decimal TEXT (SQLite integers are signed 64-bit).

CREATE TABLE entries (
    node_id       TEXT PRIMARY KEY NOT NULL,
    -- Base64 (standard, padded) of the Ed25519 key the node id is bound to.
    public_key    TEXT NOT NULL,
    btp_endpoint  TEXT NOT NULL,
    ilp_address   TEXT NOT NULL,
    -- Comma-joined, in announced order (capabilities never contain a comma).
    capabilities  TEXT NOT NULL,
    version       TEXT NOT NULL,
    -- Greatest sequence accepted for this node id (announcement or deregistration).
    last_sequence TEXT NOT NULL,
    -- Server clock, Unix milliseconds, of the last accepted announcement.
    last_seen_ms  INTEGER NOT NULL,
    -- When the current key claimed the node id.
    bound_at_ms   INTEGER NOT NULL,
    -- active: announced and not yet seen stale by the sweeper; expired: the sweeper saw it go
    -- stale (and counted it); deregistered: its owner deleted it.
    state         TEXT NOT NULL CHECK (state IN ('active', 'expired', 'deregistered'))
);
CREATE INDEX entries_by_state_last_seen ON entries (state, last_seen_ms);
