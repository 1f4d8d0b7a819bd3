//! Small fixed-shape files: .gitignore, .env.example, .dockerignore, daemon.json, README.

use std::fmt::Write as _;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{Model, Text};

use crate::plan::Plan;
use crate::targets::Target;

pub fn gitignore(header: &str) -> String {
    format!(
        "# {header}
# Secrets and credentials never go into version control.
secrets/
.env
.env.*
!.env.example
*.pem
*.key
*.crt
*.p12
*.pfx
*.jks
credentials.json
secrets.yaml
secrets.yml
id_rsa*
id_ecdsa*
id_ed25519*
.token
.api_key
# Incident-response evidence may contain secrets and personal data.
forensics/
"
    )
}

pub fn dockerignore(header: &str) -> String {
    format!(
        "# {header}
# Keep credentials and local state out of the build context (and so out of the image).
.git
.env
.env.*
secrets/
**/*.pem
**/*.key
**/*.crt
**/*.p12
**/id_rsa*
**/id_ed25519*
**/__pycache__
**/node_modules
**/target
"
    )
}

pub fn env_example(header: &str, plan: &Plan, target: crate::targets::Target) -> String {
    let mut s = format!(
        "# {header}
# Placeholders only. Secrets are not environment variables here: they are files under
# secrets/ made by scripts/generate-secrets.sh and mounted at /run/secrets/<name>.
COMPOSE_PROJECT_NAME={}
",
        plan.model.project.name
    );
    // Only the compose file reads the variable (swarm's overlay networks and Kubernetes have
    // no host bridge gateway to take away).
    if target == crate::targets::Target::Compose && plan.zones.iter().any(|z| z.internal) {
        let var = super::compose::GATEWAY_MODE_VAR;
        let _ = writeln!(
            s,
            "{}",
            match plan.model.host.internal_gateway_mode {
                crate::spec::GatewayMode::Nat => format!(
                    "# Engine 28+: internal zones' bridges without a host address (the spec's
# [host] internal_gateway_mode = \"isolated\" makes it the default; Engine 27 refuses it):
# {var}=isolated"
                ),
                crate::spec::GatewayMode::Isolated => format!(
                    "# Internal zones' bridges have no host address (the spec's [host]
# internal_gateway_mode = \"isolated\", Engine 28+); Engine 27 refuses it, so on an
# Engine 27 host:
# {var}=nat"
                ),
            }
        );
    }
    for secret in &plan.secrets {
        let _ = writeln!(
            s,
            "# {}: file secrets/{} -> /run/secrets/{}",
            secret.name, secret.name, secret.name
        );
    }
    s
}

#[derive(Serialize)]
struct DaemonJson {
    icc: bool,
    #[serde(rename = "live-restore", skip_serializing_if = "Option::is_none")]
    live_restore: Option<bool>,
    #[serde(rename = "log-driver")]
    log_driver: &'static str,
    #[serde(rename = "log-opts")]
    log_opts: BTreeMap<String, String>,
    #[serde(rename = "no-new-privileges")]
    no_new_privileges: bool,
    #[serde(rename = "userland-proxy")]
    userland_proxy: bool,
    #[serde(rename = "userns-remap", skip_serializing_if = "Option::is_none")]
    userns_remap: Option<&'static str>,
}

/// Daemon-level settings of the CIS benchmark that a file can carry (2.2 icc, 2.9
/// no-new-privileges... see README.md), and the project's log driver as the daemon's default
/// for containers the compose file does not configure. JSON has no comments: the README
/// explains each.
///
/// `live-restore` keeps containers running while dockerd restarts (CIS 2.15), but dockerd
/// refuses to start in swarm mode with it ("--live-restore daemon configuration is
/// incompatible with swarm mode"): the swarm target leaves it out, so that the file (and its
/// daemon-wide `no-new-privileges`, swarm's only one) can be used as it is.
pub fn daemon_json(model: &Model, target: Target) -> String {
    let host = &model.host;
    let d = DaemonJson {
        icc: false,
        live_restore: match target {
            Target::Compose | Target::Kubernetes => Some(true),
            Target::Swarm => None,
        },
        log_driver: model.logging.driver.as_str(),
        log_opts: model.logging.daemon_options(&model.project.name),
        no_new_privileges: true,
        userland_proxy: false,
        userns_remap: host.userns_remap.then_some("dockremap"),
    };
    let mut s = serde_json::to_string_pretty(&d).expect("daemon.json serialises");
    s.push('\n');
    s
}

/// Where `docker compose up` builds each built service from: the spec's contexts as seen from
/// the deployment directory (hardgen writes nothing there).
fn builds_note(plan: &Plan) -> String {
    let builds: Vec<String> = plan
        .services
        .iter()
        .filter_map(|ps| {
            let b = ps.build.as_ref()?;
            Some(format!("   - `{}`: source in `{}`", ps.svc.name, b.context))
        })
        .collect();
    if builds.is_empty() {
        return String::new();
    }
    format!(
        " — builds these images first, from your source\n   \
         (contexts are relative to the spec; paths from this directory):\n{}",
        builds.join("\n")
    )
}

pub fn readme(header: &str, plan: &Plan) -> String {
    let m = plan.model;
    let mut s = format!(
        "<!-- {header} -->
# {name}: hardened deployment

{desc}Generated by hardgen from `{spec}`. Change the spec, not these files.

## Deploy

1. `sudo scripts/harden-host.sh --restart` — merges `daemon.json` into
   `/etc/docker/daemon.json` (CIS 2.x daemon settings: `icc: false`, `userland-proxy: false`
   so that zone traffic to published ports crosses the firewall, `no-new-privileges`, bounded
   logs, `live-restore`; your own settings are kept, a conflicting value is reported, not
   overwritten), loads the audit rules of `host/audit.rules` (CIS 1.1.3-1.1.18, key
   `hardgen-<project>`) and restarts dockerd. `--undo` restores what it changed;
   `sudo scripts/host-check.sh` reports the host controls (PASS/WARN/NA).
2. `sudo scripts/generate-secrets.sh` — random secret files under `secrets/`, owned by the
   user of the services that read them.
3. `scripts/pull-images.sh` (registry images, with content trust), then
   `docker compose up -d --wait --pull never`{builds}
4. `sudo scripts/apply-firewall.sh` — loads the zone isolation into the engine's firewall
   backend (`firewall/iptables.rules` through hardgen's chains from `DOCKER-USER` and `INPUT`,
   or `firewall/nftables.nft` for Engine 29's nftables backend, whose dockerd then needs
   `--bridge-accept-fwmark=0x1000000/0x1000000`), turns on `br_netfilter` filtering and checks
   the hook; run it again after every daemon start (e.g. a systemd `ExecStartPost=` drop-in).
5. `sudo scripts/security-check.sh` — verifies every service's hardening on the running stack.

## Zones

| zone | subnet | bridge | egress | services | flow clients |
|---|---|---|---|---|---|
",
        name = m.project.name,
        desc = m
            .project
            .description
            .as_ref()
            .map(|d| format!("{d}\n\n"))
            .unwrap_or_default(),
        spec = m.spec_name,
        builds = builds_note(plan),
    );
    for z in &plan.zones {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            z.name,
            z.subnet,
            z.bridge,
            if z.internal { "no (internal)" } else { "yes" },
            z.member_services.join(", "),
            z.client_services.join(", ")
        );
    }
    s.push_str("\n## Flows\n\n");
    if m.flows.is_empty() {
        s.push_str("None: no traffic crosses zones.\n");
    }
    for f in &m.flows {
        let ports: Vec<String> = f.ports.iter().map(|p| p.to_string()).collect();
        let _ = writeln!(s, "- {} -> {}: {}", f.from, f.to, ports.join(", "));
    }
    s.push_str("\n## Services\n\n| service | image | user | seccomp | capabilities | ports |\n|---|---|---|---|---|---|\n");
    // A row per service, written piece by piece (what `writeln!` of
    // "| {name} | `{image}` | {user} | {seccomp} | {caps or none} | {ports or -} |" wrote).
    for ps in &plan.services {
        let sv = ps.svc;
        s.extend(["| ", &sv.name, " | `", &ps.image, "` | "]);
        sv.user.push_to(&mut s);
        s.extend([" | ", &ps.seccomp_profile, " | "]);
        if sv.cap_add.is_empty() {
            s.push_str("none");
        }
        super::push_joined(&mut s, sv.cap_add.iter().map(String::as_str), ", ");
        s.push_str(" | ");
        if sv.ports.is_empty() {
            s.push('-');
        }
        for (i, p) in sv.ports.iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            p.push_to(&mut s);
        }
        s.push_str(" |\n");
    }
    s
}

/// One watch of `host/audit.rules`: CIS Docker Benchmark v1.6.0 id, what it is, path, perms.
pub struct AuditRule {
    pub cis: &'static str,
    pub what: &'static str,
    pub path: &'static str,
    pub perms: &'static str,
}

const fn rule(
    cis: &'static str,
    what: &'static str,
    path: &'static str,
    perms: &'static str,
) -> AuditRule {
    AuditRule {
        cis,
        what,
        path,
        perms,
    }
}

/// The standard paths CIS 1.1.3-1.1.18 name (binaries in `/usr/bin`, units in systemd's
/// directories). `scripts/harden-host.sh` resolves them for the engine actually installed.
pub const AUDIT_RULES: &[AuditRule] = &[
    rule("1.1.3", "Docker daemon", "/usr/bin/dockerd", "wxa"),
    rule(
        "1.1.4",
        "containerd state directory",
        "/run/containerd",
        "wa",
    ),
    rule("1.1.5", "Docker data root", "/var/lib/docker", "wa"),
    rule(
        "1.1.6",
        "Docker configuration directory",
        "/etc/docker",
        "wa",
    ),
    rule(
        "1.1.7",
        "docker.service unit",
        "/lib/systemd/system/docker.service",
        "wa",
    ),
    rule(
        "1.1.7",
        "docker.service unit",
        "/usr/lib/systemd/system/docker.service",
        "wa",
    ),
    rule(
        "1.1.7",
        "docker.service unit (local override)",
        "/etc/systemd/system/docker.service",
        "wa",
    ),
    rule(
        "1.1.8",
        "containerd socket",
        "/run/containerd/containerd.sock",
        "wa",
    ),
    rule(
        "1.1.9",
        "docker.socket unit",
        "/lib/systemd/system/docker.socket",
        "wa",
    ),
    rule(
        "1.1.9",
        "docker.socket unit",
        "/usr/lib/systemd/system/docker.socket",
        "wa",
    ),
    rule(
        "1.1.9",
        "docker.socket unit (local override)",
        "/etc/systemd/system/docker.socket",
        "wa",
    ),
    rule("1.1.9", "Docker API socket", "/run/docker.sock", "wa"),
    rule(
        "1.1.10",
        "Docker environment (Debian)",
        "/etc/default/docker",
        "wa",
    ),
    rule(
        "1.1.11",
        "daemon configuration",
        "/etc/docker/daemon.json",
        "wa",
    ),
    rule(
        "1.1.12",
        "containerd configuration",
        "/etc/containerd/config.toml",
        "wa",
    ),
    rule(
        "1.1.13",
        "Docker environment (Red Hat)",
        "/etc/sysconfig/docker",
        "wa",
    ),
    rule("1.1.14", "containerd", "/usr/bin/containerd", "wxa"),
    rule(
        "1.1.15",
        "containerd shim",
        "/usr/bin/containerd-shim",
        "wxa",
    ),
    rule(
        "1.1.16",
        "containerd runc shim v1",
        "/usr/bin/containerd-shim-runc-v1",
        "wxa",
    ),
    rule(
        "1.1.17",
        "containerd runc shim v2",
        "/usr/bin/containerd-shim-runc-v2",
        "wxa",
    ),
    rule("1.1.18", "runc", "/usr/bin/runc", "wxa"),
    rule(
        "1.1.18",
        "docker-init (the init of containers started with --init)",
        "/usr/bin/docker-init",
        "wxa",
    ),
];
