//! Falco rules for a stack (`falco/hardgen-<project>.yaml`), from what the plan knows of each
//! service: its programs (`detect::allowlist`), user, writable paths, secret files, zones and
//! flows. One rules file per build, in Falco's documented format (lists, macros, rules;
//! <https://falco.org/docs/concepts/rules/basic-elements/>), every field a documented Falco
//! field ([`FIELDS`]). Users extend the generated lists and macros in a file loaded after this
//! one (`append: true` / `override`), without editing it.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::detect;
use crate::plan::{Plan, PlannedService, Role};
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
enum Item {
    List {
        list: String,
        items: Vec<String>,
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
        tags: Vec<String>,
    },
}

fn list(name: &str, items: Vec<String>) -> Item {
    Item::List {
        list: name.to_string(),
        items,
    }
}

fn mac(name: &str, condition: String) -> Item {
    Item::Macro {
        name: name.to_string(),
        condition,
    }
}

fn quoted(s: &str) -> String {
    format!("\"{s}\"")
}

/// Lists and macros shared by the services' rules (prefixed `hardgen_`; a user file may
/// append to the lists).
fn shared() -> Vec<Item> {
    let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
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
            ["/dev/null", "/dev/zero", "/dev/full", "/dev/tty", "/dev/pts", "/dev/shm"]
                .iter()
                .map(|p| quoted(p))
                .collect(),
        ),
        list(
            "hardgen_private_networks",
            ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16"]
                .iter()
                .map(|p| quoted(p))
                .collect(),
        ),
        list(
            "hardgen_container_runtimes",
            [
                "runc:[0:PARENT]",
                "runc:[1:CHILD]",
                "runc:[2:INIT]",
                "runc",
                "docker-runc",
                "exe",
            ]
            .iter()
            .map(|p| quoted(p))
            .collect(),
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
        Target::Compose => format!(
            "container.label[com.docker.compose.project] = {} and container.label[com.docker.compose.service] = {}",
            quoted(project),
            quoted(service)
        ),
        Target::Swarm => format!(
            "container.label[com.docker.stack.namespace] = {} and container.label[com.docker.swarm.service.name] = {}",
            quoted(project),
            quoted(&format!("{project}_{service}"))
        ),
        Target::Kubernetes => format!(
            "k8s.ns.name = {} and k8s.pod.label[app.kubernetes.io/name] = {}",
            quoted(project),
            quoted(service)
        ),
    }
}

/// Where a service may connect: its zones, and the flows it is a client of (the target
/// zone's own services, on the flow's ports). Compose pins addresses, so the flow target is
/// the members' half of the zone; swarm overlays use the whole zone subnet.
fn destinations(plan: &Plan, ps: &PlannedService, target: Target) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut own: BTreeSet<String> = BTreeSet::new();
    for a in &ps.networks {
        if a.role == Role::Member {
            if let Some(z) = plan.zones.iter().find(|z| z.name == a.zone) {
                own.insert(z.subnet.to_string());
            }
        }
    }
    if !own.is_empty() {
        parts.push(format!(
            "fd.snet in ({})",
            own.iter().map(|n| quoted(n)).collect::<Vec<_>>().join(", ")
        ));
    }
    for f in &plan.model.flows {
        if !f.clients.contains(&ps.svc.name) {
            continue;
        }
        let Some(z) = plan.zones.iter().find(|z| z.name == f.to) else {
            continue;
        };
        let net = if target == Target::Compose {
            z.members
        } else {
            z.subnet
        };
        let ports: Vec<String> = f.ports.iter().map(|p| p.port.to_string()).collect();
        parts.push(format!(
            "(fd.snet in ({}) and fd.sport in ({}))",
            quoted(&net.to_string()),
            ports.join(", ")
        ));
    }
    if parts.is_empty() {
        "evt.num = 0".into() // matches no event: no destination is allowed
    } else {
        parts.join(" or ")
    }
}

fn rule(
    rule: String,
    desc: String,
    condition: String,
    output: String,
    priority: &'static str,
    tags: &[&str],
) -> Item {
    Item::Rule {
        rule,
        desc,
        condition,
        output,
        priority,
        tags: tags.iter().map(|t| t.to_string()).collect(),
    }
}

const OUT_PROC: &str = "proc=%proc.name cmdline=%proc.cmdline parent=%proc.pname uid=%user.uid container=%container.name id=%container.id image=%container.image.repository";

fn service_items(plan: &Plan, ps: &PlannedService, target: Target, id: &str) -> Vec<Item> {
    let s = ps.svc;
    let project = &plan.model.project.name;
    let who = format!("{project}/{}", s.name);
    let base = format!("hardgen_{}_{id}", ident(project));
    let allow = detect::allowlist(s);
    // The runtime's own set-up of a `docker exec` (runc init: setuid, capset, /proc writes)
    // runs in the container too: it is the engine, not the service.
    let mut items = vec![mac(
        &base,
        format!(
            "{} and not proc.name in (hardgen_container_runtimes)",
            container_match(target, project, &s.name)
        ),
    )];
    let programs = format!("{base}_programs");
    items.push(list(&programs, allow.names.clone()));
    let mut writable = ps.writable_paths();
    if !s.read_only {
        writable.insert(0, "/".into());
    }
    let writable_list = format!("{base}_writable");
    items.push(list(
        &writable_list,
        writable.iter().map(|p| quoted(p)).collect(),
    ));
    let dest = format!("{base}_destinations");
    if target != Target::Kubernetes {
        items.push(mac(&dest, destinations(plan, ps, target)));
    }

    if allow.known {
        items.push(rule(
            format!("hardgen {who}: unexpected program"),
            format!("A process of {who} runs a program outside the service's own program tree (its command, runtime, health check and `processes`)."),
            format!("hardgen_spawned_process and {base} and not proc.name in ({programs}) and not hardgen_suspicious_program"),
            format!("Unexpected program in {who} ({OUT_PROC})"),
            "WARNING",
            &["hardgen", "container", "process", "mitre_execution", "T1059"],
        ));
    }
    items.push(rule(
        format!("hardgen {who}: shell, network tool, package manager or interpreter"),
        format!("{who} starts a shell, a network tool, a package manager or an interpreter its image was not built to run."),
        format!("hardgen_spawned_process and {base} and hardgen_suspicious_program and not proc.name in ({programs})"),
        format!("Shell, network tool, package manager or interpreter in {who} ({OUT_PROC})"),
        "CRITICAL",
        &["hardgen", "container", "process", "shell", "mitre_execution", "T1059", "T1105"],
    ));
    items.push(rule(
        format!("hardgen {who}: write outside writable paths"),
        format!("A process of {who} opens a file for writing outside the service's tmpfs mounts and writable volumes (attempts count: the root file system is read-only)."),
        format!("hardgen_open_write and {base} and not fd.name pmatch ({writable_list}) and not fd.name pmatch (hardgen_writable_devices)"),
        format!("Write outside the writable paths of {who} (file=%fd.name res=%evt.res {OUT_PROC})"),
        "ERROR",
        &["hardgen", "container", "filesystem", "mitre_persistence", "T1554"],
    ));
    if !s.secrets.is_empty() {
        let secrets_list = format!("{base}_secrets");
        items.push(list(
            &secrets_list,
            s.secrets
                .iter()
                .map(|n| quoted(&format!("/run/secrets/{n}")))
                .collect(),
        ));
        let not_own = if allow.known {
            format!(" and not proc.name in ({programs})")
        } else {
            String::new()
        };
        items.push(rule(
            format!("hardgen {who}: secret read by another program"),
            format!("A secret file of {who} is opened by a program that is not one of the service's own{}.", if allow.known { "" } else { " (its programs are not in the spec: every read is reported until `processes` lists them)" }),
            format!("hardgen_open_read and {base} and fd.name in ({secrets_list}){not_own}"),
            format!("Secret of {who} read by another program (file=%fd.name {OUT_PROC})"),
            "CRITICAL",
            &["hardgen", "container", "filesystem", "mitre_credential_access", "T1552.001"],
        ));
    }
    if target != Target::Kubernetes {
        let egress = s
            .zones
            .iter()
            .any(|z| plan.zones.iter().any(|p| &p.name == z && !p.internal));
        let scope = if egress {
            // An egress zone may reach the outside world: report private addresses only
            // (another zone, the host's networks), where lateral movement happens.
            " and fd.snet in (hardgen_private_networks)"
        } else {
            ""
        };
        items.push(rule(
            format!("hardgen {who}: connection outside its zones and flows"),
            format!("{who} connects to an address outside its zones and the flows it is a client of{}.", if egress { " (private addresses; its egress zone may reach the internet)" } else { "" }),
            format!("hardgen_outbound and {base} and not ({dest}){scope}"),
            format!("Connection outside the zones and flows of {who} (connection=%fd.name to=%fd.sip:%fd.sport {OUT_PROC})"),
            "ERROR",
            &["hardgen", "container", "network", "mitre_lateral_movement", "T1021"],
        ));
    }
    items.push(rule(
        format!("hardgen {who}: privilege change"),
        format!("A process of {who} changes its user, group or capabilities, enters another namespace, or runs as another user than the service's {}.", s.user.uid),
        format!("{base} and (hardgen_privilege_change or (hardgen_spawned_process and user.uid != {}))", s.user.uid),
        format!("Privilege change in {who} (syscall=%evt.type res=%evt.res {OUT_PROC})"),
        "CRITICAL",
        &["hardgen", "container", "users", "mitre_privilege_escalation", "T1068", "T1548"],
    ));
    items
}

/// `falco/hardgen-<project>.yaml`.
pub fn render(plan: &Plan, target: Target, header: &str) -> String {
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
    let mut chunk = |items: Vec<Item>, text: &mut String| {
        if !items.is_empty() {
            crate::render::yaml::document(&items, text);
            any = true;
        }
    };
    chunk(shared(), &mut text);
    let mut used: BTreeSet<String> = BTreeSet::new();
    for ps in &plan.services {
        let mut id = ident(&ps.svc.name);
        let mut n = 2;
        while !used.insert(id.clone()) {
            id = format!("{}_{n}", ident(&ps.svc.name));
            n += 1;
        }
        chunk(service_items(plan, ps, target, &id), &mut text);
    }
    if !any {
        crate::render::yaml::document(&Vec::<Item>::new(), &mut text);
    }
    text
}
