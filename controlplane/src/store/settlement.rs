//! How the node settles, kept in `node_settlement`: recorded from the environment at every
//! start, read by the node's status (and by a settlement integration later).

use config_model::settlement::Settlement;
use sqlx::Row;

use super::{Store, StoreError, now_ms};

/// What recording the environment's settlement did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettlementRecorded {
    /// Methods newly chosen, or whose address changed.
    pub changed: Vec<String>,
    /// Methods no longer chosen (their rows removed).
    pub removed: Vec<String>,
}

impl SettlementRecorded {
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.removed.is_empty()
    }
}

impl Store {
    /// Makes `node_settlement` say what `settlement` says. A row whose address is unchanged keeps
    /// its `changed_at_ms`, so the table tells when the configuration last changed, not when the
    /// node last started.
    pub async fn record_settlement(
        &self,
        settlement: &Settlement,
    ) -> Result<SettlementRecorded, StoreError> {
        let mut tx = self.write_transaction().await?;
        let stored: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT method, address FROM node_settlement")
                .fetch_all(&mut *tx)
                .await?;
        let wanted = settlement.methods();
        let mut recorded = SettlementRecorded::default();
        let now = now_ms();
        for (method, address) in &wanted {
            let same = stored
                .iter()
                .any(|(m, a)| m == method && a.as_deref() == *address);
            if same {
                continue;
            }
            sqlx::query(
                "INSERT INTO node_settlement (method, address, changed_at_ms) VALUES (?, ?, ?)
                 ON CONFLICT (method) DO UPDATE SET address = excluded.address,
                                                    changed_at_ms = excluded.changed_at_ms",
            )
            .bind(method)
            .bind(address)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            recorded.changed.push(method.to_string());
        }
        for (method, _) in &stored {
            if !wanted.iter().any(|(m, _)| m == method) {
                sqlx::query("DELETE FROM node_settlement WHERE method = ?")
                    .bind(method)
                    .execute(&mut *tx)
                    .await?;
                recorded.removed.push(method.clone());
            }
        }
        tx.commit().await?;
        Ok(recorded)
    }

    /// How the node settles, as stored (checked by the same rules as the environment).
    pub async fn settlement(&self) -> Result<Settlement, StoreError> {
        let rows = sqlx::query("SELECT method, address FROM node_settlement ORDER BY method")
            .fetch_all(self.pool())
            .await?;
        let methods = rows
            .iter()
            .map(|row| Ok((row.try_get("method")?, row.try_get("address")?)))
            .collect::<Result<Vec<(String, Option<String>)>, sqlx::Error>>()?;
        Settlement::from_methods(&methods).map_err(|(variable, problem)| StoreError::Corrupt {
            table: "node_settlement",
            problem: format!("{variable}: {problem}"),
        })
    }

    /// When `method`'s row was created or last changed, if it exists.
    pub async fn settlement_changed_at_ms(&self, method: &str) -> Result<Option<i64>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT changed_at_ms FROM node_settlement WHERE method = ?")
                .bind(method)
                .fetch_optional(self.pool())
                .await?,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVM: &str = "0x52908400098527886E0F7030069857D2E4169EE7";
    const EVM2: &str = "0xde709f2102306220921060314715629080e2fb77";
    const XRP: &str = "rHb9CJAWyB4rj91VRWn96DkukG4bwdtyTh";

    fn settlement(method: Option<&str>, evm: Option<&str>, xrp: Option<&str>) -> Settlement {
        Settlement::parse(method, evm, xrp).unwrap()
    }

    /// What each start of a node (a fresh `Store` on the same file) records and shows.
    #[tokio::test]
    async fn each_start_records_the_environment_and_keeps_when_it_changed() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("cp.db").display());
        let start = |s: Settlement| {
            let url = url.clone();
            async move {
                let store = Store::open(&url).await.unwrap();
                let recorded = store.record_settlement(&s).await.unwrap();
                let shown = store.settlement().await.unwrap();
                let changed_at = store.settlement_changed_at_ms("evm").await.unwrap();
                store.close().await;
                (recorded, shown, changed_at)
            }
        };
        let first = settlement(Some("evm"), Some(EVM), None);
        let (recorded, shown, evm_at) = start(first.clone()).await;
        assert_eq!(recorded.changed, ["evm"]);
        assert_eq!(shown, first);
        let evm_at = evm_at.expect("an evm row");

        // The same environment again: nothing changes, not even the time.
        let (recorded, shown, again_at) = start(first.clone()).await;
        assert!(recorded.is_empty(), "{recorded:?}");
        assert_eq!(shown, first);
        assert_eq!(again_at, Some(evm_at));

        // New values: the address moves and its time with it; a new method is added.
        std::thread::sleep(std::time::Duration::from_millis(5));
        let second = settlement(Some("both"), Some(EVM2), Some(XRP));
        let (recorded, shown, moved_at) = start(second.clone()).await;
        assert_eq!(recorded.changed, ["evm", "xrp"]);
        assert_eq!(shown, second);
        assert!(moved_at.expect("an evm row") > evm_at);

        // A method dropped loses its row; no settlement at all leaves none.
        let third = settlement(Some("xrp"), None, Some(XRP));
        let (recorded, shown, gone) = start(third.clone()).await;
        assert_eq!(recorded.removed, ["evm"]);
        assert!(recorded.changed.is_empty());
        assert_eq!(shown, third);
        assert_eq!(gone, None);
        let (recorded, shown, _) = start(Settlement::default()).await;
        assert_eq!(recorded.removed, ["xrp"]);
        assert_eq!(shown, Settlement::default());
    }

    #[tokio::test]
    async fn a_stored_row_that_breaks_the_rules_is_refused() {
        let store = Store::open("sqlite::memory:").await.unwrap();
        sqlx::query(
            "INSERT INTO node_settlement (method, address, changed_at_ms) VALUES ('evm', '0x1', 1)",
        )
        .execute(store.pool())
        .await
        .unwrap();
        let err = store.settlement().await.unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Corrupt {
                    table: "node_settlement",
                    ..
                }
            ),
            "{err}"
        );
    }
}
