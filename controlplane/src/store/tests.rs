use config_model::{PeerConfig, SecretRef};

use super::*;

fn peer(id: &str) -> PeerConfig {
    PeerConfig {
        url: Some("ws://127.0.0.1:3001".into()),
        max_packet_amount: Some(u64::MAX),
        ..PeerConfig::new(id, SecretRef::Env("PEER_SECRET".into()))
    }
}

async fn temp_store() -> (tempfile::TempDir, String, Store) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("cp.db").display());
    let store = Store::open(&url).await.unwrap();
    (dir, url, store)
}

#[tokio::test]
async fn epochs_grow_across_restarts_and_state_survives() {
    let (_dir, url, store) = temp_store().await;
    assert_eq!(store.next_epoch().await.unwrap(), 1);
    store.create_peer(&peer("b"), Source::Static).await.unwrap();
    store.close().await;
    let store = Store::open(&url).await.unwrap();
    assert_eq!(store.next_epoch().await.unwrap(), 2);
    let b = store.get_peer("b").await.unwrap().unwrap();
    assert_eq!(b.config, peer("b"), "u64::MAX survives as text");
    assert_eq!(b.source, Source::Static);
}

#[tokio::test]
async fn peers_crud_with_etags() {
    let (_dir, _url, store) = temp_store().await;
    let created = store.create_peer(&peer("b"), Source::Static).await.unwrap();
    assert!(matches!(
        store.create_peer(&peer("b"), Source::Static).await,
        Err(StoreError::AlreadyExists { .. })
    ));
    let mut changed = peer("b");
    changed.credit_limit = Some(500);
    let stale = store.update_peer(&changed, Some("not-the-etag")).await;
    assert!(
        matches!(stale, Err(StoreError::StaleEtag { .. })),
        "{stale:?}"
    );
    let updated = store
        .update_peer(&changed, Some(&created.etag))
        .await
        .unwrap();
    assert_ne!(updated.etag, created.etag);
    assert_eq!(updated.created_at_ms, created.created_at_ms);
    assert!(matches!(
        store.update_peer(&changed, Some(&created.etag)).await,
        Err(StoreError::StaleEtag { .. })
    ));
    assert!(matches!(
        store.update_peer(&peer("nobody"), None).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        store
            .get_peer("b")
            .await
            .unwrap()
            .unwrap()
            .config
            .credit_limit,
        Some(500)
    );
}

#[tokio::test]
async fn pagination_is_ordered_and_complete() {
    let (_dir, _url, store) = temp_store().await;
    for i in 0..25 {
        store
            .create_peer(&peer(&format!("p{i:02}")), Source::Static)
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.list_peers(after.as_deref(), 10).await.unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|p| p.config.id.clone());
        seen.extend(page.into_iter().map(|p| p.config.id));
    }
    let expected: Vec<String> = (0..25).map(|i| format!("p{i:02}")).collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
async fn routes_need_their_peer_and_keep_it_alive() {
    let (_dir, _url, store) = temp_store().await;
    assert!(matches!(
        store.create_route("g.x", "ghost", Source::Static).await,
        Err(StoreError::NotFound { what: "peer", .. })
    ));
    store.create_peer(&peer("b"), Source::Static).await.unwrap();
    store
        .create_route("g.x", "b", Source::Static)
        .await
        .unwrap();
    store.create_route("", "b", Source::Static).await.unwrap();
    assert!(matches!(
        store.create_route("g.x", "b", Source::Static).await,
        Err(StoreError::AlreadyExists { .. })
    ));
    let all = store.all_routes().await.unwrap();
    assert_eq!(
        all.iter().map(|r| r.prefix.as_str()).collect::<Vec<_>>(),
        ["", "g.x"]
    );
    let refused = store.delete_peer("b", None, false).await;
    assert!(
        matches!(refused, Err(StoreError::PeerHasRoutes { ref routes, .. }) if routes.len() == 2),
        "{refused:?}"
    );
    let (_, removed) = store.delete_peer("b", None, true).await.unwrap();
    assert_eq!(removed.len(), 2);
    assert!(store.all_routes().await.unwrap().is_empty());
    assert!(matches!(
        store.delete_route("g.x").await,
        Err(StoreError::NotFound { .. })
    ));
}

#[tokio::test]
async fn data_plane_reports_are_kept() {
    let (_dir, _url, store) = temp_store().await;
    store.touch_data_plane("a").await.unwrap();
    store.record_ack("a", (3, 7)).await.unwrap();
    store
        .record_nack("a", (3, 8), "peer x: env:MISSING is not set")
        .await
        .unwrap();
    store
        .record_report(
            "a",
            &[LinkReport {
                peer_id: "b".into(),
                state: "up".into(),
                last_error: None,
            }],
            &[ReportedBalance {
                peer_id: "b".into(),
                balance: "-170141183460469231731687303715884105728".into(),
                pending_incoming: "0".into(),
            }],
            Some(&ReportedAddress {
                ilp_address: "test.p.a".into(),
                source: "ildcp".into(),
            }),
        )
        .await
        .unwrap();
    let records = store.data_planes().await.unwrap();
    assert_eq!(records.len(), 1);
    let a = &records[0];
    assert_eq!(a.applied, Some((3, 7)));
    assert_eq!(
        a.nack,
        Some(((3, 8), "peer x: env:MISSING is not set".to_string()))
    );
    assert_eq!(a.links[0].state, "up");
    assert_eq!(a.balances[0].balance, i128::MIN.to_string());
    assert_eq!(
        a.address,
        Some(ReportedAddress {
            ilp_address: "test.p.a".into(),
            source: "ildcp".into(),
        })
    );
    // A report without an address (waiting for ILDCP again) clears it.
    store.record_report("a", &[], &[], None).await.unwrap();
    assert_eq!(store.data_planes().await.unwrap()[0].address, None);
}

#[tokio::test]
async fn a_database_from_a_newer_version_is_refused() {
    let (_dir, url, store) = temp_store().await;
    sqlx::query(test_kit::NEWER_MIGRATION_SQL)
        .execute(store.pool())
        .await
        .unwrap();
    store.close().await;
    let error = Store::open(&url).await.err().expect("refused");
    assert!(
        matches!(
            error,
            StoreError::Open(sqlite_store::OpenError::NewerSchema {
                found: 99990101000000,
                ..
            })
        ),
        "{error}"
    );
    assert!(error.to_string().contains("newer version"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_all_succeed() {
    // API writes (read-then-write transactions) racing data plane reports: with deferred
    // transactions some of these failed with SQLITE_BUSY_SNAPSHOT.
    let (_dir, _url, store) = temp_store().await;
    store.create_peer(&peer("b"), Source::Static).await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40 {
        let s = store.clone();
        tasks.spawn(async move {
            s.create_route(&format!("g.r{i}"), "b", Source::Static)
                .await
                .map(|_| ())
        });
        let s = store.clone();
        tasks.spawn(async move {
            let link = LinkReport {
                peer_id: "b".into(),
                state: format!("s{i}"),
                last_error: None,
            };
            s.record_report("a", &[link], &[], None).await
        });
        let s = store.clone();
        tasks.spawn(async move {
            let mut changed = peer("b");
            changed.credit_limit = Some(i);
            s.update_peer(&changed, None).await.map(|_| ())
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.unwrap().unwrap();
    }
    assert_eq!(store.all_routes().await.unwrap().len(), 40);
}

/// Every setting survives a create and an update: the two statements share one column list,
/// and this holds them to it.
#[tokio::test]
async fn every_setting_is_stored_by_create_and_by_update() {
    let (_dir, _url, store) = temp_store().await;
    let full = |credit: u64, key: &str| PeerConfig {
        url: Some("ws://full:3000".into()),
        relation: config_model::Relation::Parent,
        asset_code: "EUR".into(),
        asset_scale: 2,
        max_packet_amount: Some(u64::MAX),
        credit_limit: Some(credit),
        auth_username: Some("me".into()),
        public_key: Some(key.into()),
        ..PeerConfig::new("full", SecretRef::NodeKey)
    };
    store
        .create_peer(&full(1, "key-1"), Source::Static)
        .await
        .unwrap();
    let read = |store: Store| async move { store.get_peer("full").await.unwrap().unwrap().config };
    assert_eq!(read(store.clone()).await, full(1, "key-1"));
    let mut plain = PeerConfig::new("full", SecretRef::Env("PLAIN".into()));
    store.update_peer(&plain, None).await.unwrap();
    assert_eq!(read(store.clone()).await, plain);
    plain = full(2, "key-2");
    store.update_peer(&plain, None).await.unwrap();
    assert_eq!(read(store.clone()).await, plain);
}
