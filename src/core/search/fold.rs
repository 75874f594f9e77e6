//! Case and diacritic folding as SQLite's FTS5 tokenizers do it
//! (`remove_diacritics 2`), so the page's highlights mark what the index
//! matched: "Café" and "CAFE" both fold to "cafe".
//!
//! `remove_diacritic` is SQLite's `fts5_remove_diacritic` (public domain),
//! table for table; case folding uses Rust's lowercase mapping, which agrees
//! with SQLite's table wherever a character folds to one character.

/// `c` as the index sees it, or `None` for a combining mark the index
/// drops (an accent written as its own code point).
pub fn fold_char(c: char) -> Option<char> {
    if c.is_ascii() {
        return Some(c.to_ascii_lowercase());
    }
    let mut l = c.to_lowercase();
    let lower = match (l.next(), l.next()) {
        (Some(one), None) => one,
        _ => c,
    };
    let cp = lower as u32;
    if cp >= 0x10000 {
        return Some(lower);
    }
    match remove_diacritic(cp) {
        0 => None,
        base => Some(char::from_u32(base).unwrap_or(lower)),
    }
}

/// `s` folded.
pub fn fold(s: &str) -> String {
    s.chars().filter_map(fold_char).collect()
}

/// The base letter of a Latin letter with diacritics (`é` → `e`), 0 for a
/// combining mark, else `c` itself.
fn remove_diacritic(c: u32) -> u32 {
    const DIA: [u16; 126] = [
        0, 1797, 1848, 1859, 1891, 1928, 1940, 1995, 2024, 2040, 2060, 2110, 2168, 2206, 2264, 2286, 2344, 2383, 2472,
        2488, 2516, 2596, 2668, 2732, 2782, 2842, 2894, 2954, 2984, 3000, 3028, 3336, 3456, 3696, 3712, 3728, 3744,
        3766, 3832, 3896, 3912, 3928, 3944, 3968, 4008, 4040, 4056, 4106, 4138, 4170, 4202, 4234, 4266, 4296, 4312,
        4344, 4408, 4424, 4442, 4472, 4488, 4504, 6148, 6198, 6264, 6280, 6360, 6429, 6505, 6529, 61448, 61468, 61512,
        61534, 61592, 61610, 61642, 61672, 61688, 61704, 61726, 61784, 61800, 61816, 61836, 61880, 61896, 61914, 61948,
        61998, 62062, 62122, 62154, 62184, 62200, 62218, 62252, 62302, 62364, 62410, 62442, 62478, 62536, 62554, 62584,
        62604, 62640, 62648, 62656, 62664, 62730, 62766, 62830, 62890, 62924, 62974, 63032, 63050, 63082, 63118, 63182,
        63242, 63274, 63310, 63368, 63390,
    ];
    // The high bit marks a letter with more than one diacritic (`ấ`):
    // `remove_diacritics 2` folds those too, so it is only masked off here.
    const CHAR: [u8; 126] = *b"\0aceinouyyacdeeghijklnorstuuwyzouaiou\xf5\xe1gko\xefjgn\xe1aeiorusthae\xefo\xefy\0\0\0\0\0\0\0\0ab\xe3dd\xe5e\xe5fghhi\xe9kl\xeclmn\xefpr\xf2rs\xf3tu\xf5vwwxyzhtwya\xe1\xe1\xe1e\xe5\xe5io\xef\xef\xefu\xf5\xf5y";
    let key = (c << 3) | 7;
    // The last entry whose start is at or below `c`.
    let i = DIA.partition_point(|&d| u32::from(d) <= key).saturating_sub(1);
    let d = u32::from(DIA[i]);
    if c > (d >> 3) + (d & 7) {
        c
    } else {
        u32::from(CHAR[i] & 0x7f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_as_the_index_does() {
        assert_eq!(fold("Café"), "cafe");
        assert_eq!(fold("CAFÉ crème brûlée"), "cafe creme brulee");
        assert_eq!(fold("cafe\u{301}"), "cafe", "a combining accent is dropped");
        assert_eq!(fold("Ấn Độ"), "an đo");
        assert_eq!(fold("Straße"), "straße");
        assert_eq!(fold("東京タワー"), "東京タワー");
        assert_eq!(fold("ÅNGSTRÖM"), "angstrom");
        // What SQLite 3.53's unicode61 tokenizer makes of these, word for word.
        assert_eq!(fold("Łódź Ørsted İstanbul"), "łodz ørsted istanbul");
        assert_eq!(fold("ΣΊΣΥΦΟΣ"), "σίσυφοσ");
    }
}
