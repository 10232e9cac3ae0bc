//! Time in the formats OpenStack APIs use.

use chrono::{DateTime, SecondsFormat, Utc};

/// Now, truncated to microseconds (what the SQL columns store).
pub fn now() -> DateTime<Utc> {
    micros_to_time(Utc::now().timestamp_micros())
}

/// `2026-11-25T15:21:42.000000Z`: Keystone's token expiry format.
pub fn iso_micros(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// `2026-11-25T15:21:42Z`: the seconds-precision form most services render.
pub fn iso_seconds(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Timestamps are stored as microseconds since the epoch in a BIGINT column (portable across
/// SQLite, MariaDB and PostgreSQL).
pub fn micros_to_time(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or(DateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let t = micros_to_time(1_764_084_102_123_456);
        assert_eq!(iso_micros(t), "2025-11-25T15:21:42.123456Z");
        assert_eq!(iso_seconds(t), "2025-11-25T15:21:42Z");
    }
}
