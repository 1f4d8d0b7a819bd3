//! Typing a service's fields: scalars, lists, commands, ports, volumes, secrets and configs,
//! environment (with `env_file`), each value with its place.

use super::loader::{display_path, read_env_file, Loader};
use super::*;

pub(super) fn scalar(n: &Node, what: &str) -> Result<String, Error> {
    n.scalar_text().ok_or_else(|| {
        err(
            &n.loc,
            format!("`{what}` must be a single value, found {}", n.kind_name()),
        )
    })
}

pub(super) fn opt_str(svc: &Node, key: &str) -> Result<Option<V<String>>, Error> {
    match svc.get(key) {
        None => Ok(None),
        Some(n) if n.is_null() => Ok(None),
        Some(n) => Ok(Some(v(scalar(n, key)?, &n.loc))),
    }
}

pub(super) fn opt_bool(svc: &Node, key: &str) -> Result<Option<V<bool>>, Error> {
    match svc.get(key) {
        None => Ok(None),
        Some(n) if n.is_null() => Ok(None),
        Some(n) => n
            .as_bool()
            .map(|b| Some(v(b, &n.loc)))
            .ok_or_else(|| err(&n.loc, format!("`{key}` must be true or false"))),
    }
}

pub(super) fn str_list(svc: &Node, key: &str) -> Result<Vec<V<String>>, Error> {
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

pub(super) fn cmd(svc: &Node, key: &str) -> Result<Option<V<Cmd>>, Error> {
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

pub(super) fn parse_port_short(s: &str, loc: &Loc) -> Result<Port, Error> {
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

pub(super) fn port_range(s: &str) -> Option<(u16, u16)> {
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let a: u16 = a.parse().ok()?;
    let b: u16 = b.parse().ok()?;
    (a > 0 && b >= a).then_some((a, b))
}

pub(super) fn ports(svc: &Node) -> Result<Vec<Port>, Error> {
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

pub(super) fn is_path(s: &str) -> bool {
    s.starts_with('/') || s.starts_with('.') || s.starts_with('~') || s.contains('/')
}

pub(super) fn volumes(svc: &Node) -> Result<Vec<Mount>, Error> {
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

pub(super) fn file_refs(svc: &Node, key: &str) -> Result<Vec<FileRef>, Error> {
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

pub(super) fn environment(svc: &Node, loader: &mut Loader) -> Result<Vec<Env>, Error> {
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
            let file = display_path(&full);
            let entries = read_env_file(&full, Some(&loc))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

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
