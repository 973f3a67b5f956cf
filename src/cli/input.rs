//! Amounts, durations, times and periods typed as people type them, turned
//! into the integers the log stores. Every parse error says what was
//! expected, with an example.

use anyhow::{Result, bail};
use coopledger::scoring::time::{format_rfc3339, parse_rfc3339};

/// Parses a duration of work into minutes: `1h30m`, `90m`, `2h`, `1.5h`, `1:30`.
pub fn parse_duration_minutes(text: &str) -> Result<u64> {
    let t = text.trim().to_ascii_lowercase();
    let bad = || {
        anyhow::anyhow!("{text:?} is not a duration; write it like 1h30m, 90m, 2h, 1.5h or 1:30")
    };
    if t.is_empty() {
        return Err(bad());
    }
    if let Some((h, m)) = t.split_once(':') {
        let h: u64 = h.parse().map_err(|_| bad())?;
        let m: u64 = m.parse().map_err(|_| bad())?;
        if m >= 60 || m.to_string().len() > 2 {
            return Err(bad());
        }
        return h
            .checked_mul(60)
            .and_then(|x| x.checked_add(m))
            .ok_or_else(bad);
    }
    let mut total: u64 = 0;
    let mut rest = t.as_str();
    let mut seen_unit = false;
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let (number, after) = rest.split_at(end);
        let unit_len = after
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        let per_unit = match unit {
            "h" | "hr" | "hrs" | "hour" | "hours" => 60,
            "m" | "min" | "mins" | "minute" | "minutes" => 1,
            _ => return Err(bad()),
        };
        total = total
            .checked_add(scaled(number, per_unit).ok_or_else(bad)?)
            .ok_or_else(bad)?;
        seen_unit = true;
        rest = next;
    }
    if !seen_unit {
        return Err(bad());
    }
    Ok(total)
}

/// `number × per_unit`, where number may have a decimal fraction that must
/// come out whole (1.5h = 90 min; 1.01h is refused).
fn scaled(number: &str, per_unit: u64) -> Option<u64> {
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut value = whole.checked_mul(per_unit)?;
    if !frac.is_empty() {
        let digits = u32::try_from(frac.len()).ok()?;
        let denom = 10u64.checked_pow(digits)?;
        let num: u64 = frac.parse().ok()?;
        let part = num.checked_mul(per_unit)?;
        if part % denom != 0 {
            return None;
        }
        value = value.checked_add(part / denom)?;
    }
    Some(value)
}

/// Why [`parse_decimal`] refused a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalError {
    /// A comma: a decimal comma or a thousands separator, never guessed.
    Comma,
    /// A minus sign: amounts and percents are never negative.
    Negative,
    /// Not digits with at most one `.` between them.
    NotANumber,
    /// More digits after the point than the unit has (the count given).
    TooPrecise(usize),
    /// Beyond u64 in the unit.
    TooLarge,
}

/// Parses a non-negative decimal written with a `.` into a whole count of
/// 10^-`places` units, exactly: `25.5` with 2 places is 2550, `5.5` with 4
/// places is 55000. `_` between digits is ignored (`1_000.00`). Refused,
/// never rounded: more than `places` digits after the point, a comma, a
/// sign, anything but digits.
pub fn parse_decimal(text: &str, places: u32) -> Result<u64, DecimalError> {
    let t = text.trim().replace('_', "");
    if t.contains(',') {
        return Err(DecimalError::Comma);
    }
    if t.starts_with('-') && t.len() > 1 {
        return Err(DecimalError::Negative);
    }
    let (whole, frac) = t.split_once('.').unwrap_or((t.as_str(), ""));
    let ok_digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty()
        || !ok_digits(whole)
        || !ok_digits(frac)
        || (t.contains('.') && frac.is_empty())
    {
        return Err(DecimalError::NotANumber);
    }
    if frac.len() > places as usize {
        return Err(DecimalError::TooPrecise(frac.len()));
    }
    let scale = 10u64.checked_pow(places).ok_or(DecimalError::TooLarge)?;
    let whole: u64 = whole.parse().map_err(|_| DecimalError::TooLarge)?;
    let mut padded = frac.to_string();
    while padded.len() < places as usize {
        padded.push('0');
    }
    let frac: u64 = if padded.is_empty() {
        0
    } else {
        padded.parse().map_err(|_| DecimalError::TooLarge)?
    };
    whole
        .checked_mul(scale)
        .and_then(|w| w.checked_add(frac))
        .ok_or(DecimalError::TooLarge)
}

/// Parses a money amount into minor units for a currency with `decimals`
/// digits: `25`, `25.5`, `25.00`, `1_000.00`. A comma is refused rather than
/// guessed (is `1,50` one and a half or a hundred and fifty?).
pub fn parse_money(text: &str, decimals: u32) -> Result<u64> {
    parse_decimal(text, decimals).map_err(|e| match e {
        DecimalError::Comma => anyhow::anyhow!(
            "{text:?}: use '.' for the decimal point and no thousands separator (e.g. 1234.50)"
        ),
        DecimalError::Negative => {
            anyhow::anyhow!("{text:?} is negative; an amount is 0 or more, like 25.00")
        }
        DecimalError::NotANumber => {
            anyhow::anyhow!("{text:?} is not an amount; write it like 25, 25.5 or 25.00")
        }
        DecimalError::TooPrecise(_) => anyhow::anyhow!(
            "{text:?} has more than {decimals} digits after the point, the currency's minor unit"
        ),
        DecimalError::TooLarge => anyhow::anyhow!("{text:?} is too large"),
    })
}

/// Parses a percent into parts per million, exactly: `5%` is 50000, `5.5%`
/// 55000, `33.3333%` 333333 (the `%` may be left out). A percent with more
/// than 4 digits after the point is not a whole ppm and is refused.
pub fn parse_percent(text: &str) -> Result<u64> {
    let number = text.trim().strip_suffix('%').unwrap_or(text);
    parse_decimal(number, 4).map_err(|e| match e {
        DecimalError::Comma => {
            anyhow::anyhow!("{text:?}: use '.' for the decimal point, like \"5.5%\"")
        }
        DecimalError::Negative => {
            anyhow::anyhow!("{text:?} is negative; a percent is 0% or more, like \"40%\"")
        }
        DecimalError::NotANumber => anyhow::anyhow!(
            "{text:?} is not a percent; write it like \"5%\", \"5.5%\" or \"33.3333%\""
        ),
        DecimalError::TooPrecise(digits) => anyhow::anyhow!(
            "{text:?} has {digits} digits after the point, so it is not a whole number of ppm \
             (parts per million, the unit of every percent): write at most 4, like \
             \"33.3333%\" (333333 ppm)"
        ),
        DecimalError::TooLarge => anyhow::anyhow!("{text:?} is too large"),
    })
}

/// Formats minor units as a decimal amount: 2550 with 2 decimals is `25.50`.
pub fn format_money(minor: u64, decimals: u32) -> String {
    format_amount(u128::from(minor), decimals)
}

/// Minutes as decimal hours for a spreadsheet, to the hundredth (rounded
/// half up), without trailing zeros: 90 → `1.5`, 100 → `1.67`, 120 → `2`.
pub fn format_hours(minutes: u64) -> String {
    let hundredths = (u128::from(minutes) * 100 + 30) / 60;
    let (whole, frac) = (hundredths / 100, hundredths % 100);
    match frac {
        0 => whole.to_string(),
        f if f % 10 == 0 => format!("{whole}.{}", f / 10),
        f => format!("{whole}.{f:02}"),
    }
}

/// A value in minor units as an amount in the currency (values can pass
/// u64 before the scoring limit is applied, so this takes u128).
pub fn format_amount(minor: u128, decimals: u32) -> String {
    if decimals == 0 {
        return minor.to_string();
    }
    let scale = 10u128.pow(decimals);
    format!(
        "{}.{:0width$}",
        minor / scale,
        minor % scale,
        width = decimals as usize
    )
}

/// Formats minutes as `1h30m`.
pub fn format_minutes(minutes: u64) -> String {
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m}m"),
        (h, 0) => format!("{h}h"),
        (h, m) => format!("{h}h{m}m"),
    }
}

/// Parses a point in time: RFC 3339 (`2026-11-03T10:00:00Z`, `...+01:00`) or
/// a date (`2026-11-03`, midnight UTC).
pub fn parse_time(text: &str) -> Result<i64> {
    let t = text.trim();
    let full = if t.len() == 10 {
        format!("{t}T00:00:00Z")
    } else {
        t.to_string()
    };
    parse_rfc3339(&full).map_err(|e| {
        anyhow::anyhow!("{text:?} is not a time ({e}); write 2026-11-03 or 2026-11-03T10:00:00Z")
    })
}

/// Formats Unix seconds as RFC 3339 UTC.
pub fn format_time(seconds: i64) -> String {
    format_rfc3339(seconds)
}

/// Parses a period: a calendar month in UTC (`2026-11`), or `START..END` with
/// two times or dates (half-open).
pub fn parse_period(text: &str) -> Result<(i64, i64)> {
    let t = text.trim();
    if let Some((a, b)) = t.split_once("..") {
        let (start, end) = (parse_time(a)?, parse_time(b)?);
        if start >= end {
            bail!("period {text:?}: the start must be before the end");
        }
        return Ok((start, end));
    }
    let bad = || {
        anyhow::anyhow!(
            "{text:?} is not a period; write a month like 2026-11 or a range like 2026-11-01..2026-12-01"
        )
    };
    let (y, m) = t.split_once('-').ok_or_else(bad)?;
    if y.len() != 4 || m.len() != 2 {
        return Err(bad());
    }
    let year: u32 = y.parse().map_err(|_| bad())?;
    let month: u32 = m.parse().map_err(|_| bad())?;
    if !(1..=12).contains(&month) {
        return Err(bad());
    }
    let (ny, nm) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    let start = parse_time(&format!("{year:04}-{month:02}-01"))?;
    let end = parse_time(&format!("{ny:04}-{nm:02}-01"))?;
    Ok((start, end))
}

/// The plural suffix for a count: `""` for 1, else `"s"`.
pub fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_people_type_them() {
        assert_eq!(parse_duration_minutes("1h30m").unwrap(), 90);
        assert_eq!(parse_duration_minutes("90m").unwrap(), 90);
        assert_eq!(parse_duration_minutes("2h").unwrap(), 120);
        assert_eq!(parse_duration_minutes("1.5h").unwrap(), 90);
        assert_eq!(parse_duration_minutes("1:05").unwrap(), 65);
        assert_eq!(parse_duration_minutes("45min").unwrap(), 45);
        for bad in ["", "45", "1.01h", "h", "1x", "1:75", "-1h"] {
            assert!(
                parse_duration_minutes(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn money_in_minor_units() {
        assert_eq!(parse_money("25.00", 2).unwrap(), 2500);
        assert_eq!(parse_money("25", 2).unwrap(), 2500);
        assert_eq!(parse_money("25.5", 2).unwrap(), 2550);
        assert_eq!(parse_money("1_000.01", 2).unwrap(), 100_001);
        assert_eq!(parse_money("7", 0).unwrap(), 7);
        for bad in ["25,50", "25.505", "abc", "", ".5", "5.", "-3", "+3", "1e3"] {
            assert!(parse_money(bad, 2).is_err(), "{bad:?} should be refused");
        }
        assert!(parse_money("99999999999999999999", 2).is_err());
        assert_eq!(format_money(2550, 2), "25.50");
        assert_eq!(format_money(5, 2), "0.05");
    }

    #[test]
    fn percents_in_whole_ppm() {
        assert_eq!(parse_percent("5%").unwrap(), 50_000);
        assert_eq!(parse_percent("5.5%").unwrap(), 55_000);
        assert_eq!(parse_percent(" 33.3333% ").unwrap(), 333_333);
        assert_eq!(parse_percent("100").unwrap(), 1_000_000);
        assert_eq!(parse_percent("0.0001%").unwrap(), 1);
        assert_eq!(parse_percent("120%").unwrap(), 1_200_000);
        for (bad, needle) in [
            ("33.33333%", "not a whole number of ppm"),
            ("-5%", "negative"),
            ("5,5%", "decimal point"),
            ("five%", "not a percent"),
            ("%", "not a percent"),
            ("5%%", "not a percent"),
        ] {
            let err = parse_percent(bad).unwrap_err().to_string();
            assert!(err.contains(needle), "{bad:?}: {err}");
        }
        assert_eq!(parse_decimal("12.345", 2), Err(DecimalError::TooPrecise(3)));
        assert_eq!(parse_decimal("-1", 2), Err(DecimalError::Negative));
    }

    #[test]
    fn months_are_utc_half_open_ranges() {
        let (s, e) = parse_period("2026-11").unwrap();
        assert_eq!(format_time(s), "2026-11-01T00:00:00Z");
        assert_eq!(format_time(e), "2026-12-01T00:00:00Z");
        let (_, e) = parse_period("2026-12").unwrap();
        assert_eq!(format_time(e), "2027-01-01T00:00:00Z");
        assert!(parse_period("2026-13").is_err());
        assert!(parse_period("2026-12-01..2026-11-01").is_err());
    }

    #[test]
    fn hours_read_as_people_write_them() {
        assert_eq!(format_hours(90), "1.5");
        assert_eq!(format_hours(100), "1.67");
        assert_eq!(format_hours(120), "2");
        assert_eq!(format_hours(1), "0.02");
        assert_eq!(format_hours(0), "0");
        assert_eq!(format_amount(123_456, 2), "1234.56");
        assert_eq!(format_amount(7, 0), "7");
    }
}
