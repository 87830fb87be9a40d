//! An edition's content: which papers it lists (the trending list of its window), what the
//! digest shows of each, and the rendered HTML and plain-text parts.

use askama::Template;
use chrono::{Datelike, NaiveDate};
use paperboy_core::cache::ByteSize;
use paperboy_core::{ArxivId, DateWindow, IsoWeek, Paper};
use paperboy_store::{Cadence, Edition, FeedQuery, FeedSort, Store};

use crate::{MailResult, SiteSettings, one_line};

/// Papers an edition lists.
pub const EDITION_PAPERS: u32 = 10;

/// Papers of the "for you" section.
pub const FOR_YOU_PAPERS: usize = 5;

/// Characters of abstract shown per paper.
const EXCERPT_CHARS: usize = 300;

/// Authors named before "et al.".
const AUTHORS_SHOWN: usize = 4;

/// The feed window an edition covers: its day (daily) or its ISO week (weekly).
pub fn edition_window(cadence: Cadence, date: NaiveDate) -> DateWindow {
    match cadence {
        Cadence::Daily => DateWindow::Day(date),
        Cadence::Weekly => DateWindow::Week(IsoWeek::of(date)),
    }
}

/// The edition's papers: the top of the trending list over its window, as base ids.
pub async fn select_papers(
    store: &dyn Store,
    cadence: Cadence,
    date: NaiveDate,
    limit: u32,
) -> MailResult<Vec<String>> {
    let page = store
        .feed(&FeedQuery {
            window: edition_window(cadence, date),
            submitter: None,
            sort: FeedSort::Trending,
            offset: 0,
            limit,
        })
        .await?;
    Ok(page.papers.iter().map(|p| p.id.base().to_owned()).collect())
}

/// What the digest shows of one paper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaperItem {
    /// Base arXiv id.
    pub id: String,
    /// Title.
    pub title: String,
    /// The organization it was submitted under, if any.
    pub organization: Option<String>,
    /// The first authors, "et al." when there are more.
    pub authors: String,
    /// The first lines of the abstract.
    pub excerpt: String,
    /// Upvotes.
    pub upvotes: i64,
    /// The paper's page on this site.
    pub url: String,
}

impl PaperItem {
    /// The digest's view of a paper.
    pub fn from_paper(p: &Paper, base_url: &str) -> Self {
        let names: Vec<&str> = p.visible_authors().map(|a| a.name.as_str()).collect();
        let mut authors = names
            .iter()
            .take(AUTHORS_SHOWN)
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        if names.len() > AUTHORS_SHOWN {
            authors.push_str(" et al.");
        }
        Self {
            id: p.id.base().to_owned(),
            title: one_line(&p.title),
            organization: p
                .feed
                .as_ref()
                .and_then(|f| f.organization.as_ref())
                .map(|o| o.fullname.clone()),
            authors,
            excerpt: excerpt(&p.summary, EXCERPT_CHARS),
            upvotes: p.upvotes,
            url: format!("{base_url}/papers/{}", p.id.base()),
        }
    }
}

/// The first `max` characters of `text` on one line, cut at a word boundary, with "…" when cut.
pub fn excerpt(text: &str, max: usize) -> String {
    let text = one_line(text);
    if text.chars().count() <= max {
        return text;
    }
    let cut: String = text.chars().take(max).collect();
    let cut = match cut.rfind(' ') {
        Some(i) if i > max / 2 => &cut[..i],
        _ => cut.as_str(),
    };
    format!("{}…", cut.trim_end_matches([',', ';', ':', '.', ' ']))
}

/// An edition's papers, loaded once and shared by every message of the edition.
#[derive(Debug, Clone)]
pub struct EditionContent {
    /// The edition (`None` for a preview of papers not yet built into one).
    pub edition_id: Option<i64>,
    /// Which subscribers it is for.
    pub cadence: Cadence,
    /// Its date.
    pub date: NaiveDate,
    /// Subject line.
    pub subject: String,
    /// The heading inside the message.
    pub heading: String,
    /// The papers.
    pub papers: Vec<PaperItem>,
}

impl ByteSize for PaperItem {
    fn byte_size(&self) -> usize {
        self.id.byte_size()
            + self.title.byte_size()
            + self.organization.byte_size()
            + self.authors.byte_size()
            + self.excerpt.byte_size()
            + self.url.byte_size()
            + std::mem::size_of::<i64>()
    }
}

impl ByteSize for EditionContent {
    fn byte_size(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.subject.byte_size()
            + self.heading.byte_size()
            + self.papers.byte_size()
    }
}

impl EditionContent {
    /// Loads an edition's papers (a paper deleted since is left out).
    pub async fn load(
        store: &dyn Store,
        edition: &Edition,
        site: &SiteSettings,
    ) -> MailResult<Self> {
        let mut content = Self::for_papers(
            store,
            edition.cadence,
            edition.date,
            &edition.paper_ids,
            site,
        )
        .await?;
        content.edition_id = Some(edition.id);
        Ok(content)
    }

    /// Content over the given papers, not stored as an edition (previews, dry runs).
    pub async fn for_papers(
        store: &dyn Store,
        cadence: Cadence,
        date: NaiveDate,
        paper_ids: &[String],
        site: &SiteSettings,
    ) -> MailResult<Self> {
        let papers = load_papers(store, paper_ids, &site.base_url).await?;
        let (subject, heading) = match cadence {
            Cadence::Daily => {
                let day = date.format("%A, %B %-d, %Y");
                (
                    format!("Trending papers for {day}"),
                    format!("Trending papers — {day}"),
                )
            }
            Cadence::Weekly => {
                let monday = IsoWeek::of(date).monday();
                let week = format!("{} {}", monday.format("%B %-d,"), monday.year());
                (
                    format!("Trending papers of the week of {week}"),
                    format!("Trending papers — the week of {week}"),
                )
            }
        };
        Ok(Self {
            edition_id: None,
            cadence,
            date,
            subject: format!("{}: {subject}", site.site_name),
            heading,
            papers,
        })
    }
}

/// Loads papers by base id, in order, as digest items.
pub async fn load_papers(
    store: &dyn Store,
    ids: &[String],
    base_url: &str,
) -> MailResult<Vec<PaperItem>> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let Ok(id) = ArxivId::parse(id) else { continue };
        if let Some(p) = store.paper(&id).await? {
            out.push(PaperItem::from_paper(&p, base_url));
        }
    }
    Ok(out)
}

/// Per-recipient parts of a digest: the links that carry the recipient's secret.
#[derive(Debug, Clone)]
pub struct RecipientLinks {
    /// One-click unsubscribe page.
    pub unsubscribe_url: String,
    /// Where the recipient changes cadence.
    pub preferences_url: String,
}

#[derive(Template)]
#[template(path = "digest.html")]
struct DigestHtml<'a> {
    site_name: &'a str,
    base_url: &'a str,
    heading: &'a str,
    cadence: &'a str,
    papers: &'a [PaperItem],
    for_you: &'a [PaperItem],
    links: &'a RecipientLinks,
}

#[derive(Template)]
#[template(path = "digest.txt")]
struct DigestText<'a> {
    site_name: &'a str,
    base_url: &'a str,
    heading: &'a str,
    cadence: &'a str,
    papers: &'a [PaperItem],
    for_you: &'a [PaperItem],
    links: &'a RecipientLinks,
}

/// Renders a digest: (plain text, HTML).
pub fn render_digest(
    content: &EditionContent,
    for_you: &[PaperItem],
    links: &RecipientLinks,
    site: &SiteSettings,
) -> MailResult<(String, String)> {
    let text = DigestText {
        site_name: &site.site_name,
        base_url: &site.base_url,
        heading: &content.heading,
        cadence: content.cadence.as_str(),
        papers: &content.papers,
        for_you,
        links,
    }
    .render()?;
    let html = DigestHtml {
        site_name: &site.site_name,
        base_url: &site.base_url,
        heading: &content.heading,
        cadence: content.cadence.as_str(),
        papers: &content.papers,
        for_you,
        links,
    }
    .render()?;
    Ok((text, html))
}

#[derive(Template)]
#[template(path = "confirm.html")]
struct ConfirmHtml<'a> {
    site_name: &'a str,
    confirm_url: &'a str,
    cadence: &'a str,
    unsubscribe_url: &'a str,
}

#[derive(Template)]
#[template(path = "confirm.txt")]
struct ConfirmText<'a> {
    site_name: &'a str,
    confirm_url: &'a str,
    cadence: &'a str,
    unsubscribe_url: &'a str,
}

/// Renders the double opt-in email: (plain text, HTML).
pub fn render_confirmation(
    site: &SiteSettings,
    confirm_url: &str,
    cadence: Cadence,
    unsubscribe_url: &str,
) -> MailResult<(String, String)> {
    let text = ConfirmText {
        site_name: &site.site_name,
        confirm_url,
        cadence: cadence.as_str(),
        unsubscribe_url,
    }
    .render()?;
    let html = ConfirmHtml {
        site_name: &site.site_name,
        confirm_url,
        cadence: cadence.as_str(),
        unsubscribe_url,
    }
    .render()?;
    Ok((text, html))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> SiteSettings {
        SiteSettings::new(
            "Paperboy",
            "https://papers.example.org/",
            "digest@example.org",
        )
        .expect("site")
    }

    fn item(title: &str) -> PaperItem {
        PaperItem {
            id: "2510.00001".into(),
            title: title.into(),
            organization: Some("<b>Org</b> & Co".into()),
            authors: "Ada \"Lovelace\"".into(),
            excerpt: "We <script>alert(1)</script> study.".into(),
            upvotes: 42,
            url: "https://papers.example.org/papers/2510.00001?a=1&b=2".into(),
        }
    }

    fn content(papers: Vec<PaperItem>) -> EditionContent {
        EditionContent {
            edition_id: Some(1),
            cadence: Cadence::Daily,
            date: NaiveDate::from_ymd_opt(2025, 10, 29).expect("date"),
            subject: "s".into(),
            heading: "Trending papers".into(),
            papers,
        }
    }

    fn links() -> RecipientLinks {
        RecipientLinks {
            unsubscribe_url: "https://papers.example.org/unsubscribe/abc".into(),
            preferences_url: "https://papers.example.org/unsubscribe/abc/preferences".into(),
        }
    }

    #[test]
    fn every_value_in_the_html_part_is_escaped() {
        let (_, html) = render_digest(
            &content(vec![item("<img src=x onerror=alert(1)>")]),
            &[],
            &links(),
            &site(),
        )
        .expect("render");
        assert!(!html.contains("<img src=x"));
        assert!(!html.contains("<script>"));
        assert!(!html.contains("<b>Org</b>"));
        let lt = |s: &str| s.replace("&#60;", "&lt;").replace("&#62;", "&gt;");
        assert!(lt(&html).contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(html.contains("&#38;b=2") || html.contains("&amp;b=2"));
        assert!(html.contains("style=\""), "inline CSS");
        assert!(
            !html.contains("<style"),
            "no style block: many clients strip it"
        );
    }

    #[test]
    fn the_text_part_has_every_paper_and_the_unsubscribe_link() {
        let (text, html) = render_digest(
            &content(vec![item("First paper"), item("Second paper")]),
            &[item("Recommended paper")],
            &links(),
            &site(),
        )
        .expect("render");
        for needle in [
            "First paper",
            "Second paper",
            "Recommended paper",
            "42",
            "https://papers.example.org/unsubscribe/abc",
        ] {
            assert!(text.contains(needle), "text part lacks {needle}:\n{text}");
            assert!(html.contains(needle), "HTML part lacks {needle}");
        }
        assert!(text.contains("For you"));
        let (text, _) =
            render_digest(&content(vec![item("Only")]), &[], &links(), &site()).expect("render");
        assert!(
            !text.contains("For you"),
            "no section without recommendations"
        );
    }

    #[test]
    fn excerpts_are_cut_at_a_word_and_marked() {
        let long = "word ".repeat(100);
        let e = excerpt(&long, 50);
        assert!(e.ends_with('…'));
        assert!(e.chars().count() <= 51);
        assert_eq!(excerpt("short\n  text", 50), "short text");
    }

    #[test]
    fn the_host_comes_from_the_base_url() {
        let s = SiteSettings::new("P", "http://127.0.0.1:8080/", "a@b.org").expect("site");
        assert_eq!(s.host(), "127.0.0.1");
        assert_eq!(site().host(), "papers.example.org");
        assert!(SiteSettings::new("P", "ftp://x", "a@b.org").is_err());
        assert!(SiteSettings::new("P", "https://x.org", "not an address").is_err());
    }
}
