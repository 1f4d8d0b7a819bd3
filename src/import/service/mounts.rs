//! A service's ports and mounts: published and listening ports, volumes, bind mounts,
//! configs and tmpfs.

use super::*;

impl Svc<'_> {
    /// Ports, and the ports it listens on.
    pub(super) fn ports(&mut self, doc: &mut Doc) {
        let s = self.s;
        let proxy = s
            .image
            .as_ref()
            .is_some_and(|i| PROXIES.contains(&images::repository(&i.value).as_str()));
        let mut ports = Vec::new();
        let mut port_notes = Vec::new();
        for pt in &s.ports {
            if pt.protocol == "sctp" {
                self.d("an sctp port cannot be expressed".into());
                continue;
            }
            let ip = match pt.host_ip.as_deref() {
                None | Some("0.0.0.0") | Some("") => {
                    if proxy {
                        port_notes.push(format!(
                            "port {} kept on every address: a reverse proxy serves the outside",
                            pt.target
                        ));
                        Some("0.0.0.0".to_string())
                    } else {
                        port_notes.push(format!("port {} was on every address: now 127.0.0.1 (write \"0.0.0.0:...\" to publish it on every address)", pt.target));
                        None
                    }
                }
                Some(ip) if ip.parse::<std::net::Ipv4Addr>().is_ok() => Some(ip.to_string()),
                Some(ip) => {
                    self.d(format!(
                        "port {} is bound to `{ip}`: hardgen publishes on IPv4 addresses only",
                        pt.target
                    ));
                    continue;
                }
            };
            let span = (pt.target_end - pt.target) as usize;
            if span > 32 {
                self.d(format!(
                    "port range {}-{} is too wide to list one by one",
                    pt.target, pt.target_end
                ));
                continue;
            }
            let host_start: Option<u16> = match &pt.published {
                Some(h) => h.split('-').next().and_then(|x| x.parse().ok()),
                None => {
                    port_notes.push(format!(
                    "port {}: the compose file let Docker pick a host port; now the same number",
                    pt.target
                ));
                    None
                }
            };
            for k in 0..=span as u16 {
                let target = pt.target + k;
                let host = host_start.map(|h| h + k).unwrap_or(target);
                let mut sp = String::new();
                if let Some(ip) = &ip {
                    let _ = write!(sp, "{ip}:");
                }
                if host != target || ip.is_some() {
                    let _ = write!(sp, "{host}:");
                }
                let _ = write!(sp, "{target}");
                if pt.protocol == "udp" {
                    sp.push_str("/udp");
                }
                if !ports.contains(&sp) {
                    ports.push(sp);
                }
            }
        }
        if !ports.is_empty() {
            port_notes.dedup();
            doc.line(
                &format!("ports = {}", toml_list(&ports)),
                (!port_notes.is_empty()).then(|| format!("import: {}", port_notes.join("; "))),
            );
        }
        let listen: Vec<String> = listening_ports(s).iter().map(|p| p.to_string()).collect();
        if !listen.is_empty() {
            let from_table = s.expose.is_empty() && s.ports.is_empty();
            doc.line(
                &format!("expose = {}", toml_list(&listen)),
                Some(if from_table {
                    "import: the image's port (import's image table)".into()
                } else {
                    "import: the ports it listens on (expose and published ports)".into()
                }),
            );
        }
    }

    /// Volumes, configs and tmpfs; the tmpfs list (the limits size it).
    pub(super) fn mounts(&mut self, doc: &mut Doc) -> Vec<String> {
        let cx = self.cx;
        let p = cx.p;
        let s = self.s;
        let img = self.img;
        let name = self.name;
        let mut vols = Vec::new();
        let mut vol_notes = Vec::new();
        let mut tmpfs: Vec<String> = img
            .map(|i| i.tmpfs.iter().map(|t| t.to_string()).collect())
            .unwrap_or_default();
        for m in &s.volumes {
            let ro = if m.read_only { ":ro" } else { "" };
            match m.kind {
                MountKind::Tmpfs => tmpfs.push(m.target.clone()),
                MountKind::Other => self.d(format!(
                    "mount of type other than bind/volume/tmpfs at `{}` cannot be expressed",
                    m.target
                )),
                MountKind::Volume => {
                    let src = match &m.source {
                        Some(v) => sanitize(v, 64, &['_', '.'], "v-"),
                        None => {
                            let last = m
                                .target
                                .rsplit('/')
                                .find(|x| !x.is_empty())
                                .unwrap_or("data");
                            let n = sanitize(&format!("{name}-{last}"), 64, &['_', '.'], "v-");
                            vol_notes.push(format!(
                                "the anonymous volume at {} is now the named volume `{n}`",
                                m.target
                            ));
                            n
                        }
                    };
                    vols.push(format!("{src}:{}{ro}", m.target));
                }
                MountKind::Bind => {
                    let src = m.source.clone().unwrap_or_default();
                    if src.starts_with('~') || src.split('/').any(|c| c == "..") {
                        self.d(format!("bind mount `{src}` leaves the project directory: copy what it needs under the output directory, or give an absolute path"));
                        continue;
                    }
                    let src = if src.starts_with('/') || src.starts_with("./") {
                        src
                    } else if src == "." {
                        "./".to_string()
                    } else {
                        format!("./{src}")
                    };
                    if src.starts_with('/') && crate::validate::is_sensitive_host_path(&src) {
                        self.unsafe_flags
                            .push(("sensitive_mounts", format!("mounts {src}")));
                    } else if src.starts_with("./") {
                        vol_notes.push(format!(
                            "{src} is relative to the output directory now: copy it there"
                        ));
                    }
                    if m.propagation.is_some() {
                        vol_notes.push(format!(
                            "the mount propagation of {src} is dropped (private)"
                        ));
                    }
                    vols.push(format!("{src}:{}{ro}", m.target));
                }
            }
        }
        for c in &s.configs {
            let top = &p.configs[&c.source];
            let target = c.target.clone().unwrap_or_else(|| format!("/{}", c.source));
            match &top.file {
            Some(f) if !f.split('/').any(|x| x == "..") => {
                let src = if f.starts_with('/') || f.starts_with("./") { f.clone() } else { format!("./{f}") };
                vol_notes.push(format!("config `{}` is a read-only bind mount of {src}", c.source));
                vols.push(format!("{src}:{target}:ro"));
            }
            _ => self.d(format!("config `{}` is not a file inside the project: hardgen mounts configs as read-only files", c.source)),
        }
        }
        if !vols.is_empty() {
            doc.line(
                &format!("volumes = {}", toml_list(&vols)),
                (!vol_notes.is_empty()).then(|| format!("import: {}", vol_notes.join("; "))),
            );
        }
        for t in &s.tmpfs {
            let mut parts = t.value.splitn(2, ':');
            let path = parts.next().unwrap_or("").to_string();
            let sz = parts
                .next()
                .and_then(|o| o.split(',').find_map(|x| x.strip_prefix("size=")))
                .and_then(size);
            tmpfs.push(match sz {
                Some(sz) => format!("{path}:{sz}"),
                None => path,
            });
        }
        tmpfs.retain(|t| !t.is_empty());
        tmpfs.sort();
        tmpfs.dedup_by(|a, b| a.split(':').next() == b.split(':').next());
        if !tmpfs.is_empty() {
            let from_table = img.is_some_and(|i| !i.tmpfs.is_empty());
            doc.line(
                &format!("tmpfs = {}", toml_list(&tmpfs)),
                from_table.then(|| {
                    "import: what the image writes besides its volumes (read-only root)".into()
                }),
            );
        } else if img.is_none() && s.build.is_none() {
            doc.comment("TODO: read-only root: if it writes outside /tmp, /run and its volumes, add a `tmpfs` or a volume there");
        }

        tmpfs
    }
}
