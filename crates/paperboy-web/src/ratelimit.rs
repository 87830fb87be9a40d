//! Rate limits on sign-in, sign-up, submissions, comments, votes and digest subscriptions: a
//! fixed window per (action, client) kept in memory. Exceeding it is a 429 with `Retry-After`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::AppError;

/// What is limited, with its budget per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Sign-in attempts.
    SignIn,
    /// Accounts created.
    SignUp,
    /// Papers submitted.
    Submit,
    /// Comments written.
    Comment,
    /// Upvotes and un-votes.
    Vote,
    /// Subscription requests from one client (each may mail a confirmation).
    Subscribe,
    /// Subscription requests naming one address, from anywhere: what keeps a form from being
    /// used to flood somebody's inbox with confirmations.
    SubscribeAddress,
    /// Password reset emails asked for.
    PasswordReset,
    /// Account and organization changes (settings, new organizations, claims, joins).
    Account,
}

impl Action {
    fn budget(self) -> (u32, Duration) {
        match self {
            Self::SignIn => (10, Duration::from_secs(60)),
            Self::SignUp => (5, Duration::from_secs(3600)),
            Self::Submit => (20, Duration::from_secs(3600)),
            Self::Comment => (10, Duration::from_secs(60)),
            Self::Vote => (60, Duration::from_secs(60)),
            Self::Subscribe => (10, Duration::from_secs(3600)),
            Self::SubscribeAddress => (3, Duration::from_secs(3600)),
            Self::PasswordReset => (5, Duration::from_secs(3600)),
            Self::Account => (30, Duration::from_secs(600)),
        }
    }
}

/// Who is limited: a signed-in account, or else the client's address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Client {
    /// An account.
    User(i64),
    /// An address.
    Ip(IpAddr),
    /// An email address (its lowercased key), for limits on what is sent to it.
    Email(String),
}

/// The limiter.
#[derive(Debug, Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<(Action, Client), (Instant, u32)>>,
}

impl RateLimiter {
    /// Counts one `action` by `client`; an error carries how long to wait.
    pub fn check(&self, action: Action, client: Client) -> Result<(), AppError> {
        let (limit, window) = action.budget();
        let now = Instant::now();
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if windows.len() > 100_000 {
            windows.retain(|_, (start, _)| now.duration_since(*start) < Duration::from_secs(3600));
        }
        let entry = windows.entry((action, client)).or_insert((now, 0));
        if now.duration_since(entry.0) >= window {
            *entry = (now, 0);
        }
        if entry.1 >= limit {
            let wait = window.saturating_sub(now.duration_since(entry.0));
            return Err(AppError::TooManyRequests {
                retry_after: wait.as_secs().max(1),
            });
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_runs_out_and_says_when_to_retry() {
        let limiter = RateLimiter::default();
        let client = Client::Ip("127.0.0.1".parse().expect("ip"));
        for _ in 0..10 {
            limiter
                .check(Action::SignIn, client.clone())
                .expect("within budget");
        }
        match limiter.check(Action::SignIn, client.clone()) {
            Err(AppError::TooManyRequests { retry_after }) => {
                assert!((1..=60).contains(&retry_after))
            }
            other => panic!("expected 429, got {other:?}"),
        }
        limiter
            .check(Action::SignIn, Client::User(1))
            .expect("others are not affected");
        limiter
            .check(Action::Vote, client)
            .expect("other actions are not affected");
    }
}
