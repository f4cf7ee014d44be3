//! `CONFIG_FILE`: peers and routes declared in YAML and applied at every start, so a node in a
//! Compose network comes up with its peers without anyone running `ctl peers add`.
//!
//! The file is read and checked with the settings (a bad file stops the binary before anything
//! is opened); [`apply`] then brings the store in line with it through the same store calls
//! and commit path the gRPC API uses. Only what the file declares is touched: peers and routes
//! added through the API stay, and a declaration that already matches is left as it is, so a
//! restart with the same file makes no new config generation.

use std::path::{Path, PathBuf};

use config_model::sections::{AssetDefaults, PeerSection, RouteSection};
use config_model::{PeerConfig, RouteConfig};
use serde::Deserialize;

use crate::commit::{Changes, Committer};
use crate::store::{RouteDeclaration, Source, Store, StoreError};

/// The file's schema: the `peers:` and `routes:` sections of the data plane's YAML (the same
/// types, from config-model), nothing else. Unknown keys are refused so that a typo (`peer:`)
/// cannot silently drop peers.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FileSchema {
    #[serde(default)]
    peers: Vec<PeerSection>,
    #[serde(default)]
    routes: Vec<RouteSection>,
}

/// A problem with the file, naming it and (where there is one) the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {}", path.display(), detail)]
pub struct ConfigFileError {
    pub path: PathBuf,
    /// `field: problem`, or the YAML parser's message (which names the field itself).
    pub detail: String,
}

/// The declared peers and routes, checked: every field valid, ids and prefixes unique, and
/// every route naming a peer declared in the same file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigFile {
    pub path: PathBuf,
    pub peers: Vec<PeerConfig>,
    pub routes: Vec<RouteConfig>,
}

impl ConfigFile {
    pub fn load(path: &Path) -> Result<ConfigFile, ConfigFileError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigFileError {
            path: path.to_path_buf(),
            detail: format!("cannot read: {e}"),
        })?;
        ConfigFile::parse(path, &text)
    }

    /// Parses and checks `text` as if read from `path` (which only labels errors).
    pub fn parse(path: &Path, text: &str) -> Result<ConfigFile, ConfigFileError> {
        let fail = |detail: String| ConfigFileError {
            path: path.to_path_buf(),
            detail,
        };
        // An empty file (or one of comments only) declares nothing; serde would call it a
        // type error.
        let schema: Option<FileSchema> =
            yaml_serde::from_str(text).map_err(|e| fail(e.to_string().replace('\n', " ")))?;
        let schema = schema.unwrap_or_default();
        let assets = AssetDefaults::default();
        let peers = schema
            .peers
            .into_iter()
            .enumerate()
            .map(|(index, section)| section.into_config(index, &assets, None))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| fail(e.to_string()))?;
        let routes: Vec<RouteConfig> = schema.routes.into_iter().map(Into::into).collect();
        config_model::validate_table(&peers, &routes).map_err(|e| fail(e.to_string()))?;
        Ok(ConfigFile {
            path: path.to_path_buf(),
            peers,
            routes,
        })
    }
}

/// What applying the file did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    pub peers: Counts,
    pub routes: Counts,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}

impl Applied {
    pub fn changed(&self) -> bool {
        self.peers.created + self.peers.updated + self.routes.created + self.routes.updated > 0
    }
}

/// Creates each declared peer and route that is missing and updates each that differs; then
/// commits (events, and one rebuild of the config the data planes receive if anything
/// changed). Logs `config_file_applied`.
pub async fn apply(
    store: &Store,
    committer: &Committer,
    file: &ConfigFile,
) -> Result<Applied, StoreError> {
    let mut applied = Applied::default();
    let mut changes = Changes::default();
    // Peers first: routes refer to them.
    for peer in &file.peers {
        match store.get_peer(&peer.id).await? {
            None => {
                changes.peer("created", &store.create_peer(peer, Source::Static).await?);
                applied.peers.created += 1;
            }
            Some(stored) if stored.source == Source::Discovery => {
                // Declared by the operator now: it becomes static, or discovery would go on
                // rewriting (or removing) it. Its discovered routes go with it.
                store.delete_peer(&peer.id, None, true).await?;
                changes.peer("updated", &store.create_peer(peer, Source::Static).await?);
                applied.peers.updated += 1;
            }
            Some(stored) if stored.config == *peer => applied.peers.unchanged += 1,
            Some(_) => {
                changes.peer("updated", &store.update_peer(peer, None).await?);
                applied.peers.updated += 1;
            }
        }
    }
    let declared: Vec<RouteDeclaration> = file
        .routes
        .iter()
        .map(|route| RouteDeclaration {
            prefix: route.prefix.clone(),
            peer: route.peer.clone(),
        })
        .collect();
    // Nobody sees a half-applied table: data planes only get the config rebuilt below.
    let routes = store.declare_routes(&declared, Source::Static).await?;
    applied.routes = Counts {
        created: routes.created,
        updated: routes.updated,
        unchanged: routes.unchanged,
    };
    if applied.routes.created + applied.routes.updated > 0 {
        changes.table_changed();
    }
    committer.commit(changes).await?;
    let (epoch, generation) = committer.current().version;
    let total = |f: fn(&Counts) -> usize| f(&applied.peers) + f(&applied.routes);
    tracing::info!(
        file = %file.path.display(),
        created = total(|c| c.created),
        updated = total(|c| c.updated),
        unchanged = total(|c| c.unchanged),
        peersCreated = applied.peers.created,
        peersUpdated = applied.peers.updated,
        peersUnchanged = applied.peers.unchanged,
        routesCreated = applied.routes.created,
        routesUpdated = applied.routes.updated,
        routesUnchanged = applied.routes.unchanged,
        configVersion = %format!("{epoch}.{generation}"),
        "config_file_applied"
    );
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use config_model::{Relation, SecretRef};

    use super::*;
    use crate::push::ConfigHub;

    fn parse(text: &str) -> Result<ConfigFile, ConfigFileError> {
        ConfigFile::parse(Path::new("/etc/cp.yaml"), text)
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    const FULL: &str = "\
peers:
  - id: west
    url: ws://west.internal:3000
    relation: parent
    assetCode: EUR
    assetScale: 6
    maxPacketAmount: 1000
    creditLimit: 5000
    secretRef: env:WEST_SECRET
    authUsername: east
  - id: shop
    secretRef: file:/run/secrets/shop
routes:
  - { prefix: g.west, peer: west }
  - { prefix: g.shop, peer: shop }
";

    #[test]
    fn every_field_is_read_and_omitted_ones_get_the_api_defaults() {
        let file = parse(FULL).unwrap();
        assert_eq!(file.peers.len(), 2);
        let west = &file.peers[0];
        assert_eq!(west.url.as_deref(), Some("ws://west.internal:3000"));
        assert_eq!(west.relation, Relation::Parent);
        assert_eq!((west.asset_code.as_str(), west.asset_scale), ("EUR", 6));
        assert_eq!(
            (west.max_packet_amount, west.credit_limit),
            (Some(1000), Some(5000))
        );
        assert_eq!(west.secret_ref, SecretRef::Env("WEST_SECRET".into()));
        assert_eq!(west.auth_username.as_deref(), Some("east"));
        let shop = &file.peers[1];
        assert_eq!(shop.relation, Relation::Peer);
        assert_eq!((shop.asset_code.as_str(), shop.asset_scale), ("USD", 9));
        assert_eq!(shop.url, None);
        assert_eq!(
            file.routes,
            [
                RouteConfig {
                    prefix: "g.west".into(),
                    peer: "west".into()
                },
                RouteConfig {
                    prefix: "g.shop".into(),
                    peer: "shop".into()
                }
            ]
        );
    }

    #[test]
    fn an_empty_file_declares_nothing() {
        for text in ["", "# nothing yet\n", "peers: []\nroutes: []\n"] {
            let file = parse(text).unwrap();
            assert!(file.peers.is_empty() && file.routes.is_empty(), "{text:?}");
        }
    }

    #[test]
    fn errors_name_the_file_and_the_field() {
        let cases = [
            ("peer: []\n", "unknown field `peer`"),
            (
                "peers:\n  - { id: a, secret: hunter2 }\n",
                "peers[0].secret: literal secrets are refused",
            ),
            (
                "peers:\n  - { id: a, secretRef: hunter2 }\n",
                "peers[0].secretRef: must be a secret reference",
            ),
            ("peers:\n  - { id: a }\n", "peers[0].secretRef: required"),
            (
                "peers:\n  - { id: a, secretRef: 'env:A', relation: boss }\n",
                "peers[0].relation: \"boss\" is not peer, parent or child",
            ),
            (
                "peers:\n  - { id: a, secretRef: 'env:A', url: 'http://x' }\n",
                "peers[0].url",
            ),
            (
                "peers:\n  - { id: 'a b', secretRef: 'env:A' }\n",
                "peers[0].id",
            ),
            (
                "peers:\n  - { id: a, secretRef: 'env:A', assetScale: 300 }\n",
                "assetScale",
            ),
            (
                "peers:\n  - { id: a, secretRef: 'env:A', colour: red }\n",
                "unknown field `colour`",
            ),
            (
                "peers:\n  - { id: a, secretRef: 'env:A' }\nroutes:\n  - { prefix: g.b, peer: b }\n",
                "routes[0].peer: unknown peer \"b\"",
            ),
            (
                "peers:\n  - { id: a, secretRef: 'env:A' }\nroutes:\n  - { prefix: 'peer.x', peer: a }\n",
                "routes[0].prefix",
            ),
            ("peers: [\n", "/etc/cp.yaml"),
        ];
        for (text, needle) in cases {
            let message = error(text);
            assert!(message.starts_with("/etc/cp.yaml: "), "{text:?}: {message}");
            assert!(message.contains(needle), "{text:?}: {message}");
            assert!(!message.contains('\n'), "one line: {message}");
            assert!(!message.contains("hunter2"), "{message}");
        }
    }

    #[test]
    fn a_missing_file_is_named() {
        let error = ConfigFile::load(Path::new("/surely/not/here.yaml")).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("/surely/not/here.yaml: cannot read:"),
            "{error}"
        );
    }

    /// A fresh in-memory store with its epoch, hub and committer, ready for `apply`.
    struct Applying {
        store: Store,
        epoch: u64,
        hub: std::sync::Arc<ConfigHub>,
        committer: Committer,
    }

    impl Applying {
        async fn new() -> Self {
            let store = Store::open("sqlite::memory:").await.unwrap();
            let epoch = store.next_epoch().await.unwrap();
            let hub = std::sync::Arc::new(ConfigHub::new(store.clone(), epoch).await.unwrap());
            let committer = Committer::new(hub.clone(), crate::events::Events::new());
            Self {
                store,
                epoch,
                hub,
                committer,
            }
        }
    }

    #[tokio::test]
    async fn applying_creates_then_updates_only_what_differs_and_leaves_the_rest() {
        let Applying {
            store,
            epoch,
            hub,
            committer,
        } = Applying::new().await;
        let mut extra = parse(FULL).unwrap().peers.remove(1);
        extra.id = "api-added".into();
        store.create_peer(&extra, Source::Static).await.unwrap();
        hub.rebuild().await.unwrap();
        let before = hub.current().version;

        let file = parse(FULL).unwrap();
        let first = apply(&store, &committer, &file).await.unwrap();
        assert_eq!(
            first.peers,
            Counts {
                created: 2,
                ..Counts::default()
            }
        );
        assert_eq!(first.routes.created, 2);
        let after_first = hub.current();
        assert_eq!(after_first.version, (epoch, before.1 + 1));
        assert_eq!(after_first.peers.len(), 3);

        let again = apply(&store, &committer, &file).await.unwrap();
        assert!(!again.changed());
        assert_eq!(again.peers.unchanged, 2);
        assert_eq!(again.routes.unchanged, 2);
        assert_eq!(hub.current().version, after_first.version);

        let changed = parse(
            &FULL
                .replace("creditLimit: 5000", "creditLimit: 7000")
                .replace(
                    "{ prefix: g.shop, peer: shop }",
                    "{ prefix: g.shop, peer: west }",
                ),
        )
        .unwrap();
        let third = apply(&store, &committer, &changed).await.unwrap();
        assert_eq!((third.peers.updated, third.peers.unchanged), (1, 1));
        assert_eq!((third.routes.updated, third.routes.unchanged), (1, 1));
        let west = store.get_peer("west").await.unwrap().unwrap();
        assert_eq!(west.config.credit_limit, Some(7000));
        assert_eq!(
            store.get_route("g.shop").await.unwrap().unwrap().peer_id,
            "west"
        );
        assert!(store.get_peer("api-added").await.unwrap().is_some());
        assert_eq!(hub.current().version, (epoch, after_first.version.1 + 1));
    }

    #[tokio::test]
    async fn a_declared_peer_that_discovery_found_becomes_static() {
        let Applying {
            store, committer, ..
        } = Applying::new().await;
        let file = parse(FULL).unwrap();
        store
            .create_peer(&file.peers[0], Source::Discovery)
            .await
            .unwrap();
        store
            .create_route("g.west", "west", Source::Discovery)
            .await
            .unwrap();
        let applied = apply(&store, &committer, &file).await.unwrap();
        assert_eq!((applied.peers.updated, applied.peers.created), (1, 1));
        let west = store.get_peer("west").await.unwrap().unwrap();
        assert_eq!(west.source, Source::Static);
        assert_eq!(west.config, file.peers[0]);
        let route = store.get_route("g.west").await.unwrap().unwrap();
        assert_eq!(
            (route.peer_id.as_str(), route.source),
            ("west", Source::Static)
        );
        let again = apply(&store, &committer, &file).await.unwrap();
        assert!(!again.changed(), "{again:?}");
    }
}
