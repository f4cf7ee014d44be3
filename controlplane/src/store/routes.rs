//! Routes: prefix → peer, with where they came from.

use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{Source, Store, StoreError, now_ms};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRoute {
    pub prefix: String,
    pub peer_id: String,
    pub source: Source,
    pub created_at_ms: i64,
}

fn from_row(row: &SqliteRow) -> Result<StoredRoute, StoreError> {
    Ok(StoredRoute {
        prefix: row.try_get("prefix")?,
        peer_id: row.try_get("peer_id")?,
        source: Source::parse(&row.try_get::<String, _>("source")?, "routes")?,
        created_at_ms: row.try_get("created_at_ms")?,
    })
}

impl Store {
    pub async fn create_route(
        &self,
        prefix: &str,
        peer_id: &str,
        source: Source,
    ) -> Result<StoredRoute, StoreError> {
        let route = StoredRoute {
            prefix: prefix.to_string(),
            peer_id: peer_id.to_string(),
            source,
            created_at_ms: now_ms(),
        };
        let mut tx = self.write_transaction().await?;
        let exists: Option<String> = sqlx::query_scalar("SELECT id FROM peers WHERE id = ?")
            .bind(peer_id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound {
                what: "peer",
                id: peer_id.to_string(),
            });
        }
        let result = sqlx::query(
            "INSERT INTO routes (prefix, peer_id, source, created_at_ms) VALUES (?, ?, ?, ?)",
        )
        .bind(prefix)
        .bind(peer_id)
        .bind(source.as_str())
        .bind(route.created_at_ms)
        .execute(&mut *tx)
        .await;
        match result {
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(StoreError::AlreadyExists {
                    what: "route",
                    id: prefix.to_string(),
                });
            }
            Err(e) => return Err(e.into()),
        }
        tx.commit().await?;
        Ok(route)
    }

    pub async fn get_route(&self, prefix: &str) -> Result<Option<StoredRoute>, StoreError> {
        let row = sqlx::query("SELECT * FROM routes WHERE prefix = ?")
            .bind(prefix)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Routes ordered by prefix, starting after `after`, at most `limit`.
    pub async fn list_routes(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<StoredRoute>, StoreError> {
        // Start below every real prefix ("" sorts first; NULL would match nothing).
        let rows = match after {
            Some(after) => {
                sqlx::query("SELECT * FROM routes WHERE prefix > ? ORDER BY prefix LIMIT ?")
                    .bind(after)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                sqlx::query("SELECT * FROM routes ORDER BY prefix LIMIT ?")
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter().map(from_row).collect()
    }

    pub async fn all_routes(&self) -> Result<Vec<StoredRoute>, StoreError> {
        self.list_routes(None, u32::MAX).await
    }

    pub async fn delete_route(&self, prefix: &str) -> Result<StoredRoute, StoreError> {
        let row = sqlx::query("DELETE FROM routes WHERE prefix = ? RETURNING *")
            .bind(prefix)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref()
            .map(from_row)
            .transpose()?
            .ok_or_else(|| StoreError::NotFound {
                what: "route",
                id: prefix.to_string(),
            })
    }
}
