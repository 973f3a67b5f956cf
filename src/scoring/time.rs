//! RFC 3339 times in whole seconds, to and from Unix seconds.
//!
//! The scoring core takes times as Unix seconds (`i64`); scenario files and
//! reports write them as RFC 3339. The spec accepts only
//! `YYYY-MM-DDTHH:MM:SS` followed by `Z` or an explicit `±HH:MM` offset:
//! no fractional seconds, no leap second, no missing offset. Parsing by hand
//! keeps the core free of a clock or time-zone database, and the civil-date
//! arithmetic (Howard Hinnant's `days_from_civil`) is exact for every year.

/// The earliest time an RFC 3339 text can name: `0000-01-01T00:00:00Z`
/// (with the largest positive offset it is earlier still; see [`MIN_SECONDS`]).
pub const MIN_SECONDS: i64 = -62_167_219_200 - 24 * 3600;
/// The latest time an RFC 3339 text can name: `9999-12-31T23:59:59Z` plus the
/// largest negative offset.
pub const MAX_SECONDS: i64 = 253_402_300_799 + 24 * 3600;

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1..=12).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Reads `len` ASCII digits at `pos` as a number.
fn digits(bytes: &[u8], pos: usize, len: usize) -> Option<i64> {
    let slice = bytes.get(pos..pos + len)?;
    let mut n = 0i64;
    for &b in slice {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + i64::from(b - b'0');
    }
    Some(n)
}

/// Why a time was refused: the rule the text broke, for the caller to
/// attach to a field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadTime(pub String);

/// Parses an RFC 3339 time in whole seconds into Unix seconds.
pub fn parse_rfc3339(text: &str) -> Result<i64, BadTime> {
    const SHAPE: &str =
        "must be an RFC 3339 time in whole seconds with Z or an offset, like 2026-11-03T10:00:00Z";
    let bad = |why: &str| BadTime(format!("{SHAPE} ({why}, got {text:?})"));
    let b = text.as_bytes();
    if b.len() < 20 {
        return Err(bad("too short"));
    }
    let sep_ok = b[4] == b'-'
        && b[7] == b'-'
        && (b[10] == b'T' || b[10] == b't')
        && b[13] == b':'
        && b[16] == b':';
    let fields = (
        digits(b, 0, 4),
        digits(b, 5, 2),
        digits(b, 8, 2),
        digits(b, 11, 2),
        digits(b, 14, 2),
        digits(b, 17, 2),
    );
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = fields
    else {
        return Err(bad("malformed date or time"));
    };
    if !sep_ok {
        return Err(bad("malformed date or time"));
    }
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err(bad("no such date"));
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(bad("no such time of day; leap seconds are not accepted"));
    }
    let offset = match &b[19..] {
        [b'Z'] | [b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (Some(oh), Some(om)) = (digits(b, 20, 2), digits(b, 23, 2)) else {
                return Err(bad("malformed offset"));
            };
            if oh > 23 || om > 59 {
                return Err(bad("offset out of range"));
            }
            let sign = if *sign == b'+' { 1 } else { -1 };
            sign * (oh * 3600 + om * 60)
        }
        [b'.', ..] => return Err(bad("fractional seconds are not accepted")),
        _ => return Err(bad("missing or malformed offset")),
    };
    let local = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    Ok(local - offset)
}

/// Formats Unix seconds as RFC 3339 in UTC (`2026-11-03T10:00:00Z`), the way
/// reports and exported scenarios write times.
pub fn format_rfc3339(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let rest = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_utc_and_offsets() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_rfc3339("2026-11-01T00:00:00Z"), Ok(1_793_491_200));
        // 16:30 at +01:00 is 15:30 UTC.
        assert_eq!(
            parse_rfc3339("2026-10-28T16:30:00+01:00"),
            parse_rfc3339("2026-10-28T15:30:00Z")
        );
        assert_eq!(
            parse_rfc3339("2026-10-28T10:30:00-05:30"),
            parse_rfc3339("2026-10-28T16:00:00Z")
        );
        assert_eq!(parse_rfc3339("2024-02-29T12:00:00Z"), Ok(1_709_208_000));
    }

    #[test]
    fn refuses_what_rfc3339_in_whole_seconds_is_not() {
        for text in [
            "2026-11-01",
            "2026-11-01T00:00:00",
            "2026-11-01 00:00:00Z",
            "2026-11-01T00:00:00.5Z",
            "2026-11-01T00:00:00+0100",
            "2026-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-11-01T24:00:00Z",
            "2026-11-01T23:59:60Z",
            "2026-11-01T00:00:00+24:00",
            "2026-11-01T00:00:00Zjunk",
            "２026-11-01T00:00:00Z",
        ] {
            assert!(parse_rfc3339(text).is_err(), "{text} was accepted");
        }
    }

    #[test]
    fn formats_back_what_it_parses() {
        for text in [
            "0000-01-01T00:00:00Z",
            "1969-12-31T23:59:59Z",
            "2000-02-29T12:34:56Z",
            "9999-12-31T23:59:59Z",
        ] {
            let seconds = parse_rfc3339(text).unwrap();
            assert_eq!(format_rfc3339(seconds), text);
            assert!((MIN_SECONDS..=MAX_SECONDS).contains(&seconds));
        }
    }
}
