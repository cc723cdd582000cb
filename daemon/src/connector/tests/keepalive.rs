//! Connection reuse by the health checks' HTTP/1.1 client (`connector::http1`), against a
//! scripted server on 127.0.0.1:0 that counts the connections it accepts: kept-alive
//! connections are reused, ones the server closed are not, and the race of a server closing a
//! connection just as a request goes out costs a retry, not a failed check.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use super::http::{KEY, PONG, connector, read_request, test_config, upstream};
use crate::connector::{Connector, FailureReason, Funds, Mode};

/// What the server does with the `n`th request (from 0) on its `c`th connection (from 0).
#[derive(Clone)]
pub(super) enum Reply {
    /// Writes the bytes and waits for the next request.
    Answer(Vec<u8>),
    /// Writes the bytes and closes the connection.
    AnswerAndClose(Vec<u8>),
    /// Closes the connection without a word.
    Close,
}

pub(super) struct Scripted {
    pub(super) url: String,
    pub(super) accepted: Arc<AtomicUsize>,
}

pub(super) async fn scripted(
    script: impl Fn(usize, usize) -> Reply + Send + Sync + 'static,
) -> Scripted {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let script = Arc::new(script);
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let c = count.fetch_add(1, Ordering::SeqCst);
            let script = script.clone();
            tokio::spawn(async move {
                for n in 0.. {
                    if read_request(&mut s).await.is_empty() {
                        return;
                    }
                    match script(c, n) {
                        Reply::Answer(bytes) => {
                            if s.write_all(&bytes).await.is_err() {
                                return;
                            }
                        }
                        Reply::AnswerAndClose(bytes) => {
                            let _ = s.write_all(&bytes).await;
                            return;
                        }
                        Reply::Close => return,
                    }
                }
            });
        }
    });
    Scripted { url, accepted }
}

pub(super) fn json(version: &str, extra_headers: &str, body: &str) -> Vec<u8> {
    format!(
        "{version} 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra_headers}\r\n{body}",
        body.len()
    )
    .into_bytes()
}

pub(super) fn pong() -> Vec<u8> {
    json("HTTP/1.1", "", PONG)
}

/// Pings a server that gives every request `reply` `n` times, each successfully; returns how
/// many connections it took.
async fn connections_for_pings(reply: Reply, n: usize) -> usize {
    let server = scripted(move |_, _| reply.clone()).await;
    let c = connector(test_config());
    let up = upstream(server.url.clone());
    for _ in 0..n {
        c.ping(&up).await.unwrap();
    }
    server.accepted.load(Ordering::SeqCst)
}

#[tokio::test]
async fn a_kept_alive_connection_carries_every_check() {
    assert_eq!(connections_for_pings(Reply::Answer(pong()), 5).await, 1);
}

#[tokio::test]
async fn chunked_funds_decode_and_keep_the_connection() {
    let body = r#"{"data":{"availablecash":"100.50","collateral":"0.00","m2mrealized":"0","m2munrealized":"-2.5","utiliseddebits":"0"},"status":"success"}"#;
    let (a, b) = body.split_at(40);
    let answer = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x};ext=1\r\n{b}\r\n0\r\n\r\n",
        a.len(),
        b.len()
    );
    let server = scripted(move |_, _| Reply::Answer(answer.clone().into_bytes())).await;
    let c = connector(test_config());
    let up = upstream(server.url.clone());
    for _ in 0..3 {
        let funds = c.funds(&up).await.unwrap();
        assert_eq!(
            funds,
            Funds {
                available_cash: "100.5".parse().unwrap(),
                collateral: 0.into(),
                m2m_realized: 0.into(),
                m2m_unrealized: "-2.5".parse().unwrap(),
                utilised_debits: 0.into(),
                mode: Mode::Live,
                currency: crate::connector::INR.into(),
                ..Default::default()
            }
        );
    }
    assert_eq!(server.accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn connections_the_server_closes_are_not_reused() {
    // Said so (`Connection: close`, HTTP/1.0 without keep-alive), implied (no length: the body
    // ends with the connection), or done after answering: each call needs a new connection.
    for answer in [
        json("HTTP/1.1", "Connection: close\r\n", PONG),
        json("HTTP/1.0", "", PONG),
        format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{PONG}").into_bytes(),
    ] {
        assert_eq!(
            connections_for_pings(Reply::AnswerAndClose(answer), 3).await,
            3
        );
    }
    // Closed after answering although it promised keep-alive: noticed before the next call.
    let server = scripted(|_, _| Reply::AnswerAndClose(pong())).await;
    let c = connector(test_config());
    let up = upstream(server.url.clone());
    for _ in 0..3 {
        c.ping(&up).await.unwrap();
        // Let the close reach us before the next checkout.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(server.accepted.load(Ordering::SeqCst), 3);
    // HTTP/1.0 that asks for keep-alive gets it.
    let keep_alive = json("HTTP/1.0", "Connection: keep-alive\r\n", PONG);
    assert_eq!(connections_for_pings(Reply::Answer(keep_alive), 3).await, 1);
}

#[tokio::test]
async fn a_connection_closed_as_the_request_goes_out_is_retried_once() {
    // The first connection answers once, then closes on the second request without answering:
    // the idle-close race. The check must still succeed, on a new connection.
    let server = scripted(|c, n| {
        if c == 0 && n == 1 {
            Reply::Close
        } else {
            Reply::Answer(pong())
        }
    })
    .await;
    let c = connector(test_config());
    let up = upstream(server.url.clone());
    c.ping(&up).await.unwrap();
    c.ping(&up).await.unwrap();
    assert_eq!(server.accepted.load(Ordering::SeqCst), 2);

    // A new connection that closes without answering is a failed call, not retried forever.
    let server = scripted(|_, _| Reply::Close).await;
    let e = c.ping(&upstream(server.url.clone())).await.unwrap_err();
    assert_eq!(e.reason, FailureReason::Connect, "{e}");
    assert!(e.message.contains("closed before an answer"), "{e}");
    assert_eq!(server.accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn broken_answers_are_bad_responses_and_close_the_connection() {
    let truncated = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"data\"".to_vec();
    let garbage = b"SSH-2.0-OpenSSH_9.6\r\n\r\n".to_vec();
    let bad_chunk = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec();
    for (answer, status) in [
        (truncated, Some(200)),
        (garbage, None),
        (bad_chunk, Some(200)),
    ] {
        let server = scripted(move |_, _| Reply::AnswerAndClose(answer.clone())).await;
        let e = connector(test_config())
            .ping(&upstream(server.url.clone()))
            .await
            .unwrap_err();
        assert_eq!(e.reason, FailureReason::BadResponse, "{e}");
        assert_eq!(e.http_status, status, "{e}");
        assert!(!e.message.contains(KEY));
    }
    // Bytes after a complete answer: the answer counts, the connection is not trusted again.
    let mut extra = pong();
    extra.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    assert_eq!(connections_for_pings(Reply::Answer(extra), 2).await, 2);
}

#[tokio::test]
async fn interim_answers_are_skipped() {
    let mut answer = b"HTTP/1.1 100 Continue\r\n\r\n".to_vec();
    answer.extend_from_slice(&pong());
    assert_eq!(connections_for_pings(Reply::Answer(answer), 2).await, 1);
}

#[tokio::test]
async fn an_error_status_keeps_the_connection() {
    let forbidden = br#"{"message":"Invalid openalgo apikey","status":"error"}"#;
    let answer = format!(
        "HTTP/1.1 403 FORBIDDEN\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
        forbidden.len(),
        String::from_utf8_lossy(forbidden)
    );
    let server = scripted(move |_, _| Reply::Answer(answer.clone().into_bytes())).await;
    let c = connector(test_config());
    let up = upstream(server.url.clone());
    for _ in 0..2 {
        let e = c.ping(&up).await.unwrap_err();
        assert_eq!(
            (e.reason, e.http_status),
            (FailureReason::AuthRejected, Some(403))
        );
    }
    assert_eq!(server.accepted.load(Ordering::SeqCst), 1);
}
