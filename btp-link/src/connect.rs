//! The dialling side of a BTP link: connect, authenticate, hand back the socket.

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use proto::btp::BtpPacket;
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, connect_async_with_config};

use crate::auth::auth_message;
use crate::{Authenticated, LinkError, LinkSettings};

/// What we present to the peer we dial. The token is secret: never log it.
#[derive(Clone)]
pub struct ClientCredentials {
    pub token: String,
    /// Sent as `auth_username` when set (some servers, like ilp-plugin-btp, use it).
    pub username: Option<String>,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("token", &"<redacted>")
            .field("username", &self.username)
            .finish()
    }
}

/// Dials `url`, authenticates, and waits for the peer's Response, all within
/// `settings.auth_timeout`.
pub async fn connect(
    url: &str,
    credentials: &ClientCredentials,
    settings: &LinkSettings,
) -> Result<Authenticated<MaybeTlsStream<TcpStream>>, LinkError> {
    let url = node_identity::peer_url::normalize(url).map_err(|e| LinkError::InvalidUrl {
        url: e.url,
        reason: e.reason,
    })?;
    let limit = settings.auth_timeout;
    let attempt = async {
        // disable_nagle = true: a link alternates small requests and answers in both
        // directions, and Nagle + delayed ACKs would hold some of them back ~40 ms.
        let (mut ws, _) =
            connect_async_with_config(url.as_str(), Some(settings.websocket_config()), true)
                .await
                .map_err(|e| LinkError::Connect(e.to_string()))?;
        let request_id: u32 = rand::random();
        let auth = auth_message(
            request_id,
            credentials.token.as_bytes(),
            credentials.username.as_deref(),
        );
        ws.send(Message::Binary(Bytes::from(auth.encode())))
            .await
            .map_err(|e| LinkError::WebSocket(e.to_string()))?;
        loop {
            let frame = match ws.next().await {
                None | Some(Ok(Message::Close(_))) => {
                    return Err(LinkError::AuthFailed(
                        "peer closed during authentication".into(),
                    ));
                }
                Some(Err(e)) => return Err(LinkError::WebSocket(e.to_string())),
                Some(Ok(Message::Binary(frame))) => frame,
                Some(Ok(_)) => continue,
            };
            match BtpPacket::decode(frame) {
                Ok(BtpPacket::Response { request_id: id, .. }) if id == request_id => {
                    return Ok(ws);
                }
                Ok(BtpPacket::Error {
                    request_id: id,
                    error,
                }) if id == request_id => {
                    return Err(LinkError::AuthRejected {
                        code: String::from_utf8_lossy(&error.code).into_owned(),
                        name: error.name,
                        message: String::from_utf8_lossy(&error.data).into_owned(),
                    });
                }
                Ok(_) => {
                    return Err(LinkError::AuthFailed(
                        "unexpected packet before the auth response".into(),
                    ));
                }
                Err(e) => {
                    return Err(LinkError::AuthFailed(format!(
                        "undecodable auth response: {e}"
                    )));
                }
            }
        }
    };
    let ws = timeout(limit, attempt)
        .await
        .map_err(|_| LinkError::AuthTimeout(limit))??;
    Ok(Authenticated {
        ws,
        settings: settings.clone(),
    })
}
