//! The trending score: community upvotes decayed by age (Hacker News "gravity"), plus the
//! recent growth of the paper's GitHub stars where it is known.
//!
//! ```text
//! score = (upvotes + STAR_WEIGHT · ln(1 + recent_star_growth)) / (age_hours + 2) ^ GRAVITY
//! ```
//!
//! `age_hours` counts from the moment the paper was put on the daily list (or published, for
//! papers never submitted). The score is monotone in upvotes and in star growth and falls as
//! the paper ages; a paper with no upvotes and no star growth scores 0.

use chrono::{DateTime, Days, NaiveDate, Utc};

use crate::DateWindow;

/// How fast scores fall with age. Hacker News uses 1.8.
pub const GRAVITY: f64 = 1.8;
/// What one natural-log unit of recent star growth is worth, in upvotes.
pub const STAR_WEIGHT: f64 = 2.0;

/// What the score is computed from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrendingInput {
    /// Upvotes (source and local).
    pub upvotes: i64,
    /// GitHub stars gained over the last seven days, when known.
    pub recent_star_growth: Option<i64>,
    /// When the paper entered the list.
    pub since: DateTime<Utc>,
}

/// The trending score of a paper at time `now`.
pub fn trending_score(input: TrendingInput, now: DateTime<Utc>) -> f64 {
    let age_hours = ((now - input.since).num_seconds().max(0) as f64) / 3600.0;
    let votes = input.upvotes.max(0) as f64;
    let stars = input.recent_star_growth.unwrap_or(0).max(0) as f64;
    let points = votes + STAR_WEIGHT * stars.ln_1p();
    points / (age_hours + 2.0).powf(GRAVITY)
}

/// Days of the daily list the trending view ranks: the week ending with `latest`, the most
/// recent day that has papers. The trending page and the trending feed both list this window.
pub const TRENDING_DAYS: u64 = 7;

/// The window the trending view ranks when the latest day with papers is `latest`.
pub fn trending_window(latest: NaiveDate) -> DateWindow {
    let end = latest + Days::new(1);
    DateWindow::Range {
        start: end - Days::new(TRENDING_DAYS),
        end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use proptest::prelude::*;

    fn at(hours: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + Duration::hours(hours)
    }

    proptest! {
        #[test]
        fn more_votes_never_score_lower(votes in 0i64..100_000, more in 1i64..1000, age in 0i64..10_000, stars in proptest::option::of(0i64..100_000)) {
            let now = at(20_000);
            let a = trending_score(TrendingInput { upvotes: votes, recent_star_growth: stars, since: now - Duration::hours(age) }, now);
            let b = trending_score(TrendingInput { upvotes: votes + more, recent_star_growth: stars, since: now - Duration::hours(age) }, now);
            prop_assert!(b > a);
        }

        #[test]
        fn scores_decay_with_age(votes in 1i64..100_000, age in 0i64..10_000, later in 1i64..1000) {
            let since = at(0);
            let input = TrendingInput { upvotes: votes, recent_star_growth: None, since };
            prop_assert!(trending_score(input, at(age + later)) < trending_score(input, at(age)));
        }

        #[test]
        fn star_growth_raises_the_score(votes in 0i64..1000, stars in 1i64..100_000) {
            let now = at(100);
            let without = trending_score(TrendingInput { upvotes: votes, recent_star_growth: Some(0), since: at(90) }, now);
            let with = trending_score(TrendingInput { upvotes: votes, recent_star_growth: Some(stars), since: at(90) }, now);
            prop_assert!(with > without);
        }
    }

    #[test]
    fn nothing_scores_zero() {
        let s = trending_score(
            TrendingInput {
                upvotes: 0,
                recent_star_growth: None,
                since: at(0),
            },
            at(5),
        );
        assert_eq!(s, 0.0);
    }
}
