-- How the node settles: SETTLEMENT, SETTLEMENT_EVM_ADDRESS and SETTLEMENT_XRP_ADDRESS, recorded
-- at every start. The environment stays the source; this table is where the node's status and a
-- later settlement integration read them. One row per method chosen; a method no longer chosen
-- loses its row.
CREATE TABLE node_settlement (
    -- As SETTLEMENT spells it.
    method        TEXT PRIMARY KEY NOT NULL CHECK (method IN ('evm', 'xrp')),
    -- The node's own address for the method; NULL when the method was chosen without one.
    address       TEXT,
    -- When the row was created or its address last changed (a start that changes nothing
    -- leaves it alone), Unix milliseconds.
    changed_at_ms INTEGER NOT NULL
);
