//! Deployment targets and what each one enforces of hardgen's controls: ONE typed table
//! ([`Control::claim`]) from which everything that states it derives — `hardgen targets`, the
//! README's comparison (a test keeps them equal), the swarm file's header, the target-gap
//! warnings of `hardgen build` (W105) and the "not enforced by the target" cells of
//! `compliance.*` ([`crate::report`]). Each claim is about the rendered output: a test in
//! `tests/integration.rs` checks the ones a manifest can show against the goldens.

use crate::model::{Model, Restart, Service};
use crate::spec::LogDriver;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    Compose,
    Swarm,
    Kubernetes,
}

impl Target {
    pub const ALL: [Target; 3] = [Target::Compose, Target::Swarm, Target::Kubernetes];

    pub fn name(self) -> &'static str {
        match self {
            Target::Compose => "compose",
            Target::Swarm => "swarm",
            Target::Kubernetes => "kubernetes",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    Yes,
    /// Enforced, with the caveat in the claim's note.
    Partly,
    No,
}

impl Support {
    fn mark(self) -> &'static str {
        match self {
            Support::Yes => "yes",
            Support::Partly => "partly",
            Support::No => "no",
        }
    }
}

/// Whether an output holds a control: fully or not at all.
impl From<bool> for Support {
    fn from(held: bool) -> Support {
        if held {
            Support::Yes
        } else {
            Support::No
        }
    }
}

/// What one target does for one control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    pub support: Support,
    /// What the partial or missing support means and how hardgen compensates; for a full
    /// one, how (empty when there is nothing to add).
    pub note: &'static str,
}

const fn yes() -> Claim {
    Claim {
        support: Support::Yes,
        note: "",
    }
}
const fn yes_by(note: &'static str) -> Claim {
    Claim {
        support: Support::Yes,
        note,
    }
}
const fn partly(note: &'static str) -> Claim {
    Claim {
        support: Support::Partly,
        note,
    }
}
const fn no(note: &'static str) -> Claim {
    Claim {
        support: Support::No,
        note,
    }
}

/// The controls, in the order of the table. The macro keeps [`Control::ALL`] complete: every
/// variant is listed once, in one place.
macro_rules! controls {
    ($($id:ident => $name:literal,)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
        pub enum Control { $($id,)* }
        impl Control {
            pub const ALL: &'static [Control] = &[$(Control::$id,)*];
            pub fn name(self) -> &'static str {
                match self { $(Control::$id => $name,)* }
            }
        }
    };
}

controls! {
    User => "numeric non-root user",
    Capabilities => "all capabilities dropped, explicit adds only",
    NoNewPrivileges => "no-new-privileges",
    Seccomp => "seccomp profile",
    AppArmor => "AppArmor profile",
    ReadOnlyRoot => "read-only root file system",
    Tmpfs => "sized tmpfs, noexec, nosuid, nodev",
    Limits => "memory and CPU limits",
    Pids => "pids limit",
    Health => "health check",
    Restart => "restart policy",
    Ports => "ports bound to 127.0.0.1",
    Zones => "zones: internal networks, no egress",
    Flows => "flows narrowed to ports",
    HostTraffic => "zone to host traffic dropped",
    InternalGateway => "internal zones without a host address",
    Secrets => "file secrets, owner and mode",
    Logs => "bounded logs",
    LogDriver => "central log driver and tag",
    Init => "init process",
    UsernsRemap => "daemon user namespace remapping",
}

impl Control {
    /// What `target` enforces of this control: `[compose, swarm, kubernetes]`.
    fn claims(self) -> [Claim; 3] {
        match self {
            Control::User => [yes(), yes(), yes()],
            Control::Capabilities => [
                yes(),
                yes(),
                yes_by("the restricted profile allows only NET_BIND_SERVICE to be added; other adds are errors (E040)"),
            ],
            Control::NoNewPrivileges => [
                yes(),
                partly("stack deploy drops security_opt: the generated daemon.json sets no-new-privileges for the whole daemon"),
                yes_by("allowPrivilegeEscalation: false"),
            ],
            Control::Seccomp => [
                yes(),
                no("stack deploy drops security_opt: services run under the daemon's default seccomp profile"),
                yes_by("Localhost profile: install seccomp/*.json under /var/lib/kubelet/seccomp/hardgen/<project>/ on every node (a pod whose profile is missing does not start)"),
            ],
            Control::AppArmor => [
                yes(),
                no("stack deploy drops security_opt: the daemon's docker-default profile applies"),
                no("not rendered for this target: the container runtime's default profile applies"),
            ],
            Control::ReadOnlyRoot => [yes(), yes(), yes_by("readOnlyRootFilesystem: true")],
            Control::Tmpfs => [
                yes(),
                yes_by("tmpfs mounts, which Docker mounts noexec, nosuid, nodev"),
                partly("/tmp, /run and tmpfs paths are emptyDir volumes (medium Memory, sizeLimit): Kubernetes sets no mount options on emptyDir, so they are not noexec, nosuid, nodev"),
            ],
            Control::Limits => [
                yes(),
                partly("swarm has no swap setting: tasks may use as much swap as memory again; disable swap on the nodes"),
                yes(),
            ],
            Control::Pids => [
                yes(),
                yes_by("needs Docker 20.10 or later (engine and CLI)"),
                no("per-pod pids limits are a kubelet setting (podPidsLimit)"),
            ],
            Control::Health => [yes(), yes(), yes_by("liveness and readiness probes")],
            Control::Restart => [
                yes(),
                yes(),
                partly("pods always restart (restartPolicy Always): `no` and the attempt limit of `on-failure:N` do not exist"),
            ],
            Control::Ports => [
                yes(),
                no("published ports listen on every address of the node (mode host, no bind address)"),
                partly("not published on the node: a ClusterIP Service, reachable from the pods the NetworkPolicies admit, not bound to 127.0.0.1"),
            ],
            Control::Zones => [
                yes(),
                yes_by("internal encrypted overlay networks"),
                yes_by("NetworkPolicies: default deny, DNS allowed, egress only for zones with egress"),
            ],
            Control::Flows => [
                yes(),
                no("no static addresses on overlays: a flow client attached to a zone reaches every port of it"),
                yes(),
            ],
            Control::HostTraffic => [
                yes(),
                no("the iptables zone policy needs fixed bridge names and addresses"),
                no("depends on the cluster's network plugin"),
            ],
            Control::Secrets => [
                partly("compose bind-mounts the secret files as they are on the host: scripts/generate-secrets.sh, run as root, gives them their owner and mode"),
                yes(),
                yes_by("Secrets generated from the secret files by kustomize; fsGroup gives the group read access"),
            ],
            Control::Logs => [
                yes(),
                yes(),
                no("log rotation is a kubelet setting (containerLogMaxSize, containerLogMaxFiles)"),
            ],
            Control::LogDriver => [
                yes(),
                yes(),
                no("the kubelet writes container output to files on each node; ship them to the `[logging]` destination with a node log agent (a Fluent Bit or Fluentd DaemonSet)"),
            ],
            Control::Init => [
                yes(),
                yes(),
                no("no per-pod init: the image must reap its children"),
            ],
            Control::InternalGateway => [
                yes_by("`gateway_mode_ipv4: isolated` on internal zones' networks (`[host] internal_gateway_mode`), applied by Engine 28 and later; Engines 20.10 to 26 ignore it (the zone-to-host rules still drop), Engine 27 refuses it (a host's .env sets `nat`)"),
                yes_by("internal overlay networks: the host has no address on them, on any engine (their bridge lives in a namespace of its own)"),
                no("pod networking belongs to the cluster's network plugin: not rendered"),
            ],
            Control::UsernsRemap => [
                yes_by("daemon.json userns-remap, merged by scripts/harden-host.sh"),
                yes_by("daemon.json userns-remap, merged by scripts/harden-host.sh on every node"),
                no("a node and container runtime setting, not rendered: pods can ask for a user namespace with hostUsers: false (on by default from Kubernetes 1.33, with a runtime that supports it)"),
            ],
        }
    }

    pub fn claim(self, target: Target) -> Claim {
        let [compose, swarm, kubernetes] = self.claims();
        match target {
            Target::Compose => compose,
            Target::Swarm => swarm,
            Target::Kubernetes => kubernetes,
        }
    }

    /// Whether service `s` of `model` asks for this control, so that a target's gap in it
    /// reaches the deployment. A gap the spec cannot hit is no gap of that deployment.
    pub fn used_by(self, s: &Service, model: &Model) -> bool {
        match self {
            Control::User
            | Control::Capabilities
            | Control::Seccomp
            | Control::ReadOnlyRoot
            | Control::Tmpfs
            | Control::Limits
            | Control::Pids
            | Control::Zones
            | Control::HostTraffic
            | Control::Logs => true,
            Control::NoNewPrivileges => s.no_new_privileges,
            Control::AppArmor => s.apparmor.is_some(),
            Control::Health => s.health.is_some(),
            // Every target restarts always-restarting services.
            Control::Restart => !matches!(s.restart, Restart::Always | Restart::UnlessStopped),
            Control::Ports => !s.ports.is_empty(),
            Control::Flows => model
                .flows
                .iter()
                .any(|f| f.clients.contains(&s.name) || s.zones.contains(&f.to)),
            Control::Secrets => !s.secrets.is_empty(),
            Control::LogDriver => model.logging.driver != LogDriver::JsonFile,
            Control::Init => s.init,
            Control::UsernsRemap => model.host.userns_remap,
            Control::InternalGateway => {
                model.host.internal_gateway_mode == crate::spec::GatewayMode::Isolated
                    && s.zones
                        .iter()
                        .any(|z| model.zones.get(z).is_some_and(|z| !z.egress))
            }
        }
    }

    /// Whether any service of `model` asks for this control.
    pub fn used_in(self, model: &Model) -> bool {
        model.services.values().any(|s| self.used_by(s, model))
    }
}

/// `name: note`, or the name alone.
fn described(c: Control, claim: Claim) -> String {
    if claim.note.is_empty() {
        c.name().to_string()
    } else {
        format!("{}: {}", c.name(), claim.note)
    }
}

/// The controls of `model` that target `t` does not fully enforce, with what that means:
/// the W105 warnings and the swarm file's header.
pub fn gaps(t: Target, model: &Model) -> Vec<String> {
    Control::ALL
        .iter()
        .map(|&c| (c, c.claim(t)))
        .filter(|&(c, claim)| claim.support != Support::Yes && c.used_in(model))
        .map(|(c, claim)| described(c, claim))
        .collect()
}

/// The Markdown table of the README (between its `controls-table` markers).
pub fn markdown_table() -> String {
    let mut s = String::from("| control | compose | swarm | kubernetes |\n|---|---|---|---|\n");
    for &c in Control::ALL {
        let [a, b, k] = c.claims();
        s.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            c.name(),
            a.support.mark(),
            b.support.mark(),
            k.support.mark()
        ));
    }
    s
}

/// `hardgen targets`: the table, then per target what each mark means.
pub fn explained() -> String {
    let mut s = markdown_table();
    for t in Target::ALL {
        let notes: Vec<String> = Control::ALL
            .iter()
            .map(|&c| (c, c.claim(t)))
            .filter(|(_, claim)| !claim.note.is_empty())
            .map(|(c, claim)| format!("- {} ({}): {}", c.name(), claim.support.mark(), claim.note))
            .collect();
        if !notes.is_empty() {
            s.push_str(&format!("\n{}:\n{}\n", t.name(), notes.join("\n")));
        }
    }
    s
}
