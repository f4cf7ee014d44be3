-- Control plane state. Secrets are never stored: peers hold secret *references* only.
-- u64 amounts are decimal TEXT (SQLite integers are signed 64-bit).

CREATE TABLE peers (
    id                TEXT PRIMARY KEY NOT NULL,
    url               TEXT,
    relation          TEXT NOT NULL CHECK (relation IN ('peer', 'parent', 'child')),
    asset_code        TEXT NOT NULL,
    asset_scale       INTEGER NOT NULL CHECK (asset_scale BETWEEN 0 AND 255),
    max_packet_amount TEXT,
    credit_limit      TEXT,
    secret_ref        TEXT NOT NULL,
    auth_username     TEXT,
    source            TEXT NOT NULL DEFAULT 'static' CHECK (source IN ('static', 'discovery')),
    created_at_ms     INTEGER NOT NULL,
    updated_at_ms     INTEGER NOT NULL,
    etag              TEXT NOT NULL
);

CREATE TABLE routes (
    prefix        TEXT PRIMARY KEY NOT NULL,
    peer_id       TEXT NOT NULL REFERENCES peers (id),
    source        TEXT NOT NULL DEFAULT 'static' CHECK (source IN ('static', 'discovery')),
    created_at_ms INTEGER NOT NULL
);
CREATE INDEX routes_by_peer ON routes (peer_id);

-- The configuration epoch: bumped at every start so versions of different runs never collide.
CREATE TABLE config_state (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    epoch INTEGER NOT NULL
);
INSERT INTO config_state (id, epoch) VALUES (1, 0);

-- Data planes this control plane serves, and what they last told us.
CREATE TABLE data_planes (
    node_id            TEXT PRIMARY KEY NOT NULL,
    applied_epoch      INTEGER,
    applied_generation INTEGER,
    nack_epoch         INTEGER,
    nack_generation    INTEGER,
    nack_error         TEXT,
    last_seen_ms       INTEGER NOT NULL
);

CREATE TABLE link_reports (
    node_id    TEXT NOT NULL,
    peer_id    TEXT NOT NULL,
    state      TEXT NOT NULL,
    last_error TEXT,
    PRIMARY KEY (node_id, peer_id)
);

CREATE TABLE balances (
    node_id          TEXT NOT NULL,
    peer_id          TEXT NOT NULL,
    balance          TEXT NOT NULL,
    pending_incoming TEXT NOT NULL,
    reported_at_ms   INTEGER NOT NULL,
    PRIMARY KEY (node_id, peer_id)
);

-- Nodes learned from discovery servers (filled by the discovery client).
CREATE TABLE discovered_nodes (
    node_id         TEXT PRIMARY KEY NOT NULL,
    btp_endpoint    TEXT NOT NULL,
    ilp_address     TEXT NOT NULL,
    capabilities    TEXT NOT NULL,
    source_endpoint TEXT NOT NULL,
    last_seen_ms    INTEGER NOT NULL
);
