//! File-level differences (drift between a spec and a deployment on disk, or between the
//! deployments of two specs) and the reports of `hardgen diff`.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::artifact::{Artifacts, Sink, Split};
use crate::output::{self, Comparison, FileState, IoError, Piecewise};
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
    /// The artifact being compared (none while a duplicate is skipped).
    incoming: Option<Incoming>,
    /// Scratch space for reading the files on disk.
    buf: Vec<u8>,
}

/// The artifact [`Drift`] is comparing, in pieces or at once.
struct Incoming {
    path: String,
    cmp: Comparison,
    /// How many of its bytes were handed over so far.
    fed: u64,
    /// Its bytes, once they differ from the file on disk (only `with_bytes`).
    new: Vec<u8>,
}

impl Incoming {
    /// Its bytes so far, which matched the file on disk, read back from it.
    fn read_prefix(&mut self, out: &Path) -> Result<(), IoError> {
        self.cmp
            .copy_prefix(self.fed, &mut self.new)
            .map_err(|source| IoError {
                path: out.join(&self.path),
                action: "read",
                source,
            })
    }
}

impl<'a> Drift<'a> {
    pub fn new(out: &'a Path, with_bytes: bool) -> Drift<'a> {
        Drift {
            out,
            with_bytes,
            paths: BTreeSet::new(),
            diffs: Vec::new(),
            error: None,
            incoming: None,
            buf: Vec::new(),
        }
    }

    /// Once the bytes differ from the file on disk, keep them (for the unified diff),
    /// beginning with those handed over before, which are the file's first bytes.
    fn settle(&mut self) -> Result<(), IoError> {
        let Some(inc) = self.incoming.as_mut() else {
            return Ok(());
        };
        if self.with_bytes && inc.cmp.state() != FileState::Same && inc.new.is_empty() {
            inc.read_prefix(self.out)?;
        }
        Ok(())
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

impl Split for Drift<'_> {
    fn part(&self) -> Self {
        Drift::new(self.out, self.with_bytes)
    }

    fn join(&mut self, mut part: Self) {
        debug_assert!(part.incoming.is_none(), "a part joined mid-artifact");
        if self.error.is_none() {
            self.error = part.error.take();
        }
        self.paths.append(&mut part.paths);
        self.diffs.append(&mut part.diffs);
    }
}

impl Piecewise for Drift<'_> {
    fn failed(&self) -> bool {
        self.error.is_some()
    }

    fn start(&mut self, path: String, mode: u32, len: Option<u64>) -> Result<(), IoError> {
        if !self.paths.insert(path.clone()) {
            self.incoming = None;
            return Ok(());
        }
        let cmp = Comparison::open(self.out, &path, mode, len)?;
        self.incoming = Some(Incoming {
            path,
            cmp,
            fed: 0,
            new: Vec::new(),
        });
        self.settle()
    }

    fn take(&mut self, bytes: &[u8]) -> Result<(), IoError> {
        let Some(inc) = self.incoming.as_mut() else {
            return Ok(());
        };
        let differed = inc.cmp.state() != FileState::Same;
        if !differed {
            inc.cmp.feed(bytes, &mut self.buf)?;
            self.settle()?;
        }
        let inc = self.incoming.as_mut().expect("an incoming artifact");
        if self.with_bytes && inc.cmp.state() != FileState::Same {
            inc.new.extend_from_slice(bytes);
        }
        inc.fed += bytes.len() as u64;
        Ok(())
    }

    fn close(&mut self) -> Result<(), IoError> {
        let Some(mut inc) = self.incoming.take() else {
            return Ok(());
        };
        let state = inc.cmp.finish()?;
        if state != FileState::Same && self.with_bytes && inc.new.len() as u64 != inc.fed {
            // Every byte matched, but the file on disk is longer: the bytes are its first.
            inc.new.clear();
            inc.read_prefix(self.out)?;
        }
        let diff = match state {
            FileState::Same => return Ok(()),
            FileState::Changed => {
                let old = if self.with_bytes {
                    std::fs::read(self.out.join(&inc.path)).map_err(|source| IoError {
                        path: self.out.join(&inc.path),
                        action: "read",
                        source,
                    })?
                } else {
                    Vec::new()
                };
                FileDiff {
                    path: inc.path,
                    status: Status::Changed,
                    old,
                    new: inc.new,
                }
            }
            FileState::Missing => FileDiff {
                path: inc.path,
                status: Status::Added,
                old: Vec::new(),
                new: inc.new,
            },
        };
        self.diffs.push(diff);
        Ok(())
    }

    fn fail(&mut self, e: IoError) {
        self.incoming = None;
        self.error = Some(e);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::Artifact;
    use crate::output::tests::stream;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    /// Streamed artifacts drift exactly as whole ones do, with the bytes of both sides,
    /// wherever the difference falls among the pieces.
    #[test]
    fn streamed_drift_is_whole_drift() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path();
        let base: Vec<u8> = (0..200_000u32).map(|i| b'a' + (i % 19) as u8).collect();
        fs::write(out.join("f"), &base).unwrap();
        fs::set_permissions(out.join("f"), fs::Permissions::from_mode(0o644)).unwrap();
        let mut changed = base.clone();
        changed[130_000] = b'!';
        let cases = [
            base.clone(),
            changed,
            [&base[..], b"x"].concat(),
            base[..199_999].to_vec(),
            base[..65_536].to_vec(),
            Vec::new(),
        ];
        for (i, new) in cases.iter().enumerate() {
            for with_bytes in [false, true] {
                let mut whole = Drift::new(out, with_bytes);
                whole.put(
                    "f".into(),
                    Artifact::text(String::from_utf8(new.clone()).unwrap()),
                );
                whole.put("g".into(), Artifact::text("new\n".into()));
                let whole = whole.finish().unwrap();
                for piece in [1000, 65_536, 70_000] {
                    let mut d = Drift::new(out, with_bytes);
                    stream(&mut d, "f", new, piece);
                    stream(&mut d, "g", b"new\n", 2);
                    assert_eq!(d.finish().unwrap(), whole, "case {i} piece {piece}");
                }
                assert_eq!(whole.len(), if i == 0 { 1 } else { 2 }, "case {i}");
                if with_bytes && i > 0 {
                    assert_eq!(whole[0].new, *new);
                    assert_eq!(whole[0].old, base);
                }
            }
        }
    }
}
