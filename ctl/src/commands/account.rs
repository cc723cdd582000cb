//! `rosterctl account ...`: create, list, show, change, enable/disable, remove and test accounts.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use roster_proto::pbjson_types::FieldMask;
use roster_proto::v1::{
    Account, CreateAccountRequest, CredentialField, DeleteAccountRequest, GetAccountRequest,
    HealthState, ListAccountsRequest, ListAccountsResponse, ListVenuesRequest, ListVenuesResponse,
    TestConnectionRequest, TestConnectionResponse, UpdateAccountRequest,
};
use tonic::Code;

use super::bulk::{self, Action};
use super::credential::{self, Credential};
use super::{UsageError, read_key, show};
use crate::cli::{
    AccountCmd, AccountTarget, CredentialSource, KeySource, Output, StateArg, label_selector,
};
use crate::client::Client;
use crate::output;

/// The largest page the API serves; fewer round trips for 5,000 accounts.
const PAGE_SIZE: i32 = 1000;
/// A guard against a server that keeps handing out page tokens.
const MAX_PAGES: usize = 10_000;

pub fn state(s: StateArg) -> HealthState {
    match s {
        StateArg::Unknown => HealthState::Unknown,
        StateArg::Up => HealthState::Up,
        StateArg::Degraded => HealthState::Degraded,
        StateArg::Down => HealthState::Down,
        StateArg::Disabled => HealthState::Disabled,
    }
}

/// Whose credential fields a terminal prompt asks for: a venue named on the command line, or
/// the venue of an existing account (`account update`).
#[derive(Debug, Clone, Copy)]
pub enum VenueOf<'a> {
    Connector(&'a str),
    Account(&'a str),
}

/// The credential from its source. On a terminal, `--api-key-stdin` prompts for the key and
/// `--credentials-stdin` for each field the venue has (as the daemon lists them), without echo,
/// so no secret is left on the screen or in the scrollback.
async fn credential(
    client: &Client,
    src: Option<CredentialSource>,
    venue: VenueOf<'_>,
) -> Result<Option<Credential>> {
    use std::io::IsTerminal;
    let Some(src) = src else {
        return Ok(None);
    };
    let on_terminal = std::io::stdin().is_terminal();
    Ok(Some(match &src {
        CredentialSource::ApiKey(k @ KeySource::Stdin) if on_terminal => {
            let typed = rpassword::prompt_password("API key (not echoed): ")
                .context("cannot read the API key from the terminal")?;
            Credential::ApiKey(read_key(k, &mut typed.as_bytes())?)
        }
        CredentialSource::Fields(KeySource::Stdin) if on_terminal => {
            Credential::Fields(prompt_fields(client, venue).await?)
        }
        _ => credential::read(&src, &mut std::io::stdin().lock())?,
    }))
}

/// Asks for every credential field of the venue, one no-echo prompt each.
async fn prompt_fields(client: &Client, venue: VenueOf<'_>) -> Result<HashMap<String, String>> {
    let connector = match venue {
        VenueOf::Connector("") => "openalgo".to_owned(),
        VenueOf::Connector(c) => c.to_owned(),
        VenueOf::Account(a) => {
            client
                .accounts()
                .get_account(GetAccountRequest {
                    account: a.to_owned(),
                })
                .await?
                .into_inner()
                .connector
        }
    };
    let venues = client
        .accounts()
        .list_venues(ListVenuesRequest {})
        .await?
        .into_inner();
    let fields = venue_fields(&venues, &connector)?;
    let mut typed = HashMap::with_capacity(fields.len());
    for f in fields {
        let prompt = if f.description.is_empty() {
            format!("{} (not echoed): ", one_line(&f.name))
        } else {
            format!(
                "{}, {} (not echoed): ",
                one_line(&f.name),
                one_line(&f.description)
            )
        };
        let v = rpassword::prompt_password(prompt)
            .with_context(|| format!("cannot read {} from the terminal", f.name))?;
        typed.insert(f.name.clone(), v);
    }
    Ok(typed)
}

/// The credential fields of `connector` as the daemon lists them; a venue it does not have is a
/// usage error naming the ones it has.
pub fn venue_fields<'a>(
    venues: &'a ListVenuesResponse,
    connector: &str,
) -> Result<&'a [CredentialField]> {
    match venues
        .venues
        .iter()
        .find(|v| v.connector.eq_ignore_ascii_case(connector))
    {
        Some(v) if !v.credential_fields.is_empty() => Ok(&v.credential_fields),
        Some(_) => bail!("the daemon lists no credential fields for {connector:?}"),
        None => {
            let known: Vec<&str> = venues.venues.iter().map(|v| v.connector.as_str()).collect();
            Err(UsageError(format!(
                "unknown connector {connector:?}: the daemon has {}",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ))
            .into())
        }
    }
}

/// What the daemon wrote, safe to put on a terminal line (no escape sequences, no newlines).
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The request's two credential fields: OpenAlgo's `api_key`, or the venue's `credentials`.
fn credential_parts(c: Option<Credential>) -> (String, HashMap<String, String>) {
    match c {
        Some(Credential::ApiKey(k)) => (k, HashMap::new()),
        Some(Credential::Fields(f)) => (String::new(), f),
        None => (String::new(), HashMap::new()),
    }
}

/// What `account add` sends.
#[derive(Debug, Default)]
pub struct CreateFlags {
    pub name: String,
    pub connector: String,
    pub env: Option<String>,
    pub host: Option<String>,
    pub ws: Option<String>,
    pub labels: Vec<(String, String)>,
    pub disabled: bool,
    pub credential: Option<Credential>,
}

/// Empty environment and host leave the choice to the daemon: the venue's default environment,
/// and its URL for that environment (OpenAlgo has none; the daemon says a host is required).
pub fn create_request(f: CreateFlags) -> CreateAccountRequest {
    let (api_key, credentials) = credential_parts(f.credential);
    CreateAccountRequest {
        // Idempotency key: a retry after a lost answer must not create a second account.
        request_id: uuid::Uuid::new_v4().to_string(),
        name: f.name,
        connector: f.connector,
        host_url: f.host.unwrap_or_default(),
        ws_url: f.ws.unwrap_or_default(),
        api_key,
        labels: f.labels.into_iter().collect(),
        enabled: f.disabled.then_some(false),
        environment: f.env.unwrap_or_default(),
        credentials,
        // The caller's tenant; `--tenant` (request metadata) narrows a global admin to another.
        tenant: String::new(),
    }
}

/// What `account test` sends without an account: a venue, host and credential not saved.
pub fn adhoc_test_request(
    connector: Option<String>,
    env: Option<String>,
    host: Option<String>,
    credential: Option<Credential>,
) -> TestConnectionRequest {
    let (api_key, credentials) = credential_parts(credential);
    TestConnectionRequest {
        account: String::new(),
        host_url: host.unwrap_or_default(),
        api_key,
        connector: connector.unwrap_or_default(),
        environment: env.unwrap_or_default(),
        credentials,
    }
}

/// What `account update` sends: only the fields given, named in the mask.
#[derive(Debug, Default)]
pub struct UpdateFlags {
    pub name: Option<String>,
    pub host: Option<String>,
    pub ws: Option<String>,
    pub labels: Vec<(String, String)>,
    pub clear_labels: bool,
    pub credential: Option<Credential>,
}

pub fn update_request(account: &str, f: UpdateFlags) -> Result<UpdateAccountRequest> {
    let mut a = Account {
        id: account.to_owned(),
        ..Default::default()
    };
    let mut paths = Vec::new();
    if let Some(n) = f.name {
        a.name = n;
        paths.push("name");
    }
    if let Some(h) = f.host {
        a.host_url = h;
        paths.push("host_url");
    }
    if let Some(w) = f.ws {
        a.ws_url = w;
        paths.push("ws_url");
    }
    if !f.labels.is_empty() || f.clear_labels {
        a.labels = f.labels.into_iter().collect();
        paths.push("labels");
    }
    let (api_key, credentials) = credential_parts(f.credential);
    if !api_key.is_empty() {
        paths.push("api_key");
    }
    if !credentials.is_empty() {
        // Every field of the venue, sealed together: the daemon refuses a partial set.
        paths.push("credentials");
    }
    if paths.is_empty() {
        bail!(
            "nothing to update: give at least one of --name, --host, --ws, --label, \
             --clear-labels, --api-key-stdin, --api-key-file, --credentials-stdin, \
             --credentials-file"
        );
    }
    Ok(UpdateAccountRequest {
        account: Some(a),
        update_mask: Some(FieldMask {
            paths: paths.into_iter().map(str::to_owned).collect(),
        }),
        api_key,
        credentials,
    })
}

pub fn enable_request(account: &str, enabled: bool) -> UpdateAccountRequest {
    UpdateAccountRequest {
        account: Some(Account {
            id: account.to_owned(),
            enabled,
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["enabled".into()],
        }),
        ..Default::default()
    }
}

pub async fn run(client: &Client, cmd: AccountCmd, output: Output) -> Result<()> {
    let mut svc = client.accounts();
    match cmd {
        AccountCmd::Add {
            name,
            connector,
            env,
            host,
            ws,
            labels,
            disabled,
            no_test,
            key: key_args,
        } => {
            let credential =
                credential(client, key_args.source(), VenueOf::Connector(&connector)).await?;
            let req = create_request(CreateFlags {
                name,
                connector,
                env,
                host,
                ws,
                labels,
                disabled,
                credential,
            });
            let acc = match svc.create_account(req.clone()).await {
                Ok(r) => r.into_inner(),
                Err(s) if s.code() == Code::Unavailable => {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    svc.create_account(req).await?.into_inner()
                }
                Err(s) => return Err(s.into()),
            };
            show(output, &acc, |a| {
                format!(
                    "created account {}\n{}",
                    a.name,
                    output::account::account(a)
                )
            })?;
            // Saved either way (the upstream may come up later); a wrong key is said now, not
            // found out at the first failed check. The test is by account, so it is the same
            // deep check for every venue.
            if !no_test && !disabled {
                let r = svc
                    .test_connection(TestConnectionRequest {
                        account: acc.id.clone(),
                        ..Default::default()
                    })
                    .await?
                    .into_inner();
                if let Some(problem) = test_problem(&r) {
                    eprintln!(
                        "warning: account {} saved, but its connection test failed: {problem}",
                        acc.name
                    );
                } else if let Some(note) = test_note(&r) {
                    eprintln!("warning: account {} saved; {note}", acc.name);
                }
            }
            Ok(())
        }
        AccountCmd::List {
            labels,
            state: st,
            sort,
            desc,
        } => {
            let resp = list_all(client, &label_selector(&labels), st.map(state)).await?;
            // Only the table's rows are ordered; -o json is the daemon's answer as it came.
            show(output, &resp, |r| {
                let mut r = r.clone();
                output::account::sort_accounts(&mut r.accounts, sort, desc);
                output::account::account_list(&r)
            })
        }
        AccountCmd::Get { account } => {
            let a = svc
                .get_account(GetAccountRequest { account })
                .await?
                .into_inner();
            show(output, &a, output::account::account)
        }
        AccountCmd::Update {
            account,
            name,
            host,
            ws,
            labels,
            clear_labels,
            key: key_args,
        } => {
            let credential =
                credential(client, key_args.source(), VenueOf::Account(&account)).await?;
            let req = update_request(
                &account,
                UpdateFlags {
                    name,
                    host,
                    ws,
                    labels,
                    clear_labels,
                    credential,
                },
            )?;
            let a = svc.update_account(req).await?.into_inner();
            show(output, &a, |a| {
                format!(
                    "updated account {}\n{}",
                    a.name,
                    output::account::account(a)
                )
            })
        }
        AccountCmd::Enable { target } => switch(client, Action::Enable, target, output).await,
        AccountCmd::Disable { target } => switch(client, Action::Disable, target, output).await,
        AccountCmd::Remove { target } => {
            let account = match one_or_labels(target) {
                Ok(account) => account,
                Err((labels, yes)) => {
                    return bulk::run(client, Action::Remove, &labels, yes, output).await;
                }
            };
            let r = svc
                .delete_account(DeleteAccountRequest {
                    account: account.clone(),
                    etag: String::new(),
                })
                .await?
                .into_inner();
            show(output, &r, |_| format!("removed account {account}\n"))
        }
        AccountCmd::Test {
            account,
            connector,
            env,
            host,
            key: key_args,
        } => {
            let req = match account {
                Some(account) => TestConnectionRequest {
                    account,
                    ..Default::default()
                },
                None => {
                    let venue = VenueOf::Connector(connector.as_deref().unwrap_or_default());
                    let c = credential(client, key_args.source(), venue).await?;
                    adhoc_test_request(connector, env, host, c)
                }
            };
            let r = svc.test_connection(req).await?.into_inner();
            show(output, &r, output::account::test_connection)?;
            // A failed test is a failed operation: scripts check the exit code.
            match test_problem(&r) {
                Some(problem) => bail!("connection test failed: {problem}"),
                None => Ok(()),
            }
        }
    }
}

/// `account enable|disable`: one account, or every account with the labels.
async fn switch(
    client: &Client,
    action: Action,
    target: AccountTarget,
    output: Output,
) -> Result<()> {
    let account = match one_or_labels(target) {
        Ok(account) => account,
        Err((labels, yes)) => return bulk::run(client, action, &labels, yes, output).await,
    };
    let enable = action == Action::Enable;
    let a = client
        .accounts()
        .update_account(enable_request(&account, enable))
        .await?
        .into_inner();
    let done = if enable { "enabled" } else { "disabled" };
    show(output, &a, |a| format!("{done} account {}\n", a.name))
}

/// The one account named (`Ok`), or the label selector and `--yes` of a bulk action (`Err`):
/// clap's group has made sure there is exactly one of the two.
fn one_or_labels(t: AccountTarget) -> std::result::Result<String, (Vec<(String, String)>, bool)> {
    match t.which.account {
        Some(account) => Ok(account),
        None => Err((t.which.labels, t.yes)),
    }
}

/// `rosterctl venues`: what each connector needs and has.
pub async fn venues(client: &Client, output: Output) -> Result<()> {
    let r = client
        .accounts()
        .list_venues(ListVenuesRequest {})
        .await?
        .into_inner();
    show(output, &r, output::account::venues)
}

/// Why a connection test did not pass, if it did not: unreachable, key refused, or a dead broker
/// session (the key works but no book would).
fn test_problem(r: &TestConnectionResponse) -> Option<String> {
    if r.reachable && r.key_accepted && r.session_alive {
        return None;
    }
    Some(if r.message.is_empty() {
        output::format::reason_name(r.reason)
    } else {
        r.message.clone()
    })
}

/// What a passed test still has to say: the key works and reads work, but the venue restricts
/// the account (Alpaca's blocked trading); `account test` shows it in its table.
fn test_note(r: &TestConnectionResponse) -> Option<String> {
    (r.reason != 0 && !r.message.is_empty()).then(|| r.message.clone())
}

/// Every page of `ListAccounts`, as one response.
pub async fn list_all(
    client: &Client,
    selector: &str,
    state: Option<HealthState>,
) -> Result<ListAccountsResponse> {
    let mut svc = client.accounts();
    let mut all = ListAccountsResponse::default();
    let mut token = String::new();
    for _ in 0..MAX_PAGES {
        let page = svc
            .list_accounts(ListAccountsRequest {
                page_size: PAGE_SIZE,
                page_token: token.clone(),
                label_selector: selector.to_owned(),
                enabled: None,
                state: state.map_or(0, |s| s as i32),
            })
            .await?
            .into_inner();
        all.accounts.extend(page.accounts);
        all.total_size = page.total_size;
        if page.next_page_token.is_empty() || page.next_page_token == token {
            return Ok(all);
        }
        token = page.next_page_token;
    }
    bail!("the daemon kept returning pages after {MAX_PAGES}; giving up")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_mask_names_only_given_fields() {
        let r = update_request(
            "acc1",
            UpdateFlags {
                host: Some("http://h".into()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(r.update_mask.unwrap().paths, vec!["host_url"]);
        let a = r.account.unwrap();
        assert_eq!((a.id.as_str(), a.host_url.as_str()), ("acc1", "http://h"));
        assert!(r.api_key.is_empty());

        let r = update_request(
            "acc1",
            UpdateFlags {
                name: Some("n".into()),
                ws: Some(String::new()),
                labels: vec![("a".into(), "1".into())],
                credential: Some(Credential::ApiKey("k".into())),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            r.update_mask.unwrap().paths,
            vec!["name", "ws_url", "labels", "api_key"]
        );
        assert_eq!(r.api_key, "k");
        assert_eq!(
            r.account.unwrap().labels.get("a").map(String::as_str),
            Some("1")
        );

        let r = update_request(
            "x",
            UpdateFlags {
                clear_labels: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(r.update_mask.unwrap().paths, vec!["labels"]);
        assert!(r.account.unwrap().labels.is_empty());
    }

    #[test]
    fn credential_fields_are_sent_whole_under_the_credentials_mask() {
        let fields: HashMap<String, String> = [("key_id", "PK1"), ("secret_key", "s")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let r = update_request(
            "alp1",
            UpdateFlags {
                credential: Some(Credential::Fields(fields.clone())),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(r.update_mask.unwrap().paths, vec!["credentials"]);
        assert_eq!(r.credentials, fields);
        assert!(r.api_key.is_empty());

        let c = create_request(CreateFlags {
            name: "alp1".into(),
            connector: "alpaca".into(),
            env: Some("paper".into()),
            credential: Some(Credential::Fields(fields.clone())),
            ..Default::default()
        });
        assert_eq!(
            (c.connector.as_str(), c.environment.as_str()),
            ("alpaca", "paper")
        );
        // No host given: empty, for the daemon to fill with the venue's URL for paper.
        assert!(c.host_url.is_empty() && c.api_key.is_empty());
        assert_eq!(c.credentials, fields);
        assert_eq!(c.enabled, None);
        assert!(!c.request_id.is_empty());

        let c = create_request(CreateFlags {
            name: "oa".into(),
            connector: "openalgo".into(),
            host: Some("http://h".into()),
            disabled: true,
            credential: Some(Credential::ApiKey("k".into())),
            ..Default::default()
        });
        assert_eq!((c.api_key.as_str(), c.host_url.as_str()), ("k", "http://h"));
        assert!(c.credentials.is_empty() && c.environment.is_empty());
        assert_eq!(c.enabled, Some(false));

        let t = adhoc_test_request(
            Some("alpaca".into()),
            Some("paper".into()),
            None,
            Some(Credential::Fields(fields.clone())),
        );
        assert_eq!(
            (t.connector.as_str(), t.environment.as_str()),
            ("alpaca", "paper")
        );
        assert!(t.account.is_empty() && t.host_url.is_empty() && t.api_key.is_empty());
        assert_eq!(t.credentials, fields);
    }

    #[test]
    fn prompts_ask_for_the_fields_the_daemon_lists() {
        use roster_proto::v1::Venue;
        let venues = ListVenuesResponse {
            venues: vec![
                Venue {
                    connector: "openalgo".into(),
                    credential_fields: vec![CredentialField {
                        name: "api_key".into(),
                        description: String::new(),
                    }],
                    ..Default::default()
                },
                Venue {
                    connector: "alpaca".into(),
                    credential_fields: vec![
                        CredentialField {
                            name: "key_id".into(),
                            description: "API key ID".into(),
                        },
                        CredentialField {
                            name: "secret_key".into(),
                            description: "API secret key".into(),
                        },
                    ],
                    ..Default::default()
                },
            ],
        };
        let names = |c: &str| -> Vec<String> {
            venue_fields(&venues, c)
                .unwrap()
                .iter()
                .map(|f| f.name.clone())
                .collect()
        };
        assert_eq!(names("alpaca"), ["key_id", "secret_key"]);
        assert_eq!(names("Alpaca"), ["key_id", "secret_key"]);
        assert_eq!(names("openalgo"), ["api_key"]);
        let e = venue_fields(&venues, "kraken").unwrap_err();
        assert!(e.downcast_ref::<UsageError>().is_some());
        assert!(
            e.to_string().contains("\"kraken\"") && e.to_string().contains("openalgo, alpaca"),
            "{e}"
        );
        assert_eq!(one_line("a\x1b[2Jb\nc"), "a [2Jb c");
    }

    #[test]
    fn a_restricted_account_passes_its_test_with_a_note() {
        let mut r = TestConnectionResponse {
            reachable: true,
            key_accepted: true,
            session_alive: true,
            ..Default::default()
        };
        assert_eq!((test_problem(&r), test_note(&r)), (None, None));
        r.reason = roster_proto::v1::HealthReason::AccountRestricted as i32;
        r.message = "key accepted, reads work, but trading is blocked".into();
        assert_eq!(test_problem(&r), None);
        assert!(test_note(&r).unwrap().contains("trading is blocked"));
        r.session_alive = false;
        assert!(test_problem(&r).is_some());
    }

    #[test]
    fn empty_update_is_refused() {
        let e = update_request("x", UpdateFlags::default()).unwrap_err();
        assert!(e.to_string().contains("nothing to update"));
    }

    #[test]
    fn enable_and_disable_touch_only_enabled() {
        let r = enable_request("acc1", false);
        assert_eq!(r.update_mask.unwrap().paths, vec!["enabled"]);
        let a = r.account.unwrap();
        assert!(!a.enabled);
        assert_eq!(a.id, "acc1");
        assert!(enable_request("acc1", true).account.unwrap().enabled);
    }
}
