//! The listening side of the BTP auth handshake (RFC 23 §Authentication).

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use proto::btp::{
    BtpPacket, ContentType, PROTOCOL_AUTH, PROTOCOL_AUTH_TOKEN, PROTOCOL_AUTH_USERNAME,
    ProtocolData, error_code,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{WebSocketStream, accept_async_with_config};

use crate::link::error_frame;
use crate::{Authenticated, LinkError, LinkSettings};

/// The credentials a connecting peer presented. The token is secret: never log it.
pub struct AuthRequest {
    pub token: Bytes,
    /// Present only if the peer sent a non-empty `auth_username` (ilp-plugin-btp does).
    pub username: Option<String>,
}

impl std::fmt::Debug for AuthRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthRequest")
            .field("token", &"<redacted>")
            .field("username", &self.username)
            .finish()
    }
}

/// Why an authentication attempt was refused; the text goes back to the peer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    #[error("invalid auth_token")]
    InvalidToken,
    #[error("auth_username does not match the peer of this token")]
    UsernameMismatch,
    #[error("{0}")]
    Refused(String),
}

/// Accepts a WebSocket on `stream` and runs the server side of the handshake: the first BTP
/// packet must be a Message whose primary entry is `auth` with an `auth_token` entry.
/// `authenticate` maps the credentials to a peer. Anything else gets a BTP Error and the socket
/// is closed; nothing from the peer is processed before this succeeds.
pub async fn accept<S, P, F>(
    stream: S,
    settings: &LinkSettings,
    authenticate: F,
) -> Result<(P, Authenticated<S>), LinkError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    F: FnOnce(&AuthRequest) -> Result<P, AuthFailure>,
{
    let limit = settings.auth_timeout;
    let handshake = async {
        let mut ws = accept_async_with_config(stream, Some(settings.websocket_config()))
            .await
            .map_err(|e| LinkError::WebSocket(e.to_string()))?;
        let frame = first_binary_frame(&mut ws).await?;
        let (request_id, request) = match parse_auth(frame) {
            Ok(parsed) => parsed,
            Err((request_id, reason)) => {
                refuse(
                    &mut ws,
                    request_id,
                    error_code::F01_INVALID_FIELDS,
                    "InvalidFieldsError",
                    &reason,
                )
                .await;
                return Err(LinkError::AuthFailed(reason));
            }
        };
        match authenticate(&request) {
            Ok(peer) => {
                let ok = BtpPacket::Response {
                    request_id,
                    protocol_data: Vec::new(),
                };
                ws.send(Message::Binary(Bytes::from(ok.encode())))
                    .await
                    .map_err(|e| LinkError::WebSocket(e.to_string()))?;
                Ok((peer, ws))
            }
            Err(failure) => {
                let reason = failure.to_string();
                refuse(
                    &mut ws,
                    Some(request_id),
                    error_code::F00_NOT_ACCEPTED,
                    "NotAcceptedError",
                    &reason,
                )
                .await;
                Err(LinkError::AuthFailed(reason))
            }
        }
    };
    let (peer, ws) = timeout(limit, handshake)
        .await
        .map_err(|_| LinkError::AuthTimeout(limit))??;
    Ok((
        peer,
        Authenticated {
            ws,
            settings: settings.clone(),
        },
    ))
}

async fn first_binary_frame<S>(ws: &mut WebSocketStream<S>) -> Result<Bytes, LinkError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // ilp-plugin-btp pings before it authenticates, so control frames are skipped.
    loop {
        match ws.next().await {
            None => return Err(LinkError::AuthFailed("closed before authenticating".into())),
            Some(Err(e)) => return Err(LinkError::WebSocket(e.to_string())),
            Some(Ok(Message::Binary(frame))) => return Ok(frame),
            Some(Ok(Message::Text(_))) => {
                let reason = "text frame before authentication; BTP is binary".to_string();
                refuse(
                    ws,
                    None,
                    error_code::F01_INVALID_FIELDS,
                    "InvalidFieldsError",
                    &reason,
                )
                .await;
                return Err(LinkError::AuthFailed(reason));
            }
            Some(Ok(Message::Close(_))) => {
                return Err(LinkError::AuthFailed("closed before authenticating".into()));
            }
            Some(Ok(_)) => continue,
        }
    }
}

/// Parses the auth Message; on failure returns the request id (if readable) and why.
fn parse_auth(frame: Bytes) -> Result<(u32, AuthRequest), (Option<u32>, String)> {
    let packet = BtpPacket::decode(frame.clone()).map_err(|e| {
        let request_id = frame
            .get(1..5)
            .map(|id| u32::from_be_bytes([id[0], id[1], id[2], id[3]]));
        (request_id, format!("undecodable BTP packet: {e}"))
    })?;
    let request_id = packet.request_id();
    let fail = |reason: &str| (Some(request_id), reason.to_string());
    let BtpPacket::Message { protocol_data, .. } = &packet else {
        return Err(fail("the first packet must be a BTP Message carrying auth"));
    };
    match protocol_data.first() {
        Some(entry) if entry.name == PROTOCOL_AUTH => {}
        _ => return Err(fail("the first protocol data entry must be auth")),
    }
    if has_duplicate_names(protocol_data) {
        return Err(fail("duplicate protocol data names in auth message"));
    }
    let token = protocol_data
        .iter()
        .find(|entry| entry.name == PROTOCOL_AUTH_TOKEN)
        .map(|entry| entry.data.clone())
        .ok_or_else(|| fail("auth message has no auth_token entry"))?;
    let username = match protocol_data
        .iter()
        .find(|entry| entry.name == PROTOCOL_AUTH_USERNAME)
    {
        None => None,
        Some(entry) if entry.data.is_empty() => None,
        Some(entry) => Some(
            std::str::from_utf8(&entry.data)
                .map_err(|_| fail("auth_username is not UTF-8"))?
                .to_string(),
        ),
    };
    Ok((request_id, AuthRequest { token, username }))
}

fn has_duplicate_names(entries: &[ProtocolData]) -> bool {
    entries
        .iter()
        .enumerate()
        .any(|(i, a)| entries[..i].iter().any(|b| b.name == a.name))
}

async fn refuse<S>(
    ws: &mut WebSocketStream<S>,
    request_id: Option<u32>,
    code: [u8; 3],
    name: &str,
    reason: &str,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let frame = error_frame(request_id.unwrap_or(0), code, name, reason);
    // Best effort: the connection is being dropped either way.
    let _ = ws.send(Message::Binary(frame)).await;
    let _ = ws.close(None).await;
}

/// The auth Message a dialling peer sends (RFC 23 form, optionally with `auth_username`).
pub(crate) fn auth_message(request_id: u32, token: &[u8], username: Option<&str>) -> BtpPacket {
    let mut protocol_data = vec![ProtocolData {
        name: PROTOCOL_AUTH.into(),
        content_type: ContentType::OCTET_STREAM,
        data: Bytes::new(),
    }];
    if let Some(username) = username {
        protocol_data.push(ProtocolData {
            name: PROTOCOL_AUTH_USERNAME.into(),
            content_type: ContentType::TEXT_PLAIN_UTF8,
            data: Bytes::copy_from_slice(username.as_bytes()),
        });
    }
    protocol_data.push(ProtocolData {
        name: PROTOCOL_AUTH_TOKEN.into(),
        content_type: ContentType::TEXT_PLAIN_UTF8,
        data: Bytes::copy_from_slice(token),
    });
    BtpPacket::Message {
        request_id,
        protocol_data,
    }
}
