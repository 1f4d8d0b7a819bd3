//! `hardgen audit`: what an existing compose file leaves open, per service — every control
//! hardgen enforces that the file does not (CIS Docker Benchmark v1.6.0 ids and wording from
//! `report::CONTROLS`), and what a reviewer looks for (the docker socket, `privileged`, host
//! namespaces, secrets in the environment or in command arguments, `:latest`...).

pub mod format;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::compose_in::{Cmd, Loc, MountKind, Project, Service};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
    /// Points a finding of this severity takes off its service's score of 100.
    pub fn penalty(self) -> u32 {
        match self {
            Severity::Info => 0,
            Severity::Low => 2,
            Severity::Medium => 5,
            Severity::High => 15,
            Severity::Critical => 40,
        }
    }
    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// A check: a stable id, the CIS control it belongs to (an id of `report::CONTROLS`, whose
/// wording is shown) or, for a reviewer's check outside the benchmark table, its own title.
pub struct Rule {
    pub id: &'static str,
    pub cis: Option<&'static str>,
    pub title: &'static str,
    pub help: &'static str,
}

pub const RULES: &[Rule] = &[
    Rule { id: "user", cis: Some("4.1"), title: "", help: "set `user: \"UID:GID\"` to a numeric non-root user" },
    Rule { id: "healthcheck", cis: Some("4.6, 5.27"), title: "", help: "add a `healthcheck` that tests the service itself" },
    Rule { id: "secret-in-env", cis: Some("4.10"), title: "", help: "mount the value as a file secret and point the image at it (`*_FILE=/run/secrets/NAME`)" },
    Rule { id: "apparmor", cis: Some("5.2"), title: "", help: "remove `apparmor:unconfined`" },
    Rule { id: "cap-drop", cis: Some("5.4"), title: "", help: "add `cap_drop: [ALL]` and list only the capabilities the service needs in `cap_add`" },
    Rule { id: "cap-dangerous", cis: Some("5.4"), title: "", help: "drop the capability, or isolate the service that needs it" },
    Rule { id: "privileged", cis: Some("5.5"), title: "", help: "remove `privileged: true`; add the few capabilities or devices the service needs" },
    Rule { id: "devices", cis: Some("5.5"), title: "", help: "pass only the device the service needs, read-only where possible" },
    Rule { id: "docker-socket", cis: Some("5.6, 5.20, 5.32"), title: "", help: "do not mount the Docker socket: it is root on the host; use a socket proxy that allows only the API calls needed" },
    Rule { id: "sensitive-mount", cis: Some("5.6, 5.20, 5.32"), title: "", help: "mount an application directory instead, read-only" },
    Rule { id: "host-path", cis: Some("5.6, 5.20, 5.32"), title: "", help: "prefer a named volume, or a relative bind mount of the project's own files, read-only" },
    Rule { id: "mount-propagation", cis: Some("5.6, 5.20, 5.32"), title: "", help: "remove the shared propagation (the default is private)" },
    Rule { id: "host-namespace", cis: Some("5.10, 5.16, 5.17, 5.21, 5.31"), title: "", help: "remove the `host` namespace setting" },
    Rule { id: "limits", cis: Some("5.11, 5.12, 5.29"), title: "", help: "set `mem_limit`, `cpus` and `pids_limit` (or `deploy.resources.limits`)" },
    Rule { id: "read-only", cis: Some("5.13"), title: "", help: "set `read_only: true` with tmpfs for /tmp and /run and volumes for data" },
    Rule { id: "port-all-addresses", cis: Some("5.14"), title: "", help: "bind the port to one host address, e.g. `127.0.0.1:8080:80` behind a reverse proxy" },
    Rule { id: "restart", cis: Some("5.15"), title: "", help: "use `restart: on-failure:5`" },
    Rule { id: "seccomp", cis: Some("5.22"), title: "", help: "keep seccomp on; a profile narrowed to the service is better than Docker's default" },
    Rule { id: "no-new-privileges", cis: Some("5.26"), title: "", help: "add `security_opt: [\"no-new-privileges:true\"]`" },
    Rule { id: "own-networks", cis: Some("5.30"), title: "", help: "put the service on its own networks instead of sharing another's namespace or the default bridge" },
    Rule { id: "image-unpinned", cis: None, title: "image pinned to a version", help: "pin a version tag, ideally with its digest (`image:1.2.3@sha256:...`)" },
    Rule { id: "image-digest", cis: None, title: "image pinned by digest", help: "add the digest of the tag you tested (`@sha256:...`)" },
    Rule { id: "secret-in-command", cis: None, title: "no secrets in command arguments", help: "read the value from a file secret at start; arguments show in `ps` and `docker inspect`" },
    Rule { id: "logs", cis: None, title: "bounded logs", help: "set `logging: {driver: json-file, options: {max-size: 10m, max-file: \"3\"}}`" },
    Rule { id: "flat-network", cis: None, title: "segmented networks", help: "split the services into networks by role (front, app, data) with `internal: true` where nothing needs to go out" },
];

pub fn rule(id: &str) -> &'static Rule {
    RULES
        .iter()
        .find(|r| r.id == id)
        .expect("audit rule ids are constants of RULES")
}

/// The wording of a rule: its CIS control's name from the compliance table, or its own.
pub fn rule_title(r: &Rule) -> &'static str {
    match r.cis {
        Some(id) => crate::report::CONTROLS
            .iter()
            .find(|(c, _)| *c == id)
            .map(|(_, w)| *w)
            .unwrap_or(r.title),
        None => r.title,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    pub severity: Severity,
    pub rule: &'static str,
    /// None: about the whole project.
    pub service: Option<String>,
    pub message: String,
    pub loc: Loc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Compose,
    /// A stack file for `docker stack deploy`, which drops `security_opt` and host addresses
    /// of published ports: those controls are only daemon-wide there (info).
    Swarm,
}

pub struct Audit {
    pub files: Vec<String>,
    pub target: Target,
    pub services: Vec<String>,
    pub findings: Vec<Finding>,
}

impl Audit {
    pub fn service_score(&self, name: &str) -> u32 {
        let p: u32 = self
            .findings
            .iter()
            .filter(|f| f.service.as_deref() == Some(name))
            .map(|f| f.severity.penalty())
            .sum();
        100u32.saturating_sub(p)
    }
    /// Mean of the service scores (rounded down), less the penalties of project findings.
    pub fn score(&self) -> u32 {
        if self.services.is_empty() {
            return 100;
        }
        let sum: u32 = self.services.iter().map(|s| self.service_score(s)).sum();
        let mean = sum / self.services.len() as u32;
        let p: u32 = self
            .findings
            .iter()
            .filter(|f| f.service.is_none())
            .map(|f| f.severity.penalty())
            .sum();
        mean.saturating_sub(p)
    }
    pub fn count(&self, s: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity == s).count()
    }
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

/// A credential-looking variable name (`looks_secret`, plus `*_KEY`).
pub fn secret_name(name: &str) -> bool {
    let k = name.to_ascii_uppercase();
    crate::validate::looks_secret(&k)
        || (k.ends_with("_KEY") && !k.ends_with("PUBLIC_KEY"))
        || k.ends_with("_PASS")
}

/// A URL with a password in it (`scheme://user:password@host`), the password returned.
pub fn url_password(value: &str) -> Option<&str> {
    let (_, rest) = value.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, pass) = userinfo.split_once(':')?;
    (!pass.is_empty() && !pass.contains('$')).then_some(pass)
}

/// A literal credential value: not empty, not a file path hardgen or the image reads, not
/// something the shell expands at run time.
pub fn literal_secret(value: &str) -> bool {
    !value.is_empty()
        && !value.starts_with("/run/secrets/")
        && !value.starts_with('/')
        && !value.contains('$')
}

/// A credential value in the environment: not empty and not a file's path (`$` is
/// literal there: nothing expands it).
pub fn env_secret_value(value: &str) -> bool {
    !value.is_empty() && !value.starts_with('/')
}

const SECRET_FLAGS: &[&str] = &[
    "--password",
    "--requirepass",
    "--masterauth",
    "--token",
    "--api-key",
    "--apikey",
    "--secret",
    "--auth-token",
    "--access-key",
    "--secret-key",
    "--db-password",
];

/// Arguments that carry a credential in clear: `--password=x`, `--requirepass x`,
/// `PASSWORD=x` inside a shell string, a URL with a password.
pub fn secret_args(cmd: &Cmd) -> Vec<String> {
    let words: Vec<String> = cmd
        .words()
        .iter()
        .flat_map(|w| w.split_whitespace().map(String::from).collect::<Vec<_>>())
        .collect();
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let w = w.trim_matches(|c| c == '"' || c == '\'');
        let lower = w.to_ascii_lowercase();
        if let Some(f) = SECRET_FLAGS.iter().find(|f| lower == **f) {
            if let Some(next) = words.get(i + 1) {
                if literal_secret(next.trim_matches('"')) && !next.starts_with('-') {
                    out.push(f.to_string());
                }
            }
        } else if let Some((k, val)) = w.split_once('=') {
            let k2 = k.to_ascii_lowercase();
            let flag = SECRET_FLAGS.contains(&k2.as_str());
            let var = !k.starts_with('-') && secret_name(k.trim_start_matches('-'));
            if (flag || var) && literal_secret(val) {
                out.push(k.to_string());
            }
        }
        if url_password(w).is_some() {
            out.push("a URL with a password".into());
        }
    }
    out.dedup();
    out
}

fn image_parts(image: &str) -> (Option<&str>, bool) {
    let (name, digest) = match image.split_once('@') {
        Some((n, _)) => (n, true),
        None => (image, false),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    (last.split_once(':').map(|(_, t)| t), digest)
}

fn host_ip_open(ip: Option<&str>) -> bool {
    matches!(
        ip,
        None | Some("0.0.0.0") | Some("::") | Some("[::]") | Some("")
    )
}

struct Out<'a> {
    findings: Vec<Finding>,
    service: &'a Service,
}

impl Out<'_> {
    fn add(
        &mut self,
        severity: Severity,
        rule: &'static str,
        loc: &Loc,
        message: impl Into<String>,
    ) {
        self.findings.push(Finding {
            severity,
            rule,
            service: Some(self.service.name.clone()),
            message: message.into(),
            loc: loc.clone(),
        });
    }
}

fn audit_service(s: &Service, target: Target) -> Vec<Finding> {
    let mut o = Out {
        findings: Vec::new(),
        service: s,
    };
    let at = &s.loc;
    let swarm = target == Target::Swarm;
    // 4.1 user
    match &s.user {
        None => o.add(
            Severity::Medium,
            "user",
            at,
            "no `user`: runs as the image's user, root unless the image says otherwise",
        ),
        Some(u) => {
            let (uid, gid) = u.value.split_once(':').unwrap_or((u.value.as_str(), ""));
            if uid == "0" || uid == "root" || gid == "0" || gid == "root" {
                o.add(
                    Severity::Medium,
                    "user",
                    &u.loc,
                    format!("runs as root (`user: {}`)", u.value),
                );
            } else if !uid.chars().all(|c| c.is_ascii_digit()) || uid.is_empty() {
                o.add(
                    Severity::Low,
                    "user",
                    &u.loc,
                    format!(
                        "user `{}` is a name: the image decides its UID (and it may be 0)",
                        u.value
                    ),
                );
            }
        }
    }
    // 4.6, 5.27 health check
    match &s.healthcheck {
        None => o.add(
            Severity::Low,
            "healthcheck",
            at,
            "no health check (the image's own, if any, is not visible here)",
        ),
        Some(h) if h.disabled => o.add(
            Severity::Low,
            "healthcheck",
            &h.loc,
            "health check disabled",
        ),
        Some(_) => {}
    }
    // 4.10 secrets in the environment
    for e in &s.environment {
        let Some(val) = &e.value else { continue };
        let src = if e.from_file { " (from env_file)" } else { "" };
        if secret_name(&e.name) && env_secret_value(val) {
            o.add(
                Severity::High,
                "secret-in-env",
                &e.loc,
                format!("`{}` holds a credential in the environment{src}", e.name),
            );
        } else if url_password(val).is_some() {
            o.add(
                Severity::High,
                "secret-in-env",
                &e.loc,
                format!("`{}` is a URL with a password in it{src}", e.name),
            );
        }
    }
    // secrets in command arguments
    for (key, c) in [("command", &s.command), ("entrypoint", &s.entrypoint)] {
        if let Some(c) = c {
            let found = secret_args(&c.value);
            if !found.is_empty() {
                o.add(
                    Severity::High,
                    "secret-in-command",
                    &c.loc,
                    format!(
                        "`{key}` passes a credential in clear ({})",
                        found.join(", ")
                    ),
                );
            }
        }
    }
    // security_opt: AppArmor, seccomp, no-new-privileges
    let opt = |prefix: &str| {
        s.security_opt
            .iter()
            .find(|o| o.value.replace('=', ":").starts_with(prefix))
    };
    let info_if_swarm = |sev: Severity| if swarm { Severity::Info } else { sev };
    if let Some(a) = opt("apparmor:unconfined") {
        o.add(
            info_if_swarm(Severity::High),
            "apparmor",
            &a.loc,
            "AppArmor disabled (`apparmor:unconfined`)",
        );
    }
    match opt("seccomp:") {
        Some(sc) if sc.value.ends_with("unconfined") => o.add(info_if_swarm(Severity::High), "seccomp", &sc.loc, "seccomp disabled (`seccomp:unconfined`)"),
        Some(_) => {}
        None if swarm => o.add(Severity::Info, "seccomp", at, "stack files cannot set a seccomp profile (docker stack deploy drops security_opt): the daemon's default applies"),
        None => o.add(Severity::Low, "seccomp", at, "no seccomp profile of its own: Docker's default allowlist applies"),
    }
    let nnp = s.security_opt.iter().any(|o| {
        let v = o.value.replace('=', ":");
        v == "no-new-privileges" || v == "no-new-privileges:true"
    });
    if !nnp {
        if swarm {
            o.add(Severity::Info, "no-new-privileges", at, "stack files cannot set no-new-privileges (docker stack deploy drops security_opt): set it daemon-wide in daemon.json");
        } else {
            o.add(
                Severity::Medium,
                "no-new-privileges",
                at,
                "no `no-new-privileges`: setuid binaries in the image can gain privileges",
            );
        }
    }
    // 5.4 capabilities
    if !s
        .cap_drop
        .iter()
        .any(|c| c.value.eq_ignore_ascii_case("ALL"))
    {
        let loc = s.cap_drop.first().map(|c| &c.loc).unwrap_or(at);
        o.add(Severity::Medium, "cap-drop", loc, "capabilities not dropped (`cap_drop: [ALL]` missing): keeps Docker's default set of 14");
    }
    for c in &s.cap_add {
        let name = c.value.trim_start_matches("CAP_").to_ascii_uppercase();
        if name == "ALL" || name == "SYS_ADMIN" {
            o.add(
                Severity::Critical,
                "cap-dangerous",
                &c.loc,
                format!("adds {name}: close to full root on the host"),
            );
        } else if crate::caps::is_dangerous(&name) {
            o.add(
                Severity::High,
                "cap-dangerous",
                &c.loc,
                format!("adds the dangerous capability {name}"),
            );
        }
    }
    // 5.5 privileged, devices
    if let Some(p) = s.privileged.as_ref().filter(|p| p.value) {
        o.add(
            Severity::Critical,
            "privileged",
            &p.loc,
            "`privileged: true`: every capability, every device, no seccomp or AppArmor",
        );
    }
    for d in &s.devices {
        o.add(
            Severity::Medium,
            "devices",
            &d.loc,
            format!("host device `{}` passed in", d.value),
        );
    }
    // 5.6, 5.20, 5.32 mounts
    for m in &s.volumes {
        if m.kind != MountKind::Bind {
            continue;
        }
        let src = m.source.as_deref().unwrap_or("");
        if src.ends_with("docker.sock")
            || src.ends_with("containerd.sock")
            || src.ends_with("podman.sock")
        {
            let ro = if m.read_only {
                " (read-only does not help: the API is still writable)"
            } else {
                ""
            };
            o.add(
                Severity::Critical,
                "docker-socket",
                &m.loc,
                format!("mounts the container engine socket `{src}`: root on the host{ro}"),
            );
        } else if src.starts_with('/') && crate::validate::is_sensitive_host_path(src) {
            o.add(
                Severity::High,
                "sensitive-mount",
                &m.loc,
                format!(
                    "mounts the sensitive host path `{src}`{}",
                    if m.read_only { " (read-only)" } else { "" }
                ),
            );
        } else if src.starts_with('/') || src.starts_with('~') {
            o.add(
                Severity::Low,
                "host-path",
                &m.loc,
                format!(
                    "mounts the absolute host path `{src}`{}",
                    if m.read_only {
                        " (read-only)"
                    } else {
                        " read-write"
                    }
                ),
            );
        }
        if let Some(p) = m.propagation.as_deref().filter(|p| p.contains("shared")) {
            o.add(
                Severity::Medium,
                "mount-propagation",
                &m.loc,
                format!("`{p}` mount propagation: mounts made in the container reach the host"),
            );
        }
    }
    // 5.10, 5.16, 5.17, 5.21, 5.31 host namespaces; 5.30 own networks
    for (key, val) in [
        ("network_mode", &s.network_mode),
        ("pid", &s.pid),
        ("ipc", &s.ipc),
        ("uts", &s.uts),
        ("userns_mode", &s.userns_mode),
        ("cgroup", &s.cgroup),
    ] {
        let Some(v) = val else { continue };
        if v.value == "host" {
            o.add(
                Severity::High,
                "host-namespace",
                &v.loc,
                format!("`{key}: host` shares the host's namespace"),
            );
        } else if key == "network_mode"
            && (v.value.starts_with("service:") || v.value.starts_with("container:"))
        {
            o.add(
                Severity::Medium,
                "own-networks",
                &v.loc,
                format!(
                    "`network_mode: {}` shares another container's network namespace",
                    v.value
                ),
            );
        } else if key == "network_mode" && v.value == "bridge" {
            o.add(
                Severity::Medium,
                "own-networks",
                &v.loc,
                "`network_mode: bridge`: on docker0 with every other container of the host",
            );
        } else if key != "network_mode"
            && key != "cgroup"
            && (v.value.starts_with("service:") || v.value.starts_with("container:"))
        {
            o.add(
                Severity::Medium,
                "host-namespace",
                &v.loc,
                format!("`{key}: {}` shares another container's namespace", v.value),
            );
        }
    }
    // 5.11, 5.12, 5.29 limits
    let mut missing = Vec::new();
    if s.memory.is_none() {
        missing.push("memory");
    }
    if s.cpus.is_none() {
        missing.push("CPU");
    }
    if s.pids.is_none() {
        missing.push("pids");
    }
    if !missing.is_empty() {
        let sev = if s.memory.is_none() {
            Severity::Medium
        } else {
            Severity::Low
        };
        o.add(
            sev,
            "limits",
            at,
            format!("no {} limit", missing.join(", ")),
        );
    }
    // 5.13 read-only root
    match &s.read_only {
        Some(r) if r.value => {}
        Some(r) => o.add(
            Severity::Medium,
            "read-only",
            &r.loc,
            "writable root file system (`read_only: false`)",
        ),
        None => o.add(
            Severity::Medium,
            "read-only",
            at,
            "writable root file system (no `read_only: true`)",
        ),
    }
    // 5.14 ports
    for p in &s.ports {
        if swarm {
            if p.host_ip.is_none() {
                o.add(Severity::Info, "port-all-addresses", &p.loc, format!("port {} is published on every node address (stack files have no host address)", p.target));
            }
        } else if host_ip_open(p.host_ip.as_deref()) {
            o.add(
                Severity::Medium,
                "port-all-addresses",
                &p.loc,
                format!(
                    "port {}/{} published on every host address",
                    p.target, p.protocol
                ),
            );
        }
    }
    // 5.15 restart
    match &s.restart {
        None => o.add(
            Severity::Low,
            "restart",
            at,
            "no restart policy: a crashed service stays down",
        ),
        Some(r) => {
            let ok = r
                .value
                .strip_prefix("on-failure:")
                .and_then(|n| n.parse::<u32>().ok())
                .is_some_and(|n| (1..=5).contains(&n));
            if !ok {
                o.add(
                    Severity::Low,
                    "restart",
                    &r.loc,
                    format!(
                        "restart policy `{}`: a crash loop restarts without end (use on-failure:5)",
                        r.value
                    ),
                );
            }
        }
    }
    // images
    if let Some(img) = &s.image {
        let (tag, digest) = image_parts(&img.value);
        match tag {
            _ if digest => {}
            None => o.add(
                Severity::Medium,
                "image-unpinned",
                &img.loc,
                format!(
                    "image `{}` has no tag: whatever `latest` is today",
                    img.value
                ),
            ),
            Some("latest") => o.add(
                Severity::Medium,
                "image-unpinned",
                &img.loc,
                format!("image `{}` follows `latest`", img.value),
            ),
            Some(_) => o.add(
                Severity::Info,
                "image-digest",
                &img.loc,
                format!("image `{}` is pinned by tag, not by digest", img.value),
            ),
        }
    }
    // logs
    match &s.logging {
        Some(l)
            if l.max_size.is_some()
                || matches!(
                    l.driver.as_deref(),
                    Some(
                        "none"
                            | "syslog"
                            | "journald"
                            | "fluentd"
                            | "gelf"
                            | "awslogs"
                            | "splunk"
                            | "local"
                    )
                ) => {}
        Some(l) => o.add(
            Severity::Low,
            "logs",
            &l.loc,
            "json-file logs without `max-size`: they grow until the disk is full",
        ),
        None => o.add(
            Severity::Low,
            "logs",
            at,
            "no log rotation: json-file logs grow until the disk is full",
        ),
    }
    o.findings
}

/// An attachment hardgen made for a flow: the upper half of a generated zone's subnet, where
/// the zone's firewall lets the client reach only the flow's ports.
fn flow_client(p: &Project, n: &crate::compose_in::NetRef) -> bool {
    let Some(net) = p.networks.get(&n.name).filter(|net| net.hardgen_zone) else {
        return false;
    };
    let (Some(addr), Some(subnet)) = (&n.ipv4_address, net.subnets.first()) else {
        return false;
    };
    match (
        addr.parse::<std::net::Ipv4Addr>(),
        crate::model::Ipv4Net::parse(subnet),
    ) {
        (Ok(a), Ok(net)) => {
            let offset = u32::from(a).wrapping_sub(u32::from(net.network()));
            offset >= (net.size() / 2) as u32
        }
        _ => false,
    }
}

/// Audit a loaded project.
pub fn audit(p: &Project, target: Target) -> Audit {
    let mut findings = Vec::new();
    for s in p.services.values() {
        findings.extend(audit_service(s, target));
    }
    // Networks that let everything reach everything: every service on one network.
    let nets: Vec<Vec<&str>> = p
        .services
        .values()
        .filter(|s| s.network_mode.is_none())
        .map(|s| {
            s.networks
                .iter()
                .filter(|n| !flow_client(p, n))
                .map(|n| n.name.as_str())
                .collect()
        })
        .collect();
    if p.services.len() >= 3 && nets.len() == p.services.len() {
        let mut common: Vec<&str> = nets[0].clone();
        for n in &nets[1..] {
            common.retain(|c| n.contains(c));
        }
        if let Some(c) = common.first() {
            let internal = p.networks.get(*c).is_some_and(|n| n.internal);
            // A zone of a hardgen deployment: the spec chose to put them together (on swarm,
            // whose flows reach a whole zone, the stack file's header says so): info.
            let zone = p.networks.get(*c).is_some_and(|n| n.hardgen_zone);
            let loc = p
                .networks
                .get(*c)
                .map(|n| n.loc.clone())
                .unwrap_or_else(|| p.services_loc.clone());
            findings.push(Finding {
                severity: if zone { Severity::Info } else { Severity::Medium },
                rule: "flat-network",
                service: None,
                message: format!(
                    "all {} services share the network `{c}`{}: each can reach every port of every other{}",
                    p.services.len(),
                    if internal { "" } else { " (not internal)" },
                    if zone { " (one zone of the spec)" } else { "" }
                ),
                loc,
            });
        }
    }
    findings.sort_by(|a, b| {
        (&a.service, std::cmp::Reverse(a.severity), &a.loc, a.rule).cmp(&(
            &b.service,
            std::cmp::Reverse(b.severity),
            &b.loc,
            b.rule,
        ))
    });
    Audit {
        files: p.files.iter().map(|f| f.to_string()).collect(),
        target,
        services: p.services.keys().cloned().collect(),
        findings,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
    Sarif,
    Markdown,
}

pub struct RunOptions {
    pub compose: crate::compose_in::Options,
    /// None: swarm when the first file's name says `stack`, else compose.
    pub target: Option<Target>,
    pub format: Format,
    pub colour: bool,
    pub fail_under: Option<u32>,
    pub fail_on: Option<Severity>,
}

/// `hardgen audit`: exit 0, 1 (below `--fail-under` or a finding at `--fail-on` or above), 2
/// (unreadable or invalid input, reported with file:line:col).
pub fn run(
    opts: &RunOptions,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> crate::app::Outcome {
    use crate::app::Outcome;
    let project = match crate::compose_in::load(&opts.compose) {
        Ok(p) => p,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return Outcome::Failed;
        }
    };
    let target = opts.target.unwrap_or_else(|| {
        let stack = opts
            .compose
            .files
            .first()
            .and_then(|f| f.file_name())
            .is_some_and(|n| n.to_string_lossy().contains("stack"));
        if stack {
            Target::Swarm
        } else {
            Target::Compose
        }
    });
    let a = audit(&project, target);
    let text = match opts.format {
        Format::Human => format::human(&a, opts.colour),
        Format::Json => format::json(&a),
        Format::Sarif => format::sarif(&a),
        Format::Markdown => format::markdown(&a),
    };
    if let Err(e) = out.write_all(text.as_bytes()) {
        let _ = writeln!(err, "error: cannot write the report: {e}");
        return Outcome::Failed;
    }
    let below = opts.fail_under.is_some_and(|n| a.score() < n);
    let worse = opts
        .fail_on
        .is_some_and(|s| a.findings.iter().any(|f| f.severity >= s));
    if below || worse {
        Outcome::Differs
    } else {
        Outcome::Ok
    }
}

/// Findings per rule (for the corpus figures and the README).
pub fn per_rule(a: &Audit) -> BTreeMap<&'static str, usize> {
    let mut m = BTreeMap::new();
    for f in &a.findings {
        if f.severity > Severity::Info {
            *m.entry(f.rule).or_insert(0) += 1;
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cis_rule_names_a_control_of_the_report() {
        for r in RULES {
            if let Some(id) = r.cis {
                assert!(
                    crate::report::CONTROLS.iter().any(|(c, _)| *c == id),
                    "{}",
                    r.id
                );
                assert!(r.title.is_empty());
            } else {
                assert!(!r.title.is_empty());
            }
            assert!(!rule_title(r).is_empty());
        }
    }

    #[test]
    fn secret_detection() {
        assert!(
            secret_name("POSTGRES_PASSWORD")
                && secret_name("API_KEY")
                && secret_name("ENCRYPTION_KEY")
        );
        assert!(!secret_name("POSTGRES_PASSWORD_FILE") && !secret_name("DB_HOST"));
        assert_eq!(url_password("postgres://u:pw@db:5432/x"), Some("pw"));
        assert_eq!(url_password("redis://db:6379"), None);
        let c = Cmd::Shell("redis-server --requirepass s3cret --appendonly yes".into());
        assert_eq!(secret_args(&c), vec!["--requirepass".to_string()]);
        let c = Cmd::Exec(vec![
            "sh".into(),
            "-c".into(),
            "redis-server --requirepass \"$(cat /run/secrets/x)\"".into(),
        ]);
        assert!(secret_args(&c).is_empty());
        assert!(!secret_args(&Cmd::Exec(vec!["--password=hunter2".into()])).is_empty());
    }
}
