//! `rosterctl funds|balances|positions|orders|trades|holdings`: consolidated views across
//! accounts, and whether the answer is complete (exit 0) or partial (exit 3).

use anyhow::Result;
use roster_proto::pbjson_types::Duration as PbDuration;
use roster_proto::section::PortfolioSection;
use roster_proto::v1::PortfolioRequest;

use super::{Outcome, UsageError, show};
use crate::cli::{Command, NetPortfolioArgs, OrdersArgs, Output, PortfolioArgs, label_selector};
use crate::client::Client;
use crate::output;
use crate::output::sort::{BookOrder, book_order};

pub fn request(a: &PortfolioArgs, status: Option<&str>) -> PortfolioRequest {
    PortfolioRequest {
        accounts: a.accounts.clone(),
        label_selector: label_selector(&a.labels),
        max_staleness: a.max_staleness.map(|d| PbDuration {
            seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
        }),
        refresh: a.refresh,
        status: status.unwrap_or_default().to_owned(),
    }
}

/// The order `--sort KEY [--desc]` asks of `book`; an unknown key is a usage error (exit 2)
/// naming the keys the book takes.
pub fn order(a: &PortfolioArgs, book: &str) -> Result<BookOrder> {
    book_order(book, &a.sort, a.desc).map_err(|e| UsageError(e).into())
}

/// A book command's `--sort` checked before anything is asked of the daemon, so a typo is a
/// usage error even when the daemon is not there.
pub fn check_sort(command: &Command) -> Result<()> {
    let (args, book) = match command {
        Command::Funds(a) => (a, "funds"),
        Command::Balances(a) => (a, "balances"),
        Command::Positions(a) => (&a.common, "positions"),
        Command::Orders(a) => (&a.common, "orders"),
        Command::Trades(a) => (a, "trades"),
        Command::Holdings(a) => (&a.common, "holdings"),
        _ => return Ok(()),
    };
    order(args, book).map(|_| ())
}

/// Prints a book, then says whether it is complete: every selected account's section has data
/// that is neither stale nor failed. The book is printed either way (table or JSON).
fn show_book<V: serde::Serialize, S: PortfolioSection>(
    output: Output,
    view: &V,
    sections: &[S],
    table: impl FnOnce(&V) -> String,
) -> Result<Outcome> {
    show(output, view, table)?;
    Ok(outcome(sections))
}

/// [`Outcome::Partial`] when any section is stale, failed, or left out of the answer (no data,
/// whatever the reason), else [`Outcome::Complete`]. No accounts selected is complete, and so is
/// a section whose venue does not have the book: there is nothing missing to wait or retry for.
pub fn outcome<S: PortfolioSection>(sections: &[S]) -> Outcome {
    let complete = sections.iter().all(|s| {
        let s = s.account_section();
        let answered = s.has_data && !s.stale;
        (answered || s.unsupported) && s.error.is_empty() && s.error_reason == 0
    });
    if complete {
        Outcome::Complete
    } else {
        Outcome::Partial
    }
}

pub async fn funds(c: &Client, a: &PortfolioArgs, output: Output) -> Result<Outcome> {
    let v = c
        .portfolio()
        .get_funds(request(a, None))
        .await?
        .into_inner();
    let order = order(a, "funds")?;
    show_book(output, &v, &v.accounts, |v| {
        output::portfolio::funds(v, order)
    })
}

pub async fn balances(c: &Client, a: &PortfolioArgs, output: Output) -> Result<Outcome> {
    let v = c
        .portfolio()
        .get_balances(request(a, None))
        .await?
        .into_inner();
    let order = order(a, "balances")?;
    show_book(output, &v, &v.accounts, |v| {
        output::portfolio::balances(v, order)
    })
}

pub async fn positions(c: &Client, a: &NetPortfolioArgs, output: Output) -> Result<Outcome> {
    let v = c
        .portfolio()
        .get_positions(request(&a.common, None))
        .await?
        .into_inner();
    let order = order(&a.common, "positions")?;
    show_book(output, &v, &v.accounts, |v| {
        output::portfolio::positions(v, a.net, order)
    })
}

pub async fn orders(c: &Client, a: &OrdersArgs, output: Output) -> Result<Outcome> {
    let v = c
        .portfolio()
        .get_orders(request(&a.common, a.status.as_deref()))
        .await?
        .into_inner();
    let order = order(&a.common, "orders")?;
    show_book(output, &v, &v.accounts, |v| {
        output::portfolio::orders(v, order)
    })
}

pub async fn trades(c: &Client, a: &PortfolioArgs, output: Output) -> Result<Outcome> {
    let v = c
        .portfolio()
        .get_trades(request(a, None))
        .await?
        .into_inner();
    let order = order(a, "trades")?;
    show_book(output, &v, &v.accounts, |v| {
        output::portfolio::trades(v, order)
    })
}

pub async fn holdings(c: &Client, a: &NetPortfolioArgs, output: Output) -> Result<Outcome> {
    let v = c
        .portfolio()
        .get_holdings(request(&a.common, None))
        .await?
        .into_inner();
    let order = order(&a.common, "holdings")?;
    show_book(output, &v, &v.accounts, |v| {
        output::portfolio::holdings(v, a.net, order)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn request_carries_selection_and_freshness() {
        let a = PortfolioArgs {
            accounts: vec!["acc1".into(), "0190-id".into()],
            labels: vec![("desk".into(), "a".into()), ("tier".into(), "1".into())],
            refresh: true,
            max_staleness: Some(Duration::from_millis(1500)),
            sort: "name".into(),
            desc: false,
        };
        let r = request(&a, Some("open"));
        assert_eq!(r.accounts, vec!["acc1", "0190-id"]);
        assert_eq!(r.label_selector, "desk=a,tier=1");
        assert!(r.refresh);
        assert_eq!(r.status, "open");
        let d = r.max_staleness.unwrap();
        assert_eq!((d.seconds, d.nanos), (1, 500_000_000));
        let r = request(
            &PortfolioArgs {
                accounts: vec![],
                labels: vec![],
                refresh: false,
                max_staleness: None,
                sort: "cash".into(),
                desc: true,
            },
            None,
        );
        assert!(r.max_staleness.is_none() && r.label_selector.is_empty() && r.status.is_empty());
    }

    #[test]
    fn an_unknown_sort_key_is_a_usage_error_naming_the_books_keys() {
        use clap::Parser as _;
        let parse = |args: &[&str]| {
            crate::cli::Cli::try_parse_from(
                std::iter::once("rosterctl").chain(args.iter().copied()),
            )
            .unwrap()
            .command
        };
        for (args, keys) in [
            (&["funds", "--sort", "pnl"][..], "name, cash"),
            (&["positions", "--net", "--sort", "cash"][..], "name, pnl"),
            (&["orders", "--sort", "value"][..], "name, price"),
            (&["trades", "--sort", "pnl"][..], "name, value"),
            (&["balances", "--sort", "cash"][..], "name, total"),
            (&["holdings", "--sort", "x"][..], "name, pnl"),
        ] {
            let e = check_sort(&parse(args)).unwrap_err();
            assert!(e.downcast_ref::<UsageError>().is_some(), "{args:?}");
            assert!(e.to_string().ends_with(keys), "{args:?}: {e}");
        }
        for ok in [
            &["funds", "--sort", "cash", "--desc"][..],
            &["positions", "--sort", "pnl"][..],
            &["account", "list"][..],
        ] {
            assert!(check_sort(&parse(ok)).is_ok(), "{ok:?}");
        }
    }

    #[test]
    fn a_stale_failed_or_empty_section_makes_the_answer_partial() {
        use roster_proto::v1::{AccountFunds, AccountSection, HealthReason};
        let fresh = AccountSection {
            account_name: "a".into(),
            has_data: true,
            ..Default::default()
        };
        let with = |f: fn(&mut AccountSection)| {
            let mut s = fresh.clone();
            f(&mut s);
            let mut m = AccountFunds::default();
            m.set_account_section(s);
            m
        };
        let ok = with(|_| {});
        assert_eq!(outcome::<AccountFunds>(&[]), Outcome::Complete);
        assert_eq!(outcome(&[ok.clone(), ok.clone()]), Outcome::Complete);
        let partial = [
            with(|s| s.stale = true),
            with(|s| {
                s.has_data = false;
                s.error = "CONNECT: refused".into();
                s.error_reason = HealthReason::Connect as i32;
            }),
            // A disabled account's last data: stale, no upstream reason.
            with(|s| s.error = "account is disabled".into()),
            // A section with no data and nothing said about it is not a complete answer.
            with(|s| s.has_data = false),
        ];
        for p in partial {
            assert_eq!(outcome(&[ok.clone(), p.clone()]), Outcome::Partial, "{p:?}");
        }
        // A venue without the book: no data and not partial, so a script does not retry.
        let unsupported = with(|s| {
            s.has_data = false;
            s.unsupported = true;
            s.connector = "alpaca".into();
        });
        assert_eq!(
            outcome(&[ok.clone(), unsupported.clone()]),
            Outcome::Complete
        );
        assert_eq!(
            outcome(std::slice::from_ref(&unsupported)),
            Outcome::Complete
        );
        // ...but an unsupported section next to a stale one is still partial.
        assert_eq!(
            outcome(&[unsupported, with(|s| s.stale = true)]),
            Outcome::Partial
        );
        assert_eq!(
            (Outcome::Complete.exit_code(), Outcome::Partial.exit_code()),
            (0, 3)
        );
    }
}
