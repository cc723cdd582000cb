//! The health checks' HTTP/1.1 answer parser (`connector::http1`) against hyper's client
//! (`hyper::client::conn::http1`) on generated answers: status lines, headers, every framing
//! (Content-Length, chunked with extensions and trailers, both at once, close-delimited), byte
//! streams split at random, and malformed variants. Both must accept or both refuse, and agree
//! on the status and body when they accept.
//!
//! Where this client is deliberately stricter than hyper, the generator does not go: an invalid
//! `Content-Length` next to `Transfer-Encoding` (hyper ignores the length, we refuse the
//! answer), malformed trailer lines (ignored by us), and sizes beyond our limits (headers 16 KiB,
//! 64 fields, chunk framing over 1/8 of the data plus 16 KiB).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use proptest::prelude::*;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};

use crate::connector::http1::read_one_answer;

const MAX_BODY: usize = 1 << 20;

/// How the generated answer frames its body.
#[derive(Debug, Clone, Copy)]
enum Framing {
    Length,
    Chunked,
    /// Both headers; `Transfer-Encoding` wins.
    Both,
    /// Neither: the body ends with the connection.
    Close,
}

/// What is done to a well-formed answer.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mutation {
    None,
    PlusLength,
    SecondLength,
    RepeatedLength,
    EmptyLength,
    NegativeLength,
    PlusChunkSize,
    HexPrefixChunkSize,
    LeadingZerosChunkSize,
    BlankBeforeChunkSize,
    BlanksBeforeExtension,
    NewlineInExtension,
    CrInExtension,
    NoCrlfAfterData,
    Http10Chunked,
    BadStatus,
    HeaderWithoutColon,
    GzipThenChunked,
    ChunkedThenGzip,
    Truncated,
}

const MUTATIONS: &[Mutation] = &[
    Mutation::None,
    Mutation::PlusLength,
    Mutation::SecondLength,
    Mutation::RepeatedLength,
    Mutation::EmptyLength,
    Mutation::NegativeLength,
    Mutation::PlusChunkSize,
    Mutation::HexPrefixChunkSize,
    Mutation::LeadingZerosChunkSize,
    Mutation::BlankBeforeChunkSize,
    Mutation::BlanksBeforeExtension,
    Mutation::NewlineInExtension,
    Mutation::CrInExtension,
    Mutation::NoCrlfAfterData,
    Mutation::Http10Chunked,
    Mutation::BadStatus,
    Mutation::HeaderWithoutColon,
    Mutation::GzipThenChunked,
    Mutation::ChunkedThenGzip,
    Mutation::Truncated,
];

#[derive(Debug, Clone)]
struct Spec {
    http10: bool,
    status: u16,
    reason: &'static str,
    headers: Vec<(String, String)>,
    framing: Framing,
    body: Vec<u8>,
    /// Chunk lengths (cycled) and whether each chunk has an extension.
    chunks: Vec<(usize, bool)>,
    trailers: Vec<(String, String)>,
    mutation: Mutation,
    /// Where the byte stream is cut into reads (fractions of its length, in thousandths).
    splits: Vec<u16>,
    truncate_at: u16,
}

fn spec() -> impl Strategy<Value = Spec> {
    let framing = prop_oneof![
        Just(Framing::Length),
        Just(Framing::Chunked),
        Just(Framing::Both),
        Just(Framing::Close),
    ];
    let header = ("[A-Za-z][A-Za-z0-9-]{0,12}", "[ -~]{0,40}")
        .prop_filter("no framing headers", |(n, _)| {
            let n = n.to_ascii_lowercase();
            n != "content-length" && n != "transfer-encoding"
        })
        .prop_map(|(n, v)| (format!("X-{n}"), v.trim().to_owned()));
    let trailer = ("[A-Za-z][A-Za-z0-9-]{0,12}", "[!-~]{0,20}");
    (
        (
            prop::bool::weighted(0.15),
            prop::sample::select(vec![200u16, 201, 204, 304, 403, 404, 429, 500, 502]),
            prop::sample::select(vec!["OK", "", "Not Found", "Too Many Requests"]),
            prop::collection::vec(header, 0..6),
            framing,
        ),
        (
            prop::collection::vec(any::<u8>(), 0..400),
            prop::collection::vec((1usize..64, any::<bool>()), 1..6),
            prop::collection::vec(trailer, 0..3),
            prop::sample::select(MUTATIONS.to_vec()),
            prop::collection::vec(0u16..1000, 0..6),
            0u16..1000,
        ),
    )
        .prop_map(
            |(
                (http10, status, reason, headers, framing),
                (body, chunks, trailers, mutation, splits, truncate_at),
            )| Spec {
                http10,
                status,
                reason,
                headers,
                framing,
                body,
                chunks,
                trailers: trailers
                    .into_iter()
                    .map(|(n, v)| (format!("X-T-{n}"), v))
                    .collect(),
                mutation,
                splits,
                truncate_at,
            },
        )
}

/// The answer's bytes.
fn render(s: &Spec) -> Vec<u8> {
    use Mutation as M;
    let version = if s.http10 || s.mutation == M::Http10Chunked {
        "HTTP/1.0"
    } else {
        "HTTP/1.1"
    };
    let status = if s.mutation == M::BadStatus {
        "2x0".to_owned()
    } else {
        s.status.to_string()
    };
    let mut out = format!("{version} {status} {}\r\n", s.reason).into_bytes();
    let mut header = |line: String| {
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    };
    for (n, v) in &s.headers {
        header(format!("{n}: {v}"));
    }
    if s.mutation == M::HeaderWithoutColon {
        header("X-Broken header".into());
    }
    let chunked =
        matches!(s.framing, Framing::Chunked | Framing::Both) || s.mutation == M::Http10Chunked;
    let len = s.body.len();
    if matches!(s.framing, Framing::Length | Framing::Both) {
        // With Transfer-Encoding, only a valid length is generated (see the module doc).
        let value = match (s.mutation, chunked) {
            (M::PlusLength, false) => format!("+{len}"),
            (M::EmptyLength, false) => String::new(),
            (M::NegativeLength, false) => "-1".into(),
            (M::RepeatedLength, _) => format!("{len}, {len}"),
            _ => len.to_string(),
        };
        header(format!("Content-Length: {value}"));
        if s.mutation == M::SecondLength && !chunked {
            header(format!("Content-Length: {}", len + 1));
        }
    }
    if chunked {
        let coding = match s.mutation {
            M::GzipThenChunked => "gzip, chunked",
            M::ChunkedThenGzip => "chunked, gzip",
            _ => "chunked",
        };
        header(format!("Transfer-Encoding: {coding}"));
    }
    out.extend_from_slice(b"\r\n");
    if !chunked {
        out.extend_from_slice(&s.body);
        return out;
    }
    let mut rest = s.body.as_slice();
    let mut first = true;
    for &(n, ext) in s.chunks.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (data, after) = rest.split_at(n.min(rest.len()));
        let mut size = format!("{:x}", data.len());
        if first {
            size = match s.mutation {
                M::PlusChunkSize => format!("+{size}"),
                M::HexPrefixChunkSize => format!("0x{size}"),
                M::LeadingZerosChunkSize => format!("0000000000000000{size}"),
                M::BlankBeforeChunkSize => format!(" {size}"),
                M::BlanksBeforeExtension => format!("{size} \t;a=b"),
                M::NewlineInExtension => format!("{size};a\nb"),
                M::CrInExtension => format!("{size};a\rb"),
                _ => size,
            };
        }
        if ext {
            size.push_str(";name=\"value\"");
        }
        out.extend_from_slice(size.as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(data);
        if first && s.mutation == M::NoCrlfAfterData {
            out.extend_from_slice(b"XY");
        } else {
            out.extend_from_slice(b"\r\n");
        }
        first = false;
        rest = after;
    }
    out.extend_from_slice(b"0\r\n");
    for (n, v) in &s.trailers {
        out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// The bytes as the server sends them: truncated if so mutated, cut into reads.
fn pieces(s: &Spec, bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut bytes = bytes.to_vec();
    if s.mutation == Mutation::Truncated && !bytes.is_empty() {
        let at = bytes.len() * usize::from(s.truncate_at) / 1000;
        bytes.truncate(at.min(bytes.len() - 1));
    }
    let mut cuts: Vec<usize> = s
        .splits
        .iter()
        .map(|t| bytes.len() * usize::from(*t) / 1000)
        .collect();
    cuts.push(bytes.len());
    cuts.sort_unstable();
    let mut out = Vec::new();
    let mut from = 0;
    for cut in cuts {
        if cut > from {
            out.push(bytes[from..cut].to_vec());
            from = cut;
        }
    }
    out
}

/// A connection that yields the pieces one read at a time, then the end of the stream.
struct Pieces(std::collections::VecDeque<Vec<u8>>);

impl AsyncRead for Pieces {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if let Some(mut piece) = self.0.pop_front() {
            let n = piece.len().min(buf.remaining());
            buf.put_slice(&piece[..n]);
            if n < piece.len() {
                self.0.push_front(piece.split_off(n));
            }
        }
        Poll::Ready(Ok(()))
    }
}

async fn ours(pieces: Vec<Vec<u8>>) -> Result<(u16, Vec<u8>), String> {
    read_one_answer(&mut Pieces(pieces.into()), MAX_BODY).await
}

async fn hyper(pieces: Vec<Vec<u8>>) -> Result<(u16, Vec<u8>), String> {
    let (client, mut server) = tokio::io::duplex(64 * 1024);
    let serve = tokio::spawn(async move {
        // The request first, so the answer comes after it as on a real connection.
        let mut request = Vec::new();
        let mut tmp = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            match server.read(&mut tmp).await {
                Ok(0) | Err(_) => return,
                Ok(n) => request.extend_from_slice(&tmp[..n]),
            }
        }
        for piece in pieces {
            if server.write_all(&piece).await.is_err() {
                return;
            }
            tokio::task::yield_now().await;
        }
        // Dropping `server` ends the stream.
    });
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(client))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let request = http::Request::post("/api/v1/ping")
        .header("host", "upstream")
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let answer = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok((status, body.to_vec()))
    }
    .await;
    let _ = serve.await;
    answer
}

fn compare(s: &Spec) -> Result<(), TestCaseError> {
    let bytes = render(s);
    let pieces = pieces(s, &bytes);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let (ours, theirs) = runtime.block_on(async {
        let bound = Duration::from_secs(5);
        let ours = tokio::time::timeout(bound, ours(pieces.clone())).await;
        let theirs = tokio::time::timeout(bound, hyper(pieces)).await;
        (ours, theirs)
    });
    let (Ok(ours), Ok(theirs)) = (ours, theirs) else {
        return Err(TestCaseError::fail("a parser hung"));
    };
    let shown = String::from_utf8_lossy(&bytes);
    match (&ours, &theirs) {
        (Ok(a), Ok(b)) => prop_assert_eq!(a, b, "{:?}\n{}", s.mutation, shown),
        (Err(_), Err(_)) => {}
        _ => prop_assert!(
            false,
            "disagree on {:?}:\nours {:?}\nhyper {:?}\n{}",
            s.mutation,
            ours.as_ref().map(|(st, b)| (st, b.len())),
            theirs.as_ref().map(|(st, b)| (st, b.len())),
            shown
        ),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 600,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_answer_parser_agrees_with_hyper(s in spec()) {
        compare(&s)?;
    }
}

/// Each mutation at least once on a plain answer of every framing, so none depends on chance.
#[test]
fn every_mutation_and_framing_agrees_with_hyper() {
    for &mutation in MUTATIONS {
        for framing in [
            Framing::Length,
            Framing::Chunked,
            Framing::Both,
            Framing::Close,
        ] {
            let s = Spec {
                http10: false,
                status: 200,
                reason: "OK",
                headers: vec![("Content-Type".into(), "application/json".into())],
                framing,
                body: br#"{"data":{"broker":"zerodha","message":"pong"},"status":"success"}"#
                    .to_vec(),
                chunks: vec![(7, true), (20, false)],
                trailers: vec![("X-T-Checksum".into(), "abc".into())],
                mutation,
                splits: vec![100, 500, 900],
                truncate_at: 600,
            };
            compare(&s).unwrap();
        }
    }
}
