//! Rendering responses: `-o json` prints the message as one pretty proto3-JSON document; the
//! table form is aligned columns (or `key: value` lines for a single object) that a person can
//! scan. Every renderer is a pure function from the response to a `String`, so it is tested
//! without a daemon, and none of them can panic on whatever the server sends.
//!
//! [`table`] is the table engine, [`format`] turns values into cells (times, spans, bytes,
//! enum names), [`money`] gives money its currency's decimals, [`zone`] is the operator's time
//! zone and [`sort`] the order rows are shown in; the renderers are one module per command
//! group, as in `commands/`.

pub mod account;
pub mod admin;
pub mod colour;
pub mod format;
pub mod money;
pub mod monitor;
pub mod portfolio;
pub mod sort;
pub mod table;
pub mod zone;

/// One pretty JSON document (proto3 JSON mapping via the pbjson serde impls).
pub fn json<T: serde::Serialize>(msg: &T) -> anyhow::Result<String> {
    let mut s = serde_json::to_string_pretty(msg)?;
    s.push('\n');
    Ok(s)
}

/// One JSON object on one line (for streams).
pub fn json_line<T: serde::Serialize>(msg: &T) -> anyhow::Result<String> {
    let mut s = serde_json::to_string(msg)?;
    s.push('\n');
    Ok(s)
}

#[cfg(test)]
pub(crate) fn ts(secs: i64) -> roster_proto::pbjson_types::Timestamp {
    roster_proto::pbjson_types::Timestamp {
        seconds: secs,
        nanos: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_proto::v1::Account;

    #[test]
    fn json_is_proto3_mapping() {
        let a = Account {
            name: "x".into(),
            create_time: Some(ts(0)),
            ..Default::default()
        };
        let out = json(&a).unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["name"], "x");
        assert_eq!(v["createTime"], "1970-01-01T00:00:00+00:00");
    }
}
