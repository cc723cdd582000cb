//! The benchmark harness behind `roster-bench`: each scenario starts the real `rosterd` (release
//! build) in a temp dir, simulated OpenAlgo upstreams in this process, drives the real gRPC API
//! over mTLS, and measures the daemon through its own /proc accounting. See BENCHMARKS.md.

pub mod daemon;
pub mod fleet;
pub mod grpc;
pub mod lifecycle;
pub mod measure;
pub mod portfolio;
pub mod raw;
pub mod report;
pub mod sweep;
pub mod venues;
pub mod writes;

use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt as _;
use roster_proto::v1::CreateAccountRequest;
use roster_proto::v1::account_service_client::AccountServiceClient;
use tonic::transport::Channel;

/// A create request for account `name` at `host_url`.
pub fn account(name: String, host_url: String, key: String, enabled: bool) -> CreateAccountRequest {
    CreateAccountRequest {
        name,
        host_url,
        api_key: key,
        enabled: Some(enabled),
        ..Default::default()
    }
}

/// Creates the accounts with `concurrency` requests in flight on one channel; returns their ids
/// in request order and the time it took.
pub async fn create_accounts(
    ch: &Channel,
    reqs: Vec<CreateAccountRequest>,
    concurrency: usize,
) -> anyhow::Result<(Vec<String>, Duration)> {
    let started = Instant::now();
    let ids: Vec<anyhow::Result<String>> = futures::stream::iter(reqs)
        .map(|r| {
            let mut c = AccountServiceClient::new(ch.clone());
            async move {
                let name = r.name.clone();
                Ok(c.create_account(r)
                    .await
                    .with_context(|| format!("create {name}"))?
                    .into_inner()
                    .id)
            }
        })
        .buffered(concurrency)
        .collect()
        .await;
    let ids = ids.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    Ok((ids, started.elapsed()))
}
