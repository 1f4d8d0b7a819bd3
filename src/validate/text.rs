//! Names and free text: what a name may hold, what a description may hold, and how a user's
//! value is shown back in a diagnostic (control and invisible characters escaped).

pub(super) fn name_ok(s: &str, max: usize, extra: &[u8]) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.as_bytes()[0].is_ascii_lowercase()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || extra.contains(&b))
}

/// Free text that ends up in comments of line-based files: one line, no control characters,
/// nothing that reorders or hides text on screen.
pub(crate) fn text_ok(s: &str) -> bool {
    s.len() <= 1024 && !s.chars().any(|c| c.is_control() || is_invisible(c))
}

/// Characters that change how surrounding text is displayed without being visible
/// themselves: bidirectional overrides ("Trojan Source"), zero-width characters, line and
/// paragraph separators, the byte order mark.
pub(super) fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}'
    )
}

/// A user value quoted in a diagnostic: control and invisible characters escaped (so a
/// hostile spec cannot drive the terminal), and at most 64 characters.
pub fn show(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == 64 {
            out.push('…');
            break;
        }
        if c.is_control() || is_invisible(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Escape control and invisible characters in a finished diagnostic text.
pub(super) fn clean(s: &str) -> String {
    if s.chars()
        .any(|c| (c.is_control() && c != '\n') || is_invisible(c))
    {
        s.chars()
            .map(|c| {
                if (c.is_control() && c != '\n') || is_invisible(c) {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect()
    } else {
        s.to_string()
    }
}

/// The spec's file name as it appears in generated headers (comments of every file): one
/// line, printable, at most 128 characters.
pub(super) fn safe_spec_name(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_control() || is_invisible(c) {
                '?'
            } else {
                c
            }
        })
        .take(128)
        .collect();
    // It sits inside an HTML comment in README.md.
    while s.contains("--") {
        s = s.replace("--", "-");
    }
    s
}
