//! What a valid model may still not be rendered as, per target: the Kubernetes object names
//! and the "restricted" Pod Security Standard. Checked against the spec (each error names
//! its line) for the target being built.

use super::*;
use crate::targets::Target;

/// What the restricted profile allows in `capabilities.add`.
const RESTRICTED_CAPS: &[&str] = &["NET_BIND_SERVICE"];

/// The target's own rules for a model that `validate` accepted from `raw`; empty for the
/// targets that take every valid model.
pub fn check(raw: &RawSpec, model: &Model, target: Target) -> Vec<Diagnostic> {
    match target {
        Target::Compose | Target::Swarm => Vec::new(),
        Target::Kubernetes => kubernetes(raw, model),
    }
}

fn kubernetes<'a>(raw: &'a RawSpec, model: &Model) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    // Object names are DNS-1123 labels: no `_` (and mapping it to `-` could collide).
    let keys = |kind, map: Vec<&'a Sp<String>>| {
        map.into_iter()
            .map(move |k| (kind, k.value.as_str(), &k.span))
    };
    let volumes = raw
        .services
        .values()
        .flat_map(|s| &s.volumes)
        .filter_map(|v| {
            let src = v.value.split(':').next()?;
            (!src.starts_with('/') && !src.starts_with('.')).then_some(("volume", src, &v.span))
        });
    let names = keys("service", raw.services.keys().collect())
        .chain(keys("zone", raw.zones.keys().collect()))
        .chain(keys("secret", raw.secrets.keys().collect()))
        .chain(volumes);
    for (kind, n, span) in names {
        if n.contains('_') && kind != "secret" || n.contains('.') {
            out.push(
                Diagnostic::error("E040", format!("{kind} `{}`: Kubernetes object names allow only lower-case letters, digits and `-`", show(n)))
                    .at(span.clone(), "not a Kubernetes object name")
                    .help("rename it with `-` instead of `_` or `.`"),
            );
        }
    }
    let mut seen: BTreeMap<String, &Sp<String>> = BTreeMap::new();
    for k in raw.secrets.keys() {
        let as_k8s = k.value.replace('_', "-");
        if let Some(other) = seen.insert(as_k8s.clone(), k) {
            out.push(
                Diagnostic::error(
                    "E040",
                    format!(
                        "secrets `{}` and `{}` would both be the Kubernetes Secret `{as_k8s}`",
                        other.value, k.value
                    ),
                )
                .at(k.span.clone(), "same Kubernetes name")
                .also(other.span.clone(), "the other secret")
                .help("rename one of them"),
            );
        }
    }
    for (name, rs) in &raw.services {
        let Some(s) = model.services.get(&name.value) else {
            continue;
        };
        for c in rs
            .cap_add
            .iter()
            .filter(|c| !RESTRICTED_CAPS.contains(&c.value.as_str()))
        {
            out.push(
                Diagnostic::error(
                    "E040",
                    format!(
                        "service `{}`: capability {} is not allowed by the Pod Security Standard \"restricted\" (only NET_BIND_SERVICE may be added)",
                        s.name, c.value
                    ),
                )
                .at(c.span.clone(), "not allowed by \"restricted\"")
                .help("drop the capability for the kubernetes target, or keep this service on the compose target"),
            );
        }
        if s.user.uid == 0 || s.user.gid == 0 {
            let span = rs.user.as_ref().map_or(&name.span, |u| &u.span);
            out.push(
                Diagnostic::error(
                    "E040",
                    format!(
                        "service `{}`: the restricted profile requires a non-root user",
                        s.name
                    ),
                )
                .at(span.clone(), "root user"),
            );
        }
        if !s.no_new_privileges || !s.read_only {
            out.push(
                Diagnostic::error(
                    "E040",
                    format!(
                        "service `{}`: the kubernetes target keeps allowPrivilegeEscalation false and a read-only root file system; remove the `unsafe` relaxation",
                        s.name
                    ),
                )
                .at(name.span.clone(), "its `unsafe` table relaxes them"),
            );
        }
    }
    for d in &mut out {
        d.message = clean(&d.message);
    }
    out.sort_by_key(|d| (d.span.as_ref().map_or(usize::MAX, |s| s.start), d.code));
    out
}
