//! The gRPC services: peers, routes, node status and watch, and the config stream data planes
//! hold open.

mod config_stream;
mod node;
mod peers;
mod routes;

use std::sync::Arc;

use tonic::Status;

pub use config_stream::ConfigApi;
pub use node::NodeApi;
pub use peers::PeersApi;
pub use routes::RoutesApi;

use crate::commit::{Changes, Committer};
use crate::events::Events;
use crate::push::ConfigHub;
use crate::store::{Store, StoreError};

/// What every service works with.
#[derive(Clone)]
pub struct State {
    pub node_id: String,
    pub store: Store,
    pub hub: Arc<ConfigHub>,
    pub events: Events,
    /// Where every write to peers and routes ends (events, then one rebuild).
    pub committer: Committer,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Turns true at shutdown: long-lived streams (config, watch) end so the server can stop.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

impl State {
    /// Resolves once shutdown has begun.
    pub async fn shutting_down(&self) {
        let mut shutdown = self.shutdown.clone();
        let _ = shutdown.wait_for(|stop| *stop).await.map(|_| ());
    }
}

impl State {
    pub fn new(
        node_id: String,
        store: Store,
        hub: Arc<ConfigHub>,
        events: Events,
        metrics: Arc<crate::metrics::Metrics>,
        shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> State {
        State {
            node_id,
            committer: Committer::new(hub.clone(), events.clone()),
            store,
            hub,
            events,
            metrics,
            shutdown,
        }
    }

    /// A state on an in-memory store that never shuts down, for tests.
    #[cfg(test)]
    pub(crate) async fn for_tests(node_id: &str) -> State {
        let store = Store::open("sqlite::memory:")
            .await
            .expect("in-memory store");
        let epoch = store.next_epoch().await.expect("epoch");
        let hub = Arc::new(ConfigHub::new(store.clone(), epoch).await.expect("hub"));
        // The sender is leaked so the state never sees a shutdown.
        let shutdown = Box::leak(Box::new(tokio::sync::watch::channel(false).0)).subscribe();
        State::new(
            node_id.into(),
            store,
            hub,
            Events::new(),
            Arc::new(crate::metrics::Metrics::new()),
            shutdown,
        )
    }

    /// Makes an operation's writes visible (see `commit`).
    async fn commit(&self, changes: Changes) -> Result<(), Status> {
        self.committer.commit(changes).await.map_err(store_status)
    }
}

pub fn store_status(error: StoreError) -> Status {
    match &error {
        StoreError::AlreadyExists { .. } => Status::already_exists(error.to_string()),
        StoreError::NotFound { .. } => Status::not_found(error.to_string()),
        StoreError::StaleEtag { .. } => Status::aborted(error.to_string()),
        StoreError::PeerHasRoutes { .. } => Status::failed_precondition(format!(
            "{error}; remove them first or delete with routes (ctl peers remove --with-routes)"
        )),
        _ => {
            tracing::error!(%error, "store_error");
            Status::unavailable(format!("storage unavailable: {error}"))
        }
    }
}

/// (page size, start after) from a List request.
fn page(page_size: i32, page_token: &str) -> Result<(u32, Option<String>), Status> {
    let size = match page_size {
        0 => 100,
        n if n < 0 => return Err(crate::convert::invalid("page_size", "must not be negative")),
        n => u32::try_from(n).unwrap_or(1000).min(1000),
    };
    Ok((size, Some(page_token.to_string()).filter(|t| !t.is_empty())))
}
