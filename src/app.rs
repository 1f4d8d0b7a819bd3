//! One function per subcommand, orchestrating the pipeline:
//! spec -> validate -> plan -> render -> write/compare.

use std::path::{Path, PathBuf};

use crate::artifact::{Artifact, Artifacts, Sink, Split};
use crate::diagnostic::{did_you_mean, start_of_line, Diagnostic, SourceText};
use crate::layout::Layout;
use crate::model::Model;
use crate::output::{self, WriteError};
use crate::spec::RawSpec;
use crate::targets::Target;
use crate::{diff, plan, posture, render, report, spec, validate};

/// How a command ended; `main` turns it into the exit code.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Ok,
    /// Exit 1: differences found.
    Differs,
    /// Exit 2: invalid spec, usage or I/O error (already reported on stderr).
    Failed,
}

pub struct SpecSource {
    pub path: PathBuf,
    pub text: String,
}

impl SpecSource {
    fn origin(&self) -> String {
        self.path.display().to_string()
    }

    fn name(&self) -> String {
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
struct Parsed {
    /// The spec as read, once its shape errors were set aside (`None` when it did not parse).
    raw: Option<RawSpec>,
    /// The model, only when the spec is valid (for the target asked).
    model: Option<Model>,
    diagnostics: Diagnostics,
}

/// Every diagnostic of a spec, with what decides how they are printed.
struct Diagnostics {
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
fn parse(src: &SpecSource, opts: LoadOptions) -> Parsed {
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
    fn text(&self, spec_text: &str) -> String {
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

pub fn artifacts(
    model: &Model,
    target: Target,
    layout: &Layout,
    err: &mut dyn std::io::Write,
) -> Option<Artifacts> {
    artifacts_with_report(model, &report::Lines::default(), target, layout, err)
}

/// The artifacts of a target, with the compliance report (Markdown and HTML) among them.
pub fn artifacts_with_report(
    model: &Model,
    lines: &report::Lines,
    target: Target,
    layout: &Layout,
    err: &mut dyn std::io::Write,
) -> Option<Artifacts> {
    let mut a = Artifacts::new();
    render_into(model, lines, target, layout, &mut a, err).then_some(a)
}

/// Render the artifacts of a target and the compliance report into `sink`, each handed over
/// as it is rendered; false (after saying why) on a render bug.
pub fn render_into<S: Split>(
    model: &Model,
    lines: &report::Lines,
    target: Target,
    layout: &Layout,
    sink: &mut S,
    err: &mut dyn std::io::Write,
) -> bool {
    let done = render_both(model, Before::Nothing(lines), target, layout, sink, err);
    said(done, err)
}

/// `build` and `diff`: render a valid spec's artifacts and compliance report into `sink`, its
/// diagnostics printed meanwhile (see [`Before::Spec`]); false after saying a render bug.
fn render_valid<S: Split>(
    model: &Model,
    read: Read,
    target: Target,
    layout: &Layout,
    sink: &mut S,
    err: &mut dyn std::io::Write,
) -> bool {
    let done = render_both(
        model,
        Before::Spec(Box::new(read)),
        target,
        layout,
        sink,
        err,
    );
    said(done, err)
}

/// Say a render bug; whether there was none.
fn said(done: Result<(), render::RenderBug>, err: &mut dyn std::io::Write) -> bool {
    match done {
        Ok(()) => true,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            false
        }
    }
}

/// What the second thread of [`render_both`] does before its half of the rendering, while
/// the first makes the plan.
enum Before<'a> {
    /// Nothing: the report's spec lines are at hand.
    Nothing(&'a report::Lines),
    /// Make the spec's diagnostics printable and find the report's spec lines (`build` and
    /// `diff`: at 1,000 services, 2,000 warnings and 1,000 services' lines, about as much
    /// work as the plan), then free what was read (at 5,000 services some 12 MB: the spec,
    /// its raw form, the warnings) before rendering.
    Spec(Box<Read>),
}

/// What the rendering of a valid spec still needs of what was read.
struct Read {
    raw: RawSpec,
    text: String,
    diagnostics: Diagnostics,
}

/// Render the artifacts of a target and the compliance report into `sink`, each handed over
/// as it is rendered; with `Before::Spec`, print the diagnostics to `err` (before the
/// compliance report is rendered).
///
/// On two threads: this one makes the plan and renders the target's deployment and the
/// compliance report while a second does what `before` asks and then renders what is per
/// image (the Falco rules, the Dockerfiles) into a part of `sink` (`artifact::Split`), joined
/// when both are done. At 1,000 services (callgrind, `build --check`) this thread's half is
/// 94 M instructions (plan 14 M, deployment 66 M, report 12 M) and the second's 93 M
/// (diagnostics and spec lines 24 M, per image 69 M); before the second took the
/// diagnostics and lines, they ran on this thread ahead of the plan and the halves were
/// 118 M and 69 M (bench/profile-notes.md, "The second thread takes the diagnostics").
fn render_both<S: Split>(
    model: &Model,
    before: Before<'_>,
    target: Target,
    layout: &Layout,
    sink: &mut S,
    err: &mut dyn std::io::Write,
) -> Result<(), render::RenderBug> {
    use std::sync::{mpsc, OnceLock};
    // Made by this thread, read by both; the second waits for the renderer on a channel
    // whose sender this thread drops on a panic (no thread is left waiting).
    let plan_cell = OnceLock::new();
    let renderer_cell = OnceLock::new();
    let mut part = sink.part();
    let done = std::thread::scope(|scope| {
        let (ready_tx, ready_rx) = mpsc::channel::<()>();
        let (read_tx, read_rx) = mpsc::channel::<(report::Lines, String)>();
        let lines = match before {
            Before::Nothing(lines) => Some(lines),
            Before::Spec(_) => None,
        };
        let (renderer_of, part) = (&renderer_cell, &mut part);
        let second = scope.spawn(move || {
            if let Before::Spec(read) = before {
                // Each part freed once done with (the raw spec is the largest).
                let Read {
                    raw,
                    text,
                    diagnostics,
                } = *read;
                let lines = report::Lines::from_spec(&raw, &text);
                drop(raw);
                let printed = diagnostics.text(&text);
                drop((text, diagnostics));
                let _ = read_tx.send((lines, printed));
            }
            drop(read_tx);
            match ready_rx.recv() {
                Ok(()) => {
                    let renderer: &render::Renderer = renderer_of.get().expect("sent when set");
                    renderer.per_image(part)
                }
                // The first thread panicked: it is reported when the scope ends.
                Err(_) => Ok(()),
            }
        });
        let plan = plan_cell.get_or_init(|| plan::plan(model, layout));
        let renderer = renderer_cell.get_or_init(|| render::Renderer::new(plan, target));
        let _ = ready_tx.send(());
        let deployment = renderer.deployment(sink);
        let found;
        let lines = match lines {
            Some(lines) => lines,
            None => {
                // Nothing only if the second thread panicked, which its join reports.
                let (lines, printed) = read_rx.recv().unwrap_or_default();
                let _ = err.write_all(printed.as_bytes());
                found = lines;
                &found
            }
        };
        let m = report::matrix(plan, lines, target);
        let header = renderer.header();
        // Both handed over a row at a time (5.4 MB of HTML at 5,000 services).
        let out: &mut dyn Sink = sink;
        let mut md = out.stream("compliance.md", 0o644);
        let rest = report::markdown(&m, header, &mut |text| md.offer(text));
        md.finish(rest);
        let mut html = out.stream("compliance.html", 0o644);
        let rest = report::html(&m, header, &mut |text| html.offer(text));
        html.finish(rest);
        let rest = second
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        deployment.and(rest)
    });
    sink.join(part);
    done
}

pub fn default_out(spec: &Path, target: Target) -> PathBuf {
    let stem = spec
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "deployment".into());
    match target {
        Target::Compose => Path::new("deploy").join(stem),
        t => Path::new("deploy").join(format!("{stem}-{}", t.name())),
    }
}

/// A valid spec's model, and what its rendering still needs of what was read (see
/// [`Before::Spec`]); otherwise its diagnostics printed.
fn valid(src: SpecSource, parsed: Parsed, err: &mut dyn std::io::Write) -> Option<(Model, Read)> {
    let Parsed {
        raw,
        model,
        diagnostics,
    } = parsed;
    match (model, raw) {
        (Some(model), Some(raw)) => Some((
            model,
            Read {
                raw,
                text: src.text,
                diagnostics,
            },
        )),
        _ => {
            let _ = err.write_all(diagnostics.text(&src.text).as_bytes());
            None
        }
    }
}

pub fn build(
    spec_path: &Path,
    out: Option<&Path>,
    strict: bool,
    target: Target,
    check: bool,
    err: &mut dyn std::io::Write,
) -> Outcome {
    let Some(src) = read_spec(spec_path, err) else {
        return Outcome::Failed;
    };
    let parsed = parse(
        &src,
        LoadOptions {
            strict,
            target: Some(target),
            warnings: true,
            writes: true,
            ..LoadOptions::default()
        },
    );
    let Some((model, read)) = valid(src, parsed, err) else {
        return Outcome::Failed;
    };
    let out = out.map_or_else(|| default_out(spec_path, target), Path::to_path_buf);
    let layout = Layout::new(spec_path, &out);
    // Each artifact goes to the staging directory (or, with --check, is compared with the
    // file on disk) as soon as it is rendered: none is held until the end. (On a thread of
    // its own, fed by a channel, the writing bought nothing measurable on the 2 cores and
    // cost CPU: bench/profile-notes.md.)
    // What a failed write leaves: a first build leaves nothing (output::Staging).
    let kept = if output::is_first_build(&out) {
        "nothing was written"
    } else {
        "the previous output was left as it was"
    };
    let mut sink = if check {
        BuildSink::Check(diff::Drift::new(&out, false))
    } else {
        match output::Staging::new(&out) {
            Ok(s) => BuildSink::Write(s),
            Err(e) => {
                let _ = err.write_all(read.diagnostics.text(&read.text).as_bytes());
                let _ = writeln!(err, "error: {e}; {kept}");
                return Outcome::Failed;
            }
        }
    };
    if !render_valid(&model, read, target, &layout, &mut sink, err) {
        // Dropping the staging writer removes what it staged.
        return Outcome::Failed;
    }
    let (staging, drift) = match sink {
        BuildSink::Write(s) => (Some(s), None),
        BuildSink::Check(d) => (None, Some(d)),
    };
    let gaps = if crate::allow::accepts_target_warning(&model, crate::allow::TARGET_GAP) {
        Vec::new()
    } else {
        crate::targets::gaps(target, &model)
    };
    for gap in gaps {
        let _ = writeln!(
            err,
            "warning[{}]: the {} target cannot fully enforce {gap}",
            crate::allow::TARGET_GAP,
            target.name()
        );
    }
    if let Some(drift) = drift {
        return check_drift(&out, drift.finish(), err);
    }
    let staging = staging.expect("a staging writer unless --check");
    match staging.finish() {
        Ok(r) => {
            let _ = writeln!(
                err,
                "hardgen: {} files in {} ({} written, {} unchanged, {} removed)",
                r.written.len() + r.unchanged.len(),
                out.display(),
                r.written.len(),
                r.unchanged.len(),
                r.removed.len()
            );
            if let Some(note) = crate::render::build_images_note(&model, target, &out) {
                let _ = writeln!(err, "hardgen: {note}");
            }
            Outcome::Ok
        }
        Err(WriteError::Io(e)) => {
            let _ = writeln!(err, "error: {e}; {kept}");
            Outcome::Failed
        }
        Err(WriteError::Foreign(paths)) => {
            for p in &paths {
                let _ = writeln!(
                    err,
                    "error: `{}` exists and was not generated by hardgen; refusing to overwrite it",
                    p.display()
                );
            }
            let _ = writeln!(
                err,
                "help: move these files away, or choose another --out; nothing was written"
            );
            Outcome::Failed
        }
    }
}

/// Where `build` puts what it renders: the staging writer, or with `--check` the drift
/// comparer.
enum BuildSink<'a> {
    Write(output::Staging),
    Check(diff::Drift<'a>),
}

impl Sink for BuildSink<'_> {
    fn put(&mut self, path: String, artifact: Artifact) {
        match self {
            BuildSink::Write(s) => s.put(path, artifact),
            BuildSink::Check(d) => d.put(path, artifact),
        }
    }
    fn begin(&mut self, path: String, mode: u32) {
        match self {
            BuildSink::Write(s) => s.begin(path, mode),
            BuildSink::Check(d) => d.begin(path, mode),
        }
    }
    fn append(&mut self, bytes: Vec<u8>) {
        match self {
            BuildSink::Write(s) => s.append(bytes),
            BuildSink::Check(d) => d.append(bytes),
        }
    }
    fn end(&mut self) {
        match self {
            BuildSink::Write(s) => s.end(),
            BuildSink::Check(d) => d.end(),
        }
    }
}

impl Split for BuildSink<'_> {
    fn part(&self) -> Self {
        match self {
            BuildSink::Write(s) => BuildSink::Write(s.part()),
            BuildSink::Check(d) => BuildSink::Check(d.part()),
        }
    }
    fn join(&mut self, part: Self) {
        match (self, part) {
            (BuildSink::Write(s), BuildSink::Write(p)) => s.join(p),
            (BuildSink::Check(d), BuildSink::Check(p)) => d.join(p),
            _ => unreachable!("a part is of its whole's kind"),
        }
    }
}

fn check_drift(
    out: &Path,
    drift: Result<Vec<diff::FileDiff>, output::IoError>,
    err: &mut dyn std::io::Write,
) -> Outcome {
    match drift {
        Ok(files) if files.is_empty() => {
            let _ = writeln!(err, "hardgen: {} is up to date", out.display());
            Outcome::Ok
        }
        Ok(files) => {
            let _ = write!(err, "{}", diff::drift_report(&files, true, false));
            let _ = writeln!(
                err,
                "hardgen: {}: {}; run `hardgen build` to update",
                out.display(),
                diff::summary_line(&files)
            );
            Outcome::Differs
        }
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            Outcome::Failed
        }
    }
}

pub fn check(
    spec_path: &Path,
    strict: bool,
    target: Target,
    err: &mut dyn std::io::Write,
) -> Outcome {
    let Some(src) = read_spec(spec_path, err) else {
        return Outcome::Failed;
    };
    // Validation (with what the target cannot express) is the whole check: nothing is
    // rendered, since rendering a valid model fails only on a bug of hardgen, never on the
    // spec (`build`, `diff` and the test suite render). Rendering every artifact doubled the
    // time of a check.
    match load_full(
        &src,
        LoadOptions {
            strict,
            target: Some(target),
            warnings: true,
            ..LoadOptions::default()
        },
        err,
    )
    .map(|(m, _)| m)
    {
        Some(model) => {
            let _ = writeln!(
                err,
                "hardgen: `{}` is valid ({}, {}, {})",
                spec_path.display(),
                count(model.services.len(), "service"),
                count(model.zones.len(), "zone"),
                count(model.flows.len(), "flow")
            );
            Outcome::Ok
        }
        None => Outcome::Failed,
    }
}

/// `1 flow`, `2 flows`.
fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

pub fn schema_json() -> String {
    let schema = schemars::schema_for!(spec::RawSpec);
    let mut s = serde_json::to_string_pretty(&schema).expect("schema serialises");
    s.push('\n');
    s
}

/// Plain options of `hardgen diff`, converted from the command line.
pub struct DiffOptions {
    pub target: Target,
    pub format: DiffFormat,
    pub color: bool,
    pub fail_on_weakens: bool,
    pub fail_on_any: bool,
    pub strict: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum DiffFormat {
    Human,
    Markdown,
    Json,
}

/// `hardgen diff SPEC --out DIR`: the drift gate.
pub fn diff_drift(
    spec_path: &Path,
    out: Option<&Path>,
    opts: &DiffOptions,
    stdout: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> Outcome {
    let Some(src) = read_spec(spec_path, err) else {
        return Outcome::Failed;
    };
    let parsed = parse(
        &src,
        LoadOptions {
            strict: opts.strict,
            target: Some(opts.target),
            warnings: true,
            ..LoadOptions::default()
        },
    );
    let origin = src.origin();
    let Some((model, read)) = valid(src, parsed, err) else {
        return Outcome::Failed;
    };
    let out = out.map_or_else(|| default_out(spec_path, opts.target), Path::to_path_buf);
    let layout = Layout::new(spec_path, &out);
    // Each artifact is compared with the file on disk as soon as it is rendered.
    let mut drift = diff::Drift::new(&out, true);
    if !render_valid(&model, read, opts.target, &layout, &mut drift, err) {
        return Outcome::Failed;
    }
    let files = match drift.finish() {
        Ok(f) => f,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return Outcome::Failed;
        }
    };
    let name = out.display().to_string();
    let text = match opts.format {
        DiffFormat::Human => {
            let mut t = diff::drift_report(&files, false, opts.color);
            t.push_str(&format!(
                "hardgen: {}: {}\n",
                name,
                diff::summary_line(&files)
            ));
            t
        }
        DiffFormat::Markdown => diff::posture_markdown(&name, &origin, &[], &files),
        DiffFormat::Json => diff::posture_json(&name, &origin, &[], &files),
    };
    let _ = stdout.write_all(text.as_bytes());
    if files.is_empty() {
        Outcome::Ok
    } else {
        Outcome::Differs
    }
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

/// `hardgen diff OLD NEW` / `hardgen diff SPEC --base REV`: the posture review.
pub fn diff_posture(
    old: &SpecSource,
    new: &SpecSource,
    opts: &DiffOptions,
    stdout: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> Outcome {
    // Each spec's warnings would be repeated: not printed.
    let quiet = LoadOptions {
        strict: opts.strict,
        target: Some(opts.target),
        lines: true,
        ..LoadOptions::default()
    };
    let (Some((old_m, old_l)), Some((new_m, new_l))) =
        (load_full(old, quiet, err), load_full(new, quiet, err))
    else {
        return Outcome::Failed;
    };
    // Both sides are rendered under one name so that headers do not show up as changes.
    let mut new_as_old = new_m.clone();
    new_as_old.spec_name = old_m.spec_name.clone();
    // Both sides as built next to the new spec, so that only the spec change shows.
    let layout = Layout::new(&new.path, &default_out(&new.path, opts.target));
    let (Some(old_a), Some(new_a)) = (
        artifacts_with_report(&old_m, &old_l, opts.target, &layout, err),
        artifacts_with_report(&new_as_old, &new_l, opts.target, &layout, err),
    ) else {
        return Outcome::Failed;
    };
    let changes = posture::compare(&old_m, &new_m);
    let files = diff::between(&old_a, &new_a);
    let (o, n) = (old.origin(), new.origin());
    let text = match opts.format {
        DiffFormat::Human => diff::posture_human(&changes, &files, opts.color),
        DiffFormat::Markdown => diff::posture_markdown(&o, &n, &changes, &files),
        DiffFormat::Json => diff::posture_json(&o, &n, &changes, &files),
    };
    let _ = stdout.write_all(text.as_bytes());
    let weakens = changes.iter().any(|c| c.class == posture::Class::Weakens);
    if (opts.fail_on_weakens && weakens) || (opts.fail_on_any && !changes.is_empty()) {
        Outcome::Differs
    } else {
        Outcome::Ok
    }
}

/// `hardgen report SPEC`: the compliance matrix on standard output.
pub fn report(
    spec_path: &Path,
    target: Target,
    html: bool,
    stdout: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> Outcome {
    let Some(src) = read_spec(spec_path, err) else {
        return Outcome::Failed;
    };
    let Some((model, lines)) = load_full(
        &src,
        LoadOptions {
            target: Some(target),
            lines: true,
            ..LoadOptions::default()
        },
        err,
    ) else {
        return Outcome::Failed;
    };
    let plan = plan::plan(
        &model,
        &Layout::new(spec_path, &default_out(spec_path, target)),
    );
    let m = report::matrix(&plan, &lines, target);
    let header = render::header(&model);
    let text = if html {
        report::html(&m, &header, &mut |_| {})
    } else {
        report::markdown(&m, &header, &mut |_| {})
    };
    let _ = stdout.write_all(text.as_bytes());
    Outcome::Ok
}
