//! Redis's glob matching (`KEYS`, `SCAN MATCH`, `PSUBSCRIBE`): `*`, `?`,
//! `[abc]`, `[^a-z]`, `\x` escapes, optionally case-insensitive.

/// Whether `text` matches `pattern` with Redis's `stringmatchlen` rules.
pub fn glob_match(pattern: &[u8], text: &[u8], nocase: bool) -> bool {
    // Nesting of `*` is what makes naive matchers exponential; bound the
    // work by remembering only the last star (classic greedy backtracking),
    // which is complete because every other token matches one byte.
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pattern.get(p) == Some(&b'*') {
            while pattern.get(p) == Some(&b'*') {
                p += 1;
            }
            if p == pattern.len() {
                return true;
            }
            star = Some((p, t));
            continue;
        }
        if p < pattern.len() && t < text.len() {
            if let Some(next) = match_one(pattern, p, text[t], nocase) {
                p = next;
                t += 1;
                continue;
            }
        } else if p == pattern.len() && t == text.len() {
            return true;
        }
        match star {
            Some((sp, st)) if st < text.len() => {
                star = Some((sp, st + 1));
                p = sp;
                t = st + 1;
            }
            _ => return false,
        }
    }
}

/// Matches one byte against the token at `pattern[p]` (not `*`); returns
/// where the pattern continues if it matched.
fn match_one(pattern: &[u8], p: usize, c: u8, nocase: bool) -> Option<usize> {
    let eq = |a: u8, b: u8| {
        if nocase {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    match pattern[p] {
        b'?' => Some(p + 1),
        b'[' => match_class(pattern, p, c, nocase)
            .filter(|(matched, _)| *matched)
            .map(|(_, next)| next),
        // An escaped byte matches itself; a trailing backslash is literal.
        b'\\' if p + 1 < pattern.len() => eq(pattern[p + 1], c).then_some(p + 2),
        literal => eq(literal, c).then_some(p + 1),
    }
}

/// Matches `c` against the class starting at `pattern[p] == b'['`.
/// Returns whether it matched and where the pattern continues.
fn match_class(pattern: &[u8], mut p: usize, c: u8, nocase: bool) -> Option<(bool, usize)> {
    p += 1;
    let negate = pattern.get(p) == Some(&b'^');
    if negate {
        p += 1;
    }
    let lower = |b: u8| if nocase { b.to_ascii_lowercase() } else { b };
    let c = lower(c);
    let mut matched = false;
    loop {
        match pattern.get(p) {
            // An unterminated class ends at the pattern's end, as in Redis.
            None => {
                p -= 1;
                break;
            }
            Some(b']') => break,
            Some(b'\\') if p + 1 < pattern.len() => {
                p += 1;
                if lower(pattern[p]) == c {
                    matched = true;
                }
            }
            Some(&start) if pattern.get(p + 1) == Some(&b'-') && p + 2 < pattern.len() => {
                let end = pattern[p + 2];
                let (mut lo, mut hi) = (lower(start), lower(end));
                if lo > hi {
                    std::mem::swap(&mut lo, &mut hi);
                }
                p += 2;
                if (lo..=hi).contains(&c) {
                    matched = true;
                }
            }
            Some(&b) => {
                if lower(b) == c {
                    matched = true;
                }
            }
        }
        p += 1;
    }
    Some((matched != negate, p + 1))
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    fn check(pattern: &str, text: &str, want: bool) {
        assert_eq!(
            glob_match(pattern.as_bytes(), text.as_bytes(), false),
            want,
            "{pattern:?} vs {text:?}"
        );
    }

    #[test]
    fn redis_glob_rules() {
        check("*", "", true);
        check("*", "anything", true);
        check("h?llo", "hello", true);
        check("h?llo", "hllo", false);
        check("h*llo", "heeeello", true);
        check("h[ae]llo", "hallo", true);
        check("h[ae]llo", "hillo", false);
        check("h[^e]llo", "hallo", true);
        check("h[^e]llo", "hello", false);
        check("h[a-b]llo", "hbllo", true);
        check("h[b-a]llo", "hallo", true);
        check("h\\*llo", "h*llo", true);
        check("h\\*llo", "hello", false);
        check("a*b*c", "aXbYc", true);
        check("a*b*c", "aXbY", false);
        check("*a", "ba", true);
        check("[\\]]", "]", true);
        check("foo*", "foo", true);
        check("", "", true);
        check("", "a", false);
        assert!(glob_match(b"HELLO", b"hello", true));
    }

    #[test]
    fn pathological_pattern_is_fast() {
        let pattern = "a*".repeat(30) + "b";
        let text = "a".repeat(60);
        check(&pattern, &text, false);
    }
}
