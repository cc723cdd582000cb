//! How the simulated Coinbase checks a bearer token, from the reference (`okx-coinbase-api.md`
//! B2-B4), not from any client: an ES256 JWT whose header names a known, unrevoked key (`kid`),
//! whose claims say `sub` = that key, `iss` = `cdp`, `nbf <= now < exp` on the simulator's own
//! clock with a lifetime of at most 120 s, and `uri` = `"<METHOD> <Host><path>"` (path only),
//! signed (r || s, 64 bytes) by the key's private half. Anything else is one and the same 401
//! `Unauthorized`, as on the real venue; [`Refusal`] only tells the tests why.

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use base64::Engine as _;
use serde_json::Value;

/// Why a token was refused (never sent to the client).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    NoBearer,
    Malformed,
    WrongAlg,
    UnknownKey,
    Revoked,
    WrongClaims,
    NotYetValid,
    Expired,
    WrongUri,
    BadSignature,
}

/// The parts of a token the verifier reads.
pub struct Token {
    pub kid: String,
    signing_input: String,
    signature: Vec<u8>,
    claims: Value,
}

fn b64(seg: &str) -> Result<Vec<u8>, Refusal> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(seg)
        .map_err(|_| Refusal::Malformed)
}

/// Splits and decodes `Authorization: Bearer <jwt>`.
pub fn parse(authorization: Option<&str>) -> Result<Token, Refusal> {
    let jwt = authorization
        .and_then(|a| a.strip_prefix("Bearer "))
        .ok_or(Refusal::NoBearer)?;
    let mut parts = jwt.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Refusal::Malformed);
    };
    let header: Value = serde_json::from_slice(&b64(h)?).map_err(|_| Refusal::Malformed)?;
    let claims: Value = serde_json::from_slice(&b64(c)?).map_err(|_| Refusal::Malformed)?;
    if header.get("alg").and_then(Value::as_str) != Some("ES256") {
        return Err(Refusal::WrongAlg);
    }
    if header
        .get("nonce")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(Refusal::Malformed);
    }
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .ok_or(Refusal::Malformed)?
        .to_owned();
    Ok(Token {
        kid,
        signing_input: format!("{h}.{c}"),
        signature: b64(s)?,
        claims,
    })
}

impl Token {
    /// Checks the claims against the simulator's clock `now_s` and the request line, and the
    /// signature against `public_key` (an uncompressed P-256 point).
    pub fn verify(
        &self,
        public_key: &[u8],
        now_s: i64,
        method: &str,
        host: &str,
        path: &str,
    ) -> Result<(), Refusal> {
        let c = &self.claims;
        let text = |k: &str| c.get(k).and_then(Value::as_str);
        if text("sub") != Some(self.kid.as_str()) || text("iss") != Some("cdp") {
            return Err(Refusal::WrongClaims);
        }
        let (Some(nbf), Some(exp)) = (
            c.get("nbf").and_then(Value::as_i64),
            c.get("exp").and_then(Value::as_i64),
        ) else {
            return Err(Refusal::WrongClaims);
        };
        if exp <= nbf || exp - nbf > 120 {
            return Err(Refusal::WrongClaims);
        }
        if now_s < nbf {
            return Err(Refusal::NotYetValid);
        }
        if now_s >= exp {
            return Err(Refusal::Expired);
        }
        if text("uri") != Some(format!("{method} {host}{path}").as_str()) {
            return Err(Refusal::WrongUri);
        }
        if self.signature.len() != 64 {
            return Err(Refusal::BadSignature);
        }
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public_key)
            .verify(self.signing_input.as_bytes(), &self.signature)
            .map_err(|_| Refusal::BadSignature)
    }
}
