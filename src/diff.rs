//! File-level differences (drift between a spec and a deployment on disk, or between the
//! deployments of two specs) and the reports of `hardgen diff`.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::artifact::{Artifact, Artifacts, Sink};
use crate::output::{self, FileState, IoError};
use crate::posture::{Change, Class};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Present on both sides with different content or mode.
    Changed,
    /// Only on the new side (drift: would be written).
    Added,
    /// Only on the old side (drift: generated before, would be removed).
    Removed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDiff {
    pub path: String,
    pub status: Status,
    pub old: Vec<u8>,
    pub new: Vec<u8>,
}

/// What differs between the artifacts a spec renders and the directory `out`. Files on disk
/// that hardgen did not generate (absent from its manifest) are never reported.
pub fn drift(out: &Path, artifacts: &Artifacts) -> Result<Vec<FileDiff>, IoError> {
    let mut d = Drift::new(out, true);
    for (path, a) in artifacts.iter() {
        d.put(path.clone(), a.clone());
    }
    d.finish()
}

/// The drift comparer: each artifact, as it is rendered, is compared with the file in `out`;
/// only the paths and the differences are kept (with the bytes of both sides when
/// `with_bytes`, for a unified diff; `build --check` lists the paths alone).
pub struct Drift<'a> {
    out: &'a Path,
    with_bytes: bool,
    paths: BTreeSet<String>,
    diffs: Vec<FileDiff>,
    error: Option<IoError>,
}

impl<'a> Drift<'a> {
    pub fn new(out: &'a Path, with_bytes: bool) -> Drift<'a> {
        Drift {
            out,
            with_bytes,
            paths: BTreeSet::new(),
            diffs: Vec::new(),
            error: None,
        }
    }

    /// The differences, sorted by path, with the generated files that are no longer rendered.
    pub fn finish(mut self) -> Result<Vec<FileDiff>, IoError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        for p in output::read_manifest(self.out)? {
            if !self.paths.contains(&p) {
                if let Ok(old) = std::fs::read(self.out.join(&p)) {
                    self.diffs.push(FileDiff {
                        path: p,
                        status: Status::Removed,
                        old: if self.with_bytes { old } else { Vec::new() },
                        new: Vec::new(),
                    });
                }
            }
        }
        self.diffs.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(self.diffs)
    }
}

impl Sink for Drift<'_> {
    fn put(&mut self, path: String, a: Artifact) {
        if self.error.is_some() || !self.paths.insert(path.clone()) {
            return;
        }
        let keep = |b: Vec<u8>| if self.with_bytes { b } else { Vec::new() };
        match output::compare(self.out, &path, &a.bytes, a.mode) {
            Ok(FileState::Same) => {}
            Ok(FileState::Changed) => {
                let old = if self.with_bytes {
                    match std::fs::read(self.out.join(&path)) {
                        Ok(old) => old,
                        Err(e) => {
                            self.error = Some(IoError {
                                path: self.out.join(&path),
                                action: "read",
                                source: e,
                            });
                            return;
                        }
                    }
                } else {
                    Vec::new()
                };
                self.diffs.push(FileDiff {
                    path,
                    status: Status::Changed,
                    old,
                    new: keep(a.bytes),
                })
            }
            Ok(FileState::Missing) => self.diffs.push(FileDiff {
                path,
                status: Status::Added,
                old: Vec::new(),
                new: keep(a.bytes),
            }),
            Err(e) => self.error = Some(e),
        }
    }
}

/// What differs between two renderings.
pub fn between(old: &Artifacts, new: &Artifacts) -> Vec<FileDiff> {
    let mut diffs = Vec::new();
    for (path, a) in new.iter() {
        match old.get(path) {
            Some(o) if o == a => {}
            Some(o) => diffs.push(FileDiff {
                path: path.clone(),
                status: Status::Changed,
                old: o.bytes.clone(),
                new: a.bytes.clone(),
            }),
            None => diffs.push(FileDiff {
                path: path.clone(),
                status: Status::Added,
                old: Vec::new(),
                new: a.bytes.clone(),
            }),
        }
    }
    for (path, o) in old.iter() {
        if new.get(path).is_none() {
            diffs.push(FileDiff {
                path: path.clone(),
                status: Status::Removed,
                old: o.bytes.clone(),
                new: Vec::new(),
            });
        }
    }
    diffs.sort_by(|a, b| a.path.cmp(&b.path));
    diffs
}

const RED: &str = "\x1b[31m";
const GREEN: &str = "\x1b[32m";
const CYAN: &str = "\x1b[36m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// A unified diff of one file (`a/PATH` -> `b/PATH`), coloured when asked.
pub fn unified(d: &FileDiff, color: bool) -> String {
    let old = String::from_utf8_lossy(&d.old);
    let new = String::from_utf8_lossy(&d.new);
    let (a, b) = match d.status {
        Status::Added => ("/dev/null".to_string(), format!("b/{}", d.path)),
        Status::Removed => (format!("a/{}", d.path), "/dev/null".to_string()),
        Status::Changed => (format!("a/{}", d.path), format!("b/{}", d.path)),
    };
    let mut text = similar::TextDiff::from_lines(old.as_ref(), new.as_ref())
        .unified_diff()
        .context_radius(3)
        .header(&a, &b)
        .to_string();
    if d.old != d.new && old == new {
        // Same text: only the file mode differs.
        text = format!("--- {a}\n+++ {b}\n(file mode changed)\n");
    }
    if !text.ends_with('\n') {
        text.push('\n');
    }
    if !color {
        return text;
    }
    text.lines()
        .map(|l| {
            let c = if l.starts_with("+++") || l.starts_with("---") {
                BOLD
            } else if l.starts_with('+') {
                GREEN
            } else if l.starts_with('-') {
                RED
            } else if l.starts_with("@@") {
                CYAN
            } else {
                return format!("{l}\n");
            };
            format!("{c}{l}{RESET}\n")
        })
        .collect()
}

fn count(diffs: &[FileDiff], s: Status) -> usize {
    diffs.iter().filter(|d| d.status == s).count()
}

/// One line: "3 files differ (1 changed, 1 to add, 1 to remove)".
pub fn summary_line(diffs: &[FileDiff]) -> String {
    if diffs.is_empty() {
        return "no file differs".into();
    }
    format!(
        "{} file{} differ{} ({} changed, {} to add, {} to remove)",
        diffs.len(),
        if diffs.len() == 1 { "" } else { "s" },
        if diffs.len() == 1 { "s" } else { "" },
        count(diffs, Status::Changed),
        count(diffs, Status::Added),
        count(diffs, Status::Removed)
    )
}

/// Drift report: the list of files and, unless `brief`, their diffs.
pub fn drift_report(diffs: &[FileDiff], brief: bool, color: bool) -> String {
    let mut s = String::new();
    for d in diffs {
        let what = match d.status {
            Status::Changed => "changed  ",
            Status::Added => "to add   ",
            Status::Removed => "to remove",
        };
        let _ = writeln!(s, "{what} {}", d.path);
    }
    if !brief {
        for d in diffs {
            s.push_str(&unified(d, color));
        }
    }
    s
}

fn tally(changes: &[Change], c: Class) -> usize {
    changes.iter().filter(|x| x.class == c).count()
}

pub fn posture_summary(changes: &[Change]) -> String {
    format!(
        "{} weaken{}, {} strengthen{}, {} neutral",
        tally(changes, Class::Weakens),
        if tally(changes, Class::Weakens) == 1 {
            "s"
        } else {
            ""
        },
        tally(changes, Class::Strengthens),
        if tally(changes, Class::Strengthens) == 1 {
            "s"
        } else {
            ""
        },
        tally(changes, Class::Neutral)
    )
}

pub fn posture_human(changes: &[Change], files: &[FileDiff], color: bool) -> String {
    let mut s = String::new();
    if changes.is_empty() {
        s.push_str("no security-relevant change\n");
    }
    for c in changes {
        let (col, end) = match (color, c.class) {
            (false, _) => ("", ""),
            (true, Class::Weakens) => (RED, RESET),
            (true, Class::Strengthens) => (GREEN, RESET),
            (true, Class::Neutral) => ("", ""),
        };
        let _ = writeln!(s, "{col}{:<12}{end} {}", c.class.as_str(), c.line());
    }
    let _ = writeln!(s, "{}; {}", posture_summary(changes), summary_line(files));
    s
}

/// Markdown for a pull-request comment: a table of the changes and the full artifact diff
/// folded in a `<details>` block.
pub fn posture_markdown(old: &str, new: &str, changes: &[Change], files: &[FileDiff]) -> String {
    let mut s = format!("### hardgen: security posture `{old}` → `{new}`\n\n");
    let _ = writeln!(s, "**{}**\n", posture_summary(changes));
    if changes.is_empty() {
        s.push_str("No security-relevant change.\n");
    } else {
        s.push_str("| effect | subject | change |\n|---|---|---|\n");
        for c in changes {
            let effect = match c.class {
                Class::Weakens => "**weakens**",
                Class::Strengthens => "strengthens",
                Class::Neutral => "neutral",
            };
            let _ = writeln!(
                s,
                "| {effect} | {} `{}` | {} |",
                c.subject,
                c.name.replace('|', "\\|"),
                c.message.replace('|', "\\|")
            );
        }
    }
    let _ = write!(
        s,
        "\n<details><summary>Generated files: {}</summary>\n\n",
        summary_line(files)
    );
    if !files.is_empty() {
        s.push_str("```diff\n");
        for d in files {
            s.push_str(&unified(d, false).replace("```", "`\u{200b}``"));
        }
        s.push_str("```\n");
    }
    s.push_str("\n</details>\n");
    s
}

#[derive(Serialize)]
struct JsonReport<'a> {
    /// Version of this format; bumped on incompatible changes.
    format_version: u32,
    old: &'a str,
    new: &'a str,
    summary: JsonSummary,
    changes: &'a [Change],
    files: Vec<JsonFile<'a>>,
}

#[derive(Serialize)]
struct JsonSummary {
    weakens: usize,
    strengthens: usize,
    neutral: usize,
    files_changed: usize,
    files_added: usize,
    files_removed: usize,
}

#[derive(Serialize)]
struct JsonFile<'a> {
    path: &'a str,
    status: Status,
}

pub fn posture_json(old: &str, new: &str, changes: &[Change], files: &[FileDiff]) -> String {
    let report = JsonReport {
        format_version: 1,
        old,
        new,
        summary: JsonSummary {
            weakens: tally(changes, Class::Weakens),
            strengthens: tally(changes, Class::Strengthens),
            neutral: tally(changes, Class::Neutral),
            files_changed: count(files, Status::Changed),
            files_added: count(files, Status::Added),
            files_removed: count(files, Status::Removed),
        },
        changes,
        files: files
            .iter()
            .map(|f| JsonFile {
                path: &f.path,
                status: f.status,
            })
            .collect(),
    };
    let mut s = serde_json::to_string_pretty(&report).expect("report serialises");
    s.push('\n');
    s
}
