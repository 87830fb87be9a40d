//! Types of the site area: organizations and their members, authorship claims, moderation
//! and password resets.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// An organization as its page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrgProfile {
    /// Row id.
    pub id: i64,
    /// Handle (`/orgs/{name}`).
    pub name: String,
    /// Display name.
    pub fullname: String,
    /// Logo.
    pub avatar_url: Option<String>,
    /// Members on this site.
    pub members: i64,
    /// Papers submitted to the daily list for it.
    pub papers: i64,
}

/// What a member may do in an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OrgRole {
    /// Made it (or was made an administrator of it).
    Admin,
    /// Joined it.
    Member,
}

impl OrgRole {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Member => "member",
        }
    }

    /// Reads the stored text.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Self::Admin),
            "member" => Some(Self::Member),
            _ => None,
        }
    }
}

/// A member of an organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrgMember {
    /// The account.
    pub user_id: i64,
    /// Its handle.
    pub username: String,
    /// Its display name.
    pub fullname: String,
    /// Its picture.
    pub avatar_url: Option<String>,
    /// Role in the organization.
    pub role: OrgRole,
    /// When they joined.
    pub joined_at: DateTime<Utc>,
}

/// Where an authorship claim stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClaimStatus {
    /// Waiting for an administrator.
    Pending,
    /// An administrator agreed.
    Confirmed,
    /// An administrator refused.
    Rejected,
}

impl ClaimStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Confirmed => "confirmed",
            Self::Rejected => "rejected",
        }
    }

    /// Reads the stored text.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "confirmed" => Some(Self::Confirmed),
            "rejected" => Some(Self::Rejected),
            _ => None,
        }
    }
}

/// A user's claim to be the author of that name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthorClaim {
    /// Row id.
    pub id: i64,
    /// The claimant.
    pub user_id: i64,
    /// Their handle.
    pub username: String,
    /// Their display name.
    pub fullname: String,
    /// The author name as claimed.
    pub name: String,
    /// [`crate::author_key`] of the name.
    pub name_key: String,
    /// Where it stands.
    pub status: ClaimStatus,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When an administrator decided.
    pub decided_at: Option<DateTime<Utc>>,
}

/// A paper an administrator hid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HiddenPaper {
    /// Base arXiv id.
    pub id: String,
    /// Title.
    pub title: String,
}

pub(crate) fn corrupt_status(what: &str, s: &str) -> crate::StoreError {
    crate::StoreError::Corrupt(format!("{what} `{s}`"))
}

/// Where a membership stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MembershipStatus {
    /// A member.
    Active,
    /// Asked to join; waiting for an administrator of the organization.
    Requested,
    /// An administrator invited them; waiting for their answer.
    Invited,
}

impl MembershipStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Requested => "requested",
            Self::Invited => "invited",
        }
    }

    /// Reads the stored text.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "requested" => Some(Self::Requested),
            "invited" => Some(Self::Invited),
            _ => None,
        }
    }
}

/// A request to join an organization, or an invitation to, not yet answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingMembership {
    /// The organization.
    pub org_id: i64,
    /// Its handle.
    pub org_name: String,
    /// Its display name.
    pub org_fullname: String,
    /// The account asking or asked.
    pub user_id: i64,
    /// Its handle.
    pub username: String,
    /// Its display name.
    pub fullname: String,
    /// [`MembershipStatus::Requested`] or [`MembershipStatus::Invited`].
    pub status: MembershipStatus,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// A sign-up waiting for the link mailed to its address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSignup {
    /// The username asked for.
    pub username: String,
    /// The display name.
    pub fullname: String,
    /// The address (as [`paperboy_core::Email`] normalizes it).
    pub email: String,
    /// The password's hash.
    pub password_hash: String,
}

pub(crate) fn not_admin() -> crate::StoreError {
    crate::StoreError::Conflict("only an administrator of the organization can do that".into())
}
