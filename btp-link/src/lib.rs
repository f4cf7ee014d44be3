//! A BTP/2.0 (RFC 23) link over WebSocket, shared by the data plane and the test peer.
//!
//! A link is born unauthenticated: the dialling side sends `auth` + `auth_token` as its first
//! message ([`connect`]); the listening side checks it before anything else is read
//! ([`accept`]). Once authenticated, [`Authenticated::start`] turns the socket into a [`Link`]:
//! a cheap, cloneable handle that sends ILP Prepares and awaits their answers by BTP request id,
//! while incoming Prepares go to an [`IncomingHandler`].
//!
//! The link layer looks at ILP packets only as far as their type byte, so it stays a transport:
//! decoding and policy are the caller's.

mod auth;
mod connect;
mod error;
mod handler;
mod link;
mod settings;

pub use auth::{AuthFailure, AuthRequest, accept};
pub use connect::{ClientCredentials, connect};
pub use error::LinkError;
pub use handler::{IncomingHandler, Violation};
pub use link::{Authenticated, Link};
pub use proto::btp::PROTOCOL_TRACEPARENT;
pub use settings::LinkSettings;
