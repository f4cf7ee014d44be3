//! The environment as the services read their settings: an empty variable counts as unset, and
//! every refusal names the variable and says what was expected (without echoing values that
//! could be secrets: only numbers, flags and names are repeated). One reader for the three
//! services, so `GRPC_PORT=x` and `DISCOVERY_PORT=x` are refused with the same words.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::path::PathBuf;

use crate::LogSettings;

/// A setting that was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct EnvError {
    pub variable: String,
    pub problem: String,
}

impl EnvError {
    pub fn new(variable: &str, problem: impl Into<String>) -> EnvError {
        EnvError {
            variable: variable.to_string(),
            problem: problem.into(),
        }
    }
}

/// A service's environment, read once at start.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    map: &'a BTreeMap<String, String>,
}

impl<'a> Env<'a> {
    pub fn new(map: &'a BTreeMap<String, String>) -> Env<'a> {
        Env { map }
    }

    /// The value, unless the variable is unset or empty.
    pub fn get(&self, name: &str) -> Option<String> {
        self.map.get(name).filter(|v| !v.is_empty()).cloned()
    }

    /// The value, or a refusal saying what it must be.
    pub fn required(&self, name: &str, what: &str) -> Result<String, EnvError> {
        self.get(name)
            .ok_or_else(|| EnvError::new(name, format!("required: {what}")))
    }

    /// A TCP port (0: any free port).
    pub fn port(&self, name: &str) -> Result<Option<u16>, EnvError> {
        self.parse(
            name,
            |text| text.parse::<u16>().ok(),
            "a port number (0..=65535)",
        )
    }

    /// A whole number within `range`.
    pub fn integer(&self, name: &str, range: RangeInclusive<u64>) -> Result<Option<u64>, EnvError> {
        let expected = format!("a whole number in {}..={}", range.start(), range.end());
        self.parse(
            name,
            |text| text.parse::<u64>().ok().filter(|n| range.contains(n)),
            &expected,
        )
    }

    /// A duration written in whole milliseconds.
    pub fn millis(&self, name: &str) -> Result<Option<std::time::Duration>, EnvError> {
        self.parse(
            name,
            |text| {
                text.parse::<u64>()
                    .ok()
                    .map(std::time::Duration::from_millis)
            },
            "a whole number of milliseconds",
        )
    }

    /// `true` or `false`.
    pub fn flag(&self, name: &str) -> Result<Option<bool>, EnvError> {
        self.parse(
            name,
            |text| match text {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            },
            "true or false",
        )
    }

    /// `DATABASE_URL`, or a SQLite file named `file` in `DATA_DIR` (default `./data`, created
    /// if missing).
    pub fn database_url(&self, file: &str) -> Result<String, EnvError> {
        if let Some(url) = self.get("DATABASE_URL") {
            return Ok(url);
        }
        let dir = PathBuf::from(self.get("DATA_DIR").unwrap_or_else(|| "./data".into()));
        std::fs::create_dir_all(&dir).map_err(|e| {
            EnvError::new("DATA_DIR", format!("cannot create {}: {e}", dir.display()))
        })?;
        Ok(format!("sqlite://{}", dir.join(file).display()))
    }

    /// `LOG_LEVEL` and `LOG_FORMAT`.
    pub fn log(&self) -> Result<LogSettings, EnvError> {
        LogSettings::from_env(|name| self.get(name))
            .map_err(|(variable, problem)| EnvError::new(variable, problem))
    }

    fn parse<T>(
        &self,
        name: &str,
        read: impl FnOnce(&str) -> Option<T>,
        expected: &str,
    ) -> Result<Option<T>, EnvError> {
        match self.get(name) {
            None => Ok(None),
            Some(text) => read(&text)
                .map(Some)
                .ok_or_else(|| EnvError::new(name, format!("{text:?} is not {expected}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_and_empty_are_the_same_and_refusals_name_the_variable() {
        let map: BTreeMap<String, String> = [
            ("EMPTY", ""),
            ("PORT", "8080"),
            ("BAD_PORT", "70000"),
            ("N", "7"),
            ("BIG", "3601"),
            ("YES", "true"),
            ("MAYBE", "sometimes"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let env = Env::new(&map);
        assert_eq!(env.get("EMPTY"), None);
        assert_eq!(env.port("EMPTY"), Ok(None));
        assert_eq!(env.port("PORT"), Ok(Some(8080)));
        let refused = env.port("BAD_PORT").unwrap_err();
        assert_eq!(refused.variable, "BAD_PORT");
        assert!(
            refused.problem.contains("\"70000\" is not a port number"),
            "{refused}"
        );
        assert_eq!(env.integer("N", 1..=3600), Ok(Some(7)));
        assert!(
            env.integer("BIG", 1..=3600)
                .unwrap_err()
                .problem
                .contains("1..=3600")
        );
        assert_eq!(
            env.millis("N"),
            Ok(Some(std::time::Duration::from_millis(7)))
        );
        assert!(
            env.millis("MAYBE")
                .unwrap_err()
                .problem
                .contains("milliseconds")
        );
        assert_eq!(env.flag("YES"), Ok(Some(true)));
        assert!(
            env.flag("MAYBE")
                .unwrap_err()
                .problem
                .contains("true or false")
        );
        assert_eq!(
            env.required("EMPTY", "the node id")
                .unwrap_err()
                .to_string(),
            "EMPTY: required: the node id"
        );
    }

    #[test]
    fn the_database_is_a_url_or_a_file_in_data_dir() {
        let dir = std::env::temp_dir().join(format!("env-data-{}", std::process::id()));
        let nested = dir.join("nested");
        let map: BTreeMap<String, String> =
            [("DATA_DIR".to_string(), nested.display().to_string())].into();
        let url = Env::new(&map).database_url("x.db").unwrap();
        assert_eq!(url, format!("sqlite://{}", nested.join("x.db").display()));
        assert!(nested.is_dir());
        let map: BTreeMap<String, String> =
            [("DATABASE_URL".to_string(), "sqlite::memory:".to_string())].into();
        assert_eq!(
            Env::new(&map).database_url("x.db").unwrap(),
            "sqlite::memory:"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
