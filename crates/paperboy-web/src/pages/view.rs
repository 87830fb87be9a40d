//! What templates show of a paper: formatted once here so templates stay simple.

use paperboy_core::Paper;

/// A paper as a card of the daily list.
pub struct Card {
    pub id: String,
    pub title_html: String,
    pub organization: Option<String>,
    pub num_authors: usize,
    pub published: String,
    pub upvotes: i64,
    pub num_comments: i64,
    pub submitter: Option<String>,
}

impl Card {
    pub fn from_paper(p: &Paper) -> Self {
        let org = p.feed.as_ref().and_then(|f| f.organization.as_ref());
        Self {
            id: p.id.base().to_owned(),
            title_html: crate::math::render_text(&p.title),
            organization: org.map(|o| o.fullname.clone()),
            num_authors: p.visible_authors().count(),
            published: p.published_at.format("%b %-d, %Y").to_string(),
            upvotes: p.upvotes,
            num_comments: p.num_comments,
            submitter: p
                .feed
                .as_ref()
                .and_then(|f| f.submitter.as_ref())
                .map(|s| s.fullname.clone()),
        }
    }
}
