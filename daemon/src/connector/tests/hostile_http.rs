//! The health checks' HTTP/1.1 client against upstreams that frame answers in ways parsers
//! disagree on, send bytes nobody asked for, or close connections to make us retry: each is a
//! bad response or a fresh connection, never an answer read in the wrong place, and a retry is a
//! request like any other for the request budget.

use std::io::{Read, Write};
use std::time::Duration;

use super::http::{PONG, connector, test_config, upstream};
use super::keepalive::{Reply, json, pong, scripted};
use crate::connector::{FailureReason, PingInfo};

/// The connections `n` successful pings take against a server giving every request `answer`.
async fn connections_for(answer: Vec<u8>, n: usize) -> usize {
    let server = scripted(move |_, _| Reply::Answer(answer.clone())).await;
    let c = connector(test_config());
    let up = upstream(server.url.clone());
    for _ in 0..n {
        c.ping(&up).await.unwrap();
    }
    server.accepted.load(std::sync::atomic::Ordering::SeqCst)
}

fn chunked(version: &str, extra_headers: &str, body: &str) -> Vec<u8> {
    format!(
        "{version} 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n{extra_headers}\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    )
    .into_bytes()
}

#[tokio::test]
async fn an_answer_with_both_framings_is_read_chunked_and_its_connection_not_reused() {
    // The length is a lie a proxy on the way might believe; the chunks are the answer.
    let answer = chunked("HTTP/1.1", "Content-Length: 3\r\n", PONG);
    assert_eq!(connections_for(answer, 3).await, 3);
    // The same answer without the length keeps its connection.
    assert_eq!(connections_for(chunked("HTTP/1.1", "", PONG), 3).await, 1);
}

#[tokio::test]
async fn malformed_framing_is_a_bad_response() {
    let mut signed = json("HTTP/1.1", "", PONG);
    let cl = format!("Content-Length: {}", PONG.len());
    let at = signed
        .windows(cl.len())
        .position(|w| w == cl.as_bytes())
        .unwrap();
    signed.splice(at + 16..at + 16, *b"+");
    let signed_chunk = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n+{:x}\r\n{PONG}\r\n0\r\n\r\n",
        PONG.len()
    )
    .into_bytes();
    let old_te = chunked("HTTP/1.0", "Connection: keep-alive\r\n", PONG);
    // One byte of data per chunk behind a long extension: a few hundred bytes of body in ~60 KB.
    let mut sliced =
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    let ext = "e".repeat(900);
    for b in PONG.bytes() {
        sliced.extend_from_slice(format!("1;{ext}\r\n").as_bytes());
        sliced.push(b);
        sliced.extend_from_slice(b"\r\n");
    }
    sliced.extend_from_slice(b"0\r\n\r\n");
    // Endless trailers, each line short.
    let mut trailers = chunked("HTTP/1.1", "", PONG);
    trailers.truncate(trailers.len() - 2);
    for _ in 0..2000 {
        trailers.extend_from_slice(b"X-Pad: 0123456789abcdef\r\n");
    }
    trailers.extend_from_slice(b"\r\n");
    for (what, answer, says) in [
        ("Content-Length: +N", signed, "Content-Length"),
        ("chunk size +N", signed_chunk, "chunk size"),
        ("HTTP/1.0 chunked", old_te, "HTTP/1.0"),
        ("tiny chunks, long extensions", sliced, "framing"),
        ("endless trailers", trailers, "trailers"),
    ] {
        let server = scripted(move |_, _| Reply::AnswerAndClose(answer.clone())).await;
        let e = connector(test_config())
            .ping(&upstream(server.url.clone()))
            .await
            .unwrap_err();
        assert_eq!(e.reason, FailureReason::BadResponse, "{what}: {e}");
        assert!(e.message.contains(says), "{what}: {e}");
    }
}

/// A server on a plain thread (so it runs while the test's runtime is blocked): on its first
/// connection it answers the first request with a pong and then, while the connection sits idle
/// in the client's pool, writes a second answer nobody asked for. Later connections answer each
/// request honestly. Returns the URL, a count of connections accepted, and a channel that says
/// when the unsolicited answer has been written.
fn late_bytes_server() -> (
    String,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
    std::sync::mpsc::Receiver<()>,
) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = accepted.clone();
    let (written, written_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for (c, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { return };
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let written = written.clone();
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let forged = PONG.replace("zerodha", "forged");
                while read_one_request(&mut stream) {
                    if stream.write_all(&pong()).is_err() {
                        return;
                    }
                    if c == 0 {
                        std::thread::sleep(Duration::from_millis(20));
                        let _ = stream.write_all(&json("HTTP/1.1", "", &forged));
                        let _ = written.send(());
                    }
                }
            });
        }
    });
    (url, accepted, written_rx)
}

/// Reads one small request (its head and `Content-Length` body); false at the end of stream.
fn read_one_request(stream: &mut std::net::TcpStream) -> bool {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 2048];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            if buf.len() >= end + 4 + len {
                return true;
            }
        }
        match stream.read(&mut tmp) {
            Ok(0) | Err(_) => return false,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
        }
    }
}

#[tokio::test]
async fn bytes_that_arrive_on_an_idle_connection_are_never_read_as_the_next_answer() {
    let (url, accepted, written) = late_bytes_server();
    let c = connector(test_config());
    let up = upstream(url);
    assert_eq!(c.ping(&up).await.unwrap().broker, "zerodha");
    // Block this runtime's only thread until the forged answer has arrived, so its I/O driver
    // has not looked at the socket when the next check takes the connection from the pool.
    written.recv_timeout(Duration::from_secs(5)).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    for _ in 0..3 {
        assert_eq!(
            c.ping(&up).await.unwrap(),
            PingInfo {
                broker: "zerodha".into(),
                message: "pong".into()
            }
        );
    }
    // The first connection was dropped for its unsolicited bytes; the second carried the rest.
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_retry_takes_a_request_budget_slot() {
    // Two requests a second (one slot every 500 ms) and a 300 ms deadline per call. The server
    // closes its first connection on the second request without answering: the keep-alive race
    // that makes the client retry on a new connection. That retry is a second request within
    // the same 500 ms, so it must wait for a slot the deadline does not reach.
    let server = scripted(|c, n| {
        if c == 0 && n == 1 {
            Reply::Close
        } else {
            Reply::Answer(pong())
        }
    })
    .await;
    let mut config = test_config();
    config.requests_per_second_per_endpoint = 2;
    let c = connector(config);
    let up = upstream(server.url.clone());
    c.ping(&up).await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let e = c.ping(&up).await.unwrap_err();
    assert_eq!(e.reason, FailureReason::RateLimited, "{e}");
    assert!(e.message.contains("request budget"), "{e}");
    // Only the first connection's two requests reached the server: the retry never left.
    assert_eq!(server.accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
}
