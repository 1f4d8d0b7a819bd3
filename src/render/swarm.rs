//! `--target swarm`: a stack file for `docker stack deploy`, rendered from the same plan as
//! typed structs (no spec value can add a key) through the one YAML path ([`super::yaml`]).
//! Swarm cannot carry every control (see `targets::Control`): the file says so in its header
//! and `hardgen build` repeats it as a warning. Fields are declared in alphabetical order:
//! the order the file has always had.

use std::collections::BTreeMap;

use minijinja::Environment;
use serde::Serialize;

use super::compose::Resources;
use super::{files, host, RenderBug};
use crate::artifact::{Artifact, Sink};
use crate::model::*;
use crate::plan::{Plan, PlannedService};
use crate::render::literal_dollars as lit;
use crate::targets::{self, Target};

#[derive(Serialize)]
struct Stack {
    networks: BTreeMap<String, Network>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    secrets: BTreeMap<String, SecretFile>,
    services: BTreeMap<String, StackService>,
    version: &'static str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    volumes: BTreeMap<String, NamedVolume>,
}

#[derive(Serialize)]
struct StackService {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cap_add: Vec<String>,
    cap_drop: [&'static str; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<Vec<String>>,
    deploy: Deploy,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    environment: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    healthcheck: Option<Healthcheck>,
    image: String,
    init: bool,
    logging: Logging,
    networks: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ports: Vec<Port>,
    read_only: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    secrets: Vec<SecretMount>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ulimits: Option<Ulimits>,
    user: String,
    volumes: Vec<Mount>,
}

#[derive(Serialize)]
struct Deploy {
    replicas: u32,
    resources: Resources,
    restart_policy: RestartPolicy,
}

#[derive(Serialize)]
struct RestartPolicy {
    condition: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    delay: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_attempts: Option<u32>,
}

#[derive(Serialize)]
struct Healthcheck {
    interval: String,
    retries: u32,
    start_period: String,
    test: Vec<String>,
    timeout: String,
}

#[derive(Serialize)]
struct Logging {
    driver: &'static str,
    options: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct Port {
    mode: &'static str,
    protocol: &'static str,
    published: u16,
    target: u16,
}

#[derive(Serialize)]
struct SecretMount {
    gid: String,
    mode: u32,
    source: String,
    target: String,
    uid: String,
}

#[derive(Serialize)]
struct Ulimits {
    nofile: Limit,
}

#[derive(Serialize)]
struct Limit {
    hard: u32,
    soft: u32,
}

/// A tmpfs, bind or volume mount (long syntax).
#[derive(Serialize)]
struct Mount {
    #[serde(skip_serializing_if = "Option::is_none")]
    read_only: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    target: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    tmpfs: Option<TmpfsOptions>,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
struct TmpfsOptions {
    size: u64,
}

#[derive(Serialize)]
struct Network {
    attachable: bool,
    driver: &'static str,
    driver_opts: BTreeMap<&'static str, &'static str>,
    internal: bool,
    ipam: Ipam,
    labels: BTreeMap<&'static str, String>,
}

#[derive(Serialize)]
struct Ipam {
    config: Vec<IpamConfig>,
}

#[derive(Serialize)]
struct IpamConfig {
    subnet: String,
}

#[derive(Serialize)]
struct SecretFile {
    file: String,
}

#[derive(Serialize)]
struct NamedVolume {
    labels: BTreeMap<&'static str, String>,
}

fn restart_policy(r: Restart) -> RestartPolicy {
    let (condition, delay, max_attempts) = match r {
        Restart::No => ("none", None, None),
        Restart::Always | Restart::UnlessStopped => ("any", Some("5s"), None),
        Restart::OnFailure(n) => ("on-failure", Some("5s"), n),
    };
    RestartPolicy {
        condition,
        delay,
        max_attempts,
    }
}

fn service(plan: &Plan, ps: &PlannedService) -> StackService {
    let m = plan.model;
    let s = ps.svc;
    let tmpfs = ps.tmpfs.iter().map(|t| Mount {
        read_only: None,
        source: None,
        target: t.path.clone(),
        tmpfs: Some(TmpfsOptions { size: t.size.bytes }),
        kind: "tmpfs",
    });
    let volumes = s.volumes.iter().map(|v| {
        let (kind, source) = match &v.source {
            VolumeSource::Named(n) => ("volume", n.clone()),
            VolumeSource::Host(p) => ("bind", p.clone()),
        };
        Mount {
            read_only: Some(v.read_only),
            source: Some(source),
            target: v.target.clone(),
            tmpfs: None,
            kind,
        }
    });
    StackService {
        cap_add: s.cap_add.iter().cloned().collect(),
        cap_drop: ["ALL"],
        command: s
            .command
            .as_ref()
            .map(|c| c.iter().map(|a| lit(a)).collect()),
        deploy: Deploy {
            replicas: 1,
            resources: Resources::of(s),
            restart_policy: restart_policy(s.restart),
        },
        environment: s
            .environment
            .iter()
            .map(|(k, v)| (k.clone(), lit(v)))
            .collect(),
        healthcheck: s.health.as_ref().map(|h| Healthcheck {
            interval: h.interval.to_string(),
            retries: h.retries,
            start_period: h.start_period.to_string(),
            test: std::iter::once("CMD".to_string())
                .chain(h.cmd.iter().map(|a| lit(a)))
                .collect(),
            timeout: h.timeout.to_string(),
        }),
        image: ps.image.clone(),
        init: s.init,
        logging: Logging {
            driver: m.logging.driver.as_str(),
            options: m
                .logging
                .service_options(&m.project.name, &s.name, &s.log)
                .into_iter()
                .map(|(k, v)| (k, lit(&v)))
                .collect(),
        },
        networks: ps.networks.iter().map(|a| a.zone.clone()).collect(),
        // Swarm publishes through the routing mesh on every address; `mode: host` keeps the
        // port on the node, but the bind address cannot be restricted.
        ports: s
            .ports
            .iter()
            .map(|p| Port {
                mode: "host",
                protocol: p.container.proto.as_str(),
                published: p.host_port,
                target: p.container.port,
            })
            .collect(),
        read_only: s.read_only,
        // Swarm, unlike plain Compose, honours the owner and mode of secret files.
        secrets: s
            .secrets
            .iter()
            .map(|x| SecretMount {
                gid: s.user.gid.to_string(),
                mode: 0o400,
                source: x.clone(),
                target: x.clone(),
                uid: s.user.uid.to_string(),
            })
            .collect(),
        ulimits: s.nofile.map(|n| Ulimits {
            nofile: Limit { hard: n, soft: n },
        }),
        user: s.user.to_string(),
        volumes: tmpfs.chain(volumes).collect(),
    }
}

pub fn render(plan: &Plan, header: &str) -> String {
    let m = plan.model;
    let project = || ("io.hardgen.project", m.project.name.clone());
    let stack = Stack {
        networks: plan
            .zones
            .iter()
            .map(|z| {
                let network = Network {
                    attachable: false,
                    driver: "overlay",
                    driver_opts: [("encrypted", "true")].into_iter().collect(),
                    internal: z.internal,
                    ipam: Ipam {
                        config: vec![IpamConfig {
                            subnet: z.subnet.to_string(),
                        }],
                    },
                    labels: [project(), ("io.hardgen.zone", z.name.clone())]
                        .into_iter()
                        .collect(),
                };
                (z.name.clone(), network)
            })
            .collect(),
        secrets: plan
            .secrets
            .iter()
            .map(|s| {
                let file = format!("./secrets/{}", s.name);
                (s.name.clone(), SecretFile { file })
            })
            .collect(),
        services: plan
            .services
            .iter()
            .map(|ps| (ps.svc.name.clone(), service(plan, ps)))
            .collect(),
        version: "3.9",
        volumes: plan
            .named_volumes
            .iter()
            .map(|v| {
                let labels = [project()].into_iter().collect();
                (v.clone(), NamedVolume { labels })
            })
            .collect(),
    };
    let mut text = format!(
        "# {header}\n# Stack file for `docker stack deploy -c docker-stack.yml {}`.\n",
        m.project.name
    );
    text.push_str("# Swarm cannot enforce these controls of the spec (compensate where noted):\n");
    for line in targets::gaps(Target::Swarm, m) {
        text.push_str(&format!("#   - {line}\n"));
    }
    super::yaml::document(&stack, &mut text);
    text
}

/// The swarm target's files: the stack, the daemon.json swarm mode accepts, the host side.
pub(super) fn artifacts(
    env: &Environment,
    header: &str,
    plan: &Plan,
    out: &mut dyn Sink,
) -> Result<(), RenderBug> {
    out.insert("docker-stack.yml", Artifact::text(render(plan, header)));
    out.insert(
        "daemon.json",
        Artifact::text(files::daemon_json(plan.model, Target::Swarm)),
    );
    host::host(env, header, plan, "", out)
}
