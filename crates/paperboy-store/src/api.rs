//! Types and helpers of the API area: personal API tokens (only a SHA-256 of the secret is
//! stored) and the simple search that backs `/api/papers/search` until the search crate lands.

use chrono::{DateTime, Utc};
use paperboy_core::Paper;
use serde::Serialize;

/// The prefix of every token secret, so a leaked one is recognizable.
pub const TOKEN_PREFIX: &str = "pb_";

/// How finely a token's last use is recorded: a use within this long of the recorded one
/// writes nothing, so API calls read instead of each writing the token's row.
pub const TOKEN_USE_GRANULARITY: chrono::Duration = chrono::Duration::seconds(60);

/// Most query words the simple search looks at.
pub const MAX_SEARCH_WORDS: usize = 8;

/// Candidates the simple search fetches before ranking.
pub(crate) const SEARCH_CANDIDATES: i64 = 2000;

/// A personal API token, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    /// Row id.
    pub id: i64,
    /// Owner.
    pub user_id: i64,
    /// The label its owner gave it.
    pub name: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it last authenticated a request, to within [`TOKEN_USE_GRANULARITY`].
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A token just created: the only time its secret is known.
#[derive(Debug, Clone)]
pub struct CreatedApiToken {
    /// The stored token.
    pub token: ApiToken,
    /// The secret to show once (`pb_` and 64 hex digits: 256 random bits).
    pub secret: String,
}

/// A fresh random secret: 256 bits from the OS generator, hex-encoded, prefixed.
pub fn generate_token_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("{TOKEN_PREFIX}{}", paperboy_core::secret::hex(&bytes))
}

/// What is stored for a secret: its SHA-256, hex-encoded.
pub fn hash_token(secret: &str) -> String {
    paperboy_core::secret::sha256_hex(secret)
}

/// The words of a search query, lowercased, at most [`MAX_SEARCH_WORDS`], without repeats.
pub fn search_words(query: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for w in query.split_whitespace().map(str::to_lowercase) {
        if !words.contains(&w) {
            words.push(w);
        }
        if words.len() == MAX_SEARCH_WORDS {
            break;
        }
    }
    words
}

/// A word as a `LIKE` pattern that matches it anywhere (`\` escapes wildcards).
pub(crate) fn like_pattern(word: &str) -> String {
    let mut p = String::with_capacity(word.len() + 2);
    p.push('%');
    for c in word.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// Keeps the candidates that hold every word (case-insensitively, in title, abstract or
/// authors) and orders them: most word occurrences first (title occurrences count double),
/// then most upvotes, then newest.
pub(crate) fn rank_search(mut papers: Vec<Paper>, words: &[String], limit: u32) -> Vec<Paper> {
    let mut scored: Vec<(usize, Paper)> = papers
        .drain(..)
        .filter_map(|p| {
            let title = p.title.to_lowercase();
            let summary = p.summary.to_lowercase();
            let authors = p
                .authors
                .iter()
                .map(|a| a.name.to_lowercase())
                .collect::<Vec<_>>()
                .join(" ");
            let mut score = 0;
            for w in words {
                let n = 2 * title.matches(w.as_str()).count()
                    + summary.matches(w.as_str()).count()
                    + authors.matches(w.as_str()).count();
                if n == 0 {
                    return None;
                }
                score += n;
            }
            Some((score, p))
        })
        .collect();
    scored.sort_by(|(sa, a), (sb, b)| {
        sb.cmp(sa)
            .then(b.upvotes.cmp(&a.upvotes))
            .then(b.published_at.cmp(&a.published_at))
            .then_with(|| a.id.cmp(&b.id))
    });
    scored.truncate(limit as usize);
    scored.into_iter().map(|(_, p)| p).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_random_and_hash_to_hex() {
        let a = generate_token_secret();
        let b = generate_token_secret();
        assert_ne!(a, b);
        assert_eq!(a.len(), TOKEN_PREFIX.len() + 64);
        let h = hash_token(&a);
        assert_eq!(h.len(), 64);
        assert_ne!(h, hash_token(&b));
        assert!(!h.contains(&a[TOKEN_PREFIX.len()..]));
        // SHA-256 of "abc" (FIPS 180-2's example): the hash is the real thing, hex-encoded.
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("50%_a\\"), "%50\\%\\_a\\\\%");
    }

    #[test]
    fn search_words_are_lowercased_and_deduplicated() {
        assert_eq!(
            search_words("  Attention attention IS "),
            ["attention", "is"]
        );
    }
}
