//! "Did you mean": the known word a misspelt one was most likely meant as, for the DMARC tags
//! and the SPF mechanisms and modifiers alike.

/// The known words closest to `word`, if it looks like a typo of them: at most one edit away
/// (two for words of five letters or more), a swap of neighbours counting as one. Several when
/// they tie; none for a word too short to judge or too far from every known one.
pub fn closest(word: &str, known: &[&'static str]) -> Vec<&'static str> {
    let word = word.to_ascii_lowercase();
    if word.len() < 2 {
        return Vec::new();
    }
    let limit = if word.len() >= 5 { 2 } else { 1 };
    let scored: Vec<(usize, &'static str)> = known
        .iter()
        .map(|&k| (edit_distance(&word, k), k))
        .filter(|&(distance, _)| distance <= limit)
        .collect();
    let best = scored.iter().map(|&(distance, _)| distance).min();
    scored
        .into_iter()
        .filter(|&(distance, _)| Some(distance) == best)
        .map(|(_, k)| k)
        .collect()
}

/// The optimal-string-alignment distance: insertions, deletions, substitutions and swaps of
/// adjacent characters, each costing one. Names are short; longer ones are cut at 64 bytes.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<u8> = a.bytes().take(64).collect();
    let b: Vec<u8> = b.bytes().take(64).collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for (i, row) in d.chunks_mut(width).enumerate() {
        row[0] = i;
    }
    for (j, cell) in d.iter_mut().take(width).enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = best;
        }
    }
    d[a.len() * width + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swaps_and_single_edits_are_typos_and_far_words_are_not() {
        let mechanisms = ["all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"];
        assert_eq!(closest("inlcude", &mechanisms), ["include"]);
        assert_eq!(closest("INCLDE", &mechanisms), ["include"]);
        assert_eq!(closest("ip5", &mechanisms), ["ip4", "ip6"]);
        assert_eq!(closest("policy", &mechanisms), Vec::<&str>::new());
        assert_eq!(closest("x", &mechanisms), Vec::<&str>::new());
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("ab", "ba"), 1);
        assert_eq!(edit_distance(&"x".repeat(1000), "p"), 64);
    }
}
