//! X.509 times: UTCTime and GeneralizedTime, read leniently enough for any date a browser
//! accepts (including before 1970) and written as RFC 5280 requires.

use rustls::pki_types::UnixTime;

use super::tlv::{self, GENERALIZED_TIME, SEQUENCE, UTC_TIME};

/// Seconds since the Unix epoch, which may be negative.
pub(crate) type Seconds = i64;

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date for a count of days since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn digits(bytes: &[u8]) -> Option<i64> {
    bytes.iter().try_fold(0i64, |acc, b| {
        b.is_ascii_digit().then(|| acc * 10 + i64::from(b - b'0'))
    })
}

/// Parses a UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`) element.
pub(crate) fn parse(tag: u8, content: &[u8]) -> Option<Seconds> {
    let (year, rest) = match tag {
        UTC_TIME if content.len() == 13 => {
            let yy = digits(&content[..2])?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &content[2..])
        }
        GENERALIZED_TIME if content.len() == 15 => (digits(&content[..4])?, &content[4..]),
        _ => return None,
    };
    if rest[10] != b'Z' {
        return None;
    }
    let month = digits(&rest[0..2])?;
    let day = digits(&rest[2..4])?;
    let hour = digits(&rest[4..6])?;
    let minute = digits(&rest[6..8])?;
    let second = digits(&rest[8..10])?;
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

/// A time's calendar fields: the year, then month, day, hour, minute and second.
fn fields(t: Seconds) -> (i64, [i64; 5]) {
    let (y, mo, d) = civil_from_days(t.div_euclid(86_400));
    let secs = t.rem_euclid(86_400);
    (y, [mo, d, secs / 3600, secs / 60 % 60, secs % 60])
}

/// Encodes a time as RFC 5280 §4.1.2.5 requires: UTCTime through 2049, GeneralizedTime after
/// (and before 1950).
pub(crate) fn encode(t: Seconds) -> Vec<u8> {
    let (y, rest) = fields(t);
    if (1950..2050).contains(&y) {
        time_element(UTC_TIME, 2, y, rest)
    } else {
        generalized(y, rest)
    }
}

/// Encodes a time as a GeneralizedTime whatever the year (OCSP, RFC 6960, uses nothing else).
pub(crate) fn encode_generalized(t: Seconds) -> Vec<u8> {
    let (y, rest) = fields(t);
    generalized(y, rest)
}

fn generalized(y: i64, rest: [i64; 5]) -> Vec<u8> {
    if (0..=9999).contains(&y) {
        time_element(GENERALIZED_TIME, 4, y, rest)
    } else {
        // Not representable; written as is (certmint never asks for such a time).
        let [mo, d, h, mi, s] = rest;
        let text = format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}Z");
        tlv::tlv(GENERALIZED_TIME, text.as_bytes())
    }
}

/// `[YY]YYMMDDHHMMSSZ` as a `tag` element, the year in its last `year_digits` digits (a year in
/// 0..=9999); written without `format!`, as every mint writes two.
fn time_element(tag: u8, year_digits: usize, y: i64, rest: [i64; 5]) -> Vec<u8> {
    let mut text = [0u8; 15];
    let mut at = 0;
    let mut put = |value: i64, width: usize| {
        let mut v = value;
        for i in (0..width).rev() {
            text[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        at += width;
    };
    put(y, year_digits);
    for part in rest {
        put(part, 2);
    }
    text[at] = b'Z';
    tlv::tlv(tag, &text[..=at])
}

/// A Validity SEQUENCE.
pub(crate) fn encode_validity(not_before: Seconds, not_after: Seconds) -> Vec<u8> {
    let mut content = encode(not_before);
    content.extend(encode(not_after));
    tlv::tlv(SEQUENCE, &content)
}

/// Seconds as a [`UnixTime`]; times before 1970 become the epoch.
pub(crate) fn unix_time(t: Seconds) -> UnixTime {
    UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        u64::try_from(t).unwrap_or(0),
    ))
}

/// A [`UnixTime`] as seconds (saturating at `i64::MAX`).
pub(crate) fn seconds(t: UnixTime) -> Seconds {
    Seconds::try_from(t.as_secs()).unwrap_or(Seconds::MAX)
}

/// Whole seconds of a duration as [`Seconds`], saturating.
pub(crate) fn duration_secs(d: std::time::Duration) -> Seconds {
    Seconds::try_from(d.as_secs()).unwrap_or(Seconds::MAX)
}

/// `YYYY-MM-DDTHH:MM:SSZ`, for people.
pub(crate) fn rfc3339(t: Seconds) -> String {
    let (y, [mo, d, h, mi, s]) = fields(t);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_across_the_utc_generalized_boundary() {
        for t in [
            -631_152_000i64, // 1950-01-01
            -1,
            0,
            1_700_000_000,
            2_524_607_999,   // 2049-12-31T23:59:59Z
            2_524_608_000,   // 2050-01-01
            253_402_300_799, // 9999-12-31T23:59:59Z
        ] {
            let enc = encode(t);
            let parsed = tlv::single(&enc).unwrap();
            assert_eq!(parse(parsed.tag, parsed.content), Some(t), "{t}");
        }
        assert_eq!(encode(2_524_608_000)[0], GENERALIZED_TIME);
        assert_eq!(encode(2_524_607_999)[0], UTC_TIME);
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn times_are_written_digit_for_digit() {
        let text = |enc: Vec<u8>| String::from_utf8(tlv::single(&enc).unwrap().content.to_vec());
        assert_eq!(text(encode(1_700_000_000)).unwrap(), "231114221320Z");
        assert_eq!(text(encode(0)).unwrap(), "700101000000Z");
        assert_eq!(text(encode(2_524_608_000)).unwrap(), "20500101000000Z");
        assert_eq!(text(encode(-631_152_001)).unwrap(), "19491231235959Z");
        assert_eq!(
            text(encode_generalized(1_700_000_000)).unwrap(),
            "20231114221320Z"
        );
        assert_eq!(encode(1_700_000_000)[0], UTC_TIME);
        assert_eq!(encode(2_524_608_000)[0], GENERALIZED_TIME);
    }

    #[test]
    fn malformed_times_are_rejected() {
        assert_eq!(parse(UTC_TIME, b"2501011200Z"), None);
        assert_eq!(parse(UTC_TIME, b"251301120000Z"), None);
        assert_eq!(parse(UTC_TIME, b"250101120000+"), None);
        assert_eq!(parse(GENERALIZED_TIME, b"2025010112000aZ"), None);
        assert_eq!(parse(0x04, b"250101120000Z"), None);
    }
}
