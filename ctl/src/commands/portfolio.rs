//! `rosterctl funds|positions|orders|trades|holdings`: consolidated views across accounts.

use anyhow::Result;
use roster_proto::pbjson_types::Duration as PbDuration;
use roster_proto::v1::PortfolioRequest;

use super::show;
use crate::cli::{NetPortfolioArgs, OrdersArgs, Output, PortfolioArgs, label_selector};
use crate::client::Client;
use crate::output;

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

pub async fn funds(c: &Client, a: &PortfolioArgs, output: Output) -> Result<()> {
    let v = c
        .portfolio()
        .get_funds(request(a, None))
        .await?
        .into_inner();
    show(output, &v, output::portfolio::funds)
}

pub async fn positions(c: &Client, a: &NetPortfolioArgs, output: Output) -> Result<()> {
    let v = c
        .portfolio()
        .get_positions(request(&a.common, None))
        .await?
        .into_inner();
    show(output, &v, |v| output::portfolio::positions(v, a.net))
}

pub async fn orders(c: &Client, a: &OrdersArgs, output: Output) -> Result<()> {
    let v = c
        .portfolio()
        .get_orders(request(&a.common, a.status.as_deref()))
        .await?
        .into_inner();
    show(output, &v, output::portfolio::orders)
}

pub async fn trades(c: &Client, a: &PortfolioArgs, output: Output) -> Result<()> {
    let v = c
        .portfolio()
        .get_trades(request(a, None))
        .await?
        .into_inner();
    show(output, &v, output::portfolio::trades)
}

pub async fn holdings(c: &Client, a: &NetPortfolioArgs, output: Output) -> Result<()> {
    let v = c
        .portfolio()
        .get_holdings(request(&a.common, None))
        .await?
        .into_inner();
    show(output, &v, |v| output::portfolio::holdings(v, a.net))
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
            },
            None,
        );
        assert!(r.max_staleness.is_none() && r.label_selector.is_empty() && r.status.is_empty());
    }
}
