//! Learned seccomp profiles: the pinned half (`seccomp = "learned"` in the spec, the
//! `seccomp/learned/<service>.json` files next to it) and `hardgen learn`, which records them
//! from the running stack (`record`).
//!
//! # The file
//!
//! One JSON file per service, meant to be committed next to the spec:
//!
//! ```json
//! {
//!   "format_version": 1,
//!   "service": "web",
//!   "learned_on": [
//!     { "arch": "x86_64", "engine": "20.10.24+dfsg1", "kernel": "6.18.44" }
//!   ],
//!   "syscalls": ["accept4", "bind", "..."]
//! }
//! ```
//!
//! `syscalls` is what the service was seen to call under its filter (start-up, health checks,
//! `docker exec`, the spec's exercise), sorted; `learned_on` every engine, kernel and
//! architecture it was learned or re-learned on, sorted. `build` allows the names plus what
//! runc and docker-init need (`seccomp::runtime`), with default action `SCMP_ACT_ERRNO`.

pub mod record;

use crate::diagnostic::Diagnostic;
use crate::spec::{RawSpec, SeccompPreset};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The version of the file format this hardgen reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// Where a service's learned profile lives, relative to the spec's directory.
pub fn relative_path(service: &str) -> String {
    format!("seccomp/learned/{service}.json")
}

/// Where one learning run happened.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LearnedOn {
    /// `x86_64` or `aarch64` (the kernel's `uname -m`).
    pub arch: String,
    /// The Docker engine's version (`docker version`'s server version).
    pub engine: String,
    /// The kernel release (`uname -r`).
    pub kernel: String,
}

/// The content of `seccomp/learned/<service>.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LearnedFile {
    pub format_version: u32,
    pub service: String,
    pub learned_on: Vec<LearnedOn>,
    pub syscalls: Vec<String>,
}

impl LearnedFile {
    pub fn new(service: &str, on: BTreeSet<LearnedOn>, syscalls: BTreeSet<String>) -> Self {
        LearnedFile {
            format_version: FORMAT_VERSION,
            service: service.to_string(),
            learned_on: on.into_iter().collect(),
            syscalls: syscalls.into_iter().collect(),
        }
    }

    /// The file's bytes: pretty JSON, sorted lists, trailing newline (the same set always
    /// gives the same bytes).
    pub fn to_json(&self) -> String {
        let mut sorted = self.clone();
        sorted.learned_on.sort();
        sorted.learned_on.dedup();
        sorted.syscalls.sort();
        sorted.syscalls.dedup();
        let mut s = serde_json::to_string_pretty(&sorted).expect("bug: always serialises");
        s.push('\n');
        s
    }

    /// Parses and checks a file's text: the format version, the service it is for, and every
    /// name a syscall of a supported architecture.
    pub fn parse(text: &str, service: &str) -> Result<LearnedFile, String> {
        let file: LearnedFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if file.format_version != FORMAT_VERSION {
            return Err(format!(
                "format_version {} (this hardgen reads {FORMAT_VERSION})",
                file.format_version
            ));
        }
        if file.service != service {
            return Err(format!(
                "it was learned for service `{}`, not `{service}`",
                crate::validate::show(&file.service)
            ));
        }
        let unknown: Vec<String> = file
            .syscalls
            .iter()
            .filter(|n| !crate::seccomp::is_syscall(n))
            .map(|n| format!("`{}`", crate::validate::show(n)))
            .collect();
        if !unknown.is_empty() {
            return Err(format!(
                "not a syscall of x86_64 or aarch64: {}",
                unknown.join(", ")
            ));
        }
        Ok(file)
    }
}

/// Where learned files are read from: the spec's directory, or the spec's directory at a git
/// revision (`hardgen diff SPEC --base REV` compares against the files committed then).
#[derive(Clone, Debug)]
pub enum Source {
    Dir(PathBuf),
    GitRev { dir: PathBuf, rev: String },
}

impl Source {
    /// The source for a spec read from `path` (`app::read_spec_at` names a spec read at a
    /// revision `PATH@REV`).
    pub fn of(path: &Path) -> Source {
        let dir = crate::layout::Layout::spec_dir_of(path);
        if !path.is_file() {
            let shown = path.to_string_lossy();
            if let Some((file, rev)) = shown.rsplit_once('@') {
                if Path::new(file).is_file() && !rev.is_empty() {
                    return Source::GitRev {
                        dir: crate::layout::Layout::spec_dir_of(Path::new(file)),
                        rev: rev.to_string(),
                    };
                }
            }
        }
        Source::Dir(dir)
    }

    /// The text of the service's learned file; `Ok(None)` when there is none.
    fn read(&self, service: &str) -> Result<Option<String>, String> {
        let rel = relative_path(service);
        match self {
            Source::Dir(dir) => match std::fs::read_to_string(dir.join(&rel)) {
                Ok(t) => Ok(Some(t)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(format!("cannot read it: {e}")),
            },
            Source::GitRev { dir, rev } => {
                let out = std::process::Command::new("git")
                    .arg("-C")
                    .arg(if dir.as_os_str().is_empty() {
                        Path::new(".")
                    } else {
                        dir
                    })
                    .arg("show")
                    .arg(format!("{rev}:./{rel}"))
                    .output()
                    .map_err(|e| format!("cannot run git: {e}"))?;
                if out.status.success() {
                    String::from_utf8(out.stdout)
                        .map(Some)
                        .map_err(|_| "it is not UTF-8 text".to_string())
                } else {
                    // Not in that revision (git says "does not exist" / "exists on disk, but
                    // not in").
                    Ok(None)
                }
            }
        }
    }

    fn shown(&self, service: &str) -> String {
        match self {
            Source::Dir(_) => relative_path(service),
            Source::GitRev { rev, .. } => format!("{} at {rev}", relative_path(service)),
        }
    }
}

/// The learned syscalls of every service that opts in, and the errors of those that opt in
/// without a usable file. Works on the raw spec, so that these errors come with the other
/// problems of the spec, at the opt-in's line and column (the service's `seccomp` key, or
/// `defaults.seccomp` for a service that inherits it).
pub fn load(
    raw: &RawSpec,
    source: &Source,
) -> (BTreeMap<String, BTreeSet<String>>, Vec<Diagnostic>) {
    let mut learned = BTreeMap::new();
    let mut diags = Vec::new();
    for (name, svc) in &raw.services {
        if let Some(ex) = &svc.exercise {
            if let Err(d) = exercise_of(ex, &name.value) {
                diags.push(*d);
            }
        }
        let opt_in = match (&svc.seccomp, &raw.defaults.seccomp) {
            (Some(s), _) => s,
            (None, Some(d)) => d,
            (None, None) => continue,
        };
        if opt_in.value != SeccompPreset::Learned {
            continue;
        }
        let service = name.value.as_str();
        let label = if svc.seccomp.is_some() {
            "opts in here"
        } else {
            "opted in by the default here"
        };
        match source.read(service) {
            Ok(Some(text)) => match LearnedFile::parse(&text, service) {
                Ok(file) => {
                    learned.insert(service.to_string(), file.syscalls.into_iter().collect());
                }
                Err(why) => diags.push(
                    Diagnostic::error(
                        "E061",
                        format!(
                            "service `{}`: invalid learned seccomp profile `{}`: {why}",
                            crate::validate::show(service),
                            source.shown(service)
                        ),
                    )
                    .at(opt_in.span.clone(), label)
                    .help("re-learn it with `hardgen learn SPEC --fresh` (or fix the file)"),
                ),
            },
            Ok(None) => diags.push(
                Diagnostic::error(
                    "E060",
                    format!(
                        "service `{}` uses a learned seccomp profile, but `{}` does not exist next to the spec",
                        crate::validate::show(service),
                        source.shown(service)
                    ),
                )
                .at(opt_in.span.clone(), label)
                .help(
                    "record it with `hardgen learn SPEC` on a Docker host and commit the file, or choose `baseline` or `strict` until then",
                ),
            ),
            Err(why) => diags.push(
                Diagnostic::error(
                    "E061",
                    format!(
                        "service `{}`: invalid learned seccomp profile `{}`: {why}",
                        crate::validate::show(service),
                        source.shown(service)
                    ),
                )
                .at(opt_in.span.clone(), label),
            ),
        }
    }
    (learned, diags)
}

/// A service's exercise (`exercise = { cmd, duration }`), checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exercise {
    pub cmd: Vec<String>,
    /// How long to repeat it; 0: once.
    pub millis: u64,
}

/// The longest exercise `hardgen learn` runs per service.
const EXERCISE_MAX_MILLIS: u64 = 600_000;

fn exercise_of(ex: &crate::spec::RawExercise, service: &str) -> Result<Exercise, Box<Diagnostic>> {
    let bad = |span: std::ops::Range<usize>, what: String, label: &str| {
        Box::new(
            Diagnostic::error(
                "E062",
                format!(
                    "service `{}`: invalid exercise: {what}",
                    crate::validate::show(service)
                ),
            )
            .at(span, label),
        )
    };
    let Some(first) = ex.cmd.first() else {
        return Err(Box::new(Diagnostic::error(
            "E062",
            format!(
                "service `{}`: invalid exercise: `cmd` is empty",
                crate::validate::show(service)
            ),
        )
        .help("give the program and its arguments, e.g. `cmd = [\"wget\", \"-q\", \"-O\", \"/dev/null\", \"http://127.0.0.1:8080/\"]`")));
    };
    if first.value.trim().is_empty() {
        return Err(bad(
            first.span.clone(),
            "the program is blank".into(),
            "blank",
        ));
    }
    if let Some(a) = ex.cmd.iter().find(|a| a.value.contains('\0')) {
        return Err(bad(
            a.span.clone(),
            "an argument holds a NUL byte".into(),
            "NUL byte",
        ));
    }
    let millis = match &ex.duration {
        None => 0,
        Some(d) => match crate::model::Duration::parse(&d.value) {
            Ok(x) if x.millis <= EXERCISE_MAX_MILLIS => x.millis,
            Ok(_) => {
                return Err(bad(
                    d.span.clone(),
                    format!("`{}` is longer than 10m", crate::validate::show(&d.value)),
                    "too long",
                ))
            }
            Err(why) => return Err(bad(d.span.clone(), why, "not a duration")),
        },
    };
    Ok(Exercise {
        cmd: ex.cmd.iter().map(|a| a.value.clone()).collect(),
        millis,
    })
}

/// Every valid exercise of the spec, by service.
pub fn exercises(raw: &RawSpec) -> BTreeMap<String, Exercise> {
    raw.services
        .iter()
        .filter_map(|(name, svc)| {
            let ex = exercise_of(svc.exercise.as_ref()?, &name.value).ok()?;
            Some((name.value.clone(), ex))
        })
        .collect()
}

/// Puts the learned sets into the model's services (those that opt in).
pub fn attach(model: &mut crate::model::Model, learned: &BTreeMap<String, BTreeSet<String>>) {
    for (name, svc) in model.services.iter_mut() {
        if svc.seccomp.preset == SeccompPreset::Learned {
            svc.seccomp.learned = learned.get(name).cloned();
        }
    }
}

/// The syscall names a service's learned profile allows once built: the learned set, what
/// runc needs (and, for `init: true`, docker-init; without no-new-privileges, runc's user
/// switch), without `clone3` (answered ENOSYS; libc falls back to the checked `clone`).
pub fn profile_names(
    learned: &BTreeSet<String>,
    init: bool,
    no_new_privileges: bool,
) -> BTreeSet<String> {
    use crate::seccomp::runtime;
    let mut names: BTreeSet<String> = learned.iter().filter(|n| *n != "clone3").cloned().collect();
    names.extend(runtime::RUNC.iter().map(|s| s.to_string()));
    if init {
        names.extend(runtime::DOCKER_INIT.iter().map(|s| s.to_string()));
        names.insert("clone".to_string());
    }
    if !no_new_privileges {
        names.extend(
            runtime::RUNC_WITHOUT_NO_NEW_PRIVILEGES
                .iter()
                .map(|s| s.to_string()),
        );
    }
    names
}

/// `names` as a share of Docker's default always-allowed set, in whole percent (rounded).
pub fn percent_of_docker_default(count: usize) -> usize {
    let base = crate::seccomp::runtime::docker_default().len();
    (count * 100 + base / 2) / base
}

#[cfg(test)]
mod tests;
