//! What one simulated Alpaca account holds: its key pair, the `GET /v2/account` fields, positions,
//! orders and activities, and its request budget. Money is `Decimal` (rendered as the decimal
//! strings Alpaca sends, scale kept: `"221.40"` stays `"221.40"`); times are `SystemTime`,
//! rendered in the reference's formats (see `time.rs`).

use super::time::activity_stamp;
use rust_decimal::Decimal;
use std::str::FromStr as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Alpaca's default Trading API budget: 200 requests per minute per account (reference §2.5).
pub const DEFAULT_RATE_LIMIT_PER_MINUTE: u32 = 200;

/// Which Alpaca host a simulator plays. Paper and live are different accounts with different
/// keys: a key pair registered on one is unknown to the other (401 `40110000`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Environment {
    /// `https://paper-api.alpaca.markets`.
    Paper,
    /// `https://api.alpaca.markets`.
    Live,
}

impl Environment {
    /// `"paper"` or `"live"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Paper => "paper",
            Environment::Live => "live",
        }
    }

    /// The real host this simulator stands in for.
    pub fn real_base_url(self) -> &'static str {
        match self {
            Environment::Paper => "https://paper-api.alpaca.markets",
            Environment::Live => "https://api.alpaca.markets",
        }
    }
}

impl std::str::FromStr for Environment {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Environment> {
        match s.trim().to_ascii_lowercase().as_str() {
            "paper" => Ok(Environment::Paper),
            "live" => Ok(Environment::Live),
            other => anyhow::bail!("unknown environment {other:?}: paper or live"),
        }
    }
}

/// The body of `GET /v2/account` (reference §2.4.1). Statuses are open strings, so a test can
/// send any value Alpaca or its SDKs know (`ACTIVE`, `ACCOUNT_UPDATED`, `SUBMITTED`,
/// `ACCOUNT_CLOSED`, ...) or one nobody knows yet.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)] // the fields are Alpaca's, named as on the wire
pub struct AccountInfo {
    pub id: String,
    pub account_number: String,
    pub status: String,
    /// `None` leaves the field out (it is present only when crypto is enabled).
    pub crypto_status: Option<String>,
    pub currency: String,
    pub buying_power: Decimal,
    pub regt_buying_power: Decimal,
    pub options_buying_power: Decimal,
    pub effective_buying_power: Decimal,
    pub non_marginable_buying_power: Decimal,
    pub cash: Decimal,
    pub accrued_fees: Decimal,
    pub pending_transfer_in: Decimal,
    /// Deprecated by Alpaca; equals `equity` there. Kept separate so a test can break the rule.
    pub portfolio_value: Decimal,
    pub trading_blocked: bool,
    pub transfers_blocked: bool,
    pub account_blocked: bool,
    pub created_at: SystemTime,
    pub trade_suspended_by_user: bool,
    pub multiplier: Decimal,
    pub shorting_enabled: bool,
    pub equity: Decimal,
    pub last_equity: Decimal,
    pub long_market_value: Decimal,
    pub short_market_value: Decimal,
    pub position_market_value: Decimal,
    pub initial_margin: Decimal,
    pub maintenance_margin: Decimal,
    pub last_maintenance_margin: Decimal,
    pub sma: Decimal,
    /// `YYYY-MM-DD`.
    pub balance_asof: String,
    pub crypto_tier: u32,
    pub options_approved_level: u32,
    pub options_trading_level: u32,
    pub intraday_adjustments: Decimal,
    pub pending_reg_taf_fees: Decimal,
    /// Added to (or replacing) the rendered fields last: schema churn such as the pre-2026
    /// `"daytrade_count": 0` or the spec example's `"bod_dtbp": 0` as a JSON number, or a
    /// `null` where a string is expected.
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Parses a decimal literal of this module's fixed demo data.
fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap_or_default()
}

/// A fixed instant: seconds since the epoch plus nanoseconds.
fn at(secs: u64, nanos: u32) -> SystemTime {
    UNIX_EPOCH + Duration::new(secs, nanos)
}

/// 2026-11-24T15:02:11Z, the reference examples' session.
const DEMO_DAY: u64 = 1_795_532_531;

/// A UUID-shaped (version 4 layout) id derived from `seed`, so demo data is reproducible.
pub fn uuid_from(seed: &str) -> String {
    fn fnv(seed: &str, basis: u64) -> u64 {
        seed.bytes().fold(basis, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    }
    // splitmix64's finaliser, so seeds that differ in one character look unrelated.
    fn mix(mut z: u64) -> u64 {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    let hi = mix(fnv(seed, 0xcbf2_9ce4_8422_2325));
    let lo = mix(fnv(seed, 0x6c62_272e_07bb_0142));
    let hex = format!("{hi:016x}{lo:016x}");
    let part = |a: usize, b: usize| hex.get(a..b).unwrap_or("0");
    format!(
        "{}-{}-4{}-a{}-{}",
        part(0, 8),
        part(8, 12),
        part(13, 16),
        part(17, 20),
        part(20, 32)
    )
}

impl AccountInfo {
    /// The reference's example account: ACTIVE, USD, nothing blocked, $100,432.37 equity.
    pub fn active(seed: &str) -> AccountInfo {
        let number: String = uuid_from(&format!("number:{seed}"))
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(10)
            .collect();
        AccountInfo {
            id: uuid_from(&format!("account:{seed}")),
            account_number: format!("PA{}", number.to_ascii_uppercase()),
            status: "ACTIVE".into(),
            crypto_status: Some("ACTIVE".into()),
            currency: "USD".into(),
            buying_power: d("184210.44"),
            regt_buying_power: d("184210.44"),
            options_buying_power: d("92105.22"),
            effective_buying_power: d("184210.44"),
            non_marginable_buying_power: d("91880.10"),
            cash: d("91880.10"),
            accrued_fees: d("0"),
            pending_transfer_in: d("0"),
            portfolio_value: d("100432.37"),
            trading_blocked: false,
            transfers_blocked: false,
            account_blocked: false,
            created_at: at(1_710_165_775, 109_384_000),
            trade_suspended_by_user: false,
            multiplier: d("2"),
            shorting_enabled: true,
            equity: d("100432.37"),
            last_equity: d("99871.26408810113"),
            long_market_value: d("8552.27"),
            short_market_value: d("0"),
            position_market_value: d("8552.27"),
            initial_margin: d("4276.14"),
            maintenance_margin: d("2565.68"),
            last_maintenance_margin: d("2490.03"),
            sma: d("99874.01"),
            balance_asof: "2026-11-24".into(),
            crypto_tier: 1,
            options_approved_level: 2,
            options_trading_level: 2,
            intraday_adjustments: d("0"),
            pending_reg_taf_fees: d("0"),
            extra: serde_json::Map::new(),
        }
    }
}

impl AccountInfo {
    /// Sets the market values from `positions` and the equity from them and `cash`, as Alpaca
    /// relates them: long and short market value (the short one negative), equity = cash + long
    /// + short, `portfolio_value` = equity (reference §2.4.1).
    pub fn match_positions(&mut self, positions: &[Position]) {
        let sum = |short: bool| {
            positions
                .iter()
                .filter(|p| (p.side() == "short") == short)
                .fold(Decimal::ZERO, |acc, p| {
                    acc.checked_add(p.market_value).unwrap_or(acc)
                })
        };
        self.long_market_value = sum(false);
        self.short_market_value = sum(true);
        self.position_market_value = self
            .long_market_value
            .checked_add(self.short_market_value.abs())
            .unwrap_or_default();
        self.equity = self
            .cash
            .checked_add(self.long_market_value)
            .and_then(|e| e.checked_add(self.short_market_value))
            .unwrap_or_default();
        self.portfolio_value = self.equity;
    }
}

/// One row of `GET /v2/positions` (reference §2.4.2). A short position has a negative `qty`,
/// `market_value` and `cost_basis` and renders `"side":"short"`, as Alpaca staff describe; the
/// side is derived from the sign of `qty`.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)] // Alpaca's field names
pub struct Position {
    pub asset_id: String,
    /// `AAPL`; crypto positions use `BTCUSD` (no slash), unlike orders (`BTC/USD`).
    pub symbol: String,
    /// Open string; `""` for options.
    pub exchange: String,
    /// `us_equity`, `us_option`, `crypto`, ... (open).
    pub asset_class: String,
    pub asset_marginable: bool,
    pub qty: Decimal,
    pub qty_available: Decimal,
    pub avg_entry_price: Decimal,
    pub market_value: Decimal,
    pub cost_basis: Decimal,
    pub unrealized_pl: Decimal,
    pub unrealized_plpc: Decimal,
    pub unrealized_intraday_pl: Decimal,
    pub unrealized_intraday_plpc: Decimal,
    pub current_price: Decimal,
    pub lastday_price: Decimal,
    pub change_today: Decimal,
}

impl Position {
    /// A position whose values follow from quantity (negative = short), entry and current price:
    /// market value = qty × current, cost basis = qty × entry, no move today.
    pub fn new(
        symbol: &str,
        asset_class: &str,
        exchange: &str,
        qty: Decimal,
        avg_entry_price: Decimal,
        current_price: Decimal,
    ) -> Position {
        // Checked: a test's extreme values give zeros, never a panic.
        let market_value = qty.checked_mul(current_price).unwrap_or_default();
        let cost_basis = qty.checked_mul(avg_entry_price).unwrap_or_default();
        let unrealized_pl = market_value.checked_sub(cost_basis).unwrap_or_default();
        let unrealized_plpc = unrealized_pl
            .checked_div(cost_basis.abs())
            .map(|r| r.round_dp(16))
            .unwrap_or_default();
        Position {
            asset_id: uuid_from(&format!("asset:{symbol}")),
            symbol: symbol.into(),
            exchange: exchange.into(),
            asset_class: asset_class.into(),
            asset_marginable: asset_class == "us_equity",
            qty,
            qty_available: qty,
            avg_entry_price,
            market_value,
            cost_basis,
            unrealized_pl,
            unrealized_plpc,
            unrealized_intraday_pl: Decimal::ZERO,
            unrealized_intraday_plpc: Decimal::ZERO,
            current_price,
            lastday_price: current_price,
            change_today: Decimal::ZERO,
        }
    }

    /// A US equity on NASDAQ.
    pub fn equity(
        symbol: &str,
        qty: Decimal,
        avg_entry_price: Decimal,
        price: Decimal,
    ) -> Position {
        Position::new(symbol, "us_equity", "NASDAQ", qty, avg_entry_price, price)
    }

    /// A crypto position (`BTCUSD`-style symbol, exchange `CRYPTO`).
    pub fn crypto(
        symbol: &str,
        qty: Decimal,
        avg_entry_price: Decimal,
        price: Decimal,
    ) -> Position {
        Position::new(symbol, "crypto", "CRYPTO", qty, avg_entry_price, price)
    }

    /// `"long"` or `"short"`, from the sign of `qty`.
    pub fn side(&self) -> &'static str {
        if self.qty.is_sign_negative() && !self.qty.is_zero() {
            "short"
        } else {
            "long"
        }
    }
}

/// Order statuses `status=open` returns. The reference lists the statuses but not which are
/// open; these are the ones that can still change (inferred), the rest are closed.
pub const OPEN_ORDER_STATUSES: [&str; 11] = [
    "new",
    "partially_filled",
    "accepted",
    "pending_new",
    "accepted_for_bidding",
    "pending_cancel",
    "pending_replace",
    "stopped",
    "suspended",
    "calculated",
    "held",
];

/// One order of `GET /v2/orders` (reference §2.4.3).
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)] // Alpaca's field names
pub struct Order {
    pub id: String,
    pub client_order_id: String,
    pub created_at: SystemTime,
    pub updated_at: SystemTime,
    /// Orders sort and page by this.
    pub submitted_at: SystemTime,
    pub filled_at: Option<SystemTime>,
    pub expired_at: Option<SystemTime>,
    pub canceled_at: Option<SystemTime>,
    pub failed_at: Option<SystemTime>,
    /// `""` on a multi-leg parent.
    pub asset_id: String,
    /// `""` on a multi-leg parent; `BTC/USD` for crypto.
    pub symbol: String,
    pub asset_class: String,
    /// `Some` for a notional (dollar-amount) order, whose `qty` is then `None`.
    pub notional: Option<Decimal>,
    pub qty: Option<Decimal>,
    pub filled_qty: Decimal,
    pub filled_avg_price: Option<Decimal>,
    /// `""` (simple), `mleg`, `bracket`, `oco`, `oto`.
    pub order_class: String,
    /// `market`, `limit`, ... (rendered as both `order_type` and `type`).
    pub order_type: String,
    pub side: String,
    pub position_intent: String,
    pub time_in_force: String,
    pub limit_price: Option<Decimal>,
    pub stop_price: Option<Decimal>,
    pub status: String,
    pub extended_hours: bool,
    /// Legs of a multi-leg order; empty renders `null`.
    pub legs: Vec<Order>,
}

impl Order {
    /// A new (open) simple order for `qty` of `symbol`, submitted at `submitted_at`; `limit_price`
    /// `None` makes it a market order. `seed` makes its ids.
    pub fn new(
        seed: &str,
        symbol: &str,
        side: &str,
        qty: Decimal,
        limit_price: Option<Decimal>,
        submitted_at: SystemTime,
    ) -> Order {
        let order_type = if limit_price.is_some() {
            "limit"
        } else {
            "market"
        };
        let crypto = symbol.contains('/');
        Order {
            id: uuid_from(&format!("order:{seed}")),
            client_order_id: format!("roster-{}", uuid_from(seed).get(..6).unwrap_or("0")),
            created_at: submitted_at + Duration::from_nanos(7_290_893),
            updated_at: submitted_at + Duration::from_nanos(7_290_893),
            submitted_at,
            filled_at: None,
            expired_at: None,
            canceled_at: None,
            failed_at: None,
            asset_id: uuid_from(&format!("asset:{}", symbol.replace('/', ""))),
            symbol: symbol.into(),
            asset_class: if crypto { "crypto" } else { "us_equity" }.into(),
            notional: None,
            qty: Some(qty),
            filled_qty: Decimal::ZERO,
            filled_avg_price: None,
            order_class: String::new(),
            order_type: order_type.into(),
            side: side.into(),
            position_intent: match side {
                "sell" => "sell_to_close",
                _ => "buy_to_open",
            }
            .into(),
            time_in_force: if crypto { "gtc" } else { "day" }.into(),
            limit_price,
            stop_price: None,
            status: "new".into(),
            extended_hours: false,
            legs: Vec::new(),
        }
    }

    /// A notional market order: `notional` dollars, `qty: null`.
    pub fn notional(
        seed: &str,
        symbol: &str,
        side: &str,
        notional: Decimal,
        submitted_at: SystemTime,
    ) -> Order {
        let mut o = Order::new(seed, symbol, side, Decimal::ZERO, None, submitted_at);
        o.qty = None;
        o.notional = Some(notional);
        o
    }

    /// Marks the order filled at `at`: `filled_qty` = `qty` (or `qty` for a notional order).
    pub fn filled(mut self, qty: Decimal, avg_price: Decimal, at: SystemTime) -> Order {
        self.filled_qty = qty;
        self.filled_avg_price = Some(avg_price);
        self.filled_at = Some(at);
        self.updated_at = at + Duration::from_nanos(7_316_002);
        self.status = if self.qty.is_some_and(|q| qty < q) {
            "partially_filled"
        } else {
            "filled"
        }
        .into();
        self
    }

    /// Marks the order canceled at `at`.
    pub fn canceled(mut self, at: SystemTime) -> Order {
        self.canceled_at = Some(at);
        self.updated_at = at;
        self.status = "canceled".into();
        self
    }

    /// Whether `status=open` lists it (see [`OPEN_ORDER_STATUSES`]).
    pub fn is_open(&self) -> bool {
        OPEN_ORDER_STATUSES.contains(&self.status.as_str())
    }
}

/// A `FILL` activity (reference §2.4.4).
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)] // Alpaca's field names
pub struct FillActivity {
    /// `<17-digit Eastern timestamp>::<uuid>`; activities sort and page by it.
    pub id: String,
    pub transaction_time: SystemTime,
    /// `fill` or `partial_fill` (rendered as `type`).
    pub fill_type: String,
    pub price: Decimal,
    pub qty: Decimal,
    pub side: String,
    pub symbol: String,
    pub leaves_qty: Decimal,
    pub order_id: String,
    pub cum_qty: Decimal,
    pub order_status: String,
}

impl FillActivity {
    /// A fill of `qty` at `price` on `order` at `at`, `cum_qty` of the order filled so far
    /// including this one; `partial_fill` while some of the order is left.
    pub fn of(
        order: &Order,
        qty: Decimal,
        price: Decimal,
        cum_qty: Decimal,
        at: SystemTime,
    ) -> FillActivity {
        let total = order.qty.unwrap_or(cum_qty);
        let left = total.checked_sub(cum_qty).unwrap_or_default();
        let leaves = if left > Decimal::ZERO {
            left
        } else {
            Decimal::ZERO
        };
        let partial = !leaves.is_zero();
        FillActivity {
            id: activity_id(at, &format!("fill:{}:{cum_qty}", order.id)),
            transaction_time: at,
            fill_type: if partial { "partial_fill" } else { "fill" }.into(),
            price,
            qty,
            side: order.side.clone(),
            symbol: order.symbol.clone(),
            leaves_qty: leaves,
            order_id: order.id.clone(),
            cum_qty,
            order_status: if partial {
                "partially_filled"
            } else {
                "filled"
            }
            .into(),
        }
    }
}

/// An activity id: the 17-digit Eastern timestamp of `at`, `::`, a uuid from `seed`.
pub fn activity_id(at: SystemTime, seed: &str) -> String {
    format!("{}::{}", activity_stamp(at), uuid_from(seed))
}

/// A non-trade activity (DIV, FEE, CSD, ...; reference §2.4.4); it lets a test see that
/// `activity_types=FILL` filters.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)] // Alpaca's field names
pub struct NonTradeActivity {
    pub id: String,
    pub activity_type: String,
    pub activity_sub_type: Option<String>,
    /// `YYYY-MM-DD`.
    pub date: String,
    pub net_amount: Decimal,
    pub symbol: Option<String>,
    pub qty: Option<Decimal>,
    pub per_share_amount: Option<Decimal>,
    /// `executed`, `correct`, `canceled`, ...
    pub status: String,
    pub created_at: SystemTime,
}

/// One row of `GET /v2/account/activities`.
#[derive(Debug, Clone, PartialEq)]
pub enum Activity {
    /// `activity_type: FILL`.
    Fill(FillActivity),
    /// Anything else.
    NonTrade(NonTradeActivity),
}

impl Activity {
    /// Its id (`<17 digits>::<uuid>`).
    pub fn id(&self) -> &str {
        match self {
            Activity::Fill(f) => &f.id,
            Activity::NonTrade(n) => &n.id,
        }
    }

    /// `FILL`, `DIV`, ...
    pub fn activity_type(&self) -> &str {
        match self {
            Activity::Fill(_) => "FILL",
            Activity::NonTrade(n) => &n.activity_type,
        }
    }
}

/// One account the simulator serves: its key pair and everything its endpoints answer. Several
/// accounts share one server (as on `paper-api.alpaca.markets`), told apart by `key_id`.
#[derive(Debug, Clone, PartialEq)]
pub struct AlpacaAccountSpec {
    /// `APCA-API-KEY-ID`.
    pub key_id: String,
    /// `APCA-API-SECRET-KEY`.
    pub secret_key: String,
    /// `GET /v2/account`.
    pub account: AccountInfo,
    /// `GET /v2/positions`, in this order.
    pub positions: Vec<Position>,
    /// `GET /v2/orders` (sorted by `submitted_at` when served).
    pub orders: Vec<Order>,
    /// `GET /v2/account/activities` (sorted by id when served).
    pub activities: Vec<Activity>,
    /// Requests per rolling window before 429 (0: unlimited). Default 200.
    pub rate_limit_per_minute: u32,
    /// The budget's window: Alpaca's minute by default. A test of a client that waits for
    /// `X-RateLimit-Reset` can shorten it (1 s to a day; Reset is in whole seconds); the
    /// limit keeps its name. The busiest-minute record always uses 60 s.
    pub rate_window: Duration,
}

impl AlpacaAccountSpec {
    /// An ACTIVE account with no positions, orders or activities.
    pub fn empty(key_id: impl Into<String>, secret_key: impl Into<String>) -> AlpacaAccountSpec {
        let key_id = key_id.into();
        AlpacaAccountSpec {
            account: AccountInfo::active(&key_id),
            key_id,
            secret_key: secret_key.into(),
            positions: Vec::new(),
            orders: Vec::new(),
            activities: Vec::new(),
            rate_limit_per_minute: DEFAULT_RATE_LIMIT_PER_MINUTE,
            rate_window: Duration::from_secs(60),
        }
    }

    /// An ACTIVE account with the reference's kind of book, all on 2026-11-24 (its market values
    /// and equity follow from the positions, see [`AccountInfo::match_positions`]):
    /// positions long 12 AAPL, short 5 TSLA (negative qty), long 0.0412337 BTCUSD;
    /// orders (oldest first) a filled AAPL buy, a filled TSLA short sale, a canceled MSFT limit,
    /// a filled $500 notional SPY buy (`qty: null`), a partially filled BTC/USD buy, an open NVDA
    /// limit; one FILL activity per fill plus a DIV.
    pub fn demo(key_id: impl Into<String>, secret_key: impl Into<String>) -> AlpacaAccountSpec {
        let mut spec = AlpacaAccountSpec::empty(key_id, secret_key);
        let k = spec.key_id.clone();
        let t = |mins: u64, nanos: u32| at(DEMO_DAY + 60 * mins, nanos);
        spec.positions = vec![
            Position::equity("AAPL", d("12"), d("221.40"), d("226.03")),
            Position::equity("TSLA", d("-5"), d("251.10"), d("248.00")),
            Position::crypto("BTCUSD", d("0.0412337"), d("96110.2234118"), d("96697.0")),
        ];
        let aapl = Order::new(
            &format!("{k}:1"),
            "AAPL",
            "buy",
            d("12"),
            Some(d("221.5")),
            t(0, 401_932_718),
        )
        .filled(d("12"), d("221.4"), t(0, 905_000_000));
        let mut tsla = Order::new(
            &format!("{k}:2"),
            "TSLA",
            "sell",
            d("5"),
            None,
            t(7, 112_000_001),
        )
        .filled(d("5"), d("251.10"), t(7, 530_000_000));
        tsla.position_intent = "sell_to_open".into();
        let msft = Order::new(
            &format!("{k}:3"),
            "MSFT",
            "buy",
            d("3"),
            Some(d("401.2")),
            t(15, 1),
        )
        .canceled(t(75, 0));
        let spy = Order::notional(
            &format!("{k}:4"),
            "SPY",
            "buy",
            d("500"),
            t(31, 250_000_000),
        )
        .filled(d("0.838505409"), d("596.3"), t(31, 800_000_000));
        let btc = Order::new(
            &format!("{k}:5"),
            "BTC/USD",
            "buy",
            d("0.05"),
            Some(d("96200")),
            t(44, 9),
        )
        .filled(d("0.0412337"), d("96110.2234118"), t(44, 600_000_000));
        let nvda = Order::new(
            &format!("{k}:6"),
            "NVDA",
            "buy",
            d("4"),
            Some(d("131.05")),
            t(58, 0),
        );
        let fill = |o: &Order| {
            Activity::Fill(FillActivity::of(
                o,
                o.filled_qty,
                o.filled_avg_price.unwrap_or_default(),
                o.filled_qty,
                o.filled_at.unwrap_or(o.submitted_at),
            ))
        };
        spec.activities = vec![
            fill(&aapl),
            fill(&tsla),
            fill(&spy),
            fill(&btc),
            Activity::NonTrade(NonTradeActivity {
                id: activity_id(t(120, 0), &format!("{k}:div")),
                activity_type: "DIV".into(),
                activity_sub_type: Some("CDIV".into()),
                date: "2026-11-24".into(),
                net_amount: d("1.02"),
                symbol: Some("T".into()),
                qty: Some(d("2")),
                per_share_amount: Some(d("0.51")),
                status: "executed".into(),
                created_at: t(120, 0),
            }),
        ];
        spec.orders = vec![aapl, tsla, msft, spy, btc, nvda];
        spec.account.match_positions(&spec.positions);
        spec
    }

    /// Checks what the server relies on: a key pair that can travel in HTTP headers, and a
    /// budget window between a second and a day.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            (Duration::from_secs(1)..=Duration::from_secs(86_400)).contains(&self.rate_window),
            "rate_window {:?} is not between 1 s and a day",
            self.rate_window
        );
        for (what, v) in [("key_id", &self.key_id), ("secret_key", &self.secret_key)] {
            anyhow::ensure!(
                !v.is_empty() && v.bytes().all(|b| b.is_ascii_graphic()),
                "{what} {v:?} must be non-empty visible ASCII (it travels in a header)"
            );
        }
        Ok(())
    }
}
