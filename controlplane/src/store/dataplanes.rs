//! The data planes this control plane serves: applied version, last NACK, link states and
//! balances they report.

use sqlx::Row;

use super::{Store, StoreError, now_ms};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataPlaneRecord {
    pub node_id: String,
    pub applied: Option<(u64, u64)>,
    pub nack: Option<((u64, u64), String)>,
    pub last_seen_ms: i64,
    pub links: Vec<LinkReport>,
    pub balances: Vec<ReportedBalance>,
    /// The ILP address it last reported, if it has one.
    pub address: Option<ReportedAddress>,
}

/// A data plane's ILP address and where it came from (`configured` or `ildcp`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportedAddress {
    pub ilp_address: String,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkReport {
    pub peer_id: String,
    pub state: String,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportedBalance {
    pub peer_id: String,
    /// Decimal i128.
    pub balance: String,
    pub pending_incoming: String,
}

fn version(epoch: Option<i64>, generation: Option<i64>) -> Option<(u64, u64)> {
    Some((
        u64::try_from(epoch?).ok()?,
        u64::try_from(generation?).ok()?,
    ))
}

fn as_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Store {
    pub async fn touch_data_plane(&self, node_id: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO data_planes (node_id, last_seen_ms) VALUES (?, ?)
             ON CONFLICT (node_id) DO UPDATE SET last_seen_ms = excluded.last_seen_ms",
        )
        .bind(node_id)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn record_ack(&self, node_id: &str, version: (u64, u64)) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO data_planes (node_id, applied_epoch, applied_generation, last_seen_ms) VALUES (?, ?, ?, ?)
             ON CONFLICT (node_id) DO UPDATE SET applied_epoch = excluded.applied_epoch,
                 applied_generation = excluded.applied_generation, last_seen_ms = excluded.last_seen_ms",
        )
        .bind(node_id)
        .bind(as_i64(version.0))
        .bind(as_i64(version.1))
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn record_nack(
        &self,
        node_id: &str,
        version: (u64, u64),
        error: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO data_planes (node_id, nack_epoch, nack_generation, nack_error, last_seen_ms) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (node_id) DO UPDATE SET nack_epoch = excluded.nack_epoch,
                 nack_generation = excluded.nack_generation, nack_error = excluded.nack_error,
                 last_seen_ms = excluded.last_seen_ms",
        )
        .bind(node_id)
        .bind(as_i64(version.0))
        .bind(as_i64(version.1))
        .bind(error)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The version `node_id` last refused, if any: kept across its reconnects (and our
    /// restarts), so a refused version is never sent to it again.
    pub async fn last_nack(&self, node_id: &str) -> Result<Option<(u64, u64)>, StoreError> {
        let row =
            sqlx::query("SELECT nack_epoch, nack_generation FROM data_planes WHERE node_id = ?")
                .bind(node_id)
                .fetch_optional(self.pool())
                .await?;
        Ok(match row {
            None => None,
            Some(row) => version(row.try_get("nack_epoch")?, row.try_get("nack_generation")?),
        })
    }

    /// Replaces what `node_id` last reported about its links, balances and address.
    pub async fn record_report(
        &self,
        node_id: &str,
        links: &[LinkReport],
        balances: &[ReportedBalance],
        address: Option<&ReportedAddress>,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        let mut tx = self.write_transaction().await?;
        if !links.is_empty() {
            sqlx::query("DELETE FROM link_reports WHERE node_id = ?")
                .bind(node_id)
                .execute(&mut *tx)
                .await?;
        }
        for link in links {
            sqlx::query("INSERT INTO link_reports (node_id, peer_id, state, last_error) VALUES (?, ?, ?, ?)")
                .bind(node_id)
                .bind(&link.peer_id)
                .bind(&link.state)
                .bind(&link.last_error)
                .execute(&mut *tx)
                .await?;
        }
        for balance in balances {
            sqlx::query(
                "INSERT INTO balances (node_id, peer_id, balance, pending_incoming, reported_at_ms) VALUES (?, ?, ?, ?, ?)
                 ON CONFLICT (node_id, peer_id) DO UPDATE SET balance = excluded.balance,
                     pending_incoming = excluded.pending_incoming, reported_at_ms = excluded.reported_at_ms",
            )
            .bind(node_id)
            .bind(&balance.peer_id)
            .bind(&balance.balance)
            .bind(&balance.pending_incoming)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "UPDATE data_planes SET last_seen_ms = ?, ilp_address = ?, address_source = ? WHERE node_id = ?",
        )
        .bind(now)
        .bind(address.map(|a| a.ilp_address.as_str()))
        .bind(address.map(|a| a.source.as_str()))
        .bind(node_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn data_planes(&self) -> Result<Vec<DataPlaneRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM data_planes ORDER BY node_id")
            .fetch_all(self.pool())
            .await?;
        let mut records = Vec::with_capacity(rows.len());
        for row in rows {
            let node_id: String = row.try_get("node_id")?;
            let nack_error: Option<String> = row.try_get("nack_error")?;
            let nack = version(row.try_get("nack_epoch")?, row.try_get("nack_generation")?)
                .map(|v| (v, nack_error.unwrap_or_default()));
            let links =
                sqlx::query("SELECT * FROM link_reports WHERE node_id = ? ORDER BY peer_id")
                    .bind(&node_id)
                    .fetch_all(self.pool())
                    .await?
                    .iter()
                    .map(|r| {
                        Ok(LinkReport {
                            peer_id: r.try_get("peer_id")?,
                            state: r.try_get("state")?,
                            last_error: r.try_get("last_error")?,
                        })
                    })
                    .collect::<Result<Vec<_>, sqlx::Error>>()?;
            let balances = sqlx::query("SELECT * FROM balances WHERE node_id = ? ORDER BY peer_id")
                .bind(&node_id)
                .fetch_all(self.pool())
                .await?
                .iter()
                .map(|r| {
                    Ok(ReportedBalance {
                        peer_id: r.try_get("peer_id")?,
                        balance: r.try_get("balance")?,
                        pending_incoming: r.try_get("pending_incoming")?,
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()?;
            let ilp_address: Option<String> = row.try_get("ilp_address")?;
            let source: Option<String> = row.try_get("address_source")?;
            let address = ilp_address.map(|ilp_address| ReportedAddress {
                ilp_address,
                source: source.unwrap_or_default(),
            });
            records.push(DataPlaneRecord {
                address,
                applied: version(
                    row.try_get("applied_epoch")?,
                    row.try_get("applied_generation")?,
                ),
                nack,
                last_seen_ms: row.try_get("last_seen_ms")?,
                node_id,
                links,
                balances,
            });
        }
        Ok(records)
    }
}
