//! Registry entries: announce (bind, refresh, claim), deregister, list, count, expire.

use proto::discovery::{Announcement, PeerEntry};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{Store, StoreError};
use crate::liveness::Window;

const ACTIVE: &str = "active";
const EXPIRED: &str = "expired";
const DEREGISTERED: &str = "deregistered";

/// A stored entry as the list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    pub node_id: String,
    pub public_key: String,
    pub btp_endpoint: String,
    pub ilp_address: String,
    pub capabilities: Vec<String>,
    pub version: String,
    pub last_seen_ms: i64,
}

impl StoredEntry {
    pub fn has_all(&self, wanted: &[String]) -> bool {
        wanted.iter().all(|w| self.capabilities.contains(w))
    }

    pub fn to_peer_entry(&self) -> PeerEntry {
        PeerEntry {
            node_id: self.node_id.clone(),
            btp_endpoint: self.btp_endpoint.clone(),
            ilp_address: self.ilp_address.clone(),
            capabilities: self.capabilities.clone(),
            version: self.version.clone(),
            public_key: self.public_key.clone(),
            last_seen: u64::try_from(self.last_seen_ms.div_euclid(1000)).unwrap_or(0),
        }
    }
}

/// What an accepted announcement did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announced {
    /// First announcement of this node id (possibly after evicting `evicted` to make room).
    pub new: bool,
    /// A different key took over a node id whose entry was no longer live.
    pub claimed: bool,
    /// The entry was active but already stale and the sweeper had not counted it yet: it
    /// expired, and the caller counts that once (the sweeper never will now).
    pub expired_unswept: bool,
    /// A stale row removed to stay within the entry limit.
    pub evicted: Option<String>,
}

fn from_row(row: &SqliteRow) -> Result<StoredEntry, StoreError> {
    let capabilities: String = row.try_get("capabilities")?;
    Ok(StoredEntry {
        node_id: row.try_get("node_id")?,
        public_key: row.try_get("public_key")?,
        btp_endpoint: row.try_get("btp_endpoint")?,
        ilp_address: row.try_get("ilp_address")?,
        capabilities: if capabilities.is_empty() {
            Vec::new()
        } else {
            capabilities.split(',').map(str::to_string).collect()
        },
        version: row.try_get("version")?,
        last_seen_ms: row.try_get("last_seen_ms")?,
    })
}

fn parse_sequence(text: &str) -> Result<u64, StoreError> {
    text.parse::<u64>().map_err(|_| StoreError::Corrupt {
        table: "entries",
        problem: format!("last_sequence {text:?} is not a u64"),
    })
}

impl Store {
    /// Records a verified announcement at `window.now_ms`. The identity rules:
    /// * an unknown node id is bound to the announcing key;
    /// * the bound key may always announce again, with a greater sequence;
    /// * another key is refused while the entry is live, and takes the node id over (with its
    ///   own sequence) once it is not.
    pub async fn announce(
        &self,
        a: &Announcement,
        window: Window,
        max_entries: u32,
    ) -> Result<Announced, StoreError> {
        let mut tx = self.write_transaction().await?;
        let current = sqlx::query(
            "SELECT public_key, last_sequence, state, last_seen_ms FROM entries WHERE node_id = ?",
        )
        .bind(&a.node_id)
        .fetch_optional(&mut *tx)
        .await?;
        let mut outcome = Announced {
            new: false,
            claimed: false,
            expired_unswept: false,
            evicted: None,
        };
        match current {
            None => {
                let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM entries")
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get("n")?;
                if count >= i64::from(max_entries) {
                    // Make room by dropping the least recently seen entry that is not live;
                    // refuse only when every slot holds a live one.
                    let evicted: Option<(String,)> = sqlx::query_as(
                        "DELETE FROM entries WHERE node_id = (
                             SELECT node_id FROM entries
                             WHERE state != 'active' OR last_seen_ms < ?
                             ORDER BY last_seen_ms LIMIT 1)
                         RETURNING node_id",
                    )
                    .bind(window.live_since_ms)
                    .fetch_optional(&mut *tx)
                    .await?;
                    match evicted {
                        Some((id,)) => outcome.evicted = Some(id),
                        None => return Err(StoreError::RegistryFull),
                    }
                }
                sqlx::query(
                    "INSERT INTO entries (node_id, public_key, btp_endpoint, ilp_address, capabilities,
                                          version, last_sequence, last_seen_ms, bound_at_ms, state)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'active')",
                )
                .bind(&a.node_id)
                .bind(&a.public_key)
                .bind(&a.btp_endpoint)
                .bind(&a.ilp_address)
                .bind(a.capabilities.join(","))
                .bind(&a.version)
                .bind(a.sequence.to_string())
                .bind(window.now_ms)
                .bind(window.now_ms)
                .execute(&mut *tx)
                .await?;
                outcome.new = true;
            }
            Some(row) => {
                let bound_key: String = row.try_get("public_key")?;
                let last = parse_sequence(&row.try_get::<String, _>("last_sequence")?)?;
                let state: String = row.try_get("state")?;
                let last_seen_ms: i64 = row.try_get("last_seen_ms")?;
                let active = state == ACTIVE;
                let live = window.is_live(active, last_seen_ms);
                outcome.expired_unswept = active && !live;
                if bound_key != a.public_key {
                    if live {
                        return Err(StoreError::IdentityConflict);
                    }
                    // The old owner's entry is gone: the binding is released and the new key
                    // starts its own sequence.
                    outcome.claimed = true;
                } else if a.sequence <= last {
                    return Err(StoreError::StaleSequence { last });
                }
                sqlx::query(
                    "UPDATE entries SET public_key = ?, btp_endpoint = ?, ilp_address = ?, capabilities = ?,
                                        version = ?, last_sequence = ?, last_seen_ms = ?, state = 'active',
                                        bound_at_ms = CASE WHEN ? THEN ? ELSE bound_at_ms END
                     WHERE node_id = ?",
                )
                .bind(&a.public_key)
                .bind(&a.btp_endpoint)
                .bind(&a.ilp_address)
                .bind(a.capabilities.join(","))
                .bind(&a.version)
                .bind(a.sequence.to_string())
                .bind(window.now_ms)
                .bind(outcome.claimed)
                .bind(window.now_ms)
                .bind(&a.node_id)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(outcome)
    }

    /// Deregisters `node_id` if `verify(bound public key)` accepts the request's signature and
    /// `sequence` is greater than the last one accepted. The row stays (state `deregistered`)
    /// so the bound key and the sequence still refuse replays.
    pub async fn deregister(
        &self,
        node_id: &str,
        sequence: u64,
        verify: impl FnOnce(&str) -> bool,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_transaction().await?;
        let row =
            sqlx::query("SELECT public_key, last_sequence, state FROM entries WHERE node_id = ?")
                .bind(node_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound)?;
        let state: String = row.try_get("state")?;
        if state == DEREGISTERED {
            return Err(StoreError::NotFound);
        }
        let bound_key: String = row.try_get("public_key")?;
        if !verify(&bound_key) {
            return Err(StoreError::BadSignature);
        }
        let last = parse_sequence(&row.try_get::<String, _>("last_sequence")?)?;
        if sequence <= last {
            return Err(StoreError::StaleSequence { last });
        }
        sqlx::query("UPDATE entries SET state = ?, last_sequence = ? WHERE node_id = ?")
            .bind(DEREGISTERED)
            .bind(sequence.to_string())
            .bind(node_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Live entries ordered by node id.
    pub async fn live_entries(&self, window: Window) -> Result<Vec<StoredEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT node_id, public_key, btp_endpoint, ilp_address, capabilities, version, last_seen_ms
             FROM entries WHERE state = 'active' AND last_seen_ms >= ? ORDER BY node_id",
        )
        .bind(window.live_since_ms)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn count_live(&self, window: Window) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM entries WHERE state = 'active' AND last_seen_ms >= ?",
        )
        .bind(window.live_since_ms)
        .fetch_one(self.pool())
        .await?
        .try_get("n")?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Marks active entries that are no longer live as expired and returns their ids: each
    /// entry crosses from live to stale once, so each is returned once. During the start-up
    /// grace nothing is stale, so nothing expires.
    pub async fn expire_stale(&self, window: Window) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "UPDATE entries SET state = ? WHERE state = 'active' AND last_seen_ms < ? RETURNING node_id",
        )
        .bind(EXPIRED)
        .bind(window.live_since_ms)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }
}
