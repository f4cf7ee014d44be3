//! Wire formats of the connector.
//!
//! * [`ilp`]: ILPv4 Prepare / Fulfill / Reject (RFC 27) in canonical OER (RFC 30);
//! * [`btp`]: BTP/2.0 frames (RFC 23), the WebSocket transport between peers;
//! * [`address`]: ILP addresses and route prefixes (RFC 15);
//! * [`timestamp`]: millisecond UTC instants and their two wire forms;
//! * [`oer`]: the OER primitives the above are built from.
//!
//! Conventions shared by every decoder:
//!
//! * input is a `bytes::Bytes`, and variable-length payloads (`data` fields, BTP protocol
//!   data) are zero-copy slices of it;
//! * only canonical encodings are accepted, so decoding then encoding gives back the input
//!   bytes (ILP packets ignore bytes after the envelope, per RFC 30; BTP rejects them);
//! * no input makes a decoder panic or allocate more than the input's size: every length
//!   read from the wire is checked against the bytes actually present first.
//!
//! ```
//! use bytes::Bytes;
//! use proto::ilp::{PrepareBuilder, condition_for};
//! use proto::{Address, Packet, Timestamp};
//!
//! let fulfillment = [7u8; 32];
//! let prepare = PrepareBuilder {
//!     amount: 10,
//!     expires_at: Timestamp::parse_ilp(b"20300101000000000").expect("valid"),
//!     execution_condition: &condition_for(&fulfillment),
//!     destination: &Address::new("g.alice").expect("valid"),
//!     data: b"hi",
//! }
//! .build()
//! .expect("data within 32767 bytes");
//! let wire: Bytes = prepare.encode();
//! match Packet::decode(wire) {
//!     Ok(Packet::Prepare(p)) => {
//!         assert_eq!(p.destination().as_str(), "g.alice");
//!         assert_eq!(&p.data()[..], b"hi");
//!     }
//!     other => panic!("unexpected {other:?}"),
//! }
//! ```

pub mod address;
pub mod btp;
mod civil;
#[cfg(feature = "discovery")]
pub mod discovery;
pub mod error;
mod hex_debug;
pub mod ildcp;
pub mod ilp;
pub mod oer;
pub mod timestamp;

pub use address::{Address, AddressError};
pub use btp::BtpPacket;
pub use error::{DecodeError, EncodeError};
pub use ilp::{ErrorCode, Fulfill, Packet, Prepare, Reject};
pub use timestamp::Timestamp;

/// The control plane's gRPC API (`proto/ilpconnector/v1/*.proto`), with the `grpc` feature.
#[cfg(feature = "grpc")]
pub mod grpc {
    #[allow(clippy::all, clippy::pedantic, missing_docs)]
    pub mod v1 {
        tonic::include_proto!("ilpconnector.v1");
    }

    /// Every file the API uses, for gRPC server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/ilpconnector_descriptor.bin"));
}
