//! Account names as people read them: the daemon sorts books and listings by this order, and
//! rosterctl sorts the accounts it names (a bulk action's plan) the same way.

/// The order people expect of account names: runs of digits compare by their value, so `demo-2`
/// comes before `demo-10`; equal-looking names (`a01`, `a1`) fall back to byte order.
pub fn natural_order(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    fn chunks(s: &str) -> impl Iterator<Item = (bool, &str)> {
        let mut rest = s;
        std::iter::from_fn(move || {
            let first = rest.chars().next()?;
            let digits = first.is_ascii_digit();
            let end = rest
                .find(|c: char| c.is_ascii_digit() != digits)
                .unwrap_or(rest.len());
            let (chunk, tail) = rest.split_at(end);
            rest = tail;
            Some((digits, chunk))
        })
    }
    let mut x = chunks(a);
    let mut y = chunks(b);
    loop {
        let order = match (x.next(), y.next()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some((true, p)), Some((true, q))) => {
                let (p, q) = (p.trim_start_matches('0'), q.trim_start_matches('0'));
                p.len().cmp(&q.len()).then_with(|| p.cmp(q))
            }
            (Some((_, p)), Some((_, q))) => p.cmp(q),
        };
        if order != Ordering::Equal {
            return order;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_as_people_count() {
        let mut names = vec![
            "demo-10", "demo-2", "demo-1", "desk-a", "demo-02", "Demo-3", "demo",
        ];
        names.sort_by(|a, b| natural_order(a, b));
        assert_eq!(
            names,
            [
                "Demo-3", "demo", "demo-1", "demo-02", "demo-2", "demo-10", "desk-a"
            ]
        );
        let big = "acct-123456789012345678901234567890";
        assert_eq!(natural_order(big, "acct-9"), std::cmp::Ordering::Greater);
    }
}
