//! Where the site lives, for absolute links (feeds, canonical links, mail) and for telling a
//! visitor that plain http cannot work.
//!
//! One setting, `--base-url`, names the public address for mail, feeds and canonical links.
//! Without it a request's `Host` header is believed only when it names the listening address,
//! a loopback name or address, or a host listed with `--allowed-host`; any other `Host`
//! (`evil.example`) gets links to the listening address. Links use `https` only when a
//! trusted proxy (`--trusted-proxy`) says the request came over TLS.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};

use crate::{AppError, AppState};

/// The site's address settings.
#[derive(Debug, Clone, Default)]
pub struct SiteOrigin {
    /// `--base-url` without a trailing slash: every link starts with it.
    base_url: Option<String>,
    /// Host names (optionally `name:port`) whose `Host` header is believed, lowercase.
    allowed_hosts: Vec<String>,
    /// The address the server listens on (set by [`crate::serve`]).
    listening: Option<SocketAddr>,
}

/// Why a base URL was refused.
#[derive(Debug, thiserror::Error)]
#[error(
    "--base-url `{0}`: give an absolute http(s) URL without query or fragment, like https://papers.example.org"
)]
pub struct BadBaseUrl(String);

impl SiteOrigin {
    /// Settings from `--base-url` and `--allowed-host` (names, or `name:port`).
    pub fn new(base_url: Option<&str>, allowed_hosts: &[String]) -> Result<Self, BadBaseUrl> {
        let base_url = match base_url.map(str::trim).filter(|b| !b.is_empty()) {
            None => None,
            Some(b) => {
                let trimmed = b.trim_end_matches('/');
                let rest = trimmed
                    .strip_prefix("https://")
                    .or_else(|| trimmed.strip_prefix("http://"))
                    .ok_or_else(|| BadBaseUrl(b.to_owned()))?;
                let host = rest.split('/').next().unwrap_or("");
                if !valid_host(host) || rest.contains(['?', '#', ' ', '"', '<', '>', '\\']) {
                    return Err(BadBaseUrl(b.to_owned()));
                }
                Some(trimmed.to_owned())
            }
        };
        Ok(Self {
            base_url,
            allowed_hosts: allowed_hosts
                .iter()
                .flat_map(|h| h.split(','))
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect(),
            listening: None,
        })
    }

    /// The same settings, serving on `addr`.
    pub fn listening_on(mut self, addr: SocketAddr) -> Self {
        self.listening = Some(addr);
        self
    }

    /// The address served, if known.
    pub fn listening(&self) -> Option<SocketAddr> {
        self.listening
    }

    /// The configured base URL, if any.
    pub fn base_url(&self) -> Option<&str> {
        self.base_url.as_deref()
    }

    /// `scheme://host[:port]` (or the base URL, path included) that links of a request start
    /// with. `peer` is the connection's address; `trusted` the proxies believed.
    pub fn resolve(&self, headers: &HeaderMap, peer: Option<IpAddr>, trusted: &[IpAddr]) -> String {
        if let Some(base) = &self.base_url {
            return base.clone();
        }
        let host = host_header(headers)
            .filter(|h| self.believes(h))
            .map(str::to_ascii_lowercase)
            .unwrap_or_else(|| self.listening_host());
        let https = peer.is_some_and(|p| trusted.contains(&p)) && forwarded_https(headers);
        format!("{}://{host}", if https { "https" } else { "http" })
    }

    fn listening_host(&self) -> String {
        match self.listening {
            Some(addr) if addr.ip().is_unspecified() => format!("localhost:{}", addr.port()),
            Some(addr) => addr.to_string(),
            None => "localhost".to_owned(),
        }
    }

    /// Whether links may name `host` (a `Host` header value).
    fn believes(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        if self.listening.is_some_and(|a| a.to_string() == host) || is_loopback(&host) {
            return true;
        }
        let name = strip_port(&host);
        self.allowed_hosts
            .iter()
            .any(|allowed| *allowed == host || *allowed == name)
    }
}

/// The `Host` header, if it is a plausible host (letters, digits, `.-:[]`).
fn host_header(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| valid_host(h))
}

fn valid_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 255
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
}

/// `host` without its `:port`.
fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// `localhost`, `*.localhost`, 127.0.0.0/8 or `[::1]`, with or without a port: names a
/// browser treats as a secure context even over plain http.
pub fn is_loopback(host: &str) -> bool {
    let name = strip_port(host).to_ascii_lowercase();
    name == "localhost"
        || name.ends_with(".localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The request says it came over TLS (`X-Forwarded-Proto: https` or `Forwarded: proto=https`).
fn forwarded_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .is_some_and(|p| p.as_bytes().eq_ignore_ascii_case(b"https"))
        || headers
            .get_all(header::FORWARDED)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.to_ascii_lowercase().contains("proto=https"))
}

/// Whether a browser will refuse this site's cookies: they are `Secure` (`__Host-`), and the
/// request is plain http to a host that is not loopback (a LAN name like `nas.lan`). No proxy
/// needs to be trusted to say it was https: the answer only decides whether a warning shows.
pub fn cookies_refused(state: &AppState, headers: &HeaderMap) -> bool {
    if !state.cookies.secure || forwarded_https(headers) {
        return false;
    }
    let refused = host_header(headers).is_some_and(|h| !is_loopback(h));
    if refused && !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            host = host_header(headers).unwrap_or(""),
            "a browser reached Paperboy over plain http at a non-loopback address: it will \
             refuse the Secure (__Host-) cookies, so signing in and every form fail. Put a TLS \
             proxy in front (and pass --trusted-proxy), or start with --insecure-cookies on a \
             trusted network"
        );
    }
    refused
}

static WARNED: AtomicBool = AtomicBool::new(false);

/// What a visitor is told when [`cookies_refused`]: names the two ways out.
pub const PLAIN_HTTP_ADVICE: &str = "This site is reached over plain http at an address that is not this computer, \
     so your browser refuses its secure cookies: signing in and every form will fail. Serve it \
     over https through a TLS proxy (and pass --trusted-proxy), or, on a trusted network only, \
     start Paperboy with --insecure-cookies.";

/// The origin links of this request start with (see [`SiteOrigin::resolve`]).
#[derive(Debug, Clone)]
pub struct RequestOrigin(pub String);

impl FromRequestParts<AppState> for RequestOrigin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(Self(state.origin.resolve(
            &parts.headers,
            peer,
            &state.trusted_proxies,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, host.parse().expect("host"));
        h
    }

    #[test]
    fn only_believed_hosts_make_links() {
        let o = SiteOrigin::new(None, &["nas.lan".into(), "papers.example.org:8443".into()])
            .expect("origin")
            .listening_on("192.168.1.5:8080".parse().expect("addr"));
        let r = |host: &str| o.resolve(&headers(host), None, &[]);
        assert_eq!(r("evil.example"), "http://192.168.1.5:8080");
        assert_eq!(r("evil.example:8080"), "http://192.168.1.5:8080");
        assert_eq!(r("192.168.1.5:8080"), "http://192.168.1.5:8080");
        assert_eq!(r("localhost:8080"), "http://localhost:8080");
        assert_eq!(r("127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(r("[::1]:8080"), "http://[::1]:8080");
        assert_eq!(r("NAS.lan:8080"), "http://nas.lan:8080");
        assert_eq!(
            r("papers.example.org:8443"),
            "http://papers.example.org:8443"
        );
        assert_eq!(r("papers.example.org"), "http://192.168.1.5:8080");
        assert_eq!(r("a\"b"), "http://192.168.1.5:8080");
    }

    #[test]
    fn https_only_from_a_trusted_proxy_and_the_base_url_wins() {
        let o = SiteOrigin::new(None, &[]).expect("origin");
        let mut h = headers("localhost");
        h.insert("x-forwarded-proto", "https".parse().expect("value"));
        let proxy: IpAddr = "10.0.0.1".parse().expect("ip");
        assert_eq!(o.resolve(&h, Some(proxy), &[]), "http://localhost");
        assert_eq!(o.resolve(&h, Some(proxy), &[proxy]), "https://localhost");
        let o = SiteOrigin::new(Some("https://papers.example.org/"), &[]).expect("origin");
        assert_eq!(
            o.resolve(&headers("evil.example"), None, &[]),
            "https://papers.example.org"
        );
        for bad in [
            "papers.example.org",
            "ftp://x",
            "https://a\"b",
            "https://x/?q",
        ] {
            assert!(SiteOrigin::new(Some(bad), &[]).is_err(), "{bad}");
        }
    }
}
