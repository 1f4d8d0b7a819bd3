//! RawSpec: exactly what users write in a hardgen TOML spec.
//!
//! This is the only layer that knows TOML, and the only source of the JSON schema: the doc
//! comments below become the editor's hover text. Nothing here is validated beyond its shape;
//! `validate` turns it into a `Model`.

use std::collections::BTreeMap;
use std::ops::Range;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

/// A value with the byte range it came from in the spec, so later errors can point at it.
#[derive(Debug, Clone)]
pub struct Sp<T> {
    pub value: T,
    pub span: Range<usize>,
}

impl<T> Sp<T> {
    pub fn new(value: T, span: Range<usize>) -> Self {
        Sp { value, span }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Sp<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = toml::Spanned::<T>::deserialize(d)?;
        let span = s.span();
        Ok(Sp {
            value: s.into_inner(),
            span,
        })
    }
}

impl<T: JsonSchema> JsonSchema for Sp<T> {
    fn is_referenceable() -> bool {
        T::is_referenceable()
    }
    fn schema_name() -> String {
        T::schema_name()
    }
    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(gen: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        T::json_schema(gen)
    }
}

impl<T: PartialEq> PartialEq for Sp<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}
impl<T: Eq> Eq for Sp<T> {}
impl<T: PartialOrd> PartialOrd for Sp<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        self.value.partial_cmp(&other.value)
    }
}
impl<T: Ord> Ord for Sp<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.value.cmp(&other.value)
    }
}

/// A hardgen spec: services and network zones, from which hardgen generates a hardened
/// container deployment (compose file, Dockerfiles, seccomp profiles, firewall rules, scripts).
/// Hardened choices are the defaults; write only the deviations.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "hardgen spec")]
pub struct RawSpec {
    /// The project: its name and project-wide settings.
    pub project: RawProject,
    /// Per-service defaults. Every key is optional; a service may override each one.
    #[serde(default)]
    pub defaults: RawDefaults,
    /// Network zones. Each zone becomes its own Docker network (Linux bridge). Zones are
    /// internal (no route out) unless they set `egress = true`; traffic between zones is
    /// denied unless a `[[flows]]` entry allows it.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, RawZone>")]
    pub zones: BTreeMap<Sp<String>, RawZone>,
    /// Allowed traffic between zones. Everything else between zones is dropped.
    #[serde(default)]
    pub flows: Vec<RawFlow>,
    /// Secrets, generated as random files by `scripts/generate-secrets.sh` and mounted
    /// read-only at `/run/secrets/<name>` in the services that list them.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, RawSecret>")]
    pub secrets: BTreeMap<Sp<String>, RawSecret>,
    /// The services (containers) of the stack, by name.
    #[schemars(with = "BTreeMap<String, RawService>")]
    pub services: BTreeMap<Sp<String>, RawService>,
}

/// Project-wide settings.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawProject {
    /// Project name: the Compose project name, and the prefix of bridge names, firewall chains
    /// and built image names. Lower-case letters, digits and `-`, starting with a letter, at
    /// most 20 characters.
    #[schemars(regex(pattern = r"^[a-z][a-z0-9-]{0,19}$"))]
    pub name: Sp<String>,
    /// Address pool (IPv4 CIDR) for the zones' subnets. Explicit zone subnets must lie inside
    /// it; zones without a subnet get the next free block of `zone_prefix` from it, in zone
    /// name order. Default `10.210.0.0/16`.
    #[schemars(regex(pattern = r"^([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}$"))]
    pub subnet_pool: Option<Sp<String>>,
    /// Prefix length of automatically allocated zone subnets. Default 24.
    #[schemars(range(min = 16, max = 28))]
    pub zone_prefix: Option<Sp<u8>>,
    /// A one-line description, copied into generated headers.
    pub description: Option<String>,
}

/// Per-service defaults. Each key has the same meaning as on a service.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDefaults {
    /// Default numeric user as `"UID:GID"` (non-root). Default `"10001:10001"`.
    #[schemars(regex(pattern = r"^[0-9]+:[0-9]+$"))]
    pub user: Option<Sp<String>>,
    /// Default memory limit, e.g. `"256m"`, `"1g"`. Default `"256m"`.
    #[schemars(regex(pattern = r"^[0-9]+[kmg]$"))]
    pub memory: Option<Sp<String>>,
    /// Default CPU limit in cores, e.g. `0.5`. Default `0.5`.
    #[schemars(range(min = 0.01, max = 1024.0))]
    pub cpus: Option<Sp<f64>>,
    /// Default maximum number of processes/threads (pids cgroup). Default 128.
    #[schemars(range(min = 8, max = 4194304))]
    pub pids: Option<Sp<u32>>,
    /// Default restart policy. Default `"on-failure:5"`.
    #[schemars(regex(pattern = r"^(no|always|unless-stopped|on-failure(:[0-9]+)?)$"))]
    pub restart: Option<Sp<String>>,
    /// Default seccomp preset. Default `"baseline"`.
    pub seccomp: Option<Sp<SeccompPreset>>,
    /// Default AppArmor profile name (for hosts with AppArmor). Default: none.
    #[schemars(regex(pattern = r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$"))]
    pub apparmor: Option<Sp<String>>,
    /// Default size of the `/tmp` and `/run` tmpfs mounts, e.g. `"64m"`. Default `"64m"`.
    #[schemars(regex(pattern = r"^[0-9]+[kmg]$"))]
    pub tmpfs_size: Option<Sp<String>>,
    /// Default log rotation: maximum size of one log file, e.g. `"10m"`. Default `"10m"`.
    #[schemars(regex(pattern = r"^[0-9]+[kmg]$"))]
    pub log_max_size: Option<Sp<String>>,
    /// Default log rotation: number of log files kept. Default 3.
    #[schemars(range(min = 1, max = 100))]
    pub log_max_file: Option<Sp<u32>>,
}

/// A network zone: one Docker network and Linux bridge.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawZone {
    /// IPv4 subnet of the zone, e.g. `"172.20.3.0/24"`. Omit it to allocate one from
    /// `project.subnet_pool`.
    #[schemars(regex(pattern = r"^([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}$"))]
    pub subnet: Option<Sp<String>>,
    /// Whether containers in this zone may reach the outside world (a non-internal network).
    /// Default false: the network is `internal: true` and has no route out. Published ports
    /// need a zone with egress.
    pub egress: Option<Sp<bool>>,
    /// Linux bridge name (at most 15 characters; firewall rules name it). Default:
    /// `<project>-<zone>`, shortened with a stable hash when too long.
    #[schemars(regex(pattern = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$"))]
    pub bridge: Option<Sp<String>>,
    /// What the zone is for (copied into comments).
    pub description: Option<String>,
}

/// Allowed traffic from the services of one zone to the services of another, on given ports.
/// The source zone's services are attached to the target zone's network as clients, and the
/// firewall lets them reach only these ports of the target zone's own services.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFlow {
    /// Source zone.
    pub from: Sp<String>,
    /// Target zone.
    pub to: Sp<String>,
    /// Allowed destination ports, as `"PORT/tcp"` or `"PORT/udp"` (`/tcp` may be omitted).
    #[schemars(with = "Vec<PortProtoString>")]
    pub ports: Vec<Sp<String>>,
    /// Only these services of the source zone use the flow. Default: all its services.
    pub clients: Option<Vec<Sp<String>>>,
    /// Why this flow exists (copied into the firewall rules' comments).
    pub description: Option<String>,
}

/// `"PORT/tcp"` or `"PORT/udp"`.
#[derive(JsonSchema)]
#[schemars(regex(pattern = r"^[0-9]{1,5}(/(tcp|udp))?$"))]
#[allow(dead_code)]
struct PortProtoString(String);

/// A secret: a random value generated into `secrets/<name>` by `scripts/generate-secrets.sh`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSecret {
    /// Number of random bytes (the file holds them hex-encoded, twice as many characters).
    /// Default 32.
    #[schemars(range(min = 16, max = 4096))]
    pub bytes: Option<Sp<u32>>,
    /// Group that may read the secret when services running as different users share it
    /// (the file is then `root:<gid>`, mode 0440, and those services get the group as a
    /// supplementary group). Default: 30000 + the secret's position among shared secrets.
    #[schemars(range(min = 1, max = 2147483647))]
    pub gid: Option<Sp<u32>>,
    /// What the secret is for.
    pub description: Option<String>,
}

/// Seccomp presets. Both deny by default and never allow mount, ptrace, kernel modules,
/// namespaces, keyrings, bpf and similar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SeccompPreset {
    /// What ordinary programs need (close to Docker's default allowlist, flattened).
    Baseline,
    /// Baseline minus rarely needed surface (io_uring, process_vm_*, legacy calls...).
    Strict,
}

/// Runtime presets for generated multi-stage Dockerfiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    /// Python: `pip install --prefix` in the builder, `python:<version>-slim-bookworm` runtime.
    Python,
    /// Node.js: `npm ci --omit=dev` in the builder, `node:<version>-bookworm-slim` runtime.
    Node,
    /// Go: static `CGO_ENABLED=0` build, distroless `static-debian12:nonroot` runtime.
    Go,
    /// Rust: `cargo build --release --locked`, distroless `cc-debian12:nonroot` runtime.
    Rust,
    /// A prebuilt static binary from the build context, on an empty (`scratch`) runtime.
    Static,
}

/// How a service's image is built: a generated multi-stage Dockerfile for a runtime preset.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBuild {
    /// Runtime preset.
    pub runtime: Sp<Runtime>,
    /// Toolchain/runtime version for the base images, e.g. `"3.11"` (python), `"20"` (node),
    /// `"1.22"` (go), `"1.80"` (rust). Not used by `static`.
    #[schemars(regex(pattern = r"^[0-9][0-9A-Za-z._-]{0,31}$"))]
    pub version: Option<Sp<String>>,
    /// Build context directory, relative to the output directory, without `..`.
    /// Default `"src/<service>"`.
    pub context: Option<Sp<String>>,
    /// The command the image runs (exec form), e.g. `["python", "-m", "app"]`. Default for
    /// go, rust and static: `["/app/<binary>"]`.
    pub command: Option<Vec<Sp<String>>>,
    /// Executable name: the Rust binary target, or the static binary's file name in the
    /// context. Default: the service name.
    #[schemars(regex(pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"))]
    pub binary: Option<Sp<String>>,
    /// Debian packages installed in the runtime stage (`name` or `name=version`).
    #[schemars(with = "Vec<DebPackageString>")]
    #[serde(default)]
    pub packages: Vec<Sp<String>>,
    /// Debian packages installed in the builder stage only (compilers, headers...).
    #[schemars(with = "Vec<DebPackageString>")]
    #[serde(default)]
    pub build_packages: Vec<Sp<String>>,
    /// Directories created in the image and owned by the service user, for volumes mounted
    /// there (a named volume copies the image directory's owner on first use).
    #[serde(default)]
    pub writable_dirs: Vec<Sp<String>>,
}

/// A Debian package: `name` or `name=version`.
#[derive(JsonSchema)]
#[schemars(regex(pattern = r"^[a-z0-9][a-z0-9+.-]+(=[A-Za-z0-9.+~:-]+)?$"))]
#[allow(dead_code)]
struct DebPackageString(String);

/// A service's health check (exec form, no shell).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHealth {
    /// Command run inside the container (exec form). Exit 0 means healthy.
    pub cmd: Option<Vec<Sp<String>>>,
    /// Time between checks, e.g. `"30s"`. Default `"30s"`.
    #[schemars(regex(pattern = r"^[0-9]+(ms|s|m|h)$"))]
    pub interval: Option<Sp<String>>,
    /// Time a check may take, e.g. `"5s"`. Default `"5s"`.
    #[schemars(regex(pattern = r"^[0-9]+(ms|s|m|h)$"))]
    pub timeout: Option<Sp<String>>,
    /// Grace period after start, e.g. `"20s"`. Default `"20s"`.
    #[schemars(regex(pattern = r"^[0-9]+(ms|s|m|h)$"))]
    pub start_period: Option<Sp<String>>,
    /// Consecutive failures before unhealthy. Default 3.
    #[schemars(range(min = 1, max = 100))]
    pub retries: Option<Sp<u32>>,
}

/// Explicit, loudly named opt-outs of hardening that hardgen otherwise refuses. Each needs a
/// `reason`, which is copied next to the setting in the generated files.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawUnsafe {
    /// Why the hardening is relaxed. Required.
    pub reason: Option<Sp<String>>,
    /// Allow capabilities hardgen calls dangerous (SYS_ADMIN, NET_ADMIN, SYS_PTRACE,
    /// SYS_MODULE...).
    #[serde(default)]
    pub dangerous_caps: bool,
    /// Allow a host path mount onto a sensitive host location (`/etc`, `/proc`...).
    #[serde(default)]
    pub sensitive_mounts: bool,
    /// Run with a writable root file system.
    #[serde(default)]
    pub writable_root: bool,
    /// Do not set `no-new-privileges`.
    #[serde(default)]
    pub allow_new_privileges: bool,
    /// Run the container as root (UID 0).
    #[serde(default)]
    pub root_user: bool,
    /// No health check.
    #[serde(default)]
    pub no_healthcheck: bool,
}

/// A service: one container.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    /// Image reference, e.g. `"postgres:16.4-bookworm"`, ideally with `@sha256:<digest>`.
    /// Exactly one of `image` and `build` is required.
    pub image: Option<Sp<String>>,
    /// Build the image from a generated multi-stage Dockerfile.
    pub build: Option<RawBuild>,
    /// The zones (networks) the service is a member of. At least one.
    #[schemars(length(min = 1))]
    #[serde(default)]
    pub zones: Vec<Sp<String>>,
    /// Published ports: `"8080"` (127.0.0.1:8080 -> 8080/tcp), `"9000:8080"`,
    /// `"0.0.0.0:80:8080"`, with `/udp` for UDP. Bound to 127.0.0.1 unless an address is given.
    #[schemars(with = "Vec<PublishedPortString>")]
    #[serde(default)]
    pub ports: Vec<Sp<String>>,
    /// Ports the service listens on inside its zones without publishing them, for flows and
    /// health checks (`"PORT"` or `"PORT/udp"`).
    #[schemars(with = "Vec<PortProtoString>")]
    #[serde(default)]
    pub expose: Vec<Sp<String>>,
    /// Volumes: `"NAME:/container/path"` (named volume) or `"./host/path:/container/path"`
    /// (bind mount, relative to the output directory), optionally with `:ro`.
    #[serde(default)]
    pub volumes: Vec<Sp<String>>,
    /// Extra size-limited tmpfs mounts (noexec, nosuid, nodev): `"/path"` or `"/path:16m"`.
    /// `/tmp` and `/run` are always mounted; listing them here only changes their size.
    #[serde(default)]
    pub tmpfs: Vec<Sp<String>>,
    /// Environment variables (non-secret values only: secrets go in `secrets`).
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub environment: BTreeMap<Sp<String>, Sp<String>>,
    /// Secrets mounted at `/run/secrets/<name>`; each must be declared in `[secrets]`.
    #[serde(default)]
    pub secrets: Vec<Sp<String>>,
    /// Linux capabilities added back after `cap_drop: [ALL]`, without the `CAP_` prefix.
    #[serde(default)]
    #[schemars(with = "Vec<crate::caps::Capability>")]
    pub cap_add: Vec<Sp<String>>,
    /// Numeric user as `"UID:GID"`. Default from `[defaults]`.
    #[schemars(regex(pattern = r"^[0-9]+:[0-9]+$"))]
    pub user: Option<Sp<String>>,
    /// Memory limit, e.g. `"512m"`. Swap is disabled (memswap = memory).
    #[schemars(regex(pattern = r"^[0-9]+[kmg]$"))]
    pub memory: Option<Sp<String>>,
    /// Memory reservation (soft limit), e.g. `"256m"`.
    #[schemars(regex(pattern = r"^[0-9]+[kmg]$"))]
    pub memory_reservation: Option<Sp<String>>,
    /// CPU limit in cores, e.g. `1.5`.
    #[schemars(range(min = 0.01, max = 1024.0))]
    pub cpus: Option<Sp<f64>>,
    /// CPU reservation in cores.
    #[schemars(range(min = 0.01, max = 1024.0))]
    pub cpus_reservation: Option<Sp<f64>>,
    /// Maximum number of processes/threads.
    #[schemars(range(min = 8, max = 4194304))]
    pub pids: Option<Sp<u32>>,
    /// Open files limit (`ulimits.nofile`, soft = hard).
    #[schemars(range(min = 64, max = 1048576))]
    pub nofile: Option<Sp<u32>>,
    /// Restart policy: `"on-failure:N"`, `"unless-stopped"`, `"always"` or `"no"`.
    #[schemars(regex(pattern = r"^(no|always|unless-stopped|on-failure(:[0-9]+)?)$"))]
    pub restart: Option<Sp<String>>,
    /// Seccomp preset for this service.
    pub seccomp: Option<Sp<SeccompPreset>>,
    /// Syscalls to allow on top of the preset.
    #[serde(default)]
    pub syscalls_allow: Vec<Sp<String>>,
    /// Syscalls to deny even if the preset allows them.
    #[serde(default)]
    pub syscalls_deny: Vec<Sp<String>>,
    /// AppArmor profile name (must be loaded on the host).
    #[schemars(regex(pattern = r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$"))]
    pub apparmor: Option<Sp<String>>,
    /// Health check. Required for services whose image hardgen cannot probe by itself.
    pub healthcheck: Option<RawHealth>,
    /// Run Docker's init (tini) as PID 1. Default true; set false for images with their own
    /// init.
    pub init: Option<Sp<bool>>,
    /// Override the image's command (exec form).
    pub command: Option<Vec<Sp<String>>>,
    /// Services that must be healthy before this one starts.
    #[serde(default)]
    pub depends_on: Vec<Sp<String>>,
    /// Size of the `/tmp` and `/run` tmpfs mounts.
    #[schemars(regex(pattern = r"^[0-9]+[kmg]$"))]
    pub tmpfs_size: Option<Sp<String>>,
    /// What the service is.
    pub description: Option<String>,
    /// Explicit opt-outs of hardening, each with a reason.
    #[serde(rename = "unsafe")]
    pub unsafe_: Option<RawUnsafe>,
}

/// A published port: `"8080"`, `"9000:8080"`, `"127.0.0.1:9000:8080"`, `"8080/udp"`.
#[derive(JsonSchema)]
#[schemars(regex(
    pattern = r"^(([0-9]{1,3}\.){3}[0-9]{1,3}:)?([0-9]{1,5}:)?[0-9]{1,5}(/(tcp|udp))?$"
))]
#[allow(dead_code)]
struct PublishedPortString(String);

/// Parse a spec's text. Errors carry the byte span toml reports.
pub fn parse(text: &str) -> Result<RawSpec, toml::de::Error> {
    toml::from_str(text)
}
