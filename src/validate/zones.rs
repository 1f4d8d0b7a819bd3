//! Zones and addresses: zone names, subnets (checked, then allocated from the pool), the
//! pool's privacy, capacity, bridge names, services that would join two zones, and host
//! ports published twice.

use super::*;

/// Interface names a zone's bridge must never take.
pub(super) const RESERVED_BRIDGES: &[&str] =
    &["lo", "docker0", "docker_gwbridge", "all", "default"];

/// Address ranges a pool may lie in: RFC 1918 and RFC 6598 (shared address space).
pub(super) const PRIVATE_RANGES: &[(&str, &str)] = &[
    ("10.0.0.0/8", "RFC 1918"),
    ("172.16.0.0/12", "RFC 1918"),
    ("192.168.0.0/16", "RFC 1918"),
    ("100.64.0.0/10", "RFC 6598"),
];
/// Special-purpose ranges named when a pool covers them (RFC 6890).
const SPECIAL_RANGES: &[(&str, &str)] = &[
    ("0.0.0.0/8", "\"this network\""),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
];

/// Why `net` is not inside one private range, or `None` when it is.
pub(super) fn not_private(net: Ipv4Net) -> Option<String> {
    let parse = |s: &str| Ipv4Net::parse(s).expect("literal range parses");
    let inside = |outer: Ipv4Net| {
        net.prefix >= outer.prefix
            && Ipv4Net {
                addr: net.addr,
                prefix: outer.prefix,
            }
            .network()
                == outer.addr
    };
    let overlaps = |other: Ipv4Net| {
        let p = net.prefix.min(other.prefix);
        Ipv4Net {
            addr: net.addr,
            prefix: p,
        }
        .network()
            == Ipv4Net {
                addr: other.addr,
                prefix: p,
            }
            .network()
    };
    if PRIVATE_RANGES.iter().any(|(r, _)| inside(parse(r))) {
        return None;
    }
    let special: Vec<String> = SPECIAL_RANGES
        .iter()
        .filter(|(r, _)| overlaps(parse(r)))
        .map(|(r, what)| format!("{what} addresses ({r})"))
        .collect();
    let private: Vec<String> = PRIVATE_RANGES
        .iter()
        .filter(|(r, _)| overlaps(parse(r)))
        .map(|(r, _)| (*r).to_string())
        .collect();
    // Whether anything of it is ordinary public space: not private, not special.
    let covered: u64 = PRIVATE_RANGES
        .iter()
        .chain(SPECIAL_RANGES)
        .map(|(r, _)| parse(r))
        .filter(|r| overlaps(*r))
        .map(|r| 1u64 << (32 - r.prefix.max(net.prefix)))
        .sum();
    let public = covered < 1u64 << (32 - net.prefix);
    let mut parts = Vec::new();
    if public {
        parts.push("public addresses".to_string());
    }
    parts.extend(special);
    let what = list(parts);
    Some(match private.as_slice() {
        [] => format!("is not a private range: it holds {what}"),
        _ => format!(
            "is not inside one private range: beyond {} it holds {what}",
            list(private)
        ),
    })
}

impl Validator<'_> {
    /// A service that is a member of two zones a flow joins (or of an egress zone and an
    /// internal one) voids their separation: E042 unless `unsafe.bridges_zones` keeps it.
    pub(super) fn zone_bridges(
        &mut self,
        raw: &RawSpec,
        services: &BTreeMap<String, Service>,
        flows: &[Flow],
        zones: &BTreeMap<String, Zone>,
    ) {
        for (name, rs) in &raw.services {
            let Some(svc) = services.get(&name.value) else {
                continue;
            };
            if rs.unsafe_.as_ref().is_some_and(|u| u.bridges_zones) {
                continue;
            }
            for b in zone_bridges(svc, flows, zones) {
                let n = &svc.name;
                let span = rs
                    .zones
                    .iter()
                    .find(|z| z.value == b.extra)
                    .map_or_else(|| name.span.clone(), |z| z.span.clone());
                let reach = zone_reach(svc, &b.extra, services, flows);
                let (title, fix) = match b.flow.map(|i| &flows[i]) {
                    Some(f) => {
                        let ports = list(f.ports.iter().map(ToString::to_string));
                        let listed = if f.clients.contains(n) {
                            String::new()
                        } else {
                            format!(" and list `{n}` in the flow's `clients`")
                        };
                        (
                            format!(
                                "service `{n}` is a member of both `{}` and `{}`: the flow `{} -> {}` ({ports}) limits nothing for it",
                                b.home, b.extra, f.from, f.to
                            ),
                            format!(
                                "make it a member of `{home}` only (`zones = [\"{home}\"]`){listed}: the flow `{home} -> {extra}` then attaches it to `{extra}` as a client that reaches {ports} only",
                                home = b.home, extra = b.extra
                            ),
                        )
                    }
                    None => (
                        format!(
                            "service `{n}` is a member of the egress zone `{}` and of the internal zone `{}`: it joins a zone that has a way out to one that has none",
                            b.home, b.extra
                        ),
                        format!(
                            "make it a member of `{home}` only (`zones = [\"{home}\"]`) and add a flow for the ports it needs: `[[flows]]` with `from = \"{home}\"`, `to = \"{extra}\"`, `ports = [...]`, `clients = [\"{n}\"]`",
                            home = b.home, extra = b.extra
                        ),
                    ),
                };
                self.push(
                    Diagnostic::error("E042", title)
                        .at(span, format!("as a member of `{}` it reaches {reach}", b.extra))
                        .help(format!(
                            "{fix}; to keep both memberships, set `unsafe = {{ bridges_zones = true, reason = \"...\" }}`"
                        )),
                );
            }
        }
    }

    /// The zones: names, subnets (the spec's, checked, then the missing ones allocated),
    /// capacity and bridge names. The model's zones carry what was settled here; with an
    /// error reported, the placeholders of what could not be settled are never used (no
    /// model is returned).
    pub(super) fn zones(
        &mut self,
        raw: &RawSpec,
        project: &Project,
        services: &BTreeMap<String, Service>,
        flows: &[Flow],
    ) -> BTreeMap<String, Zone> {
        let mut subnets = self.zone_subnets(raw, project, services);
        let mut clients = zone_clients(services, flows);
        self.zone_capacity(&subnets, services, &clients);
        let mut bridges = self.zone_bridge_names(raw, project);
        raw.zones
            .iter()
            .map(|(name, z)| {
                let n = &name.value;
                let zone = Zone {
                    name: n.clone(),
                    subnet: subnets
                        .remove(n)
                        .and_then(|(_, s)| s)
                        .unwrap_or(project.pool),
                    egress: z.egress.as_ref().is_some_and(|e| e.value),
                    bridge: bridges.remove(n).unwrap_or_default(),
                    description: z.description.clone(),
                    clients: clients.remove(n).unwrap_or_default(),
                };
                (n.clone(), zone)
            })
            .collect()
    }

    /// Each zone's subnet: the spec's (checked against the pool and the other zones), else
    /// the lowest free block of the pool, in zone order. `None` where an error was reported.
    fn zone_subnets(
        &mut self,
        raw: &RawSpec,
        project: &Project,
        services: &BTreeMap<String, Service>,
    ) -> BTreeMap<String, (Range<usize>, Option<Ipv4Net>)> {
        let mut zones = BTreeMap::new();
        let mut taken: Vec<(Ipv4Net, String, Range<usize>)> = Vec::new();
        let members = zone_members(services);
        // Zone references that name no zone (each reported with its suggestion), found once
        // rather than for every zone.
        let names: BTreeSet<&str> = raw.zones.keys().map(|k| k.value.as_str()).collect();
        let unknown: Vec<&str> = raw
            .services
            .values()
            .flat_map(|s| &s.zones)
            .map(|z| z.value.as_str())
            .filter(|z| !names.contains(z))
            .collect();
        for (name, z) in &raw.zones {
            if !name_ok(&name.value, 32, b"_-") {
                self.err(
                    "E002",
                    &name.span,
                    format!("`{}` is not a valid zone name", show(&name.value)),
                    "lower-case letters, digits, `_` and `-`, at most 32",
                );
            }
            self.text(&z.description, "a zone's description", &name.span);
            let subnet = z.subnet.as_ref().and_then(|s| match Ipv4Net::parse(&s.value) {
                Err(e) => {
                    self.err("E003", &s.span, e, "invalid subnet");
                    None
                }
                Ok(n) if n.prefix > 28 => {
                    self.err("E006", &s.span, format!("`{n}` is too small: a zone needs at least a /28"), "too small");
                    None
                }
                Ok(n) if !project.pool.contains_net(&n) => {
                    self.push(
                        Diagnostic::error("E004", format!("subnet `{n}` is outside the project's pool `{}`", project.pool))
                            .at(s.span.clone(), "outside the pool")
                            .help("choose a subnet inside the pool, or set `project.subnet_pool` to a pool that contains it"),
                    );
                    None
                }
                Ok(n) => {
                    if let Some((o, other, at)) = taken.iter().find(|(t, _, _)| t.overlaps(&n)) {
                        self.push(
                            Diagnostic::error("E005", format!("subnet `{n}` overlaps the subnet of zone `{other}`"))
                                .at(s.span.clone(), "overlapping subnet")
                                .also(at.clone(), format!("zone `{other}` has `{o}`")),
                        );
                    }
                    taken.push((n, name.value.clone(), s.span.clone()));
                    Some(n)
                }
            });
            // A misspelt reference (`fornt`) already reported with this zone as its
            // suggestion: saying the zone is empty as well would be a knock-on message.
            let misspelt_here = unknown
                .iter()
                .any(|z| did_you_mean(z, [name.value.as_str()]).is_some());
            if !members.contains_key(name.value.as_str()) && !misspelt_here {
                self.push(
                    Diagnostic::warning("W103", format!("zone `{}` has no services", name.value))
                        .at(name.span.clone(), "empty zone"),
                );
            }
            zones.insert(
                name.value.clone(),
                (name.span.clone(), subnet, z.subnet.is_some()),
            );
        }
        // Allocate the missing subnets: the lowest free blocks of the pool, in zone order.
        let block = 1u64 << (32 - project.zone_prefix);
        let mut next: u64 = 0;
        for (name, (span, subnet, explicit)) in zones.iter_mut() {
            if *explicit {
                continue;
            }
            loop {
                if next + block > project.pool.size() {
                    self.push(
                        Diagnostic::error(
                            "E006",
                            format!(
                                "the pool `{}` has no free /{} left for zone `{name}`",
                                project.pool, project.zone_prefix
                            ),
                        )
                        .at(span.clone(), "no subnet left")
                        .help(
                            "enlarge `project.subnet_pool` or use a longer `project.zone_prefix`",
                        ),
                    );
                    break;
                }
                let cand = Ipv4Net {
                    addr: project.pool.host(next as u32),
                    prefix: project.zone_prefix,
                };
                next += block;
                if !taken.iter().any(|(t, _, _)| t.overlaps(&cand)) {
                    taken.push((cand, name.clone(), span.clone()));
                    *subnet = Some(cand);
                    break;
                }
            }
        }
        zones
            .into_iter()
            .map(|(name, (span, subnet, _))| (name, (span, subnet)))
            .collect()
    }

    /// Members take the lower half of a zone's subnet, clients of flows the upper half.
    fn zone_capacity(
        &mut self,
        subnets: &BTreeMap<String, (Range<usize>, Option<Ipv4Net>)>,
        services: &BTreeMap<String, Service>,
        all_clients: &BTreeMap<String, BTreeSet<String>>,
    ) {
        let all_members = zone_members(services);
        for (name, (span, subnet)) in subnets {
            let Some(net) = *subnet else { continue };
            let members = all_members.get(name.as_str()).copied().unwrap_or(0);
            let clients = all_clients.get(name).map_or(0, BTreeSet::len) as u64;
            let half = net.size() / 2;
            if members > half - 2 || clients > half - 1 {
                self.push(
                    Diagnostic::error("E006", format!("subnet `{net}` of zone `{name}` is too small for {members} services and {clients} flow clients"))
                        .at(span.clone(), "too small")
                        .help(format!("members use the lower half ({} addresses), clients of flows the upper half ({}): use a larger subnet", half - 2, half - 1)),
                );
            }
        }
    }

    /// Bridge names: the spec's (checked) or the default one; at most 15 characters
    /// (IFNAMSIZ), unique.
    fn zone_bridge_names(&mut self, raw: &RawSpec, project: &Project) -> BTreeMap<String, String> {
        let mut bridges: BTreeMap<String, (String, Range<usize>)> = BTreeMap::new();
        let mut out = BTreeMap::new();
        for (key, z) in &raw.zones {
            let (name, span) = (&key.value, &key.span);
            let spec_bridge = z.bridge.as_ref();
            let bridge = match spec_bridge {
                Some(b) => {
                    let ok = !b.value.is_empty()
                        && b.value.len() <= 15
                        && b.value.as_bytes()[0].is_ascii_alphanumeric()
                        && b.value
                            .bytes()
                            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'));
                    if ok && RESERVED_BRIDGES.contains(&b.value.as_str()) {
                        self.push(
                            Diagnostic::error(
                                "E018",
                                format!("`{}` is a reserved interface name", b.value),
                            )
                            .at(b.span.clone(), "taken by the host or Docker")
                            .help("choose a name of the project's own, e.g. `<project>-<zone>`"),
                        );
                    }
                    if !ok {
                        self.push(
                            Diagnostic::error("E018", format!("`{}` is not a valid bridge name", show(&b.value)))
                                .at(b.span.clone(), if b.value.len() > 15 { "longer than 15 characters" } else { "invalid characters" })
                                .help("Linux interface names have at most 15 characters: letters, digits, `-`, `_`, `.`"),
                        );
                    }
                    b.value.clone()
                }
                None => default_bridge(&project.name, name),
            };
            let (at, label) = match spec_bridge {
                Some(b) => (b.span.clone(), "colliding bridge name"),
                None => (span.clone(), "its default bridge name collides"),
            };
            if let Some((other, other_at)) = bridges.get(&bridge) {
                self.push(
                    Diagnostic::error(
                        "E018",
                        format!(
                            "zones `{other}` and `{name}` would share the bridge name `{bridge}`"
                        ),
                    )
                    .at(at.clone(), label)
                    .also(other_at.clone(), format!("zone `{other}`"))
                    .help("set a distinct `bridge = \"...\"` on one of the zones"),
                );
            }
            bridges.insert(bridge.clone(), (name.clone(), at));
            out.insert(name.clone(), bridge);
        }
        out
    }

    pub(super) fn ports(
        &mut self,
        raw: &RawSpec,
        services: &BTreeMap<String, Service>,
        zones: &BTreeMap<String, Zone>,
    ) {
        // Per host port: the addresses it is published on, by which service, where.
        type Published = Vec<(std::net::Ipv4Addr, String, Range<usize>)>;
        let mut seen: BTreeMap<(u16, Proto), Published> = BTreeMap::new();
        // The gateway addresses the host will not have: internal zones' under `isolated`.
        let isolated = raw
            .host
            .internal_gateway_mode
            .as_ref()
            .filter(|m| m.value == crate::spec::GatewayMode::Isolated);
        let gone: BTreeMap<std::net::Ipv4Addr, &str> = zones
            .values()
            .filter(|z| isolated.is_some() && !z.egress)
            .map(|z| (z.subnet.host(1), z.name.as_str()))
            .collect();
        for (name, s) in &raw.services {
            let Some(svc) = services.get(&name.value) else {
                continue;
            };
            let any_egress = svc
                .zones
                .iter()
                .any(|z| zones.get(z).is_some_and(|z| z.egress));
            for (p, sp) in svc.ports.iter().zip(s.ports.iter()) {
                if !any_egress && !svc.zones.is_empty() {
                    self.push(
                        Diagnostic::error("E013", format!("service `{}` publishes {p} but all its zones are internal", name.value))
                            .at(sp.span.clone(), "Docker silently does not publish this")
                            .help("put the service in a zone with `egress = true` as well, or remove the port"),
                    );
                }
                if let (Some(zone), Some(mode)) = (gone.get(&p.host_ip), isolated) {
                    self.push(
                        Diagnostic::error("E063", format!("service `{}` publishes {p} on the gateway address of the internal zone `{zone}`, which the host does not have under `internal_gateway_mode = \"isolated\"`", name.value))
                            .at(sp.span.clone(), "this address will not exist on the host")
                            .also(mode.span.clone(), "internal zones' bridges get no host address")
                            .help("publish on 127.0.0.1 (the default) or an egress zone's gateway, or set `[host] internal_gateway_mode = \"nat\"`"),
                    );
                }
                let key = (p.host_port, p.container.proto);
                let entry = seen.entry(key).or_default();
                let unspecified = std::net::Ipv4Addr::UNSPECIFIED;
                if let Some((_, other, at)) = entry.iter().find(|(ip, _, _)| {
                    *ip == p.host_ip || *ip == unspecified || p.host_ip == unspecified
                }) {
                    self.push(
                        Diagnostic::error(
                            "E012",
                            format!(
                                "host port {}:{}/{} is already published by service `{other}`",
                                p.host_ip,
                                p.host_port,
                                p.container.proto.as_str()
                            ),
                        )
                        .at(sp.span.clone(), "published twice")
                        .also(at.clone(), format!("published by `{other}`"))
                        .help("choose another host port, e.g. `\"HOST_PORT:CONTAINER_PORT\"`"),
                    );
                }
                entry.push((p.host_ip, name.value.clone(), sp.span.clone()));
            }
        }
    }
}

/// What `svc` reaches as a member of `zone`: every port of the zone's other services, and
/// the ports of the zone's flows it uses as one of the zone's services.
fn zone_reach(
    svc: &Service,
    zone: &str,
    services: &BTreeMap<String, Service>,
    flows: &[Flow],
) -> String {
    let peers: Vec<String> = services
        .values()
        .filter(|s| s.name != svc.name && s.zones.iter().any(|z| z == zone))
        .map(|s| format!("`{}`", s.name))
        .collect();
    let mut parts = Vec::new();
    if peers.is_empty() {
        parts.push(format!("every port of every service that joins `{zone}`"));
    } else {
        parts.push(format!("every port of {}", list(peers)));
    }
    for f in flows
        .iter()
        .filter(|f| f.from == zone && f.clients.contains(&svc.name) && !svc.zones.contains(&f.to))
    {
        parts.push(format!(
            "{} of zone `{}` (flow `{} -> {}`)",
            f.ports
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            f.to,
            f.from,
            f.to
        ));
    }
    parts.join(", and ")
}

/// For each zone, the services attached to it as flow clients: the clients of flows into the
/// zone that are not members of it. Computed once (linear in the flows' client lists).
fn zone_clients(
    services: &BTreeMap<String, Service>,
    flows: &[Flow],
) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in flows {
        for c in &f.clients {
            let member = services.get(c).is_some_and(|s| s.zones.contains(&f.to));
            if !member {
                out.entry(f.to.clone()).or_default().insert(c.clone());
            }
        }
    }
    out
}

/// `<project>-<zone>` when it fits in 15 characters; otherwise shortened with a stable hash
/// so that two long names stay distinct.
pub fn default_bridge(project: &str, zone: &str) -> String {
    let full = format!("{project}-{zone}");
    if full.len() <= 15 {
        return full;
    }
    // FNV-1a: stable across platforms and releases (unlike std's hasher).
    let mut h: u32 = 0x811c_9dc5;
    for b in full.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    let prefix: String = full.chars().take(10).collect();
    format!("{}-{:04x}", prefix.trim_end_matches('-'), h & 0xffff)
}

/// How many services are members of each zone (a service that lists a zone twice counts
/// once): one pass over the services instead of one per zone.
fn zone_members(services: &BTreeMap<String, Service>) -> BTreeMap<&str, u64> {
    let mut members = BTreeMap::new();
    for s in services.values() {
        for (i, z) in s.zones.iter().enumerate() {
            if !s.zones[..i].contains(z) {
                *members.entry(z.as_str()).or_insert(0) += 1;
            }
        }
    }
    members
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bridges_fit_in_ifnamsiz() {
        assert_eq!(default_bridge("luna", "app"), "luna-app");
        let b = default_bridge("arkalia", "intelligence");
        assert!(b.len() <= 15, "{b}");
        assert_ne!(b, default_bridge("arkalia", "intelligenc2"));
    }

    #[test]
    fn pools_must_be_private() {
        let why = |s: &str| not_private(Ipv4Net::parse(s).unwrap());
        for ok in [
            "10.0.0.0/8",
            "10.210.0.0/16",
            "172.16.0.0/12",
            "172.31.255.0/24",
            "192.168.0.0/16",
            "100.64.0.0/10",
        ] {
            assert_eq!(why(ok), None, "{ok}");
        }
        for (bad, says) in [
            ("0.0.0.0/0", "public addresses"),
            ("0.0.0.0/1", "loopback addresses (127.0.0.0/8)"),
            ("127.0.0.0/16", "loopback"),
            ("169.254.0.0/16", "link-local"),
            ("224.0.0.0/8", "multicast"),
            ("240.0.0.0/8", "reserved"),
            ("8.8.0.0/16", "public addresses"),
            ("10.0.0.0/7", "beyond 10.0.0.0/8"),
            ("172.32.0.0/16", "public addresses"),
            ("172.0.0.0/11", "beyond 172.16.0.0/12"),
            ("100.0.0.0/9", "public addresses"),
        ] {
            let w = why(bad).unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(w.contains(says), "{bad}: {w}");
        }
    }
}
