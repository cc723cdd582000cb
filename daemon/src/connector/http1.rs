//! [`Http1Client`]: a small HTTP/1.1 client for the two calls every health check makes (`ping`
//! and `funds`); the book endpoints stay on reqwest ([`super::openalgo`]).
//!
//! Why a second client: at 5,000 accounts checked every 10 s the daemon makes ~1,000 of these
//! calls a second, for as long as it runs. Through reqwest each cost ~60 µs of CPU (tower layers,
//! pool checkout, header maps, hyper's dispatch task), and each kept-alive connection held ~35 KB
//! inside hyper (a dispatch channel and 8 KB read and write buffers) that reqwest offers no way
//! to shrink: together they put a 5,000-account daemon over its CPU and memory budgets
//! (BENCHMARKS.md). These calls are small and always the same shape, a fixed POST with a short
//! JSON body and an answer of a few hundred bytes. So here a request leaves in one write, the
//! answer is read into a buffer that lives only for the call, and an idle connection is nothing
//! but its socket.
//!
//! What it does:
//! - HTTP/1.1 over TCP or TLS (rustls with the platform's trust store, as reqwest uses; ALPN
//!   `http/1.1`), `TCP_NODELAY`, the connect (and TLS handshake) bounded by `connect_timeout`;
//! - answers framed by `Content-Length`, `Transfer-Encoding: chunked` or the end of the
//!   connection, bounded by `max_response_bytes`; interim 1xx answers are skipped. Framing is
//!   read strictly, where parsers on the way could disagree: lengths and chunk sizes are digits
//!   only, both framings at once are read chunked and the connection is closed after (RFC 9112
//!   6.3), HTTP/1.0 with `Transfer-Encoding` is refused, and chunk framing (size lines,
//!   extensions, trailers) is bounded against the data it carries, so the raw answer is too;
//! - keep-alive: idle connections are kept per origin and reused. One the server closed while it
//!   sat idle is noticed before use; a reused connection that fails before any answer arrives (the
//!   server closed it just as we sent) is retried once on a new connection, which is harmless
//!   because ping and funds only read, and takes a request-budget slot like any request. An idle
//!   connection with anything to read (checked on the socket itself before reuse) is dropped:
//!   bytes nobody asked for would pass for the next request's answer.
//!
//! What it does not: redirects (a 3xx is an answer, classified as a bad response, because a
//! 307/308 would resend the key elsewhere), compression (none is asked for), proxies (upstreams
//! are reached directly, by reqwest too), HTTP/2. The caller bounds the whole call with its
//! deadline; dropping the future drops the connection, so a half-read one is never reused.

use std::collections::HashMap;
use std::io::Write as _;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;

use super::classify::{Answer, chain_has_tls_error};
use super::decode::short_detail;
use super::{BaseUrl, FailureReason, UpstreamError};

/// An idle connection older than this is closed rather than reused: servers time idle ones out
/// (nginx after 75 s), and every one they close as we send costs a retry.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How often idle connections are swept for age, so those of deleted accounts go away.
const PRUNE_EVERY: Duration = Duration::from_secs(30);
/// Idle connections kept per origin (accounts on one OpenAlgo instance share an origin).
const MAX_IDLE_PER_ORIGIN: usize = 8;
/// An answer's status line and headers; more is not an OpenAlgo answer.
const MAX_HEAD_BYTES: usize = 16 * 1024;
const MAX_HEADERS: usize = 64;
/// A chunk-size line (hex size and extensions) or a trailer line.
const MAX_LINE_BYTES: usize = 1024;
/// All trailer lines of a chunked answer together (OpenAlgo sends none).
const MAX_TRAILER_BYTES: usize = 4 * 1024;
/// Chunk framing (size lines, extensions, CRLFs, trailers) allowed beyond 1/8 of the data it
/// frames: a chunked answer's raw bytes stay under `max_body * 9/8 + 16 KiB`, however tiny its
/// chunks or long its extensions, while real servers (chunks of hundreds of bytes and up, a few
/// bytes of framing each) are far inside it.
const MAX_FRAMING_SLACK: usize = 16 * 1024;
/// The first read's buffer: a ping or funds answer, headers included, fits.
const FIRST_READ_BYTES: usize = 2048;

/// A connection, plain or TLS, and the TCP socket under it.
trait Io: AsyncRead + AsyncWrite + Send + Unpin {
    fn tcp(&self) -> &TcpStream;
}
impl Io for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}
impl Io for tokio_rustls::client::TlsStream<TcpStream> {
    fn tcp(&self) -> &TcpStream {
        self.get_ref().0
    }
}
type Conn = Box<dyn Io>;

/// See the module documentation. One per connector; cheap to call concurrently.
pub struct Http1Client {
    tls: TlsConnector,
    connect_timeout: Duration,
    user_agent: String,
    max_body: usize,
    idle: Mutex<IdlePool>,
}

#[derive(Default)]
struct IdlePool {
    /// Keyed by origins from our own accounts table, so a fast hash is safe.
    by_origin: HashMap<Arc<str>, Vec<(Conn, Instant)>, foldhash::fast::RandomState>,
    pruned_at: Option<Instant>,
}

/// How a call failed: before any byte of an answer (on a reused connection, the keep-alive race,
/// worth one retry), or with a verdict.
enum Failure {
    NoAnswer(String),
    Failed(UpstreamError),
}

impl From<UpstreamError> for Failure {
    fn from(e: UpstreamError) -> Self {
        Self::Failed(e)
    }
}

impl Failure {
    fn into_error(self) -> UpstreamError {
        match self {
            Self::Failed(e) => e,
            Self::NoAnswer(detail) => UpstreamError::new(
                FailureReason::Connect,
                format!("upstream connection failed: {detail}"),
                None,
            ),
        }
    }
}

impl Http1Client {
    pub fn new(
        tls: Arc<rustls::ClientConfig>,
        connect_timeout: Duration,
        user_agent: String,
        max_body: usize,
    ) -> Self {
        Self {
            tls: TlsConnector::from(tls),
            connect_timeout,
            user_agent,
            max_body,
            idle: Mutex::new(IdlePool::default()),
        }
    }

    /// `POST {base}{suffix}` with a JSON `body`, on an idle connection to the origin if there is
    /// one that is still open, else on a new one. The caller has taken a request-budget slot for
    /// the request; `retry_slot` takes another before a retry (it is awaited only then).
    pub async fn post(
        &self,
        base: &BaseUrl,
        suffix: &str,
        body: &[u8],
        retry_slot: impl Future<Output = Result<(), UpstreamError>>,
    ) -> Result<Answer, UpstreamError> {
        let request = self.request(base, suffix, body);
        let mut buf = Vec::new();
        if let Some(conn) = self.checkout(base.origin()) {
            match exchange(conn, &request, &mut buf, self.max_body).await {
                Ok((answer, conn)) => {
                    self.checkin(base.origin(), conn);
                    return Ok(answer);
                }
                // Closed under us as we sent: once more on a new connection, which is a second
                // request as far as the upstream's rate limit is concerned.
                Err(Failure::NoAnswer(_)) => {
                    buf.clear();
                    retry_slot.await?;
                }
                Err(Failure::Failed(e)) => return Err(e),
            }
        }
        let conn = self.connect(base).await?;
        let (answer, conn) = exchange(conn, &request, &mut buf, self.max_body)
            .await
            .map_err(Failure::into_error)?;
        self.checkin(base.origin(), conn);
        Ok(answer)
    }

    /// The whole request, so it leaves in one write (and, over TLS, one record).
    fn request(&self, base: &BaseUrl, suffix: &str, body: &[u8]) -> Vec<u8> {
        let mut r = Vec::with_capacity(200 + body.len());
        // Writing into a Vec cannot fail.
        let _ = write!(
            r,
            "POST {}{suffix} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {}\r\n\
             Content-Type: application/json\r\nAccept: application/json\r\n\
             Content-Length: {}\r\n\r\n",
            base.path_prefix(),
            base.authority(),
            self.user_agent,
            body.len()
        );
        r.extend_from_slice(body);
        r
    }

    async fn connect(&self, base: &BaseUrl) -> Result<Conn, UpstreamError> {
        let timed_out = || {
            UpstreamError::new(
                FailureReason::Timeout,
                format!(
                    "no connection to upstream within {}",
                    humantime::format_duration(self.connect_timeout)
                ),
                None,
            )
        };
        let deadline = Instant::now() + self.connect_timeout;
        let tcp = tokio::time::timeout_at(deadline, TcpStream::connect((base.host(), base.port())))
            .await
            .map_err(|_| timed_out())?
            .map_err(|e| {
                UpstreamError::new(
                    FailureReason::Connect,
                    format!(
                        "cannot connect to upstream: {}",
                        short_detail(&e.to_string())
                    ),
                    None,
                )
            })?;
        // Requests are written whole; Nagle would only delay them.
        let _ = tcp.set_nodelay(true);
        if !base.is_https() {
            return Ok(Box::new(tcp));
        }
        let name = ServerName::try_from(base.host().to_owned()).map_err(|_| {
            UpstreamError::new(
                FailureReason::Tls,
                "TLS handshake impossible: the host is not a valid server name",
                None,
            )
        })?;
        let tls = tokio::time::timeout_at(deadline, self.tls.connect(name, tcp))
            .await
            .map_err(|_| timed_out())?
            .map_err(|e| {
                let detail = short_detail(&e.to_string());
                if chain_has_tls_error(&e) {
                    UpstreamError::new(
                        FailureReason::Tls,
                        format!("handshake with upstream failed: {detail}"),
                        None,
                    )
                } else {
                    Failure::NoAnswer(detail).into_error()
                }
            })?;
        Ok(Box::new(tls))
    }

    /// An idle connection to `origin` that is still open, if any.
    fn checkout(&self, origin: &Arc<str>) -> Option<Conn> {
        let now = Instant::now();
        let mut pool = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        let idle = pool.by_origin.get_mut(origin)?;
        while let Some((mut conn, since)) = idle.pop() {
            if now.duration_since(since) < IDLE_TIMEOUT && still_open(&mut conn) {
                return Some(conn);
            }
        }
        None
    }

    fn checkin(&self, origin: &Arc<str>, conn: Option<Conn>) {
        let Some(conn) = conn else { return };
        let now = Instant::now();
        let mut pool = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if pool
            .pruned_at
            .is_none_or(|at| now.duration_since(at) >= PRUNE_EVERY)
        {
            pool.by_origin.retain(|_, idle| {
                idle.retain(|(_, since)| now.duration_since(*since) < IDLE_TIMEOUT);
                !idle.is_empty()
            });
            pool.pruned_at = Some(now);
        }
        let idle = pool.by_origin.entry(origin.clone()).or_default();
        if idle.len() < MAX_IDLE_PER_ORIGIN {
            idle.push((conn, now));
        }
    }
}

/// Whether an idle connection can carry another request: nothing to read (in particular no end
/// of stream) without waiting. Any byte an idle connection has to read is a close or an answer
/// nobody asked for; read later, it would pass for the answer to the next request, which may be
/// another account's, so such a connection is dropped.
fn still_open(conn: &mut Conn) -> bool {
    // The kernel first: tokio's readiness may not have caught up with bytes that came in while
    // the connection sat idle (its reactor runs between tasks), and a stale "not readable"
    // would hide them.
    let mut byte = [std::mem::MaybeUninit::<u8>::uninit(); 1];
    match socket2::SockRef::from(conn.tcp()).peek(&mut byte) {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        // Data, the end of the stream, or an error.
        _ => return false,
    }
    // Then the layers above it (TLS may hold a close or data it has already read).
    let mut cx = Context::from_waker(futures::task::noop_waker_ref());
    let mut byte = [0u8; 1];
    let mut probe = ReadBuf::new(&mut byte);
    matches!(
        Pin::new(conn.as_mut()).poll_read(&mut cx, &mut probe),
        Poll::Pending
    )
}

/// One request and its answer on `conn`. Returns the connection when it can be reused.
async fn exchange(
    mut conn: Conn,
    request: &[u8],
    buf: &mut Vec<u8>,
    max_body: usize,
) -> Result<(Answer, Option<Conn>), Failure> {
    let sent = async {
        conn.write_all(request).await?;
        conn.flush().await
    };
    sent.await
        .map_err(|e| Failure::NoAnswer(short_detail(&e.to_string())))?;
    let (answer, reusable) = read_answer(&mut AckEachRead(&mut conn), buf, max_body).await?;
    Ok((answer, reusable.then_some(conn)))
}

/// Reads an answer acknowledging what has arrived at once, not after the delayed-ACK timer (up
/// to 40 ms on Linux). A Python WSGI server (OpenAlgo runs on Flask) writes the status line and
/// headers, then the body, with Nagle's algorithm on: the body waits until the headers are
/// acknowledged, so a delayed ACK would hold such an answer ~40 ms. Setting `TCP_QUICKACK` before
/// each read sends an ACK that is due (the headers') right away; the kernel drops back to
/// delayed ACKs by itself, hence every read. Best effort: a failure costs latency only.
struct AckEachRead<'a>(&'a mut Conn);

impl AsyncRead for AckEachRead<'_> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let _ = rustix::net::sockopt::set_tcp_quickack(self.0.tcp(), true);
        std::pin::Pin::new(&mut **self.0).poll_read(cx, buf)
    }
}

/// How an answer's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    None,
    Length(usize),
    Chunked,
    UntilClose,
}

#[derive(Debug)]
struct Head {
    len: usize,
    status: u16,
    content_type: Option<String>,
    framing: Framing,
    keep_alive: bool,
}

/// Reads one answer (skipping interim 1xx ones). The flag says whether the connection is clean
/// for another request: keep-alive, and not a byte beyond the answer.
async fn read_answer<R: AsyncRead + Unpin + ?Sized>(
    conn: &mut R,
    buf: &mut Vec<u8>,
    max_body: usize,
) -> Result<(Answer, bool), Failure> {
    let head = loop {
        let head = loop {
            if let Some(head) = parse_head(buf, max_body)? {
                break head;
            }
            if buf.len() > MAX_HEAD_BYTES {
                return Err(bad(None, "upstream answer headers are too large").into());
            }
            if read_more(conn, buf, FIRST_READ_BYTES).await? == 0 {
                return Err(if buf.is_empty() {
                    Failure::NoAnswer("connection closed before an answer".into())
                } else {
                    bad(None, "upstream closed the connection mid-headers").into()
                });
            }
        };
        if (100..200).contains(&head.status) {
            buf.drain(..head.len);
            continue;
        }
        break head;
    };

    let status = Some(head.status);
    let too_big = || {
        bad(
            status,
            format!("upstream body exceeds the {max_body}-byte limit"),
        )
    };
    let truncated = || bad(status, "upstream closed the connection mid-body");
    let (body, clean) = match head.framing {
        Framing::None => (Vec::new(), buf.len() == head.len),
        Framing::Length(n) => {
            let end = head.len + n;
            while buf.len() < end {
                if read_more(conn, buf, end - buf.len()).await? == 0 {
                    return Err(truncated().into());
                }
            }
            let clean = buf.len() == end;
            buf.truncate(end);
            buf.drain(..head.len);
            (std::mem::take(buf), clean)
        }
        Framing::UntilClose => {
            while read_more(conn, buf, FIRST_READ_BYTES).await? > 0 {
                if buf.len() - head.len > max_body {
                    return Err(too_big().into());
                }
            }
            buf.drain(..head.len);
            (std::mem::take(buf), false)
        }
        Framing::Chunked => {
            let mut chunks = Chunked::new(head.len);
            let mut body = Vec::new();
            loop {
                match chunks.advance(buf, &mut body, max_body) {
                    Err(ChunkError::TooBig) => return Err(too_big().into()),
                    Err(ChunkError::Malformed(what)) => {
                        return Err(bad(
                            status,
                            format!("upstream chunked body is malformed: {what}"),
                        )
                        .into());
                    }
                    Ok(true) => break,
                    Ok(false) => {
                        if read_more(conn, buf, FIRST_READ_BYTES).await? == 0 {
                            return Err(truncated().into());
                        }
                    }
                }
            }
            (body, buf.len() == chunks.pos)
        }
    };
    let answer = Answer {
        headers: Vec::new(),
        status: head.status,
        content_type: head.content_type,
        body,
    };
    Ok((answer, head.keep_alive && clean))
}

/// Appends what the connection has (at least `want` bytes of room, within reason); `Ok(0)` is
/// the end of the stream. A read error after the request was sent is a broken answer.
async fn read_more<R: AsyncRead + Unpin + ?Sized>(
    conn: &mut R,
    buf: &mut Vec<u8>,
    want: usize,
) -> Result<usize, Failure> {
    buf.reserve(want.clamp(512, 64 * 1024));
    let started_empty = buf.is_empty();
    conn.read_buf(buf).await.map_err(|e| {
        let detail = short_detail(&e.to_string());
        if started_empty {
            Failure::NoAnswer(detail)
        } else {
            bad(
                None,
                format!("reading the upstream answer failed: {detail}"),
            )
            .into()
        }
    })
}

/// One answer read from `source` as a call reads it: the status and body, or why it was refused.
/// For the differential tests against hyper.
#[cfg(test)]
pub(super) async fn read_one_answer<R: AsyncRead + Unpin>(
    source: &mut R,
    max_body: usize,
) -> Result<(u16, Vec<u8>), String> {
    let mut buf = Vec::new();
    read_answer(source, &mut buf, max_body)
        .await
        .map(|(answer, _)| (answer.status, answer.body))
        .map_err(|f| f.into_error().message)
}

fn bad(status: Option<u16>, message: impl Into<String>) -> UpstreamError {
    UpstreamError::new(FailureReason::BadResponse, message, status)
}

/// The status line and headers at the start of `buf`, once complete.
fn parse_head(buf: &[u8], max_body: usize) -> Result<Option<Head>, UpstreamError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => {
            return Err(bad(None, format!("upstream answer is not HTTP/1.x: {e}")));
        }
    };
    let status = response.code.unwrap_or(0);
    let http10 = response.version == Some(0);
    let mut content_type = None;
    let mut length: Option<usize> = None;
    let mut length_invalid = false;
    let mut transfer_encoding: Option<bool> = None;
    let mut close = http10;
    for h in response.headers.iter() {
        let value = std::str::from_utf8(h.value).unwrap_or("").trim();
        if h.name.eq_ignore_ascii_case("content-type") {
            content_type = Some(value.to_owned());
        } else if h.name.eq_ignore_ascii_case("content-length") {
            // Digits only: `parse` would also take a leading `+`, which other parsers on the
            // path (proxies) may read differently.
            // A list of one value repeated (RFC 9110 8.6) is that value.
            let mut values = value.split(',').map(|v| decimal(v.trim()));
            let first = values.next().flatten();
            let n = first
                .filter(|n| values.all(|v| v == Some(*n)))
                .filter(|n| length.is_none_or(|l| l == *n));
            length_invalid |= n.is_none();
            length = n.or(length);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            // Chunked counts only as the last coding applied.
            let last = value.rsplit(',').next().unwrap_or("").trim();
            transfer_encoding = Some(last.eq_ignore_ascii_case("chunked"));
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    close = true;
                } else if http10 && token.eq_ignore_ascii_case("keep-alive") {
                    close = false;
                }
            }
        }
    }
    // Both framings at once (RFC 9112 6.3): Transfer-Encoding wins, and since something on the
    // way may have framed it by the length instead, the connection is not trusted again.
    let ambiguous = transfer_encoding.is_some() && (length.is_some() || length_invalid);
    // These statuses have no body whatever the headers say (as in hyper).
    let framing = if (100..200).contains(&status) || status == 204 || status == 304 {
        Framing::None
    } else if http10 && transfer_encoding.is_some() {
        // HTTP/1.0 has no Transfer-Encoding: a server that sends one is confused about where
        // its body ends, and so would we be (hyper refuses it too).
        return Err(bad(
            Some(status),
            "upstream answer is HTTP/1.0 with a Transfer-Encoding",
        ));
    } else if length_invalid {
        // Refused even beside Transfer-Encoding (which hyper would follow): a server that
        // garbles its length is not one whose framing we guess at.
        return Err(bad(
            Some(status),
            "upstream answer has an invalid Content-Length",
        ));
    } else {
        match (transfer_encoding, length) {
            (Some(true), _) => Framing::Chunked,
            // Another coding last: only the end of the connection delimits the body.
            (Some(false), _) => Framing::UntilClose,
            (None, Some(n)) if n > max_body => {
                return Err(bad(
                    Some(status),
                    format!("upstream body exceeds the {max_body}-byte limit"),
                ));
            }
            (None, Some(n)) => Framing::Length(n),
            (None, None) => Framing::UntilClose,
        }
    };
    Ok(Some(Head {
        len,
        status,
        content_type,
        keep_alive: !close && !ambiguous && framing != Framing::UntilClose,
        framing,
    }))
}

/// A `Content-Length` value: ASCII digits only (no sign, no spaces inside), within `usize`.
fn decimal(value: &str) -> Option<usize> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// A chunk-size line (`line` without its CRLF): hex digits, then optional blanks, then nothing
/// or `;` and extensions (ignored, but without a CR or LF, which some parsers end lines at). No
/// sign, no leading blanks; `None` when malformed or over `usize`.
fn chunk_size(line: &[u8]) -> Option<usize> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    let (hex, rest) = line.split_at(digits);
    let mut after_blanks = rest.iter().skip_while(|b| matches!(b, b' ' | b'\t'));
    if hex.is_empty()
        || after_blanks.next().is_some_and(|b| *b != b';')
        || rest.iter().any(|b| matches!(b, b'\r' | b'\n'))
    {
        return None;
    }
    hex.iter().try_fold(0usize, |size, b| {
        // Only hex digits, checked above.
        let digit = char::from(*b).to_digit(16)?;
        size.checked_mul(16)?
            .checked_add(usize::try_from(digit).ok()?)
    })
}

/// An incremental decoder of a chunked body inside `buf`, from `pos` on.
struct Chunked {
    pos: usize,
    state: ChunkState,
    /// Bytes of framing so far (size lines with their extensions, CRLFs, trailers): bounded
    /// against the data they carry, so the raw answer stays within a small multiple of the body
    /// limit however the server slices it.
    framing: usize,
    /// Bytes of the trailer section so far.
    trailers: usize,
}

enum ChunkState {
    Size,
    Data(usize),
    DataEnd,
    Trailers,
}

#[derive(Debug, PartialEq, Eq)]
enum ChunkError {
    TooBig,
    Malformed(&'static str),
}

impl Chunked {
    fn new(pos: usize) -> Self {
        Self {
            pos,
            state: ChunkState::Size,
            framing: 0,
            trailers: 0,
        }
    }

    /// Counts `n` more bytes of framing after `data` bytes of body.
    fn framing(&mut self, n: usize, data: usize) -> Result<(), ChunkError> {
        self.framing = self.framing.saturating_add(n);
        if self.framing > MAX_FRAMING_SLACK.saturating_add(data / 8) {
            return Err(ChunkError::Malformed(
                "more chunk framing (sizes, extensions, trailers) than its data allows",
            ));
        }
        Ok(())
    }

    /// Decodes what `buf` holds into `body`: `Ok(true)` when the body is complete, `Ok(false)`
    /// when more bytes are needed.
    fn advance(
        &mut self,
        buf: &[u8],
        body: &mut Vec<u8>,
        max_body: usize,
    ) -> Result<bool, ChunkError> {
        loop {
            let rest = &buf[self.pos..];
            match self.state {
                ChunkState::Size => {
                    let Some(line) = line(rest)? else {
                        return Ok(false);
                    };
                    let size = chunk_size(line).ok_or(ChunkError::Malformed("bad chunk size"))?;
                    self.pos += line.len() + 2;
                    self.framing(line.len() + 2, body.len())?;
                    if size > max_body.saturating_sub(body.len()) {
                        return Err(ChunkError::TooBig);
                    }
                    self.state = if size == 0 {
                        ChunkState::Trailers
                    } else {
                        ChunkState::Data(size)
                    };
                }
                ChunkState::Data(left) => {
                    if rest.is_empty() {
                        return Ok(false);
                    }
                    let take = left.min(rest.len());
                    body.extend_from_slice(&rest[..take]);
                    self.pos += take;
                    self.state = if take == left {
                        ChunkState::DataEnd
                    } else {
                        ChunkState::Data(left - take)
                    };
                }
                ChunkState::DataEnd => {
                    if rest.len() < 2 {
                        return Ok(false);
                    }
                    if &rest[..2] != b"\r\n" {
                        return Err(ChunkError::Malformed("chunk not followed by CRLF"));
                    }
                    self.pos += 2;
                    self.framing(2, body.len())?;
                    self.state = ChunkState::Size;
                }
                ChunkState::Trailers => {
                    let Some(line) = line(rest)? else {
                        return Ok(false);
                    };
                    self.pos += line.len() + 2;
                    if line.is_empty() {
                        return Ok(true);
                    }
                    self.trailers += line.len() + 2;
                    if self.trailers > MAX_TRAILER_BYTES {
                        return Err(ChunkError::Malformed("trailers too large"));
                    }
                    self.framing(line.len() + 2, body.len())?;
                }
            }
        }
    }
}

/// The CRLF-terminated line at the start of `rest` (without the CRLF), once complete.
fn line(rest: &[u8]) -> Result<Option<&[u8]>, ChunkError> {
    match rest.windows(2).position(|w| w == b"\r\n") {
        Some(end) => Ok(Some(&rest[..end])),
        None if rest.len() > MAX_LINE_BYTES => Err(ChunkError::Malformed("line too long")),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::atomic::{AtomicUsize, Ordering};

    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use tokio::net::TcpListener;

    /// A CA, and a TLS server on 127.0.0.1 with a certificate from it for `localhost` that
    /// answers every request on a connection with `answer`. Returns the CA and the port.
    async fn tls_server(
        answer: &'static [u8],
        accepted: Arc<AtomicUsize>,
    ) -> (CertificateDer<'static>, u16) {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["localhost".into()])
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                accepted.fetch_add(1, Ordering::SeqCst);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut buf = [0u8; 4096];
                    // One read per request: the client writes each request whole.
                    while matches!(tls.read(&mut buf).await, Ok(n) if n > 0) {
                        if tls.write_all(answer).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (ca.der().clone(), port)
    }

    fn client_trusting(ca: Option<CertificateDer<'static>>) -> Http1Client {
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(ca);
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Http1Client::new(Arc::new(tls), Duration::from_secs(2), "t".into(), 1024)
    }

    fn base(url: String) -> BaseUrl {
        BaseUrl::parse(&url).unwrap()
    }

    #[tokio::test]
    async fn tls_connections_are_verified_and_kept_alive() {
        const ANSWER: &[u8] =
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
        let accepted = Arc::new(AtomicUsize::new(0));
        let (ca, port) = tls_server(ANSWER, accepted.clone()).await;
        let url = base(format!("https://localhost:{port}"));
        let client = client_trusting(Some(ca));
        for _ in 0..3 {
            let answer = client
                .post(&url, "/api/v1/ping", b"{}", async { Ok(()) })
                .await
                .unwrap();
            assert_eq!((answer.status, answer.body.as_slice()), (200, &b"{}"[..]));
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);

        // A certificate from a CA we do not trust is a TLS failure.
        let e = client_trusting(None)
            .post(&url, "/api/v1/ping", b"{}", async { Ok(()) })
            .await
            .unwrap_err();
        assert_eq!(e.reason, FailureReason::Tls, "{e}");
    }

    fn head(raw: &str) -> Head {
        parse_head(raw.as_bytes(), 1024).unwrap().unwrap()
    }

    #[test]
    fn framing_follows_the_headers() {
        let h =
            head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: application/json\r\n\r\n");
        assert_eq!(
            (h.status, h.framing, h.keep_alive),
            (200, Framing::Length(5), true)
        );
        assert_eq!(h.content_type.as_deref(), Some("application/json"));
        let h = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
        assert_eq!((h.framing, h.keep_alive), (Framing::Chunked, true));
        let h = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 3\r\n\r\n");
        assert_eq!((h.framing, h.keep_alive), (Framing::UntilClose, false));
        let h = head("HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!((h.framing, h.keep_alive), (Framing::UntilClose, false));
        let h = head("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
        assert_eq!((h.framing, h.keep_alive), (Framing::Length(0), false));
        let h = head("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n");
        assert!(!h.keep_alive);
        let h = head("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n");
        assert!(h.keep_alive);
        let h = head("HTTP/1.1 204 No Content\r\n\r\n");
        assert_eq!((h.framing, h.keep_alive), (Framing::None, true));
        assert!(
            parse_head(b"HTTP/1.1 200 OK\r\nContent-Le", 1024)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn bad_heads_are_bad_responses() {
        for raw in [
            "SSH-2.0-OpenSSH_9.6\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 2048\r\n\r\n",
            // A sign, or blanks inside, are not digits.
            "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: -0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: +5\r\n\r\n",
            // HTTP/1.0 has no Transfer-Encoding.
            "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n",
        ] {
            let e = parse_head(raw.as_bytes(), 1024).unwrap_err();
            assert_eq!(e.reason, FailureReason::BadResponse, "{raw:?}: {e}");
        }
    }

    #[test]
    fn both_framings_mean_chunked_and_a_closed_connection() {
        // RFC 9112 6.3: Transfer-Encoding wins over Content-Length, and the connection is closed
        // after, since something on the way may have framed the body by the length.
        let h = head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert_eq!((h.framing, h.keep_alive), (Framing::Chunked, false));
        let h = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n");
        assert_eq!((h.framing, h.keep_alive), (Framing::Chunked, false));
    }

    #[test]
    fn chunk_sizes_are_hex_digits_only() {
        assert_eq!(chunk_size(b"1a"), Some(26));
        assert_eq!(chunk_size(b"1A ;name=value"), Some(26));
        assert_eq!(chunk_size(b"0\t;x"), Some(0));
        assert_eq!(chunk_size(b"00000000000000000005"), Some(5));
        for bad in [
            &b"+5"[..],
            b"-0",
            b" 5",
            b"",
            b";x",
            b"5 6",
            b"0x5",
            b"5z",
            b"fffffffffffffffff",
            b"5;a\nb",
            b"5;a\rb",
        ] {
            assert_eq!(chunk_size(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
        assert!(matches!(
            dechunk(&["+5\r\nhello\r\n0\r\n\r\n"], 64),
            Err(ChunkError::Malformed(_))
        ));
    }

    #[test]
    fn chunk_framing_and_trailers_are_bounded() {
        // One byte of data per chunk behind a 1,000-byte extension: the decoded body stays tiny
        // while the raw answer grows without end. Refused once the framing passes its allowance,
        // long before the raw bytes reach many times the body limit.
        let ext = "x".repeat(1000);
        let chunk = format!("1;{ext}\r\na\r\n");
        let raw = chunk.repeat(100);
        assert!(matches!(
            dechunk(&[&raw], 1024),
            Err(ChunkError::Malformed(what)) if what.contains("framing")
        ));
        // Many short trailer lines, each within the line limit.
        let trailers = "X-T: 0123456789\r\n".repeat(400);
        let raw = format!("2\r\nok\r\n0\r\n{trailers}\r\n");
        assert_eq!(
            dechunk(&[&raw], 1024),
            Err(ChunkError::Malformed("trailers too large"))
        );
        // Normal framing, a few trailers and many small chunks, is fine.
        let raw = format!(
            "{}0\r\nX-T: 1\r\n\r\n",
            "40\r\n".to_owned() + &"y".repeat(64) + "\r\n"
        );
        assert_eq!(dechunk(&[&raw], 1024).unwrap().0.len(), 64);
        let many = format!(
            "{}0\r\n\r\n",
            format!("8\r\n{}\r\n", "z".repeat(8)).repeat(1000)
        );
        assert_eq!(dechunk(&[&many], 8000).unwrap().0.len(), 8000);
    }

    fn dechunk(parts: &[&str], max: usize) -> Result<(Vec<u8>, usize), ChunkError> {
        let mut buf = Vec::new();
        let mut body = Vec::new();
        let mut chunks = Chunked::new(0);
        for part in parts {
            buf.extend_from_slice(part.as_bytes());
            if chunks.advance(&buf, &mut body, max)? {
                return Ok((body, buf.len() - chunks.pos));
            }
        }
        Err(ChunkError::Malformed("incomplete"))
    }

    #[test]
    fn chunked_bodies_decode_across_reads() {
        let whole =
            "4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-T: 1\r\n\r\n";
        let (body, left) = dechunk(&[whole], 1024).unwrap();
        assert_eq!(
            (body.as_slice(), left),
            (&b"Wikipedia in\r\n\r\nchunks."[..], 0)
        );
        // The same bytes one at a time.
        let bytes: Vec<String> = whole.chars().map(String::from).collect();
        let parts: Vec<&str> = bytes.iter().map(String::as_str).collect();
        assert_eq!(dechunk(&parts, 1024).unwrap().0, body);
        // Bytes past the end are left for the caller to notice.
        assert_eq!(dechunk(&["0\r\n\r\nHTTP"], 1024).unwrap().1, 4);
    }

    #[test]
    fn chunked_limits_and_garbage() {
        assert_eq!(dechunk(&["10\r\n"], 8), Err(ChunkError::TooBig));
        assert_eq!(
            dechunk(&["4\r\nab", "cd\r\n5\r\n"], 8),
            Err(ChunkError::TooBig)
        );
        assert!(matches!(
            dechunk(&["zz\r\n"], 8),
            Err(ChunkError::Malformed(_))
        ));
        assert!(matches!(
            dechunk(&["\r\n"], 8),
            Err(ChunkError::Malformed(_))
        ));
        assert!(matches!(
            dechunk(&["2\r\nabXY"], 8),
            Err(ChunkError::Malformed(_))
        ));
        let long = "1".repeat(MAX_LINE_BYTES + 1);
        assert!(matches!(
            dechunk(&[&long], 8),
            Err(ChunkError::Malformed(_))
        ));
        // A size that would overflow is a bad size, not a panic.
        assert!(matches!(
            dechunk(&["fffffffffffffffffffff\r\n"], 8),
            Err(ChunkError::Malformed(_))
        ));
    }
}
