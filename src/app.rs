//! One function per subcommand, orchestrating the pipeline:
//! spec -> validate -> plan -> render -> write/compare.

use std::path::{Path, PathBuf};

use crate::artifact::Artifacts;
use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::model::Model;
use crate::output::{self, FileState, WriteError};
use crate::{plan, render, spec, validate};

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
fn toml_diagnostic(e: &toml::de::Error) -> Diagnostic {
    let msg = e.message().trim().to_string();
    let mut d = Diagnostic::error("E001", first_line(&msg));
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
    d
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).to_string()
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = s.split_once(start)?.1;
    Some(rest.split_once(end)?.0)
}

/// Parse and validate; print diagnostics; the model only when there is no error.
pub fn load(src: &SpecSource, strict: bool, err: &mut dyn std::io::Write) -> Option<Model> {
    let origin = src.origin();
    let raw = match spec::parse(&src.text) {
        Ok(r) => r,
        Err(e) => {
            let _ = write!(err, "{}", toml_diagnostic(&e).render(&origin, &src.text));
            let _ = writeln!(err, "error: `{origin}` is invalid; nothing was written");
            return None;
        }
    };
    let (model, diags) = validate::validate(&raw, &src.name(), &validate::Options { strict });
    for d in &diags {
        let _ = write!(err, "{}", d.render(&origin, &src.text));
    }
    let errors = diags.iter().filter(|d| d.is_error()).count();
    if errors > 0 {
        let _ = writeln!(
            err,
            "error: `{origin}` has {errors} error{}; nothing was written",
            if errors == 1 { "" } else { "s" }
        );
    }
    model
}

pub fn artifacts(model: &Model, err: &mut dyn std::io::Write) -> Option<Artifacts> {
    let plan = plan::plan(model);
    match render::render(&plan) {
        Ok(a) => Some(a),
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            None
        }
    }
}

pub fn default_out(spec: &Path) -> PathBuf {
    let stem = spec
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "deployment".into());
    Path::new("deploy").join(stem)
}

pub fn build(
    spec_path: &Path,
    out: Option<&Path>,
    strict: bool,
    check: bool,
    err: &mut dyn std::io::Write,
) -> Outcome {
    let Some(src) = read_spec(spec_path, err) else {
        return Outcome::Failed;
    };
    let Some(model) = load(&src, strict, err) else {
        return Outcome::Failed;
    };
    let Some(artifacts) = artifacts(&model, err) else {
        return Outcome::Failed;
    };
    let out = out.map_or_else(|| default_out(spec_path), Path::to_path_buf);
    if check {
        return check_drift(&out, &artifacts, err);
    }
    match output::write_all(&out, &artifacts) {
        Ok(r) => {
            let _ = writeln!(
                err,
                "hardgen: {} files in {} ({} written, {} unchanged, {} removed)",
                artifacts.len(),
                out.display(),
                r.written.len(),
                r.unchanged.len(),
                r.removed.len()
            );
            Outcome::Ok
        }
        Err(WriteError::Io(e)) => {
            let _ = writeln!(err, "error: {e}; the previous output was left as it was");
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

fn check_drift(out: &Path, artifacts: &Artifacts, err: &mut dyn std::io::Write) -> Outcome {
    let mut differ = Vec::new();
    for (path, a) in artifacts.iter() {
        match output::compare(out, path, &a.bytes, a.mode) {
            Ok(FileState::Same) => {}
            Ok(FileState::Changed(_)) => differ.push(format!("changed  {path}")),
            Ok(FileState::Missing) => differ.push(format!("missing  {path}")),
            Err(e) => {
                let _ = writeln!(err, "error: {e}");
                return Outcome::Failed;
            }
        }
    }
    match output::read_manifest(out) {
        Ok(prev) => {
            for p in prev.iter().filter(|p| artifacts.get(p).is_none()) {
                if out.join(p).exists() {
                    differ.push(format!("extra    {p}"));
                }
            }
        }
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return Outcome::Failed;
        }
    }
    if differ.is_empty() {
        let _ = writeln!(err, "hardgen: {} is up to date", out.display());
        Outcome::Ok
    } else {
        for d in &differ {
            let _ = writeln!(err, "{d}");
        }
        let _ = writeln!(
            err,
            "hardgen: {} file{} in {} differ from the spec; run `hardgen build` to update",
            differ.len(),
            if differ.len() == 1 { "" } else { "s" },
            out.display()
        );
        Outcome::Differs
    }
}

pub fn check(spec_path: &Path, strict: bool, err: &mut dyn std::io::Write) -> Outcome {
    let Some(src) = read_spec(spec_path, err) else {
        return Outcome::Failed;
    };
    match load(&src, strict, err) {
        Some(model) => {
            if artifacts(&model, err).is_none() {
                return Outcome::Failed;
            }
            let _ = writeln!(
                err,
                "hardgen: `{}` is valid ({} services, {} zones, {} flows)",
                spec_path.display(),
                model.services.len(),
                model.zones.len(),
                model.flows.len()
            );
            Outcome::Ok
        }
        None => Outcome::Failed,
    }
}

pub fn schema_json() -> String {
    let schema = schemars::schema_for!(spec::RawSpec);
    let mut s = serde_json::to_string_pretty(&schema).expect("schema serialises");
    s.push('\n');
    s
}
