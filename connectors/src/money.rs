//! Exact money: JSON numbers or strings (`165000.0`, `"42,500.50"`, `1.65E7`,
//! `1e9999`) to integer pence, without ever passing through a float.

/// A parsed amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    Pence(i64),
    /// Too large to hold (e.g. `1e9999`): kept as "unbounded", never clipped.
    Unbounded,
}

/// Parses the raw JSON text of an amount (a number, or a string holding one,
/// with optional `£`, commas and spaces). Fractions of a penny round half away
/// from zero. `None` when the text is not a number.
pub fn parse_amount(raw: &str) -> Option<Amount> {
    let s = raw.trim();
    let s = s
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(s);
    let cleaned: String = s
        .chars()
        .filter(|c| !matches!(c, ',' | ' ' | '£' | '_'))
        .collect();
    let (neg, body) = match cleaned.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, cleaned.strip_prefix('+').unwrap_or(&cleaned)),
    };
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], exponent(&body[i + 1..])?),
        None => (body, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let digits = format!("{int}{frac}");
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return Some(Amount::Pence(0));
    }
    // value = digits × 10^(exp − len(frac)); pence = value × 100. The
    // exponent is clamped (see `exponent`), so this cannot overflow.
    let scale = exp + 2 - i64::try_from(frac.len()).unwrap_or(i64::MAX / 4);
    let pence = scale_digits(digits, scale)?;
    Some(match pence {
        Some(p) if neg => Amount::Pence(-p),
        Some(p) => Amount::Pence(p),
        None => Amount::Unbounded,
    })
}

/// An exponent (`+12`, `-3`, `99999999999999999999`), clamped to ±10^12:
/// beyond that every non-zero amount is unbounded or rounds to 0 anyway, and
/// the clamp keeps the scale arithmetic far from overflow.
fn exponent(s: &str) -> Option<i64> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    const CLAMP: i64 = 1_000_000_000_000;
    let e = digits.parse::<i64>().unwrap_or(CLAMP).min(CLAMP);
    Some(if neg { -e } else { e })
}

/// `digits × 10^scale`, rounded to an integer; `Some(None)` on overflow.
fn scale_digits(digits: &str, scale: i64) -> Option<Option<i64>> {
    let len = digits.len() as i64;
    if scale >= 0 {
        if len + scale > 19 {
            return Some(None);
        }
        let base: i64 = match digits.parse() {
            Ok(b) => b,
            Err(_) => return Some(None),
        };
        return Some(
            10i64
                .checked_pow(scale as u32)
                .and_then(|m| base.checked_mul(m)),
        );
    }
    let keep = len + scale; // digits left of the decimal point
    if keep < 0 {
        return Some(Some(0));
    }
    let (whole, rest) = digits.split_at(keep as usize);
    let mut v: i64 = if whole.is_empty() {
        0
    } else {
        match whole.parse() {
            Ok(v) => v,
            Err(_) => return Some(None),
        }
    };
    if rest.as_bytes().first().is_some_and(|d| *d >= b'5') {
        v = match v.checked_add(1) {
            Some(v) => v,
            None => return Some(None),
        };
    }
    Some(Some(v))
}

/// Whole pounds (as typed on a command line) to pence.
pub fn pounds_to_pence(pounds: i64) -> Option<i64> {
    pounds.checked_mul(100)
}

/// Pence to a display string: `£1,234.50`.
pub fn format_pence(pence: i64) -> String {
    let neg = pence < 0;
    let abs = pence.unsigned_abs();
    let pounds = (abs / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in pounds.chars().enumerate() {
        if i > 0 && (pounds.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!(
        "{}£{}.{:02}",
        if neg { "-" } else { "" },
        grouped,
        abs % 100
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Option<Amount> {
        parse_amount(s)
    }

    #[test]
    fn numbers_become_exact_pence() {
        assert_eq!(p("165000.0"), Some(Amount::Pence(16_500_000)));
        assert_eq!(p("165000"), Some(Amount::Pence(16_500_000)));
        assert_eq!(p("42500.50"), Some(Amount::Pence(4_250_050)));
        assert_eq!(p("0.1"), Some(Amount::Pence(10)));
        assert_eq!(p("1.65E7"), Some(Amount::Pence(1_650_000_000)));
        assert_eq!(p("1e2"), Some(Amount::Pence(10_000)));
        assert_eq!(p("-12.345"), Some(Amount::Pence(-1235)));
        assert_eq!(p("0.004"), Some(Amount::Pence(0)));
        assert_eq!(p("0"), Some(Amount::Pence(0)));
    }

    #[test]
    fn strings_and_symbols_are_accepted() {
        assert_eq!(p("\"42,500.50\""), Some(Amount::Pence(4_250_050)));
        assert_eq!(p("\"£1,200\""), Some(Amount::Pence(120_000)));
        assert_eq!(p("\"abc\""), None);
        assert_eq!(p("\"\""), None);
        assert_eq!(p("true"), None);
    }

    #[test]
    fn huge_numbers_are_unbounded() {
        assert_eq!(p("1e9999"), Some(Amount::Unbounded));
        assert_eq!(p("99999999999999999999999"), Some(Amount::Unbounded));
        assert_eq!(p("1e-9999"), Some(Amount::Pence(0)));
        assert_eq!(p("1e99999999999999999999999"), Some(Amount::Unbounded));
        assert_eq!(p("-1E+9223372036854775807"), Some(Amount::Unbounded));
        assert_eq!(p("5e-99999999999999999999999"), Some(Amount::Pence(0)));
        assert_eq!(p("1e"), None);
        assert_eq!(p("1e+-2"), None);
    }

    #[test]
    fn formats_pounds() {
        assert_eq!(format_pence(16_500_000), "£165,000.00");
        assert_eq!(format_pence(5), "£0.05");
        assert_eq!(format_pence(-123_456), "-£1,234.56");
    }
}
