//! `--target kubernetes`: the same validated model rendered as Kubernetes manifests meeting
//! the "restricted" Pod Security Standard, with zones and flows as NetworkPolicies.
//!
//! Layout: `kubernetes/namespace.yaml`, `kubernetes/<service>.yaml` (Deployment, or
//! StatefulSet for services with named volumes, plus its Service),
//! `kubernetes/network-policies.yaml`, and `kustomization.yaml` at the root (`kubectl apply
//! -k DIR`), whose generators build Secrets from the generated secret files and ConfigMaps
//! from read-only file mounts — nothing secret is ever written into a manifest.

use serde_json::{json, Value};

use crate::model::*;
use crate::plan::{Plan, PlannedService};
use crate::render::literal_dollars;

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

fn container(plan: &Plan, ps: &PlannedService) -> Value {
    let s = ps.svc;
    let project = &plan.model.project.name;
    let mut mounts = vec![
        json!({"name": "tmp", "mountPath": "/tmp"}),
        json!({"name": "run", "mountPath": "/run"}),
    ];
    for (i, t) in s
        .tmpfs
        .iter()
        .enumerate()
        .filter(|(_, t)| t.path != "/tmp" && t.path != "/run")
    {
        mounts.push(json!({"name": format!("tmpfs-{i}"), "mountPath": t.path}));
    }
    for (i, v) in s.volumes.iter().enumerate() {
        let mut m = json!({"mountPath": v.target, "readOnly": v.read_only});
        match &v.source {
            VolumeSource::Named(n) => m["name"] = json!(n),
            VolumeSource::Host(p) if v.read_only && host_mount_is_file(p) => {
                m["name"] = json!(mount_name(&s.name, i));
                m["subPath"] = json!(p.rsplit('/').next().unwrap_or(p));
            }
            VolumeSource::Host(_) => m["name"] = json!(mount_name(&s.name, i)),
        }
        mounts.push(m);
    }
    for secret in &s.secrets {
        mounts.push(json!({
            "name": format!("secret-{}", secret.replace('_', "-")),
            "mountPath": format!("/run/secrets/{secret}"),
            "subPath": secret,
            "readOnly": true,
        }));
    }
    let limits = json!({"cpu": cpu(s.cpus), "memory": quantity(s.memory)});
    let requests = json!({
        "cpu": cpu(s.cpus_reservation.unwrap_or(s.cpus)),
        "memory": quantity(s.memory_reservation.unwrap_or(s.memory)),
    });
    let mut c = json!({
        "name": s.name,
        "image": ps.image,
        "imagePullPolicy": "IfNotPresent",
        "securityContext": {
            "allowPrivilegeEscalation": false,
            "readOnlyRootFilesystem": true,
            "runAsNonRoot": true,
            "runAsUser": s.user.uid,
            "runAsGroup": s.user.gid,
            "privileged": false,
            "capabilities": {
                "drop": ["ALL"],
                "add": s.cap_add.iter().collect::<Vec<_>>(),
            },
            "seccompProfile": {
                "type": "Localhost",
                "localhostProfile": localhost_profile(project, &ps.seccomp_profile),
            },
        },
        "resources": {"limits": limits, "requests": requests},
        "volumeMounts": mounts,
    });
    if s.cap_add.is_empty() {
        c["securityContext"]["capabilities"]
            .as_object_mut()
            .expect("object")
            .remove("add");
    }
    // Kubernetes expands `$(VAR)` in args and env values; `$$` is a literal `$`.
    if let Some(cmd) = &s.command {
        c["args"] = json!(cmd.iter().map(|a| literal_dollars(a)).collect::<Vec<_>>());
    }
    if !s.environment.is_empty() {
        c["env"] = json!(s
            .environment
            .iter()
            .map(|(k, v)| json!({"name": k, "value": literal_dollars(v)}))
            .collect::<Vec<_>>());
    }
    let ports = container_ports(s);
    if !ports.is_empty() {
        c["ports"] = json!(ports
            .iter()
            .map(|p| json!({"containerPort": p.port, "protocol": p.proto.as_str().to_uppercase()}))
            .collect::<Vec<_>>());
    }
    if let Some(h) = &s.health {
        let probe = json!({
            "exec": {"command": h.cmd},
            "periodSeconds": (h.interval.millis / 1000).max(1),
            "timeoutSeconds": (h.timeout.millis / 1000).max(1),
            "failureThreshold": h.retries,
            "initialDelaySeconds": h.start_period.millis / 1000,
        });
        c["livenessProbe"] = probe.clone();
        c["readinessProbe"] = probe;
    }
    c
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

fn labels(plan: &Plan, ps: &PlannedService) -> Value {
    let mut l = serde_json::Map::new();
    l.insert("app.kubernetes.io/name".into(), json!(ps.svc.name));
    l.insert(
        "app.kubernetes.io/part-of".into(),
        json!(plan.model.project.name),
    );
    l.insert("app.kubernetes.io/managed-by".into(), json!("hardgen"));
    for z in &ps.svc.zones {
        l.insert(zone_label(z), json!("member"));
    }
    for a in ps
        .networks
        .iter()
        .filter(|a| !ps.svc.zones.contains(&a.zone))
    {
        l.insert(zone_label(&a.zone), json!("client"));
    }
    Value::Object(l)
}

fn workload(plan: &Plan, ps: &PlannedService, ns: &str) -> Value {
    let s = ps.svc;
    let mut volumes = vec![
        json!({"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": quantity(s.tmpfs_size_at("/tmp"))}}),
        json!({"name": "run", "emptyDir": {"medium": "Memory", "sizeLimit": quantity(s.tmpfs_size_at("/run"))}}),
    ];
    for (i, t) in s
        .tmpfs
        .iter()
        .enumerate()
        .filter(|(_, t)| t.path != "/tmp" && t.path != "/run")
    {
        volumes.push(json!({
            "name": format!("tmpfs-{i}"),
            "emptyDir": {"medium": "Memory", "sizeLimit": quantity(t.size.unwrap_or(s.tmpfs_size))},
        }));
    }
    let mut claims = Vec::new();
    for (i, v) in s.volumes.iter().enumerate() {
        match &v.source {
            VolumeSource::Named(n) => claims.push(json!({
                "metadata": {"name": n},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
            })),
            VolumeSource::Host(p) if v.read_only && host_mount_is_file(p) => volumes.push(json!({
                "name": mount_name(&s.name, i),
                "configMap": {"name": mount_name(&s.name, i), "defaultMode": 0o444},
            })),
            VolumeSource::Host(_) => volumes.push(json!({
                "name": mount_name(&s.name, i),
                "persistentVolumeClaim": {"claimName": mount_name(&s.name, i), "readOnly": v.read_only},
            })),
        }
    }
    for secret in &s.secrets {
        volumes.push(json!({
            "name": format!("secret-{}", secret.replace('_', "-")),
            "secret": {"secretName": secret.replace('_', "-"), "defaultMode": 0o440},
        }));
    }
    let labels = labels(plan, ps);
    let selector = json!({"app.kubernetes.io/name": s.name});
    let mut pod_sc = json!({
        "runAsNonRoot": true,
        "runAsUser": s.user.uid,
        "runAsGroup": s.user.gid,
        "fsGroup": s.user.gid,
        "seccompProfile": {
            "type": "Localhost",
            "localhostProfile": localhost_profile(&plan.model.project.name, &ps.seccomp_profile),
        },
    });
    if !ps.group_add.is_empty() {
        pod_sc["supplementalGroups"] = json!(ps.group_add);
    }
    let stateful = !claims.is_empty();
    let mut spec = json!({
        "replicas": 1,
        "selector": {"matchLabels": selector},
        "template": {
            "metadata": {"labels": labels},
            "spec": {
                "automountServiceAccountToken": false,
                "enableServiceLinks": false,
                "securityContext": pod_sc,
                "containers": [container(plan, ps)],
                "volumes": volumes,
            },
        },
    });
    if stateful {
        spec["serviceName"] = json!(s.name);
        spec["volumeClaimTemplates"] = json!(claims);
    }
    json!({
        "apiVersion": "apps/v1",
        "kind": if stateful { "StatefulSet" } else { "Deployment" },
        "metadata": {"name": s.name, "namespace": ns, "labels": labels},
        "spec": spec,
    })
}

fn service_object(ps: &PlannedService, ns: &str) -> Option<Value> {
    let ports = container_ports(ps.svc);
    if ports.is_empty() {
        return None;
    }
    Some(json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": ps.svc.name, "namespace": ns},
        "spec": {
            "type": "ClusterIP",
            "selector": {"app.kubernetes.io/name": ps.svc.name},
            "ports": ports.iter().map(|p| json!({
                "name": format!("{}-{}", p.proto.as_str(), p.port),
                "port": p.port,
                "targetPort": p.port,
                "protocol": p.proto.as_str().to_uppercase(),
            })).collect::<Vec<_>>(),
        },
    }))
}

fn network_policies(plan: &Plan, ns: &str) -> Vec<Value> {
    let mut out = vec![
        json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "default-deny", "namespace": ns},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        }),
        json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "allow-dns", "namespace": ns},
            "spec": {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [{
                    "to": [{
                        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                    }],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                }],
            },
        }),
    ];
    for z in &plan.zones {
        let member = json!({"matchLabels": {zone_label(&z.name): "member"}});
        out.push(json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": format!("zone-{}", z.name.replace('_', "-")), "namespace": ns},
            "spec": {
                "podSelector": member,
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"from": [{"podSelector": member}]}],
                "egress": [{"to": [{"podSelector": member}]}],
            },
        }));
        if !z.internal {
            out.push(json!({
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": format!("zone-{}-egress", z.name.replace('_', "-")), "namespace": ns},
                "spec": {
                    "podSelector": member,
                    "policyTypes": ["Egress"],
                    "egress": [{"to": [{"ipBlock": {
                        "cidr": "0.0.0.0/0",
                        "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"],
                    }}]}],
                },
            }));
        }
    }
    for f in &plan.model.flows {
        let ports: Vec<Value> = f
            .ports
            .iter()
            .map(|p| json!({"protocol": p.proto.as_str().to_uppercase(), "port": p.port}))
            .collect();
        let clients: Vec<Value> = f
            .clients
            .iter()
            .map(|c| json!({"podSelector": {"matchLabels": {"app.kubernetes.io/name": c}}}))
            .collect();
        let target = json!({"matchLabels": {zone_label(&f.to): "member"}});
        let name = format!("flow-{}-to-{}", f.from, f.to).replace('_', "-");
        out.push(json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": format!("{name}-ingress"), "namespace": ns},
            "spec": {
                "podSelector": target,
                "policyTypes": ["Ingress"],
                "ingress": [{"from": clients, "ports": ports}],
            },
        }));
        out.push(json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": format!("{name}-egress"), "namespace": ns},
            "spec": {
                "podSelector": {"matchExpressions": [{
                    "key": "app.kubernetes.io/name",
                    "operator": "In",
                    "values": f.clients,
                }]},
                "policyTypes": ["Egress"],
                "egress": [{"to": [{"podSelector": target}], "ports": ports}],
            },
        }));
    }
    out
}

fn docs(header: &str, objects: &[Value]) -> String {
    let mut s = format!("# {header}\n");
    for (i, o) in objects.iter().enumerate() {
        if i > 0 {
            s.push_str("---\n");
        }
        // YAML 1.1 readers (kubernetes-validate, kubectl's own) read `yes` or `1000:1000` as
        // something else than a string: quoted as in the compose file.
        super::compose::quote_sexagesimal(
            &serde_yaml::to_string(o).expect("manifests serialise"),
            &mut s,
        );
    }
    s
}

/// The namespace (the project name) and the files of the kubernetes target.
pub fn render(plan: &Plan, header: &str) -> Vec<(String, String)> {
    let ns = plan.model.project.name.clone();
    let mut files = Vec::new();
    let namespace = json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": ns,
            "labels": {
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
                "pod-security.kubernetes.io/audit": "restricted",
                "pod-security.kubernetes.io/warn": "restricted",
            },
        },
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
                    objects.push(json!({
                        "apiVersion": "v1",
                        "kind": "PersistentVolumeClaim",
                        "metadata": {"name": mount_name(&ps.svc.name, i), "namespace": ns,
                            "annotations": {"hardgen.io/compose-source": p}},
                        "spec": {
                            "accessModes": [if v.read_only { "ReadOnlyMany" } else { "ReadWriteOnce" }],
                            "resources": {"requests": {"storage": "1Gi"}},
                        },
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

    let secrets: Vec<Value> = plan
        .secrets
        .iter()
        .map(|s| {
            json!({
                "name": s.name.replace('_', "-"),
                "namespace": ns,
                "type": "Opaque",
                "files": [format!("{}=secrets/{}", s.name, s.name)],
            })
        })
        .collect();
    let ns_ref = &ns;
    let config_maps: Vec<Value> = plan
        .services
        .iter()
        .flat_map(|ps| {
            ps.svc
                .volumes
                .iter()
                .enumerate()
                .filter_map(move |(i, v)| match &v.source {
                    VolumeSource::Host(p) if v.read_only && host_mount_is_file(p) => Some(json!({
                        "name": mount_name(&ps.svc.name, i),
                        "namespace": ns_ref,
                        "files": [p.trim_start_matches("./")],
                    })),
                    _ => None,
                })
        })
        .collect();
    let mut kustomization = json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": ns,
        "resources": resources,
        "generatorOptions": {"disableNameSuffixHash": false},
    });
    if !secrets.is_empty() {
        kustomization["secretGenerator"] = json!(secrets);
    }
    if !config_maps.is_empty() {
        kustomization["configMapGenerator"] = json!(config_maps);
    }
    files.push((
        "kustomization.yaml".to_string(),
        docs(header, &[kustomization]),
    ));
    files
}
