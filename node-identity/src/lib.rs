//! A node's identity and address, in one place for every crate that needs them.
//!
//! - [`NodeKey`] / [`PublicKey`]: the Ed25519 key pair a node owns. One verifier for every
//!   use, and it is strict: small-order public keys are refused when parsed and signatures are
//!   checked with `verify_strict`, for discovery announcements and BTP link tokens alike (two
//!   parsers of different strictness once disagreed about the same key).
//! - [`key_file`]: the key on disk (64 hex characters, created mode 0600); [`KeyBackend`]:
//!   where keys come from (`KEY_BACKEND`; only `env` in this build).
//! - [`link_token`]: the `nodekey:` BTP `auth_token` auto-peered nodes present instead of a
//!   shared secret.
//! - [`peer_url`]: which peer URLs a node may dial.
//!
//! No I/O beyond the key file, no transport: the model, the control plane and the discovery
//! protocol use this crate without depending on the BTP link crate.

mod key;
mod key_backend;
pub mod key_file;
pub mod link_token;
pub mod peer_url;

pub use key::{IdentityError, NodeKey, PublicKey, decode_signature, verify};
pub use key_backend::KeyBackend;
