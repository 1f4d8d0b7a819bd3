//! Volumes and tmpfs mounts: paths a container may mount, host locations that need
//! `unsafe.sensitive_mounts`, and the generated files no container may mount.

use super::*;

/// Sensitive host locations: mounting them (or anything below) into a container needs
/// `unsafe.sensitive_mounts`.
pub(super) const SENSITIVE_HOST_PATHS: &[&str] = &[
    "/",
    "/boot",
    "/dev",
    "/etc",
    "/home",
    "/lib",
    "/lib32",
    "/lib64",
    "/proc",
    "/root",
    "/run",
    "/sbin",
    "/bin",
    "/sys",
    "/usr",
    "/var/lib/docker",
    "/var/run",
    "/var/lib/containerd",
];
/// Below these, every path is sensitive too (and so is every directory above them: mounting
/// `/var` exposes `/var/lib/docker`).
pub(super) const SENSITIVE_HOST_TREES: &[&str] = &[
    "/boot",
    "/dev",
    "/etc",
    "/proc",
    "/sys",
    "/root",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/var/lib/containers",
    "/var/lib/kubelet",
    "/var/run",
    "/run",
    "/usr",
    "/lib",
    "/lib32",
    "/lib64",
    "/bin",
    "/sbin",
];

pub(super) fn container_path_ok(p: &str) -> bool {
    p.starts_with('/')
        && p.len() <= 512
        && p != "/"
        && p.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-' | b'@' | b'+')
        })
        && !p.split('/').any(|c| c == ".." || c == ".")
        && !p.contains("//")
}

pub(super) fn host_path_ok(p: &str) -> bool {
    (p.starts_with('/') || p == "." || p.starts_with("./"))
        && p.len() <= 512
        && p.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-' | b'@' | b'+')
        })
}

/// A relative host path that climbs out of the output directory: where it lands depends on
/// where the output is deployed, so it cannot be checked (`../../../etc` is `/etc`).
pub(super) fn escapes_output_dir(p: &str) -> bool {
    !p.starts_with('/') && p.split('/').any(|c| c == "..")
}

pub(super) fn normalise_abs(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

pub fn is_sensitive_host_path(p: &str) -> bool {
    let p = normalise_abs(p);
    if p.ends_with(".sock") {
        return true;
    }
    SENSITIVE_HOST_PATHS.contains(&p.as_str())
        || SENSITIVE_HOST_TREES.iter().any(|t| {
            p.strip_prefix(t).is_some_and(|rest| rest.starts_with('/'))
                || t.strip_prefix(p.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
        })
}

impl Validator<'_> {
    /// Volumes and tmpfs mounts, and no two mounts on one path.
    pub(super) fn mounts(
        &mut self,
        s: &RawService,
        n: &str,
        svc_secrets: &[String],
        sensitive_ok: bool,
    ) -> (Vec<Volume>, Vec<Tmpfs>) {
        let volumes = self.volumes(n, &s.volumes, sensitive_ok);
        let tmpfs = self.tmpfs(&s.tmpfs);
        // Docker refuses two mounts on one path: volumes against the tmpfs mounts (`/tmp`
        // and `/run` always) and the secret files, tmpfs mounts against the secret files.
        let secret_file = |p: &str| {
            p.strip_prefix("/run/secrets/")
                .is_some_and(|x| svc_secrets.iter().any(|s| s == x))
        };
        let mut clashes = Vec::new();
        for (v, span) in &volumes {
            if v.target == "/tmp"
                || v.target == "/run"
                || tmpfs.iter().any(|(t, _)| t.path == v.target)
            {
                clashes.push((span.clone(), v.target.clone(), "a tmpfs"));
            } else if secret_file(&v.target) {
                clashes.push((span.clone(), v.target.clone(), "a secret"));
            }
        }
        for (t, span) in &tmpfs {
            if secret_file(&t.path) {
                clashes.push((span.clone(), t.path.clone(), "a secret"));
            }
        }
        for (span, path, what) in clashes {
            self.err(
                "E033",
                &span,
                format!("`{path}` is already mounted as {what}"),
                "duplicate mount point",
            );
        }
        let volumes: Vec<Volume> = volumes.into_iter().map(|(v, _)| v).collect();
        let tmpfs: Vec<Tmpfs> = tmpfs.into_iter().map(|(t, _)| t).collect();
        (volumes, tmpfs)
    }

    pub(super) fn volumes(
        &mut self,
        service: &str,
        list: &[Sp<String>],
        sensitive_ok: bool,
    ) -> Vec<(Volume, Range<usize>)> {
        let mut out: Vec<(Volume, Range<usize>)> = Vec::new();
        for v in list {
            let parts: Vec<&str> = v.value.split(':').collect();
            let (src, target, mode) = match parts.as_slice() {
                [s, t] => (*s, *t, None),
                [s, t, m] => (*s, *t, Some(*m)),
                _ => {
                    self.push(
                        Diagnostic::error("E025", format!("`{}` is not a volume", show(&v.value)))
                            .at(v.span.clone(), "invalid volume")
                            .help("write `NAME:/path`, `./host/path:/path` or either with `:ro`"),
                    );
                    continue;
                }
            };
            let read_only = match mode {
                None | Some("rw") => false,
                Some("ro") => true,
                Some(m) => {
                    self.err(
                        "E025",
                        &v.span,
                        format!("unknown volume mode `{m}`"),
                        "use `ro` or `rw`",
                    );
                    continue;
                }
            };
            if !container_path_ok(target) {
                self.err(
                    "E026",
                    &v.span,
                    format!("`{}` is not a valid absolute container path", show(target)),
                    "invalid target",
                );
                continue;
            }
            if ["/proc", "/sys", "/dev"]
                .iter()
                .any(|p| target == *p || target.starts_with(&format!("{p}/")))
            {
                self.err(
                    "E026",
                    &v.span,
                    format!("mounting onto `{target}` would shadow kernel interfaces"),
                    "forbidden target",
                );
                continue;
            }
            let source = if src.starts_with('/') || src.starts_with('.') {
                if !host_path_ok(src) {
                    self.err(
                        "E025",
                        &v.span,
                        format!("`{}` is not a valid host path", show(src)),
                        "invalid host path",
                    );
                    continue;
                }
                if escapes_output_dir(src) {
                    self.push(
                        Diagnostic::error("E025", format!("`{src}` climbs out of the output directory"))
                            .at(v.span.clone(), "`..` in a relative host path")
                            .help("relative host paths stay inside the output directory; write a location outside it as an absolute path (hardgen then checks it against sensitive host locations)"),
                    );
                    continue;
                }
                if src.starts_with('/') && is_sensitive_host_path(src) && !sensitive_ok {
                    self.push(
                        Diagnostic::error("E016", format!("service `{service}` mounts the sensitive host path `{src}`"))
                            .at(v.span.clone(), "host system location")
                            .help("mount an application directory instead (e.g. `./config:/app/config:ro`), or set `unsafe = { sensitive_mounts = true, reason = \"...\" }`"),
                    );
                }
                if !src.starts_with('/') && crate::artifact::is_generated(src) && !sensitive_ok {
                    self.push(
                        Diagnostic::error("E016", format!("service `{service}` mounts `{src}`, which hardgen generates"))
                            .at(v.span.clone(), "generated deployment files")
                            .help("the container could read the secrets or rewrite the scripts, firewall rules and profiles that root runs and loads: mount a directory of your own (e.g. `./data:/data`)"),
                    );
                }
                VolumeSource::Host(src.to_string())
            } else {
                if !name_ok(src, 64, b"_.-") {
                    self.err(
                        "E025",
                        &v.span,
                        format!("`{}` is not a valid volume name", show(src)),
                        "invalid volume name",
                    );
                    continue;
                }
                VolumeSource::Named(src.to_string())
            };
            if let Some((_, first)) = out.iter().find(|(o, _)| o.target == target) {
                self.push(
                    Diagnostic::error("E033", format!("`{target}` is mounted twice"))
                        .at(v.span.clone(), "duplicate target")
                        .also(first.clone(), "mounted here first"),
                );
                continue;
            }
            out.push((
                Volume {
                    source,
                    target: target.to_string(),
                    read_only,
                },
                v.span.clone(),
            ));
        }
        out
    }

    pub(super) fn tmpfs(&mut self, list: &[Sp<String>]) -> Vec<(Tmpfs, Range<usize>)> {
        let mut out: Vec<(Tmpfs, Range<usize>)> = Vec::new();
        for t in list {
            let (path, size) = match t.value.split_once(':') {
                Some((p, s)) => match ByteSize::parse(s) {
                    Ok(b) => (p, Some(b)),
                    Err(e) => {
                        self.err("E021", &t.span, e, "invalid size");
                        continue;
                    }
                },
                None => (t.value.as_str(), None),
            };
            if !container_path_ok(path) {
                self.err(
                    "E026",
                    &t.span,
                    format!("`{}` is not a valid absolute container path", show(path)),
                    "invalid path",
                );
            } else if let Some((_, first)) = out.iter().find(|(o, _)| o.path == path) {
                self.push(
                    Diagnostic::error("E033", format!("`{path}` is already a tmpfs"))
                        .at(t.span.clone(), "duplicate")
                        .also(first.clone(), "the first one"),
                );
            } else {
                out.push((
                    Tmpfs {
                        path: path.to_string(),
                        size,
                    },
                    t.span.clone(),
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_paths() {
        assert!(is_sensitive_host_path("/"));
        assert!(is_sensitive_host_path("/etc/ssl/certs"));
        assert!(is_sensitive_host_path("/var/run/docker.sock"));
        assert!(is_sensitive_host_path("/srv/../etc"));
        assert!(!is_sensitive_host_path("/srv/data"));
    }
}
