//! The discovery server's settings, from the environment. Every error names the variable.

use std::collections::BTreeMap;
use std::time::Duration;

use service_runtime::LogSettings;
use service_runtime::env::{Env, EnvError};

pub const DEFAULT_PORT: u16 = 8090;
pub const DEFAULT_TTL_SECONDS: u64 = 120;
pub const MAX_TTL_SECONDS: u64 = 3600;
pub const DEFAULT_RATE_PER_SECOND: f64 = 20.0;
pub const DEFAULT_RATE_BURST: u32 = 40;
pub const DEFAULT_MAX_ENTRIES: u32 = 10_000;
/// Upper bound for the rate, burst and entry settings: beyond it a typo, not a choice.
const MAX_LIMIT: u32 = 1_000_000;

/// A refused setting, naming the variable.
pub type SettingsError = EnvError;

fn error(variable: &str, problem: impl Into<String>) -> SettingsError {
    EnvError::new(variable, problem)
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
    /// `DISCOVERY_ALLOW_UNSIGNED`: accept the seed stories' unsigned announcements (listed with
    /// `verified: false`). On by default: those clients must work unchanged, and an unsigned
    /// entry can never displace a signed one (see `docs/discovery.md`).
    pub allow_unsigned: bool,
    pub log: LogSettings,
}

impl Settings {
    pub fn from_env_map(env: &BTreeMap<String, String>) -> Result<Settings, SettingsError> {
        let env = Env::new(env);
        let limit = 1..=u64::from(MAX_LIMIT);
        let rate_per_second = match env.get("DISCOVERY_RATE_PER_SECOND") {
            None => DEFAULT_RATE_PER_SECOND,
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
        };
        // Both within 1..=MAX_LIMIT, so they fit a u32.
        let bounded = |name, default: u32| -> Result<u32, SettingsError> {
            Ok(env
                .integer(name, limit.clone())?
                .map_or(default, |n| u32::try_from(n).unwrap_or(MAX_LIMIT)))
        };
        Ok(Settings {
            host: env
                .get("DISCOVERY_HOST")
                .unwrap_or_else(|| "0.0.0.0".into()),
            port: env.port("DISCOVERY_PORT")?.unwrap_or(DEFAULT_PORT),
            ttl: Duration::from_secs(
                env.integer("DISCOVERY_TTL_SECONDS", 1..=MAX_TTL_SECONDS)?
                    .unwrap_or(DEFAULT_TTL_SECONDS),
            ),
            rate_per_second,
            rate_burst: bounded("DISCOVERY_RATE_BURST", DEFAULT_RATE_BURST)?,
            max_entries: bounded("DISCOVERY_MAX_ENTRIES", DEFAULT_MAX_ENTRIES)?,
            allow_unsigned: env.flag("DISCOVERY_ALLOW_UNSIGNED")?.unwrap_or(true),
            database_url: env.database_url("discovery.db")?,
            log: env.log()?,
        })
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
        assert!(s.allow_unsigned);
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
            ("DISCOVERY_ALLOW_UNSIGNED", "yes"),
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
        let s = Settings::from_env_map(&env(&[
            ("DATABASE_URL", "sqlite::memory:"),
            ("DISCOVERY_ALLOW_UNSIGNED", "false"),
        ]))
        .unwrap();
        assert!(!s.allow_unsigned);
    }
}
