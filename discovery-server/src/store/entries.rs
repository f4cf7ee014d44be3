//! Registry entries: announce (bind, refresh, claim), deregister, list, count, expire — signed
//! entries bound to a key, and unsigned ones (the seed stories' clients) bound to an endpoint.

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
    /// Announced signed (its key proved); false for an unsigned entry, whose `public_key` is ''.
    pub verified: bool,
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
            verified: self.verified,
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
    /// A signed announcement took over a live unsigned entry.
    pub replaced_unsigned: bool,
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
        verified: row.try_get("verified")?,
    })
}

fn parse_sequence(text: &str) -> Result<u64, StoreError> {
    text.parse::<u64>().map_err(|_| StoreError::Corrupt {
        table: "entries",
        problem: format!("last_sequence {text:?} is not a u64"),
    })
}

/// The stored row an announcement meets, as the identity rules need it.
struct Current {
    bound_key: String,
    last_sequence: u64,
    verified: bool,
    btp_endpoint: String,
    /// Active and within the liveness window.
    live: bool,
    /// Active but stale and not yet seen by the sweeper.
    expired_unswept: bool,
}

async fn current(
    tx: &mut sqlx::SqliteConnection,
    node_id: &str,
    window: Window,
) -> Result<Option<Current>, StoreError> {
    let row = sqlx::query(
        "SELECT public_key, last_sequence, state, last_seen_ms, verified, btp_endpoint
         FROM entries WHERE node_id = ?",
    )
    .bind(node_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let active = row.try_get::<String, _>("state")? == ACTIVE;
    let live = window.is_live(active, row.try_get("last_seen_ms")?);
    Ok(Some(Current {
        bound_key: row.try_get("public_key")?,
        last_sequence: parse_sequence(&row.try_get::<String, _>("last_sequence")?)?,
        verified: row.try_get("verified")?,
        btp_endpoint: row.try_get("btp_endpoint")?,
        live,
        expired_unswept: active && !live,
    }))
}

/// Makes room for a new node id within `max_entries` by dropping the least recently seen row
/// that is not live; refuses only when every slot holds a live one. Returns the evicted id.
async fn make_room(
    tx: &mut sqlx::SqliteConnection,
    window: Window,
    max_entries: u32,
) -> Result<Option<String>, StoreError> {
    let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM entries")
        .fetch_one(&mut *tx)
        .await?
        .try_get("n")?;
    if count < i64::from(max_entries) {
        return Ok(None);
    }
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
        Some((id,)) => Ok(Some(id)),
        None => Err(StoreError::RegistryFull),
    }
}

/// Writes `a` as the node id's active entry, inserting or replacing the row. `claimed` restarts
/// the binding (`bound_at_ms`); `source_ip` is kept from the binding's first announcement
/// unless `claimed`.
async fn write(
    tx: &mut sqlx::SqliteConnection,
    a: &Announcement,
    verified: bool,
    source_ip: Option<&str>,
    now_ms: i64,
    claimed: bool,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO entries (node_id, public_key, btp_endpoint, ilp_address, capabilities, version,
                              last_sequence, last_seen_ms, bound_at_ms, state, verified, source_ip)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, 'active', ?9, ?10)
         ON CONFLICT (node_id) DO UPDATE SET
             public_key = excluded.public_key, btp_endpoint = excluded.btp_endpoint,
             ilp_address = excluded.ilp_address, capabilities = excluded.capabilities,
             version = excluded.version, last_sequence = excluded.last_sequence,
             last_seen_ms = excluded.last_seen_ms, state = 'active', verified = excluded.verified,
             bound_at_ms = CASE WHEN ?11 THEN excluded.bound_at_ms ELSE bound_at_ms END,
             source_ip = CASE WHEN ?11 THEN excluded.source_ip ELSE source_ip END",
    )
    .bind(&a.node_id)
    .bind(&a.public_key)
    .bind(&a.btp_endpoint)
    .bind(&a.ilp_address)
    .bind(a.capabilities.join(","))
    .bind(&a.version)
    .bind(a.sequence.to_string())
    .bind(now_ms)
    .bind(verified)
    .bind(source_ip)
    .bind(claimed)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

impl Store {
    /// Records a verified announcement at `window.now_ms`. The identity rules:
    /// * an unknown node id is bound to the announcing key;
    /// * the bound key may always announce again, with a greater sequence;
    /// * another key is refused while the entry is live, and takes the node id over (with its
    ///   own sequence) once it is not;
    /// * an unsigned entry, live or not, is taken over by any key: a key proves more than an
    ///   endpoint does.
    pub async fn announce(
        &self,
        a: &Announcement,
        window: Window,
        max_entries: u32,
    ) -> Result<Announced, StoreError> {
        let mut tx = self.write_transaction().await?;
        let mut outcome = Announced {
            new: false,
            claimed: false,
            expired_unswept: false,
            evicted: None,
            replaced_unsigned: false,
        };
        match current(&mut tx, &a.node_id, window).await? {
            None => {
                outcome.evicted = make_room(&mut tx, window, max_entries).await?;
                outcome.new = true;
            }
            Some(row) => {
                outcome.expired_unswept = row.expired_unswept;
                if !row.verified {
                    outcome.claimed = true;
                    outcome.replaced_unsigned = row.live;
                } else if row.bound_key != a.public_key {
                    if row.live {
                        return Err(StoreError::IdentityConflict);
                    }
                    // The old owner's entry is gone: the binding is released and the new key
                    // starts its own sequence.
                    outcome.claimed = true;
                } else if a.sequence <= row.last_sequence {
                    return Err(StoreError::StaleSequence {
                        last: row.last_sequence,
                    });
                }
            }
        }
        write(&mut tx, a, true, None, window.now_ms, outcome.claimed).await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Records an unsigned announcement (the seed stories' clients) from `source_ip`. Nothing
    /// proves who sent it, so it binds the node id to its endpoint only while it is live:
    /// * an unknown node id, or one whose unsigned entry is no longer live, is bound to this
    ///   endpoint (and to `source_ip` for deregistration);
    /// * the same endpoint refreshes the entry (from any address: it says nothing new);
    /// * another endpoint is refused while the entry is live;
    /// * a node id a key has claimed is refused, live or not: only a signed announcement may
    ///   take it (its row keeps the key and sequence that refuse replays).
    pub async fn announce_unsigned(
        &self,
        a: &Announcement,
        source_ip: &str,
        window: Window,
        max_entries: u32,
    ) -> Result<Announced, StoreError> {
        let mut tx = self.write_transaction().await?;
        let mut outcome = Announced {
            new: false,
            claimed: false,
            expired_unswept: false,
            evicted: None,
            replaced_unsigned: false,
        };
        match current(&mut tx, &a.node_id, window).await? {
            None => {
                outcome.evicted = make_room(&mut tx, window, max_entries).await?;
                outcome.new = true;
            }
            Some(row) => {
                outcome.expired_unswept = row.expired_unswept;
                if row.verified {
                    return Err(StoreError::BoundToKey);
                }
                if row.live && row.btp_endpoint != a.btp_endpoint {
                    return Err(StoreError::EndpointConflict);
                }
                outcome.claimed = !row.live;
            }
        }
        let unsigned = Announcement {
            public_key: String::new(),
            sequence: 0,
            signature: String::new(),
            ..a.clone()
        };
        write(
            &mut tx,
            &unsigned,
            false,
            Some(source_ip),
            window.now_ms,
            outcome.claimed || outcome.new,
        )
        .await?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// Deregisters the unsigned entry `node_id` when asked from `source_ip`, the address that
    /// announced it. A signed entry needs its key's signature ([`Store::deregister`]).
    pub async fn deregister_unsigned(
        &self,
        node_id: &str,
        source_ip: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_transaction().await?;
        let row = sqlx::query("SELECT state, verified, source_ip FROM entries WHERE node_id = ?")
            .bind(node_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        if row.try_get::<String, _>("state")? == DEREGISTERED {
            return Err(StoreError::NotFound);
        }
        if row.try_get::<bool, _>("verified")? {
            return Err(StoreError::SignatureRequired);
        }
        if row.try_get::<Option<String>, _>("source_ip")?.as_deref() != Some(source_ip) {
            return Err(StoreError::WrongAddress);
        }
        sqlx::query("UPDATE entries SET state = ? WHERE node_id = ?")
            .bind(DEREGISTERED)
            .bind(node_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
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
            "SELECT node_id, public_key, btp_endpoint, ilp_address, capabilities, version, last_seen_ms,
                    verified
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
