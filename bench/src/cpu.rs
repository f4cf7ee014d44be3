//! CPU time spent by processes during a run, from `/proc/<pid>/stat` (Linux). Throughput on two
//! shared CPUs depends on what the load generator costs too; CPU time per packet of the
//! forwarding processes is the figure that says how much work a hop does, independent of it.

use std::time::Duration;

/// CPU time of process `pid` so far, or `None` where `/proc` cannot tell. The sum of its live
/// threads' scheduler time (nanoseconds) where available: a short run of a few hundred packets
/// uses less CPU than one clock tick, the resolution of `/proc/<pid>/stat`, which is the
/// fallback. Threads that exit during a run take their time with them; the forwarders' worker
/// threads live as long as the process.
pub fn process_time(pid: u32) -> Option<Duration> {
    threads_time(pid).or_else(|| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        parse_stat(&stat, clock_ticks_per_second())
    })
}

fn threads_time(pid: u32) -> Option<Duration> {
    let mut total = Duration::ZERO;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let path = task.ok()?.path().join("schedstat");
        // A thread that exited since the listing just has no time to add.
        if let Ok(schedstat) = std::fs::read_to_string(path) {
            total += parse_schedstat(&schedstat)?;
        }
    }
    Some(total)
}

/// The first field of `schedstat`: nanoseconds spent on a CPU.
fn parse_schedstat(schedstat: &str) -> Option<Duration> {
    let nanos: u64 = schedstat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// As [`process_time`], for this process.
pub fn own_time() -> Option<Duration> {
    process_time(std::process::id())
}

fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(ticks).ok().filter(|t| *t > 0).unwrap_or(100)
}

/// utime and stime are fields 14 and 15; the command name (field 2) may hold spaces and
/// parentheses, so fields are counted from the last `)`.
fn parse_stat(stat: &str, ticks_per_second: u64) -> Option<Duration> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // After the name: state is field 3, so utime (14) is the 12th from here.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    let ticks = utime.checked_add(stime)?;
    Some(Duration::from_micros(
        ticks.checked_mul(1_000_000)? / ticks_per_second,
    ))
}

/// CPU time of a set of processes across a run.
pub struct Meter {
    pids: Vec<u32>,
    start: Option<Duration>,
    own_start: Option<Duration>,
}

/// What a [`Meter`] measured.
#[derive(Clone, Copy, Debug)]
pub struct Usage {
    /// The forwarding processes (relay or nodes) together.
    pub forwarders: Option<Duration>,
    /// The bench process: sender and receiver.
    pub load_generator: Option<Duration>,
}

impl Meter {
    pub fn start(pids: Vec<u32>) -> Meter {
        let start = total(&pids);
        Meter {
            pids,
            start,
            own_start: own_time(),
        }
    }

    pub fn stop(&self) -> Usage {
        Usage {
            forwarders: total(&self.pids)
                .zip(self.start)
                .map(|(end, start)| end.saturating_sub(start)),
            load_generator: own_time()
                .zip(self.own_start)
                .map(|(end, start)| end.saturating_sub(start)),
        }
    }
}

fn total(pids: &[u32]) -> Option<Duration> {
    pids.iter().map(|pid| process_time(*pid)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_utime_and_stime_past_a_name_with_spaces_and_parentheses() {
        let stat =
            "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 100 0 0";
        assert_eq!(parse_stat(stat, 100), Some(Duration::from_secs(3)));
    }

    #[test]
    fn reads_nanoseconds_on_cpu_from_schedstat() {
        assert_eq!(
            parse_schedstat("1500000000 20000 30\n"),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(parse_schedstat(""), None);
        assert_eq!(parse_schedstat("x 1 2"), None);
    }

    #[test]
    fn refuses_a_truncated_line() {
        assert_eq!(parse_stat("4242 (x) S 1 2 3", 100), None);
        assert_eq!(parse_stat("no parenthesis", 100), None);
    }

    #[test]
    fn this_process_has_used_some_cpu() {
        let mut spin = 0u64;
        for i in 0..20_000_000u64 {
            spin = spin.wrapping_add(i ^ (spin >> 3));
        }
        std::hint::black_box(spin);
        assert!(own_time().is_some_and(|t| t > Duration::ZERO));
    }
}
