//! The control plane's state in SQLite (WAL mode), schema from `migrations/`.
//!
//! Queries are checked at run time (`sqlx::query`), so building needs no database.

mod dataplanes;
mod discovered;
mod peers;
mod routes;
mod settlement;

use sqlite_store::Database;
use sqlx::Row;

pub use dataplanes::{DataPlaneRecord, LinkReport, ReportedAddress, ReportedBalance};
pub use discovered::DiscoveredNode;
pub use peers::StoredPeer;
pub use routes::{DeclaredCounts, RouteDeclaration, StoredRoute};
pub use settlement::SettlementRecorded;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/controlplane");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Open(#[from] sqlite_store::OpenError),
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("{what} {id:?} already exists")]
    AlreadyExists { what: &'static str, id: String },
    #[error("{what} {id:?} not found")]
    NotFound { what: &'static str, id: String },
    #[error("etag {given:?} is stale (current is {current:?}): re-read and retry")]
    StaleEtag { given: String, current: String },
    #[error("peer {peer:?} still has routes: {}", routes.join(", "))]
    PeerHasRoutes { peer: String, routes: Vec<String> },
    #[error("corrupt row in {table}: {problem}")]
    Corrupt {
        table: &'static str,
        problem: String,
    },
}

/// Where a peer or route came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Added by an operator.
    Static,
    /// Added by the discovery client; never touches static entries.
    Discovery,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Static => "static",
            Source::Discovery => "discovery",
        }
    }

    fn parse(text: &str, table: &'static str) -> Result<Source, StoreError> {
        match text {
            "static" => Ok(Source::Static),
            "discovery" => Ok(Source::Discovery),
            other => Err(StoreError::Corrupt {
                table,
                problem: format!("unknown source {other:?}"),
            }),
        }
    }
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
            db: Database::open(url, &MIGRATOR, true).await?,
        })
    }

    /// Starts a new configuration epoch (once per control plane start) and returns it.
    pub async fn next_epoch(&self) -> Result<u64, StoreError> {
        let row =
            sqlx::query("UPDATE config_state SET epoch = epoch + 1 WHERE id = 1 RETURNING epoch")
                .fetch_one(self.pool())
                .await?;
        let epoch: i64 = row.try_get("epoch")?;
        u64::try_from(epoch).map_err(|_| StoreError::Corrupt {
            table: "config_state",
            problem: format!("negative epoch {epoch}"),
        })
    }
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn parse_u64(text: Option<String>, table: &'static str) -> Result<Option<u64>, StoreError> {
    text.map(|t| {
        t.parse::<u64>().map_err(|_| StoreError::Corrupt {
            table,
            problem: format!("{t:?} is not a u64"),
        })
    })
    .transpose()
}

#[cfg(test)]
mod tests;
