//! AccountService: create, read, list, update and delete accounts.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use roster_proto::v1 as pb;
use roster_proto::v1::account_service_server::AccountService;
use sha2::{Digest, Sha256};
use tonic::{Request, Response, Status};

use super::errors::{invalid_field, status_of};
use super::{ApiState, convert};
use crate::accounts::{
    AccountPatch, DEFAULT_CONNECTOR, FieldViolation, LabelSelector, NewAccount, Registered,
    check_connector, check_credential, check_environment, normalize_url,
};
use crate::auth::{Caller, Scope};
use crate::connector::{Upstream, VENUES};
use crate::secret::{Credential, Secret};
use crate::store::AccountRecord;

pub const DEFAULT_PAGE_SIZE: usize = 100;
pub const MAX_PAGE_SIZE: usize = 1000;

pub struct AccountApi(pub ApiState);

/// Names a request must not leave empty.
fn required<'a>(field: &str, value: &'a str) -> Result<&'a str, Status> {
    if value.trim().is_empty() {
        Err(invalid_field(field, "is required"))
    } else {
        Ok(value)
    }
}

/// Page tokens are opaque to clients: the id after which the next page starts, bound to a
/// fingerprint of the filter so a token cannot be replayed against a different query.
fn encode_token(after: &str, filter: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1|{}|{after}", fingerprint(filter)))
}

fn decode_token(token: &str, filter: &str) -> Result<Option<String>, Status> {
    if token.is_empty() {
        return Ok(None);
    }
    let bad = || {
        invalid_field(
            "page_token",
            "is not a token this server issued for this query",
        )
    };
    let raw = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let mut parts = text.splitn(3, '|');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("v1"), Some(fp), Some(after)) if fp == fingerprint(filter) && !after.is_empty() => {
            Ok(Some(after.to_string()))
        }
        _ => Err(bad()),
    }
}

fn fingerprint(filter: &str) -> String {
    hex::encode(
        Sha256::digest(filter.as_bytes())
            .get(..6)
            .unwrap_or_default(),
    )
}

fn labels_of(map: std::collections::HashMap<String, String>) -> BTreeMap<String, String> {
    map.into_iter().collect()
}

/// The accounts a ListAccounts request selects, before they are encoded.
pub struct ListPage {
    pub accounts: Vec<Arc<Registered>>,
    pub next_page_token: String,
    pub total_size: i32,
}

impl AccountApi {
    /// Validates a ListAccounts request and takes its page from the registry.
    pub fn list_page(
        &self,
        scope: &Scope,
        r: &pb::ListAccountsRequest,
    ) -> Result<ListPage, Status> {
        let page_size = match r.page_size {
            0 => DEFAULT_PAGE_SIZE,
            n if n < 0 => return Err(invalid_field("page_size", "must not be negative")),
            n => usize::try_from(n)
                .unwrap_or(MAX_PAGE_SIZE)
                .min(MAX_PAGE_SIZE),
        };
        let state = super::monitor::state_filter("state", r.state)?;
        let selector =
            LabelSelector::parse("label_selector", &r.label_selector).map_err(status_of)?;
        // The scope is part of the filter: a page token never carries over to another tenant.
        let filter = format!("{}|{:?}|{}|{scope:?}", r.label_selector, r.enabled, r.state);
        let after = decode_token(&r.page_token, &filter)?;
        let monitor = &self.0.monitor;
        let filtered =
            !selector.is_empty() || r.enabled.is_some() || state.is_some() || !scope.is_global();
        let page = monitor.view(|health| {
            let keep = |a: &AccountRecord| {
                scope.sees(&a.tenant)
                    && selector.matches(&a.labels)
                    && r.enabled.is_none_or(|e| a.enabled == e)
                    && state.is_none_or(|s| monitor.state_of(health, &a.id, a.enabled) == s)
            };
            let keep: &dyn Fn(&AccountRecord) -> bool = &keep;
            self.0
                .accounts
                .page(after.as_deref(), page_size, filtered.then_some(keep))
        });
        Ok(ListPage {
            accounts: page.accounts,
            next_page_token: page
                .next_after
                .map(|a| encode_token(&a, &filter))
                .unwrap_or_default(),
            total_size: i32::try_from(page.total).unwrap_or(i32::MAX),
        })
    }
}

#[tonic::async_trait]
impl AccountService for AccountApi {
    async fn create_account(
        &self,
        request: Request<pb::CreateAccountRequest>,
    ) -> Result<Response<pb::Account>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let shorthand = r.credentials.is_empty();
        let tenant = match (&caller.scope, r.tenant.as_str()) {
            (scope, "") => scope.home().to_string(),
            (Scope::Global, named) => named.to_string(),
            (Scope::Tenant(own), named) if own == named => named.to_string(),
            (Scope::Tenant(own), _) => {
                return Err(Status::permission_denied(format!(
                    "{} may create accounts only in tenant {own}",
                    caller.principal
                )));
            }
        };
        let new = NewAccount {
            request_id: r.request_id,
            name: r.name,
            tenant,
            connector: if r.connector.is_empty() {
                DEFAULT_CONNECTOR.into()
            } else {
                r.connector
            },
            environment: r.environment,
            host_url: r.host_url,
            ws_url: r.ws_url,
            credential: credential_of(r.api_key, r.credentials)?,
            labels: labels_of(r.labels),
            enabled: r.enabled.unwrap_or(true),
        };
        let quota = self.0.tenants.load().max_accounts(&new.tenant);
        let record = self
            .0
            .accounts
            .create_within(&caller.actor(), new, quota)
            .await
            .map_err(|e| status_of(as_sent(e, shorthand)))?;
        Ok(Response::new(convert::account(&record)))
    }

    async fn get_account(
        &self,
        request: Request<pb::GetAccountRequest>,
    ) -> Result<Response<pb::Account>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let record = self
            .0
            .accounts
            .get_in(&caller.scope, required("account", &r.account)?)
            .map_err(status_of)?;
        Ok(Response::new(convert::account(&record)))
    }

    async fn list_accounts(
        &self,
        request: Request<pb::ListAccountsRequest>,
    ) -> Result<Response<pb::ListAccountsResponse>, Status> {
        // `listing::AccountRoutes` answers ListAccounts from cached encodings of the same page
        // and never calls this; it is the plain form, which answers if that route is taken out.
        let caller = Caller::of(&request)?;
        let page = self.list_page(&caller.scope, &request.into_inner())?;
        Ok(Response::new(pb::ListAccountsResponse {
            accounts: page
                .accounts
                .iter()
                .map(|a| convert::account(a.record()))
                .collect(),
            next_page_token: page.next_page_token,
            total_size: page.total_size,
        }))
    }

    async fn update_account(
        &self,
        request: Request<pb::UpdateAccountRequest>,
    ) -> Result<Response<pb::Account>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        let account = r
            .account
            .ok_or_else(|| invalid_field("account", "is required"))?;
        let target = required("account.id", &account.id)?.to_string();
        let paths = r.update_mask.map(|m| m.paths).unwrap_or_default();
        if paths.is_empty() {
            return Err(invalid_field("update_mask", "must name at least one field"));
        }
        let mut patch = AccountPatch::default();
        let shorthand = r.credentials.is_empty();
        let mut credential = Some(credential_of(r.api_key, r.credentials)?);
        let mut seen = std::collections::HashSet::new();
        for path in &paths {
            let field = path.trim_start_matches("account.");
            // A field named twice is ambiguous (and `api_key` twice would set the key, then
            // clear it, and report success): refuse it rather than guess.
            if !seen.insert(field) {
                return Err(invalid_field(
                    "update_mask",
                    format!("names {field:?} more than once"),
                ));
            }
            match field {
                "name" => patch.name = Some(account.name.clone()),
                // Moving an account between tenants is a global admin's (audited as a change).
                "tenant" if caller.scope.is_global() => {
                    patch.tenant = Some(account.tenant.clone());
                }
                "tenant" => {
                    return Err(Status::permission_denied(format!(
                        "only a global admin may move an account to another tenant, not {}",
                        caller.principal
                    )));
                }
                "host_url" => patch.host_url = Some(account.host_url.clone()),
                "ws_url" => patch.ws_url = Some(account.ws_url.clone()),
                "labels" => patch.labels = Some(labels_of(account.labels.clone())),
                "enabled" => patch.enabled = Some(account.enabled),
                "api_key" | "credentials" => {
                    if patch.credential.is_some() {
                        return Err(invalid_field(
                            "update_mask",
                            "names api_key and credentials: they are the same field",
                        ));
                    }
                    patch.credential = credential.take();
                }
                other => {
                    return Err(invalid_field(
                        "update_mask",
                        format!(
                            "unknown or immutable field {other:?}; updatable: name, host_url, ws_url, labels, enabled, credentials (api_key), tenant (global admins)"
                        ),
                    ));
                }
            }
        }
        // A move counts against the destination's quota (only a global admin moves, and rarely:
        // checked before the write rather than under its lock).
        if let Some(to) = &patch.tenant
            && let Some(max) = self.0.tenants.load().max_accounts(to)
            && self.0.accounts.count_in(to) >= max
            && self
                .0
                .accounts
                .get_in(&caller.scope, &target)
                .is_ok_and(|current| current.tenant != *to)
        {
            return Err(status_of(crate::accounts::AccountError::Quota(format!(
                "tenant {to} owns {max} accounts, its max_accounts ([tenants] default_max_accounts or [tenants.{to}] max_accounts)"
            ))));
        }
        let record = self
            .0
            .accounts
            .update(
                &caller.actor(),
                &caller.scope,
                &target,
                &account.etag,
                patch,
            )
            .await
            .map_err(|e| status_of(as_sent(e, shorthand)))?;
        Ok(Response::new(convert::account(&record)))
    }

    async fn delete_account(
        &self,
        request: Request<pb::DeleteAccountRequest>,
    ) -> Result<Response<pb::DeleteAccountResponse>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        self.0
            .accounts
            .delete(
                &caller.actor(),
                &caller.scope,
                required("account", &r.account)?,
                &r.etag,
            )
            .await
            .map_err(status_of)?;
        Ok(Response::new(pb::DeleteAccountResponse {}))
    }

    /// Tests an existing account, or a host and key that are not saved. The key is only ever put
    /// in the upstream request body; the answer never carries it.
    async fn test_connection(
        &self,
        request: Request<pb::TestConnectionRequest>,
    ) -> Result<Response<pb::TestConnectionResponse>, Status> {
        let caller = Caller::of(&request)?;
        let r = request.into_inner();
        // An unsaved key sent to a host of the caller's choosing (an internal address, a cloud
        // metadata endpoint) is audited with its outcome; `None` for a saved account, whose
        // unsealing is audited before the test.
        let mut adhoc_target = None;
        let (kind, upstream) = if !r.account.trim().is_empty() {
            if !r.host_url.is_empty()
                || !r.api_key.is_empty()
                || !r.credentials.is_empty()
                || !r.connector.is_empty()
                || !r.environment.is_empty()
            {
                return Err(invalid_field(
                    "account",
                    "give either an account, or a host and credentials, not both",
                ));
            }
            let record = self
                .0
                .accounts
                .get_in(&caller.scope, &r.account)
                .map_err(status_of)?;
            // Unsealing a key is audited; no audit record, no test.
            self.0
                .audit
                .write(caller.actor().record(
                    "account.test",
                    &format!("account/{} ({})", record.id, record.name),
                    "ok; sealed key used for a connection test",
                ))
                .await
                .map_err(|e| Status::unavailable(format!("cannot write the audit record: {e}")))?;
            let upstream = self
                .0
                .accounts
                .upstream(&record)
                .map_err(|e| status_of(crate::accounts::AccountError::Seal(e)))?;
            (record.connector.clone(), upstream)
        } else {
            let kind = if r.connector.is_empty() {
                DEFAULT_CONNECTOR
            } else {
                r.connector.as_str()
            };
            let shorthand = r.credentials.is_empty();
            let credential = credential_of(r.api_key, r.credentials)?;
            let mut v = Vec::new();
            let mut host_url = r.host_url;
            let mut environment = String::new();
            if let Some(venue) = check_connector("connector", kind, &mut v) {
                if let Some(env) = check_environment("environment", venue, &r.environment, &mut v) {
                    environment = env.name.to_string();
                    if host_url.is_empty() {
                        match env.default_host {
                            Some(host) => host_url = host.to_string(),
                            None => v.push(FieldViolation::new(
                                "host_url",
                                "is required (or give an account)",
                            )),
                        }
                    }
                }
                check_credential("credentials", venue, &credential, &mut v);
            }
            let host_url = if host_url.is_empty() {
                None
            } else {
                normalize_url("host_url", &host_url, &["http", "https"], &mut v)
            };
            let (Some(host_url), true) = (host_url, v.is_empty()) else {
                return Err(status_of(as_sent(
                    crate::accounts::AccountError::Invalid(v),
                    shorthand,
                )));
            };
            adhoc_target = Some(format!("host {host_url}"));
            (
                kind.to_string(),
                Upstream::new("(test)", host_url, credential).in_environment(environment),
            )
        };
        let t = self.0.monitor.test_connection(&kind, &upstream).await;
        if let Some(target) = adhoc_target {
            let outcome = match t.reason {
                None => {
                    "ok; unsaved key sent for a connection test; reachable, key accepted".into()
                }
                Some(reason) => format!(
                    "failed; unsaved key sent for a connection test; reachable: {}, key accepted: {}, reason: {}",
                    t.reachable,
                    t.key_accepted,
                    reason.as_str()
                ),
            };
            // The answer is withheld if its audit record cannot be written.
            self.0
                .audit
                .write(caller.actor().record("account.test", &target, &outcome))
                .await
                .map_err(|e| Status::unavailable(format!("cannot write the audit record: {e}")))?;
        }
        Ok(Response::new(pb::TestConnectionResponse {
            reachable: t.reachable,
            key_accepted: t.key_accepted,
            broker: t.broker,
            mode: t.mode,
            session_alive: t.session_alive,
            latency: t.latency.map(convert::duration),
            reason: super::convert::health_reason(t.reason) as i32,
            message: t.message,
        }))
    }

    async fn list_venues(
        &self,
        _: Request<pb::ListVenuesRequest>,
    ) -> Result<Response<pb::ListVenuesResponse>, Status> {
        Ok(Response::new(pb::ListVenuesResponse {
            venues: VENUES.iter().map(|v| convert::venue(v)).collect(),
        }))
    }
}

/// Violations of a credential sent as OpenAlgo's `api_key` field are named `api_key`, the field
/// the client filled, not `credentials.api_key`.
fn as_sent(e: crate::accounts::AccountError, shorthand: bool) -> crate::accounts::AccountError {
    match e {
        crate::accounts::AccountError::Invalid(mut v) if shorthand => {
            for violation in &mut v {
                if violation.field == "credentials.api_key" {
                    violation.field = "api_key".into();
                }
            }
            crate::accounts::AccountError::Invalid(v)
        }
        other => other,
    }
}

/// A request's credential: OpenAlgo's `api_key` (kept for older clients), or the venue's
/// `credentials` fields; not both.
fn credential_of(
    api_key: String,
    credentials: impl IntoIterator<Item = (String, String)>,
) -> Result<Credential, Status> {
    let fields: Vec<(String, Secret)> = credentials
        .into_iter()
        .map(|(k, v)| (k, Secret::new(v)))
        .collect();
    match (api_key.is_empty(), fields.is_empty()) {
        (false, false) => Err(invalid_field(
            "credentials",
            "give api_key or credentials, not both (api_key is credentials {\"api_key\"})",
        )),
        (false, true) => Ok(Credential::api_key(Secret::new(api_key))),
        (true, _) => Ok(Credential::new(fields)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_are_bound_to_their_filter() {
        let t = encode_token("018f-id", "desk=a|None|0");
        assert_eq!(
            decode_token(&t, "desk=a|None|0").unwrap().as_deref(),
            Some("018f-id")
        );
        assert!(decode_token(&t, "desk=b|None|0").is_err());
        assert!(decode_token("garbage!!", "x").is_err());
        assert!(decode_token("", "x").unwrap().is_none());
    }
}
