//! When editions are built: daily editions on weekdays and the weekly edition on its weekday,
//! at the instance's send time in its time zone. [`spawn_digest_jobs`] runs the scheduler and
//! the outbox worker in the background of `paperboy serve`.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use paperboy_store::{Cadence, EditionBuilt, NewEdition, Store};
use tokio::task::JoinHandle;

use crate::digest::{EDITION_PAPERS, select_papers};
use crate::{MailResult, Mailer, SendTime, SharedRecommender, SiteSettings, Worker, WorkerOptions};

/// Picks an edition's papers and builds it: stores it and enqueues one message per confirmed
/// subscriber of its cadence, in one transaction. Building again enqueues only subscribers
/// confirmed since.
pub async fn build_edition(
    store: &dyn Store,
    cadence: Cadence,
    date: NaiveDate,
) -> MailResult<EditionBuilt> {
    let paper_ids = select_papers(store, cadence, date, EDITION_PAPERS).await?;
    Ok(store
        .build_edition(
            &NewEdition {
                cadence,
                date,
                paper_ids,
            },
            Utc::now(),
        )
        .await?)
}

/// Editions due at `now` under `send`: for each cadence whose send moment has come today (in
/// the instance's time zone), the local date of today. Daily editions are due on weekdays only.
pub fn due_today(now: DateTime<Utc>, send: &SendTime) -> Vec<(Cadence, NaiveDate)> {
    let local = now.with_timezone(&send.time_zone);
    let today = local.date_naive();
    if local.time() < send.at {
        return Vec::new();
    }
    let mut due = Vec::new();
    if !matches!(today.weekday(), Weekday::Sat | Weekday::Sun) {
        due.push((Cadence::Daily, today));
    }
    if today.weekday() == send.weekly_on {
        due.push((Cadence::Weekly, today));
    }
    due
}

/// Settings of the background jobs.
#[derive(Clone)]
pub struct ScheduleSettings {
    /// When editions are built; `None` builds none (the worker still sends what is queued).
    pub send: Option<SendTime>,
    /// How the worker paces itself.
    pub worker: WorkerOptions,
    /// The "for you" recommendations, when the search engine provides them.
    pub recommender: Option<SharedRecommender>,
}

/// Builds the editions due at `now` that were not built yet today. A daily edition covers the
/// most recent feed day before today; the weekly one the week before. Returns what was built.
pub async fn build_due(
    store: &dyn Store,
    send: &SendTime,
    now: DateTime<Utc>,
) -> MailResult<Vec<EditionBuilt>> {
    let mut built = Vec::new();
    for (cadence, today) in due_today(now, send) {
        let key = format!("digest.{cadence}.last_run");
        let stamp = today.format("%Y-%m-%d").to_string();
        if store.get_state(&key).await?.as_deref() == Some(stamp.as_str()) {
            continue;
        }
        let date = match cadence {
            Cadence::Daily => store.neighbour_feed_dates(today).await?.0,
            Cadence::Weekly => today.checked_sub_days(chrono::Days::new(7)),
        };
        if let Some(date) = date {
            let b = build_edition(store, cadence, date).await?;
            if b.edition.paper_ids.is_empty() {
                tracing::info!(%cadence, %date, "edition has no papers");
            }
            tracing::info!(%cadence, %date, enqueued = b.enqueued, "digest edition built");
            built.push(b);
        }
        store.set_state(&key, &stamp).await?;
    }
    Ok(built)
}

/// Spawns the digest jobs of `paperboy serve`: the scheduler (every minute, builds the editions
/// that are due) and the outbox worker. They run until the runtime shuts down.
pub fn spawn_digest_jobs(
    store: Arc<dyn Store>,
    site: SiteSettings,
    mailer: Mailer,
    settings: ScheduleSettings,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let worker = Worker::new(store.clone(), site, mailer, settings.worker)
            .with_recommender(settings.recommender);
        let scheduler = async {
            let Some(send) = settings.send else {
                return std::future::pending::<()>().await;
            };
            loop {
                if let Err(e) = build_due(&*store, &send, Utc::now()).await {
                    tracing::warn!(error = %e, "building the digest edition failed; will try again");
                }
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
        };
        tokio::join!(worker.run(std::future::pending()), scheduler);
    })
}

#[cfg(test)]
mod tests {
    use chrono::NaiveTime;

    use super::*;

    fn send() -> SendTime {
        SendTime {
            time_zone: chrono_tz::Europe::Paris,
            at: NaiveTime::from_hms_opt(8, 0, 0).expect("time"),
            weekly_on: Weekday::Mon,
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn daily_editions_are_due_on_weekdays_after_the_local_send_time() {
        // 06:30 UTC is 07:30 in Paris in winter: not yet.
        assert!(due_today(utc("2025-11-05T06:30:00Z"), &send()).is_empty());
        let d = NaiveDate::from_ymd_opt(2025, 11, 5).expect("date");
        assert_eq!(
            due_today(utc("2025-11-05T07:00:00Z"), &send()),
            [(Cadence::Daily, d)]
        );
        assert!(
            due_today(utc("2025-11-08T12:00:00Z"), &send()).is_empty(),
            "Saturday"
        );
    }

    #[test]
    fn the_weekly_edition_is_due_on_its_weekday() {
        let monday = NaiveDate::from_ymd_opt(2025, 11, 3).expect("date");
        assert_eq!(
            due_today(utc("2025-11-03T09:00:00Z"), &send()),
            [(Cadence::Daily, monday), (Cadence::Weekly, monday)]
        );
    }
}
