//! Response bodies: a plain buffer, a body that trickles out at a fixed rate (the `SlowBody` fault),
//! and a lazily generated oversized body (the `HugeBody` fault) that never sits in memory whole.
//!
//! Every variant reports an exact size hint so hyper sends a `Content-Length`, like Werkzeug does;
//! a client therefore knows the body is incomplete while it trickles.

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Sleep;

const PAD_CHUNK: usize = 64 * 1024;
static PAD: [u8; PAD_CHUNK] = [b'x'; PAD_CHUNK];

/// The body type of every simulator response.
pub(crate) enum SimBody {
    Full(Option<Bytes>),
    Trickle {
        data: Bytes,
        chunk: usize,
        interval: Duration,
        sleep: Pin<Box<Sleep>>,
    },
    Huge {
        head: Option<Bytes>,
        pad_left: u64,
        tail: Option<Bytes>,
    },
}

impl SimBody {
    pub(crate) fn full(b: impl Into<Bytes>) -> Self {
        SimBody::Full(Some(b.into()))
    }

    /// Sends `data` at roughly `bytes_per_sec`, in chunks of 1/20 s worth (at least one byte).
    pub(crate) fn trickle(data: Bytes, bytes_per_sec: u64) -> Self {
        let bps = bytes_per_sec.max(1);
        let chunk = (bps / 20).max(1);
        let interval = Duration::from_secs_f64(chunk as f64 / bps as f64);
        SimBody::Trickle {
            data,
            chunk: usize::try_from(chunk).unwrap_or(usize::MAX),
            interval,
            sleep: Box::pin(tokio::time::sleep(interval)),
        }
    }

    /// A valid JSON document of at least `total` bytes: `head` + `x` padding + `tail`.
    pub(crate) fn huge(head: Bytes, tail: Bytes, total: u64) -> Self {
        let fixed = (head.len() + tail.len()) as u64;
        SimBody::Huge {
            head: Some(head),
            pad_left: total.saturating_sub(fixed),
            tail: Some(tail),
        }
    }
}

impl Body for SimBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            SimBody::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            SimBody::Trickle {
                data,
                chunk,
                interval,
                sleep,
            } => {
                if data.is_empty() {
                    return Poll::Ready(None);
                }
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                let n = (*chunk).min(data.len());
                let out = data.split_to(n);
                let next = tokio::time::Instant::now() + *interval;
                sleep.as_mut().reset(next);
                Poll::Ready(Some(Ok(Frame::data(out))))
            }
            SimBody::Huge {
                head,
                pad_left,
                tail,
            } => {
                if let Some(h) = head.take() {
                    return Poll::Ready(Some(Ok(Frame::data(h))));
                }
                if *pad_left > 0 {
                    let n = usize::try_from(*pad_left)
                        .unwrap_or(PAD_CHUNK)
                        .min(PAD_CHUNK);
                    *pad_left -= n as u64;
                    return Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(&PAD[..n])))));
                }
                Poll::Ready(tail.take().map(|t| Ok(Frame::data(t))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            SimBody::Full(b) => b.is_none(),
            SimBody::Trickle { data, .. } => data.is_empty(),
            SimBody::Huge {
                head,
                pad_left,
                tail,
            } => head.is_none() && *pad_left == 0 && tail.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        let n = match self {
            SimBody::Full(b) => b.as_ref().map_or(0, |b| b.len() as u64),
            SimBody::Trickle { data, .. } => data.len() as u64,
            SimBody::Huge {
                head,
                pad_left,
                tail,
            } => {
                head.as_ref().map_or(0, |b| b.len() as u64)
                    + *pad_left
                    + tail.as_ref().map_or(0, |b| b.len() as u64)
            }
        };
        SizeHint::with_exact(n)
    }
}
