//! Diagnostics: user mistakes with a stable code, a span in the spec, and a help line.

use std::fmt::Write as _;
use std::ops::Range;

use annotate_snippets::{Level, Renderer, Snippet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable code, e.g. `E007`; explained in `docs/codes.md` (see [`codes`]).
    pub code: &'static str,
    pub message: String,
    pub span: Option<Range<usize>>,
    /// Short text under the caret.
    pub label: String,
    /// Other places the problem involves (the zone whose subnet this one overlaps, the other
    /// service that publishes the port), each with its label.
    pub also: Vec<(Range<usize>, String)>,
    pub help: Option<String>,
    /// The service the diagnostic is about, when it is about one (a service's `allow` table
    /// can then accept a warning).
    pub service: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            span: None,
            label: String::new(),
            also: Vec::new(),
            help: None,
            service: None,
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    pub fn at(mut self, span: Range<usize>, label: impl Into<String>) -> Self {
        self.span = Some(span);
        self.label = label.into();
        self
    }

    /// A secondary place, rendered with its own label under the main one.
    pub fn also(mut self, span: Range<usize>, label: impl Into<String>) -> Self {
        self.also.push((span, label.into()));
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn help_opt(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Render like a compiler: `error[E007]: ...`, `--> file:line:col`, the source line with
    /// a caret under the span, and the help line.
    pub fn render(&self, origin: &str, source: &str) -> String {
        self.render_in(origin, &SourceText::new(source))
    }

    /// [`Diagnostic::render`] against a source prepared once: rendering many diagnostics of
    /// one spec costs the lines they show, not the whole spec each (2,000 warnings of a
    /// 1 MB spec made `check` quadratic).
    pub fn render_in(&self, origin: &str, src: &SourceText) -> String {
        // Nothing from the spec reaches the terminal raw (escape sequences, bidi overrides).
        let (origin, source) = (&printable(origin), &*src.text);
        let (title, label) = (printable(&self.message), printable(&self.label));
        let level = match self.severity {
            Severity::Error => Level::Error,
            Severity::Warning => Level::Warning,
        };
        let mut message = level.title(&title).id(self.code);
        let truncated: String;
        let also: Vec<(Range<usize>, String)>;
        if let Some(span) = &self.span {
            let span = off_leading_whitespace(source, clamp_span(source, span.clone()));
            // A huge value (a 5 MB string) would be echoed whole with as many carets: the
            // caret marks at most its first 80 characters and the snippet is cut 160
            // characters after it (the line and column stay those of the value).
            let span = shorten(source, span, 80);
            let cut = source[span.end..]
                .char_indices()
                .nth(160)
                .map_or(source.len(), |(i, _)| span.end + i);
            let line_end = source[span.end..]
                .find('\n')
                .map_or(source.len(), |i| span.end + i);
            let shown = if cut < line_end {
                // Only this line is shown from here on, cut with a marker.
                truncated = format!("{}…", &source[..cut]);
                truncated.as_str()
            } else {
                source
            };
            also = self
                .also
                .iter()
                .map(|(s, l)| {
                    let s = off_leading_whitespace(shown, clamp_span(shown, s.clone()));
                    (shorten(shown, s, 80), printable(l))
                })
                .filter(|(s, _)| s.end <= shown.len() && !s.is_empty())
                .collect();
            // The renderer's folding keeps only the lines from the first place to the end of
            // the last one: it is handed just those, with the number of the first, so that
            // rendering many diagnostics of one spec costs the lines they show. (A cut snippet
            // is a prefix of the spec and rare: it is handed whole, as it is.)
            let (line, start, end) = if cut < line_end {
                (1, 0, shown.len())
            } else {
                let lo = also
                    .iter()
                    .map(|(s, _)| s.start)
                    .fold(span.start, usize::min);
                let hi = also.iter().map(|(s, _)| s.end).fold(span.end, usize::max);
                let (line, start) = src.line_start(lo);
                let end = shown[hi..].find('\n').map_or(shown.len(), |i| hi + i);
                (line, start, end)
            };
            if let Some(out) = self.render_simple(
                origin,
                &title,
                &label,
                &shown[start..end],
                line,
                span.start - start..span.end - start,
            ) {
                return out;
            }
            let at = |s: &Range<usize>| s.start - start..s.end - start;
            // Secondary places are underlined with `-` and carry no level prefix (the
            // renderer gives that look to the warning level).
            message = message.snippet(
                Snippet::source(&shown[start..end])
                    .line_start(line)
                    .origin(origin)
                    .fold(true)
                    .annotation(level.span(at(&span)).label(&label))
                    .annotations(
                        also.iter()
                            .map(|(s, l)| Level::Warning.span(at(s)).label(l)),
                    ),
            );
        }
        let help;
        if let Some(h) = &self.help {
            help = printable(h);
            message = message.footer(Level::Help.title(&help));
        }
        let mut out = Renderer::plain().render(message).to_string();
        if self.span.is_none() {
            // Still name the file when there is no precise place.
            let _ = write!(out, "\n  --> {origin}");
        }
        out.push('\n');
        out
    }
}

impl Diagnostic {
    /// The common diagnostic written directly, byte for byte what annotate-snippets' plain
    /// renderer writes for it (its layout pass cost ~60,000 instructions a warning: the
    /// 2,000 warnings of the benchmark's spec cost as much as its validation): one place,
    /// no other places, on one short line of printable ASCII, one-line texts. Anything else
    /// goes through the renderer (`simple_rendering_is_the_renderers` compares the two).
    fn render_simple(
        &self,
        origin: &str,
        title: &str,
        label: &str,
        text: &str,
        line: usize,
        span: Range<usize>,
    ) -> Option<String> {
        let plain = |s: &str| s.bytes().all(|b| (b' '..=b'~').contains(&b));
        let help = self.help.as_deref().map(printable);
        let one_line = |s: &str| !s.contains('\n');
        if !self.also.is_empty()
            || span.is_empty()
            || text.len() > 100
            || text.ends_with(' ')
            || text.contains('\n')
            || !plain(text)
            || !plain(label)
            || label.is_empty()
            || label.starts_with(' ')
            || label.ends_with(' ')
            || !one_line(title)
            || !one_line(origin)
            || !help.as_deref().is_none_or(one_line)
        {
            return None;
        }
        let (level, mark) = match self.severity {
            Severity::Error => ("error", '^'),
            Severity::Warning => ("warning", '-'),
        };
        let num = line.to_string();
        let pad = " ".repeat(num.len());
        let mut out = String::with_capacity(256 + text.len() + title.len());
        let _ = write!(
            out,
            "{level}[{}]: {title}\n{pad}--> {origin}:{line}:{}\n{pad} |\n{num} | {text}\n{pad} | {}",
            self.code,
            span.start + 1,
            " ".repeat(span.start)
        );
        out.extend(std::iter::repeat_n(mark, span.len()));
        let _ = write!(out, " {label}\n{pad} |");
        if let Some(help) = help {
            let _ = write!(out, "\n{pad} = help: {help}");
        }
        out.push('\n');
        Some(out)
    }
}

/// A spec's text made printable once (see [`printable`]), with where its lines start.
pub struct SourceText<'a> {
    /// The source itself when it is printable already (a spec of thousands of services is
    /// not copied once more), else its printable copy.
    text: std::borrow::Cow<'a, str>,
    line_starts: Vec<usize>,
}

impl<'a> SourceText<'a> {
    pub fn new(source: &'a str) -> SourceText<'a> {
        let text = printable_cow(source);
        let line_starts = std::iter::once(0)
            .chain(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1))
            .collect();
        SourceText { text, line_starts }
    }

    /// The 1-based number of the line holding byte `offset`, and where that line starts.
    fn line_start(&self, offset: usize) -> (usize, usize) {
        let n = self.line_starts.partition_point(|&s| s <= offset).max(1);
        (n, self.line_starts[n - 1])
    }
}

/// Replace control characters (but line breaks) and invisible formatting characters by
/// visible ones of the same UTF-8 length, so byte spans and columns stay right. Tabs become
/// spaces: annotate-snippets counts a leading tab 4 columns wide but a tab before the caret
/// 0 wide, and on a long line the difference underflows (a panic in debug builds).
fn printable(s: &str) -> String {
    printable_cow(s).into_owned()
}

/// [`printable`], borrowing `s` when it is printable already.
fn printable_cow(s: &str) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| {
        (c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
            || matches!(c, '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
    };
    // Printable ASCII and line breaks (nearly every spec): a byte scan, not a char decode,
    // a block at a time without an early exit inside it, which the compiler vectorises (a
    // byte at a time, the check of a 2 MB spec was 21 M instructions).
    let ascii = |block: &[u8]| {
        block.iter().fold(true, |ok, &b| {
            ok & ((b == b'\n') | (b' '..b'\x7f').contains(&b))
        })
    };
    if s.as_bytes().chunks(64).all(ascii) {
        return std::borrow::Cow::Borrowed(s);
    }
    if !s.chars().any(bad) && !s.contains(['\r', '\t']) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\t' {
            out.push(' ');
        } else if c == '\r' && chars.peek() != Some(&'\n') || bad(c) {
            out.push(match c.len_utf8() {
                1 => '?',
                2 => '\u{BF}',
                3 => '\u{FFFD}',
                _ => '\u{1F5CB}',
            });
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Where the line holding byte `at` of `text` starts.
pub fn start_of_line(text: &str, at: usize) -> usize {
    text[..at].rfind('\n').map_or(0, |i| i + 1)
}

/// A span that starts in the indentation of its line starts at the line's text instead: the
/// renderer assumes the caret is not left of the indentation when it trims long lines.
fn off_leading_whitespace(source: &str, span: Range<usize>) -> Range<usize> {
    let line_start = start_of_line(source, span.start);
    let line_end = source[span.start..]
        .find('\n')
        .map_or(source.len(), |i| span.start + i);
    let line = &source[line_start..line_end];
    let indent = line.len() - line.trim_start().len();
    if indent < line.len() && span.start < line_start + indent {
        let start = line_start + indent;
        start..span.end.max(start)
    } else {
        span
    }
}

/// Keep a span inside the source and on char boundaries, so rendering can never panic.
fn clamp_span(source: &str, span: Range<usize>) -> Range<usize> {
    let mut start = span.start.min(source.len());
    let mut end = span.end.clamp(start, source.len());
    while !source.is_char_boundary(start) {
        start -= 1;
    }
    while !source.is_char_boundary(end) {
        end += 1;
    }
    start..end
}

/// `span` with at most `max` characters.
fn shorten(source: &str, span: Range<usize>, max: usize) -> Range<usize> {
    let end = source[span.clone()]
        .char_indices()
        .nth(max)
        .map_or(span.end, |(i, _)| span.start + i);
    span.start..end
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = &source[..clamp_span(source, offset..offset).start];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, col)
}

/// One diagnostic code with its one-line title and its long explanation.
#[derive(Debug)]
pub struct CodeDoc {
    pub code: &'static str,
    pub title: &'static str,
    /// Why it matters and what to do (Markdown), as `hardgen explain CODE` prints it.
    pub text: &'static str,
}

/// `docs/codes.md` is the single home of the codes: `hardgen codes`, `hardgen explain` and the
/// test that every emitted code is documented all read it.
const CODES_MD: &str = include_str!("../docs/codes.md");

/// Every diagnostic code hardgen emits, in the order of `docs/codes.md`.
pub fn codes() -> &'static [CodeDoc] {
    static CODES: std::sync::OnceLock<Vec<CodeDoc>> = std::sync::OnceLock::new();
    CODES.get_or_init(|| parse_codes(CODES_MD))
}

fn parse_codes(md: &'static str) -> Vec<CodeDoc> {
    // After the introduction, sections are `## CODE: title` followed by their text.
    md.split("\n## ")
        .skip(1)
        .filter_map(|section| {
            let (head, body) = section.split_once('\n').unwrap_or((section, ""));
            let (code, title) = head.split_once(": ")?;
            Some(CodeDoc {
                code: code.trim(),
                title: title.trim(),
                text: body.trim(),
            })
        })
        .collect()
}

/// The long explanation of a code (case-insensitive), as printed by `hardgen explain`.
pub fn explain(code: &str) -> Option<String> {
    let c = codes()
        .iter()
        .find(|c| c.code.eq_ignore_ascii_case(code.trim()))?;
    Some(format!("{}: {}\n\n{}\n", c.code, c.title, c.text))
}

/// The closest candidate within a distance that scales with the word's length.
pub fn did_you_mean<'a, I>(word: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    did_you_mean_word(word, candidates).map(|c| format!("did you mean `{c}`?"))
}

/// The candidate `word` is probably a misspelling of (edit distance at most a third of its
/// length), if any.
pub fn did_you_mean_word<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let len = word.chars().count();
    // Edit distance is quadratic: a huge word (a hostile spec) gets no suggestion.
    if len > 128 {
        return None;
    }
    let limit = (len / 3).max(1);
    let lower = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .filter(|c| c.chars().count().abs_diff(len) <= limit)
        // Optimal string alignment: a transposition (`fornt`) costs one edit, like a dropped
        // letter (`frnt`).
        .map(|c| (strsim::osa_distance(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_well_formed_and_explained() {
        let mut seen = std::collections::BTreeSet::new();
        assert!(
            codes().len() > 30,
            "docs/codes.md parsed into {} codes",
            codes().len()
        );
        for c in codes() {
            assert!(
                seen.insert(c.code),
                "duplicate code {} in docs/codes.md",
                c.code
            );
            assert!(
                c.code.len() == 4
                    && (c.code.starts_with('E') || c.code.starts_with('W'))
                    && c.code[1..].bytes().all(|b| b.is_ascii_digit()),
                "malformed code heading `{}` in docs/codes.md",
                c.code
            );
            assert!(!c.title.is_empty(), "{}: no title", c.code);
            assert!(
                c.text.contains("What to do"),
                "{}: the explanation must say what to do",
                c.code
            );
        }
        assert!(explain("e007").is_some_and(|t| t.starts_with("E007: unknown zone\n\n")));
        assert!(explain("E999").is_none());
    }

    /// Every code literal in the sources (`"E007"`, `"W101"`) is documented in
    /// docs/codes.md, and every documented code is emitted somewhere: the two cannot drift.
    #[test]
    fn every_emitted_code_is_documented_and_none_is_stale() {
        fn walk(dir: &std::path::Path, found: &mut std::collections::BTreeMap<String, String>) {
            for e in std::fs::read_dir(dir).expect("read src/") {
                let p = e.expect("dir entry").path();
                if p.is_dir() {
                    walk(&p, found);
                } else if p.extension().is_some_and(|x| x == "rs") && !p.ends_with("diagnostic.rs")
                {
                    let text = std::fs::read_to_string(&p).expect("read source");
                    let b = text.as_bytes();
                    for i in 0..b.len().saturating_sub(5) {
                        let lit = &b[i..i + 6];
                        if lit[0] == b'"'
                            && (lit[1] == b'E' || lit[1] == b'W')
                            && lit[2..5].iter().all(u8::is_ascii_digit)
                            && lit[5] == b'"'
                        {
                            let code = String::from_utf8_lossy(&lit[1..5]).into_owned();
                            found.entry(code).or_insert_with(|| p.display().to_string());
                        }
                    }
                }
            }
        }
        let mut emitted = std::collections::BTreeMap::new();
        walk(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut emitted,
        );
        let documented: std::collections::BTreeSet<&str> = codes().iter().map(|c| c.code).collect();
        for (code, file) in &emitted {
            assert!(
                documented.contains(code.as_str()),
                "{file} emits {code}, which docs/codes.md does not explain: add a `## {code}: title` section (why it matters, what to do)"
            );
        }
        for code in &documented {
            assert!(
                emitted.contains_key(*code),
                "docs/codes.md explains {code}, which nothing in src/ emits: remove it or emit it"
            );
        }
    }

    #[test]
    fn did_you_mean_finds_close_names() {
        assert_eq!(
            did_you_mean("dta", ["api", "data"]).as_deref(),
            Some("did you mean `data`?")
        );
        assert_eq!(did_you_mean("zzzzzz", ["api", "data"]), None);
        // Transposed letters are one edit, as dropped letters are.
        for slip in ["fornt", "frnt", "fron", "frotn"] {
            assert_eq!(
                did_you_mean(slip, ["back", "front"]).as_deref(),
                Some("did you mean `front`?"),
                "{slip}"
            );
        }
    }

    #[test]
    fn line_col_counts_chars() {
        let s = "a = 1\nbé = \"x\"\n";
        assert_eq!(line_col(s, 0), (1, 1));
        assert_eq!(line_col(s, 6), (2, 1));
        assert_eq!(line_col(s, 9), (2, 3));
    }

    #[test]
    fn render_sends_no_control_character_to_the_terminal() {
        let src = "a = 1\nx\u{1b}[31m\u{202e} = \u{85}2\n";
        let d = Diagnostic::error("E001", "bad \u{1b}]0;t\u{7}").at(7..8, "here\u{1b}");
        let out = d.render("f\u{1b}.toml", src);
        assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
        assert!(!out.contains('\u{202e}'));
        assert_eq!(printable(src).len(), src.len());
    }

    #[test]
    fn render_never_panics_on_tabs_and_spans_in_indentation() {
        // Found by the fuzzer: a long line indented with tabs, the span in the indentation.
        let line = format!("{}x = 1{}\n", "\t".repeat(60), " y".repeat(100));
        let src = format!("a = 1\n{line}b = 2\n");
        for start in [6, 10, 6 + 60, 6 + 61] {
            let d = Diagnostic::error("E001", "x").at(start..start + 1, "here");
            let out = d.render("f.toml", &src);
            assert!(out.contains("f.toml:2:"), "{out}");
        }
        let spaces = format!("a = 1\n{}x = 1{}\n", " ".repeat(120), " y".repeat(100));
        let d = Diagnostic::error("E001", "x").at(10..11, "a long label here");
        assert!(d.render("f.toml", &spaces).contains("^"));
    }

    #[test]
    fn a_huge_value_is_not_echoed_whole() {
        let big = "a".repeat(5_000_000);
        let src = format!("a = 1\nimage = \"{big}\"\nb = 2\n");
        let d = Diagnostic::error("E029", "x").at(14..14 + big.len(), "invalid image");
        let out = d.render("f.toml", &src);
        assert!(out.len() < 2000, "{} bytes", out.len());
        assert!(out.contains("f.toml:2:9"), "{out}");
        assert!(out.contains("^^^^ invalid image"), "{out}");
    }

    #[test]
    fn many_diagnostics_of_one_source_show_their_own_lines() {
        let src = "a = 1\r\nb = 2\nc = [\n  3,\n  4 ]\nd = 5";
        let at = |s: &str| src.find(s).expect("in source");
        let prepared = SourceText::new(src);
        for (span, place, shown) in [
            (0..1, "f.toml:1:1", "a = 1"),
            (at("b")..at("b") + 1, "f.toml:2:1", "b = 2"),
            (at("[")..at("]") + 1, "f.toml:3:5", "  4 ]"),
            (at("d")..src.len(), "f.toml:6:1", "d = 5"),
        ] {
            let d = Diagnostic::warning("W101", "x").at(span, "here");
            let out = d.render_in("f.toml", &prepared);
            assert_eq!(out, d.render("f.toml", src));
            assert!(out.contains(place) && out.contains(shown), "{out}");
            let others = ["a = 1", "b = 2", "d = 5"]
                .iter()
                .filter(|l| out.contains(*l));
            assert_eq!(others.count(), usize::from(shown != "  4 ]"), "{out}");
        }
    }

    /// The direct rendering of the common diagnostic is the renderer's, byte for byte.
    #[test]
    fn simple_rendering_is_the_renderers() {
        let lines = [
            "a = 1",
            "build = { runtime = \"python\", version = \"3.11\" }",
            "  indented = \"x\"",
            "x",
            "name = \"svc\"   # comment",
        ];
        let mut direct = 0;
        for (n, line) in [1usize, 9, 10, 99, 1751, 123456]
            .into_iter()
            .zip(lines.iter().cycle())
        {
            let src = format!("{}{line}\nnext = 2\n", "#\n".repeat(n - 1));
            let first = src.len() - line.len() - "\nnext = 2\n".len();
            let prepared = SourceText::new(&src);
            for (a, b) in [
                (0, 1),
                (0, line.len()),
                (line.len() - 1, line.len()),
                (1, 3),
            ] {
                if b > line.len() || a >= b {
                    continue;
                }
                for help in [None, Some("do this `x`".to_string())] {
                    for label in ["here", "tag only", "a b"] {
                        for d in [
                            Diagnostic::warning("W101", format!("svc `{line}`: m")),
                            Diagnostic::error("E007", "bad"),
                        ] {
                            let d = d.at(first + a..first + b, label).help_opt(help.clone());
                            let mut via_renderer = d.clone();
                            via_renderer
                                .also
                                .push((usize::MAX..usize::MAX, String::new()));
                            let out = d.render_in("dir/f.toml", &prepared);
                            assert_eq!(out, via_renderer.render_in("dir/f.toml", &prepared));
                            let span = off_leading_whitespace(&src, first + a..first + b);
                            let (l, s) = prepared.line_start(span.start);
                            let text = &src[s..s + line.len()];
                            let shown = d.render_simple(
                                "dir/f.toml",
                                &d.message,
                                label,
                                text,
                                l,
                                span.start - s..span.end - s,
                            );
                            direct += usize::from(shown.is_some());
                        }
                    }
                }
            }
        }
        assert!(direct > 100, "{direct}");
    }

    #[test]
    fn render_never_panics_on_bad_spans() {
        let d = Diagnostic::error("E001", "x").at(100..200, "here");
        let out = d.render("f.toml", "é");
        assert!(out.contains("error[E001]"));
    }
}
