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

use service_runtime::dependencies::Dependencies;

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
    /// The discovery servers, as `/health` shows them.
    pub dependencies: Arc<Dependencies>,
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
            dependencies: Arc::default(),
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

/// A List request's page: how many rows, and the key (id or prefix) to start after.
struct Page {
    size: u32,
    after: Option<String>,
}

/// Tokens say `after:<key>`: the empty route prefix is a real key that sorts first, so a token
/// must be told apart from no token at all.
const TOKEN_PREFIX: &str = "after:";

impl Page {
    fn of(page_size: i32, page_token: &str) -> Result<Page, Status> {
        let size = match page_size {
            0 => 100,
            n if n < 0 => return Err(crate::convert::invalid("page_size", "must not be negative")),
            n => u32::try_from(n).unwrap_or(1000).min(1000),
        };
        let after = match page_token {
            "" => None,
            token => Some(
                token
                    .strip_prefix(TOKEN_PREFIX)
                    .ok_or_else(|| {
                        crate::convert::invalid(
                            "page_token",
                            "not a token from a previous List call",
                        )
                    })?
                    .to_string(),
            ),
        };
        Ok(Page { size, after })
    }

    /// How many rows to ask the store for: one more than the page tells whether there is a
    /// next one.
    fn fetch(&self) -> u32 {
        self.size.saturating_add(1)
    }

    /// This page's rows and the token of the next page (empty after the last).
    fn cut<T>(&self, mut rows: Vec<T>, key: impl Fn(&T) -> &str) -> (Vec<T>, String) {
        let more = rows.len() > self.size as usize;
        rows.truncate(self.size as usize);
        let next = match rows.last() {
            Some(last) if more => format!("{TOKEN_PREFIX}{}", key(last)),
            _ => String::new(),
        };
        (rows, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_cut_rows_and_tokens_round_trip() {
        let page = Page::of(2, "").unwrap();
        assert_eq!((page.fetch(), page.after.as_deref()), (3, None));
        let (rows, next) = page.cut(vec!["", "a", "b"], |r| r);
        assert_eq!((rows, next.as_str()), (vec!["", "a"], "after:a"));
        let (rows, next) = page.cut(vec!["a", "b"], |r| r);
        assert_eq!((rows.len(), next.as_str()), (2, ""), "no next page");
        assert_eq!(Page::of(0, "after:").unwrap().after.as_deref(), Some(""));
        assert_eq!(Page::of(0, "").unwrap().size, 100);
        assert_eq!(Page::of(5000, "").unwrap().size, 1000);
        assert!(Page::of(-1, "").is_err());
        assert!(Page::of(1, "a").is_err(), "not a token of ours");
    }
}
