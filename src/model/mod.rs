//! The validated model: what the spec means, with every value checked and typed. Nothing
//! downstream re-validates it.

use std::collections::{BTreeMap, BTreeSet};

mod values;
pub use values::*;

pub use crate::spec::{GelfCompression, LogDriver, LogMode, Runtime, SeccompPreset, SyslogFormat};

#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// The spec's file name (not its path: generated files must not depend on where the
    /// spec was read from).
    pub spec_name: String,
    pub project: Project,
    pub zones: BTreeMap<String, Zone>,
    pub flows: Vec<Flow>,
    pub secrets: BTreeMap<String, Secret>,
    pub services: BTreeMap<String, Service>,
    pub logging: Logging,
    pub host: Host,
    /// Warnings the spec accepted (`allow` tables), with their reasons, for the report.
    pub accepted: Vec<Accepted>,
}

/// A warning accepted by an `allow` table: not printed, listed in the compliance report.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Accepted {
    /// `None` for the project's own `allow` table.
    pub service: Option<String>,
    pub code: String,
    pub reason: String,
    /// How many warnings it silenced in this spec.
    pub count: usize,
}

/// Syslog facility names Docker's syslog driver accepts (`syslog-facility`).
pub const SYSLOG_FACILITIES: &[&str] = &[
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
    "ftp", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
];

/// Docker's log tag templates (fields of the logger's `Info`) a tag may use.
pub const LOG_TAG_TEMPLATES: &[&str] = &[
    "ID",
    "FullID",
    "Name",
    "ImageName",
    "ImageID",
    "ImageFullID",
    "DaemonName",
];

/// The default tag of the central drivers.
pub const DEFAULT_LOG_TAG: &str = "{project}/{service}/{{.ID}}";

impl LogDriver {
    pub fn as_str(self) -> &'static str {
        match self {
            LogDriver::JsonFile => "json-file",
            LogDriver::Syslog => "syslog",
            LogDriver::Journald => "journald",
            LogDriver::Fluentd => "fluentd",
            LogDriver::Gelf => "gelf",
        }
    }
}

/// Where the containers' output goes: one driver for the project, with Docker's option keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Logging {
    pub driver: LogDriver,
    /// Docker `log-opts` other than the tag and the json-file rotation, by Docker's key.
    pub options: BTreeMap<String, String>,
    /// Tag template with `{project}` and `{service}` (central drivers only).
    pub tag: Option<String>,
    /// json-file rotation (the daemon's default; services carry their own `log`).
    pub limits: LogLimits,
}

impl Logging {
    /// The bounded json-file default.
    pub fn json_file(limits: LogLimits) -> Logging {
        Logging {
            driver: LogDriver::JsonFile,
            options: BTreeMap::new(),
            tag: None,
            limits,
        }
    }

    /// The labels a central driver attaches to every line (journald fields, GELF extra
    /// fields, fluentd record keys). syslog has nowhere to put them: its tag names the
    /// project and service instead.
    fn labels(&self) -> Option<&'static str> {
        matches!(
            self.driver,
            LogDriver::Journald | LogDriver::Fluentd | LogDriver::Gelf
        )
        .then_some("com.docker.compose.project,com.docker.compose.service")
    }

    fn opts(&self, tag: Option<String>, limits: &LogLimits) -> BTreeMap<String, String> {
        let mut o = self.options.clone();
        if self.driver == LogDriver::JsonFile {
            o.insert("max-size".into(), limits.max_size.to_string());
            o.insert("max-file".into(), limits.max_file.to_string());
        }
        if let Some(t) = tag {
            o.insert("tag".into(), t);
        }
        if let Some(l) = self.labels() {
            o.insert("labels".into(), l.into());
        }
        o
    }

    /// The `log-opts` of one service's containers.
    pub fn service_options(
        &self,
        project: &str,
        service: &str,
        limits: &LogLimits,
    ) -> BTreeMap<String, String> {
        let tag = self.tag.as_ref().map(|t| {
            t.replace("{project}", project)
                .replace("{service}", service)
        });
        self.opts(tag, limits)
    }

    /// The daemon's default `log-opts` (every container the compose file does not configure):
    /// `{service}` becomes the container's name.
    pub fn daemon_options(&self, project: &str) -> BTreeMap<String, String> {
        let tag = self.tag.as_ref().map(|t| {
            t.replace("{project}", project)
                .replace("{service}", "{{.Name}}")
        });
        self.opts(tag, &self.limits)
    }
}

/// Daemon-wide choices for the Docker host (`[host]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Host {
    /// `userns-remap` in daemon.json: container ids map to the `dockremap` subordinate range.
    pub userns_remap: bool,
    /// `gateway_mode_ipv4` of internal zones' networks (compose target).
    pub internal_gateway_mode: crate::spec::GatewayMode,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    pub name: String,
    pub pool: Ipv4Net,
    pub zone_prefix: u8,
    pub description: Option<String>,
    /// Where built images are pushed (`host[:port][/path]`), if anywhere.
    pub registry: Option<String>,
    /// Tag of the built images.
    pub image_tag: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    pub name: String,
    /// The spec's subnet, or the one validation allocated from the pool.
    pub subnet: Ipv4Net,
    pub egress: bool,
    /// The Linux bridge's name: the spec's, or the default one (at most 15 characters).
    pub bridge: String,
    pub description: Option<String>,
    /// The services attached to this zone as clients of flows into it (not members of it).
    pub clients: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    pub from: String,
    pub to: String,
    /// The services of `from` that use the flow (all of them unless the spec narrows it).
    pub clients: Vec<String>,
    pub ports: Vec<PortProto>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Secret {
    pub name: String,
    pub bytes: u32,
    pub gid: Option<u32>,
    pub description: Option<String>,
    /// Content built from other (random) secrets instead of random bytes.
    pub template: Option<Vec<TemplatePart>>,
}

/// A piece of a secret's template: literal text, or the value of a random secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplatePart {
    Text(String),
    Secret(String),
}

impl TemplatePart {
    /// Split a template into text and `{name}` placeholders; `Err` describes a stray brace.
    pub fn parse(t: &str) -> Result<Vec<TemplatePart>, String> {
        let mut out = Vec::new();
        let mut rest = t;
        while let Some(open) = rest.find(['{', '}']) {
            if rest[open..].starts_with('}') {
                return Err("`}` without a `{`: braces only surround a secret's name".into());
            }
            if open > 0 {
                out.push(TemplatePart::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 1..];
            let close = after
                .find(['{', '}'])
                .filter(|&i| after[i..].starts_with('}'))
                .ok_or("`{` without a `}`: braces only surround a secret's name")?;
            out.push(TemplatePart::Secret(after[..close].to_string()));
            rest = &after[close + 1..];
        }
        if !rest.is_empty() {
            out.push(TemplatePart::Text(rest.to_string()));
        }
        Ok(out)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub name: String,
    pub source: Source,
    pub zones: Vec<String>,
    pub ports: Vec<PublishedPort>,
    pub expose: Vec<PortProto>,
    pub volumes: Vec<Volume>,
    pub tmpfs: Vec<Tmpfs>,
    pub environment: BTreeMap<String, String>,
    pub secrets: Vec<String>,
    pub cap_add: BTreeSet<String>,
    pub user: User,
    pub memory: ByteSize,
    pub memory_reservation: Option<ByteSize>,
    pub cpus: Cpus,
    pub cpus_reservation: Option<Cpus>,
    pub pids: u32,
    pub nofile: Option<u32>,
    pub restart: Restart,
    pub seccomp: SeccompPolicy,
    pub apparmor: Option<String>,
    pub health: Option<Health>,
    pub init: bool,
    pub command: Option<Vec<String>>,
    /// Programs allowed besides the derived ones (`detect::allowlist`).
    pub processes: Vec<String>,
    pub depends_on: Vec<String>,
    pub tmpfs_size: ByteSize,
    pub read_only: bool,
    pub no_new_privileges: bool,
    pub log: LogLimits,
    /// The reason given in `unsafe`, when any hardening is relaxed.
    pub unsafe_reason: Option<String>,
    pub description: Option<String>,
}

impl Service {
    /// The service's tmpfs mounts, as every target renders them: see [`tmpfs_mounts`].
    pub fn tmpfs_mounts(&self) -> Vec<TmpfsMount> {
        tmpfs_mounts(&self.tmpfs, self.tmpfs_size)
    }
}

/// A tmpfs mount of a service's read-only root: where, how large, with which mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TmpfsMount {
    pub path: String,
    pub size: ByteSize,
    /// `0o755` for `/run`, `0o1777` (sticky, world-writable) for the others.
    pub mode: u32,
    /// A name for the mount (a Kubernetes volume name): `tmp`, `run`, or `tmpfs-N` with N the
    /// mount's place in the spec's `tmpfs` list.
    pub name: String,
}

/// The one definition of a service's tmpfs mounts (validation sums them against the memory
/// limit, every target mounts them, AppArmor and Falco allow writes to them): `/tmp` and
/// `/run` always, then the spec's other paths in its order. A listed path without a size, and
/// `/tmp` or `/run` when not listed with one, get `default`.
pub fn tmpfs_mounts(listed: &[Tmpfs], default: ByteSize) -> Vec<TmpfsMount> {
    let size_at = |path: &str| {
        listed
            .iter()
            .find(|t| t.path == path)
            .and_then(|t| t.size)
            .unwrap_or(default)
    };
    let mut out = vec![
        TmpfsMount {
            path: "/tmp".into(),
            size: size_at("/tmp"),
            mode: 0o1777,
            name: "tmp".into(),
        },
        TmpfsMount {
            path: "/run".into(),
            size: size_at("/run"),
            mode: 0o755,
            name: "run".into(),
        },
    ];
    out.extend(
        listed
            .iter()
            .enumerate()
            .filter(|(_, t)| t.path != "/tmp" && t.path != "/run")
            .map(|(i, t)| TmpfsMount {
                path: t.path.clone(),
                size: t.size.unwrap_or(default),
                mode: 0o1777,
                name: format!("tmpfs-{i}"),
            }),
    );
    out
}

/// A service that is a member of two zones the spec keeps apart: a flow joins them (so the
/// flow's ports were meant to be all that crosses), or one has a way out and the other none.
/// As a member of `extra` the service reaches every port there and inherits `extra`'s flows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneBridge {
    /// The zone to keep as the service's membership (the flow's source, or the egress zone).
    pub home: String,
    /// The membership that voids the separation (the flow's target, or the internal zone).
    pub extra: String,
    /// The flow between them (index into `Model::flows`), when there is one.
    pub flow: Option<usize>,
}

/// The pairs of `svc`'s zones that its double membership bridges (each pair once).
pub fn zone_bridges(
    svc: &Service,
    flows: &[Flow],
    zones: &BTreeMap<String, Zone>,
) -> Vec<ZoneBridge> {
    let mut out: Vec<ZoneBridge> = Vec::new();
    // A member of one zone bridges nothing (a model's flows join two different zones): the
    // common case, without a scan of every flow for every service.
    if svc.zones.len() < 2 {
        return out;
    }
    let seen = |out: &[ZoneBridge], a: &str, b: &str| {
        out.iter()
            .any(|x| (x.home == a && x.extra == b) || (x.home == b && x.extra == a))
    };
    for (i, f) in flows.iter().enumerate() {
        if svc.zones.contains(&f.from) && svc.zones.contains(&f.to) && !seen(&out, &f.from, &f.to) {
            out.push(ZoneBridge {
                home: f.from.clone(),
                extra: f.to.clone(),
                flow: Some(i),
            });
        }
    }
    let egress = |z: &str| zones.get(z).is_some_and(|z| z.egress);
    for a in svc.zones.iter().filter(|z| egress(z)) {
        for b in svc.zones.iter().filter(|z| !egress(z)) {
            if zones.contains_key(b) && !seen(&out, a, b) {
                out.push(ZoneBridge {
                    home: a.clone(),
                    extra: b.clone(),
                    flow: None,
                });
            }
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Image(ImageRef),
    Build(Build),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Build {
    pub runtime: Runtime,
    pub version: Option<String>,
    pub context: String,
    pub command: Vec<String>,
    pub binary: String,
    pub packages: Vec<String>,
    pub build_packages: Vec<String>,
    pub writable_dirs: Vec<String>,
    /// Checksums recorded at build time, verified by the entrypoint before the command.
    pub integrity: bool,
    /// `sha256:<hex>` pinning the runtime stage's base image (`base_digest`).
    pub base_digest: Option<String>,
    /// `sha256:<hex>` pinning the builder stage's image (`builder_digest`, or `base_digest`
    /// when both stages use the same image).
    pub builder_digest: Option<String>,
}

impl Build {
    /// The builder stage's image, without digest.
    pub fn builder_image(&self) -> String {
        let v = self.version.as_deref().unwrap_or("");
        match self.runtime {
            Runtime::Python => format!("python:{v}-slim-bookworm"),
            Runtime::Node => format!("node:{v}-bookworm-slim"),
            Runtime::Go => format!("golang:{v}-bookworm"),
            Runtime::Rust => format!("rust:{v}-slim-bookworm"),
            Runtime::Static => "debian:bookworm-slim".to_string(),
        }
    }

    /// The runtime stage's base image, without digest; `None` for `scratch` (no image).
    pub fn runtime_image(&self) -> Option<String> {
        match self.runtime {
            Runtime::Python | Runtime::Node => Some(self.builder_image()),
            Runtime::Go => Some("gcr.io/distroless/static-debian12:nonroot".to_string()),
            Runtime::Rust => Some("gcr.io/distroless/cc-debian12:nonroot".to_string()),
            Runtime::Static => None,
        }
    }

    /// Whether both stages start from the same image (one digest pins both).
    pub fn one_image(&self) -> bool {
        self.runtime_image().as_deref() == Some(self.builder_image().as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeccompPolicy {
    pub preset: SeccompPreset,
    pub allow: BTreeSet<String>,
    pub deny: BTreeSet<String>,
    /// With `SeccompPreset::Learned`: the service's learned syscalls
    /// (`seccomp/learned/<service>.json`, read by `learn::load`).
    pub learned: Option<BTreeSet<String>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    pub cmd: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub start_period: Duration,
    pub retries: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLimits {
    pub max_size: ByteSize,
    pub max_file: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeSource {
    Named(String),
    /// A host path relative to the output directory (`./...`) or absolute.
    Host(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    pub source: VolumeSource,
    pub target: String,
    pub read_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tmpfs {
    pub path: String,
    pub size: Option<ByteSize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_parsing() {
        let n = Ipv4Net::parse("172.20.3.0/24").unwrap();
        assert_eq!(n.host(1).to_string(), "172.20.3.1");
        assert!(Ipv4Net::parse("172.20.3.1/24")
            .unwrap_err()
            .contains("172.20.3.0/24"));
        assert!(Ipv4Net::parse("172.20.3.0/33").is_err());
        assert!(Ipv4Net::parse("172.20.0.0/16").unwrap().contains_net(&n));
        assert!(!n.contains_net(&Ipv4Net::parse("172.20.0.0/16").unwrap()));
    }

    #[test]
    fn ports() {
        let p = PublishedPort::parse("8080").unwrap();
        assert_eq!(p.to_string(), "127.0.0.1:8080:8080/tcp");
        let p = PublishedPort::parse("0.0.0.0:80:8080/udp").unwrap();
        assert_eq!(p.to_string(), "0.0.0.0:80:8080/udp");
        assert!(PublishedPort::parse("70000").is_err());
        assert!(PublishedPort::parse("1:2:3:4").is_err());
        // The protocol after a colon gets the spelling that was meant, not an address error.
        assert_eq!(
            PublishedPort::parse("8080:80:tcp").unwrap_err(),
            "the protocol comes after a slash, not a colon: write `8080:80/tcp`"
        );
        assert_eq!(
            PublishedPort::parse("127.0.0.1:53:53:UDP").unwrap_err(),
            "the protocol comes after a slash, not a colon: write `127.0.0.1:53:53/udp`"
        );
        assert_eq!(
            PortProto::parse("5432:tcp").unwrap_err(),
            "the protocol comes after a slash, not a colon: write `5432/tcp`"
        );
        assert!(PortProto::parse("53/sctp").is_err());
    }

    #[test]
    fn sizes_and_cpus() {
        assert_eq!(ByteSize::parse("512m").unwrap().bytes, 512 << 20);
        assert!(ByteSize::parse("512").is_err());
        assert!(ByteSize::parse("m").is_err());
        assert_eq!(Cpus::from_f64(0.5).unwrap().to_string(), "0.5");
        assert_eq!(Cpus::from_f64(2.0).unwrap().to_string(), "2.0");
        assert_eq!(Cpus::from_f64(1.25).unwrap().to_string(), "1.25");
        assert!(Cpus::from_f64(f64::NAN).is_none());
    }

    #[test]
    fn images() {
        let i = ImageRef::parse("postgres:16.4-bookworm").unwrap();
        assert_eq!(i.tag.as_deref(), Some("16.4-bookworm"));
        let i = ImageRef::parse("localhost:5000/a/b").unwrap();
        assert_eq!(i.tag, None);
        assert_eq!(i.repository, "localhost:5000/a/b");
        assert!(ImageRef::parse("Bad/Name").is_err());
        assert!(ImageRef::parse("x:y\nz").is_err());
        assert!(ImageRef::parse("x@sha256:abc").is_err());
    }

    #[test]
    fn restart() {
        assert_eq!(
            Restart::parse("on-failure:5"),
            Some(Restart::OnFailure(Some(5)))
        );
        assert_eq!(Restart::parse("sometimes"), None);
    }
}
