//! Security posture review: compares two validated models (not their text) and says what a
//! spec change does to security, each change classed as weakens / strengthens / neutral.
//!
//! Layout: this module holds the change list and its helpers (a scalar, a switch, a set, and
//! [`pairs`], the one comparison of two keyed collections); `project.rs` compares zones, flows,
//! secrets, double zone memberships and project-wide settings (logging, host, images, accepted
//! warnings); `service.rs` a service's settings, by domain.

mod project;
mod service;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;

use serde::Serialize;

use crate::model::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    Weakens,
    Strengthens,
    Neutral,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Weakens => "weakens",
            Class::Strengthens => "strengthens",
            Class::Neutral => "neutral",
        }
    }
}

/// One change. `subject` is `project`, `service`, `zone`, `flow` or `secret`; `name` the
/// subject's name (`from -> to` for flows); `property` a stable identifier of what changed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Change {
    pub class: Class,
    pub subject: &'static str,
    pub name: String,
    pub property: &'static str,
    pub message: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

impl Change {
    pub fn line(&self) -> String {
        format!("{} {}: {}", self.subject, self.name, self.message)
    }
}

struct Changes {
    list: Vec<Change>,
}

/// One key of two keyed collections compared: in both, only in the new, only in the old.
enum Pair<'a, V> {
    Both(&'a V, &'a V),
    Added(&'a V),
    Removed(&'a V),
}

/// The keys of `old` and `new` in order, each with what the two hold: the one map-diff of the
/// review (services, zones, flows, secrets, ports, volumes, zone memberships).
fn pairs<'a, K: Ord, V>(
    old: &'a BTreeMap<K, V>,
    new: &'a BTreeMap<K, V>,
) -> Vec<(&'a K, Pair<'a, V>)> {
    let keys: BTreeSet<&K> = old.keys().chain(new.keys()).collect();
    keys.into_iter()
        .filter_map(|k| {
            let pair = match (old.get(k), new.get(k)) {
                (Some(o), Some(n)) => Pair::Both(o, n),
                (None, Some(n)) => Pair::Added(n),
                (Some(o), None) => Pair::Removed(o),
                (None, None) => return None,
            };
            Some((k, pair))
        })
        .collect()
}

impl Changes {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        class: Class,
        subject: &'static str,
        name: &str,
        property: &'static str,
        message: String,
        old: Option<String>,
        new: Option<String>,
    ) {
        self.list.push(Change {
            class,
            subject,
            name: name.to_string(),
            property,
            message,
            old,
            new,
        });
    }

    /// A scalar that changed: `lower_is_stronger` decides the class of a numeric change;
    /// `None` makes it neutral.
    #[allow(clippy::too_many_arguments)]
    fn ordered<T: Ord + Display>(
        &mut self,
        subject: &'static str,
        name: &str,
        property: &'static str,
        label: &str,
        old: T,
        new: T,
        lower_is_stronger: Option<bool>,
    ) {
        if old == new {
            return;
        }
        let class = match lower_is_stronger {
            None => Class::Neutral,
            Some(true) if new < old => Class::Strengthens,
            Some(true) => Class::Weakens,
            Some(false) if new > old => Class::Strengthens,
            Some(false) => Class::Weakens,
        };
        self.push(
            class,
            subject,
            name,
            property,
            format!("{label} {old} -> {new}"),
            Some(old.to_string()),
            Some(new.to_string()),
        );
    }

    /// A hardening switch: on is stronger.
    fn switch(
        &mut self,
        name: &str,
        property: &'static str,
        on: &str,
        off: &str,
        old: bool,
        new: bool,
    ) {
        if old == new {
            return;
        }
        let (class, message) = if new {
            (Class::Strengthens, on.to_string())
        } else {
            (Class::Weakens, off.to_string())
        };
        self.push(
            class,
            "service",
            name,
            property,
            message,
            Some(old.to_string()),
            Some(new.to_string()),
        );
    }

    /// Set members added (class `added`) and removed (the opposite class).
    #[allow(clippy::too_many_arguments)]
    fn set<T: Ord + Display + Clone>(
        &mut self,
        subject: &'static str,
        name: &str,
        property: &'static str,
        old: &BTreeSet<T>,
        new: &BTreeSet<T>,
        added: Class,
        describe: impl Fn(&T, bool) -> String,
    ) {
        let removed = match added {
            Class::Weakens => Class::Strengthens,
            Class::Strengthens => Class::Weakens,
            Class::Neutral => Class::Neutral,
        };
        for x in new.difference(old) {
            self.push(
                added,
                subject,
                name,
                property,
                describe(x, true),
                None,
                Some(x.to_string()),
            );
        }
        for x in old.difference(new) {
            self.push(
                removed,
                subject,
                name,
                property,
                describe(x, false),
                Some(x.to_string()),
                None,
            );
        }
    }
}

/// The hardened starting point a new service is compared with: nothing granted.
fn baseline_of(s: &Service) -> Service {
    Service {
        cap_add: BTreeSet::new(),
        ports: Vec::new(),
        volumes: Vec::new(),
        secrets: Vec::new(),
        zones: Vec::new(),
        read_only: true,
        no_new_privileges: true,
        seccomp: SeccompPolicy {
            preset: s.seccomp.preset,
            allow: BTreeSet::new(),
            deny: s.seccomp.deny.clone(),
            learned: s.seccomp.learned.clone(),
        },
        user: if s.user.uid == 0 {
            User {
                uid: 65534,
                gid: 65534,
            }
        } else {
            s.user
        },
        ..s.clone()
    }
}

pub fn compare(old: &Model, new: &Model) -> Vec<Change> {
    let mut c = Changes { list: Vec::new() };
    if old.project.pool != new.project.pool {
        c.push(
            Class::Neutral,
            "project",
            &new.project.name,
            "subnet_pool",
            format!("subnet pool {} -> {}", old.project.pool, new.project.pool),
            Some(old.project.pool.to_string()),
            Some(new.project.pool.to_string()),
        );
    }
    project::zones(&mut c, old, new);
    project::flows(&mut c, old, new);
    project::secrets(&mut c, old, new);
    project::settings(&mut c, old, new);
    for (name, pair) in pairs(&old.services, &new.services) {
        match pair {
            Pair::Both(o, n) => service::service(&mut c, o, n),
            Pair::Added(n) => {
                c.push(
                    Class::Neutral,
                    "service",
                    name,
                    "service",
                    format!("added ({})", source_text(&n.source)),
                    None,
                    Some(source_text(&n.source)),
                );
                service::service(&mut c, &baseline_of(n), n);
            }
            Pair::Removed(o) => c.push(
                Class::Strengthens,
                "service",
                name,
                "service",
                "removed".to_string(),
                Some(source_text(&o.source)),
                None,
            ),
        }
    }
    project::zone_bridges(&mut c, old, new);
    c.list.sort_by(|a, b| {
        (a.class, a.subject, &a.name, a.property, &a.message)
            .cmp(&(b.class, b.subject, &b.name, b.property, &b.message))
    });
    c.list
}

fn source_text(s: &Source) -> String {
    match s {
        Source::Image(i) => format!("image {i}"),
        Source::Build(b) => format!(
            "build {}{}",
            format!("{:?}", b.runtime).to_lowercase(),
            b.version
                .as_ref()
                .map(|v| format!(" {v}"))
                .unwrap_or_default()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(text: &str) -> Model {
        let mut raw = crate::spec::parse(text).unwrap();
        let (m, d) = crate::validate::validate(
            &mut raw,
            "t.toml",
            &crate::validate::Options {
                strict: false,
                spec_dir: None,
            },
        );
        m.unwrap_or_else(|| panic!("{d:?}"))
    }

    const BASE: &str = r#"
[project]
name = "t"
[zones.api]
egress = true
[zones.data]
[[flows]]
from = "api"
to = "data"
ports = ["5432"]
[services.web]
image = "x:1"
zones = ["api"]
ports = ["8080"]
memory = "1g"
healthcheck = { cmd = ["true"] }
[services.db]
image = "y:1"
zones = ["data"]
expose = ["5432", "6379"]
healthcheck = { cmd = ["true"] }
"#;

    #[test]
    fn identical_models_have_no_changes() {
        assert!(compare(&model(BASE), &model(BASE)).is_empty());
    }

    #[test]
    fn one_more_zone_across_a_flow_weakens() {
        let new = BASE
            .replace("zones = [\"api\"]", "zones = [\"api\", \"data\"]")
            .replace(
                "memory = \"1g\"",
                "memory = \"1g\"\nunsafe = { bridges_zones = true, reason = \"test\" }",
            );
        let lines: Vec<String> = compare(&model(BASE), &model(&new))
            .iter()
            .map(|c| format!("{} {}", c.class.as_str(), c.line()))
            .collect();
        for want in [
            "weakens service web: joins zone data",
            "weakens service web: member of both api and data: the flow api -> data no longer limits it",
        ] {
            assert!(lines.iter().any(|l| l == want), "missing {want:?} in {lines:#?}");
        }
        // Back to one zone: the bridge is gone.
        let back: Vec<String> = compare(&model(&new), &model(BASE))
            .iter()
            .map(|c| format!("{} {}", c.class.as_str(), c.line()))
            .collect();
        assert!(
            back.iter()
                .any(|l| l.starts_with("strengthens service web: no longer member of both")),
            "{back:#?}"
        );
    }

    #[test]
    fn classifies_logging_host_images_processes_and_accepted_warnings() {
        let base = BASE.replace("[project]\nname = \"t\"", "[project]\nname = \"t\"\n[logging]\ndriver = \"syslog\"\naddress = \"udp://10.9.0.1:514\"");
        let new = BASE
            .replace(
                "[project]\nname = \"t\"",
                "[project]\nname = \"t\"\nregistry = \"registry.example.org/team\"\nimage_tag = \"2\"\n[host]\nuserns_remap = true\ninternal_gateway_mode = \"isolated\"",
            )
            .replace(
                "image = \"x:1\"",
                "image = \"x:1\"\nprocesses = [\"nc\"]\nallow = { W101 = \"pinned by the registry\" }",
            );
        let lines: Vec<String> = compare(&model(&base), &model(&new))
            .iter()
            .map(|c| format!("{} {}", c.class.as_str(), c.line()))
            .collect();
        for want in [
            "weakens project t: log driver syslog -> json-file",
            "neutral project t: log option syslog-address udp://10.9.0.1:514 -> (unset)",
            "strengthens project t: daemon user namespace remapping on",
            "strengthens project t: internal zones' gateway mode nat -> isolated (Engine 28+: no host address on their bridges)",
            "neutral project t: image registry `` -> `registry.example.org/team`",
            "weakens service web: program nc added to the process allowlist",
            "weakens project t: warning W101 for service web accepted",
        ] {
            assert!(
                lines.iter().any(|l| l == want),
                "missing {want:?} in {lines:#?}"
            );
        }
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("neutral project t: built image tag ")),
            "{lines:#?}"
        );
    }

    #[test]
    fn classifies_the_issue_examples() {
        let new = BASE
            .replace("ports = [\"8080\"]", "ports = [\"0.0.0.0:8080:8080\"]\ncap_add = [\"NET_ADMIN\"]\nunsafe = { dangerous_caps = true, reason = \"test\" }")
            .replace("memory = \"1g\"", "memory = \"512m\"")
            .replace("[zones.data]", "[zones.data]\negress = true")
            .replace("ports = [\"5432\"]", "ports = [\"5432\", \"6379\"]");
        let lines: Vec<String> = compare(&model(BASE), &model(&new))
            .iter()
            .map(|c| format!("{} {}", c.class.as_str(), c.line()))
            .collect();
        for want in [
            "weakens service web: capability NET_ADMIN added",
            "weakens zone data: egress enabled (was internal)",
            "weakens flow api -> data: port 6379/tcp now allowed",
            "weakens service web: port 8080 published on 0.0.0.0 (was 127.0.0.1)",
            "strengthens service web: memory limit 1g -> 512m",
        ] {
            assert!(
                lines.iter().any(|l| l == want),
                "missing {want:?} in {lines:#?}"
            );
        }
    }
}
