//! The images' Dockerfiles (written directly by [`dockerfile`], one stage layout per runtime
//! preset), their `.dockerignore`, the integrity entrypoint and `scripts/build-images.sh`: the
//! same for every target.

use minijinja::Environment;

use super::{files, render_template, RenderBug};
use crate::artifact::{Artifact, Sink};
use crate::model::*;
use crate::plan::Plan;
use crate::targets::Target;

/// An exec-form JSON array for a Dockerfile (CMD, HEALTHCHECK). `"` and `\` are written as
/// `\u0022` and `\u005c`: Docker decodes them like any JSON, and hadolint's parser, which
/// misreads `\"` and `\\"`, sees no backslash before a quote. Control characters (C0, C1)
/// and line separators are escaped too, so the instruction stays on its line.
fn dockerfile_json(args: &[String]) -> String {
    let mut out = String::with_capacity(2 + args.iter().map(|a| a.len() + 3).sum::<usize>());
    out.push('[');
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        // The runs between escaped characters are copied whole.
        let mut start = 0;
        for (at, c) in a.char_indices() {
            if matches!(c, '"' | '\\' | '\u{2028}' | '\u{2029}') || c.is_control() {
                out.push_str(&a[start..at]);
                push_json_escape(&mut out, c);
                start = at + c.len_utf8();
            }
        }
        out.push_str(&a[start..]);
        out.push('"');
    }
    out.push(']');
    out
}

/// `c` as `\uXXXX` (`{:04x}`: every character `dockerfile_json` escapes is below U+10000).
fn push_json_escape(out: &mut String, c: char) {
    let n = u32::from(c);
    debug_assert!(n < 0x10000);
    out.push_str("\\u");
    for shift in [12, 8, 4, 0] {
        out.push(char::from_digit((n >> shift) & 0xf, 16).expect("a hex digit"));
    }
}

/// Quote a value for a Dockerfile double-quoted string (LABEL): `\`, `"` and `$` escaped.
fn quote(s: &str) -> String {
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

/// What `build` tells the user after writing a target that runs the built services' images
/// without building them (swarm, Kubernetes: Compose builds its own): run
/// `scripts/build-images.sh`, with `--push` when the nodes pull from a registry.
pub fn build_images_note(model: &Model, target: Target, out: &std::path::Path) -> Option<String> {
    let builds = model
        .services
        .values()
        .any(|s| matches!(s.source, Source::Build(_)));
    (target != Target::Compose && builds).then(|| {
        format!(
            "the {} target runs the built services' images but does not build them: \
             run {}/scripts/build-images.sh{} before deploying",
            target.name(),
            out.display(),
            if model.project.registry.is_some() {
                " --push"
            } else {
                " (with --push and a `registry` in [project] when the nodes pull)"
            }
        )
    })
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
            let text = dockerfile(&header, model, ps.svc, b, entrypoint.as_deref());
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

/// A `RUN` that installs Debian `packages` (none: nothing) and drops the apt lists.
fn apt_install(s: &mut String, packages: &[String]) {
    if !packages.is_empty() {
        put(
            s,
            &["\nRUN apt-get update \\\n && apt-get install -y --no-install-recommends "],
        );
        put(s, &[&packages.join(" ")]);
        put(s, &[" \\\n && rm -rf /var/lib/apt/lists/*"]);
    }
}

/// `parts`, one after the other, at the end of `s`.
fn put(s: &mut String, parts: &[&str]) {
    for p in parts {
        s.push_str(p);
    }
}

/// The Dockerfile of a build service: a builder stage (the runtime's toolchain, the build
/// packages, the writable directories made in a root file system of their own) and a
/// runtime stage (the runtime's base or `scratch`, labels, a numeric user that owns no
/// application file, the integrity entrypoint, the health check, the command). Written
/// directly into one buffer: through minijinja (a template per runtime extending a base) it
/// cost some 80,000 instructions per service. The goldens hold its text for every runtime.
fn dockerfile(
    header: &str,
    model: &Model,
    svc: &Service,
    b: &Build,
    entrypoint: Option<&str>,
) -> String {
    use base64::Engine as _;
    let pinned = |image: String, digest: &Option<String>| match digest {
        Some(d) => format!("{image}@{d}"),
        None => image,
    };
    let builder_image = pinned(b.builder_image(), &b.builder_digest);
    let runtime_image = b
        .runtime_image()
        .map_or_else(|| "scratch".to_string(), |i| pinned(i, &b.base_digest));
    let runtime = match b.runtime {
        Runtime::Python => "python",
        Runtime::Node => "node",
        Runtime::Go => "go",
        Runtime::Rust => "rust",
        Runtime::Static => "static",
    };
    let uid = svc.user.uid.to_string();
    let gid = svc.user.gid.to_string();
    let (uid, gid) = (uid.as_str(), gid.as_str());
    let bin = b.binary.as_str();
    let mut s = String::with_capacity(2048);
    let s = &mut s;
    put(s, &["# ", header, "\n# ", &svc.name, ": ", runtime]);
    put(s, &[" runtime, multi-stage build.\n"]);
    put(
        s,
        &[
            "# The runtime stage runs as the numeric user ",
            uid,
            ":",
            gid,
        ],
    );
    put(s, &[" and owns no application file.\n\n"]);
    put(
        s,
        &["# --- builder: toolchain and dependencies, never shipped ---\n"],
    );
    put(s, &["FROM ", &builder_image, " AS builder"]);
    if !b.writable_dirs.is_empty() {
        put(s, &["\nRUN install -d -m 0750"]);
        for d in &b.writable_dirs {
            put(s, &[" /rootfs", d]);
        }
    }
    apt_install(s, &b.build_packages);
    put(s, &["\n"]);
    match b.runtime {
        Runtime::Python => put(
            s,
            &[
                "\nWORKDIR /build\nCOPY requirements.txt ./\n",
                "# /install exists even when requirements.txt lists nothing (pip then creates nothing).\n",
                "RUN install -d /install \\\n",
                " && pip install --no-cache-dir --no-compile --prefix=/install -r requirements.txt",
            ],
        ),
        Runtime::Node => put(
            s,
            &[
                "\nWORKDIR /build\nCOPY package.json package-lock.json ./\n",
                "RUN npm ci --omit=dev --ignore-scripts\nCOPY . .",
            ],
        ),
        Runtime::Go => put(
            s,
            &[
                "\nWORKDIR /src\nCOPY go.* ./\nRUN go mod download\nCOPY . .\n",
                "RUN CGO_ENABLED=0 go build -trimpath -ldflags=\"-s -w\" -o /out/",
                bin,
                " .",
            ],
        ),
        Runtime::Rust => put(
            s,
            &[
                "\nWORKDIR /src\nCOPY . .\nRUN cargo build --release --locked --bin ",
                bin,
                " \\\n && install -D -m 0555 target/release/",
                bin,
                " /out/",
                bin,
            ],
        ),
        Runtime::Static => put(
            s,
            &[
                "\nWORKDIR /src\nCOPY ",
                bin,
                " /out/",
                bin,
                "\nRUN chmod 0555 /out/",
                bin,
            ],
        ),
    }
    put(
        s,
        &[
            "\n\n# --- runtime: minimal ---\nFROM ",
            &runtime_image,
            "\n",
        ],
    );
    let description = match &svc.description {
        Some(d) => quote(d),
        None => quote(&format!("{} service of {}", svc.name, model.project.name)),
    };
    put(
        s,
        &[
            "LABEL org.opencontainers.image.title=",
            &quote(&svc.name),
            " \\\n",
        ],
    );
    put(
        s,
        &[
            "      org.opencontainers.image.description=",
            &description,
            " \\\n",
        ],
    );
    put(
        s,
        &[
            "      org.opencontainers.image.vendor=",
            &quote(&model.project.name),
            " \\\n",
        ],
    );
    put(s, &["      io.hardgen.user=\"", uid, ":", gid, "\""]);
    // A Debian-based runtime: the numeric user and group, then the runtime packages.
    let debian_user = |s: &mut String| {
        put(
            s,
            &[
                "RUN (getent group ",
                gid,
                " >/dev/null || groupadd --system --gid ",
            ],
        );
        put(
            s,
            &[
                gid,
                " app) \\\n && (getent passwd ",
                uid,
                " >/dev/null || useradd --system",
            ],
        );
        put(
            s,
            &[
                " --uid ",
                uid,
                " --gid ",
                gid,
                " --home-dir /nonexistent --no-create-home",
            ],
        );
        put(s, &[" --shell /usr/sbin/nologin app)"]);
        apt_install(s, &b.packages);
        put(s, &["\n"]);
    };
    match b.runtime {
        Runtime::Python => {
            put(
                s,
                &["\nENV PYTHONDONTWRITEBYTECODE=1 \\\n    PYTHONUNBUFFERED=1\n"],
            );
            debian_user(s);
            put(
                s,
                &["\nCOPY --from=builder --chown=0:0 /install /usr/local\n"],
            );
            put(s, &["WORKDIR /app\nCOPY --chown=0:0 . /app"]);
        }
        Runtime::Node => {
            put(s, &["\nENV NODE_ENV=production\n"]);
            debian_user(s);
            put(
                s,
                &["\nWORKDIR /app\nCOPY --from=builder --chown=0:0 /build /app"],
            );
        }
        Runtime::Go | Runtime::Rust | Runtime::Static => {
            put(
                s,
                &[
                    "\nCOPY --from=builder --chown=0:0 /out/",
                    bin,
                    " /app/",
                    bin,
                ],
            );
        }
    }
    if b.integrity {
        let b64 = entrypoint
            .map(|e| base64::engine::general_purpose::STANDARD.encode(e))
            .unwrap_or_default();
        put(
            s,
            &[
                "\n# The integrity entrypoint, dockerfiles/",
                &svc.name,
                ".entrypoint.sh",
            ],
        );
        put(s, &[", in base64: it reaches the\n"]);
        put(
            s,
            &["# image without being written into the build context (your source).\n"],
        );
        put(s, &["RUN install -d -m 0755 /usr/local/share/hardgen \\\n"]);
        put(
            s,
            &[
                " && printf '%s' '",
                &b64,
                "' >/usr/local/share/hardgen/entrypoint.b64 \\\n",
            ],
        );
        put(
            s,
            &[" && base64 -d /usr/local/share/hardgen/entrypoint.b64"],
        );
        put(s, &[" >/usr/local/bin/hardgen-entrypoint \\\n"]);
        put(s, &[" && rm /usr/local/share/hardgen/entrypoint.b64 \\\n"]);
        put(
            s,
            &[" && chmod 0555 /usr/local/bin/hardgen-entrypoint \\\n"],
        );
        put(s, &[" && find /app -type f"]);
        for x in integrity_exclude(svc, b) {
            put(s, &[" ! -path '", &x, "/*'"]);
        }
        put(
            s,
            &[" -exec sha256sum {} + >/usr/local/share/hardgen/app.sha256"],
        );
    }
    for d in &b.writable_dirs {
        put(
            s,
            &[
                "\nCOPY --from=builder --chown=",
                uid,
                ":",
                gid,
                " /rootfs",
                d,
                " ",
                d,
            ],
        );
    }
    put(s, &["\nUSER ", uid, ":", gid]);
    let mut expose: Vec<String> = svc.expose.iter().map(|p| p.to_string()).collect();
    for p in &svc.ports {
        let e = p.container.to_string();
        if !expose.contains(&e) {
            expose.push(e);
        }
    }
    for p in &expose {
        put(s, &["\nEXPOSE ", p]);
    }
    match &svc.health {
        Some(h) => {
            put(s, &["\nHEALTHCHECK --interval=", &h.interval.to_string()]);
            put(s, &[" --timeout=", &h.timeout.to_string()]);
            put(s, &[" --start-period=", &h.start_period.to_string()]);
            put(s, &[" --retries=", &h.retries.to_string()]);
            put(s, &[" CMD ", &dockerfile_json(&h.cmd)]);
        }
        None => put(s, &["\nHEALTHCHECK NONE"]),
    }
    if b.integrity {
        put(s, &["\nENTRYPOINT [\"/usr/local/bin/hardgen-entrypoint\"]"]);
    }
    put(s, &["\nCMD ", &dockerfile_json(&b.command), "\n"]);
    super::normalise(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerfile_json_escapes_as_format_did() {
        let former = |args: &[String]| {
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
        };
        let every: String = (0..0x2100u32)
            .chain(0x2020..0x2030)
            .filter_map(char::from_u32)
            .collect();
        let lists: Vec<Vec<String>> = vec![
            vec![],
            vec![String::new()],
            vec![every.clone()],
            vec![
                "sh".into(),
                "-c".into(),
                "echo \"$X\" \\ done\n".into(),
                every,
            ],
            vec!["é\u{85}x\u{2028}".into(), "\u{9f}\u{a0}".into()],
        ];
        for l in lists {
            assert_eq!(dockerfile_json(&l), former(&l));
        }
    }

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
