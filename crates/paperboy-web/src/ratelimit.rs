//! Rate limits on sign-in, sign-up, submissions, comments, votes, digest subscriptions and API
//! writes: a fixed window per (action, client) kept in memory (windows an hour old are dropped
//! once there are many). Exceeding it is a 429 with `Retry-After`.

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
    /// Password reset requests naming one address, from anywhere: past the budget, no more
    /// reset mail goes to that address this hour (the answer stays the same).
    PasswordResetAddress,
    /// Sign-ups naming one address, from anywhere: past the budget, no more sign-up mail
    /// goes to that address this hour (the answer stays the same).
    SignUpAddress,
    /// Account and organization changes (settings, new organizations, claims, joins).
    Account,
    /// Papers indexed through the API with a personal token.
    ApiWrite,
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
            Self::PasswordResetAddress | Self::SignUpAddress => (3, Duration::from_secs(3600)),
            Self::Account => (30, Duration::from_secs(600)),
            Self::ApiWrite => (crate::api::WRITES_PER_MINUTE, Duration::from_secs(60)),
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

/// The address a request came from, as rate limits count it: the TCP peer, or, when the peer
/// is a reverse proxy this server trusts (`serve --trusted-proxy`), the address that proxy put
/// last in `X-Forwarded-For` (the one it saw; earlier entries are the client's own say and can
/// be forged). Without trusted proxies the header is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// Which address counts for a request from `peer` with these headers.
pub fn client_ip(peer: IpAddr, headers: &axum::http::HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .next_back()
        .unwrap_or(peer)
}

impl axum::extract::FromRequestParts<crate::AppState> for ClientAddr {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &crate::AppState,
    ) -> Result<Self, AppError> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip())
            .ok_or_else(|| AppError::Internal("no peer address on the request".into()))?;
        Ok(Self(client_ip(
            peer,
            &parts.headers,
            &state.trusted_proxies,
        )))
    }
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
    fn only_a_trusted_proxy_names_the_client_and_only_its_own_hop_counts() {
        let proxy: IpAddr = "10.0.0.2".parse().expect("ip");
        let client: IpAddr = "203.0.113.7".parse().expect("ip");
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "1.2.3.4, 203.0.113.7".parse().expect("header"),
        );
        assert_eq!(client_ip(proxy, &headers, &[proxy]), client);
        assert_eq!(
            client_ip(client, &headers, &[proxy]),
            client,
            "anyone else's header is ignored"
        );
        assert_eq!(
            client_ip(proxy, &headers, &[]),
            proxy,
            "no trust, no header"
        );
        let empty = axum::http::HeaderMap::new();
        assert_eq!(client_ip(proxy, &empty, &[proxy]), proxy);
    }

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
