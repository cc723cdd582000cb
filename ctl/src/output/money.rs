//! Money in tables: a fixed number of decimals per currency, so a column's points line up and a
//! figure reads the way its currency is written. `-o json` never comes here: it keeps the exact
//! decimal string the daemon sent.
//!
//! The amount is rounded on its decimal digits (never through a float, which would turn
//! `0.285` into `0.28499...`), half away from zero: `-0.005` INR is `-0.01`, `2.5` JPY is `3`.
//! Quantities are not money and do not come here.

/// ISO 4217 currencies whose minor unit is not 2 (the rest of [`FIAT`] has 2).
const MINOR_UNITS: [(&str, usize); 25] = [
    ("BIF", 0),
    ("CLP", 0),
    ("DJF", 0),
    ("GNF", 0),
    ("ISK", 0),
    ("JPY", 0),
    ("KMF", 0),
    ("KRW", 0),
    ("PYG", 0),
    ("RWF", 0),
    ("UGX", 0),
    ("UYI", 0),
    ("VND", 0),
    ("VUV", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
    ("BHD", 3),
    ("IQD", 3),
    ("JOD", 3),
    ("KWD", 3),
    ("LYD", 3),
    ("OMR", 3),
    ("TND", 3),
    ("CLF", 4),
];

/// Every ISO 4217 fiat currency code in use. A code that is not here is a crypto asset (BTC,
/// ETH, USDT, SOL...): crypto has no minor unit, and venues quote it to the satoshi.
const FIAT: &str = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB \
BOV BRL BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK \
DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD \
IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD \
MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN \
PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS \
TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XCD XCG XOF \
XPF YER ZAR ZMW ZWG ZWL";

/// Decimals of a crypto asset: 8, a satoshi (a venue's finer dust rounds to it).
const CRYPTO_DECIMALS: usize = 8;

/// How many decimals `currency` is shown with: its ISO 4217 minor unit for fiat (2 for most,
/// 0 for JPY or KRW, 3 for KWD...), 8 for anything else, a crypto asset. `None` when the
/// currency is unknown (empty): the amount is then shown as sent.
pub fn decimals(currency: &str) -> Option<usize> {
    let code = currency.trim();
    if code.is_empty() {
        return None;
    }
    let code = code.to_ascii_uppercase();
    if let Some((_, d)) = MINOR_UNITS.iter().find(|(c, _)| *c == code) {
        return Some(*d);
    }
    if code.len() == 3 && FIAT.split_ascii_whitespace().any(|c| c == code) {
        return Some(2);
    }
    Some(CRYPTO_DECIMALS)
}

/// The one place money becomes a table cell: `amount` with its currency's decimals. `-` when
/// there is no amount; as sent when the currency is unknown or the amount is not a plain
/// decimal (which the daemon never sends; shown rather than hidden, and never a panic).
pub fn money(amount: &str, currency: &str) -> String {
    if amount.is_empty() {
        return "-".into();
    }
    match decimals(currency).and_then(|d| round(amount, d)) {
        Some(s) => s,
        None => amount.to_owned(),
    }
}

/// `amount` rounded half away from zero to `dp` decimals, on its digits; `None` when it is not
/// `[-+]digits[.digits]`. A result that rounds to zero has no sign (`-0.001` is `0.00`).
pub fn round(amount: &str, dp: usize) -> Option<String> {
    let s = amount.trim();
    let (negative, unsigned) = match s.as_bytes().first()? {
        b'-' => (true, s.get(1..)?),
        b'+' => (false, s.get(1..)?),
        _ => (false, s),
    };
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
        return None;
    }
    // Every digit kept, most significant first; the first dropped digit decides the rounding
    // (5 or more is at least half, whatever follows).
    let mut kept: Vec<u8> = int.bytes().map(|b| b - b'0').collect();
    let frac_digits: Vec<u8> = frac.bytes().map(|b| b - b'0').collect();
    kept.extend((0..dp).map(|i| frac_digits.get(i).copied().unwrap_or(0)));
    if frac_digits.get(dp).is_some_and(|d| *d >= 5) {
        let mut i = kept.len();
        loop {
            if i == 0 {
                kept.insert(0, 1);
                break;
            }
            i -= 1;
            if let Some(d) = kept.get_mut(i) {
                if *d == 9 {
                    *d = 0;
                } else {
                    *d += 1;
                    break;
                }
            }
        }
    }
    let split = kept.len().saturating_sub(dp);
    let (int_digits, frac_digits) = kept.split_at(split);
    let int_digits = match int_digits.iter().position(|d| *d != 0) {
        Some(p) => int_digits.get(p..).unwrap_or_default(),
        None => &[0][..],
    };
    let zero = int_digits.iter().chain(frac_digits).all(|d| *d == 0);
    let mut out = String::with_capacity(kept.len() + 2);
    if negative && !zero {
        out.push('-');
    }
    out.extend(int_digits.iter().map(|d| char::from(b'0' + d)));
    if dp > 0 {
        out.push('.');
        out.extend(frac_digits.iter().map(|d| char::from(b'0' + d)));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fiat_has_its_minor_unit_crypto_eight_and_unknown_is_as_sent() {
        assert_eq!(money("1500", "INR"), "1500.00");
        assert_eq!(money("1500.5", "usd"), "1500.50");
        assert_eq!(money("1500.5", "JPY"), "1501");
        assert_eq!(money("-1500.4", "KRW"), "-1500");
        assert_eq!(money("1.2345", "KWD"), "1.235");
        assert_eq!(money("0.5", "BTC"), "0.50000000");
        assert_eq!(money("0.00000001", "BTC"), "0.00000001");
        assert_eq!(money("0.000000005", "ETH"), "0.00000001");
        assert_eq!(money("12", "USDT"), "12.00000000");
        // Any ISO code not tabled above as special has 2.
        assert_eq!(money("3", "CHF"), "3.00");
        // No currency: the daemon's figure as it came (an older daemon's single total).
        assert_eq!(money("12.345", ""), "12.345");
        assert_eq!(money("", "INR"), "-");
    }

    #[test]
    fn extreme_values_round_exactly_half_away_from_zero() {
        assert_eq!(money("1000000000000000", "INR"), "1000000000000000.00");
        assert_eq!(money("999999999999999.995", "INR"), "1000000000000000.00");
        assert_eq!(money("-0.005", "INR"), "-0.01");
        assert_eq!(money("0.005", "INR"), "0.01");
        assert_eq!(money("0.285", "INR"), "0.29", "never through f64");
        assert_eq!(money("-0.004", "INR"), "0.00", "no negative zero");
        assert_eq!(money("-0", "INR"), "0.00");
        assert_eq!(money(".5", "INR"), "0.50");
        assert_eq!(money("7.", "INR"), "7.00");
        assert_eq!(money("+7", "INR"), "7.00");
        assert_eq!(money("0007.1", "INR"), "7.10");
        assert_eq!(
            money("0.12345678901234567890123456789012345678", "INR"),
            "0.12"
        );
        assert_eq!(
            money("123456789012345678901234567890.123456789", "BTC"),
            "123456789012345678901234567890.12345679"
        );
        assert_eq!(money("9.999", "INR"), "10.00");
        assert_eq!(money("-9.999", "JPY"), "-10");
    }

    #[test]
    fn what_is_not_a_plain_decimal_is_shown_as_sent() {
        for odd in [
            "1e-8", "NaN", "abc", "-", "+", ".", "1.2.3", "1,000.00", "١٢", " ", "--1", "0x10",
        ] {
            assert_eq!(money(odd, "INR"), odd, "{odd:?}");
        }
    }
}
