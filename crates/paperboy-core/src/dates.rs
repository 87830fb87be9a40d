//! Date windows of the daily feed — a day (`2025-10-29`), an ISO week (`2025-W44`) or a month
//! (`2025-10`) — and the timestamp format huggingface.co's client reads.

use std::fmt;

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, Utc, Weekday};

/// Why a date, week or month parameter was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    /// Not a calendar date in `YYYY-MM-DD` form.
    #[error("`{0}` is not a date: expected YYYY-MM-DD, like 2025-10-29")]
    Day(String),
    /// Not an ISO week in `YYYY-Www` form.
    #[error("`{0}` is not an ISO week: expected YYYY-Www, like 2025-W44")]
    Week(String),
    /// Not a month in `YYYY-MM` form.
    #[error("`{0}` is not a month: expected YYYY-MM, like 2025-10")]
    Month(String),
}

fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

/// An ISO 8601 week (weeks start on Monday; week 1 holds the year's first Thursday).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IsoWeek {
    year: i32,
    week: u32,
}

impl IsoWeek {
    /// Parses `2025-W44` (also `2025-w44`).
    pub fn parse(s: &str) -> Result<Self, DateError> {
        let err = || DateError::Week(clip(s));
        let (year, week) = s.split_once(['W', 'w']).ok_or_else(err)?;
        let year = year.strip_suffix('-').ok_or_else(err)?;
        if year.len() != 4 || week.len() != 2 || !is_digits(year) || !is_digits(week) {
            return Err(err());
        }
        let year: i32 = year.parse().map_err(|_| err())?;
        let week: u32 = week.parse().map_err(|_| err())?;
        NaiveDate::from_isoywd_opt(year, week, Weekday::Mon).ok_or_else(err)?;
        Ok(Self { year, week })
    }

    /// The week that holds `date`.
    pub fn of(date: NaiveDate) -> Self {
        let w = date.iso_week();
        Self {
            year: w.year(),
            week: w.week(),
        }
    }

    /// The Monday that starts the week.
    pub fn monday(self) -> NaiveDate {
        NaiveDate::from_isoywd_opt(self.year, self.week, Weekday::Mon).unwrap_or(NaiveDate::MIN)
    }
}

impl fmt::Display for IsoWeek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-W{:02}", self.year, self.week)
    }
}

/// A calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct YearMonth {
    year: i32,
    month: u32,
}

impl YearMonth {
    /// Parses `2025-10`.
    pub fn parse(s: &str) -> Result<Self, DateError> {
        let err = || DateError::Month(clip(s));
        let (year, month) = s.split_once('-').ok_or_else(err)?;
        if year.len() != 4 || month.len() != 2 || !is_digits(year) || !is_digits(month) {
            return Err(err());
        }
        let year: i32 = year.parse().map_err(|_| err())?;
        let month: u32 = month.parse().map_err(|_| err())?;
        NaiveDate::from_ymd_opt(year, month, 1).ok_or_else(err)?;
        Ok(Self { year, month })
    }

    /// The month that holds `date`.
    pub fn of(date: NaiveDate) -> Self {
        Self {
            year: date.year(),
            month: date.month(),
        }
    }

    /// The first day of the month.
    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or(NaiveDate::MIN)
    }
}

impl fmt::Display for YearMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Parses a calendar day in `YYYY-MM-DD` form, strictly (no times, no two-digit years).
pub fn parse_day(s: &str) -> Result<NaiveDate, DateError> {
    let err = || DateError::Day(clip(s));
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(err());
    }
    if !is_digits(&s[..4]) || !is_digits(&s[5..7]) || !is_digits(&s[8..]) {
        return Err(err());
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| err())
}

/// A window of feed dates: one day, one ISO week or one month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DateWindow {
    /// One day.
    Day(NaiveDate),
    /// Monday to Sunday of an ISO week.
    Week(IsoWeek),
    /// A calendar month.
    Month(YearMonth),
    /// Any run of days: `start` up to, not including, `end` (e.g. "the last seven days").
    Range {
        /// First day.
        start: NaiveDate,
        /// First day after the range.
        end: NaiveDate,
    },
}

impl DateWindow {
    /// The first day in the window.
    pub fn start(self) -> NaiveDate {
        match self {
            Self::Day(d) => d,
            Self::Week(w) => w.monday(),
            Self::Month(m) => m.first_day(),
            Self::Range { start, .. } => start,
        }
    }

    /// The first day after the window.
    pub fn end_exclusive(self) -> NaiveDate {
        let start = self.start();
        match self {
            Self::Day(_) => start + Days::new(1),
            Self::Week(_) => start + Days::new(7),
            Self::Month(_) => start + Months::new(1),
            Self::Range { end, .. } => end.max(start),
        }
    }

    /// Whether `date` falls inside the window.
    pub fn contains(self, date: NaiveDate) -> bool {
        self.start() <= date && date < self.end_exclusive()
    }

    /// The window of the same kind just before this one.
    pub fn previous(self) -> Self {
        match self {
            Self::Day(d) => Self::Day(d - Days::new(1)),
            Self::Week(w) => Self::Week(IsoWeek::of(w.monday() - Days::new(7))),
            Self::Month(m) => Self::Month(YearMonth::of(m.first_day() - Months::new(1))),
            Self::Range { start, end } => Self::Range {
                start: start - (end - start),
                end: start,
            },
        }
    }

    /// The window of the same kind just after this one.
    pub fn next(self) -> Self {
        match self {
            Self::Day(d) => Self::Day(d + Days::new(1)),
            Self::Week(_) => Self::Week(IsoWeek::of(self.end_exclusive())),
            Self::Month(_) => Self::Month(YearMonth::of(self.end_exclusive())),
            Self::Range { start, end } => Self::Range {
                start: end,
                end: end + (end - start),
            },
        }
    }
}

impl fmt::Display for DateWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Day(d) => write!(f, "{}", d.format("%Y-%m-%d")),
            Self::Week(w) => w.fmt(f),
            Self::Month(m) => m.fmt(f),
            Self::Range { start, end } => {
                write!(
                    f,
                    "{}..{}",
                    start.format("%Y-%m-%d"),
                    end.format("%Y-%m-%d")
                )
            }
        }
    }
}

/// Formats a timestamp the way huggingface.co does and its Python client requires:
/// `2025-10-29T13:58:51.000Z` (milliseconds, a literal `Z`).
pub fn format_hf_timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn day(s: &str) -> NaiveDate {
        parse_day(s).expect("valid day")
    }

    #[test]
    fn days_weeks_and_months_parse_strictly() {
        assert_eq!(day("2025-10-29").to_string(), "2025-10-29");
        for bad in [
            "2025-13-40",
            "2025-02-30",
            "25-10-29",
            "2025-1-29",
            "2025-10-29T00:00",
            "",
        ] {
            assert!(matches!(parse_day(bad), Err(DateError::Day(_))), "{bad}");
        }
        assert_eq!(
            IsoWeek::parse("2025-W44").expect("week").to_string(),
            "2025-W44"
        );
        for bad in ["2025-W54", "2025-W00", "2025W44", "2025-44", "2025-W4"] {
            assert!(IsoWeek::parse(bad).is_err(), "{bad}");
        }
        assert!(IsoWeek::parse("2020-W53").is_ok());
        assert_eq!(
            YearMonth::parse("2025-10").expect("month").to_string(),
            "2025-10"
        );
        for bad in ["2025-13", "2025-1", "202510", "2025-00"] {
            assert!(YearMonth::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_iso_week_runs_monday_to_sunday() {
        let w = DateWindow::Week(IsoWeek::parse("2025-W01").expect("week"));
        assert_eq!(w.start(), day("2024-12-30"));
        assert_eq!(w.end_exclusive(), day("2025-01-06"));
        assert!(w.contains(day("2025-01-05")));
        assert!(!w.contains(day("2025-01-06")));
        assert_eq!(w.next().to_string(), "2025-W02");
        assert_eq!(w.previous().to_string(), "2024-W52");
    }

    #[test]
    fn a_month_window_covers_the_whole_month() {
        let m = DateWindow::Month(YearMonth::parse("2024-02").expect("month"));
        assert_eq!(m.end_exclusive(), day("2024-03-01"));
        assert!(m.contains(day("2024-02-29")));
        assert_eq!(m.previous().to_string(), "2024-01");
        assert_eq!(m.next().to_string(), "2024-03");
    }

    #[test]
    fn a_range_covers_its_days_and_steps_by_its_length() {
        let r = DateWindow::Range {
            start: day("2025-10-23"),
            end: day("2025-10-30"),
        };
        assert!(r.contains(day("2025-10-29")) && !r.contains(day("2025-10-30")));
        assert_eq!(r.previous().start(), day("2025-10-16"));
        assert_eq!(r.next().end_exclusive(), day("2025-11-06"));
    }

    #[test]
    fn hf_timestamps_have_milliseconds_and_a_literal_z() {
        let t = DateTime::parse_from_rfc3339("2025-10-29T13:58:51+00:00")
            .expect("rfc3339")
            .with_timezone(&Utc);
        assert_eq!(format_hf_timestamp(t), "2025-10-29T13:58:51.000Z");
    }

    proptest! {
        #[test]
        fn every_day_is_in_its_own_week_and_month(days in 0i64..60_000) {
            let d = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch") + chrono::Duration::days(days);
            let week = DateWindow::Week(IsoWeek::of(d));
            let month = DateWindow::Month(YearMonth::of(d));
            prop_assert!(week.contains(d));
            prop_assert!(month.contains(d));
            prop_assert_eq!(IsoWeek::parse(&week.to_string()).map(DateWindow::Week), Ok(week));
            prop_assert_eq!(YearMonth::parse(&month.to_string()).map(DateWindow::Month), Ok(month));
            prop_assert_eq!(parse_day(&DateWindow::Day(d).to_string()), Ok(d));
            prop_assert_eq!(week.next().previous(), week);
        }

        #[test]
        fn parsers_never_panic(s in "\\PC{0,16}") {
            let _ = parse_day(&s);
            let _ = IsoWeek::parse(&s);
            let _ = YearMonth::parse(&s);
        }
    }
}
