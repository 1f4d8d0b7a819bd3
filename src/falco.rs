//! Falco rules for a stack (`falco/hardgen-<project>.yaml`), from what the plan knows of each
//! service: its programs (`detect::allowlist`), user, writable paths, secret files, zones and
//! flows. One rules file per build, in Falco's documented format (lists, macros, rules;
//! <https://falco.org/docs/concepts/rules/basic-elements/>), every field a documented Falco
//! field ([`FIELDS`]). Users extend the generated lists and macros in a file loaded after this
//! one (`append: true` / `override`), without editing it.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use crate::detect;
use crate::model::{Flow, Text};
use crate::plan::{Plan, PlannedService, PlannedZone, Role};
use crate::targets::Target;

/// The Falco fields hardgen's rules may use, from the Falco documentation "Supported Fields
/// for Conditions and Outputs": <https://falco.org/docs/reference/rules/supported-fields/>
/// (event, process, user, file descriptor, container and Kubernetes classes). A field taking
/// an argument is written `name[arg]`. The tests check every field of the generated rules
/// against this list.
pub const FIELDS: &[&str] = &[
    // evt
    "evt.type",
    "evt.dir",
    "evt.res",
    "evt.rawres",
    "evt.failed",
    "evt.is_open_read",
    "evt.is_open_write",
    "evt.time",
    "evt.num",
    "evt.arg",
    // proc
    "proc.name",
    "proc.exe",
    "proc.exepath",
    "proc.cmdline",
    "proc.args",
    "proc.pid",
    "proc.vpid",
    "proc.ppid",
    "proc.pname",
    "proc.pcmdline",
    "proc.aname",
    // user, group
    "user.uid",
    "user.name",
    "group.gid",
    // fd
    "fd.name",
    "fd.directory",
    "fd.filename",
    "fd.typechar",
    "fd.type",
    "fd.num",
    "fd.ip",
    "fd.sip",
    "fd.cip",
    "fd.sport",
    "fd.cport",
    "fd.net",
    "fd.snet",
    "fd.cnet",
    "fd.l4proto",
    // container
    "container.id",
    "container.name",
    "container.image",
    "container.image.repository",
    "container.image.tag",
    "container.label",
    // k8s
    "k8s.ns.name",
    "k8s.pod.name",
    "k8s.pod.label",
];

/// Falco's rule priorities (<https://falco.org/docs/concepts/rules/basic-elements/>).
pub const PRIORITIES: &[&str] = &[
    "EMERGENCY",
    "ALERT",
    "CRITICAL",
    "ERROR",
    "WARNING",
    "NOTICE",
    "INFORMATIONAL",
    "DEBUG",
];

#[derive(Serialize)]
#[serde(untagged)]
enum Item<'a> {
    List {
        list: String,
        items: Vec<Cow<'a, str>>,
    },
    Macro {
        #[serde(rename = "macro")]
        name: String,
        condition: String,
    },
    Rule {
        rule: String,
        desc: String,
        condition: String,
        output: String,
        priority: &'static str,
        tags: &'static [&'static str],
    },
}

fn list<'a>(name: &str, items: Vec<Cow<'a, str>>) -> Item<'a> {
    Item::List {
        list: name.to_string(),
        items,
    }
}

fn mac(name: &str, condition: String) -> Item<'static> {
    Item::Macro {
        name: name.to_string(),
        condition,
    }
}

/// The pieces one after the other, in one allocation (the rules' strings are built by the
/// tens of thousands: `format!` cost twice as much).
fn cat(parts: &[&str]) -> String {
    let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        s.push_str(p);
    }
    s
}

fn quoted(s: &str) -> String {
    cat(&["\"", s, "\""])
}

/// Lists and macros shared by the services' rules (prefixed `hardgen_`; a user file may
/// append to the lists).
fn shared() -> Vec<Item<'static>> {
    let names = |v: &[&'static str]| v.iter().map(|s| Cow::Borrowed(*s)).collect::<Vec<_>>();
    let quoted_names = |v: &[&str]| v.iter().map(|p| Cow::Owned(quoted(p))).collect::<Vec<_>>();
    vec![
        list(
            "hardgen_shells",
            names(&[
                "ash", "bash", "busybox", "csh", "dash", "fish", "ksh", "mksh", "sh", "tcsh",
                "zsh",
            ]),
        ),
        list(
            "hardgen_package_managers",
            names(&[
                "apk", "apt", "apt-get", "aptitude", "cargo", "dnf", "dpkg", "gem", "microdnf",
                "npm", "pip", "pip3", "pnpm", "rpm", "yarn", "yum",
            ]),
        ),
        list(
            "hardgen_network_tools",
            names(&[
                "curl", "dig", "ftp", "nc", "nc.openbsd", "nc.traditional", "ncat", "netcat",
                "nmap", "nslookup", "scp", "socat", "ssh", "tcpdump", "telnet", "tftp", "wget",
            ]),
        ),
        list(
            "hardgen_interpreters",
            names(&[
                "java", "lua", "node", "perl", "php", "python", "python2", "python3", "ruby",
                "tclsh",
            ]),
        ),
        list(
            "hardgen_writable_devices",
            quoted_names(&[
                "/dev/null",
                "/dev/zero",
                "/dev/full",
                "/dev/tty",
                "/dev/pts",
                "/dev/shm",
            ]),
        ),
        list(
            "hardgen_private_networks",
            quoted_names(&[
                "10.0.0.0/8",
                "172.16.0.0/12",
                "192.168.0.0/16",
                "100.64.0.0/10",
                "169.254.0.0/16",
            ]),
        ),
        list(
            "hardgen_container_runtimes",
            quoted_names(&[
                "runc:[0:PARENT]",
                "runc:[1:CHILD]",
                "runc:[2:INIT]",
                "runc",
                "docker-runc",
                "exe",
            ]),
        ),
        mac(
            "hardgen_spawned_process",
            "evt.type in (execve, execveat) and evt.dir = <".into(),
        ),
        mac(
            "hardgen_suspicious_program",
            "proc.name in (hardgen_shells, hardgen_package_managers, hardgen_network_tools, hardgen_interpreters)".into(),
        ),
        mac(
            "hardgen_open_write",
            "evt.type in (open, openat, openat2, creat) and evt.dir = < and evt.is_open_write = true and fd.typechar = f".into(),
        ),
        mac(
            "hardgen_open_read",
            "evt.type in (open, openat, openat2) and evt.dir = < and evt.is_open_read = true and fd.typechar = f".into(),
        ),
        mac(
            "hardgen_outbound",
            "evt.type = connect and evt.dir = < and (fd.typechar = 4 or fd.typechar = 6) and not fd.snet in (\"127.0.0.0/8\") and (evt.rawres >= 0 or evt.res = EINPROGRESS)".into(),
        ),
        mac(
            "hardgen_privilege_change",
            "evt.type in (setuid, setgid, setreuid, setregid, setresuid, setresgid, setfsuid, setfsgid, capset, setns, unshare) and evt.dir = <".into(),
        ),
    ]
}

/// Identifier-safe form of a name (Falco list and macro names: letters, digits, `_`).
fn ident(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// How a target's containers of a service are recognised.
fn container_match(target: Target, project: &str, service: &str) -> String {
    match target {
        Target::Compose => cat(&[
            "container.label[com.docker.compose.project] = \"",
            project,
            "\" and container.label[com.docker.compose.service] = \"",
            service,
            "\"",
        ]),
        Target::Swarm => cat(&[
            "container.label[com.docker.stack.namespace] = \"",
            project,
            "\" and container.label[com.docker.swarm.service.name] = \"",
            project,
            "_",
            service,
            "\"",
        ]),
        Target::Kubernetes => cat(&[
            "k8s.ns.name = \"",
            project,
            "\" and k8s.pod.label[app.kubernetes.io/name] = \"",
            service,
            "\"",
        ]),
    }
}

/// What the rules of every service look up, indexed once per build: the planned zones by
/// name and, for each service, the flows it is a client of (in the spec's order). Scanning
/// the zones and every flow's clients for each service grew with services × flows.
struct Index<'p> {
    zones: HashMap<&'p str, &'p PlannedZone>,
    flows_of: HashMap<&'p str, Vec<&'p Flow>>,
}

impl<'p> Index<'p> {
    fn new(plan: &'p Plan) -> Index<'p> {
        let zones = plan.zones.iter().map(|z| (z.name.as_str(), z)).collect();
        let mut flows_of: HashMap<&str, Vec<&Flow>> = HashMap::new();
        for f in &plan.model.flows {
            for c in &f.clients {
                let v = flows_of.entry(c.as_str()).or_default();
                // a client named twice in one flow still has the flow once
                if !v.last().is_some_and(|l| std::ptr::eq(*l, f)) {
                    v.push(f);
                }
            }
        }
        Index { zones, flows_of }
    }
}

/// Where a service may connect: its zones, and the flows it is a client of (the target
/// zone's own services, on the flow's ports). Compose pins addresses, so the flow target is
/// the members' half of the zone; swarm overlays use the whole zone subnet.
fn destinations(ix: &Index, ps: &PlannedService, target: Target) -> String {
    let mut text = String::new();
    let mut own: BTreeSet<String> = BTreeSet::new();
    for a in &ps.networks {
        if a.role == Role::Member {
            if let Some(z) = ix.zones.get(a.zone.as_str()) {
                own.insert(z.subnet.text());
            }
        }
    }
    if !own.is_empty() {
        text.push_str("fd.snet in (");
        for (i, n) in own.iter().enumerate() {
            if i > 0 {
                text.push_str(", ");
            }
            text.push('"');
            text.push_str(n);
            text.push('"');
        }
        text.push(')');
    }
    for f in ix.flows_of.get(ps.svc.name.as_str()).into_iter().flatten() {
        let Some(z) = ix.zones.get(f.to.as_str()) else {
            continue;
        };
        let net = if target == Target::Compose {
            z.members
        } else {
            z.subnet
        };
        if !text.is_empty() {
            text.push_str(" or ");
        }
        text.push_str("(fd.snet in (\"");
        net.push_to(&mut text);
        text.push_str("\") and fd.sport in (");
        for (i, p) in f.ports.iter().enumerate() {
            if i > 0 {
                text.push_str(", ");
            }
            p.port.push_to(&mut text);
        }
        text.push_str("))");
    }
    if text.is_empty() {
        "evt.num = 0".into() // matches no event: no destination is allowed
    } else {
        text
    }
}

fn rule(
    rule: String,
    desc: String,
    condition: String,
    output: String,
    priority: &'static str,
    tags: &'static [&'static str],
) -> Item<'static> {
    Item::Rule {
        rule,
        desc,
        condition,
        output,
        priority,
        tags,
    }
}

const OUT_PROC: &str = "proc=%proc.name cmdline=%proc.cmdline parent=%proc.pname uid=%user.uid container=%container.name id=%container.id image=%container.image.repository";

fn service_items<'a>(
    plan: &Plan,
    ix: &Index,
    ps: &'a PlannedService,
    allow: &'a detect::Allowlist,
    writable: &'a [String],
    target: Target,
    base: &str,
) -> Vec<Item<'a>> {
    let s = ps.svc;
    let project = &plan.model.project.name;
    let who = cat(&[project, "/", &s.name]);
    let who = who.as_str();
    // The runtime's own set-up of a `docker exec` (runc init: setuid, capset, /proc writes)
    // runs in the container too: it is the engine, not the service.
    // At most 11 items: 4 lists and macros, 2 for the secrets, 5 rules.
    let mut items = Vec::with_capacity(11);
    items.push(mac(
        base,
        cat(&[
            &container_match(target, project, &s.name),
            " and not proc.name in (hardgen_container_runtimes)",
        ]),
    ));
    let programs = cat(&[base, "_programs"]);
    let programs = programs.as_str();
    items.push(list(
        programs,
        allow
            .names
            .iter()
            .map(|n| Cow::Borrowed(n.as_str()))
            .collect(),
    ));
    let writable_list = cat(&[base, "_writable"]);
    let writable_list = writable_list.as_str();
    let mut writable_items: Vec<Cow<str>> = Vec::with_capacity(writable.len() + 1);
    if !s.read_only {
        writable_items.push(Cow::Borrowed("\"/\""));
    }
    writable_items.extend(writable.iter().map(|p| Cow::Owned(quoted(p))));
    items.push(list(writable_list, writable_items));
    let dest = cat(&[base, "_destinations"]);
    let dest = dest.as_str();
    if target != Target::Kubernetes {
        items.push(mac(dest, destinations(ix, ps, target)));
    }

    if allow.known {
        items.push(rule(
            cat(&["hardgen ", who, ": unexpected program"]),
            cat(&["A process of ", who, " runs a program outside the service's own program tree (its command, runtime, health check and `processes`)."]),
            cat(&["hardgen_spawned_process and ", base, " and not proc.name in (", programs, ") and not hardgen_suspicious_program"]),
            cat(&["Unexpected program in ", who, " (", OUT_PROC, ")"]),
            "WARNING",
            &["hardgen", "container", "process", "mitre_execution", "T1059"],
        ));
    }
    items.push(rule(
        cat(&["hardgen ", who, ": shell, network tool, package manager or interpreter"]),
        cat(&[who, " starts a shell, a network tool, a package manager or an interpreter its image was not built to run."]),
        cat(&["hardgen_spawned_process and ", base, " and hardgen_suspicious_program and not proc.name in (", programs, ")"]),
        cat(&["Shell, network tool, package manager or interpreter in ", who, " (", OUT_PROC, ")"]),
        "CRITICAL",
        &["hardgen", "container", "process", "shell", "mitre_execution", "T1059", "T1105"],
    ));
    items.push(rule(
        cat(&["hardgen ", who, ": write outside writable paths"]),
        cat(&["A process of ", who, " opens a file for writing outside the service's tmpfs mounts and writable volumes (attempts count: the root file system is read-only)."]),
        cat(&["hardgen_open_write and ", base, " and not fd.name pmatch (", writable_list, ") and not fd.name pmatch (hardgen_writable_devices)"]),
        cat(&["Write outside the writable paths of ", who, " (file=%fd.name res=%evt.res ", OUT_PROC, ")"]),
        "ERROR",
        &["hardgen", "container", "filesystem", "mitre_persistence", "T1554"],
    ));
    if !s.secrets.is_empty() {
        let secrets_list = cat(&[base, "_secrets"]);
        let secrets_list = secrets_list.as_str();
        items.push(list(
            secrets_list,
            s.secrets
                .iter()
                .map(|n| Cow::Owned(cat(&["\"/run/secrets/", n, "\""])))
                .collect(),
        ));
        let not_own = if allow.known {
            cat(&[" and not proc.name in (", programs, ")"])
        } else {
            String::new()
        };
        items.push(rule(
            cat(&["hardgen ", who, ": secret read by another program"]),
            cat(&["A secret file of ", who, " is opened by a program that is not one of the service's own", if allow.known { "" } else { " (its programs are not in the spec: every read is reported until `processes` lists them)" }, "."]),
            cat(&["hardgen_open_read and ", base, " and fd.name in (", secrets_list, ")", &not_own]),
            cat(&["Secret of ", who, " read by another program (file=%fd.name ", OUT_PROC, ")"]),
            "CRITICAL",
            &["hardgen", "container", "filesystem", "mitre_credential_access", "T1552.001"],
        ));
    }
    if target != Target::Kubernetes {
        let egress = s
            .zones
            .iter()
            .any(|z| ix.zones.get(z.as_str()).is_some_and(|p| !p.internal));
        let scope = if egress {
            // An egress zone may reach the outside world: report private addresses only
            // (another zone, the host's networks), where lateral movement happens.
            " and fd.snet in (hardgen_private_networks)"
        } else {
            ""
        };
        items.push(rule(
            cat(&["hardgen ", who, ": connection outside its zones and flows"]),
            cat(&[
                who,
                " connects to an address outside its zones and the flows it is a client of",
                if egress {
                    " (private addresses; its egress zone may reach the internet)"
                } else {
                    ""
                },
                ".",
            ]),
            cat(&[
                "hardgen_outbound and ",
                base,
                " and not (",
                dest,
                ")",
                scope,
            ]),
            cat(&[
                "Connection outside the zones and flows of ",
                who,
                " (connection=%fd.name to=%fd.sip:%fd.sport ",
                OUT_PROC,
                ")",
            ]),
            "ERROR",
            &[
                "hardgen",
                "container",
                "network",
                "mitre_lateral_movement",
                "T1021",
            ],
        ));
    }
    let uid = s.user.uid.text();
    items.push(rule(
        cat(&["hardgen ", who, ": privilege change"]),
        cat(&["A process of ", who, " changes its user, group or capabilities, enters another namespace, or runs as another user than the service's ", &uid, "."]),
        cat(&[base, " and (hardgen_privilege_change or (hardgen_spawned_process and user.uid != ", &uid, "))"]),
        cat(&["Privilege change in ", who, " (syscall=%evt.type res=%evt.res ", OUT_PROC, ")"]),
        "CRITICAL",
        &["hardgen", "container", "users", "mitre_privilege_escalation", "T1068", "T1548"],
    ));
    items
}

/// `falco/hardgen-<project>.yaml`, written a service at a time: `offer` is given the text so
/// far after each service and may take it (hand it to the sink); the rest is returned.
pub fn render(
    plan: &Plan,
    target: Target,
    header: &str,
    offer: &mut dyn FnMut(&mut String),
) -> String {
    let project = &plan.model.project.name;
    let mut text = format!(
        "# {header}
# Falco rules for project {project} ({target} target): for every service, programs outside
# its own program tree, writes outside its writable paths, reads of its secrets by another
# program, connections outside its zones and flows, privilege changes. Load with
#   falco -r /etc/falco/falco_rules.yaml -r falco/hardgen-{project}.yaml
# Extend a list or macro from a file loaded after this one, e.g.
#   - list: hardgen_{pid}_<service>_programs
#     items: [my-helper]
#     override:
#       items: append
# No Falco engine ran on this file when it was generated: hardgen checks its structure, its
# fields (Falco's documented fields) and its conditions on synthetic events.
",
        target = target.name(),
        pid = ident(project),
    );
    // The rules are one YAML sequence, written a service at a time: the sequences of the
    // shared items and of each service, one after the other, are that sequence's text, and
    // the items of thousands of services are never all in memory (massif: some 55 MB at
    // 5,000 services, three times the text).
    let mut any = false;
    let ix = Index::new(plan);
    let mut chunk = |items: Vec<Item>, text: &mut String| {
        if !items.is_empty() {
            crate::render::yaml::document(&items, text);
            any = true;
        }
    };
    chunk(shared(), &mut text);
    // Each service's lists and macros are named `hardgen_<project>_<service>[_<n>]`.
    let prefix = cat(&["hardgen_", &ident(project), "_"]);
    let mut used: BTreeSet<String> = BTreeSet::new();
    for ps in &plan.services {
        let mut id = ident(&ps.svc.name);
        let mut n = 2;
        while !used.insert(id.clone()) {
            id = format!("{}_{n}", ident(&ps.svc.name));
            n += 1;
        }
        let writable = ps.writable_paths();
        chunk(
            service_items(
                plan,
                &ix,
                ps,
                ps.allowlist(),
                &writable,
                target,
                &cat(&[&prefix, &id]),
            ),
            &mut text,
        );
        offer(&mut text);
    }
    if !any {
        crate::render::yaml::document(&Vec::<Item>::new(), &mut text);
    }
    text
}
