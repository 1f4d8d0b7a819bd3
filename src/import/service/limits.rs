//! A service's privileges and resources: capabilities, security options, memory, CPU and
//! pids limits, restart policy.

use super::*;

impl Svc<'_> {
    /// Capabilities.
    pub(super) fn caps(&mut self, doc: &mut Doc) {
        let s = self.s;
        let caps: Vec<String> = s
            .cap_add
            .iter()
            .map(|c| c.value.trim_start_matches("CAP_").to_ascii_uppercase())
            .filter(|c| c != "ALL")
            .collect();
        if !caps.is_empty() {
            let dangerous: Vec<&String> = caps
                .iter()
                .filter(|c| crate::caps::is_dangerous(c))
                .collect();
            if !dangerous.is_empty() {
                self.unsafe_flags.push((
                    "dangerous_caps",
                    format!(
                        "adds {}",
                        dangerous
                            .iter()
                            .map(|c| c.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            doc.line(
                &format!("cap_add = {}", toml_list(&caps)),
                Some(
                    "import: kept from the compose file (every other capability is dropped)".into(),
                ),
            );
        }
    }

    /// Security options.
    pub(super) fn security_opt(&mut self, doc: &mut Doc) {
        let s = self.s;
        for o in &s.security_opt {
            let v = o.value.replace('=', ":");
            if let Some(prof) = v.strip_prefix("apparmor:") {
                if prof != "unconfined" {
                    doc.line(
                        &format!("apparmor = {}", toml_str(prof)),
                        Some("import: from security_opt".into()),
                    );
                } else {
                    doc.comment(
                    "import: security_opt apparmor:unconfined dropped (the host's profile applies)",
                );
                }
            } else if v.starts_with("seccomp:") {
                doc.comment(&format!("import: security_opt `{}` replaced by hardgen's generated profile (if a syscall is refused, add it to `syscalls_allow`)", o.value));
            } else if v == "no-new-privileges:false" {
                self.unsafe_flags
                    .push(("allow_new_privileges", "no-new-privileges was off".into()));
            } else if !v.starts_with("no-new-privileges") {
                doc.comment(&format!("TODO: security_opt `{}` dropped", o.value));
            }
        }
    }

    /// Limits.
    pub(super) fn limits(&mut self, doc: &mut Doc, tmpfs: &[String]) {
        let s = self.s;
        let img = self.img;
        let mem = s.memory.as_ref().and_then(|m| size(&m.value));
        if let Some(m) = mem
            .as_deref()
            .and_then(|m| crate::model::ByteSize::parse(m).ok())
        {
            let mib = m.bytes / (1024 * 1024);
            let mut fixed = 0u64;
            let mut sizeless = 2u64;
            for t in tmpfs {
                let (path, sz) = t
                    .split_once(':')
                    .map(|(p, z)| (p, Some(z)))
                    .unwrap_or((t.as_str(), None));
                match sz.and_then(|z| crate::model::ByteSize::parse(z).ok()) {
                    Some(b) if path == "/tmp" || path == "/run" => {
                        sizeless -= 1;
                        fixed += b.bytes / (1024 * 1024);
                    }
                    Some(b) => fixed += b.bytes / (1024 * 1024),
                    None if path == "/tmp" || path == "/run" => {}
                    None => sizeless += 1,
                }
            }
            if sizeless * 64 + fixed >= mib {
                let each = (mib.saturating_sub(fixed) / (2 * sizeless.max(1))).max(1);
                doc.line(
                    &format!("tmpfs_size = \"{each}m\""),
                    Some(format!(
                        "import: /tmp and /run sized to fit the memory limit of {}",
                        m
                    )),
                );
            }
        }
        match (&s.memory, mem) {
            (Some(_), Some(m)) => doc.line(&format!("memory = {}", toml_str(&m)), None),
            (Some(m), None) => doc.comment(&format!(
                "TODO: memory limit `{}` not understood; hardgen's default applies",
                m.value
            )),
            (None, _) => {
                if let Some(m) = img.and_then(|i| i.memory) {
                    doc.line(
                        &format!("memory = {}", toml_str(m)),
                        Some(
                            "import: the image table's usual need (the compose file set no limit)"
                                .into(),
                        ),
                    );
                }
            }
        }
        if let Some(c) = &s.cpus {
            match c.value.parse::<f64>() {
                Ok(v) if (0.01..=1024.0).contains(&v) => doc.line(&format!("cpus = {v:?}"), None),
                _ => doc.comment(&format!(
                    "TODO: CPU limit `{}` not understood; hardgen's default applies",
                    c.value
                )),
            }
        }
        if let Some(pl) = &s.pids {
            match pl.value.parse::<i64>() {
                Ok(v) if (8..=4_194_304).contains(&v) => doc.line(&format!("pids = {v}"), None),
                _ => doc.comment(&format!(
                    "TODO: pids limit `{}` not carried over; hardgen's default applies",
                    pl.value
                )),
            }
        }
        if let Some(r) = &s.restart {
            let ok = r
                .value
                .strip_prefix("on-failure:")
                .and_then(|n| n.parse::<u32>().ok())
                .is_some_and(|n| n <= 5);
            if !ok && r.value != "no" {
                doc.comment(&format!(
                    "import: restart `{}` replaced by on-failure:5 (a crash loop stops)",
                    r.value
                ));
            } else if r.value == "no" {
                doc.line(
                    "restart = \"no\"",
                    Some("import: from the compose file".into()),
                );
            }
        }
    }
}
