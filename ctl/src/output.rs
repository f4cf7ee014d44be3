//! Turning views into text (table, JSON, YAML) and writing it: data to stdout, diagnostics to
//! stderr. No colours anywhere, so NO_COLOR holds trivially and logs stay clean.

use std::io::Write;

use serde::Serialize;

use crate::exit_code;

#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns with a header (an empty list prints only the header).
    #[default]
    Table,
    /// JSON: lists as arrays, single resources as objects, `watch` one object per line.
    Json,
    /// YAML with the same structure as JSON.
    Yaml,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("encoding JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("encoding YAML: {0}")]
    Yaml(#[from] yaml_serde::Error),
}

/// A resource that is one row of a table.
pub trait Row {
    const HEADERS: &'static [&'static str];
    fn cells(&self) -> Vec<String>;
}

/// A resource that prints as text of its own rather than as a row: several tables, a sentence,
/// or (for `event`) one line.
pub trait Text {
    fn text(&self) -> String;
}

pub fn list<T: Serialize + Row>(format: Format, items: &[T]) -> Result<String, RenderError> {
    structured(format, items, || {
        table(T::HEADERS, items.iter().map(Row::cells).collect())
    })
}

pub fn one<T: Serialize + Row>(format: Format, item: &T) -> Result<String, RenderError> {
    structured(format, item, || table(T::HEADERS, vec![item.cells()]))
}

/// A resource printed as text of its own in a table's stead (a status of several tables, an
/// answer that may be a sentence).
pub fn show<T: Serialize + Text>(format: Format, item: &T) -> Result<String, RenderError> {
    structured(format, item, || item.text())
}

/// One event per line in every format, so `ctl watch | …` can act on each as it arrives.
pub fn event<T: Serialize + Text>(format: Format, e: &T) -> Result<String, RenderError> {
    Ok(match format {
        Format::Table => format!("{}\n", e.text()),
        Format::Json => format!("{}\n", serde_json::to_string(e)?),
        Format::Yaml => format!("---\n{}", yaml_serde::to_string(e)?),
    })
}

fn structured<T: Serialize + ?Sized>(
    format: Format,
    value: &T,
    table: impl FnOnce() -> String,
) -> Result<String, RenderError> {
    Ok(match format {
        Format::Table => table(),
        Format::Json => format!("{}\n", serde_json::to_string_pretty(value)?),
        Format::Yaml => yaml_serde::to_string(value)?,
    })
}

/// Columns padded to their widest cell, two spaces apart, no trailing blanks.
pub fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header: Vec<String> = headers.iter().map(|h| (*h).to_string()).collect();
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            let pad = width.saturating_sub(cell.chars().count());
            line.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// An absent or empty cell shows as `-`.
pub fn dash(value: Option<&str>) -> String {
    match value {
        Some(v) if !v.is_empty() => v.to_string(),
        _ => "-".to_string(),
    }
}

/// Writes data to stdout. A closed pipe (`ctl peers list | head -1`) is the reader's choice,
/// not an error worth a message, so it is reported as `false` for the caller to stop.
pub fn emit(text: &str) -> std::io::Result<bool> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e),
    }
}

pub fn note(text: &str) {
    eprintln!("{text}");
}

#[derive(Serialize)]
struct ErrorReport<'a> {
    error: ErrorBody<'a>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    /// The gRPC code; absent for errors that did not come from the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'a str>,
    message: &'a str,
}

/// The error as printed on stderr: `ctl: CODE: message`, or a JSON object in `-o json` mode.
pub fn error_text(format: Format, error: &anyhow::Error) -> String {
    let (code, message) = match exit_code::grpc_status(error) {
        Some(status) => {
            let code = exit_code::code_name(status.code());
            let message = if status.message().is_empty() {
                status.code().description().to_string()
            } else {
                status.message().to_string()
            };
            (Some(code), message)
        }
        None => (None, format!("{error:#}")),
    };
    if format == Format::Json {
        let report = ErrorReport {
            error: ErrorBody {
                code,
                message: &message,
            },
        };
        if let Ok(json) = serde_json::to_string(&report) {
            return json;
        }
    }
    match code {
        Some(code) => format!("ctl: {code}: {}", one_line(&message)),
        None => format!("ctl: {}", one_line(&message)),
    }
}

fn one_line(message: &str) -> String {
    message.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_errors_print_code_and_message_and_json_mode_prints_an_object() {
        let error = anyhow::Error::new(tonic::Status::invalid_argument("bad prefix \"x\""));
        assert_eq!(
            error_text(Format::Table, &error),
            "ctl: INVALID_ARGUMENT: bad prefix \"x\""
        );
        let json: serde_json::Value =
            serde_json::from_str(&error_text(Format::Json, &error)).unwrap_or_default();
        assert_eq!(
            json,
            serde_json::json!({"error": {"code": "INVALID_ARGUMENT", "message": "bad prefix \"x\""}})
        );
        let local = anyhow::anyhow!("disk full");
        assert_eq!(error_text(Format::Table, &local), "ctl: disk full");
        assert_eq!(
            error_text(Format::Json, &local),
            r#"{"error":{"message":"disk full"}}"#
        );
    }
}
