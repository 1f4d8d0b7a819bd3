//! A service's changes, by domain: identity, privileges, resources, ports, volumes, and
//! what it can reach (secrets, zones, environment).

use std::collections::{BTreeMap, BTreeSet};

use super::{pairs, source_text, Changes, Class, Pair};
use crate::model::*;

pub(super) fn service(c: &mut Changes, o: &Service, n: &Service) {
    let name = n.name.as_str();
    identity(c, name, o, n);
    privileges(c, name, o, n);
    resources(c, name, o, n);
    ports(c, name, o, n);
    volumes(c, name, o, n);
    access(c, name, o, n);
}

/// Source (image or build) and user.
fn identity(c: &mut Changes, name: &str, o: &Service, n: &Service) {
    let (os, ns) = (source_text(&o.source), source_text(&n.source));
    if os != ns {
        let class = match (&o.source, &n.source) {
            (Source::Image(a), Source::Image(b)) if a.digest.is_some() && b.digest.is_none() => {
                Class::Weakens
            }
            (Source::Image(a), Source::Image(b)) if a.digest.is_none() && b.digest.is_some() => {
                Class::Strengthens
            }
            (_, Source::Image(b)) if b.tag.is_none() || b.tag.as_deref() == Some("latest") => {
                Class::Weakens
            }
            _ => Class::Neutral,
        };
        c.push(
            class,
            "service",
            name,
            "source",
            format!("{os} -> {ns}"),
            Some(os),
            Some(ns),
        );
    }
    if o.user != n.user {
        let class = match (
            o.user.uid == 0 || o.user.gid == 0,
            n.user.uid == 0 || n.user.gid == 0,
        ) {
            (false, true) => Class::Weakens,
            (true, false) => Class::Strengthens,
            _ => Class::Neutral,
        };
        c.push(
            class,
            "service",
            name,
            "user",
            format!("user {} -> {}", o.user, n.user),
            Some(o.user.to_string()),
            Some(n.user.to_string()),
        );
    }
}

/// Capabilities, read-only root, no-new-privileges, seccomp (see [`seccomp`]) and AppArmor.
fn privileges(c: &mut Changes, name: &str, o: &Service, n: &Service) {
    c.set(
        "service",
        name,
        "capability",
        &o.cap_add,
        &n.cap_add,
        Class::Weakens,
        |cap, added| {
            format!(
                "capability {cap} {}",
                if added { "added" } else { "removed" }
            )
        },
    );
    c.switch(
        name,
        "read_only",
        "root file system read-only again",
        "root file system writable",
        o.read_only,
        n.read_only,
    );
    c.switch(
        name,
        "no_new_privileges",
        "no-new-privileges set again",
        "no-new-privileges removed: setuid binaries can gain privileges",
        o.no_new_privileges,
        n.no_new_privileges,
    );
    seccomp(c, name, o, n);
    match (&o.apparmor, &n.apparmor) {
        (None, Some(p)) => c.push(
            Class::Strengthens,
            "service",
            name,
            "apparmor",
            format!("AppArmor profile {p} applied"),
            None,
            Some(p.clone()),
        ),
        (Some(p), None) => c.push(
            Class::Weakens,
            "service",
            name,
            "apparmor",
            format!("AppArmor profile {p} removed"),
            Some(p.clone()),
            None,
        ),
        (Some(a), Some(b)) if a != b => c.push(
            Class::Neutral,
            "service",
            name,
            "apparmor",
            format!("AppArmor profile {a} -> {b}"),
            Some(a.clone()),
            Some(b.clone()),
        ),
        _ => {}
    }
}

/// The seccomp preset, the learned profile, and the syscalls allowed or denied beyond it.
fn seccomp(c: &mut Changes, name: &str, o: &Service, n: &Service) {
    if o.seccomp.preset != n.seccomp.preset {
        // baseline < strict < learned (the learned profile allows only what was seen).
        let rank = |p: SeccompPreset| match p {
            SeccompPreset::Baseline => 0,
            SeccompPreset::Strict => 1,
            SeccompPreset::Learned => 2,
        };
        let class = if rank(n.seccomp.preset) > rank(o.seccomp.preset) {
            Class::Strengthens
        } else {
            Class::Weakens
        };
        let p = |x: SeccompPreset| x.name().to_string();
        c.push(
            class,
            "service",
            name,
            "seccomp",
            format!(
                "seccomp preset {} -> {}",
                p(o.seccomp.preset),
                p(n.seccomp.preset)
            ),
            Some(p(o.seccomp.preset)),
            Some(p(n.seccomp.preset)),
        );
    }
    if let (Some(old), Some(new)) = (&o.seccomp.learned, &n.seccomp.learned) {
        let list = |s: Vec<&String>| s.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(", ");
        let added: Vec<&String> = new.difference(old).collect();
        let removed: Vec<&String> = old.difference(new).collect();
        if !added.is_empty() {
            c.push(
                Class::Weakens,
                "service",
                name,
                "seccomp_learned",
                format!(
                    "learned seccomp profile allows {} more syscall(s): {}",
                    added.len(),
                    list(added.clone())
                ),
                None,
                Some(list(added)),
            );
        }
        if !removed.is_empty() {
            c.push(
                Class::Strengthens,
                "service",
                name,
                "seccomp_learned",
                format!(
                    "learned seccomp profile allows {} fewer syscall(s): {}",
                    removed.len(),
                    list(removed.clone())
                ),
                Some(list(removed)),
                None,
            );
        }
    }
    c.set(
        "service",
        name,
        "syscall_allow",
        &o.seccomp.allow,
        &n.seccomp.allow,
        Class::Weakens,
        |s, added| {
            format!(
                "syscall {s} {}",
                if added {
                    "allowed beyond the preset"
                } else {
                    "no longer allowed beyond the preset"
                }
            )
        },
    );
    c.set(
        "service",
        name,
        "syscall_deny",
        &o.seccomp.deny,
        &n.seccomp.deny,
        Class::Strengthens,
        |s, added| {
            format!(
                "syscall {s} {}",
                if added { "denied" } else { "no longer denied" }
            )
        },
    );
}

/// Limits, health check and restart policy.
fn resources(c: &mut Changes, name: &str, o: &Service, n: &Service) {
    c.ordered(
        "service",
        name,
        "memory",
        "memory limit",
        o.memory,
        n.memory,
        Some(true),
    );
    c.ordered(
        "service",
        name,
        "cpus",
        "CPU limit",
        o.cpus,
        n.cpus,
        Some(true),
    );
    c.ordered(
        "service",
        name,
        "pids",
        "pids limit",
        o.pids,
        n.pids,
        Some(true),
    );
    if o.health.is_some() != n.health.is_some() {
        let (class, msg) = if n.health.is_some() {
            (Class::Strengthens, "health check added")
        } else {
            (Class::Weakens, "health check removed")
        };
        c.push(
            class,
            "service",
            name,
            "healthcheck",
            msg.into(),
            None,
            None,
        );
    }
    if o.restart != n.restart {
        c.push(
            Class::Neutral,
            "service",
            name,
            "restart",
            format!("restart {} -> {}", o.restart, n.restart),
            Some(o.restart.to_string()),
            Some(n.restart.to_string()),
        );
    }
}

fn published(p: &PublishedPort) -> String {
    format!(
        "{}/{} on {}:{}",
        p.container.port,
        p.container.proto.as_str(),
        p.host_ip,
        p.host_port
    )
}

/// Published ports.
fn ports(c: &mut Changes, name: &str, o: &Service, n: &Service) {
    // Ports: a changed bind address of the same container port is one change.
    let by_port = |s: &Service| -> BTreeMap<_, PublishedPort> {
        s.ports
            .iter()
            .map(|p| ((p.container, p.host_port), *p))
            .collect()
    };
    for (_, pair) in pairs(&by_port(o), &by_port(n)) {
        match pair {
            Pair::Added(np) => c.push(
                Class::Weakens,
                "service",
                name,
                "port",
                format!("port {} published", published(np)),
                None,
                Some(np.to_string()),
            ),
            Pair::Both(op, np) if op.host_ip != np.host_ip => {
                let class = if np.host_ip.is_unspecified() {
                    Class::Weakens
                } else if op.host_ip.is_unspecified() {
                    Class::Strengthens
                } else {
                    Class::Neutral
                };
                c.push(
                    class,
                    "service",
                    name,
                    "port",
                    format!(
                        "port {} published on {} (was {})",
                        np.container.port, np.host_ip, op.host_ip
                    ),
                    Some(op.to_string()),
                    Some(np.to_string()),
                );
            }
            Pair::Both(..) => {}
            Pair::Removed(op) => c.push(
                Class::Strengthens,
                "service",
                name,
                "port",
                format!("port {} no longer published", published(op)),
                Some(op.to_string()),
                None,
            ),
        }
    }
}

/// Volumes and bind mounts.
fn volumes(c: &mut Changes, name: &str, o: &Service, n: &Service) {
    // Volumes: host mounts and writability matter; named volumes are neutral.
    let vol = |v: &Volume| match &v.source {
        VolumeSource::Named(n) => format!("volume {n} at {}", v.target),
        VolumeSource::Host(h) => format!("host path {h} at {}", v.target),
    };
    let by_target = |s: &Service| -> BTreeMap<String, Volume> {
        s.volumes
            .iter()
            .map(|v| (v.target.clone(), v.clone()))
            .collect()
    };
    for (_, pair) in pairs(&by_target(o), &by_target(n)) {
        match pair {
            Pair::Added(nv) => {
                let host = matches!(nv.source, VolumeSource::Host(_));
                let class = if host && !nv.read_only {
                    Class::Weakens
                } else {
                    Class::Neutral
                };
                c.push(
                    class,
                    "service",
                    name,
                    "volume",
                    format!(
                        "{} mounted{}",
                        vol(nv),
                        if nv.read_only { " read-only" } else { "" }
                    ),
                    None,
                    Some(vol(nv)),
                );
            }
            Pair::Both(ov, nv) => {
                if ov.source != nv.source {
                    c.push(
                        Class::Neutral,
                        "service",
                        name,
                        "volume",
                        format!("{} -> {}", vol(ov), vol(nv)),
                        Some(vol(ov)),
                        Some(vol(nv)),
                    );
                }
                if ov.read_only && !nv.read_only {
                    c.push(
                        Class::Weakens,
                        "service",
                        name,
                        "volume",
                        format!("{} now writable", vol(nv)),
                        Some("ro".into()),
                        Some("rw".into()),
                    );
                } else if !ov.read_only && nv.read_only {
                    c.push(
                        Class::Strengthens,
                        "service",
                        name,
                        "volume",
                        format!("{} now read-only", vol(nv)),
                        Some("rw".into()),
                        Some("ro".into()),
                    );
                }
            }
            Pair::Removed(ov) => c.push(
                Class::Strengthens,
                "service",
                name,
                "volume",
                format!("{} no longer mounted", vol(ov)),
                Some(vol(ov)),
                None,
            ),
        }
    }
}

/// What the service can read and reach: secrets, zones, environment.
fn access(c: &mut Changes, name: &str, o: &Service, n: &Service) {
    let set = |v: &[String]| v.iter().cloned().collect::<BTreeSet<String>>();
    c.set(
        "service",
        name,
        "secret",
        &set(&o.secrets),
        &set(&n.secrets),
        Class::Weakens,
        |s, added| {
            format!(
                "secret {s} {}",
                if added {
                    "now readable"
                } else {
                    "no longer readable"
                }
            )
        },
    );
    c.set(
        "service",
        name,
        "zone",
        &set(&o.zones),
        &set(&n.zones),
        Class::Weakens,
        |z, added| format!("{} zone {z}", if added { "joins" } else { "leaves" }),
    );
    // A program added to the process allowlist is one more that security-check.sh and the
    // Falco rules let run in the container.
    c.set(
        "service",
        name,
        "process",
        &set(&o.processes),
        &set(&n.processes),
        Class::Weakens,
        |p, added| {
            format!(
                "program {p} {} the process allowlist",
                if added { "added to" } else { "removed from" }
            )
        },
    );
    let keys = |m: &BTreeMap<String, String>| m.keys().cloned().collect::<BTreeSet<String>>();
    c.set(
        "service",
        name,
        "environment",
        &keys(&o.environment),
        &keys(&n.environment),
        Class::Neutral,
        |k, added| {
            format!(
                "environment variable {k} {}",
                if added { "added" } else { "removed" }
            )
        },
    );
    for (k, v) in &n.environment {
        if o.environment.get(k).is_some_and(|ov| ov != v) {
            c.push(
                Class::Neutral,
                "service",
                name,
                "environment",
                format!("environment variable {k} changed"),
                None,
                None,
            );
        }
    }
}
