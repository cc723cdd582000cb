//! The HTTP side of one simulated Alpaca host: the accept loop (closing and re-binding the same
//! port for `ConnectionRefused`) and the request handler, layer by layer as the reference
//! describes the real gateway: server faults, auth headers (403 `forbidden.`), the key pair
//! (401 `40110000`), the account's faults, its 200/min budget (429), the method, then the route.

use super::fault::AlpacaFault;
use super::rate::Quota;
use super::render::{self, ApiError, Query};
use super::{AccountState, Route, Server};
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::Value;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// What Alpaca's JSON answers carry (reference §2.3, from a recorded 401).
const JSON: &str = "application/json; charset=UTF-8";

/// Runs the accept loop until the task is aborted. Connections live in a `JoinSet` owned here,
/// so aborting (shutdown) or refusing tears them down too.
pub(crate) async fn run(server: Arc<Server>, listener: TcpListener) {
    let mut listener = Some(listener);
    // While refusing, the port stays bound but not listening, so connects are refused and no
    // other process can take the port before the fault clears.
    let mut reserved: Option<tokio::net::TcpSocket> = None;
    let mut fault_rx = server.fault.subscribe();
    let mut conns: JoinSet<()> = JoinSet::new();
    loop {
        if matches!(
            *fault_rx.borrow_and_update(),
            AlpacaFault::ConnectionRefused
        ) {
            if listener.take().is_some() {
                conns.abort_all();
            }
            if reserved.is_none() {
                reserved = reserve(server.port);
            }
            while conns.join_next().await.is_some() {}
            server.set_listening(false);
            if fault_rx.changed().await.is_err() {
                return;
            }
            continue;
        }
        let Some(l) = listener.as_ref() else {
            let bound = match reserved.take() {
                Some(socket) => socket.listen(1024),
                None => TcpListener::bind((Ipv4Addr::LOCALHOST, server.port)).await,
            };
            match bound {
                Ok(l) => listener = Some(l),
                Err(e) => {
                    tracing::warn!(port = server.port, error = %e, "alpaca-sim re-bind failed");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                        r = fault_rx.changed() => if r.is_err() { return },
                    }
                }
            }
            continue;
        };
        server.set_listening(true);
        tokio::select! {
            r = l.accept() => match r {
                Ok((stream, peer)) => {
                    server.connections.fetch_add(1, Ordering::Relaxed);
                    conns.spawn(serve(server.clone(), stream, peer));
                }
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "alpaca-sim accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            r = fault_rx.changed() => if r.is_err() { return },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

/// The port, bound without listening.
fn reserve(port: u16) -> Option<tokio::net::TcpSocket> {
    let socket = tokio::net::TcpSocket::new_v4().ok()?;
    socket.set_reuseaddr(true).ok()?;
    socket
        .bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        .ok()?;
    Some(socket)
}

async fn serve(server: Arc<Server>, stream: tokio::net::TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let svc = service_fn(move |req| handle(server.clone(), req));
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(stream), svc);
    if let Err(e) = conn.await {
        tracing::debug!(%peer, error = %e, "alpaca-sim connection ended");
    }
}

/// An answer before the common headers are added.
struct Reply {
    status: StatusCode,
    body: Bytes,
    allow: bool,
}

impl Reply {
    fn json(status: u16, v: &Value) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body: Bytes::from(serde_json::to_vec(v).unwrap_or_default()),
            allow: false,
        }
    }

    fn error(e: &ApiError) -> Reply {
        Reply::json(e.status, &e.body())
    }

    /// The gateway's 403: no code, and the space after the colon as recorded.
    fn forbidden() -> Reply {
        Reply {
            status: StatusCode::FORBIDDEN,
            body: Bytes::from_static(b"{\"message\": \"forbidden.\"}"),
            allow: false,
        }
    }

    fn unauthorized() -> Reply {
        Reply::error(&ApiError::new(401, 40_110_000, "request is not authorized"))
    }

    /// Alpaca does not document the 429 body (reference §2.5, §6); SDK errors say "rate limit
    /// exceeded", and the code follows its 8-digit scheme.
    fn rate_limited() -> Reply {
        Reply::error(&ApiError::new(429, 42_910_000, "rate limit exceeded"))
    }

    fn internal() -> Reply {
        Reply::error(&ApiError::new(500, 50_010_000, "internal server error"))
    }
}

enum Outcome {
    Answer(Reply),
    Hang,
    Drop,
}

/// A server-wide or per-account fault, applied; `None` means answer normally.
async fn apply(fault: &AlpacaFault) -> Option<Outcome> {
    Some(match fault {
        AlpacaFault::None => return None,
        AlpacaFault::Latency(d) => {
            tokio::time::sleep(*d).await;
            return None;
        }
        AlpacaFault::Hang => Outcome::Hang,
        AlpacaFault::Status500 => Outcome::Answer(Reply::internal()),
        AlpacaFault::RateLimited => Outcome::Answer(Reply::rate_limited()),
        AlpacaFault::Forbidden => Outcome::Answer(Reply::forbidden()),
        AlpacaFault::ConnectionRefused => Outcome::Drop,
        AlpacaFault::Body { status, body } => Outcome::Answer(Reply {
            status: StatusCode::from_u16(*status).unwrap_or(StatusCode::OK),
            body: body.clone(),
            allow: false,
        }),
    })
}

fn header<'a>(req: &'a Request<Incoming>, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

async fn handle(
    server: Arc<Server>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::io::Error> {
    let route = Route::of(req.uri().path());
    server.count(route);
    let key_id = header(&req, "apca-api-key-id");
    let account = key_id.and_then(|k| server.account(k));
    if let Some(a) = &account {
        a.count(route, Instant::now());
    }
    let mut quota = None;
    let outcome = answer(&server, &req, route, account.as_ref(), &mut quota).await;
    let reply = match outcome {
        Outcome::Answer(r) => r,
        Outcome::Hang => std::future::pending().await,
        Outcome::Drop => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "simulated connection drop",
            ));
        }
    };
    let mut r = Response::new(Full::new(reply.body));
    *r.status_mut() = reply.status;
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(JSON));
    if let Ok(v) = HeaderValue::from_str(&server.request_id()) {
        h.insert(HeaderName::from_static("x-request-id"), v);
    }
    if reply.allow {
        h.insert(http::header::ALLOW, HeaderValue::from_static("GET"));
    }
    if let Some(q) = quota {
        for (name, value) in [
            ("x-ratelimit-limit", u64::from(q.limit)),
            ("x-ratelimit-remaining", u64::from(q.remaining)),
            ("x-ratelimit-reset", q.reset),
        ] {
            h.insert(HeaderName::from_static(name), HeaderValue::from(value));
        }
    }
    Ok(r)
}

async fn answer(
    server: &Server,
    req: &Request<Incoming>,
    route: Route,
    account: Option<&Arc<AccountState>>,
    quota: &mut Option<Quota>,
) -> Outcome {
    let global = server.fault.borrow().clone();
    if let Some(o) = apply(&global).await {
        return o;
    }
    // Both headers, exactly these names (underscored variants are not accepted).
    let (Some(_), Some(secret)) = (
        header(req, "apca-api-key-id"),
        header(req, "apca-api-secret-key"),
    ) else {
        return Outcome::Answer(Reply::forbidden());
    };
    let Some(account) = account.filter(|a| a.secret_matches(secret)) else {
        return Outcome::Answer(Reply::unauthorized());
    };
    let fault = account.fault();
    if let Some(o) = apply(&fault).await {
        // Faults that answer still carry the budget the gateway reports; a forced 429 reports
        // it spent, as a real one would.
        *quota = account.peek_quota().map(|mut q| {
            if fault == AlpacaFault::RateLimited {
                q.remaining = 0;
            }
            q
        });
        return o;
    }
    let q = account.admit(Instant::now());
    *quota = q;
    if q.is_some_and(|q| !q.admitted) {
        return Outcome::Answer(Reply::rate_limited());
    }
    if req.method() != Method::GET {
        // The simulator is read-only; Alpaca's answer to a wrong method is not documented.
        let mut r = Reply::error(&ApiError::new(405, 40_510_000, "method not allowed"));
        r.allow = true;
        return Outcome::Answer(r);
    }
    let query = Query::parse(req.uri().query());
    let path = req.uri().path();
    let result = match route {
        Route::Account => Ok(render::account(&account.book().account)),
        Route::Positions => Ok(Value::Array(
            account
                .book()
                .positions
                .iter()
                .map(render::position)
                .collect(),
        )),
        Route::Position => {
            let key = path.strip_prefix("/v2/positions/").unwrap_or_default();
            render::one_position(&account.book().positions, key)
        }
        Route::Orders => render::orders(&account.book().orders, &query),
        Route::Order => {
            let id = path.strip_prefix("/v2/orders/").unwrap_or_default();
            render::one_order(&account.book().orders, id, &query)
        }
        Route::Activities => render::activities(&account.book().activities, None, &query),
        Route::ActivitiesOfType => {
            let t = path
                .strip_prefix("/v2/account/activities/")
                .unwrap_or_default();
            render::activities(&account.book().activities, Some(t), &query)
        }
        Route::Clock => Ok(render::clock(server.pinned_clock().as_ref())),
        Route::Other => Err(ApiError::not_found("Not Found")),
    };
    Outcome::Answer(match result {
        Ok(v) => Reply::json(200, &v),
        Err(e) => Reply::error(&e),
    })
}
