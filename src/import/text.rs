//! The text import writes: TOML values, names hardgen accepts, Compose's command, size and
//! duration forms in hardgen's, and the commented lines of the spec being written.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::compose_in::Cmd;

pub(super) fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

pub(super) fn toml_list(items: &[String]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|s| toml_str(s))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// A name hardgen accepts: lower case, `[a-z0-9_-]` (and `.` where allowed), starting with a
/// letter, at most `max` characters.
pub(super) fn sanitize(name: &str, max: usize, extra: &[char], prefix: &str) -> String {
    let mut s: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || extra.contains(&c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
        s = format!("{prefix}{s}");
    }
    s.truncate(max);
    s
}

/// Compose's string form of `command`: split into words like a shell would, without running
/// one (quotes and backslashes handled).
pub(super) fn shell_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                    in_word = true;
                }
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

pub(super) fn argv(c: &Cmd) -> Vec<String> {
    match c {
        Cmd::Exec(v) => v.clone(),
        Cmd::Shell(s) => shell_words(s),
    }
}

/// A word for `sh -c`, single-quoted unless plain.
pub(super) fn sh_quote(w: &str) -> String {
    if !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c))
    {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', "'\\''"))
    }
}

/// Compose sizes (`512m`, `1G`, `1gb`, `512MiB`, bytes) in hardgen's form.
pub(super) fn size(s: &str) -> Option<String> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.trim_end_matches("ib").trim_end_matches('b');
    let (num, unit) = match t.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => (&t[..i], &t[i..]),
        None => (t, ""),
    };
    let n: f64 = num.parse().ok()?;
    let bytes = match unit {
        "" => n,
        "k" => n * 1024.0,
        "m" => n * 1024.0 * 1024.0,
        "g" => n * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let mib = (bytes / (1024.0 * 1024.0)).ceil() as u64;
    if mib == 0 {
        return None;
    }
    Some(if mib % 1024 == 0 {
        format!("{}g", mib / 1024)
    } else {
        format!("{mib}m")
    })
}

/// Compose durations (`1m30s`, `500ms`, `10s`) in hardgen's one-unit form.
pub(super) fn duration(s: &str) -> Option<String> {
    let mut ms: u64 = 0;
    let mut num = String::new();
    let mut chars = s.trim().chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num.parse().ok()?;
        num.clear();
        let unit = match (c, chars.peek()) {
            ('m', Some('s')) => {
                chars.next();
                1
            }
            ('h', _) => 3_600_000,
            ('m', _) => 60_000,
            ('s', _) => 1000,
            _ => return None,
        };
        ms += n * unit;
    }
    if !num.is_empty() {
        ms += num.parse::<u64>().ok()? * 1000;
    }
    if ms == 0 {
        return None;
    }
    Some(if ms % 1000 != 0 {
        format!("{ms}ms")
    } else if ms % 60_000 == 0 {
        format!("{}m", ms / 60_000)
    } else {
        format!("{}s", ms / 1000)
    })
}

/// The `TODO:` notes in one comment: a comment may carry a decision and, after it, a TODO
/// (`import: ...; TODO: ...`), or several.
fn todos_in(comment: &str) -> usize {
    comment.matches("TODO:").count()
}

#[derive(Default)]
pub(super) struct Doc {
    pub(super) text: String,
    pub(super) todos: usize,
    /// Where the spec is written: build contexts are relative to its directory.
    pub(super) spec_dir: Option<PathBuf>,
}

impl Doc {
    pub(super) fn line(&mut self, s: &str, comment: Option<String>) {
        match comment {
            Some(c) => {
                self.todos += todos_in(&c);
                let pad = 40usize.saturating_sub(s.chars().count()).max(1);
                let _ = writeln!(self.text, "{s}{}# {c}", " ".repeat(pad));
            }
            None => {
                let _ = writeln!(self.text, "{s}");
            }
        }
    }
    pub(super) fn comment(&mut self, c: &str) {
        self.todos += todos_in(c);
        let _ = writeln!(self.text, "# {c}");
    }
    pub(super) fn blank(&mut self) {
        self.text.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(
            shell_words("a 'b c' \"d\\\"e\" f\\ g"),
            vec!["a", "b c", "d\"e", "f g"]
        );
        assert_eq!(size("512M").as_deref(), Some("512m"));
        assert_eq!(size("1gb").as_deref(), Some("1g"));
        assert_eq!(size("1.5g").as_deref(), Some("1536m"));
        assert_eq!(size("268435456").as_deref(), Some("256m"));
        assert_eq!(duration("1m30s").as_deref(), Some("90s"));
        assert_eq!(duration("500ms").as_deref(), Some("500ms"));
        assert_eq!(duration("2m").as_deref(), Some("2m"));
        assert_eq!(sanitize("My_App.1", 20, &['_'], "x-"), "my_app-1");
    }
}
