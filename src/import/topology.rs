//! Who talks to whom in the compose files, and what that makes in the spec: service and zone
//! names, the home zone of each service, and the flows between zones.

use std::collections::{BTreeMap, BTreeSet};

use super::images;
use super::text::{sanitize, toml_list, toml_str, Doc};
use crate::compose_in::{Project, Service};

/// Clients, ports and reasons of a flow being gathered.
pub(super) type FlowAcc = (BTreeSet<String>, BTreeSet<u16>, BTreeSet<String>);

/// Who talks to whom, and on which ports when the value says.
pub(super) struct Talk {
    pub(super) client: String,
    pub(super) server: String,
    pub(super) why: BTreeSet<String>,
    pub(super) ports: BTreeSet<u16>,
}

pub(super) fn listening_ports(s: &Service) -> BTreeSet<u16> {
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

/// The host names a value mentions, with a port when written `host:port`. In a URL
/// (`scheme://user:password@host:port/path`) only the hosts of its authority count (a path or
/// a user name that happens to be a service's name is not a connection to it); elsewhere every
/// word does (`db`, `db:5432`, `redis,cache`).
fn hosts_in(value: &str) -> Vec<(String, Option<u16>)> {
    let mut out = Vec::new();
    for token in value.split_whitespace() {
        match token.split_once("://") {
            Some((_, rest)) => {
                let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
                let hosts = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
                for h in hosts.split(',') {
                    if let Some(first) = words(h).into_iter().next() {
                        out.push(first);
                    }
                }
            }
            None => out.extend(words(token)),
        }
    }
    out
}

/// Every host-name-shaped word of `text`, with the port that follows it as `:port`.
fn words(text: &str) -> Vec<(String, Option<u16>)> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
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
            if port.is_some() {
                i = pe;
            }
        }
        out.push((word, port));
    }
    out
}

/// An environment variable that names an account, a database or a similar object, never a
/// host: `POSTGRES_USER=umami` is no connection to a service `umami`.
fn names_no_host(key: &str) -> bool {
    const SUFFIXES: [&str; 15] = [
        "USER", "USERNAME", "DB", "DATABASE", "NAME", "PASSWORD", "SCHEMA", "TABLE", "BUCKET",
        "QUEUE", "TOPIC", "INDEX", "REALM", "ORG", "TENANT",
    ];
    let key = key.to_ascii_uppercase();
    SUFFIXES
        .iter()
        .any(|s| key == *s || key.ends_with(&format!("_{s}")))
}

pub(super) fn talks(p: &Project) -> Vec<Talk> {
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
            if names_no_host(&e.name) && !val.contains("://") {
                continue;
            }
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

/// The names, zones and flows import derives from the compose files.
pub(super) struct Topology {
    pub(super) talks: Vec<Talk>,
    /// Compose service name -> spec service name.
    pub(super) svc_names: BTreeMap<String, String>,
    /// Compose network name -> spec zone name.
    pub(super) zone_names: BTreeMap<String, String>,
    /// Compose service name -> the compose network that becomes its zone.
    pub(super) home: BTreeMap<String, String>,
    /// Why a service on several networks got the zone it got.
    pub(super) home_note: BTreeMap<String, String>,
    /// (from zone, to zone) -> clients, ports and reasons.
    pub(super) flows: BTreeMap<(String, String), FlowAcc>,
    /// The TODOs of talks no flow could be made for, by client.
    pub(super) flow_todo: BTreeMap<String, Vec<String>>,
}

pub(super) fn topology(p: &Project) -> Topology {
    let svc_names = service_names(p);
    let talks = talks(p);
    let zone_names = zone_names(p);
    let (home, home_note) = homes(p, &talks, &zone_names);
    let mut t = Topology {
        talks,
        svc_names,
        zone_names,
        home,
        home_note,
        flows: BTreeMap::new(),
        flow_todo: BTreeMap::new(),
    };
    flows(p, &mut t);
    t
}

fn service_names(p: &Project) -> BTreeMap<String, String> {
    let mut svc_names: BTreeMap<String, String> = BTreeMap::new();
    let mut used = BTreeSet::new();
    for n in p.services.keys() {
        let mut s = sanitize(n, 63, &['_'], "svc-");
        while !used.insert(s.clone()) {
            s.push('x');
        }
        svc_names.insert(n.clone(), s);
    }
    svc_names
}

/// Zones: networks used by services.
fn zone_names(p: &Project) -> BTreeMap<String, String> {
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
    zone_names
}

/// Home zone of each service: one zone; other networks are reached through flows.
type Homes = (BTreeMap<String, String>, BTreeMap<String, String>);

fn homes(p: &Project, talks: &[Talk], zone_names: &BTreeMap<String, String>) -> Homes {
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
    (home, home_note)
}

/// Flows between zones, from the talks whose ends have different home zones and shared a
/// network in the compose file.
fn flows(p: &Project, topo: &mut Topology) {
    for t in &topo.talks {
        let (Some(c), Some(s)) = (p.services.get(&t.client), p.services.get(&t.server)) else {
            continue;
        };
        let (Some(hc), Some(hs)) = (topo.home.get(&t.client), topo.home.get(&t.server)) else {
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
            topo.flow_todo.entry(t.client.clone()).or_default().push(format!(
                "TODO: talks to `{}` ({}) but no port of it is known: add its port to its `expose` and a flow",
                topo.svc_names[&t.server],
                t.why.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
            continue;
        }
        let e = topo
            .flows
            .entry((topo.zone_names[hc].clone(), topo.zone_names[hs].clone()))
            .or_default();
        e.0.insert(topo.svc_names[&t.client].clone());
        e.1.extend(ports);
        e.2.insert(format!(
            "{} -> {} ({})",
            topo.svc_names[&t.client],
            topo.svc_names[&t.server],
            t.why.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
}

/// `[host] internal_gateway_mode = "isolated"` when an internal network that becomes a zone had
/// Docker's `isolated` gateway mode (its bridge without a host address): hardgen sets the mode
/// for every internal zone, so a network that had it keeps it.
pub(super) fn write_host(doc: &mut Doc, p: &Project, topo: &Topology) {
    let (isolated, others): (Vec<_>, Vec<_>) = topo
        .zone_names
        .keys()
        .filter_map(|net| p.networks.get(net))
        .filter(|n| n.internal)
        .partition(|n| n.gateway_mode.as_deref() == Some("isolated"));
    if isolated.is_empty() {
        return;
    }
    let mut why = format!(
        "import: {} had gateway_mode_ipv4 `isolated` (Engine 28+)",
        code_list(&isolated)
    );
    if !others.is_empty() {
        why.push_str(&format!(
            "; now also {}, which are internal too",
            code_list(&others)
        ));
    }
    doc.line("[host]", None);
    doc.line("internal_gateway_mode = \"isolated\"", Some(why));
    doc.blank();
}

/// The networks' names `a`, `b` and `c`, each in backquotes.
fn code_list(nets: &[&crate::compose_in::Network]) -> String {
    let quoted: Vec<String> = nets.iter().map(|n| format!("`{}`", n.name)).collect();
    match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// The `[zones.NAME]` tables: egress from what the members publish or need.
pub(super) fn write_zones(doc: &mut Doc, p: &Project, topo: &Topology, decide: &mut Vec<String>) {
    for (net, zone) in &topo.zone_names {
        let members: Vec<&Service> = p
            .services
            .values()
            .filter(|s| topo.home.get(&s.name) == Some(net))
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
            .map(|s| topo.svc_names[&s.name].clone())
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
        match original.and_then(|n| n.gateway_mode.as_deref()) {
            None | Some("nat") => {}
            Some("isolated") if internal => {}
            Some("nat-unprotected") => doc.comment(
                "import: the network's gateway_mode_ipv4 `nat-unprotected` becomes `nat`: direct routing to the zone's containers stays blocked",
            ),
            Some(mode) => doc.comment(&format!(
                "TODO: the network's gateway_mode_ipv4 was `{mode}`; hardgen gives {}",
                if internal {
                    "internal zones `nat`, or `isolated` with `[host] internal_gateway_mode`"
                } else {
                    "egress zones `nat` (their traffic leaves through the host's address)"
                }
            )),
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
}

/// The `[[flows]]` tables.
pub(super) fn write_flows(doc: &mut Doc, topo: &Topology) {
    for ((from, to), (clients, ports, why)) in &topo.flows {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_in_a_value() {
        // A URL: its authority's hosts only, not the scheme, the user, the password or the
        // path (a database named like a service is no connection to it).
        assert_eq!(
            hosts_in("postgres://u:p@db:5432/umami"),
            vec![("db".to_string(), Some(5432))]
        );
        assert_eq!(
            hosts_in("mongodb://a:1,b:2/x?replicaSet=rs cache:6379"),
            vec![
                ("a".to_string(), Some(1)),
                ("b".into(), Some(2)),
                ("cache".into(), Some(6379))
            ]
        );
        assert_eq!(
            hosts_in("db,redis:6379"),
            vec![("db".to_string(), None), ("redis".into(), Some(6379))]
        );
        assert!(names_no_host("POSTGRES_USER") && names_no_host("MYSQL_DATABASE"));
        assert!(!names_no_host("DB_HOST") && !names_no_host("REDIS_URL"));
    }
}
