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
        // Where it is in the spec when a piece of it is read on its own (`chunked`).
        let span = chunked::shifted(s.span());
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
    /// The project: its name and project-wide settings. Required.
    #[schemars(with = "schema::Inline<RawProject>")]
    pub project: RawProject,
    /// Per-service defaults (`[defaults]`). Every key is optional; a service may override each one.
    #[serde(default)]
    #[schemars(with = "schema::Inline<RawDefaults>")]
    pub defaults: RawDefaults,
    /// Network zones, by name: `[zones.api]`. Each zone becomes its own Docker network (Linux
    /// bridge). Zones are internal (no route out) unless they set `egress = true`; traffic between
    /// zones is dropped unless a `[[flows]]` entry allows it.
    ///
    /// Zone names: lower-case letters, digits, `_` and `-`, starting with a letter, at most 32
    /// characters.
    #[serde(default)]
    #[schemars(with = "schema::NameMap<schema::ZoneKey, RawZone>")]
    pub zones: BTreeMap<Sp<String>, RawZone>,
    /// Allowed traffic between zones, one `[[flows]]` table each. Everything else between zones,
    /// from internal zones outwards and from zones to the host is dropped. Default: none.
    ///
    /// Example: `[[flows]]` with `from = "api"`, `to = "data"`, `ports = ["5432/tcp"]`.
    #[serde(default)]
    pub flows: Vec<RawFlow>,
    /// Secrets, by name: `[secrets.postgres_password]` (an empty table is enough). Each is a random
    /// file `secrets/<name>` written by `scripts/generate-secrets.sh` and mounted read-only at
    /// `/run/secrets/<name>` in the services that list it.
    ///
    /// Secret names: lower-case letters, digits, `_` and `-`, starting with a letter, at most 64
    /// characters.
    #[serde(default)]
    #[schemars(with = "schema::NameMap<schema::SecretKey, RawSecret>")]
    pub secrets: BTreeMap<Sp<String>, RawSecret>,
    /// The services (containers) of the stack, by name: `[services.api]`. Required.
    ///
    /// Service names: lower-case letters, digits, `_` and `-`, starting with a letter, at most 63
    /// characters.
    #[schemars(with = "schema::NameMap<schema::ServiceKey, RawService>")]
    pub services: BTreeMap<Sp<String>, RawService>,
    /// Where the containers' output goes (`[logging]`): bounded local `json-file` logs by
    /// default, or a central log driver (`syslog`, `journald`, `fluentd`, `gelf`) with its
    /// options. Rendered on every service of the compose and swarm targets and as the daemon's
    /// default in `daemon.json`. Example: `driver = "syslog"`, `address =
    /// "tcp+tls://logs.example.net:6514"`, `tls_ca_cert = "/etc/docker/logs/ca.pem"`.
    #[serde(default)]
    #[schemars(with = "schema::Inline<RawLogging>")]
    pub logging: RawLogging,
    /// The Docker host (`[host]`): daemon-wide choices that `scripts/harden-host.sh` applies to
    /// the engine (compose and swarm targets; the kubernetes target has no daemon.json).
    #[serde(default)]
    #[schemars(with = "schema::Inline<RawHost>")]
    pub host: RawHost,
}

/// Docker log drivers hardgen renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema)]
pub enum LogDriver {
    /// Local JSON files, rotated (`defaults.log_max_size` x `defaults.log_max_file`). The
    /// default. Nothing leaves the host.
    #[serde(rename = "json-file")]
    JsonFile,
    /// A syslog server (`address`: `udp://`, `tcp://`, `tcp+tls://` or `unix://`), or the
    /// host's own syslog socket when `address` is omitted. TLS with `tcp+tls://`.
    #[serde(rename = "syslog")]
    Syslog,
    /// The host's systemd journal (fields CONTAINER_NAME, CONTAINER_TAG, and the compose
    /// project and service labels).
    #[serde(rename = "journald")]
    Journald,
    /// A Fluentd or Fluent Bit forward input (`address`: `HOST:PORT`, `tcp://HOST:PORT` or
    /// `unix:///path`; default `localhost:24224`).
    #[serde(rename = "fluentd")]
    Fluentd,
    /// A GELF endpoint such as Graylog or Logstash (`address`: `udp://HOST:PORT` or
    /// `tcp://HOST:PORT`, required).
    #[serde(rename = "gelf")]
    Gelf,
}

/// What the host is on an internal zone's network (Docker's
/// `com.docker.network.bridge.gateway_mode_ipv4`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum GatewayMode {
    /// The bridge has the zone's gateway address, as on every engine by default: the zone
    /// can address the host, and hardgen's zone-to-host rules (`HG-<project>-IN`) drop
    /// what it sends there. The default.
    #[default]
    Nat,
    /// Engine 28 and later give the bridge no host address at all: the zone cannot even
    /// address the host, and the zone-to-host rules become defence in depth. Engines 20.10 to
    /// 26 ignore the option (the zone keeps its gateway, the rules still apply); Engine 27
    /// refuses it (`docker compose up` fails: set `HARDGEN_INTERNAL_GATEWAY_MODE=nat` in that
    /// host's `.env`). No port may be published on an internal zone's gateway address.
    Isolated,
}

impl GatewayMode {
    /// Docker's value of `com.docker.network.bridge.gateway_mode_ipv4`.
    pub fn as_str(self) -> &'static str {
        match self {
            GatewayMode::Nat => "nat",
            GatewayMode::Isolated => "isolated",
        }
    }
}

/// How a container writes to its log driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LogMode {
    /// The application blocks while the driver cannot take its output: no line is lost. The
    /// default (an audit trail should not drop lines).
    Blocking,
    /// Output goes through a ring buffer (`max_buffer_size`); when it is full, lines are
    /// dropped rather than blocking the application.
    NonBlocking,
}

/// Syslog message formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SyslogFormat {
    /// RFC 3164 (BSD syslog). Docker's default.
    Rfc3164,
    /// RFC 5424, timestamps in seconds.
    Rfc5424,
    /// RFC 5424 with microsecond timestamps.
    Rfc5424micro,
}

/// GELF compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GelfCompression {
    /// gzip (Docker's default for UDP).
    Gzip,
    /// zlib.
    Zlib,
    /// No compression.
    None,
}

/// The project's log driver and its options. Keys that belong to another driver than the
/// chosen one are errors.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLogging {
    /// Log driver: `"json-file"` (default), `"syslog"`, `"journald"`, `"fluentd"` or `"gelf"`.
    #[schemars(with = "Option<schema::DocumentedEnum<LogDriver>>")]
    pub driver: Option<Sp<LogDriver>>,
    /// Where the driver sends the lines (syslog, fluentd, gelf). syslog: `"udp://HOST[:PORT]"`,
    /// `"tcp://HOST[:PORT]"`, `"tcp+tls://HOST[:PORT]"` or `"unix:///PATH"` (default: the host's
    /// syslog socket); fluentd: `"HOST:PORT"`, `"tcp://HOST:PORT"` or `"unix:///PATH"` (default
    /// `localhost:24224`); gelf: `"udp://HOST:PORT"` or `"tcp://HOST:PORT"` (required). The
    /// Docker daemon, not the container, connects to it: the address must be reachable from
    /// the host.
    #[schemars(regex = "schema::LOG_ADDRESS")]
    pub address: Option<Sp<String>>,
    /// Tag of every line (syslog, journald, fluentd, gelf): `{project}` and `{service}` are
    /// replaced by the project's and the service's names, and Docker's templates `{{.ID}}`,
    /// `{{.FullID}}`, `{{.Name}}`, `{{.ImageName}}`, `{{.ImageID}}`, `{{.ImageFullID}}` and
    /// `{{.DaemonName}}` by the container's. In `daemon.json`, `{service}` becomes `{{.Name}}`.
    /// Default `"{project}/{service}/{{.ID}}"`.
    #[schemars(regex = "schema::LOG_TAG")]
    pub tag: Option<Sp<String>>,
    /// `"blocking"` (default) or `"non-blocking"` (lines are dropped when the buffer is full).
    #[schemars(with = "Option<schema::DocumentedEnum<LogMode>>")]
    pub mode: Option<Sp<LogMode>>,
    /// Ring buffer of the `non-blocking` mode, e.g. `"4m"`. Default: Docker's (1m).
    #[schemars(regex = "schema::SIZE")]
    pub max_buffer_size: Option<Sp<String>>,
    /// syslog: facility, e.g. `"daemon"` or `"local0"`. Default: Docker's (`daemon`).
    #[schemars(with = "Option<schema::SyslogFacility>")]
    pub facility: Option<Sp<String>>,
    /// syslog: message format `"rfc3164"`, `"rfc5424"` or `"rfc5424micro"`. Default: Docker's
    /// (`rfc3164`).
    #[schemars(with = "Option<schema::DocumentedEnum<SyslogFormat>>")]
    pub format: Option<Sp<SyslogFormat>>,
    /// syslog over `tcp+tls://`: CA certificate that signs the server's certificate, an
    /// absolute path on the Docker host (each node for swarm). Default: the host's CA store.
    #[schemars(regex = "schema::HOST_ABS_PATH")]
    pub tls_ca_cert: Option<Sp<String>>,
    /// syslog over `tcp+tls://`: client certificate (absolute path on the Docker host), with
    /// `tls_key`.
    #[schemars(regex = "schema::HOST_ABS_PATH")]
    pub tls_cert: Option<Sp<String>>,
    /// syslog over `tcp+tls://`: client key (absolute path on the Docker host), with
    /// `tls_cert`.
    #[schemars(regex = "schema::HOST_ABS_PATH")]
    pub tls_key: Option<Sp<String>>,
    /// fluentd: connect in the background, buffering lines until the server answers (the
    /// container starts even when Fluentd is down). Default `false`: the container does not
    /// start without a reachable Fluentd.
    #[serde(rename = "async")]
    pub async_: Option<Sp<bool>>,
    /// gelf: compression `"gzip"`, `"zlib"` or `"none"`. Default: Docker's (`gzip`).
    #[schemars(with = "Option<schema::DocumentedEnum<GelfCompression>>")]
    pub compression: Option<Sp<GelfCompression>>,
}

/// Daemon-wide settings of the Docker host.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHost {
    /// User namespace remapping (CIS Docker Benchmark 2.9): root and every other user inside
    /// containers map to an unprivileged range of host ids, so a process that escapes its
    /// container is nobody on the host. `daemon.json` gets `"userns-remap": "dockremap"`;
    /// `scripts/harden-host.sh` creates the `dockremap` user and its 65536 subordinate ids in
    /// `/etc/subuid` and `/etc/subgid`; `scripts/generate-secrets.sh` gives secret files and
    /// writable bind-mounted directories to the remapped ids of their services.
    ///
    /// Default `false`: the setting is daemon-wide, not per stack. It changes every container
    /// of the engine; the engine keeps images, containers and volumes apart per remapping
    /// (`/var/lib/docker/<uid>.<gid>`), so those made before seem gone; bind-mounted host files
    /// need the remapped owner; and containers that need the host's namespaces
    /// (`--userns=host`, `--privileged`, host devices) stop working. Turn it on for a host
    /// that runs this deployment only.
    pub userns_remap: Option<Sp<bool>>,
    /// What the host is on the networks of internal zones (zones without `egress`): `"nat"`
    /// (default: the bridge holds the zone's gateway address, and hardgen's firewall drops
    /// what the zone sends to the host) or `"isolated"` (Engine 28 and later: the bridge gets
    /// no host address, so the zone cannot address the host at all). Rendered as the
    /// default of `HARDGEN_INTERNAL_GATEWAY_MODE` in the compose file, which a host's `.env`
    /// can override (Engine 27 refuses `isolated`).
    ///
    /// Default `"nat"`: it starts on every engine; `isolated` makes Engine 27 refuse to
    /// create the networks.
    pub internal_gateway_mode: Option<Sp<GatewayMode>>,
}

/// Project-wide settings.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawProject {
    /// Project name: the Compose project name, and the prefix of bridge names, firewall chains and
    /// built image names. Required. Lower-case letters, digits and `-`, starting with a letter, at
    /// most 20 characters. Example: `"arkalia"`.
    #[schemars(regex = "schema::PROJECT_NAME")]
    pub name: Sp<String>,
    /// Address pool (IPv4 CIDR, a /24 or larger) for the zones' subnets. Explicit zone subnets must
    /// lie inside it; zones without a subnet get the next free block of `zone_prefix` from it, in
    /// zone name order. Default `"10.210.0.0/16"`. Example: `"172.20.0.0/16"`.
    #[schemars(regex = "schema::POOL")]
    pub subnet_pool: Option<Sp<String>>,
    /// Prefix length of automatically allocated zone subnets, from 16 to 28 and not shorter than
    /// the pool's. Default 24 (256 addresses per zone).
    #[schemars(range(min = 16, max = 28))]
    pub zone_prefix: Option<Sp<u8>>,
    /// A one-line description, copied into generated headers.
    #[schemars(regex = "schema::TEXT", length(max = 1024))]
    pub description: Option<String>,
    /// Registry (and path) the built images are named for and pushed to, e.g.
    /// `"registry.example.com/shop"`: a built service's image is `<registry>/<project>-<service>:<image_tag>`,
    /// the same in every target. Default: none (local images, `<project>-<service>:<image_tag>`).
    #[schemars(regex = "schema::REGISTRY")]
    pub registry: Option<Sp<String>>,
    /// Tag of the built images, e.g. a release `"1.4.2"` or a commit. Default `"local"`.
    #[schemars(regex = "schema::IMAGE_TAG")]
    pub image_tag: Option<Sp<String>>,
    /// Warnings about the project as a whole (zones, flows) accepted after review, by code, each
    /// with the reason it does not apply: `allow = { W103 = "the zone is filled by another
    /// stack" }`. Not printed by `check` and `build`; listed with the reason in the compliance
    /// report. `hardgen explain CODE` says what each warning means.
    #[serde(default)]
    #[schemars(with = "schema::NameMap<schema::WarningKey, String>")]
    pub allow: BTreeMap<Sp<String>, Sp<String>>,
    /// Explicit project-wide opt-outs, each with a reason, e.g. `{ public_addresses = true,
    /// reason = "..." }`.
    #[serde(rename = "unsafe")]
    #[schemars(with = "Option<schema::Inline<RawProjectUnsafe>>")]
    pub unsafe_: Option<RawProjectUnsafe>,
}

/// Project-wide opt-outs that hardgen otherwise refuses. Each needs a `reason`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawProjectUnsafe {
    /// Why (one non-blank line). Required.
    #[schemars(required, regex = "schema::REASON", length(max = 1024))]
    pub reason: Option<Sp<String>>,
    /// Allow a `subnet_pool` outside the private ranges (RFC 1918: `10.0.0.0/8`,
    /// `172.16.0.0/12`, `192.168.0.0/16`; RFC 6598: `100.64.0.0/10`). Containers with such
    /// addresses shadow the real hosts of that range (the firewall's "other zones" rules then
    /// name public addresses). Default `false`.
    #[serde(default)]
    pub public_addresses: bool,
}

/// Per-service defaults. Each key has the same meaning as on a service.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDefaults {
    /// Default numeric user of every service, as `"UID:GID"` (non-root: neither may be 0). Default
    /// `"10001:10001"`.
    #[schemars(regex = "schema::USER")]
    pub user: Option<Sp<String>>,
    /// Default memory limit: a number and a unit `k`, `m` or `g` (binary: `1g` is 1024 MiB). Swap
    /// is disabled. Default `"256m"`. Example: `"1g"`.
    #[schemars(regex = "schema::SIZE")]
    pub memory: Option<Sp<String>>,
    /// Default CPU limit in cores, from 0.01 to 1024. Default `0.5`. Example: `2.0`.
    #[schemars(range(min = 0.01, max = 1024.0))]
    pub cpus: Option<Sp<f64>>,
    /// Default maximum number of processes and threads (pids cgroup). Default `128`.
    #[schemars(range(min = 8, max = 4194304))]
    pub pids: Option<Sp<u32>>,
    /// Default restart policy: `"on-failure:N"`, `"on-failure"`, `"unless-stopped"`, `"always"` or
    /// `"no"`. Default `"on-failure:5"`.
    #[schemars(with = "Option<schema::RestartPolicy>")]
    pub restart: Option<Sp<String>>,
    /// Default seccomp preset: `"baseline"`, `"strict"` or `"learned"` (each service's profile
    /// learned by `hardgen learn`). Default `"baseline"`.
    #[schemars(with = "Option<schema::DocumentedEnum<SeccompPreset>>")]
    pub seccomp: Option<Sp<SeccompPreset>>,
    /// Default AppArmor profile name (it must be loaded on the host). Default: none. Example:
    /// `"docker-default"`.
    #[schemars(regex = "schema::APPARMOR")]
    pub apparmor: Option<Sp<String>>,
    /// Default size of the `/tmp` and `/run` tmpfs mounts (they count against the memory limit).
    /// Default `"64m"`.
    #[schemars(regex = "schema::SIZE")]
    pub tmpfs_size: Option<Sp<String>>,
    /// Log rotation of every service: maximum size of one json-file log, e.g. `"50m"`. Default
    /// `"10m"`.
    #[schemars(regex = "schema::SIZE")]
    pub log_max_size: Option<Sp<String>>,
    /// Log rotation of every service: number of log files kept. Default `3`.
    #[schemars(range(min = 1, max = 100))]
    pub log_max_file: Option<Sp<u32>>,
    /// Integrity-checked entrypoint for every built service whose runtime has a shell
    /// (python, node); see `build.integrity`. Default false.
    pub integrity: Option<Sp<bool>>,
}

/// A network zone: one Docker network and Linux bridge.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawZone {
    /// IPv4 subnet of the zone (a /28 or larger, inside `project.subnet_pool`, host bits zero),
    /// e.g. `"172.20.3.0/24"`. Default: the next free block of `project.zone_prefix` from the pool.
    #[schemars(regex = "schema::SUBNET")]
    pub subnet: Option<Sp<String>>,
    /// Whether containers in this zone may reach the outside world. Default `false`: the network is
    /// `internal: true` and has no route out. Published ports need a zone with egress.
    pub egress: Option<Sp<bool>>,
    /// Linux bridge name (at most 15 characters: letters, digits, `-`, `_`, `.`; firewall rules
    /// name it). Default: `"<project>-<zone>"`, shortened with a stable hash when too long.
    #[schemars(regex = "schema::BRIDGE")]
    pub bridge: Option<Sp<String>>,
    /// What the zone is for (one line, copied into comments).
    #[schemars(regex = "schema::TEXT", length(max = 1024))]
    pub description: Option<String>,
}

/// Allowed traffic from the services of one zone to the services of another, on given ports.
/// The source zone's services are attached to the target zone's network as clients, and the
/// firewall lets them reach only these ports of the target zone's own services.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFlow {
    /// Source zone: its services become clients on the target zone's network. Required.
    #[schemars(regex = "schema::ZONE_NAME")]
    pub from: Sp<String>,
    /// Target zone: its own services are reachable on `ports`. Required.
    #[schemars(regex = "schema::ZONE_NAME")]
    pub to: Sp<String>,
    /// Allowed destination ports, as `"PORT/tcp"` or `"PORT/udp"` (`/tcp` may be omitted).
    /// Required: 1 to 64 ports. Example: `["5432/tcp"]`.
    #[schemars(length(min = 1, max = 64), inner(regex = "schema::PORT_PROTO"))]
    pub ports: Vec<Sp<String>>,
    /// Only these services of the source zone use the flow. Default: all its services.
    #[schemars(inner(regex = "schema::SERVICE_NAME"))]
    pub clients: Option<Vec<Sp<String>>>,
    /// Why this flow exists (one line, copied into the firewall rules' comments).
    #[schemars(regex = "schema::TEXT", length(max = 1024))]
    pub description: Option<String>,
}

/// A secret: a random value generated into `secrets/<name>` by `scripts/generate-secrets.sh`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSecret {
    /// Number of random bytes, 16 to 4096 (the file holds them hex-encoded, twice as many
    /// characters). Default `32`.
    #[schemars(range(min = 16, max = 4096))]
    pub bytes: Option<Sp<u32>>,
    /// Group that may read the secret when services running as different users share it (the file
    /// is then `root:<gid>`, mode 0440, and those services get the group as a supplementary group),
    /// from 1 to 2147483647. Default: 30000 + the secret's position among shared secrets.
    #[schemars(range(min = 1, max = 2147483647))]
    pub gid: Option<Sp<u32>>,
    /// What the secret is for (one line).
    #[schemars(regex = "schema::TEXT", length(max = 1024))]
    pub description: Option<String>,
    /// The file's content, built from other secrets instead of random bytes: text in which
    /// `{name}` stands for the value of the random secret `name`. Makes a secret that *is* a
    /// program's config fragment, so the value never reaches a command line: `"requirepass
    /// {redis_password}\n"`, then `command = ["redis-server", "/run/secrets/redis_conf"]`.
    /// Printable ASCII, newlines and tabs; `{` and `}` only around a secret's name; at most
    /// 4096 characters. `scripts/generate-secrets.sh` rewrites it from its sources on every run.
    /// Not with `bytes`.
    #[schemars(length(min = 1, max = 4096))]
    pub template: Option<Sp<String>>,
}

/// The seccomp presets: one enum, the seccomp module's.
pub use crate::seccomp::Preset as SeccompPreset;

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
    /// Runtime preset: `"python"`, `"node"`, `"go"`, `"rust"` or `"static"`. Required.
    #[schemars(with = "schema::DocumentedEnum<Runtime>")]
    pub runtime: Sp<Runtime>,
    /// Toolchain/runtime version for the base images, e.g. `"3.11"` (python), `"20"` (node),
    /// `"1.22"` (go), `"1.80"` (rust). Required, except for `static`, which has none.
    #[schemars(regex = "schema::VERSION")]
    pub version: Option<Sp<String>>,
    /// Build context: the directory of the service's source, relative to the spec file's
    /// directory (your repository), `../` allowed only at the start. hardgen writes nothing
    /// there; the compose file refers to it from the output directory. A missing directory is
    /// a warning (W106), an error with `--strict` (E043). Default `"src/<service>"`.
    #[schemars(regex = "schema::CONTEXT")]
    pub context: Option<Sp<String>>,
    /// The command the image runs (exec form). Required for python and node, e.g. `["python", "-m",
    /// "app"]`; default for go, rust and static: `["/app/<binary>"]`.
    #[schemars(length(min = 1))]
    pub command: Option<Vec<Sp<String>>>,
    /// Executable name: the Rust binary target, or the static binary's file name in the context.
    /// Default: the service name.
    #[schemars(regex = "schema::BINARY")]
    pub binary: Option<Sp<String>>,
    /// Debian packages installed in the runtime stage (`"name"` or `"name=version"`); python and
    /// node only (go, rust and static have no Debian runtime stage). Default: none. Example:
    /// `["libpq5"]`. At most 128.
    #[serde(default)]
    #[schemars(length(max = 128), inner(regex = "schema::DEB_PACKAGE"))]
    pub packages: Vec<Sp<String>>,
    /// Debian packages installed in the builder stage only (compilers, headers...), `"name"` or
    /// `"name=version"`. Default: none. Example: `["libpq-dev"]`. At most 128.
    #[serde(default)]
    #[schemars(length(max = 128), inner(regex = "schema::DEB_PACKAGE"))]
    pub build_packages: Vec<Sp<String>>,
    /// Absolute directories created in the image and owned by the service user, for volumes mounted
    /// there (a named volume copies the image directory's owner on first use). Default: none.
    /// Example: `["/data"]`. At most 64.
    #[serde(default)]
    #[schemars(length(max = 64), inner(regex = "schema::CONTAINER_PATH"))]
    pub writable_dirs: Vec<Sp<String>>,
    /// Verify the application files before every start: the image records their SHA-256
    /// checksums at build time and a small POSIX `sh` entrypoint checks them, exiting
    /// non-zero with the names of the changed files. Needs a shell in the runtime image:
    /// python and node only. Default: `[defaults] integrity`, else false.
    pub integrity: Option<Sp<bool>>,
    /// Digest pinning the runtime stage's base image, `"sha256:<64 hex>"`: the
    /// `python:<version>-slim-bookworm` or `node:<version>-bookworm-slim` image (which is also
    /// the builder's), or the distroless image of go and rust. `static` runs on `scratch`, which
    /// has none. Without it hardgen warns (W101) as for an `image` without digest.
    #[schemars(regex = "schema::DIGEST")]
    pub base_digest: Option<Sp<String>>,
    /// Digest pinning the builder stage's image when it is not the runtime's: `golang:<version>-
    /// bookworm` (go), `rust:<version>-slim-bookworm` (rust), `debian:bookworm-slim` (static),
    /// `"sha256:<64 hex>"`. Python and node build on their runtime image: `base_digest` pins
    /// both.
    #[schemars(regex = "schema::DIGEST")]
    pub builder_digest: Option<Sp<String>>,
}

/// A service's health check (exec form, no shell).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHealth {
    /// Command run inside the container (exec form, no shell); exit 0 means healthy. Example:
    /// `["pg_isready", "-h", "127.0.0.1"]`. Default: derived for python and node builds that
    /// `expose` a TCP port.
    #[schemars(length(min = 1))]
    pub cmd: Option<Vec<Sp<String>>>,
    /// Time between checks: a number and `ms`, `s`, `m` or `h`. Default `"30s"`.
    #[schemars(regex = "schema::DURATION")]
    pub interval: Option<Sp<String>>,
    /// Time a check may take: a number and `ms`, `s`, `m` or `h`. Default `"5s"`.
    #[schemars(regex = "schema::DURATION")]
    pub timeout: Option<Sp<String>>,
    /// Grace period after start, during which failures do not count: a number and `ms`, `s`, `m` or
    /// `h`. Default `"20s"`.
    #[schemars(regex = "schema::DURATION")]
    pub start_period: Option<Sp<String>>,
    /// Consecutive failures before the container is unhealthy. Default `3`.
    #[schemars(range(min = 1, max = 100))]
    pub retries: Option<Sp<u32>>,
}

/// What `hardgen learn` runs in a service besides its health check, so that the learned seccomp
/// profile covers the service's real work, not only its start-up.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawExercise {
    /// Command run inside the container (exec form, no shell), e.g. a request to the service's
    /// own port: `["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]`. Every run must
    /// exit 0. Required.
    #[schemars(length(min = 1))]
    pub cmd: Vec<Sp<String>>,
    /// How long to repeat the command: a number and `ms`, `s`, `m` or `h` (at most `10m`).
    /// Default: run it once.
    #[schemars(regex = "schema::DURATION")]
    pub duration: Option<Sp<String>>,
}

/// Explicit, loudly named opt-outs of hardening that hardgen otherwise refuses. Each needs a
/// `reason`, which is copied next to the setting in the generated files.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawUnsafe {
    /// Why the hardening is relaxed (one non-blank line, copied next to the setting in the
    /// generated files). Required.
    #[schemars(required, regex = "schema::REASON", length(max = 1024))]
    pub reason: Option<Sp<String>>,
    /// Allow capabilities hardgen calls dangerous in `cap_add` (SYS_ADMIN, NET_ADMIN, SYS_PTRACE,
    /// SYS_MODULE...). Default `false`.
    #[serde(default)]
    pub dangerous_caps: bool,
    /// Allow mounting a sensitive host location (`/etc`, `/proc`, a `.sock`...). Default `false`.
    #[serde(default)]
    pub sensitive_mounts: bool,
    /// Run with a writable root file system (no `read_only: true`). Default `false`.
    #[serde(default)]
    pub writable_root: bool,
    /// Do not set `no-new-privileges` (setuid binaries may gain privileges). Default `false`.
    #[serde(default)]
    pub allow_new_privileges: bool,
    /// Allow running the container as root (UID or GID 0 in `user`). Default `false`.
    #[serde(default)]
    pub root_user: bool,
    /// Run without a health check. Default `false`.
    #[serde(default)]
    pub no_healthcheck: bool,
    /// Keep the service a member of two zones that a flow joins, or of a zone with egress and an
    /// internal one. As a member of both it reaches every port of both zones' services and
    /// inherits both zones' flows: the flow's ports no longer limit it. The narrower spelling is
    /// a member of one zone and a client of the other through the flow. Default `false`.
    #[serde(default)]
    pub bridges_zones: bool,
}

/// A service: one container.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    /// Image reference, ideally pinned with a digest: `"postgres:16.4-bookworm@sha256:<64 hex>"`. A
    /// version tag is required (no `latest`). Exactly one of `image` and `build` is required.
    #[schemars(regex = "schema::IMAGE")]
    pub image: Option<Sp<String>>,
    /// Build the image from a generated multi-stage Dockerfile, e.g. `{ runtime = "python", version
    /// = "3.11", command = ["python", "-m", "app"] }`. Exactly one of `image` and `build` is
    /// required.
    #[schemars(with = "Option<schema::Inline<RawBuild>>")]
    pub build: Option<Box<RawBuild>>,
    /// The zones (networks) the service is a member of. Required, at least one. Example: `["api"]`.
    #[serde(default)]
    #[schemars(length(min = 1), inner(regex = "schema::ZONE_NAME"))]
    pub zones: Vec<Sp<String>>,
    /// Published ports, `"[ADDRESS:][HOST_PORT:]PORT[/udp]"`: `"8080"` (127.0.0.1:8080 ->
    /// 8080/tcp), `"9000:8080"`, `"0.0.0.0:80:8080"`, `"5353/udp"`. Bound to 127.0.0.1 unless an
    /// address is given; the service needs a zone with `egress = true`. Default: none.
    #[serde(default)]
    #[schemars(inner(regex = "schema::PUBLISHED_PORT"))]
    pub ports: Vec<Sp<String>>,
    /// Ports the service listens on inside its zones without publishing them, for flows and health
    /// checks: `"PORT"` or `"PORT/udp"`. Default: none. Example: `["5432"]`.
    #[serde(default)]
    #[schemars(inner(regex = "schema::PORT_PROTO"))]
    pub expose: Vec<Sp<String>>,
    /// Volumes: `"NAME:/container/path"` (named volume) or `"./host/path:/container/path"` (bind
    /// mount, relative to the output directory), optionally with `:ro`. Default: none. Example:
    /// `["pgdata:/var/lib/postgresql/data"]`.
    #[serde(default)]
    #[schemars(inner(regex = "schema::VOLUME"))]
    pub volumes: Vec<Sp<String>>,
    /// Extra size-limited tmpfs mounts (noexec, nosuid, nodev): `"/path"` or `"/path:16m"`. `/tmp`
    /// and `/run` are always mounted; listing them here only changes their size. Default: none.
    #[serde(default)]
    #[schemars(inner(regex = "schema::TMPFS"))]
    pub tmpfs: Vec<Sp<String>>,
    /// Environment variables (non-secret values only: a name that looks like a password, token or
    /// key must point at a secret file instead, e.g. `POSTGRES_PASSWORD_FILE =
    /// "/run/secrets/postgres_password"`). Default: none.
    #[serde(default)]
    #[schemars(with = "schema::NameMap<schema::EnvKey, String>")]
    pub environment: BTreeMap<Sp<String>, Sp<String>>,
    /// Warnings about this service accepted after review, by code, each with the reason it does
    /// not apply: `allow = { W101 = "built and loaded locally: no registry digest" }`. Not
    /// printed by `check` and `build`; listed with the reason in the compliance report, and an
    /// entry that no longer matches a warning is itself reported. Errors cannot be allowed.
    #[serde(default)]
    #[schemars(with = "schema::NameMap<schema::WarningKey, String>")]
    pub allow: BTreeMap<Sp<String>, Sp<String>>,
    /// Secrets mounted at `/run/secrets/<name>`; each must be declared in `[secrets]`. Default:
    /// none.
    #[serde(default)]
    #[schemars(inner(regex = "schema::SECRET_NAME"))]
    pub secrets: Vec<Sp<String>>,
    /// Linux capabilities added back after `cap_drop: [ALL]`, without the `CAP_` prefix, e.g.
    /// `["NET_BIND_SERVICE"]`. Dangerous ones need `unsafe.dangerous_caps`. Default: none.
    #[serde(default)]
    #[schemars(with = "Vec<schema::CapabilityName>")]
    pub cap_add: Vec<Sp<String>>,
    /// Numeric user as `"UID:GID"` (non-root unless `unsafe.root_user`). Default: `defaults.user`
    /// (`"10001:10001"`). Example: `"999:999"`.
    #[schemars(regex = "schema::USER")]
    pub user: Option<Sp<String>>,
    /// Memory limit: a number and a unit `k`, `m` or `g`, e.g. `"512m"`. Swap is disabled (memswap
    /// = memory). Default: `defaults.memory` (`"256m"`).
    #[schemars(regex = "schema::SIZE")]
    pub memory: Option<Sp<String>>,
    /// Memory reservation (soft limit), at most the limit, e.g. `"256m"`. Default: none.
    #[schemars(regex = "schema::SIZE")]
    pub memory_reservation: Option<Sp<String>>,
    /// CPU limit in cores, from 0.01 to 1024, e.g. `1.5`. Default: `defaults.cpus` (`0.5`).
    #[schemars(range(min = 0.01, max = 1024.0))]
    pub cpus: Option<Sp<f64>>,
    /// CPU reservation in cores, at most the limit. Default: none.
    #[schemars(range(min = 0.01, max = 1024.0))]
    pub cpus_reservation: Option<Sp<f64>>,
    /// Maximum number of processes and threads. Default: `defaults.pids` (`128`).
    #[schemars(range(min = 8, max = 4194304))]
    pub pids: Option<Sp<u32>>,
    /// Open files limit (`ulimits.nofile`, soft = hard). Default: the engine's.
    #[schemars(range(min = 64, max = 1048576))]
    pub nofile: Option<Sp<u32>>,
    /// Restart policy: `"on-failure:N"`, `"on-failure"`, `"unless-stopped"`, `"always"` or `"no"`.
    /// Default: `defaults.restart` (`"on-failure:5"`).
    #[schemars(with = "Option<schema::RestartPolicy>")]
    pub restart: Option<Sp<String>>,
    /// Seccomp preset: `"baseline"`, `"strict"` or `"learned"` (the profile `hardgen learn`
    /// recorded in `seccomp/learned/<service>.json`), adjusted by `syscalls_allow` and
    /// `syscalls_deny`. Default: `defaults.seccomp` (`"baseline"`).
    #[schemars(with = "Option<schema::DocumentedEnum<SeccompPreset>>")]
    pub seccomp: Option<Sp<SeccompPreset>>,
    /// Syscalls to allow on top of the seccomp preset, e.g. `["io_uring_setup"]`. Default: none.
    #[serde(default)]
    #[schemars(with = "Vec<schema::SyscallName>")]
    pub syscalls_allow: Vec<Sp<String>>,
    /// Syscalls to deny even if the seccomp preset allows them. Default: none.
    #[serde(default)]
    #[schemars(with = "Vec<schema::SyscallName>")]
    pub syscalls_deny: Vec<Sp<String>>,
    /// AppArmor profile name (it must be loaded on the host). Default: `defaults.apparmor` (none).
    #[schemars(regex = "schema::APPARMOR")]
    pub apparmor: Option<Sp<String>>,
    /// Health check. Required unless hardgen can derive one: python and node builds that `expose` a
    /// TCP port get a connect probe by default.
    #[schemars(with = "Option<schema::Inline<RawHealth>>")]
    pub healthcheck: Option<Box<RawHealth>>,
    /// What `hardgen learn` runs in the service while it records and verifies its learned
    /// seccomp profile (`seccomp = "learned"`), besides the health check. Default: nothing.
    #[schemars(with = "Option<schema::Inline<RawExercise>>")]
    pub exercise: Option<Box<RawExercise>>,
    /// Run Docker's init (tini) as PID 1. Default `true`; set `false` for images with their own
    /// init.
    pub init: Option<Sp<bool>>,
    /// Override the image's command (exec form), e.g. `["redis-server", "/etc/redis.conf"]`.
    /// Default: the image's.
    pub command: Option<Vec<Sp<String>>>,
    /// Programs the service may run besides those hardgen derives (its command and, for
    /// `sh -c`, the script's commands; the runtime preset's interpreter; its health check;
    /// `docker-init`). `scripts/security-check.sh` fails when a container runs a process whose
    /// name (`comm`: the executed file's base name, first 15 bytes) is in none of them, and the
    /// Falco rules flag the others. Required in practice for images whose own command the spec
    /// does not repeat (the check cannot know their programs and says so). Example: `["postgres"]`.
    #[serde(default)]
    #[schemars(length(max = 64), inner(regex = "schema::PROCESS"))]
    pub processes: Vec<Sp<String>>,
    /// Services that must be healthy before this one starts. Default: none.
    #[serde(default)]
    #[schemars(inner(regex = "schema::SERVICE_NAME"))]
    pub depends_on: Vec<Sp<String>>,
    /// Size of the `/tmp` and `/run` tmpfs mounts (they count against `memory`). Default:
    /// `defaults.tmpfs_size` (`"64m"`).
    #[schemars(regex = "schema::SIZE")]
    pub tmpfs_size: Option<Sp<String>>,
    /// What the service is (one line, copied into comments).
    #[schemars(regex = "schema::TEXT", length(max = 1024))]
    pub description: Option<String>,
    /// Explicit opt-outs of hardening, each with a reason, e.g. `{ dangerous_caps = true, reason =
    /// "packet capture needs NET_RAW and NET_ADMIN" }`.
    #[serde(rename = "unsafe")]
    #[schemars(with = "Option<schema::Inline<RawUnsafe>>")]
    pub unsafe_: Option<RawUnsafe>,
}

/// Parse a spec's text. Errors carry the byte span toml reports.
pub fn parse(text: &str) -> Result<RawSpec, toml::de::Error> {
    match chunked::parse(text) {
        Some(raw) => Ok(raw),
        None => toml::from_str(text),
    }
}

mod chunked;
mod recover;
mod schema;

pub use recover::{parse_collecting, Shape};
