//! `bench`: packets/s and latency through real `dataplane` nodes, against a bare WebSocket relay
//! measured in the same run. Results: one JSON line per scenario on stdout, a summary on stderr.

mod control;
mod cpu;
mod footprint;
mod load;
mod node;
mod relay;
mod report;
mod scenario;

use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};

use load::LoadSpec;
use report::Report;
use scenario::Scenario;

#[derive(Parser)]
#[command(
    name = "bench",
    about = "Packets/s and latency through real nodes, against a bare relay"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// sender → one dataplane node → receiver.
    OneHop(LoadArgs),
    /// sender → A → B → receiver.
    TwoHops(LoadArgs),
    /// Like one-hop, with N extra (never matched) routes in the node's table.
    OneHopRoutes {
        #[arg(long, default_value_t = 10_000)]
        routes: usize,
        #[command(flatten)]
        load: LoadArgs,
    },
    /// sender → bare BTP relay (no ILP logic) → receiver: the baseline.
    Relay(LoadArgs),
    /// relay, one-hop and two-hops back to back, each with its ratio to the relay.
    Compare(LoadArgs),
    /// The relay process the relay scenario starts (not for direct use).
    #[command(hide = true)]
    ServeRelay,
    /// Time from a change in the control plane to the data plane serving it, with N routes
    /// (each size in --routes; the first is the baseline the others are compared to).
    RoutePush {
        #[arg(long, value_delimiter = ',', default_values_t = vec![1, 10_000, 100_000])]
        routes: Vec<usize>,
        /// Single-route changes timed per table size.
        #[arg(long, default_value_t = 10)]
        changes: usize,
    },
    /// Data plane RSS and start-to-ready time with many peers and routes, beside one peer and
    /// one route.
    Footprint {
        #[arg(long, default_value_t = 1000)]
        peers: usize,
        #[arg(long, default_value_t = 100_000)]
        routes: usize,
        /// Starts timed per configuration (the median is reported).
        #[arg(long, default_value_t = 5)]
        starts: usize,
        /// How the large configuration file is written (the baseline is always YAML).
        #[arg(long, value_enum, default_value = "yaml")]
        config_format: footprint::ConfigFormat,
    },
}

#[derive(Args, Clone)]
struct LoadArgs {
    /// Packets to send (excluding the warm-up).
    #[arg(long, default_value_t = 10_000)]
    count: u64,
    /// Tasks sending at once, each waiting for its answer before the next packet.
    #[arg(long, default_value_t = 10)]
    concurrency: usize,
    /// Pace the sends at this many packets per second in total.
    #[arg(long)]
    rate: Option<f64>,
    /// Stop sending after this many seconds.
    #[arg(long, default_value_t = 120)]
    time_limit: u64,
    /// Packets sent (and not counted) before measuring, to warm up connections and caches.
    #[arg(long, default_value_t = 200)]
    warmup: u64,
    /// Runs of each scenario (in `compare`, rounds of relay, one-hop, two-hops back to back);
    /// every figure reported is the median over the runs, ratios taken within each round.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
}

async fn measure(scenario: Scenario, args: &LoadArgs) -> Result<Report> {
    if args.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    if args.repeat == 0 {
        bail!("--repeat must be at least 1");
    }
    if args.rate.is_some_and(|r| r.is_nan() || r <= 0.0) {
        bail!("--rate must be positive");
    }
    let setup = scenario::start(scenario).await?;
    let label = format!("{}-{}", scenario.name(), std::process::id());
    if args.warmup > 0 {
        let warmup = LoadSpec {
            count: args.warmup,
            concurrency: args.concurrency,
            rate: None,
            time_limit: Duration::from_secs(args.time_limit),
            label: format!("{label}-warmup"),
        };
        load::run(setup.sender.clone(), setup.destination.clone(), &warmup).await;
    }
    let spec = LoadSpec {
        count: args.count,
        concurrency: args.concurrency,
        rate: args.rate,
        time_limit: Duration::from_secs(args.time_limit),
        label,
    };
    let meter = cpu::Meter::start(setup.forwarder_pids());
    let run = load::run(setup.sender.clone(), setup.destination.clone(), &spec).await;
    let usage = meter.stop();
    drop(setup);
    let mut report = Report::new(scenario.name(), args.concurrency, args.rate, &run);
    report.cpu = Some(usage);
    Ok(report)
}

/// Runs `scenario` `args.repeat` times and reports the medians.
async fn measure_repeated(scenario: Scenario, args: &LoadArgs) -> Result<Report> {
    let mut runs = Vec::with_capacity(args.repeat);
    for _ in 0..args.repeat {
        runs.push(measure(scenario, args).await?);
    }
    summarise(runs)
}

fn summarise(runs: Vec<Report>) -> Result<Report> {
    if runs.len() == 1 {
        return runs.into_iter().next().context("one run");
    }
    Report::median_of(&runs).context("--repeat must be at least 1")
}

/// Rounds of relay, one-hop and two-hops; each node figure is compared with the relay of its
/// own round, so that drift in the machine's speed over the rounds cancels out.
async fn compare(args: &LoadArgs) -> Result<()> {
    node::find_dataplane()?;
    let scenarios = [(Scenario::OneHop, 1), (Scenario::TwoHops, 2)];
    let mut relays = Vec::with_capacity(args.repeat);
    let mut nodes: Vec<Vec<Report>> = vec![Vec::with_capacity(args.repeat); scenarios.len()];
    for round in 0..args.repeat {
        if args.repeat > 1 {
            eprintln!("round {} of {}", round + 1, args.repeat);
        }
        let relay = measure(Scenario::Relay, args).await?;
        for ((scenario, hops), runs) in scenarios.iter().zip(nodes.iter_mut()) {
            let mut report = measure(*scenario, args).await?;
            report.set_relative_to(&relay, *hops);
            runs.push(report);
        }
        relays.push(relay);
    }
    emit(&summarise(relays)?);
    for runs in nodes {
        emit(&summarise(runs)?);
    }
    Ok(())
}

fn emit(report: &Report) {
    let mut line = report.to_json();
    // Passed through to the nodes, so the line must say which way it was measured.
    if let Ok(track) = std::env::var("TRACK_BALANCES") {
        line["trackBalances"] = serde_json::json!(track);
    }
    line["ledger"] =
        serde_json::json!(std::env::var("LEDGER").unwrap_or_else(|_| "embedded".into()));
    println!("{line}");
    eprintln!("{}", report.summary());
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::OneHop(args) => emit(&measure_repeated(Scenario::OneHop, &args).await?),
        Command::TwoHops(args) => emit(&measure_repeated(Scenario::TwoHops, &args).await?),
        Command::OneHopRoutes { routes, load } => {
            emit(&measure_repeated(Scenario::OneHopRoutes(routes), &load).await?)
        }
        Command::Relay(args) => emit(&measure_repeated(Scenario::Relay, &args).await?),
        Command::Compare(args) => compare(&args).await?,
        Command::ServeRelay => relay::serve_process().await?,
        Command::RoutePush { routes, changes } => {
            if changes == 0 {
                bail!("--changes must be at least 1");
            }
            let mut baseline = None;
            for size in routes {
                let run = control::route_push(size, changes).await?;
                println!("{}", run.to_json(baseline.as_ref()));
                eprintln!("{}", run.summary());
                if baseline.is_none() {
                    baseline = Some(run);
                }
            }
        }
        Command::Footprint {
            peers,
            routes,
            starts,
            config_format,
        } => {
            if peers == 0 {
                bail!("--peers must be at least 1");
            }
            let (big, base) = tokio::task::block_in_place(|| {
                Ok::<_, anyhow::Error>((
                    footprint::measure(config_format, peers, routes, starts)?,
                    footprint::measure(footprint::ConfigFormat::Yaml, 1, 1, starts)?,
                ))
            })?;
            println!("{}", big.to_json(&base));
            eprintln!("{}", big.summary(&base));
        }
    }
    Ok(())
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(cli))
}
