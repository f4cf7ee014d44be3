-- Unsigned announcements (the seed stories' clients, DISCOVERY_ALLOW_UNSIGNED=true): an entry
-- either proved a key (verified = 1, every row before this migration) or did not (verified = 0:
-- public_key is '' and last_sequence is '0', since an unsigned client has neither).
ALTER TABLE entries ADD COLUMN verified INTEGER NOT NULL DEFAULT 1 CHECK (verified IN (0, 1));
-- For an unsigned entry, the client address (IP, no port) of the announcement that bound the
-- node id to its endpoint: only that address may deregister it. NULL for signed entries.
ALTER TABLE entries ADD COLUMN source_ip TEXT;
