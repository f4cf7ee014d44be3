//! Peers: settings, secret reference (never the secret), provenance, etag.

use std::sync::LazyLock;

use config_model::{PeerConfig, Relation, SecretRef};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{Source, Store, StoreError, now_ms, parse_u64};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPeer {
    pub config: PeerConfig,
    pub source: Source,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    pub etag: String,
}

fn new_etag() -> String {
    let bytes: [u8; 8] = rand::random();
    hex::encode(bytes)
}

fn from_row(row: &SqliteRow) -> Result<StoredPeer, StoreError> {
    let corrupt = |problem: String| StoreError::Corrupt {
        table: "peers",
        problem,
    };
    let relation: String = row.try_get("relation")?;
    let secret_ref: String = row.try_get("secret_ref")?;
    let scale: i64 = row.try_get("asset_scale")?;
    let ilp_address: Option<String> = row.try_get("ilp_address")?;
    let ilp_address = ilp_address
        .map(|text| {
            proto::Address::new(&text).map_err(|e| corrupt(format!("ilp_address {text:?}: {e}")))
        })
        .transpose()?;
    Ok(StoredPeer {
        config: PeerConfig {
            id: row.try_get("id")?,
            url: row.try_get("url")?,
            relation: Relation::parse(&relation)
                .ok_or_else(|| corrupt(format!("relation {relation:?}")))?,
            asset_code: row.try_get("asset_code")?,
            asset_scale: u8::try_from(scale)
                .map_err(|_| corrupt(format!("asset_scale {scale}")))?,
            max_packet_amount: parse_u64(row.try_get("max_packet_amount")?, "peers")?,
            credit_limit: parse_u64(row.try_get("credit_limit")?, "peers")?,
            secret_ref: SecretRef::parse(&secret_ref).map_err(corrupt)?,
            auth_username: row.try_get("auth_username")?,
            public_key: row.try_get("public_key")?,
            ilp_address,
        },
        source: Source::parse(&row.try_get::<String, _>("source")?, "peers")?,
        created_at_ms: row.try_get("created_at_ms")?,
        updated_at_ms: row.try_get("updated_at_ms")?,
        etag: row.try_get("etag")?,
    })
}

/// A peer's settings as columns, in the order `bind_settings` binds them: one list for the
/// INSERT and the UPDATE, so a setting cannot be written by one and forgotten by the other.
const SETTINGS: [&str; 10] = [
    "url",
    "relation",
    "asset_code",
    "asset_scale",
    "max_packet_amount",
    "credit_limit",
    "secret_ref",
    "auth_username",
    "public_key",
    "ilp_address",
];

static INSERT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO peers (id, {}, source, created_at_ms, updated_at_ms, etag) VALUES (?, {}, ?, ?, ?, ?)",
        SETTINGS.join(", "),
        ["?"; SETTINGS.len()].join(", ")
    )
});

static UPDATE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE peers SET {}, updated_at_ms = ?, etag = ? WHERE id = ?",
        SETTINGS.map(|column| format!("{column} = ?")).join(", ")
    )
});

type Query<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>;

/// Binds every setting of `config` but its id, in `SETTINGS` order. Limits are stored as
/// decimal text: SQLite's integers are i64 and a limit may be any u64.
fn bind_settings<'q>(query: Query<'q>, config: &PeerConfig) -> Query<'q> {
    let PeerConfig {
        id: _,
        url,
        relation,
        asset_code,
        asset_scale,
        max_packet_amount,
        credit_limit,
        secret_ref,
        auth_username,
        public_key,
        ilp_address,
    } = config;
    query
        .bind(url.clone())
        .bind(relation.as_str())
        .bind(asset_code.clone())
        .bind(i64::from(*asset_scale))
        .bind(max_packet_amount.map(|v| v.to_string()))
        .bind(credit_limit.map(|v| v.to_string()))
        .bind(secret_ref.to_string())
        .bind(auth_username.clone())
        .bind(public_key.clone())
        .bind(ilp_address.as_ref().map(|a| a.as_str().to_string()))
}

impl StoredPeer {
    /// The optimistic-concurrency rule of every write and dry run: a given etag must be the
    /// current one.
    pub fn check_etag(&self, expected: Option<&str>) -> Result<(), StoreError> {
        match expected {
            Some(given) if given != self.etag => Err(StoreError::StaleEtag {
                given: given.to_string(),
                current: self.etag.clone(),
            }),
            _ => Ok(()),
        }
    }
}

/// The peer a write is about, read inside the write's transaction, with its etag checked.
async fn current_peer(
    tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    id: &str,
    expected_etag: Option<&str>,
) -> Result<StoredPeer, StoreError> {
    let row = sqlx::query("SELECT * FROM peers WHERE id = ?")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    let current = row
        .as_ref()
        .map(from_row)
        .transpose()?
        .ok_or_else(|| StoreError::NotFound {
            what: "peer",
            id: id.to_string(),
        })?;
    current.check_etag(expected_etag)?;
    Ok(current)
}

impl Store {
    /// Stores a new peer; its times and etag are set here.
    pub async fn create_peer(
        &self,
        config: &PeerConfig,
        source: Source,
    ) -> Result<StoredPeer, StoreError> {
        let now = now_ms();
        let peer = StoredPeer {
            config: config.clone(),
            source,
            created_at_ms: now,
            updated_at_ms: now,
            etag: new_etag(),
        };
        let result = bind_settings(sqlx::query(INSERT.as_str()).bind(&config.id), config)
            .bind(source.as_str())
            .bind(now)
            .bind(now)
            .bind(&peer.etag)
            .execute(self.pool())
            .await;
        match result {
            Ok(_) => Ok(peer),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::AlreadyExists {
                    what: "peer",
                    id: config.id.clone(),
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get_peer(&self, id: &str) -> Result<Option<StoredPeer>, StoreError> {
        let row = sqlx::query("SELECT * FROM peers WHERE id = ?")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Peers ordered by id, starting after `after`, at most `limit`.
    pub async fn list_peers(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<StoredPeer>, StoreError> {
        let rows = sqlx::query("SELECT * FROM peers WHERE id > ? ORDER BY id LIMIT ?")
            .bind(after.unwrap_or(""))
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn all_peers(&self) -> Result<Vec<StoredPeer>, StoreError> {
        self.list_peers(None, u32::MAX).await
    }

    /// Replaces a peer's settings if `expected_etag` (when given) is current.
    pub async fn update_peer(
        &self,
        config: &PeerConfig,
        expected_etag: Option<&str>,
    ) -> Result<StoredPeer, StoreError> {
        let mut tx = self.write_transaction().await?;
        let current = current_peer(&mut tx, &config.id, expected_etag).await?;
        let updated = StoredPeer {
            config: config.clone(),
            updated_at_ms: now_ms().max(current.updated_at_ms),
            etag: new_etag(),
            ..current
        };
        bind_settings(sqlx::query(UPDATE.as_str()), config)
            .bind(updated.updated_at_ms)
            .bind(&updated.etag)
            .bind(&config.id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(updated)
    }

    /// Deletes a peer. With `delete_routes`, its routes go too (returned); without, a peer
    /// that still has routes is refused.
    pub async fn delete_peer(
        &self,
        id: &str,
        expected_etag: Option<&str>,
        delete_routes: bool,
    ) -> Result<(StoredPeer, Vec<String>), StoreError> {
        let mut tx = self.write_transaction().await?;
        let current = current_peer(&mut tx, id, expected_etag).await?;
        let routes: Vec<String> =
            sqlx::query_scalar("SELECT prefix FROM routes WHERE peer_id = ? ORDER BY prefix")
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
        if !routes.is_empty() && !delete_routes {
            return Err(StoreError::PeerHasRoutes {
                peer: id.to_string(),
                routes,
            });
        }
        sqlx::query("DELETE FROM routes WHERE peer_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM peers WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((current, routes))
    }
}
