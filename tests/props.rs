//! Property tests: whatever the spec, hardgen never panics; every diagnostic has a documented
//! code and a span inside the spec; an accepted spec always renders, and renders the same
//! bytes twice; a sample of accepted compose files passes `docker compose config -q`.
//!
//! Two sources of specs: the repository's specs (examples, test specs, bad specs) mutated at
//! the byte, line and value level, and structured specs generated from pools of valid and
//! invalid values. `PROPTEST_CASES` overrides the number of cases of each (default 1500, about
//! 10 s in a debug build).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

mod common;
use common::tool;
use std::process::Command;
use std::sync::Mutex;

use hardgen::app::{self, SpecSource};
use hardgen::artifact::Artifacts;
use hardgen::diagnostic::codes;
use hardgen::targets::Target;
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Accepted compose files kept for `docker compose config` (a few distinct ones).
static SAMPLES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The whole pipeline in-process, with every property checked.
fn check_spec(text: &str) -> Result<(), TestCaseError> {
    let src = SpecSource {
        path: PathBuf::from("prop.toml"),
        text: text.to_string(),
    };
    // Diagnostics: documented codes, spans inside the spec, rendering never panics.
    if let Ok(mut raw) = hardgen::spec::parse(text) {
        let (model, diags) = hardgen::validate::validate(
            &mut raw,
            "prop.toml",
            &hardgen::validate::Options {
                strict: false,
                spec_dir: None,
            },
        );
        for d in &diags {
            prop_assert!(
                codes().iter().any(|c| c.code == d.code),
                "undocumented code {}",
                d.code
            );
            if let Some(s) = &d.span {
                prop_assert!(
                    s.start <= s.end && s.end <= text.len(),
                    "{}: span {s:?} outside the spec ({} bytes)",
                    d.code,
                    text.len()
                );
            }
            let out = d.render("prop.toml", text);
            prop_assert!(out.contains(d.code));
            prop_assert!(!out.chars().any(|c| c.is_control() && c != '\n'));
        }
        prop_assert_eq!(model.is_some(), !diags.iter().any(|d| d.is_error()));
    }
    let mut err = Vec::new();
    let Some(model) = app::load(&src, false, &mut err) else {
        let msg = String::from_utf8_lossy(&err);
        prop_assert!(
            msg.contains("error[E"),
            "refused without a coded error:\n{msg}"
        );
        return Ok(());
    };
    // Accepted: it renders, the same bytes twice, for compose; the other targets render or
    // refuse cleanly.
    let a = app::artifacts(
        &model,
        Target::Compose,
        &hardgen::layout::Layout::beside_spec(),
        &mut err,
    );
    prop_assert!(
        a.is_some(),
        "accepted spec does not render: {}",
        String::from_utf8_lossy(&err)
    );
    let a = a.unwrap();
    let again = app::artifacts(
        &model,
        Target::Compose,
        &hardgen::layout::Layout::beside_spec(),
        &mut Vec::new(),
    )
    .unwrap();
    prop_assert!(a == again, "rendering is not deterministic");
    let model2 = app::load(&src, false, &mut Vec::new()).expect("accepted twice");
    prop_assert!(model == model2, "validation is not deterministic");
    for t in [Target::Swarm, Target::Kubernetes] {
        let x = app::artifacts(
            &model,
            t,
            &hardgen::layout::Layout::beside_spec(),
            &mut Vec::new(),
        );
        let y = app::artifacts(
            &model,
            t,
            &hardgen::layout::Layout::beside_spec(),
            &mut Vec::new(),
        );
        prop_assert!(x == y, "{} rendering is not deterministic", t.name());
    }
    check_outputs(&a)?;
    let compose = String::from_utf8(a.get("docker-compose.yml").unwrap().bytes.clone()).unwrap();
    let mut samples = SAMPLES.lock().unwrap();
    if samples.len() < 12 && !samples.contains(&compose) {
        samples.push(compose);
    }
    Ok(())
}

fn check_outputs(a: &Artifacts) -> Result<(), TestCaseError> {
    for (path, art) in a.iter() {
        let text = std::str::from_utf8(&art.bytes);
        prop_assert!(text.is_ok(), "{path} is not UTF-8");
        let text = text.unwrap();
        prop_assert!(text.ends_with('\n'), "{path} has no final newline");
        if path.ends_with(".yml") || path.ends_with(".yaml") {
            for doc in serde_yaml::Deserializer::from_str(text) {
                let v: Result<serde_yaml::Value, _> = serde::Deserialize::deserialize(doc);
                prop_assert!(v.is_ok(), "{path} is not YAML: {:?}", v.err());
            }
        }
        if path.ends_with(".json") {
            let v: Result<serde_json::Value, _> = serde_json::from_str(text);
            prop_assert!(v.is_ok(), "{path} is not JSON");
        }
    }
    Ok(())
}

fn runner(name: &str) -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(1500);
    let _ = name;
    TestRunner::new(Config {
        cases,
        // Failures print their minimal input; nothing is written into the repository.
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..Config::default()
    })
}

// ---------------------------------------------------------------- mutated specs

fn seeds() -> Vec<String> {
    let mut out = Vec::new();
    for dir in ["examples", "tests/specs", "tests/bad", "tests/diff"] {
        let Ok(entries) = fs::read_dir(root().join(dir)) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        paths.sort();
        for p in paths {
            out.push(fs::read_to_string(p).unwrap());
        }
    }
    assert!(out.len() > 10);
    out
}

#[derive(Debug, Clone)]
enum Mutation {
    FlipByte(usize, u8),
    InsertBytes(usize, Vec<u8>),
    DeleteRange(usize, usize),
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    InsertLine(usize, String),
    ReplaceString(usize, String),
    ReplaceNumber(usize, i64),
}

/// Lines that make sense somewhere in a spec.
const LINES: &[&str] = &[
    "[zones.extra]",
    "[services.extra]",
    "image = \"busybox:1.36\"",
    "zones = [\"app\"]",
    "zones = []",
    "ports = [\"8080\", \"8080\"]",
    "expose = [\"5432\"]",
    "cap_add = [\"SYS_ADMIN\"]",
    "user = \"0:0\"",
    "unsafe = { root_user = true, reason = \"x\" }",
    "unsafe = { }",
    "healthcheck = { cmd = [] }",
    "volumes = [\"/:/host\"]",
    "tmpfs = [\"/tmp:1g\"]",
    "memory = \"1k\"",
    "subnet = \"10.0.0.0/30\"",
    "egress = true",
    "bridge = \"docker0\"",
    "[[flows]]",
    "from = \"app\"",
    "to = \"app\"",
    "ports = [\"1/udp\"]",
    "clients = [\"nobody\"]",
    "depends_on = [\"extra\"]",
    "[secrets.extra]",
    "gid = 0",
    "bytes = 4097",
    "syscalls_allow = [\"ptrace\", \"open\"]",
    "pids = 0",
    "build = { runtime = \"go\", version = \"1.22\" }",
    "build = { runtime = \"static\", packages = [\"curl\"] }",
    "description = \"a\\u202eb\"",
    "zone_prefix = 16",
    "subnet_pool = \"10.0.0.0/8\"",
    "a = 1",
    "[defaults]",
    "restart = \"no\"",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    let idx = any::<usize>();
    prop_oneof![
        (idx, any::<u8>()).prop_map(|(i, b)| Mutation::FlipByte(i, b)),
        (idx, prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(i, b)| Mutation::InsertBytes(i, b)),
        (idx, 1usize..40).prop_map(|(i, n)| Mutation::DeleteRange(i, n)),
        idx.prop_map(Mutation::DeleteLine),
        idx.prop_map(Mutation::DuplicateLine),
        (idx, any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        (idx, prop::sample::select(LINES))
            .prop_map(|(i, l)| Mutation::InsertLine(i, l.to_string())),
        (idx, value_string()).prop_map(|(i, s)| Mutation::ReplaceString(i, s)),
        (
            idx,
            prop_oneof![any::<i64>(), -2i64..70000, Just(0i64), Just(4294967296i64)]
        )
            .prop_map(|(i, n)| Mutation::ReplaceNumber(i, n)),
    ]
}

/// A string value: short random text, or one of the values that break things.
fn value_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,12}",
        any::<String>().prop_map(|s| s.chars().take(24).collect()),
        prop::sample::select(
            &[
                "",
                "a\nb",
                "$(id)",
                "${X}",
                "../..",
                "/",
                "/etc",
                "0:0",
                "latest",
                "busybox",
                "10.0.0.0/24",
                "10.0.0.1/33",
                "8080:80",
                "65536",
                "ALL",
                "yes",
                "{{ x }}",
                "a\"b",
                "\u{0}",
                "\u{202e}",
                "ｆｕｌｌ",
                "dаta",
                "🦀",
                "a:b:c:d",
            ][..]
        )
        .prop_map(str::to_string),
    ]
}

fn toml_escape(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn apply(text: &str, muts: &[Mutation]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for m in muts {
        let len = bytes.len().max(1);
        match m {
            Mutation::FlipByte(i, b) => {
                if !bytes.is_empty() {
                    let i = i % bytes.len();
                    bytes[i] ^= b | 1;
                }
            }
            Mutation::InsertBytes(i, b) => {
                let i = i % (bytes.len() + 1);
                bytes.splice(i..i, b.iter().copied());
            }
            Mutation::DeleteRange(i, n) => {
                let i = i % len;
                let end = (i + n).min(bytes.len());
                if i < end {
                    bytes.drain(i..end);
                }
            }
            Mutation::DeleteLine(_)
            | Mutation::DuplicateLine(_)
            | Mutation::SwapLines(..)
            | Mutation::InsertLine(..) => {
                let s = String::from_utf8_lossy(&bytes).into_owned();
                let mut lines: Vec<String> = s.lines().map(str::to_string).collect();
                let n = lines.len().max(1);
                match m {
                    Mutation::DeleteLine(i) if !lines.is_empty() => {
                        lines.remove(i % n);
                    }
                    Mutation::DuplicateLine(i) if !lines.is_empty() => {
                        let l = lines[i % n].clone();
                        lines.insert(i % n, l);
                    }
                    Mutation::SwapLines(a, b) if !lines.is_empty() => lines.swap(a % n, b % n),
                    Mutation::InsertLine(i, l) => lines.insert(i % (lines.len() + 1), l.clone()),
                    _ => {}
                }
                bytes = (lines.join("\n") + "\n").into_bytes();
            }
            Mutation::ReplaceString(i, v) => {
                // The i-th `"..."` on a line without escapes.
                let s = String::from_utf8_lossy(&bytes).into_owned();
                let spans: Vec<(usize, usize)> = quoted_spans(&s);
                if !spans.is_empty() {
                    let (a, b) = spans[i % spans.len()];
                    bytes = format!("{}{}{}", &s[..a], toml_escape(v), &s[b..]).into_bytes();
                }
            }
            Mutation::ReplaceNumber(i, v) => {
                let s = String::from_utf8_lossy(&bytes).into_owned();
                let spans = number_spans(&s);
                if !spans.is_empty() {
                    let (a, b) = spans[i % spans.len()];
                    bytes = format!("{}{v}{}", &s[..a], &s[b..]).into_bytes();
                }
            }
        }
    }
    // The binary refuses non-UTF-8 files before parsing; the library takes text.
    String::from_utf8_lossy(&bytes).into_owned()
}

fn quoted_spans(s: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in s.char_indices() {
        match (c, start) {
            ('"', None) => start = Some(i),
            ('"', Some(a)) => {
                out.push((a, i + 1));
                start = None;
            }
            ('\n' | '\\', Some(_)) => start = None,
            _ => {}
        }
    }
    out
}

fn number_spans(s: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for line in s.lines() {
        let base = line.as_ptr() as usize - s.as_ptr() as usize;
        if let Some(eq) = line.find("= ") {
            let v = &line[eq + 2..];
            let n = v
                .bytes()
                .take_while(|b| b.is_ascii_digit() || *b == b'.')
                .count();
            if n > 0 {
                out.push((base + eq + 2, base + eq + 2 + n));
            }
        }
    }
    out
}

#[test]
fn mutated_specs_never_panic_and_accepted_ones_render() {
    let seeds = seeds();
    let strategy = (
        prop::sample::select(seeds),
        prop::collection::vec(mutation(), 1..5),
    );
    runner("mutated")
        .run(&strategy, |(seed, muts)| check_spec(&apply(&seed, &muts)))
        .unwrap();
    compose_config_on_samples();
}

// ---------------------------------------------------------------- structured specs

const DIGEST: &str = "@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

fn s(v: &str) -> toml::Value {
    toml::Value::String(v.to_string())
}

fn strs(v: &[String]) -> toml::Value {
    toml::Value::Array(v.iter().map(|x| s(x)).collect())
}

fn pick(xs: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::sample::select(xs).prop_map(str::to_string)
}

/// Mostly a valid choice, sometimes an invalid one, sometimes random text.
fn mostly(
    valid: &'static [&'static str],
    invalid: &'static [&'static str],
) -> BoxedStrategy<String> {
    prop_oneof![
        24 => pick(valid),
        1 => pick(invalid),
        1 => value_string(),
    ]
    .boxed()
}

const ZONES: &[&str] = &["app", "data", "edge", "ops", "intelligence", "in-de80"];
const SERVICES: &[&str] = &["api", "db", "cache", "worker", "web"];

fn zone() -> impl Strategy<Value = (String, toml::Table)> {
    (
        mostly(ZONES, &["Bad", "dаta", ""]),
        prop::option::of(mostly(
            &[
                "10.30.1.0/24",
                "10.30.2.0/24",
                "10.30.0.0/23",
                "10.30.9.0/28",
            ],
            &["10.30.1.1/24", "10.31.0.0/24", "10.30.1.0/29", "x"],
        )),
        prop::option::of(any::<bool>()),
        prop::option::of(mostly(
            &["hg-one", "hg-two", "hg.one_2"],
            &["docker0", "a-very-long-bridge", "a b"],
        )),
        prop::option::of(value_string()),
    )
        .prop_map(|(name, subnet, egress, bridge, desc)| {
            let mut t = toml::Table::new();
            if let Some(x) = subnet {
                t.insert("subnet".into(), s(&x));
            }
            if let Some(x) = egress {
                t.insert("egress".into(), toml::Value::Boolean(x));
            }
            if let Some(x) = bridge {
                t.insert("bridge".into(), s(&x));
            }
            if let Some(x) = desc {
                t.insert("description".into(), s(&x));
            }
            (name, t)
        })
}

fn healthcheck() -> impl Strategy<Value = Option<toml::Table>> {
    prop::option::weighted(
        0.8,
        (
            prop::collection::vec(mostly(&["true", "/bin/probe", "--ok"], &[""]), 0..3),
            prop::option::of(mostly(&["30s", "500ms", "1m"], &["0s", "x", "30"])),
            prop::option::of(prop_oneof![20 => 1u32..100, 1 => 0u32..120]),
        )
            .prop_map(|(cmd, interval, retries)| {
                let mut t = toml::Table::new();
                t.insert("cmd".into(), strs(&cmd));
                if let Some(i) = interval {
                    t.insert("interval".into(), s(&i));
                }
                if let Some(r) = retries {
                    t.insert("retries".into(), toml::Value::Integer(r.into()));
                }
                t
            }),
    )
}

fn build() -> impl Strategy<Value = toml::Table> {
    (
        mostly(&["python", "node", "go", "rust", "static"], &["pyton"]),
        prop::option::of(mostly(
            &["3.12", "20", "1.22", "1.80"],
            &["latest", "3.12\nRUN id", ""],
        )),
        prop::option::of(prop::collection::vec(
            mostly(&["python", "-m", "app", "$HOME"], &[""]),
            0..4,
        )),
        prop::collection::vec(
            mostly(&["libpq5", "curl=7.88.1-10+deb12u5"], &["Bad", "a;b"]),
            0..3,
        ),
        prop::collection::vec(
            mostly(&["/app/data", "/var/lib/app"], &["rel", "/a/../b"]),
            0..3,
        ),
        prop::option::of(mostly(&["src/api", "."], &["/abs", "../up"])),
    )
        .prop_map(|(runtime, version, command, packages, dirs, context)| {
            let mut t = toml::Table::new();
            t.insert("runtime".into(), s(&runtime));
            if let Some(v) = version {
                t.insert("version".into(), s(&v));
            }
            if let Some(c) = command {
                t.insert("command".into(), strs(&c));
            }
            if !packages.is_empty() {
                t.insert("packages".into(), strs(&packages));
            }
            if !dirs.is_empty() {
                t.insert("writable_dirs".into(), strs(&dirs));
            }
            if let Some(c) = context {
                t.insert("context".into(), s(&c));
            }
            t
        })
}

#[derive(Debug, Clone)]
struct SvcParts {
    name: String,
    image: Option<String>,
    build: Option<toml::Table>,
    zones: Vec<String>,
    ports: Vec<String>,
    expose: Vec<String>,
    volumes: Vec<String>,
    tmpfs: Vec<String>,
    caps: Vec<String>,
    env: Vec<(String, String)>,
    secrets: Vec<String>,
    depends_on: Vec<String>,
    user: Option<String>,
    memory: Option<String>,
    pids: Option<i64>,
    health: Option<toml::Table>,
    unsafe_: Option<toml::Table>,
    description: Option<String>,
}

fn service() -> impl Strategy<Value = SvcParts> {
    let source = prop_oneof![
        3 => mostly(
            &["busybox:1.36", "redis:7.2.5-bookworm", "registry.local:5000/x/y:1"],
            &["busybox", "busybox:latest", "Bad/Image", "x:y\nz"],
        )
        .prop_map(|i| (Some(if i.contains(':') && !i.contains('\n') { format!("{i}{DIGEST}") } else { i }), None)),
        2 => build().prop_map(|b| (None, Some(b))),
        1 => Just((None, None)),
    ];
    let head = (
        mostly(SERVICES, &["Bad", "x y", ""]),
        source,
        prop::collection::vec(mostly(ZONES, &["nowhere"]), 0..3),
        prop::collection::vec(
            mostly(
                &[
                    "8080",
                    "127.0.0.1:9000:80",
                    "0.0.0.0:443:8443/tcp",
                    "53/udp",
                ],
                &["70000", "a", "1:2:3:4"],
            ),
            0..3,
        ),
        prop::collection::vec(mostly(&["80", "5432", "53/udp"], &["0", "x"]), 0..3),
        prop::collection::vec(
            mostly(
                &["data:/data", "./conf:/etc/app:ro", "cache:/cache"],
                &[
                    "/var/run/docker.sock:/s",
                    "./../x:/x",
                    "data:/tmp",
                    "x:/proc/x",
                    "./secrets:/s",
                    "/var:/v",
                ],
            ),
            0..3,
        ),
        prop::collection::vec(
            mostly(&["/cache", "/cache:8m", "/tmp:1m"], &["/x:0m", "rel"]),
            0..2,
        ),
        prop::collection::vec(
            mostly(
                &["CHOWN", "NET_BIND_SERVICE"],
                &["SYS_ADMIN", "CAP_KILL", "NOPE"],
            ),
            0..2,
        ),
    );
    let tail = (
        prop::collection::vec(
            (
                mostly(&["LOG_LEVEL", "X_FILE"], &["DB_PASSWORD", "1BAD"]),
                value_string(),
            ),
            0..3,
        ),
        prop::collection::vec(mostly(&["token", "db_password"], &["nope"]), 0..2),
        prop::collection::vec(mostly(SERVICES, &["ghost"]), 0..2),
        prop::option::of(mostly(
            &["10001:10001", "999:999"],
            &["0:0", "abc", "4294967295:1"],
        )),
        prop::option::of(mostly(&["256m", "1g"], &["4m", "lots", "999999999g"])),
        prop::option::of(prop_oneof![1 => Just(0i64), 20 => 8i64..5000, 1 => Just(-1i64)]),
        healthcheck(),
        prop::option::weighted(
            0.2,
            (
                any::<bool>(),
                any::<bool>(),
                prop::option::of(value_string()),
            )
                .prop_map(|(root, caps, reason)| {
                    let mut t = toml::Table::new();
                    t.insert("root_user".into(), toml::Value::Boolean(root));
                    t.insert("dangerous_caps".into(), toml::Value::Boolean(caps));
                    if let Some(r) = reason {
                        t.insert("reason".into(), s(&r));
                    }
                    t
                }),
        ),
        prop::option::of(value_string()),
    );
    (head, tail).prop_map(
        |(
            (name, (image, build), zones, ports, expose, volumes, tmpfs, caps),
            (env, secrets, depends_on, user, memory, pids, health, unsafe_, description),
        )| SvcParts {
            name,
            image,
            build,
            zones,
            ports,
            expose,
            volumes,
            tmpfs,
            caps,
            env,
            secrets,
            depends_on,
            user,
            memory,
            pids,
            health,
            unsafe_,
            description,
        },
    )
}

fn flow() -> impl Strategy<Value = toml::Table> {
    (
        mostly(ZONES, &["nowhere"]),
        mostly(ZONES, &["nowhere"]),
        prop::collection::vec(mostly(&["5432", "6379/tcp", "53/udp"], &["x", "0"]), 0..3),
        prop::option::of(prop::collection::vec(mostly(SERVICES, &["ghost"]), 0..2)),
        prop::option::of(value_string()),
    )
        .prop_map(|(from, to, ports, clients, desc)| {
            let mut t = toml::Table::new();
            t.insert("from".into(), s(&from));
            t.insert("to".into(), s(&to));
            t.insert("ports".into(), strs(&ports));
            if let Some(c) = clients {
                t.insert("clients".into(), strs(&c));
            }
            if let Some(d) = desc {
                t.insert("description".into(), s(&d));
            }
            t
        })
}

fn spec() -> impl Strategy<Value = String> {
    (
        mostly(
            &["demo", "arkalia", "a-b"],
            &["Bad", "", "a_very_long_project_name"],
        ),
        prop::option::of(mostly(
            &["10.30.0.0/16"],
            &["10.30.0.0/24", "10.30.0.0/25", "x"],
        )),
        prop::option::of(prop_oneof![4 => Just(24i64), 4 => Just(28i64), 1 => 14i64..30]),
        prop::collection::vec(zone(), 0..4),
        prop::collection::vec(flow(), 0..3),
        prop::collection::vec(
            (
                mostly(&["token", "db_password"], &["Bad"]),
                prop::option::of(prop_oneof![20 => 16i64..4096, 1 => 0i64..5000]),
            ),
            0..3,
        ),
        prop::collection::vec(service(), 0..4),
        prop::bool::weighted(0.75),
    )
        .prop_map(
            |(project, pool, prefix, zones, flows, secrets, services, fix)| {
                let mut doc = toml::Table::new();
                let mut p = toml::Table::new();
                p.insert("name".into(), s(&project));
                if let Some(x) = pool {
                    p.insert("subnet_pool".into(), s(&x));
                }
                if let Some(x) = prefix {
                    p.insert("zone_prefix".into(), toml::Value::Integer(x));
                }
                doc.insert("project".into(), toml::Value::Table(p));
                let mut zt = toml::Table::new();
                for (n, z) in zones {
                    zt.insert(n, toml::Value::Table(z));
                }
                doc.insert("zones".into(), toml::Value::Table(zt));
                doc.insert(
                    "flows".into(),
                    toml::Value::Array(flows.into_iter().map(toml::Value::Table).collect()),
                );
                let mut st = toml::Table::new();
                for (n, bytes) in secrets {
                    let mut t = toml::Table::new();
                    if let Some(b) = bytes {
                        t.insert("bytes".into(), toml::Value::Integer(b));
                    }
                    st.insert(n, toml::Value::Table(t));
                }
                doc.insert("secrets".into(), toml::Value::Table(st));
                let mut sv = toml::Table::new();
                for x in services {
                    let mut t = toml::Table::new();
                    if let Some(i) = x.image {
                        t.insert("image".into(), s(&i));
                    }
                    if let Some(b) = x.build {
                        t.insert("build".into(), toml::Value::Table(b));
                    }
                    let lists = [
                        ("zones", &x.zones),
                        ("ports", &x.ports),
                        ("expose", &x.expose),
                        ("volumes", &x.volumes),
                        ("tmpfs", &x.tmpfs),
                        ("cap_add", &x.caps),
                        ("secrets", &x.secrets),
                        ("depends_on", &x.depends_on),
                    ];
                    for (k, v) in lists {
                        if !v.is_empty() || k == "zones" {
                            t.insert(k.into(), strs(v));
                        }
                    }
                    if !x.env.is_empty() {
                        let env: toml::Table =
                            x.env.iter().map(|(k, v)| (k.clone(), s(v))).collect();
                        t.insert("environment".into(), toml::Value::Table(env));
                    }
                    for (k, v) in [
                        ("user", &x.user),
                        ("memory", &x.memory),
                        ("description", &x.description),
                    ] {
                        if let Some(v) = v {
                            t.insert(k.into(), s(v));
                        }
                    }
                    if let Some(p) = x.pids {
                        t.insert("pids".into(), toml::Value::Integer(p));
                    }
                    if let Some(h) = x.health {
                        t.insert("healthcheck".into(), toml::Value::Table(h));
                    }
                    if let Some(u) = x.unsafe_ {
                        t.insert("unsafe".into(), toml::Value::Table(u));
                    }
                    sv.insert(x.name, toml::Value::Table(t));
                }
                doc.insert("services".into(), toml::Value::Table(sv));
                if fix {
                    repair(&mut doc);
                }
                toml::to_string(&doc).expect("a generated spec serialises")
            },
        )
}

/// Make the references of a generated spec consistent (declared zones, secrets and
/// services, acyclic dependencies, a source and a health check), so that most generated
/// specs get past validation and exercise the plan and the renderers.
fn repair(doc: &mut toml::Table) {
    let keys = |doc: &toml::Table, k: &str| -> Vec<String> {
        doc.get(k)
            .and_then(|v| v.as_table())
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default()
    };
    if let Some(toml::Value::Table(p)) = doc.get_mut("project") {
        p.entry("subnet_pool").or_insert_with(|| s("10.30.0.0/16"));
    }
    let mut zones = keys(doc, "zones");
    if zones.is_empty() {
        let mut z = toml::Table::new();
        z.insert("egress".into(), toml::Value::Boolean(true));
        doc["zones"]
            .as_table_mut()
            .unwrap()
            .insert("app".into(), toml::Value::Table(z));
        zones.push("app".into());
    }
    let secrets = keys(doc, "secrets");
    let services = keys(doc, "services");
    let fix_list = |v: Option<&mut toml::Value>, f: &dyn Fn(usize, &str) -> Option<String>| {
        if let Some(toml::Value::Array(a)) = v {
            let fixed: Vec<toml::Value> = a
                .iter()
                .enumerate()
                .filter_map(|(i, x)| f(i, x.as_str().unwrap_or("")).map(toml::Value::String))
                .collect();
            *a = fixed;
        }
    };
    let mut members: Vec<(String, Vec<String>)> = Vec::new();
    for (name, svc) in doc["services"].as_table_mut().unwrap().iter_mut() {
        let t = svc.as_table_mut().unwrap();
        fix_list(t.get_mut("zones"), &|i, z| {
            Some(if zones.iter().any(|x| x == z) {
                z.to_string()
            } else {
                zones[i % zones.len()].clone()
            })
        });
        if t["zones"].as_array().is_some_and(Vec::is_empty) {
            t.insert("zones".into(), strs(&zones[..1]));
        }
        fix_list(t.get_mut("secrets"), &|_, x| {
            secrets.iter().any(|s| s == x).then(|| x.to_string())
        });
        fix_list(t.get_mut("depends_on"), &|_, x| {
            (services.iter().any(|s| s == x) && x < name.as_str()).then(|| x.to_string())
        });
        for k in [
            "zones", "ports", "expose", "volumes", "tmpfs", "cap_add", "secrets",
        ] {
            if let Some(toml::Value::Array(a)) = t.get_mut(k) {
                let mut seen = BTreeSet::new();
                a.retain(|v| seen.insert(v.to_string()));
            }
        }
        if let Some(toml::Value::Table(b)) = t.get_mut("build") {
            let rt = b
                .get("runtime")
                .and_then(|r| r.as_str())
                .unwrap_or("")
                .to_string();
            if !matches!(rt.as_str(), "python" | "node") {
                b.remove("packages");
            }
            if rt == "static" {
                b.remove("version");
            }
        }
        if !t.contains_key("image") && !t.contains_key("build") {
            t.insert("image".into(), s(&format!("busybox:1.36{DIGEST}")));
        }
        let probe = t
            .get("healthcheck")
            .and_then(|h| h.get("cmd"))
            .and_then(|c| c.as_array())
            .is_some_and(|c| !c.is_empty());
        if !probe {
            let mut h = toml::Table::new();
            h.insert("cmd".into(), strs(&["true".to_string()]));
            t.insert("healthcheck".into(), toml::Value::Table(h));
        }
        let z: Vec<String> = t["zones"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        members.push((name.clone(), z));
    }
    if let Some(toml::Value::Array(flows)) = doc.get_mut("flows") {
        for (i, f) in flows.iter_mut().enumerate() {
            let t = f.as_table_mut().unwrap();
            for (k, shift) in [("from", 0), ("to", 1)] {
                let v = t[k].as_str().unwrap_or("").to_string();
                if !zones.contains(&v) {
                    t.insert(k.into(), s(&zones[(i + shift) % zones.len()]));
                }
            }
            let from = t["from"].as_str().unwrap().to_string();
            fix_list(t.get_mut("clients"), &|_, c| {
                members
                    .iter()
                    .any(|(n, z)| n == c && z.contains(&from))
                    .then(|| c.to_string())
            });
        }
        flows.retain(|f| f["from"].as_str() != f["to"].as_str());
    }
}

#[test]
fn generated_specs_never_panic_and_accepted_ones_render() {
    let accepted = Mutex::new(0usize);
    runner("generated")
        .run(&spec(), |text| {
            let ok = hardgen::spec::parse(&text).is_ok_and(|mut raw| {
                hardgen::validate::validate(
                    &mut raw,
                    "prop.toml",
                    &hardgen::validate::Options {
                        strict: false,
                        spec_dir: None,
                    },
                )
                .0
                .is_some()
            });
            if ok {
                *accepted.lock().unwrap() += 1;
            }
            check_spec(&text)
        })
        .unwrap();
    let accepted = accepted.into_inner().unwrap();
    eprintln!("generated specs: {accepted} accepted");
    assert!(accepted > 0, "the generator never produces a valid spec");
    compose_config_on_samples();
}

// ---------------------------------------------------------------- compose config

/// `docker compose config -q` on the accepted compose files kept so far (then forgotten).
fn compose_config_on_samples() {
    let samples: Vec<String> = std::mem::take(&mut *SAMPLES.lock().unwrap());
    let Some(dc) = tool("docker-compose") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut seen = BTreeSet::new();
    for (i, text) in samples.iter().enumerate() {
        if !seen.insert(text) {
            continue;
        }
        let dir = tmp.path().join(format!("s{i}"));
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("docker-compose.yml");
        fs::write(&file, text).unwrap();
        run_compose(&dc, &file, text);
    }
}

fn run_compose(dc: &Path, file: &Path, text: &str) {
    let o = Command::new(dc)
        .arg("-f")
        .arg(file)
        .args(["config", "-q"])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "docker compose config rejects an accepted spec's compose file:\n{}\n{text}",
        String::from_utf8_lossy(&o.stderr)
    );
}
