//! RawSpec -> Model. Collects every diagnostic in one pass; returns a Model only when there is
//! no error. Subnet allocation and bridge names are settled here too, because they can fail
//! in ways the user must fix (pool exhausted, names colliding).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use crate::caps;
use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::model::*;
use crate::seccomp;
use crate::spec::*;

mod logging;

pub struct Options {
    /// Unpinned images and missing build contexts are errors rather than warnings.
    pub strict: bool,
    /// The spec file's directory, which build contexts are relative to: when given, a
    /// context that does not exist there is reported (a warning, an error with `strict`).
    pub spec_dir: Option<std::path::PathBuf>,
}

pub const DEFAULT_POOL: &str = "10.210.0.0/16";
pub const DEFAULT_USER: User = User {
    uid: 10001,
    gid: 10001,
};

/// Sensitive host locations: mounting them (or anything below) into a container needs
/// `unsafe.sensitive_mounts`.
const SENSITIVE_HOST_PATHS: &[&str] = &[
    "/",
    "/boot",
    "/dev",
    "/etc",
    "/home",
    "/lib",
    "/lib32",
    "/lib64",
    "/proc",
    "/root",
    "/run",
    "/sbin",
    "/bin",
    "/sys",
    "/usr",
    "/var/lib/docker",
    "/var/run",
    "/var/lib/containerd",
];
/// Below these, every path is sensitive too (and so is every directory above them: mounting
/// `/var` exposes `/var/lib/docker`).
const SENSITIVE_HOST_TREES: &[&str] = &[
    "/boot",
    "/dev",
    "/etc",
    "/proc",
    "/sys",
    "/root",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/var/lib/containers",
    "/var/lib/kubelet",
    "/var/run",
    "/run",
    "/usr",
    "/lib",
    "/lib32",
    "/lib64",
    "/bin",
    "/sbin",
];
/// What hardgen itself writes into the output directory: a bind mount of any of it (or of the
/// output directory itself) would let a container read the secrets or rewrite the scripts
/// and firewall rules that root runs.
const GENERATED_TOP_LEVEL: &[&str] = &[
    "secrets",
    "scripts",
    "firewall",
    "seccomp",
    "dockerfiles",
    "docker-compose.yml",
    "daemon.json",
    ".env",
    ".env.example",
    ".gitignore",
    ".hardgen-manifest",
    "README.md",
];
/// Interface names a zone's bridge must never take.
const RESERVED_BRIDGES: &[&str] = &["lo", "docker0", "docker_gwbridge", "all", "default"];
/// Limits that keep every generated line short enough for its consumer (BuildKit reads
/// Dockerfile lines of at most 64 KiB, iptables-restore 10 KiB).
const MAX_ARGS_JSON: usize = 32 * 1024;
const MAX_PACKAGES: usize = 128;
const MAX_WRITABLE_DIRS: usize = 64;
const MAX_FLOW_PORTS: usize = 64;

/// toml's shape errors in the spec's words: a title for the first line of `message` (Rust
/// type names replaced) and a help line (what the other lines of the message say, and how
/// to fix the usual syntax slips). `app` uses it for E001 when there is no "did you mean".
pub fn toml_explain(message: &str) -> (String, Option<String>) {
    const WORDS: &[(&str, &str)] = &[
        ("struct RawSpec", "a hardgen spec"),
        ("struct RawProject", "the `[project]` table"),
        ("struct RawDefaults", "the `[defaults]` table"),
        ("struct RawZone", "a zone table"),
        ("struct RawFlow", "a `[[flows]]` table"),
        ("struct RawSecret", "a secret table"),
        ("struct RawService", "a service table"),
        ("struct RawBuild", "a `build` table"),
        ("struct RawHealth", "a `healthcheck` table"),
        ("struct RawUnsafe", "an `unsafe` table"),
        ("expected u8", "expected a whole number from 0 to 255"),
        (
            "expected u32",
            "expected a whole number from 0 to 4294967295",
        ),
        ("expected f64", "expected a number"),
        ("expected a sequence", "expected an array `[...]`"),
        ("expected a map", "expected a table"),
    ];
    let mut lines = message.trim().lines();
    let first = lines.next().unwrap_or("").trim();
    let mut title = first.to_string();
    for (rust, spec) in WORDS {
        title = title.replace(rust, spec);
    }
    let mut help: Vec<String> = lines
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    let fix = match first {
        "invalid basic string" => Some("a `\"...\"` string ends on its line with `\"` and holds no raw control character (write `\\n`, `\\t`, `\\u001b`; `\"\"\"` opens a multi-line string)"),
        "invalid literal string" => Some("a `'...'` string ends on its line with `'` and holds no raw control character"),
        "invalid multiline basic string" | "invalid multiline literal string" => {
            Some("a multi-line string is closed by the same three quotes that open it")
        }
        "invalid string" => Some("quote strings: `name = \"demo\"`"),
        "invalid escape sequence" => Some("in `\"...\"` a backslash starts an escape; write `\\\\` for a backslash, or use a `'...'` string"),
        "invalid table header" => Some("a table header is `[name]` or `[parent.name]`, alone on its line"),
        "invalid array" => Some("separate the elements with `,` and close the array with `]`"),
        "invalid inline table" => Some("an inline table `{ a = 1, b = 2 }` stays on one line, with `,` between its entries"),
        "expected `.`, `=`" => Some("a key is followed by `=` and its value: `key = \"value\"`"),
        f if f.starts_with("missing field `project`") => Some("every spec starts with `[project]` and its `name = \"...\"`"),
        f if f.starts_with("missing field `services`") => Some("declare at least one service: `[services.NAME]`"),
        f if f.starts_with("missing field") => Some("this table needs that key"),
        f if f.starts_with("duplicate key") => Some("each key appears once per table: merge the two"),
        _ => None,
    };
    help.extend(fix.map(str::to_string));
    let help = (!help.is_empty()).then(|| {
        let mut h = help.join("; ");
        for (rust, spec) in WORDS {
            h = h.replace(rust, spec);
        }
        h
    });
    (title, help)
}

pub struct Validator<'a> {
    diags: Vec<Diagnostic>,
    opts: &'a Options,
}

pub fn validate(
    raw: &RawSpec,
    spec_name: &str,
    opts: &Options,
) -> (Option<Model>, Vec<Diagnostic>) {
    let mut v = Validator {
        diags: Vec::new(),
        opts,
    };
    let mut model = v.spec(raw, &safe_spec_name(spec_name));
    model.accepted = crate::allow::apply(raw, &mut v.diags);
    let has_error = v.diags.iter().any(|d| d.is_error());
    let mut diags = v.diags;
    for d in &mut diags {
        d.message = clean(&d.message);
        d.label = clean(&d.label);
        d.help = d.help.as_deref().map(clean);
    }
    diags.sort_by_key(|d| (d.span.as_ref().map_or(usize::MAX, |s| s.start), d.code));
    (if has_error { None } else { Some(model) }, diags)
}

/// `host[:port][/path]` in lower case, as the repository prefix of an image reference
/// (the schema's `REGISTRY` pattern says the same).
fn registry_ok(s: &str) -> bool {
    let component = |c: &str| {
        !c.is_empty()
            && c.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
            })
            && c.as_bytes()[0].is_ascii_alphanumeric()
            && c.as_bytes()[c.len() - 1].is_ascii_alphanumeric()
            && !c.contains("..")
    };
    let mut parts = s.split('/');
    let host = parts.next().unwrap_or("");
    let (host, port) = match host.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (host, None),
    };
    s.len() <= 255
        && component(host)
        && port.is_none_or(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
        && parts.all(component)
}

/// A Docker tag: letters, digits, `_`, `.`, `-`, at most 128, not starting with `.` or `-`.
fn image_tag_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && (s.as_bytes()[0].is_ascii_alphanumeric() || s.as_bytes()[0] == b'_')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn name_ok(s: &str, max: usize, extra: &[u8]) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.as_bytes()[0].is_ascii_lowercase()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || extra.contains(&b))
}

/// Free text that ends up in comments of line-based files: one line, no control characters,
/// nothing that reorders or hides text on screen.
pub(crate) fn text_ok(s: &str) -> bool {
    s.len() <= 1024 && !s.chars().any(|c| c.is_control() || is_invisible(c))
}

/// Characters that change how surrounding text is displayed without being visible
/// themselves: bidirectional overrides ("Trojan Source"), zero-width characters, line and
/// paragraph separators, the byte order mark.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}'
    )
}

/// A user value quoted in a diagnostic: control and invisible characters escaped (so a
/// hostile spec cannot drive the terminal), and at most 64 characters.
pub fn show(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == 64 {
            out.push('…');
            break;
        }
        if c.is_control() || is_invisible(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Escape control and invisible characters in a finished diagnostic text.
fn clean(s: &str) -> String {
    if s.chars()
        .any(|c| (c.is_control() && c != '\n') || is_invisible(c))
    {
        s.chars()
            .map(|c| {
                if (c.is_control() && c != '\n') || is_invisible(c) {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect()
    } else {
        s.to_string()
    }
}

/// The spec's file name as it appears in generated headers (comments of every file): one
/// line, printable, at most 128 characters.
fn safe_spec_name(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_control() || is_invisible(c) {
                '?'
            } else {
                c
            }
        })
        .take(128)
        .collect();
    // It sits inside an HTML comment in README.md.
    while s.contains("--") {
        s = s.replace("--", "-");
    }
    s
}

fn container_path_ok(p: &str) -> bool {
    p.starts_with('/')
        && p.len() <= 512
        && p != "/"
        && p.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-' | b'@' | b'+')
        })
        && !p.split('/').any(|c| c == ".." || c == ".")
        && !p.contains("//")
}

fn host_path_ok(p: &str) -> bool {
    (p.starts_with('/') || p == "." || p.starts_with("./"))
        && p.len() <= 512
        && p.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-' | b'@' | b'+')
        })
}

/// A relative host path that climbs out of the output directory: where it lands depends on
/// where the output is deployed, so it cannot be checked (`../../../etc` is `/etc`).
fn escapes_output_dir(p: &str) -> bool {
    !p.starts_with('/') && p.split('/').any(|c| c == "..")
}

/// A relative host path onto the output directory itself or what hardgen generates in it.
fn is_generated_path(p: &str) -> bool {
    let first = p.split('/').find(|c| !c.is_empty() && *c != ".");
    first.is_none_or(|f| GENERATED_TOP_LEVEL.contains(&f))
}

fn normalise_abs(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

pub fn is_sensitive_host_path(p: &str) -> bool {
    let p = normalise_abs(p);
    if p.ends_with(".sock") {
        return true;
    }
    SENSITIVE_HOST_PATHS.contains(&p.as_str())
        || SENSITIVE_HOST_TREES.iter().any(|t| {
            p.strip_prefix(t).is_some_and(|rest| rest.starts_with('/'))
                || t.strip_prefix(p.as_str())
                    .is_some_and(|rest| rest.starts_with('/'))
        })
}

pub fn looks_secret(key: &str) -> bool {
    let k = key.to_ascii_uppercase();
    if k.ends_with("_FILE") {
        return false;
    }
    [
        "PASSWORD",
        "PASSWD",
        "SECRET",
        "TOKEN",
        "API_KEY",
        "APIKEY",
        "PRIVATE_KEY",
        "MASTER_KEY",
    ]
    .iter()
    .any(|w| k.contains(w))
}

/// The healthcheck hardgen can write itself for a built image: the runtime's own
/// interpreter connecting to the service's first port.
fn derived_probe(runtime: Runtime, port: Option<PortProto>) -> Option<Vec<String>> {
    let port = port.filter(|p| p.proto == Proto::Tcp)?.port;
    match runtime {
        Runtime::Python => Some(vec![
            "python".into(),
            "-c".into(),
            format!("import socket; socket.create_connection(('127.0.0.1', {port}), 3).close()"),
        ]),
        Runtime::Node => Some(vec![
            "node".into(),
            "-e".into(),
            format!(
                "require('net').connect({port}, '127.0.0.1').on('connect', () => process.exit(0)).on('error', () => process.exit(1))"
            ),
        ]),
        Runtime::Go | Runtime::Rust | Runtime::Static => None,
    }
}

impl Validator<'_> {
    fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn err(&mut self, code: &'static str, span: &Range<usize>, msg: String, label: &str) {
        self.push(Diagnostic::error(code, msg).at(span.clone(), label));
    }

    /// Free text (descriptions): `at` is the table that holds it (descriptions carry no span
    /// of their own).
    fn text(&mut self, s: &Option<String>, what: &str, at: &Range<usize>) {
        if let Some(s) = s {
            if !text_ok(s) {
                self.push(
                    Diagnostic::error(
                        "E028",
                        format!("{what} must be one printable line of at most 1024 bytes"),
                    )
                    .at(at.clone(), "its `description`")
                    .help(if s.len() > 1024 {
                        format!("it has {} bytes", s.len())
                    } else {
                        "remove the line breaks, control characters and invisible characters (bidirectional overrides, zero-width spaces)".to_string()
                    }),
                );
            }
        }
    }

    /// A number the spec gives as an integer, checked against its documented range.
    fn range(&mut self, v: &Option<Sp<u32>>, lo: u32, hi: u32, what: &str) -> Option<u32> {
        let v = v.as_ref()?;
        if (lo..=hi).contains(&v.value) {
            Some(v.value)
        } else {
            self.push(
                Diagnostic::error("E021", format!("{what} must be between {lo} and {hi}"))
                    .at(v.span.clone(), "out of range")
                    .help_opt(
                        (what == "pids" && v.value == 0)
                            .then(|| "0 would mean no limit at all (fork bombs)".to_string()),
                    ),
            );
            None
        }
    }

    fn apparmor(&mut self, a: &Option<Sp<String>>) -> Option<String> {
        let a = a.as_ref()?;
        let v = &a.value;
        let ok = !v.is_empty()
            && v.len() <= 128
            && v.as_bytes()[0].is_ascii_alphanumeric()
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !ok {
            self.push(
                Diagnostic::error("E002", format!("`{}` is not an AppArmor profile name", show(v)))
                    .at(a.span.clone(), "invalid profile name")
                    .help("letters, digits, `.`, `_` and `-`, starting with a letter or digit, at most 128"),
            );
            None
        } else if v == "unconfined" {
            self.push(
                Diagnostic::error("E002", "`unconfined` turns AppArmor off")
                    .at(a.span.clone(), "no AppArmor confinement")
                    .help("omit `apparmor`: Docker then applies its `docker-default` profile"),
            );
            None
        } else {
            Some(v.clone())
        }
    }

    fn size(&mut self, s: &Option<Sp<String>>) -> Option<ByteSize> {
        let s = s.as_ref()?;
        match ByteSize::parse(&s.value) {
            Ok(b) => Some(b),
            Err(e) => {
                self.err("E021", &s.span, e, "invalid size");
                None
            }
        }
    }

    fn duration(&mut self, s: &Option<Sp<String>>, default: Duration) -> Duration {
        match s {
            None => default,
            Some(s) => match Duration::parse(&s.value) {
                Ok(d) => d,
                Err(e) => {
                    self.err("E021", &s.span, e, "invalid duration");
                    default
                }
            },
        }
    }

    fn cpus(&mut self, s: &Option<Sp<f64>>) -> Option<Cpus> {
        let s = s.as_ref()?;
        match Cpus::from_f64(s.value) {
            Some(c) => Some(c),
            None => {
                self.err(
                    "E021",
                    &s.span,
                    format!("`{}` is not a CPU count between 0.01 and 1024", s.value),
                    "invalid CPU count",
                );
                None
            }
        }
    }

    fn user(&mut self, s: &Option<Sp<String>>, allow_root: bool) -> Option<User> {
        let s = s.as_ref()?;
        match User::parse(&s.value) {
            Some(u) if (u.uid == 0 || u.gid == 0) && !allow_root => {
                self.push(
                    Diagnostic::error("E020", "the service would run as root")
                        .at(s.span.clone(), "UID or GID 0")
                        .help("use a numeric non-root user such as `\"10001:10001\"`, or set `unsafe.root_user = true` with a reason"),
                );
                None
            }
            Some(u) if u.uid == u32::MAX || u.gid == u32::MAX => {
                self.push(
                    Diagnostic::error("E020", format!("`{}` is not a usable user", show(&s.value)))
                        .at(s.span.clone(), "4294967295 is -1")
                        .help("the kernel reads ID 4294967295 as -1 (\"unchanged\"): use an ID below it"),
                );
                None
            }
            Some(u) => Some(u),
            None => {
                self.push(
                    Diagnostic::error("E020", format!("`{}` is not a numeric `UID:GID`", show(&s.value)))
                        .at(s.span.clone(), "expected e.g. \"10001:10001\"")
                        .help("names are not allowed: a numeric user cannot be remapped by the image's /etc/passwd"),
                );
                None
            }
        }
    }

    /// Program names of a service's allowlist: a name or a path (its base name counts).
    fn processes(&mut self, list: &[Sp<String>]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for p in list {
            let v = &p.value;
            let ok = !v.is_empty()
                && v.len() <= 255
                && !v.ends_with('/')
                && v.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-' | b'+')
                })
                && !v.split('/').any(|c| c == "." || c == "..")
                && !v.contains("//");
            if !ok {
                self.push(
                    Diagnostic::error("E049", format!("`{}` is not a program name", show(v)))
                        .at(p.span.clone(), "invalid program name")
                        .help("the name of a program as `ps` shows it (`postgres`), or its path (`/usr/local/bin/postgres`): letters, digits, `.`, `_`, `+`, `-`"),
                );
            } else if out.contains(v) {
                self.push(
                    Diagnostic::error("E033", format!("`{}` is listed twice", show(v)))
                        .at(p.span.clone(), "duplicate"),
                );
            } else {
                out.push(v.clone());
            }
        }
        out
    }

    fn restart(&mut self, s: &Option<Sp<String>>) -> Option<Restart> {
        let s = s.as_ref()?;
        let r = Restart::parse(&s.value);
        if r.is_none() {
            self.push(
                Diagnostic::error(
                    "E022",
                    format!("`{}` is not a restart policy", show(&s.value)),
                )
                .at(s.span.clone(), "unknown policy")
                .help("use `on-failure:5`, `on-failure`, `unless-stopped`, `always` or `no`"),
            );
        }
        r
    }

    fn spec(&mut self, raw: &RawSpec, spec_name: &str) -> Model {
        let project = self.project(&raw.project);
        self.text(
            &raw.project.description,
            "project.description",
            &raw.project.name.span,
        );
        let defaults = self.defaults(&raw.defaults);

        let zone_names: Vec<&str> = raw.zones.keys().map(|k| k.value.as_str()).collect();
        let secret_names: Vec<&str> = raw.secrets.keys().map(|k| k.value.as_str()).collect();
        let service_names: Vec<&str> = raw.services.keys().map(|k| k.value.as_str()).collect();

        let mut secrets = BTreeMap::new();
        for (name, s) in &raw.secrets {
            if !name_ok(&name.value, 64, b"_-") {
                self.err(
                    "E002",
                    &name.span,
                    format!("`{}` is not a valid secret name", show(&name.value)),
                    "lower-case letters, digits, `_` and `-`, starting with a letter",
                );
            }
            self.text(&s.description, "a secret's description", &name.span);
            let bytes = s.bytes.as_ref().map_or(32, |b| b.value);
            if let Some(b) = &s.bytes {
                if !(16..=4096).contains(&b.value) {
                    self.err(
                        "E021",
                        &b.span,
                        "a secret has 16 to 4096 random bytes".into(),
                        "out of range",
                    );
                }
            }
            if let Some(g) = s.gid.as_ref().filter(|g| g.value == 0) {
                self.err(
                    "E034",
                    &g.span,
                    "a secret's group may not be root (0)".into(),
                    "root group",
                );
            } else if let Some(g) = s.gid.as_ref().filter(|g| g.value > 2_147_483_647) {
                self.err(
                    "E034",
                    &g.span,
                    "a secret's group must be between 1 and 2147483647".into(),
                    "out of range",
                );
            }
            let template = s
                .template
                .as_ref()
                .and_then(|t| self.secret_template(raw, t, s.bytes.as_ref()));
            secrets.insert(
                name.value.clone(),
                Secret {
                    name: name.value.clone(),
                    bytes,
                    gid: s.gid.as_ref().map(|g| g.value),
                    description: s.description.clone(),
                    template,
                },
            );
        }

        let mut services = BTreeMap::new();
        for (name, s) in &raw.services {
            let first = self.diags.len();
            let svc = self.service(
                name,
                s,
                &defaults,
                &zone_names,
                &secret_names,
                &service_names,
            );
            // What was found while validating a service is about that service.
            for d in &mut self.diags[first..] {
                d.service.get_or_insert_with(|| name.value.clone());
            }
            services.insert(name.value.clone(), svc);
        }
        self.depends_cycles(raw);

        let flows = self.flows(raw, &zone_names, &services);
        let zones = self.zones(raw, &project, &services, &flows);
        self.ports(raw, &services, &zones);
        self.zone_bridges(raw, &services, &flows, &zones);
        let logging = self.logging(&raw.logging, &defaults.log);

        Model {
            spec_name: spec_name.to_string(),
            project,
            zones,
            flows,
            secrets,
            services,
            accepted: Vec::new(),
            logging,
            host: Host {
                userns_remap: raw.host.userns_remap.as_ref().is_some_and(|b| b.value),
            },
        }
    }

    fn project(&mut self, p: &RawProject) -> Project {
        if !name_ok(&p.name.value, 20, b"-") {
            self.push(
                Diagnostic::error("E002", format!("`{}` is not a valid project name", show(&p.name.value)))
                    .at(p.name.span.clone(), "invalid project name")
                    .help("lower-case letters, digits and `-`, starting with a letter, at most 20 characters"),
            );
        }
        let pool = match &p.subnet_pool {
            None => Ipv4Net::parse(DEFAULT_POOL).expect("default pool parses"),
            Some(s) => match Ipv4Net::parse(&s.value) {
                Ok(n) if n.prefix <= 24 => n,
                Ok(_) => {
                    self.err(
                        "E003",
                        &s.span,
                        "the subnet pool must be a /24 or larger".into(),
                        "too small",
                    );
                    Ipv4Net::parse(DEFAULT_POOL).expect("default pool parses")
                }
                Err(e) => {
                    self.err("E003", &s.span, e, "invalid subnet");
                    Ipv4Net::parse(DEFAULT_POOL).expect("default pool parses")
                }
            },
        };
        let public_ok = p.unsafe_.as_ref().is_some_and(|u| u.public_addresses);
        if let Some(u) = &p.unsafe_ {
            match &u.reason {
                Some(r) if !r.value.trim().is_empty() && text_ok(&r.value) => {}
                Some(r) => self.err(
                    "E032",
                    &r.span,
                    "the reason must be one non-empty line".into(),
                    "invalid reason",
                ),
                None => self.push(
                    Diagnostic::error("E032", "`[project] unsafe` needs a `reason`")
                        .at(p.name.span.clone(), "relaxes hardening without saying why")
                        .help("add `reason = \"...\"` to the project's `unsafe` table"),
                ),
            }
        }
        if let (Some(s), Some(why)) = (&p.subnet_pool, not_private(pool)) {
            if !public_ok {
                self.push(
                    Diagnostic::error("E047", format!("subnet pool `{pool}` {why}"))
                        .at(s.span.clone(), "not a private range")
                        .help("take the pool from a private range: 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 (RFC 1918) or 100.64.0.0/10 (RFC 6598), e.g. `10.210.0.0/16`; to use other addresses on purpose, set `[project] unsafe = { public_addresses = true, reason = \"...\" }`"),
                );
            }
        }
        let zone_prefix = match &p.zone_prefix {
            None => 24,
            Some(z) if (16..=28).contains(&z.value) && z.value >= pool.prefix => z.value,
            Some(z) => {
                self.err(
                    "E021",
                    &z.span,
                    format!(
                        "zone_prefix must be between the pool's /{} and /28",
                        pool.prefix.max(16)
                    ),
                    "out of range",
                );
                24
            }
        };
        let registry = p.registry.as_ref().and_then(|r| {
            let ok = registry_ok(&r.value);
            if !ok {
                self.err(
                    "E029",
                    &r.span,
                    format!("`{}` is not a registry", show(&r.value)),
                    "`host[:port][/path]`, lower case",
                );
            }
            ok.then(|| r.value.clone())
        });
        let image_tag = match &p.image_tag {
            None => "local".to_string(),
            Some(t) => {
                if !image_tag_ok(&t.value) {
                    self.err(
                        "E029",
                        &t.span,
                        format!("`{}` is not an image tag", show(&t.value)),
                        "letters, digits, `_`, `.` and `-`, at most 128, not starting with `.` or `-`",
                    );
                }
                t.value.clone()
            }
        };
        Project {
            name: p.name.value.clone(),
            pool,
            zone_prefix,
            description: p.description.clone(),
            registry,
            image_tag,
        }
    }

    fn defaults(&mut self, d: &RawDefaults) -> Defaults {
        Defaults {
            user: self.user(&d.user, false).unwrap_or(DEFAULT_USER),
            memory: self.size(&d.memory).unwrap_or(ByteSize {
                bytes: 256 << 20,
                amount: 256,
                unit: 'm',
            }),
            cpus: self.cpus(&d.cpus).unwrap_or(Cpus(500)),
            pids: self.range(&d.pids, 8, 4_194_304, "pids").unwrap_or(128),
            restart: self
                .restart(&d.restart)
                .unwrap_or(Restart::OnFailure(Some(5))),
            seccomp: d
                .seccomp
                .as_ref()
                .map_or(SeccompPreset::Baseline, |s| s.value),
            apparmor: self.apparmor(&d.apparmor),
            tmpfs_size: self.size(&d.tmpfs_size).unwrap_or(ByteSize {
                bytes: 64 << 20,
                amount: 64,
                unit: 'm',
            }),
            log: LogLimits {
                max_size: self.size(&d.log_max_size).unwrap_or(ByteSize {
                    bytes: 10 << 20,
                    amount: 10,
                    unit: 'm',
                }),
                max_file: self
                    .range(&d.log_max_file, 1, 100, "log_max_file")
                    .unwrap_or(3),
            },
            integrity: d.integrity.as_ref().is_some_and(|i| i.value),
        }
    }

    fn refs(
        &mut self,
        list: &[Sp<String>],
        known: &[&str],
        code: &'static str,
        kind: &str,
    ) -> Vec<String> {
        let mut out = Vec::new();
        // Callers pass names from sorted maps: a binary search keeps large specs linear.
        debug_assert!(
            known.windows(2).all(|w| w[0] <= w[1]),
            "refs needs sorted names"
        );
        for r in list {
            if known.binary_search(&r.value.as_str()).is_err() {
                let shown = show(&r.value);
                // "service of zone `api`" -> "services of zone `api`"
                let plural = match kind.split_once(' ') {
                    Some((a, b)) => format!("{a}s {b}"),
                    None => format!("{kind}s"),
                };
                let help = did_you_mean(&r.value, known.iter().copied()).or_else(|| {
                    Some(if known.is_empty() {
                        format!("there are no {plural}")
                    } else {
                        let listed: Vec<String> = known.iter().take(20).map(|k| show(k)).collect();
                        format!(
                            "{plural}: {}{}",
                            listed.join(", "),
                            if known.len() > 20 { ", ..." } else { "" }
                        )
                    })
                });
                let help = match help {
                    Some(h) if !r.value.is_ascii() => Some(format!(
                        "{h} (`{shown}` has non-ASCII characters: look-alike letters?)"
                    )),
                    h => h,
                };
                let message = if kind.contains(' ') {
                    format!("`{shown}` is not a {kind}")
                } else {
                    format!("unknown {kind} `{shown}`")
                };
                self.push(
                    Diagnostic::error(code, message)
                        .at(r.span.clone(), format!("no {kind} named `{shown}`"))
                        .help_opt(help),
                );
            } else if out.contains(&r.value) {
                self.err(
                    "E033",
                    &r.span,
                    format!("{kind} `{}` is listed twice", show(&r.value)),
                    "duplicate",
                );
            } else {
                out.push(r.value.clone());
            }
        }
        out
    }

    fn args(&mut self, list: &[Sp<String>], what: &str) -> Vec<String> {
        for a in list {
            if a.value.contains('\0') || a.value.len() > 4096 {
                self.err(
                    "E035",
                    &a.span,
                    format!("{what} arguments may not contain NUL and have at most 4096 bytes"),
                    "invalid argument",
                );
            }
        }
        let out: Vec<String> = list.iter().map(|a| a.value.clone()).collect();
        let json = serde_json::to_string(&out).map_or(usize::MAX, |j| j.len());
        if json > MAX_ARGS_JSON {
            if let (Some(first), Some(last)) = (list.first(), list.last()) {
                self.push(
                    Diagnostic::error(
                        "E035",
                        format!("{what} is too long: {json} bytes once quoted, at most {MAX_ARGS_JSON}"),
                    )
                    .at(first.span.start..last.span.end, "too long")
                    .help("the Dockerfile holds it on one line; put long scripts in a file of the image"),
                );
            }
        }
        out
    }

    #[allow(clippy::too_many_lines)]
    fn service(
        &mut self,
        name: &Sp<String>,
        s: &RawService,
        d: &Defaults,
        zones: &[&str],
        secrets: &[&str],
        services: &[&str],
    ) -> Service {
        let n = &name.value;
        if !name_ok(n, 63, b"_-") {
            self.err(
                "E002",
                &name.span,
                format!("`{}` is not a valid service name", show(n)),
                "lower-case letters, digits, `_` and `-`, starting with a letter, at most 63",
            );
        }
        self.text(&s.description, "a service's description", &name.span);
        if s.description.as_deref().is_some_and(|d| d.ends_with('\\')) {
            self.push(
                Diagnostic::error("E028", "a service's description may not end with a backslash")
                    .at(name.span.clone(), "its `description`")
                    .help("it is quoted in the Dockerfile's LABEL, where `\\\"` is read differently by Docker and by linters"),
            );
        }
        let uns = s.unsafe_.as_ref();
        let flag = |f: fn(&RawUnsafe) -> bool| uns.is_some_and(f);
        if let Some(u) = uns {
            match &u.reason {
                Some(r) if !r.value.trim().is_empty() && text_ok(&r.value) => {}
                Some(r) => self.err(
                    "E032",
                    &r.span,
                    "the reason must be one non-empty line".into(),
                    "invalid reason",
                ),
                None => self.push(
                    Diagnostic::error("E032", format!("service `{n}`: `unsafe` needs a `reason`"))
                        .at(name.span.clone(), "relaxes hardening without saying why")
                        .help("add `reason = \"...\"` to the service's `unsafe` table"),
                ),
            }
        }

        let source = match (&s.image, &s.build) {
            (Some(img), None) => Source::Image(self.image(img)),
            (None, Some(b)) => {
                let mut build = self.build(n, b);
                // The project default applies where the runtime has a shell.
                build.integrity = build.integrity
                    || (b.integrity.is_none()
                        && d.integrity
                        && matches!(build.runtime, Runtime::Python | Runtime::Node));
                Source::Build(build)
            }
            (Some(img), Some(_)) => {
                self.err(
                    "E019",
                    &img.span,
                    format!("service `{n}` has both `image` and `build`"),
                    "remove one",
                );
                Source::Image(ImageRef::parse("invalid").expect("literal parses"))
            }
            (None, None) => {
                self.push(
                    Diagnostic::error(
                        "E019",
                        format!("service `{n}` has neither `image` nor `build`"),
                    )
                    .at(name.span.clone(), "no image")
                    .help("add `image = \"name:tag\"` or `build = { runtime = \"python\", ... }`"),
                );
                Source::Image(ImageRef::parse("invalid").expect("literal parses"))
            }
        };

        if s.zones.is_empty() {
            self.push(
                Diagnostic::error("E007", format!("service `{n}` is in no zone"))
                    .at(name.span.clone(), "no zones")
                    .help(if zones.is_empty() {
                        "declare a zone with `[zones.NAME]` and list it in `zones = [\"NAME\"]`"
                            .to_string()
                    } else {
                        format!("add `zones = [\"{}\"]`", zones[0])
                    }),
            );
        }
        let svc_zones = self.refs(&s.zones, zones, "E007", "zone");
        let svc_secrets = self.refs(&s.secrets, secrets, "E008", "secret");
        let depends_on = self.refs(&s.depends_on, services, "E009", "service");
        if let Some(dep) = s.depends_on.iter().find(|x| &x.value == n) {
            self.err(
                "E036",
                &dep.span,
                format!("service `{n}` depends on itself"),
                "self dependency",
            );
        }

        let mut ports = Vec::new();
        for p in &s.ports {
            match PublishedPort::parse(&p.value) {
                Ok(pp) => ports.push(pp),
                Err(e) => self.err("E011", &p.span, e, "invalid port"),
            }
        }
        let mut expose = Vec::new();
        for p in &s.expose {
            match PortProto::parse(&p.value) {
                Ok(pp) if !expose.contains(&pp) => expose.push(pp),
                Ok(pp) => self.err(
                    "E033",
                    &p.span,
                    format!("port {pp} is listed twice"),
                    "duplicate",
                ),
                Err(e) => self.err("E011", &p.span, e, "invalid port"),
            }
        }

        let mut cap_add = BTreeSet::new();
        for c in &s.cap_add {
            let v = c.value.as_str();
            if let Some(stripped) = v.strip_prefix("CAP_").filter(|x| caps::is_capability(x)) {
                self.push(
                    Diagnostic::error(
                        "E014",
                        format!("write capabilities without the `CAP_` prefix: `{stripped}`"),
                    )
                    .at(c.span.clone(), "prefixed name")
                    .help(format!("write `{stripped}`")),
                );
            } else if !caps::is_capability(v) {
                self.push(
                    Diagnostic::error("E014", format!("unknown capability `{}`", show(v)))
                        .at(c.span.clone(), "not a Linux capability")
                        .help_opt(did_you_mean(
                            &v.to_ascii_uppercase(),
                            caps::ALL.iter().copied(),
                        )),
                );
            } else if caps::is_dangerous(v) && !flag(|u| u.dangerous_caps) {
                self.push(
                    Diagnostic::error("E015", format!("capability `{v}` is dangerous"))
                        .at(c.span.clone(), "grants host-level power")
                        .help("if it is really needed, set `unsafe = { dangerous_caps = true, reason = \"...\" }`"),
                );
            } else if !cap_add.insert(v.to_string()) {
                self.err(
                    "E033",
                    &c.span,
                    format!("capability `{v}` is listed twice"),
                    "duplicate",
                );
            }
        }
        if cap_add.contains("NET_BIND_SERVICE") {
            let low = ports
                .iter()
                .map(|p| p.container.port)
                .chain(expose.iter().map(|p| p.port))
                .any(|p| p < 1024);
            if !low {
                let span = s
                    .cap_add
                    .iter()
                    .find(|c| c.value == "NET_BIND_SERVICE")
                    .map(|c| c.span.clone());
                let mut diag = Diagnostic::warning("W104", format!("service `{n}`: NET_BIND_SERVICE is only needed to listen on ports below 1024"))
                    .help("remove it: no port of this service is below 1024 (and Docker 20.10 or later lets containers bind low ports without it: net.ipv4.ip_unprivileged_port_start=0)");
                if let Some(span) = span {
                    diag = diag.at(span, "not needed");
                }
                self.push(diag);
            }
        }

        let volumes = self.volumes(n, &s.volumes, flag(|u| u.sensitive_mounts));
        let tmpfs = self.tmpfs(&s.tmpfs);
        // Docker refuses two mounts on one path: volumes against the tmpfs mounts (`/tmp`
        // and `/run` always) and the secret files, tmpfs mounts against the secret files.
        let secret_file = |p: &str| {
            p.strip_prefix("/run/secrets/")
                .is_some_and(|x| svc_secrets.iter().any(|s| s == x))
        };
        let mut clashes = Vec::new();
        for (v, span) in &volumes {
            if v.target == "/tmp"
                || v.target == "/run"
                || tmpfs.iter().any(|(t, _)| t.path == v.target)
            {
                clashes.push((span.clone(), v.target.clone(), "a tmpfs"));
            } else if secret_file(&v.target) {
                clashes.push((span.clone(), v.target.clone(), "a secret"));
            }
        }
        for (t, span) in &tmpfs {
            if secret_file(&t.path) {
                clashes.push((span.clone(), t.path.clone(), "a secret"));
            }
        }
        for (span, path, what) in clashes {
            self.err(
                "E033",
                &span,
                format!("`{path}` is already mounted as {what}"),
                "duplicate mount point",
            );
        }
        let volumes: Vec<Volume> = volumes.into_iter().map(|(v, _)| v).collect();
        let tmpfs: Vec<Tmpfs> = tmpfs.into_iter().map(|(t, _)| t).collect();

        let mut environment = BTreeMap::new();
        for (k, v) in &s.environment {
            let key_ok = !k.value.is_empty()
                && k.value.len() <= 128
                && (k.value.as_bytes()[0].is_ascii_alphabetic() || k.value.as_bytes()[0] == b'_')
                && k.value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !key_ok {
                self.err(
                    "E028",
                    &k.span,
                    format!(
                        "`{}` is not a valid environment variable name",
                        show(&k.value)
                    ),
                    "letters, digits and `_`",
                );
            }
            if v.value.contains('\0') || v.value.len() > 4096 {
                self.err(
                    "E028",
                    &v.span,
                    "environment values may not contain NUL and have at most 4096 bytes".into(),
                    "invalid value",
                );
            }
            if looks_secret(&k.value) && !v.value.starts_with("/run/secrets/") {
                self.push(
                    Diagnostic::error("E027", format!("`{}` looks like a secret written into the environment", k.value))
                        .at(v.span.clone(), "literal secret")
                        .help(format!(
                            "declare it in `[secrets]`, list it in this service's `secrets`, and pass its path instead, e.g. `{}_FILE = \"/run/secrets/...\"`",
                            k.value
                        )),
                );
            }
            environment.insert(k.value.clone(), v.value.clone());
        }

        let allow_root = flag(|u| u.root_user);
        let user = self.user(&s.user, allow_root).unwrap_or(d.user);
        let memory = self.size(&s.memory).unwrap_or(d.memory);
        let memory_reservation = self.size(&s.memory_reservation);
        if let (Some(r), Some(sp)) = (memory_reservation, &s.memory_reservation) {
            if r.bytes > memory.bytes {
                self.err(
                    "E021",
                    &sp.span,
                    format!("the reservation {r} is above the limit {memory}"),
                    "above the limit",
                );
            }
        }
        let cpus = self.cpus(&s.cpus).unwrap_or(d.cpus);
        let cpus_reservation = self.cpus(&s.cpus_reservation);
        if let (Some(r), Some(sp)) = (cpus_reservation, &s.cpus_reservation) {
            if r > cpus {
                self.err(
                    "E021",
                    &sp.span,
                    format!("the reservation {r} is above the limit {cpus}"),
                    "above the limit",
                );
            }
        }
        let tmpfs_size = self.size(&s.tmpfs_size).unwrap_or(d.tmpfs_size);
        let sized = |p: &str| {
            tmpfs
                .iter()
                .find(|t| t.path == p)
                .and_then(|t| t.size)
                .unwrap_or(tmpfs_size)
                .bytes
        };
        let tmpfs_total: u64 = tmpfs
            .iter()
            .filter(|t| t.path != "/tmp" && t.path != "/run")
            .map(|t| t.size.unwrap_or(tmpfs_size).bytes)
            .fold(
                sized("/tmp").saturating_add(sized("/run")),
                u64::saturating_add,
            );
        if tmpfs_total >= memory.bytes {
            // Where the sizes come from: the service's own keys, else its name (defaults).
            let span = s
                .tmpfs_size
                .as_ref()
                .or(s.memory.as_ref())
                .or(s.tmpfs.first())
                .map_or_else(|| name.span.clone(), |x| x.span.clone());
            self.push(
                Diagnostic::error(
                    "E021",
                    format!("service `{n}`: its tmpfs mounts ({} MiB in all) count against the memory limit {memory} and could fill it", tmpfs_total >> 20),
                )
                .at(span, "tmpfs too large for the memory limit")
                .help("lower `tmpfs_size` or raise `memory`"),
            );
        }

        let mut allow = BTreeSet::new();
        let mut deny = BTreeSet::new();
        for (list, set) in [
            (&s.syscalls_allow, &mut allow),
            (&s.syscalls_deny, &mut deny),
        ] {
            for sc in list {
                if seccomp::is_syscall(&sc.value) {
                    set.insert(sc.value.clone());
                } else {
                    self.diags.push(
                        Diagnostic::error("E023", format!("unknown syscall `{}`", show(&sc.value)))
                            .at(sc.span.clone(), "not a syscall on x86_64 or aarch64")
                            .help_opt(did_you_mean(&sc.value, seccomp::all_syscalls())),
                    );
                }
            }
        }

        let health = self.health(
            n,
            name,
            s,
            &source,
            &ports,
            &expose,
            flag(|u| u.no_healthcheck),
        );
        let command = s.command.as_ref().map(|c| self.args(c, "command"));
        if let (Source::Build(b), Some(raw_build)) = (&source, &s.build) {
            let lists = [
                (raw_build.command.as_deref(), "build.command"),
                (s.command.as_deref(), "command"),
                (
                    s.healthcheck.as_ref().and_then(|h| h.cmd.as_deref()),
                    "healthcheck.cmd",
                ),
            ];
            for (list, what) in lists {
                if let Some(first) = list.and_then(<[_]>::first) {
                    self.program_in_image(n, b, first, what);
                }
            }
        }
        self.secrets_in_args(n, s);
        let restart = self.restart(&s.restart).unwrap_or(d.restart);
        let read_only = !flag(|u| u.writable_root);
        let no_new_privileges = !flag(|u| u.allow_new_privileges);
        if !cap_add.is_empty() && user.uid != 0 && no_new_privileges {
            if let Some(first) = s.cap_add.first() {
                let caps: Vec<&str> = cap_add.iter().map(String::as_str).collect();
                self.push(
                    Diagnostic::warning(
                        "W104",
                        format!(
                            "service `{n}` runs as {user}: `cap_add` ({}) gives its processes no capability",
                            caps.join(", ")
                        ),
                    )
                    .at(first.span.clone(), "stays out of the effective set")
                    .help("Docker puts added capabilities of a non-root user in the bounding set only (CapPrm, CapEff and CapAmb stay 0), and no-new-privileges stops file capabilities from raising them: remove `cap_add`; a capability is only held by a root process (`user = \"0:0\"` with `unsafe = { root_user = true, reason = \"...\" }`), which the bounding set then limits"),
                );
            }
        }
        let any_unsafe = !read_only
            || !no_new_privileges
            || allow_root
            || flag(|u| u.no_healthcheck)
            || flag(|u| u.bridges_zones)
            || flag(|u| u.dangerous_caps)
            || flag(|u| u.sensitive_mounts);
        if any_unsafe {
            self.push(
                Diagnostic::warning(
                    "W104",
                    format!("service `{n}` relaxes hardening explicitly"),
                )
                .at(name.span.clone(), "see its `unsafe` table"),
            );
        }

        Service {
            name: n.clone(),
            source,
            zones: svc_zones,
            ports,
            expose,
            volumes,
            tmpfs,
            environment,
            secrets: svc_secrets,
            cap_add,
            user,
            memory,
            memory_reservation,
            cpus,
            cpus_reservation,
            pids: self.range(&s.pids, 8, 4_194_304, "pids").unwrap_or(d.pids),
            nofile: self.range(&s.nofile, 64, 1_048_576, "nofile"),
            restart,
            seccomp: SeccompPolicy {
                preset: s.seccomp.as_ref().map_or(d.seccomp, |x| x.value),
                allow,
                deny,
            },
            apparmor: match &s.apparmor {
                Some(_) => self.apparmor(&s.apparmor),
                None => d.apparmor.clone(),
            },
            health,
            init: s.init.as_ref().is_none_or(|i| i.value),
            command,
            processes: self.processes(&s.processes),
            depends_on,
            tmpfs_size,
            read_only,
            no_new_privileges,
            log: d.log.clone(),
            unsafe_reason: uns.and_then(|u| u.reason.as_ref()).map(|r| r.value.clone()),
            description: s.description.clone(),
        }
    }

    fn image(&mut self, img: &Sp<String>) -> ImageRef {
        match ImageRef::parse(&img.value) {
            Ok(r) => {
                // A digest pins the image whatever the tag says.
                if r.digest.is_none() && (r.tag.is_none() || r.tag.as_deref() == Some("latest")) {
                    let mut diag = Diagnostic::warning(
                        "E017",
                        format!(
                            "image `{}` is not pinned to a version tag",
                            show(&img.value)
                        ),
                    )
                    .at(img.span.clone(), "mutable reference")
                    .help("name a version tag (and ideally a digest), e.g. `redis:7.2.5-bookworm`");
                    if self.opts.strict {
                        diag.severity = crate::diagnostic::Severity::Error;
                    }
                    self.push(diag);
                } else if r.digest.is_none() {
                    self.push(
                        Diagnostic::warning("W101", format!("image `{}` has no digest", show(&img.value)))
                            .at(img.span.clone(), "tag only")
                            .help("append `@sha256:<digest>` to pin the exact image (compose-lint CL-0019)"),
                    );
                }
                r
            }
            Err(e) => {
                self.err(
                    "E029",
                    &img.span,
                    format!("invalid image reference: {e}"),
                    "invalid image",
                );
                ImageRef::parse("invalid").expect("literal parses")
            }
        }
    }

    fn build(&mut self, service: &str, b: &RawBuild) -> Build {
        let runtime = b.runtime.value;
        let needs_version = runtime != Runtime::Static;
        let version = match &b.version {
            Some(v) => {
                let ok = !v.value.is_empty()
                    && v.value.len() <= 32
                    && v.value.as_bytes()[0].is_ascii_digit()
                    && v.value
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
                if !ok {
                    self.err(
                        "E030",
                        &v.span,
                        format!("`{}` is not a valid version", show(&v.value)),
                        "invalid version",
                    );
                }
                if !needs_version {
                    self.err(
                        "E030",
                        &v.span,
                        "the `static` runtime has no version".into(),
                        "not used",
                    );
                }
                Some(v.value.clone())
            }
            None if needs_version => {
                self.push(
                    Diagnostic::error(
                        "E030",
                        format!("service `{service}`: the {runtime:?} runtime needs a `version`")
                            .to_lowercase(),
                    )
                    .at(b.runtime.span.clone(), "which version?")
                    .help(match runtime {
                        Runtime::Python => "e.g. `version = \"3.12\"`",
                        Runtime::Node => "e.g. `version = \"20\"`",
                        Runtime::Go => "e.g. `version = \"1.22\"`",
                        _ => "e.g. `version = \"1.80\"`",
                    }),
                );
                None
            }
            None => None,
        };
        let context = match &b.context {
            None => format!("src/{service}"),
            Some(c) => {
                let v = match c.value.trim_start_matches("./").trim_end_matches('/') {
                    "" if c.value.starts_with('.') => ".",
                    v => v,
                };
                // `../` only as a prefix (the spec may sit in a `deploy/` folder of the
                // repository); below that, plain names: the path is rendered relative to the
                // output directory and must mean one thing.
                let below = v.trim_start_matches("../");
                let ok = !v.is_empty()
                    && !c.value.starts_with('/')
                    && c.value.len() <= 256
                    && c.value.bytes().all(|x| {
                        x.is_ascii_alphanumeric() || matches!(x, b'/' | b'.' | b'_' | b'-')
                    })
                    && (below.is_empty()
                        || below == "."
                        || below
                            .split('/')
                            .all(|p| !p.is_empty() && p != "." && p != ".."));
                if !ok {
                    self.err(
                        "E030",
                        &c.span,
                        format!("`{}` is not a valid build context", show(&c.value)),
                        "a relative path from the spec's directory (`../` only at the start)",
                    );
                }
                v.to_string()
            }
        };
        if let Some(dir) = &self.opts.spec_dir {
            if !dir.join(&context).is_dir() {
                let span = b
                    .context
                    .as_ref()
                    .map_or_else(|| b.runtime.span.clone(), |c| c.span.clone());
                let message = format!(
                    "service `{service}`: the build context `{context}` does not exist next to the spec"
                );
                let d = if self.opts.strict {
                    Diagnostic::error("E044", message)
                } else {
                    Diagnostic::warning("W107", message)
                };
                self.push(
                    d.at(span, "no such directory")
                        .help(format!(
                            "build contexts are relative to the spec's directory: put the service's source in `{}` or set `context` to where it is",
                            dir.join(&context).display()
                        )),
                );
            }
        }
        let binary = match &b.binary {
            None => service.to_string(),
            Some(x) => {
                let ok = !x.value.is_empty()
                    && x.value.len() <= 64
                    && x.value.as_bytes()[0].is_ascii_alphanumeric()
                    && x.value
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'));
                if !ok {
                    self.err(
                        "E030",
                        &x.span,
                        format!("`{}` is not a valid binary name", show(&x.value)),
                        "invalid name",
                    );
                }
                x.value.clone()
            }
        };
        let command = match &b.command {
            Some(c) if c.is_empty() => {
                self.err(
                    "E035",
                    &b.runtime.span,
                    "the build command is empty".into(),
                    "empty command",
                );
                vec![]
            }
            Some(c) => self.args(c, "command"),
            None => match runtime {
                Runtime::Python | Runtime::Node => {
                    self.push(
                        Diagnostic::error(
                            "E030",
                            format!("service `{service}`: the build needs a `command`"),
                        )
                        .at(b.runtime.span.clone(), "what does the image run?")
                        .help(if runtime == Runtime::Python {
                            "e.g. `command = [\"python\", \"-m\", \"app\"]`"
                        } else {
                            "e.g. `command = [\"node\", \"server.js\"]`"
                        }),
                    );
                    vec![]
                }
                _ => vec![format!("/app/{binary}")],
            },
        };
        let packages = |list: &[Sp<String>], this: &mut Self| {
            let mut out = Vec::new();
            for p in list {
                let (name, ver) = match p.value.split_once('=') {
                    Some((n, v)) => (n, Some(v)),
                    None => (p.value.as_str(), None),
                };
                let name_ok = name.len() >= 2
                    && name.len() <= 64
                    && name.as_bytes()[0].is_ascii_alphanumeric()
                    && name.bytes().all(|c| {
                        c.is_ascii_lowercase()
                            || c.is_ascii_digit()
                            || matches!(c, b'+' | b'.' | b'-')
                    });
                let ver_ok = ver.is_none_or(|v| {
                    !v.is_empty()
                        && v.len() <= 64
                        && v.bytes().all(|c| {
                            c.is_ascii_alphanumeric()
                                || matches!(c, b'.' | b'+' | b'~' | b':' | b'-')
                        })
                });
                if !name_ok || !ver_ok {
                    this.err(
                        "E031",
                        &p.span,
                        format!(
                            "`{}` is not a Debian package name (optionally `=version`)",
                            show(&p.value)
                        ),
                        "invalid package",
                    );
                }
                out.push(p.value.clone());
            }
            out
        };
        let pk = packages(&b.packages, self);
        let bpk = packages(&b.build_packages, self);
        for list in [&b.packages, &b.build_packages] {
            if let Some(extra) = list.get(MAX_PACKAGES) {
                self.err(
                    "E031",
                    &extra.span,
                    format!("at most {MAX_PACKAGES} packages per list"),
                    "one too many",
                );
            }
        }
        if let Some(extra) = b.writable_dirs.get(MAX_WRITABLE_DIRS) {
            self.err(
                "E026",
                &extra.span,
                format!("at most {MAX_WRITABLE_DIRS} writable directories"),
                "one too many",
            );
        }
        if matches!(runtime, Runtime::Go | Runtime::Rust | Runtime::Static)
            && !b.packages.is_empty()
        {
            self.err(
                "E030",
                &b.packages[0].span,
                "runtime packages need a Debian runtime stage: the go, rust and static runtimes have none".into(),
                "cannot be installed",
            );
        }
        let mut writable_dirs = Vec::new();
        for w in &b.writable_dirs {
            if container_path_ok(&w.value) {
                writable_dirs.push(w.value.clone());
            } else {
                self.err(
                    "E026",
                    &w.span,
                    format!(
                        "`{}` is not a valid absolute container path",
                        show(&w.value)
                    ),
                    "invalid path",
                );
            }
        }
        let integrity = match &b.integrity {
            Some(x) if x.value && !matches!(runtime, Runtime::Python | Runtime::Node) => {
                self.push(
                    Diagnostic::error(
                        "E030",
                        format!("service `{service}`: the integrity check needs a shell in the runtime image"),
                    )
                    .at(x.span.clone(), "no shell in this runtime")
                    .help("the go and rust runtimes are distroless and `static` is empty: only python and node images can run the check"),
                );
                false
            }
            Some(x) => x.value,
            None => false,
        };
        let digest = |this: &mut Self, d: &Option<Sp<String>>| -> Option<String> {
            let d = d.as_ref()?;
            let ok = d.value.strip_prefix("sha256:").is_some_and(|h| {
                h.len() == 64
                    && h.bytes()
                        .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
            });
            if !ok {
                this.push(
                    Diagnostic::error("E030", format!("`{}` is not an image digest", show(&d.value)))
                        .at(d.span.clone(), "invalid digest")
                        .help("write `sha256:` and the 64 lower-case hex digits that `docker buildx imagetools inspect IMAGE` shows"),
                );
                return None;
            }
            Some(d.value.clone())
        };
        let base_digest = digest(self, &b.base_digest);
        let builder_digest = digest(self, &b.builder_digest);
        let mut build = Build {
            runtime,
            version,
            context: context.clone(),
            command: command.clone(),
            binary: binary.clone(),
            packages: Vec::new(),
            build_packages: Vec::new(),
            writable_dirs: Vec::new(),
            integrity: false,
            base_digest: None,
            builder_digest: None,
        };
        if let (Some(sp), true) = (&b.base_digest, build.runtime_image().is_none()) {
            self.push(
                Diagnostic::error("E030", format!("service `{service}`: the static runtime runs on `scratch`, which has no digest"))
                    .at(sp.span.clone(), "nothing to pin")
                    .help("remove `base_digest`; `builder_digest` pins the builder's `debian:bookworm-slim`"),
            );
        }
        if let (Some(sp), true) = (&b.builder_digest, build.one_image()) {
            self.push(
                Diagnostic::error("E030", format!("service `{service}`: the {} runtime builds on its runtime image: `base_digest` pins both stages", format!("{runtime:?}").to_lowercase()))
                    .at(sp.span.clone(), "same image as the runtime stage")
                    .help("move the digest to `base_digest`"),
            );
        }
        build.base_digest = base_digest.clone();
        build.builder_digest = if build.one_image() {
            base_digest
        } else {
            builder_digest
        };
        let at = b
            .version
            .as_ref()
            .map_or(&b.runtime.span, |v| &v.span)
            .clone();
        let mut unpinned = Vec::new();
        if build.builder_digest.is_none() {
            unpinned.push(build.builder_image());
        }
        if let Some(img) = build.runtime_image() {
            if build.base_digest.is_none() && !build.one_image() {
                unpinned.push(img);
            }
        }
        for img in unpinned {
            self.push(
                Diagnostic::warning("W101", format!("service `{service}`: build base image `{img}` has no digest"))
                    .at(at.clone(), "tag only")
                    .help(if build.runtime_image().as_deref() == Some(img.as_str()) {
                        "add `base_digest = \"sha256:<digest>\"` to `build` to pin it (`docker buildx imagetools inspect IMAGE` shows it)"
                    } else {
                        "add `builder_digest = \"sha256:<digest>\"` to `build` to pin it (`docker buildx imagetools inspect IMAGE` shows it)"
                    }),
            );
        }
        Build {
            runtime,
            version: build.version,
            base_digest: build.base_digest,
            builder_digest: build.builder_digest,
            context,
            command,
            binary,
            packages: pk,
            build_packages: bpk,
            writable_dirs,
            integrity,
        }
    }

    /// A secret built from other secrets (`template`): printable text, `{name}` naming
    /// random secrets of the spec.
    fn secret_template(
        &mut self,
        raw: &RawSpec,
        t: &Sp<String>,
        bytes: Option<&Sp<u32>>,
    ) -> Option<Vec<TemplatePart>> {
        let mut ok = true;
        if let Some(b) = bytes {
            self.push(
                Diagnostic::error(
                    "E043",
                    "a secret with a `template` has no random bytes of its own",
                )
                .at(b.span.clone(), "not used")
                .help("remove `bytes`: set it on the secrets the template names"),
            );
            ok = false;
        }
        if t.value.chars().count() > 4096
            || t.value
                .chars()
                .any(|c| !(c == '\n' || c == '\t' || (' '..='~').contains(&c)))
        {
            self.push(
                Diagnostic::error("E043", "a secret's template holds printable ASCII, newlines and tabs, at most 4096 characters")
                    .at(t.span.clone(), "invalid character or too long")
                    .help("write the config line in plain ASCII (`\\n` ends a line), e.g. `template = \"requirepass {redis_password}\\n\"`"),
            );
            return None;
        }
        let parts = match TemplatePart::parse(&t.value) {
            Ok(p) => p,
            Err(e) => {
                self.push(
                    Diagnostic::error("E043", e)
                        .at(t.span.clone(), "invalid template")
                        .help("`{name}` stands for the value of the random secret `name`; a template holds no other brace"),
                );
                return None;
            }
        };
        let names: Vec<&str> = raw.secrets.keys().map(|k| k.value.as_str()).collect();
        let mut any = false;
        for p in &parts {
            let TemplatePart::Secret(n) = p else { continue };
            any = true;
            match raw.secrets.iter().find(|(k, _)| &k.value == n) {
                None => {
                    self.push(
                        Diagnostic::error(
                            "E008",
                            format!("unknown secret `{}` in the template", show(n)),
                        )
                        .at(t.span.clone(), "no such secret")
                        .help_opt(
                            did_you_mean(n, names.iter().copied()).or_else(|| {
                                Some("declare it with `[secrets.NAME]` (random bytes)".into())
                            }),
                        ),
                    );
                    ok = false;
                }
                Some((_, other)) if other.template.is_some() => {
                    self.push(
                        Diagnostic::error(
                            "E043",
                            format!(
                                "`{n}` has a template itself: a template names random secrets only"
                            ),
                        )
                        .at(t.span.clone(), "names a templated secret")
                        .help(format!("name the random secret that `{n}` is built from")),
                    );
                    ok = false;
                }
                Some(_) => {}
            }
        }
        if !any {
            self.push(
                Diagnostic::error("E043", "a secret's template names no secret: it would hold no secret value")
                    .at(t.span.clone(), "no `{name}`")
                    .help("write `{name}` where the value of the random secret `name` goes, e.g. `template = \"requirepass {redis_password}\"`"),
            );
            ok = false;
        }
        ok.then_some(parts)
    }

    /// W106: a secret read into a process's arguments (`crate::argv`).
    fn secrets_in_args(&mut self, n: &str, s: &RawService) {
        let lists = [
            (
                s.build.as_ref().and_then(|b| b.command.as_deref()),
                "build.command",
            ),
            (s.command.as_deref(), "command"),
            (
                s.healthcheck.as_ref().and_then(|h| h.cmd.as_deref()),
                "healthcheck.cmd",
            ),
        ];
        for (list, what) in lists {
            let Some(list) = list else { continue };
            let values: Vec<String> = list.iter().map(|a| a.value.clone()).collect();
            for f in crate::argv::secrets_in_args(&values) {
                self.push(
                    Diagnostic::warning(
                        "W106",
                        format!(
                            "service `{n}`: `{what}` puts the secret `{}` into a process's arguments, which every user of the host can read (`ps`)",
                            show(&f.secret)
                        ),
                    )
                    .at(list[f.arg].span.clone(), "secret in the arguments")
                    .help("let the program read the file itself: a `*_FILE` variable, a `--password-file` option, or a secret that is the program's config fragment (`[secrets.redis_conf]` with `template = \"requirepass {redis_password}\"`, then `command = [\"redis-server\", \"/run/secrets/redis_conf\"]`); a client tool can take it from the environment (`REDISCLI_AUTH=\"$(cat /run/secrets/...)\" redis-cli ping`)"),
                );
            }
        }
    }

    /// A go, rust or static image holds one program, at `/app/<binary>` (its runtime stage
    /// is distroless or empty: no shell, no other executable); a command that starts
    /// anything else cannot run. Python and node images have an interpreter and the
    /// packages' programs on `PATH`: there the program is not decidable from the spec.
    fn program_in_image(&mut self, service: &str, b: &Build, first: &Sp<String>, what: &str) {
        if !matches!(b.runtime, Runtime::Go | Runtime::Rust | Runtime::Static) {
            return;
        }
        let path = format!("/app/{}", b.binary);
        if first.value == path {
            return;
        }
        let runtime = format!("{:?}", b.runtime).to_lowercase();
        let image = match b.runtime {
            Runtime::Go => "the distroless static image",
            Runtime::Rust => "the distroless cc image",
            _ => "the empty (`scratch`) image",
        };
        let base = first.value.rsplit('/').next().unwrap_or_default();
        let rename = if first.value.strip_prefix("/app/") == Some(base)
            && base != b.binary
            && base.len() <= 64
            && base.as_bytes()[0].is_ascii_alphanumeric()
            && base
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
        {
            format!(", or set `binary = \"{base}\"` to install the program as `/app/{base}`")
        } else {
            String::new()
        };
        self.push(
            Diagnostic::error(
                "E041",
                format!(
                    "service `{service}`: `{what}` runs `{}`, but the {runtime} runtime installs its program at `{path}`",
                    show(&first.value)
                ),
            )
            .at(first.span.clone(), "not in the image")
            .help(format!(
                "{image} holds no other program (no shell either): start with `{path}`{rename}"
            )),
        );
    }

    fn volumes(
        &mut self,
        service: &str,
        list: &[Sp<String>],
        sensitive_ok: bool,
    ) -> Vec<(Volume, Range<usize>)> {
        let mut out: Vec<(Volume, Range<usize>)> = Vec::new();
        for v in list {
            let parts: Vec<&str> = v.value.split(':').collect();
            let (src, target, mode) = match parts.as_slice() {
                [s, t] => (*s, *t, None),
                [s, t, m] => (*s, *t, Some(*m)),
                _ => {
                    self.push(
                        Diagnostic::error("E025", format!("`{}` is not a volume", show(&v.value)))
                            .at(v.span.clone(), "invalid volume")
                            .help("write `NAME:/path`, `./host/path:/path` or either with `:ro`"),
                    );
                    continue;
                }
            };
            let read_only = match mode {
                None | Some("rw") => false,
                Some("ro") => true,
                Some(m) => {
                    self.err(
                        "E025",
                        &v.span,
                        format!("unknown volume mode `{m}`"),
                        "use `ro` or `rw`",
                    );
                    continue;
                }
            };
            if !container_path_ok(target) {
                self.err(
                    "E026",
                    &v.span,
                    format!("`{}` is not a valid absolute container path", show(target)),
                    "invalid target",
                );
                continue;
            }
            if ["/proc", "/sys", "/dev"]
                .iter()
                .any(|p| target == *p || target.starts_with(&format!("{p}/")))
            {
                self.err(
                    "E026",
                    &v.span,
                    format!("mounting onto `{target}` would shadow kernel interfaces"),
                    "forbidden target",
                );
                continue;
            }
            let source = if src.starts_with('/') || src.starts_with('.') {
                if !host_path_ok(src) {
                    self.err(
                        "E025",
                        &v.span,
                        format!("`{}` is not a valid host path", show(src)),
                        "invalid host path",
                    );
                    continue;
                }
                if escapes_output_dir(src) {
                    self.push(
                        Diagnostic::error("E025", format!("`{src}` climbs out of the output directory"))
                            .at(v.span.clone(), "`..` in a relative host path")
                            .help("relative host paths stay inside the output directory; write a location outside it as an absolute path (hardgen then checks it against sensitive host locations)"),
                    );
                    continue;
                }
                if src.starts_with('/') && is_sensitive_host_path(src) && !sensitive_ok {
                    self.push(
                        Diagnostic::error("E016", format!("service `{service}` mounts the sensitive host path `{src}`"))
                            .at(v.span.clone(), "host system location")
                            .help("mount an application directory instead (e.g. `./config:/app/config:ro`), or set `unsafe = { sensitive_mounts = true, reason = \"...\" }`"),
                    );
                }
                if !src.starts_with('/') && is_generated_path(src) && !sensitive_ok {
                    self.push(
                        Diagnostic::error("E016", format!("service `{service}` mounts `{src}`, which hardgen generates"))
                            .at(v.span.clone(), "generated deployment files")
                            .help("the container could read the secrets or rewrite the scripts and firewall rules root runs: mount a directory of your own (e.g. `./data:/data`)"),
                    );
                }
                VolumeSource::Host(src.to_string())
            } else {
                if !name_ok(src, 64, b"_.-") {
                    self.err(
                        "E025",
                        &v.span,
                        format!("`{}` is not a valid volume name", show(src)),
                        "invalid volume name",
                    );
                    continue;
                }
                VolumeSource::Named(src.to_string())
            };
            if out.iter().any(|(o, _)| o.target == target) {
                self.err(
                    "E033",
                    &v.span,
                    format!("`{target}` is mounted twice"),
                    "duplicate target",
                );
                continue;
            }
            out.push((
                Volume {
                    source,
                    target: target.to_string(),
                    read_only,
                },
                v.span.clone(),
            ));
        }
        out
    }

    fn tmpfs(&mut self, list: &[Sp<String>]) -> Vec<(Tmpfs, Range<usize>)> {
        let mut out: Vec<(Tmpfs, Range<usize>)> = Vec::new();
        for t in list {
            let (path, size) = match t.value.split_once(':') {
                Some((p, s)) => match ByteSize::parse(s) {
                    Ok(b) => (p, Some(b)),
                    Err(e) => {
                        self.err("E021", &t.span, e, "invalid size");
                        continue;
                    }
                },
                None => (t.value.as_str(), None),
            };
            if !container_path_ok(path) {
                self.err(
                    "E026",
                    &t.span,
                    format!("`{}` is not a valid absolute container path", show(path)),
                    "invalid path",
                );
            } else if out.iter().any(|(o, _)| o.path == path) {
                self.err(
                    "E033",
                    &t.span,
                    format!("`{path}` is already a tmpfs"),
                    "duplicate",
                );
            } else {
                out.push((
                    Tmpfs {
                        path: path.to_string(),
                        size,
                    },
                    t.span.clone(),
                ));
            }
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn health(
        &mut self,
        n: &str,
        name: &Sp<String>,
        s: &RawService,
        source: &Source,
        ports: &[PublishedPort],
        expose: &[PortProto],
        disabled: bool,
    ) -> Option<Health> {
        let h = s.healthcheck.as_ref();
        let timing = |this: &mut Self, cmd: Vec<String>| {
            let d = RawHealth::default();
            let h = h.unwrap_or(&d);
            Health {
                cmd,
                interval: this.duration(&h.interval, Duration::seconds(30)),
                timeout: this.duration(&h.timeout, Duration::seconds(5)),
                start_period: this.duration(&h.start_period, Duration::seconds(20)),
                retries: this.range(&h.retries, 1, 100, "retries").unwrap_or(3),
            }
        };
        if disabled {
            return None;
        }
        if let Some(cmd) = h.and_then(|h| h.cmd.as_ref()) {
            if cmd.is_empty() {
                self.err(
                    "E024",
                    &name.span,
                    format!("service `{n}`: the health check command is empty"),
                    "empty healthcheck",
                );
                return None;
            }
            let cmd = self.args(cmd, "healthcheck");
            return Some(timing(self, cmd));
        }
        let first_port = expose
            .first()
            .copied()
            .or_else(|| ports.first().map(|p| p.container));
        if let Source::Build(b) = source {
            if let Some(cmd) = derived_probe(b.runtime, first_port) {
                return Some(timing(self, cmd));
            }
        }
        self.push(
            Diagnostic::error("E024", format!("service `{n}` needs a health check"))
                .at(name.span.clone(), "no health check")
                .help(match source {
                    Source::Build(b) if matches!(b.runtime, Runtime::Python | Runtime::Node) => {
                        "list the port it listens on in `expose` (hardgen then probes it), or write `healthcheck = { cmd = [...] }`".to_string()
                    }
                    _ => "write `healthcheck = { cmd = [\"/path/to/probe\", \"...\"] }` (exec form: the image's own tool), or set `unsafe = { no_healthcheck = true, reason = \"...\" }`".to_string(),
                }),
        );
        None
    }

    fn depends_cycles(&mut self, raw: &RawSpec) {
        let graph: BTreeMap<&str, Vec<&str>> = raw
            .services
            .iter()
            .map(|(k, s)| {
                (
                    k.value.as_str(),
                    s.depends_on.iter().map(|d| d.value.as_str()).collect(),
                )
            })
            .collect();
        // Colour DFS; report each cycle once, at the service that closes it.
        let mut state: BTreeMap<&str, u8> = BTreeMap::new();
        let mut reported = false;
        for start in graph.keys() {
            if reported {
                break;
            }
            let mut stack: Vec<(&str, usize)> = vec![(start, 0)];
            if state.get(start).copied().unwrap_or(0) != 0 {
                continue;
            }
            state.insert(start, 1);
            while let Some((node, i)) = stack.pop() {
                let next = graph.get(node).and_then(|v| v.get(i)).copied();
                match next {
                    None => {
                        state.insert(node, 2);
                    }
                    Some(m) => {
                        stack.push((node, i + 1));
                        match state.get(m).copied().unwrap_or(0) {
                            0 if graph.contains_key(m) => {
                                state.insert(m, 1);
                                stack.push((m, 0));
                            }
                            1 if m != node => {
                                let path: Vec<&str> = stack
                                    .iter()
                                    .map(|(n, _)| *n)
                                    .skip_while(|n| *n != m)
                                    .collect();
                                let span = raw
                                    .services
                                    .keys()
                                    .find(|k| k.value == node)
                                    .map(|k| k.span.clone())
                                    .unwrap_or(0..0);
                                self.push(
                                    Diagnostic::error(
                                        "E036",
                                        format!(
                                            "services depend on each other in a cycle: {} -> {m}",
                                            path.join(" -> ")
                                        ),
                                    )
                                    .at(span, "part of a dependency cycle"),
                                );
                                reported = true;
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
    }

    fn flows(
        &mut self,
        raw: &RawSpec,
        zones: &[&str],
        services: &BTreeMap<String, Service>,
    ) -> Vec<Flow> {
        let mut out: Vec<Flow> = Vec::new();
        for f in &raw.flows {
            self.text(&f.description, "a flow's description", &f.from.span);
            let ends = self
                .refs(std::slice::from_ref(&f.from), zones, "E007", "zone")
                .len()
                + self
                    .refs(std::slice::from_ref(&f.to), zones, "E007", "zone")
                    .len();
            if f.from.value == f.to.value {
                self.push(
                    Diagnostic::error("E010", format!("flow from zone `{}` to itself", f.to.value))
                        .at(f.to.span.clone(), "same zone")
                        .help("services of one zone can always reach each other; flows are for traffic between zones"),
                );
                continue;
            }
            if f.ports.is_empty() {
                self.err(
                    "E010",
                    &f.to.span,
                    format!("flow {} -> {} allows no port", f.from.value, f.to.value),
                    "add `ports`",
                );
            }
            if let Some(extra) = f.ports.get(MAX_FLOW_PORTS) {
                self.err(
                    "E010",
                    &extra.span,
                    format!("a flow allows at most {MAX_FLOW_PORTS} ports"),
                    "one too many",
                );
            }
            let mut ports = Vec::new();
            for p in &f.ports {
                match PortProto::parse(&p.value) {
                    Ok(pp) if ports.contains(&pp) => self.err(
                        "E033",
                        &p.span,
                        format!("port {pp} is listed twice"),
                        "duplicate",
                    ),
                    Ok(pp) => {
                        let listened = services
                            .values()
                            .filter(|s| s.zones.contains(&f.to.value))
                            .any(|s| {
                                s.expose.contains(&pp) || s.ports.iter().any(|x| x.container == pp)
                            });
                        if !listened && ends == 2 {
                            self.push(
                                Diagnostic::warning(
                                    "W102",
                                    format!("no service of zone `{}` listens on {pp}", f.to.value),
                                )
                                .at(p.span.clone(), "nothing to reach")
                                .help("list the port in the target service's `expose`"),
                            );
                        }
                        ports.push(pp);
                    }
                    Err(e) => self.err("E011", &p.span, e, "invalid port"),
                }
            }
            if ends < 2 {
                continue;
            }
            let members: Vec<&str> = services
                .values()
                .filter(|s| s.zones.contains(&f.from.value))
                .map(|s| s.name.as_str())
                .collect();
            let clients: Vec<String> = match &f.clients {
                None => members.iter().map(|s| s.to_string()).collect(),
                Some(list) => {
                    let mut cs = self.refs(
                        list,
                        &members,
                        "E009",
                        &format!("service of zone `{}`", f.from.value),
                    );
                    cs.sort();
                    cs
                }
            };
            if out
                .iter()
                .any(|x| x.from == f.from.value && x.to == f.to.value)
            {
                self.err(
                    "E033",
                    &f.to.span,
                    format!(
                        "a flow {} -> {} is already declared",
                        f.from.value, f.to.value
                    ),
                    "merge the two flows",
                );
                continue;
            }
            out.push(Flow {
                from: f.from.value.clone(),
                to: f.to.value.clone(),
                clients,
                ports,
                description: f.description.clone(),
            });
        }
        for f in &mut out {
            f.ports.sort();
        }
        out.sort_by(|a, b| (&a.from, &a.to).cmp(&(&b.from, &b.to)));
        out
    }

    /// A service that is a member of two zones a flow joins (or of an egress zone and an
    /// internal one) voids their separation: E042 unless `unsafe.bridges_zones` keeps it.
    fn zone_bridges(
        &mut self,
        raw: &RawSpec,
        services: &BTreeMap<String, Service>,
        flows: &[Flow],
        zones: &BTreeMap<String, Zone>,
    ) {
        for (name, rs) in &raw.services {
            let Some(svc) = services.get(&name.value) else {
                continue;
            };
            if rs.unsafe_.as_ref().is_some_and(|u| u.bridges_zones) {
                continue;
            }
            for b in zone_bridges(svc, flows, zones) {
                let n = &svc.name;
                let span = rs
                    .zones
                    .iter()
                    .find(|z| z.value == b.extra)
                    .map_or_else(|| name.span.clone(), |z| z.span.clone());
                let reach = zone_reach(svc, &b.extra, services, flows);
                let (title, fix) = match b.flow.map(|i| &flows[i]) {
                    Some(f) => {
                        let ports = list(f.ports.iter().map(ToString::to_string));
                        let listed = if f.clients.contains(n) {
                            String::new()
                        } else {
                            format!(" and list `{n}` in the flow's `clients`")
                        };
                        (
                            format!(
                                "service `{n}` is a member of both `{}` and `{}`: the flow `{} -> {}` ({ports}) limits nothing for it",
                                b.home, b.extra, f.from, f.to
                            ),
                            format!(
                                "make it a member of `{home}` only (`zones = [\"{home}\"]`){listed}: the flow `{home} -> {extra}` then attaches it to `{extra}` as a client that reaches {ports} only",
                                home = b.home, extra = b.extra
                            ),
                        )
                    }
                    None => (
                        format!(
                            "service `{n}` is a member of the egress zone `{}` and of the internal zone `{}`: it joins a zone that has a way out to one that has none",
                            b.home, b.extra
                        ),
                        format!(
                            "make it a member of `{home}` only (`zones = [\"{home}\"]`) and add a flow for the ports it needs: `[[flows]]` with `from = \"{home}\"`, `to = \"{extra}\"`, `ports = [...]`, `clients = [\"{n}\"]`",
                            home = b.home, extra = b.extra
                        ),
                    ),
                };
                self.push(
                    Diagnostic::error("E042", title)
                        .at(span, format!("as a member of `{}` it reaches {reach}", b.extra))
                        .help(format!(
                            "{fix}; to keep both memberships, set `unsafe = {{ bridges_zones = true, reason = \"...\" }}`"
                        )),
                );
            }
        }
    }

    fn zones(
        &mut self,
        raw: &RawSpec,
        project: &Project,
        services: &BTreeMap<String, Service>,
        flows: &[Flow],
    ) -> BTreeMap<String, Zone> {
        let mut zones = BTreeMap::new();
        let mut taken: Vec<(Ipv4Net, String, Range<usize>)> = Vec::new();
        for (name, z) in &raw.zones {
            if !name_ok(&name.value, 32, b"_-") {
                self.err(
                    "E002",
                    &name.span,
                    format!("`{}` is not a valid zone name", show(&name.value)),
                    "lower-case letters, digits, `_` and `-`, at most 32",
                );
            }
            self.text(&z.description, "a zone's description", &name.span);
            let subnet = z.subnet.as_ref().and_then(|s| match Ipv4Net::parse(&s.value) {
                Err(e) => {
                    self.err("E003", &s.span, e, "invalid subnet");
                    None
                }
                Ok(n) if n.prefix > 28 => {
                    self.err("E006", &s.span, format!("`{n}` is too small: a zone needs at least a /28"), "too small");
                    None
                }
                Ok(n) if !project.pool.contains_net(&n) => {
                    self.push(
                        Diagnostic::error("E004", format!("subnet `{n}` is outside the project's pool `{}`", project.pool))
                            .at(s.span.clone(), "outside the pool")
                            .help("choose a subnet inside the pool, or set `project.subnet_pool` to a pool that contains it"),
                    );
                    None
                }
                Ok(n) => {
                    if let Some((_, other, _)) = taken.iter().find(|(t, _, _)| t.overlaps(&n)) {
                        self.err("E005", &s.span, format!("subnet `{n}` overlaps the subnet of zone `{other}`"), "overlapping subnet");
                    }
                    taken.push((n, name.value.clone(), s.span.clone()));
                    Some(n)
                }
            });
            let members = services
                .values()
                .filter(|s| s.zones.contains(&name.value))
                .count();
            // A misspelt reference (`fornt`) already reported with this zone as its
            // suggestion: saying the zone is empty as well would be a knock-on message.
            let misspelt_here = raw.services.values().flat_map(|s| &s.zones).any(|z| {
                !raw.zones.keys().any(|k| k.value == z.value)
                    && did_you_mean(&z.value, [name.value.as_str()]).is_some()
            });
            if members == 0 && !misspelt_here {
                self.push(
                    Diagnostic::warning("W103", format!("zone `{}` has no services", name.value))
                        .at(name.span.clone(), "empty zone"),
                );
            }
            zones.insert(
                name.value.clone(),
                (
                    name.span.clone(),
                    Zone {
                        name: name.value.clone(),
                        subnet,
                        egress: z.egress.as_ref().is_some_and(|e| e.value),
                        bridge: z.bridge.as_ref().map(|b| b.value.clone()),
                        description: z.description.clone(),
                    },
                    z.subnet.is_some(),
                ),
            );
        }
        // Allocate the missing subnets: the lowest free blocks of the pool, in zone order.
        let block = 1u64 << (32 - project.zone_prefix);
        let mut next: u64 = 0;
        for (name, (span, zone, explicit)) in zones.iter_mut() {
            if *explicit {
                continue;
            }
            loop {
                if next + block > project.pool.size() {
                    self.push(
                        Diagnostic::error(
                            "E006",
                            format!(
                                "the pool `{}` has no free /{} left for zone `{name}`",
                                project.pool, project.zone_prefix
                            ),
                        )
                        .at(span.clone(), "no subnet left")
                        .help(
                            "enlarge `project.subnet_pool` or use a longer `project.zone_prefix`",
                        ),
                    );
                    break;
                }
                let cand = Ipv4Net {
                    addr: project.pool.host(next as u32),
                    prefix: project.zone_prefix,
                };
                next += block;
                if !taken.iter().any(|(t, _, _)| t.overlaps(&cand)) {
                    taken.push((cand, name.clone(), span.clone()));
                    zone.subnet = Some(cand);
                    break;
                }
            }
        }
        // Capacity: members in the lower half, flow clients in the upper half.
        let all_clients = zone_clients(services, flows);
        for (name, (span, zone, _)) in &zones {
            let Some(net) = zone.subnet else { continue };
            let members = services.values().filter(|s| s.zones.contains(name)).count() as u64;
            let clients = all_clients.get(name).map_or(0, BTreeSet::len) as u64;
            let half = net.size() / 2;
            if members > half - 2 || clients > half - 1 {
                self.push(
                    Diagnostic::error("E006", format!("subnet `{net}` of zone `{name}` is too small for {members} services and {clients} flow clients"))
                        .at(span.clone(), "too small")
                        .help(format!("members use the lower half ({} addresses), clients of flows the upper half ({}): use a larger subnet", half - 2, half - 1)),
                );
            }
        }
        // Bridge names: at most 15 characters (IFNAMSIZ), unique.
        let mut bridges: BTreeMap<String, String> = BTreeMap::new();
        let mut out = BTreeMap::new();
        for (name, (span, mut zone, _)) in zones {
            let spec_bridge = raw
                .zones
                .iter()
                .find(|(k, _)| k.value == name)
                .and_then(|(_, z)| z.bridge.as_ref());
            let bridge = match spec_bridge {
                Some(b) => {
                    let ok = !b.value.is_empty()
                        && b.value.len() <= 15
                        && b.value.as_bytes()[0].is_ascii_alphanumeric()
                        && b.value
                            .bytes()
                            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'));
                    if ok && RESERVED_BRIDGES.contains(&b.value.as_str()) {
                        self.push(
                            Diagnostic::error(
                                "E018",
                                format!("`{}` is a reserved interface name", b.value),
                            )
                            .at(b.span.clone(), "taken by the host or Docker")
                            .help("choose a name of the project's own, e.g. `<project>-<zone>`"),
                        );
                    }
                    if !ok {
                        self.push(
                            Diagnostic::error("E018", format!("`{}` is not a valid bridge name", show(&b.value)))
                                .at(b.span.clone(), if b.value.len() > 15 { "longer than 15 characters" } else { "invalid characters" })
                                .help("Linux interface names have at most 15 characters: letters, digits, `-`, `_`, `.`"),
                        );
                    }
                    b.value.clone()
                }
                None => default_bridge(&project.name, &name),
            };
            if let Some(other) = bridges.get(&bridge) {
                let (at, label) = match spec_bridge {
                    Some(b) => (b.span.clone(), "colliding bridge name"),
                    None => (span.clone(), "its default bridge name collides"),
                };
                self.push(
                    Diagnostic::error(
                        "E018",
                        format!(
                            "zones `{other}` and `{name}` would share the bridge name `{bridge}`"
                        ),
                    )
                    .at(at, label)
                    .help("set a distinct `bridge = \"...\"` on one of the zones"),
                );
            }
            bridges.insert(bridge.clone(), name.clone());
            zone.bridge = Some(bridge);
            out.insert(name, zone);
        }
        out
    }

    fn ports(
        &mut self,
        raw: &RawSpec,
        services: &BTreeMap<String, Service>,
        zones: &BTreeMap<String, Zone>,
    ) {
        let mut seen: BTreeMap<(u16, Proto), Vec<(std::net::Ipv4Addr, String)>> = BTreeMap::new();
        for (name, s) in &raw.services {
            let Some(svc) = services.get(&name.value) else {
                continue;
            };
            let any_egress = svc
                .zones
                .iter()
                .any(|z| zones.get(z).is_some_and(|z| z.egress));
            for (p, sp) in svc.ports.iter().zip(s.ports.iter()) {
                if !any_egress && !svc.zones.is_empty() {
                    self.push(
                        Diagnostic::error("E013", format!("service `{}` publishes {p} but all its zones are internal", name.value))
                            .at(sp.span.clone(), "Docker silently does not publish this")
                            .help("put the service in a zone with `egress = true` as well, or remove the port"),
                    );
                }
                let key = (p.host_port, p.container.proto);
                let entry = seen.entry(key).or_default();
                let unspecified = std::net::Ipv4Addr::UNSPECIFIED;
                if let Some((_, other)) = entry.iter().find(|(ip, _)| {
                    *ip == p.host_ip || *ip == unspecified || p.host_ip == unspecified
                }) {
                    self.push(
                        Diagnostic::error(
                            "E012",
                            format!(
                                "host port {}:{}/{} is already published by service `{other}`",
                                p.host_ip,
                                p.host_port,
                                p.container.proto.as_str()
                            ),
                        )
                        .at(sp.span.clone(), "published twice")
                        .help("choose another host port, e.g. `\"HOST_PORT:CONTAINER_PORT\"`"),
                    );
                }
                entry.push((p.host_ip, name.value.clone()));
            }
        }
    }
}

pub struct Defaults {
    user: User,
    memory: ByteSize,
    cpus: Cpus,
    pids: u32,
    restart: Restart,
    seccomp: SeccompPreset,
    apparmor: Option<String>,
    tmpfs_size: ByteSize,
    log: LogLimits,
    integrity: bool,
}

/// For each zone, the services attached to it as flow clients: the clients of flows into the
/// zone that are not members of it. Computed once (linear in the flows' client lists).
/// Address ranges a pool may lie in: RFC 1918 and RFC 6598 (shared address space).
const PRIVATE_RANGES: &[(&str, &str)] = &[
    ("10.0.0.0/8", "RFC 1918"),
    ("172.16.0.0/12", "RFC 1918"),
    ("192.168.0.0/16", "RFC 1918"),
    ("100.64.0.0/10", "RFC 6598"),
];
/// Special-purpose ranges named when a pool covers them (RFC 6890).
const SPECIAL_RANGES: &[(&str, &str)] = &[
    ("0.0.0.0/8", "\"this network\""),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
];

/// Why `net` is not inside one private range, or `None` when it is.
fn not_private(net: Ipv4Net) -> Option<String> {
    let parse = |s: &str| Ipv4Net::parse(s).expect("literal range parses");
    let inside = |outer: Ipv4Net| {
        net.prefix >= outer.prefix
            && Ipv4Net {
                addr: net.addr,
                prefix: outer.prefix,
            }
            .network()
                == outer.addr
    };
    let overlaps = |other: Ipv4Net| {
        let p = net.prefix.min(other.prefix);
        Ipv4Net {
            addr: net.addr,
            prefix: p,
        }
        .network()
            == Ipv4Net {
                addr: other.addr,
                prefix: p,
            }
            .network()
    };
    if PRIVATE_RANGES.iter().any(|(r, _)| inside(parse(r))) {
        return None;
    }
    let special: Vec<String> = SPECIAL_RANGES
        .iter()
        .filter(|(r, _)| overlaps(parse(r)))
        .map(|(r, what)| format!("{what} addresses ({r})"))
        .collect();
    let private: Vec<String> = PRIVATE_RANGES
        .iter()
        .filter(|(r, _)| overlaps(parse(r)))
        .map(|(r, _)| (*r).to_string())
        .collect();
    // Whether anything of it is ordinary public space: not private, not special.
    let covered: u64 = PRIVATE_RANGES
        .iter()
        .chain(SPECIAL_RANGES)
        .map(|(r, _)| parse(r))
        .filter(|r| overlaps(*r))
        .map(|r| 1u64 << (32 - r.prefix.max(net.prefix)))
        .sum();
    let public = covered < 1u64 << (32 - net.prefix);
    let mut parts = Vec::new();
    if public {
        parts.push("public addresses".to_string());
    }
    parts.extend(special);
    let what = list(parts);
    Some(match private.as_slice() {
        [] => format!("is not a private range: it holds {what}"),
        _ => format!(
            "is not inside one private range: beyond {} it holds {what}",
            list(private)
        ),
    })
}

/// "`a`, `b` and `c`".
fn list(items: impl IntoIterator<Item = String>) -> String {
    let items: Vec<String> = items.into_iter().collect();
    match items.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// What `svc` reaches as a member of `zone`: every port of the zone's other services, and
/// the ports of the zone's flows it uses as one of the zone's services.
fn zone_reach(
    svc: &Service,
    zone: &str,
    services: &BTreeMap<String, Service>,
    flows: &[Flow],
) -> String {
    let peers: Vec<String> = services
        .values()
        .filter(|s| s.name != svc.name && s.zones.iter().any(|z| z == zone))
        .map(|s| format!("`{}`", s.name))
        .collect();
    let mut parts = Vec::new();
    if peers.is_empty() {
        parts.push(format!("every port of every service that joins `{zone}`"));
    } else {
        parts.push(format!("every port of {}", list(peers)));
    }
    for f in flows
        .iter()
        .filter(|f| f.from == zone && f.clients.contains(&svc.name) && !svc.zones.contains(&f.to))
    {
        parts.push(format!(
            "{} of zone `{}` (flow `{} -> {}`)",
            f.ports
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            f.to,
            f.from,
            f.to
        ));
    }
    parts.join(", and ")
}

pub fn zone_clients(
    services: &BTreeMap<String, Service>,
    flows: &[Flow],
) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in flows {
        for c in &f.clients {
            let member = services.get(c).is_some_and(|s| s.zones.contains(&f.to));
            if !member {
                out.entry(f.to.clone()).or_default().insert(c.clone());
            }
        }
    }
    out
}

/// `<project>-<zone>` when it fits in 15 characters; otherwise shortened with a stable hash
/// so that two long names stay distinct.
pub fn default_bridge(project: &str, zone: &str) -> String {
    let full = format!("{project}-{zone}");
    if full.len() <= 15 {
        return full;
    }
    // FNV-1a: stable across platforms and releases (unlike std's hasher).
    let mut h: u32 = 0x811c_9dc5;
    for b in full.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    let prefix: String = full.chars().take(10).collect();
    format!("{}-{:04x}", prefix.trim_end_matches('-'), h & 0xffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bridges_fit_in_ifnamsiz() {
        assert_eq!(default_bridge("luna", "app"), "luna-app");
        let b = default_bridge("arkalia", "intelligence");
        assert!(b.len() <= 15, "{b}");
        assert_ne!(b, default_bridge("arkalia", "intelligenc2"));
    }

    #[test]
    fn pools_must_be_private() {
        let why = |s: &str| not_private(Ipv4Net::parse(s).unwrap());
        for ok in [
            "10.0.0.0/8",
            "10.210.0.0/16",
            "172.16.0.0/12",
            "172.31.255.0/24",
            "192.168.0.0/16",
            "100.64.0.0/10",
        ] {
            assert_eq!(why(ok), None, "{ok}");
        }
        for (bad, says) in [
            ("0.0.0.0/0", "public addresses"),
            ("0.0.0.0/1", "loopback addresses (127.0.0.0/8)"),
            ("127.0.0.0/16", "loopback"),
            ("169.254.0.0/16", "link-local"),
            ("224.0.0.0/8", "multicast"),
            ("240.0.0.0/8", "reserved"),
            ("8.8.0.0/16", "public addresses"),
            ("10.0.0.0/7", "beyond 10.0.0.0/8"),
            ("172.32.0.0/16", "public addresses"),
            ("172.0.0.0/11", "beyond 172.16.0.0/12"),
            ("100.0.0.0/9", "public addresses"),
        ] {
            let w = why(bad).unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(w.contains(says), "{bad}: {w}");
        }
    }

    #[test]
    fn sensitive_paths() {
        assert!(is_sensitive_host_path("/"));
        assert!(is_sensitive_host_path("/etc/ssl/certs"));
        assert!(is_sensitive_host_path("/var/run/docker.sock"));
        assert!(is_sensitive_host_path("/srv/../etc"));
        assert!(!is_sensitive_host_path("/srv/data"));
    }

    #[test]
    fn secrets_in_env() {
        assert!(looks_secret("POSTGRES_PASSWORD"));
        assert!(!looks_secret("POSTGRES_PASSWORD_FILE"));
        assert!(!looks_secret("LOG_LEVEL"));
    }
}
