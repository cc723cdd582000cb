//! `rosterctl account ...`: create, list, show, change, enable/disable, remove and test accounts.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use roster_proto::pbjson_types::FieldMask;
use roster_proto::v1::{
    Account, CreateAccountRequest, DeleteAccountRequest, GetAccountRequest, HealthState,
    ListAccountsRequest, ListAccountsResponse, TestConnectionRequest, TestConnectionResponse,
    UpdateAccountRequest,
};
use tonic::Code;

use super::{read_key, show};
use crate::cli::{AccountCmd, KeySource, Output, StateArg, label_selector};
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

/// The API key from its source. `--api-key-stdin` on a terminal prompts without echo, so the
/// key is not left on the screen or in the scrollback.
fn key(src: Option<KeySource>) -> Result<Option<String>> {
    use std::io::IsTerminal;
    src.map(|s| {
        if s == KeySource::Stdin && std::io::stdin().is_terminal() {
            let typed = rpassword::prompt_password("API key (not echoed): ")
                .context("cannot read the API key from the terminal")?;
            read_key(&s, &mut typed.as_bytes())
        } else {
            read_key(&s, &mut std::io::stdin().lock())
        }
    })
    .transpose()
}

/// What `account update` sends: only the fields given, named in the mask.
#[derive(Debug, Default)]
pub struct UpdateFlags {
    pub name: Option<String>,
    pub host: Option<String>,
    pub ws: Option<String>,
    pub labels: Vec<(String, String)>,
    pub clear_labels: bool,
    pub api_key: Option<String>,
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
    let api_key = f.api_key.unwrap_or_default();
    if !api_key.is_empty() {
        paths.push("api_key");
    }
    if paths.is_empty() {
        bail!(
            "nothing to update: give at least one of --name, --host, --ws, --label, \
             --clear-labels, --api-key-stdin, --api-key-file"
        );
    }
    Ok(UpdateAccountRequest {
        account: Some(a),
        update_mask: Some(FieldMask {
            paths: paths.into_iter().map(str::to_owned).collect(),
        }),
        api_key,
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
        api_key: String::new(),
    }
}

pub async fn run(client: &Client, cmd: AccountCmd, output: Output) -> Result<()> {
    let mut svc = client.accounts();
    match cmd {
        AccountCmd::Add {
            name,
            host,
            ws,
            labels,
            disabled,
            no_test,
            key: key_args,
        } => {
            let api_key = key(key_args.source())?.unwrap_or_default();
            let req = CreateAccountRequest {
                // Idempotency key: a retry after a lost answer must not create a second account.
                request_id: uuid::Uuid::new_v4().to_string(),
                name,
                connector: String::new(),
                host_url: host,
                ws_url: ws.unwrap_or_default(),
                api_key,
                labels: labels.into_iter().collect(),
                enabled: disabled.then_some(false),
            };
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
            // found out at the first failed check.
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
                }
            }
            Ok(())
        }
        AccountCmd::List { labels, state: st } => {
            let resp = list_all(client, &label_selector(&labels), st.map(state)).await?;
            show(output, &resp, output::account::account_list)
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
            let api_key = key(key_args.source())?;
            let req = update_request(
                &account,
                UpdateFlags {
                    name,
                    host,
                    ws,
                    labels,
                    clear_labels,
                    api_key,
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
        AccountCmd::Enable { account } => {
            let a = svc
                .update_account(enable_request(&account, true))
                .await?
                .into_inner();
            show(output, &a, |a| format!("enabled account {}\n", a.name))
        }
        AccountCmd::Disable { account } => {
            let a = svc
                .update_account(enable_request(&account, false))
                .await?
                .into_inner();
            show(output, &a, |a| format!("disabled account {}\n", a.name))
        }
        AccountCmd::Remove { account } => {
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
            host,
            key: key_args,
        } => {
            let req = match (account, host) {
                (Some(account), _) => TestConnectionRequest {
                    account,
                    ..Default::default()
                },
                (None, Some(host_url)) => TestConnectionRequest {
                    account: String::new(),
                    host_url,
                    api_key: key(key_args.source())?.unwrap_or_default(),
                },
                // clap enforces one of the two; keep a clear message anyway.
                (None, None) => bail!("give an account (ID|NAME) or --host with an API key"),
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
                api_key: Some("k".into()),
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
