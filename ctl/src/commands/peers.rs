//! `ctl peers …`: the PeerService calls.

use clap::{Args, Subcommand};
use config_model::{Relation, SecretRef};
use prost_types::FieldMask;
use proto::grpc::v1 as api;

use super::{Context, PAGE_SIZE, all_pages};
use crate::client::Connection;
use crate::exit_code::{self, UsageError};
use crate::output;
use crate::views;

#[derive(Subcommand)]
pub enum Command {
    /// Create a peer; prints the created peer.
    #[command(after_help = exit_code::HELP)]
    Add(AddArgs),
    /// List every peer (all pages).
    #[command(after_help = exit_code::HELP)]
    List,
    /// Show one peer (`-o yaml` or `-o json` for every field).
    #[command(after_help = exit_code::HELP)]
    Get {
        /// The peer's id.
        id: String,
    },
    /// Change some fields of a peer; prints the updated peer.
    ///
    /// Only the fields given are sent (as the update mask); at least one is required.
    #[command(after_help = exit_code::HELP)]
    Update(UpdateArgs),
    /// Delete a peer (refused while routes point to it, unless --with-routes).
    #[command(after_help = exit_code::HELP)]
    Remove(RemoveArgs),
}

/// The model's relation rule, as a flag parser: ctl accepts exactly what the server will.
fn relation(text: &str) -> Result<Relation, String> {
    Relation::parse(text).ok_or_else(|| format!("{text:?} is not peer, parent or child"))
}

/// The model's secret-reference rule. A literal secret typed by mistake is refused before it
/// leaves this machine, and the message never repeats the value (which is why this is not a
/// clap value parser: clap's error would echo it).
fn secret_ref(text: &str) -> Result<SecretRef, UsageError> {
    SecretRef::parse(text).map_err(|problem| {
        UsageError(format!(
            "--secret-ref: {problem} (env:NAME, file:/absolute/path or node-key)"
        ))
    })
}

/// The settable fields both `add` and `update` take.
#[derive(Args, Debug, Default)]
pub struct PeerFields {
    /// ws:// URL this node dials; leave out (add) or set to '' (update) when the peer dials us.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// How the peer relates to this node: peer, parent or child.
    #[arg(long, value_name = "RELATION", value_parser = relation)]
    pub relation: Option<Relation>,
    /// Asset code of the peer's account, e.g. USD.
    #[arg(long, value_name = "CODE")]
    pub asset_code: Option<String>,
    /// Asset scale (decimal places) of the peer's account, e.g. 9.
    #[arg(long, value_name = "SCALE")]
    pub asset_scale: Option<u32>,
    /// Largest incoming Prepare accepted from this peer (default: no limit).
    #[arg(long, value_name = "N")]
    pub max_packet_amount: Option<u64>,
    /// How much the peer may owe this node (default: no limit).
    #[arg(long, value_name = "N")]
    pub credit_limit: Option<u64>,
    /// Sent as auth_username when this node dials the peer.
    #[arg(long, value_name = "NAME")]
    pub auth_username: Option<String>,
    /// The peer's node public key (base64 Ed25519), with --secret-ref node-key.
    #[arg(long, value_name = "KEY")]
    pub public_key: Option<String>,
    /// With --relation child: the ILP address ILDCP gives the child instead of
    /// <this node's address>.<id>.
    #[arg(long, value_name = "ADDRESS")]
    pub ilp_address: Option<String>,
}

#[derive(Args, Debug)]
pub struct AddArgs {
    /// The new peer's id ([A-Za-z0-9_.-], up to 64).
    pub id: String,
    /// Where the data plane finds the link's shared secret: env:NAME or file:/absolute/path,
    /// or node-key (with --public-key). Literal secrets are refused.
    #[arg(long, value_name = "REF")]
    pub secret_ref: String,
    #[command(flatten)]
    pub fields: PeerFields,
    /// Validate only: the server checks everything and changes nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// The peer's id.
    pub id: String,
    /// New secret reference: env:NAME, file:/absolute/path or node-key.
    #[arg(long, value_name = "REF")]
    pub secret_ref: Option<String>,
    #[command(flatten)]
    pub fields: PeerFields,
    /// Remove the per-packet limit.
    #[arg(long, conflicts_with = "max_packet_amount")]
    pub clear_max_packet_amount: bool,
    /// Remove the credit limit.
    #[arg(long, conflicts_with = "credit_limit")]
    pub clear_credit_limit: bool,
    /// Give the child <this node's address>.<id> again.
    #[arg(long, conflicts_with = "ilp_address")]
    pub clear_ilp_address: bool,
    /// Only if the peer is still at this etag (from `peers get`); otherwise exit 6.
    #[arg(long, value_name = "ETAG")]
    pub etag: Option<String>,
    /// Validate only: the server checks everything and changes nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Args, Debug)]
pub struct RemoveArgs {
    /// The peer's id.
    pub id: String,
    /// Only if the peer is still at this etag; otherwise exit 6.
    #[arg(long, value_name = "ETAG")]
    pub etag: Option<String>,
    /// Delete the routes that point to the peer too.
    #[arg(long)]
    pub with_routes: bool,
    /// Validate only: the server checks everything and changes nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub async fn run(command: Command, context: &Context) -> anyhow::Result<()> {
    let connection = &context.connection;
    let format = context.format;
    match command {
        Command::Add(args) => {
            let dry_run = args.dry_run;
            let request = create_request(args)?;
            let peer = connection
                .call(connection.peers().create_peer(connection.request(request)))
                .await?;
            context.print(&output::one(format, &views::Peer::from(peer))?)?;
            context.dry_run_note(dry_run);
        }
        Command::List => {
            let peers: Vec<views::Peer> = list_all(connection)
                .await?
                .into_iter()
                .map(Into::into)
                .collect();
            context.print(&output::list(format, &peers)?)?;
        }
        Command::Get { id } => {
            let request = connection.request(api::GetPeerRequest { id });
            let peer = connection
                .call(connection.peers().get_peer(request))
                .await?;
            context.print(&output::one(format, &views::Peer::from(peer))?)?;
        }
        Command::Update(args) => {
            let dry_run = args.dry_run;
            let request = update_request(args)?;
            let peer = connection
                .call(connection.peers().update_peer(connection.request(request)))
                .await?;
            context.print(&output::one(format, &views::Peer::from(peer))?)?;
            context.dry_run_note(dry_run);
        }
        Command::Remove(args) => {
            let id = args.id.clone();
            let request = connection.request(api::DeletePeerRequest {
                id: args.id,
                etag: args.etag.unwrap_or_default(),
                validate_only: args.dry_run,
                delete_routes: args.with_routes,
            });
            let response = connection
                .call(connection.peers().delete_peer(request))
                .await?;
            let removed = views::RemovedPeer {
                id,
                deleted_routes: response.deleted_routes,
            };
            context.print(&output::one(format, &removed)?)?;
            context.dry_run_note(args.dry_run);
        }
    }
    Ok(())
}

/// Every peer, following `next_page_token` to the end.
pub async fn list_all(connection: &Connection) -> anyhow::Result<Vec<api::Peer>> {
    let client = connection.peers();
    all_pages(|page_token| {
        let mut client = client.clone();
        async move {
            let request = connection.request(api::ListPeersRequest {
                page_size: PAGE_SIZE,
                page_token,
            });
            let page = connection.call(client.list_peers(request)).await?;
            Ok((page.peers, page.next_page_token))
        }
    })
    .await
}

pub fn create_request(args: AddArgs) -> Result<api::CreatePeerRequest, UsageError> {
    let reference = secret_ref(&args.secret_ref)?;
    let fields = args.fields;
    Ok(api::CreatePeerRequest {
        peer: Some(api::Peer {
            id: args.id,
            url: fields.url.unwrap_or_default(),
            relation: fields
                .relation
                .map(|r| r.as_str().to_string())
                .unwrap_or_default(),
            asset_code: fields.asset_code.unwrap_or_default(),
            asset_scale: fields.asset_scale.unwrap_or_default(),
            max_packet_amount: fields.max_packet_amount,
            credit_limit: fields.credit_limit,
            secret_ref: reference.to_string(),
            auth_username: fields.auth_username.unwrap_or_default(),
            public_key: fields.public_key.unwrap_or_default(),
            ilp_address: fields.ilp_address.unwrap_or_default(),
            ..Default::default()
        }),
        validate_only: args.dry_run,
    })
}

/// The flags that name fields, for the "nothing to update" message.
const FIELD_FLAGS: &str = "--url, --relation, --asset-code, --asset-scale, --max-packet-amount, \
    --clear-max-packet-amount, --credit-limit, --clear-credit-limit, --secret-ref, \
    --auth-username, --public-key, --ilp-address, --clear-ilp-address";

/// An UpdatePeer whose mask lists exactly the fields given, in proto order. An empty mask
/// would mean "every field" to the server, so no field flags is a usage error, not a call.
pub fn update_request(args: UpdateArgs) -> Result<api::UpdatePeerRequest, UsageError> {
    let fields = args.fields;
    let mut peer = api::Peer {
        id: args.id,
        etag: args.etag.unwrap_or_default(),
        ..Default::default()
    };
    let mut paths: Vec<&str> = Vec::new();
    if let Some(url) = fields.url {
        peer.url = url;
        paths.push("url");
    }
    if let Some(relation) = fields.relation {
        peer.relation = relation.as_str().to_string();
        paths.push("relation");
    }
    if let Some(code) = fields.asset_code {
        peer.asset_code = code;
        paths.push("asset_code");
    }
    if let Some(scale) = fields.asset_scale {
        peer.asset_scale = scale;
        paths.push("asset_scale");
    }
    if fields.max_packet_amount.is_some() || args.clear_max_packet_amount {
        // Unset in the message and named in the mask: that is how a field is cleared.
        peer.max_packet_amount = fields.max_packet_amount;
        paths.push("max_packet_amount");
    }
    if fields.credit_limit.is_some() || args.clear_credit_limit {
        peer.credit_limit = fields.credit_limit;
        paths.push("credit_limit");
    }
    if let Some(text) = args.secret_ref {
        peer.secret_ref = secret_ref(&text)?.to_string();
        paths.push("secret_ref");
    }
    if let Some(name) = fields.auth_username {
        peer.auth_username = name;
        paths.push("auth_username");
    }
    if let Some(key) = fields.public_key {
        peer.public_key = key;
        paths.push("public_key");
    }
    if fields.ilp_address.is_some() || args.clear_ilp_address {
        // Empty in the message and named in the mask: back to the default address.
        peer.ilp_address = fields.ilp_address.unwrap_or_default();
        paths.push("ilp_address");
    }
    if paths.is_empty() {
        return Err(UsageError(format!(
            "peers update: nothing to update; give at least one of {FIELD_FLAGS}"
        )));
    }
    Ok(api::UpdatePeerRequest {
        peer: Some(peer),
        update_mask: Some(FieldMask {
            paths: paths.into_iter().map(String::from).collect(),
        }),
        validate_only: args.dry_run,
    })
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};

    use clap::Parser;
    use proto::grpc::v1::peer_service_server::{PeerService, PeerServiceServer};
    use tokio_stream::wrappers::TcpListenerStream;
    use tonic::{Request, Response, Status};

    use super::*;
    use crate::client::ConnectionArgs;

    #[derive(Parser)]
    struct TestCli {
        #[command(subcommand)]
        command: Command,
    }

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        TestCli::try_parse_from(std::iter::once("peers").chain(args.iter().copied()))
            .map(|cli| cli.command)
    }

    fn update(args: &[&str]) -> Result<api::UpdatePeerRequest, String> {
        let mut argv = vec!["update", "west"];
        argv.extend_from_slice(args);
        match parse(&argv).map_err(|e| e.to_string())? {
            Command::Update(args) => update_request(args).map_err(|e| e.to_string()),
            _ => Err("not an update".into()),
        }
    }

    /// `parse` of the whitespace-separated words of `line`.
    fn parse_line(line: &str) -> Result<Command, clap::Error> {
        parse(&line.split_whitespace().collect::<Vec<_>>())
    }

    /// `update` with the whitespace-separated words of `line` as its flags.
    fn update_line(line: &str) -> Result<api::UpdatePeerRequest, String> {
        update(&line.split_whitespace().collect::<Vec<_>>())
    }

    fn mask(request: &api::UpdatePeerRequest) -> Vec<String> {
        request
            .update_mask
            .as_ref()
            .map(|m| m.paths.clone())
            .unwrap_or_default()
    }

    #[test]
    fn the_update_mask_names_exactly_the_flags_given() {
        let cases: &[(&[&str], &[&str])] = &[
            (&["--url", "ws://w:3000"], &["url"]),
            (&["--url", ""], &["url"]),
            (&["--relation", "parent"], &["relation"]),
            (
                &["--asset-code", "EUR", "--asset-scale", "6"],
                &["asset_code", "asset_scale"],
            ),
            (&["--max-packet-amount", "5"], &["max_packet_amount"]),
            (&["--clear-max-packet-amount"], &["max_packet_amount"]),
            (&["--credit-limit", "7"], &["credit_limit"]),
            (&["--clear-credit-limit"], &["credit_limit"]),
            (&["--secret-ref", "file:/run/secrets/w"], &["secret_ref"]),
            (&["--auth-username", "east"], &["auth_username"]),
            (
                &[
                    "--auth-username",
                    "east",
                    "--url",
                    "ws://w",
                    "--credit-limit",
                    "1",
                ],
                &["url", "credit_limit", "auth_username"],
            ),
            (
                &[
                    "--url",
                    "ws://w",
                    "--relation",
                    "child",
                    "--asset-code",
                    "USD",
                    "--asset-scale",
                    "9",
                    "--max-packet-amount",
                    "1",
                    "--credit-limit",
                    "2",
                    "--secret-ref",
                    "env:W",
                    "--auth-username",
                    "e",
                ],
                &[
                    "url",
                    "relation",
                    "asset_code",
                    "asset_scale",
                    "max_packet_amount",
                    "credit_limit",
                    "secret_ref",
                    "auth_username",
                ],
            ),
        ];
        for (flags, expected) in cases {
            let request = update(flags);
            assert_eq!(
                request.as_ref().map(mask),
                Ok(expected.iter().map(|s| s.to_string()).collect()),
                "{flags:?}"
            );
        }
    }

    #[test]
    fn update_carries_values_etag_and_dry_run() {
        let request = update_line("--max-packet-amount 5 --clear-credit-limit --etag e7 --dry-run");
        let Ok(request) = request else {
            panic!("{request:?}");
        };
        let peer = request.peer.unwrap_or_default();
        assert_eq!(peer.id, "west");
        assert_eq!(peer.etag, "e7");
        assert_eq!(peer.max_packet_amount, Some(5));
        assert_eq!(peer.credit_limit, None);
        assert!(request.validate_only);
    }

    #[test]
    fn update_without_field_flags_is_a_usage_error() {
        let error = update(&[]).err().unwrap_or_default();
        assert!(error.contains("nothing to update"), "{error}");
        let error = update(&["--etag", "e1", "--dry-run"])
            .err()
            .unwrap_or_default();
        assert!(error.contains("nothing to update"), "{error}");
    }

    #[test]
    fn setting_and_clearing_the_same_limit_is_refused_by_the_parser() {
        let error = parse(&["update", "w", "--credit-limit", "1", "--clear-credit-limit"]);
        assert!(error.is_err());
        let error = parse_line("update w --max-packet-amount 1 --clear-max-packet-amount");
        assert!(error.is_err());
    }

    /// ctl takes its rules from the model: every value the model accepts, ctl accepts, and
    /// every value it refuses, ctl refuses before anything is sent (node-key was refused by
    /// ctl's own copy of the rule, and env:1X accepted).
    #[test]
    fn flags_follow_the_models_rules() {
        let references = [
            "env:WEST_SECRET",
            "file:/run/secrets/west",
            "node-key",
            "env:1X",
            "env:",
            "env:A-B",
            "file:relative",
            "vault:x",
            "hunter2",
            "",
        ];
        for text in references {
            let Ok(Command::Add(args)) = parse(&["add", "w", "--secret-ref", text]) else {
                panic!("{text:?} did not parse");
            };
            let added = create_request(args).map_err(|e| e.to_string());
            let updated = update(&["--secret-ref", text]);
            let model = SecretRef::parse(text).is_ok();
            assert_eq!(added.is_ok(), model, "add {text:?}: {added:?}");
            assert_eq!(updated.is_ok(), model, "update {text:?}: {updated:?}");
            if let (Err(error), false) = (added, ["", "env:"].contains(&text)) {
                assert!(error.contains("env:NAME"), "{text}: {error}");
                assert!(!error.contains(text), "echoed {text}: {error}");
            }
        }
        for text in ["peer", "parent", "child", "Peer", "friend", ""] {
            let by_ctl = parse(&["update", "w", "--relation", text]);
            assert_eq!(by_ctl.is_ok(), Relation::parse(text).is_some(), "{text:?}");
        }
    }

    #[test]
    fn a_node_key_peer_can_be_added_and_rekeyed() {
        let Ok(Command::Add(args)) = parse_line("add east --secret-ref node-key --public-key a2V5")
        else {
            panic!("did not parse");
        };
        let peer = create_request(args)
            .ok()
            .unwrap_or_default()
            .peer
            .unwrap_or_default();
        assert_eq!(
            (peer.secret_ref.as_str(), peer.public_key.as_str()),
            ("node-key", "a2V5")
        );
        let request = update(&["--public-key", "b3RoZXI="]).unwrap_or_default();
        assert_eq!(mask(&request), ["public_key"]);
    }

    #[test]
    fn a_childs_ildcp_address_can_be_set_and_cleared() {
        let Ok(Command::Add(args)) =
            parse_line("add kid --secret-ref env:K --relation child --ilp-address g.other.kid")
        else {
            panic!("did not parse");
        };
        let peer = create_request(args)
            .ok()
            .unwrap_or_default()
            .peer
            .unwrap_or_default();
        assert_eq!(peer.ilp_address, "g.other.kid");
        let set = update(&["--ilp-address", "g.x.kid"]).unwrap_or_default();
        assert_eq!(mask(&set), ["ilp_address"]);
        assert_eq!(set.peer.unwrap_or_default().ilp_address, "g.x.kid");
        let cleared = update(&["--clear-ilp-address"]).unwrap_or_default();
        assert_eq!(mask(&cleared), ["ilp_address"]);
        assert_eq!(cleared.peer.unwrap_or_default().ilp_address, "");
        assert!(parse_line("update w --ilp-address g.x --clear-ilp-address").is_err());
    }

    #[test]
    fn add_sends_every_given_field_and_leaves_the_rest_to_the_server() {
        let Ok(Command::Add(args)) = parse_line(
            "add west --secret-ref env:W --url ws://w:3000 --relation parent --credit-limit 100 --dry-run",
        ) else {
            panic!("did not parse");
        };
        let request = create_request(args).ok().unwrap_or_default();
        assert!(request.validate_only);
        let peer = request.peer.unwrap_or_default();
        assert_eq!(peer.id, "west");
        assert_eq!(peer.url, "ws://w:3000");
        assert_eq!(peer.relation, "parent");
        assert_eq!(peer.secret_ref, "env:W");
        assert_eq!(peer.credit_limit, Some(100));
        assert_eq!(peer.max_packet_amount, None);
        assert_eq!(peer.asset_code, "");
    }

    fn peer(id: &str) -> api::Peer {
        api::Peer {
            id: id.into(),
            secret_ref: format!("env:{id}"),
            ..Default::default()
        }
    }

    /// Serves `pages` one after another; the token of page i+1 is "p{i+1}". When `token` is
    /// set, calls without `authorization: Bearer <token>` get UNAUTHENTICATED.
    #[derive(Default)]
    struct FakePeers {
        pages: Vec<Vec<api::Peer>>,
        token: Option<String>,
        seen: Mutex<Vec<api::ListPeersRequest>>,
    }

    #[tonic::async_trait]
    impl PeerService for FakePeers {
        async fn create_peer(
            &self,
            _: Request<api::CreatePeerRequest>,
        ) -> Result<Response<api::Peer>, Status> {
            Err(Status::unimplemented("fake"))
        }
        async fn get_peer(
            &self,
            _: Request<api::GetPeerRequest>,
        ) -> Result<Response<api::Peer>, Status> {
            Err(Status::unimplemented("fake"))
        }
        async fn list_peers(
            &self,
            request: Request<api::ListPeersRequest>,
        ) -> Result<Response<api::ListPeersResponse>, Status> {
            if let Some(token) = &self.token {
                let header = request
                    .metadata()
                    .get("authorization")
                    .and_then(|v| v.to_str().ok());
                if header != Some(format!("Bearer {token}").as_str()) {
                    return Err(Status::unauthenticated("bad token"));
                }
            }
            let request = request.into_inner();
            if let Ok(mut seen) = self.seen.lock() {
                seen.push(request.clone());
            }
            let index: usize = match request.page_token.as_str() {
                "" => 0,
                token => token
                    .strip_prefix('p')
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| Status::invalid_argument("bad page token"))?,
            };
            let peers = self.pages.get(index).cloned().unwrap_or_default();
            let next_page_token = if index + 1 < self.pages.len() {
                format!("p{}", index + 1)
            } else {
                String::new()
            };
            Ok(Response::new(api::ListPeersResponse {
                peers,
                next_page_token,
            }))
        }
        async fn update_peer(
            &self,
            _: Request<api::UpdatePeerRequest>,
        ) -> Result<Response<api::Peer>, Status> {
            Err(Status::unimplemented("fake"))
        }
        async fn delete_peer(
            &self,
            _: Request<api::DeletePeerRequest>,
        ) -> Result<Response<api::DeletePeerResponse>, Status> {
            Err(Status::unimplemented("fake"))
        }
    }

    async fn serve(fake: Arc<FakePeers>) -> std::io::Result<SocketAddr> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(PeerServiceServer::from_arc(fake))
                .serve_with_incoming(TcpListenerStream::new(listener)),
        );
        Ok(address)
    }

    fn connect(address: SocketAddr, token: Option<&str>) -> Option<Connection> {
        Connection::open(&ConnectionArgs {
            server: format!("http://{address}"),
            token: token.map(String::from),
            timeout: 10,
            ca_file: None,
        })
        .ok()
    }

    #[tokio::test]
    async fn list_follows_every_page() -> anyhow::Result<()> {
        let fake = Arc::new(FakePeers {
            pages: vec![
                vec![peer("a"), peer("b")],
                vec![peer("c")],
                vec![peer("d"), peer("e")],
            ],
            ..Default::default()
        });
        let address = serve(fake.clone()).await?;
        let connection = connect(address, None).ok_or_else(|| anyhow::anyhow!("connect"))?;

        let ids: Vec<String> = list_all(&connection)
            .await?
            .into_iter()
            .map(|p| p.id)
            .collect();

        assert_eq!(ids, ["a", "b", "c", "d", "e"]);
        let seen = fake.seen.lock().map(|s| s.clone()).unwrap_or_default();
        let tokens: Vec<&str> = seen.iter().map(|r| r.page_token.as_str()).collect();
        assert_eq!(tokens, ["", "p1", "p2"]);
        assert!(seen.iter().all(|r| r.page_size == PAGE_SIZE));
        Ok(())
    }

    #[tokio::test]
    async fn a_wrong_token_is_unauthenticated_and_exits_7() -> anyhow::Result<()> {
        let fake = Arc::new(FakePeers {
            pages: vec![vec![peer("a")]],
            token: Some("right".into()),
            ..Default::default()
        });
        let address = serve(fake).await?;

        let right = connect(address, Some("right")).ok_or_else(|| anyhow::anyhow!("connect"))?;
        assert_eq!(list_all(&right).await?.len(), 1);

        for token in [Some("wrong"), None] {
            let connection = connect(address, token).ok_or_else(|| anyhow::anyhow!("connect"))?;
            let Err(error) = list_all(&connection).await else {
                panic!("{token:?} was accepted");
            };
            let code = exit_code::grpc_status(&error).map(Status::code);
            assert_eq!(code, Some(tonic::Code::Unauthenticated), "{token:?}");
            assert_eq!(exit_code::for_error(&error), 7, "{token:?}");
        }
        Ok(())
    }

    #[tokio::test]
    async fn an_unreachable_server_is_unavailable_and_exits_8() -> anyhow::Result<()> {
        // Bind then drop, so the port is (almost certainly) closed.
        let address = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await?
            .local_addr()?;
        let connection = connect(address, None).ok_or_else(|| anyhow::anyhow!("connect"))?;
        let Err(error) = list_all(&connection).await else {
            panic!("listed peers from a closed port");
        };
        assert_eq!(exit_code::for_error(&error), 8, "{error:#}");
        assert!(
            output::error_text(output::Format::Table, &error).contains(&address.to_string()),
            "{error:#}"
        );
        Ok(())
    }
}
