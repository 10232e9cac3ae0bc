//! Time as Swift writes it: microseconds internally, `X-Timestamp` (seconds with five
//! decimals) and the ISO form of listings.

/// Microseconds since the epoch.
pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// Swift's `X-Timestamp` form: seconds and five decimals (also names archived versions).
pub fn x_timestamp(us: i64) -> String {
    format!("{}.{:05}", us / 1_000_000, (us % 1_000_000) / 10)
}

/// `YYYY-MM-DDTHH:MM:SS.ffffff` (UTC, no zone), as listings and SLO manifests show times.
pub fn iso_date(us: i64) -> String {
    // Days-from-civil inverse (Howard Hinnant), to avoid a date crate for one format.
    let secs = us.div_euclid(1_000_000);
    let micros = us.rem_euclid(1_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x_timestamp_has_five_decimals() {
        assert_eq!(x_timestamp(1_700_000_000_123_456), "1700000000.12345");
        assert_eq!(x_timestamp(1_000_000), "1.00000");
    }

    #[test]
    fn iso_date_matches_the_calendar() {
        assert_eq!(iso_date(0), "1970-01-01T00:00:00.000000");
        // 2000-02-29 12:34:56.789 UTC (a leap day in a century leap year).
        assert_eq!(iso_date(951_827_696_789_000), "2000-02-29T12:34:56.789000");
        // 2024-12-31 23:59:59 UTC.
        assert_eq!(
            iso_date(1_735_689_599_000_001),
            "2024-12-31T23:59:59.000001"
        );
        // Before the epoch.
        assert_eq!(iso_date(-1_000_000), "1969-12-31T23:59:59.000000");
    }
}
