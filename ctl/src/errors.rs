//! Turns any failure into the one line `rosterctl` prints on stderr.
//!
//! tonic and hyper wrap the interesting cause ("received fatal alert: CertificateRequired",
//! "invalid peer certificate: UnknownIssuer", "Connection refused") under generic layers
//! ("transport error", "client error (Connect)"). With TLS 1.3 the daemon's rejection of a
//! client certificate even arrives only on the first read, i.e. inside the RPC's `Status`. So
//! this walks the whole `source()` chain, drops the generic and repeated layers, prints a
//! server `Status` as `CODE: message` with its google.rpc details, and adds a short hint for
//! the causes people hit most.

use std::error::Error as StdError;

use tonic::{Code, Status};
use tonic_types::StatusExt;

/// Layers that only say "something below failed".
const GENERIC: &[&str] = &[
    "transport error",
    "client error (Connect)",
    "client error (SendRequest)",
    "error trying to connect",
    "connection error",
    "service error",
    "operation was canceled",
    "h2 protocol error",
];

/// The canonical gRPC name of a code, as grpcurl and the API docs spell it.
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

/// `CODE: message` plus field violations and retry delay when the status carries them.
pub fn format_status(status: &Status) -> String {
    let mut s = code_name(status.code()).to_owned();
    let msg = status.message().trim();
    if !msg.is_empty() {
        s.push_str(": ");
        s.push_str(msg);
    }
    if let Some(br) = status.get_details_bad_request() {
        let v: Vec<String> = br
            .field_violations
            .iter()
            .map(|f| format!("{}: {}", f.field, f.description))
            .collect();
        if !v.is_empty() {
            s.push_str(" [");
            s.push_str(&v.join("; "));
            s.push(']');
        }
    }
    if let Some(delay) = status.get_details_retry_info().and_then(|r| r.retry_delay) {
        s.push_str(&format!(
            " (retry in {})",
            humantime::format_duration(round_ms(delay))
        ));
    }
    s
}

fn round_ms(d: std::time::Duration) -> std::time::Duration {
    std::time::Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The whole error as one line.
pub fn render(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    // What the daemon said is its own explanation: a hint is only for what failed here, so an
    // upstream's "connection refused" inside a daemon's answer does not ask whether rosterd runs.
    let mut from_daemon: Vec<usize> = Vec::new();
    let mut push = |m: String, said_by_daemon: bool| {
        let m = m.trim().to_owned();
        if m.is_empty() || GENERIC.iter().any(|g| m.eq_ignore_ascii_case(g)) {
            return;
        }
        // Layers often repeat their cause ("tcp connect error: Connection refused" then
        // "Connection refused"): keep each piece of information once.
        if parts.iter().any(|p| p.contains(&m)) {
            return;
        }
        if said_by_daemon {
            from_daemon.push(parts.len());
        }
        parts.push(m);
    };
    for cause in err.chain() {
        if let Some(status) = cause.downcast_ref::<Status>() {
            // A status made locally from a transport failure has a source chain; its own
            // message is then only "transport error" or similar, so only show the code when
            // it says something beyond that.
            if StdError::source(status).is_some() {
                let msg = status.message().trim();
                if !msg.is_empty() && !GENERIC.iter().any(|g| msg.eq_ignore_ascii_case(g)) {
                    push(msg.to_owned(), false);
                }
            } else {
                push(format_status(status), true);
            }
        } else {
            push(cause.to_string(), false);
        }
    }
    let local: Vec<&str> = parts
        .iter()
        .enumerate()
        .filter(|(i, _)| !from_daemon.contains(i))
        .map(|(_, p)| p.as_str())
        .collect();
    let local = local.join(": ");
    let mut line = parts.join(": ");
    if line.is_empty() {
        line = err.to_string();
    }
    if let Some(h) = hint(&local) {
        line.push_str(" (");
        line.push_str(h);
        line.push(')');
    }
    // One line, whatever the server put in its message.
    line.replace(['\n', '\r'], " ")
}

/// A pointer to the likely fix for the causes people hit most.
fn hint(line: &str) -> Option<&'static str> {
    let l = line.to_ascii_lowercase();
    let has = |s: &str| l.contains(&s.to_ascii_lowercase());
    if has("CertificateRequired") {
        Some("the daemon requires a client certificate: pass --profile DIR or --cert/--key")
    } else if has("alert: UnknownCA") || has("alert: BadCertificate") {
        Some(
            "the daemon does not trust this client certificate: issue one with `rosterctl pki issue` from the daemon's CA",
        )
    } else if has("alert: CertificateExpired") {
        Some(
            "the daemon says this client certificate has expired or is not valid yet: issue a new one, or check the clock",
        )
    } else if has("alert: CertificateRevoked") {
        Some("this client certificate has been revoked")
    } else if has("UnknownIssuer") {
        Some("the daemon's certificate is not signed by the CA given with --ca/--profile")
    } else if has("NotValidForName") {
        Some("the daemon's certificate does not cover this host: re-issue it with --san")
    } else if has("certificate expired") || has("Expired") {
        Some("a certificate has expired")
    } else if has("connection refused") {
        Some("is rosterd running and listening on that address?")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt;

    #[derive(Debug)]
    struct E(&'static str, Option<Box<dyn StdError + Send + Sync>>);
    impl fmt::Display for E {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }
    impl StdError for E {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            self.1.as_deref().map(|e| e as &(dyn StdError + 'static))
        }
    }

    #[test]
    fn status_prints_code_and_message() {
        let s = Status::permission_denied("role viewer may not call CreateAccount");
        assert_eq!(
            render(&anyhow::Error::from(s)),
            "PERMISSION_DENIED: role viewer may not call CreateAccount"
        );
    }

    #[test]
    fn status_details_are_shown() {
        let details =
            tonic_types::ErrorDetails::with_bad_request_violation("name", "must not be empty");
        let s = Status::with_error_details(Code::InvalidArgument, "bad account", details);
        assert_eq!(
            format_status(&s),
            "INVALID_ARGUMENT: bad account [name: must not be empty]"
        );
        let details = tonic_types::ErrorDetails::with_retry_info(Some(
            std::time::Duration::from_millis(1500),
        ));
        let s = Status::with_error_details(Code::ResourceExhausted, "slow down", details);
        assert_eq!(
            format_status(&s),
            "RESOURCE_EXHAUSTED: slow down (retry in 1s 500ms)"
        );
    }

    #[test]
    fn chain_shows_innermost_causes_once() {
        let io = std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "Connection refused (os error 111)",
        );
        let e = E(
            "transport error",
            Some(Box::new(E(
                "tcp connect error: Connection refused (os error 111)",
                Some(Box::new(io)),
            ))),
        );
        let err = anyhow::Error::from(e).context("cannot connect to https://127.0.0.1:1");
        assert_eq!(
            render(&err),
            "cannot connect to https://127.0.0.1:1: tcp connect error: Connection refused (os error 111) \
             (is rosterd running and listening on that address?)"
        );
    }

    #[test]
    fn tls_alert_inside_an_rpc_status_is_surfaced() {
        let tls = E("received fatal alert: CertificateRequired", None);
        let h2 = E("connection error", Some(Box::new(tls)));
        let status = Status::from_error(Box::new(E("transport error", Some(Box::new(h2)))));
        let line = render(&anyhow::Error::from(status));
        assert!(
            line.starts_with("received fatal alert: CertificateRequired"),
            "{line}"
        );
        assert!(line.contains("--profile"), "{line}");
        assert!(!line.contains('\n'));
    }

    #[test]
    fn server_certificate_problems_get_hints() {
        let e = anyhow::anyhow!("invalid peer certificate: UnknownIssuer")
            .context("cannot connect to https://x");
        assert!(render(&e).contains("--ca"), "{}", render(&e));
        let e = anyhow::anyhow!("invalid peer certificate: NotValidForName");
        assert!(render(&e).contains("--san"));
    }

    #[test]
    fn an_upstream_refusal_reported_by_the_daemon_gets_no_local_hint() {
        let s = Status::unavailable("upstream http://127.0.0.1:9: Connection refused");
        let err = anyhow::Error::from(s).context("health check acct");
        let line = render(&err);
        assert!(line.contains("Connection refused"), "{line}");
        assert!(!line.contains("is rosterd running"), "{line}");
    }

    #[test]
    fn multi_line_messages_become_one_line() {
        let s = Status::internal("a\nb");
        assert_eq!(render(&anyhow::Error::from(s)), "INTERNAL: a b");
    }
}
