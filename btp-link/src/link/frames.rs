//! BTP frames on a link: building the ones we send, and what each one we receive means.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::FuturesUnordered;
use proto::Timestamp;
use proto::btp::{
    BtpError, BtpPacket, ContentType, EntriesKind, IlpCarrier, PROTOCOL_ILP, PROTOCOL_TRACEPARENT,
    ProtocolData, error_code,
};
use proto::ilp::{TYPE_FULFILL, TYPE_PREPARE, TYPE_REJECT};

use super::shared::Shared;
use crate::{IncomingHandler, LinkError, LinkSettings, Violation};

/// Prepares being served on one link: each yields its request id and the encoded answer.
pub(super) type Serving = FuturesUnordered<Pin<Box<dyn Future<Output = (u32, Bytes)> + Send>>>;

pub(super) fn ilp_frame(
    kind: EntriesKind,
    request_id: u32,
    ilp: Bytes,
    traceparent: Option<&str>,
) -> Bytes {
    let ilp = ProtocolData {
        name: Cow::Borrowed(PROTOCOL_ILP),
        content_type: ContentType::OCTET_STREAM,
        data: ilp,
    };
    let encoded = match traceparent {
        None => BtpPacket::encode_entries(kind, request_id, &[ilp]),
        Some(traceparent) => {
            let traceparent = ProtocolData {
                name: Cow::Borrowed(PROTOCOL_TRACEPARENT),
                content_type: ContentType::TEXT_PLAIN_UTF8,
                data: Bytes::copy_from_slice(traceparent.as_bytes()),
            };
            BtpPacket::encode_entries(kind, request_id, &[ilp, traceparent])
        }
    };
    Bytes::from(encoded)
}

pub(crate) fn error_frame(request_id: u32, code: [u8; 3], name: &str, message: &str) -> Bytes {
    let packet = BtpPacket::Error {
        request_id,
        error: BtpError {
            code,
            name: name.to_string(),
            triggered_at: Timestamp::now(),
            data: Bytes::copy_from_slice(message.as_bytes()),
            protocol_data: Vec::new(),
        },
    };
    Bytes::from(packet.encode())
}

/// Handles one binary frame; returns the violation it represents, if any.
pub(super) async fn on_frame<H: IncomingHandler>(
    frame: Bytes,
    shared: &Arc<Shared>,
    settings: &LinkSettings,
    handler: &Arc<H>,
    serving: &mut Serving,
) -> Option<Violation> {
    // Messages and Responses (every ILP packet) are read without building a `BtpPacket`;
    // Errors and Transfers, rare, get the full decoder.
    let decoded = match IlpCarrier::decode(&frame) {
        Ok(Some(carrier)) => {
            return on_carrier(carrier, shared, settings, handler, serving).await;
        }
        Ok(None) => BtpPacket::decode(frame.clone()),
        Err(error) => Err(error),
    };
    let packet = match decoded {
        Ok(packet) => packet,
        Err(error) => {
            // Answer only what looks like a request: answering a broken response could start
            // an error ping-pong between two confused peers.
            if let (Some(&kind), Some(id)) = (frame.first(), frame.get(1..5))
                && (kind == proto::btp::TYPE_MESSAGE || kind == proto::btp::TYPE_TRANSFER)
            {
                let request_id = u32::from_be_bytes([id[0], id[1], id[2], id[3]]);
                send_error(
                    shared,
                    request_id,
                    error_code::F01_INVALID_FIELDS,
                    "InvalidFieldsError",
                    &format!("undecodable BTP packet: {error}"),
                )
                .await;
            }
            return Some(Violation::Undecodable);
        }
    };
    let request_id = packet.request_id();
    match &packet {
        // Never reached: `IlpCarrier::decode` took every Message and Response above.
        BtpPacket::Message { .. } | BtpPacket::Response { .. } => None,
        BtpPacket::Error { error, .. } => {
            let message = String::from_utf8_lossy(&error.data).into_owned();
            shared.complete(
                request_id,
                Err(LinkError::Remote {
                    code: String::from_utf8_lossy(&error.code).into_owned(),
                    name: error.name.clone(),
                    message,
                }),
            );
            None
        }
        BtpPacket::Transfer { .. } => {
            send_error(
                shared,
                request_id,
                error_code::F00_NOT_ACCEPTED,
                "NotAcceptedError",
                "BTP transfers are not supported on this link",
            )
            .await;
            Some(Violation::Unsupported)
        }
    }
}

/// A Message or Response: an ILP request for us, or the answer to one of ours.
async fn on_carrier<H: IncomingHandler>(
    carrier: IlpCarrier,
    shared: &Arc<Shared>,
    settings: &LinkSettings,
    handler: &Arc<H>,
    serving: &mut Serving,
) -> Option<Violation> {
    let IlpCarrier {
        is_message,
        request_id,
        ilp,
        traceparent,
    } = carrier;
    let Some(ilp) = ilp else {
        if is_message {
            send_error(
                shared,
                request_id,
                error_code::F00_NOT_ACCEPTED,
                "NotAcceptedError",
                "unsupported sub-protocol: only ilp is served on this link",
            )
            .await;
            return Some(Violation::Unsupported);
        }
        shared.complete(request_id, Err(LinkError::NoIlpPacket));
        return None;
    };
    // Decide by the ILP type byte, not the BTP wrapper: interledger-rs sends Prepares in
    // Responses and answers in Messages.
    match ilp.first().copied() {
        Some(TYPE_PREPARE) => {
            on_prepare(
                request_id,
                (ilp, traceparent),
                shared,
                settings,
                handler,
                serving,
            )
            .await
        }
        Some(TYPE_FULFILL) | Some(TYPE_REJECT) => {
            // A late answer (we already timed out) finds no entry: normal, nothing to do.
            shared.complete(request_id, Ok(ilp));
            None
        }
        _ => {
            if is_message {
                send_error(
                    shared,
                    request_id,
                    error_code::F01_INVALID_FIELDS,
                    "InvalidFieldsError",
                    "ilp entry holds no ILPv4 packet",
                )
                .await;
            }
            Some(Violation::Unsupported)
        }
    }
}

async fn on_prepare<H: IncomingHandler>(
    request_id: u32,
    (prepare, traceparent): (Bytes, Option<Bytes>),
    shared: &Arc<Shared>,
    settings: &LinkSettings,
    handler: &Arc<H>,
    serving: &mut Serving,
) -> Option<Violation> {
    if serving.len() >= settings.max_incoming_in_flight {
        let reply = ilp_frame(
            EntriesKind::Response,
            request_id,
            handler.busy_reject(),
            None,
        );
        send(shared, reply).await;
        return Some(Violation::Overloaded);
    }
    let handler = handler.clone();
    serving.push(Box::pin(async move {
        let answer = handler.handle_traced_prepare(prepare, traceparent).await;
        (request_id, answer)
    }));
    None
}

pub(super) async fn send(shared: &Shared, frame: Bytes) {
    // If the writer is gone the link is closing; the peer will not get this answer either way.
    let _ = shared.queue(frame, None).await;
}

/// Answers request `request_id` with a BTP Error.
async fn send_error(shared: &Shared, request_id: u32, code: [u8; 3], name: &str, message: &str) {
    send(shared, error_frame(request_id, code, name, message)).await;
}
