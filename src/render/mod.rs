//! Plan -> artifacts, each handed to a [`Sink`] as soon as it is rendered (the staging
//! directory, the drift comparer, or an [`Artifacts`] map). No I/O of its own, deterministic.
//!
//! This module is the dispatcher and what every target shares (the templates, the images'
//! Dockerfiles and build script, the secret generator, the seccomp profiles). Each target is
//! one backend with the same shape — `artifacts(env, header, plan, out)` — and typed output
//! written through the one YAML path ([`yaml`]):
//! - `compose.rs`: docker-compose.yml, plus the host side only a compose host gets (firewall,
//!   security check, AppArmor, incident script; in `host.rs`, shared with swarm's host files);
//! - `swarm.rs`: docker-stack.yml and the swarm daemon.json;
//! - `kubernetes/`: the manifests (`types.rs`: the objects) and kustomization.yaml.
//!
//! `dockerfile.rs` renders the Dockerfiles, `files.rs` the small fixed files.

pub mod compose;
mod dockerfile;
pub use dockerfile::build_images_note;
mod files;
mod host;
pub mod kubernetes;
pub mod swarm;
pub(crate) mod yaml;

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use crate::artifact::{Artifact, Sink};
use crate::model::*;
use crate::plan::Plan;
use crate::seccomp;
use crate::targets::Target;

/// A template failed: always a bug in hardgen, never the user's fault.
#[derive(Debug)]
pub struct RenderBug(pub String);

impl std::fmt::Display for RenderBug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "internal error (a bug in hardgen, please report it): {}",
            self.0
        )
    }
}

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../templates/", $name)))),*]
    };
}

const TEMPLATES: &[(&str, &str)] = templates![
    "iptables.rules.j2",
    "nftables.nft.j2",
    "apply-firewall.sh.j2",
    "generate-secrets.sh.j2",
    "security-check.sh.j2",
    "apparmor.j2",
    "apply-apparmor.sh.j2",
    "incident.sh.j2",
    "integrity-entrypoint.sh.j2",
    "build-images.sh.j2",
    "audit.rules.j2",
    "harden-host.sh.j2",
    "host-check.sh.j2",
    "pull-images.sh.j2",
];

/// A user string as a literal where `$` is special: Compose and the swarm stack loader
/// interpolate `$VAR`/`${VAR}`, Kubernetes expands `$(VAR)`; all three read `$$` as `$`.
pub(crate) fn literal_dollars(s: &str) -> String {
    s.replace('$', "$$")
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.set_keep_trailing_newline(true);
    for (name, src) in TEMPLATES {
        env.add_template(name, src)
            .unwrap_or_else(|e| panic!("embedded template {name} does not parse: {e}"));
    }
    env
}

fn render_template<S: Serialize>(
    env: &Environment,
    name: &str,
    ctx: S,
) -> Result<String, RenderBug> {
    let t = env
        .get_template(name)
        .map_err(|e| RenderBug(format!("template {name}: {e}")))?;
    let text = t
        .render(ctx)
        .map_err(|e| RenderBug(format!("template {name}: {e:#}")))?;
    Ok(normalise(&text))
}

/// `items` one after the other with `sep` between them, appended to `out` (what `join`
/// returns, without a `String` of its own: the renderers write a thousand such lists).
pub(crate) fn push_joined<'a>(
    out: &mut String,
    items: impl IntoIterator<Item = &'a str>,
    sep: &str,
) {
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        out.push_str(item);
    }
}

/// LF endings, no trailing blanks, exactly one final newline.
/// One pass into one buffer: a `\r` before a line break is trailing whitespace, which
/// `trim_end` drops anyway (20 M instructions of a build at 1,000 services went to the
/// copies of the old replace / collect / join).
pub fn normalise(text: &str) -> String {
    if !may_end_in_space(text) {
        // No line has anything for `trim_end` to remove: the lines as they are, the `\n`s at
        // the end made one.
        let body = text.trim_end_matches('\n');
        let mut out = String::with_capacity(body.len() + 1);
        out.push_str(body);
        out.push('\n');
        return out;
    }
    let mut out = String::with_capacity(text.len() + 1);
    for line in text.split('\n') {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    while out.ends_with('\n') {
        out.pop();
    }
    out.push('\n');
    out
}

/// Whether a line of `text` (split at `\n`) may end with whitespace that `str::trim_end`
/// removes: its last byte is ASCII whitespace other than `\n` (an empty line ends with
/// nothing), or not ASCII (the last byte of any multi-byte character, a Unicode space or
/// not). One pass without branches over the pairs of neighbouring bytes.
fn may_end_in_space(text: &str) -> bool {
    let space = |c: u8| matches!(c, b'\t' | 0x0B | 0x0C | b'\r' | b' ') | (c >= 0x80);
    let b = text.as_bytes();
    let mut found = b.last().is_some_and(|&c| space(c));
    for w in b.windows(2) {
        found |= (w[1] == b'\n') & space(w[0]);
    }
    found
}

pub fn header(model: &Model) -> String {
    format!(
        "generated by hardgen from {} — do not edit",
        model.spec_name
    )
}

/// What the renderers share for one target: the templates, parsed once, and the header.
/// The artifacts come in two halves that share nothing but the plan, so that two threads can
/// render them at once (`app::render_into`): [`Renderer::deployment`] and
/// [`Renderer::per_image`].
pub struct Renderer<'p, 'm> {
    plan: &'p Plan<'m>,
    target: Target,
    env: Environment<'static>,
    header: String,
}

impl<'p, 'm> Renderer<'p, 'm> {
    pub fn new(plan: &'p Plan<'m>, target: Target) -> Self {
        Renderer {
            plan,
            target,
            env: environment(),
            header: header(plan.model),
        }
    }

    /// The header every generated file carries.
    pub fn header(&self) -> &str {
        &self.header
    }

    /// The target's own files (its compose or stack file or manifests, the host's firewall,
    /// profiles and scripts), the secret generator, `.gitignore` and `.env.example`, each
    /// handed to `out` as it is rendered.
    pub fn deployment(&self, out: &mut dyn Sink) -> Result<(), RenderBug> {
        let (env, header, plan, target) = (&self.env, self.header.as_str(), self.plan, self.target);
        match target {
            Target::Compose => compose::artifacts(env, header, plan, out)?,
            Target::Swarm => swarm::artifacts(env, header, plan, out)?,
            Target::Kubernetes => kubernetes::artifacts(env, header, plan, out)?,
        }
        // Every target needs the secret files and keeps them out of version control.
        out.insert(
            "scripts/generate-secrets.sh",
            Artifact::script(render_template(
                env,
                "generate-secrets.sh.j2",
                minijinja::context! {
                    header, project => plan.model.project.name,
                    userns => plan.model.host.userns_remap && target != Target::Kubernetes,
                    bind_dirs => writable_bind_dirs(plan),
                    secrets => plan.secrets.iter().map(|s| minijinja::context! {
                        name => s.name, bytes => s.bytes, owner => s.owner.to_string(),
                        mode => format!("0{:o}", s.mode), used_by => s.used_by,
                        description => s.description,
                        format => s.template.as_deref().map(printf_format),
                        sources => s.template.as_deref().map(template_sources).unwrap_or_default(),
                    }).collect::<Vec<_>>(),
                    derived => plan.secrets.iter().filter(|s| s.template.is_some()).map(|s| minijinja::context! {
                        name => s.name, owner => s.owner.to_string(),
                        mode => format!("0{:o}", s.mode), used_by => s.used_by,
                        description => s.description,
                        format => s.template.as_deref().map(printf_format),
                        sources => s.template.as_deref().map(template_sources).unwrap_or_default(),
                    }).collect::<Vec<_>>(),
                },
            )?),
        );
        out.insert(".gitignore", Artifact::text(files::gitignore(header)));
        out.insert(
            ".env.example",
            Artifact::text(files::env_example(header, plan, target)),
        );
        Ok(())
    }

    /// What every target shares, one item per service: the Falco rules (the largest
    /// artifact, 19 MB at 5,000 services, handed over a chunk at a time), the images'
    /// Dockerfiles and their build script.
    pub fn per_image(&self, out: &mut dyn Sink) -> Result<(), RenderBug> {
        let plan = self.plan;
        let mut rules = out.stream(
            format!("falco/hardgen-{}.yaml", plan.model.project.name),
            0o644,
        );
        let rest = crate::falco::render(plan, self.target, &self.header, &mut |text| {
            rules.offer(text)
        });
        rules.finish(rest);
        // Every target builds its images from the same Dockerfiles, under the same names.
        dockerfile::builds(&self.env, &self.header, plan, out)
    }
}

/// A secret template as a single-quoted `printf` format: text with `\\`, `%`, newline
/// and tab escaped for printf, each `{name}` a `%s` (`template_sources` gives the values in
/// order), `'` closed and reopened for the shell.
fn printf_format(parts: &[TemplatePart]) -> String {
    let mut f = String::from("'");
    for p in parts {
        match p {
            TemplatePart::Secret(_) => f.push_str("%s"),
            TemplatePart::Text(t) => {
                for c in t.chars() {
                    match c {
                        '\\' => f.push_str("\\\\"),
                        '%' => f.push_str("%%"),
                        '\n' => f.push_str("\\n"),
                        '\t' => f.push_str("\\t"),
                        '\'' => f.push_str("'\\''"),
                        c => f.push(c),
                    }
                }
            }
        }
    }
    f.push('\'');
    f
}

fn template_sources(parts: &[TemplatePart]) -> Vec<String> {
    parts
        .iter()
        .filter_map(|p| match p {
            TemplatePart::Secret(n) => Some(n.clone()),
            TemplatePart::Text(_) => None,
        })
        .collect()
}

/// Writable bind-mounted host directories (`./data:/var/lib/x`) with their services' users,
/// as `path uid:gid`, for generate-secrets.sh to hand to the remapped ids under userns-remap.
fn writable_bind_dirs(plan: &Plan) -> Vec<minijinja::Value> {
    let mut dirs: Vec<(String, String)> = Vec::new();
    for ps in &plan.services {
        for v in &ps.svc.volumes {
            if let (VolumeSource::Host(path), false) = (&v.source, v.read_only) {
                let entry = (path.clone(), ps.svc.user.to_string());
                if !dirs.contains(&entry) {
                    dirs.push(entry);
                }
            }
        }
    }
    dirs.sort();
    dirs.into_iter()
        .map(|(path, owner)| {
            let quoted = format!("'{}'", path.replace('\'', "'\\''"));
            minijinja::context! { path => quoted, owner }
        })
        .collect()
}

pub(crate) fn seccomp_profiles(plan: &Plan, out: &mut dyn Sink) {
    for (name, policy) in &plan.seccomp_profiles {
        out.insert(
            format!("seccomp/{name}.json"),
            Artifact::text(seccomp::render_profile(policy)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_is_idempotent() {
        let s = normalise("a  \r\nb\n\n\n");
        assert_eq!(s, "a\nb\n");
        assert_eq!(normalise(&s), s);
    }

    /// The one-pass `normalise` is the former replace / lines / trim_end / join, byte for byte.
    #[test]
    fn normalise_is_the_former_normalise() {
        let former = |text: &str| {
            let mut out = text
                .replace("\r\n", "\n")
                .lines()
                .map(str::trim_end)
                .collect::<Vec<_>>()
                .join("\n");
            while out.ends_with('\n') {
                out.pop();
            }
            out.push('\n');
            out
        };
        let parts = [
            "", "a", " ", "\t", "\r", "\n", "\r\n", "\r\r\n", "x y", "\u{a0}", "é", "\u{b}",
            "\u{c}", "\u{85}", "\u{3000}", "\n\n",
        ];
        for a in parts {
            for b in parts {
                for c in parts {
                    for d in parts {
                        let text = format!("{a}{b}{c}{d}");
                        assert_eq!(normalise(&text), former(&text), "{text:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn every_template_parses() {
        let _ = environment();
    }
}
