//! The registry in SQLite (WAL mode), schema from `migrations/discovery/`.
//!
//! Queries are checked at run time (`sqlx::query`), so building needs no database. Every
//! read-then-write happens in one `BEGIN IMMEDIATE` transaction, so two announcements of the
//! same node id cannot both pass the identity and sequence checks.

mod entries;

use sqlite_store::Database;

pub use entries::{Announced, StoredEntry};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/discovery");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Open(#[from] sqlite_store::OpenError),
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("corrupt row in {table}: {problem}")]
    Corrupt {
        table: &'static str,
        problem: String,
    },
    /// Another key owns this node id and its entry is live.
    #[error("nodeId: bound to another key")]
    IdentityConflict,
    /// A sequence not greater than the last one accepted: a replay or an old message.
    #[error("sequence: must be greater than {last}, the last one accepted for this nodeId")]
    StaleSequence { last: u64 },
    /// A new node id, every slot taken by a live entry.
    #[error("registry full")]
    RegistryFull,
    #[error("nodeId: not registered")]
    NotFound,
    /// The deregistration's signature does not verify with the bound key.
    #[error("signature: does not verify")]
    BadSignature,
    /// An unsigned announcement for a node id a key has claimed (live or not): only a signed
    /// announcement can take such a node id.
    #[error("nodeId: bound to a key; only a signed announcement may use it")]
    BoundToKey,
    /// An unsigned announcement for a node id whose live unsigned entry has another endpoint.
    #[error("nodeId: registered with another btpEndpoint")]
    EndpointConflict,
    /// An unsigned deregistration of an entry a key owns: it needs that key's signature.
    #[error("X-Discovery-Sequence: required (this entry was announced signed)")]
    SignatureRequired,
    /// An unsigned deregistration from another address than the one that announced the entry.
    #[error(
        "nodeId: an unsigned entry may only be deregistered from the address that announced it"
    )]
    WrongAddress,
}

#[derive(Clone)]
pub struct Store {
    db: Database,
}

/// Opening, the pool, write transactions and closing are the shared `Database`'s.
impl std::ops::Deref for Store {
    type Target = Database;

    fn deref(&self) -> &Database {
        &self.db
    }
}

impl Store {
    /// Opens (creating if needed) the database at `url` (`sqlite://path` or `sqlite::memory:`),
    /// refuses one written by a newer schema, and applies pending migrations.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        Ok(Store {
            db: Database::open(url, &MIGRATOR, false).await?,
        })
    }
}

#[cfg(test)]
mod tests;
