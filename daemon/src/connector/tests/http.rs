//! [`OpenAlgo`] against tiny raw HTTP servers on 127.0.0.1:0 that write canned bytes, so every
//! failure mode (hangs, trickles, oversized bodies, TLS garbage) is reproducible offline. Every
//! test is bounded by the 300 ms request timeout of [`test_config`].

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::connector::{
    Connector, ConnectorConfig, FailureReason, Funds, OpenAlgo, PingInfo, Transport, Upstream,
};
use crate::metrics::Metrics;
use crate::secret::{Credential, Secret};

pub(super) const KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
pub(super) const TIMEOUT: Duration = Duration::from_millis(300);

pub(super) fn test_config() -> ConnectorConfig {
    ConnectorConfig {
        request_timeout: TIMEOUT,
        connect_timeout: Duration::from_millis(200),
        max_response_bytes: 1024,
        requests_per_second_per_endpoint: 1000,
        user_agent: "rosterd-test".into(),
        max_rows_per_book: 100,
        ..Default::default()
    }
}

pub(super) fn connector(config: ConnectorConfig) -> Arc<OpenAlgo> {
    let transport = Transport::new(config, Arc::new(Metrics::new())).unwrap();
    Arc::new(OpenAlgo::new(Arc::new(transport)).unwrap())
}

pub(super) fn upstream(host_url: String) -> Upstream {
    Upstream::new("acct-1", host_url, Credential::api_key(Secret::new(KEY)))
}

/// Reads one HTTP/1.1 request (headers plus `Content-Length` body), bounded in time.
pub(super) async fn read_request(stream: &mut TcpStream) -> Vec<u8> {
    let read = async {
        let mut buf = Vec::new();
        let mut tmp = [0u8; 4096];
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map(|v| v.trim().parse().unwrap())
                    .unwrap_or(0);
                if buf.len() >= end + 4 + len {
                    return buf;
                }
            }
            let n = stream.read(&mut tmp).await.unwrap_or(0);
            if n == 0 {
                return buf;
            }
            buf.extend_from_slice(&tmp[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(2), read)
        .await
        .unwrap_or_default()
}

/// Starts a server; `handler` gets each connection after its request was read. Returns the
/// base URL and a channel of raw requests received.
async fn serve<F, Fut>(handler: F) -> (String, mpsc::UnboundedReceiver<Vec<u8>>)
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let req = read_request(&mut stream).await;
            let _ = tx.send(req);
            tokio::spawn(handler(stream));
        }
    });
    (format!("http://{addr}"), rx)
}

fn canned(status: &str, content_type: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A server answering every request with the same bytes.
async fn serve_canned(bytes: Vec<u8>) -> (String, mpsc::UnboundedReceiver<Vec<u8>>) {
    let bytes = Arc::new(bytes);
    serve(move |mut s| {
        let bytes = bytes.clone();
        async move {
            let _ = s.write_all(&bytes).await;
            let _ = s.shutdown().await;
        }
    })
    .await
}

pub(super) const PONG: &str =
    r#"{"data":{"broker":"zerodha","message":"pong"},"status":"success"}"#;

#[tokio::test]
async fn request_has_key_only_in_json_body() {
    let (url, mut requests) = serve_canned(canned("200 OK", "application/json", PONG)).await;
    let c = connector(test_config());
    // Trailing slash, a path prefix (reverse proxy) and a query that must not be sent.
    let up = upstream(format!("{url}/algo/?apikey=nope"));
    let ping = c.ping(&up).await.unwrap();
    assert_eq!(
        ping,
        PingInfo {
            broker: "zerodha".into(),
            message: "pong".into()
        }
    );
    let raw = requests.recv().await.unwrap();
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(raw[..end].to_vec()).unwrap();
    let body = &raw[end + 4..];
    assert!(
        head.starts_with("POST /algo/api/v1/ping HTTP/1.1\r\n"),
        "{head}"
    );
    assert!(
        !head.contains(KEY),
        "key leaked into the request line/headers: {head}"
    );
    assert!(!head.contains('?'), "no query string: {head}");
    let lower = head.to_ascii_lowercase();
    assert!(lower.contains("content-type: application/json"), "{head}");
    assert!(lower.contains("user-agent: rosterd-test"), "{head}");
    let json: serde_json::Value = serde_json::from_slice(body).unwrap();
    assert_eq!(json, serde_json::json!({ "apikey": KEY }));
}

#[tokio::test]
async fn http_status_classification() {
    let cases = [
        (
            canned(
                "403 FORBIDDEN",
                "application/json",
                r#"{"message":"Invalid openalgo apikey","status":"error"}"#,
            ),
            FailureReason::AuthRejected,
            Some(403),
        ),
        (
            canned(
                "403 FORBIDDEN",
                "text/plain; charset=utf-8",
                "Access Denied: Your IP has been banned",
            ),
            FailureReason::IpBanned,
            Some(403),
        ),
        (
            canned(
                "429 TOO MANY REQUESTS",
                "application/json",
                r#"{"message": "50 per 1 second"}"#,
            ),
            FailureReason::RateLimited,
            Some(429),
        ),
        (
            canned(
                "500 INTERNAL SERVER ERROR",
                "application/json",
                r#"{"status":"error","message":"An unexpected error occurred"}"#,
            ),
            FailureReason::Http5xx,
            Some(500),
        ),
        (
            canned("200 OK", "application/json", r#"{"data":{"broker":"#),
            FailureReason::BadResponse,
            Some(200),
        ),
        (
            canned("200 OK", "application/json", r#"{"data":[1,2],"status":"success"}"#),
            FailureReason::BadResponse,
            Some(200),
        ),
        (
            canned(
                "404 NOT FOUND",
                "application/json",
                r#"{"message":"Not found","path":"/api/v1/ping","status":"error"}"#,
            ),
            FailureReason::BadResponse,
            Some(404),
        ),
        (
            b"HTTP/1.1 308 Permanent Redirect\r\nLocation: http://elsewhere.invalid/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
            FailureReason::BadResponse,
            Some(308),
        ),
    ];
    let c = connector(test_config());
    for (bytes, reason, status) in cases {
        let (url, _rx) = serve_canned(bytes).await;
        let e = c.ping(&upstream(url)).await.unwrap_err();
        assert_eq!((e.reason, e.http_status), (reason, status), "{e}");
    }
    let (url, _rx) = serve_canned(canned(
        "500 INTERNAL SERVER ERROR",
        "application/json",
        r#"{"status":"error","message":"An unexpected error occurred"}"#,
    ))
    .await;
    let e = c.positions(&upstream(url)).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "HTTP_5XX: upstream answered 500: An unexpected error occurred"
    );
}

#[tokio::test]
async fn funds_with_empty_data_is_session_expired() {
    let (url, _rx) = serve_canned(canned(
        "200 OK",
        "application/json",
        r#"{"data":{},"status":"success"}"#,
    ))
    .await;
    let e = connector(test_config())
        .funds(&upstream(url))
        .await
        .unwrap_err();
    assert_eq!(e.reason, FailureReason::SessionExpired);
}

#[tokio::test]
async fn funds_over_http_decodes_strings() {
    let (url, _rx) = serve_canned(canned(
        "200 OK",
        "application/json",
        r#"{"status":"success","data":{"availablecash":"320.66","collateral":"0.00","m2mrealized":"3.27","m2munrealized":"-7.88","utiliseddebits":"679.34"}}"#,
    ))
    .await;
    let f: Funds = connector(test_config())
        .funds(&upstream(url))
        .await
        .unwrap();
    assert_eq!(f.available_cash.to_string(), "320.66");
}

fn assert_timed_out_in_time(started: Instant, e: &crate::connector::UpstreamError) {
    let took = started.elapsed();
    assert_eq!(e.reason, FailureReason::Timeout, "{e}");
    assert!(
        took >= TIMEOUT - Duration::from_millis(20),
        "too early: {took:?}"
    );
    assert!(
        took < TIMEOUT + Duration::from_millis(500),
        "too late: {took:?}"
    );
}

#[tokio::test]
async fn hanging_server_times_out_within_the_request_timeout() {
    let (url, _rx) = serve(|s| async move {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        drop(s);
    })
    .await;
    let started = Instant::now();
    let e = connector(test_config())
        .ping(&upstream(url))
        .await
        .unwrap_err();
    assert_timed_out_in_time(started, &e);
}

#[tokio::test]
async fn trickling_body_times_out_within_the_request_timeout() {
    let (url, _rx) = serve(|mut s| async move {
        let head =
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n";
        if s.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        // One byte every 50 ms: each read makes progress, the whole never arrives in time.
        for _ in 0..200 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if s.write_all(b" ").await.is_err() {
                return;
            }
        }
    })
    .await;
    let started = Instant::now();
    let e = connector(test_config())
        .ping(&upstream(url))
        .await
        .unwrap_err();
    assert_timed_out_in_time(started, &e);
}

#[tokio::test]
async fn oversized_body_is_bad_response() {
    // Declared too large: refused from the header.
    let big = format!(
        r#"{{"status":"success","data":{{"broker":"{}"}}}}"#,
        "x".repeat(2000)
    );
    let (url, _rx) = serve_canned(canned("200 OK", "application/json", &big)).await;
    let c = connector(test_config());
    let e = c.ping(&upstream(url)).await.unwrap_err();
    assert_eq!(e.reason, FailureReason::BadResponse, "{e}");
    assert!(e.message.contains("1024-byte limit"), "{e}");

    // Chunked, no length, never ending: refused once the cap is crossed, long before timeout.
    let (url, _rx) = serve(|mut s| async move {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
        if s.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let chunk = format!("200\r\n{}\r\n", "x".repeat(0x200));
        loop {
            if s.write_all(chunk.as_bytes()).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let started = Instant::now();
    let e = c.ping(&upstream(url)).await.unwrap_err();
    assert_eq!(e.reason, FailureReason::BadResponse, "{e}");
    assert!(started.elapsed() < TIMEOUT, "{:?}", started.elapsed());
}

#[tokio::test]
async fn connection_refused_is_connect() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let e = connector(test_config())
        .ping(&upstream(format!("http://{addr}")))
        .await
        .unwrap_err();
    assert_eq!(e.reason, FailureReason::Connect, "{e}");
    assert_eq!(e.http_status, None);
}

#[test]
fn host_url_is_parsed_once_into_prefix_and_origin() {
    let up = upstream(" https://algo.example.com:8443/prefix/?x=1#frag ".into());
    let base = up.base().unwrap();
    assert_eq!(&**base.origin(), "https://algo.example.com:8443");
    assert_eq!(
        base.join("/api/v1/ping").as_str(),
        "https://algo.example.com:8443/prefix/api/v1/ping"
    );
    let root = upstream("http://127.0.0.1:5000".into());
    assert_eq!(
        root.base().unwrap().join("/api/v1/funds").as_str(),
        "http://127.0.0.1:5000/api/v1/funds"
    );
    // What the health probes' own client needs: where to connect, and the Host header.
    assert_eq!(
        (
            base.host(),
            base.port(),
            base.authority(),
            base.path_prefix(),
            base.is_https()
        ),
        (
            "algo.example.com",
            8443,
            "algo.example.com:8443",
            "/prefix",
            true
        )
    );
    let root = root.base().unwrap();
    assert_eq!(
        (
            root.host(),
            root.port(),
            root.authority(),
            root.path_prefix(),
            root.is_https()
        ),
        ("127.0.0.1", 5000, "127.0.0.1:5000", "", false)
    );
    let v6 = upstream("https://[::1]/".into());
    let v6 = v6.base().unwrap();
    assert_eq!(
        (v6.host(), v6.port(), v6.authority()),
        ("::1", 443, "[::1]")
    );
    for bad in ["", "ftp://h/", "http://", "/relative"] {
        assert!(upstream(bad.into()).base().is_none(), "{bad}");
    }
}

#[tokio::test]
async fn invalid_host_url_is_connect() {
    let c = connector(test_config());
    for bad in ["", "not a url", "ftp://127.0.0.1/", "file:///etc/passwd"] {
        let e = c.ping(&upstream(bad.into())).await.unwrap_err();
        assert_eq!(e.reason, FailureReason::Connect, "{bad}: {e}");
    }
}

#[tokio::test]
async fn tls_against_plain_tcp_is_tls() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await; // the ClientHello
                let _ = s
                    .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                    .await;
                let _ = s.shutdown().await;
            });
        }
    });
    let e = connector(test_config())
        .ping(&upstream(format!("https://{addr}")))
        .await
        .unwrap_err();
    assert_eq!(e.reason, FailureReason::Tls, "{e}");
}

#[tokio::test]
async fn echoed_key_is_scrubbed_from_errors() {
    let body = format!(r#"{{"status":"error","message":"bad key {KEY}"}}"#);
    let (url, _rx) = serve_canned(canned(
        "500 INTERNAL SERVER ERROR",
        "application/json",
        &body,
    ))
    .await;
    let e = connector(test_config())
        .ping(&upstream(url))
        .await
        .unwrap_err();
    assert_eq!(e.reason, FailureReason::Http5xx);
    assert!(e.message.contains("[redacted]"), "{e}");
    assert!(!e.to_string().contains(KEY));
    assert!(!format!("{e:?}").contains(KEY));
    assert!(!format!("{:?}", upstream(String::new())).contains(KEY));
}

#[tokio::test]
async fn budget_spaces_calls_per_endpoint() {
    let (url, _rx) = serve_canned(canned("200 OK", "application/json", PONG)).await;
    let c = connector(ConnectorConfig {
        requests_per_second_per_endpoint: 20, // one every 50 ms
        ..test_config()
    });
    let up = upstream(url);
    let started = Instant::now();
    for _ in 0..4 {
        c.ping(&up).await.unwrap();
    }
    // Calls 2..4 each wait for a 50 ms slot.
    assert!(
        started.elapsed() >= Duration::from_millis(140),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn budget_wait_is_bounded_by_the_request_timeout() {
    let (url, _rx) = serve_canned(canned("200 OK", "application/json", PONG)).await;
    let c = connector(ConnectorConfig {
        requests_per_second_per_endpoint: 1,
        ..test_config()
    });
    let up = upstream(url);
    c.ping(&up).await.unwrap();
    let started = Instant::now();
    let e = c.ping(&up).await.unwrap_err();
    assert_eq!(e.reason, FailureReason::RateLimited, "{e}");
    assert_eq!(e.http_status, None);
    assert!(started.elapsed() < TIMEOUT + Duration::from_millis(200));
    // Another endpoint on the same host has its own budget.
    let e = c.funds(&up).await.unwrap_err();
    assert_eq!(
        e.reason,
        FailureReason::BadResponse,
        "pong is not funds: {e}"
    );
}

#[test]
fn config_defaults_and_validation() {
    let d = ConnectorConfig::default();
    assert_eq!(d.request_timeout, Duration::from_secs(5));
    assert_eq!(d.connect_timeout, Duration::from_secs(3));
    assert_eq!(d.max_response_bytes, 4 * 1024 * 1024);
    assert_eq!(d.requests_per_second_per_endpoint, 8);
    let parsed: ConnectorConfig =
        toml::from_str("request_timeout = \"2s\"\nmax_response_bytes = 10").unwrap();
    assert_eq!(parsed.request_timeout, Duration::from_secs(2));
    assert_eq!(parsed.connect_timeout, Duration::from_secs(3));
    assert!(
        Transport::new(
            ConnectorConfig {
                requests_per_second_per_endpoint: 0,
                ..d.clone()
            },
            Arc::new(Metrics::new())
        )
        .is_err()
    );
    assert!(
        Transport::new(
            ConnectorConfig {
                request_timeout: Duration::ZERO,
                ..d
            },
            Arc::new(Metrics::new())
        )
        .is_err()
    );
}
