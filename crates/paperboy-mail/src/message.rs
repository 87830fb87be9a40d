//! MIME messages: a digest or a confirmation as `multipart/alternative` (plain text, then
//! HTML), with a stable `Message-ID` per (subscriber, edition) and the RFC 8058 headers
//! (`List-Unsubscribe` with an https and a mailto URI, `List-Unsubscribe-Post`).
//!
//! Every header value goes through lettre's encoder (RFC 2047, line folding), so no text —
//! the subscriber's address, the site's name — can start a header of its own.

use lettre::Message;
use lettre::message::header::{
    ContentTransferEncoding, ContentType, Header, HeaderName, HeaderValue,
};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};

use crate::{MailError, MailResult, SiteSettings};

/// `List-Unsubscribe`: where a mail client sends the one-click unsubscribe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListUnsubscribe(pub String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(s.to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListUnsubscribePost;

impl Header for ListUnsubscribePost {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".to_owned())
    }
}

/// `List-Id`: lets clients and filters recognize the digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListId(pub String);

impl Header for ListId {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Id")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(s.to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// The https one-click unsubscribe URL of a secret.
pub fn unsubscribe_url(site: &SiteSettings, token: &str) -> String {
    format!("{}/unsubscribe/{token}", site.base_url)
}

/// The page where a subscriber changes cadence.
pub fn preferences_url(site: &SiteSettings, token: &str) -> String {
    format!("{}/unsubscribe/{token}/preferences", site.base_url)
}

/// The mailto unsubscribe URI: a message to the From address naming the secret.
pub fn unsubscribe_mailto(site: &SiteSettings, token: &str) -> String {
    format!("mailto:{}?subject=unsubscribe%20{token}", site.from.email)
}

/// The stable `Message-ID` of an edition's message to a subscriber: sending it again (after a
/// crash, say) gives receivers the same id, so they can drop the copy.
pub fn digest_message_id(site: &SiteSettings, edition_id: i64, subscriber_id: i64) -> String {
    format!("<digest.{edition_id}.{subscriber_id}@{}>", site.host())
}

/// The stable `Message-ID` of the confirmation message carrying one token: a resend of the
/// same message has the same id; a new request (a new token) gets a new one.
pub fn confirmation_message_id(site: &SiteSettings, subscriber_id: i64, token: &str) -> String {
    let tag = crate::token::hash_token(token);
    format!(
        "<confirm.{subscriber_id}.{}@{}>",
        &tag[..tag.len().min(16)],
        site.host()
    )
}

/// What to send and to whom.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    /// Recipient address.
    pub to: &'a str,
    /// Subject line.
    pub subject: &'a str,
    /// The recipient's unsubscribe secret.
    pub unsubscribe_token: &'a str,
    /// `Message-ID`, or `None` for a fresh one.
    pub message_id: Option<String>,
    /// Plain-text part.
    pub text: String,
    /// HTML part.
    pub html: String,
    /// Send the parts as 8-bit text (RFC 6152) rather than quoted-printable: about half the
    /// lines and bytes. Only for servers that announce 8BITMIME (see [`crate::Mailer`]).
    pub eight_bit: bool,
}

fn body(text: String, eight_bit: bool) -> Body {
    if eight_bit {
        // RFC 5321 § 4.5.3.1.6: lines of at most 998 octets (plus CRLF). lettre would insist
        // on 76 for 8-bit bodies, so the check and the CRLF line endings are done here.
        let crlf = text
            .replace("\r\n", "\n")
            .replace('\r', "\n")
            .replace('\n', "\r\n");
        if crlf.split("\r\n").all(|line| line.len() <= 998) {
            return Body::dangerous_pre_encoded(
                crlf.into_bytes(),
                ContentTransferEncoding::EightBit,
            );
        }
    }
    Body::new(text)
}

/// Builds the MIME message.
pub fn compose(site: &SiteSettings, out: Outgoing<'_>) -> MailResult<Message> {
    let to: Mailbox = out
        .to
        .parse()
        .map_err(|e| MailError::Build(format!("recipient address: {e}")))?;
    let list_unsubscribe = format!(
        "<{}>, <{}>",
        unsubscribe_url(site, out.unsubscribe_token),
        unsubscribe_mailto(site, out.unsubscribe_token)
    );
    Message::builder()
        .from(site.from.clone())
        .to(to)
        .subject(crate::one_line(out.subject))
        .message_id(out.message_id)
        .header(ListId(format!(
            "{} digest <digest.{}>",
            crate::one_line(&site.site_name),
            site.host()
        )))
        .header(ListUnsubscribe(list_unsubscribe))
        .header(ListUnsubscribePost)
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(body(out.text, out.eight_bit)),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(body(out.html, out.eight_bit)),
                ),
        )
        .map_err(|e| MailError::Build(e.to_string()))
}

/// A one-off account message (a password reset link, say): plain text only, no list headers
/// (it is not a mailing), a fresh `Message-ID`.
pub fn compose_account(
    site: &SiteSettings,
    to: &str,
    subject: &str,
    text: String,
) -> MailResult<Message> {
    let to: Mailbox = to
        .parse()
        .map_err(|e| MailError::Build(format!("recipient address: {e}")))?;
    Message::builder()
        .from(site.from.clone())
        .to(to)
        .subject(crate::one_line(subject))
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(body(text, false)),
        )
        .map_err(|e| MailError::Build(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(name: &str) -> SiteSettings {
        SiteSettings::new(
            name,
            "https://papers.example.org",
            "Digest <digest@example.org>",
        )
        .expect("site")
    }

    fn formatted(site: &SiteSettings, to: &str, subject: &str) -> MailResult<String> {
        let msg = compose(
            site,
            Outgoing {
                to,
                subject,
                unsubscribe_token: "abc123",
                message_id: Some(digest_message_id(site, 7, 9)),
                text: "plain".into(),
                html: "<p>html</p>".into(),
                eight_bit: false,
            },
        )?;
        // Unfold folded header lines (RFC 5322 § 2.2.3) so assertions see whole values.
        Ok(String::from_utf8_lossy(&msg.formatted())
            .replace("\r\n ", " ")
            .replace("\r\n\t", " "))
    }

    fn header_names(raw: &str) -> Vec<String> {
        raw.split("\r\n\r\n")
            .next()
            .unwrap_or("")
            .split("\r\n")
            .filter(|l| !l.starts_with([' ', '\t']))
            .filter_map(|l| l.split_once(':').map(|(n, _)| n.to_ascii_lowercase()))
            .collect()
    }

    #[test]
    fn every_message_carries_the_one_click_unsubscribe_headers() {
        let raw = formatted(&site("Paperboy"), "ada@example.org", "Hello").expect("compose");
        assert!(raw.contains(
            "List-Unsubscribe: <https://papers.example.org/unsubscribe/abc123>, <mailto:digest@example.org?subject=unsubscribe%20abc123>"
        ), "{raw}");
        assert!(raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
        assert!(raw.contains("Message-ID: <digest.7.9@papers.example.org>"));
        assert!(raw.contains("multipart/alternative"));
        assert!(raw.contains("text/plain") && raw.contains("text/html"));
    }

    #[test]
    fn eight_bit_bodies_keep_lines_short_and_fall_back_when_one_is_too_long() {
        let site = site("P");
        let build = |html: String| {
            let msg = compose(
                &site,
                Outgoing {
                    to: "ada@example.org",
                    subject: "s",
                    unsubscribe_token: "abc",
                    message_id: None,
                    text: "Caf\u{e9} \u{25b2} 12\nsecond line".into(),
                    html,
                    eight_bit: true,
                },
            )
            .expect("compose");
            String::from_utf8(msg.formatted()).expect("utf-8")
        };
        let raw = build("<p>short</p>".into());
        assert!(raw.contains("Content-Transfer-Encoding: 8bit"));
        assert!(raw.contains("Caf\u{e9} \u{25b2} 12\r\nsecond line"));
        let raw = build("x".repeat(2000));
        assert!(
            raw.contains("Content-Transfer-Encoding: 8bit"),
            "the text part still is"
        );
        assert!(
            raw.lines().all(|l| l.len() <= 998),
            "the long HTML line was encoded"
        );
    }

    #[test]
    fn text_with_line_breaks_cannot_add_headers() {
        let raw = formatted(
            &site("Evil\r\nBcc: victim@example.org"),
            "ada@example.org",
            "Hi\r\nBcc: other@example.org\nX-Injected: yes",
        )
        .expect("compose");
        let names = header_names(&raw);
        assert!(!names.contains(&"bcc".to_owned()), "{raw}");
        assert!(!names.contains(&"x-injected".to_owned()), "{raw}");
        assert_eq!(
            crate::one_line("Hi\r\nBcc: other@example.org\n\u{202E}X-Injected:\u{0}\tyes "),
            "Hi Bcc: other@example.org X-Injected: yes"
        );
        assert!(
            formatted(&site("P"), "ada@example.org\r\nBcc: x@example.org", "s").is_err(),
            "an address with a line break is refused"
        );
    }
}
