//! `--target swarm`: a stack file for `docker stack deploy`, rendered from the same model.
//! Swarm cannot carry every control (see `targets::Control`): the file says so in its header
//! and `hardgen build` repeats it as a warning.

use serde_json::{json, Value};

use crate::model::*;
use crate::plan::Plan;
use crate::render::literal_dollars as lit;
use crate::targets::{self, Target};

fn restart_policy(r: Restart) -> Value {
    match r {
        Restart::No => json!({"condition": "none"}),
        Restart::Always | Restart::UnlessStopped => json!({"condition": "any", "delay": "5s"}),
        Restart::OnFailure(None) => json!({"condition": "on-failure", "delay": "5s"}),
        Restart::OnFailure(Some(n)) => {
            json!({"condition": "on-failure", "delay": "5s", "max_attempts": n})
        }
    }
}

pub fn render(plan: &Plan, header: &str) -> String {
    let m = plan.model;
    let mut services = serde_json::Map::new();
    for ps in &plan.services {
        let s = ps.svc;
        let mut volumes = vec![
            json!({"type": "tmpfs", "target": "/tmp", "tmpfs": {"size": s.tmpfs_size_at("/tmp").bytes}}),
            json!({"type": "tmpfs", "target": "/run", "tmpfs": {"size": s.tmpfs_size_at("/run").bytes}}),
        ];
        for t in s
            .tmpfs
            .iter()
            .filter(|t| t.path != "/tmp" && t.path != "/run")
        {
            volumes.push(json!({"type": "tmpfs", "target": t.path,
                "tmpfs": {"size": t.size.unwrap_or(s.tmpfs_size).bytes}}));
        }
        for v in &s.volumes {
            let (kind, source) = match &v.source {
                VolumeSource::Named(n) => ("volume", n.clone()),
                VolumeSource::Host(p) => ("bind", p.clone()),
            };
            volumes.push(json!({"type": kind, "source": source, "target": v.target, "read_only": v.read_only}));
        }
        let mut svc = json!({
            "image": ps.image,
            "user": s.user.to_string(),
            "read_only": s.read_only,
            "init": s.init,
            "cap_drop": ["ALL"],
            "volumes": volumes,
            "networks": ps.networks.iter().map(|a| a.zone.clone()).collect::<Vec<_>>(),
            "logging": {"driver": m.logging.driver.as_str(), "options": m
                .logging
                .service_options(&m.project.name, &s.name, &s.log)
                .into_iter()
                .map(|(k, v)| (k, Value::String(lit(&v))))
                .collect::<serde_json::Map<_, _>>()},
            "deploy": {
                "replicas": 1,
                "restart_policy": restart_policy(s.restart),
                "resources": {"limits": {"cpus": s.cpus.to_string(), "memory": s.memory.to_string(), "pids": s.pids}},
            },
        });
        if !s.cap_add.is_empty() {
            svc["cap_add"] = json!(s.cap_add);
        }
        if let Some(c) = &s.command {
            svc["command"] = json!(c.iter().map(|a| lit(a)).collect::<Vec<_>>());
        }
        if !s.environment.is_empty() {
            svc["environment"] = json!(s
                .environment
                .iter()
                .map(|(k, v)| (k.clone(), lit(v)))
                .collect::<std::collections::BTreeMap<_, _>>());
        }
        if !s.secrets.is_empty() {
            // Swarm, unlike plain Compose, honours the owner and mode of secret files.
            svc["secrets"] = json!(s
                .secrets
                .iter()
                .map(|x| json!({
                    "source": x, "target": x,
                    "uid": s.user.uid.to_string(), "gid": s.user.gid.to_string(), "mode": 0o400,
                }))
                .collect::<Vec<_>>());
        }
        if let Some(h) = &s.health {
            let mut test = vec!["CMD".to_string()];
            test.extend(h.cmd.iter().map(|a| lit(a)));
            svc["healthcheck"] = json!({
                "test": test, "interval": h.interval.to_string(), "timeout": h.timeout.to_string(),
                "start_period": h.start_period.to_string(), "retries": h.retries,
            });
        }
        if let Some(n) = s.nofile {
            svc["ulimits"] = json!({"nofile": {"soft": n, "hard": n}});
        }
        let mut reservations = serde_json::Map::new();
        if let Some(c) = s.cpus_reservation {
            reservations.insert("cpus".into(), json!(c.to_string()));
        }
        if let Some(r) = s.memory_reservation {
            reservations.insert("memory".into(), json!(r.to_string()));
        }
        if !reservations.is_empty() {
            svc["deploy"]["resources"]["reservations"] = Value::Object(reservations);
        }
        if !s.ports.is_empty() {
            // Swarm publishes through the routing mesh on every address; `mode: host` keeps
            // the port on the node, but the bind address cannot be restricted.
            svc["ports"] = json!(s
                .ports
                .iter()
                .map(|p| json!({
                    "target": p.container.port, "published": p.host_port,
                    "protocol": p.container.proto.as_str(), "mode": "host",
                }))
                .collect::<Vec<_>>());
        }
        services.insert(s.name.clone(), svc);
    }
    let networks: serde_json::Map<String, Value> = plan
        .zones
        .iter()
        .map(|z| {
            (
                z.name.clone(),
                json!({
                    "driver": "overlay",
                    "internal": z.internal,
                    "attachable": false,
                    "driver_opts": {"encrypted": "true"},
                    "ipam": {"config": [{"subnet": z.subnet.to_string()}]},
                    "labels": {"io.hardgen.project": m.project.name, "io.hardgen.zone": z.name},
                }),
            )
        })
        .collect();
    let mut stack = json!({
        "version": "3.9",
        "services": services,
        "networks": networks,
    });
    if !plan.secrets.is_empty() {
        stack["secrets"] = json!(plan
            .secrets
            .iter()
            .map(|s| (
                s.name.clone(),
                json!({"file": format!("./secrets/{}", s.name)})
            ))
            .collect::<serde_json::Map<_, _>>());
    }
    if !plan.named_volumes.is_empty() {
        stack["volumes"] = json!(plan
            .named_volumes
            .iter()
            .map(|v| (
                v.clone(),
                json!({"labels": {"io.hardgen.project": m.project.name}})
            ))
            .collect::<serde_json::Map<_, _>>());
    }
    let mut text = format!(
        "# {header}\n# Stack file for `docker stack deploy -c docker-stack.yml {}`.\n",
        m.project.name
    );
    text.push_str("# Swarm cannot enforce these controls of the spec (compensate where noted):\n");
    for line in targets::gaps(Target::Swarm, m) {
        text.push_str(&format!("#   - {line}\n"));
    }
    // Quoted as in the compose file, for YAML 1.1 readers (`1001:1001`, `yes`).
    super::compose::quote_sexagesimal(
        &serde_yaml::to_string(&stack).expect("stack serialises"),
        &mut text,
    );
    text
}
