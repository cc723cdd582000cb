//! How account errors become gRPC status codes, and the helpers every handler uses for bad
//! input (field violations, bounded echoes of client text). Errors of one service only (a
//! check that is busy, a watcher that fell behind) are mapped beside their handler.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};
use tracing::error;

use crate::accounts::{AccountError, FieldViolation};
use crate::maintenance::MaintenanceError;

/// Longest piece of client-supplied text echoed in an error (field name, description, message).
/// Error text travels in HTTP/2 headers (`grpc-message`, `grpc-status-details-bin`); echoing a
/// 100 KB input there overflows the peer's header-list limit, and the peer then tears down the
/// whole connection (GOAWAY) instead of seeing INVALID_ARGUMENT.
pub const MAX_ECHO: usize = 256;

/// `text` cut to at most [`MAX_ECHO`] bytes on a character boundary, marked when cut.
pub fn bounded(text: &str) -> String {
    if text.len() <= MAX_ECHO {
        return text.to_string();
    }
    let mut end = MAX_ECHO;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}… ({} bytes)",
        text.get(..end).unwrap_or_default(),
        text.len()
    )
}

/// INVALID_ARGUMENT carrying a google.rpc.BadRequest with one violation per bad field.
pub fn invalid(violations: &[FieldViolation]) -> Status {
    // At most 32 violations are reported (a request with thousands of bad labels would
    // otherwise produce an unbounded answer).
    let shown: Vec<(String, String)> = violations
        .iter()
        .take(32)
        .map(|v| (bounded(&v.field), bounded(&v.description)))
        .collect();
    let mut message = shown
        .iter()
        .map(|(f, d)| format!("{f}: {d}"))
        .collect::<Vec<_>>()
        .join("; ");
    if violations.len() > shown.len() {
        message.push_str(&format!("; and {} more", violations.len() - shown.len()));
    }
    let details = ErrorDetails::with_bad_request(
        shown
            .into_iter()
            .map(|(f, d)| tonic_types::FieldViolation::new(f, d))
            .collect::<Vec<_>>(),
    );
    Status::with_error_details(Code::InvalidArgument, message, details)
}

pub fn invalid_field(field: &str, description: impl Into<String>) -> Status {
    invalid(&[FieldViolation::new(field, description)])
}

/// Records a listing page returns unless the request says otherwise, and at most.
pub const DEFAULT_PAGE: usize = 50;
pub const MAX_PAGE: usize = 1000;

/// A request's `limit`: 0 is [`DEFAULT_PAGE`], more than [`MAX_PAGE`] is [`MAX_PAGE`].
pub fn page_limit(limit: i32) -> Result<usize, Status> {
    match limit {
        0 => Ok(DEFAULT_PAGE),
        n if n < 0 => Err(invalid_field("limit", "must not be negative")),
        n => Ok(usize::try_from(n).unwrap_or(MAX_PAGE).min(MAX_PAGE)),
    }
}

pub fn status_of(e: AccountError) -> Status {
    match e {
        AccountError::Invalid(v) => invalid(&v),
        AccountError::NotFound(_) => Status::not_found(bounded(&e.to_string())),
        AccountError::NameTaken(_) => Status::already_exists(bounded(&e.to_string())),
        AccountError::AmbiguousName(_) => Status::failed_precondition(bounded(&e.to_string())),
        AccountError::Quota(_) => Status::resource_exhausted(bounded(&e.to_string())),
        AccountError::EtagMismatch { .. } => Status::aborted(bounded(&e.to_string())),
        AccountError::RequestIdSpent(_) => Status::failed_precondition(bounded(&e.to_string())),
        AccountError::Store(inner) => {
            error!(error = %inner, "storage failure");
            Status::unavailable(format!("storage unavailable: {inner}"))
        }
        AccountError::Seal(inner) => {
            error!(error = %inner, "sealing failure");
            Status::internal(format!("credential sealing failed: {inner}"))
        }
    }
}

pub fn status_of_maintenance(e: MaintenanceError) -> Status {
    match e {
        MaintenanceError::BackupRunning
        | MaintenanceError::Backup(_)
        | MaintenanceError::BackupNotAudited(_) => Status::unavailable(e.to_string()),
        MaintenanceError::NoNextKey { .. } | MaintenanceError::SameKey { .. } => {
            Status::failed_precondition(e.to_string())
        }
        MaintenanceError::Accounts(inner) => status_of(inner),
        MaintenanceError::Task(_) => Status::internal(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoed_text_is_bounded_on_a_char_boundary() {
        assert_eq!(bounded("short"), "short");
        let long = "é".repeat(1000);
        let b = bounded(&long);
        assert!(
            b.len() < MAX_ECHO + 32 && b.ends_with("(2000 bytes)"),
            "{b}"
        );
        let many: Vec<FieldViolation> = (0..100)
            .map(|i| FieldViolation::new(format!("labels[{}]", "k".repeat(10_000 + i)), "bad"))
            .collect();
        let s = invalid(&many);
        assert!(
            s.message().len() < 32 * 2 * (MAX_ECHO + 32),
            "{}",
            s.message().len()
        );
        assert!(s.message().ends_with("and 68 more"));
    }
}
