//! The registry in SQLite (WAL mode), schema from `migrations/discovery/`.
//!
//! Queries are checked at run time (`sqlx::query`), so building needs no database. Every
//! read-then-write happens in one `BEGIN IMMEDIATE` transaction, so two announcements of the
//! same node id cannot both pass the identity and sequence checks.

mod entries;

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

pub use entries::{Announced, StoredEntry};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/discovery");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path}: {source}")]
    Open { path: String, source: sqlx::Error },
    #[error(
        "the database was written by a newer version of the discovery server (schema {found}, this build knows up to {known}); upgrade the discovery server or point DATABASE_URL elsewhere"
    )]
    NewerSchema { found: i64, known: i64 },
    #[error("migrating the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
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
            .busy_timeout(Duration::from_secs(5));
        // One connection for an in-memory database, or each connection would see its own.
        let max = if url.contains(":memory:") { 1 } else { 4 };
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            // A request waits at most this long for a connection, then gets a 503.
            .acquire_timeout(Duration::from_secs(5))
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

    /// A transaction that takes the write lock up front. A deferred one that reads first and
    /// writes later fails with SQLITE_BUSY_SNAPSHOT if another connection wrote in between
    /// (WAL mode), and the busy timeout cannot help it; waiting for the lock at BEGIN can.
    async fn write_transaction(
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

#[cfg(test)]
mod tests;
