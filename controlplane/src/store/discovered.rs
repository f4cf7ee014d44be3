//! Nodes learned from discovery servers: where we heard of them and when they were last seen.

use sqlx::Row;

use super::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredNode {
    pub node_id: String,
    pub btp_endpoint: String,
    pub ilp_address: String,
    pub capabilities: Vec<String>,
    pub public_key: String,
    pub source_endpoint: String,
    pub last_seen_ms: i64,
    /// The entry proved its `public_key` (announced signed); see `discovery::is_verified`.
    pub verified: bool,
}

impl Store {
    /// Replaces what discovery currently knows (the merged lists of every endpoint).
    pub async fn replace_discovered(&self, nodes: &[DiscoveredNode]) -> Result<(), StoreError> {
        let mut tx = self.write_transaction().await?;
        sqlx::query("DELETE FROM discovered_nodes")
            .execute(&mut *tx)
            .await?;
        for node in nodes {
            sqlx::query(
                "INSERT INTO discovered_nodes (node_id, btp_endpoint, ilp_address, capabilities, source_endpoint,
                                               last_seen_ms, public_key, verified)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&node.node_id)
            .bind(&node.btp_endpoint)
            .bind(&node.ilp_address)
            .bind(node.capabilities.join(","))
            .bind(&node.source_endpoint)
            .bind(node.last_seen_ms)
            .bind(&node.public_key)
            .bind(node.verified)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn discovered(&self) -> Result<Vec<DiscoveredNode>, StoreError> {
        let rows = sqlx::query("SELECT * FROM discovered_nodes ORDER BY node_id")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| {
                let capabilities: String = row.try_get("capabilities")?;
                Ok(DiscoveredNode {
                    node_id: row.try_get("node_id")?,
                    btp_endpoint: row.try_get("btp_endpoint")?,
                    ilp_address: row.try_get("ilp_address")?,
                    capabilities: capabilities
                        .split(',')
                        .filter(|c| !c.is_empty())
                        .map(String::from)
                        .collect(),
                    public_key: row
                        .try_get::<Option<String>, _>("public_key")?
                        .unwrap_or_default(),
                    source_endpoint: row.try_get("source_endpoint")?,
                    last_seen_ms: row.try_get("last_seen_ms")?,
                    verified: row.try_get("verified")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}
