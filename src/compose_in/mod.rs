//! Reading existing compose files the way Docker Compose does, keeping the place (file, line,
//! column) of every value: `-f a.yml -f override.yml` merging, `.env` and `${VAR}`
//! interpolation, `env_file`, `extends` (same file or another), `profiles`, and the short and
//! long syntax of ports, volumes, environment, depends_on, networks, secrets and configs.
//!
//! Used by `hardgen audit` and `hardgen import`; nothing here knows about hardening.

pub mod interp;
pub mod yaml;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use yaml::{err, Kind, Node};
pub use yaml::{Error, Loc};

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct V<T> {
    pub value: T,
    pub loc: Loc,
}

fn v<T>(value: T, loc: &Loc) -> V<T> {
    V {
        value,
        loc: loc.clone(),
    }
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub files: Vec<PathBuf>,
    /// `--profile` values (added to `COMPOSE_PROFILES`).
    pub profiles: Vec<String>,
    /// The process environment; it takes precedence over `.env`, as in Compose.
    pub env: BTreeMap<String, String>,
    pub project_name: Option<String>,
    /// Files given as text rather than read from disk (by path), e.g. a generated file.
    pub texts: BTreeMap<PathBuf, String>,
}

#[derive(Debug, Clone)]
pub struct Project {
    pub name: String,
    pub dir: PathBuf,
    pub files: Vec<Arc<str>>,
    pub services: BTreeMap<String, Service>,
    pub networks: BTreeMap<String, Network>,
    pub volumes: BTreeMap<String, Loc>,
    pub secrets: BTreeMap<String, TopSecret>,
    pub configs: BTreeMap<String, TopSecret>,
    /// Where `services:` is, for findings about the whole project.
    pub services_loc: Loc,
    /// Services left out because none of their profiles is active.
    pub inactive: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Network {
    pub name: String,
    pub loc: Loc,
    pub internal: bool,
    pub external: bool,
    pub driver: Option<String>,
    pub subnets: Vec<String>,
    /// A zone of a deployment hardgen generated (label `io.hardgen.zone`): its subnet's upper
    /// half holds flow clients, which its firewall narrows to the flow's ports.
    pub hardgen_zone: bool,
}

#[derive(Debug, Clone)]
pub struct TopSecret {
    pub name: String,
    pub loc: Loc,
    pub file: Option<String>,
    pub environment: Option<String>,
    pub external: bool,
    pub content: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Port {
    pub host_ip: Option<String>,
    /// Host port or range as written (`8080`, `8000-8010`); none: a random port.
    pub published: Option<String>,
    /// Container port (first of a range).
    pub target: u16,
    pub target_end: u16,
    pub protocol: String,
    pub loc: Loc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountKind {
    Bind,
    Volume,
    Tmpfs,
    Other,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Mount {
    pub kind: MountKind,
    /// Host path (bind, as written) or volume name; none for an anonymous volume or tmpfs.
    pub source: Option<String>,
    pub target: String,
    pub read_only: bool,
    pub propagation: Option<String>,
    pub loc: Loc,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Env {
    pub name: String,
    /// None: `KEY` alone with no value in the environment either (unset in the container).
    pub value: Option<String>,
    pub loc: Loc,
    /// Came from an `env_file`.
    pub from_file: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dep {
    pub name: String,
    pub condition: String,
    pub loc: Loc,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NetRef {
    pub name: String,
    pub aliases: Vec<String>,
    pub ipv4_address: Option<String>,
    pub loc: Loc,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FileRef {
    pub source: String,
    pub target: Option<String>,
    pub loc: Loc,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Cmd {
    Exec(Vec<String>),
    Shell(String),
}

impl Cmd {
    pub fn words(&self) -> Vec<String> {
        match self {
            Cmd::Exec(v) => v.clone(),
            Cmd::Shell(s) => s.split_whitespace().map(String::from).collect(),
        }
    }
    pub fn text(&self) -> String {
        match self {
            Cmd::Exec(v) => v.join(" "),
            Cmd::Shell(s) => s.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    pub test: Option<Vec<String>>,
    pub disabled: bool,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub start_period: Option<String>,
    pub retries: Option<u32>,
    pub loc: Loc,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Logging {
    pub driver: Option<String>,
    pub max_size: Option<String>,
    pub loc: Loc,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BuildRef {
    pub context: String,
    pub dockerfile: Option<String>,
    pub loc: Loc,
}

#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    pub loc: Loc,
    pub image: Option<V<String>>,
    pub build: Option<BuildRef>,
    pub command: Option<V<Cmd>>,
    pub entrypoint: Option<V<Cmd>>,
    pub environment: Vec<Env>,
    pub ports: Vec<Port>,
    pub expose: Vec<V<String>>,
    pub volumes: Vec<Mount>,
    pub tmpfs: Vec<V<String>>,
    pub depends_on: Vec<Dep>,
    pub links: Vec<V<String>>,
    /// The networks the service is on; `default` when it names none.
    pub networks: Vec<NetRef>,
    pub network_mode: Option<V<String>>,
    pub pid: Option<V<String>>,
    pub ipc: Option<V<String>>,
    pub uts: Option<V<String>>,
    pub userns_mode: Option<V<String>>,
    pub cgroup: Option<V<String>>,
    pub privileged: Option<V<bool>>,
    pub read_only: Option<V<bool>>,
    pub init: Option<V<bool>>,
    pub user: Option<V<String>>,
    pub cap_add: Vec<V<String>>,
    pub cap_drop: Vec<V<String>>,
    pub security_opt: Vec<V<String>>,
    pub devices: Vec<V<String>>,
    pub healthcheck: Option<Health>,
    pub memory: Option<V<String>>,
    pub cpus: Option<V<String>>,
    pub pids: Option<V<String>>,
    pub restart: Option<V<String>>,
    pub logging: Option<Logging>,
    pub secrets: Vec<FileRef>,
    pub configs: Vec<FileRef>,
    pub profiles: Vec<String>,
    pub sysctls: Vec<V<String>>,
    pub working_dir: Option<V<String>>,
    pub volumes_from: Vec<V<String>>,
    pub group_add: Vec<V<String>>,
    /// `deploy:` is present (a stack file or a Compose file with swarm-style limits).
    pub has_deploy: bool,
    /// Every key of the merged service, with its place (for what import cannot carry over).
    pub keys: Vec<V<String>>,
}

// ---------------------------------------------------------------------------------------
// Loading

struct Loader {
    dir: PathBuf,
    vars: interp::Vars,
    /// Interpolated top-level nodes of the files read so far (for `extends: {file: ...}`).
    cache: BTreeMap<PathBuf, Node>,
    texts: BTreeMap<PathBuf, String>,
}

fn display_path(p: &Path) -> Arc<str> {
    Arc::from(p.display().to_string().as_str())
}

fn read_text(path: &Path, what: &str, at: Option<&Loc>) -> Result<String, Error> {
    let file = display_path(path);
    let at = at.cloned().unwrap_or_else(|| Loc::file_start(&file));
    let bytes =
        std::fs::read(path).map_err(|e| err(&at, format!("cannot read {what} `{file}`: {e}")))?;
    String::from_utf8(bytes).map_err(|e| {
        err(
            &at,
            format!(
                "{what} `{file}` is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

fn interpolate_node(n: &mut Node, vars: &interp::Vars) -> Result<(), Error> {
    match &mut n.kind {
        Kind::Str { s, .. } => {
            if s.contains('$') {
                *s = interp::interpolate(s, vars).map_err(|m| err(&n.loc, m))?;
            }
        }
        Kind::Seq(items) => {
            for i in items {
                interpolate_node(i, vars)?;
            }
        }
        Kind::Map(entries) => {
            for (_, v) in entries {
                interpolate_node(v, vars)?;
            }
        }
        Kind::Null => {}
    }
    Ok(())
}

impl Loader {
    fn file(&mut self, path: &Path, at: Option<&Loc>) -> Result<Node, Error> {
        if let Some(n) = self.cache.get(path) {
            return Ok(n.clone());
        }
        let text = match self.texts.get(path) {
            Some(t) => t.clone(),
            None => read_text(path, "compose file", at)?,
        };
        let file = display_path(path);
        let mut node = yaml::parse(&text, &file)?;
        if node.is_null() {
            node = Node::map(Vec::new(), Loc::file_start(&file));
        }
        if node.as_map().is_none() {
            return Err(err(
                &node.loc,
                format!(
                    "a compose file is a mapping (services:, networks: ...), not {}",
                    node.kind_name()
                ),
            ));
        }
        interpolate_node(&mut node, &self.vars)?;
        if let Some(services) = node.get("services") {
            if !services.is_null() && services.as_map().is_none() {
                return Err(err(
                    &services.loc,
                    "`services` must be a mapping of service names",
                ));
            }
        }
        self.cache.insert(path.to_path_buf(), node.clone());
        Ok(node)
    }

    /// A service of a file with its `extends` resolved, normalised for merging.
    fn service(
        &mut self,
        path: &Path,
        name: &str,
        at: &Loc,
        seen: &mut Vec<(PathBuf, String)>,
    ) -> Result<Node, Error> {
        let key = (path.to_path_buf(), name.to_string());
        if seen.contains(&key) {
            return Err(err(at, format!("`extends` loops back to service `{name}`")));
        }
        seen.push(key);
        let doc = self.file(path, Some(at))?;
        let svc = doc
            .get("services")
            .and_then(|s| s.get(name))
            .ok_or_else(|| {
                let known: Vec<String> = doc
                    .get("services")
                    .and_then(|s| s.as_map())
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|(k, _)| k.as_str().map(String::from))
                    .collect();
                let hint = crate::diagnostic::did_you_mean(name, known.iter().map(String::as_str))
                    .map(|h| format!(" ({h})"))
                    .unwrap_or_default();
                err(
                    at,
                    format!("no service `{name}` in `{}`{hint}", path.display()),
                )
            })?
            .clone();
        let mut svc = match svc.kind {
            Kind::Null => Node::map(Vec::new(), svc.loc),
            Kind::Map(_) => svc,
            _ => return Err(err(&svc.loc, format!("service `{name}` must be a mapping"))),
        };
        let ext = take(&mut svc, "extends");
        let svc = normalise_service(svc)?;
        let Some(ext) = ext else {
            seen.pop();
            return Ok(svc);
        };
        let (base_name, base_file, loc) = match &ext.kind {
            Kind::Str { s, .. } => (s.clone(), None, ext.loc.clone()),
            Kind::Map(_) => {
                let s = ext
                    .get("service")
                    .and_then(Node::as_str)
                    .ok_or_else(|| err(&ext.loc, "`extends` needs `service:`"))?;
                let f = ext.get("file").and_then(Node::as_str).map(String::from);
                (s.to_string(), f, ext.loc.clone())
            }
            _ => {
                return Err(err(
                    &ext.loc,
                    "`extends` is a service name or {service, file}",
                ))
            }
        };
        let base_path = match base_file {
            Some(f) => {
                let parent = path.parent().unwrap_or(Path::new("."));
                parent.join(f)
            }
            None => path.to_path_buf(),
        };
        let base = self.service(&base_path, &base_name, &loc, seen)?;
        seen.pop();
        Ok(merge_service(base, svc))
    }
}

fn take(n: &mut Node, key: &str) -> Option<Node> {
    if let Kind::Map(entries) = &mut n.kind {
        if let Some(i) = entries.iter().position(|(k, _)| k.as_str() == Some(key)) {
            return Some(entries.remove(i).1);
        }
    }
    None
}

/// A `KEY=VALUE` list item as a mapping entry (the value's column after the `=`).
fn kv_entry(item: &Node, sep: char) -> Result<(Node, Node), Error> {
    let s = item.as_str().ok_or_else(|| {
        err(
            &item.loc,
            format!("expected `KEY{sep}VALUE`, found {}", item.kind_name()),
        )
    })?;
    match s.split_once(sep) {
        Some((k, val)) => {
            let mut vloc = item.loc.clone();
            vloc.col += k.chars().count() + 1;
            Ok((Node::string(k, item.loc.clone()), Node::string(val, vloc)))
        }
        None => Ok((
            Node::string(s, item.loc.clone()),
            Node::null(item.loc.clone()),
        )),
    }
}

fn list_to_map(n: Node, sep: char) -> Result<Node, Error> {
    match n.kind {
        Kind::Seq(items) => {
            let mut entries: Vec<(Node, Node)> = Vec::new();
            for i in &items {
                let (k, val) = kv_entry(i, sep)?;
                entries.retain(|(o, _)| o.as_str() != k.as_str());
                entries.push((k, val));
            }
            Ok(Node {
                kind: Kind::Map(entries),
                loc: n.loc,
                tag: n.tag,
            })
        }
        _ => Ok(n),
    }
}

fn names_to_map(n: Node, value: impl Fn(&Loc) -> Node) -> Result<Node, Error> {
    match n.kind {
        Kind::Seq(items) => {
            let mut entries = Vec::new();
            for i in items {
                if i.as_str().is_none() {
                    return Err(err(
                        &i.loc,
                        format!("expected a name, found {}", i.kind_name()),
                    ));
                }
                let val = value(&i.loc);
                entries.push((i, val));
            }
            Ok(Node {
                kind: Kind::Map(entries),
                loc: n.loc,
                tag: n.tag,
            })
        }
        _ => Ok(n),
    }
}

fn set(n: &mut Node, key: &str, value: Node) {
    if let Kind::Map(entries) = &mut n.kind {
        if let Some(e) = entries.iter_mut().find(|(k, _)| k.as_str() == Some(key)) {
            e.1 = value;
        } else {
            entries.push((Node::string(key, value.loc.clone()), value));
        }
    }
}

/// The canonical forms that merge key by key: environment, labels, depends_on, networks as
/// mappings; build and env_file as long forms.
fn normalise_service(mut s: Node) -> Result<Node, Error> {
    for key in ["environment", "labels", "annotations", "sysctls"] {
        if let Some(n) = take(&mut s, key) {
            set(&mut s, key, list_to_map(n, '=')?);
        }
    }
    if let Some(n) = take(&mut s, "depends_on") {
        let m = names_to_map(n, |l| {
            Node::map(
                vec![(
                    Node::string("condition", l.clone()),
                    Node::string("service_started", l.clone()),
                )],
                l.clone(),
            )
        })?;
        set(&mut s, "depends_on", m);
    }
    if let Some(n) = take(&mut s, "networks") {
        set(
            &mut s,
            "networks",
            names_to_map(n, |l| Node::null(l.clone()))?,
        );
    }
    if let Some(n) = take(&mut s, "build") {
        let n = match n.kind {
            Kind::Str { .. } => Node::map(
                vec![(Node::string("context", n.loc.clone()), n.clone())],
                n.loc,
            ),
            _ => n,
        };
        set(&mut s, "build", n);
    }
    if let Some(n) = take(&mut s, "env_file") {
        let n = match n.kind {
            Kind::Str { .. } => Node {
                kind: Kind::Seq(vec![n.clone()]),
                loc: n.loc,
                tag: None,
            },
            _ => n,
        };
        set(&mut s, "env_file", n);
    }
    Ok(s)
}

/// The key that identifies an item of a merged list (volumes by target, secrets and configs
/// by source), or its text.
fn item_key(list: &str, n: &Node) -> String {
    match (list, &n.kind) {
        ("volumes", Kind::Str { s, .. }) => {
            let parts: Vec<&str> = s.split(':').collect();
            if parts.len() >= 2 {
                parts[1].to_string()
            } else {
                parts[0].to_string()
            }
        }
        ("volumes", Kind::Map(_)) => n
            .get("target")
            .and_then(Node::as_str)
            .unwrap_or("")
            .to_string(),
        ("secrets" | "configs", Kind::Map(_)) => n
            .get("source")
            .and_then(Node::as_str)
            .unwrap_or("")
            .to_string(),
        (_, Kind::Str { s, .. }) => s.clone(),
        _ => format!("{:?}", strip_locs(n)),
    }
}

fn strip_locs(n: &Node) -> String {
    match &n.kind {
        Kind::Null => "~".into(),
        Kind::Str { s, .. } => s.clone(),
        Kind::Seq(i) => format!(
            "[{}]",
            i.iter().map(strip_locs).collect::<Vec<_>>().join(",")
        ),
        Kind::Map(e) => format!(
            "{{{}}}",
            e.iter()
                .map(|(k, v)| format!("{}:{}", strip_locs(k), strip_locs(v)))
                .collect::<Vec<_>>()
                .join(",")
        ),
    }
}

/// Compose's merge rules: mappings merge key by key, `command`, `entrypoint` and
/// `healthcheck.test` are replaced, lists are appended (volumes, secrets and configs keyed by
/// target/source, the last one winning), scalars replaced; `!reset` removes a key,
/// `!override` replaces it whole.
fn merge(base: Node, over: Node, key: &str) -> Node {
    if over.tag.as_deref() == Some("override") {
        return Node { tag: None, ..over };
    }
    match (base.kind, over.kind) {
        (Kind::Map(mut b), Kind::Map(o)) => {
            for (k, val) in o {
                let name = k.as_str().unwrap_or("").to_string();
                if val.tag.as_deref() == Some("reset") {
                    b.retain(|(bk, _)| bk.as_str() != Some(name.as_str()));
                    continue;
                }
                match b
                    .iter()
                    .position(|(bk, _)| bk.as_str() == Some(name.as_str()))
                {
                    Some(i) => {
                        let old = b.remove(i).1;
                        let merged = merge(old, val, &name);
                        b.insert(i, (k, merged));
                    }
                    None => b.push((k, Node { tag: None, ..val })),
                }
            }
            Node {
                kind: Kind::Map(b),
                loc: over.loc,
                tag: None,
            }
        }
        (Kind::Seq(b), Kind::Seq(o)) if !matches!(key, "command" | "entrypoint" | "test") => {
            let mut out: Vec<Node> = b;
            for item in o {
                let k = item_key(key, &item);
                out.retain(|x| item_key(key, x) != k);
                out.push(item);
            }
            Node {
                kind: Kind::Seq(out),
                loc: over.loc,
                tag: None,
            }
        }
        (_, ok) => Node {
            kind: ok,
            loc: over.loc,
            tag: None,
        },
    }
}

fn merge_service(base: Node, over: Node) -> Node {
    merge(base, over, "")
}

pub fn load(opts: &Options) -> Result<Project, Error> {
    let first = opts
        .files
        .first()
        .cloned()
        .unwrap_or_else(|| PathBuf::from("compose.yaml"));
    let dir = first
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    // `.env` of the project directory, then the process environment over it.
    let mut vars = interp::Vars::new();
    let dotenv = dir.join(".env");
    if dotenv.is_file() {
        let text = read_text(&dotenv, "env file", None)?;
        let file = display_path(&dotenv);
        let entries = interp::parse_env_file(&text).map_err(|(line, m)| {
            err(
                &Loc {
                    file: file.clone(),
                    line,
                    col: 1,
                },
                m,
            )
        })?;
        for (_, k, val) in entries {
            if let Some(val) = val {
                let val = interp::interpolate(&val, &vars).unwrap_or(val);
                vars.insert(k, val);
            }
        }
    }
    for (k, val) in &opts.env {
        vars.insert(k.clone(), val.clone());
    }
    let mut loader = Loader {
        dir: dir.clone(),
        vars,
        cache: BTreeMap::new(),
        texts: opts.texts.clone(),
    };
    let mut merged: Option<Node> = None;
    let mut files = Vec::new();
    for f in &opts.files {
        files.push(display_path(f));
        let mut doc = loader.file(f, None)?;
        // Resolve `extends` and normalise every service of this file before merging.
        if let Some(services) = doc
            .get("services")
            .and_then(|s| s.as_map())
            .map(<[_]>::to_vec)
        {
            let mut out = Vec::new();
            for (k, _) in services {
                let name = k.as_str().unwrap_or("").to_string();
                let svc = loader.service(f, &name, &k.loc, &mut Vec::new())?;
                out.push((k, svc));
            }
            let loc = doc.get("services").map(|s| s.loc.clone()).unwrap();
            set(&mut doc, "services", Node::map(out, loc));
        }
        merged = Some(match merged {
            None => doc,
            Some(b) => merge(b, doc, ""),
        });
    }
    let doc = merged
        .unwrap_or_else(|| Node::map(Vec::new(), Loc::file_start(&Arc::from("compose.yaml"))));
    build_project(&doc, opts, &mut loader, files)
}

// ---------------------------------------------------------------------------------------
// Typing

fn scalar(n: &Node, what: &str) -> Result<String, Error> {
    n.scalar_text().ok_or_else(|| {
        err(
            &n.loc,
            format!("`{what}` must be a single value, found {}", n.kind_name()),
        )
    })
}

fn opt_str(svc: &Node, key: &str) -> Result<Option<V<String>>, Error> {
    match svc.get(key) {
        None => Ok(None),
        Some(n) if n.is_null() => Ok(None),
        Some(n) => Ok(Some(v(scalar(n, key)?, &n.loc))),
    }
}

fn opt_bool(svc: &Node, key: &str) -> Result<Option<V<bool>>, Error> {
    match svc.get(key) {
        None => Ok(None),
        Some(n) if n.is_null() => Ok(None),
        Some(n) => n
            .as_bool()
            .map(|b| Some(v(b, &n.loc)))
            .ok_or_else(|| err(&n.loc, format!("`{key}` must be true or false"))),
    }
}

fn str_list(svc: &Node, key: &str) -> Result<Vec<V<String>>, Error> {
    match svc.get(key) {
        None => Ok(Vec::new()),
        Some(n) => match &n.kind {
            Kind::Null => Ok(Vec::new()),
            Kind::Str { s, .. } => Ok(vec![v(s.clone(), &n.loc)]),
            Kind::Seq(items) => items
                .iter()
                .map(|i| Ok(v(scalar(i, key)?, &i.loc)))
                .collect(),
            Kind::Map(_) => Err(err(&n.loc, format!("`{key}` must be a list"))),
        },
    }
}

fn cmd(svc: &Node, key: &str) -> Result<Option<V<Cmd>>, Error> {
    match svc.get(key) {
        None => Ok(None),
        Some(n) => match &n.kind {
            Kind::Null => Ok(None),
            Kind::Str { s, .. } => Ok(Some(v(Cmd::Shell(s.clone()), &n.loc))),
            Kind::Seq(items) => Ok(Some(v(
                Cmd::Exec(
                    items
                        .iter()
                        .map(|i| scalar(i, key))
                        .collect::<Result<_, _>>()?,
                ),
                &n.loc,
            ))),
            Kind::Map(_) => Err(err(&n.loc, format!("`{key}` is a string or a list"))),
        },
    }
}

fn parse_port_short(s: &str, loc: &Loc) -> Result<Port, Error> {
    let bad = || {
        err(
            loc,
            format!(
                "invalid port `{s}`: expected `[[HOST_IP:]HOST_PORT:]CONTAINER_PORT[/PROTOCOL]`"
            ),
        )
    };
    let (rest, protocol) = match s.rsplit_once('/') {
        Some((r, p)) => (r, p.to_string()),
        None => (s, "tcp".to_string()),
    };
    // An IPv6 host address is written in brackets.
    let (host_ip, rest) = if let Some(r) = rest.strip_prefix('[') {
        let (ip, after) = r.split_once(']').ok_or_else(bad)?;
        (
            Some(ip.to_string()),
            after.strip_prefix(':').ok_or_else(bad)?,
        )
    } else {
        (None, rest)
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let (ip, published, target) = match (host_ip, parts.as_slice()) {
        (None, [t]) => (None, None, *t),
        (None, [p, t]) => (None, Some(*p), *t),
        (None, [ip, p, t]) => (Some(ip.to_string()), Some(*p), *t),
        (Some(ip), [p, t]) => (Some(ip), Some(*p), *t),
        _ => return Err(bad()),
    };
    let (t0, t1) = port_range(target).ok_or_else(bad)?;
    if let Some(p) = published {
        if !p.is_empty() {
            port_range(p).ok_or_else(bad)?;
        }
    }
    if !matches!(protocol.as_str(), "tcp" | "udp" | "sctp") {
        return Err(err(
            loc,
            format!("invalid protocol `{protocol}` in port `{s}` (tcp, udp or sctp)"),
        ));
    }
    Ok(Port {
        host_ip: ip.filter(|i| !i.is_empty()),
        published: published.filter(|p| !p.is_empty()).map(String::from),
        target: t0,
        target_end: t1,
        protocol,
        loc: loc.clone(),
    })
}

fn port_range(s: &str) -> Option<(u16, u16)> {
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let a: u16 = a.parse().ok()?;
    let b: u16 = b.parse().ok()?;
    (a > 0 && b >= a).then_some((a, b))
}

fn ports(svc: &Node) -> Result<Vec<Port>, Error> {
    let mut out = Vec::new();
    let Some(list) = svc.get("ports") else {
        return Ok(out);
    };
    if list.is_null() {
        return Ok(out);
    }
    let items = list
        .as_seq()
        .ok_or_else(|| err(&list.loc, "`ports` must be a list"))?;
    for i in items {
        match &i.kind {
            Kind::Str { s, .. } => out.push(parse_port_short(s, &i.loc)?),
            Kind::Map(_) => {
                let t = i
                    .get("target")
                    .ok_or_else(|| err(&i.loc, "a long-syntax port needs `target`"))?;
                let ts = scalar(t, "target")?;
                let (t0, t1) = port_range(&ts)
                    .ok_or_else(|| err(&t.loc, format!("invalid container port `{ts}`")))?;
                let published = match i.get("published") {
                    Some(p) if !p.is_null() => Some(scalar(p, "published")?),
                    _ => None,
                };
                let protocol = match i.get("protocol") {
                    Some(p) => scalar(p, "protocol")?,
                    None => "tcp".into(),
                };
                let host_ip = match i.get("host_ip") {
                    Some(p) if !p.is_null() => Some(scalar(p, "host_ip")?),
                    _ => None,
                };
                let loc = i
                    .get("published")
                    .map(|p| p.loc.clone())
                    .unwrap_or_else(|| i.loc.clone());
                out.push(Port {
                    host_ip,
                    published,
                    target: t0,
                    target_end: t1,
                    protocol,
                    loc,
                });
            }
            _ => return Err(err(&i.loc, "a port is a string or a mapping")),
        }
    }
    Ok(out)
}

fn is_path(s: &str) -> bool {
    s.starts_with('/') || s.starts_with('.') || s.starts_with('~') || s.contains('/')
}

fn volumes(svc: &Node) -> Result<Vec<Mount>, Error> {
    let mut out = Vec::new();
    let Some(list) = svc.get("volumes") else {
        return Ok(out);
    };
    if list.is_null() {
        return Ok(out);
    }
    let items = list
        .as_seq()
        .ok_or_else(|| err(&list.loc, "`volumes` must be a list"))?;
    for i in items {
        match &i.kind {
            Kind::Str { s, .. } => {
                let parts: Vec<&str> = s.split(':').collect();
                let (source, target, mode) = match parts.as_slice() {
                    [t] => (None, *t, ""),
                    [src, t] => (Some(*src), *t, ""),
                    [src, t, m] => (Some(*src), *t, *m),
                    _ => {
                        return Err(err(
                            &i.loc,
                            format!("invalid volume `{s}`: expected `[SOURCE:]TARGET[:MODE]`"),
                        ))
                    }
                };
                if !target.starts_with('/') {
                    return Err(err(
                        &i.loc,
                        format!(
                            "invalid volume `{s}`: the container path `{target}` must be absolute"
                        ),
                    ));
                }
                let opts: Vec<&str> = mode.split(',').filter(|m| !m.is_empty()).collect();
                for o in &opts {
                    if !matches!(
                        *o,
                        "ro" | "rw"
                            | "z"
                            | "Z"
                            | "nocopy"
                            | "shared"
                            | "rshared"
                            | "slave"
                            | "rslave"
                            | "private"
                            | "rprivate"
                            | "cached"
                            | "delegated"
                            | "consistent"
                    ) {
                        return Err(err(&i.loc, format!("invalid volume mode `{o}` in `{s}`")));
                    }
                }
                let kind = match source {
                    None => MountKind::Volume,
                    Some(src) if is_path(src) => MountKind::Bind,
                    Some(_) => MountKind::Volume,
                };
                out.push(Mount {
                    kind,
                    source: source.map(String::from),
                    target: target.to_string(),
                    read_only: opts.contains(&"ro"),
                    propagation: opts
                        .iter()
                        .find(|o| {
                            o.contains("shared") || o.contains("slave") || o.contains("private")
                        })
                        .map(|o| o.to_string()),
                    loc: i.loc.clone(),
                });
            }
            Kind::Map(_) => {
                let ty = i.get("type").and_then(Node::as_str).unwrap_or("volume");
                let kind = match ty {
                    "bind" => MountKind::Bind,
                    "volume" => MountKind::Volume,
                    "tmpfs" => MountKind::Tmpfs,
                    "npipe" | "cluster" | "image" => MountKind::Other,
                    o => {
                        let at = i
                            .get("type")
                            .map(|t| t.loc.clone())
                            .unwrap_or(i.loc.clone());
                        return Err(err(&at, format!("unknown volume type `{o}` (bind, volume, tmpfs, npipe, cluster, image)")));
                    }
                };
                let target = i
                    .get("target")
                    .and_then(Node::as_str)
                    .ok_or_else(|| err(&i.loc, "a long-syntax volume needs `target`"))?;
                let loc = i
                    .get("source")
                    .map(|s| s.loc.clone())
                    .unwrap_or_else(|| i.loc.clone());
                out.push(Mount {
                    kind,
                    source: i.get("source").and_then(Node::as_str).map(String::from),
                    target: target.to_string(),
                    read_only: i.get("read_only").and_then(Node::as_bool).unwrap_or(false),
                    propagation: i
                        .get("bind")
                        .and_then(|b| b.get("propagation"))
                        .and_then(Node::as_str)
                        .map(String::from),
                    loc,
                });
            }
            _ => return Err(err(&i.loc, "a volume is a string or a mapping")),
        }
    }
    Ok(out)
}

fn file_refs(svc: &Node, key: &str) -> Result<Vec<FileRef>, Error> {
    let mut out = Vec::new();
    let Some(list) = svc.get(key) else {
        return Ok(out);
    };
    if list.is_null() {
        return Ok(out);
    }
    let items = list
        .as_seq()
        .ok_or_else(|| err(&list.loc, format!("`{key}` must be a list")))?;
    for i in items {
        match &i.kind {
            Kind::Str { s, .. } => out.push(FileRef {
                source: s.clone(),
                target: None,
                loc: i.loc.clone(),
            }),
            Kind::Map(_) => {
                let src = i.get("source").ok_or_else(|| {
                    err(
                        &i.loc,
                        format!("a long-syntax entry of `{key}` needs `source`"),
                    )
                })?;
                out.push(FileRef {
                    source: scalar(src, "source")?,
                    target: i.get("target").and_then(Node::scalar_text),
                    loc: src.loc.clone(),
                })
            }
            _ => {
                return Err(err(
                    &i.loc,
                    format!("an entry of `{key}` is a name or a mapping"),
                ))
            }
        }
    }
    Ok(out)
}

fn environment(svc: &Node, loader: &mut Loader) -> Result<Vec<Env>, Error> {
    let mut out: Vec<Env> = Vec::new();
    let put = |e: Env, out: &mut Vec<Env>| {
        out.retain(|o| o.name != e.name);
        out.push(e);
    };
    if let Some(files) = svc.get("env_file").and_then(Node::as_seq) {
        for f in files {
            let (path, required, loc) = match &f.kind {
                Kind::Str { s, .. } => (s.clone(), true, f.loc.clone()),
                Kind::Map(_) => (
                    f.get("path")
                        .and_then(Node::as_str)
                        .ok_or_else(|| err(&f.loc, "`env_file` entry needs `path`"))?
                        .to_string(),
                    f.get("required").and_then(Node::as_bool).unwrap_or(true),
                    f.loc.clone(),
                ),
                _ => {
                    return Err(err(
                        &f.loc,
                        "an `env_file` entry is a path or {path, required}",
                    ))
                }
            };
            let full = loader.dir.join(path.strip_prefix("./").unwrap_or(&path));
            if !full.is_file() {
                if required {
                    return Err(err(
                        &loc,
                        format!("env file `{}` not found", full.display()),
                    ));
                }
                continue;
            }
            let text = read_text(&full, "env file", Some(&loc))?;
            let file = display_path(&full);
            let entries = interp::parse_env_file(&text).map_err(|(line, m)| {
                err(
                    &Loc {
                        file: file.clone(),
                        line,
                        col: 1,
                    },
                    m,
                )
            })?;
            for (line, k, val) in entries {
                let val = match val {
                    Some(val) => Some(interp::interpolate(&val, &loader.vars).map_err(|m| {
                        err(
                            &Loc {
                                file: file.clone(),
                                line,
                                col: 1,
                            },
                            m,
                        )
                    })?),
                    None => loader.vars.get(&k).cloned(),
                };
                put(
                    Env {
                        name: k,
                        value: val,
                        loc: Loc {
                            file: file.clone(),
                            line,
                            col: 1,
                        },
                        from_file: true,
                    },
                    &mut out,
                );
            }
        }
    }
    if let Some(env) = svc.get("environment") {
        if !env.is_null() {
            let entries = env.as_map().ok_or_else(|| {
                err(
                    &env.loc,
                    "`environment` must be a mapping or a list of KEY=VALUE",
                )
            })?;
            for (k, val) in entries {
                let name = scalar(k, "environment")?;
                let value = if val.is_null() {
                    loader.vars.get(&name).cloned()
                } else {
                    Some(scalar(val, &name)?)
                };
                put(
                    Env {
                        name,
                        value,
                        loc: if val.is_null() {
                            k.loc.clone()
                        } else {
                            val.loc.clone()
                        },
                        from_file: false,
                    },
                    &mut out,
                );
            }
        }
    }
    Ok(out)
}

fn build_project(
    doc: &Node,
    opts: &Options,
    loader: &mut Loader,
    files: Vec<Arc<str>>,
) -> Result<Project, Error> {
    let root_loc = doc.loc.clone();
    let services_node = doc
        .get("services")
        .cloned()
        .unwrap_or_else(|| Node::null(root_loc.clone()));
    let services_loc = doc
        .entry("services")
        .map(|(k, _)| k.loc.clone())
        .unwrap_or(root_loc.clone());
    let mut active: BTreeSet<String> = opts.profiles.iter().cloned().collect();
    if let Some(p) = loader.vars.get("COMPOSE_PROFILES") {
        active.extend(
            p.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty()),
        );
    }
    let mut networks = BTreeMap::new();
    if let Some(ns) = doc.get("networks").and_then(Node::as_map) {
        for (k, n) in ns {
            let name = scalar(k, "networks")?;
            let subnets = n
                .get("ipam")
                .and_then(|i| i.get("config"))
                .and_then(Node::as_seq)
                .unwrap_or_default()
                .iter()
                .filter_map(|c| c.get("subnet").and_then(Node::as_str).map(String::from))
                .collect();
            networks.insert(
                name.clone(),
                Network {
                    name,
                    loc: k.loc.clone(),
                    internal: n.get("internal").and_then(Node::as_bool).unwrap_or(false),
                    external: n
                        .get("external")
                        .map(|e| e.as_bool().unwrap_or(true))
                        .unwrap_or(false),
                    driver: n.get("driver").and_then(Node::as_str).map(String::from),
                    subnets,
                    hardgen_zone: n
                        .get("labels")
                        .and_then(|l| l.get("io.hardgen.zone"))
                        .is_some(),
                },
            );
        }
    }
    let mut volumes = BTreeMap::new();
    if let Some(vs) = doc.get("volumes").and_then(Node::as_map) {
        for (k, _) in vs {
            volumes.insert(scalar(k, "volumes")?, k.loc.clone());
        }
    }
    let tops = |key: &str| -> Result<BTreeMap<String, TopSecret>, Error> {
        let mut out = BTreeMap::new();
        if let Some(m) = doc.get(key).and_then(Node::as_map) {
            for (k, n) in m {
                let name = scalar(k, key)?;
                out.insert(
                    name.clone(),
                    TopSecret {
                        name,
                        loc: k.loc.clone(),
                        file: n.get("file").and_then(Node::as_str).map(String::from),
                        environment: n
                            .get("environment")
                            .and_then(Node::as_str)
                            .map(String::from),
                        external: n
                            .get("external")
                            .map(|e| e.as_bool().unwrap_or(true))
                            .unwrap_or(false),
                        content: n.get("content").and_then(Node::as_str).map(String::from),
                    },
                );
            }
        }
        Ok(out)
    };
    let secrets = tops("secrets")?;
    let configs = tops("configs")?;
    let mut services = BTreeMap::new();
    let mut inactive = Vec::new();
    for (k, s) in services_node.as_map().unwrap_or_default() {
        let name = scalar(k, "services")?;
        let profiles: Vec<String> = str_list(s, "profiles")?
            .into_iter()
            .map(|p| p.value)
            .collect();
        if !profiles.is_empty()
            && !active.contains("*")
            && !profiles.iter().any(|p| active.contains(p))
        {
            inactive.push(name);
            continue;
        }
        let svc = service(&name, &k.loc, s, loader)?;
        services.insert(name, svc);
    }
    // References Compose refuses.
    for s in services.values() {
        for d in &s.depends_on {
            if !services.contains_key(&d.name) && !inactive.contains(&d.name) {
                let hint =
                    crate::diagnostic::did_you_mean(&d.name, services.keys().map(String::as_str))
                        .map(|h| format!(" ({h})"))
                        .unwrap_or_default();
                return Err(err(
                    &d.loc,
                    format!(
                        "service `{}` depends on undefined service `{}`{hint}",
                        s.name, d.name
                    ),
                ));
            }
        }
        for n in &s.networks {
            if n.name != "default" && !networks.contains_key(&n.name) {
                let hint =
                    crate::diagnostic::did_you_mean(&n.name, networks.keys().map(String::as_str))
                        .map(|h| format!(" ({h})"))
                        .unwrap_or_default();
                return Err(err(
                    &n.loc,
                    format!(
                        "service `{}` refers to undefined network `{}`{hint}",
                        s.name, n.name
                    ),
                ));
            }
        }
        for r in &s.secrets {
            if !secrets.contains_key(&r.source) {
                return Err(err(
                    &r.loc,
                    format!(
                        "service `{}` refers to undefined secret `{}`",
                        s.name, r.source
                    ),
                ));
            }
        }
        for r in &s.configs {
            if !configs.contains_key(&r.source) {
                return Err(err(
                    &r.loc,
                    format!(
                        "service `{}` refers to undefined config `{}`",
                        s.name, r.source
                    ),
                ));
            }
        }
        for m in &s.volumes {
            if let (MountKind::Volume, Some(src)) = (m.kind, &m.source) {
                if !volumes.contains_key(src) {
                    return Err(err(
                        &m.loc,
                        format!("service `{}` refers to undefined volume `{src}`", s.name),
                    ));
                }
            }
        }
    }
    for s in services.values_mut() {
        s.depends_on.retain(|d| !inactive.contains(&d.name));
    }
    let name = opts
        .project_name
        .clone()
        .or_else(|| doc.get("name").and_then(Node::as_str).map(String::from))
        .unwrap_or_else(|| {
            let d = std::fs::canonicalize(&loader.dir).unwrap_or(loader.dir.clone());
            d.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "project".into())
        });
    Ok(Project {
        name,
        dir: loader.dir.clone(),
        files,
        services,
        networks,
        volumes,
        secrets,
        configs,
        services_loc,
        inactive,
    })
}

fn service(name: &str, loc: &Loc, s: &Node, loader: &mut Loader) -> Result<Service, Error> {
    let empty = Node::map(Vec::new(), loc.clone());
    let s = if s.is_null() { &empty } else { s };
    let deploy = s.get("deploy");
    let limits = deploy
        .and_then(|d| d.get("resources"))
        .and_then(|r| r.get("limits"));
    let lim = |key: &str| -> Option<V<String>> {
        limits
            .and_then(|l| l.get(key))
            .and_then(|n| n.scalar_text().map(|t| v(t, &n.loc)))
    };
    let build = match s.get("build") {
        Some(b) if !b.is_null() => Some(BuildRef {
            context: b
                .get("context")
                .and_then(Node::scalar_text)
                .unwrap_or_else(|| ".".into()),
            dockerfile: b.get("dockerfile").and_then(Node::scalar_text),
            loc: b.loc.clone(),
        }),
        _ => None,
    };
    let mut depends_on = Vec::new();
    if let Some(m) = s.get("depends_on").and_then(Node::as_map) {
        for (k, d) in m {
            depends_on.push(Dep {
                name: scalar(k, "depends_on")?,
                condition: d
                    .get("condition")
                    .and_then(Node::scalar_text)
                    .unwrap_or_else(|| "service_started".into()),
                loc: k.loc.clone(),
            });
        }
    }
    let mut networks = Vec::new();
    match s.get("networks") {
        Some(n) if n.as_map().is_some() => {
            for (k, d) in n.as_map().unwrap() {
                let aliases = d
                    .get("aliases")
                    .and_then(Node::as_seq)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(Node::scalar_text)
                    .collect();
                networks.push(NetRef {
                    name: scalar(k, "networks")?,
                    aliases,
                    ipv4_address: d.get("ipv4_address").and_then(Node::scalar_text),
                    loc: k.loc.clone(),
                });
            }
        }
        Some(n) if !n.is_null() => {
            return Err(err(&n.loc, "`networks` must be a list or a mapping"))
        }
        _ => {}
    }
    let network_mode = opt_str(s, "network_mode")?;
    if networks.is_empty() && network_mode.is_none() {
        networks.push(NetRef {
            name: "default".into(),
            aliases: Vec::new(),
            ipv4_address: None,
            loc: loc.clone(),
        });
    }
    let healthcheck = match s.get("healthcheck") {
        Some(h) if h.as_map().is_some() => {
            let test = match h.get("test") {
                Some(t) => match &t.kind {
                    Kind::Str { s, .. } => Some(vec!["CMD-SHELL".to_string(), s.clone()]),
                    Kind::Seq(items) => Some(items.iter().filter_map(Node::scalar_text).collect()),
                    _ => None,
                },
                None => None,
            };
            let disabled = h.get("disable").and_then(Node::as_bool).unwrap_or(false)
                || test
                    .as_ref()
                    .is_some_and(|t| t.first().map(String::as_str) == Some("NONE"));
            Some(Health {
                test,
                disabled,
                interval: h.get("interval").and_then(Node::scalar_text),
                timeout: h.get("timeout").and_then(Node::scalar_text),
                start_period: h.get("start_period").and_then(Node::scalar_text),
                retries: h
                    .get("retries")
                    .and_then(Node::scalar_text)
                    .and_then(|r| r.parse().ok()),
                loc: h.loc.clone(),
            })
        }
        _ => None,
    };
    let restart = match opt_str(s, "restart")? {
        Some(r) => Some(r),
        None => deploy.and_then(|d| d.get("restart_policy")).map(|rp| {
            let cond = rp
                .get("condition")
                .and_then(Node::scalar_text)
                .unwrap_or_else(|| "any".into());
            let max = rp.get("max_attempts").and_then(Node::scalar_text);
            let text = match (cond.as_str(), max) {
                ("on-failure", Some(m)) => format!("on-failure:{m}"),
                ("on-failure", None) => "on-failure".into(),
                ("none", _) => "no".into(),
                _ => "always".into(),
            };
            v(text, &rp.loc)
        }),
    };
    let logging = s.get("logging").map(|l| Logging {
        driver: l.get("driver").and_then(Node::scalar_text),
        max_size: l
            .get("options")
            .and_then(|o| o.get("max-size"))
            .and_then(Node::scalar_text),
        loc: l.loc.clone(),
    });
    Ok(Service {
        name: name.to_string(),
        loc: loc.clone(),
        image: opt_str(s, "image")?,
        build,
        command: cmd(s, "command")?,
        entrypoint: cmd(s, "entrypoint")?,
        environment: environment(s, loader)?,
        ports: ports(s)?,
        expose: str_list(s, "expose")?,
        volumes: volumes(s)?,
        tmpfs: str_list(s, "tmpfs")?,
        depends_on,
        links: str_list(s, "links")?,
        networks,
        network_mode,
        pid: opt_str(s, "pid")?,
        ipc: opt_str(s, "ipc")?,
        uts: opt_str(s, "uts")?,
        userns_mode: opt_str(s, "userns_mode")?,
        cgroup: opt_str(s, "cgroup")?,
        privileged: opt_bool(s, "privileged")?,
        read_only: opt_bool(s, "read_only")?,
        init: opt_bool(s, "init")?,
        user: opt_str(s, "user")?,
        cap_add: str_list(s, "cap_add")?,
        cap_drop: str_list(s, "cap_drop")?,
        security_opt: str_list(s, "security_opt")?,
        devices: match s.get("devices").and_then(Node::as_seq) {
            Some(items) => items
                .iter()
                .map(|i| {
                    let t = i
                        .scalar_text()
                        .or_else(|| i.get("source").and_then(Node::scalar_text))
                        .unwrap_or_default();
                    v(t, &i.loc)
                })
                .collect(),
            None => Vec::new(),
        },
        healthcheck,
        memory: opt_str(s, "mem_limit")?.or_else(|| lim("memory")),
        cpus: opt_str(s, "cpus")?.or_else(|| lim("cpus")),
        pids: opt_str(s, "pids_limit")?.or_else(|| lim("pids")),
        restart,
        logging,
        secrets: file_refs(s, "secrets")?,
        configs: file_refs(s, "configs")?,
        profiles: str_list(s, "profiles")?
            .into_iter()
            .map(|p| p.value)
            .collect(),
        sysctls: s
            .get("sysctls")
            .and_then(Node::as_map)
            .unwrap_or_default()
            .iter()
            .filter_map(|(k, _)| k.scalar_text().map(|t| v(t, &k.loc)))
            .collect(),
        working_dir: opt_str(s, "working_dir")?,
        volumes_from: str_list(s, "volumes_from")?,
        group_add: str_list(s, "group_add")?,
        has_deploy: deploy.is_some(),
        keys: s
            .as_map()
            .unwrap_or_default()
            .iter()
            .filter_map(|(k, _)| k.scalar_text().map(|t| v(t, &k.loc)))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn override_merging_extends_profiles_env() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), ".env", "TAG=1.2\nPORT=8080\n");
        write(d.path(), "app.env", "DB_HOST=db\nAPI_TOKEN=abc\n");
        write(
            d.path(),
            "base.yml",
            "services:\n  common:\n    restart: always\n    environment: [A=1]\n",
        );
        let a = write(
            d.path(),
            "a.yml",
            "services:\n  web:\n    extends: {file: base.yml, service: common}\n    image: nginx:${TAG}\n    ports: [\"${PORT}:80\"]\n    env_file: app.env\n    environment:\n      B: \"2\"\n    command: [a, b]\n    volumes: [\"data:/data\"]\n  dbg:\n    image: busybox\n    profiles: [debug]\nvolumes:\n  data:\n",
        );
        let b = write(
            d.path(),
            "b.yml",
            "services:\n  web:\n    ports: [\"127.0.0.1:9090:90\"]\n    environment: [\"A=3\"]\n    command: [c]\n    volumes: [\"./x:/data:ro\"]\n    restart: !reset\n",
        );
        let opts = Options {
            files: vec![a, b],
            ..Default::default()
        };
        let p = load(&opts).unwrap();
        assert_eq!(p.inactive, vec!["dbg".to_string()]);
        let web = &p.services["web"];
        assert_eq!(web.image.as_ref().unwrap().value, "nginx:1.2");
        assert_eq!(web.ports.len(), 2);
        assert_eq!(
            web.ports[1].loc.file.as_ref(),
            d.path().join("b.yml").display().to_string()
        );
        assert_eq!(web.ports[1].loc.line, 3);
        assert_eq!(
            web.command.as_ref().unwrap().value,
            Cmd::Exec(vec!["c".into()])
        );
        assert_eq!(web.volumes.len(), 1);
        assert_eq!(web.volumes[0].kind, MountKind::Bind);
        assert!(web.restart.is_none());
        let env: BTreeMap<_, _> = web
            .environment
            .iter()
            .map(|e| (e.name.clone(), e.value.clone().unwrap()))
            .collect();
        assert_eq!(env["A"], "3");
        assert_eq!(env["B"], "2");
        assert_eq!(env["DB_HOST"], "db");
        let tok = web
            .environment
            .iter()
            .find(|e| e.name == "API_TOKEN")
            .unwrap();
        assert!(tok.from_file && tok.loc.line == 2);
        let opts = Options {
            profiles: vec!["debug".into()],
            ..opts
        };
        assert!(load(&opts).unwrap().services.contains_key("dbg"));
    }

    #[test]
    fn errors_name_the_place() {
        let d = tempfile::tempdir().unwrap();
        let a = write(
            d.path(),
            "a.yml",
            "services:\n  web:\n    image: x\n    depends_on: [dbb]\n",
        );
        let e = load(&Options {
            files: vec![a],
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!((e.loc.line, e.loc.col), (4, 18), "{e}");
        let a = write(
            d.path(),
            "b.yml",
            "services:\n  web:\n    image: ${X:?X is needed}\n",
        );
        let e = load(&Options {
            files: vec![a],
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.message.contains("X is needed") && e.loc.line == 3, "{e}");
        let a = write(
            d.path(),
            "c.yml",
            "services:\n  web:\n    ports: [\"80:80:80:80\"]\n",
        );
        assert!(load(&Options {
            files: vec![a],
            ..Default::default()
        })
        .is_err());
    }

    #[test]
    fn port_forms() {
        let l = Loc::file_start(&Arc::from("x"));
        let p = parse_port_short("127.0.0.1:8080:80/udp", &l).unwrap();
        assert_eq!(
            (
                p.host_ip.as_deref(),
                p.published.as_deref(),
                p.target,
                p.protocol.as_str()
            ),
            (Some("127.0.0.1"), Some("8080"), 80, "udp")
        );
        let p = parse_port_short("[::1]:53:53", &l).unwrap();
        assert_eq!(p.host_ip.as_deref(), Some("::1"));
        let p = parse_port_short("8000-8002:8000-8002", &l).unwrap();
        assert_eq!((p.target, p.target_end), (8000, 8002));
        assert!(parse_port_short("x:80", &l).is_err());
    }
}
