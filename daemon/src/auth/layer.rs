//! The tower layer in front of every service: it authenticates, rate-limits and authorizes each
//! request (`policy`), reports refusals, and keeps the connection busy while a response streams.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use futures::future::BoxFuture;
use tonic::Code;
use tracing::{Instrument, debug, warn};

use super::policy::{AccessPolicy, AuditAs, rpc_name};
use super::target;
use crate::audit::{AuditSink, named_account_target};
use crate::conns::Peer;
use crate::conns::TrackedBody;
use crate::refusals::{Kind, Refusals};

/// What the layer shares across requests; the policy is swapped by a reload.
pub struct AuthState {
    pub policy: ArcSwap<AccessPolicy>,
    /// Where role refusals are audited (not `accounts`: authentication knows nothing of them).
    pub audit: AuditSink,
    pub refusals: Arc<Refusals>,
    /// This daemon's instruments (RPCs by method and code).
    pub(crate) metrics: Arc<crate::metrics::Metrics>,
}

/// Tower layer that authenticates, rate-limits and authorizes every request before any service.
#[derive(Clone)]
pub struct AuthLayer {
    pub state: Arc<AuthState>,
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            state: self.state.clone(),
        }
    }
}

#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    state: Arc<AuthState>,
}

impl<S, B> tower::Service<http::Request<B>> for AuthService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: tonic::codegen::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        // The clone that was polled ready is the one that serves this call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let state = self.state.clone();
        let decision = state.policy.load().authorize(&req, SystemTime::now());
        // The request is in flight on its connection (which is then not idle) until its response
        // body is done.
        let in_flight = req
            .extensions()
            .get::<Peer>()
            .map(|peer| peer.0.conn.request_started());
        // The request moves into the service; its path is needed after (a refcount, no copy).
        let uri = req.uri().clone();
        Box::pin(async move {
            let rpc = rpc_name(uri.path());
            match decision {
                Ok(caller) => {
                    let span = tracing::info_span!(
                        "rpc",
                        rpc = %rpc,
                        request_id = %caller.request_id,
                        principal = %caller.principal,
                    );
                    req.extensions_mut().insert(caller);
                    let started = Instant::now();
                    let response = inner.call(req).instrument(span.clone()).await?;
                    let status = grpc_status(&response);
                    state.metrics.record_rpc(rpc, status);
                    span.in_scope(|| {
                        debug!(
                            status,
                            duration_us = started.elapsed().as_micros(),
                            "rpc done"
                        );
                    });
                    Ok(match in_flight {
                        Some(guard) => response.map(|body| TrackedBody::wrap(body, guard)),
                        None => response,
                    })
                }
                Err(refusal) => {
                    state.metrics.record_rpc(rpc, refusal.status.code() as i32);
                    state.refusals.refused(
                        Kind::Request,
                        &refusal.who,
                        refusal.reason,
                        refusal.status.message(),
                    );
                    match refusal.audit {
                        AuditAs::Not => {}
                        AuditAs::Summarised { principal, role } => {
                            state.refusals.audit(&principal, &role, rpc, refusal.reason);
                        }
                        AuditAs::Each(actor, outcome) => {
                            let target = match refused_target(rpc, req.into_body()).await {
                                Some(named) => named_account_target(&named),
                                None => rpc.to_string(),
                            };
                            // Written before the refusal is answered, as a mutation's record is.
                            if let Err(e) = state
                                .audit
                                .write(actor.record("auth", &target, &outcome))
                                .await
                            {
                                warn!(error = %e, "could not audit a refused request");
                            }
                        }
                    }
                    Ok(refusal.status.into_http())
                }
            }
        })
    }
}

/// How long a refused request's body is waited for: a unary request's arrives with its headers.
const BODY_WAIT: Duration = Duration::from_secs(1);

/// The account a refused request named, from its body (at most [`target::MAX_BODY`] bytes,
/// waited for at most [`BODY_WAIT`]: a client that refuses to send it gets a record naming the
/// RPC only, and cannot make the refusal wait longer).
async fn refused_target<B>(rpc: &str, body: B) -> Option<String>
where
    B: tonic::codegen::Body<Data = bytes::Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    use http_body_util::BodyExt;
    let limited = http_body_util::Limited::new(body, target::MAX_BODY);
    let bytes = tokio::time::timeout(BODY_WAIT, limited.collect())
        .await
        .ok()?
        .ok()?
        .to_bytes();
    target::named_account(rpc, &bytes)
}

/// The grpc-status a response carries in its headers (errors are trailers-only); OK otherwise.
fn grpc_status(response: &http::Response<tonic::body::Body>) -> i32 {
    response
        .headers()
        .get("grpc-status")
        .map_or(Code::Ok, |v| Code::from_bytes(v.as_bytes())) as i32
}
