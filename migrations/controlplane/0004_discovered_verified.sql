-- Whether a discovered node's entry proved its key (announced signed). Auto-peering skips
-- unverified entries unless DISCOVERY_PEER_WITH_UNSIGNED=true. Rows before this were all signed.
ALTER TABLE discovered_nodes ADD COLUMN verified INTEGER NOT NULL DEFAULT 1 CHECK (verified IN (0, 1));
