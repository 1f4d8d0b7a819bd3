//! Deployment targets and which hardening controls each one can enforce. This table is the
//! single source of the README's comparison (a test keeps them equal), the swarm file's
//! header and the warnings `hardgen build --target swarm` prints.

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    Compose,
    Swarm,
    Kubernetes,
}

impl Target {
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
    /// Enforced, with the caveat in `note`.
    Partly,
    No,
}

pub struct Control {
    pub name: &'static str,
    pub compose: Support,
    pub swarm: Support,
    pub kubernetes: Support,
    /// What the partial or missing support means, and how hardgen compensates.
    pub swarm_note: &'static str,
    pub kubernetes_note: &'static str,
}

use Support::*;

pub const CONTROLS: &[Control] = &[
    Control { name: "numeric non-root user", compose: Yes, swarm: Yes, kubernetes: Yes, swarm_note: "", kubernetes_note: "" },
    Control { name: "all capabilities dropped, explicit adds only", compose: Yes, swarm: Yes, kubernetes: Partly, swarm_note: "", kubernetes_note: "the restricted profile allows only NET_BIND_SERVICE; other adds are errors" },
    Control { name: "no-new-privileges", compose: Yes, swarm: Partly, kubernetes: Yes, swarm_note: "stack deploy drops security_opt: the generated daemon.json sets no-new-privileges for the whole daemon", kubernetes_note: "" },
    Control { name: "seccomp profile", compose: Yes, swarm: No, kubernetes: Yes, swarm_note: "stack deploy drops security_opt: services run under the daemon's default seccomp profile", kubernetes_note: "Localhost profile: install seccomp/*.json under /var/lib/kubelet/seccomp/hardgen/<project>/ on every node" },
    Control { name: "AppArmor profile", compose: Yes, swarm: No, kubernetes: No, swarm_note: "stack deploy drops security_opt: the daemon's docker-default profile applies", kubernetes_note: "not rendered for this target yet" },
    Control { name: "read-only root, sized tmpfs", compose: Yes, swarm: Yes, kubernetes: Partly, swarm_note: "", kubernetes_note: "/tmp and /run are emptyDir volumes (medium Memory, sizeLimit): Kubernetes sets no mount options on emptyDir, so they are not noexec, nosuid, nodev" },
    Control { name: "memory and CPU limits", compose: Yes, swarm: Partly, kubernetes: Yes, swarm_note: "swarm has no swap setting: tasks may use as much swap as memory again; disable swap on the nodes", kubernetes_note: "" },
    Control { name: "pids limit", compose: Yes, swarm: Yes, kubernetes: No, swarm_note: "needs Docker 20.10 or later (engine and CLI)", kubernetes_note: "per-pod pids limits are a kubelet setting (podPidsLimit)" },
    Control { name: "health check", compose: Yes, swarm: Yes, kubernetes: Yes, swarm_note: "", kubernetes_note: "liveness and readiness probes" },
    Control { name: "restart policy", compose: Yes, swarm: Yes, kubernetes: Partly, swarm_note: "", kubernetes_note: "pods always restart; the attempt limit does not exist" },
    Control { name: "ports bound to 127.0.0.1", compose: Yes, swarm: No, kubernetes: Partly, swarm_note: "published ports listen on every address of the node (mode host, no bind address)", kubernetes_note: "ClusterIP services only: nothing is exposed outside the cluster" },
    Control { name: "zones: internal networks, no egress", compose: Yes, swarm: Yes, kubernetes: Yes, swarm_note: "internal encrypted overlay networks", kubernetes_note: "NetworkPolicies: default deny, DNS allowed, egress only for zones with egress" },
    Control { name: "flows narrowed to ports", compose: Yes, swarm: No, kubernetes: Yes, swarm_note: "no static addresses on overlays: a flow client attached to a zone reaches every port of it", kubernetes_note: "" },
    Control { name: "zone to host traffic dropped", compose: Yes, swarm: No, kubernetes: No, swarm_note: "the iptables zone policy needs fixed bridge names and addresses", kubernetes_note: "depends on the cluster's network plugin" },
    Control { name: "file secrets, owner and mode", compose: Partly, swarm: Yes, kubernetes: Yes, swarm_note: "", kubernetes_note: "Secrets generated from the secret files by kustomize; fsGroup gives the group read access" },
    Control { name: "bounded logs", compose: Yes, swarm: Yes, kubernetes: No, swarm_note: "", kubernetes_note: "log rotation is a kubelet setting" },
    Control { name: "central log driver and tag", compose: Yes, swarm: Yes, kubernetes: No, swarm_note: "", kubernetes_note: "the kubelet writes container output to files on each node (rotation: containerLogMaxSize, containerLogMaxFiles); ship them to the `[logging]` destination with a node log agent (a Fluent Bit or Fluentd DaemonSet)" },
    Control { name: "init process", compose: Yes, swarm: Yes, kubernetes: No, swarm_note: "", kubernetes_note: "no per-pod init: the image must reap its children" },
];

fn support_of(c: &Control, t: Target) -> Support {
    match t {
        Target::Compose => c.compose,
        Target::Swarm => c.swarm,
        Target::Kubernetes => c.kubernetes,
    }
}

/// The controls a target does not fully enforce, with what that means.
pub fn gaps(t: Target) -> Vec<String> {
    CONTROLS
        .iter()
        .filter(|c| support_of(c, t) != Yes)
        .map(|c| {
            let note = match t {
                Target::Swarm => c.swarm_note,
                Target::Kubernetes => c.kubernetes_note,
                Target::Compose => "",
            };
            if note.is_empty() {
                c.name.to_string()
            } else {
                format!("{}: {note}", c.name)
            }
        })
        .collect()
}

fn mark(s: Support) -> &'static str {
    match s {
        Yes => "yes",
        Partly => "partly",
        No => "no",
    }
}

/// The Markdown table of the README (between its `controls-table` markers).
pub fn markdown_table() -> String {
    let mut s = String::from("| control | compose | swarm | kubernetes |\n|---|---|---|---|\n");
    for c in CONTROLS {
        s.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            c.name,
            mark(c.compose),
            mark(c.swarm),
            mark(c.kubernetes)
        ));
    }
    s
}
