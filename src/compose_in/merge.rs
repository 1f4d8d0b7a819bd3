//! Compose's merge rules: short forms normalised to mappings, then an override file merged
//! over its base key by key (lists of ports, volumes and the like by item).

use super::*;

pub(super) fn take(n: &mut Node, key: &str) -> Option<Node> {
    if let Kind::Map(entries) = &mut n.kind {
        if let Some(i) = entries.iter().position(|(k, _)| k.as_str() == Some(key)) {
            return Some(entries.remove(i).1);
        }
    }
    None
}

/// A `KEY=VALUE` list item as a mapping entry (the value's column after the `=`).
pub(super) fn kv_entry(item: &Node, sep: char) -> Result<(Node, Node), Error> {
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

pub(super) fn list_to_map(n: Node, sep: char) -> Result<Node, Error> {
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

pub(super) fn names_to_map(n: Node, value: impl Fn(&Loc) -> Node) -> Result<Node, Error> {
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

pub(super) fn set(n: &mut Node, key: &str, value: Node) {
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
pub(super) fn normalise_service(mut s: Node) -> Result<Node, Error> {
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
pub(super) fn item_key(list: &str, n: &Node) -> String {
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

pub(super) fn strip_locs(n: &Node) -> String {
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
pub(super) fn merge(base: Node, over: Node, key: &str) -> Node {
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

pub(super) fn merge_service(base: Node, over: Node) -> Node {
    merge(base, over, "")
}
