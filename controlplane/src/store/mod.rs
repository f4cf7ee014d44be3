//! The control plane's state in SQLite (WAL mode), schema from `migrations/`.
//!
//! Queries are checked at run time (`sqlx::query`), so building needs no database.

mod dataplanes;
mod discovered;
mod peers;
mod routes;

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

pub use dataplanes::{DataPlaneRecord, LinkReport, ReportedBalance};
pub use discovered::DiscoveredNode;
pub use peers::StoredPeer;
pub use routes::StoredRoute;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/controlplane");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path}: {source}")]
    Open { path: String, source: sqlx::Error },
    #[error(
        "the database was written by a newer version of the control plane (schema {found}, this build knows up to {known}); upgrade the control plane or point DATABASE_URL elsewhere"
    )]
    NewerSchema { found: i64, known: i64 },
    #[error("migrating the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
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
    pool: SqlitePool,
}

impl Store {
    /// Opens (creating if needed) the database at `url` (`sqlite://path` or `sqlite::memory:`),
    /// refuses one written by a newer schema, and applies pending migrations.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let open_error = |source| StoreError::Open {
            path: url.to_string(),
            source,
        };
        let options = SqliteConnectOptions::from_str(url)
            .map_err(open_error)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        // One connection for an in-memory database, or each connection would see its own.
        let max = if url.contains(":memory:") { 1 } else { 4 };
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            .connect_with(options)
            .await
            .map_err(open_error)?;
        let store = Store { pool };
        store.refuse_newer_schema().await?;
        MIGRATOR.run(&store.pool).await?;
        Ok(store)
    }

    async fn refuse_newer_schema(&self) -> Result<(), StoreError> {
        let known = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
        let table: Option<(String,)> = sqlx::query_as(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        )
        .fetch_optional(&self.pool)
        .await?;
        if table.is_none() {
            return Ok(());
        }
        let found: Option<i64> = sqlx::query("SELECT MAX(version) AS v FROM _sqlx_migrations")
            .fetch_one(&self.pool)
            .await?
            .try_get("v")?;
        match found {
            Some(found) if found > known => Err(StoreError::NewerSchema { found, known }),
            _ => Ok(()),
        }
    }

    /// Starts a new configuration epoch (once per control plane start) and returns it.
    pub async fn next_epoch(&self) -> Result<u64, StoreError> {
        let row =
            sqlx::query("UPDATE config_state SET epoch = epoch + 1 WHERE id = 1 RETURNING epoch")
                .fetch_one(&self.pool)
                .await?;
        let epoch: i64 = row.try_get("epoch")?;
        u64::try_from(epoch).map_err(|_| StoreError::Corrupt {
            table: "config_state",
            problem: format!("negative epoch {epoch}"),
        })
    }

    /// A transaction that takes the write lock up front. A deferred one that reads first and
    /// writes later fails with SQLITE_BUSY_SNAPSHOT if another connection wrote in between
    /// (WAL mode), and the busy timeout cannot help it; waiting for the lock at BEGIN can.
    pub(crate) async fn write_transaction(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
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
