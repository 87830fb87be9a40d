//! Highlighted text for search results: a text cut into plain and highlighted segments, the
//! shape of huggingface.co's `highlightedTitle` / `highlightedSummary`. Shared by the API and
//! the search engine.

use serde::Serialize;

/// Whether a segment is plain or a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SegmentKind {
    /// Plain text.
    Text,
    /// Text that matched the query.
    Highlight,
}

/// A piece of a highlighted text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Segment {
    /// Plain or highlighted.
    #[serde(rename = "type")]
    pub kind: SegmentKind,
    /// The text of the piece.
    pub text: String,
}

/// Cuts `text` into segments, highlighting every case-insensitive occurrence of any of
/// `words`. Concatenating the segments' texts gives `text` back; adjacent matches merge.
pub fn highlight(text: &str, words: &[String]) -> Vec<Segment> {
    let lower: Vec<(usize, char)> = text.char_indices().collect();
    // Lowercase per char keeps byte offsets of `text` (a char whose lowercase is longer is
    // compared by its lowercased form but spans its own bytes).
    let folded: Vec<String> = lower
        .iter()
        .map(|(_, c)| c.to_lowercase().collect())
        .collect();
    let words: Vec<Vec<String>> = words
        .iter()
        .filter(|w| !w.is_empty())
        .map(|w| w.chars().map(|c| c.to_lowercase().collect()).collect())
        .collect();
    let mut marked = vec![false; lower.len()];
    for w in &words {
        if w.len() > folded.len() {
            continue;
        }
        for start in 0..=folded.len() - w.len() {
            if folded[start..start + w.len()] == w[..] {
                marked[start..start + w.len()]
                    .iter_mut()
                    .for_each(|m| *m = true);
            }
        }
    }
    let mut segments: Vec<Segment> = Vec::new();
    let mut i = 0;
    while i < lower.len() {
        let kind = marked[i];
        let mut j = i;
        while j < lower.len() && marked[j] == kind {
            j += 1;
        }
        let from = lower[i].0;
        let to = lower.get(j).map_or(text.len(), |(b, _)| *b);
        segments.push(Segment {
            kind: if kind {
                SegmentKind::Highlight
            } else {
                SegmentKind::Text
            },
            text: text[from..to].to_owned(),
        });
        i = j;
    }
    segments
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn w(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn matches_are_highlighted_case_insensitively() {
        let s = highlight("Attention is all you need, ATTENTION!", &w(&["attention"]));
        let kinds: Vec<_> = s.iter().map(|s| (s.kind, s.text.as_str())).collect();
        assert_eq!(
            kinds,
            [
                (SegmentKind::Highlight, "Attention"),
                (SegmentKind::Text, " is all you need, "),
                (SegmentKind::Highlight, "ATTENTION"),
                (SegmentKind::Text, "!"),
            ]
        );
    }

    #[test]
    fn no_words_is_one_plain_segment() {
        assert_eq!(highlight("abc", &[]).len(), 1);
        assert!(highlight("", &w(&["a"])).is_empty());
    }

    proptest! {
        #[test]
        fn segments_concatenate_to_the_text(text in "\\PC{0,60}", word in "\\PC{0,4}") {
            let s = highlight(&text, &[word]);
            let joined: String = s.iter().map(|s| s.text.as_str()).collect();
            prop_assert_eq!(joined, text);
        }
    }
}
