//! Opening a service's SQLite database the project's way, in one place for every service that
//! keeps state (the control plane, the discovery server).

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, Sqlite, SqlitePool, Transaction};

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("database {path}: {source}")]
    Open { path: String, source: sqlx::Error },
    #[error(
        "the database was written by a newer version of this service (schema {found}, this build knows up to {known}); upgrade it or point DATABASE_URL elsewhere"
    )]
    NewerSchema { found: i64, known: i64 },
    #[error("migrating the database: {0}")]
    Migrate(#[from] MigrateError),
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
}

/// Opens (creating if needed) the database at `url` (`sqlite://path` or `sqlite::memory:`) in
/// WAL mode, refuses one written by a newer schema than `migrator` knows, and applies pending
/// migrations.
pub async fn open(
    url: &str,
    migrator: &Migrator,
    foreign_keys: bool,
) -> Result<SqlitePool, OpenError> {
    let open_error = |source| OpenError::Open {
        path: url.to_string(),
        source,
    };
    let options = SqliteConnectOptions::from_str(url)
        .map_err(open_error)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(foreign_keys)
        .busy_timeout(Duration::from_secs(5));
    // One connection for an in-memory database, or each connection would see its own.
    let max = if url.contains(":memory:") { 1 } else { 4 };
    let pool = SqlitePoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
        .map_err(open_error)?;
    refuse_newer_schema(&pool, migrator).await?;
    migrator.run(&pool).await?;
    Ok(pool)
}

async fn refuse_newer_schema(pool: &SqlitePool, migrator: &Migrator) -> Result<(), OpenError> {
    let known = migrator.iter().map(|m| m.version).max().unwrap_or(0);
    let table: Option<(String,)> = sqlx::query_as(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_optional(pool)
    .await?;
    if table.is_none() {
        return Ok(());
    }
    let found: Option<i64> = sqlx::query("SELECT MAX(version) AS v FROM _sqlx_migrations")
        .fetch_one(pool)
        .await?
        .try_get("v")?;
    match found {
        Some(found) if found > known => Err(OpenError::NewerSchema { found, known }),
        _ => Ok(()),
    }
}

/// An open database: what a service's store wraps (and derefs to), so opening, write
/// transactions and closing are written once for every store.
#[derive(Clone, Debug)]
pub struct Database {
    pool: SqlitePool,
}

impl Database {
    /// See [`open`].
    pub async fn open(
        url: &str,
        migrator: &Migrator,
        foreign_keys: bool,
    ) -> Result<Database, OpenError> {
        Ok(Database {
            pool: open(url, migrator, foreign_keys).await?,
        })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// See [`write_transaction`].
    pub async fn write_transaction(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        write_transaction(&self.pool).await
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A transaction that takes the write lock up front. A deferred one that reads first and writes
/// later fails with SQLITE_BUSY_SNAPSHOT if another connection wrote in between (WAL mode), and
/// the busy timeout cannot help it; waiting for the lock at BEGIN can.
pub async fn write_transaction(
    pool: &SqlitePool,
) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
    pool.begin_with("BEGIN IMMEDIATE").await
}
