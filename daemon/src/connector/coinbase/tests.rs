//! Coinbase's answers as the reference shows them (B4-B6), decoded and classified.

use rust_decimal::Decimal;

use super::decode::{self, classify_status, error_text};
use super::{VENUE, common_quote};
use crate::connector::{BookKind, FailureReason};

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

#[test]
fn the_venue_declares_its_fields_environment_and_books() {
    assert_eq!(VENUE.kind, "coinbase");
    assert_eq!(VENUE.field_names(), ["key_name", "private_key"]);
    assert!(VENUE.credential_fields[1].multiline);
    assert!(VENUE.credential_fields[1].max_len >= 4096);
    assert_eq!(VENUE.default_environment(), "live");
    assert_eq!(
        VENUE.environment("live").unwrap().default_host,
        Some("https://api.coinbase.com")
    );
    assert!(VENUE.environment("sandbox").is_none());
    for b in [BookKind::Balances, BookKind::Orders, BookKind::Trades] {
        assert!(VENUE.has(b));
    }
    for b in [BookKind::Funds, BookKind::Positions, BookKind::Holdings] {
        assert!(!VENUE.has(b));
    }
}

#[test]
fn errors_are_classified_by_status_with_the_venues_words() {
    let e = classify_status("key_permissions", 401, b"Unauthorized\n");
    assert_eq!(e.reason, FailureReason::AuthRejected);
    assert!(e.message.ends_with(": Unauthorized"), "{}", e.message);
    let e = classify_status(
        "accounts",
        403,
        br#"{"error":"PERMISSION_DENIED","error_details":"Missing required scopes","message":"Missing required scopes"}"#,
    );
    assert_eq!(e.reason, FailureReason::PermissionDenied);
    assert!(
        e.message
            .contains("PERMISSION_DENIED: Missing required scopes"),
        "{}",
        e.message
    );
    let e = classify_status(
        "accounts",
        429,
        b"<html><head><title>429 Too Many Requests</title></head><body>...</body></html>",
    );
    assert_eq!(e.reason, FailureReason::RateLimited);
    assert!(!e.message.contains("<html>"), "{}", e.message);
    let e = classify_status(
        "fills",
        429,
        br#"{"errors":[{"id":"rate_limit_exceeded","message":"Too many requests"}]}"#,
    );
    assert!(
        e.message.contains("rate_limit_exceeded: Too many requests"),
        "{}",
        e.message
    );
    assert_eq!(
        classify_status("x", 502, b"").reason,
        FailureReason::Http5xx
    );
    assert_eq!(
        classify_status("x", 404, br#"{"error":"unknown"}"#).reason,
        FailureReason::BadResponse
    );
    assert_eq!(error_text(b"   "), "");
}

#[test]
fn time_and_permissions() {
    let body = br#"{"iso":"2024-02-27T03:37:14Z","epochSeconds":"1709005034","epochMillis":"1709005034333"}"#;
    assert_eq!(decode::server_ms(200, body).unwrap(), 1_709_005_034_333);
    assert_eq!(
        decode::server_ms(200, br#"{"epochSeconds":"1709005034"}"#).unwrap(),
        1_709_005_034_000
    );
    for bad in [&br#"{"iso":"x"}"#[..], b"[1]", br#"{"epochMillis":"12"}"#] {
        assert_eq!(
            decode::server_ms(200, bad).unwrap_err().reason,
            FailureReason::BadResponse
        );
    }
    let p = decode::permissions(
        200,
        br#"{"can_view":true,"can_trade":false,"can_transfer":false,"portfolio_uuid":"8c2e","portfolio_type":"DEFAULT"}"#,
    )
    .unwrap();
    assert!(p.can_view);
    assert_eq!(p.portfolio_type, "DEFAULT");
    assert!(decode::permissions(200, br#"{"can_trade":true}"#).is_err());
}

#[test]
fn an_accounts_page_with_value_currency_pairs_and_its_cursor() {
    let body = br#"{"accounts":[{
       "uuid":"2f1b","name":"BTC Wallet","currency":"BTC",
       "available_balance":{"value":"0.0123450000000000","currency":"BTC"},
       "hold":{"value":"0.0010000000000000","currency":"BTC"},
       "default":true,"active":true,"ready":true,"type":"ACCOUNT_TYPE_CRYPTO",
       "deleted_at":null},
      {"currency":"USD","available_balance":{"value":"100.5","currency":"USD"},
       "hold":{"value":"","currency":"USD"},"type":"ACCOUNT_TYPE_FIAT"},
      {"currency":"ETH","available_balance":{"value":"9","currency":"ETH"},
       "type":"ACCOUNT_TYPE_VAULT"}],
     "has_next":true,"cursor":"abc","size":3}"#;
    let p = decode::accounts_page(200, body, 100).unwrap();
    assert_eq!(p.next.as_deref(), Some("abc"));
    let got: Vec<_> = p
        .rows
        .iter()
        .map(|w| (w.currency.as_str(), w.available, w.hold))
        .collect();
    assert_eq!(
        got,
        [
            ("BTC", d("0.012345"), d("0.001")),
            ("USD", d("100.5"), Decimal::ZERO)
        ]
    );
    let last = decode::accounts_page(
        200,
        br#"{"accounts":[],"has_next":false,"cursor":"zzz"}"#,
        10,
    )
    .unwrap();
    assert!(last.next.is_none());
    // Bounds: too many rows, a huge value, a missing currency.
    let many = format!(
        r#"{{"accounts":[{}]}}"#,
        [r#"{"currency":"X"}"#; 3].join(",")
    );
    assert!(decode::accounts_page(200, many.as_bytes(), 2).is_err());
    let e = decode::accounts_page(
        200,
        br#"{"accounts":[{"currency":"BTC","available_balance":{"value":"1e20"}}]}"#,
        10,
    )
    .unwrap_err();
    assert!(
        e.message.contains("available_balance.value"),
        "{}",
        e.message
    );
    assert!(decode::accounts_page(200, br#"{"accounts":[{"uuid":"x"}]}"#, 10).is_err());
    assert!(decode::accounts_page(200, b"Unauthorized", 10).is_err());
}

#[test]
fn an_open_order_reads_size_and_price_from_its_configuration() {
    let body = br#"{"orders":[{
      "order_id":"9bc1","product_id":"ETH-USD","user_id":"u",
      "order_configuration":{"limit_limit_gtc":{"base_size":"0.5","limit_price":"2500.00","post_only":false}},
      "side":"BUY","status":"OPEN","created_time":"2024-03-16T23:37:23.947030Z",
      "filled_size":"0.1","average_filled_price":"2499","fee":"","order_type":"LIMIT",
      "product_type":"SPOT","reject_message":""}],
     "sequence":"0","has_next":false,"cursor":""}"#;
    let p = decode::orders_page(200, body, 10).unwrap();
    assert!(p.next.is_none());
    let o = &p.rows[0];
    assert_eq!(
        (
            o.order_id.as_str(),
            o.symbol.as_str(),
            o.action.as_str(),
            o.status.as_str()
        ),
        ("9bc1", "ETH-USD", "BUY", "open")
    );
    assert_eq!((o.quantity, o.price), (d("0.5"), d("2500")));
    assert_eq!(o.filled_quantity, Some(d("0.1")));
    assert_eq!(o.pending_quantity, Some(d("0.4")));
    assert_eq!(o.average_price, Some(d("2499")));
    assert_eq!(o.timestamp, "2024-03-16T23:37:23.947030Z");
    assert_eq!(decode::order_status("CANCELLED"), "cancelled");
    assert_eq!(decode::order_status("FILLED"), "complete");
}

#[test]
fn fills_in_base_and_in_quote_units() {
    let body = br#"{"fills":[
      {"entry_id":"e1","trade_id":"t1","order_id":"o1","trade_time":"2024-01-18T01:37:38.091377090Z",
       "trade_type":"FILL","price":"42220.64","size":"0.0046","commission":"0.0281",
       "product_id":"BTC-USD","size_in_quote":false,"side":"BUY"},
      {"trade_id":"t2","order_id":"o2","price":"2000","size":"100","size_in_quote":true,
       "product_id":"ETH-USD","side":"SELL"}],
     "cursor":"next-1"}"#;
    let p = decode::fills_page(200, body, 10).unwrap();
    assert_eq!(p.next.as_deref(), Some("next-1"));
    let a = &p.rows[0];
    assert_eq!((a.quantity, a.average_price), (d("0.0046"), d("42220.64")));
    assert_eq!(a.trade_value, d("194.214944"));
    assert_eq!(a.timestamp, "2024-01-18T01:37:38.091377090Z");
    let b = &p.rows[1];
    assert_eq!((b.quantity, b.trade_value), (d("0.05"), d("100")));
    assert_eq!(b.action, "SELL");
    assert!(
        decode::fills_page(200, br#"{"fills":[],"cursor":""}"#, 10)
            .unwrap()
            .next
            .is_none()
    );
}

#[test]
fn a_books_currency_is_the_quote_its_products_share() {
    assert_eq!(common_quote(["BTC-USD", "ETH-USD"].into_iter()), "USD");
    assert_eq!(common_quote(std::iter::empty()), "USD");
    assert_eq!(
        common_quote(["BTC-USDC", "ETH-BTC"].into_iter()),
        "BTC/USDC"
    );
}
