//! `hardgen audit`: what an existing compose file leaves open, per service — every control
//! hardgen enforces that the file does not (CIS Docker Benchmark v1.6.0 ids and wording from
//! `report::Cis`), and what a reviewer looks for (the docker socket, `privileged`, host
//! namespaces, secrets in the environment or in command arguments, `:latest`...).

pub mod format;
mod secrets;
mod service;

pub use secrets::{env_secret_value, literal_secret, secret_args, secret_name, url_password};

use std::collections::BTreeMap;

use serde::Serialize;

use crate::compose_in::{Loc, MountKind, Project, Service};
use service::audit_service;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
    /// Points a finding of this severity takes off its service's score of 100.
    pub fn penalty(self) -> u32 {
        match self {
            Severity::Info => 0,
            Severity::Low => 2,
            Severity::Medium => 5,
            Severity::High => 15,
            Severity::Critical => 40,
        }
    }
    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// A check: a stable id, the CIS control it belongs to (an id of `report::Cis`, whose
/// wording is shown) or, for a reviewer's check outside the benchmark table, its own title.
pub struct Rule {
    pub id: &'static str,
    pub cis: Option<&'static str>,
    pub title: &'static str,
    pub help: &'static str,
}

pub const RULES: &[Rule] = &[
    Rule { id: "user", cis: Some("4.1"), title: "", help: "set `user: \"UID:GID\"` to a numeric non-root user" },
    Rule { id: "healthcheck", cis: Some("4.6, 5.27"), title: "", help: "add a `healthcheck` that tests the service itself" },
    Rule { id: "secret-in-env", cis: Some("4.10"), title: "", help: "mount the value as a file secret and point the image at it (`*_FILE=/run/secrets/NAME`)" },
    Rule { id: "apparmor", cis: Some("5.2"), title: "", help: "remove `apparmor:unconfined`" },
    Rule { id: "cap-drop", cis: Some("5.4"), title: "", help: "add `cap_drop: [ALL]` and list only the capabilities the service needs in `cap_add`" },
    Rule { id: "cap-dangerous", cis: Some("5.4"), title: "", help: "drop the capability, or isolate the service that needs it" },
    Rule { id: "privileged", cis: Some("5.5"), title: "", help: "remove `privileged: true`; add the few capabilities or devices the service needs" },
    Rule { id: "devices", cis: Some("5.5"), title: "", help: "pass only the device the service needs, read-only where possible" },
    Rule { id: "docker-socket", cis: Some("5.6, 5.20, 5.32"), title: "", help: "do not mount the Docker socket: it is root on the host; use a socket proxy that allows only the API calls needed" },
    Rule { id: "sensitive-mount", cis: Some("5.6, 5.20, 5.32"), title: "", help: "mount an application directory instead, read-only" },
    Rule { id: "host-path", cis: Some("5.6, 5.20, 5.32"), title: "", help: "prefer a named volume, or a relative bind mount of the project's own files, read-only" },
    Rule { id: "mount-propagation", cis: Some("5.6, 5.20, 5.32"), title: "", help: "remove the shared propagation (the default is private)" },
    Rule { id: "host-namespace", cis: Some("5.10, 5.16, 5.17, 5.21, 5.31"), title: "", help: "remove the `host` namespace setting" },
    Rule { id: "limits", cis: Some("5.11, 5.12, 5.29"), title: "", help: "set `mem_limit`, `cpus` and `pids_limit` (or `deploy.resources.limits`)" },
    Rule { id: "read-only", cis: Some("5.13"), title: "", help: "set `read_only: true` with tmpfs for /tmp and /run and volumes for data" },
    Rule { id: "port-all-addresses", cis: Some("5.14"), title: "", help: "bind the port to one host address, e.g. `127.0.0.1:8080:80` behind a reverse proxy" },
    Rule { id: "restart", cis: Some("5.15"), title: "", help: "use `restart: on-failure:5`" },
    Rule { id: "seccomp", cis: Some("5.22"), title: "", help: "keep seccomp on; a profile narrowed to the service is better than Docker's default" },
    Rule { id: "no-new-privileges", cis: Some("5.26"), title: "", help: "add `security_opt: [\"no-new-privileges:true\"]`" },
    Rule { id: "own-networks", cis: Some("5.30"), title: "", help: "put the service on its own networks instead of sharing another's namespace or the default bridge" },
    Rule { id: "image-unpinned", cis: None, title: "image pinned to a version", help: "pin a version tag, ideally with its digest (`image:1.2.3@sha256:...`)" },
    Rule { id: "image-digest", cis: None, title: "image pinned by digest", help: "add the digest of the tag you tested (`@sha256:...`)" },
    Rule { id: "secret-in-command", cis: None, title: "no secrets in command arguments", help: "read the value from a file secret at start; arguments show in `ps` and `docker inspect`" },
    Rule { id: "logs", cis: None, title: "bounded logs", help: "set `logging: {driver: json-file, options: {max-size: 10m, max-file: \"3\"}}`" },
    Rule { id: "flat-network", cis: None, title: "segmented networks", help: "split the services into networks by role (front, app, data) with `internal: true` where nothing needs to go out" },
    Rule { id: "gateway-unprotected", cis: None, title: "direct routing to containers blocked", help: "remove `com.docker.network.bridge.gateway_mode_ipv4: nat-unprotected` (the default `nat` blocks it), or use `routed` to open only the published ports" },
];

pub fn rule(id: &str) -> &'static Rule {
    RULES
        .iter()
        .find(|r| r.id == id)
        .expect("audit rule ids are constants of RULES")
}

/// The wording of a rule: its CIS control's name from the compliance table, or its own.
pub fn rule_title(r: &Rule) -> &'static str {
    match r.cis {
        Some(id) => crate::report::Cis::by_number(id)
            .map(|c| c.id_and_name().1)
            .unwrap_or(r.title),
        None => r.title,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    pub severity: Severity,
    pub rule: &'static str,
    /// None: about the whole project.
    pub service: Option<String>,
    pub message: String,
    pub loc: Loc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Compose,
    /// A stack file for `docker stack deploy`, which drops `security_opt` and host addresses
    /// of published ports: those controls are only daemon-wide there (info).
    Swarm,
}

pub struct Audit {
    pub files: Vec<String>,
    pub target: Target,
    pub services: Vec<String>,
    pub findings: Vec<Finding>,
}

impl Audit {
    pub fn service_score(&self, name: &str) -> u32 {
        let p: u32 = self
            .findings
            .iter()
            .filter(|f| f.service.as_deref() == Some(name))
            .map(|f| f.severity.penalty())
            .sum();
        100u32.saturating_sub(p)
    }
    /// Mean of the service scores (rounded down), less the penalties of project findings.
    pub fn score(&self) -> u32 {
        if self.services.is_empty() {
            return 100;
        }
        let sum: u32 = self.services.iter().map(|s| self.service_score(s)).sum();
        let mean = sum / self.services.len() as u32;
        let p: u32 = self
            .findings
            .iter()
            .filter(|f| f.service.is_none())
            .map(|f| f.severity.penalty())
            .sum();
        mean.saturating_sub(p)
    }
    pub fn count(&self, s: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity == s).count()
    }
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

/// An attachment hardgen made for a flow: the upper half of a generated zone's subnet, where
/// the zone's firewall lets the client reach only the flow's ports.
fn flow_client(p: &Project, n: &crate::compose_in::NetRef) -> bool {
    let Some(net) = p.networks.get(&n.name).filter(|net| net.hardgen_zone) else {
        return false;
    };
    let (Some(addr), Some(subnet)) = (&n.ipv4_address, net.subnets.first()) else {
        return false;
    };
    match (
        addr.parse::<std::net::Ipv4Addr>(),
        crate::model::Ipv4Net::parse(subnet),
    ) {
        (Ok(a), Ok(net)) => {
            let offset = u32::from(a).wrapping_sub(u32::from(net.network()));
            offset >= (net.size() / 2) as u32
        }
        _ => false,
    }
}

/// Audit a loaded project.
pub fn audit(p: &Project, target: Target) -> Audit {
    let mut findings = Vec::new();
    for s in p.services.values() {
        findings.extend(audit_service(s, target));
    }
    // Networks that let everything reach everything: every service on one network.
    let nets: Vec<Vec<&str>> = p
        .services
        .values()
        .filter(|s| s.network_mode.is_none())
        .map(|s| {
            s.networks
                .iter()
                .filter(|n| !flow_client(p, n))
                .map(|n| n.name.as_str())
                .collect()
        })
        .collect();
    if p.services.len() >= 3 && nets.len() == p.services.len() {
        let mut common: Vec<&str> = nets[0].clone();
        for n in &nets[1..] {
            common.retain(|c| n.contains(c));
        }
        if let Some(c) = common.first() {
            let internal = p.networks.get(*c).is_some_and(|n| n.internal);
            // A zone of a hardgen deployment: the spec chose to put them together (on swarm,
            // whose flows reach a whole zone, the stack file's header says so): info.
            let zone = p.networks.get(*c).is_some_and(|n| n.hardgen_zone);
            let loc = p
                .networks
                .get(*c)
                .map(|n| n.loc.clone())
                .unwrap_or_else(|| p.services_loc.clone());
            findings.push(Finding {
                severity: if zone { Severity::Info } else { Severity::Medium },
                rule: "flat-network",
                service: None,
                message: format!(
                    "all {} services share the network `{c}`{}: each can reach every port of every other{}",
                    p.services.len(),
                    if internal { "" } else { " (not internal)" },
                    if zone { " (one zone of the spec)" } else { "" }
                ),
                loc,
            });
        }
    }
    // Engine 28's `nat-unprotected`: a host that routes to the network's subnet (a neighbour on
    // the host's LAN) reaches every port of its containers, published or not.
    for n in p.networks.values() {
        if n.gateway_mode.as_deref() == Some("nat-unprotected") {
            findings.push(Finding {
                severity: Severity::Medium,
                rule: "gateway-unprotected",
                service: None,
                message: format!(
                    "network `{}` has gateway_mode_ipv4 `nat-unprotected`: hosts that route to its subnet reach every port of its containers, published or not",
                    n.name
                ),
                loc: n.loc.clone(),
            });
        }
    }
    findings.sort_by(|a, b| {
        (&a.service, std::cmp::Reverse(a.severity), &a.loc, a.rule).cmp(&(
            &b.service,
            std::cmp::Reverse(b.severity),
            &b.loc,
            b.rule,
        ))
    });
    Audit {
        files: p.files.iter().map(|f| f.to_string()).collect(),
        target,
        services: p.services.keys().cloned().collect(),
        findings,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
    Sarif,
    Markdown,
}

pub struct RunOptions {
    pub compose: crate::compose_in::Options,
    /// None: swarm when the first file's name says `stack`, else compose.
    pub target: Option<Target>,
    pub format: Format,
    pub colour: bool,
    pub fail_under: Option<u32>,
    pub fail_on: Option<Severity>,
}

/// `hardgen audit`: exit 0, 1 (below `--fail-under` or a finding at `--fail-on` or above), 2
/// (unreadable or invalid input, reported with file:line:col).
pub fn run(
    opts: &RunOptions,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> crate::app::Outcome {
    use crate::app::Outcome;
    let project = match crate::compose_in::load(&opts.compose) {
        Ok(p) => p,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return Outcome::Failed;
        }
    };
    let target = opts.target.unwrap_or_else(|| {
        let stack = opts
            .compose
            .files
            .first()
            .and_then(|f| f.file_name())
            .is_some_and(|n| n.to_string_lossy().contains("stack"));
        if stack {
            Target::Swarm
        } else {
            Target::Compose
        }
    });
    let a = audit(&project, target);
    let text = match opts.format {
        Format::Human => format::human(&a, opts.colour),
        Format::Json => format::json(&a),
        Format::Sarif => format::sarif(&a),
        Format::Markdown => format::markdown(&a),
    };
    if let Err(e) = out.write_all(text.as_bytes()) {
        let _ = writeln!(err, "error: cannot write the report: {e}");
        return Outcome::Failed;
    }
    let below = opts.fail_under.is_some_and(|n| a.score() < n);
    let worse = opts
        .fail_on
        .is_some_and(|s| a.findings.iter().any(|f| f.severity >= s));
    if below || worse {
        Outcome::Differs
    } else {
        Outcome::Ok
    }
}

/// Findings per rule (for the corpus figures and the README).
pub fn per_rule(a: &Audit) -> BTreeMap<&'static str, usize> {
    let mut m = BTreeMap::new();
    for f in &a.findings {
        if f.severity > Severity::Info {
            *m.entry(f.rule).or_insert(0) += 1;
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cis_rule_names_a_control_of_the_report() {
        for r in RULES {
            if let Some(id) = r.cis {
                assert!(crate::report::Cis::by_number(id).is_some(), "{}", r.id);
                assert!(r.title.is_empty());
            } else {
                assert!(!r.title.is_empty());
            }
            assert!(!rule_title(r).is_empty());
        }
    }
}
