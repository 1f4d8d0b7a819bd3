//! `--target compose`: docker-compose.yml as typed structs written through the one YAML path
//! ([`super::yaml`]): always valid YAML, and no spec value can add a key. Compose interpolates
//! `$` in every value, so user strings are escaped (`$$`). [`artifacts`] adds what only a
//! compose host gets: the firewall, the security check, AppArmor profiles, the incident script.

use std::borrow::Cow;
use std::collections::BTreeMap;

use minijinja::Environment;
use serde::Serialize;

use super::{files, host, seccomp_profiles, RenderBug};
use crate::artifact::{Artifact, Sink};
use crate::model::*;
use crate::plan::{Plan, PlannedService};
use crate::render::literal_dollars;
use crate::targets::Target;

/// The compose file but its services, which are written between its `name` and the rest
/// (`render`), one at a time.
#[derive(Serialize)]
struct ComposeName {
    name: String,
}

#[derive(Serialize)]
struct Compose {
    networks: BTreeMap<String, Network>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    volumes: BTreeMap<String, NamedVolume>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    secrets: BTreeMap<String, SecretFile>,
}

/// A service as the compose file writes it: the model's strings are borrowed (a `$` makes a
/// copy, `$$`), so a service costs no copy of its names, paths and values.
#[derive(Serialize)]
struct ComposeService<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    build: Option<BuildSection<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pull_policy: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<Vec<Cow<'a, str>>>,
    user: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    group_add: Vec<String>,
    read_only: bool,
    init: bool,
    cap_drop: &'static [&'static str],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    cap_add: Vec<&'a str>,
    security_opt: Vec<String>,
    tmpfs: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    volumes: Vec<VolumeMount<'a>>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    secrets: &'a [String],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    environment: BTreeMap<&'a str, Cow<'a, str>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    expose: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ports: Vec<PortMapping>,
    networks: BTreeMap<&'a str, ServiceNetwork>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    extra_hosts: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    depends_on: BTreeMap<&'a str, DependsOn>,
    #[serde(skip_serializing_if = "Option::is_none")]
    healthcheck: Option<Healthcheck<'a>>,
    restart: String,
    mem_limit: String,
    memswap_limit: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    mem_reservation: Option<String>,
    cpus: String,
    pids_limit: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    ulimits: Option<Ulimits>,
    deploy: Deploy,
    logging: Logging,
    labels: BTreeMap<&'static str, Cow<'a, str>>,
}

#[derive(Serialize)]
struct BuildSection<'a> {
    context: &'a str,
    dockerfile: &'a str,
}

#[derive(Serialize)]
struct VolumeMount<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    source: &'a str,
    target: &'a str,
    read_only: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    bind: Option<BindOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    volume: Option<VolumeOptions>,
}

#[derive(Serialize)]
struct BindOptions {
    create_host_path: bool,
}

#[derive(Serialize)]
struct VolumeOptions {
    nocopy: bool,
}

#[derive(Serialize)]
struct PortMapping {
    target: u16,
    published: String,
    host_ip: String,
    protocol: &'static str,
    mode: &'static str,
}

#[derive(Serialize)]
struct ServiceNetwork {
    ipv4_address: String,
}

#[derive(Serialize)]
struct DependsOn {
    condition: &'static str,
}

#[derive(Serialize)]
struct Healthcheck<'a> {
    test: Vec<Cow<'a, str>>,
    interval: String,
    timeout: String,
    start_period: String,
    retries: u32,
}

#[derive(Serialize)]
struct Ulimits {
    nofile: Limit,
}

#[derive(Serialize)]
struct Limit {
    soft: u32,
    hard: u32,
}

#[derive(Serialize)]
struct Deploy {
    resources: Resources,
}

/// `deploy.resources`, as compose and swarm write it.
#[derive(Serialize)]
pub(super) struct Resources {
    limits: Limits,
    #[serde(skip_serializing_if = "Option::is_none")]
    reservations: Option<Reservations>,
}

#[derive(Serialize)]
struct Limits {
    cpus: String,
    memory: String,
    pids: u32,
}

impl Resources {
    pub(super) fn of(s: &Service) -> Resources {
        Resources {
            limits: Limits {
                cpus: s.cpus.text(),
                memory: s.memory.text(),
                pids: s.pids,
            },
            reservations: (s.memory_reservation.is_some() || s.cpus_reservation.is_some()).then(
                || Reservations {
                    cpus: s.cpus_reservation.map(|c| c.text()),
                    memory: s.memory_reservation.map(|m| m.text()),
                },
            ),
        }
    }
}

#[derive(Serialize)]
struct Reservations {
    #[serde(skip_serializing_if = "Option::is_none")]
    cpus: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory: Option<String>,
}

#[derive(Serialize)]
struct Logging {
    driver: &'static str,
    options: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct Network {
    driver: &'static str,
    internal: bool,
    enable_ipv6: bool,
    driver_opts: BTreeMap<&'static str, String>,
    ipam: Ipam,
    labels: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct Ipam {
    driver: &'static str,
    config: Vec<IpamConfig>,
}

#[derive(Serialize)]
struct IpamConfig {
    subnet: String,
    gateway: String,
}

#[derive(Serialize)]
struct NamedVolume {
    labels: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct SecretFile {
    file: String,
}

/// A user string as a literal for compose (`$` as `$$`, see [`literal_dollars`]), copied only
/// when it holds a `$`.
fn lit(s: &str) -> Cow<'_, str> {
    if s.contains('$') {
        Cow::Owned(literal_dollars(s))
    } else {
        Cow::Borrowed(s)
    }
}

fn service<'a>(plan: &Plan, ps: &'a PlannedService) -> ComposeService<'a> {
    let s = ps.svc;
    let security_opt = security_opt(ps);
    let tmpfs = ps
        .tmpfs
        .iter()
        .map(|t| {
            let mut text = String::with_capacity(t.path.len() + 48);
            text.push_str(&t.path);
            text.push_str(":rw,noexec,nosuid,nodev,size=");
            t.size.push_to(&mut text);
            text.push_str(",mode=");
            push_octal(&mut text, t.mode);
            text
        })
        .collect();
    let volumes = s.volumes.iter().map(volume_mount).collect();
    let ports = s
        .ports
        .iter()
        .map(|p| PortMapping {
            target: p.container.port,
            published: p.host_port.text(),
            host_ip: p.host_ip.text(),
            protocol: p.container.proto.as_str(),
            mode: "host",
        })
        .collect();
    let networks = ps
        .networks
        .iter()
        .map(|a| {
            (
                a.zone.as_str(),
                ServiceNetwork {
                    ipv4_address: a.address.text(),
                },
            )
        })
        .collect();
    let depends_on = depends_on(plan, s);
    let healthcheck = s.health.as_ref().map(|h| Healthcheck {
        test: std::iter::once(Cow::Borrowed("CMD"))
            .chain(h.cmd.iter().map(|a| lit(a)))
            .collect(),
        interval: h.interval.text(),
        timeout: h.timeout.text(),
        start_period: h.start_period.text(),
        retries: h.retries,
    });
    let (build, pull_policy) = match &ps.build {
        Some(b) => (
            Some(BuildSection {
                context: &b.context,
                dockerfile: &b.dockerfile,
            }),
            Some("build"),
        ),
        None => (None, None),
    };
    let mut labels = BTreeMap::new();
    labels.insert(
        "io.hardgen.seccomp",
        Cow::Borrowed(ps.seccomp_profile.as_str()),
    );
    if let Some(r) = &s.unsafe_reason {
        labels.insert("io.hardgen.unsafe-reason", lit(r));
    }
    let mut log_options =
        plan.model
            .logging
            .service_options(&plan.model.project.name, &s.name, &s.log);
    for v in log_options.values_mut() {
        if v.contains('$') {
            *v = literal_dollars(v);
        }
    }
    ComposeService {
        image: Some(&ps.image),
        build,
        pull_policy,
        command: s
            .command
            .as_ref()
            .map(|c| c.iter().map(|a| lit(a)).collect()),
        user: s.user.text(),
        group_add: ps.group_add.iter().map(Text::text).collect(),
        read_only: s.read_only,
        init: s.init,
        cap_drop: &["ALL"],
        cap_add: s.cap_add.iter().map(String::as_str).collect(),
        security_opt,
        tmpfs,
        volumes,
        secrets: &s.secrets,
        environment: s
            .environment
            .iter()
            .map(|(k, v)| (k.as_str(), lit(v)))
            .collect(),
        expose: s.expose.iter().map(Text::text).collect(),
        ports,
        networks,
        extra_hosts: ps
            .pinned_hosts
            .iter()
            .map(|(name, addr)| {
                let mut host = String::with_capacity(name.len() + 16);
                host.push_str(name);
                host.push(':');
                addr.push_to(&mut host);
                host
            })
            .collect(),
        depends_on,
        healthcheck,
        restart: s.restart.text(),
        mem_limit: s.memory.text(),
        memswap_limit: s.memory.text(),
        mem_reservation: s.memory_reservation.map(|m| m.text()),
        cpus: s.cpus.text(),
        pids_limit: s.pids,
        ulimits: s.nofile.map(|n| Ulimits {
            nofile: Limit { soft: n, hard: n },
        }),
        deploy: Deploy {
            resources: Resources::of(s),
        },
        logging: Logging {
            driver: plan.model.logging.driver.as_str(),
            options: log_options,
        },
        labels,
    }
}

/// A volume as Compose's long syntax: named volumes never copy the image's content in,
/// bind mounts never create a missing host path.
fn volume_mount(v: &Volume) -> VolumeMount<'_> {
    match &v.source {
        VolumeSource::Named(n) => VolumeMount {
            kind: "volume",
            source: n,
            target: &v.target,
            read_only: v.read_only,
            bind: None,
            volume: Some(VolumeOptions { nocopy: false }),
        },
        VolumeSource::Host(p) => VolumeMount {
            kind: "bind",
            source: p,
            target: &v.target,
            read_only: v.read_only,
            bind: Some(BindOptions {
                create_host_path: false,
            }),
            volume: None,
        },
    }
}

/// Each dependency waits for health where the dependency has a health check.
fn depends_on<'a>(plan: &Plan, s: &'a Service) -> BTreeMap<&'a str, DependsOn> {
    s.depends_on
        .iter()
        .map(|d| {
            let healthy = plan
                .model
                .services
                .get(d)
                .is_some_and(|x| x.health.is_some());
            (
                d.as_str(),
                DependsOn {
                    condition: if healthy {
                        "service_healthy"
                    } else {
                        "service_started"
                    },
                },
            )
        })
        .collect()
}

/// no-new-privileges, the seccomp profile and the AppArmor profile.
fn security_opt(ps: &PlannedService) -> Vec<String> {
    let s = ps.svc;
    let mut security_opt = Vec::new();
    if s.no_new_privileges {
        security_opt.push("no-new-privileges:true".to_string());
    }
    security_opt.push(["seccomp:seccomp/", ps.seccomp_profile.as_str(), ".json"].concat());
    if let Some(a) = &s.apparmor {
        security_opt.push(["apparmor:", a.as_str()].concat());
    }
    security_opt
}

/// `n` in octal, as `{:o}` writes it.
fn push_octal(out: &mut String, n: u32) {
    let mut digits = [0u8; 11];
    let mut i = digits.len();
    let mut n = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (n & 7) as u8;
        n >>= 3;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        out.push(char::from(d));
    }
}

/// The `.env` variable that overrides, per host, the gateway mode of internal zones (its
/// default is the spec's `[host] internal_gateway_mode`).
pub const GATEWAY_MODE_VAR: &str = "HARDGEN_INTERNAL_GATEWAY_MODE";

/// docker-compose.yml, written a service at a time (their structs and their text are never
/// all in memory: some 35 MB at 5,000 services): `offer` is given the text so far after each
/// service and may take it (hand it to the sink); the rest is returned.
pub fn render(plan: &Plan, header: &str, offer: &mut dyn FnMut(&mut String)) -> String {
    let m = plan.model;
    let project_label = |kind: &str| -> BTreeMap<String, String> {
        [
            ("io.hardgen.project".to_string(), m.project.name.clone()),
            ("io.hardgen.kind".to_string(), kind.to_string()),
        ]
        .into_iter()
        .collect()
    };
    let mut out = header.to_string();
    super::yaml::document(
        &ComposeName {
            name: m.project.name.clone(),
        },
        &mut out,
    );
    // The `services` mapping, sorted by name, an entry at a time.
    let mut services: Vec<&PlannedService> = plan.services.iter().collect();
    services.sort_by(|a, b| a.svc.name.cmp(&b.svc.name));
    if services.is_empty() {
        super::yaml::document(
            &BTreeMap::from([("services", BTreeMap::<String, ComposeService>::new())]),
            &mut out,
        );
    } else {
        out.push_str("services:\n");
        let mut scratch = String::new();
        for ps in services {
            super::yaml::nested_entry(&ps.svc.name, &service(plan, ps), &mut scratch, &mut out);
            offer(&mut out);
        }
    }
    let compose = Compose {
        networks: plan
            .zones
            .iter()
            .map(|z| {
                let mut opts = BTreeMap::new();
                opts.insert("com.docker.network.bridge.name", z.bridge.clone());
                opts.insert(
                    "com.docker.network.bridge.host_binding_ipv4",
                    "127.0.0.1".to_string(),
                );
                opts.insert("com.docker.network.bridge.enable_icc", "true".to_string());
                if z.internal {
                    // `[host] internal_gateway_mode` (`nat` unless the spec asks for
                    // `isolated`, which Engine 28+ applies, 20.10-26 ignore and 27 refuses),
                    // as the default of a variable a host's .env can override.
                    opts.insert(
                        "com.docker.network.bridge.gateway_mode_ipv4",
                        format!(
                            "${{{GATEWAY_MODE_VAR}:-{}}}",
                            m.host.internal_gateway_mode.as_str()
                        ),
                    );
                }
                let mut labels = project_label("zone");
                labels.insert("io.hardgen.zone".to_string(), z.name.clone());
                (
                    z.name.clone(),
                    Network {
                        driver: "bridge",
                        internal: z.internal,
                        enable_ipv6: false,
                        driver_opts: opts,
                        ipam: Ipam {
                            driver: "default",
                            config: vec![IpamConfig {
                                subnet: z.subnet.to_string(),
                                gateway: z.gateway.to_string(),
                            }],
                        },
                        labels,
                    },
                )
            })
            .collect(),
        volumes: plan
            .named_volumes
            .iter()
            .map(|v| {
                (
                    v.clone(),
                    NamedVolume {
                        labels: project_label("volume"),
                    },
                )
            })
            .collect(),
        secrets: plan
            .secrets
            .iter()
            .map(|s| {
                (
                    s.name.clone(),
                    SecretFile {
                        file: format!("./secrets/{}", s.name),
                    },
                )
            })
            .collect(),
    };
    super::yaml::document(&compose, &mut out);
    out
}

/// The compose target's files.
pub(super) fn artifacts(
    env: &Environment,
    header: &str,
    plan: &Plan,
    out: &mut dyn Sink,
) -> Result<(), RenderBug> {
    let mut file = out.stream("docker-compose.yml", 0o644);
    let rest = render(plan, &format!("# {header}\n"), &mut |text| file.offer(text));
    file.finish(rest);
    seccomp_profiles(plan, out);
    host::firewall(env, header, plan, out)?;
    out.insert(
        "scripts/security-check.sh",
        Artifact::script(host::security_check(env, header, plan)?),
    );
    out.insert(
        "daemon.json",
        Artifact::text(files::daemon_json(plan.model, Target::Compose)),
    );
    host::host(env, header, plan, &plan.firewall.forward_chain, out)?;
    out.insert("README.md", Artifact::text(files::readme(header, plan)));
    host::apparmor(env, header, plan, out)?;
    out.insert(
        "scripts/incident.sh",
        Artifact::script(host::incident(env, header, plan)?),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octal_is_what_format_writes() {
        for n in (0..5000).chain([0o755, 0o1777, 0o7777, u32::MAX]) {
            let mut s = String::from("mode=");
            push_octal(&mut s, n);
            assert_eq!(s, format!("mode={n:o}"));
        }
    }
}
