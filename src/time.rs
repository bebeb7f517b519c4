//! Event time: a millisecond timestamp, calendar helpers and local clocks.
//!
//! vigil never reads the wall clock on the event path; every window, day and
//! hour is derived from the events' own timestamps through these types.

use chrono::{DateTime, Datelike, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

/// Milliseconds in one second.
pub const SECOND_MS: i64 = 1_000;
/// Milliseconds in one hour.
pub const HOUR_MS: i64 = 3_600 * SECOND_MS;
/// Milliseconds in one day.
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// A point in event time, in milliseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Parses an RFC 3339 time such as `2026-12-03T02:14:05.123Z`.
    ///
    /// # Errors
    /// Returns chrono's parse error when the text is not RFC 3339.
    pub fn parse_rfc3339(text: &str) -> Result<Self, chrono::ParseError> {
        let parsed = DateTime::parse_from_rfc3339(text)?;
        Ok(Self(parsed.timestamp_millis()))
    }

    /// The same instant as a chrono UTC time.
    #[must_use]
    pub fn to_datetime(self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.0).unwrap_or_default()
    }

    /// RFC 3339 text in UTC, with milliseconds only when they are not zero.
    #[must_use]
    pub fn to_rfc3339(self) -> String {
        let format = if self.0.rem_euclid(SECOND_MS) == 0 {
            chrono::SecondsFormat::Secs
        } else {
            chrono::SecondsFormat::Millis
        };
        self.to_datetime().to_rfc3339_opts(format, true)
    }

    /// Whole seconds since the epoch (floored), the bucket of per-second rates.
    #[must_use]
    pub fn epoch_second(self) -> i64 {
        self.0.div_euclid(SECOND_MS)
    }

    /// This instant shifted by `ms` milliseconds.
    #[must_use]
    pub fn plus_ms(self, ms: i64) -> Self {
        Self(self.0.saturating_add(ms))
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(value: DateTime<Utc>) -> Self {
        Self(value.timestamp_millis())
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse_rfc3339(&text).map_err(serde::de::Error::custom)
    }
}

/// Calendar position of an instant in some local time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LocalTime {
    /// Days since 1970-01-01 in local time.
    pub day: i32,
    /// Hour of the day, 0–23.
    pub hour: u8,
    /// Day of the week, Monday = 0.
    pub weekday: u8,
}

impl LocalTime {
    /// Index into a 168-slot hour-of-week table (Monday 00:00 is slot 0).
    #[must_use]
    pub fn hour_of_week(self) -> usize {
        usize::from(self.weekday) * 24 + usize::from(self.hour)
    }
}

/// Maps event time to a local calendar: a fixed offset or a named IANA zone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LocalClock {
    /// A constant offset east of UTC, in seconds (UTC is 0).
    Fixed(i32),
    /// An IANA zone whose offset follows daylight saving rules.
    Zone(Tz),
}

impl LocalClock {
    /// The UTC clock.
    pub const UTC: Self = Self::Fixed(0);

    /// Resolves a zone name: `UTC`, an IANA name such as `Europe/Berlin`, or
    /// a fixed offset such as `+05:30`.
    ///
    /// # Errors
    /// Returns a message when the name is neither a known zone nor an offset.
    pub fn from_name(name: &str) -> Result<Self, String> {
        if name.eq_ignore_ascii_case("utc") || name == "Z" {
            return Ok(Self::UTC);
        }
        if let Some(offset) = parse_fixed_offset(name) {
            return Ok(Self::Fixed(offset));
        }
        name.parse::<Tz>()
            .map(Self::Zone)
            .map_err(|_| format!("unknown time zone {name:?} (use an IANA name such as Europe/Berlin or an offset such as +05:30)"))
    }

    /// The local calendar position of `at`.
    #[must_use]
    pub fn local(self, at: Timestamp) -> LocalTime {
        let offset_secs = match self {
            Self::Fixed(secs) => secs,
            Self::Zone(tz) => zone_offset_secs(tz, at),
        };
        local_from_offset(at, offset_secs)
    }
}

fn zone_offset_secs(tz: Tz, at: Timestamp) -> i32 {
    let utc: NaiveDateTime = at.to_datetime().naive_utc();
    tz.offset_from_utc_datetime(&utc).fix().local_minus_utc()
}

fn local_from_offset(at: Timestamp, offset_secs: i32) -> LocalTime {
    let local_ms = at.0 + i64::from(offset_secs) * SECOND_MS;
    let day = local_ms.div_euclid(DAY_MS);
    let ms_of_day = local_ms.rem_euclid(DAY_MS);
    let day = i32::try_from(day).unwrap_or(i32::MAX);
    LocalTime {
        day,
        hour: u8::try_from(ms_of_day / HOUR_MS).unwrap_or(0),
        weekday: weekday_of(day),
    }
}

/// The Monday-based weekday (Monday is 0) of a day counted from 1970-01-01.
#[must_use]
pub fn weekday_of(day: i32) -> u8 {
    // 1970-01-01 was a Thursday: Monday-based weekday 3.
    u8::try_from((i64::from(day) + 3).rem_euclid(7)).unwrap_or(0)
}

fn parse_fixed_offset(name: &str) -> Option<i32> {
    let offset = DateTime::parse_from_rfc3339(&format!("2000-01-01T00:00:00{name}")).ok()?;
    Some(offset.offset().local_minus_utc())
}

/// Calendar date (UTC) of a timestamp as `YYYYMMDD`, used in incident ids.
#[must_use]
pub fn utc_date_compact(at: Timestamp) -> String {
    let dt = at.to_datetime();
    format!("{:04}{:02}{:02}", dt.year(), dt.month(), dt.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_rfc3339_round_trip() {
        let at = Timestamp::parse_rfc3339("2026-12-03T02:14:05.123Z").unwrap();
        assert_eq!(at.to_rfc3339(), "2026-12-03T02:14:05.123Z");
        let whole = Timestamp::parse_rfc3339("2026-12-03T03:14:05+01:00").unwrap();
        assert_eq!(whole.to_rfc3339(), "2026-12-03T02:14:05Z");
    }

    #[test]
    fn local_time_follows_fixed_offsets_and_weekdays() {
        // 2026-12-03 is a Thursday.
        let at = Timestamp::parse_rfc3339("2026-12-03T23:30:00Z").unwrap();
        let utc = LocalClock::UTC.local(at);
        assert_eq!((utc.hour, utc.weekday), (23, 3));
        let tokyo = LocalClock::from_name("+09:00").unwrap().local(at);
        assert_eq!((tokyo.hour, tokyo.weekday, tokyo.day), (8, 4, utc.day + 1));
    }

    #[test]
    fn named_zones_apply_daylight_saving() {
        let clock = LocalClock::from_name("Europe/Berlin").unwrap();
        let winter = Timestamp::parse_rfc3339("2026-01-15T12:00:00Z").unwrap();
        let summer = Timestamp::parse_rfc3339("2026-07-15T12:00:00Z").unwrap();
        assert_eq!(clock.local(winter).hour, 13);
        assert_eq!(clock.local(summer).hour, 14);
    }

    #[test]
    fn unknown_zone_names_are_errors() {
        assert!(LocalClock::from_name("Mars/Olympus").is_err());
    }
}
