//! A compose build context in the spec: the runtime preset its Dockerfile or files show, and
//! the `build = { ... }` line.

use super::images;
use super::text::{argv, toml_list, toml_str, Doc};
use crate::compose_in::{self, Project, Service};

/// A build context's runtime preset, version and command.
type Detected = (&'static str, Option<String>, Option<Vec<String>>);

/// Whether hardgen derives a health check for this build (python and node).
pub(super) fn build_has_derived_health(p: &Project, s: &Service) -> bool {
    s.build
        .as_ref()
        .map(|b| matches!(detect_runtime(p, b).map(|r| r.0), Some("python" | "node")))
        .unwrap_or(false)
}

/// The runtime preset and version of a build context: its Dockerfile's base image, else the
/// files it holds.
fn detect_runtime(p: &Project, b: &compose_in::BuildRef) -> Option<Detected> {
    let ctx = p.dir.join(&b.context);
    let dockerfile = ctx.join(b.dockerfile.as_deref().unwrap_or("Dockerfile"));
    let text = std::fs::read_to_string(&dockerfile).unwrap_or_default();
    let mut cmd = None;
    let mut found: Option<(&'static str, Option<String>)> = None;
    for line in text.lines() {
        let l = line.trim();
        let upper = l.to_ascii_uppercase();
        if upper.starts_with("FROM ") && found.is_none() {
            let image = l.split_whitespace().nth(1).unwrap_or("");
            let repo = images::repository(image);
            let rt = match repo.as_str() {
                "python" => Some("python"),
                "node" => Some("node"),
                "golang" => Some("go"),
                "rust" => Some("rust"),
                _ => None,
            };
            if let Some(rt) = rt {
                let version = images::tag(image)
                    .map(|t| t.split('-').next().unwrap_or("").to_string())
                    .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()));
                found = Some((rt, version));
            }
        }
        if upper.starts_with("CMD ") {
            cmd = serde_json::from_str::<Vec<String>>(l[4..].trim()).ok();
        }
    }
    if found.is_none() {
        let has = |f: &str| ctx.join(f).is_file();
        found = if has("requirements.txt") || has("pyproject.toml") {
            Some(("python", None))
        } else if has("package.json") {
            Some(("node", None))
        } else if has("go.mod") {
            Some(("go", None))
        } else if has("Cargo.toml") {
            Some(("rust", None))
        } else {
            None
        };
    }
    found.map(|(r, v)| (r, v, cmd))
}

pub(super) fn build(
    p: &Project,
    s: &Service,
    b: &compose_in::BuildRef,
    doc: &mut Doc,
    d: &mut dyn FnMut(String),
) {
    let Some((runtime, version, df_cmd)) = detect_runtime(p, b) else {
        d(format!(
            "build context `{}`: import cannot tell its runtime (no python/node/golang/rust base image in its Dockerfile, no requirements.txt, package.json, go.mod or Cargo.toml): write `build = {{ runtime = ..., version = ... }}`",
            b.context
        ));
        return;
    };
    // The compose file's context, relative to its directory, becomes the spec's, relative to
    // the spec's directory (hardgen renders it back from wherever the deployment goes).
    let from_compose = b.context.trim_start_matches("./").trim_end_matches('/');
    let from_compose = if from_compose.is_empty() {
        "."
    } else {
        from_compose
    };
    let ctx_owned = match &doc.spec_dir {
        Some(dir) => crate::layout::relative_between(dir, &p.dir.join(from_compose)),
        None => from_compose.to_string(),
    };
    let ctx = ctx_owned.as_str();
    let mut parts = vec![format!("runtime = {}", toml_str(runtime))];
    let mut notes = vec![format!("import: {runtime} from the build context")];
    let default_version = match runtime {
        "python" => "3.12",
        "node" => "20",
        "go" => "1.22",
        _ => "1.80",
    };
    let v = match version {
        Some(v) => v,
        None => {
            notes.push(format!("TODO: version {default_version} is a guess"));
            default_version.to_string()
        }
    };
    parts.push(format!("version = {}", toml_str(&v)));
    parts.push(format!("context = {}", toml_str(ctx)));
    let command = s.command.as_ref().map(|c| argv(&c.value)).or(df_cmd);
    if matches!(runtime, "python" | "node") {
        match command {
            Some(c) if !c.is_empty() => parts.push(format!("command = {}", toml_list(&c))),
            _ => {
                d(format!("build context `{}`: what command runs it? (none in the compose file or the Dockerfile's CMD)", b.context));
                return;
            }
        }
    }
    notes.push(
        "hardgen writes its own Dockerfile for the runtime preset (the compose file's Dockerfile is not used)"
            .to_string(),
    );
    if b.dockerfile.is_some() {
        notes.push(
            "TODO: the original Dockerfile's extra steps are not carried over (add `packages`)"
                .into(),
        );
    }
    let note = notes.join("; ");
    let note = if note.contains("TODO") {
        format!("TODO: {}", note.replace("TODO: ", ""))
    } else {
        note
    };
    doc.line(&format!("build = {{ {} }}", parts.join(", ")), Some(note));
}

// ---------------------------------------------------------------------------------------
// The command
