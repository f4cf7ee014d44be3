-- Discovered nodes carry the public key they announced with (used to authenticate their links).
ALTER TABLE discovered_nodes ADD COLUMN public_key TEXT;
