//! One compose service as a `[services.NAME]` table: what cannot be expressed (for the user
//! to decide), image or build, zones, user, ports, mounts, environment and secrets, command,
//! capabilities, security options, limits, health check, dependencies, and what hardgen
//! relaxes only when told. One method a section, in the order the table is written.

mod limits;
mod mounts;
mod runtime;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::build::{build, build_has_derived_health};
use super::images::{self, Image};
use super::secrets::Secrets;
use super::text::{argv, duration, sanitize, sh_quote, size, toml_list, toml_str, Doc};
use super::topology::{listening_ports, Topology};
use crate::compose_in::{Cmd, MountKind, Project, Service};

const PROXIES: &[&str] = &[
    "traefik",
    "caddy",
    "nginx",
    "nginxinc/nginx-unprivileged",
    "haproxy",
];

/// Keys of a compose service that import carries over (or judges) one by one.
const HANDLED: &[&str] = &[
    "image",
    "build",
    "command",
    "environment",
    "env_file",
    "ports",
    "expose",
    "volumes",
    "tmpfs",
    "depends_on",
    "links",
    "networks",
    "network_mode",
    "pid",
    "ipc",
    "uts",
    "userns_mode",
    "cgroup",
    "privileged",
    "read_only",
    "init",
    "user",
    "cap_add",
    "cap_drop",
    "security_opt",
    "devices",
    "healthcheck",
    "mem_limit",
    "cpus",
    "pids_limit",
    "restart",
    "logging",
    "secrets",
    "configs",
    "profiles",
    "sysctls",
    "volumes_from",
    "deploy",
    "entrypoint",
    "ulimits",
    "container_name",
    "labels",
    "hostname",
    "stop_grace_period",
    "working_dir",
    "group_add",
    "extra_hosts",
    "dns",
    "dns_search",
    "pull_policy",
    "platform",
    "stdin_open",
    "tty",
    "memswap_limit",
    "mem_reservation",
    "domainname",
    "stop_signal",
];

/// What is dropped without harm (with why).
fn dropped_note(key: &str) -> Option<&'static str> {
    Some(match key {
        "container_name" => "dropped: container_name (Compose names containers after the project)",
        "labels" => {
            "dropped: labels (no effect on security; add them back by hand if tools read them)"
        }
        "hostname" | "domainname" => "dropped: hostname (the service name resolves in its zones)",
        "stop_grace_period" | "stop_signal" => "dropped: stop settings (Compose's defaults apply)",
        "pull_policy" => "dropped: pull_policy",
        "platform" => "dropped: platform (the host's)",
        "stdin_open" | "tty" => "dropped: stdin_open/tty",
        "logging" => "logging: hardgen's bounded json-file logs replace it",
        "memswap_limit" => "memswap_limit: swap is off (equal to the memory limit)",
        "mem_reservation" => {
            "mem_reservation: not carried over (set `memory_reservation` if wanted)"
        }
        "profiles" => "profiles: the service was active in this import",
        "cap_drop" => "cap_drop: hardgen drops ALL",
        "init" => "init: hardgen runs an init process",
        "read_only" => "read_only: hardgen's read-only root applies",
        "deploy" => "deploy: its limits and restart policy are carried over",
        _ => return None,
    })
}

/// What every service's table reads: the project and what import derived from it.
pub(super) struct Ctx<'a> {
    pub(super) p: &'a Project,
    pub(super) topo: &'a Topology,
    pub(super) secrets: &'a Secrets,
}

/// The environment table (variable -> value and comment) and the secrets the service mounts.
type Environment = (BTreeMap<String, (String, Option<String>)>, Vec<String>);

/// The `[services.NAME]` table of `s`; what cannot be expressed goes to `decide`.
pub(super) fn service(cx: &Ctx, s: &Service, doc: &mut Doc, decide: &mut Vec<String>) {
    let name = &cx.topo.svc_names[&s.name];
    let mut sv = Svc {
        cx,
        s,
        name,
        img: s.image.as_ref().and_then(|i| images::lookup(&i.value)),
        decide,
        unsafe_flags: Vec::new(),
    };
    let header = (name != &s.name).then(|| format!("import: service `{}`", s.name));
    doc.line(&format!("[services.{name}]"), header);
    sv.refusals();
    sv.image(doc);
    sv.zones(doc);
    sv.user(doc);
    sv.ports(doc);
    let tmpfs = sv.mounts(doc);
    let (env, svc_secrets) = sv.environment(doc);
    let health_secret = sv.command(doc);
    sv.caps(doc);
    sv.security_opt(doc);
    sv.limits(doc, &tmpfs);
    sv.healthcheck(doc, &svc_secrets, health_secret);
    sv.depends_on(doc);
    // Environment last (a sub-table).
    if !env.is_empty() {
        doc.line(&format!("[services.{name}.environment]"), None);
        for (k, (v, note)) in &env {
            doc.line(&format!("{k} = {}", toml_str(v)), note.clone());
        }
    }
    sv.leftover_keys(doc);
    sv.unsafe_table(doc);
    doc.blank();
}

/// One service being written.
struct Svc<'a> {
    cx: &'a Ctx<'a>,
    s: &'a Service,
    /// Its name in the spec.
    name: &'a str,
    /// What import's image table knows of its image.
    img: Option<&'static Image>,
    decide: &'a mut Vec<String>,
    /// The `unsafe` flags it needs, with why.
    unsafe_flags: Vec<(&'static str, String)>,
}

impl Svc<'_> {
    /// Something the user must decide: import writes nothing.
    fn d(&mut self, m: String) {
        self.decide
            .push(format!("{}: service `{}`: {m}", self.s.loc, self.s.name));
    }

    /// Not expressible: the user decides.
    fn refusals(&mut self) {
        let s = self.s;
        if s.privileged.as_ref().is_some_and(|p| p.value) {
            self.d("`privileged: true` cannot be expressed: list the capabilities (cap_add) and devices it really needs".into());
        }
        for (key, v) in [
            ("network_mode", &s.network_mode),
            ("pid", &s.pid),
            ("ipc", &s.ipc),
            ("uts", &s.uts),
            ("userns_mode", &s.userns_mode),
        ] {
            if let Some(v) = v {
                if v.value == "host"
                    || v.value.starts_with("service:")
                    || v.value.starts_with("container:")
                {
                    self.d(format!("`{key}: {}` cannot be expressed (hardgen services have their own namespaces and zones): decide how it should reach what it needs", v.value));
                }
            }
        }
        if !s.devices.is_empty() {
            self.d("`devices` cannot be expressed: hardgen passes no host device".into());
        }
        if !s.sysctls.is_empty() {
            self.d("`sysctls` cannot be expressed: set them on the host or drop them".into());
        }
        if !s.volumes_from.is_empty() {
            self.d("`volumes_from` cannot be expressed: name the volumes it shares".into());
        }
        if s.entrypoint.is_some() {
            self.d("`entrypoint` cannot be expressed (hardgen sets only the command): fold it into `command` or into the image".into());
        }
        for c in &s.cap_add {
            if c.value.eq_ignore_ascii_case("ALL") {
                self.d(
                    "`cap_add: [ALL]` cannot be expressed: list the capabilities it needs".into(),
                );
            }
        }
    }

    /// Image or build.
    fn image(&mut self, doc: &mut Doc) {
        let cx = self.cx;
        let p = cx.p;
        let s = self.s;
        match (&s.image, &s.build) {
            (_, Some(b)) => build(p, s, b, doc, &mut |m| self.d(m)),
            (Some(i), None) => {
                let tag = images::tag(&i.value);
                let comment = match tag.as_deref() {
                _ if i.value.contains('@') => None,
                None | Some("latest") => Some("TODO: not pinned: replace with the version you run (hardgen refuses `latest` with --strict)".to_string()),
                Some(_) => None,
            };
                doc.line(&format!("image = {}", toml_str(&i.value)), comment);
            }
            (None, None) => self.d("has neither `image` nor `build`".into()),
        }
    }

    /// Zones: the home zone, and what the other networks were.
    fn zones(&mut self, doc: &mut Doc) {
        let cx = self.cx;
        let zone_names = &cx.topo.zone_names;
        let home = &cx.topo.home;
        let home_note = &cx.topo.home_note;
        let flow_todo = &cx.topo.flow_todo;
        let s = self.s;
        let name = self.name;
        if let Some(h) = home.get(&s.name) {
            doc.line(
                &format!("zones = {}", toml_list(&[zone_names[h].clone()])),
                home_note.get(&s.name).cloned(),
            );
        }
        for t in flow_todo.get(&s.name).into_iter().flatten() {
            doc.comment(t);
        }

        for n in &s.networks {
            if !n.aliases.is_empty() {
                doc.comment(&format!(
                    "TODO: the aliases {} on `{}` are gone: clients must use the name `{name}`",
                    n.aliases
                        .iter()
                        .map(|a| format!("`{a}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    n.name
                ));
            }
            if let Some(ip) = &n.ipv4_address {
                doc.comment(&format!(
                "import: the static address {ip} on `{}` is replaced by the zone's fixed address",
                n.name
            ));
            }
        }
    }

    /// User.
    fn user(&mut self, doc: &mut Doc) {
        let s = self.s;
        let img = self.img;
        let known_names: &[(&str, &str)] = &[
            ("node", "1000:1000"),
            ("www-data", "33:33"),
            ("nobody", "65534:65534"),
            ("postgres", "999:999"),
            ("redis", "999:999"),
            ("mysql", "999:999"),
            ("nginx", "101:101"),
            ("jovyan", "1000:100"),
        ];
        match &s.user {
        Some(u) => {
            let (uid, gid) = u.value.split_once(':').unwrap_or((&u.value, &u.value));
            let numeric = |x: &str| !x.is_empty() && x.chars().all(|c| c.is_ascii_digit());
            if uid == "0" || uid == "root" {
                doc.line("user = \"0:0\"", Some("import: root, as in the compose file".into()));
                self.unsafe_flags.push(("root_user", "runs as root".into()));
            } else if numeric(uid) && numeric(gid) {
                doc.line(&format!("user = {}", toml_str(&format!("{uid}:{gid}"))), Some("import: from the compose file".into()));
            } else if let Some((_, id)) = known_names.iter().find(|(n, _)| *n == uid) {
                doc.line(&format!("user = {}", toml_str(id)), Some(format!("import: `{}` is {id} in the usual images", u.value)));
            } else {
                doc.line("user = \"10001:10001\"", Some(format!("TODO: the compose file named the user `{}`: write its numeric UID:GID", u.value)));
            }
        }
        None => match img {
            Some(i) => doc.line(&format!("user = {}", toml_str(i.user)), Some(format!("import: {}", i.user_note))),
            None if s.build.is_some() => {}
            None => doc.comment(&format!(
                "TODO: image unknown to import: it runs as hardgen's default user 10001:10001; if it fails to start, find the user it expects (`docker image inspect {}`) and the owner of its volumes",
                s.image.as_ref().map(|i| i.value.as_str()).unwrap_or("")
            )),
        },
    }
        if let Some(n) = img.and_then(|i| i.note) {
            doc.comment(&format!("TODO: {n}"));
        }
    }

    /// Dependencies.
    fn depends_on(&mut self, doc: &mut Doc) {
        let cx = self.cx;
        let svc_names = &cx.topo.svc_names;
        let s = self.s;
        if !s.depends_on.is_empty() {
            let deps: Vec<String> = s
                .depends_on
                .iter()
                .map(|d| svc_names[&d.name].clone())
                .collect();
            let started: Vec<&str> = s
                .depends_on
                .iter()
                .filter(|d| d.condition != "service_healthy")
                .map(|d| d.name.as_str())
                .collect();
            let note = (!started.is_empty()).then(|| {
                format!(
                    "import: now waits until {} {} healthy (was: started)",
                    started.join(", "),
                    if started.len() == 1 { "is" } else { "are" }
                )
            });
            doc.line(&format!("depends_on = {}", toml_list(&deps)), note);
        }
    }

    /// What is left: keys import carries nowhere.
    fn leftover_keys(&mut self, doc: &mut Doc) {
        let s = self.s;
        for k in &s.keys {
            if let Some(n) = dropped_note(&k.value) {
                if !matches!(
                    k.value.as_str(),
                    "profiles" | "cap_drop" | "init" | "read_only" | "deploy"
                ) {
                    doc.comment(&format!("import: {n}"));
                }
            } else if matches!(
                k.value.as_str(),
                "working_dir" | "extra_hosts" | "dns" | "dns_search" | "group_add" | "ulimits"
            ) {
                doc.comment(&format!(
                    "TODO: `{}` was not carried over: hardgen has no such setting",
                    k.value
                ));
            } else if !HANDLED.contains(&k.value.as_str()) && !k.value.starts_with("x-") {
                self.d(format!("`{}` ({}) cannot be expressed", k.value, k.loc));
            }
        }
    }

    /// What hardgen relaxes only when told, with why.
    fn unsafe_table(&mut self, doc: &mut Doc) {
        let name = self.name;
        if !self.unsafe_flags.is_empty() {
            let what: Vec<String> = self.unsafe_flags.iter().map(|(_, w)| w.clone()).collect();
            let mut flags: Vec<&str> = self.unsafe_flags.iter().map(|(f, _)| *f).collect();
            flags.sort();
            flags.dedup();
            let mut parts: Vec<String> = flags.iter().map(|f| format!("{f} = true")).collect();
            parts.push(format!(
                "reason = {}",
                toml_str(&format!("imported as is: {}", what.join("; ")))
            ));
            doc.line(
                &format!("[services.{name}.unsafe]"),
                Some(
                    "import: what hardgen relaxes only when told; the posture review lists it"
                        .into(),
                ),
            );
            for part in parts {
                doc.line(&part, None);
            }
        }
    }
}
