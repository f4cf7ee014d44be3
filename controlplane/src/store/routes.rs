//! Routes: prefix → peer, with where they came from.

use std::collections::{HashMap, HashSet};

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
            .fetch_optional(self.pool())
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
                    .fetch_all(self.pool())
                    .await?
            }
            None => {
                sqlx::query("SELECT * FROM routes ORDER BY prefix LIMIT ?")
                    .bind(i64::from(limit))
                    .fetch_all(self.pool())
                    .await?
            }
        };
        rows.iter().map(from_row).collect()
    }

    pub async fn all_routes(&self) -> Result<Vec<StoredRoute>, StoreError> {
        self.list_routes(None, u32::MAX).await
    }

    /// Every route as (prefix, peer), ordered by prefix, for building the pushed table. The rows
    /// come back as one JSON array: sqlx hands SQLite rows over one at a time through a
    /// channel, which made a 100k-route table cost ~10x more than this single row.
    pub async fn route_table(&self) -> Result<Vec<(String, String)>, StoreError> {
        let json: Option<String> = sqlx::query_scalar(
            "SELECT json_group_array(json_array(prefix, peer_id)) FROM \
             (SELECT prefix, peer_id FROM routes ORDER BY prefix)",
        )
        .fetch_one(self.pool())
        .await?;
        let Some(json) = json else {
            return Ok(Vec::new());
        };
        serde_json::from_str(&json).map_err(|error| StoreError::Corrupt {
            table: "routes",
            problem: format!("route table as JSON: {error}"),
        })
    }

    pub async fn delete_route(&self, prefix: &str) -> Result<StoredRoute, StoreError> {
        let row = sqlx::query("DELETE FROM routes WHERE prefix = ? RETURNING *")
            .bind(prefix)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref()
            .map(from_row)
            .transpose()?
            .ok_or_else(|| StoreError::NotFound {
                what: "route",
                id: prefix.to_string(),
            })
    }

    /// Brings the declared routes (prefix → peer) in line in one transaction: missing ones are
    /// created, ones that differ (other peer, or another source) take the declaration, the rest
    /// are left alone; routes not declared are untouched. One transaction, not one per route:
    /// a file with 100k routes applies in about a second instead of minutes.
    pub async fn declare_routes(
        &self,
        routes: &[RouteDeclaration],
        source: Source,
    ) -> Result<DeclaredCounts, StoreError> {
        let mut tx = self.write_transaction().await?;
        let peers: HashSet<String> = sqlx::query_scalar("SELECT id FROM peers")
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect();
        // One JSON row rather than a row per route (see `route_table`).
        let json: Option<String> = sqlx::query_scalar(
            "SELECT json_group_array(json_array(prefix, peer_id, source)) FROM routes",
        )
        .fetch_one(&mut *tx)
        .await?;
        let rows: Vec<(String, String, String)> = match json {
            Some(json) => serde_json::from_str(&json).map_err(|error| StoreError::Corrupt {
                table: "routes",
                problem: format!("routes as JSON: {error}"),
            })?,
            None => Vec::new(),
        };
        let existing: HashMap<String, (String, String)> = rows
            .into_iter()
            .map(|(prefix, peer, source)| (prefix, (peer, source)))
            .collect();
        let mut counts = DeclaredCounts::default();
        let mut changed: Vec<(&str, &str)> = Vec::new();
        for route in routes {
            if !peers.contains(&route.peer) {
                return Err(StoreError::NotFound {
                    what: "peer",
                    id: route.peer.clone(),
                });
            }
            match existing.get(&route.prefix) {
                None => counts.created += 1,
                Some((peer, stored_source))
                    if *peer == route.peer && stored_source == source.as_str() =>
                {
                    counts.unchanged += 1;
                    continue;
                }
                Some(_) => counts.updated += 1,
            }
            changed.push((&route.prefix, &route.peer));
        }
        if !changed.is_empty() {
            // One statement for every creation and update, fed as one JSON parameter: a
            // statement per route costs a round trip to sqlx's SQLite thread each.
            let rows = serde_json::to_string(&changed).map_err(|error| StoreError::Corrupt {
                table: "routes",
                problem: format!("encoding the declared routes: {error}"),
            })?;
            sqlx::query(
                "INSERT INTO routes (prefix, peer_id, source, created_at_ms) \
                 SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), ?, ? \
                 FROM json_each(?) WHERE true \
                 ON CONFLICT (prefix) DO UPDATE SET peer_id = excluded.peer_id, \
                 source = excluded.source, created_at_ms = excluded.created_at_ms",
            )
            .bind(source.as_str())
            .bind(now_ms())
            .bind(rows)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(counts)
    }
}

/// A route as a config file declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteDeclaration {
    pub prefix: String,
    pub peer: String,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeclaredCounts {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}
