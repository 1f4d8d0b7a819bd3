//! Where a service's image comes from: an image reference (pinned or not), or a `build`
//! (runtime, version, context, packages, digests, and the program the image runs).

use super::*;

pub(super) const MAX_PACKAGES: usize = 128;
const MAX_WRITABLE_DIRS: usize = 64;

/// `host[:port][/path]` in lower case, as the repository prefix of an image reference
/// (the schema's `REGISTRY` pattern says the same).
pub(super) fn registry_ok(s: &str) -> bool {
    let component = |c: &str| {
        !c.is_empty()
            && c.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
            })
            && c.as_bytes()[0].is_ascii_alphanumeric()
            && c.as_bytes()[c.len() - 1].is_ascii_alphanumeric()
            && !c.contains("..")
    };
    let mut parts = s.split('/');
    let host = parts.next().unwrap_or("");
    let (host, port) = match host.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (host, None),
    };
    s.len() <= 255
        && component(host)
        && port.is_none_or(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
        && parts.all(component)
}

/// A Docker tag: letters, digits, `_`, `.`, `-`, at most 128, not starting with `.` or `-`.
pub(super) fn image_tag_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && (s.as_bytes()[0].is_ascii_alphanumeric() || s.as_bytes()[0] == b'_')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

impl Validator<'_> {
    pub(super) fn image(&mut self, img: &Sp<String>) -> ImageRef {
        match ImageRef::parse(&img.value) {
            Ok(r) => {
                // A digest pins the image whatever the tag says.
                if r.digest.is_none() && (r.tag.is_none() || r.tag.as_deref() == Some("latest")) {
                    let mut diag = Diagnostic::warning(
                        "E017",
                        format!(
                            "image `{}` is not pinned to a version tag",
                            show(&img.value)
                        ),
                    )
                    .at(img.span.clone(), "mutable reference")
                    .help("name a version tag (and ideally a digest), e.g. `redis:7.2.5-bookworm`");
                    if self.opts.strict {
                        diag.severity = crate::diagnostic::Severity::Error;
                    }
                    self.push(diag);
                } else if r.digest.is_none() {
                    self.push(
                        Diagnostic::warning("W101", format!("image `{}` has no digest", show(&img.value)))
                            .at(img.span.clone(), "tag only")
                            .help("append `@sha256:<digest>` to pin the exact image (compose-lint CL-0019)"),
                    );
                }
                r
            }
            Err(e) => {
                self.err(
                    "E029",
                    &img.span,
                    format!("invalid image reference: {e}"),
                    "invalid image",
                );
                ImageRef::parse("invalid").expect("literal parses")
            }
        }
    }

    pub(super) fn build(&mut self, service: &str, b: &RawBuild) -> Build {
        let runtime = b.runtime.value;
        let reported = self.diags.len();
        let version = self.build_version(service, b);
        // A missing or invalid version was just reported: the base images' names are not known,
        // so saying they have no digest would be a knock-on warning naming a broken image.
        let version_known = self.diags.len() == reported;
        let context = self.build_context(service, b);
        let binary = match &b.binary {
            None => service.to_string(),
            Some(x) => {
                let ok = !x.value.is_empty()
                    && x.value.len() <= 64
                    && x.value.as_bytes()[0].is_ascii_alphanumeric()
                    && x.value
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
                if !ok {
                    self.err(
                        "E030",
                        &x.span,
                        format!("`{}` is not a valid binary name", show(&x.value)),
                        "invalid name",
                    );
                }
                x.value.clone()
            }
        };
        let command = match &b.command {
            Some(c) if c.is_empty() => {
                self.err(
                    "E035",
                    &b.runtime.span,
                    "the build command is empty".into(),
                    "empty command",
                );
                vec![]
            }
            Some(c) => self.args(c, "command"),
            None => match runtime {
                Runtime::Python | Runtime::Node => {
                    self.push(
                        Diagnostic::error(
                            "E030",
                            format!("service `{service}`: the build needs a `command`"),
                        )
                        .at(b.runtime.span.clone(), "what does the image run?")
                        .help(if runtime == Runtime::Python {
                            "e.g. `command = [\"python\", \"-m\", \"app\"]`"
                        } else {
                            "e.g. `command = [\"node\", \"server.js\"]`"
                        }),
                    );
                    vec![]
                }
                _ => vec![format!("/app/{binary}")],
            },
        };
        let pk = self.packages(&b.packages);
        let bpk = self.packages(&b.build_packages);
        for list in [&b.packages, &b.build_packages] {
            if let Some(extra) = list.get(MAX_PACKAGES) {
                self.err(
                    "E031",
                    &extra.span,
                    format!("at most {MAX_PACKAGES} packages per list"),
                    "one too many",
                );
            }
        }
        if let Some(extra) = b.writable_dirs.get(MAX_WRITABLE_DIRS) {
            self.err(
                "E026",
                &extra.span,
                format!("at most {MAX_WRITABLE_DIRS} writable directories"),
                "one too many",
            );
        }
        if matches!(runtime, Runtime::Go | Runtime::Rust | Runtime::Static)
            && !b.packages.is_empty()
        {
            self.err(
                "E030",
                &b.packages[0].span,
                "runtime packages need a Debian runtime stage: the go, rust and static runtimes have none".into(),
                "cannot be installed",
            );
        }
        let mut writable_dirs = Vec::new();
        for w in &b.writable_dirs {
            if container_path_ok(&w.value) {
                writable_dirs.push(w.value.clone());
            } else {
                self.err(
                    "E026",
                    &w.span,
                    format!(
                        "`{}` is not a valid absolute container path",
                        show(&w.value)
                    ),
                    "invalid path",
                );
            }
        }
        let integrity = match &b.integrity {
            Some(x) if x.value && !matches!(runtime, Runtime::Python | Runtime::Node) => {
                self.push(
                    Diagnostic::error(
                        "E030",
                        format!("service `{service}`: the integrity check needs a shell in the runtime image"),
                    )
                    .at(x.span.clone(), "no shell in this runtime")
                    .help("the go and rust runtimes are distroless and `static` is empty: only python and node images can run the check"),
                );
                false
            }
            Some(x) => x.value,
            None => false,
        };
        let mut build = Build {
            runtime,
            version,
            base_digest: None,
            builder_digest: None,
            context,
            command,
            binary,
            packages: pk,
            build_packages: bpk,
            writable_dirs,
            integrity,
        };
        self.pin(service, b, &mut build, version_known);
        build
    }

    fn build_version(&mut self, service: &str, b: &RawBuild) -> Option<String> {
        let runtime = b.runtime.value;
        let needs_version = runtime != Runtime::Static;
        match &b.version {
            Some(v) => {
                let ok = !v.value.is_empty()
                    && v.value.len() <= 32
                    && v.value.as_bytes()[0].is_ascii_digit()
                    && v.value
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
                if !ok {
                    self.err(
                        "E030",
                        &v.span,
                        format!("`{}` is not a valid version", show(&v.value)),
                        "invalid version",
                    );
                }
                if !needs_version {
                    self.err(
                        "E030",
                        &v.span,
                        "the `static` runtime has no version".into(),
                        "not used",
                    );
                }
                Some(v.value.clone())
            }
            None if needs_version => {
                self.push(
                    Diagnostic::error(
                        "E030",
                        format!("service `{service}`: the {runtime:?} runtime needs a `version`")
                            .to_lowercase(),
                    )
                    .at(b.runtime.span.clone(), "which version?")
                    .help(match runtime {
                        Runtime::Python => "e.g. `version = \"3.12\"`",
                        Runtime::Node => "e.g. `version = \"20\"`",
                        Runtime::Go => "e.g. `version = \"1.22\"`",
                        _ => "e.g. `version = \"1.80\"`",
                    }),
                );
                None
            }
            None => None,
        }
    }

    /// The build context, relative to the spec's directory, and whether it is there.
    fn build_context(&mut self, service: &str, b: &RawBuild) -> String {
        let context = match &b.context {
            None => format!("src/{service}"),
            Some(c) => {
                let v = match c.value.trim_start_matches("./").trim_end_matches('/') {
                    "" if c.value.starts_with('.') => ".",
                    v => v,
                };
                // `../` only as a prefix (the spec may sit in a `deploy/` folder of the
                // repository); below that, plain names: the path is rendered relative to the
                // output directory and must mean one thing.
                let below = v.trim_start_matches("../");
                let ok = !v.is_empty()
                    && !c.value.starts_with('/')
                    && c.value.len() <= 256
                    && c.value.bytes().all(|x| {
                        x.is_ascii_alphanumeric() || matches!(x, b'/' | b'.' | b'_' | b'-')
                    })
                    && (below.is_empty()
                        || below == "."
                        || below
                            .split('/')
                            .all(|p| !p.is_empty() && p != "." && p != ".."));
                if !ok {
                    self.err(
                        "E030",
                        &c.span,
                        format!("`{}` is not a valid build context", show(&c.value)),
                        "a relative path from the spec's directory (`../` only at the start)",
                    );
                }
                v.to_string()
            }
        };
        if let Some(dir) = &self.opts.spec_dir {
            if !dir.join(&context).is_dir() {
                let span = b
                    .context
                    .as_ref()
                    .map_or_else(|| b.runtime.span.clone(), |c| c.span.clone());
                let message = format!(
                    "service `{service}`: the build context `{context}` does not exist next to the spec"
                );
                let d = if self.opts.strict {
                    Diagnostic::error("E044", message)
                } else {
                    Diagnostic::warning("W107", message)
                };
                self.push(
                    d.at(span, "no such directory")
                        .help(format!(
                            "build contexts are relative to the spec's directory: put the service's source in `{}` or set `context` to where it is",
                            dir.join(&context).display()
                        )),
                );
            }
        }
        context
    }

    /// Debian packages, optionally `=version`.
    fn packages(&mut self, list: &[Sp<String>]) -> Vec<String> {
        let mut out = Vec::new();
        for p in list {
            let (name, ver) = match p.value.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (p.value.as_str(), None),
            };
            let name_ok = name.len() >= 2
                && name.len() <= 64
                && name.as_bytes()[0].is_ascii_alphanumeric()
                && name.bytes().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'+' | b'.' | b'-')
                });
            let ver_ok = ver.is_none_or(|v| {
                !v.is_empty()
                    && v.len() <= 64
                    && v.bytes().all(|c| {
                        c.is_ascii_alphanumeric() || matches!(c, b'.' | b'+' | b'~' | b':' | b'-')
                    })
            });
            if !name_ok || !ver_ok {
                self.err(
                    "E031",
                    &p.span,
                    format!(
                        "`{}` is not a Debian package name (optionally `=version`)",
                        show(&p.value)
                    ),
                    "invalid package",
                );
            }
            out.push(p.value.clone());
        }
        out
    }

    /// The base images' digests, and a warning for each base image left unpinned.
    fn pin(&mut self, service: &str, b: &RawBuild, build: &mut Build, version_known: bool) {
        let digest = |this: &mut Self, d: &Option<Sp<String>>| -> Option<String> {
            let d = d.as_ref()?;
            let ok = d.value.strip_prefix("sha256:").is_some_and(|h| {
                h.len() == 64
                    && h.bytes()
                        .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
            });
            if !ok {
                this.push(
                    Diagnostic::error("E030", format!("`{}` is not an image digest", show(&d.value)))
                        .at(d.span.clone(), "invalid digest")
                        .help("write `sha256:` and the 64 lower-case hex digits that `docker buildx imagetools inspect IMAGE` shows"),
                );
                return None;
            }
            Some(d.value.clone())
        };
        let base_digest = digest(self, &b.base_digest);
        let builder_digest = digest(self, &b.builder_digest);
        let runtime = build.runtime;
        if let (Some(sp), true) = (&b.base_digest, build.runtime_image().is_none()) {
            self.push(
                Diagnostic::error("E030", format!("service `{service}`: the static runtime runs on `scratch`, which has no digest"))
                    .at(sp.span.clone(), "nothing to pin")
                    .help("remove `base_digest`; `builder_digest` pins the builder's `debian:bookworm-slim`"),
            );
        }
        if let (Some(sp), true) = (&b.builder_digest, build.one_image()) {
            self.push(
                Diagnostic::error("E030", format!("service `{service}`: the {} runtime builds on its runtime image: `base_digest` pins both stages", format!("{runtime:?}").to_lowercase()))
                    .at(sp.span.clone(), "same image as the runtime stage")
                    .help("move the digest to `base_digest`"),
            );
        }
        build.base_digest = base_digest.clone();
        build.builder_digest = if build.one_image() {
            base_digest
        } else {
            builder_digest
        };
        if !version_known {
            return;
        }
        let at = b
            .version
            .as_ref()
            .map_or(&b.runtime.span, |v| &v.span)
            .clone();
        let mut unpinned = Vec::new();
        if build.builder_digest.is_none() {
            unpinned.push(build.builder_image());
        }
        if let Some(img) = build.runtime_image() {
            if build.base_digest.is_none() && !build.one_image() {
                unpinned.push(img);
            }
        }
        for img in unpinned {
            self.push(
                Diagnostic::warning("W101", format!("service `{service}`: build base image `{img}` has no digest"))
                    .at(at.clone(), "tag only")
                    .help(if build.runtime_image().as_deref() == Some(img.as_str()) {
                        "add `base_digest = \"sha256:<digest>\"` to `build` to pin it (`docker buildx imagetools inspect IMAGE` shows it)"
                    } else {
                        "add `builder_digest = \"sha256:<digest>\"` to `build` to pin it (`docker buildx imagetools inspect IMAGE` shows it)"
                    }),
            );
        }
    }

    /// A go, rust or static image holds one program, at `/app/<binary>` (its runtime stage
    /// is distroless or empty: no shell, no other executable); a command that starts
    /// anything else cannot run. Python and node images have an interpreter and the
    /// packages' programs on `PATH`: there the program is not decidable from the spec.
    pub(super) fn program_in_image(
        &mut self,
        service: &str,
        b: &Build,
        first: &Sp<String>,
        what: &str,
    ) {
        if !matches!(b.runtime, Runtime::Go | Runtime::Rust | Runtime::Static) {
            return;
        }
        let path = format!("/app/{}", b.binary);
        if first.value == path {
            return;
        }
        let runtime = format!("{:?}", b.runtime).to_lowercase();
        let image = match b.runtime {
            Runtime::Go => "the distroless static image",
            Runtime::Rust => "the distroless cc image",
            _ => "the empty (`scratch`) image",
        };
        let base = first.value.rsplit('/').next().unwrap_or_default();
        let rename = if first.value.strip_prefix("/app/") == Some(base)
            && base != b.binary
            && base.len() <= 64
            && base
                .bytes()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric())
            && base
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
        {
            format!(", or set `binary = \"{base}\"` to install the program as `/app/{base}`")
        } else {
            String::new()
        };
        self.push(
            Diagnostic::error(
                "E041",
                format!(
                    "service `{service}`: `{what}` runs `{}`, but the {runtime} runtime installs its program at `{path}`",
                    show(&first.value)
                ),
            )
            .at(first.span.clone(), "not in the image")
            .help(format!(
                "{image} holds no other program (no shell either): start with `{path}`{rename}"
            )),
        );
    }
}
