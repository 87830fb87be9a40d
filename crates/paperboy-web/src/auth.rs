//! Accounts' secrets and sessions: argon2id password hashes (computed off the async threads),
//! 256-bit session tokens of which only the SHA-256 is stored, and the session cookie
//! (`__Host-` prefixed, `Secure`, `HttpOnly`, `SameSite=Lax`).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use paperboy_store::User;

use crate::{AppError, AppState};

/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 8;
/// Longest password accepted (characters).
pub const MAX_PASSWORD: usize = 128;
/// How long a session lasts.
pub const SESSION_DAYS: i64 = 30;

/// Argon2id with OWASP's minimums: 19 MiB of memory, 2 passes, 1 lane.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A hash of a password nobody has, verified when an account does not exist so that sign-in
/// takes as long either way.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$5dI2LkOM0lmP0I0RnuyJYS5tSOyK2UJq9CPp5P1u4lM";

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

/// Hashes a password (on a blocking thread: argon2 is deliberately slow).
pub async fn hash_password(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || {
        let salt_bytes: [u8; 16] = rand::random();
        let salt = SaltString::encode_b64(&salt_bytes)
            .map_err(|e| AppError::Internal(format!("making a salt: {e}")))?;
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AppError::Internal(format!("hashing a password: {e}")))
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?
}

/// Verifies a password against a stored hash, or against a dummy hash when there is none.
pub async fn verify_password(password: String, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let stored = hash.as_deref().unwrap_or(DUMMY_HASH);
        let Ok(parsed) = PasswordHash::new(stored) else {
            return false;
        };
        argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
            && hash.is_some()
    })
    .await
    .unwrap_or(false)
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
