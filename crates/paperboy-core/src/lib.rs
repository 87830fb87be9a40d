//! Paperboy's domain: the types a paper, its authors, the daily feed and the community are made
//! of, and the rules that hold between them. Nothing here does I/O.
//!
//! Values are parsed once at the edge ("parse, don't validate"): holding an [`ArxivId`], a
//! [`DateWindow`], a [`Username`] or an [`Email`] means holding a valid one.

pub mod arxiv_id;
pub mod cache;
pub mod dates;
pub mod highlight;
pub mod paper;
pub mod secret;
pub mod trending;
pub mod user;

pub use arxiv_id::{ArxivId, ArxivIdError};
pub use dates::{DateError, DateWindow, IsoWeek, YearMonth, format_hf_timestamp};
pub use highlight::{Segment, SegmentKind, highlight};
pub use paper::{
    Author, FeedEntry, NewAuthor, NewFeedEntry, NewPaper, OrgRef, Organization, Paper,
    StoredUserRef, UserRef,
};
pub use user::{Email, EmailError, Username, UsernameError};
