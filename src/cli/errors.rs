//! The one place where a failed command becomes the message a person reads.
//!
//! Every command returns an `anyhow::Error` whose chain runs from what the
//! member asked for down to the root cause. Printed as is (`{:#}`), causes
//! repeat: a context that already quotes its cause's text, or an I/O error
//! whose message is its source's, print the same words twice. [`render`]
//! keeps each piece of text once, and writes every UTC time in it
//! (`2026-12-01T00:00:00Z`, as the server and the CLI spell times) in the
//! member's local offset, as RFC 3339 (`2026-12-01T01:00:00+01:00`), so a
//! refusal's times read as the member's clock reads.

/// The message for a failed command: the error chain, each piece once,
/// with times in the local offset.
pub fn render(e: &anyhow::Error) -> String {
    let mut kept: Vec<String> = Vec::new();
    for cause in e.chain() {
        let text = cause.to_string();
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        // A piece already said by the message so far adds nothing.
        if kept.iter().any(|k| k.contains(text)) {
            continue;
        }
        // A piece that repeats the previous one and adds to it replaces it.
        if let Some(last) = kept.last()
            && text.contains(last.as_str())
        {
            kept.pop();
        }
        kept.push(text.to_string());
    }
    local_times(&kept.join(": "))
}

/// `text` with every RFC 3339 UTC time (`YYYY-MM-DDTHH:MM:SSZ`) written in
/// the local time zone's offset instead (unchanged where the zone is UTC or
/// unknown).
pub fn local_times(text: &str) -> String {
    local_times_in(text, &jiff::tz::TimeZone::system())
}

/// [`local_times`] in the time zone `zone`.
fn local_times_in(text: &str, zone: &jiff::tz::TimeZone) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((before, time, after)) = next_utc_time(rest) {
        out.push_str(before);
        match time
            .parse::<jiff::Timestamp>()
            .map(|t| t.to_zoned(zone.clone()))
        {
            Ok(local) if local.offset() != jiff::tz::Offset::UTC => {
                out.push_str(&local.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string());
            }
            _ => out.push_str(time),
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The first `YYYY-MM-DDTHH:MM:SSZ` in `text`: what comes before it, it,
/// and what comes after.
fn next_utc_time(text: &str) -> Option<(&str, &str, &str)> {
    const SHAPE: &[u8] = b"dddd-dd-ddTdd:dd:ddZ";
    let bytes = text.as_bytes();
    (0..bytes.len().checked_sub(SHAPE.len() - 1)?).find_map(|start| {
        let window = bytes.get(start..start + SHAPE.len())?;
        let fits = window.iter().zip(SHAPE).all(|(b, s)| match s {
            b'd' => b.is_ascii_digit(),
            other => b == other,
        });
        // A time inside a longer number is not one.
        let starts_clean = start == 0 || !bytes[start - 1].is_ascii_digit();
        (fits && starts_clean).then(|| {
            (
                &text[..start],
                &text[start..start + SHAPE.len()],
                &text[start + SHAPE.len()..],
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_piece_of_the_chain_is_said_once() {
        let io = std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "No such file or directory (os error 2)",
        );
        let e = anyhow::Error::new(io)
            .context("keys/zed.key: No such file or directory (os error 2)")
            .context("no usable key for zed");
        assert_eq!(
            render(&e),
            "no usable key for zed: keys/zed.key: No such file or directory (os error 2)"
        );
        let e = anyhow::anyhow!("refused (NotFound): x").context("allocate");
        assert_eq!(render(&e), "allocate: refused (NotFound): x");
    }

    #[test]
    fn utc_times_are_written_in_the_local_offset() {
        let paris_in_winter = jiff::tz::TimeZone::fixed(jiff::tz::offset(1));
        assert_eq!(
            local_times_in(
                "at: 2027-01-01T00:00:00Z is in the future (the server's clock says 2026-11-26T12:00:00Z)",
                &paris_in_winter
            ),
            "at: 2027-01-01T01:00:00+01:00 is in the future (the server's clock says 2026-11-26T13:00:00+01:00)"
        );
        assert_eq!(
            local_times_in("at 2027-01-01T00:00:00Z", &jiff::tz::TimeZone::UTC),
            "at 2027-01-01T00:00:00Z"
        );
    }

    #[test]
    fn utc_times_are_found_exactly() {
        assert_eq!(
            next_utc_time("at 2027-01-01T00:00:00Z is late"),
            Some(("at ", "2027-01-01T00:00:00Z", " is late"))
        );
        assert_eq!(next_utc_time("2027-01-01T00:00:00+01:00"), None);
        assert_eq!(next_utc_time("12027-01-01T00:00:00Z"), None);
        assert_eq!(next_utc_time("short"), None);
    }
}
