//! Model -> Plan: every derived decision, made once, so renderers only format.
//!
//! Addressing: in each zone subnet the lower half holds the zone's own services (members,
//! from offset 2; offset 1 is the gateway) and the upper half holds flow clients (services of
//! other zones attached to this zone's network so that a flow can reach it). The firewall
//! can then name "the clients of zone Z" and "the members of zone Z" as two CIDR blocks.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::sync::OnceLock;

use crate::detect;
use crate::layout::Layout;
use crate::model::*;
use crate::seccomp;

pub struct Plan<'m> {
    pub model: &'m Model,
    pub zones: Vec<PlannedZone>,
    pub services: Vec<PlannedService<'m>>,
    /// Seccomp profile name -> policy; each file is `seccomp/<name>.json`.
    pub seccomp_profiles: BTreeMap<String, seccomp::Policy>,
    pub firewall: Firewall,
    pub secrets: Vec<PlannedSecret>,
    pub named_volumes: BTreeSet<String>,
}

pub struct PlannedZone {
    pub name: String,
    pub subnet: Ipv4Net,
    pub gateway: Ipv4Addr,
    pub bridge: String,
    pub internal: bool,
    pub members: Ipv4Net,
    pub clients: Ipv4Net,
    pub member_services: Vec<String>,
    pub client_services: Vec<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Member,
    Client,
}

pub struct Attachment {
    pub zone: String,
    pub address: Ipv4Addr,
    pub role: Role,
}

pub struct PlannedService<'m> {
    pub svc: &'m Service,
    /// Names pinned in /etc/hosts: a flow target reached from a client that shares several
    /// networks with it. Docker's DNS would answer with the target's address on any shared
    /// network (possibly its own client address, which the firewall drops); the flow is
    /// allowed to its address in the flow's zone only.
    pub pinned_hosts: Vec<(String, Ipv4Addr)>,
    /// Supplementary groups (of the shared secrets it reads).
    pub group_add: Vec<u32>,
    /// Sorted by zone name.
    pub networks: Vec<Attachment>,
    pub seccomp_profile: String,
    /// Its tmpfs mounts (`Service::tmpfs_mounts`), for every target.
    pub tmpfs: Vec<TmpfsMount>,
    /// The image reference: the spec's, or for a built service `built_image`'s.
    pub image: String,
    pub dockerfile: Option<String>,
    /// Build services: where Compose finds the source and the Dockerfile.
    pub build: Option<BuildPaths>,
    /// Its process allowlist, made by the first renderer that asks (`allowlist`).
    allowlist: OnceLock<detect::Allowlist>,
}

impl PlannedService<'_> {
    /// The service's process allowlist (`detect::allowlist`), which the security check and
    /// the Falco rules both use: made once, by whichever of the two render threads asks
    /// first, not once by each.
    pub fn allowlist(&self) -> &detect::Allowlist {
        self.allowlist.get_or_init(|| detect::allowlist(self.svc))
    }

    /// The paths the service may write (its tmpfs mounts and writable volumes), sorted: what
    /// its AppArmor profile and its Falco rules allow.
    pub fn writable_paths(&self) -> Vec<String> {
        let mut out: Vec<String> = self.tmpfs.iter().map(|t| t.path.clone()).collect();
        out.extend(
            self.svc
                .volumes
                .iter()
                .filter(|v| !v.read_only)
                .map(|v| v.target.clone()),
        );
        out.sort();
        out.dedup();
        out
    }
}

/// A build's paths as the compose file writes them.
pub struct BuildPaths {
    /// The user's source (relative to the spec) as seen from the output directory.
    pub context: String,
    /// The generated Dockerfile as seen from the context.
    pub dockerfile: String,
}

pub struct PlannedSecret {
    pub name: String,
    /// Supplementary group of the readers when several users share the secret.
    pub group: Option<u32>,
    pub bytes: u32,
    pub owner: User,
    pub mode: u32,
    pub used_by: Vec<String>,
    pub description: Option<String>,
    /// Built from other secrets (`Secret::template`) rather than random bytes.
    pub template: Option<Vec<TemplatePart>>,
}

/// What a firewall rule does with a packet that matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Let it through, past Docker's own rules (iptables ACCEPT ends FORWARD; under nftables the
    /// packet is marked with [`FWMARK`] so that Docker's chains accept it too).
    Accept,
    Drop,
    /// Hardgen has no opinion: Docker's (or the host's) own rules decide.
    Return,
}

/// One condition of a rule; the iptables and nftables renderers spell each the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// Part of (or related to) a connection already allowed.
    Established,
    /// Belongs to no connection.
    Invalid,
    InIf {
        not: bool,
        name: String,
    },
    OutIf {
        not: bool,
        name: String,
    },
    Src(Ipv4Net),
    Dst(Ipv4Net),
    Port(PortProto),
    /// The destination before any DNAT was in this network (a published port's host address).
    OrigDst(Ipv4Net),
    /// The destination was not rewritten by DNAT (not a published port).
    NotDnat,
}

pub struct Rule {
    pub comment: String,
    pub matches: Vec<Match>,
    pub verdict: Verdict,
}

impl Rule {
    fn new(comment: impl Into<String>, matches: Vec<Match>, verdict: Verdict) -> Rule {
        Rule {
            comment: comment.into(),
            matches,
            verdict,
        }
    }
}

/// The firewall mark bit hardgen's nftables table sets on what it accepts (other bits of the
/// mark are kept), as value and mask: Engine 29 with the nftables backend must run with
/// `--bridge-accept-fwmark=0x1000000/0x1000000` (`"bridge-accept-fwmark"` in daemon.json) so
/// that Docker's own nftables rules, which run after hardgen's, accept it too.
pub const FWMARK: (u32, u32) = (0x0100_0000, 0x0100_0000);

pub struct Firewall {
    /// Chain jumped to from DOCKER-USER (container traffic through the host).
    pub forward_chain: String,
    /// Chain jumped to from INPUT (container traffic to the host itself).
    pub input_chain: String,
    /// hardgen's own nftables table (`table ip <name>`), for the nftables backend.
    pub nft_table: String,
    pub forward: Vec<Rule>,
    pub input: Vec<Rule>,
}

/// The image a built service is named in every target: `[<registry>/]<project>-<service>:<tag>`
/// (Compose tags its build with it, swarm and Kubernetes run it, `build-images.sh` builds and
/// pushes it).
fn built_image(project: &Project, service: &str) -> String {
    let mut image = String::new();
    if let Some(r) = &project.registry {
        image.push_str(r);
        image.push('/');
    }
    image.extend([project.name.as_str(), "-", service, ":", &project.image_tag]);
    image
}

pub fn plan<'m>(model: &'m Model, layout: &Layout) -> Plan<'m> {
    let zones = plan_zones(model);
    let services = plan_services(model, &zones);
    let (seccomp_profiles, profile_of) = plan_seccomp(&services);
    let services = services
        .into_iter()
        .zip(profile_of)
        .map(|((svc, networks), seccomp_profile)| {
            let (image, dockerfile, build) = match &svc.source {
                Source::Image(i) => (i.text(), None, None),
                Source::Build(b) => {
                    let dockerfile = ["dockerfiles/", svc.name.as_str(), ".Dockerfile"].concat();
                    let paths = BuildPaths {
                        context: layout.context_from_out(&b.context),
                        dockerfile: layout.from_context(&b.context, &dockerfile),
                    };
                    (
                        built_image(&model.project, &svc.name),
                        Some(dockerfile),
                        Some(paths),
                    )
                }
            };
            PlannedService {
                svc,
                pinned_hosts: Vec::new(),
                group_add: Vec::new(),
                networks,
                seccomp_profile,
                tmpfs: svc.tmpfs_mounts(),
                image,
                dockerfile,
                build,
                allowlist: OnceLock::new(),
            }
        })
        .collect::<Vec<_>>();
    let services = pin_flow_targets(model, &zones, services);
    let firewall = plan_firewall(model, &zones, &services);
    let secrets = plan_secrets(model);
    let group_of: BTreeMap<&str, u32> = secrets
        .iter()
        .filter_map(|s| s.group.map(|g| (s.name.as_str(), g)))
        .collect();
    let services = services
        .into_iter()
        .map(|mut ps| {
            let mut groups: Vec<u32> = ps
                .svc
                .secrets
                .iter()
                .filter_map(|n| group_of.get(n.as_str()).copied())
                .collect();
            groups.sort_unstable();
            groups.dedup();
            ps.group_add = groups;
            ps
        })
        .collect();
    let named_volumes = model
        .services
        .values()
        .flat_map(|s| s.volumes.iter())
        .filter_map(|v| match &v.source {
            VolumeSource::Named(n) => Some(n.clone()),
            VolumeSource::Host(_) => None,
        })
        .collect();
    Plan {
        model,
        zones,
        services,
        seccomp_profiles,
        firewall,
        secrets,
        named_volumes,
    }
}

fn plan_zones(model: &Model) -> Vec<PlannedZone> {
    // Each zone's members in the services' order, in one pass over the services (a scan of
    // every service for every zone grew with zones x services).
    let mut members: HashMap<&str, Vec<String>> = HashMap::new();
    for s in model.services.values() {
        for z in &s.zones {
            let v = members.entry(z.as_str()).or_default();
            if v.last() != Some(&s.name) {
                v.push(s.name.clone());
            }
        }
    }
    model
        .zones
        .values()
        .map(|z| {
            let subnet = z.subnet;
            let half = Ipv4Net {
                addr: subnet.network(),
                prefix: subnet.prefix + 1,
            };
            let clients = Ipv4Net {
                addr: subnet.host((subnet.size() / 2) as u32),
                prefix: subnet.prefix + 1,
            };
            let member_services = members.remove(z.name.as_str()).unwrap_or_default();
            let client_services: Vec<String> = z.clients.iter().cloned().collect();
            PlannedZone {
                name: z.name.clone(),
                subnet,
                gateway: subnet.host(1),
                bridge: z.bridge.clone(),
                internal: !z.egress,
                members: half,
                clients,
                member_services,
                client_services,
                description: z.description.clone(),
            }
        })
        .collect()
}

fn plan_services<'m>(
    model: &'m Model,
    zones: &[PlannedZone],
) -> Vec<(&'m Service, Vec<Attachment>)> {
    // service -> its attachments, in zone order: each zone numbers its members and clients.
    let mut nets: BTreeMap<&str, Vec<Attachment>> = BTreeMap::new();
    for z in zones {
        for (i, name) in z.member_services.iter().enumerate() {
            nets.entry(name).or_default().push(Attachment {
                zone: z.name.clone(),
                address: z.subnet.host(2 + i as u32),
                role: Role::Member,
            });
        }
        for (i, name) in z.client_services.iter().enumerate() {
            nets.entry(name).or_default().push(Attachment {
                zone: z.name.clone(),
                address: z.clients.host(i as u32),
                role: Role::Client,
            });
        }
    }
    model
        .services
        .values()
        .map(|svc| {
            let mut n = nets.remove(svc.name.as_str()).unwrap_or_default();
            n.sort_by(|a, b| a.zone.cmp(&b.zone));
            (svc, n)
        })
        .collect()
}

fn policy_of(svc: &Service) -> seccomp::Policy {
    let mut allow = svc.seccomp.allow.clone();
    if let Some(learned) = &svc.seccomp.learned {
        allow.extend(crate::learn::profile_names(
            learned,
            svc.init,
            svc.no_new_privileges,
        ));
    }
    seccomp::Policy {
        preset: svc.seccomp.preset,
        allow,
        deny: svc.seccomp.deny.clone(),
        caps: svc.cap_add.clone(),
    }
}

/// One profile per distinct filter: a bare preset is named after it; a customised one after
/// the first service (by name) that uses it. Policies that render the same filter (a
/// capability that opens no syscall) share one profile. Returns the profiles and each
/// service's profile name, in `services`' order; each distinct policy is rendered once.
fn plan_seccomp(
    services: &[(&Service, Vec<Attachment>)],
) -> (BTreeMap<String, seccomp::Policy>, Vec<String>) {
    let mut profiles: BTreeMap<String, seccomp::Policy> = BTreeMap::new();
    let mut profile_of: Vec<String> = Vec::with_capacity(services.len());
    let mut by_policy: BTreeMap<seccomp::Policy, String> = BTreeMap::new();
    let mut by_text: BTreeMap<String, String> = BTreeMap::new();
    for (svc, _) in services {
        let policy = policy_of(svc);
        let name = match by_policy.get(&policy) {
            Some(name) => name.clone(),
            None => {
                let text = seccomp::render_profile(&policy);
                let name = match by_text.get(&text) {
                    Some(name) => name.clone(),
                    None => {
                        let bare = policy.allow.is_empty()
                            && policy.deny.is_empty()
                            && policy.caps.is_empty();
                        let name = if bare {
                            policy.preset.name().to_string()
                        } else {
                            format!("{}-{}", policy.preset.name(), svc.name)
                        };
                        by_text.insert(text, name.clone());
                        profiles.insert(name.clone(), policy.clone());
                        name
                    }
                };
                by_policy.insert(policy, name.clone());
                name
            }
        };
        profile_of.push(name);
    }
    (profiles, profile_of)
}

fn pin_flow_targets<'m>(
    model: &Model,
    zones: &[PlannedZone],
    mut services: Vec<PlannedService<'m>>,
) -> Vec<PlannedService<'m>> {
    let address_in: BTreeMap<(&str, &str), Ipv4Addr> = services
        .iter()
        .flat_map(|ps| {
            ps.networks
                .iter()
                .filter(|a| a.role == Role::Member)
                .map(move |a| ((ps.svc.name.as_str(), a.zone.as_str()), a.address))
        })
        .collect();
    // Names are borrowed until the end; a target zone's members (with their address there)
    // are looked up once for all the flows to it and all their clients.
    let mut pins: BTreeMap<&str, BTreeMap<&str, Ipv4Addr>> = BTreeMap::new();
    let mut targets_of: HashMap<&str, Vec<(&str, &Service, Ipv4Addr)>> = HashMap::new();
    for f in &model.flows {
        let Some(zone) = zones.iter().find(|z| z.name == f.to) else {
            continue;
        };
        let targets = targets_of.entry(f.to.as_str()).or_insert_with(|| {
            zone.member_services
                .iter()
                .filter_map(|target| {
                    let t = model.services.get(target)?;
                    let addr = address_in.get(&(target.as_str(), f.to.as_str()))?;
                    Some((target.as_str(), t, *addr))
                })
                .collect()
        });
        for client in f
            .clients
            .iter()
            .filter(|c| zone.client_services.contains(c))
        {
            let Some(c) = model.services.get(client) else {
                continue;
            };
            // Looked up once for all the targets (a client left without a pin gets an empty
            // map: no pinned hosts, as without the entry).
            let client_pins = pins.entry(client.as_str()).or_default();
            for &(target, t, addr) in targets.iter() {
                // Members of a common zone talk there directly: nothing to pin.
                if c.zones.iter().any(|z| t.zones.contains(z)) {
                    continue;
                }
                client_pins.entry(target).or_insert(addr);
            }
        }
    }
    for ps in &mut services {
        if let Some(p) = pins.remove(ps.svc.name.as_str()) {
            ps.pinned_hosts = p.into_iter().map(|(n, a)| (n.to_string(), a)).collect();
        }
    }
    services
}

fn plan_firewall(model: &Model, zones: &[PlannedZone], services: &[PlannedService]) -> Firewall {
    use Match::*;
    let p = &model.project.name;
    let mut forward = vec![
        Rule::new(
            "replies to allowed connections",
            vec![Established],
            Verdict::Accept,
        ),
        Rule::new(
            "packets that belong to no connection",
            vec![Invalid],
            Verdict::Drop,
        ),
        Rule::new(
            "ports published on 127.0.0.1 are never reached from another host (moby#45610)",
            vec![OrigDst(Ipv4Net {
                addr: Ipv4Addr::new(127, 0, 0, 0),
                prefix: 8,
            })],
            Verdict::Drop,
        ),
    ];
    forward.extend(flow_rules(model, zones, services));
    forward.extend(client_rules(zones));
    forward.extend(zone_rules(zones, model.project.pool));
    forward.push(Rule::new(
        "everything else: Docker's own rules decide",
        vec![],
        Verdict::Return,
    ));
    Firewall {
        forward_chain: format!("HG-{p}-FWD"),
        input_chain: format!("HG-{p}-IN"),
        nft_table: format!("hardgen-{p}"),
        forward,
        input: input_rules(zones),
    }
}

fn in_if(not: bool, bridge: &str) -> Match {
    Match::InIf {
        not,
        name: bridge.to_string(),
    }
}

fn out_if(not: bool, bridge: &str) -> Match {
    Match::OutIf {
        not,
        name: bridge.to_string(),
    }
}

/// One accept per flow, client and port: from the client's address in the target zone to the
/// zone's members on that port.
fn flow_rules(model: &Model, zones: &[PlannedZone], services: &[PlannedService]) -> Vec<Rule> {
    use Match::*;
    let zone = |n: &str| {
        zones
            .iter()
            .find(|z| z.name == n)
            .expect("flow zones exist")
    };
    let by_name: BTreeMap<&str, &PlannedService> =
        services.iter().map(|s| (s.svc.name.as_str(), s)).collect();
    let mut rules = Vec::new();
    for f in &model.flows {
        let to = zone(&f.to);
        for client in &f.clients {
            let Some(addr) = by_name
                .get(client.as_str())
                .and_then(|s| {
                    s.networks
                        .iter()
                        .find(|a| a.zone == f.to && a.role == Role::Client)
                })
                .map(|a| a.address)
            else {
                // A client that is also a member of the target zone needs no flow rule.
                continue;
            };
            for port in &f.ports {
                let mut comment =
                    String::with_capacity(f.from.len() + f.to.len() + client.len() + 32);
                comment.extend(["flow ", &f.from, " -> ", &f.to, ": ", client, " may reach "]);
                port.push_to(&mut comment);
                rules.push(Rule::new(
                    comment,
                    vec![
                        in_if(false, &to.bridge),
                        out_if(false, &to.bridge),
                        Src(Ipv4Net { addr, prefix: 32 }),
                        Dst(to.members),
                        Port(*port),
                    ],
                    Verdict::Accept,
                ));
            }
        }
    }
    rules
}

/// In a zone with flow clients: the clients reach nothing but their flows, are reached by
/// nothing, and do not use the zone's way out.
fn client_rules(zones: &[PlannedZone]) -> Vec<Rule> {
    use Match::*;
    let mut rules = Vec::new();
    for z in zones.iter().filter(|z| !z.client_services.is_empty()) {
        rules.push(Rule::new(
            format!("zone {}: flow clients reach nothing else", z.name),
            vec![
                in_if(false, &z.bridge),
                out_if(false, &z.bridge),
                Src(z.clients),
            ],
            Verdict::Drop,
        ));
        rules.push(Rule::new(
            format!(
                "zone {}: its services open no connection to clients",
                z.name
            ),
            vec![
                in_if(false, &z.bridge),
                out_if(false, &z.bridge),
                Dst(z.clients),
            ],
            Verdict::Drop,
        ));
        if !z.internal {
            rules.push(Rule::new(
                format!("zone {}: flow clients do not use its way out", z.name),
                vec![
                    in_if(false, &z.bridge),
                    out_if(true, &z.bridge),
                    Src(z.clients),
                ],
                Verdict::Drop,
            ));
        }
    }
    rules
}

/// Each zone: nothing to or from other zones, from outside only replies and published ports,
/// and nothing out of an internal zone.
fn zone_rules(zones: &[PlannedZone], pool: Ipv4Net) -> Vec<Rule> {
    use Match::*;
    let mut rules = Vec::new();
    for z in zones {
        rules.push(Rule::new(
            format!("zone {}: no traffic to other zones", z.name),
            vec![in_if(false, &z.bridge), out_if(true, &z.bridge), Dst(pool)],
            Verdict::Drop,
        ));
        rules.push(Rule::new(
            format!("zone {}: nothing from other zones", z.name),
            vec![in_if(true, &z.bridge), out_if(false, &z.bridge), Src(pool)],
            Verdict::Drop,
        ));
        rules.push(Rule::new(
            format!(
                "zone {}: from outside it only replies and published ports (no direct routing)",
                z.name
            ),
            vec![in_if(true, &z.bridge), out_if(false, &z.bridge), NotDnat],
            Verdict::Drop,
        ));
        if z.internal {
            rules.push(Rule::new(
                format!("zone {} is internal: nothing leaves it", z.name),
                vec![in_if(false, &z.bridge), out_if(true, &z.bridge)],
                Verdict::Drop,
            ));
        }
    }
    rules
}

/// The host's INPUT: replies, and no connection from any zone to the host.
fn input_rules(zones: &[PlannedZone]) -> Vec<Rule> {
    use Match::*;
    let mut input = vec![Rule::new(
        "replies to connections the host opened",
        vec![Established],
        Verdict::Accept,
    )];
    for z in zones {
        input.push(Rule::new(
            format!(
                "zone {}: no connection to the host (gateway {}, host services, published ports through docker-proxy)",
                z.name, z.gateway
            ),
            vec![in_if(false, &z.bridge)],
            Verdict::Drop,
        ));
    }
    input.push(Rule::new(
        "everything else: the host's own rules decide",
        vec![],
        Verdict::Return,
    ));
    input
}

fn plan_secrets(model: &Model) -> Vec<PlannedSecret> {
    let mut shared_index = 0;
    // secret -> its readers, in one pass over the services.
    let mut readers: BTreeMap<&str, Vec<(&String, User)>> = BTreeMap::new();
    for svc in model.services.values() {
        for n in &svc.secrets {
            readers
                .entry(n.as_str())
                .or_default()
                .push((&svc.name, svc.user));
        }
    }
    model
        .secrets
        .values()
        .map(|s| {
            let users: Vec<(&String, User)> = readers.remove(s.name.as_str()).unwrap_or_default();
            let uids: BTreeSet<u32> = users.iter().map(|(_, u)| u.uid).collect();
            // Compose bind-mounts secret files with their host owner and mode: the file must
            // belong to the service user, or to its group when several users share it.
            // Several users: a group of its own that every reader gets as a supplementary
            // group, so no reader gains access to the others' files.
            let (owner, mode, group) = match (users.first(), uids.len()) {
                (None, _) => (User { uid: 0, gid: 0 }, 0o600, None),
                (Some((_, u)), 1) => (*u, 0o400, None),
                (Some(_), _) => {
                    let gid = s.gid.unwrap_or(30000 + shared_index);
                    shared_index += 1;
                    (User { uid: 0, gid }, 0o440, Some(gid))
                }
            };
            PlannedSecret {
                name: s.name.clone(),
                group,
                bytes: s.bytes,
                owner,
                mode,
                used_by: users.iter().map(|(n, _)| (*n).clone()).collect(),
                description: s.description.clone(),
                template: s.template.clone(),
            }
        })
        .collect()
}
