//! What the live-source clients ([`crate::arxiv::ArxivClient`], [`crate::hf::HfClient`]) share:
//! the [`SourceError`] they report and the HTTP plumbing (one configured `reqwest` client, a GET
//! that turns transport failures into [`SourceError`]s).

use std::time::Duration;

use paperboy_store::StoreError;

/// The User-Agent every request carries, so the services can tell who is asking.
pub const USER_AGENT: &str = concat!(
    "paperboy/",
    env!("CARGO_PKG_VERSION"),
    " (self-hosted daily papers)"
);

/// How long a whole request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest answer read from a live source (a page of arXiv's Atom feed or of
/// huggingface.co's daily list is far smaller); a larger one is a [`SourceError::Parse`].
pub const MAX_ANSWER_BYTES: usize = 32 * 1024 * 1024;

/// Why a live source gave no papers.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The service could not be reached: the connection failed or the request timed out.
    #[error("cannot reach {url}: {message}")]
    Unreachable {
        /// The URL asked for.
        url: String,
        /// What the network layer said.
        message: String,
    },
    /// The service answered with a status other than 2xx.
    #[error("{url} answered HTTP {status}")]
    Http {
        /// The URL asked for.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The answer was not in the expected format.
    #[error("cannot read the answer of {url}: {message}")]
    Parse {
        /// The URL asked for.
        url: String,
        /// What is wrong with the answer.
        message: String,
    },
    /// The service understood the request and refused it (arXiv's error feed).
    #[error("the source refused the query: {0}")]
    Api(String),
    /// The papers were fetched but could not be stored (only from [`crate::sync`]).
    #[error("storing the fetched papers failed: {0}")]
    Store(#[from] StoreError),
}

impl SourceError {
    /// Whether the service could not be reached at all (offline machine, DNS failure, refused
    /// connection, timeout), as opposed to answering badly.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Self::Unreachable { .. })
    }

    /// Classifies a `reqwest` failure for `url`.
    pub(crate) fn from_reqwest(url: &str, err: &reqwest::Error) -> Self {
        let message = innermost_message(err);
        if err.is_connect() || err.is_timeout() {
            Self::Unreachable {
                url: url.to_owned(),
                message,
            }
        } else if err.is_decode() {
            Self::Parse {
                url: url.to_owned(),
                message,
            }
        } else if let Some(status) = err.status() {
            Self::Http {
                url: url.to_owned(),
                status: status.as_u16(),
            }
        } else {
            // The exchange broke off (reset connection, bad URL, …): the service is, for
            // this request, not reachable.
            Self::Unreachable {
                url: url.to_owned(),
                message,
            }
        }
    }
}

/// The most specific message in an error's chain ("Connection refused (os error 111)" rather
/// than "error sending request for url …", which repeats the URL).
fn innermost_message(err: &(dyn std::error::Error + 'static)) -> String {
    let mut current = err;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

/// The HTTP client of the live sources: 30 s per request, 10 s to connect, Paperboy's
/// User-Agent.
pub(crate) fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(USER_AGENT)
        .build()
        .unwrap_or_else(|e| {
            // Only a broken TLS setup makes the builder fail; the plain client reports the
            // same problem on first use instead of at start-up.
            tracing::warn!("cannot configure the HTTP client ({e}); using the defaults");
            reqwest::Client::new()
        })
}

/// An answer: the final URL (with its query), the status and the body.
pub(crate) struct Answer {
    /// The URL asked for, query included.
    pub url: String,
    /// The status.
    pub status: reqwest::StatusCode,
    /// The body, as text.
    pub body: String,
}

impl Answer {
    /// The error for a non-2xx answer.
    pub fn http_error(&self) -> SourceError {
        SourceError::Http {
            url: self.url.clone(),
            status: self.status.as_u16(),
        }
    }

    /// A parse error about this answer.
    pub fn parse_error(&self, message: impl Into<String>) -> SourceError {
        SourceError::Parse {
            url: self.url.clone(),
            message: message.into(),
        }
    }
}

/// GETs `base_url` with `query` and reads the whole body, whatever the status.
pub(crate) async fn get(
    client: &reqwest::Client,
    base_url: &str,
    query: &[(&str, String)],
) -> Result<Answer, SourceError> {
    let request = client
        .get(base_url)
        .query(query)
        .build()
        .map_err(|e| SourceError::from_reqwest(base_url, &e))?;
    let url = request.url().to_string();
    let mut response = client
        .execute(request)
        .await
        .map_err(|e| SourceError::from_reqwest(&url, &e))?;
    let status = response.status();
    let too_large = || SourceError::Parse {
        url: url.clone(),
        message: format!(
            "the answer is larger than {} MiB; it was not read",
            MAX_ANSWER_BYTES / (1024 * 1024)
        ),
    };
    if response
        .content_length()
        .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| SourceError::from_reqwest(&url, &e))?
    {
        if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    let body = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
    Ok(Answer { url, status, body })
}

/// `url` without trailing slashes, so `{base}/api/...` has exactly one.
pub(crate) fn trim_base(url: &str) -> String {
    url.trim().trim_end_matches('/').to_owned()
}
