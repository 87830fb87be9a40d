//! arXiv identifiers: the new style (`2310.06825`, optionally `v2`) and the old style
//! (`hep-th/9901001`). An [`ArxivId`] always holds a well-formed id.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A well-formed arXiv identifier, with an optional version.
///
/// The *base* id (without version) is what identifies a paper in Paperboy: every version of a
/// paper is the same paper.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ArxivId {
    base: String,
    version: Option<u32>,
}

/// Why a string is not an arXiv id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{input}` is not an arXiv id: expected the new style like `2310.06825` (optionally with a version, `2310.06825v2`) or the old style like `hep-th/9901001`"
)]
pub struct ArxivIdError {
    input: String,
}

impl ArxivIdError {
    fn new(input: &str) -> Self {
        let mut input: String = input.chars().take(64).collect();
        if input.len() < 64 {
            input.shrink_to_fit();
        }
        Self { input }
    }
}

impl ArxivId {
    /// Parses an id such as `2310.06825`, `2310.06825v3`, `arXiv:2310.06825` or
    /// `hep-th/9901001v1`. Surrounding white space is ignored; nothing else is forgiven.
    pub fn parse(input: &str) -> Result<Self, ArxivIdError> {
        let trimmed = input.trim();
        let s = strip_prefix_ci(trimmed, "arxiv:").unwrap_or(trimmed);
        let (body, version) = split_version(s).ok_or_else(|| ArxivIdError::new(input))?;
        if is_new_style(body) || is_old_style(body) {
            Ok(Self {
                base: body.to_owned(),
                version,
            })
        } else {
            Err(ArxivIdError::new(input))
        }
    }

    /// Finds an arXiv id in a query: a bare id, or an arXiv / Hugging Face paper URL
    /// (`https://arxiv.org/abs/2310.06825v2`, `arxiv.org/pdf/2310.06825.pdf`,
    /// `https://huggingface.co/papers/2310.06825`). Returns `None` for anything else.
    pub fn from_id_or_url(input: &str) -> Option<Self> {
        let s = input.trim();
        if let Ok(id) = Self::parse(s) {
            return Some(id);
        }
        let lower = s.to_ascii_lowercase();
        let without_scheme = lower
            .strip_prefix("https://")
            .or_else(|| lower.strip_prefix("http://"))
            .unwrap_or(&lower);
        let without_www = without_scheme
            .strip_prefix("www.")
            .unwrap_or(without_scheme);
        let offset = s.len() - without_www.len();
        for prefix in [
            "arxiv.org/abs/",
            "arxiv.org/pdf/",
            "export.arxiv.org/abs/",
            "huggingface.co/papers/",
            "hf.co/papers/",
        ] {
            if let Some(rest) = without_www.strip_prefix(prefix) {
                let rest = &s[offset + prefix.len()..][..rest.len()];
                let rest = rest.split(['?', '#']).next().unwrap_or(rest);
                let rest = rest.trim_end_matches('/');
                let rest = rest.strip_suffix(".pdf").unwrap_or(rest);
                return Self::parse(rest).ok();
            }
        }
        None
    }

    /// The id without its version: `2310.06825`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The version, when the id named one.
    pub fn version(&self) -> Option<u32> {
        self.version
    }

    /// The same id without a version.
    pub fn without_version(&self) -> Self {
        Self {
            base: self.base.clone(),
            version: None,
        }
    }

    /// The paper's abstract page on arXiv.
    pub fn abs_url(&self) -> String {
        format!("https://arxiv.org/abs/{self}")
    }

    /// The paper's PDF on arXiv.
    pub fn pdf_url(&self) -> String {
        format!("https://arxiv.org/pdf/{self}")
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Splits `…vN` into the body and the version. `None` when a `v` suffix is malformed.
fn split_version(s: &str) -> Option<(&str, Option<u32>)> {
    match s.rfind('v') {
        Some(pos) if pos > 0 && s[..pos].ends_with(|c: char| c.is_ascii_digit()) => {
            let digits = &s[pos + 1..];
            if digits.is_empty()
                || digits.len() > 4
                || !digits.bytes().all(|b| b.is_ascii_digit())
                || digits.starts_with('0')
            {
                return None;
            }
            Some((&s[..pos], Some(digits.parse().ok()?)))
        }
        _ => Some((s, None)),
    }
}

fn valid_yymm(yymm: &str) -> bool {
    let month: u32 = match yymm.get(2..4).and_then(|m| m.parse().ok()) {
        Some(m) => m,
        None => return false,
    };
    yymm.len() == 4 && yymm.bytes().all(|b| b.is_ascii_digit()) && (1..=12).contains(&month)
}

/// `YYMM.NNNN` (April 2007 to December 2014) or `YYMM.NNNNN` (from January 2015).
fn is_new_style(s: &str) -> bool {
    let Some((yymm, number)) = s.split_once('.') else {
        return false;
    };
    if !valid_yymm(yymm) || !number.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let yy: u32 = yymm[..2].parse().unwrap_or(0);
    match number.len() {
        4 => (7..=14).contains(&yy),
        5 => yy >= 15,
        _ => false,
    }
}

/// `archive/YYMMNNN` or `archive.XX/YYMMNNN`, e.g. `hep-th/9901001`, `math.AG/0309136`.
fn is_old_style(s: &str) -> bool {
    let Some((archive, number)) = s.split_once('/') else {
        return false;
    };
    let (name, class) = match archive.split_once('.') {
        Some((name, class)) => (name, Some(class)),
        None => (archive, None),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 16
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-');
    let class_ok = class.is_none_or(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()));
    name_ok
        && class_ok
        && number.len() == 7
        && number.bytes().all(|b| b.is_ascii_digit())
        && valid_yymm(&number[..4])
}

impl fmt::Display for ArxivId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.version {
            Some(v) => write!(f, "{}v{v}", self.base),
            None => f.write_str(&self.base),
        }
    }
}

impl FromStr for ArxivId {
    type Err = ArxivIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for ArxivId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ArxivId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn new_style_ids_parse_with_and_without_version() {
        let id = ArxivId::parse("2310.06825").expect("valid");
        assert_eq!(id.base(), "2310.06825");
        assert_eq!(id.version(), None);
        let id = ArxivId::parse(" arXiv:2310.06825v12 ").expect("valid");
        assert_eq!(id.base(), "2310.06825");
        assert_eq!(id.version(), Some(12));
        assert_eq!(id.to_string(), "2310.06825v12");
        assert!(ArxivId::parse("0704.0001").is_ok());
    }

    #[test]
    fn old_style_ids_parse() {
        let id = ArxivId::parse("hep-th/9901001v2").expect("valid");
        assert_eq!(id.base(), "hep-th/9901001");
        assert_eq!(id.version(), Some(2));
        assert!(ArxivId::parse("math.AG/0309136").is_ok());
        assert!(ArxivId::parse("cond-mat/0011234").is_ok());
    }

    #[test]
    fn malformed_ids_are_rejected_with_a_helpful_message() {
        for bad in [
            "",
            "2310.0682",
            "2310.068255",
            "2313.06825",
            "1401.12345",
            "1501.1234",
            "2310.06825v",
            "2310.06825v0",
            "2310.06825v01",
            "2310-06825",
            "HEP-TH/9901001",
            "hep-th/99010011",
            "hep-th/9913001",
            "../etc/passwd",
            "2310.06825<script>",
            "hep_th/9901001",
            "2310.06825 2310.06826",
        ] {
            let err = ArxivId::parse(bad).expect_err(bad);
            assert!(err.to_string().contains("2310.06825"), "{err}");
        }
    }

    #[test]
    fn ids_are_found_in_arxiv_and_hugging_face_urls() {
        for url in [
            "https://arxiv.org/abs/2310.06825v2",
            "http://www.arxiv.org/pdf/2310.06825.pdf",
            "arxiv.org/abs/2310.06825?context=cs",
            "https://huggingface.co/papers/2310.06825",
            "https://hf.co/papers/2310.06825#community",
        ] {
            let id = ArxivId::from_id_or_url(url).expect(url);
            assert_eq!(id.base(), "2310.06825", "{url}");
        }
        let id = ArxivId::from_id_or_url("https://arxiv.org/abs/hep-th/9901001").expect("old");
        assert_eq!(id.base(), "hep-th/9901001");
        assert!(ArxivId::from_id_or_url("https://example.com/abs/2310.06825").is_none());
        assert!(ArxivId::from_id_or_url("diffusion models").is_none());
    }

    proptest! {
        #[test]
        fn every_well_formed_new_style_id_round_trips(
            yy in 15u32..=99, mm in 1u32..=12, n in 0u32..100_000, v in proptest::option::of(1u32..500)
        ) {
            let text = match v {
                Some(v) => format!("{yy:02}{mm:02}.{n:05}v{v}"),
                None => format!("{yy:02}{mm:02}.{n:05}"),
            };
            let id = ArxivId::parse(&text).expect("well formed");
            prop_assert_eq!(id.to_string(), text);
            prop_assert_eq!(id.version(), v);
        }

        #[test]
        fn parsing_never_panics_and_accepted_ids_reparse_identically(s in "\\PC{0,24}") {
            if let Ok(id) = ArxivId::parse(&s) {
                let again = ArxivId::parse(&id.to_string()).expect("display re-parses");
                prop_assert_eq!(again, id);
            }
        }

        #[test]
        fn old_style_ids_round_trip(
            archive in "[a-z]{2,8}(-[a-z]{2,4})?", yy in 0u32..=99, mm in 1u32..=12, n in 0u32..1000
        ) {
            let text = format!("{archive}/{yy:02}{mm:02}{n:03}");
            let id = ArxivId::parse(&text).expect("well formed");
            prop_assert_eq!(id.base(), text.as_str());
        }
    }
}
