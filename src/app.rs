//! One function per subcommand, orchestrating the pipeline:
//! spec -> validate -> plan -> render -> write/compare.

use std::path::{Path, PathBuf};

use crate::artifact::{Artifact, Artifacts, Sink, Split};
use crate::layout::Layout;
use crate::model::Model;
use crate::output::{self, WriteError};
use crate::spec::{self, RawSpec};
use crate::targets::Target;
use crate::{diff, plan, posture, render, report};

mod load;

pub use load::{load, load_full, read_spec, read_spec_at, LoadOptions, SpecSource};
use load::{parse, Diagnostics, Parsed};

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
