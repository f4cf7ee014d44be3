//! The test payment of `ctl localnet`: a sender in front of the first node pays a receiver
//! behind the last, across the whole line.

use std::time::{Duration, Instant};

use anyhow::Context;
use proto::Address;
use testpeer::{Options, Outcome, Payment, TestPeer};

use super::nodes::Line;

/// The connected test peers and how the payment went.
pub(super) struct Sent {
    /// The receiver and the sender, kept connected until the network stops.
    pub(super) peers: (TestPeer, TestPeer),
    pub(super) payment: Payment,
    /// What came back last, and the time from the first send to it (retries included).
    pub(super) result: (Outcome, Duration),
}

/// Connects the receiver and the sender and sends 1000 units from one to the other.
pub(super) async fn send(line: &Line) -> anyhow::Result<Sent> {
    let first = line.nodes.first().context("no nodes")?;
    let last = line.nodes.last().context("no nodes")?;
    let secret = |name: &str| {
        line.secrets
            .get(name)
            .with_context(|| format!("no {name} was generated"))
    };
    let receiver_address = format!("test.{}.receiver", last.name);
    let receiver = TestPeer::connect(
        &format!("ws://127.0.0.1:{}", last.btp_port),
        secret("SECRET_RECEIVER")?,
        Options::new(Address::new(&receiver_address)?),
    )
    .await
    .context("connecting the receiver")?;
    let sender = TestPeer::connect(
        &format!("ws://127.0.0.1:{}", first.btp_port),
        secret("SECRET_SENDER")?,
        Options::new(Address::new("test.n1.sender")?),
    )
    .await
    .context("connecting the sender")?;
    let payment = Payment {
        destination: Address::new(&format!("{receiver_address}.hello"))?,
        amount: 1000,
        data: b"localnet test payment".to_vec(),
        expires_in: Duration::from_secs(30),
    };
    // The receiver's link is installed on the last node asynchronously; allow a moment.
    let started = Instant::now();
    let mut outcome = sender.send(&payment).await?;
    while !outcome.is_fulfilled() && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        outcome = sender.send(&payment).await?;
    }
    Ok(Sent {
        peers: (receiver, sender),
        payment,
        result: (outcome, started.elapsed()),
    })
}
