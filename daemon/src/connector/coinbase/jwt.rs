//! The bearer token of every Coinbase Advanced Trade request (`okx-coinbase-api.md` B2): a JWT
//! signed with the account's CDP key, minted per request because its `uri` claim binds the
//! method and path, and valid for 120 s from `nbf`.
//!
//! - Header `{"alg","kid","nonce","typ"}`: `ES256` for an ECDSA P-256 key (the signature is the
//!   fixed-size `r || s` JWS wants, never DER), `EdDSA` for an Ed25519 key; `kid` is the key
//!   name; `nonce` 32 random bytes in hex, new per token (the SDK's `token_hex()`).
//! - Claims `{"sub","iss","nbf","exp","uri"}`: `sub` the key name, `iss` `"cdp"`, `nbf` the
//!   venue's time now in seconds, `exp` `nbf + 120`, `uri` `"GET <authority><path>"`: path only,
//!   no query (a query there is refused, ccxt#21640), and the authority of the host actually
//!   called (`api.coinbase.com` live; `127.0.0.1:PORT` for a simulator, which checks it).
//!
//! The private key arrives as CDP downloads it: a SEC1 `EC PRIVATE KEY` PEM (PKCS#8 EC
//! accepted too), or for an Ed25519 key a PKCS#8 PEM or the base64 of its 32-byte seed or 64-byte
//! seed and public key. `\n` typed literally (a key pasted from a JSON string) is read as a line
//! break, as the SDK does. Nothing here puts the key or a token in an error message.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
use base64::Engine as _;
use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;
use serde::Serialize;

use crate::connector::sign::{to_base64url, to_hex};

/// `iss` of every token (the SDK's since 1.4.1).
pub const ISSUER: &str = "cdp";
/// A token's lifetime: Coinbase refuses it 2 minutes after `nbf`.
pub const LIFETIME_S: i64 = 120;

/// A CDP key's private half, parsed once per token (a parse is microseconds; keeping parsed
/// keys would keep one more copy of each secret in memory).
pub enum SigningKey {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.alg())
    }
}

/// Why a stored private key cannot sign; says what was expected, never what was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "private_key is not a CDP key: expected a -----BEGIN EC PRIVATE KEY----- PEM (ECDSA P-256, \
     the Advanced Trade key type), a PKCS#8 EC or Ed25519 PEM, or an Ed25519 key in base64"
)]
pub struct BadKey;

impl SigningKey {
    pub fn parse(text: &str) -> Result<Self, BadKey> {
        let text = text.trim().replace("\\n", "\n");
        if text.starts_with("-----BEGIN") {
            return match PrivateKeyDer::from_pem_slice(text.as_bytes()).map_err(|_| BadKey)? {
                PrivateKeyDer::Sec1(der) => EcdsaKeyPair::from_private_key_der(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    der.secret_sec1_der(),
                )
                .map(Self::Ecdsa)
                .map_err(|_| BadKey),
                PrivateKeyDer::Pkcs8(der) => {
                    let der = der.secret_pkcs8_der();
                    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                        .map(Self::Ecdsa)
                        .or_else(|_| {
                            Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map(Self::Ed25519)
                        })
                        .map_err(|_| BadKey)
                }
                _ => Err(BadKey),
            };
        }
        // Ed25519 as downloaded: base64 of the 32-byte seed, or of seed || public key.
        let raw = base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map_err(|_| BadKey)?;
        match raw.len() {
            32 => Ed25519KeyPair::from_seed_unchecked(&raw),
            64 => Ed25519KeyPair::from_seed_and_public_key(&raw[..32], &raw[32..]),
            _ => return Err(BadKey),
        }
        .map(Self::Ed25519)
        .map_err(|_| BadKey)
    }

    /// The JWS `alg` of this key.
    pub fn alg(&self) -> &'static str {
        match self {
            Self::Ecdsa(_) => "ES256",
            Self::Ed25519(_) => "EdDSA",
        }
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, BadKey> {
        match self {
            Self::Ecdsa(k) => k
                .sign(&SystemRandom::new(), message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| BadKey),
            Self::Ed25519(k) => Ok(k.sign(message).as_ref().to_vec()),
        }
    }
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'a str,
    kid: &'a str,
    nonce: &'a str,
    typ: &'a str,
}

#[derive(Serialize)]
struct Claims<'a> {
    sub: &'a str,
    iss: &'a str,
    nbf: i64,
    exp: i64,
    uri: &'a str,
}

/// What one token says: who, when, and which request.
#[derive(Debug, Clone, Copy)]
pub struct TokenFor<'a> {
    pub key_name: &'a str,
    /// The venue's time now, in seconds since the epoch.
    pub now_s: i64,
    /// `"GET"`.
    pub method: &'a str,
    /// The base URL's `host[:port]`.
    pub authority: &'a str,
    /// The full request path, without the query.
    pub path: &'a str,
}

impl TokenFor<'_> {
    /// The `uri` claim.
    pub fn uri(&self) -> String {
        format!("{} {}{}", self.method, self.authority, self.path)
    }
}

/// A fresh random nonce: 32 bytes in hex.
pub fn nonce() -> String {
    let mut bytes = [0u8; 32];
    // The system RNG does not fail on the platforms we run on; an all-zero nonce would still be
    // a valid token (it is not a secret, only a replay guard).
    let _ = SystemRandom::new().fill(&mut bytes);
    to_hex(&bytes)
}

/// The signed token `header.claims.signature`, with the given nonce.
pub fn token(key: &SigningKey, t: &TokenFor<'_>, nonce: &str) -> Result<String, BadKey> {
    let header = Header {
        alg: key.alg(),
        kid: t.key_name,
        nonce,
        typ: "JWT",
    };
    let uri = t.uri();
    let claims = Claims {
        sub: t.key_name,
        iss: ISSUER,
        nbf: t.now_s,
        exp: t.now_s.saturating_add(LIFETIME_S),
        uri: &uri,
    };
    let header = serde_json::to_vec(&header).map_err(|_| BadKey)?;
    let claims = serde_json::to_vec(&claims).map_err(|_| BadKey)?;
    let signing_input = format!("{}.{}", to_base64url(&header), to_base64url(&claims));
    let signature = key.sign(signing_input.as_bytes())?;
    Ok(format!("{signing_input}.{}", to_base64url(&signature)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, KeyPair, UnparsedPublicKey};
    use serde_json::Value;

    const KEY_NAME: &str = "organizations/test-organization/apiKeys/test-api-key";

    fn accounts_token() -> TokenFor<'static> {
        TokenFor {
            key_name: KEY_NAME,
            now_s: 1_700_000_000,
            method: "GET",
            authority: "api.coinbase.com",
            path: "/api/v3/brokerage/accounts",
        }
    }

    fn part(token: &str, i: usize) -> Vec<u8> {
        let seg = token.split('.').nth(i).unwrap();
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(seg)
            .unwrap()
    }

    fn sec1_pem(k: &EcdsaKeyPair) -> String {
        let der = k.private_key().as_der().unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        let lines: Vec<_> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN EC PRIVATE KEY-----\n{}\n-----END EC PRIVATE KEY-----\n",
            lines.join("\n")
        )
    }

    #[test]
    fn the_references_ed25519_vector_byte_for_byte() {
        // okx-coinbase-api.md B2, "Worked JWT test vector": the SDK's public test seed.
        let key = SigningKey::parse("k0BUni0p0vZG1BdpVjS6ogBJ7kxm630AJ2dN+tuputA=").unwrap();
        assert_eq!(key.alg(), "EdDSA");
        let t = token(&key, &accounts_token(), "00000000000000000000000000000000").unwrap();
        assert_eq!(
            t,
            "eyJhbGciOiJFZERTQSIsImtpZCI6Im9yZ2FuaXphdGlvbnMvdGVzdC1vcmdhbml6YXRpb24vYXBpS2V5cy90ZXN0LWFwaS1rZXkiLCJub25jZSI6IjAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwIiwidHlwIjoiSldUIn0.eyJzdWIiOiJvcmdhbml6YXRpb25zL3Rlc3Qtb3JnYW5pemF0aW9uL2FwaUtleXMvdGVzdC1hcGkta2V5IiwiaXNzIjoiY2RwIiwibmJmIjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMDAxMjAsInVyaSI6IkdFVCBhcGkuY29pbmJhc2UuY29tL2FwaS92My9icm9rZXJhZ2UvYWNjb3VudHMifQ._iZ1I6Qsi9Qtpt-31UP9MyoKFSjW3TZNNR0DjNvWs6TDX7Y6fh7nbS7oFvFGM0Q1zjPXhN48swgeJQcNeEUxCQ"
        );
        // The same key as seed || public key (the reference's public key).
        let mut both = base64::engine::general_purpose::STANDARD
            .decode("k0BUni0p0vZG1BdpVjS6ogBJ7kxm630AJ2dN+tuputA=")
            .unwrap();
        both.extend(
            base64::engine::general_purpose::STANDARD
                .decode("zirEQMIMq6REC3gbUtc505sz1+l69njlqc8ep1vJJ5A=")
                .unwrap(),
        );
        let k64 =
            SigningKey::parse(&base64::engine::general_purpose::STANDARD.encode(&both)).unwrap();
        assert_eq!(
            token(&k64, &accounts_token(), "00000000000000000000000000000000").unwrap(),
            t
        );
    }

    #[test]
    fn an_es256_token_verifies_with_the_public_key_and_carries_the_sdks_claims() {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let public = pair.public_key().as_ref().to_vec();
        // As CDP downloads it, and with literal "\n" as pasted from the key's JSON file.
        let pem = sec1_pem(&pair);
        for text in [pem.clone(), pem.replace('\n', "\\n")] {
            let key = SigningKey::parse(&text).unwrap();
            assert_eq!(key.alg(), "ES256");
            let n = nonce();
            assert_eq!(n.len(), 64);
            let t = token(&key, &accounts_token(), &n).unwrap();
            let (input, sig) = t.rsplit_once('.').unwrap();
            let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(sig)
                .unwrap();
            assert_eq!(sig.len(), 64, "JWS wants r || s, not DER");
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &public)
                .verify(input.as_bytes(), &sig)
                .unwrap();
            let header: Value = serde_json::from_slice(&part(&t, 0)).unwrap();
            assert_eq!(
                header,
                serde_json::json!({"alg":"ES256","kid":KEY_NAME,"nonce":n,"typ":"JWT"})
            );
            let claims: Value = serde_json::from_slice(&part(&t, 1)).unwrap();
            assert_eq!(
                claims,
                serde_json::json!({"sub":KEY_NAME,"iss":"cdp","nbf":1_700_000_000,
                    "exp":1_700_000_120,"uri":"GET api.coinbase.com/api/v3/brokerage/accounts"})
            );
            // A tampered claim no longer verifies.
            let forged = input.replacen('e', "f", 1);
            assert!(
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &public)
                    .verify(forged.as_bytes(), &sig)
                    .is_err()
            );
        }
        // Every token has its own nonce.
        assert_ne!(nonce(), nonce());
    }

    #[test]
    fn a_pkcs8_ec_key_signs_too_and_junk_is_refused_without_echo() {
        let doc =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(doc.as_ref());
        let pem = format!("-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n");
        assert_eq!(SigningKey::parse(&pem).unwrap().alg(), "ES256");
        for junk in [
            "",
            "not a key",
            "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----",
            "c2VjcmV0LXNlY3JldA==",
        ] {
            let e = SigningKey::parse(junk).unwrap_err();
            assert!(!e.to_string().contains("AAAA"));
        }
    }

    #[test]
    fn the_uri_is_the_called_authority_and_path_without_query() {
        let t = TokenFor {
            authority: "127.0.0.1:4100",
            path: "/api/v3/brokerage/orders/historical/fills",
            ..accounts_token()
        };
        assert_eq!(
            t.uri(),
            "GET 127.0.0.1:4100/api/v3/brokerage/orders/historical/fills"
        );
    }
}
