//! The Docker host side of the compose and swarm targets: audit rules and their loader, the
//! pull script, the host check; and, for compose (fixed bridges and addresses), the firewall,
//! the security check, AppArmor profiles and the incident script.

use std::fmt::Write as _;

use minijinja::Environment;

use super::{files, render_template, RenderBug};
use crate::artifact::{Artifact, Sink};
use crate::caps;
use crate::model::*;
use crate::plan::{Match, Plan, Rule, Verdict, FWMARK};

/// The Docker host: audit rules and `scripts/harden-host.sh` (their loader, the daemon.json
/// merge). `fwd` is the firewall chain DOCKER-USER must jump to after a restart ("" without a
/// firewall).
pub(super) fn host(
    env: &Environment,
    header: &str,
    plan: &Plan,
    fwd: &str,
    out: &mut dyn Sink,
) -> Result<(), RenderBug> {
    let project = &plan.model.project.name;
    let key = format!("hardgen-{project}");
    let userns = plan.model.host.userns_remap;
    let rules: Vec<_> = files::AUDIT_RULES
        .iter()
        .map(|r| minijinja::context! { cis => r.cis, what => r.what, path => r.path, perms => r.perms })
        .collect();
    out.insert(
        "host/audit.rules",
        Artifact::text(render_template(
            env,
            "audit.rules.j2",
            minijinja::context! { header, project, key, rules },
        )?),
    );
    out.insert(
        "scripts/harden-host.sh",
        Artifact::script(render_template(
            env,
            "harden-host.sh.j2",
            minijinja::context! { header, project, key, fwd, userns },
        )?),
    );
    let mut images: Vec<&str> = Vec::new();
    let mut built: Vec<&str> = Vec::new();
    for ps in &plan.services {
        match ps.svc.source {
            Source::Image(_) => images.push(&ps.image),
            Source::Build(_) => built.push(&ps.svc.name),
        }
    }
    images.sort_unstable();
    images.dedup();
    out.insert(
        "scripts/pull-images.sh",
        Artifact::script(render_template(
            env,
            "pull-images.sh.j2",
            minijinja::context! { header, project, images, built },
        )?),
    );
    out.insert(
        "scripts/host-check.sh",
        Artifact::script(render_template(
            env,
            "host-check.sh.j2",
            minijinja::context! { header, project, userns },
        )?),
    );
    Ok(())
}

/// A command path the profile can name as it is: AppArmor would read glob characters
/// (`*`, `?`, `[`, `{`), variables (`@{`), and spaces, commas or `#` (which end the rule or
/// start another) in it as profile syntax. Other commands get no rule of their own.
fn apparmor_literal_path(p: &str) -> bool {
    p.starts_with('/')
        && p.len() <= 512
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-' | b'+'))
        && !p.split('/').any(|c| c == "..")
}

/// Profile names Docker provides itself: referenced, never generated.
const BUILTIN_APPARMOR: &[&str] = &["docker-default"];

pub(super) fn apparmor(
    env: &Environment,
    header: &str,
    plan: &Plan,
    out: &mut dyn Sink,
) -> Result<(), RenderBug> {
    let mut names = Vec::new();
    for ps in &plan.services {
        let s = ps.svc;
        let Some(name) = s.apparmor.as_deref() else {
            continue;
        };
        if BUILTIN_APPARMOR.contains(&name) || names.iter().any(|n| n == name) {
            continue;
        }
        let writable = ps.writable_paths();
        let mut executables: Vec<String> = s
            .command
            .iter()
            .flatten()
            .take(1)
            .chain(s.health.iter().flat_map(|h| h.cmd.iter().take(1)))
            .filter(|c| apparmor_literal_path(c))
            .cloned()
            .collect();
        if let Source::Build(b) = &s.source {
            executables.extend(
                b.command
                    .iter()
                    .take(1)
                    .filter(|c| apparmor_literal_path(c))
                    .cloned(),
            );
        }
        executables.sort();
        executables.dedup();
        let text = render_template(
            env,
            "apparmor.j2",
            minijinja::context! {
                header, name, service => s.name, project => plan.model.project.name,
                raw_sockets => s.cap_add.contains("NET_RAW"),
                capabilities => s.cap_add.iter().map(|c| c.to_lowercase()).collect::<Vec<_>>(),
                app_dir => "/app", executables, writable,
            },
        )?;
        out.insert(format!("apparmor/{name}"), Artifact::text(text));
        names.push(name.to_string());
    }
    if !names.is_empty() {
        out.insert(
            "scripts/apply-apparmor.sh",
            Artifact::script(render_template(
                env,
                "apply-apparmor.sh.j2",
                minijinja::context! { header, project => plan.model.project.name, profiles => names },
            )?),
        );
    }
    Ok(())
}

pub(super) fn incident(env: &Environment, header: &str, plan: &Plan) -> Result<String, RenderBug> {
    let services: Vec<_> = plan
        .services
        .iter()
        .map(|ps| {
            minijinja::context! {
                name => ps.svc.name,
                networks => {
                    let mut n = String::new();
                    for (i, a) in ps.networks.iter().enumerate() {
                        if i > 0 {
                            n.push(' ');
                        }
                        n.extend([&a.zone, "="]);
                        a.address.push_to(&mut n);
                    }
                    n
                },
            }
        })
        .collect();
    let names: Vec<&str> = plan
        .services
        .iter()
        .map(|ps| ps.svc.name.as_str())
        .collect();
    render_template(
        env,
        "incident.sh.j2",
        minijinja::context! { header, project => plan.model.project.name, services, names => names.join(", ") },
    )
}

pub(super) fn firewall(
    env: &Environment,
    header: &str,
    plan: &Plan,
    out: &mut dyn Sink,
) -> Result<(), RenderBug> {
    let fw = &plan.firewall;
    let zones: Vec<_> = plan
        .zones
        .iter()
        .map(|z| {
            minijinja::context! {
                name => z.name, subnet => z.subnet.to_string(), bridge => z.bridge,
                internal => z.internal, members => z.members.to_string(),
                clients => z.clients.to_string(),
            }
        })
        .collect();
    let flows: Vec<_> = plan
        .model
        .flows
        .iter()
        .map(|f| {
            minijinja::context! {
                from => f.from, to => f.to,
                ports => f.ports.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
                description => f.description,
            }
        })
        .collect();
    let bridges: Vec<&str> = plan.zones.iter().map(|z| z.bridge.as_str()).collect();
    let (forward_accept, input_accept) = (nft_accept(true), nft_accept(false));
    let ctx = minijinja::context! {
        header, project => plan.model.project.name, fwd => fw.forward_chain,
        inp => fw.input_chain, zones, flows,
        forward => fw.forward.iter().map(iptables_rule).collect::<Vec<_>>(),
        input => fw.input.iter().map(iptables_rule).collect::<Vec<_>>(),
        nft_forward => fw.forward.iter().map(|r| nft_rule(r, &forward_accept)).collect::<Vec<_>>(),
        nft_input => fw.input.iter().map(|r| nft_rule(r, &input_accept)).collect::<Vec<_>>(),
        nft_table => fw.nft_table, bridges => bridges.join(" "),
        fwmark => format!("{:#x}/{:#x}", FWMARK.0, FWMARK.1),
        fwmark_value => format!("{:#x}", FWMARK.0),
        forward_count => fw.forward.len(), input_count => fw.input.len(),
    };
    out.insert(
        "firewall/iptables.rules",
        Artifact::text(render_template(env, "iptables.rules.j2", &ctx)?),
    );
    out.insert(
        "firewall/nftables.nft",
        Artifact::text(render_template(env, "nftables.nft.j2", &ctx)?),
    );
    out.insert(
        "scripts/apply-firewall.sh",
        Artifact::script(render_template(env, "apply-firewall.sh.j2", &ctx)?),
    );
    Ok(())
}

/// A rule as `iptables-restore` reads it (after `-A CHAIN`); `-m comment` before the target.
/// Written piece by piece (some 4,000 rules at 1,000 services: a `format!` per match cost
/// 2.5 times as much); the tests compare it with the `format!` version.
fn iptables_rule(r: &Rule) -> String {
    let mut out = String::with_capacity(r.comment.len() + 160);
    for m in &r.matches {
        let not = |n: bool| if n { "! " } else { "" };
        match m {
            Match::Established => out.push_str("-m conntrack --ctstate RELATED,ESTABLISHED"),
            Match::Invalid => out.push_str("-m conntrack --ctstate INVALID"),
            Match::InIf { not: n, name } => out.extend([not(*n), "-i ", name]),
            Match::OutIf { not: n, name } => out.extend([not(*n), "-o ", name]),
            Match::Src(net) => {
                out.push_str("-s ");
                net.push_to(&mut out);
            }
            Match::Dst(net) => {
                out.push_str("-d ");
                net.push_to(&mut out);
            }
            Match::Port(p) => {
                let proto = p.proto.as_str();
                out.extend(["-p ", proto, " -m ", proto, " --dport "]);
                p.port.push_to(&mut out);
            }
            Match::OrigDst(net) => {
                out.push_str("-m conntrack --ctorigdst ");
                net.push_to(&mut out);
            }
            Match::NotDnat => out.push_str("-m conntrack ! --ctstate DNAT"),
        }
        out.push(' ');
    }
    let target = match r.verdict {
        Verdict::Accept => "ACCEPT",
        Verdict::Drop => "DROP",
        Verdict::Return => "RETURN",
    };
    out.push_str("-m comment --comment \"");
    push_comment(&mut out, &r.comment);
    out.extend(["\" -j ", target]);
    out
}

/// A rule's comment with each `"` written as `'` (the comment is written between `"`).
fn push_comment(out: &mut String, comment: &str) {
    super::push_joined(out, comment.split('"'), "'");
}

/// A rule of hardgen's nftables chains. In the forward chain an accepted packet is marked
/// with [`FWMARK`] (an nftables accept does not end processing: Docker's chains, at a later
/// priority, accept what carries the mark given to dockerd as `--bridge-accept-fwmark`):
/// `accept` is the verdict an accept is written as (`nft_accept`). "Return" is a plain
/// accept: the packet goes on to Docker's chains, which decide. Written piece by piece, as
/// `iptables_rule`.
fn nft_rule(r: &Rule, accept: &str) -> String {
    let mut out = String::with_capacity(r.comment.len() + 160);
    for m in &r.matches {
        let not = |n: bool| if n { "!= " } else { "" };
        match m {
            Match::Established => out.push_str("ct state established,related"),
            Match::Invalid => out.push_str("ct state invalid"),
            Match::InIf { not: n, name } => out.extend(["iifname ", not(*n), "\"", name, "\""]),
            Match::OutIf { not: n, name } => out.extend(["oifname ", not(*n), "\"", name, "\""]),
            Match::Src(net) => {
                out.push_str("ip saddr ");
                net.push_to(&mut out);
            }
            Match::Dst(net) => {
                out.push_str("ip daddr ");
                net.push_to(&mut out);
            }
            Match::Port(p) => {
                out.extend([p.proto.as_str(), " dport "]);
                p.port.push_to(&mut out);
            }
            Match::OrigDst(net) => {
                out.push_str("ct original ip daddr ");
                net.push_to(&mut out);
            }
            Match::NotDnat => out.push_str("ct status & dnat == 0"),
        }
        out.push(' ');
    }
    let verdict = match r.verdict {
        Verdict::Accept => accept,
        Verdict::Return => "accept",
        Verdict::Drop => "drop",
    };
    out.extend([verdict, " comment \""]);
    push_comment(&mut out, &r.comment);
    out.push('"');
    out
}

/// How an accept is written in hardgen's nftables chains: in the forward chain with
/// [`FWMARK`] set (see `nft_rule`).
fn nft_accept(forward: bool) -> String {
    if forward {
        format!("meta mark set meta mark | {:#x} accept", FWMARK.0)
    } else {
        "accept".to_string()
    }
}

pub(super) fn security_check(
    env: &Environment,
    header: &str,
    plan: &Plan,
) -> Result<String, RenderBug> {
    // The two lines per service are written here, not by the template: through minijinja,
    // a context of twelve values per service cost 32 M instructions of a build at 1,000
    // services (bench/profile-notes.md). Each value is written as the template wrote it.
    let mut service_checks = String::new();
    let mut process_checks = String::new();
    for ps in &plan.services {
        let s = ps.svc;
        let capeff: u64 = s
            .cap_add
            .iter()
            .filter_map(|c| caps::bit(c))
            .fold(0, |m, b| m | (1u64 << b));
        let mut nets: Vec<String> = ps
            .networks
            .iter()
            .map(|a| {
                let mut n = String::with_capacity(a.zone.len() + 16);
                n.extend([&a.zone, "="]);
                a.address.push_to(&mut n);
                n
            })
            .collect();
        nets.sort();
        let mut ports: Vec<String> = s
            .ports
            .iter()
            .map(|p| {
                let mut n = String::with_capacity(40);
                p.container.push_to(&mut n);
                n.push('=');
                p.host_ip.push_to(&mut n);
                n.push(':');
                p.host_port.push_to(&mut n);
                n
            })
            .collect();
        ports.sort();
        // What `write!` wrote: "\n# {name}\ncheck_service {name} '{user}' {capeff:016x}
        // '{caps}' {nnp} {ro} {memory} {pids} {nanocpus} \\\n    '{networks}' '{ports}'
        // '{secrets}' {health}", each of the networks and ports followed by a space.
        let c = &mut service_checks;
        c.extend(["\n# ", &s.name, "\ncheck_service ", &s.name, " '"]);
        s.user.push_to(c);
        c.push_str("' ");
        let _ = write!(c, "{capeff:016x}");
        c.push_str(" '");
        super::push_joined(c, s.cap_add.iter().map(String::as_str), ",");
        c.push_str("' ");
        c.extend([
            if s.no_new_privileges { "1" } else { "0" },
            " ",
            if s.read_only { "true" } else { "false" },
            " ",
        ]);
        s.memory.bytes.push_to(c);
        c.push(' ');
        s.pids.push_to(c);
        c.push(' ');
        (u64::from(s.cpus.0) * 1_000_000).push_to(c);
        c.push_str(" \\\n    '");
        for n in &nets {
            c.extend([n, " "]);
        }
        c.push_str("' '");
        for p in &ports {
            c.extend([p, " "]);
        }
        c.push_str("' '");
        super::push_joined(c, s.secrets.iter().map(String::as_str), " ");
        c.extend(["' ", if s.health.is_some() { "yes" } else { "no" }]);
        let allow = ps.allowlist();
        process_checks.extend([
            "\ncheck_processes ",
            &s.name,
            " ",
            if allow.known { "yes" } else { "no" },
            " '",
        ]);
        super::push_joined(
            &mut process_checks,
            allow.names.iter().map(String::as_str),
            " ",
        );
        process_checks.push('\'');
    }
    render_template(
        env,
        "security-check.sh.j2",
        minijinja::context! {
            header, project => plan.model.project.name, service_checks, process_checks,
            fwd => plan.firewall.forward_chain, inp => plan.firewall.input_chain,
            nft_table => plan.firewall.nft_table,
            forward_count => plan.firewall.forward.len(), input_count => plan.firewall.input.len(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rules as `format!` wrote them, which `iptables_rule` and `nft_rule` must equal.
    fn iptables_by_format(r: &Rule) -> String {
        let mut out = String::new();
        for m in &r.matches {
            let not = |n: bool| if n { "! " } else { "" };
            let part = match m {
                Match::Established => "-m conntrack --ctstate RELATED,ESTABLISHED".to_string(),
                Match::Invalid => "-m conntrack --ctstate INVALID".to_string(),
                Match::InIf { not: n, name } => format!("{}-i {name}", not(*n)),
                Match::OutIf { not: n, name } => format!("{}-o {name}", not(*n)),
                Match::Src(net) => format!("-s {net}"),
                Match::Dst(net) => format!("-d {net}"),
                Match::Port(p) => format!(
                    "-p {proto} -m {proto} --dport {port}",
                    proto = p.proto.as_str(),
                    port = p.port
                ),
                Match::OrigDst(net) => format!("-m conntrack --ctorigdst {net}"),
                Match::NotDnat => "-m conntrack ! --ctstate DNAT".to_string(),
            };
            out.push_str(&part);
            out.push(' ');
        }
        let target = match r.verdict {
            Verdict::Accept => "ACCEPT",
            Verdict::Drop => "DROP",
            Verdict::Return => "RETURN",
        };
        format!(
            "{out}-m comment --comment \"{}\" -j {target}",
            r.comment.replace('"', "'")
        )
    }

    fn nft_by_format(r: &Rule, forward: bool) -> String {
        let mut out = String::new();
        for m in &r.matches {
            let not = |n: bool| if n { "!= " } else { "" };
            let part = match m {
                Match::Established => "ct state established,related".to_string(),
                Match::Invalid => "ct state invalid".to_string(),
                Match::InIf { not: n, name } => format!("iifname {}\"{name}\"", not(*n)),
                Match::OutIf { not: n, name } => format!("oifname {}\"{name}\"", not(*n)),
                Match::Src(net) => format!("ip saddr {net}"),
                Match::Dst(net) => format!("ip daddr {net}"),
                Match::Port(p) => format!("{} dport {}", p.proto.as_str(), p.port),
                Match::OrigDst(net) => format!("ct original ip daddr {net}"),
                Match::NotDnat => "ct status & dnat == 0".to_string(),
            };
            out.push_str(&part);
            out.push(' ');
        }
        let verdict = match r.verdict {
            Verdict::Accept if forward => {
                format!("meta mark set meta mark | {:#x} accept", FWMARK.0)
            }
            Verdict::Accept | Verdict::Return => "accept".to_string(),
            Verdict::Drop => "drop".to_string(),
        };
        format!("{out}{verdict} comment \"{}\"", r.comment.replace('"', "'"))
    }

    #[test]
    fn rules_are_written_as_format_wrote_them() {
        let net = |a: [u8; 4], prefix| Ipv4Net {
            addr: std::net::Ipv4Addr::from(a),
            prefix,
        };
        let every_match = vec![
            Match::Established,
            Match::Invalid,
            Match::InIf {
                not: false,
                name: "hg-a".into(),
            },
            Match::InIf {
                not: true,
                name: "hg-b".into(),
            },
            Match::OutIf {
                not: false,
                name: "hg-c".into(),
            },
            Match::OutIf {
                not: true,
                name: "hg-d".into(),
            },
            Match::Src(net([10, 1, 2, 3], 32)),
            Match::Dst(net([172, 16, 0, 128], 25)),
            Match::Port(PortProto {
                port: 8080,
                proto: Proto::Tcp,
            }),
            Match::Port(PortProto {
                port: 53,
                proto: Proto::Udp,
            }),
            Match::OrigDst(net([127, 0, 0, 0], 8)),
            Match::NotDnat,
        ];
        for comment in ["", "plain", "a \"quoted\" word", "\"", "\"\"x\""] {
            for verdict in [Verdict::Accept, Verdict::Drop, Verdict::Return] {
                for matches in [vec![], every_match.clone(), every_match[2..5].to_vec()] {
                    let r = Rule {
                        comment: comment.to_string(),
                        matches,
                        verdict,
                    };
                    assert_eq!(iptables_rule(&r), iptables_by_format(&r));
                    for forward in [true, false] {
                        assert_eq!(
                            nft_rule(&r, &nft_accept(forward)),
                            nft_by_format(&r, forward)
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn only_literal_paths_become_apparmor_rules() {
        assert!(apparmor_literal_path("/usr/local/bin/app-2.1"));
        for p in [
            "app",
            "/bin/app, /** rwlkx",
            "/bin/app\n  capability sys_admin,",
            "/**",
            "/bin/{a,b}",
            "/@{HOME}/x",
            "/a/../b",
            "/a#b",
        ] {
            assert!(!apparmor_literal_path(p), "{p}");
        }
    }
}
