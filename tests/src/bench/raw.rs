//! A cheap ListAccounts caller for the load generator: the real RPC over the same mTLS channel,
//! but the answer is kept as its encoded bytes instead of being decoded into `Account` structs.
//!
//! Decoding a page of 100 accounts with prost (a `String` per field, a map per account) costs the
//! bench more CPU than the daemon spends answering it, and the two share this machine's cores, so
//! the fully decoding caller measures the load generator as much as the daemon. This caller still
//! checks the gRPC status of every answer (a non-OK status is an error, as with the typed client)
//! and fully decodes every `VERIFY_EVERY`th answer to check that it is the page that was asked for.

use std::marker::PhantomData;

use bytes::{Buf, Bytes};
use prost::Message as _;
use roster_proto::v1::{ListAccountsRequest, ListAccountsResponse};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic::{Request, Status};

/// One answer in this many is decoded and checked; the rest only have their status checked.
pub const VERIFY_EVERY: u64 = 64;

const LIST_ACCOUNTS: &str = "/roster.v1.AccountService/ListAccounts";

/// Encodes requests with prost; hands back each response's message bytes undecoded.
#[derive(Debug)]
struct RawCodec<Req>(PhantomData<Req>);

impl<Req: prost::Message + Send + 'static> Codec for RawCodec<Req> {
    type Encode = Req;
    type Decode = Bytes;
    type Encoder = ProstRequest<Req>;
    type Decoder = KeepBytes;

    fn encoder(&mut self) -> Self::Encoder {
        ProstRequest(PhantomData)
    }

    fn decoder(&mut self) -> Self::Decoder {
        KeepBytes
    }
}

#[derive(Debug)]
struct ProstRequest<Req>(PhantomData<Req>);

impl<Req: prost::Message> Encoder for ProstRequest<Req> {
    type Item = Req;
    type Error = Status;

    fn encode(&mut self, item: Req, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(buf)
            .map_err(|e| Status::internal(format!("encoding the request: {e}")))
    }
}

#[derive(Debug)]
struct KeepBytes;

impl Decoder for KeepBytes {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        // The frame's buffer is split off, not copied.
        Ok(Some(buf.copy_to_bytes(buf.remaining())))
    }
}

/// A ListAccounts caller that decodes one answer in `VERIFY_EVERY`.
pub struct ListAccountsRaw {
    grpc: tonic::client::Grpc<Channel>,
    calls: u64,
}

impl ListAccountsRaw {
    pub fn new(ch: &Channel) -> Self {
        Self {
            grpc: tonic::client::Grpc::new(ch.clone()),
            calls: 0,
        }
    }

    /// Asks for the first page of `page_size`; a sampled answer must hold `page_size` accounts
    /// and a total of at least that many.
    pub async fn call(&mut self, page_size: i32) -> Result<(), Status> {
        self.grpc
            .ready()
            .await
            .map_err(|e| Status::unavailable(format!("channel not ready: {e}")))?;
        let request = Request::new(ListAccountsRequest {
            page_size,
            ..Default::default()
        });
        let bytes = self
            .grpc
            .unary(
                request,
                PathAndQuery::from_static(LIST_ACCOUNTS),
                RawCodec(PhantomData),
            )
            .await?
            .into_inner();
        self.calls += 1;
        if self.calls.is_multiple_of(VERIFY_EVERY) {
            verify(bytes, page_size)?;
        }
        Ok(())
    }
}

fn verify(bytes: Bytes, page_size: i32) -> Result<(), Status> {
    let page = ListAccountsResponse::decode(bytes)
        .map_err(|e| Status::internal(format!("answer is not a ListAccountsResponse: {e}")))?;
    let want = usize::try_from(page_size).unwrap_or(0);
    let ok = page.accounts.len() == want
        && page.total_size >= page_size
        && page.accounts.iter().all(|a| !a.id.is_empty());
    if ok {
        Ok(())
    } else {
        Err(Status::internal(format!(
            "expected a page of {want} accounts, got {} (total_size {})",
            page.accounts.len(),
            page.total_size
        )))
    }
}
