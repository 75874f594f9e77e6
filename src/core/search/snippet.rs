//! The part of a message a search result shows, cut into plain text and
//! matches. Segments, not markup: a client renders each as text (the page
//! puts matches in `<mark>` elements it makes itself), so user text is
//! never read as HTML.

use super::fold::fold_char;

/// What a term matches in a text, folded (see `fold`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Needle {
    /// Anywhere.
    Anywhere(Vec<char>),
    /// At the start of a word.
    WordStart(Vec<char>),
}

/// A piece of a snippet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub text: String,
    pub matched: bool,
}

/// Characters of context shown before the first match when the text is cut.
const LEAD: usize = 40;

/// `text` (or, when longer than `max` characters, a window of it around
/// the first match, with "…" where it was cut), with every match of the
/// needles marked. Line breaks become spaces: a snippet is one line.
pub fn snippet(text: &str, needles: &[Needle], max: usize) -> Vec<Segment> {
    let chars: Vec<char> = text.chars().collect();
    // The folded text, and for each folded character the original one it came from.
    let mut folded = Vec::with_capacity(chars.len());
    let mut origin = Vec::with_capacity(chars.len());
    for (i, &c) in chars.iter().enumerate() {
        if let Some(f) = fold_char(c) {
            folded.push(f);
            origin.push(i);
        }
    }
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for needle in needles {
        let (n, word_start) = match needle {
            Needle::Anywhere(n) => (n, false),
            Needle::WordStart(n) => (n, true),
        };
        if n.is_empty() || n.len() > folded.len() {
            continue;
        }
        for at in 0..=folded.len() - n.len() {
            if folded[at..at + n.len()] != n[..] {
                continue;
            }
            if word_start && at > 0 && folded[at - 1].is_alphanumeric() {
                continue;
            }
            let start = origin[at];
            let mut end = origin[at + n.len() - 1] + 1;
            // Marks the fold dropped belong to the last matched letter.
            while end < chars.len() && fold_char(chars[end]).is_none() {
                end += 1;
            }
            spans.push((start, end));
        }
    }
    spans.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
    for (s, e) in spans {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }

    let (from, to) = window(&chars, merged.first().map(|s| s.0), max);
    let mut out = Vec::new();
    let mut push = |text: String, matched: bool| {
        if !text.is_empty() {
            out.push(Segment { text, matched });
        }
    };
    let piece = |a: usize, b: usize| -> String {
        chars[a..b]
            .iter()
            .map(|&c| if c == '\n' || c == '\r' || c == '\t' { ' ' } else { c })
            .collect()
    };
    let mut at = from;
    let mut lead = if from > 0 { "…".to_owned() } else { String::new() };
    for (s, e) in merged {
        let (s, e) = (s.max(from), e.min(to));
        if s >= e {
            continue;
        }
        push(lead + &piece(at, s), false);
        lead = String::new();
        push(piece(s, e), true);
        at = e;
    }
    let tail = if to < chars.len() { "…" } else { "" };
    push(lead + &piece(at, to) + tail, false);
    out
}

/// The characters `[from, to)` to show: all of a short text; of a long one,
/// `max` characters starting a little before the first match (at a word
/// boundary when one is near), or its start.
fn window(chars: &[char], first: Option<usize>, max: usize) -> (usize, usize) {
    if chars.len() <= max {
        return (0, chars.len());
    }
    let Some(first) = first else {
        return (0, max);
    };
    let mut from = first.saturating_sub(LEAD).min(chars.len() - max);
    if from > 0 {
        // Start after a space within the lead, so no word is cut in half.
        if let Some(space) = chars[from..first].iter().position(|c| c.is_whitespace()) {
            from += space + 1;
        }
    }
    (from, (from + max).min(chars.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any(s: &str) -> Needle {
        Needle::Anywhere(s.chars().collect())
    }

    fn show(segs: &[Segment]) -> String {
        segs.iter()
            .map(|s| {
                if s.matched {
                    format!("[{}]", s.text)
                } else {
                    s.text.clone()
                }
            })
            .collect()
    }

    #[test]
    fn marks_matches_in_the_original_text() {
        assert_eq!(
            show(&snippet("Un Café au lait", &[any("cafe")], 200)),
            "Un [Café] au lait"
        );
        assert_eq!(show(&snippet("cafe\u{301}!", &[any("cafe")], 200)), "[cafe\u{301}]!");
        assert_eq!(
            show(&snippet("私は東京に住んでいます", &[any("東京")], 200)),
            "私は[東京]に住んでいます"
        );
        let w = Needle::WordStart("ok".chars().collect());
        assert_eq!(
            show(&snippet("OK, a book is okay", &[w], 200)),
            "[OK], a book is [ok]ay"
        );
        assert_eq!(
            show(&snippet("aaaa", &[any("aa"), any("aaa")], 200)),
            "[aaaa]",
            "overlaps merge"
        );
        assert_eq!(show(&snippet("two\nlines", &[any("lines")], 200)), "two [lines]");
        assert_eq!(show(&snippet("nothing here", &[any("zzz")], 200)), "nothing here");
    }

    #[test]
    fn a_long_text_is_cut_around_the_first_match() {
        let text = format!("{} needle {}", "word ".repeat(100), "tail ".repeat(100));
        let s = show(&snippet(&text, &[any("needle")], 100));
        assert!(s.starts_with("…word"), "{s}");
        assert!(s.contains("[needle]"), "{s}");
        assert!(s.ends_with('…'), "{s}");
        assert!(s.chars().count() <= 104, "{s}");
        let start = show(&snippet(&text, &[any("zzz")], 10));
        assert_eq!(start, "word word …");
    }
}
