//! The connection to the control plane: endpoint, bearer token, and the deadline of each call.

use std::future::Future;
use std::time::Duration;

use proto::grpc::v1::node_service_client::NodeServiceClient;
use proto::grpc::v1::peer_service_client::PeerServiceClient;
use proto::grpc::v1::route_service_client::RouteServiceClient;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status};

use crate::exit_code::UsageError;

/// Where the control plane is and how to authenticate; global, so they may follow any
/// subcommand.
#[derive(clap::Args, Clone)]
#[command(next_help_heading = "Control plane connection")]
pub struct ConnectionArgs {
    /// The control plane's gRPC endpoint (http://, or https:// with --ca-file).
    #[arg(
        long,
        global = true,
        env = "CTL_SERVER",
        value_name = "URL",
        default_value = "http://127.0.0.1:50051"
    )]
    pub server: String,
    /// Bearer token sent as `authorization: Bearer <TOKEN>` on every call. Prefer CTL_TOKEN:
    /// a value on the command line is visible to other users of this machine.
    #[arg(
        long,
        global = true,
        env = "CTL_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
    /// Deadline of each call, in seconds (for `watch`: to open the stream, which then runs
    /// until stopped).
    #[arg(
        long,
        global = true,
        value_name = "SECONDS",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..=86_400)
    )]
    pub timeout: u64,
    /// PEM CA certificate to trust for an https:// server.
    #[arg(long, global = true, env = "CTL_CA_FILE", value_name = "PATH")]
    pub ca_file: Option<std::path::PathBuf>,
}

/// Adds the bearer token to every request; built once so a bad token fails before any call.
#[derive(Clone)]
pub struct BearerToken(Option<MetadataValue<Ascii>>);

impl Interceptor for BearerToken {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

pub type Transport = InterceptedService<Channel, BearerToken>;

/// A lazily connected channel: nothing touches the network until the first call, so a server
/// that cannot be reached surfaces as that call's UNAVAILABLE (exit 8), not as a separate
/// failure mode.
#[derive(Clone)]
pub struct Connection {
    channel: Transport,
    server: String,
    timeout: Duration,
}

impl Connection {
    pub fn open(args: &ConnectionArgs) -> Result<Self, UsageError> {
        let timeout = Duration::from_secs(args.timeout);
        let https = args.server.starts_with("https://");
        if !https && !args.server.starts_with("http://") {
            return Err(UsageError(format!(
                "--server {}: must be an http:// or https:// URL",
                args.server
            )));
        }
        let mut endpoint = Endpoint::from_shared(args.server.clone())
            .map_err(|e| UsageError(format!("--server {}: {e}", args.server)))?
            .connect_timeout(timeout);
        if https {
            let path = args.ca_file.as_ref().ok_or_else(|| {
                UsageError(format!(
                    "--server {}: https needs --ca-file (the CA certificate to trust)",
                    args.server
                ))
            })?;
            let pem = std::fs::read(path)
                .map_err(|e| UsageError(format!("--ca-file {}: {e}", path.display())))?;
            let tls = tonic::transport::ClientTlsConfig::new()
                .ca_certificate(tonic::transport::Certificate::from_pem(pem));
            endpoint = endpoint
                .tls_config(tls)
                .map_err(|e| UsageError(format!("--ca-file {}: {e}", path.display())))?;
        }
        let token = match &args.token {
            None => None,
            Some(token) => Some(MetadataValue::try_from(format!("Bearer {token}")).map_err(
                |_| {
                    // The value itself stays out of the message: it is a credential.
                    UsageError("--token may only contain visible ASCII characters".into())
                },
            )?),
        };
        Ok(Self {
            channel: InterceptedService::new(endpoint.connect_lazy(), BearerToken(token)),
            server: args.server.clone(),
            timeout,
        })
    }

    pub fn peers(&self) -> PeerServiceClient<Transport> {
        PeerServiceClient::new(self.channel.clone())
    }

    pub fn routes(&self) -> RouteServiceClient<Transport> {
        RouteServiceClient::new(self.channel.clone())
    }

    pub fn node(&self) -> NodeServiceClient<Transport> {
        NodeServiceClient::new(self.channel.clone())
    }

    /// A request carrying the deadline, so the server can give up when we do.
    pub fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request.set_timeout(self.timeout);
        request
    }

    /// Awaits a call's response under the deadline (for a server stream: until it opens).
    /// tonic would report its own client-side timeout as CANCELLED; this reports
    /// DEADLINE_EXCEEDED, which is what happened.
    pub async fn call<T>(
        &self,
        call: impl Future<Output = Result<Response<T>, Status>>,
    ) -> Result<T, Status> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(result) => result
                .map(Response::into_inner)
                .map_err(|s| self.explain(s)),
            Err(_) => Err(Status::deadline_exceeded(format!(
                "no answer from {} within {} s",
                self.server,
                self.timeout.as_secs()
            ))),
        }
    }

    /// A status made by the transport (no connection) says so, with the server it tried; a
    /// status the server sent is passed on as it is.
    pub fn explain(&self, status: Status) -> Status {
        if status.code() == tonic::Code::Unavailable && std::error::Error::source(&status).is_some()
        {
            Status::unavailable(format!(
                "cannot reach {}: {}",
                self.server,
                error_chain(&status)
            ))
        } else {
            status
        }
    }
}

fn error_chain(status: &Status) -> String {
    let mut text = status.message().to_string();
    let mut source = std::error::Error::source(status);
    while let Some(error) = source {
        let part = error.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = error.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(server: &str, token: Option<&str>) -> ConnectionArgs {
        ConnectionArgs {
            server: server.into(),
            token: token.map(Into::into),
            timeout: 10,
            ca_file: None,
        }
    }

    #[tokio::test]
    async fn accepts_http_urls_and_refuses_others_as_usage_errors() {
        assert!(Connection::open(&args("http://127.0.0.1:50051", None)).is_ok());
        for bad in ["https://cp:443", "127.0.0.1:50051", "http://exa mple"] {
            assert!(Connection::open(&args(bad, None)).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_token_that_cannot_be_a_header_is_refused_without_echoing_it() {
        let Err(error) = Connection::open(&args("http://127.0.0.1:1", Some("s3cr\net"))) else {
            panic!("accepted a token with a newline");
        };
        assert!(!error.to_string().contains("s3cr"), "{error}");
    }

    #[test]
    fn the_interceptor_sends_the_bearer_token() {
        let value = MetadataValue::try_from("Bearer t0k").ok();
        let mut interceptor = BearerToken(value);
        let request = interceptor.call(Request::new(())).ok();
        let header = request
            .as_ref()
            .and_then(|r| r.metadata().get("authorization"))
            .and_then(|v| v.to_str().ok());
        assert_eq!(header, Some("Bearer t0k"));

        let request = BearerToken(None).call(Request::new(())).ok();
        assert!(
            request
                .as_ref()
                .is_some_and(|r| r.metadata().get("authorization").is_none())
        );
    }
}
