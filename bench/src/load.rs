//! Sends Prepares through a scenario at a given concurrency (and optionally a paced rate) and
//! records each packet's latency and outcome.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use proto::Address;
use testpeer::{Outcome, Payment, TestPeer};
use tokio::time::Instant;

#[derive(Clone, Debug)]
pub struct LoadSpec {
    pub count: u64,
    pub concurrency: usize,
    /// Packets per second over all tasks; `None` sends as fast as answers come back.
    pub rate: Option<f64>,
    pub time_limit: Duration,
    /// A label making the data (and so the fulfillments) unique across runs.
    pub label: String,
}

/// One answered (or failed) packet.
#[derive(Clone, Debug)]
pub struct Sample {
    pub latency: Duration,
    /// `fulfilled`, an ILP error code such as `F02`, or `error` (no answer: link failure).
    pub result: String,
}

pub struct LoadResult {
    pub samples: Vec<Sample>,
    /// From the first send to the last answer.
    pub elapsed: Duration,
    pub hit_time_limit: bool,
}

pub const EXPIRY: Duration = Duration::from_secs(30);

pub async fn run(sender: Arc<TestPeer>, destination: Address, spec: &LoadSpec) -> LoadResult {
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let stop_at = start + spec.time_limit;
    let mut tasks = Vec::with_capacity(spec.concurrency);
    for _ in 0..spec.concurrency.max(1) {
        let (sender, destination, next, spec) = (
            sender.clone(),
            destination.clone(),
            next.clone(),
            spec.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            let mut hit_limit = false;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= spec.count {
                    break;
                }
                if let Some(rate) = spec.rate {
                    tokio::time::sleep_until(start + Duration::from_secs_f64(i as f64 / rate))
                        .await;
                }
                if Instant::now() >= stop_at {
                    hit_limit = true;
                    break;
                }
                let payment = Payment {
                    destination: destination.clone(),
                    amount: 1,
                    data: format!("bench:{}:{i}", spec.label).into_bytes(),
                    expires_in: EXPIRY,
                };
                let sent = Instant::now();
                let outcome = sender.send(&payment).await;
                let latency = sent.elapsed();
                let result = match outcome {
                    Ok(Outcome::Fulfilled { .. }) => "fulfilled".to_string(),
                    Ok(Outcome::Rejected { code, .. }) => code.as_str().to_string(),
                    Err(_) => "error".to_string(),
                };
                samples.push(Sample { latency, result });
            }
            (samples, hit_limit)
        }));
    }
    let mut samples = Vec::with_capacity(usize::try_from(spec.count).unwrap_or(0));
    let mut hit_time_limit = false;
    for task in tasks {
        // A panicking task loses only its own samples; the count shows it.
        if let Ok((mut part, hit)) = task.await {
            samples.append(&mut part);
            hit_time_limit |= hit;
        }
    }
    LoadResult {
        samples,
        elapsed: start.elapsed(),
        hit_time_limit,
    }
}
