//! Instance configuration: what one simulated OpenAlgo server holds and how it types its numbers.
//!
//! Every monetary or quantity field is a *decimal string* (`"320.66"`, `"-1"`) so that specs can be
//! written in TOML without float noise; the renderer turns them into JSON strings, ints or floats
//! according to [`NumberStyle`] and [`Mode`], as the real broker plugins do.

use anyhow::Context as _;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::str::FromStr as _;

/// Default moving-window budget per endpoint per client IP (OpenAlgo's `API_RATE_LIMIT` code default).
pub const DEFAULT_RATE_LIMIT_PER_SECOND: u32 = 10;

/// Default number of requests kept by [`crate::sim::InstanceHandle::received`].
pub const DEFAULT_RECORD_LIMIT: usize = 1000;

/// Instance-wide analyzer flag (`Settings.analyze_mode` in OpenAlgo).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Requests go to the broker plugin; numbers follow the instance's [`NumberStyle`].
    #[default]
    Live,
    /// Requests are served by the sandbox: floats everywhere, sandbox-only extra fields, and a
    /// top-level `"mode":"analyze"` on funds, positionbook, orderbook, tradebook and holdings.
    Analyze,
}

impl Mode {
    /// The string OpenAlgo uses for this mode (`"live"` / `"analyze"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Live => "live",
            Mode::Analyze => "analyze",
        }
    }
}

/// How a live broker plugin types numbers in positionbook, orderbook and tradebook.
///
/// Live funds are always 2-dp strings (`f"{x:.2f}"` in every plugin) and holdings are always
/// rounded floats (the service rounds them), whatever the style. Analyze mode ignores the style and
/// uses the sandbox's floats.
///
/// | field | `Strings` (docs, flattrade) | `Mixed` (zerodha) | `Floats` (fyers, shoonya) |
/// |---|---|---|---|
/// | position `quantity` | `"-1"` | `-1` | `-1.0` |
/// | position `average_price` | `"83.74"` (verbatim) | `"83.74"` (2 dp) | `83.74` |
/// | position `ltp`, `pnl` | `"83.72"`, `"0.02"` | `83.72`, `0.02` | `83.72`, `0.02` |
/// | order `quantity` | `"1"` | `1` | `1.0` |
/// | order statistics | floats (`2.0`, as in the docs) | ints | ints |
/// | MARKET order `price` | as given (docs) | `0.0` (current service code) | `0.0` |
/// | trade `quantity` | `"1"` | `1` | `1.0` |
/// | holdings extra `average_price` | no | yes (zerodha emits it) | no |
/// | position `realized_pnl`, `unrealized_pnl` (when set) | verbatim strings (flattrade) | floats | floats |
/// | order `average_price` (when set) | verbatim string | float | float |
/// | order `filled_quantity`, `pending_quantity` (when set) | strings | ints | floats |
/// | order `rejection_reason`, trade `tradeid` (when set) | string | string | string |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NumberStyle {
    /// The documented shape: broker values passed through as strings.
    Strings,
    /// Zerodha: quantity int, `average_price` string, `ltp`/`pnl` floats.
    #[default]
    Mixed,
    /// Every numeric field a JSON float, quantities included (Shoonya sends float quantities).
    Floats,
}

/// `POST /api/v1/funds` data. All values are decimal strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Funds {
    /// `availablecash`.
    pub available_cash: String,
    /// `collateral`.
    pub collateral: String,
    /// `m2mrealized`.
    pub m2m_realized: String,
    /// `m2munrealized`.
    pub m2m_unrealized: String,
    /// `utiliseddebits`.
    pub utilised_debits: String,
}

impl Default for Funds {
    fn default() -> Self {
        Funds {
            available_cash: "0".into(),
            collateral: "0".into(),
            m2m_realized: "0".into(),
            m2m_unrealized: "0".into(),
            utilised_debits: "0".into(),
        }
    }
}

/// One positionbook row. A `quantity` of `"0"` is a closed position that still carries the day's P&L.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Position {
    /// OpenAlgo symbol, e.g. `NHPC`.
    pub symbol: String,
    /// Exchange, e.g. `NSE`.
    pub exchange: String,
    /// `MIS`, `NRML` or `CNC`.
    pub product: String,
    /// Signed quantity (negative = short), decimal string.
    pub quantity: String,
    /// Decimal string.
    pub average_price: String,
    /// Decimal string.
    pub ltp: String,
    /// Decimal string.
    pub pnl: String,
    /// The realized part of `pnl`, sent as `realized_pnl` by live plugins that split P&L
    /// (flattrade); empty: not sent. The sandbox always sends its own split (derived from the
    /// prices when these are empty).
    pub realized_pnl: String,
    /// The unrealized part of `pnl` (`unrealized_pnl`); empty: not sent (live) or derived (sandbox).
    pub unrealized_pnl: String,
}

/// One orderbook row. Statistics are derived from the list.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Order {
    /// `BUY` or `SELL`.
    pub action: String,
    /// OpenAlgo symbol.
    pub symbol: String,
    /// Exchange.
    pub exchange: String,
    /// Broker order id (always a JSON string).
    pub orderid: String,
    /// Product.
    pub product: String,
    /// Decimal string.
    pub quantity: String,
    /// Decimal string.
    pub price: String,
    /// Decimal string.
    pub trigger_price: String,
    /// `MARKET`, `LIMIT`, `SL`, `SL-M`.
    pub pricetype: String,
    /// Lowercase: `complete`, `open`, `rejected`, `cancelled`, `trigger pending`, ...
    pub order_status: String,
    /// Free-form broker timestamp.
    pub timestamp: String,
    /// Fill price, decimal string. Live: sent only when set (as plugins that pass the broker's
    /// fields through do); sandbox: derived from the status when empty, like the fields below.
    pub average_price: String,
    /// Filled quantity, decimal string.
    pub filled_quantity: String,
    /// Pending quantity, decimal string.
    pub pending_quantity: String,
    /// The broker's rejection reason (sent as a string, possibly empty, by the sandbox; live only
    /// when set).
    pub rejection_reason: String,
}

/// One tradebook row; `trade_value` is derived as `quantity * average_price`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Trade {
    /// `BUY` or `SELL`.
    pub action: String,
    /// OpenAlgo symbol.
    pub symbol: String,
    /// Exchange.
    pub exchange: String,
    /// Order id the fill belongs to (several trades may share one).
    pub orderid: String,
    /// Product.
    pub product: String,
    /// Decimal string.
    pub quantity: String,
    /// Decimal string.
    pub average_price: String,
    /// Free-form broker timestamp.
    pub timestamp: String,
    /// The fill's id (`tradeid`). Live: sent only when set; sandbox: derived from the order id
    /// when empty.
    pub tradeid: String,
}

/// One holdings row; `pnl`, `pnlpercent` and the statistics are derived from price and quantity.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Holding {
    /// OpenAlgo symbol.
    pub symbol: String,
    /// Exchange.
    pub exchange: String,
    /// Normally `CNC`.
    pub product: String,
    /// Decimal string (rendered as an int).
    pub quantity: String,
    /// Decimal string.
    pub average_price: String,
    /// Decimal string.
    pub ltp: String,
}

/// Everything one simulated OpenAlgo server needs. Deserializable from TOML/JSON; every field has a
/// default so a config only names what it changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InstanceSpec {
    /// Display name (only used in logs and the binary's listing).
    pub name: String,
    /// Keys accepted in the body's `apikey`; anything else gets 403.
    pub api_keys: Vec<String>,
    /// Broker reported by ping, e.g. `zerodha`.
    pub broker: String,
    /// Live or analyze.
    pub mode: Mode,
    /// Number typing of the live broker plugin.
    pub number_style: NumberStyle,
    /// Funds.
    pub funds: Funds,
    /// Positionbook.
    pub positions: Vec<Position>,
    /// Orderbook.
    pub orders: Vec<Order>,
    /// Tradebook.
    pub trades: Vec<Trade>,
    /// Holdings.
    pub holdings: Vec<Holding>,
    /// Moving-window limit per endpoint per client IP per second (0 disables limiting).
    pub rate_limit_per_second: u32,
    /// Start with the broker session expired (see [`crate::sim::InstanceHandle::set_session_expired`]).
    pub session_expired: bool,
    /// Fixed port on 127.0.0.1; `None` picks a free one.
    pub port: Option<u16>,
    /// How many requests [`crate::sim::InstanceHandle::received`] keeps (oldest dropped first).
    pub record_limit: usize,
    /// How an answer leaves the socket (see [`Framing`]).
    pub framing: Framing,
}

/// How the simulator writes an answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Framing {
    /// Status line, headers and body in one write, `TCP_NODELAY` on (the fastest a server can be).
    #[default]
    Whole,
    /// As a Python WSGI server (OpenAlgo runs on Flask) answers: the status line and headers in
    /// one write and the body in another, with Nagle's algorithm on (Python's socket default),
    /// so the body waits for the client to acknowledge the headers unless the client acks at
    /// once.
    Wsgi,
}

/// `whole` or `wsgi`, as the binaries' `--framing` takes it.
impl std::str::FromStr for Framing {
    type Err = String;

    fn from_str(s: &str) -> Result<Framing, String> {
        match s {
            "whole" => Ok(Framing::Whole),
            "wsgi" => Ok(Framing::Wsgi),
            other => Err(format!("{other:?}: whole or wsgi")),
        }
    }
}

impl Default for InstanceSpec {
    fn default() -> Self {
        InstanceSpec {
            name: "openalgo".into(),
            api_keys: Vec::new(),
            broker: "zerodha".into(),
            mode: Mode::Live,
            number_style: NumberStyle::Mixed,
            funds: Funds::default(),
            positions: Vec::new(),
            orders: Vec::new(),
            trades: Vec::new(),
            holdings: Vec::new(),
            rate_limit_per_second: DEFAULT_RATE_LIMIT_PER_SECOND,
            session_expired: false,
            port: None,
            record_limit: DEFAULT_RECORD_LIMIT,
            framing: Framing::Whole,
        }
    }
}

fn s(v: &str) -> String {
    v.to_owned()
}

impl InstanceSpec {
    /// A zerodha-style live instance with a small realistic book (the values of the OpenAlgo docs):
    /// funds, three positions (one closed), two orders, two trades and three holdings.
    pub fn demo(name: impl Into<String>, key: impl Into<String>) -> Self {
        let pos = |sym: &str, q: &str, avg: &str, ltp: &str, pnl: &str| Position {
            symbol: s(sym),
            exchange: s("NSE"),
            product: s("MIS"),
            quantity: s(q),
            average_price: s(avg),
            ltp: s(ltp),
            pnl: s(pnl),
            ..Position::default()
        };
        let hold = |sym: &str, q: &str, avg: &str, ltp: &str| Holding {
            symbol: s(sym),
            exchange: s("NSE"),
            product: s("CNC"),
            quantity: s(q),
            average_price: s(avg),
            ltp: s(ltp),
        };
        InstanceSpec {
            name: name.into(),
            api_keys: vec![key.into()],
            funds: Funds {
                available_cash: s("320.66"),
                collateral: s("0.00"),
                m2m_realized: s("3.27"),
                m2m_unrealized: s("-7.88"),
                utilised_debits: s("679.34"),
            },
            positions: vec![
                pos("NHPC", "-1", "83.74", "83.72", "0.02"),
                pos("RELIANCE", "0", "0.0", "1189.9", "5.90"),
                pos("YESBANK", "-104", "17.2", "17.31", "-10.44"),
            ],
            orders: vec![
                Order {
                    action: s("BUY"),
                    symbol: s("RELIANCE"),
                    exchange: s("NSE"),
                    orderid: s("250408000989443"),
                    product: s("MIS"),
                    quantity: s("1"),
                    price: s("1186.0"),
                    trigger_price: s("0"),
                    pricetype: s("MARKET"),
                    order_status: s("complete"),
                    timestamp: s("08-Apr-2025 13:58:03"),
                    ..Order::default()
                },
                Order {
                    action: s("BUY"),
                    symbol: s("YESBANK"),
                    exchange: s("NSE"),
                    orderid: s("250408001002736"),
                    product: s("MIS"),
                    quantity: s("1"),
                    price: s("16.5"),
                    trigger_price: s("0"),
                    pricetype: s("LIMIT"),
                    order_status: s("cancelled"),
                    timestamp: s("08-Apr-2025 14:13:45"),
                    ..Order::default()
                },
            ],
            trades: vec![
                Trade {
                    action: s("BUY"),
                    symbol: s("RELIANCE"),
                    exchange: s("NSE"),
                    orderid: s("250408000989443"),
                    product: s("MIS"),
                    quantity: s("1"),
                    average_price: s("1180.1"),
                    timestamp: s("13:58:03"),
                    ..Trade::default()
                },
                Trade {
                    action: s("SELL"),
                    symbol: s("NHPC"),
                    exchange: s("NSE"),
                    orderid: s("250408001086129"),
                    product: s("MIS"),
                    quantity: s("1"),
                    average_price: s("83.74"),
                    timestamp: s("14:28:49"),
                    ..Trade::default()
                },
            ],
            holdings: vec![
                hold("RELIANCE", "1", "1342.00", "1193.00"),
                hold("TATASTEEL", "1", "144.10", "129.10"),
                hold("CANBK", "5", "102.80", "89.00"),
            ],
            ..InstanceSpec::default()
        }
    }

    /// Checks every decimal string so that a bad spec fails at start-up, not mid-test.
    pub fn validate(&self) -> anyhow::Result<()> {
        let ctx = |what: &str| format!("instance {:?}: {what}", self.name);
        validate_funds(&self.funds).with_context(|| ctx("funds"))?;
        for (i, p) in self.positions.iter().enumerate() {
            validate_position(p).with_context(|| ctx(&format!("positions[{i}]")))?;
        }
        for (i, o) in self.orders.iter().enumerate() {
            validate_order(o).with_context(|| ctx(&format!("orders[{i}]")))?;
        }
        for (i, t) in self.trades.iter().enumerate() {
            validate_trade(t).with_context(|| ctx(&format!("trades[{i}]")))?;
        }
        for (i, h) in self.holdings.iter().enumerate() {
            validate_holding(h).with_context(|| ctx(&format!("holdings[{i}]")))?;
        }
        Ok(())
    }
}

/// Parses a decimal string (plain or scientific notation); an empty string means zero so that
/// `..Default::default()` rows are valid.
pub(crate) fn dec(field: &str, v: &str) -> anyhow::Result<Decimal> {
    let t = v.trim();
    if t.is_empty() {
        return Ok(Decimal::ZERO);
    }
    Decimal::from_str(t)
        .or_else(|_| Decimal::from_scientific(t))
        .with_context(|| format!("{field}: {v:?} is not a decimal number"))
}

pub(crate) fn validate_funds(f: &Funds) -> anyhow::Result<()> {
    dec("available_cash", &f.available_cash)?;
    dec("collateral", &f.collateral)?;
    dec("m2m_realized", &f.m2m_realized)?;
    dec("m2m_unrealized", &f.m2m_unrealized)?;
    dec("utilised_debits", &f.utilised_debits)?;
    Ok(())
}

pub(crate) fn validate_position(p: &Position) -> anyhow::Result<()> {
    dec("quantity", &p.quantity)?;
    dec("average_price", &p.average_price)?;
    dec("ltp", &p.ltp)?;
    dec("pnl", &p.pnl)?;
    dec("realized_pnl", &p.realized_pnl)?;
    dec("unrealized_pnl", &p.unrealized_pnl)?;
    Ok(())
}

pub(crate) fn validate_order(o: &Order) -> anyhow::Result<()> {
    dec("quantity", &o.quantity)?;
    dec("price", &o.price)?;
    dec("trigger_price", &o.trigger_price)?;
    dec("average_price", &o.average_price)?;
    dec("filled_quantity", &o.filled_quantity)?;
    dec("pending_quantity", &o.pending_quantity)?;
    Ok(())
}

pub(crate) fn validate_trade(t: &Trade) -> anyhow::Result<()> {
    dec("quantity", &t.quantity)?;
    dec("average_price", &t.average_price)?;
    Ok(())
}

pub(crate) fn validate_holding(h: &Holding) -> anyhow::Result<()> {
    dec("quantity", &h.quantity)?;
    dec("average_price", &h.average_price)?;
    dec("ltp", &h.ltp)?;
    Ok(())
}
