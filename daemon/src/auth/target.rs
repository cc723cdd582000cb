//! The account a refused request named, read from its body, so that the refusal's audit record
//! says which account was meant ("eve may not update desk-a"), not only which RPC.
//!
//! Only the one field that names the account is decoded (by its field number, with every other
//! field skipped unread), so no credential in the same message is ever parsed or kept, and the
//! name is recorded as the client spelled it, never looked up: the record is the same whether
//! the account exists, is another tenant's, or never existed.

use prost::Message;

/// Body bytes read from a refused request at most; a larger one is recorded without a target.
pub const MAX_BODY: usize = 64 * 1024;
/// Characters of the named account kept in the record; a longer one is cut and marked.
const MAX_NAMED: usize = 128;

/// Requests whose field 1 is the account id or name.
#[derive(Clone, PartialEq, Message)]
struct NamedInField1 {
    #[prost(string, tag = "1")]
    account: String,
}

/// `CreateAccountRequest`: the new account's name is field 2.
#[derive(Clone, PartialEq, Message)]
struct NewName {
    #[prost(string, tag = "2")]
    name: String,
}

/// `UpdateAccountRequest`: field 1 is the account (its id is field 1, its name field 2).
#[derive(Clone, PartialEq, Message)]
struct Update {
    #[prost(message, optional, tag = "1")]
    account: Option<UpdatedAccount>,
}

#[derive(Clone, PartialEq, Message)]
struct UpdatedAccount {
    #[prost(string, tag = "1")]
    id: String,
    #[prost(string, tag = "2")]
    name: String,
}

/// The account `rpc` (`roster.v1.Service/Method`) names in `body` (one gRPC frame), if any.
pub fn named_account(rpc: &str, body: &[u8]) -> Option<String> {
    let message = single_frame(body)?;
    let named = match rpc {
        "roster.v1.AccountService/GetAccount"
        | "roster.v1.AccountService/DeleteAccount"
        | "roster.v1.AccountService/TestConnection"
        | "roster.v1.MonitorService/GetHealth"
        | "roster.v1.MonitorService/CheckNow"
        | "roster.v1.MonitorService/ListEvents" => NamedInField1::decode(message).ok()?.account,
        "roster.v1.AccountService/CreateAccount" => NewName::decode(message).ok()?.name,
        "roster.v1.AccountService/UpdateAccount" => {
            let a = Update::decode(message).ok()?.account?;
            if a.id.is_empty() { a.name } else { a.id }
        }
        _ => return None,
    };
    let named = named.trim();
    if named.is_empty() {
        return None;
    }
    Some(match named.char_indices().nth(MAX_NAMED) {
        Some((cut, _)) => format!("{}… (cut)", named.get(..cut).unwrap_or_default()),
        None => named.to_string(),
    })
}

/// The message of an uncompressed gRPC frame (flag byte, 4-byte length, message).
fn single_frame(body: &[u8]) -> Option<&[u8]> {
    let (&compressed, rest) = body.split_first()?;
    let (len, message) = rest.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
    (compressed == 0).then_some(())?;
    message.get(..len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_proto::v1 as pb;

    fn frame(m: &impl Message) -> Vec<u8> {
        let bytes = m.encode_to_vec();
        let mut out = vec![0];
        out.extend_from_slice(&u32::try_from(bytes.len()).unwrap().to_be_bytes());
        out.extend_from_slice(&bytes);
        out
    }

    #[test]
    fn the_named_account_is_read_from_each_rpc_that_names_one() {
        let update = pb::UpdateAccountRequest {
            account: Some(pb::Account {
                id: "A1".into(),
                name: "desk-a".into(),
                ..Default::default()
            }),
            api_key: "SECRET-KEY".into(),
            ..Default::default()
        };
        assert_eq!(
            named_account("roster.v1.AccountService/UpdateAccount", &frame(&update)).as_deref(),
            Some("A1")
        );
        let by_name = pb::UpdateAccountRequest {
            account: Some(pb::Account {
                name: "desk-a".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            named_account("roster.v1.AccountService/UpdateAccount", &frame(&by_name)).as_deref(),
            Some("desk-a")
        );
        let delete = pb::DeleteAccountRequest {
            account: "desk-b".into(),
            etag: "r1".into(),
        };
        assert_eq!(
            named_account("roster.v1.AccountService/DeleteAccount", &frame(&delete)).as_deref(),
            Some("desk-b")
        );
        let create = pb::CreateAccountRequest {
            name: "new-desk".into(),
            api_key: "SECRET-KEY".into(),
            ..Default::default()
        };
        assert_eq!(
            named_account("roster.v1.AccountService/CreateAccount", &frame(&create)).as_deref(),
            Some("new-desk")
        );
        let check = pb::CheckNowRequest {
            account: "desk-c".into(),
        };
        assert_eq!(
            named_account("roster.v1.MonitorService/CheckNow", &frame(&check)).as_deref(),
            Some("desk-c")
        );
        // An RPC that names no account, or a request that names none.
        assert_eq!(
            named_account("roster.v1.AdminService/Backup", &frame(&check)),
            None
        );
        assert_eq!(
            named_account(
                "roster.v1.AccountService/DeleteAccount",
                &frame(&pb::DeleteAccountRequest::default())
            ),
            None
        );
    }

    #[test]
    fn hostile_bodies_give_no_target_or_a_bounded_one() {
        let rpc = "roster.v1.AccountService/DeleteAccount";
        for body in [
            &[][..],
            &[0, 0, 0][..],
            // Says 100 bytes follow, has 2.
            &[0, 0, 0, 0, 100, 10, 0][..],
            // Compressed.
            &[1, 0, 0, 0, 2, 10, 0][..],
            // Not protobuf.
            &[0, 0, 0, 0, 3, 0xff, 0xff, 0xff][..],
        ] {
            assert_eq!(named_account(rpc, body), None, "{body:?}");
        }
        let long = pb::DeleteAccountRequest {
            account: "x".repeat(10_000),
            ..Default::default()
        };
        let named = named_account(rpc, &frame(&long)).unwrap();
        assert!(named.len() < 200 && named.ends_with("(cut)"), "{named}");
    }
}
