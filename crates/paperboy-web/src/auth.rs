//! Accounts' secrets and sessions: argon2id password hashes (computed off the async threads,
//! at most a fixed number at once: [`Hashers`]),
//! 256-bit session tokens of which only the SHA-256 is stored, and the session cookie
//! (`__Host-` prefixed, `Secure`, `HttpOnly`, `SameSite=Lax`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use paperboy_store::User;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::{AppError, AppState};

/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 8;
/// Longest password accepted (characters).
pub const MAX_PASSWORD: usize = 128;
/// How long a session lasts.
pub const SESSION_DAYS: i64 = 30;

/// Argon2id's memory cost, in KiB (OWASP's minimum).
const ARGON2_KIB: u32 = 19 * 1024;

/// Argon2id with OWASP's minimums: 19 MiB of memory, 2 passes, 1 lane.
fn argon2() -> Argon2<'static> {
    let params = Params::new(ARGON2_KIB, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A hash of a password nobody has, verified when an account does not exist so that sign-in
/// takes as long either way.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$5dI2LkOM0lmP0I0RnuyJYS5tSOyK2UJq9CPp5P1u4lM";

/// The most memory a stored hash may ask for when verified (a hash with a larger cost is
/// refused rather than allowed to allocate without bound): 64 MiB.
const MAX_VERIFY_BLOCKS: usize = 64 * 1024;

/// Checks a new password's length; the message says what is wrong.
pub fn check_password_rules(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < MIN_PASSWORD {
        Err(format!(
            "A password needs at least {MIN_PASSWORD} characters."
        ))
    } else if n > MAX_PASSWORD {
        Err(format!("A password has at most {MAX_PASSWORD} characters."))
    } else {
        Ok(())
    }
}

/// Hashes `password` with a fresh salt into a PHC string, using `memory` as argon2's blocks.
fn hash_with(password: &[u8], memory: &mut Vec<Block>) -> Result<String, AppError> {
    let argon = argon2();
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes)
        .map_err(|e| AppError::Internal(format!("making a salt: {e}")))?;
    let blocks = argon.params().block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let output = Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
        argon
            .hash_password_into_with_memory(password, &salt_bytes, out, &mut memory[..blocks])
            .map_err(|_| argon2::password_hash::Error::Crypto)
    })
    .map_err(|e| AppError::Internal(format!("hashing a password: {e}")))?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon.params())
            .map_err(|e| AppError::Internal(format!("hashing a password: {e}")))?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `stored`, using `memory` as argon2's blocks.
fn verify_with(password: &[u8], stored: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(expected), Some(salt)) = (parsed.hash, parsed.salt) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = parsed
        .version
        .map_or(Ok(Version::V0x13), Version::try_from)
        .unwrap_or(Version::V0x13);
    let blocks = params.block_count();
    if blocks > MAX_VERIFY_BLOCKS {
        return false;
    }
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let argon = Argon2::new(algorithm, version, params);
    Output::init_with(expected.len(), |out| {
        argon
            .hash_password_into_with_memory(password, salt, out, &mut memory[..blocks])
            .map_err(|_| argon2::password_hash::Error::Crypto)
    })
    .is_ok_and(|computed| computed == expected)
}

/// Hashes a password (on a blocking thread: argon2 is deliberately slow), outside any cap:
/// for the command line. Requests go through [`Hashers`].
pub async fn hash_password(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || hash_with(password.as_bytes(), &mut Vec::new()))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
}

/// Verifies a password against a stored hash, or against a dummy hash when there is none,
/// outside any cap. Requests go through [`Hashers`].
pub async fn verify_password(password: String, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let stored = hash.as_deref().unwrap_or(DUMMY_HASH);
        verify_with(password.as_bytes(), stored, &mut Vec::new()) && hash.is_some()
    })
    .await
    .unwrap_or(false)
}

/// How long a request waits for a free hasher before it is answered 503.
pub const HASH_WAIT: Duration = Duration::from_secs(1);

/// The password hashers of a server: at most `max` argon2 computations at once (one per core
/// by default, `paperboy serve --password-hashes`), each on a blocking thread with a 19 MiB
/// memory buffer that is kept and reused, so sign-ins from any number of addresses cost at
/// most `max` × 19 MiB. A request waits its turn up to [`HASH_WAIT`], then is answered 503 with
/// `Retry-After`.
pub struct Hashers {
    permits: Arc<Semaphore>,
    buffers: Arc<Mutex<Vec<Vec<Block>>>>,
    max: usize,
    wait: Duration,
    in_flight: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
}

impl std::fmt::Debug for Hashers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hashers")
            .field("max", &self.max)
            .field("wait", &self.wait)
            .field("in_flight", &self.in_flight())
            .finish_non_exhaustive()
    }
}

/// The right to run one hash: a buffer of argon2 memory, given back when dropped.
pub struct HashPermit {
    _permit: OwnedSemaphorePermit,
    memory: Vec<Block>,
    buffers: Arc<Mutex<Vec<Vec<Block>>>>,
}

impl std::fmt::Debug for HashPermit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashPermit")
            .field("memory_blocks", &self.memory.len())
            .finish_non_exhaustive()
    }
}

impl Drop for HashPermit {
    fn drop(&mut self) {
        let memory = std::mem::take(&mut self.memory);
        self.buffers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(memory);
    }
}

impl Default for Hashers {
    fn default() -> Self {
        Self::new(
            std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            HASH_WAIT,
        )
    }
}

impl Hashers {
    /// At most `max` (at least 1) hashes at once; a request waits at most `wait` for its turn.
    pub fn new(max: usize, wait: Duration) -> Self {
        let max = max.max(1);
        Self {
            permits: Arc::new(Semaphore::new(max)),
            buffers: Arc::new(Mutex::new(Vec::with_capacity(max))),
            max,
            wait,
            in_flight: Arc::new(AtomicUsize::new(0)),
            peak: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The most hashes run at once.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Hashes running now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// The most hashes that ever ran at once.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Acquire)
    }

    /// Waits for a free hasher, at most the configured wait; then 503 with `Retry-After`.
    pub async fn permit(&self) -> Result<HashPermit, AppError> {
        let permit = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| AppError::Unavailable {
                retry_after: 1,
                message: "The server is busy checking passwords. Please try again in a moment."
                    .into(),
            })?
            .map_err(|e| AppError::Internal(format!("password hashers closed: {e}")))?;
        let memory = self
            .buffers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop()
            .unwrap_or_default();
        Ok(HashPermit {
            _permit: permit,
            memory,
            buffers: self.buffers.clone(),
        })
    }

    /// Runs `f` with a permit's memory on a blocking thread, counting it in flight.
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, AppError> {
        let mut permit = self.permit().await?;
        let in_flight = self.in_flight.clone();
        let peak = self.peak.clone();
        tokio::task::spawn_blocking(move || {
            let now = in_flight.fetch_add(1, Ordering::AcqRel) + 1;
            peak.fetch_max(now, Ordering::AcqRel);
            let out = f(&mut permit.memory);
            in_flight.fetch_sub(1, Ordering::AcqRel);
            drop(permit);
            out
        })
        .await
        .map_err(|e| AppError::Internal(e.to_string()))
    }

    /// Hashes a new password.
    pub async fn hash(&self, password: String) -> Result<String, AppError> {
        self.run(move |memory| hash_with(password.as_bytes(), memory))
            .await?
    }

    /// Verifies a password against a stored hash, or against a dummy hash when there is none
    /// (so that sign-in takes as long either way).
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool, AppError> {
        self.run(move |memory| {
            let stored = hash.as_deref().unwrap_or(DUMMY_HASH);
            verify_with(password.as_bytes(), stored, memory) && hash.is_some()
        })
        .await
    }
}

/// A fresh 256-bit random token, URL-safe.
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the store keeps of a token.
pub fn token_hash(token: &str) -> String {
    paperboy_core::secret::sha256_hex(token)
}

/// Cookie names and attributes; `secure: false` only for plain-http development.
#[derive(Debug, Clone, Copy)]
pub struct CookiePolicy {
    /// `Secure` and the `__Host-` prefix.
    pub secure: bool,
}

impl CookiePolicy {
    /// The session cookie's name.
    pub fn session_name(self) -> &'static str {
        if self.secure {
            "__Host-pb_session"
        } else {
            "pb_session"
        }
    }

    /// The CSRF cookie's name.
    pub fn csrf_name(self) -> &'static str {
        if self.secure {
            "__Host-pb_csrf"
        } else {
            "pb_csrf"
        }
    }

    /// A `Set-Cookie` value.
    pub fn set(self, name: &str, value: &str, max_age_secs: i64) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}")
    }

    /// A `Set-Cookie` value that removes the cookie.
    pub fn clear(self, name: &str) -> String {
        self.set(name, "", 0)
    }
}

/// The value of a cookie in a request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// The signed-in user, if any (a suspended account counts as signed out).
#[derive(Debug, Clone)]
pub struct CurrentUser(pub Option<User>);

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        if let Some(cached) = parts.extensions.get::<CurrentUser>() {
            return Ok(cached.clone());
        }
        let user = match cookie(&parts.headers, state.cookies.session_name()) {
            Some(token) => state
                .store
                .session_user(&token_hash(token))
                .await?
                .filter(|u| !u.suspended),
            None => None,
        };
        let current = CurrentUser(user);
        parts.extensions.insert(current.clone());
        Ok(current)
    }
}

/// A signed-in user, or a redirect to the sign-in page.
#[derive(Debug, Clone)]
pub struct SignedIn(pub User);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        match CurrentUser::from_request_parts(parts, state).await?.0 {
            Some(user) => Ok(SignedIn(user)),
            None => Err(AppError::SignInRequired),
        }
    }
}

/// A signed-in administrator (`paperboy user create --admin`); anyone else is refused.
#[derive(Debug, Clone)]
pub struct Admin(pub User);

impl FromRequestParts<AppState> for Admin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let SignedIn(user) = SignedIn::from_request_parts(parts, state).await?;
        if user.is_admin {
            Ok(Admin(user))
        } else {
            Err(AppError::Forbidden(
                "Only an administrator can do this.".into(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_password_verifies_against_its_own_hash_only() {
        let hash = hash_password("correct horse battery".into())
            .await
            .expect("hash");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_password("correct horse battery".into(), Some(hash.clone())).await);
        assert!(!verify_password("wrong horse battery".into(), Some(hash)).await);
        assert!(
            !verify_password("anything at all".into(), None).await,
            "no account, no entry"
        );
    }

    #[tokio::test]
    async fn hashers_reuse_their_memory_and_agree_with_the_plain_functions() {
        let hashers = Hashers::new(2, HASH_WAIT);
        let hash = hashers
            .hash("correct horse battery".into())
            .await
            .expect("hash");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_password("correct horse battery".into(), Some(hash.clone())).await);
        let plain = hash_password("correct horse battery".into())
            .await
            .expect("hash");
        for stored in [hash, plain] {
            assert!(
                hashers
                    .verify("correct horse battery".into(), Some(stored.clone()))
                    .await
                    .expect("verify")
            );
            assert!(
                !hashers
                    .verify("wrong horse battery".into(), Some(stored))
                    .await
                    .expect("verify")
            );
        }
        assert!(!hashers.verify("x".into(), None).await.expect("verify"));
        assert!(
            !hashers
                .verify("x".into(), Some("not a hash".into()))
                .await
                .expect("verify")
        );
        // The buffers are kept for the next hash: one per permit at most.
        let kept = hashers.buffers.lock().expect("lock").len();
        assert!((1..=2).contains(&kept), "{kept}");
        assert!(
            hashers
                .buffers
                .lock()
                .expect("lock")
                .iter()
                .all(|b| b.len() == 19 * 1024)
        );
        assert_eq!(hashers.in_flight(), 0);
        assert!(hashers.peak() >= 1 && hashers.peak() <= 2);
    }

    #[tokio::test]
    async fn a_request_that_cannot_get_a_hasher_in_time_is_told_to_come_back() {
        let hashers = Hashers::new(1, Duration::ZERO);
        let held = hashers.permit().await.expect("the only permit");
        let err = hashers.verify("x".into(), None).await.expect_err("busy");
        assert_eq!(err.status(), axum::http::StatusCode::SERVICE_UNAVAILABLE);
        drop(held);
        assert!(!hashers.verify("x".into(), None).await.expect("free again"));
    }

    #[test]
    fn password_rules_bound_the_length() {
        assert!(check_password_rules("short").is_err());
        assert!(check_password_rules("eight ch").is_ok());
        assert!(check_password_rules(&"x".repeat(64)).is_ok());
        assert!(check_password_rules(&"x".repeat(129)).is_err());
    }

    #[test]
    fn tokens_are_long_random_and_stored_only_as_hashes() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).expect("base64").len(), 32);
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
    }

    #[test]
    fn secure_cookies_carry_every_attribute() {
        let c = CookiePolicy { secure: true }.set("__Host-pb_session", "v", 60);
        for attr in ["Path=/", "HttpOnly", "SameSite=Lax", "Secure", "Max-Age=60"] {
            assert!(c.contains(attr), "{c}");
        }
    }
}
