-- The ILP address each data plane last reported and where it came from ('configured' or
-- 'ildcp'); NULL while it has none (waiting for its parent's ILDCP answer) or never said.
ALTER TABLE data_planes ADD COLUMN ilp_address TEXT;
ALTER TABLE data_planes ADD COLUMN address_source TEXT;
