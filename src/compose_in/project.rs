//! The merged document as a typed `Project`: networks, volumes, secrets and configs, active
//! services (profiles), the references Compose refuses, and each service.

use super::fields::{
    cmd, environment, file_refs, opt_bool, opt_str, ports, scalar, str_list, volumes,
};
use super::loader::Loader;
use super::*;

pub(super) fn build_project(
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
    let networks = networks(doc)?;
    let mut volumes = BTreeMap::new();
    if let Some(vs) = doc.get("volumes").and_then(Node::as_map) {
        for (k, _) in vs {
            volumes.insert(scalar(k, "volumes")?, k.loc.clone());
        }
    }
    let secrets = tops(doc, "secrets")?;
    let configs = tops(doc, "configs")?;
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
    let mut project = Project {
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
    };
    check_references(&project)?;
    let inactive = &project.inactive;
    for s in project.services.values_mut() {
        s.depends_on.retain(|d| !inactive.contains(&d.name));
    }
    Ok(project)
}

/// The top-level `networks`.
fn networks(doc: &Node) -> Result<BTreeMap<String, Network>, Error> {
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
                    gateway_mode: n
                        .get("driver_opts")
                        .and_then(|o| o.get("com.docker.network.bridge.gateway_mode_ipv4"))
                        .and_then(Node::as_str)
                        .map(String::from),
                    subnets,
                    hardgen_zone: n
                        .get("labels")
                        .and_then(|l| l.get("io.hardgen.zone"))
                        .is_some(),
                },
            );
        }
    }
    Ok(networks)
}

/// The top-level `secrets` or `configs`.
fn tops(doc: &Node, key: &str) -> Result<BTreeMap<String, TopSecret>, Error> {
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
}

/// References Compose refuses: to undefined services, networks, secrets, configs, volumes.
fn check_references(p: &Project) -> Result<(), Error> {
    let services = &p.services;
    for s in services.values() {
        for d in &s.depends_on {
            if !services.contains_key(&d.name) && !p.inactive.contains(&d.name) {
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
            if n.name != "default" && !p.networks.contains_key(&n.name) {
                let hint =
                    crate::diagnostic::did_you_mean(&n.name, p.networks.keys().map(String::as_str))
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
            if !p.secrets.contains_key(&r.source) {
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
            if !p.configs.contains_key(&r.source) {
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
                if !p.volumes.contains_key(src) {
                    return Err(err(
                        &m.loc,
                        format!("service `{}` refers to undefined volume `{src}`", s.name),
                    ));
                }
            }
        }
    }
    Ok(())
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
    let build = build_ref(s);
    let depends_on = depends_on(s)?;
    let mut networks = net_refs(s)?;
    let network_mode = opt_str(s, "network_mode")?;
    if networks.is_empty() && network_mode.is_none() {
        networks.push(NetRef {
            name: "default".into(),
            aliases: Vec::new(),
            ipv4_address: None,
            loc: loc.clone(),
        });
    }
    let healthcheck = healthcheck(s);
    let restart = restart(s, deploy)?;
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
        devices: devices(s),
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

fn build_ref(s: &Node) -> Option<BuildRef> {
    match s.get("build") {
        Some(b) if !b.is_null() => Some(BuildRef {
            context: b
                .get("context")
                .and_then(Node::scalar_text)
                .unwrap_or_else(|| ".".into()),
            dockerfile: b.get("dockerfile").and_then(Node::scalar_text),
            loc: b.loc.clone(),
        }),
        _ => None,
    }
}

fn depends_on(s: &Node) -> Result<Vec<Dep>, Error> {
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
    Ok(depends_on)
}

/// A service's `networks`, list or mapping.
fn net_refs(s: &Node) -> Result<Vec<NetRef>, Error> {
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
    Ok(networks)
}

fn healthcheck(s: &Node) -> Option<Health> {
    match s.get("healthcheck") {
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
    }
}

/// `restart`, else the `deploy` restart policy in its form.
fn restart(s: &Node, deploy: Option<&Node>) -> Result<Option<V<String>>, Error> {
    Ok(match opt_str(s, "restart")? {
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
    })
}

fn devices(s: &Node) -> Vec<V<String>> {
    match s.get("devices").and_then(Node::as_seq) {
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
    }
}
