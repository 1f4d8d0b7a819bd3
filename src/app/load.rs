//! Reading a spec and loading it: the file (or its text at a git revision), toml's shape
//! errors turned into diagnostics, validation, and the diagnostics made printable.

use std::path::{Path, PathBuf};

use crate::diagnostic::{did_you_mean, start_of_line, Diagnostic, SourceText};
use crate::layout::Layout;
use crate::model::Model;
use crate::spec::RawSpec;
use crate::targets::Target;
use crate::{report, spec, validate};

pub struct SpecSource {
    pub path: PathBuf,
    pub text: String,
}

impl SpecSource {
    pub(super) fn origin(&self) -> String {
        self.path.display().to_string()
    }

    pub(super) fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "spec".into())
    }
}

pub fn read_spec(path: &Path, err: &mut dyn std::io::Write) -> Option<SpecSource> {
    match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Some(SpecSource {
                path: path.to_path_buf(),
                text,
            }),
            Err(e) => {
                let _ = writeln!(
                    err,
                    "error: `{}` is not UTF-8 text (invalid byte at offset {})",
                    path.display(),
                    e.utf8_error().valid_up_to()
                );
                None
            }
        },
        Err(e) => {
            let _ = writeln!(err, "error: cannot read spec `{}`: {e}", path.display());
            None
        }
    }
}

/// Turn toml's shape error into a diagnostic, with "did you mean" for unknown keys and
/// enumeration values.
fn toml_diagnostic(e: &toml::de::Error, text: &str) -> Diagnostic {
    let msg = e.message().trim().to_string();
    // toml's message in the spec's words (no `struct RawService`), with a fix when known.
    let (mut title, mut explained_help) = validate::toml_explain(&msg);
    if title == "duplicate key" {
        if let Some(named) = e.span().and_then(|s| duplicate_key(text, s)) {
            title = named;
        }
    }
    let word = e.span().and_then(|s| text.get(s)).unwrap_or("");
    if title == "string values must be quoted"
        && e.span().is_some_and(|s| in_array(text, s.start))
        && word.trim().contains(char::is_whitespace)
    {
        // `[1 2]`: toml reads `1 2` as one bare word; the comma is what is missing.
        title = "array elements must be separated by `,`".into();
        explained_help = Some("in an array, separate the elements with `,`: `[1, 2]`; quote strings: `[\"a\", \"b\"]`".into());
    }
    if let Some((t, help)) = e.span().and_then(|s| unquoted_value(text, s, &msg)) {
        title = t;
        explained_help = Some(help);
    }
    let mut d = Diagnostic::error("E001", title);
    if let Some(span) = e.span() {
        let label = if msg.starts_with("unknown field") {
            "unknown key"
        } else if msg.starts_with("unknown variant") {
            "unknown value"
        } else if msg.starts_with("missing field") {
            "in this table"
        } else if msg.starts_with("invalid type") {
            "wrong type"
        } else {
            "here"
        };
        d = d.at(span, label);
    }
    if let Some(word) =
        between(&msg, "unknown field `", "`").or_else(|| between(&msg, "unknown variant `", "`"))
    {
        let expected: Vec<&str> = msg
            .split_once("expected")
            .map(|(_, rest)| rest.split('`').skip(1).step_by(2).collect())
            .unwrap_or_default();
        d = d.help_opt(did_you_mean(word, expected.iter().copied()).or_else(|| {
            (!expected.is_empty()).then(|| format!("expected one of: {}", expected.join(", ")))
        }));
    }
    if d.help.is_none() {
        d = d.help_opt(explained_help);
    }
    d
}

/// An unquoted string where a value belongs (`image = nginx`, `ports = [http]`, `at = 08:00`):
/// toml's parser reads a bare word starting with `t`, `f`, `i` or `n` as a misspelt boolean
/// or float, and `08:00` as a time (a date-time value serde sees as a table). Said as what it
/// is, with the quoted form of the user's own value as the fix.
fn unquoted_value(text: &str, span: std::ops::Range<usize>, msg: &str) -> Option<(String, String)> {
    let word = text.get(span.clone())?.trim();
    let bare = word.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && !word.contains(|c: char| c.is_whitespace() || "\"'[]{},=#".contains(c))
        && (msg.starts_with("invalid boolean")
            || msg.starts_with("invalid float")
            || msg.starts_with("string values must be quoted"));
    let datetime = msg.starts_with("invalid type: map")
        && word.starts_with(|c: char| c.is_ascii_digit())
        && word.contains([':', '-'])
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ":-.+ ".contains(c));
    if !bare && !datetime {
        return None;
    }
    let line_start = start_of_line(text, span.start);
    let key = text[line_start..span.start]
        .split_once('=')
        .map(|(k, _)| k.trim())
        .filter(|k| !k.is_empty() && !k.contains('['))?;
    let title = if datetime {
        "a date or time where a string belongs: string values must be quoted"
    } else {
        "string values must be quoted"
    };
    let fix = if in_array(text, span.start) {
        format!("quote each string of the array: `{key} = [\"{word}\", ...]`")
    } else {
        format!("quote it: `{key} = \"{word}\"`")
    };
    Some((title.into(), fix))
}

/// toml names neither the duplicate key nor its table: `duplicate key `image` in table
/// `services.api``, `duplicate table `[project]``, from the key's place in the spec.
fn duplicate_key(text: &str, span: std::ops::Range<usize>) -> Option<String> {
    let key = text.get(span.clone())?.trim();
    let line_start = start_of_line(text, span.start);
    let before = text[line_start..span.start].trim();
    if before.starts_with('[') {
        // A table header (`[project]`, `[services.api]`) seen twice.
        let line_end = text[span.start..]
            .find('\n')
            .map_or(text.len(), |i| span.start + i);
        let header = text[line_start..line_end].split('#').next()?.trim();
        return Some(format!("duplicate table `{header}`"));
    }
    if !before.is_empty() {
        // Inside an inline table or after a dotted key's parent: the key alone.
        return Some(format!("duplicate key `{key}`"));
    }
    let table = text[..line_start].lines().rev().find_map(|l| {
        let l = l.split('#').next().unwrap_or("").trim();
        l.starts_with('[')
            .then(|| l.trim_matches(['[', ']', ' ']).to_string())
    });
    Some(match table {
        Some(t) => format!("duplicate key `{key}` in table `{t}`"),
        None => format!("duplicate key `{key}` in document root"),
    })
}

/// Whether `at` is inside an array opened on its line (`x = [1 2]`).
fn in_array(text: &str, at: usize) -> bool {
    let Some(before) = text.get(..at) else {
        return false;
    };
    let line = &before[start_of_line(before, at)..];
    line.split_once('=')
        .is_some_and(|(_, v)| v.matches('[').count() > v.matches(']').count())
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = s.split_once(start)?.1;
    Some(rest.split_once(end)?.0)
}

/// Parse and validate; print diagnostics; the model only when there is no error.
pub fn load(src: &SpecSource, strict: bool, err: &mut dyn std::io::Write) -> Option<Model> {
    load_full(
        src,
        LoadOptions {
            strict,
            warnings: true,
            ..LoadOptions::default()
        },
        err,
    )
    .map(|(m, _)| m)
}

/// What the closing error line says: only a command that would write says nothing was written.
fn nothing_written(origin: &str, problem: &str, writes: bool) -> String {
    if writes {
        format!("error: `{origin}` {problem}; nothing was written")
    } else {
        format!("error: `{origin}` {problem}")
    }
}

/// What [`load_full`] does besides parsing and validating.
#[derive(Clone, Copy, Default)]
pub struct LoadOptions {
    pub strict: bool,
    /// Also check what this target cannot express (the restricted Pod Security Standard of
    /// kubernetes), reported against the spec like every other error.
    pub target: Option<Target>,
    /// Print the warnings (the posture review compares two specs and would repeat each one's).
    pub warnings: bool,
    /// The command writes files: its closing error line says nothing was written.
    pub writes: bool,
    /// Find the spec lines of the relaxations, for the compliance report (`report` and the
    /// posture review; `build` and `diff` find them while rendering, see `Before::Spec`, and
    /// `check` renders no report).
    pub lines: bool,
}

/// A spec parsed and validated, its diagnostics not printed yet.
pub(super) struct Parsed {
    /// The spec as read, once its shape errors were set aside (`None` when it did not parse).
    pub(super) raw: Option<RawSpec>,
    /// The model, only when the spec is valid (for the target asked).
    pub(super) model: Option<Model>,
    pub(super) diagnostics: Diagnostics,
}

/// Every diagnostic of a spec, with what decides how they are printed.
pub(super) struct Diagnostics {
    list: Vec<Diagnostic>,
    /// What the target cannot express: errors printed after the spec's own.
    problems: Vec<Diagnostic>,
    origin: String,
    errors: usize,
    shape_errors: usize,
    opts: LoadOptions,
}

/// Parse and validate, every problem in one run: shape errors (unknown keys, wrong types)
/// and, for what remains of the spec, every validation problem.
pub(super) fn parse(src: &SpecSource, opts: LoadOptions) -> Parsed {
    let mut shape = spec::parse_collecting(&src.text);
    let mut list: Vec<Diagnostic> = shape
        .errors
        .iter()
        .map(|e| toml_diagnostic(e, &src.text))
        .collect();
    let shape_errors = list.len();
    let model = match shape.raw {
        Some(ref mut raw) => {
            let v = validate::Options {
                strict: opts.strict,
                spec_dir: Some(Layout::spec_dir_of(&src.path)),
            };
            let (mut model, found) = validate::validate(raw, &src.name(), &v);
            list.extend(
                found
                    .into_iter()
                    .filter(|d| !d.span.as_ref().is_some_and(|s| shape.set_aside.contains(s))),
            );
            // Learned seccomp profiles: read next to the spec (or at the revision it was
            // read at), their problems reported with the rest.
            let (learned, learn_diags) =
                crate::learn::load(raw, &crate::learn::Source::of(&src.path));
            if !learn_diags.is_empty() {
                list.extend(learn_diags);
                model = None;
            }
            if let Some(m) = model.as_mut() {
                crate::learn::attach(m, &learned);
            }
            model.filter(|_| shape_errors == 0)
        }
        None => None,
    };
    list.sort_by_key(|d| d.span.as_ref().map_or(usize::MAX, |s| s.start));
    let errors = list.iter().filter(|d| d.is_error()).count();
    let problems = match (opts.target, &shape.raw, &model) {
        (Some(target), Some(raw), Some(model)) => validate::targets::check(raw, model, target),
        _ => Vec::new(),
    };
    Parsed {
        model: model.filter(|_| problems.is_empty()),
        raw: shape.raw,
        diagnostics: Diagnostics {
            list,
            problems,
            origin: src.origin(),
            errors,
            shape_errors,
            opts,
        },
    }
}

impl Diagnostics {
    /// The diagnostics as printed, with the closing error line when there are errors.
    pub(super) fn text(&self, spec_text: &str) -> String {
        let (origin, writes) = (self.origin.as_str(), self.opts.writes);
        // Made printable and indexed once for all the diagnostics (each shows only its
        // lines), and all written at once (2,000 warnings were 2,000 writes).
        let shown: Vec<&Diagnostic> = self
            .list
            .iter()
            .filter(|d| self.opts.warnings || d.is_error())
            .collect();
        let quiet = shown.is_empty() && self.problems.is_empty();
        let source = SourceText::new(if quiet { "" } else { spec_text });
        let mut text = String::new();
        for d in shown {
            text.push_str(&d.render_in(origin, &source));
        }
        let errors = self.errors;
        if errors > 1 || errors > self.shape_errors {
            let problem = format!("has {errors} error{}", if errors == 1 { "" } else { "s" });
            text.push_str(&nothing_written(origin, &problem, writes));
            text.push('\n');
        } else if errors > 0 {
            text.push_str(&nothing_written(origin, "is invalid", writes));
            text.push('\n');
        }
        if let Some(target) = self.opts.target.filter(|_| !self.problems.is_empty()) {
            for d in &self.problems {
                text.push_str(&d.render_in(origin, &source));
            }
            let problem = format!("cannot be rendered for {}", target.name());
            text.push_str(&nothing_written(origin, &problem, writes));
            text.push('\n');
        }
        text
    }
}

/// The model and, with `opts.lines`, the spec lines of its relaxations (for the compliance
/// report; empty without), after printing the diagnostics.
pub fn load_full(
    src: &SpecSource,
    opts: LoadOptions,
    err: &mut dyn std::io::Write,
) -> Option<(Model, report::Lines)> {
    let parsed = parse(src, opts);
    let _ = err.write_all(parsed.diagnostics.text(&src.text).as_bytes());
    let lines = match (&parsed.raw, &parsed.model) {
        (Some(raw), Some(_)) if opts.lines => report::Lines::from_spec(raw, &src.text),
        _ => report::Lines::default(),
    };
    Some((parsed.model?, lines))
}

/// The spec file as it was at a git revision.
pub fn read_spec_at(path: &Path, rev: &str, err: &mut dyn std::io::Write) -> Option<SpecSource> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    if rev.starts_with('-') || rev.contains(':') {
        let _ = writeln!(err, "error: `{rev}` is not a git revision");
        return None;
    }
    let output = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .arg("show")
        .arg(format!("{rev}:./{file}"))
        .output();
    match output {
        Ok(o) if o.status.success() => match String::from_utf8(o.stdout) {
            Ok(text) => Some(SpecSource {
                path: PathBuf::from(format!("{}@{rev}", path.display())),
                text,
            }),
            Err(_) => {
                let _ = writeln!(
                    err,
                    "error: `{}` at {rev} is not UTF-8 text",
                    path.display()
                );
                None
            }
        },
        Ok(o) => {
            let _ = writeln!(
                err,
                "error: cannot read `{}` at git revision `{rev}`: {}",
                path.display(),
                String::from_utf8_lossy(&o.stderr).trim()
            );
            None
        }
        Err(e) => {
            let _ = writeln!(
                err,
                "error: cannot run git to read `{}` at `{rev}`: {e}",
                path.display()
            );
            None
        }
    }
}
