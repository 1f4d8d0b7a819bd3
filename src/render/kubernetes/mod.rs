//! `--target kubernetes`: the same validated model rendered as Kubernetes manifests meeting
//! the "restricted" Pod Security Standard, with zones and flows as NetworkPolicies.
//!
//! Layout: `kubernetes/namespace.yaml`, `kubernetes/<service>.yaml` (Deployment, or
//! StatefulSet for services with named volumes, plus its Service),
//! `kubernetes/network-policies.yaml`, and `kustomization.yaml` at the root (`kubectl apply
//! -k DIR`), whose generators build Secrets from the generated secret files and ConfigMaps
//! from read-only file mounts — nothing secret is ever written into a manifest.
//!
//! The objects are typed ([`types`]) and written through the one YAML path of every target.

mod types;

use minijinja::Environment;

use super::{seccomp_profiles, RenderBug};
use crate::artifact::{Artifact, Sink};
use crate::model::*;
use crate::plan::{Plan, PlannedService};
use crate::render::literal_dollars;

use types::*;

/// Label marking the pods of a zone (a pod may be in several zones).
fn zone_label(zone: &str) -> String {
    format!("zone.hardgen.io/{zone}")
}

fn quantity(b: ByteSize) -> String {
    let unit = match b.unit {
        'k' => "Ki",
        'm' => "Mi",
        _ => "Gi",
    };
    format!("{}{unit}", b.amount)
}

fn cpu(c: Cpus) -> String {
    format!("{}m", c.0)
}

/// Where a seccomp profile must be installed on each node, relative to the kubelet's
/// seccomp root (`/var/lib/kubelet/seccomp`).
pub fn localhost_profile(project: &str, profile: &str) -> String {
    format!("hardgen/{project}/{profile}.json")
}

/// A host path mount: read-only files become ConfigMaps, the rest PersistentVolumeClaims.
fn host_mount_is_file(path: &str) -> bool {
    path.rsplit('/')
        .next()
        .is_some_and(|last| last.contains('.') && !last.starts_with('.'))
}

fn mount_name(service: &str, idx: usize) -> String {
    format!("{service}-mount-{idx}")
}

fn seccomp_profile(plan: &Plan, ps: &PlannedService) -> SeccompProfile {
    SeccompProfile {
        localhost_profile: localhost_profile(&plan.model.project.name, &ps.seccomp_profile),
        kind: "Localhost",
    }
}

fn protocol(p: PortProto) -> String {
    p.proto.as_str().to_uppercase()
}

fn secret_object_name(secret: &str) -> String {
    secret.replace('_', "-")
}

fn container(plan: &Plan, ps: &PlannedService) -> Container {
    let s = ps.svc;
    let mut mounts: Vec<VolumeMount> = ps
        .tmpfs
        .iter()
        .map(|t| VolumeMount {
            mount_path: t.path.clone(),
            name: t.name.clone(),
            read_only: None,
            sub_path: None,
        })
        .collect();
    for (i, v) in s.volumes.iter().enumerate() {
        let (name, sub_path) = match &v.source {
            VolumeSource::Named(n) => (n.clone(), None),
            VolumeSource::Host(p) if v.read_only && host_mount_is_file(p) => (
                mount_name(&s.name, i),
                Some(p.rsplit('/').next().unwrap_or(p).to_string()),
            ),
            VolumeSource::Host(_) => (mount_name(&s.name, i), None),
        };
        mounts.push(VolumeMount {
            mount_path: v.target.clone(),
            name,
            read_only: Some(v.read_only),
            sub_path,
        });
    }
    for secret in &s.secrets {
        mounts.push(VolumeMount {
            mount_path: format!("/run/secrets/{secret}"),
            name: format!("secret-{}", secret_object_name(secret)),
            read_only: Some(true),
            sub_path: Some(secret.clone()),
        });
    }
    let probe = s.health.as_ref().map(|h| Probe {
        exec: ExecAction {
            command: h.cmd.clone(),
        },
        failure_threshold: h.retries,
        initial_delay_seconds: h.start_period.millis / 1000,
        period_seconds: (h.interval.millis / 1000).max(1),
        timeout_seconds: (h.timeout.millis / 1000).max(1),
    });
    Container {
        // Kubernetes expands `$(VAR)` in args and env values; `$$` is a literal `$`.
        args: s
            .command
            .as_ref()
            .map(|c| c.iter().map(|a| literal_dollars(a)).collect()),
        env: s
            .environment
            .iter()
            .map(|(k, v)| EnvVar {
                name: k.clone(),
                value: literal_dollars(v),
            })
            .collect(),
        image: ps.image.clone(),
        image_pull_policy: "IfNotPresent",
        liveness_probe: probe.clone(),
        name: s.name.clone(),
        ports: container_ports(s)
            .into_iter()
            .map(|p| ContainerPort {
                container_port: p.port,
                protocol: protocol(p),
            })
            .collect(),
        readiness_probe: probe,
        resources: Resources {
            limits: Quantities {
                cpu: cpu(s.cpus),
                memory: quantity(s.memory),
            },
            requests: Quantities {
                cpu: cpu(s.cpus_reservation.unwrap_or(s.cpus)),
                memory: quantity(s.memory_reservation.unwrap_or(s.memory)),
            },
        },
        security_context: ContainerSecurityContext {
            allow_privilege_escalation: false,
            capabilities: Capabilities {
                add: s.cap_add.iter().cloned().collect(),
                drop: ["ALL"],
            },
            privileged: false,
            read_only_root_filesystem: true,
            run_as_group: s.user.gid,
            run_as_non_root: true,
            run_as_user: s.user.uid,
            seccomp_profile: seccomp_profile(plan, ps),
        },
        volume_mounts: mounts,
    }
}

fn container_ports(s: &Service) -> Vec<PortProto> {
    let mut ports: Vec<PortProto> = s.expose.clone();
    for p in &s.ports {
        if !ports.contains(&p.container) {
            ports.push(p.container);
        }
    }
    ports
}

fn labels(plan: &Plan, ps: &PlannedService) -> Labels {
    let mut l = Labels::new();
    l.insert("app.kubernetes.io/name".into(), ps.svc.name.clone());
    l.insert(
        "app.kubernetes.io/part-of".into(),
        plan.model.project.name.clone(),
    );
    l.insert("app.kubernetes.io/managed-by".into(), "hardgen".into());
    for z in &ps.svc.zones {
        l.insert(zone_label(z), "member".into());
    }
    for a in ps
        .networks
        .iter()
        .filter(|a| !ps.svc.zones.contains(&a.zone))
    {
        l.insert(zone_label(&a.zone), "client".into());
    }
    l
}

fn name_selector(service: &str) -> Labels {
    [("app.kubernetes.io/name".to_string(), service.to_string())]
        .into_iter()
        .collect()
}

fn workload(plan: &Plan, ps: &PlannedService, ns: &str) -> Manifest {
    let s = ps.svc;
    let mut volumes: Vec<PodVolume> = ps
        .tmpfs
        .iter()
        .map(|t| PodVolume {
            empty_dir: Some(EmptyDir {
                medium: "Memory",
                size_limit: quantity(t.size),
            }),
            ..PodVolume::named(t.name.clone())
        })
        .collect();
    let mut claims = Vec::new();
    for (i, v) in s.volumes.iter().enumerate() {
        match &v.source {
            VolumeSource::Named(n) => claims.push(ClaimTemplate {
                metadata: Metadata {
                    name: n.clone(),
                    ..Metadata::default()
                },
                spec: ClaimSpec::gib("ReadWriteOnce"),
            }),
            VolumeSource::Host(p) if v.read_only && host_mount_is_file(p) => {
                volumes.push(PodVolume {
                    config_map: Some(ConfigMapSource {
                        default_mode: 0o444,
                        name: mount_name(&s.name, i),
                    }),
                    ..PodVolume::named(mount_name(&s.name, i))
                })
            }
            VolumeSource::Host(_) => volumes.push(PodVolume {
                persistent_volume_claim: Some(ClaimSource {
                    claim_name: mount_name(&s.name, i),
                    read_only: v.read_only,
                }),
                ..PodVolume::named(mount_name(&s.name, i))
            }),
        }
    }
    for secret in &s.secrets {
        volumes.push(PodVolume {
            secret: Some(SecretSource {
                default_mode: 0o440,
                secret_name: secret_object_name(secret),
            }),
            ..PodVolume::named(format!("secret-{}", secret_object_name(secret)))
        });
    }
    let labels = labels(plan, ps);
    let stateful = !claims.is_empty();
    Manifest::Workload(Object {
        api_version: "apps/v1",
        kind: if stateful {
            "StatefulSet"
        } else {
            "Deployment"
        },
        metadata: Metadata {
            labels: labels.clone(),
            name: s.name.clone(),
            namespace: Some(ns.to_string()),
            ..Metadata::default()
        },
        spec: Some(WorkloadSpec {
            replicas: 1,
            selector: Selector {
                match_labels: name_selector(&s.name),
                ..Selector::default()
            },
            service_name: stateful.then(|| s.name.clone()),
            template: PodTemplate {
                metadata: TemplateMetadata { labels },
                spec: PodSpec {
                    automount_service_account_token: false,
                    containers: vec![container(plan, ps)],
                    enable_service_links: false,
                    security_context: PodSecurityContext {
                        fs_group: s.user.gid,
                        run_as_group: s.user.gid,
                        run_as_non_root: true,
                        run_as_user: s.user.uid,
                        seccomp_profile: seccomp_profile(plan, ps),
                        supplemental_groups: ps.group_add.clone(),
                    },
                    volumes,
                },
            },
            volume_claim_templates: claims,
        }),
    })
}

fn service_object(ps: &PlannedService, ns: &str) -> Option<Manifest> {
    let ports = container_ports(ps.svc);
    if ports.is_empty() {
        return None;
    }
    Some(Manifest::Service(Object {
        api_version: "v1",
        kind: "Service",
        metadata: Metadata {
            name: ps.svc.name.clone(),
            namespace: Some(ns.to_string()),
            ..Metadata::default()
        },
        spec: Some(ServiceSpec {
            ports: ports
                .iter()
                .map(|p| ServicePort {
                    name: format!("{}-{}", p.proto.as_str(), p.port),
                    port: p.port,
                    protocol: protocol(*p),
                    target_port: p.port,
                })
                .collect(),
            selector: name_selector(&ps.svc.name),
            kind: "ClusterIP",
        }),
    }))
}

fn policy(ns: &str, name: String, spec: PolicySpec) -> Manifest {
    Manifest::Policy(Object {
        api_version: "networking.k8s.io/v1",
        kind: "NetworkPolicy",
        metadata: Metadata {
            name,
            namespace: Some(ns.to_string()),
            ..Metadata::default()
        },
        spec: Some(spec),
    })
}

fn pods(selector: Selector) -> Peer {
    Peer {
        pod_selector: Some(selector),
        ..Peer::default()
    }
}

fn network_policies(plan: &Plan, ns: &str) -> Vec<Manifest> {
    let dns_port = |protocol: &str| PolicyPort {
        port: 53,
        protocol: protocol.to_string(),
    };
    let mut out = vec![
        policy(
            ns,
            "default-deny".into(),
            PolicySpec {
                egress: Vec::new(),
                ingress: Vec::new(),
                pod_selector: Selector::default(),
                policy_types: vec!["Ingress", "Egress"],
            },
        ),
        policy(
            ns,
            "allow-dns".into(),
            PolicySpec {
                egress: vec![EgressRule {
                    ports: Some(vec![dns_port("UDP"), dns_port("TCP")]),
                    to: vec![Peer {
                        namespace_selector: Some(Selector::labels([(
                            "kubernetes.io/metadata.name".to_string(),
                            "kube-system",
                        )])),
                        pod_selector: Some(Selector::labels([("k8s-app".to_string(), "kube-dns")])),
                        ..Peer::default()
                    }],
                }],
                ingress: Vec::new(),
                pod_selector: Selector::default(),
                policy_types: vec!["Egress"],
            },
        ),
    ];
    let members = |zone: &str| Selector::labels([(zone_label(zone), "member")]);
    for z in &plan.zones {
        let name = format!("zone-{}", z.name.replace('_', "-"));
        out.push(policy(
            ns,
            name.clone(),
            PolicySpec {
                egress: vec![EgressRule {
                    ports: None,
                    to: vec![pods(members(&z.name))],
                }],
                ingress: vec![IngressRule {
                    from: vec![pods(members(&z.name))],
                    ports: None,
                }],
                pod_selector: members(&z.name),
                policy_types: vec!["Ingress", "Egress"],
            },
        ));
        if !z.internal {
            out.push(policy(
                ns,
                format!("{name}-egress"),
                PolicySpec {
                    egress: vec![EgressRule {
                        ports: None,
                        to: vec![Peer {
                            ip_block: Some(IpBlock {
                                cidr: "0.0.0.0/0",
                                except: vec![
                                    "10.0.0.0/8",
                                    "172.16.0.0/12",
                                    "192.168.0.0/16",
                                    "169.254.0.0/16",
                                ],
                            }),
                            ..Peer::default()
                        }],
                    }],
                    ingress: Vec::new(),
                    pod_selector: members(&z.name),
                    policy_types: vec!["Egress"],
                },
            ));
        }
    }
    for f in &plan.model.flows {
        let ports: Vec<PolicyPort> = f
            .ports
            .iter()
            .map(|p| PolicyPort {
                port: p.port,
                protocol: protocol(*p),
            })
            .collect();
        let clients = f
            .clients
            .iter()
            .map(|c| {
                pods(Selector::labels([(
                    "app.kubernetes.io/name".to_string(),
                    c,
                )]))
            })
            .collect();
        let name = format!("flow-{}-to-{}", f.from, f.to).replace('_', "-");
        out.push(policy(
            ns,
            format!("{name}-ingress"),
            PolicySpec {
                egress: Vec::new(),
                ingress: vec![IngressRule {
                    from: clients,
                    ports: Some(ports.clone()),
                }],
                pod_selector: members(&f.to),
                policy_types: vec!["Ingress"],
            },
        ));
        out.push(policy(
            ns,
            format!("{name}-egress"),
            PolicySpec {
                egress: vec![EgressRule {
                    ports: Some(ports),
                    to: vec![pods(members(&f.to))],
                }],
                ingress: Vec::new(),
                pod_selector: Selector {
                    match_expressions: vec![Expression {
                        key: "app.kubernetes.io/name",
                        operator: "In",
                        values: f.clients.clone(),
                    }],
                    ..Selector::default()
                },
                policy_types: vec!["Egress"],
            },
        ));
    }
    out
}

/// A manifest file: the header, then the objects as YAML documents.
fn docs<T: serde::Serialize>(header: &str, objects: &[T]) -> String {
    let mut s = format!("# {header}\n");
    for (i, o) in objects.iter().enumerate() {
        if i > 0 {
            s.push_str("---\n");
        }
        super::yaml::document(o, &mut s);
    }
    s
}

/// The kubernetes target's files: the manifests and the seccomp profiles the nodes install.
pub(super) fn artifacts(
    _env: &Environment,
    header: &str,
    plan: &Plan,
    out: &mut dyn Sink,
) -> Result<(), RenderBug> {
    for (path, text) in render(plan, header) {
        out.insert(path, Artifact::text(text));
    }
    seccomp_profiles(plan, out);
    Ok(())
}

/// The namespace (the project name) and the files of the kubernetes target.
pub fn render(plan: &Plan, header: &str) -> Vec<(String, String)> {
    let ns = plan.model.project.name.clone();
    let mut files = Vec::new();
    let restricted = [
        "pod-security.kubernetes.io/enforce",
        "pod-security.kubernetes.io/audit",
        "pod-security.kubernetes.io/warn",
    ]
    .into_iter()
    .map(|k| (k.to_string(), "restricted".to_string()))
    .chain([(
        "pod-security.kubernetes.io/enforce-version".to_string(),
        "latest".to_string(),
    )])
    .collect();
    let namespace = Manifest::Namespace(Object {
        api_version: "v1",
        kind: "Namespace",
        metadata: Metadata {
            labels: restricted,
            name: ns.clone(),
            ..Metadata::default()
        },
        spec: None,
    });
    files.push((
        "kubernetes/namespace.yaml".to_string(),
        docs(header, &[namespace]),
    ));
    let mut resources = vec!["kubernetes/namespace.yaml".to_string()];
    for ps in &plan.services {
        let mut objects = vec![workload(plan, ps, &ns)];
        objects.extend(service_object(ps, &ns));
        for (i, v) in ps.svc.volumes.iter().enumerate() {
            if let VolumeSource::Host(p) = &v.source {
                if !(v.read_only && host_mount_is_file(p)) {
                    objects.push(Manifest::Claim(Object {
                        api_version: "v1",
                        kind: "PersistentVolumeClaim",
                        metadata: Metadata {
                            annotations: [("hardgen.io/compose-source".to_string(), p.clone())]
                                .into_iter()
                                .collect(),
                            name: mount_name(&ps.svc.name, i),
                            namespace: Some(ns.clone()),
                            ..Metadata::default()
                        },
                        spec: Some(ClaimSpec::gib(if v.read_only {
                            "ReadOnlyMany"
                        } else {
                            "ReadWriteOnce"
                        })),
                    }));
                }
            }
        }
        let file = format!("kubernetes/{}.yaml", ps.svc.name);
        files.push((file.clone(), docs(header, &objects)));
        resources.push(file);
    }
    files.push((
        "kubernetes/network-policies.yaml".to_string(),
        docs(header, &network_policies(plan, &ns)),
    ));
    resources.push("kubernetes/network-policies.yaml".to_string());

    let secret_generator = plan
        .secrets
        .iter()
        .map(|s| Generator {
            files: vec![format!("{}=secrets/{}", s.name, s.name)],
            name: secret_object_name(&s.name),
            namespace: ns.clone(),
            kind: Some("Opaque"),
        })
        .collect();
    let config_map_generator = plan
        .services
        .iter()
        .flat_map(|ps| {
            let ns = &ns;
            ps.svc
                .volumes
                .iter()
                .enumerate()
                .filter_map(move |(i, v)| match &v.source {
                    VolumeSource::Host(p) if v.read_only && host_mount_is_file(p) => {
                        Some(Generator {
                            files: vec![p.trim_start_matches("./").to_string()],
                            name: mount_name(&ps.svc.name, i),
                            namespace: ns.clone(),
                            kind: None,
                        })
                    }
                    _ => None,
                })
        })
        .collect();
    let kustomization = Kustomization {
        api_version: "kustomize.config.k8s.io/v1beta1",
        config_map_generator,
        generator_options: GeneratorOptions {
            disable_name_suffix_hash: false,
        },
        kind: "Kustomization",
        namespace: ns,
        resources,
        secret_generator,
    };
    files.push((
        "kustomization.yaml".to_string(),
        docs(header, &[kustomization]),
    ));
    files
}
