//! `rosterctl status|backup|key rotate|audit`: operating the daemon itself.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use roster_proto::v1::{
    BackupRequest, GetStatusRequest, ListAuditEventsRequest, ListAuditEventsResponse,
    RotateEncryptionKeyRequest,
};
use tokio::io::AsyncWriteExt;

use super::{UsageError, newest_pages, show};
use crate::cli::{AuditFilterArgs, OutcomeArg, Output};
use crate::client::Client;
use crate::output;

pub async fn status(c: &Client, output: Output) -> Result<()> {
    let s = c
        .admin()
        .get_status(GetStatusRequest {})
        .await?
        .into_inner();
    show(output, &s, |s| output::admin::status(s, SystemTime::now()))
}

pub async fn rotate(c: &Client, output: Output) -> Result<()> {
    let r = c
        .admin()
        .rotate_encryption_key(RotateEncryptionKeyRequest {})
        .await?
        .into_inner();
    show(output, &r, |r| {
        let mut text = format!(
            "new master key {}; re-sealed {} account{}\n",
            r.new_key_id,
            r.resealed_accounts,
            if r.resealed_accounts == 1 { "" } else { "s" }
        );
        if !r.note.is_empty() {
            text.push_str(&format!("note: {}\n", r.note));
        }
        text
    })
}

pub async fn audit(c: &Client, limit: u32, f: &AuditFilterArgs, output: Output) -> Result<()> {
    if let (Some(since), Some(until)) = (f.since, f.until)
        && until <= since
    {
        return Err(UsageError("--until must be after --since".into()).into());
    }
    let timestamp = |t: SystemTime| {
        let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
        roster_proto::pbjson_types::Timestamp {
            seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
        }
    };
    let request = ListAuditEventsRequest {
        limit: 0,
        before_sequence: 0,
        principal: f.principal.clone().unwrap_or_default(),
        action: f.action.clone().unwrap_or_default(),
        account: f.account.clone().unwrap_or_default(),
        since: f.since.map(timestamp),
        until: f.until.map(timestamp),
        outcome: match f.outcome {
            None => String::new(),
            Some(OutcomeArg::Ok) => "ok".into(),
            Some(OutcomeArg::Refused) => "refused".into(),
        },
    };
    let (events, next_before_sequence) = newest_pages(limit, |before, n| {
        let mut admin = c.admin();
        let request = ListAuditEventsRequest {
            limit: n,
            before_sequence: before,
            ..request.clone()
        };
        async move {
            let page = admin.list_audit_events(request).await?.into_inner();
            Ok((page.events, page.next_before_sequence))
        }
    })
    .await?;
    let all = ListAuditEventsResponse {
        events,
        next_before_sequence,
    };
    show(output, &all, output::admin::audit)
}

/// `FILE.partial` next to `FILE`: the backup only takes its real name once it is complete and
/// verified, so a half-written file is never mistaken for a backup.
pub fn partial_path(out: &Path) -> PathBuf {
    let mut name = out
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".partial");
    out.with_file_name(name)
}

/// The outcome of a backup, also its JSON form.
#[derive(Debug, serde::Serialize)]
pub struct BackupResult {
    pub path: PathBuf,
    pub bytes: u64,
    pub sha256: String,
    /// False when the daemon sent no checksum to compare with.
    pub verified: bool,
}

/// Checks what was received against the last chunk's `total_size` and `sha256`, when sent.
pub fn verify(
    received: u64,
    actual_hex: &str,
    expected_size: u64,
    expected_hex: &str,
) -> Result<bool> {
    if expected_size != 0 && expected_size != received {
        bail!(
            "backup is incomplete: received {received} bytes, the daemon announced {expected_size}"
        );
    }
    if expected_hex.is_empty() {
        return Ok(false);
    }
    if !expected_hex.trim().eq_ignore_ascii_case(actual_hex) {
        bail!(
            "backup is corrupt: sha256 {actual_hex} does not match the daemon's {}",
            expected_hex.trim()
        );
    }
    Ok(true)
}

pub async fn backup(c: &Client, out: &Path, force: bool, output: Output) -> Result<()> {
    // Yesterday's backup is worth as much as today's: replacing one takes a decision.
    if !force && tokio::fs::symlink_metadata(out).await.is_ok() {
        anyhow::bail!(
            "{} exists: choose another file, or pass --force to replace it",
            out.display()
        );
    }
    let partial = partial_path(out);
    let result = download(c, out, &partial).await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&partial).await;
    }
    let r = result?;
    if !r.verified {
        eprintln!("warning: the daemon sent no checksum; the backup was not verified");
    }
    show(output, &r, |r| {
        format!(
            "wrote {} ({}) to {}\nsha256 {}{}\n",
            output::format::bytes(r.bytes),
            r.bytes,
            r.path.display(),
            r.sha256,
            if r.verified { " (verified)" } else { "" }
        )
    })
}

const PROGRESS_STEP: u64 = 16 * 1024 * 1024;

async fn download(c: &Client, out: &Path, partial: &Path) -> Result<BackupResult> {
    let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut stream = c.admin().backup(BackupRequest {}).await?.into_inner();
    // 0600: the backup holds sealed credentials and the audit trail.
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(partial)
        .await
        .with_context(|| format!("cannot create {}", partial.display()))?;
    let mut digest = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    let mut received: u64 = 0;
    let mut last = (0u64, String::new());
    while let Some(chunk) = stream.message().await? {
        file.write_all(&chunk.data)
            .await
            .with_context(|| format!("cannot write {}", partial.display()))?;
        digest.update(&chunk.data);
        let before = received;
        received += chunk.data.len() as u64;
        last = (chunk.total_size, chunk.sha256);
        // Progress for people, every 16 MiB, only when stderr is a terminal.
        if progress && received / PROGRESS_STEP > before / PROGRESS_STEP {
            eprint!("\rreceived {}   ", output::format::bytes(received));
        }
    }
    if progress && received >= PROGRESS_STEP {
        eprintln!();
    }
    if received == 0 {
        bail!("the daemon sent an empty backup");
    }
    file.sync_all()
        .await
        .with_context(|| format!("cannot write {}", partial.display()))?;
    drop(file);
    let actual = hex::encode(digest.finish().as_ref());
    let verified = verify(received, &actual, last.0, &last.1)?;
    tokio::fs::rename(partial, out)
        .await
        .with_context(|| format!("cannot rename {} to {}", partial.display(), out.display()))?;
    Ok(BackupResult {
        path: out.to_owned(),
        bytes: received,
        sha256: actual,
        verified,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_sits_next_to_the_target() {
        assert_eq!(
            partial_path(Path::new("/b/x.redb")),
            PathBuf::from("/b/x.redb.partial")
        );
        assert_eq!(partial_path(Path::new("x")), PathBuf::from("x.partial"));
    }

    #[test]
    fn verification() {
        assert!(verify(3, "abc", 3, "ABC").unwrap());
        assert!(!verify(3, "abc", 0, "").unwrap());
        assert!(
            verify(3, "abc", 4, "abc")
                .unwrap_err()
                .to_string()
                .contains("incomplete")
        );
        assert!(
            verify(3, "abc", 3, "abd")
                .unwrap_err()
                .to_string()
                .contains("corrupt")
        );
    }
}
