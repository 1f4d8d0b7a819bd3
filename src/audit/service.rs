//! The checks of one compose service, a function a CIS Docker Benchmark control (or group of
//! them), run in a fixed order.

use super::*;

pub(super) fn audit_service(s: &Service, target: Target) -> Vec<Finding> {
    let mut o = Out {
        findings: Vec::new(),
        service: s,
        swarm: target == Target::Swarm,
    };
    for check in CHECKS {
        check(&mut o);
    }
    o.findings
}

/// The checks of a service, in the order their findings are listed.
const CHECKS: &[fn(&mut Out)] = &[
    user,
    health_check,
    env_secrets,
    command_secrets,
    security_opt,
    capabilities,
    privileged,
    mounts,
    namespaces,
    limits,
    read_only,
    ports,
    restart,
    image,
    logs,
];

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

pub(super) struct Out<'a> {
    pub(super) findings: Vec<Finding>,
    service: &'a Service,
    swarm: bool,
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

/// 4.1 user.
fn user(o: &mut Out) {
    let s = o.service;
    let at = &s.loc;
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
}

/// 4.6, 5.27 health check.
fn health_check(o: &mut Out) {
    let s = o.service;
    let at = &s.loc;
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
}

/// 4.10 secrets in the environment.
fn env_secrets(o: &mut Out) {
    let s = o.service;
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
}

/// Secrets in command arguments.
fn command_secrets(o: &mut Out) {
    let s = o.service;
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
}

/// Security_opt: AppArmor, seccomp, no-new-privileges.
fn security_opt(o: &mut Out) {
    let s = o.service;
    let at = &s.loc;
    let swarm = o.swarm;
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
}

/// 5.4 capabilities.
fn capabilities(o: &mut Out) {
    let s = o.service;
    let at = &s.loc;
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
}

/// 5.5 privileged, devices.
fn privileged(o: &mut Out) {
    let s = o.service;
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
}

/// 5.6, 5.20, 5.32 mounts.
fn mounts(o: &mut Out) {
    let s = o.service;
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
}

/// 5.10, 5.16, 5.17, 5.21, 5.31 host namespaces; 5.30 own networks.
fn namespaces(o: &mut Out) {
    let s = o.service;
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
}

/// 5.11, 5.12, 5.29 limits.
fn limits(o: &mut Out) {
    let s = o.service;
    let at = &s.loc;
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
}

/// 5.13 read-only root.
fn read_only(o: &mut Out) {
    let s = o.service;
    let at = &s.loc;
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
}

/// 5.14 ports.
fn ports(o: &mut Out) {
    let s = o.service;
    let swarm = o.swarm;
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
}

/// 5.15 restart.
fn restart(o: &mut Out) {
    let s = o.service;
    let at = &s.loc;
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
}

/// Images.
fn image(o: &mut Out) {
    let s = o.service;
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
}

/// Logs.
fn logs(o: &mut Out) {
    let s = o.service;
    let at = &s.loc;
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
}
