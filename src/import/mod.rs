//! `hardgen import`: a spec describing the stack of existing compose files — services, images
//! or build contexts, commands, environment, ports, volumes, dependencies — with hardgen's
//! defaults doing the hardening. Every line where import decided or guessed carries a
//! comment (`# import: ...`, or `# TODO: ...` where the user should check); what hardgen
//! cannot express is either an `unsafe` entry "imported as is" or an error listing what to
//! decide.

pub mod images;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::app::Outcome;
use crate::audit::{self, secret_name, url_password};
use crate::compose_in::{self, Cmd, MountKind, Project, Service};

pub struct RunOptions {
    pub compose: compose_in::Options,
    pub out: Option<PathBuf>,
    pub keep_secret_values: bool,
    pub force: bool,
}

/// The result of an import: the spec's text, its TODOs, the credential values found (never
/// written into the spec) and the services' new names.
pub struct Imported {
    pub text: String,
    pub todos: usize,
    pub secret_values: BTreeMap<String, String>,
}

fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn toml_list(items: &[String]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|s| toml_str(s))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// A name hardgen accepts: lower case, `[a-z0-9_-]` (and `.` where allowed), starting with a
/// letter, at most `max` characters.
fn sanitize(name: &str, max: usize, extra: &[char], prefix: &str) -> String {
    let mut s: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || extra.contains(&c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
        s = format!("{prefix}{s}");
    }
    s.truncate(max);
    s
}

/// Compose's string form of `command`: split into words like a shell would, without running
/// one (quotes and backslashes handled).
fn shell_words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                    in_word = true;
                }
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

fn argv(c: &Cmd) -> Vec<String> {
    match c {
        Cmd::Exec(v) => v.clone(),
        Cmd::Shell(s) => shell_words(s),
    }
}

/// A word for `sh -c`, single-quoted unless plain.
fn sh_quote(w: &str) -> String {
    if !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c))
    {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', "'\\''"))
    }
}

/// Compose sizes (`512m`, `1G`, `1gb`, `512MiB`, bytes) in hardgen's form.
fn size(s: &str) -> Option<String> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.trim_end_matches("ib").trim_end_matches('b');
    let (num, unit) = match t.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => (&t[..i], &t[i..]),
        None => (t, ""),
    };
    let n: f64 = num.parse().ok()?;
    let bytes = match unit {
        "" => n,
        "k" => n * 1024.0,
        "m" => n * 1024.0 * 1024.0,
        "g" => n * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let mib = (bytes / (1024.0 * 1024.0)).ceil() as u64;
    if mib == 0 {
        return None;
    }
    Some(if mib % 1024 == 0 {
        format!("{}g", mib / 1024)
    } else {
        format!("{mib}m")
    })
}

/// Compose durations (`1m30s`, `500ms`, `10s`) in hardgen's one-unit form.
fn duration(s: &str) -> Option<String> {
    let mut ms: u64 = 0;
    let mut num = String::new();
    let mut chars = s.trim().chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num.parse().ok()?;
        num.clear();
        let unit = match (c, chars.peek()) {
            ('m', Some('s')) => {
                chars.next();
                1
            }
            ('h', _) => 3_600_000,
            ('m', _) => 60_000,
            ('s', _) => 1000,
            _ => return None,
        };
        ms += n * unit;
    }
    if !num.is_empty() {
        ms += num.parse::<u64>().ok()? * 1000;
    }
    if ms == 0 {
        return None;
    }
    Some(if ms % 1000 != 0 {
        format!("{ms}ms")
    } else if ms % 60_000 == 0 {
        format!("{}m", ms / 60_000)
    } else {
        format!("{}s", ms / 1000)
    })
}

/// Clients, ports and reasons of a flow being gathered.
type FlowAcc = (BTreeSet<String>, BTreeSet<u16>, BTreeSet<String>);
/// A credential argument of a command: its word index, its secret, the `--flag` of a
/// `--flag=value` word.
type CmdSecret = (usize, String, Option<String>);
/// A build context's runtime preset, version and command.
type Detected = (&'static str, Option<String>, Option<Vec<String>>);

/// Who talks to whom, and on which ports when the value says.
struct Talk {
    client: String,
    server: String,
    why: BTreeSet<String>,
    ports: BTreeSet<u16>,
}

fn listening_ports(s: &Service) -> BTreeSet<u16> {
    let mut ports = BTreeSet::new();
    for e in &s.expose {
        let p = e.value.split('/').next().unwrap_or("");
        let (a, b) = p.split_once('-').unwrap_or((p, p));
        if let (Ok(a), Ok(b)) = (a.parse::<u16>(), b.parse::<u16>()) {
            if b >= a && b - a < 32 {
                ports.extend(a..=b);
            }
        }
    }
    for p in &s.ports {
        if p.protocol == "tcp" && p.target_end - p.target < 32 {
            ports.extend(p.target..=p.target_end);
        }
    }
    if let Some(img) = s.image.as_ref().and_then(|i| images::lookup(&i.value)) {
        if ports.is_empty() {
            ports.extend(img.ports.iter().copied());
        }
    }
    ports
}

/// The host names a value mentions, with a port when written `host:port`.
fn hosts_in(value: &str) -> Vec<(String, Option<u16>)> {
    let mut out = Vec::new();
    let chars: Vec<char> = value.chars().collect();
    let is_host = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.';
    let mut i = 0;
    while i < chars.len() {
        if !is_host(chars[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && is_host(chars[i]) {
            i += 1;
        }
        let word: String = chars[start..i].iter().collect();
        let mut port = None;
        if chars.get(i) == Some(&':') {
            let ps = i + 1;
            let mut pe = ps;
            while pe < chars.len() && chars[pe].is_ascii_digit() {
                pe += 1;
            }
            port = chars[ps..pe].iter().collect::<String>().parse().ok();
        }
        out.push((word, port));
    }
    out
}

fn talks(p: &Project) -> Vec<Talk> {
    // Names that reach each service: its name and its aliases.
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    for s in p.services.values() {
        names.insert(s.name.clone(), s.name.clone());
        for n in &s.networks {
            for a in &n.aliases {
                names.entry(a.clone()).or_insert_with(|| s.name.clone());
            }
        }
    }
    let mut out: BTreeMap<(String, String), Talk> = BTreeMap::new();
    let mut add = |c: &str, t: &str, why: String, port: Option<u16>| {
        if c == t {
            return;
        }
        let e = out
            .entry((c.to_string(), t.to_string()))
            .or_insert_with(|| Talk {
                client: c.to_string(),
                server: t.to_string(),
                why: BTreeSet::new(),
                ports: BTreeSet::new(),
            });
        e.why.insert(why);
        if let Some(p) = port {
            e.ports.insert(p);
        }
    };
    for s in p.services.values() {
        for d in &s.depends_on {
            add(&s.name, &d.name, "depends_on".into(), None);
        }
        for l in &s.links {
            let target = l.value.split(':').next().unwrap_or("");
            if let Some(t) = names.get(target) {
                add(&s.name, t, "links".into(), None);
            }
        }
        for e in &s.environment {
            let Some(val) = &e.value else { continue };
            for (host, port) in hosts_in(val) {
                if let Some(t) = names.get(&host) {
                    add(&s.name, t, e.name.clone(), port);
                }
            }
        }
        if let Some(c) = &s.command {
            for w in c.value.words() {
                for (host, port) in hosts_in(&w) {
                    if let Some(t) = names.get(&host) {
                        if port.is_some() {
                            add(&s.name, t, "command".into(), port);
                        }
                    }
                }
            }
        }
    }
    out.into_values().collect()
}

/// Lines of the spec being written.
#[derive(Default)]
struct Doc {
    text: String,
    todos: usize,
    /// Where the spec is written: build contexts are relative to its directory.
    spec_dir: Option<PathBuf>,
}

impl Doc {
    fn line(&mut self, s: &str, comment: Option<String>) {
        match comment {
            Some(c) => {
                if c.starts_with("TODO") {
                    self.todos += 1;
                }
                let pad = 40usize.saturating_sub(s.chars().count()).max(1);
                let _ = writeln!(self.text, "{s}{}# {c}", " ".repeat(pad));
            }
            None => {
                let _ = writeln!(self.text, "{s}");
            }
        }
    }
    fn comment(&mut self, c: &str) {
        if c.starts_with("TODO") {
            self.todos += 1;
        }
        let _ = writeln!(self.text, "# {c}");
    }
    fn blank(&mut self) {
        self.text.push('\n');
    }
}

struct Secret {
    name: String,
    description: String,
    value: Option<String>,
    comment: String,
}

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

pub fn import(p: &Project) -> Result<Imported, Vec<String>> {
    import_to(p, &p.dir)
}

/// The import of a spec written into `spec_dir` (build contexts are relative to it).
pub fn import_to(p: &Project, spec_dir: &Path) -> Result<Imported, Vec<String>> {
    let mut decide: Vec<String> = Vec::new();
    let mut doc = Doc {
        spec_dir: Some(spec_dir.to_path_buf()),
        ..Doc::default()
    };
    let project_name = sanitize(&p.name, 20, &[], "x-");
    let project_name = project_name.trim_end_matches('-').to_string();

    // Service names.
    let mut svc_names: BTreeMap<String, String> = BTreeMap::new();
    let mut used = BTreeSet::new();
    for n in p.services.keys() {
        let mut s = sanitize(n, 63, &['_'], "svc-");
        while !used.insert(s.clone()) {
            s.push('x');
        }
        svc_names.insert(n.clone(), s);
    }

    // Zones: networks used by services.
    let talks = talks(p);
    let only_default = p
        .services
        .values()
        .all(|s| s.networks.iter().all(|n| n.name == "default"));
    let mut zone_names: BTreeMap<String, String> = BTreeMap::new();
    let mut zused = BTreeSet::new();
    for s in p.services.values() {
        for n in &s.networks {
            if zone_names.contains_key(&n.name) {
                continue;
            }
            let base = if n.name == "default" && only_default {
                "app".to_string()
            } else {
                sanitize(&n.name, 32, &['_'], "z-")
            };
            let mut z = base.clone();
            let mut i = 2;
            while !zused.insert(z.clone()) {
                z = format!("{base}{i}");
                i += 1;
            }
            zone_names.insert(n.name.clone(), z);
        }
    }
    // Home zone of each service: one zone; other networks are reached through flows.
    let mut home: BTreeMap<String, String> = BTreeMap::new();
    let mut home_note: BTreeMap<String, String> = BTreeMap::new();
    for s in p.services.values() {
        let nets: Vec<&str> = s.networks.iter().map(|n| n.name.as_str()).collect();
        if nets.is_empty() {
            continue;
        }
        if nets.len() == 1 {
            home.insert(s.name.clone(), nets[0].to_string());
            continue;
        }
        let members = |net: &str| -> Vec<&str> {
            p.services
                .values()
                .filter(|o| o.name != s.name && o.networks.iter().any(|n| n.name == net))
                .map(|o| o.name.as_str())
                .collect()
        };
        let served: Vec<&str> = nets
            .iter()
            .copied()
            .filter(|n| {
                members(n)
                    .iter()
                    .any(|m| talks.iter().any(|t| t.client == *m && t.server == s.name))
            })
            .collect();
        let uses: Vec<&str> = nets
            .iter()
            .copied()
            .filter(|n| {
                members(n)
                    .iter()
                    .any(|m| talks.iter().any(|t| t.client == s.name && t.server == *m))
            })
            .collect();
        let h = served
            .first()
            .or_else(|| nets.iter().find(|n| !uses.contains(n)))
            .or_else(|| nets.first())
            .copied()
            .unwrap_or("default");
        home.insert(s.name.clone(), h.to_string());
        let others: Vec<String> = nets
            .iter()
            .filter(|n| **n != h)
            .map(|n| format!("`{}`", zone_names[*n]))
            .collect();
        let unused: Vec<String> = nets
            .iter()
            .filter(|n| **n != h && !uses.contains(n) && !served.contains(n))
            .map(|n| format!("`{}`", zone_names[*n]))
            .collect();
        let mut note = format!(
            "import: was on {} networks; member of `{}`, a client of {} through flows",
            nets.len(),
            zone_names[h],
            others.join(", ")
        );
        if !unused.is_empty() {
            note = format!(
                "TODO: was also on {} but talks to nobody there that import could see: add a flow if it does",
                unused.join(", ")
            );
        }
        home_note.insert(s.name.clone(), note);
    }

    // Secrets, found in environment values, command arguments and compose secrets.
    let mut secrets: BTreeMap<String, Secret> = BTreeMap::new();
    let mut by_value: BTreeMap<String, String> = BTreeMap::new();
    let mut env_secret: BTreeMap<(String, String), String> = BTreeMap::new();
    let new_secret = |secrets: &mut BTreeMap<String, Secret>,
                      by_value: &mut BTreeMap<String, String>,
                      svc: &str,
                      var: &str,
                      value: &str,
                      what: String|
     -> String {
        if let Some(n) = by_value.get(value) {
            if let Some(s) = secrets.get_mut(n) {
                let _ = write!(s.comment, ", {what}");
            }
            return n.clone();
        }
        let mut name = sanitize(var, 64, &['_'], "s-");
        if secrets.contains_key(&name) {
            name = sanitize(&format!("{svc}_{var}"), 64, &['_'], "s-");
        }
        while secrets.contains_key(&name) {
            name.push('x');
        }
        by_value.insert(value.to_string(), name.clone());
        secrets.insert(
            name.clone(),
            Secret {
                name: name.clone(),
                description: format!("imported from {var} of {svc}"),
                value: Some(value.to_string()),
                comment: format!("import: was the value of {what}"),
            },
        );
        name
    };
    for s in p.services.values() {
        for e in &s.environment {
            let Some(val) = &e.value else { continue };
            if (secret_name(&e.name) && audit::env_secret_value(val)) || url_password(val).is_some()
            {
                let what = format!("{} in {}", e.name, s.name);
                let n = new_secret(&mut secrets, &mut by_value, &s.name, &e.name, val, what);
                env_secret.insert((s.name.clone(), e.name.clone()), n);
            }
        }
    }
    // A URL secret that holds the password of another secret: they must stay in step.
    let values: Vec<(String, String)> = secrets
        .values()
        .filter_map(|s| s.value.clone().map(|v| (s.name.clone(), v)))
        .collect();
    for (name, v) in &values {
        if let Some(pw) = url_password(v) {
            if let Some((other, _)) = values.iter().find(|(o, ov)| o != name && ov == pw) {
                if let Some(s) = secrets.get_mut(name) {
                    let _ = write!(
                        s.comment,
                        "; TODO: the URL holds the password of secret `{other}`: write both files yourself (generate-secrets.sh would make them differ)"
                    );
                }
            }
        }
    }
    // Secrets in command arguments: the value following a credential flag, or `--flag=value`.
    let mut cmd_secret: BTreeMap<String, Vec<CmdSecret>> = BTreeMap::new();
    for s in p.services.values() {
        let Some(c) = &s.command else { continue };
        if audit::secret_args(&c.value).is_empty() {
            continue;
        }
        let words = argv(&c.value);
        let mut found = Vec::new();
        for (i, w) in words.iter().enumerate() {
            let lower = w.to_ascii_lowercase();
            if audit::secret_args(&Cmd::Exec(vec![
                w.clone(),
                words.get(i + 1).cloned().unwrap_or_default(),
            ]))
            .iter()
            .any(|f| f == &lower)
            {
                let val = words[i + 1].clone();
                let var = format!("{}_{}", s.name, w.trim_start_matches('-'));
                let n = new_secret(
                    &mut secrets,
                    &mut by_value,
                    &s.name,
                    &var,
                    &val,
                    format!("`{w}` in the command of {}", s.name),
                );
                found.push((i + 1, n, None));
            } else if let Some((k, val)) = w.split_once('=') {
                if !audit::secret_args(&Cmd::Exec(vec![w.clone()])).is_empty() {
                    let var = format!("{}_{}", s.name, k.trim_start_matches('-'));
                    let n = new_secret(
                        &mut secrets,
                        &mut by_value,
                        &s.name,
                        &var,
                        val,
                        format!("`{k}` in the command of {}", s.name),
                    );
                    found.push((i, n, Some(k.to_string())));
                }
            }
        }
        cmd_secret.insert(s.name.clone(), found);
    }
    // Compose secrets used by services.
    let mut compose_secret_name: BTreeMap<String, String> = BTreeMap::new();
    for s in p.services.values() {
        for r in &s.secrets {
            if compose_secret_name.contains_key(&r.source) {
                continue;
            }
            let top = &p.secrets[&r.source];
            let base = r
                .target
                .as_deref()
                .filter(|t| !t.contains('/'))
                .unwrap_or(&r.source);
            let mut name = sanitize(base, 64, &['_'], "s-");
            while secrets.contains_key(&name) {
                name.push('x');
            }
            let origin = match (&top.file, &top.environment, top.external) {
                (Some(f), _, _) => format!("file `{f}`"),
                (_, Some(e), _) => format!("variable `{e}`"),
                (_, _, true) => "an external secret".to_string(),
                _ => "inline content".to_string(),
            };
            let value = match (&top.file, &top.content) {
                (Some(f), _) => std::fs::read_to_string(p.dir.join(f)).ok(),
                (_, Some(c)) => Some(c.clone()),
                _ => None,
            };
            secrets.insert(
                name.clone(),
                Secret {
                    name: name.clone(),
                    description: format!("compose secret {} ({origin})", r.source),
                    value,
                    comment: format!(
                        "import: compose secret `{}` from {origin}: put it in secrets/{name} before generate-secrets.sh (which keeps existing files), or let it make a random one",
                        r.source
                    ),
                },
            );
            compose_secret_name.insert(r.source.clone(), name);
        }
    }

    // Flows between zones, from the talks whose ends have different home zones and shared a
    // network in the compose file.
    let mut flows: BTreeMap<(String, String), FlowAcc> = BTreeMap::new();
    let mut flow_todo: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for t in &talks {
        let (Some(c), Some(s)) = (p.services.get(&t.client), p.services.get(&t.server)) else {
            continue;
        };
        let (Some(hc), Some(hs)) = (home.get(&t.client), home.get(&t.server)) else {
            continue;
        };
        if hc == hs {
            continue;
        }
        let shared = c
            .networks
            .iter()
            .any(|n| s.networks.iter().any(|m| m.name == n.name));
        if !shared {
            continue;
        }
        let mut ports = t.ports.clone();
        if ports.is_empty() {
            ports = listening_ports(s);
        }
        if ports.is_empty() {
            flow_todo.entry(t.client.clone()).or_default().push(format!(
                "TODO: talks to `{}` ({}) but no port of it is known: add its port to its `expose` and a flow",
                svc_names[&t.server],
                t.why.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
            continue;
        }
        let e = flows
            .entry((zone_names[hc].clone(), zone_names[hs].clone()))
            .or_default();
        e.0.insert(svc_names[&t.client].clone());
        e.1.extend(ports);
        e.2.insert(format!(
            "{} -> {} ({})",
            svc_names[&t.client],
            svc_names[&t.server],
            t.why.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }

    // Header.
    doc.comment(&format!(
        "Imported by `hardgen import` from {}.",
        p.files
            .iter()
            .map(|f| format!("`{f}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    doc.comment("hardgen's defaults do the hardening. `# import:` marks what import decided, `# TODO:` what");
    doc.comment("it could not know: read those lines before the first `hardgen build`.");
    doc.comment("Credential values were never written here: see [secrets].");
    if !p.inactive.is_empty() {
        doc.comment(&format!(
            "import: not imported (profiles not active): {}",
            p.inactive.join(", ")
        ));
    }
    doc.blank();
    doc.line("[project]", None);
    let name_comment = (project_name != p.name)
        .then(|| format!("import: from the compose project name `{}`", p.name));
    doc.line(&format!("name = {}", toml_str(&project_name)), name_comment);
    doc.blank();

    // Zones.
    for (net, zone) in &zone_names {
        let members: Vec<&Service> = p
            .services
            .values()
            .filter(|s| home.get(&s.name) == Some(net))
            .collect();
        let original = p.networks.get(net);
        let title = if net == "default" {
            "import: Compose's default network".to_string()
        } else {
            format!("import: from network `{net}`")
        };
        doc.line(&format!("[zones.{zone}]"), Some(title));
        let publishes: Vec<String> = members
            .iter()
            .filter(|s| !s.ports.is_empty())
            .map(|s| svc_names[&s.name].clone())
            .collect();
        let internet: Vec<String> = members
            .iter()
            .filter_map(|s| {
                s.image
                    .as_ref()
                    .and_then(|i| images::lookup(&i.value))
                    .and_then(|i| i.internet)
            })
            .map(String::from)
            .collect();
        let internal = original.is_some_and(|n| n.internal);
        if internal {
            doc.line(
                "egress = false",
                Some("import: the network was `internal: true`".into()),
            );
            if !publishes.is_empty() {
                decide.push(format!(
                    "network `{net}` is internal but {} publish ports: hardgen publishes ports only from zones with egress; decide which",
                    publishes.join(", ")
                ));
            }
        } else if !publishes.is_empty() || !internet.is_empty() {
            let mut why = Vec::new();
            if !publishes.is_empty() {
                why.push(format!("{} publish ports", publishes.join(", ")));
            }
            why.extend(internet);
            doc.line("egress = true", Some(format!("import: {}", why.join("; "))));
        } else {
            doc.line(
                "egress = false",
                Some("import: nothing here publishes a port or is known to need the internet; set true if a service does".into()),
            );
        }
        if let Some(n) = original.filter(|n| !n.subnets.is_empty()) {
            doc.comment(&format!(
                "import: the network's subnet {} is not kept: hardgen allocates the zone's addresses from the project's pool",
                n.subnets.join(", ")
            ));
        }
        if original.is_some_and(|n| n.external) {
            doc.comment(&format!(
                "TODO: `{net}` was an external network shared with other stacks: hardgen creates its own; connect them through a flow or a published port"
            ));
        }
        if let Some(d) = original
            .and_then(|n| n.driver.as_deref())
            .filter(|d| *d != "bridge")
        {
            doc.comment(&format!(
                "TODO: the network used the `{d}` driver; hardgen zones are bridges"
            ));
        }
        doc.blank();
    }

    for ((from, to), (clients, ports, why)) in &flows {
        doc.line(
            "[[flows]]",
            Some(format!(
                "import: {}",
                why.iter().cloned().collect::<Vec<_>>().join("; ")
            )),
        );
        doc.line(&format!("from = {}", toml_str(from)), None);
        doc.line(&format!("to = {}", toml_str(to)), None);
        let cl: Vec<String> = clients.iter().cloned().collect();
        doc.line(
            &format!("clients = {}", toml_list(&cl)),
            Some("import: only the services seen talking".into()),
        );
        let ps: Vec<String> = ports.iter().map(|p| format!("{p}/tcp")).collect();
        doc.line(
            &format!("ports = {}", toml_list(&ps)),
            Some("import: the ports the targets listen on".into()),
        );
        doc.blank();
    }

    for s in secrets.values() {
        doc.line(&format!("[secrets.{}]", s.name), Some(s.comment.clone()));
        doc.line(&format!("description = {}", toml_str(&s.description)), None);
        doc.blank();
    }

    // Services.
    for s in p.services.values() {
        service(
            p,
            s,
            &svc_names,
            &zone_names,
            &home,
            &home_note,
            &env_secret,
            &cmd_secret,
            &compose_secret_name,
            &flow_todo,
            &by_value,
            &mut doc,
            &mut decide,
        );
    }
    // Safety net: no credential value may reach the spec.
    // A value that is also the whole value of a non-secret variable (a quick start's
    // `MYSQL_USER: wordpress` and `MYSQL_PASSWORD: wordpress`) is the user's data: said, kept.
    let mut same_as_data = Vec::new();
    for (value, name) in &by_value {
        if value.chars().count() < 4 {
            continue;
        }
        let whole = format!(" = {}", toml_str(value));
        let rest = doc.text.replace(&whole, " = \u{0}");
        let is_name = p.services.contains_key(value)
            || p.volumes.contains_key(value)
            || p.networks.contains_key(value);
        if is_name {
            same_as_data.push(name.clone());
        } else if rest.contains(value.as_str()) {
            decide.push(format!(
                "the value of secret `{name}` appears elsewhere in the compose files (not as a credential variable): remove it there, import would write it into the spec"
            ));
        } else if rest.len() != doc.text.len() {
            same_as_data.push(name.clone());
        }
    }
    if !same_as_data.is_empty() {
        let note = format!(
            "# TODO: secret(s) {} had the same value as a name or a non-secret variable of the compose files: choose a real password\n",
            same_as_data.join(", ")
        );
        doc.todos += 1;
        if let Some(i) = doc.text.find("\n[project]") {
            doc.text.insert_str(i + 1, &note);
        }
    }

    if !decide.is_empty() {
        return Err(decide);
    }
    let secret_values = secrets
        .values()
        .filter_map(|s| s.value.clone().map(|v| (s.name.clone(), v)))
        .collect();
    Ok(Imported {
        todos: doc.todos,
        text: doc.text,
        secret_values,
    })
}

#[allow(clippy::too_many_arguments)]
fn service(
    p: &Project,
    s: &Service,
    svc_names: &BTreeMap<String, String>,
    zone_names: &BTreeMap<String, String>,
    home: &BTreeMap<String, String>,
    home_note: &BTreeMap<String, String>,
    env_secret: &BTreeMap<(String, String), String>,
    cmd_secret: &BTreeMap<String, Vec<CmdSecret>>,
    compose_secret_name: &BTreeMap<String, String>,
    flow_todo: &BTreeMap<String, Vec<String>>,
    by_value: &BTreeMap<String, String>,
    doc: &mut Doc,
    decide: &mut Vec<String>,
) {
    let name = &svc_names[&s.name];
    let img = s.image.as_ref().and_then(|i| images::lookup(&i.value));
    let mut unsafe_flags: Vec<(&str, String)> = Vec::new();
    let mut d = |m: String| decide.push(format!("{}: service `{}`: {m}", s.loc, s.name));
    let header = (name != &s.name).then(|| format!("import: service `{}`", s.name));
    doc.line(&format!("[services.{name}]"), header);

    // Not expressible: the user decides.
    if s.privileged.as_ref().is_some_and(|p| p.value) {
        d("`privileged: true` cannot be expressed: list the capabilities (cap_add) and devices it really needs".into());
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
                d(format!("`{key}: {}` cannot be expressed (hardgen services have their own namespaces and zones): decide how it should reach what it needs", v.value));
            }
        }
    }
    if !s.devices.is_empty() {
        d("`devices` cannot be expressed: hardgen passes no host device".into());
    }
    if !s.sysctls.is_empty() {
        d("`sysctls` cannot be expressed: set them on the host or drop them".into());
    }
    if !s.volumes_from.is_empty() {
        d("`volumes_from` cannot be expressed: name the volumes it shares".into());
    }
    if s.entrypoint.is_some() {
        d("`entrypoint` cannot be expressed (hardgen sets only the command): fold it into `command` or into the image".into());
    }
    for c in &s.cap_add {
        if c.value.eq_ignore_ascii_case("ALL") {
            d("`cap_add: [ALL]` cannot be expressed: list the capabilities it needs".into());
        }
    }

    // Image or build.
    match (&s.image, &s.build) {
        (_, Some(b)) => build(p, s, b, doc, &mut d),
        (Some(i), None) => {
            let tag = images::tag(&i.value);
            let comment = match tag.as_deref() {
                _ if i.value.contains('@') => None,
                None | Some("latest") => Some("TODO: not pinned: replace with the version you run (hardgen refuses `latest` with --strict)".to_string()),
                Some(_) => None,
            };
            doc.line(&format!("image = {}", toml_str(&i.value)), comment);
        }
        (None, None) => d("has neither `image` nor `build`".into()),
    }

    // Zones.
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

    // User.
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
                unsafe_flags.push(("root_user", "runs as root".into()));
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

    // Ports.
    let proxy = s
        .image
        .as_ref()
        .is_some_and(|i| PROXIES.contains(&images::repository(&i.value).as_str()));
    let mut ports = Vec::new();
    let mut port_notes = Vec::new();
    for pt in &s.ports {
        if pt.protocol == "sctp" {
            d("an sctp port cannot be expressed".into());
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
                d(format!(
                    "port {} is bound to `{ip}`: hardgen publishes on IPv4 addresses only",
                    pt.target
                ));
                continue;
            }
        };
        let span = (pt.target_end - pt.target) as usize;
        if span > 32 {
            d(format!(
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

    // Volumes and tmpfs.
    let mut vols = Vec::new();
    let mut vol_notes = Vec::new();
    let mut tmpfs: Vec<String> = img
        .map(|i| i.tmpfs.iter().map(|t| t.to_string()).collect())
        .unwrap_or_default();
    for m in &s.volumes {
        let ro = if m.read_only { ":ro" } else { "" };
        match m.kind {
            MountKind::Tmpfs => tmpfs.push(m.target.clone()),
            MountKind::Other => d(format!(
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
                    d(format!("bind mount `{src}` leaves the project directory: copy what it needs under the output directory, or give an absolute path"));
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
                    unsafe_flags.push(("sensitive_mounts", format!("mounts {src}")));
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
            _ => d(format!("config `{}` is not a file inside the project: hardgen mounts configs as read-only files", c.source)),
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

    // Environment and secrets.
    let mut env: BTreeMap<String, (String, Option<String>)> = BTreeMap::new();
    let mut svc_secrets: Vec<String> = Vec::new();
    for e in &s.environment {
        let Some(val) = &e.value else { continue };
        if let Some(sec) = env_secret.get(&(s.name.clone(), e.name.clone())) {
            if !svc_secrets.contains(sec) {
                svc_secrets.push(sec.clone());
            }
            let file = format!("/run/secrets/{sec}");
            match img.and_then(|i| i.file_env.iter().find(|(v, _)| *v == e.name)) {
                Some((_, fvar)) => {
                    env.insert(
                        fvar.to_string(),
                        (
                            file,
                            Some(format!("import: the image reads {} from this file", e.name)),
                        ),
                    );
                }
                None => {
                    env.insert(
                        format!("{}_FILE", e.name),
                        (file, Some(format!("TODO: {} was in the environment; it is now this file: make the application read it", e.name))),
                    );
                }
            }
            continue;
        }
        if e.name.contains('.') && img.is_some_and(|i| i.names.contains(&"elasticsearch")) {
            let n = format!(
                "ES_SETTING_{}",
                e.name
                    .replace('_', "__")
                    .replace('.', "_")
                    .to_ascii_uppercase()
            );
            env.insert(
                n,
                (
                    val.clone(),
                    Some(format!(
                        "import: `{}` in the form the image takes for settings",
                        e.name
                    )),
                ),
            );
            continue;
        }
        if !e
            .name
            .chars()
            .enumerate()
            .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()))
        {
            d(format!(
                "environment variable `{}` has a name hardgen does not accept",
                e.name
            ));
            continue;
        }
        let note = e
            .from_file
            .then(|| format!("import: from env_file {}", e.loc.file));
        env.insert(e.name.clone(), (val.clone(), note));
    }
    for r in &s.secrets {
        let sec = &compose_secret_name[&r.source];
        if !svc_secrets.contains(sec) {
            svc_secrets.push(sec.clone());
        }
        if r.target.as_deref().is_some_and(|t| t.contains('/')) {
            doc.comment(&format!(
                "TODO: compose mounted secret `{}` at {}; hardgen mounts it at /run/secrets/{sec}",
                r.source,
                r.target.as_deref().unwrap_or("")
            ));
        }
    }
    if s.build.is_none() {
        for (_, sec, _) in cmd_secret.get(&s.name).into_iter().flatten() {
            if !svc_secrets.contains(sec) {
                svc_secrets.push(sec.clone());
            }
        }
    }
    if !svc_secrets.is_empty() {
        doc.line(&format!("secrets = {}", toml_list(&svc_secrets)), None);
    }

    // Command (credential arguments read from their secret files at start).
    let mut health_secret: Option<String> = None;
    if let Some(c) = s.command.as_ref().filter(|_| s.build.is_none()) {
        let mut words = argv(&c.value);
        match cmd_secret.get(&s.name) {
            Some(found) if !found.is_empty() => {
                let shell = img.is_some_and(|i| i.has_shell);
                if !shell {
                    d("its command passes a credential and import does not know whether the image has a shell to read it from a file: read it from /run/secrets in the image".into());
                } else {
                    let mut parts: Vec<String> = words.iter().map(|w| sh_quote(w)).collect();
                    for (i, sec, key) in found {
                        let read = format!("\"$(cat /run/secrets/{sec})\"");
                        parts[*i] = match key {
                            Some(k) => format!("{}={read}", sh_quote(k)),
                            None => read,
                        };
                        health_secret.get_or_insert(sec.clone());
                    }
                    words = vec![
                        "sh".into(),
                        "-c".into(),
                        format!("exec {}", parts.join(" ")),
                    ];
                    doc.line(&format!("command = {}", toml_list(&words)), Some("import: the credential is read from its secret file at start, not passed in clear".into()));
                }
            }
            _ => doc.line(
                &format!("command = {}", toml_list(&words)),
                matches!(c.value, Cmd::Shell(_))
                    .then(|| "import: the string command split into words as Compose does".into()),
            ),
        }
    }

    // Capabilities.
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
            unsafe_flags.push((
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
            Some("import: kept from the compose file (every other capability is dropped)".into()),
        );
    }

    // Security options.
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
            unsafe_flags.push(("allow_new_privileges", "no-new-privileges was off".into()));
        } else if !v.starts_with("no-new-privileges") {
            doc.comment(&format!("TODO: security_opt `{}` dropped", o.value));
        }
    }

    // Limits.
    let mem = s.memory.as_ref().and_then(|m| size(&m.value));
    if let Some(m) = mem
        .as_deref()
        .and_then(|m| crate::model::ByteSize::parse(m).ok())
    {
        let mib = m.bytes / (1024 * 1024);
        let mut fixed = 0u64;
        let mut sizeless = 2u64;
        for t in &tmpfs {
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

    // Health check.
    match &s.healthcheck {
        Some(h) if h.disabled => unsafe_flags.push((
            "no_healthcheck",
            "health check disabled in the compose file".into(),
        )),
        Some(h) => {
            let mut cmd = h
                .test
                .as_ref()
                .and_then(|t| match t.first().map(String::as_str) {
                    Some("CMD") => Some((t[1..].to_vec(), None)),
                    Some("CMD-SHELL") => Some((
                        vec!["sh".into(), "-c".into(), t[1..].join(" ")],
                        Some("import: the shell form runs with sh -c".to_string()),
                    )),
                    _ => None,
                });
            // A credential written into the check reads its secret file instead.
            if let Some((c, note)) = &mut cmd {
                let mut script = if c.first().map(String::as_str) == Some("sh")
                    && c.get(1).map(String::as_str) == Some("-c")
                {
                    c[2..].join(" ")
                } else {
                    c.iter().map(|w| sh_quote(w)).collect::<Vec<_>>().join(" ")
                };
                let mut replaced = false;
                for (value, sec) in by_value {
                    if value.chars().count() >= 4 && script.contains(value.as_str()) {
                        if !svc_secrets.contains(sec) {
                            d(format!("its health check holds the credential of secret `{sec}`, which the service does not mount"));
                        }
                        script = script
                            .replace(value.as_str(), &format!("\"$(cat /run/secrets/{sec})\""));
                        replaced = true;
                    }
                }
                if replaced {
                    *c = vec!["sh".into(), "-c".into(), script];
                    *note = Some(
                        "import: the health check reads the credential from its secret file".into(),
                    );
                }
            }
            match cmd {
                Some((c, note)) if !c.is_empty() => {
                    let mut parts = vec![format!("cmd = {}", toml_list(&c))];
                    for (k, v) in [
                        ("interval", &h.interval),
                        ("timeout", &h.timeout),
                        ("start_period", &h.start_period),
                    ] {
                        if let Some(d) = v.as_deref().and_then(duration) {
                            parts.push(format!("{k} = {}", toml_str(&d)));
                        }
                    }
                    if let Some(r) = h.retries.filter(|r| (1..=100).contains(r)) {
                        parts.push(format!("retries = {r}"));
                    }
                    doc.line(&format!("healthcheck = {{ {} }}", parts.join(", ")), note);
                }
                _ => unsafe_flags.push((
                    "no_healthcheck",
                    "the compose health check has no test hardgen can run".into(),
                )),
            }
        }
        None => {
            let table = img.map(|i| i.health).filter(|h| !h.is_empty());
            match (table, &health_secret) {
                (Some(_), Some(sec)) if img.is_some_and(|i| i.names.contains(&"redis")) => {
                    let c = vec!["sh".to_string(), "-c".into(), format!("redis-cli --no-auth-warning -a \"$(cat /run/secrets/{sec})\" ping | grep -q PONG")];
                    doc.line(
                        &format!("healthcheck = {{ cmd = {} }}", toml_list(&c)),
                        Some("import: the image table's check, with the password".into()),
                    );
                }
                (Some(h), _) => {
                    let c: Vec<String> = h.iter().map(|x| x.to_string()).collect();
                    doc.line(
                        &format!("healthcheck = {{ cmd = {} }}", toml_list(&c)),
                        Some("import: the image table's check (the compose file had none)".into()),
                    );
                }
                (None, _)
                    if s.build.is_some()
                        && !listening_ports(s).is_empty()
                        && build_has_derived_health(p, s) => {}
                (None, _) => unsafe_flags.push((
                    "no_healthcheck",
                    "the compose file has no health check and import knows none for this image"
                        .into(),
                )),
            }
        }
    }

    // Dependencies.
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

    // Environment last (a sub-table).
    if !env.is_empty() {
        doc.line(&format!("[services.{name}.environment]"), None);
        for (k, (v, note)) in &env {
            doc.line(&format!("{k} = {}", toml_str(v)), note.clone());
        }
    }

    // What is left: keys import carries nowhere.
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
            d(format!("`{}` ({}) cannot be expressed", k.value, k.loc));
        }
    }

    if !unsafe_flags.is_empty() {
        let what: Vec<String> = unsafe_flags.iter().map(|(_, w)| w.clone()).collect();
        let mut flags: Vec<&str> = unsafe_flags.iter().map(|(f, _)| *f).collect();
        flags.sort();
        flags.dedup();
        let mut parts: Vec<String> = flags.iter().map(|f| format!("{f} = true")).collect();
        parts.push(format!(
            "reason = {}",
            toml_str(&format!("imported as is: {}", what.join("; ")))
        ));
        doc.line(
            &format!("[services.{name}.unsafe]"),
            Some("import: what hardgen relaxes only when told; the posture review lists it".into()),
        );
        for part in parts {
            doc.line(&part, None);
        }
    }
    doc.blank();
}

/// Whether hardgen derives a health check for this build (python and node).
fn build_has_derived_health(p: &Project, s: &Service) -> bool {
    s.build
        .as_ref()
        .map(|b| matches!(detect_runtime(p, b).map(|r| r.0), Some("python" | "node")))
        .unwrap_or(false)
}

/// The runtime preset and version of a build context: its Dockerfile's base image, else the
/// files it holds.
fn detect_runtime(p: &Project, b: &compose_in::BuildRef) -> Option<Detected> {
    let ctx = p.dir.join(&b.context);
    let dockerfile = ctx.join(b.dockerfile.as_deref().unwrap_or("Dockerfile"));
    let text = std::fs::read_to_string(&dockerfile).unwrap_or_default();
    let mut cmd = None;
    let mut found: Option<(&'static str, Option<String>)> = None;
    for line in text.lines() {
        let l = line.trim();
        let upper = l.to_ascii_uppercase();
        if upper.starts_with("FROM ") && found.is_none() {
            let image = l.split_whitespace().nth(1).unwrap_or("");
            let repo = images::repository(image);
            let rt = match repo.as_str() {
                "python" => Some("python"),
                "node" => Some("node"),
                "golang" => Some("go"),
                "rust" => Some("rust"),
                _ => None,
            };
            if let Some(rt) = rt {
                let version = images::tag(image)
                    .map(|t| t.split('-').next().unwrap_or("").to_string())
                    .filter(|v| v.starts_with(|c: char| c.is_ascii_digit()));
                found = Some((rt, version));
            }
        }
        if upper.starts_with("CMD ") {
            cmd = serde_json::from_str::<Vec<String>>(l[4..].trim()).ok();
        }
    }
    if found.is_none() {
        let has = |f: &str| ctx.join(f).is_file();
        found = if has("requirements.txt") || has("pyproject.toml") {
            Some(("python", None))
        } else if has("package.json") {
            Some(("node", None))
        } else if has("go.mod") {
            Some(("go", None))
        } else if has("Cargo.toml") {
            Some(("rust", None))
        } else {
            None
        };
    }
    found.map(|(r, v)| (r, v, cmd))
}

fn build(
    p: &Project,
    s: &Service,
    b: &compose_in::BuildRef,
    doc: &mut Doc,
    d: &mut dyn FnMut(String),
) {
    let Some((runtime, version, df_cmd)) = detect_runtime(p, b) else {
        d(format!(
            "build context `{}`: import cannot tell its runtime (no python/node/golang/rust base image in its Dockerfile, no requirements.txt, package.json, go.mod or Cargo.toml): write `build = {{ runtime = ..., version = ... }}`",
            b.context
        ));
        return;
    };
    // The compose file's context, relative to its directory, becomes the spec's, relative to
    // the spec's directory (hardgen renders it back from wherever the deployment goes).
    let from_compose = b.context.trim_start_matches("./").trim_end_matches('/');
    let from_compose = if from_compose.is_empty() {
        "."
    } else {
        from_compose
    };
    let ctx_owned = match &doc.spec_dir {
        Some(dir) => crate::layout::relative_between(dir, &p.dir.join(from_compose)),
        None => from_compose.to_string(),
    };
    let ctx = ctx_owned.as_str();
    let mut parts = vec![format!("runtime = {}", toml_str(runtime))];
    let mut notes = vec![format!("import: {runtime} from the build context")];
    let default_version = match runtime {
        "python" => "3.12",
        "node" => "20",
        "go" => "1.22",
        _ => "1.80",
    };
    let v = match version {
        Some(v) => v,
        None => {
            notes.push(format!("TODO: version {default_version} is a guess"));
            default_version.to_string()
        }
    };
    parts.push(format!("version = {}", toml_str(&v)));
    parts.push(format!("context = {}", toml_str(ctx)));
    let command = s.command.as_ref().map(|c| argv(&c.value)).or(df_cmd);
    if matches!(runtime, "python" | "node") {
        match command {
            Some(c) if !c.is_empty() => parts.push(format!("command = {}", toml_list(&c))),
            _ => {
                d(format!("build context `{}`: what command runs it? (none in the compose file or the Dockerfile's CMD)", b.context));
                return;
            }
        }
    }
    notes.push(
        "hardgen writes its own Dockerfile for the runtime preset (the compose file's Dockerfile is not used)"
            .to_string(),
    );
    if b.dockerfile.is_some() {
        notes.push(
            "TODO: the original Dockerfile's extra steps are not carried over (add `packages`)"
                .into(),
        );
    }
    let note = notes.join("; ");
    let note = if note.contains("TODO") {
        format!("TODO: {}", note.replace("TODO: ", ""))
    } else {
        note
    };
    doc.line(&format!("build = {{ {} }}", parts.join(", ")), Some(note));
}

// ---------------------------------------------------------------------------------------
// The command

fn posture(
    original: &audit::Audit,
    generated: &audit::Audit,
    names: &BTreeMap<String, String>,
) -> String {
    use crate::posture::Class;
    let mut lines: Vec<(Class, String)> = Vec::new();
    let key = |f: &audit::Finding, rename: bool| {
        let svc = f.service.as_ref().map(|s| {
            if rename {
                names.get(s).cloned().unwrap_or(s.clone())
            } else {
                s.clone()
            }
        });
        (svc, f.rule)
    };
    // What the generated deployment still shows, at any severity (a flat network that is one
    // zone of the spec is info there, and still as flat as before).
    let gen_any: BTreeSet<(Option<String>, &str)> =
        generated.findings.iter().map(|f| key(f, false)).collect();
    let gen: BTreeSet<(Option<String>, &str)> = generated
        .findings
        .iter()
        .filter(|f| f.severity > audit::Severity::Info)
        .map(|f| key(f, false))
        .collect();
    let orig: BTreeSet<(Option<String>, &str)> = original
        .findings
        .iter()
        .filter(|f| f.severity > audit::Severity::Info)
        .map(|f| key(f, true))
        .collect();
    let label = |svc: &Option<String>| match svc {
        Some(s) => format!("service {s}"),
        None => "project".to_string(),
    };
    for (svc, rule) in &orig {
        let r = audit::rule(rule);
        let ctl = match r.cis {
            Some(c) => format!("CIS {c} {}", audit::rule_title(r)),
            None => audit::rule_title(r).to_string(),
        };
        if gen_any.contains(&(svc.clone(), *rule)) {
            let why = generated
                .findings
                .iter()
                .find(|f| f.service == *svc && f.rule == *rule)
                .map(|f| f.message.clone())
                .unwrap_or_default();
            lines.push((
                Class::Neutral,
                format!("{}: stays weak: {ctl}: {why}", label(svc)),
            ));
        } else {
            lines.push((
                Class::Strengthens,
                format!("{}: {ctl}: now enforced", label(svc)),
            ));
        }
    }
    for (svc, rule) in &gen {
        if !orig.contains(&(svc.clone(), *rule)) {
            let f = generated
                .findings
                .iter()
                .find(|f| f.service == *svc && f.rule == *rule);
            lines.push((
                Class::Weakens,
                format!(
                    "{}: {}",
                    label(svc),
                    f.map(|f| f.message.clone()).unwrap_or_default()
                ),
            ));
        }
    }
    lines.sort();
    let mut out = String::from("posture review, original compose file -> generated deployment:\n");
    for (c, l) in &lines {
        let _ = writeln!(out, "{:<12} {l}", c.as_str());
    }
    let n = |c: Class| lines.iter().filter(|(x, _)| *x == c).count();
    let _ = writeln!(
        out,
        "{} strengthen, {} stay weak, {} weaken; audit score {} -> {}",
        n(Class::Strengthens),
        n(Class::Neutral),
        n(Class::Weakens),
        original.score(),
        generated.score()
    );
    out
}

/// Render the imported spec for compose and audit what it generates.
pub fn audit_generated(spec_text: &str, spec_name: &str) -> Result<audit::Audit, String> {
    let raw = crate::spec::parse(spec_text)
        .map_err(|e| format!("the imported spec does not parse: {e}"))?;
    let (model, diags) = crate::validate::validate(
        &raw,
        spec_name,
        &crate::validate::Options {
            strict: false,
            spec_dir: None,
        },
    );
    let Some(model) = model else {
        let mut s = String::from("the imported spec is invalid (a bug of import):\n");
        for d in diags.iter().filter(|d| d.is_error()) {
            s.push_str(&d.render(spec_name, spec_text));
        }
        return Err(s);
    };
    let mut sink = Vec::new();
    let arts = crate::app::artifacts(
        &model,
        crate::targets::Target::Compose,
        &crate::layout::Layout::beside_spec(),
        &mut sink,
    )
    .ok_or_else(|| String::from_utf8_lossy(&sink).into_owned())?;
    let compose = arts
        .get("docker-compose.yml")
        .ok_or("no docker-compose.yml generated")?;
    let path = PathBuf::from("(generated)/docker-compose.yml");
    let mut texts = BTreeMap::new();
    texts.insert(
        path.clone(),
        String::from_utf8_lossy(&compose.bytes).into_owned(),
    );
    let project = compose_in::load(&compose_in::Options {
        files: vec![path],
        texts,
        ..Default::default()
    })
    .map_err(|e| format!("the generated compose file does not read back: {e}"))?;
    Ok(audit::audit(&project, audit::Target::Compose))
}

pub fn run(
    opts: &RunOptions,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> Outcome {
    let project = match compose_in::load(&opts.compose) {
        Ok(p) => p,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return Outcome::Failed;
        }
    };
    let spec_path = opts.out.clone().unwrap_or_else(|| {
        PathBuf::from(format!(
            "{}.toml",
            sanitize(&project.name, 20, &[], "x-").trim_end_matches('-')
        ))
    });
    let imported = match import_to(&project, &crate::layout::Layout::spec_dir_of(&spec_path)) {
        Ok(i) => i,
        Err(list) => {
            let _ = writeln!(err, "error: hardgen cannot express everything in these compose files; decide, then import again:");
            for l in &list {
                let _ = writeln!(err, "  - {l}");
            }
            let _ = writeln!(err, "nothing was written");
            return Outcome::Failed;
        }
    };
    let spec_name = spec_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "spec.toml".into());
    let generated = match audit_generated(&imported.text, &spec_name) {
        Ok(a) => a,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return Outcome::Failed;
        }
    };
    if spec_path.exists() && !opts.force {
        let _ = writeln!(
            err,
            "error: `{}` exists; use --force to overwrite it",
            spec_path.display()
        );
        return Outcome::Failed;
    }
    if let Err(e) = write_file(&spec_path, imported.text.as_bytes(), None) {
        let _ = writeln!(err, "error: cannot write `{}`: {e}", spec_path.display());
        return Outcome::Failed;
    }
    let _ = writeln!(
        err,
        "wrote {} ({} TODO{} to review)",
        spec_path.display(),
        imported.todos,
        if imported.todos == 1 { "" } else { "s" }
    );
    if opts.keep_secret_values && !imported.secret_values.is_empty() {
        let dir =
            crate::app::default_out(&spec_path, crate::targets::Target::Compose).join("secrets");
        let mut ok = write_file(&dir.join(".gitignore"), b"*\n", Some(0o600));
        for (n, v) in &imported.secret_values {
            ok = ok.and_then(|_| write_file(&dir.join(n), v.as_bytes(), Some(0o600)));
        }
        match ok {
            Ok(()) => {
                let _ = writeln!(err, "wrote {} secret value(s) into {} (mode 600, git-ignored; generate-secrets.sh keeps them)", imported.secret_values.len(), dir.display());
            }
            Err(e) => {
                let _ = writeln!(
                    err,
                    "error: cannot write the secret values into {}: {e}",
                    dir.display()
                );
                return Outcome::Failed;
            }
        }
    }
    let original = audit::audit(&project, audit::Target::Compose);
    let names: BTreeMap<String, String> = project
        .services
        .keys()
        .map(|n| (n.clone(), sanitize(n, 63, &['_'], "svc-")))
        .collect();
    let _ = out.write_all(posture(&original, &generated, &names).as_bytes());
    Outcome::Ok
}

fn write_file(path: &Path, bytes: &[u8], mode: Option<u32>) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension("hardgen-tmp");
    {
        use std::io::Write;
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(mode.unwrap_or(0o644));
        }
        let mut f = o.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(
            shell_words("a 'b c' \"d\\\"e\" f\\ g"),
            vec!["a", "b c", "d\"e", "f g"]
        );
        assert_eq!(size("512M").as_deref(), Some("512m"));
        assert_eq!(size("1gb").as_deref(), Some("1g"));
        assert_eq!(size("1.5g").as_deref(), Some("1536m"));
        assert_eq!(size("268435456").as_deref(), Some("256m"));
        assert_eq!(duration("1m30s").as_deref(), Some("90s"));
        assert_eq!(duration("500ms").as_deref(), Some("500ms"));
        assert_eq!(duration("2m").as_deref(), Some("2m"));
        assert_eq!(sanitize("My_App.1", 20, &['_'], "x-"), "my_app-1");
        assert_eq!(
            hosts_in("postgres://u:p@db:5432/x"),
            vec![
                ("postgres".to_string(), None),
                ("u".into(), None),
                ("p".into(), None),
                ("db".into(), Some(5432)),
                ("5432".into(), None),
                ("x".into(), None)
            ]
        );
    }
}
