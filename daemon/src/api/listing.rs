//! ListAccounts from cached encodings: each account's `roster.v1.Account` is encoded once and the
//! bytes are reused by every page that holds it until the account changes.
//!
//! Building and encoding a hundred `Account` messages per page (a `String` per field, an etag and
//! two timestamps formatted, prost's varints) was most of the daemon's cost of a ListAccounts
//! page, for data that changes only on a write. A page is now the cached bytes of its accounts
//! written one after another as field 1 of `ListAccountsResponse`, then the page token and total
//! encoded by prost: the same bytes a client would get from the generated server, and decoded as
//! the same message.
//!
//! The generated `AccountServiceServer` encodes only `pb::ListAccountsResponse`, so
//! `AccountRoutes` sits in front of it: ListAccounts is answered here, with the same request
//! codec and size limits, and every other method goes to the generated server.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};

use bytes::{BufMut, Bytes};
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
use crate::accounts::Accounts;
use crate::store::AccountRecord;

/// Field 1 (`accounts`) of `ListAccountsResponse`, wire type 2 (length-delimited): the key that
/// precedes each encoded account.
const ACCOUNTS_FIELD_KEY: u8 = (1 << 3) | 2;

/// Entries for deleted accounts tolerated before the cache is swept.
const STALE_SLACK: usize = 64;

/// The encoded `roster.v1.Account` of each account, keyed by id. An entry is used only for the
/// record it was encoded from (`Arc::ptr_eq`): a write puts a new record in the registry, so a
/// changed account is re-encoded the next time a page holds it, with no invalidation hook to
/// forget and no moment at which an old encoding can be served for a newer record.
#[derive(Default)]
pub struct EncodedAccounts {
    map: RwLock<IdMap>,
}

/// Looked up once per account on every page: a fast hash (SipHash was ~5 % of a page), as the
/// monitor's id maps use. The ids are server-assigned, so there is no hash-flooding input here.
type IdMap = HashMap<String, (Arc<AccountRecord>, Bytes), foldhash::fast::RandomState>;

impl EncodedAccounts {
    /// The encodings of `records`, in order; encodes (and keeps) those not cached yet.
    pub fn encode_all(&self, records: &[Arc<AccountRecord>], accounts: &Accounts) -> Vec<Bytes> {
        let cached: Vec<Option<Bytes>> = {
            let map = read(&self.map);
            records
                .iter()
                .map(|r| {
                    map.get(&r.id)
                        .filter(|(from, _)| Arc::ptr_eq(from, r))
                        .map(|(_, bytes)| bytes.clone())
                })
                .collect()
        };
        let mut fresh = Vec::new();
        let out = records
            .iter()
            .zip(cached)
            .map(|(record, hit)| {
                hit.unwrap_or_else(|| {
                    let bytes = Bytes::from(convert::account(record).encode_to_vec());
                    fresh.push((record.clone(), bytes.clone()));
                    bytes
                })
            })
            .collect();
        if !fresh.is_empty() {
            let mut map = write(&self.map);
            for (record, bytes) in fresh {
                map.insert(record.id.clone(), (record, bytes));
            }
            // An update overwrites its account's entry; only deleted accounts leave theirs.
            if map.len() > accounts.count() + STALE_SLACK {
                map.retain(|id, _| accounts.exists(id));
            }
        }
        out
    }
}

// A poisoned lock only means a panic elsewhere while it was held; every entry is a whole value
// inserted at once, so the map is consistent either way.
fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A ListAccounts answer whose accounts are already encoded.
pub struct EncodedPage {
    accounts: Vec<Bytes>,
    /// The fields after `accounts` (page token, total), encoded by prost.
    tail: pb::ListAccountsResponse,
}

impl EncodedPage {
    /// The wire form of the page: what `pb::ListAccountsResponse::encode` writes for it.
    fn encode(&self, buf: &mut impl BufMut) -> Result<(), prost::EncodeError> {
        for account in &self.accounts {
            buf.put_u8(ACCOUNTS_FIELD_KEY);
            prost::encode_length_delimiter(account.len(), buf)?;
            buf.put_slice(account);
        }
        self.tail.encode(buf)
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
        // An `EncodeBuf` grows as it is written; prost's capacity check cannot fail on it.
        page.encode(buf)
            .map_err(|e| Status::internal(format!("encoding a ListAccounts page: {e}")))
    }
}

/// The ListAccounts method: the shared request handling, then cached encodings.
#[derive(Clone)]
struct ListAccounts {
    api: Arc<AccountApi>,
    encoded: Arc<EncodedAccounts>,
}

impl UnaryService<pb::ListAccountsRequest> for ListAccounts {
    type Response = EncodedPage;
    type Future = BoxFuture<Response<EncodedPage>, Status>;

    fn call(&mut self, request: Request<pb::ListAccountsRequest>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let page = this.api.list_page(request.get_ref())?;
            let accounts = this
                .encoded
                .encode_all(&page.accounts, &this.api.0.accounts);
            Ok(Response::new(EncodedPage {
                accounts,
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
            list: ListAccounts {
                api,
                encoded: Arc::default(),
            },
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
    use crate::accounts::AccountPatch;
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

    /// A page as this module sends it.
    fn sent(
        encoded: &EncodedAccounts,
        accounts: &Accounts,
        records: &[Arc<AccountRecord>],
        token: &str,
    ) -> Vec<u8> {
        let page = EncodedPage {
            accounts: encoded.encode_all(records, accounts),
            tail: pb::ListAccountsResponse {
                accounts: Vec::new(),
                next_page_token: token.into(),
                total_size: 7,
            },
        };
        let mut wire = Vec::new();
        page.encode(&mut wire).unwrap();
        wire
    }

    /// The same page as the generated server would send it.
    fn plain(records: &[Arc<AccountRecord>], token: &str) -> pb::ListAccountsResponse {
        pb::ListAccountsResponse {
            accounts: records.iter().map(|r| convert::account(r)).collect(),
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
        let encoded = EncodedAccounts::default();
        let records = accounts.all();
        for token in ["", "next-page"] {
            // The same message, whether encodings are fresh (first pass) or cached (second) ...
            let wire = sent(&encoded, &accounts, &records, token);
            let decoded = pb::ListAccountsResponse::decode(wire.as_slice()).unwrap();
            assert_eq!(decoded, plain(&records, token));
            // ... and byte for byte where prost's order is fixed (at most one label each).
            let two = records.get(..2).unwrap();
            assert_eq!(
                sent(&encoded, &accounts, two, token),
                plain(two, token).encode_to_vec()
            );
        }

        let b = accounts.get("b").unwrap();
        let patch = AccountPatch {
            name: Some("b2".into()),
            ..Default::default()
        };
        accounts
            .update(&Actor::system(), "b", &b.etag(), patch)
            .await
            .unwrap();
        let records = accounts.all();
        let wire = sent(&encoded, &accounts, &records, "");
        let decoded = pb::ListAccountsResponse::decode(wire.as_slice()).unwrap();
        assert_eq!(decoded, plain(&records, ""));
        let b2 = decoded.accounts.iter().find(|a| a.id == b.id).unwrap();
        assert_eq!((b2.name.as_str(), b2.etag.as_str()), ("b2", "r2"));
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

    #[tokio::test]
    async fn deleted_accounts_do_not_stay_cached() {
        let dir = tempfile::tempdir().unwrap();
        let accounts = open(dir.path());
        let encoded = EncodedAccounts::default();
        for i in 0..STALE_SLACK + 2 {
            create(&accounts, &format!("acct-{i}"), &[]).await;
        }
        encoded.encode_all(&accounts.all(), &accounts);
        for record in accounts.all() {
            accounts
                .delete(&Actor::system(), &record.id, "")
                .await
                .unwrap();
        }
        create(&accounts, "last", &[]).await;
        encoded.encode_all(&accounts.all(), &accounts);
        assert_eq!(read(&encoded.map).len(), 1);
    }
}
