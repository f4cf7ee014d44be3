//! Change events for `Watch`: peers, routes, links, config applied or refused; and, to a
//! watcher that fell behind the broadcast's 1 024 buffered events, how many it missed.

use proto::grpc::v1 as pb;
use tokio::sync::broadcast;

#[derive(Clone)]
pub struct Events {
    tx: broadcast::Sender<pb::WatchEvent>,
}

impl Default for Events {
    fn default() -> Self {
        Events::new()
    }
}

impl Events {
    pub fn new() -> Events {
        // A watcher that falls this far behind skips ahead rather than slowing anyone down.
        Events {
            tx: broadcast::channel(1024).0,
        }
    }

    pub fn publish(&self, action: &str, event: pb::watch_event::Event) {
        // No watcher is not an error.
        let _ = self.tx.send(stamped(action, event));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<pb::WatchEvent> {
        self.tx.subscribe()
    }
}

/// What a watcher that fell behind receives in place of the `count` events it lost.
pub fn missed(count: u64) -> pb::WatchEvent {
    stamped(
        "missed",
        pb::watch_event::Event::Missed(pb::EventsMissed { count }),
    )
}

fn stamped(action: &str, event: pb::watch_event::Event) -> pb::WatchEvent {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    pb::WatchEvent {
        time: Some(prost_types::Timestamp {
            seconds: i64::try_from(now.as_secs()).unwrap_or(i64::MAX),
            nanos: i32::try_from(now.subsec_nanos()).unwrap_or(0),
        }),
        action: action.to_string(),
        event: Some(event),
    }
}
