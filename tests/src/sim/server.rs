//! The HTTP side of one instance: the accept loop (with listener close/re-bind for the
//! `ConnectionRefused` fault) and the request handler that mimics OpenAlgo's Flask app layer by
//! layer: WSGI ban page, routing (404 JSON under `/api/`), Flask-Limiter, JSON parsing,
//! marshmallow schema, API-key check, then the service.

use super::body::SimBody;
use super::fault::Fault;
use super::render;
use super::spec::{Framing, Mode};
use super::{ENDPOINTS, Inner, ReceivedRequest};
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::{Value, json};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// Largest request body we read; OpenAlgo requests are tiny.
const MAX_REQUEST_BODY: usize = 1 << 20;

const JSON: &str = "application/json";

/// A client that connects and never finishes its handshake is dropped after this, so it does
/// not hold a task for the simulator's life.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the accept loop of one instance until the task is aborted.
///
/// Connections live in a `JoinSet` owned by this task, so aborting the task (simulator shutdown)
/// or switching to `ConnectionRefused` also tears down every open connection.
pub(crate) async fn run(inst: Arc<Inner>, listener: TcpListener) {
    let mut listener = Some(listener);
    // While refusing, the port stays bound but not listening: a connect gets a reset, as from a
    // stopped server, and no other process (another test's simulator) can take the port, so a
    // daemon checking this instance never reaches a stranger that answers in its place.
    let mut reserved: Option<tokio::net::TcpSocket> = None;
    let mut fault_rx = inst.fault.subscribe();
    let mut conns: JoinSet<()> = JoinSet::new();
    loop {
        let refused = matches!(*fault_rx.borrow_and_update(), Fault::ConnectionRefused);
        if refused {
            if listener.take().is_some() {
                conns.abort_all();
            }
            if reserved.is_none() {
                reserved = reserve(inst.port);
            }
            // Wait for the aborted connections to be gone so a `settle()` caller sees no server.
            while conns.join_next().await.is_some() {}
            inst.set_listening(false);
            if fault_rx.changed().await.is_err() {
                return;
            }
            continue;
        }
        let Some(l) = listener.as_ref() else {
            let bound = match reserved.take() {
                Some(socket) => socket.listen(1024),
                None => TcpListener::bind((Ipv4Addr::LOCALHOST, inst.port)).await,
            };
            match bound {
                Ok(l) => listener = Some(l),
                Err(e) => {
                    // Someone else may hold the port for a moment; keep trying until the fault
                    // flips back or the port frees up.
                    tracing::warn!(instance = %inst.name, port = inst.port, error = %e, "re-bind failed");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                        r = fault_rx.changed() => if r.is_err() { return },
                    }
                }
            }
            continue;
        };
        inst.set_listening(true);
        tokio::select! {
            r = l.accept() => match r {
                Ok((stream, peer)) => {
                    inst.connections.fetch_add(1, Ordering::Relaxed);
                    let inst = inst.clone();
                    conns.spawn(serve_connection(inst, stream, peer));
                }
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(instance = %inst.name, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            r = fault_rx.changed() => if r.is_err() { return },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

/// The instance's port, bound without listening.
fn reserve(port: u16) -> Option<tokio::net::TcpSocket> {
    let socket = tokio::net::TcpSocket::new_v4().ok()?;
    // The listener just closed may leave connections in TIME_WAIT on this port.
    socket.set_reuseaddr(true).ok()?;
    socket
        .bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
        .ok()?;
    Some(socket)
}

async fn serve_connection(inst: Arc<Inner>, stream: tokio::net::TcpStream, peer: SocketAddr) {
    let wsgi = inst.framing == Framing::Wsgi;
    // Python leaves Nagle on; the fast server turns it off.
    let _ = stream.set_nodelay(!wsgi);
    let Some(acceptor) = inst.tls.clone() else {
        if wsgi {
            return serve_http(inst, HeadThenBody::new(stream), peer).await;
        }
        return serve_http(inst, stream, peer).await;
    };
    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => {
            inst.tls_handshakes.fetch_add(1, Ordering::Relaxed);
            serve_http(inst, tls, peer).await;
        }
        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
    }
}

/// HTTP/1.1 on an accepted connection, plain or TLS, until either side closes it.
async fn serve_http<I>(inst: Arc<Inner>, io: I, peer: SocketAddr)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let svc = service_fn(move |req| handle(inst.clone(), peer, req));
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(io), svc);
    if let Err(e) = conn.await {
        tracing::debug!(%peer, error = %e, "connection ended");
    }
}

/// [`Framing::Wsgi`]: each answer leaves in two writes, the status line and headers, then the
/// body, as a Python WSGI server sends them. hyper hands over the whole answer at once; this cuts
/// it after the blank line that ends the headers, so the body is a second `write`.
struct HeadThenBody<S> {
    inner: S,
    /// In the body of the answer being written (the next write is not a head).
    in_body: bool,
}

impl<S> HeadThenBody<S> {
    fn new(inner: S) -> Self {
        Self {
            inner,
            in_body: false,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for HeadThenBody<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        // A new request: its answer starts with a head.
        self.in_body = false;
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for HeadThenBody<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let take = if self.in_body {
            buf.len()
        } else {
            buf.windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map_or(buf.len(), |at| at + 4)
        };
        let head = buf.get(..take).unwrap_or(buf);
        let poll = std::pin::Pin::new(&mut self.inner).poll_write(cx, head);
        if let std::task::Poll::Ready(Ok(n)) = &poll
            && *n == take
        {
            self.in_body = true;
        }
        poll
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A fully formed answer before faults shape how it is delivered.
struct Reply {
    status: StatusCode,
    content_type: &'static str,
    body: Bytes,
}

impl Reply {
    /// Flask `jsonify`: compact, keys sorted (BTreeMap-backed `Value`), trailing newline.
    fn jsonify(status: StatusCode, v: &Value) -> Reply {
        let mut s = serde_json::to_string(v).unwrap_or_default();
        s.push('\n');
        Reply {
            status,
            content_type: JSON,
            body: Bytes::from(s),
        }
    }

    /// flask-restx's own error rendering: `json.dumps` default separators, no `status` key.
    fn restx_message(status: StatusCode, message: &str) -> Reply {
        let msg = serde_json::to_string(message).unwrap_or_default();
        Reply {
            status,
            content_type: JSON,
            body: Bytes::from(format!("{{\"message\": {msg}}}\n")),
        }
    }

    fn error(status: StatusCode, message: &str) -> Reply {
        Reply::jsonify(status, &json!({"message": message, "status": "error"}))
    }

    fn unexpected() -> Reply {
        Reply::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "An unexpected error occurred",
        )
    }

    fn invalid_key() -> Reply {
        Reply::error(StatusCode::FORBIDDEN, "Invalid openalgo apikey")
    }

    fn banned() -> Reply {
        Reply {
            status: StatusCode::FORBIDDEN,
            content_type: "text/plain; charset=utf-8",
            body: Bytes::from_static(b"Access Denied: Your IP has been banned"),
        }
    }

    fn rate_limited(limit: u32) -> Reply {
        Reply::restx_message(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("{limit} per 1 second"),
        )
    }

    fn into_response(self, body: SimBody) -> Response<SimBody> {
        let mut r = Response::new(body);
        *r.status_mut() = self.status;
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        r
    }

    fn plain(self) -> Response<SimBody> {
        let b = self.body.clone();
        self.into_response(SimBody::full(b))
    }
}

/// Resolves `/api/v1/<name>` or `/api/v1/<name>/` (flask-restx `strict_slashes=False`).
fn endpoint_index(path: &str) -> Option<usize> {
    let name = path.strip_prefix("/api/v1/")?;
    let name = name.strip_suffix('/').unwrap_or(name);
    ENDPOINTS.iter().position(|e| *e == name)
}

async fn handle(
    inst: Arc<Inner>,
    peer: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<SimBody>, std::io::Error> {
    inst.total.fetch_add(1, Ordering::Relaxed);
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let endpoint = endpoint_index(&path);
    if let Some(i) = endpoint
        && let Some(c) = inst.counts.get(i)
    {
        c.fetch_add(1, Ordering::Relaxed);
    }
    let body = match Limited::new(body, MAX_REQUEST_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                return Ok(Reply {
                    status: StatusCode::PAYLOAD_TOO_LARGE,
                    content_type: "text/html; charset=utf-8",
                    body: Bytes::from_static(b"<h1>Request Entity Too Large</h1>\n"),
                }
                .plain());
            }
            return Err(std::io::Error::other(e));
        }
    };
    inst.record(ReceivedRequest {
        method: parts.method.to_string(),
        path: path.clone(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
        peer,
        endpoint: endpoint
            .and_then(|i| ENDPOINTS.get(i))
            .map(|e| (*e).to_owned()),
    });

    let global = inst.fault.borrow().clone();
    let fault = endpoint
        .and_then(|i| inst.endpoint_fault(i))
        .unwrap_or_else(|| global.clone());
    let session_fault = fault == Fault::SessionExpired || global == Fault::SessionExpired;

    match &fault {
        Fault::None | Fault::SessionExpired => {}
        Fault::Latency(d) => tokio::time::sleep(*d).await,
        Fault::Hang => std::future::pending::<()>().await,
        Fault::Http500 => return Ok(Reply::unexpected().plain()),
        Fault::InvalidKey403 => return Ok(Reply::invalid_key().plain()),
        Fault::IpBanned => return Ok(Reply::banned().plain()),
        Fault::RateLimited => {
            let limit = inst.rate_limit.load(Ordering::Relaxed);
            return Ok(Reply::rate_limited(limit).plain());
        }
        Fault::ConnectionRefused => {
            // Per-endpoint variant (or a request that raced the listener close): hang up.
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "simulated connection drop",
            ));
        }
        Fault::Body { status, body } => {
            return Ok(Reply {
                status: StatusCode::from_u16(*status).unwrap_or(StatusCode::OK),
                content_type: JSON,
                body: body.clone(),
            }
            .plain());
        }
        Fault::SlowBody { .. } | Fault::MalformedJson | Fault::HugeBody { .. } => {}
    }

    let reply = respond(
        &inst,
        peer,
        &parts.method,
        &parts.headers,
        &path,
        endpoint,
        &body,
        session_fault,
    );

    Ok(match fault {
        Fault::SlowBody { bytes_per_sec } => {
            let b = reply.body.clone();
            reply.into_response(SimBody::trickle(b, bytes_per_sec))
        }
        Fault::MalformedJson => {
            let cut = reply.body.slice(..reply.body.len() / 2);
            Reply {
                status: StatusCode::OK,
                content_type: JSON,
                body: cut,
            }
            .plain()
        }
        Fault::HugeBody { bytes } => {
            // Splice a padding key in front of the closing brace; "zpadding" sorts after every
            // real key, so the output still looks jsonify-sorted.
            let text = String::from_utf8_lossy(&reply.body).trim_end().to_owned();
            let head = match text.strip_suffix('}') {
                Some(h) if h.len() > 1 => format!("{h},\"zpadding\":\""),
                _ => "{\"zpadding\":\"".to_owned(),
            };
            Reply {
                status: StatusCode::OK,
                content_type: JSON,
                body: Bytes::new(),
            }
            .into_response(SimBody::huge(
                Bytes::from(head),
                Bytes::from_static(b"\"}\n"),
                bytes,
            ))
        }
        _ => reply.plain(),
    })
}

/// Fields that failed marshmallow validation, in schema order.
type SchemaErrors = Vec<(&'static str, &'static str)>;

fn check_apikey(obj: &serde_json::Map<String, Value>, errs: &mut SchemaErrors) -> Option<String> {
    match obj.get("apikey") {
        None => errs.push(("apikey", "Missing data for required field.")),
        Some(Value::Null) => errs.push(("apikey", "Field may not be null.")),
        Some(Value::String(s)) if (1..=256).contains(&s.chars().count()) => {
            return Some(s.clone());
        }
        Some(Value::String(_)) => errs.push(("apikey", "Length must be between 1 and 256.")),
        Some(_) => errs.push(("apikey", "Not a valid string.")),
    }
    None
}

/// marshmallow `fields.Boolean` truthy/falsy sets (the common ones).
fn check_mode(obj: &serde_json::Map<String, Value>, errs: &mut SchemaErrors) -> Option<bool> {
    match obj.get("mode") {
        None => errs.push(("mode", "Missing data for required field.")),
        Some(Value::Null) => errs.push(("mode", "Field may not be null.")),
        Some(Value::Bool(b)) => return Some(*b),
        Some(Value::Number(n)) if n.as_i64() == Some(1) => return Some(true),
        Some(Value::Number(n)) if n.as_i64() == Some(0) => return Some(false),
        Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "true" | "t" | "1" | "yes" | "y" | "on" => return Some(true),
            "false" | "f" | "0" | "no" | "n" | "off" => return Some(false),
            _ => errs.push(("mode", "Not a valid boolean.")),
        },
        Some(_) => errs.push(("mode", "Not a valid boolean.")),
    }
    None
}

/// ping/funds/books return `err.messages` (an object); analyzer returns `str(err.messages)`.
fn schema_error(errs: &SchemaErrors, as_string: bool) -> Reply {
    if as_string {
        let inner: Vec<String> = errs
            .iter()
            .map(|(k, m)| format!("'{k}': ['{m}']"))
            .collect();
        let msg = format!("{{{}}}", inner.join(", "));
        Reply::error(StatusCode::BAD_REQUEST, &msg)
    } else {
        let mut m = serde_json::Map::new();
        for (k, msg) in errs {
            m.insert((*k).to_owned(), json!([msg]));
        }
        Reply::jsonify(
            StatusCode::BAD_REQUEST,
            &json!({"message": Value::Object(m), "status": "error"}),
        )
    }
}

/// Flask-Limiter `moving-window`: a hit is admitted if fewer than `limit` admitted hits fall in
/// the last second; rejected hits are not recorded.
fn admit(inst: &Inner, endpoint: usize, peer: SocketAddr) -> Result<(), u32> {
    let limit = inst.rate_limit.load(Ordering::Relaxed);
    if limit == 0 {
        return Ok(());
    }
    let now = Instant::now();
    let mut windows = inst.lock_rate();
    let w = windows.entry((endpoint, peer.ip())).or_default();
    while w
        .front()
        .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
    {
        w.pop_front();
    }
    if w.len() >= limit as usize {
        return Err(limit);
    }
    w.push_back(now);
    Ok(())
}

fn is_json_content_type(headers: &http::HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            let mime = v
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            mime == JSON || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
        .unwrap_or(false)
}

#[allow(clippy::too_many_arguments)]
fn respond(
    inst: &Inner,
    peer: SocketAddr,
    method: &Method,
    headers: &http::HeaderMap,
    path: &str,
    endpoint: Option<usize>,
    body: &[u8],
    session_fault: bool,
) -> Reply {
    // Unauthenticated liveness endpoint of the real app.
    if method == Method::GET && (path == "/health/status" || path == "/health/status/") {
        return Reply::jsonify(
            StatusCode::OK,
            &json!({"description": "OpenAlgo Trading Platform", "serviceId": "openalgo", "status": "pass", "version": "1.0"}),
        );
    }
    let Some(ep) = endpoint.filter(|_| method == Method::POST) else {
        // The app's 404 handler answers JSON for `/api/` paths, including GET on POST routes.
        if path.starts_with("/api/") {
            return Reply::jsonify(
                StatusCode::NOT_FOUND,
                &json!({"message": "Not found", "path": path, "status": "error"}),
            );
        }
        return Reply {
            status: StatusCode::NOT_FOUND,
            content_type: "text/html; charset=utf-8",
            body: Bytes::from_static(
                b"<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n",
            ),
        };
    };
    // The limiter decorates the resource method, so it runs before parsing and auth.
    if let Err(limit) = admit(inst, ep, peer) {
        return Reply::rate_limited(limit);
    }
    if !is_json_content_type(headers) {
        // Observed: a form-encoded body ends in the resource's catch-all.
        return Reply::unexpected();
    }
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return Reply::restx_message(
            StatusCode::BAD_REQUEST,
            "The browser (or proxy) sent a request that this server could not understand.",
        );
    };
    let name = ENDPOINTS.get(ep).copied().unwrap_or("");
    let string_errors = name.starts_with("analyzer");
    let Value::Object(obj) = value else {
        return schema_error(&vec![("_schema", "Invalid input type.")], string_errors);
    };
    let mut errs = SchemaErrors::new();
    let key = check_apikey(&obj, &mut errs);
    let toggle = if name == "analyzer/toggle" {
        check_mode(&obj, &mut errs)
    } else {
        None
    };
    let Some(key) = key.filter(|_| errs.is_empty()) else {
        return schema_error(&errs, string_errors);
    };
    if !inst.key_ok(&key) {
        return Reply::invalid_key();
    }

    let mut book = inst.lock_book();
    let expired = (book.session_expired || session_fault) && book.mode == Mode::Live;
    let analyze = book.mode == Mode::Analyze;
    let logs = inst.analyzer_logs.load(Ordering::Relaxed);
    let v = match name {
        "ping" => render::ping(&book),
        "analyzer" => render::analyzer_status(&book, logs),
        "analyzer/toggle" => {
            if let Some(on) = toggle {
                book.mode = if on { Mode::Analyze } else { Mode::Live };
            }
            render::analyzer_toggle(&book, logs)
        }
        "funds" if expired => json!({"data": {}, "status": "success"}),
        "positionbook" | "orderbook" | "tradebook" | "holdings" if expired => {
            // What Kite answers for a dead access token; the service maps it to 500.
            return Reply::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Incorrect `api_key` or `access_token`.",
            );
        }
        "funds" => render::funds(&book),
        "positionbook" => render::positionbook(&book),
        "orderbook" => render::orderbook(&book),
        "tradebook" => render::tradebook(&book),
        "holdings" => render::holdings(&book),
        _ => return Reply::unexpected(),
    };
    drop(book);
    if analyze && !name.starts_with("analyzer") && name != "ping" {
        inst.analyzer_logs.fetch_add(1, Ordering::Relaxed);
    }
    Reply::jsonify(StatusCode::OK, &v)
}
