-- The address a child peer is told by ILDCP (RFC 31) instead of "<our address>.<id>"; NULL for
-- that default. Only children have one (config-model refuses it on other relations).
ALTER TABLE peers ADD COLUMN ilp_address TEXT;
