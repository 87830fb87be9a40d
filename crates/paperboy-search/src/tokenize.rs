//! BERT uncased WordPiece tokenization (the rules of `bert-base-uncased`'s `tokenizer.json`:
//! special tokens written in the text (`[CLS]`, `[MASK]`, …) kept whole, control and format
//! characters dropped, lower-case, strip accents, split on whitespace, punctuation and CJK
//! characters, then greedy longest-match word pieces). Written here instead of pulling the `tokenizers` crate:
//! the static embedder only needs token ids, and this builds offline with no native code.

use std::collections::HashMap;

/// Id of `[UNK]` in the BERT vocabulary.
pub const UNK_ID: u32 = 100;

/// Words longer than this (in characters) become `[UNK]`, as in BERT.
const MAX_WORD_CHARS: usize = 100;

/// A WordPiece tokenizer over a vocabulary.
#[derive(Debug, Clone)]
pub struct WordPiece {
    ids: HashMap<String, u32>,
}

impl WordPiece {
    /// A tokenizer whose token `i` is `vocab[i]`.
    pub fn new(vocab: &[String]) -> Self {
        let ids = vocab
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();
        Self { ids }
    }

    /// The id of `token` (`[CLS]`, `[SEP]`, a word piece), if it is in the vocabulary.
    pub fn id(&self, token: &str) -> Option<u32> {
        self.ids.get(token).copied()
    }

    /// Token ids of `text` (no `[CLS]`/`[SEP]` around it). A special token written in the
    /// text is that token, as Hugging Face's tokenizer has it.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::new();
        let mut rest = text;
        while let Some((at, token, id)) = SPECIAL
            .iter()
            .filter_map(|t| Some((rest.find(t)?, *t, self.id(t)?)))
            .min_by_key(|x| x.0)
        {
            self.encode_plain(&rest[..at], &mut out);
            out.push(id);
            rest = &rest[at + token.len()..];
        }
        self.encode_plain(rest, &mut out);
        out
    }

    fn encode_plain(&self, text: &str, out: &mut Vec<u32>) {
        let mut piece = String::new();
        for word in basic_words(text) {
            if word.chars().count() > MAX_WORD_CHARS {
                out.push(UNK_ID);
                continue;
            }
            let start_len = out.len();
            let chars: Vec<(usize, char)> = word.char_indices().collect();
            let mut start = 0;
            let mut ok = true;
            while start < chars.len() {
                let mut end = chars.len();
                let mut found = None;
                while start < end {
                    piece.clear();
                    if start > 0 {
                        piece.push_str("##");
                    }
                    let from = chars[start].0;
                    let to = chars.get(end).map_or(word.len(), |c| c.0);
                    piece.push_str(&word[from..to]);
                    if let Some(&id) = self.ids.get(piece.as_str()) {
                        found = Some(id);
                        break;
                    }
                    end -= 1;
                }
                match found {
                    Some(id) => {
                        out.push(id);
                        start = end;
                    }
                    None => {
                        ok = false;
                        break;
                    }
                }
            }
            if !ok {
                out.truncate(start_len);
                out.push(UNK_ID);
            }
        }
    }
}

/// BERT's special tokens, matched as written (case and all) before anything else.
const SPECIAL: &[&str] = &["[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]"];

/// Characters BERT's normalizer drops: NUL, U+FFFD and Unicode's "other" categories (control,
/// format, private use) but tab and line breaks, which are whitespace.
fn is_dropped(c: char) -> bool {
    if matches!(c, '\t' | '\n' | '\r') {
        return false;
    }
    c == '\0'
        || c == '\u{FFFD}'
        || c.is_control()
        || matches!(c as u32,
            0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x08E2 | 0x180E
            | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F
            | 0xFEFF | 0xFFF9..=0xFFFB | 0xE000..=0xF8FF | 0xE0001 | 0xE0020..=0xE007F)
}

fn is_punctuation(c: char) -> bool {
    let cp = c as u32;
    (33..=47).contains(&cp)
        || (58..=64).contains(&cp)
        || (91..=96).contains(&cp)
        || (123..=126).contains(&cp)
        || (c.is_ascii() && c.is_ascii_punctuation())
        || (!c.is_ascii() && is_unicode_punctuation(c))
}

fn is_unicode_punctuation(c: char) -> bool {
    // General category P*: the common blocks (general punctuation, CJK symbols, full-width
    // forms, Latin-1 punctuation). Rare categories outside these fall through as letters.
    matches!(c as u32,
        0x00A1 | 0x00A7 | 0x00AB | 0x00B6 | 0x00B7 | 0x00BB | 0x00BF
        | 0x2010..=0x2027 | 0x2030..=0x205E | 0x3001..=0x3003 | 0x3008..=0x3011
        | 0x3014..=0x301F | 0xFF01..=0xFF0F | 0xFF1A..=0xFF20 | 0xFF3B..=0xFF3D
        | 0xFF3F | 0xFF5B | 0xFF5D | 0xFF5F..=0xFF65)
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x20000..=0x2A6DF | 0xF900..=0xFAFF)
}

/// Strips a combining accent from common Latin letters (NFD + drop marks, for the letters that
/// matter in author names and titles).
fn strip_accent(c: char) -> Option<char> {
    let base = match c {
        'à'..='å' => 'a',
        'ç' => 'c',
        'è'..='ë' => 'e',
        'ì'..='ï' => 'i',
        'ñ' => 'n',
        'ò'..='ö' => 'o',
        'ù'..='ü' => 'u',
        'ý' | 'ÿ' => 'y',
        'ā' | 'ă' | 'ą' => 'a',
        'ć' | 'č' => 'c',
        'ē' | 'ė' | 'ę' | 'ě' => 'e',
        'ğ' => 'g',
        'ī' | 'į' => 'i',
        'ł' => return Some('ł'),
        'ń' | 'ň' => 'n',
        'ō' | 'ő' => 'o',
        'ř' => 'r',
        'ś' | 'š' | 'ş' => 's',
        'ť' | 'ţ' => 't',
        'ū' | 'ů' | 'ű' => 'u',
        'ź' | 'ż' | 'ž' => 'z',
        '\u{0300}'..='\u{036F}' => return None,
        other => other,
    };
    Some(base)
}

/// BERT's basic tokenizer: lower-cased, accent-stripped words and single punctuation marks.
pub fn basic_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        let Some(c) = strip_accent(c) else { continue };
        if is_dropped(c) {
            continue;
        }
        if c.is_whitespace() {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
        } else if is_punctuation(c) || is_cjk(c) {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            words.push(c.to_string());
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab() -> WordPiece {
        let v: Vec<String> = [
            "[PAD]", "un", "##aff", "##able", "the", ",", "runn", "##ing", "cafe",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        WordPiece::new(&v)
    }

    #[test]
    fn words_split_into_longest_known_pieces() {
        let wp = vocab();
        assert_eq!(wp.encode("Unaffable, the running"), [1, 2, 3, 5, 4, 6, 7]);
    }

    #[test]
    fn special_tokens_stay_whole_and_invisible_characters_are_dropped() {
        let v: Vec<String> = ["[PAD]", "[CLS]", "[MASK]", "the", "cafe", "{", "}"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let wp = WordPiece::new(&v);
        assert_eq!(wp.encode("the [CLS]\n{[MASK]}"), [3, 1, 5, 2, 6]);
        assert_eq!(
            wp.encode("the [cls]"),
            [3, UNK_ID, UNK_ID, UNK_ID],
            "only as written"
        );
        assert_eq!(
            wp.encode("ca\u{200b}fe\u{ad} the\u{96}\u{200e}"),
            [4, 3],
            "zero-width, soft hyphen and control characters vanish without splitting"
        );
        assert_eq!(
            wp.encode("the\tthe\r\nthe"),
            [3, 3, 3],
            "but tab and newlines split"
        );
    }

    #[test]
    fn an_unknown_word_becomes_one_unk_and_accents_are_stripped() {
        let wp = vocab();
        assert_eq!(wp.encode("zzz café"), [UNK_ID, 8]);
    }
}
