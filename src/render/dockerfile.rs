//! The images' Dockerfiles (one template per runtime preset), their `.dockerignore`, the
//! integrity entrypoint and `scripts/build-images.sh`: the same for every target.

use minijinja::Environment;

use super::{files, render_template, RenderBug};
use crate::artifact::{Artifact, Sink};
use crate::model::*;
use crate::plan::Plan;

/// An exec-form JSON array for a Dockerfile (CMD, HEALTHCHECK). `"` and `\` are written as
/// `\u0022` and `\u005c`: Docker decodes them like any JSON, and hadolint's parser, which
/// misreads `\"` and `\\"`, sees no backslash before a quote. Control characters (C0, C1)
/// and line separators are escaped too, so the instruction stays on its line.
fn dockerfile_json(args: &[String]) -> String {
    let mut out = String::from("[");
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        for c in a.chars() {
            if matches!(c, '"' | '\\' | '\u{2028}' | '\u{2029}') || c.is_control() {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            } else {
                out.push(c);
            }
        }
        out.push('"');
    }
    out.push(']');
    out
}

/// Quote a value for a Dockerfile double-quoted string (LABEL): `\`, `"` and `$` escaped.
pub(super) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if matches!(c, '\\' | '"' | '$') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// What every target needs to build its images: the generated Dockerfiles (with their
/// `.dockerignore` and, for integrity builds, the entrypoint, reviewable beside them) and
/// `scripts/build-images.sh`, which builds each image under the name every target runs it by
/// and, with `--push`, pushes it to the spec's registry.
pub(super) fn builds(
    env: &Environment,
    header: &str,
    plan: &Plan,
    out: &mut dyn Sink,
) -> Result<(), RenderBug> {
    let model = plan.model;
    let header = header.to_string();
    for ps in &plan.services {
        if let (Source::Build(b), Some(path)) = (&ps.svc.source, &ps.dockerfile) {
            // The integrity entrypoint is written for review next to the Dockerfile and
            // carried into the image inside it: nothing is ever written into the build context,
            // which is the user's source.
            let entrypoint = if b.integrity {
                let script = render_template(
                    env,
                    "integrity-entrypoint.sh.j2",
                    minijinja::context! { header, service => ps.svc.name },
                )?;
                out.insert(
                    format!("dockerfiles/{}.entrypoint.sh", ps.svc.name),
                    Artifact::script(script.clone()),
                );
                Some(script)
            } else {
                None
            };
            let text = dockerfile(env, &header, model, ps.svc, b, entrypoint.as_deref())?;
            out.insert(path.clone(), Artifact::text(text));
            out.insert(
                format!("{path}.dockerignore"),
                Artifact::text(files::dockerignore(&header)),
            );
        }
    }
    let images: Vec<_> = plan
        .services
        .iter()
        .filter_map(|ps| {
            let b = ps.build.as_ref()?;
            Some(minijinja::context! {
                service => ps.svc.name, image => ps.image,
                dockerfile => ps.dockerfile, context => b.context,
            })
        })
        .collect();
    if !images.is_empty() {
        out.insert(
            "scripts/build-images.sh",
            Artifact::script(render_template(
                env,
                "build-images.sh.j2",
                minijinja::context! {
                    header, images, registry => model.project.registry,
                },
            )?),
        );
    }
    Ok(())
}

/// Paths under /app whose content is not the image's (volumes, tmpfs, writable
/// directories): left out of the integrity checksums.
fn integrity_exclude(svc: &Service, b: &Build) -> Vec<String> {
    let mut out: Vec<String> = b
        .writable_dirs
        .iter()
        .cloned()
        .chain(svc.volumes.iter().map(|v| v.target.clone()))
        .chain(svc.tmpfs_mounts().into_iter().map(|t| t.path))
        .filter(|p| p.starts_with("/app/"))
        .collect();
    out.sort();
    out.dedup();
    out
}

fn dockerfile(
    env: &Environment,
    header: &str,
    model: &Model,
    svc: &Service,
    b: &Build,
    entrypoint: Option<&str>,
) -> Result<String, RenderBug> {
    use base64::Engine as _;
    let entrypoint_b64 = entrypoint.map(|e| base64::engine::general_purpose::STANDARD.encode(e));
    let template = match b.runtime {
        Runtime::Python => "dockerfile/python.j2",
        Runtime::Node => "dockerfile/node.j2",
        Runtime::Go => "dockerfile/go.j2",
        Runtime::Rust => "dockerfile/rust.j2",
        Runtime::Static => "dockerfile/static.j2",
    };
    let pinned = |image: String, digest: &Option<String>| match digest {
        Some(d) => format!("{image}@{d}"),
        None => image,
    };
    let builder_image = pinned(b.builder_image(), &b.builder_digest);
    let runtime_image = b
        .runtime_image()
        .map_or_else(|| "scratch".to_string(), |i| pinned(i, &b.base_digest));
    let json = |v: &[String]| dockerfile_json(v);
    let health = svc.health.as_ref().map(|h| {
        minijinja::context! {
            interval => h.interval.to_string(), timeout => h.timeout.to_string(),
            start_period => h.start_period.to_string(), retries => h.retries,
            cmd => json(&h.cmd),
        }
    });
    let mut expose: Vec<String> = svc.expose.iter().map(|p| p.to_string()).collect();
    for p in &svc.ports {
        let s = p.container.to_string();
        if !expose.contains(&s) {
            expose.push(s);
        }
    }
    render_template(
        env,
        template,
        minijinja::context! {
            header, service => svc.name, project => model.project.name,
            runtime => format!("{:?}", b.runtime).to_lowercase(),
            builder_image, runtime_image,
            title => svc.name,
            description => svc.description.clone().unwrap_or_else(|| format!("{} service of {}", svc.name, model.project.name)),
            uid => svc.user.uid, gid => svc.user.gid,
            packages => b.packages, build_packages => b.build_packages,
            writable_dirs => b.writable_dirs, binary => b.binary,
            integrity => b.integrity, app_dir => "/app", entrypoint_b64,
            integrity_exclude => integrity_exclude(svc, b),
            expose, health, command => json(&b.command),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerfile_json_is_json_without_backslash_quote() {
        let args = vec![
            "a\"b".to_string(),
            "x\\".to_string(),
            "\u{85}\n\u{2028}é".to_string(),
        ];
        let j = dockerfile_json(&args);
        assert!(
            !j.contains("\\\"") && !j.contains('\n') && !j.contains('\u{85}'),
            "{j}"
        );
        let back: Vec<String> = serde_json::from_str(&j).unwrap();
        assert_eq!(back, args);
    }

    #[test]
    fn quoting_blocks_dockerfile_expansion() {
        assert_eq!(quote(r#"a"b$c\d"#), r#""a\"b\$c\\d""#);
    }
}
