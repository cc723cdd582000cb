//! Request signing shared by the signed venues: HMAC-SHA256 (Binance hex over the query string,
//! OKX base64 over timestamp + method + path + body), on aws-lc-rs, the one crypto provider
//! already in the build (rustls uses it). A venue builds its own payload; only the primitive and
//! its encodings live here.

use aws_lc_rs::hmac;
use base64::Engine as _;

/// HMAC-SHA256 of `message` under `key` (the secret's bytes as given: neither Binance nor OKX
/// decodes the secret first).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let tag = hmac::sign(&key, message);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// Lowercase hex (Binance's `signature`).
pub fn to_hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// Standard base64 with padding (OKX's `OK-ACCESS-SIGN`).
pub fn to_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// URL-safe base64 without padding (JWT segments).
pub fn to_base64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binance_published_hmac_vector() {
        // rest-api.md "HMAC Keys": Binance's illustration key, not a credential.
        let secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
        let payload = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
        assert_eq!(
            to_hex(&hmac_sha256(secret.as_bytes(), payload.as_bytes())),
            "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
        );
    }

    #[test]
    fn okx_worked_vectors() {
        // okx-coinbase-api.md A2, the docs' example secret and timestamp.
        let secret = b"22582BD0CFF14C41EDBF1AB98506286D";
        let sign = |prehash: &str| to_base64(&hmac_sha256(secret, prehash.as_bytes()));
        assert_eq!(
            sign("2020-12-08T09:08:57.715ZGET/api/v5/account/balance?ccy=BTC"),
            "HiZhvSfMtWJA3uUIVXV3a/bSXNPCWvYFXoGCVS8V4zY="
        );
        assert_eq!(
            sign("2020-12-08T09:08:57.715ZGET/api/v5/account/balance"),
            "AkD5YszBhggtIyjDlmTy/9PpNVntel+1Lff8wh0qpQw="
        );
        assert_eq!(
            sign(
                r#"2020-12-08T09:08:57.715ZPOST/api/v5/account/set-leverage{"instId":"BTC-USDT","lever":"5","mgnMode":"isolated"}"#
            ),
            "eCnnCgWLjlQ9XnpUkrcny3qNq3WW/81KNrDr/XR6Xv8="
        );
    }
}
