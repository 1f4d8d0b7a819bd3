//! Security posture review: compares two validated models (not their text) and says what a
//! spec change does to security, each change classed as weakens / strengthens / neutral.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;

use serde::Serialize;

use crate::model::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    Weakens,
    Strengthens,
    Neutral,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Weakens => "weakens",
            Class::Strengthens => "strengthens",
            Class::Neutral => "neutral",
        }
    }
}

/// One change. `subject` is `project`, `service`, `zone`, `flow` or `secret`; `name` the
/// subject's name (`from -> to` for flows); `property` a stable identifier of what changed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Change {
    pub class: Class,
    pub subject: &'static str,
    pub name: String,
    pub property: &'static str,
    pub message: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

impl Change {
    pub fn line(&self) -> String {
        format!("{} {}: {}", self.subject, self.name, self.message)
    }
}

struct Changes {
    list: Vec<Change>,
}

impl Changes {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        class: Class,
        subject: &'static str,
        name: &str,
        property: &'static str,
        message: String,
        old: Option<String>,
        new: Option<String>,
    ) {
        self.list.push(Change {
            class,
            subject,
            name: name.to_string(),
            property,
            message,
            old,
            new,
        });
    }

    /// A scalar that changed: `lower_is_stronger` decides the class of a numeric change;
    /// `None` makes it neutral.
    #[allow(clippy::too_many_arguments)]
    fn ordered<T: Ord + Display>(
        &mut self,
        subject: &'static str,
        name: &str,
        property: &'static str,
        label: &str,
        old: T,
        new: T,
        lower_is_stronger: Option<bool>,
    ) {
        if old == new {
            return;
        }
        let class = match lower_is_stronger {
            None => Class::Neutral,
            Some(true) if new < old => Class::Strengthens,
            Some(true) => Class::Weakens,
            Some(false) if new > old => Class::Strengthens,
            Some(false) => Class::Weakens,
        };
        self.push(
            class,
            subject,
            name,
            property,
            format!("{label} {old} -> {new}"),
            Some(old.to_string()),
            Some(new.to_string()),
        );
    }

    /// A hardening switch: on is stronger.
    fn switch(
        &mut self,
        name: &str,
        property: &'static str,
        on: &str,
        off: &str,
        old: bool,
        new: bool,
    ) {
        if old == new {
            return;
        }
        let (class, message) = if new {
            (Class::Strengthens, on.to_string())
        } else {
            (Class::Weakens, off.to_string())
        };
        self.push(
            class,
            "service",
            name,
            property,
            message,
            Some(old.to_string()),
            Some(new.to_string()),
        );
    }

    /// Set members added (class `added`) and removed (the opposite class).
    #[allow(clippy::too_many_arguments)]
    fn set<T: Ord + Display + Clone>(
        &mut self,
        subject: &'static str,
        name: &str,
        property: &'static str,
        old: &BTreeSet<T>,
        new: &BTreeSet<T>,
        added: Class,
        describe: impl Fn(&T, bool) -> String,
    ) {
        let removed = match added {
            Class::Weakens => Class::Strengthens,
            Class::Strengthens => Class::Weakens,
            Class::Neutral => Class::Neutral,
        };
        for x in new.difference(old) {
            self.push(
                added,
                subject,
                name,
                property,
                describe(x, true),
                None,
                Some(x.to_string()),
            );
        }
        for x in old.difference(new) {
            self.push(
                removed,
                subject,
                name,
                property,
                describe(x, false),
                Some(x.to_string()),
                None,
            );
        }
    }
}

/// The hardened starting point a new service is compared with: nothing granted.
fn baseline_of(s: &Service) -> Service {
    Service {
        cap_add: BTreeSet::new(),
        ports: Vec::new(),
        volumes: Vec::new(),
        secrets: Vec::new(),
        zones: Vec::new(),
        read_only: true,
        no_new_privileges: true,
        seccomp: SeccompPolicy {
            preset: s.seccomp.preset,
            allow: BTreeSet::new(),
            deny: s.seccomp.deny.clone(),
            learned: s.seccomp.learned.clone(),
        },
        user: if s.user.uid == 0 {
            User {
                uid: 65534,
                gid: 65534,
            }
        } else {
            s.user
        },
        ..s.clone()
    }
}

pub fn compare(old: &Model, new: &Model) -> Vec<Change> {
    let mut c = Changes { list: Vec::new() };
    if old.project.pool != new.project.pool {
        c.push(
            Class::Neutral,
            "project",
            &new.project.name,
            "subnet_pool",
            format!("subnet pool {} -> {}", old.project.pool, new.project.pool),
            Some(old.project.pool.to_string()),
            Some(new.project.pool.to_string()),
        );
    }
    zones(&mut c, old, new);
    flows(&mut c, old, new);
    secrets(&mut c, old, new);
    let names: BTreeSet<&String> = old.services.keys().chain(new.services.keys()).collect();
    for name in names {
        match (old.services.get(name), new.services.get(name)) {
            (Some(o), Some(n)) => service(&mut c, o, n),
            (None, Some(n)) => {
                c.push(
                    Class::Neutral,
                    "service",
                    name,
                    "service",
                    format!("added ({})", source_text(&n.source)),
                    None,
                    Some(source_text(&n.source)),
                );
                service(&mut c, &baseline_of(n), n);
            }
            (Some(o), None) => c.push(
                Class::Strengthens,
                "service",
                name,
                "service",
                "removed".to_string(),
                Some(source_text(&o.source)),
                None,
            ),
            (None, None) => {}
        }
    }
    zone_bridges(&mut c, old, new);
    c.list.sort_by(|a, b| {
        (a.class, a.subject, &a.name, a.property, &a.message)
            .cmp(&(b.class, b.subject, &b.name, b.property, &b.message))
    });
    c.list
}

/// Double memberships that void a separation (`model::zone_bridges`): a new one weakens
/// even when each zone list change alone looks like a move.
fn zone_bridges(c: &mut Changes, old: &Model, new: &Model) {
    let describe = |m: &Model, b: &ZoneBridge| match b.flow.map(|i| &m.flows[i]) {
        Some(f) => format!(
            "member of both {} and {}: the flow {} -> {} no longer limits it",
            b.home, b.extra, f.from, f.to
        ),
        None => format!(
            "member of both the egress zone {} and the internal zone {}",
            b.home, b.extra
        ),
    };
    let bridges = |m: &Model, name: &str| -> BTreeMap<(String, String), String> {
        m.services
            .get(name)
            .map(|s| {
                crate::model::zone_bridges(s, &m.flows, &m.zones)
                    .into_iter()
                    .map(|b| {
                        let mut key = [b.home.clone(), b.extra.clone()];
                        key.sort();
                        let [a, z] = key;
                        ((a, z), describe(m, &b))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let names: BTreeSet<&String> = old.services.keys().chain(new.services.keys()).collect();
    for name in names {
        let (o, n) = (bridges(old, name), bridges(new, name));
        for (pair, text) in n.iter().filter(|(k, _)| !o.contains_key(*k)) {
            c.push(
                Class::Weakens,
                "service",
                name,
                "zone",
                text.clone(),
                None,
                Some(format!("{} + {}", pair.0, pair.1)),
            );
        }
        if new.services.contains_key(name) {
            for (pair, text) in o.iter().filter(|(k, _)| !n.contains_key(*k)) {
                c.push(
                    Class::Strengthens,
                    "service",
                    name,
                    "zone",
                    format!("no longer {text}"),
                    Some(format!("{} + {}", pair.0, pair.1)),
                    None,
                );
            }
        }
    }
}

fn source_text(s: &Source) -> String {
    match s {
        Source::Image(i) => format!("image {i}"),
        Source::Build(b) => format!(
            "build {}{}",
            format!("{:?}", b.runtime).to_lowercase(),
            b.version
                .as_ref()
                .map(|v| format!(" {v}"))
                .unwrap_or_default()
        ),
    }
}

fn zones(c: &mut Changes, old: &Model, new: &Model) {
    let names: BTreeSet<&String> = old.zones.keys().chain(new.zones.keys()).collect();
    for name in names {
        match (old.zones.get(name), new.zones.get(name)) {
            (Some(o), Some(n)) => {
                if o.egress != n.egress {
                    let (class, msg) = if n.egress {
                        (Class::Weakens, "egress enabled (was internal)")
                    } else {
                        (Class::Strengthens, "egress disabled (now internal)")
                    };
                    c.push(
                        class,
                        "zone",
                        name,
                        "egress",
                        msg.into(),
                        Some(o.egress.to_string()),
                        Some(n.egress.to_string()),
                    );
                }
                if o.subnet != n.subnet {
                    c.push(
                        Class::Neutral,
                        "zone",
                        name,
                        "subnet",
                        format!("subnet {} -> {}", o.subnet, n.subnet),
                        Some(o.subnet.to_string()),
                        Some(n.subnet.to_string()),
                    );
                }
                if o.bridge != n.bridge {
                    c.push(
                        Class::Neutral,
                        "zone",
                        name,
                        "bridge",
                        format!("bridge {} -> {}", o.bridge, n.bridge),
                        Some(o.bridge.clone()),
                        Some(n.bridge.clone()),
                    );
                }
            }
            (None, Some(n)) => c.push(
                if n.egress {
                    Class::Weakens
                } else {
                    Class::Neutral
                },
                "zone",
                name,
                "zone",
                if n.egress {
                    "added, with egress".into()
                } else {
                    "added (internal)".into()
                },
                None,
                Some(name.clone()),
            ),
            (Some(_), None) => c.push(
                Class::Neutral,
                "zone",
                name,
                "zone",
                "removed".into(),
                Some(name.clone()),
                None,
            ),
            (None, None) => {}
        }
    }
}

fn flows(c: &mut Changes, old: &Model, new: &Model) {
    let key = |f: &Flow| (f.from.clone(), f.to.clone());
    let old_f: BTreeMap<(String, String), &Flow> = old.flows.iter().map(|f| (key(f), f)).collect();
    let new_f: BTreeMap<(String, String), &Flow> = new.flows.iter().map(|f| (key(f), f)).collect();
    let keys: BTreeSet<&(String, String)> = old_f.keys().chain(new_f.keys()).collect();
    for k in keys {
        let name = format!("{} -> {}", k.0, k.1);
        let ports = |f: Option<&&Flow>| -> BTreeSet<PortProto> {
            f.map(|f| f.ports.iter().copied().collect())
                .unwrap_or_default()
        };
        let clients = |f: Option<&&Flow>| -> BTreeSet<String> {
            f.map(|f| f.clients.iter().cloned().collect())
                .unwrap_or_default()
        };
        let (o, n) = (old_f.get(k), new_f.get(k));
        match (o, n) {
            (None, Some(_)) => c.push(
                Class::Weakens,
                "flow",
                &name,
                "flow",
                "added".into(),
                None,
                Some(name.clone()),
            ),
            (Some(_), None) => c.push(
                Class::Strengthens,
                "flow",
                &name,
                "flow",
                "removed".into(),
                Some(name.clone()),
                None,
            ),
            _ => {}
        }
        c.set(
            "flow",
            &name,
            "port",
            &ports(o),
            &ports(n),
            Class::Weakens,
            |p, added| {
                if added {
                    format!("port {p} now allowed")
                } else {
                    format!("port {p} no longer allowed")
                }
            },
        );
        c.set(
            "flow",
            &name,
            "client",
            &clients(o),
            &clients(n),
            Class::Weakens,
            |s, added| {
                if added {
                    format!("service {s} may now use it")
                } else {
                    format!("service {s} no longer uses it")
                }
            },
        );
    }
}

fn secrets(c: &mut Changes, old: &Model, new: &Model) {
    let names: BTreeSet<&String> = old.secrets.keys().chain(new.secrets.keys()).collect();
    for name in names {
        match (old.secrets.get(name), new.secrets.get(name)) {
            (Some(o), Some(n)) => c.ordered(
                "secret",
                name,
                "bytes",
                "random bytes",
                o.bytes,
                n.bytes,
                Some(false),
            ),
            (None, Some(_)) => c.push(
                Class::Neutral,
                "secret",
                name,
                "secret",
                "added".into(),
                None,
                Some(name.clone()),
            ),
            (Some(_), None) => c.push(
                Class::Neutral,
                "secret",
                name,
                "secret",
                "removed".into(),
                Some(name.clone()),
                None,
            ),
            (None, None) => {}
        }
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

fn service(c: &mut Changes, o: &Service, n: &Service) {
    let name = n.name.as_str();
    // Identity and source.
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
        let p = |x: SeccompPreset| format!("{x:?}").to_lowercase();
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
    // Ports: a changed bind address of the same container port is one change.
    let key = |p: &PublishedPort| (p.container, p.host_port);
    let old_p: BTreeMap<_, &PublishedPort> = o.ports.iter().map(|p| (key(p), p)).collect();
    let new_p: BTreeMap<_, &PublishedPort> = n.ports.iter().map(|p| (key(p), p)).collect();
    for (k, np) in &new_p {
        match old_p.get(k) {
            None => c.push(
                Class::Weakens,
                "service",
                name,
                "port",
                format!("port {} published", published(np)),
                None,
                Some(np.to_string()),
            ),
            Some(op) if op.host_ip != np.host_ip => {
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
            _ => {}
        }
    }
    for (k, op) in &old_p {
        if !new_p.contains_key(k) {
            c.push(
                Class::Strengthens,
                "service",
                name,
                "port",
                format!("port {} no longer published", published(op)),
                Some(op.to_string()),
                None,
            );
        }
    }
    // Volumes: host mounts and writability matter; named volumes are neutral.
    let vol = |v: &Volume| match &v.source {
        VolumeSource::Named(n) => format!("volume {n} at {}", v.target),
        VolumeSource::Host(h) => format!("host path {h} at {}", v.target),
    };
    let old_v: BTreeMap<&String, &Volume> = o.volumes.iter().map(|v| (&v.target, v)).collect();
    let new_v: BTreeMap<&String, &Volume> = n.volumes.iter().map(|v| (&v.target, v)).collect();
    for (t, nv) in &new_v {
        match old_v.get(t) {
            None => {
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
            Some(ov) => {
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
        }
    }
    for (t, ov) in &old_v {
        if !new_v.contains_key(t) {
            c.push(
                Class::Strengthens,
                "service",
                name,
                "volume",
                format!("{} no longer mounted", vol(ov)),
                Some(vol(ov)),
                None,
            );
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn model(text: &str) -> Model {
        let raw = crate::spec::parse(text).unwrap();
        let (m, d) = crate::validate::validate(
            &raw,
            "t.toml",
            &crate::validate::Options {
                strict: false,
                spec_dir: None,
            },
        );
        m.unwrap_or_else(|| panic!("{d:?}"))
    }

    const BASE: &str = r#"
[project]
name = "t"
[zones.api]
egress = true
[zones.data]
[[flows]]
from = "api"
to = "data"
ports = ["5432"]
[services.web]
image = "x:1"
zones = ["api"]
ports = ["8080"]
memory = "1g"
healthcheck = { cmd = ["true"] }
[services.db]
image = "y:1"
zones = ["data"]
expose = ["5432", "6379"]
healthcheck = { cmd = ["true"] }
"#;

    #[test]
    fn identical_models_have_no_changes() {
        assert!(compare(&model(BASE), &model(BASE)).is_empty());
    }

    #[test]
    fn one_more_zone_across_a_flow_weakens() {
        let new = BASE
            .replace("zones = [\"api\"]", "zones = [\"api\", \"data\"]")
            .replace(
                "memory = \"1g\"",
                "memory = \"1g\"\nunsafe = { bridges_zones = true, reason = \"test\" }",
            );
        let lines: Vec<String> = compare(&model(BASE), &model(&new))
            .iter()
            .map(|c| format!("{} {}", c.class.as_str(), c.line()))
            .collect();
        for want in [
            "weakens service web: joins zone data",
            "weakens service web: member of both api and data: the flow api -> data no longer limits it",
        ] {
            assert!(lines.iter().any(|l| l == want), "missing {want:?} in {lines:#?}");
        }
        // Back to one zone: the bridge is gone.
        let back: Vec<String> = compare(&model(&new), &model(BASE))
            .iter()
            .map(|c| format!("{} {}", c.class.as_str(), c.line()))
            .collect();
        assert!(
            back.iter()
                .any(|l| l.starts_with("strengthens service web: no longer member of both")),
            "{back:#?}"
        );
    }

    #[test]
    fn classifies_the_issue_examples() {
        let new = BASE
            .replace("ports = [\"8080\"]", "ports = [\"0.0.0.0:8080:8080\"]\ncap_add = [\"NET_ADMIN\"]\nunsafe = { dangerous_caps = true, reason = \"test\" }")
            .replace("memory = \"1g\"", "memory = \"512m\"")
            .replace("[zones.data]", "[zones.data]\negress = true")
            .replace("ports = [\"5432\"]", "ports = [\"5432\", \"6379\"]");
        let lines: Vec<String> = compare(&model(BASE), &model(&new))
            .iter()
            .map(|c| format!("{} {}", c.class.as_str(), c.line()))
            .collect();
        for want in [
            "weakens service web: capability NET_ADMIN added",
            "weakens zone data: egress enabled (was internal)",
            "weakens flow api -> data: port 6379/tcp now allowed",
            "weakens service web: port 8080 published on 0.0.0.0 (was 127.0.0.1)",
            "strengthens service web: memory limit 1g -> 512m",
        ] {
            assert!(
                lines.iter().any(|l| l == want),
                "missing {want:?} in {lines:#?}"
            );
        }
    }
}
