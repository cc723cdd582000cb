//! ListAccounts from cached encodings: each account's `roster.v1.Account` is encoded once per
//! version of its record and the bytes are reused by every page that holds it.
//!
//! Building and encoding a hundred `Account` messages per page (a `String` per field, an etag and
//! two timestamps formatted, prost's varints) was most of the daemon's cost of a ListAccounts
//! page, for data that changes only on a write. The encoding is kept with the version of the
//! account the registry holds (`accounts::Registered`): a write puts a new version in the
//! registry, and a new version starts with no encoding, so there is no invalidation to forget and
//! no lookup per account. A page is
//! those bytes written one after another as field 1 of `ListAccountsResponse`, then the page
//! token and total encoded by prost: the same bytes a client would get from the generated
//! server, and decoded as the same message.
//!
//! The generated `AccountServiceServer` encodes only `pb::ListAccountsResponse`, so
//! `AccountRoutes` sits in front of it: ListAccounts is answered here, with the same request
//! codec and size limits, and every other method goes to the generated server.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::BufMut;
use prost::Message as _;
use roster_proto::codec::StrictDecoder;
use roster_proto::v1 as pb;
use roster_proto::v1::account_service_server::AccountServiceServer;
use tonic::body::Body;
use tonic::codec::{Codec, EncodeBuf, Encoder};
use tonic::codegen::{BoxFuture, Service};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Request, Response, Status};

use super::accounts::AccountApi;
use super::convert;
use crate::accounts::Registered;

/// Field 1 (`accounts`) of `ListAccountsResponse`, wire type 2 (length-delimited): the key that
/// precedes each encoded account.
const ACCOUNTS_FIELD_KEY: u8 = (1 << 3) | 2;

/// The encoded `roster.v1.Account` of this version of an account.
fn wire(account: &Registered) -> &[u8] {
    account.derived(|record| convert::account(record).encode_to_vec())
}

/// A ListAccounts answer: its accounts, written from their cached encodings.
pub struct EncodedPage {
    accounts: Vec<Arc<Registered>>,
    /// The fields after `accounts` (page token, total), encoded by prost.
    tail: pb::ListAccountsResponse,
}

impl EncodedPage {
    /// The wire form of the page: what `pb::ListAccountsResponse::encode` writes for it.
    fn encode(&self, buf: &mut impl BufMut) -> Result<(), prost::EncodeError> {
        for record in &self.accounts {
            let account = wire(record);
            buf.put_u8(ACCOUNTS_FIELD_KEY);
            prost::encode_length_delimiter(account.len(), buf)?;
            buf.put_slice(account);
        }
        self.tail.encode(buf)
    }

    /// The length of what `encode` writes.
    fn encoded_len(&self) -> usize {
        let accounts: usize = self
            .accounts
            .iter()
            .map(|record| {
                let n = wire(record).len();
                1 + prost::length_delimiter_len(n) + n
            })
            .sum();
        accounts + self.tail.encoded_len()
    }
}

/// Decodes ListAccounts requests as every roster.v1 method does; encodes `EncodedPage`s.
#[derive(Debug, Default)]
struct ListCodec;

impl Codec for ListCodec {
    type Encode = EncodedPage;
    type Decode = pb::ListAccountsRequest;
    type Encoder = ListEncoder;
    type Decoder = StrictDecoder<pb::ListAccountsRequest>;

    fn encoder(&mut self) -> ListEncoder {
        ListEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        StrictDecoder::default()
    }
}

#[derive(Debug)]
struct ListEncoder;

impl Encoder for ListEncoder {
    type Item = EncodedPage;
    type Error = Status;

    fn encode(&mut self, page: EncodedPage, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        // The whole page in one allocation: grown step by step from tonic's 8 KiB, a page of 100
        // (~14 KB) was copied twice more on its way out.
        buf.reserve(page.encoded_len());
        // An `EncodeBuf` grows as it is written; prost's capacity check cannot fail on it.
        page.encode(buf)
            .map_err(|e| Status::internal(format!("encoding a ListAccounts page: {e}")))
    }
}

/// The ListAccounts method: the shared request handling, then cached encodings.
#[derive(Clone)]
struct ListAccounts {
    api: Arc<AccountApi>,
}

impl UnaryService<pb::ListAccountsRequest> for ListAccounts {
    type Response = EncodedPage;
    type Future = BoxFuture<Response<EncodedPage>, Status>;

    fn call(&mut self, request: Request<pb::ListAccountsRequest>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let caller = crate::auth::Caller::of(&request)?;
            let page = this.api.list_page(&caller.scope, request.get_ref())?;
            Ok(Response::new(EncodedPage {
                accounts: page.accounts,
                tail: pb::ListAccountsResponse {
                    accounts: Vec::new(),
                    next_page_token: page.next_page_token,
                    total_size: page.total_size,
                },
            }))
        })
    }
}

/// The AccountService as served: ListAccounts from cached encodings, the rest by the generated
/// server.
#[derive(Clone)]
pub struct AccountRoutes {
    generated: AccountServiceServer<AccountApi>,
    list: ListAccounts,
    max_decoding: usize,
    max_encoding: usize,
}

impl AccountRoutes {
    pub fn new(api: AccountApi, max_decoding: usize, max_encoding: usize) -> Self {
        let api = Arc::new(api);
        Self {
            generated: AccountServiceServer::from_arc(api.clone())
                .max_decoding_message_size(max_decoding)
                .max_encoding_message_size(max_encoding),
            list: ListAccounts { api },
            max_decoding,
            max_encoding,
        }
    }

    fn is_list_accounts(path: &str) -> bool {
        path.strip_prefix('/')
            .and_then(|p| p.strip_prefix(Self::NAME))
            == Some("/ListAccounts")
    }
}

impl NamedService for AccountRoutes {
    const NAME: &'static str = <AccountServiceServer<AccountApi> as NamedService>::NAME;
}

impl Service<http::Request<Body>> for AccountRoutes {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<http::Response<Body>, Infallible>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Both the generated server and this route are always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        if !Self::is_list_accounts(req.uri().path()) {
            return self.generated.call(req);
        }
        let list = self.list.clone();
        let (max_decoding, max_encoding) = (self.max_decoding, self.max_encoding);
        Box::pin(async move {
            let mut grpc = Grpc::new(ListCodec)
                .apply_max_message_size_config(Some(max_decoding), Some(max_encoding));
            Ok(grpc.unary(list, req).await)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::{AccountPatch, Accounts};
    use crate::audit::Actor;
    use crate::seal::generate_master_key;

    fn open(dir: &std::path::Path) -> Accounts {
        crate::accounts::store_tests::open(&dir.join("r.redb"), &generate_master_key())
    }

    async fn create(accounts: &Accounts, name: &str, labels: &[(&str, &str)]) {
        let mut new = crate::accounts::store_tests::new(name, "key-123456789");
        new.labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        accounts.create(&Actor::system(), new).await.unwrap();
    }

    /// Every account as the registry holds it, in id order.
    fn registered(accounts: &Accounts) -> Vec<Arc<Registered>> {
        accounts.page(None, 1000, None).accounts
    }

    /// A page as this module sends it.
    fn sent(records: &[Arc<Registered>], token: &str) -> Vec<u8> {
        let page = EncodedPage {
            accounts: records.to_vec(),
            tail: pb::ListAccountsResponse {
                accounts: Vec::new(),
                next_page_token: token.into(),
                total_size: 7,
            },
        };
        let mut wire = Vec::new();
        page.encode(&mut wire).unwrap();
        assert_eq!(wire.len(), page.encoded_len());
        wire
    }

    /// The same page as the generated server would send it.
    fn plain(records: &[Arc<Registered>], token: &str) -> pb::ListAccountsResponse {
        pb::ListAccountsResponse {
            accounts: records
                .iter()
                .map(|r| convert::account(r.record()))
                .collect(),
            next_page_token: token.into(),
            total_size: 7,
        }
    }

    #[tokio::test]
    async fn a_cached_page_is_the_generated_encoding_and_follows_updates() {
        let dir = tempfile::tempdir().unwrap();
        let accounts = open(dir.path());
        create(&accounts, "a", &[]).await;
        create(&accounts, "b", &[("desk", "x")]).await;
        create(&accounts, "c", &[("desk", "y"), ("env", "prod")]).await;
        let records = registered(&accounts);
        for token in ["", "next-page"] {
            // The same message, whether encodings are fresh (first pass) or cached (second) ...
            let wire = sent(&records, token);
            let decoded = pb::ListAccountsResponse::decode(wire.as_slice()).unwrap();
            assert_eq!(decoded, plain(&records, token));
            // ... and byte for byte where prost's order is fixed (at most one label each).
            let two = records.get(..2).unwrap();
            assert_eq!(sent(two, token), plain(two, token).encode_to_vec());
        }

        let b = accounts.get("b").unwrap();
        let patch = AccountPatch {
            name: Some("b2".into()),
            ..Default::default()
        };
        accounts
            .update(
                &Actor::system(),
                &crate::auth::Scope::Global,
                "b",
                &b.etag(),
                patch,
            )
            .await
            .unwrap();
        let records = registered(&accounts);
        let wire = sent(&records, "");
        let decoded = pb::ListAccountsResponse::decode(wire.as_slice()).unwrap();
        assert_eq!(decoded, plain(&records, ""));
        let b2 = decoded.accounts.iter().find(|a| a.id == b.id).unwrap();
        assert_eq!((b2.name.as_str(), b2.etag.as_str()), ("b2", "r2"));
    }

    #[tokio::test]
    async fn a_new_version_of_an_account_is_encoded_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let accounts = open(dir.path());
        create(&accounts, "a", &[]).await;
        let first = registered(&accounts).remove(0);
        let encoded = wire(&first).to_vec();
        // The next version (a rename): encoded afresh, never the old bytes ...
        let patch = AccountPatch {
            name: Some("a2".into()),
            ..Default::default()
        };
        accounts
            .update(
                &Actor::system(),
                &crate::auth::Scope::Global,
                "a",
                "",
                patch,
            )
            .await
            .unwrap();
        let next = registered(&accounts).remove(0);
        assert_eq!(pb::Account::decode(wire(&next)).unwrap().name, "a2");
        // ... while a page that still holds the old version sends what it was made of.
        assert_eq!(wire(&first), encoded.as_slice());
        assert_eq!(pb::Account::decode(wire(&first)).unwrap().name, "a");
        // A version is encoded once: every page that holds it sends the same bytes.
        let again = registered(&accounts).remove(0);
        assert!(std::ptr::eq(wire(&next), wire(&again)));
    }

    #[test]
    fn only_list_accounts_takes_the_cached_route() {
        assert!(AccountRoutes::is_list_accounts(
            "/roster.v1.AccountService/ListAccounts"
        ));
        for other in [
            "/roster.v1.AccountService/GetAccount",
            "/roster.v1.AccountService/ListAccountsX",
            "/roster.v1.MonitorService/ListAccounts",
            "roster.v1.AccountService/ListAccounts",
        ] {
            assert!(!AccountRoutes::is_list_accounts(other), "{other}");
        }
    }
}
