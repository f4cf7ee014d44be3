use std::time::Duration;

use node_identity::NodeKey;
use proto::discovery::{Announcement, sign_announcement};

use super::*;
use crate::liveness::{Liveness, Window};

const TTL: Duration = Duration::from_secs(10);
/// The server "started" at 0; tests run well after the grace unless they say otherwise.
const START: i64 = 0;
const T0: i64 = 1_000_000;

fn at(now_ms: i64) -> Window {
    Liveness::new(TTL, START).window(now_ms)
}

fn announcement(key: &NodeKey, id: &str, endpoint: &str, sequence: u64) -> Announcement {
    let mut a = Announcement {
        node_id: id.into(),
        btp_endpoint: endpoint.into(),
        ilp_address: format!("test.{id}"),
        capabilities: vec!["peering".into(), "usd".into()],
        version: "0.1.0".into(),
        public_key: String::new(),
        sequence,
        signature: String::new(),
    };
    sign_announcement(key, &mut a);
    a
}

async fn memory() -> Store {
    Store::open("sqlite::memory:").await.unwrap()
}

/// `key` announces `id` at `endpoint` with `sequence`, at `now_ms`, to a registry of at most
/// `max_entries`.
async fn announce(
    store: &Store,
    key: &NodeKey,
    id: &str,
    endpoint: &str,
    sequence: u64,
    now_ms: i64,
    max_entries: u32,
) -> Result<Announced, StoreError> {
    store
        .announce(
            &announcement(key, id, endpoint, sequence),
            at(now_ms),
            max_entries,
        )
        .await
}

/// A fresh store in which a new key announced "a" at ws://a:1 with `sequence`, at T0.
async fn store_with_a(sequence: u64) -> (Store, NodeKey) {
    let store = memory().await;
    let owner = NodeKey::generate();
    announce(&store, &owner, "a", "ws://a:1", sequence, T0, 10)
        .await
        .unwrap();
    (store, owner)
}

#[tokio::test]
async fn binds_refreshes_and_moves() {
    let store = memory().await;
    let owner = NodeKey::generate();
    let first = announce(&store, &owner, "a", "ws://a:1", 1, T0, 10)
        .await
        .unwrap();
    assert!(first.new && !first.claimed);
    let moved = announce(&store, &owner, "a", "ws://a:2", 2, T0 + 1, 10)
        .await
        .unwrap();
    assert!(!moved.new && !moved.claimed);
    let live = store.live_entries(at(T0 + 2)).await.unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].btp_endpoint, "ws://a:2");
    assert_eq!(live[0].capabilities, vec!["peering", "usd"]);
    assert_eq!(live[0].last_seen_ms, T0 + 1);
}

#[tokio::test]
async fn another_key_is_refused_while_live_and_claims_once_stale() {
    let (store, owner) = store_with_a(5).await;
    let thief = NodeKey::generate();
    // Same endpoint, other key: still refused.
    let err = announce(&store, &thief, "a", "ws://a:1", 100, T0 + 20_000, 10)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::IdentityConflict), "{err:?}");
    // Stale (more than 2 × TTL): released; the new key starts its own sequence.
    let claimed = announce(&store, &thief, "a", "ws://t:1", 1, T0 + 20_001, 10)
        .await
        .unwrap();
    assert!(claimed.claimed && claimed.expired_unswept);
    let err = announce(&store, &owner, "a", "ws://a:1", 6, T0 + 20_002, 10)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::IdentityConflict), "{err:?}");
}

#[tokio::test]
async fn sequences_strictly_increase() {
    let store = memory().await;
    let owner = NodeKey::generate();
    let a = announcement(&owner, "a", "ws://a:1", 5);
    store.announce(&a, at(T0), 10).await.unwrap();
    for sequence in [5, 4] {
        let err = announce(&store, &owner, "a", "ws://a:1", sequence, T0 + 1, 10)
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::StaleSequence { last: 5 }),
            "{err:?}"
        );
    }
    // Also after the entry went stale: the same key never goes back.
    let err = store.announce(&a, at(T0 + 100_000), 10).await.unwrap_err();
    assert!(
        matches!(err, StoreError::StaleSequence { last: 5 }),
        "{err:?}"
    );
    // u64 beyond i64 survives the TEXT column.
    announce(&store, &owner, "a", "ws://a:1", u64::MAX - 1, T0 + 2, 10)
        .await
        .unwrap();
    let err = announce(&store, &owner, "a", "ws://a:1", u64::MAX - 1, T0 + 3, 10)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::StaleSequence { last } if last == u64::MAX - 1));
}

#[tokio::test]
async fn deregistration_checks_key_then_sequence_and_blocks_replays() {
    let (store, owner) = store_with_a(5).await;
    let err = store.deregister("b", 6, |_| true).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound));
    let err = store.deregister("a", 6, |_| false).await.unwrap_err();
    assert!(matches!(err, StoreError::BadSignature));
    let err = store.deregister("a", 5, |_| true).await.unwrap_err();
    assert!(matches!(err, StoreError::StaleSequence { last: 5 }));
    let bound = owner.public_key_base64();
    store.deregister("a", 6, |key| key == bound).await.unwrap();
    assert!(store.live_entries(at(T0 + 1)).await.unwrap().is_empty());
    let err = store.deregister("a", 7, |_| true).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound));
    // The announcement seen before the deregistration cannot bring the entry back.
    let err = announce(&store, &owner, "a", "ws://a:1", 6, T0 + 2, 10)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::StaleSequence { last: 6 }));
    announce(&store, &owner, "a", "ws://a:1", 7, T0 + 3, 10)
        .await
        .unwrap();
}

#[tokio::test]
async fn expiry_is_reported_once_and_not_during_the_grace() {
    let (store, owner) = store_with_a(1).await;
    let expired = store.expire_stale(at(T0 + 20_000)).await.unwrap();
    assert!(expired.is_empty());
    // A server started just now is in its grace: the stale entry is live and does not expire.
    let grace = Liveness::new(TTL, T0 + 50_000).window(T0 + 50_000);
    assert_eq!(store.count_live(grace).await.unwrap(), 1);
    assert!(store.expire_stale(grace).await.unwrap().is_empty());
    assert_eq!(
        store.expire_stale(at(T0 + 20_001)).await.unwrap(),
        vec!["a".to_string()]
    );
    let expired = store.expire_stale(at(T0 + 30_000)).await.unwrap();
    assert!(expired.is_empty());
    // Once expired, not even a grace brings it back.
    assert_eq!(store.count_live(grace).await.unwrap(), 0);
    // Re-announcing revives it and does not count a second expiry.
    let again = announce(&store, &owner, "a", "ws://a:1", 2, T0 + 40_000, 10)
        .await
        .unwrap();
    assert!(!again.expired_unswept);
    assert_eq!(store.count_live(at(T0 + 40_000)).await.unwrap(), 1);
}

#[tokio::test]
async fn a_full_registry_evicts_stale_rows_before_refusing() {
    let store = memory().await;
    let key = NodeKey::generate();
    announce(&store, &key, "a", "ws://a:1", 1, T0, 2)
        .await
        .unwrap();
    announce(&store, &key, "b", "ws://b:1", 1, T0 + 15_000, 2)
        .await
        .unwrap();
    let err = announce(&store, &key, "c", "ws://c:1", 1, T0 + 16_000, 2)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::RegistryFull));
    // Known ids may still announce.
    announce(&store, &key, "a", "ws://a:1", 2, T0 + 16_000, 2)
        .await
        .unwrap();
    // Once b is stale, c takes its slot.
    let c = announce(&store, &key, "c", "ws://c:1", 1, T0 + 35_001, 2)
        .await
        .unwrap();
    assert_eq!(c.evicted.as_deref(), Some("b"));
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("d.db").display());
    let store = Store::open(&url).await.unwrap();
    sqlx::query(test_kit::NEWER_MIGRATION_SQL)
        .execute(store.pool())
        .await
        .unwrap();
    store.close().await;
    let err = Store::open(&url).await.err().unwrap();
    assert!(
        matches!(
            err,
            StoreError::Open(sqlite_store::OpenError::NewerSchema { .. })
        ),
        "{err}"
    );
}

/// An unsigned announcement of `id` at `endpoint` (the seed stories' clients sign nothing).
fn unsigned(id: &str, endpoint: &str) -> Announcement {
    Announcement {
        node_id: id.into(),
        btp_endpoint: endpoint.into(),
        ilp_address: format!("test.{id}"),
        capabilities: vec!["peering".into()],
        version: "1.0".into(),
        public_key: String::new(),
        sequence: 0,
        signature: String::new(),
    }
}

#[tokio::test]
async fn an_unsigned_entry_binds_its_endpoint_while_live() {
    let store = memory().await;
    let first = store
        .announce_unsigned(&unsigned("u", "ws://u:1"), "10.0.0.1", at(T0), 10)
        .await
        .unwrap();
    assert!(first.new);
    // Same endpoint, from anywhere: a refresh.
    store
        .announce_unsigned(&unsigned("u", "ws://u:1"), "10.0.0.9", at(T0 + 1_000), 10)
        .await
        .unwrap();
    let live = store.live_entries(at(T0 + 1_000)).await.unwrap();
    assert_eq!(live.len(), 1);
    assert!(!live[0].verified);
    assert_eq!(live[0].public_key, "");
    assert_eq!(live[0].last_seen_ms, T0 + 1_000);
    // Another endpoint while live: refused.
    let err = store
        .announce_unsigned(&unsigned("u", "ws://x:1"), "10.0.0.1", at(T0 + 2_000), 10)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::EndpointConflict), "{err:?}");
    // The refresh from 10.0.0.9 did not give that address the right to deregister.
    let err = store
        .deregister_unsigned("u", "10.0.0.9")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::WrongAddress), "{err:?}");
    // Once stale, another endpoint (and its address) takes the node id.
    let claimed = store
        .announce_unsigned(&unsigned("u", "ws://x:1"), "10.0.0.2", at(T0 + 21_001), 10)
        .await
        .unwrap();
    assert!(claimed.claimed && claimed.expired_unswept);
    let err = store
        .deregister_unsigned("u", "10.0.0.1")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::WrongAddress), "{err:?}");
    store.deregister_unsigned("u", "10.0.0.2").await.unwrap();
    assert!(
        store
            .live_entries(at(T0 + 21_002))
            .await
            .unwrap()
            .is_empty()
    );
    let err = store
        .deregister_unsigned("u", "10.0.0.2")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    // Deregistered: free for anyone again (an unsigned entry has no sequence to replay).
    let again = store
        .announce_unsigned(&unsigned("u", "ws://y:1"), "10.0.0.3", at(T0 + 21_003), 10)
        .await
        .unwrap();
    assert!(again.claimed);
}

#[tokio::test]
async fn unsigned_never_displaces_a_key_but_a_key_displaces_unsigned() {
    let (store, owner) = store_with_a(5).await;
    // A signed entry, live or long stale, is not an unsigned client's to take or remove.
    for now in [T0 + 1, T0 + 100_000] {
        let err = store
            .announce_unsigned(&unsigned("a", "ws://a:1"), "10.0.0.1", at(now), 10)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::BoundToKey), "{err:?}");
    }
    let err = store
        .deregister_unsigned("a", "10.0.0.1")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::SignatureRequired), "{err:?}");
    let live = store.live_entries(at(T0 + 2)).await.unwrap();
    assert_eq!(live[0].public_key, owner.public_key_base64());
    assert!(live[0].verified);

    // A live unsigned entry is taken over by a signed announcement (a key proves more).
    store
        .announce_unsigned(&unsigned("u", "ws://u:1"), "10.0.0.1", at(T0), 10)
        .await
        .unwrap();
    let key = NodeKey::generate();
    let took = announce(&store, &key, "u", "ws://k:1", 1, T0 + 1, 10)
        .await
        .unwrap();
    assert!(took.claimed && took.replaced_unsigned);
    let live = store.live_entries(at(T0 + 2)).await.unwrap();
    let u = live.iter().find(|e| e.node_id == "u").unwrap();
    assert!(u.verified);
    assert_eq!(u.btp_endpoint, "ws://k:1");
    // And from then on it is bound to that key: the announcer's address has no say.
    let err = store
        .deregister_unsigned("u", "10.0.0.1")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::SignatureRequired), "{err:?}");
    let err = store
        .announce_unsigned(&unsigned("u", "ws://u:1"), "10.0.0.1", at(T0 + 3), 10)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::BoundToKey), "{err:?}");
}
