-- Peers authenticated with node keys (secret_ref 'node-key') carry the peer's public key.
ALTER TABLE peers ADD COLUMN public_key TEXT;
