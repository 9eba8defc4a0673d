//! Millisecond UTC timestamps, written as RFC 3339 (`2026-01-01T09:30:00.000Z`).
//!
//! Kept dependency-free: the civil-date conversions are Howard Hinnant's
//! `days_from_civil` / `civil_from_days` algorithms
//! (<https://howardhinnant.github.io/date_algorithms.html>).

use std::fmt;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// Milliseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl Timestamp {
    /// The system clock now, in milliseconds since the epoch (0 before it).
    pub fn now() -> Self {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        Timestamp(ms)
    }

    /// From a calendar date at midnight UTC.
    pub fn from_ymd(y: i64, m: u32, d: u32) -> Self {
        Timestamp(days_from_civil(y, m, d) * DAY_MS)
    }

    /// Whole days since the epoch (floor).
    pub fn day(self) -> i64 {
        self.0.div_euclid(DAY_MS)
    }

    /// Parses RFC 3339 (`2026-01-01T09:30:00Z`, fractional seconds and
    /// `±hh:mm` offsets allowed; a space may replace `T`), and the ISO 8601
    /// offsets `±hhmm` and `±hh` that Java-based tools write
    /// (`2025-01-24T07:31:30.699+0000`).
    pub fn parse_rfc3339(s: &str) -> Result<Self, String> {
        let err = || format!("`{s}` is not an RFC 3339 timestamp (e.g. 2026-01-01T09:30:00Z)");
        let b = s.trim().as_bytes();
        if b.len() < 19
            || b[4] != b'-'
            || b[7] != b'-'
            || !(b[10] == b'T' || b[10] == b't' || b[10] == b' ')
            || b[13] != b':'
            || b[16] != b':'
        {
            return Err(err());
        }
        let num = |r: std::ops::Range<usize>| -> Result<i64, String> {
            let part = std::str::from_utf8(&b[r]).map_err(|_| err())?;
            if !part.bytes().all(|c| c.is_ascii_digit()) {
                return Err(err());
            }
            part.parse::<i64>().map_err(|_| err())
        };
        let (y, mo, d, h, mi, sec) = (
            num(0..4)?,
            num(5..7)?,
            num(8..10)?,
            num(11..13)?,
            num(14..16)?,
            num(17..19)?,
        );
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
            return Err(err());
        }
        let mut i = 19;
        let mut millis = 0i64;
        if i < b.len() && b[i] == b'.' {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i == start {
                return Err(err());
            }
            let frac = &b[start..i.min(start + 3)];
            for (k, c) in frac.iter().enumerate() {
                millis += i64::from(c - b'0') * [100, 10, 1][k];
            }
        }
        let offset_min = match b.get(i) {
            None => 0, // no zone: read as UTC
            Some(b'Z') | Some(b'z') if i + 1 == b.len() => 0,
            // `+hh:mm` (RFC 3339), `+hhmm` (ISO 8601 basic, as Java's and
            // OpenSearch's formatters write) or `+hh`.
            Some(&sign @ (b'+' | b'-')) => {
                let rest = b.len() - i - 1;
                let (oh, om) = match rest {
                    5 if b[i + 3] == b':' => (num(i + 1..i + 3)?, num(i + 4..i + 6)?),
                    4 => (num(i + 1..i + 3)?, num(i + 3..i + 5)?),
                    2 => (num(i + 1..i + 3)?, 0),
                    _ => return Err(err()),
                };
                if oh > 23 || om > 59 {
                    return Err(err());
                }
                let m = oh * 60 + om;
                if sign == b'-' {
                    -m
                } else {
                    m
                }
            }
            _ => return Err(err()),
        };
        let days = days_from_civil(y, mo as u32, d as u32);
        let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_min * 60;
        Ok(Timestamp(secs * 1000 + millis))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(DAY_MS);
        let ms = self.0.rem_euclid(DAY_MS);
        let (y, m, d) = civil_from_days(days);
        let (h, rest) = (ms / 3_600_000, ms % 3_600_000);
        let (mi, rest) = (rest / 60_000, rest % 60_000);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{:02}.{:03}Z",
            rest / 1000,
            rest % 1000
        )
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 timestamp string or integer milliseconds since the epoch")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
                // Epoch milliseconds written as a string ("1717527762025").
                let digits = v.strip_prefix('-').unwrap_or(v);
                if !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()) {
                    return v
                        .parse::<i64>()
                        .map(Timestamp)
                        .map_err(|_| E::custom("timestamp out of range"));
                }
                Timestamp::parse_rfc3339(v).map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Timestamp, E> {
                if v.is_finite() && v.fract() == 0.0 && v.abs() < 9.0e15 {
                    Ok(Timestamp(v as i64))
                } else {
                    Err(E::custom(format!(
                        "{v} is not a whole number of milliseconds since the epoch"
                    )))
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Timestamp, E> {
                Ok(Timestamp(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Timestamp, E> {
                i64::try_from(v)
                    .map(Timestamp)
                    .map_err(|_| E::custom("timestamp out of range"))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_known_values() {
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00.000Z");
        let t = Timestamp::parse_rfc3339("2026-11-22T20:46:52.123Z").unwrap();
        assert_eq!(t.to_string(), "2026-11-22T20:46:52.123Z");
        assert_eq!(Timestamp::parse_rfc3339(&t.to_string()).unwrap(), t);
        assert_eq!(Timestamp::from_ymd(2000, 3, 1).0, 951_868_800_000);
        let off = Timestamp::parse_rfc3339("2026-01-01T01:00:00+01:00").unwrap();
        assert_eq!(off, Timestamp::from_ymd(2026, 1, 1));
        for same in [
            "2025-01-24T07:31:30.699Z",
            "2025-01-24T07:31:30.699+00:00",
            "2025-01-24T07:31:30.699+0000",
            "2025-01-24T07:31:30.699+00",
            "2025-01-24T09:31:30.699+0200",
            "2025-01-24T02:01:30.699-0530",
        ] {
            assert_eq!(
                Timestamp::parse_rfc3339(same).unwrap().to_string(),
                "2025-01-24T07:31:30.699Z",
                "{same}"
            );
        }
        assert_eq!(Timestamp(-1).to_string(), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "2026-13-01T00:00:00Z",
            "2026-01-01",
            "yesterday",
            "2026-01-01T00:00:00Q",
            "2026-01-01T00:00:00+2400",
            "2026-01-01T00:00:00+01:0",
            "2026-01-01T00:00:00+1",
        ] {
            assert!(Timestamp::parse_rfc3339(bad).is_err(), "{bad}");
        }
    }
}
