//! The OKX connector's pure parts: the reference's signing vectors through the request signer,
//! the timestamp format, the envelope and its error codes in every observed form, the
//! reference's JSON shapes with their quirks, and the budget's quotas. The HTTP path is
//! exercised against the simulator (tests/tests/okx_sim.rs and the end-to-end tests).

use std::str::FromStr;
use std::time::Duration;

use governor::RateLimiter;
use governor::clock::FakeRelativeClock;
use rust_decimal::Decimal;
use serde_json::value::RawValue;

use super::budget::quota;
use super::decode::{self, envelope_data, reason_of};
use super::{VENUE, iso_timestamp, signature};
use crate::connector::{BookKind, FailureReason, Mode, venue};

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn data(body: &str) -> Box<RawValue> {
    let raw = envelope_data("test", 200, body.as_bytes()).unwrap();
    RawValue::from_string(raw.get().to_owned()).unwrap()
}

#[test]
fn the_reference_vectors_sign_through_the_request_signer() {
    // okx-coinbase-api.md A2: the docs' example secret and timestamp.
    let secret = "22582BD0CFF14C41EDBF1AB98506286D";
    let ts = "2020-12-08T09:08:57.715Z";
    assert_eq!(
        signature(secret, ts, "GET", "/api/v5/account/balance?ccy=BTC", ""),
        "HiZhvSfMtWJA3uUIVXV3a/bSXNPCWvYFXoGCVS8V4zY="
    );
    assert_eq!(
        signature(secret, ts, "GET", "/api/v5/account/balance", ""),
        "AkD5YszBhggtIyjDlmTy/9PpNVntel+1Lff8wh0qpQw="
    );
    assert_eq!(
        signature(
            secret,
            ts,
            "POST",
            "/api/v5/account/set-leverage",
            r#"{"instId":"BTC-USDT","lever":"5","mgnMode":"isolated"}"#
        ),
        "eCnnCgWLjlQ9XnpUkrcny3qNq3WW/81KNrDr/XR6Xv8="
    );
}

#[test]
fn timestamps_have_exactly_three_millisecond_digits_and_z() {
    assert_eq!(iso_timestamp(1_607_418_537_715), "2020-12-08T09:08:57.715Z");
    assert_eq!(iso_timestamp(1_607_418_537_000), "2020-12-08T09:08:57.000Z");
    assert_eq!(iso_timestamp(5), "1970-01-01T00:00:00.005Z");
}

#[test]
fn the_venue_is_registered_with_its_fields_environments_and_books() {
    let v = venue("okx").unwrap();
    assert!(std::ptr::eq(v, &VENUE));
    assert_eq!(v.field_names(), ["api_key", "secret_key", "passphrase"]);
    assert_eq!(v.default_environment(), "live");
    assert!(v.environment("demo").is_some());
    assert!(v.has(BookKind::Positions) && v.has(BookKind::Balances));
    assert!(!v.has(BookKind::Holdings) && !v.has(BookKind::Funds));
}

/// The reason an error body gives, with its status.
fn reason(status: u16, body: &str) -> (FailureReason, String) {
    let (e, _) = envelope_data("balance", status, body.as_bytes()).unwrap_err();
    assert_eq!(e.http_status, Some(status));
    (e.reason, e.message)
}

#[test]
fn auth_errors_without_data_map_by_code_string_or_number() {
    // The fixed-size bodies observed live (A4): no `data` key.
    let (r, m) = reason(401, r#"{"msg":"Invalid Sign","code":"50113"}"#);
    assert_eq!(r, FailureReason::AuthRejected);
    assert!(
        m.contains("wrong secret key") && m.contains("50113") && m.contains("Invalid Sign"),
        "{m}"
    );
    // 2021: the code as a JSON number.
    assert_eq!(
        reason(401, r#"{"msg":"Invalid Sign","code":50113}"#).0,
        FailureReason::AuthRejected
    );
    let (r, m) = reason(401, r#"{"msg":"API key doesn't exist","code":"50119"}"#);
    assert_eq!(r, FailureReason::AuthRejected);
    assert!(m.contains("doesn't exist"), "{m}");
    let (r, m) = reason(
        401,
        r#"{"msg":"Request header \"OK-ACCESS-PASSPHRASE\" incorrect.","code":"50105"}"#,
    );
    assert_eq!(r, FailureReason::AuthRejected);
    assert!(m.contains("wrong passphrase"), "{m}");
    assert!(
        reason(401, r#"{"msg":"Invalid OK-ACCESS-KEY.","code":"50111"}"#)
            .1
            .contains("invalid API key")
    );
    let (r, m) = reason(
        401,
        r#"{"msg":"APIKey does not match current environment.","code":"50101"}"#,
    );
    assert_eq!(r, FailureReason::AuthRejected);
    assert!(m.contains("demo key on live"), "{m}");
}

#[test]
fn every_mapped_code_has_its_reason() {
    use FailureReason::*;
    for (code, want) in [
        ("50102", ClockSkew),
        ("50112", ClockSkew),
        ("50110", IpBanned),
        ("50120", PermissionDenied),
        ("50030", PermissionDenied),
        ("50011", RateLimited),
        ("50007", AccountRestricted),
        ("50009", AccountRestricted),
        ("50012", AccountRestricted),
        ("50027", AccountRestricted),
        ("50029", AccountRestricted),
    ] {
        assert_eq!(reason_of(code).map(|r| r.0), Some(want), "{code}");
    }
    assert_eq!(reason_of("51000"), None);
}

#[test]
fn http_200_with_a_non_zero_code_is_an_error() {
    let body = r#"{"code":"50120","msg":"This API key doesn't have permission to use this function","data":[]}"#;
    let (r, m) = reason(200, body);
    assert_eq!(r, FailureReason::PermissionDenied);
    assert!(m.contains("Read permission") && m.contains("50120"), "{m}");
    let (r, _) = reason(
        200,
        r#"{"code":"50011","msg":"Rate limit reached.","data":[]}"#,
    );
    assert_eq!(r, FailureReason::RateLimited);
    // The 429 form, and a 429 without a body we can read.
    assert_eq!(
        reason(429, r#"{"msg":"Too Many Requests","code":"50011"}"#).0,
        FailureReason::RateLimited
    );
    assert_eq!(
        reason(429, "Too Many Requests").0,
        FailureReason::RateLimited
    );
    // An unknown code with a 200 is still an error, never data.
    assert_eq!(
        reason(200, r#"{"code":"51000","msg":"Parameter error","data":[]}"#).0,
        FailureReason::BadResponse
    );
    // Broad 5xx pages and CCXT's numeric 500 body.
    assert_eq!(
        reason(502, "<html>bad gateway</html>").0,
        FailureReason::Http5xx
    );
    assert_eq!(
        reason(500, r#"{"code":500,"msg":"Internal Server Error"}"#).0,
        FailureReason::Http5xx
    );
    // code 0 without data, an array body, and a missing code are bad responses.
    assert_eq!(
        reason(200, r#"{"code":"0","msg":""}"#).0,
        FailureReason::BadResponse
    );
    assert_eq!(reason(200, r#"[1,2]"#).0, FailureReason::BadResponse);
    assert_eq!(
        reason(200, r#"{"msg":"","data":[]}"#).0,
        FailureReason::BadResponse
    );
}

#[test]
fn the_skew_code_is_reported_as_such_for_a_resync() {
    let (e, okx) = envelope_data(
        "balance",
        401,
        br#"{"code":"50102","data":[],"msg":"Timestamp request expired"}"#,
    )
    .unwrap_err();
    assert_eq!(e.reason, FailureReason::ClockSkew);
    assert_eq!(okx.unwrap().code, decode::CODE_TIMESTAMP_EXPIRED);
}

#[test]
fn server_time_and_config_decode() {
    let t = data(r#"{"code":"0","msg":"","data":[{"ts":"1700000000123"}]}"#);
    assert_eq!(decode::server_time(200, &t).unwrap(), 1_700_000_000_123);
    let bad = data(r#"{"code":"0","msg":"","data":[{"ts":"soon"}]}"#);
    assert_eq!(
        decode::server_time(200, &bad).unwrap_err().reason,
        FailureReason::BadResponse
    );
    let c = data(
        r#"{"code":"0","msg":"","data":[{"uid":"44705892343619584","mainUid":"44705892343619584","acctLv":"2","perm":"read_only,trade","ip":"","label":"roster","posMode":"net_mode","autoLoan":false}]}"#,
    );
    let config = decode::config(200, &c).unwrap();
    assert_eq!(config.uid, "44705892343619584");
    assert_eq!(config.perm, "read_only,trade");
    let none = data(r#"{"code":"0","msg":"","data":[{"uid":""}]}"#);
    assert!(decode::config(200, &none).is_err());
}

/// The reference's balance shape (A5.1), plus a second currency with `""` availBal.
const BALANCE: &str = r#"{"code":"0","msg":"","data":[{
  "uTime":"1717000000123","totalEq":"10234.51","isoEq":"","adjEq":"10220.00",
  "ordFroz":"0","imr":"0","mmr":"0","borrowFroz":"0","mgnRatio":"",
  "notionalUsd":"0","upl":"",
  "details":[{
    "ccy":"USDT","eq":"5100.25","cashBal":"5100.25","availBal":"5000.25",
    "frozenBal":"100","ordFrozen":"100","availEq":"","upl":"","isoEq":"",
    "eqUsd":"5101.30","disEq":"5101.30","liab":"0","uTime":"1716999999000"
  },{
    "ccy":"BTC","eq":"0.52","cashBal":"0.5","availBal":"","frozenBal":"0.1","upl":"0.02"
  }]
}]}"#;

#[test]
fn balances_take_avail_and_frozen_with_empty_strings_unset() {
    let b = decode::balances(200, &data(BALANCE), 100, Mode::Live).unwrap();
    assert_eq!(b.rows.len(), 2);
    let btc = &b.rows[0];
    assert_eq!(btc.asset, "BTC");
    // availBal "" is not zero: free is cashBal - frozenBal, and equity's upl is left out.
    assert_eq!(
        (btc.free, btc.locked, btc.total),
        (d("0.4"), d("0.1"), d("0.5"))
    );
    let usdt = &b.rows[1];
    assert_eq!(usdt.asset, "USDT");
    assert_eq!(
        (usdt.free, usdt.locked, usdt.total),
        (d("5000.25"), d("100"), d("5100.25"))
    );
    // An account with nothing (ccxt#24530) has no rows.
    let empty = data(r#"{"code":"0","msg":"","data":[{"totalEq":"","details":[]}]}"#);
    assert!(
        decode::balances(200, &empty, 100, Mode::Paper)
            .unwrap()
            .rows
            .is_empty()
    );
}

#[test]
fn balances_refuse_huge_numbers_too_many_rows_and_non_numbers() {
    let huge = data(
        r#"{"code":"0","msg":"","data":[{"details":[{"ccy":"X","availBal":"1e20","frozenBal":"0"}]}]}"#,
    );
    let e = decode::balances(200, &huge, 100, Mode::Live).unwrap_err();
    assert_eq!(e.reason, FailureReason::BadResponse);
    assert!(e.message.contains("availBal"), "{}", e.message);
    let many = data(BALANCE);
    assert_eq!(
        decode::balances(200, &many, 1, Mode::Live)
            .unwrap_err()
            .reason,
        FailureReason::BadResponse
    );
    let text =
        data(r#"{"code":"0","msg":"","data":[{"details":[{"ccy":"X","availBal":"lots"}]}]}"#);
    assert!(decode::balances(200, &text, 100, Mode::Live).is_err());
}

#[test]
fn positions_keep_signs_and_unset_fields() {
    let p = data(
        r#"{"code":"0","msg":"","data":[{
  "instType":"SWAP","instId":"BTC-USDT-SWAP","mgnMode":"cross","posId":"1752810569801498000",
  "posSide":"net","pos":"-3","availPos":"","avgPx":"61000.1","markPx":"60500.0","last":"60510.0",
  "upl":"15.0","uplRatio":"0.0123","lever":"5","liqPx":"80000","imr":"363.0","mmr":"3.6",
  "margin":"","mgnRatio":"25.1","notionalUsd":"1815.0","ccy":"USDT","posCcy":"",
  "realizedPnl":"-0.9","fee":"-0.9","fundingFee":"0","cTime":"1717000000000","uTime":"1717000100000"
},{"instType":"MARGIN","instId":"ETH-USDT","mgnMode":"isolated","posSide":"net","pos":"2","posCcy":"USDT","avgPx":"3000","markPx":"","last":"3010","upl":"","realizedPnl":"","ccy":"USDT"},
{"instType":"SWAP","instId":"ETH-USDT-SWAP","mgnMode":"cross","posSide":"short","pos":"4","avgPx":"3000","markPx":"2990","upl":"40","realizedPnl":"0","ccy":"USDT"}]}"#,
    );
    let book = decode::positions(200, &p, 100, Mode::Live).unwrap();
    assert_eq!(book.currency, "USDT");
    let swap = &book.rows[0];
    assert_eq!(swap.symbol, "BTC-USDT-SWAP");
    assert_eq!(swap.quantity, d("-3"));
    assert_eq!((swap.average_price, swap.ltp), (d("61000.1"), d("60500")));
    assert_eq!(swap.unrealized_pnl, Some(d("15")));
    assert_eq!(swap.realized_pnl, Some(d("-0.9")));
    assert_eq!(swap.pnl, d("14.1"));
    // MARGIN in the quote currency is short; "" upl and realizedPnl stay unset.
    let margin = &book.rows[1];
    assert_eq!(margin.quantity, d("-2"));
    assert_eq!(margin.ltp, d("3010"));
    assert_eq!((margin.unrealized_pnl, margin.realized_pnl), (None, None));
    // long/short mode: posSide short.
    assert_eq!(book.rows[2].quantity, d("-4"));
}

#[test]
fn orders_and_fills_decode_the_reference_rows() {
    let o = data(
        r#"{"code":"0","msg":"","data":[{
  "instType":"SPOT","instId":"BTC-USDT","ordId":"1752588852617379841","clOrdId":"","tag":"",
  "px":"25013.5","sz":"0.002","ordType":"post_only","side":"buy","posSide":"net","tdMode":"cash",
  "accFillSz":"0","fillPx":"","fillSz":"0","fillTime":"","avgPx":"","state":"live",
  "fee":"0","feeCcy":"BTC","rebate":"0","rebateCcy":"USDT","lever":"","reduceOnly":"false",
  "tgtCcy":"","category":"normal","algoId":"","attachAlgoOrds":[],"cTime":"1717000000000","uTime":"1717000000000"
},{"instType":"SPOT","instId":"ETH-USDT","ordId":"2","px":"","sz":"1","ordType":"market","side":"sell","state":"partially_filled","accFillSz":"0.25","avgPx":"3000","cTime":"1717000000001"}]}"#,
    );
    let rows = decode::order_page(200, &o, 100).unwrap();
    let book = decode::order_book(200, rows, Mode::Live).unwrap();
    assert_eq!(book.currency, "USDT");
    let a = &book.orders[0];
    assert_eq!(a.order_id, "1752588852617379841");
    assert_eq!((a.action.as_str(), a.status.as_str()), ("BUY", "open"));
    assert_eq!((a.price, a.quantity), (d("25013.5"), d("0.002")));
    assert_eq!(a.average_price, None);
    assert_eq!(a.timestamp, "1717000000000");
    let b = &book.orders[1];
    assert_eq!(b.price, Decimal::ZERO);
    assert_eq!(
        (b.filled_quantity, b.pending_quantity),
        (Some(d("0.25")), Some(d("0.75")))
    );

    let f = data(
        r#"{"code":"0","msg":"","data":[{
  "instType":"SPOT","instId":"BTC-USDT","tradeId":"744876981","ordId":"680800019749904385","clOrdId":"",
  "billId":"680800019754098689","subType":"1","tag":"","side":"buy","posSide":"net",
  "fillPx":"51800","fillSz":"0.0019","fillPnl":"0","fee":"-0.0000019","feeCcy":"BTC","feeRate":"-0.001",
  "execType":"T","fillIdxPx":"","fillTime":"1708587373361","ts":"1708587373362"
}]}"#,
    );
    let rows = decode::fill_page(200, &f, 100).unwrap();
    assert_eq!(rows[0].bill_id, "680800019754098689");
    let trades = decode::trade_book(200, rows, Mode::Live).unwrap();
    let t = &trades.trades[0];
    assert_eq!(
        (t.trade_id.as_str(), t.order_id.as_str()),
        ("744876981", "680800019749904385")
    );
    assert_eq!(
        (t.quantity, t.average_price, t.trade_value),
        (d("0.0019"), d("51800"), d("98.42"))
    );
    assert_eq!(t.timestamp, "1708587373361");
    assert_eq!(trades.currency, "USDT");
}

#[test]
fn a_quota_never_admits_okxs_limit_in_any_two_seconds() {
    for per_window in [5u32, 10, 60] {
        let clock = FakeRelativeClock::default();
        let limiter = RateLimiter::direct_with_clock(quota(per_window), clock.clone());
        // Count admissions in every 2 s window over 20 s of constant demand, 10 ms apart.
        let mut admitted: Vec<u64> = Vec::new();
        for step in 0..2_000u64 {
            if limiter.check().is_ok() {
                admitted.push(step * 10);
            }
            clock.advance(Duration::from_millis(10));
        }
        let most = admitted
            .iter()
            .map(|&t| {
                admitted
                    .iter()
                    .filter(|&&u| u >= t && u < t + 2_000)
                    .count()
            })
            .max()
            .unwrap();
        assert!(most < per_window as usize, "{per_window}: {most} in 2 s");
        assert!(
            most >= (per_window as usize) / 2,
            "{per_window}: only {most} in 2 s"
        );
    }
}
