//! Reading existing compose files the way Docker Compose does, keeping the place (file, line,
//! column) of every value: `-f a.yml -f override.yml` merging, `.env` and `${VAR}`
//! interpolation, `env_file`, `extends` (same file or another), `profiles`, and the short and
//! long syntax of ports, volumes, environment, depends_on, networks, secrets and configs.
//!
//! Used by `hardgen audit` and `hardgen import`; nothing here knows about hardening.

mod fields;
pub mod interp;
mod loader;
mod merge;
mod project;
pub mod yaml;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use loader::load;
use yaml::{err, Kind, Node};
pub use yaml::{Error, Loc};

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct V<T> {
    pub value: T,
    pub loc: Loc,
}

fn v<T>(value: T, loc: &Loc) -> V<T> {
    V {
        value,
        loc: loc.clone(),
    }
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub files: Vec<PathBuf>,
    /// `--profile` values (added to `COMPOSE_PROFILES`).
    pub profiles: Vec<String>,
    /// The process environment; it takes precedence over `.env`, as in Compose.
    pub env: BTreeMap<String, String>,
    pub project_name: Option<String>,
    /// Files given as text rather than read from disk (by path), e.g. a generated file.
    pub texts: BTreeMap<PathBuf, String>,
}

#[derive(Debug, Clone)]
pub struct Project {
    pub name: String,
    pub dir: PathBuf,
    pub files: Vec<Arc<str>>,
    pub services: BTreeMap<String, Service>,
    pub networks: BTreeMap<String, Network>,
    pub volumes: BTreeMap<String, Loc>,
    pub secrets: BTreeMap<String, TopSecret>,
    pub configs: BTreeMap<String, TopSecret>,
    /// Where `services:` is, for findings about the whole project.
    pub services_loc: Loc,
    /// Services left out because none of their profiles is active.
    pub inactive: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Network {
    pub name: String,
    pub loc: Loc,
    pub internal: bool,
    pub external: bool,
    pub driver: Option<String>,
    /// `driver_opts` `com.docker.network.bridge.gateway_mode_ipv4` (`nat`, `isolated`...).
    pub gateway_mode: Option<String>,
    pub subnets: Vec<String>,
    /// A zone of a deployment hardgen generated (label `io.hardgen.zone`): its subnet's upper
    /// half holds flow clients, which its firewall narrows to the flow's ports.
    pub hardgen_zone: bool,
}

#[derive(Debug, Clone)]
pub struct TopSecret {
    pub name: String,
    pub loc: Loc,
    pub file: Option<String>,
    pub environment: Option<String>,
    pub external: bool,
    pub content: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Port {
    pub host_ip: Option<String>,
    /// Host port or range as written (`8080`, `8000-8010`); none: a random port.
    pub published: Option<String>,
    /// Container port (first of a range).
    pub target: u16,
    pub target_end: u16,
    pub protocol: String,
    pub loc: Loc,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountKind {
    Bind,
    Volume,
    Tmpfs,
    Other,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Mount {
    pub kind: MountKind,
    /// Host path (bind, as written) or volume name; none for an anonymous volume or tmpfs.
    pub source: Option<String>,
    pub target: String,
    pub read_only: bool,
    pub propagation: Option<String>,
    pub loc: Loc,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Env {
    pub name: String,
    /// None: `KEY` alone with no value in the environment either (unset in the container).
    pub value: Option<String>,
    pub loc: Loc,
    /// Came from an `env_file`.
    pub from_file: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dep {
    pub name: String,
    pub condition: String,
    pub loc: Loc,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NetRef {
    pub name: String,
    pub aliases: Vec<String>,
    pub ipv4_address: Option<String>,
    pub loc: Loc,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FileRef {
    pub source: String,
    pub target: Option<String>,
    pub loc: Loc,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Cmd {
    Exec(Vec<String>),
    Shell(String),
}

impl Cmd {
    pub fn words(&self) -> Vec<String> {
        match self {
            Cmd::Exec(v) => v.clone(),
            Cmd::Shell(s) => s.split_whitespace().map(String::from).collect(),
        }
    }
    pub fn text(&self) -> String {
        match self {
            Cmd::Exec(v) => v.join(" "),
            Cmd::Shell(s) => s.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    pub test: Option<Vec<String>>,
    pub disabled: bool,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub start_period: Option<String>,
    pub retries: Option<u32>,
    pub loc: Loc,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Logging {
    pub driver: Option<String>,
    pub max_size: Option<String>,
    pub loc: Loc,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BuildRef {
    pub context: String,
    pub dockerfile: Option<String>,
    pub loc: Loc,
}

#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    pub loc: Loc,
    pub image: Option<V<String>>,
    pub build: Option<BuildRef>,
    pub command: Option<V<Cmd>>,
    pub entrypoint: Option<V<Cmd>>,
    pub environment: Vec<Env>,
    pub ports: Vec<Port>,
    pub expose: Vec<V<String>>,
    pub volumes: Vec<Mount>,
    pub tmpfs: Vec<V<String>>,
    pub depends_on: Vec<Dep>,
    pub links: Vec<V<String>>,
    /// The networks the service is on; `default` when it names none.
    pub networks: Vec<NetRef>,
    pub network_mode: Option<V<String>>,
    pub pid: Option<V<String>>,
    pub ipc: Option<V<String>>,
    pub uts: Option<V<String>>,
    pub userns_mode: Option<V<String>>,
    pub cgroup: Option<V<String>>,
    pub privileged: Option<V<bool>>,
    pub read_only: Option<V<bool>>,
    pub init: Option<V<bool>>,
    pub user: Option<V<String>>,
    pub cap_add: Vec<V<String>>,
    pub cap_drop: Vec<V<String>>,
    pub security_opt: Vec<V<String>>,
    pub devices: Vec<V<String>>,
    pub healthcheck: Option<Health>,
    pub memory: Option<V<String>>,
    pub cpus: Option<V<String>>,
    pub pids: Option<V<String>>,
    pub restart: Option<V<String>>,
    pub logging: Option<Logging>,
    pub secrets: Vec<FileRef>,
    pub configs: Vec<FileRef>,
    pub profiles: Vec<String>,
    pub sysctls: Vec<V<String>>,
    pub working_dir: Option<V<String>>,
    pub volumes_from: Vec<V<String>>,
    pub group_add: Vec<V<String>>,
    /// `deploy:` is present (a stack file or a Compose file with swarm-style limits).
    pub has_deploy: bool,
    /// Every key of the merged service, with its place (for what import cannot carry over).
    pub keys: Vec<V<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn override_merging_extends_profiles_env() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), ".env", "TAG=1.2\nPORT=8080\n");
        write(d.path(), "app.env", "DB_HOST=db\nAPI_TOKEN=abc\n");
        write(
            d.path(),
            "base.yml",
            "services:\n  common:\n    restart: always\n    environment: [A=1]\n",
        );
        let a = write(
            d.path(),
            "a.yml",
            "services:\n  web:\n    extends: {file: base.yml, service: common}\n    image: nginx:${TAG}\n    ports: [\"${PORT}:80\"]\n    env_file: app.env\n    environment:\n      B: \"2\"\n    command: [a, b]\n    volumes: [\"data:/data\"]\n  dbg:\n    image: busybox\n    profiles: [debug]\nvolumes:\n  data:\n",
        );
        let b = write(
            d.path(),
            "b.yml",
            "services:\n  web:\n    ports: [\"127.0.0.1:9090:90\"]\n    environment: [\"A=3\"]\n    command: [c]\n    volumes: [\"./x:/data:ro\"]\n    restart: !reset\n",
        );
        let opts = Options {
            files: vec![a, b],
            ..Default::default()
        };
        let p = load(&opts).unwrap();
        assert_eq!(p.inactive, vec!["dbg".to_string()]);
        let web = &p.services["web"];
        assert_eq!(web.image.as_ref().unwrap().value, "nginx:1.2");
        assert_eq!(web.ports.len(), 2);
        assert_eq!(
            web.ports[1].loc.file.as_ref(),
            d.path().join("b.yml").display().to_string()
        );
        assert_eq!(web.ports[1].loc.line, 3);
        assert_eq!(
            web.command.as_ref().unwrap().value,
            Cmd::Exec(vec!["c".into()])
        );
        assert_eq!(web.volumes.len(), 1);
        assert_eq!(web.volumes[0].kind, MountKind::Bind);
        assert!(web.restart.is_none());
        let env: BTreeMap<_, _> = web
            .environment
            .iter()
            .map(|e| (e.name.clone(), e.value.clone().unwrap()))
            .collect();
        assert_eq!(env["A"], "3");
        assert_eq!(env["B"], "2");
        assert_eq!(env["DB_HOST"], "db");
        let tok = web
            .environment
            .iter()
            .find(|e| e.name == "API_TOKEN")
            .unwrap();
        assert!(tok.from_file && tok.loc.line == 2);
        let opts = Options {
            profiles: vec!["debug".into()],
            ..opts
        };
        assert!(load(&opts).unwrap().services.contains_key("dbg"));
    }

    #[test]
    fn errors_name_the_place() {
        let d = tempfile::tempdir().unwrap();
        let a = write(
            d.path(),
            "a.yml",
            "services:\n  web:\n    image: x\n    depends_on: [dbb]\n",
        );
        let e = load(&Options {
            files: vec![a],
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!((e.loc.line, e.loc.col), (4, 18), "{e}");
        let a = write(
            d.path(),
            "b.yml",
            "services:\n  web:\n    image: ${X:?X is needed}\n",
        );
        let e = load(&Options {
            files: vec![a],
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.message.contains("X is needed") && e.loc.line == 3, "{e}");
        let a = write(
            d.path(),
            "c.yml",
            "services:\n  web:\n    ports: [\"80:80:80:80\"]\n",
        );
        assert!(load(&Options {
            files: vec![a],
            ..Default::default()
        })
        .is_err());
    }
}
