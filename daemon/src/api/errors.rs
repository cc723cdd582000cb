//! The one place where domain errors become gRPC status codes.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};
use tracing::error;

use crate::accounts::{AccountError, FieldViolation};

/// INVALID_ARGUMENT carrying a google.rpc.BadRequest with one violation per bad field.
pub fn invalid(violations: &[FieldViolation]) -> Status {
    let message = violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ");
    let details = ErrorDetails::with_bad_request(
        violations
            .iter()
            .map(|v| tonic_types::FieldViolation::new(v.field.clone(), v.description.clone()))
            .collect::<Vec<_>>(),
    );
    Status::with_error_details(Code::InvalidArgument, message, details)
}

pub fn invalid_field(field: &str, description: impl Into<String>) -> Status {
    invalid(&[FieldViolation::new(field, description)])
}

pub fn status_of(e: AccountError) -> Status {
    match e {
        AccountError::Invalid(v) => invalid(&v),
        AccountError::NotFound(_) => Status::not_found(e.to_string()),
        AccountError::NameTaken(_) => Status::already_exists(e.to_string()),
        AccountError::EtagMismatch { .. } => Status::aborted(e.to_string()),
        AccountError::RequestIdSpent(_) => Status::failed_precondition(e.to_string()),
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
