//! The process exit status: one number per kind of failure, so scripts can tell "fix your
//! input" from "retry later" without parsing messages.

use std::process::ExitCode;

use tonic::{Code, Status};

/// Shown after every `--help`; [`for_status_code`] implements it, and a test keeps them in
/// step.
pub const HELP: &str = "\
Exit codes:
  0  ok
  1  other errors
  2  usage errors
  3  INVALID_ARGUMENT
  4  NOT_FOUND
  5  ALREADY_EXISTS
  6  ABORTED or FAILED_PRECONDITION (stale etag, peer still has routes)
  7  UNAUTHENTICATED or PERMISSION_DENIED
  8  UNAVAILABLE or DEADLINE_EXCEEDED (cannot reach the server)";

pub const OTHER: u8 = 1;
/// The same code clap exits with on a bad command line, so our own usage checks match it.
pub const USAGE: u8 = 2;

/// A command line clap accepted but ctl cannot act on (e.g. `peers update` without a field).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

pub fn for_status_code(code: Code) -> u8 {
    match code {
        Code::Ok => 0,
        Code::InvalidArgument => 3,
        Code::NotFound => 4,
        Code::AlreadyExists => 5,
        Code::Aborted | Code::FailedPrecondition => 6,
        Code::Unauthenticated | Code::PermissionDenied => 7,
        Code::Unavailable | Code::DeadlineExceeded => 8,
        Code::Cancelled
        | Code::Unknown
        | Code::ResourceExhausted
        | Code::OutOfRange
        | Code::Unimplemented
        | Code::Internal
        | Code::DataLoss => OTHER,
    }
}

pub fn for_error(error: &anyhow::Error) -> u8 {
    if let Some(status) = grpc_status(error) {
        for_status_code(status.code())
    } else if error.chain().any(|e| e.is::<UsageError>()) {
        USAGE
    } else {
        OTHER
    }
}

pub fn exit_code(error: &anyhow::Error) -> ExitCode {
    ExitCode::from(for_error(error))
}

/// The gRPC status behind an error, wherever it sits in the chain.
pub fn grpc_status(error: &anyhow::Error) -> Option<&Status> {
    error.chain().find_map(|e| e.downcast_ref::<Status>())
}

/// The canonical upper-case name (`INVALID_ARGUMENT`), as gRPC documents and other tools print
/// it; tonic's `Display` gives an English sentence instead.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented table, written out pair by pair rather than re-derived.
    const TABLE: [(Code, u8); 17] = [
        (Code::Ok, 0),
        (Code::Cancelled, 1),
        (Code::Unknown, 1),
        (Code::InvalidArgument, 3),
        (Code::DeadlineExceeded, 8),
        (Code::NotFound, 4),
        (Code::AlreadyExists, 5),
        (Code::PermissionDenied, 7),
        (Code::ResourceExhausted, 1),
        (Code::FailedPrecondition, 6),
        (Code::Aborted, 6),
        (Code::OutOfRange, 1),
        (Code::Unimplemented, 1),
        (Code::Internal, 1),
        (Code::Unavailable, 8),
        (Code::DataLoss, 1),
        (Code::Unauthenticated, 7),
    ];

    #[test]
    fn every_grpc_code_maps_to_the_documented_exit_code() {
        for (code, exit) in TABLE {
            assert_eq!(for_status_code(code), exit, "{code:?}");
            let error = anyhow::Error::new(Status::new(code, "x"));
            assert_eq!(for_error(&error), exit, "{code:?} as an error");
        }
    }

    #[test]
    fn help_names_every_code_next_to_its_exit_code() {
        for (code, exit) in TABLE {
            if exit == OTHER || exit == 0 {
                continue;
            }
            let line = HELP
                .lines()
                .find(|l| l.trim_start().starts_with(&format!("{exit} ")))
                .unwrap_or_else(|| panic!("no line for exit code {exit}"));
            assert!(line.contains(code_name(code)), "{line} lacks {code:?}");
        }
        assert!(HELP.contains("  1  other errors"));
        assert!(HELP.contains("  2  usage errors"));
    }

    #[test]
    fn errors_are_classified_through_context() {
        let grpc = anyhow::Error::new(Status::not_found("no peer x")).context("getting peer");
        assert_eq!(for_error(&grpc), 4);
        let usage = anyhow::Error::new(UsageError("nothing to update".into()));
        assert_eq!(for_error(&usage), USAGE);
        assert_eq!(for_error(&anyhow::anyhow!("disk full")), OTHER);
    }

    #[test]
    fn code_names_are_grpc_canonical() {
        assert_eq!(code_name(Code::InvalidArgument), "INVALID_ARGUMENT");
        assert_eq!(code_name(Code::Unauthenticated), "UNAUTHENTICATED");
        for (code, _) in TABLE {
            let name = code_name(code);
            assert!(name.chars().all(|c| c.is_ascii_uppercase() || c == '_'));
        }
    }
}
