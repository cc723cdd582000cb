//! Lenient decoding of OpenAlgo success bodies into the domain types.
//!
//! OpenAlgo's numeric fields are whatever the broker plugin produced: strings with two decimals
//! (live funds), floats (analyzer), ints, numeric strings (Angel quantities), occasionally
//! `null`. So every numeric field goes through [`decimal`], which accepts a JSON number, a
//! numeric string (trimmed, optional leading `+`, scientific notation allowed), `null` or a
//! missing field (both zero; an empty string is treated as missing). A non-numeric string such as
//! `"N/A"` is an error rather than a silent zero, so bad data surfaces as `BAD_RESPONSE`.
//!
//! Floats are converted through their shortest round-trip text (serde_json's number string), never
//! through f64 arithmetic, so `320.66` becomes exactly `320.66`. All decimals are normalised so
//! the same value yields the same snapshot regardless of how it was spelled on the wire.
//!
//! Unknown fields are ignored everywhere (brokers and the sandbox add many). The top-level
//! `mode` is surfaced: `"analyze"` means [`Mode::Analyze`], anything else or absent means live.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, SeqAccess, Unexpected, Visitor,
};
use serde_json::Value;
use serde_json::value::RawValue;

use super::bounds::{Bounded, DEFAULT_MAX_ROWS_PER_BOOK, OutOfBounds};
use super::{
    Endpoint, FailureReason, Funds, Holding, HoldingStatistics, Holdings, INR, Mode, Order,
    OrderBook, OrderStatistics, PingInfo, Position, Positions, Trade, TradeBook, UpstreamError,
};

/// Longest upstream-derived detail we put into an error message; bodies can be large and error
/// messages end up in events and logs.
const MAX_DETAIL_CHARS: usize = 200;

/// Upstream text kept while an error is built: the display length plus twice the longest API key
/// (256), so a key overlapping the display cut is still whole when the connector scrubs it (see
/// `connector::scrub`), which it does before the final cut to [`MAX_DETAIL_CHARS`].
const RAW_DETAIL_CHARS: usize = MAX_DETAIL_CHARS + 2 * 256;

/// What decoding may build from one answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Rows in one book; decoding stops at the first row past it (`[upstream] max_rows_per_book`).
    pub max_rows: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_rows: DEFAULT_MAX_ROWS_PER_BOOK,
        }
    }
}

/// Parses a numeric string leniently (see the module doc). `None` if it is not a number.
pub fn parse_decimal_str(s: &str) -> Option<Decimal> {
    let t = s.trim();
    if t.is_empty() {
        return Some(Decimal::ZERO);
    }
    let t = t.strip_prefix('+').unwrap_or(t);
    Decimal::from_str(t)
        .or_else(|_| Decimal::from_scientific(t))
        .ok()
        .map(|d| d.normalize())
}

/// A float from the JSON parser, via its shortest round-trip text (e.g. `83.72` → `"83.72"`).
fn float_to_decimal(v: f64) -> Option<Decimal> {
    let n = serde_json::Number::from_f64(v)?;
    parse_decimal_str(&n.to_string())
}

struct DecimalVisitor;

impl<'de> Visitor<'de> for DecimalVisitor {
    type Value = Decimal;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number, a numeric string or null")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
        Ok(Decimal::from(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
        Ok(Decimal::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
        float_to_decimal(v).ok_or_else(|| E::invalid_value(Unexpected::Float(v), &self))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Decimal, E> {
        parse_decimal_str(v).ok_or_else(|| E::invalid_value(Unexpected::Str(v), &self))
    }
    fn visit_none<E: de::Error>(self) -> Result<Decimal, E> {
        Ok(Decimal::ZERO)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Decimal, E> {
        Ok(Decimal::ZERO)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Decimal, D::Error> {
        decimal(d)
    }
}

/// `deserialize_with` for numeric fields; pair with `#[serde(default)]` so missing is zero.
pub fn decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    d.deserialize_any(DecimalVisitor)
}

/// Like [`decimal`] but keeps "absent" (missing, null or an empty string) distinguishable, for
/// fields that have a fallback spelling (`trade_value` / `tradevalue`) and for fields only some
/// plugins send, where "not sent" must stay unset rather than read as zero.
pub fn opt_decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(v) => decimal(v).map(Some).map_err(de::Error::custom),
    }
}

/// `deserialize_with` for counts: any [`decimal`]-accepted value that is a whole number in `u32`.
pub fn count<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let v = decimal(d)?;
    if v.fract().is_zero()
        && let Some(n) = v.to_u32()
    {
        return Ok(n);
    }
    Err(de::Error::custom(format_args!(
        "expected a non-negative whole count, got {v}"
    )))
}

struct StringVisitor;

impl<'de> Visitor<'de> for StringVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, a number, a bool or null")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(serde_json::Number::from_f64(v).map_or_else(|| v.to_string(), |n| n.to_string()))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_none<E: de::Error>(self) -> Result<String, E> {
        Ok(String::new())
    }
    fn visit_unit<E: de::Error>(self) -> Result<String, E> {
        Ok(String::new())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        string(d)
    }
}

/// `deserialize_with` for text fields: some brokers send ids (e.g. `orderid`) as numbers, and a
/// missing/null text is the empty string.
pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_any(StringVisitor)
}

/// The top-level `mode` marker: only `"analyze"` means the sandbox (`"semi_auto"` on placeorder
/// is an order-routing mode, not the analyzer).
pub fn mode_from_wire(v: Option<&Value>) -> Mode {
    match v.and_then(Value::as_str) {
        Some(s) if s.trim().eq_ignore_ascii_case("analyze") => Mode::Analyze,
        _ => Mode::Live,
    }
}

/// Flattens an upstream `message` (a string, or for schema errors an object such as
/// `{"apikey":["Missing data for required field."]}`) into one short line.
pub fn flatten_message(v: &Value) -> String {
    fn walk(v: &Value, out: &mut String) {
        match v {
            Value::String(s) => out.push_str(s),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str("; ");
                    }
                    walk(item, out);
                }
            }
            Value::Object(map) => {
                for (i, (k, item)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push_str("; ");
                    }
                    out.push_str(k);
                    out.push_str(": ");
                    walk(item, out);
                }
            }
            Value::Null => {}
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    walk(v, &mut out);
    raw_detail(&out)
}

/// One line, control characters and runs of whitespace collapsed, at most
/// [`MAX_DETAIL_CHARS`] characters (cut on a char boundary).
pub fn short_detail(s: &str) -> String {
    one_line(s, MAX_DETAIL_CHARS)
}

/// Like [`short_detail`] but longer ([`RAW_DETAIL_CHARS`]): for upstream text that the connector
/// scrubs and then cuts to the display length.
pub fn raw_detail(s: &str) -> String {
    one_line(s, RAW_DETAIL_CHARS)
}

fn one_line(s: &str, max_chars: usize) -> String {
    let mut out = String::new();
    let mut last_space = true;
    let mut n = 0;
    for c in s.chars() {
        let c = if c.is_whitespace() || c.is_control() {
            ' '
        } else {
            c
        };
        if c == ' ' {
            if last_space {
                continue;
            }
            last_space = true;
        } else {
            last_space = false;
        }
        if n == max_chars {
            out.push('…');
            return out.trim_end().to_owned();
        }
        out.push(c);
        n += 1;
    }
    out.trim_end().to_owned()
}

/// A wire struct that only decodes from a JSON object. serde's derived struct deserializers also
/// accept a JSON array, filling fields by position; an upstream sending `[1, 2]` where an object
/// belongs must be a bad response, not a row with `symbol: "1"`.
pub(crate) struct Obj<T>(pub(crate) T);

impl<'de, T: DeserializeOwned> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            v @ Value::Object(_) => T::deserialize(v).map(Obj).map_err(de::Error::custom),
            other => Err(de::Error::invalid_type(
                unexpected(&other),
                &"a JSON object",
            )),
        }
    }
}

fn unexpected(v: &Value) -> Unexpected<'_> {
    match v {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(_) => Unexpected::Other("number"),
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

/// A JSON array of rows, decoded one row at a time and refused at the first row past `max`, so a
/// hostile answer of a million rows never becomes a million-element vector. Each row is an
/// [`Obj`], and an empty one is refused: a row `{}` says nothing, and read leniently it would be
/// a zero position.
pub(crate) struct Rows<T> {
    max: usize,
    row: PhantomData<T>,
}

impl<T> Rows<T> {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            max,
            row: PhantomData,
        }
    }
}

impl<'de, T: DeserializeOwned> DeserializeSeed<'de> for Rows<T> {
    type Value = Vec<T>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<T>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, T: DeserializeOwned> Visitor<'de> for Rows<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array of row objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut out = Vec::new();
        while let Some(row) = seq.next_element::<Value>()? {
            if out.len() >= self.max {
                return Err(de::Error::custom(OutOfBounds::Rows { max: self.max }));
            }
            let row = match row {
                Value::Object(m) if m.is_empty() => {
                    return Err(de::Error::custom(format_args!(
                        "row {} is an empty object {{}}",
                        out.len()
                    )));
                }
                v @ Value::Object(_) => T::deserialize(v).map_err(de::Error::custom)?,
                other => {
                    return Err(de::Error::invalid_type(
                        unexpected(&other),
                        &"a JSON object",
                    ));
                }
            };
            out.push(row);
        }
        Ok(out)
    }
}

/// The parts of any OpenAlgo body we look at; everything else (e.g. positionbook's `total_pnl`)
/// is skipped without being built. `null` and missing both become `None`. `data` stays raw text
/// borrowed from the body until the endpoint's decoder reads it with its bounds.
#[derive(Debug, Default, Deserialize)]
pub struct Envelope<'a> {
    #[serde(default)]
    pub status: Option<Value>,
    #[serde(default)]
    pub message: Option<Value>,
    #[serde(default)]
    pub mode: Option<Value>,
    #[serde(default, borrow)]
    pub data: Option<&'a RawValue>,
}

impl Envelope<'_> {
    pub fn mode(&self) -> Mode {
        mode_from_wire(self.mode.as_ref())
    }

    /// True when the body says `"status":"error"` (case-insensitive).
    pub fn is_error(&self) -> bool {
        self.status
            .as_ref()
            .and_then(Value::as_str)
            .is_some_and(|s| s.trim().eq_ignore_ascii_case("error"))
    }
}

/// The first byte of a JSON text that is not whitespace.
fn first_byte(text: &[u8]) -> Option<u8> {
    text.iter()
        .copied()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}

/// Parses a whole body into an [`Envelope`]; the top level must be a JSON object (a derived
/// struct would otherwise accept an array positionally, see [`Obj`]).
pub fn parse_envelope(body: &[u8]) -> Result<Envelope<'_>, serde_json::Error> {
    if first_byte(body) != Some(b'{') {
        return Err(de::Error::invalid_type(
            Unexpected::Other("a non-object"),
            &"a JSON object",
        ));
    }
    serde_json::from_slice::<Envelope<'_>>(body)
}

/// A domain value that one endpoint's success envelope decodes into, within `limits`.
pub trait FromEnvelope: Bounded + super::scrub::Scrub + Sized {
    const ENDPOINT: Endpoint;
    fn from_envelope(env: Envelope<'_>, limits: Limits) -> Result<Self, UpstreamError>;
}

fn bad_shape(endpoint: Endpoint, detail: impl fmt::Display) -> UpstreamError {
    UpstreamError::new(
        FailureReason::BadResponse,
        raw_detail(&format!("{endpoint}: unexpected response shape: {detail}")),
        None,
    )
}

/// The decoded value, unless a value or count in it is out of bounds (`BAD_RESPONSE` naming the
/// field).
fn bounded<T: FromEnvelope>(value: T, limits: Limits) -> Result<T, UpstreamError> {
    value
        .check_bounds(limits.max_rows)
        .map_err(|e| bad_shape(T::ENDPOINT, e))?;
    Ok(value)
}

/// `data` as a JSON object decoded into `T`; a success without `data` (missing or `null`) is a
/// wrong shape. Only funds treats absent data specially (session expired).
fn object<'a, T: Deserialize<'a>>(
    endpoint: Endpoint,
    data: Option<&'a RawValue>,
) -> Result<T, UpstreamError> {
    let data = data.ok_or_else(|| bad_shape(endpoint, "success without data"))?;
    if first_byte(data.get().as_bytes()) != Some(b'{') {
        return Err(bad_shape(endpoint, "data is not a JSON object"));
    }
    serde_json::from_str(data.get()).map_err(|e| bad_shape(endpoint, e))
}

/// A JSON array of rows (`data`, or a list inside it), at most `limits.max_rows` of them. A
/// missing or `null` list is empty when `required` is false.
fn rows<T: DeserializeOwned>(
    endpoint: Endpoint,
    list: Option<&RawValue>,
    required: bool,
    limits: Limits,
) -> Result<Vec<T>, UpstreamError> {
    let Some(list) = list else {
        return if required {
            Err(bad_shape(endpoint, "success without data"))
        } else {
            Ok(Vec::new())
        };
    };
    let mut de = serde_json::Deserializer::from_str(list.get());
    Rows::new(limits.max_rows)
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| bad_shape(endpoint, e))
}

#[derive(Deserialize)]
struct PingData {
    #[serde(default, deserialize_with = "string")]
    broker: String,
    #[serde(default, deserialize_with = "string")]
    message: String,
}

impl FromEnvelope for PingInfo {
    const ENDPOINT: Endpoint = Endpoint::Ping;
    fn from_envelope(env: Envelope<'_>, limits: Limits) -> Result<Self, UpstreamError> {
        let d: PingData = object(Self::ENDPOINT, env.data)?;
        bounded(
            PingInfo {
                broker: d.broker,
                message: d.message,
            },
            limits,
        )
    }
}

#[derive(Deserialize)]
struct FundsData {
    #[serde(default, deserialize_with = "decimal")]
    availablecash: Decimal,
    #[serde(default, deserialize_with = "decimal")]
    collateral: Decimal,
    #[serde(default, deserialize_with = "decimal")]
    m2mrealized: Decimal,
    #[serde(default, deserialize_with = "decimal")]
    m2munrealized: Decimal,
    #[serde(default, deserialize_with = "decimal")]
    utiliseddebits: Decimal,
}

impl FromEnvelope for Funds {
    const ENDPOINT: Endpoint = Endpoint::Funds;
    fn from_envelope(env: Envelope<'_>, limits: Limits) -> Result<Self, UpstreamError> {
        let mode = env.mode();
        // Funds data is one small object; read it whole to tell its empty forms apart.
        let data: Option<Value> = env
            .data
            .map(|raw| serde_json::from_str(raw.get()))
            .transpose()
            .map_err(|e| bad_shape(Self::ENDPOINT, e))?;
        // Most broker plugins return `{}` from their funds call on any error, which OpenAlgo
        // wraps as `{"data":{},"status":"success"}`; OpenAlgo itself reads that as "token
        // expired". An empty list or a missing/null `data` is the same falsy Python value.
        let empty = match &data {
            None | Some(Value::Null) => true,
            Some(Value::Object(m)) => m.is_empty(),
            Some(Value::Array(a)) => a.is_empty(),
            Some(_) => false,
        };
        if empty {
            return Err(UpstreamError::new(
                FailureReason::SessionExpired,
                "funds answered success with empty data: the broker session has expired",
                Some(200),
            ));
        }
        // A non-empty object with none of the funds fields is something else entirely (a ping
        // answer on the wrong path, a broker error dict); all-zero funds would be a lie.
        let known = [
            "availablecash",
            "collateral",
            "m2mrealized",
            "m2munrealized",
            "utiliseddebits",
        ];
        let d = match data {
            Some(Value::Object(m)) => {
                if !known.iter().any(|k| m.contains_key(*k)) {
                    return Err(bad_shape(
                        Self::ENDPOINT,
                        "data has none of the funds fields",
                    ));
                }
                FundsData::deserialize(Value::Object(m))
                    .map_err(|e| bad_shape(Self::ENDPOINT, e))?
            }
            Some(other) => {
                return Err(bad_shape(
                    Self::ENDPOINT,
                    <serde_json::Error as de::Error>::invalid_type(
                        unexpected(&other),
                        &"a JSON object",
                    ),
                ));
            }
            None => return Err(bad_shape(Self::ENDPOINT, "success without data")),
        };
        bounded(
            Funds {
                available_cash: d.availablecash,
                collateral: d.collateral,
                m2m_realized: d.m2mrealized,
                m2m_unrealized: d.m2munrealized,
                utilised_debits: d.utiliseddebits,
                mode,
                currency: INR.into(),
                buying_power: None,
                equity: None,
            },
            limits,
        )
    }
}

#[derive(Deserialize)]
struct PositionRow {
    #[serde(default, deserialize_with = "string")]
    symbol: String,
    #[serde(default, deserialize_with = "string")]
    exchange: String,
    #[serde(default, deserialize_with = "string")]
    product: String,
    #[serde(default, deserialize_with = "decimal")]
    quantity: Decimal,
    #[serde(default, deserialize_with = "decimal")]
    average_price: Decimal,
    #[serde(default, deserialize_with = "decimal")]
    ltp: Decimal,
    #[serde(default, deserialize_with = "decimal")]
    pnl: Decimal,
    /// flattrade's split; the sandbox spells the realized part `today_realized_pnl`.
    #[serde(default, deserialize_with = "opt_decimal")]
    realized_pnl: Option<Decimal>,
    #[serde(default, deserialize_with = "opt_decimal")]
    today_realized_pnl: Option<Decimal>,
    #[serde(default, deserialize_with = "opt_decimal")]
    unrealized_pnl: Option<Decimal>,
}

impl FromEnvelope for Positions {
    const ENDPOINT: Endpoint = Endpoint::PositionBook;
    fn from_envelope(env: Envelope<'_>, limits: Limits) -> Result<Self, UpstreamError> {
        let mode = env.mode();
        let rows: Vec<PositionRow> = rows(Self::ENDPOINT, env.data, true, limits)?;
        let rows = rows
            .into_iter()
            .map(|r| Position {
                symbol: r.symbol,
                exchange: r.exchange,
                product: r.product,
                quantity: r.quantity,
                average_price: r.average_price,
                ltp: r.ltp,
                pnl: r.pnl,
                realized_pnl: r.realized_pnl.or(r.today_realized_pnl),
                unrealized_pnl: r.unrealized_pnl,
            })
            .collect();
        bounded(
            Positions {
                rows,
                mode,
                currency: INR.into(),
            },
            limits,
        )
    }
}

#[derive(Deserialize)]
struct OrderRow {
    #[serde(default, deserialize_with = "string")]
    orderid: String,
    #[serde(default, deserialize_with = "string")]
    symbol: String,
    #[serde(default, deserialize_with = "string")]
    exchange: String,
    #[serde(default, deserialize_with = "string")]
    action: String,
    #[serde(default, deserialize_with = "string")]
    pricetype: String,
    /// The sandbox spells it `price_type` in places; separate field rather than a serde alias
    /// because an alias errors out ("duplicate field") when a row carries both.
    #[serde(default, deserialize_with = "string")]
    price_type: String,
    #[serde(default, deserialize_with = "string")]
    product: String,
    #[serde(default, deserialize_with = "string")]
    order_status: String,
    #[serde(default, deserialize_with = "decimal")]
    quantity: Decimal,
    #[serde(default, deserialize_with = "decimal")]
    price: Decimal,
    #[serde(default, deserialize_with = "decimal")]
    trigger_price: Decimal,
    #[serde(default, deserialize_with = "string")]
    timestamp: String,
    #[serde(default, deserialize_with = "opt_decimal")]
    average_price: Option<Decimal>,
    #[serde(default, deserialize_with = "opt_decimal")]
    filled_quantity: Option<Decimal>,
    #[serde(default, deserialize_with = "opt_decimal")]
    pending_quantity: Option<Decimal>,
    #[serde(default, deserialize_with = "string")]
    rejection_reason: String,
}

#[derive(Deserialize)]
struct OrderStatsWire {
    #[serde(default, deserialize_with = "count")]
    total_buy_orders: u32,
    #[serde(default, deserialize_with = "count")]
    total_sell_orders: u32,
    #[serde(default, deserialize_with = "count")]
    total_completed_orders: u32,
    #[serde(default, deserialize_with = "count")]
    total_open_orders: u32,
    #[serde(default, deserialize_with = "count")]
    total_rejected_orders: u32,
    #[serde(default, deserialize_with = "count")]
    total_trigger_pending_orders: u32,
}

#[derive(Deserialize)]
struct OrderBookData<'a> {
    #[serde(default, borrow)]
    orders: Option<&'a RawValue>,
    #[serde(default)]
    statistics: Option<Obj<OrderStatsWire>>,
}

fn first_non_empty(a: String, b: String) -> String {
    if a.trim().is_empty() { b } else { a }
}

impl FromEnvelope for OrderBook {
    const ENDPOINT: Endpoint = Endpoint::OrderBook;
    fn from_envelope(env: Envelope<'_>, limits: Limits) -> Result<Self, UpstreamError> {
        let mode = env.mode();
        let d: OrderBookData<'_> = object(Self::ENDPOINT, env.data)?;
        let orders: Vec<OrderRow> = rows(Self::ENDPOINT, d.orders, false, limits)?;
        let orders = orders
            .into_iter()
            .map(|r| Order {
                order_id: r.orderid,
                symbol: r.symbol,
                exchange: r.exchange,
                action: r.action,
                price_type: first_non_empty(r.pricetype, r.price_type),
                product: r.product,
                status: r.order_status,
                quantity: r.quantity,
                price: r.price,
                trigger_price: r.trigger_price,
                timestamp: r.timestamp,
                average_price: r.average_price,
                filled_quantity: r.filled_quantity,
                pending_quantity: r.pending_quantity,
                // Free broker text shown in listings: one line, and no longer than an error
                // detail (kept whole for the key scrub, as error text is).
                rejection_reason: raw_detail(&r.rejection_reason),
            })
            .collect();
        let statistics = d
            .statistics
            .map(|Obj(s)| OrderStatistics {
                total_buy_orders: s.total_buy_orders,
                total_sell_orders: s.total_sell_orders,
                total_completed_orders: s.total_completed_orders,
                total_open_orders: s.total_open_orders,
                total_rejected_orders: s.total_rejected_orders,
                total_trigger_pending_orders: s.total_trigger_pending_orders,
            })
            .unwrap_or_default();
        bounded(
            OrderBook {
                orders,
                statistics,
                mode,
                currency: INR.into(),
            },
            limits,
        )
    }
}

#[derive(Deserialize)]
struct TradeRow {
    #[serde(default, deserialize_with = "string")]
    orderid: String,
    #[serde(default, deserialize_with = "string")]
    symbol: String,
    #[serde(default, deserialize_with = "string")]
    exchange: String,
    #[serde(default, deserialize_with = "string")]
    action: String,
    #[serde(default, deserialize_with = "string")]
    product: String,
    #[serde(default, deserialize_with = "decimal")]
    quantity: Decimal,
    #[serde(default, deserialize_with = "decimal")]
    average_price: Decimal,
    #[serde(default, deserialize_with = "opt_decimal")]
    trade_value: Option<Decimal>,
    /// Angel's pass-through spelling; see [`OrderRow::price_type`] for why not an alias.
    #[serde(default, deserialize_with = "opt_decimal")]
    tradevalue: Option<Decimal>,
    #[serde(default, deserialize_with = "string")]
    timestamp: String,
    /// Angel's pass-through fill time, used only when `timestamp` is empty.
    #[serde(default, deserialize_with = "string")]
    filltime: String,
    #[serde(default, deserialize_with = "string")]
    tradeid: String,
}

impl FromEnvelope for TradeBook {
    const ENDPOINT: Endpoint = Endpoint::TradeBook;
    fn from_envelope(env: Envelope<'_>, limits: Limits) -> Result<Self, UpstreamError> {
        let mode = env.mode();
        let rows: Vec<TradeRow> = rows(Self::ENDPOINT, env.data, true, limits)?;
        let trades = rows
            .into_iter()
            .map(|r| Trade {
                order_id: r.orderid,
                symbol: r.symbol,
                exchange: r.exchange,
                action: r.action,
                product: r.product,
                quantity: r.quantity,
                average_price: r.average_price,
                trade_value: r.trade_value.or(r.tradevalue).unwrap_or(Decimal::ZERO),
                timestamp: first_non_empty(r.timestamp, r.filltime),
                trade_id: r.tradeid,
            })
            .collect();
        bounded(
            TradeBook {
                trades,
                mode,
                currency: INR.into(),
            },
            limits,
        )
    }
}

#[derive(Deserialize)]
struct HoldingRow {
    #[serde(default, deserialize_with = "string")]
    symbol: String,
    #[serde(default, deserialize_with = "string")]
    exchange: String,
    #[serde(default, deserialize_with = "string")]
    product: String,
    #[serde(default, deserialize_with = "decimal")]
    quantity: Decimal,
    #[serde(default, deserialize_with = "decimal")]
    pnl: Decimal,
    #[serde(default, deserialize_with = "decimal")]
    pnlpercent: Decimal,
    #[serde(default, deserialize_with = "opt_decimal")]
    average_price: Option<Decimal>,
    #[serde(default, deserialize_with = "opt_decimal")]
    ltp: Option<Decimal>,
    #[serde(default, deserialize_with = "opt_decimal")]
    current_value: Option<Decimal>,
}

#[derive(Deserialize)]
struct HoldingStatsWire {
    #[serde(default, deserialize_with = "decimal")]
    totalholdingvalue: Decimal,
    #[serde(default, deserialize_with = "decimal")]
    totalinvvalue: Decimal,
    #[serde(default, deserialize_with = "decimal")]
    totalprofitandloss: Decimal,
    #[serde(default, deserialize_with = "decimal")]
    totalpnlpercentage: Decimal,
}

#[derive(Deserialize)]
struct HoldingsData<'a> {
    #[serde(default, borrow)]
    holdings: Option<&'a RawValue>,
    #[serde(default)]
    statistics: Option<Obj<HoldingStatsWire>>,
}

impl FromEnvelope for Holdings {
    const ENDPOINT: Endpoint = Endpoint::Holdings;
    fn from_envelope(env: Envelope<'_>, limits: Limits) -> Result<Self, UpstreamError> {
        let mode = env.mode();
        let d: HoldingsData<'_> = object(Self::ENDPOINT, env.data)?;
        let rows: Vec<HoldingRow> = rows(Self::ENDPOINT, d.holdings, false, limits)?;
        let rows = rows
            .into_iter()
            .map(|r| Holding {
                symbol: r.symbol,
                exchange: r.exchange,
                product: r.product,
                quantity: r.quantity,
                pnl: r.pnl,
                pnl_percent: r.pnlpercent,
                average_price: r.average_price,
                ltp: r.ltp,
                current_value: r.current_value,
            })
            .collect();
        let statistics = d
            .statistics
            .map(|Obj(s)| HoldingStatistics {
                total_holding_value: s.totalholdingvalue,
                total_investment_value: s.totalinvvalue,
                total_profit_and_loss: s.totalprofitandloss,
                total_pnl_percentage: s.totalpnlpercentage,
            })
            .unwrap_or_default();
        bounded(
            Holdings {
                rows,
                statistics,
                mode,
                currency: INR.into(),
            },
            limits,
        )
    }
}
