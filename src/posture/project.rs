//! Project-wide changes: zones, flows, secrets, double zone memberships, and the settings of
//! the whole project (logging, host, images, accepted warnings).

use std::collections::{BTreeMap, BTreeSet};

use super::{pairs, Changes, Class, Pair};
use crate::model::*;

/// Double memberships that void a separation (`model::zone_bridges`): a new one weakens
/// even when each zone list change alone looks like a move.
pub(super) fn zone_bridges(c: &mut Changes, old: &Model, new: &Model) {
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
    let bridges = |m: &Model, s: &Service| -> BTreeMap<(String, String), String> {
        crate::model::zone_bridges(s, &m.flows, &m.zones)
            .into_iter()
            .map(|b| {
                let mut key = [b.home.clone(), b.extra.clone()];
                key.sort();
                let [a, z] = key;
                ((a, z), describe(m, &b))
            })
            .collect()
    };
    for (name, pair) in pairs(&old.services, &new.services) {
        // A removed service's memberships go with it: no change of its own.
        let (o, n) = match pair {
            Pair::Both(o, n) => (bridges(old, o), bridges(new, n)),
            Pair::Added(n) => (BTreeMap::new(), bridges(new, n)),
            Pair::Removed(_) => continue,
        };
        for (pair, text) in pairs(&o, &n) {
            match text {
                Pair::Added(text) => c.push(
                    Class::Weakens,
                    "service",
                    name,
                    "zone",
                    text.clone(),
                    None,
                    Some(format!("{} + {}", pair.0, pair.1)),
                ),
                Pair::Removed(text) => c.push(
                    Class::Strengthens,
                    "service",
                    name,
                    "zone",
                    format!("no longer {text}"),
                    Some(format!("{} + {}", pair.0, pair.1)),
                    None,
                ),
                Pair::Both(..) => {}
            }
        }
    }
}

pub(super) fn zones(c: &mut Changes, old: &Model, new: &Model) {
    for (name, pair) in pairs(&old.zones, &new.zones) {
        match pair {
            Pair::Both(o, n) => {
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
            Pair::Added(n) => c.push(
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
            Pair::Removed(_) => c.push(
                Class::Neutral,
                "zone",
                name,
                "zone",
                "removed".into(),
                Some(name.clone()),
                None,
            ),
        }
    }
}

pub(super) fn flows(c: &mut Changes, old: &Model, new: &Model) {
    let by_zones = |m: &Model| -> BTreeMap<(String, String), Flow> {
        m.flows
            .iter()
            .map(|f| ((f.from.clone(), f.to.clone()), f.clone()))
            .collect()
    };
    let (old_f, new_f) = (by_zones(old), by_zones(new));
    for (k, pair) in pairs(&old_f, &new_f) {
        let name = format!("{} -> {}", k.0, k.1);
        let (o, n) = match pair {
            Pair::Both(o, n) => (Some(o), Some(n)),
            Pair::Added(n) => {
                c.push(
                    Class::Weakens,
                    "flow",
                    &name,
                    "flow",
                    "added".into(),
                    None,
                    Some(name.clone()),
                );
                (None, Some(n))
            }
            Pair::Removed(o) => {
                c.push(
                    Class::Strengthens,
                    "flow",
                    &name,
                    "flow",
                    "removed".into(),
                    Some(name.clone()),
                    None,
                );
                (Some(o), None)
            }
        };
        let ports = |f: Option<&Flow>| {
            f.map(|f| f.ports.iter().copied().collect())
                .unwrap_or_default()
        };
        let clients = |f: Option<&Flow>| {
            f.map(|f| f.clients.iter().cloned().collect())
                .unwrap_or_default()
        };
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

pub(super) fn secrets(c: &mut Changes, old: &Model, new: &Model) {
    for (name, pair) in pairs(&old.secrets, &new.secrets) {
        match pair {
            Pair::Both(o, n) => c.ordered(
                "secret",
                name,
                "bytes",
                "random bytes",
                o.bytes,
                n.bytes,
                Some(false),
            ),
            Pair::Added(_) => c.push(
                Class::Neutral,
                "secret",
                name,
                "secret",
                "added".into(),
                None,
                Some(name.clone()),
            ),
            Pair::Removed(_) => c.push(
                Class::Neutral,
                "secret",
                name,
                "secret",
                "removed".into(),
                Some(name.clone()),
                None,
            ),
        }
    }
}

/// Project-wide settings: the log driver (logs that leave the host are the audit trail),
/// the daemon's user namespace remapping, where built images go, and accepted warnings.
pub(super) fn settings(c: &mut Changes, old: &Model, new: &Model) {
    let project = new.project.name.as_str();
    let (o, n) = (&old.logging, &new.logging);
    if o.driver != n.driver {
        // json-file keeps the logs on the host, in the containers' own files; every other
        // driver hands them to a collector outside the container's reach.
        let central = |d: LogDriver| d != LogDriver::JsonFile;
        let class = match (central(o.driver), central(n.driver)) {
            (true, false) => Class::Weakens,
            (false, true) => Class::Strengthens,
            _ => Class::Neutral,
        };
        c.push(
            class,
            "project",
            project,
            "log_driver",
            format!("log driver {} -> {}", o.driver.as_str(), n.driver.as_str()),
            Some(o.driver.as_str().to_string()),
            Some(n.driver.as_str().to_string()),
        );
    }
    for (key, pair) in pairs(&o.options, &n.options) {
        let (was, now) = match pair {
            Pair::Both(a, b) if a == b => continue,
            Pair::Both(a, b) => (Some(a.clone()), Some(b.clone())),
            Pair::Added(b) => (None, Some(b.clone())),
            Pair::Removed(a) => (Some(a.clone()), None),
        };
        c.push(
            Class::Neutral,
            "project",
            project,
            "log_option",
            format!(
                "log option {key} {} -> {}",
                was.as_deref().unwrap_or("(unset)"),
                now.as_deref().unwrap_or("(unset)")
            ),
            was,
            now,
        );
    }
    if old.host.userns_remap != new.host.userns_remap {
        let on = new.host.userns_remap;
        c.push(
            if on {
                Class::Strengthens
            } else {
                Class::Weakens
            },
            "project",
            project,
            "userns_remap",
            format!(
                "daemon user namespace remapping {}",
                if on { "on" } else { "off" }
            ),
            Some(old.host.userns_remap.to_string()),
            Some(on.to_string()),
        );
    }
    let (gw_old, gw_new) = (
        old.host.internal_gateway_mode,
        new.host.internal_gateway_mode,
    );
    if gw_old != gw_new {
        let (class, what) = match gw_new {
            crate::spec::GatewayMode::Isolated => (
                Class::Strengthens,
                "Engine 28+: no host address on their bridges",
            ),
            crate::spec::GatewayMode::Nat => {
                (Class::Weakens, "their bridges hold a host address again")
            }
        };
        c.push(
            class,
            "project",
            project,
            "internal_gateway_mode",
            format!(
                "internal zones' gateway mode {} -> {} ({what})",
                gw_old.as_str(),
                gw_new.as_str()
            ),
            Some(gw_old.as_str().to_string()),
            Some(gw_new.as_str().to_string()),
        );
    }
    let registry = |m: &Model| m.project.registry.clone().unwrap_or_default();
    if registry(old) != registry(new) {
        c.push(
            Class::Neutral,
            "project",
            project,
            "registry",
            format!("image registry `{}` -> `{}`", registry(old), registry(new)),
            Some(registry(old)),
            Some(registry(new)),
        );
    }
    c.ordered(
        "project",
        project,
        "image_tag",
        "built image tag",
        old.project.image_tag.as_str(),
        new.project.image_tag.as_str(),
        None,
    );
    // A warning accepted in an `allow` table is a risk the spec now takes knowingly.
    let accepted = |m: &Model| -> BTreeSet<String> {
        m.accepted
            .iter()
            .map(|a| match &a.service {
                Some(s) => format!("{} for service {s}", a.code),
                None => format!("{} for the project", a.code),
            })
            .collect()
    };
    c.set(
        "project",
        project,
        "accepted_warning",
        &accepted(old),
        &accepted(new),
        Class::Weakens,
        |w, added| {
            format!(
                "warning {w} {}",
                if added {
                    "accepted"
                } else {
                    "no longer accepted"
                }
            )
        },
    );
}
