//! `LOG_LEVEL` and `LOG_FORMAT`: one reading of the two settings for every binary, so each
//! accepts the same values and refuses the rest with the same words.

/// How a service logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// `trace`, `debug`, `info`, `warn` or `error`: the level of the project's own crates.
    pub level: String,
    /// JSON lines on stdout (the default, for log pipelines), or text for humans.
    pub json: bool,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            level: "info".into(),
            json: true,
        }
    }
}

/// Which of the two settings is wrong, and why; the caller names the field as its operators
/// know it (`LOG_LEVEL`, or `logging.level` in a file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogSettingsError {
    Level(String),
    Format(String),
}

pub const LEVELS: [&str; 5] = ["trace", "debug", "info", "warn", "error"];

impl LogSettings {
    /// Reads a level and a format (either may be absent: then the default).
    pub fn parse(
        level: Option<&str>,
        format: Option<&str>,
    ) -> Result<LogSettings, LogSettingsError> {
        let level = level.unwrap_or("info");
        if !LEVELS.contains(&level) {
            return Err(LogSettingsError::Level(format!(
                "{level:?} is not one of {}",
                LEVELS.join(", ")
            )));
        }
        let json = match format {
            None | Some("json") => true,
            Some("text") => false,
            Some(other) => {
                return Err(LogSettingsError::Format(format!(
                    "{other:?} is not json or text"
                )));
            }
        };
        Ok(LogSettings {
            level: level.to_string(),
            json,
        })
    }

    /// From the environment's `LOG_LEVEL` and `LOG_FORMAT`; errors name the variable.
    pub fn from_env(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<LogSettings, (&'static str, String)> {
        LogSettings::parse(get("LOG_LEVEL").as_deref(), get("LOG_FORMAT").as_deref()).map_err(
            |error| match error {
                LogSettingsError::Level(problem) => ("LOG_LEVEL", problem),
                LogSettingsError::Format(problem) => ("LOG_FORMAT", problem),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_values_and_refusals() {
        assert_eq!(LogSettings::parse(None, None), Ok(LogSettings::default()));
        assert_eq!(
            LogSettings::parse(Some("debug"), Some("text")),
            Ok(LogSettings {
                level: "debug".into(),
                json: false
            })
        );
        assert!(matches!(
            LogSettings::parse(Some("loud"), None),
            Err(LogSettingsError::Level(p)) if p.contains("\"loud\"") && p.contains("trace, debug")
        ));
        assert!(matches!(
            LogSettings::parse(None, Some("xml")),
            Err(LogSettingsError::Format(p)) if p.contains("\"xml\"")
        ));
        let env = |name: &str| (name == "LOG_FORMAT").then(|| "xml".to_string());
        assert_eq!(LogSettings::from_env(env).unwrap_err().0, "LOG_FORMAT");
    }
}
