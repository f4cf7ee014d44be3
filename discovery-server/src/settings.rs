//! The discovery server's settings, from the environment. Every error names the variable.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use service_runtime::LogSettings;

pub const DEFAULT_PORT: u16 = 8090;
pub const DEFAULT_TTL_SECONDS: u64 = 120;
pub const MAX_TTL_SECONDS: u64 = 3600;
pub const DEFAULT_RATE_PER_SECOND: f64 = 20.0;
pub const DEFAULT_RATE_BURST: u32 = 40;
pub const DEFAULT_MAX_ENTRIES: u32 = 10_000;
/// Upper bound for the rate, burst and entry settings: beyond it a typo, not a choice.
const MAX_LIMIT: u32 = 1_000_000;

#[derive(Debug, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct SettingsError {
    pub variable: &'static str,
    pub problem: String,
}

fn error(variable: &'static str, problem: impl Into<String>) -> SettingsError {
    SettingsError {
        variable,
        problem: problem.into(),
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub host: String,
    /// 0: an ephemeral port (logged in `discovery_started`).
    pub port: u16,
    pub database_url: String,
    /// How long an announcement counts; an entry is live for 2 × this after it.
    pub ttl: Duration,
    /// Token bucket per client address: refill rate and capacity.
    pub rate_per_second: f64,
    pub rate_burst: u32,
    /// Most node ids stored (live or not); a new one beyond it is refused when no stale row can
    /// make room.
    pub max_entries: u32,
    pub log: LogSettings,
}

impl Settings {
    pub fn from_env_map(env: &BTreeMap<String, String>) -> Result<Settings, SettingsError> {
        let get = |name: &str| env.get(name).filter(|v| !v.is_empty()).cloned();
        let host = get("DISCOVERY_HOST").unwrap_or_else(|| "0.0.0.0".into());
        let port = match get("DISCOVERY_PORT") {
            Some(text) => text.parse::<u16>().map_err(|_| {
                error(
                    "DISCOVERY_PORT",
                    format!("{text:?} is not a port number (0..=65535)"),
                )
            })?,
            None => DEFAULT_PORT,
        };
        let ttl_seconds = match get("DISCOVERY_TTL_SECONDS") {
            Some(text) => parse_in_range("DISCOVERY_TTL_SECONDS", &text, 1, MAX_TTL_SECONDS)?,
            None => DEFAULT_TTL_SECONDS,
        };
        let rate_per_second = match get("DISCOVERY_RATE_PER_SECOND") {
            Some(text) => match text.parse::<f64>() {
                Ok(rate) if rate.is_finite() && rate > 0.0 && rate <= f64::from(MAX_LIMIT) => rate,
                _ => {
                    return Err(error(
                        "DISCOVERY_RATE_PER_SECOND",
                        format!(
                            "{text:?} is not a number of requests per second in (0, {MAX_LIMIT}]"
                        ),
                    ));
                }
            },
            None => DEFAULT_RATE_PER_SECOND,
        };
        let rate_burst = match get("DISCOVERY_RATE_BURST") {
            Some(text) => {
                parse_in_range("DISCOVERY_RATE_BURST", &text, 1, u64::from(MAX_LIMIT))? as u32
            }
            None => DEFAULT_RATE_BURST,
        };
        let max_entries = match get("DISCOVERY_MAX_ENTRIES") {
            Some(text) => {
                parse_in_range("DISCOVERY_MAX_ENTRIES", &text, 1, u64::from(MAX_LIMIT))? as u32
            }
            None => DEFAULT_MAX_ENTRIES,
        };
        let database_url = match get("DATABASE_URL") {
            Some(url) => url,
            None => {
                let data_dir = PathBuf::from(get("DATA_DIR").unwrap_or_else(|| "./data".into()));
                std::fs::create_dir_all(&data_dir).map_err(|e| {
                    error(
                        "DATA_DIR",
                        format!("cannot create {}: {e}", data_dir.display()),
                    )
                })?;
                format!("sqlite://{}", data_dir.join("discovery.db").display())
            }
        };
        let log =
            LogSettings::from_env(get).map_err(|(variable, problem)| error(variable, problem))?;
        Ok(Settings {
            host,
            port,
            database_url,
            ttl: Duration::from_secs(ttl_seconds),
            rate_per_second,
            rate_burst,
            max_entries,
            log,
        })
    }
}

/// An integer in `min..=max`, or an error naming `variable` and the range.
fn parse_in_range(
    variable: &'static str,
    text: &str,
    min: u64,
    max: u64,
) -> Result<u64, SettingsError> {
    match text.parse::<u64>() {
        Ok(value) if (min..=max).contains(&value) => Ok(value),
        _ => Err(error(
            variable,
            format!("{text:?} is not an integer in {min}..={max}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults() {
        let s = Settings::from_env_map(&env(&[("DATABASE_URL", "sqlite::memory:")])).unwrap();
        assert_eq!(s.host, "0.0.0.0");
        assert_eq!(s.port, 8090);
        assert_eq!(s.ttl, Duration::from_secs(120));
        assert_eq!(s.rate_per_second, 20.0);
        assert_eq!(s.rate_burst, 40);
        assert_eq!(s.max_entries, 10_000);
        assert!(s.log.json);
    }

    #[test]
    fn data_dir_gives_the_database_path() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("nested");
        let s = Settings::from_env_map(&env(&[("DATA_DIR", data.to_str().unwrap())])).unwrap();
        assert_eq!(
            s.database_url,
            format!("sqlite://{}", data.join("discovery.db").display())
        );
        assert!(data.is_dir());
    }

    #[test]
    fn bad_values_name_the_variable() {
        let cases = [
            ("DISCOVERY_TTL_SECONDS", "0"),
            ("DISCOVERY_TTL_SECONDS", "3601"),
            ("DISCOVERY_TTL_SECONDS", "two"),
            ("DISCOVERY_PORT", "70000"),
            ("DISCOVERY_RATE_PER_SECOND", "0"),
            ("DISCOVERY_RATE_PER_SECOND", "NaN"),
            ("DISCOVERY_RATE_BURST", "0"),
            ("DISCOVERY_MAX_ENTRIES", "-1"),
            ("LOG_LEVEL", "loud"),
            ("LOG_FORMAT", "xml"),
        ];
        for (variable, value) in cases {
            let err = Settings::from_env_map(&env(&[
                ("DATABASE_URL", "sqlite::memory:"),
                (variable, value),
            ]))
            .unwrap_err();
            assert_eq!(err.variable, variable, "{variable}={value}: {err}");
            assert!(err.to_string().starts_with(variable), "{err}");
        }
    }

    #[test]
    fn ranges_are_inclusive() {
        for ttl in ["1", "3600"] {
            let s = Settings::from_env_map(&env(&[
                ("DATABASE_URL", "sqlite::memory:"),
                ("DISCOVERY_TTL_SECONDS", ttl),
            ]))
            .unwrap();
            assert_eq!(s.ttl.as_secs().to_string(), ttl);
        }
        let s = Settings::from_env_map(&env(&[
            ("DATABASE_URL", "sqlite::memory:"),
            ("DISCOVERY_RATE_PER_SECOND", "0.5"),
        ]))
        .unwrap();
        assert_eq!(s.rate_per_second, 0.5);
    }
}
