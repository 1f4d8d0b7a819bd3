//! Editor support, proven with the real tools (issue 5).
//!
//! - `taplo check` (the validator behind VS Code "Even Better TOML" and the taplo language
//!   server) accepts every example and test spec against `schema/hardgen.schema.json`, and
//!   rejects each spec of `tests/taplo-bad/` with the message its `# expect:` lines name.
//! - The schema's patterns agree with `hardgen check` on a table of values, so the editor
//!   never flags what hardgen accepts (and flags what it rejects, except the listed rules a
//!   schema cannot express).
//! - `taplo lsp stdio` is driven like an editor over JSON-RPC: it completes a service's keys
//!   (only those not yet written) and enumeration values, shows the schema's descriptions on
//!   hover and reports schema errors as diagnostics, both through an absolute `file://`
//!   schema line and through the relative one `hardgen init` writes.
//!
//! Tools: `taplo` from `.tools/bin` or PATH (`scripts/install-tools.sh`); the language server
//! from `.tools/taplo-lsp/bin/taplo` (`scripts/build-taplo-lsp.sh`: the PyPI taplo has none).
//! A missing tool fails the test when HARDGEN_REQUIRE_TOOLS is set, else the test prints
//! "skipped" and passes. Every process gets a bounded time; the server is killed at the end.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The starter spec of `hardgen init`, compiled here on its own (it uses only std).
#[allow(dead_code)]
#[path = "../src/init.rs"]
mod init;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn schema_path() -> PathBuf {
    root().join("schema/hardgen.schema.json")
}

fn schema() -> Value {
    serde_json::from_slice(&fs::read(schema_path()).unwrap()).unwrap()
}

fn require_tools() -> bool {
    std::env::var_os("HARDGEN_REQUIRE_TOOLS").is_some()
}

fn missing(what: &str, how: &str) {
    assert!(
        !require_tools(),
        "{what} is required (HARDGEN_REQUIRE_TOOLS is set) but not installed: run {how}"
    );
    eprintln!("skipped: {what} not installed (run {how})");
}

/// `taplo` for `check`: `.tools/bin`, then PATH, then the language-server build.
fn taplo() -> Option<PathBuf> {
    let local = root().join(".tools/bin/taplo");
    if local.exists() {
        return Some(local);
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("taplo"))
            .find(|p| p.is_file())
    });
    let found = on_path.or_else(|| Some(taplo_lsp_path()).filter(|p| p.exists()));
    if found.is_none() {
        missing("taplo", "scripts/install-tools.sh");
    }
    found
}

fn taplo_lsp_path() -> PathBuf {
    root().join(".tools/taplo-lsp/bin/taplo")
}

/// The taplo built with its language server.
fn taplo_lsp() -> Option<PathBuf> {
    let p = taplo_lsp_path();
    if p.exists() {
        Some(p)
    } else {
        missing(
            "the taplo language server (.tools/taplo-lsp/bin/taplo)",
            "scripts/build-taplo-lsp.sh",
        );
        None
    }
}

/// Run a command to completion within `limit`; kill it and fail the test otherwise.
/// Returns (success, stdout + stderr).
fn run_bounded(cmd: &mut Command, limit: Duration) -> (bool, String) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let drain = |mut r: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut s = Vec::new();
            let _ = r.read_to_end(&mut s);
            s
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within {limit:?}");
        }
        thread::sleep(Duration::from_millis(5));
    };
    let mut text = String::from_utf8_lossy(&out.join().unwrap()).into_owned();
    text.push_str(&String::from_utf8_lossy(&err.join().unwrap()));
    (status.success(), text)
}

fn taplo_check(taplo: &Path, file: &Path) -> (bool, String) {
    run_bounded(
        Command::new(taplo)
            .args(["check", "--colors", "never"])
            .arg(file),
        Duration::from_secs(60),
    )
}

fn hardgen_check(file: &Path) -> (bool, String) {
    run_bounded(
        Command::new(env!("CARGO_BIN_EXE_hardgen"))
            .arg("check")
            .arg(file),
        Duration::from_secs(60),
    )
}

/// The `.toml` files of a directory of the repository, sorted.
fn tomls(dir: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(root().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no .toml in {dir}");
    v
}

fn file_url(p: &Path) -> String {
    let mut url = String::from("file://");
    for b in p.to_str().expect("UTF-8 path").bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            url.push(b as char);
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

// ---------------------------------------------------------------- taplo check

#[test]
fn every_spec_names_the_schema_on_its_first_line() {
    let schema = schema_path().canonicalize().unwrap();
    for dir in ["examples", "tests/specs", "tests/taplo-bad"] {
        for spec in tomls(dir) {
            let text = fs::read_to_string(&spec).unwrap();
            let first = text.lines().next().unwrap_or("");
            let rel = first
                .strip_prefix("#:schema ")
                .unwrap_or_else(|| panic!("{}: first line is not `#:schema ...`", spec.display()));
            let target = spec.parent().unwrap().join(rel);
            assert_eq!(
                target.canonicalize().ok().as_deref(),
                Some(schema.as_path()),
                "{}: `#:schema {rel}` is not schema/hardgen.schema.json",
                spec.display()
            );
        }
    }
}

/// Every table of the schema is closed (`additionalProperties: false`, so a misspelt key is
/// flagged) and every key has a description (the hover text).
#[test]
fn every_table_is_closed_and_every_key_documented() {
    fn walk(path: &str, v: &Value, tables: &mut usize, problems: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                if let Some(Value::Object(props)) = o.get("properties") {
                    *tables += 1;
                    if o.get("additionalProperties") != Some(&Value::Bool(false)) {
                        problems.push(format!("{path}: additionalProperties is not false"));
                    }
                    for (k, p) in props {
                        let documented = p["description"].as_str().is_some_and(|d| d.len() > 20);
                        if !documented {
                            problems.push(format!("{path}/properties/{k}: no description"));
                        }
                    }
                }
                for (k, x) in o {
                    walk(&format!("{path}/{k}"), x, tables, problems);
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    walk(&format!("{path}/{i}"), x, tables, problems);
                }
            }
            _ => {}
        }
    }
    let schema = schema();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    let (mut tables, mut problems) = (0, Vec::new());
    walk("", &schema, &mut tables, &mut problems);
    assert!(tables >= 10, "only {tables} tables found");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn taplo_accepts_the_examples_and_test_specs() {
    let Some(taplo) = taplo() else { return };
    for dir in ["examples", "tests/specs"] {
        for spec in tomls(dir) {
            let (ok, out) = taplo_check(&taplo, &spec);
            assert!(ok, "{}: taplo check failed:\n{out}", spec.display());
        }
    }
}

/// Each `tests/taplo-bad/*.toml` holds mistakes an editor must flag, and names the messages
/// in `# expect: ...` lines. `hardgen check` must reject it too.
#[test]
fn taplo_rejects_the_wrong_specs_with_the_right_message() {
    let Some(taplo) = taplo() else { return };
    for spec in tomls("tests/taplo-bad") {
        let text = fs::read_to_string(&spec).unwrap();
        let expected: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# expect: "))
            .collect();
        assert!(
            !expected.is_empty(),
            "{}: no `# expect:` line",
            spec.display()
        );
        let (ok, out) = taplo_check(&taplo, &spec);
        assert!(!ok, "{}: taplo check accepted it:\n{out}", spec.display());
        for e in expected {
            assert!(
                out.lines()
                    .any(|l| l.starts_with("error: ") && l.contains(e)),
                "{}: no taplo error containing `{e}`:\n{out}",
                spec.display()
            );
        }
        let (ok, out) = hardgen_check(&spec);
        assert!(!ok, "{}: hardgen check accepted it:\n{out}", spec.display());
    }
}

/// Whether hardgen and the schema accept a value.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    /// Both accept it.
    Valid,
    /// Both reject it.
    Invalid,
    /// hardgen rejects it, the schema cannot tell (a rule that is not a pattern: host bits of
    /// a subnet, root users, dangerous capabilities, sensitive paths...).
    Loose,
}
use Expect::{Invalid, Loose, Valid};

/// The base of every case: valid, and each case changes one key of one table.
const BASE: &[(&str, &[(&str, &str)])] = &[
    (
        "project",
        &[("name", r#""demo""#), ("subnet_pool", r#""10.210.0.0/16""#)],
    ),
    ("defaults", &[]),
    (
        "zones.web",
        &[("egress", "true"), ("subnet", r#""10.210.1.0/24""#)],
    ),
    ("zones.data", &[]),
    ("secrets.db_password", &[]),
    (
        "services.web",
        &[
            ("image", r#""nginx:1.27.0-bookworm""#),
            ("zones", r#"["web"]"#),
            ("ports", r#"["8080"]"#),
            ("secrets", r#"["db_password"]"#),
        ],
    ),
    ("services.web.healthcheck", &[("cmd", r#"["true"]"#)]),
    (
        "services.app",
        &[("zones", r#"["data"]"#), ("expose", r#"["8000"]"#)],
    ),
    (
        "services.app.build",
        &[
            ("runtime", r#""python""#),
            ("version", r#""3.12""#),
            ("command", r#"["python", "-m", "app"]"#),
        ],
    ),
];

/// (table, key, TOML value, expectation).
const CASES: &[(&str, &str, &str, Expect)] = &[
    ("project", "name", r#""a-b""#, Valid),
    ("project", "name", r#""a2345678901234567890""#, Valid),
    ("project", "name", r#""a23456789012345678901""#, Invalid),
    ("project", "name", r#""Demo""#, Invalid),
    ("project", "name", r#""1abc""#, Invalid),
    ("project", "name", r#""a_b""#, Invalid),
    ("project", "subnet_pool", r#""10.0.0.0/8""#, Valid),
    ("project", "subnet_pool", r#""10.210.0.0/016""#, Valid),
    ("project", "subnet_pool", r#""10.210.0.0/25""#, Invalid),
    ("project", "subnet_pool", r#""256.0.0.0/8""#, Invalid),
    ("project", "subnet_pool", r#""010.210.0.0/16""#, Invalid),
    ("project", "subnet_pool", r#""10.210.0.0""#, Invalid),
    ("project", "subnet_pool", r#""10.210.0.0/16 ""#, Invalid),
    ("project", "subnet_pool", r#""10.210.0.1/16""#, Loose),
    ("project", "zone_prefix", "28", Valid),
    ("project", "zone_prefix", "29", Invalid),
    ("project", "zone_prefix", "15", Invalid),
    ("zones.web", "subnet", r#""10.210.1.0/28""#, Valid),
    ("zones.web", "subnet", r#""10.210.1.0/0024""#, Valid),
    ("zones.web", "subnet", r#""10.210.1.0/29""#, Invalid),
    ("zones.web", "subnet", r#""10.210.1.0/24x""#, Invalid),
    ("zones.web", "bridge", r#""br-web""#, Valid),
    ("zones.web", "bridge", r#""a23456789012345""#, Valid),
    ("zones.web", "bridge", r#""a234567890123456""#, Invalid),
    ("zones.web", "bridge", r#""-br""#, Invalid),
    ("zones.web", "bridge", r#""br web""#, Invalid),
    ("zones.web", "bridge", r#""docker0""#, Loose),
    ("defaults", "log_max_size", r#""10M""#, Valid),
    ("defaults", "log_max_size", r#""1G""#, Valid),
    ("defaults", "log_max_size", r#""1k""#, Valid),
    ("defaults", "log_max_size", r#""999999999k""#, Valid),
    ("defaults", "log_max_size", r#""0512m""#, Valid),
    ("defaults", "log_max_size", r#""0m""#, Invalid),
    ("defaults", "log_max_size", r#""512""#, Invalid),
    ("defaults", "log_max_size", r#""1000000000k""#, Invalid),
    ("defaults", "log_max_size", r#""512mb""#, Invalid),
    ("defaults", "log_max_size", r#""m""#, Invalid),
    ("defaults", "log_max_size", r#""1t""#, Invalid),
    ("defaults", "log_max_file", "100", Valid),
    ("defaults", "log_max_file", "0", Invalid),
    ("defaults", "pids", "8", Valid),
    ("defaults", "pids", "0", Invalid),
    ("defaults", "user", r#""1000:1000""#, Valid),
    ("defaults", "user", r#""root""#, Invalid),
    ("defaults", "user", r#""1000""#, Invalid),
    ("defaults", "user", r#""0:0""#, Loose),
    ("defaults", "user", r#""4294967295:1""#, Loose),
    ("defaults", "restart", r#""on-failure:3""#, Valid),
    ("defaults", "restart", r#""on-failure:0""#, Valid),
    ("defaults", "restart", r#""on-failure""#, Valid),
    ("defaults", "restart", r#""no""#, Valid),
    ("defaults", "restart", r#""always""#, Valid),
    ("defaults", "restart", r#""unless-stopped""#, Valid),
    ("defaults", "restart", r#""sometimes""#, Invalid),
    ("defaults", "restart", r#""on-failure:""#, Invalid),
    ("defaults", "restart", r#""on-failure:x""#, Invalid),
    ("defaults", "seccomp", r#""strict""#, Valid),
    ("defaults", "seccomp", r#""lax""#, Invalid),
    ("defaults", "cpus", "0.5", Valid),
    ("defaults", "cpus", "0.001", Invalid),
    ("defaults", "cpus", "2000.0", Invalid),
    ("defaults", "apparmor", r#""docker-default""#, Valid),
    ("defaults", "apparmor", r#""my profile""#, Invalid),
    ("defaults", "apparmor", r#""unconfined""#, Loose),
    ("services.web.healthcheck", "interval", r#""500ms""#, Valid),
    ("services.web.healthcheck", "interval", r#""2m""#, Valid),
    ("services.web.healthcheck", "interval", r#""1h""#, Valid),
    (
        "services.web.healthcheck",
        "interval",
        r#""9999999s""#,
        Valid,
    ),
    ("services.web.healthcheck", "interval", r#""030s""#, Valid),
    ("services.web.healthcheck", "interval", r#""0s""#, Invalid),
    ("services.web.healthcheck", "interval", r#""30""#, Invalid),
    ("services.web.healthcheck", "interval", r#""1d""#, Invalid),
    (
        "services.web.healthcheck",
        "interval",
        r#""10000000s""#,
        Invalid,
    ),
    ("services.web.healthcheck", "interval", r#""s""#, Invalid),
    ("services.web", "ports", r#"["9000:8080"]"#, Valid),
    (
        "services.web",
        "ports",
        r#"["127.0.0.1:9000:8080/udp"]"#,
        Valid,
    ),
    ("services.web", "ports", r#"["0.0.0.0:80:8080"]"#, Valid),
    ("services.web", "ports", r#"["65535"]"#, Valid),
    ("services.web", "ports", r#"["08080"]"#, Valid),
    ("services.web", "ports", r#"["65536"]"#, Invalid),
    ("services.web", "ports", r#"["0"]"#, Invalid),
    ("services.web", "ports", r#"["8080/sctp"]"#, Invalid),
    ("services.web", "ports", r#"["1:2:3:4"]"#, Invalid),
    ("services.web", "ports", r#"["localhost:80:80"]"#, Invalid),
    ("services.web", "ports", r#"["999.1.1.1:80:80"]"#, Invalid),
    ("services.web", "expose", r#"["5432", "53/udp"]"#, Valid),
    ("services.web", "expose", r#"["65536"]"#, Invalid),
    ("services.web", "expose", r#"["53/UDP"]"#, Invalid),
    ("services.web", "volumes", r#"["data:/data"]"#, Valid),
    ("services.web", "volumes", r#"["data.v1:/data/"]"#, Valid),
    (
        "services.web",
        "volumes",
        r#"["./conf:/etc/app:ro"]"#,
        Valid,
    ),
    ("services.web", "volumes", r#"["/srv/x:/x:rw"]"#, Valid),
    ("services.web", "volumes", r#"["data:/data:rx"]"#, Invalid),
    ("services.web", "volumes", r#"["Data:/data"]"#, Invalid),
    ("services.web", "volumes", r#"[".hidden:/x"]"#, Invalid),
    ("services.web", "volumes", r#"["data:relative"]"#, Invalid),
    ("services.web", "volumes", r#"["data:/"]"#, Invalid),
    ("services.web", "volumes", r#"["data:/a//b"]"#, Invalid),
    ("services.web", "volumes", r#"["data:/proc/x"]"#, Loose),
    ("services.web", "volumes", r#"["data:/a/../b"]"#, Loose),
    ("services.web", "volumes", r#"["/etc:/x"]"#, Loose),
    ("services.web", "volumes", r#"["../up:/up"]"#, Invalid),
    ("services.web", "volumes", r#"["./x/../..:/up"]"#, Loose),
    (
        "services.web",
        "tmpfs",
        r#"["/cache", "/spool:16m"]"#,
        Valid,
    ),
    ("services.web", "tmpfs", r#"["/cache:16x"]"#, Invalid),
    ("services.web", "tmpfs", r#"["cache"]"#, Invalid),
    ("services.web", "tmpfs", r#"["/cache:0m"]"#, Invalid),
    (
        "services.web",
        "image",
        r#""registry.local:5000/a/b:1.0""#,
        Valid,
    ),
    ("services.web", "image", r#""nginx:1.27\nx""#, Invalid),
    ("services.web", "image", r#""nginx 1.27""#, Invalid),
    ("services.web", "image", r#""Nginx:1.27""#, Loose),
    ("services.web", "image", r#""nginx:1.27@sha256:abc""#, Loose),
    ("services.web", "cap_add", r#"["CHOWN"]"#, Valid),
    ("services.web", "cap_add", r#"["CAP_CHOWN"]"#, Invalid),
    ("services.web", "cap_add", r#"["chown"]"#, Invalid),
    ("services.web", "cap_add", r#"["SYS_ADMIN"]"#, Loose),
    (
        "services.web",
        "syscalls_allow",
        r#"["io_uring_setup"]"#,
        Valid,
    ),
    ("services.web", "syscalls_deny", r#"["recv"]"#, Invalid),
    (
        "services.web",
        "environment",
        r#"{ LOG_LEVEL = "x", _X = "y" }"#,
        Valid,
    ),
    ("services.web", "environment", r#"{ "1X" = "x" }"#, Invalid),
    ("services.web", "environment", r#"{ "A-B" = "x" }"#, Invalid),
    ("services.web", "description", r#""one line""#, Valid),
    ("services.web", "description", r#""bell\u0007""#, Invalid),
    ("services.web", "description", r#""two\nlines""#, Invalid),
    ("services.web", "description", r#""a\u202Eb""#, Invalid),
    (
        "services.web",
        "description",
        r#""zero\u200Bwidth""#,
        Invalid,
    ),
    ("services.web", "description", r#""Ünïcödé is fine""#, Valid),
    (
        "services.web",
        "unsafe",
        r#"{ reason = "needed", writable_root = true }"#,
        Valid,
    ),
    (
        "services.web",
        "unsafe",
        r#"{ reason = "  ", writable_root = true }"#,
        Invalid,
    ),
    (
        "services.web",
        "unsafe",
        r#"{ reason = "\u200B", writable_root = true }"#,
        Invalid,
    ),
    (
        "services.web",
        "unsafe",
        "{ writable_root = true }",
        Invalid,
    ),
    ("services.web", "memory_reservation", r#""128m""#, Valid),
    ("services.web", "depends_on", r#"["app"]"#, Valid),
    ("services.web", "depends_on", r#"["App"]"#, Invalid),
    ("services.web", "zones", "[]", Invalid),
    ("services.app.build", "runtime", r#""node""#, Valid),
    ("services.app.build", "runtime", r#""pyton""#, Invalid),
    ("services.app.build", "version", r#""3.12-slim""#, Valid),
    ("services.app.build", "version", r#""v3""#, Invalid),
    ("services.app.build", "context", r#""./src/app""#, Valid),
    ("services.app.build", "context", r#""/abs""#, Invalid),
    ("services.app.build", "context", r#""../up""#, Valid),
    ("services.app.build", "context", r#""src/../up""#, Loose),
    (
        "services.app.build",
        "packages",
        r#"["libpq5", "libpq5=15.1-1"]"#,
        Valid,
    ),
    ("services.app.build", "packages", r#"["L"]"#, Invalid),
    ("services.app.build", "packages", r#"["a"]"#, Invalid),
    ("services.app.build", "packages", r#"["libpq5="]"#, Invalid),
    ("services.app.build", "writable_dirs", r#"["/data"]"#, Valid),
    (
        "services.app.build",
        "writable_dirs",
        r#"["data"]"#,
        Invalid,
    ),
    ("services.app.build", "binary", r#""my app""#, Invalid),
    ("services.app.build", "command", "[]", Invalid),
    ("secrets.db_password", "bytes", "16", Valid),
    ("secrets.db_password", "bytes", "8", Invalid),
    ("secrets.db_password", "gid", "2147483647", Valid),
    ("secrets.db_password", "gid", "0", Invalid),
    ("secrets.db_password", "gid", "2147483648", Invalid),
];

fn case_spec(table: &str, key: &str, value: &str) -> String {
    let mut s = format!("#:schema {}\n", file_url(&schema_path()));
    for (t, entries) in BASE {
        s.push_str(&format!("[{t}]\n"));
        for (k, v) in entries.iter().filter(|(k, _)| *t != table || *k != key) {
            s.push_str(&format!("{k} = {v}\n"));
        }
        if *t == table {
            s.push_str(&format!("{key} = {value}\n"));
        }
    }
    s
}

#[test]
fn schema_patterns_agree_with_the_validator() {
    let Some(taplo) = taplo() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("base.toml");
    fs::write(&base, case_spec("", "", "")).unwrap();
    let (ok, out) = hardgen_check(&base);
    assert!(ok, "the base spec is invalid:\n{out}");
    let (ok, out) = taplo_check(&taplo, &base);
    assert!(ok, "taplo rejects the base spec:\n{out}");

    // Every case in its own file, all checked by one taplo run per batch would hide which
    // file failed in the output's order; one run per file is clear and fast enough.
    let mut wrong = Vec::new();
    for (i, (table, key, value, expect)) in CASES.iter().enumerate() {
        let file = tmp.path().join(format!("case-{i}.toml"));
        fs::write(&file, case_spec(table, key, value)).unwrap();
        let (hardgen_ok, hardgen_out) = hardgen_check(&file);
        let (taplo_ok, taplo_out) = taplo_check(&taplo, &file);
        let want = (*expect == Valid, *expect != Invalid);
        if (hardgen_ok, taplo_ok) != want {
            let errors = |out: &str| {
                out.lines()
                    .filter(|l| l.starts_with("error"))
                    .map(|l| l.chars().take(160).collect::<String>())
                    .collect::<Vec<_>>()
                    .join(" | ")
            };
            wrong.push(format!(
                "[{table}] {key} = {value}: expected {expect:?}, hardgen {}, schema {}\n    hardgen: {}\n    taplo: {}",
                if hardgen_ok { "accepts" } else { "rejects" },
                if taplo_ok { "accepts" } else { "rejects" },
                errors(&hardgen_out),
                errors(&taplo_out),
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "schema and validator disagree (fix the pattern in src/spec.rs `mod schema`, or the table if the validator changed on purpose):\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_starter_spec_is_valid() {
    let text = init::starter_spec();
    assert!(text.starts_with("#:schema ./hardgen.schema.json\n"));
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("hardgen.toml");
    fs::write(&spec, &text).unwrap();
    fs::copy(schema_path(), tmp.path().join(init::SCHEMA_FILE)).unwrap();
    let (ok, out) = hardgen_check(&spec);
    assert!(ok, "hardgen check rejects the starter spec:\n{out}");
    assert!(!out.contains("error"), "{out}");
    if let Some(taplo) = taplo() {
        let (ok, out) = taplo_check(&taplo, &spec);
        assert!(ok, "taplo check rejects the starter spec:\n{out}");
    }
}

#[test]
fn hardgen_init_writes_a_valid_spec_and_its_schema() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("My Shop");
    let init = |args: &[&str]| {
        run_bounded(
            Command::new(env!("CARGO_BIN_EXE_hardgen"))
                .arg("init")
                .args(args)
                .current_dir(tmp.path()),
            Duration::from_secs(60),
        )
    };
    let (ok, out) = init(&["My Shop/"]);
    assert!(
        ok,
        "hardgen init failed (is it wired in cli.rs/main.rs?):\n{out}"
    );
    let spec = dir.join("hardgen.toml");
    let text = fs::read_to_string(&spec).unwrap();
    assert_eq!(text, init::starter_spec_for("my-shop"));
    assert_eq!(
        fs::read(dir.join("hardgen.schema.json")).unwrap(),
        fs::read(schema_path()).unwrap(),
        "the schema written next to the spec is not `hardgen schema`"
    );
    let (ok, out) = hardgen_check(&spec);
    assert!(ok, "{out}");
    if let Some(taplo) = taplo() {
        let (ok, out) = taplo_check(&taplo, &spec);
        assert!(ok, "{out}");
    }

    // Never overwrites without --force; --force restores the starter.
    fs::write(&spec, "#:schema ./hardgen.schema.json\n# mine\n").unwrap();
    let (ok, out) = init(&["My Shop"]);
    assert!(!ok && out.contains("already exists"), "{out}");
    assert!(fs::read_to_string(&spec).unwrap().contains("# mine"));
    let (ok, out) = init(&["--force", "My Shop/hardgen.toml"]);
    assert!(ok, "{out}");
    assert_eq!(fs::read_to_string(&spec).unwrap(), text);

    // A second spec in the same directory shares the schema; a foreign file of that name
    // is left alone.
    let (ok, out) = init(&["My Shop/web.toml"]);
    assert!(ok && out.contains("kept"), "{out}");
    let other = tmp.path().join("other");
    fs::create_dir(&other).unwrap();
    fs::write(other.join("hardgen.schema.json"), "{}").unwrap();
    let (ok, out) = init(&["other"]);
    assert!(!ok && out.contains("not a hardgen schema"), "{out}");
    assert!(!other.join("hardgen.toml").exists());
}

// ---------------------------------------------------------------- language server

/// How long any one exchange with the server may take.
const LSP_TIMEOUT: Duration = Duration::from_secs(30);

/// A language-server session over stdio (Content-Length framing), answering the server's
/// own requests like an editor. Killed when dropped.
struct Lsp {
    child: Child,
    stdin: ChildStdin,
    rx: mpsc::Receiver<Value>,
    next_id: i64,
    stderr: PathBuf,
    /// `textDocument/publishDiagnostics` parameters, as they came.
    diagnostics: Vec<Value>,
    /// Whether the server asked for the editor's settings (and got them).
    configured: bool,
}

impl Drop for Lsp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Lsp {
    fn start(taplo: &Path, workspace: &Path) -> Lsp {
        let stderr = workspace.join("taplo-lsp.log");
        // Any download attempt fails at once (and is logged): see `no_download_attempted`.
        let mut child = Command::new(taplo)
            .args(["lsp", "stdio"])
            .current_dir(workspace)
            .env("HTTP_PROXY", "http://127.0.0.1:9")
            .env("HTTPS_PROXY", "http://127.0.0.1:9")
            .env("ALL_PROXY", "http://127.0.0.1:9")
            .env("NO_PROXY", "")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("start taplo lsp stdio");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            loop {
                let mut len = None;
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':') {
                        if k.eq_ignore_ascii_case("content-length") {
                            len = v.trim().parse::<usize>().ok();
                        }
                    }
                }
                let Some(len) = len else { return };
                let mut body = vec![0; len];
                if r.read_exact(&mut body).is_err() {
                    return;
                }
                match serde_json::from_slice(&body) {
                    Ok(v) => {
                        if tx.send(v).is_err() {
                            return;
                        }
                    }
                    Err(_) => return,
                }
            }
        });
        let mut lsp = Lsp {
            child,
            stdin,
            rx,
            next_id: 0,
            stderr,
            diagnostics: Vec::new(),
            configured: false,
        };
        // No workspace folders: taplo would set each one up with its default settings during
        // `initialize`, which fetches the public schema catalog before it ever asks for the
        // editor's settings. The documents then live in taplo's "detached" workspace, set up
        // after `initialized` with the settings answered to `workspace/configuration`.
        lsp.request(
            "initialize",
            json!({
                "processId": std::process::id(),
                "rootUri": null,
                "capabilities": {
                    "workspace": { "configuration": true },
                    "textDocument": {
                        "completion": { "completionItem": { "snippetSupport": true } },
                        "hover": { "contentFormat": ["markdown", "plaintext"] },
                        "publishDiagnostics": {}
                    }
                }
            }),
        );
        lsp.notify("initialized", json!({}));
        // `initialized` makes the server ask for the settings; it applies them holding the
        // lock on its workspaces, which any document request waits for. So: wait for the
        // question, answer it, then make one such request before opening documents, or a
        // document opened meanwhile could be set up with the defaults and lose its schema.
        let deadline = Instant::now() + LSP_TIMEOUT;
        while !lsp.configured {
            let msg = lsp.next(deadline, "workspace/configuration");
            lsp.handle(msg);
        }
        let nowhere = file_url(&workspace.join("not-open.toml"));
        lsp.request(
            "textDocument/hover",
            json!({
                "textDocument": { "uri": nowhere },
                "position": { "line": 0, "character": 0 }
            }),
        );
        lsp
    }

    fn send(&mut self, msg: Value) {
        let body = serde_json::to_vec(&msg).unwrap();
        write!(self.stdin, "Content-Length: {}\r\n\r\n", body.len()).unwrap();
        self.stdin.write_all(&body).unwrap();
        self.stdin.flush().unwrap();
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    /// The next message from the server, within the time left before `deadline`.
    fn next(&mut self, deadline: Instant, waiting_for: &str) -> Value {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.rx.recv_timeout(left) {
            Ok(v) => v,
            Err(e) => panic!(
                "taplo lsp: no answer ({e:?}) while waiting for {waiting_for}; its log:\n{}",
                fs::read_to_string(&self.stderr).unwrap_or_default()
            ),
        }
    }

    /// Handle what the server sends by itself: its requests get an editor's answers, its
    /// diagnostics are kept.
    fn handle(&mut self, msg: Value) {
        let Some(method) = msg["method"].as_str().map(str::to_owned) else {
            return;
        };
        if let Some(id) = msg.get("id").cloned() {
            let result = match method.as_str() {
                // The editor's settings (section `evenBetterToml`), one per item asked. No
                // catalogs: the server must never try to download the public schema catalog.
                "workspace/configuration" => {
                    self.configured = true;
                    let n = msg["params"]["items"].as_array().map_or(1, Vec::len);
                    Value::Array(vec![
                        json!({ "schema": { "enabled": true, "catalogs": [] } });
                        n
                    ])
                }
                _ => Value::Null,
            };
            self.send(json!({ "jsonrpc": "2.0", "id": id, "result": result }));
        } else if method == "textDocument/publishDiagnostics" {
            self.diagnostics.push(msg["params"].clone());
        }
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        let deadline = Instant::now() + LSP_TIMEOUT;
        loop {
            let msg = self.next(deadline, method);
            if msg.get("method").is_none() && msg["id"] == json!(id) {
                assert!(
                    msg.get("error").is_none(),
                    "{method} failed: {}",
                    msg["error"]
                );
                return msg["result"].clone();
            }
            self.handle(msg);
        }
    }

    /// Open a document, and check that the server associates it with the schema its
    /// `#:schema` line names (`schema`). The request also orders what follows after the
    /// document is set up.
    fn open(&mut self, path: &Path, text: &str, schema: &Path) -> String {
        let uri = file_url(path);
        self.notify(
            "textDocument/didOpen",
            json!({ "textDocument": {
                "uri": uri, "languageId": "toml", "version": 1, "text": text
            }}),
        );
        let associated = self.request("taplo/associatedSchema", json!({ "documentUri": uri }));
        assert_eq!(
            associated["schema"]["url"],
            json!(file_url(schema)),
            "{uri}: the server did not take the `#:schema` line: {associated}"
        );
        uri
    }

    /// The labels and documentation of the completion items at `pos`.
    fn complete(&mut self, uri: &str, pos: (usize, usize)) -> Vec<(String, String)> {
        let result = self.request(
            "textDocument/completion",
            json!({
                "textDocument": { "uri": uri },
                "position": { "line": pos.0, "character": pos.1 }
            }),
        );
        let items = match &result {
            Value::Array(a) => a.clone(),
            Value::Object(o) => o["items"].as_array().cloned().unwrap_or_default(),
            _ => Vec::new(),
        };
        items
            .iter()
            .map(|i| {
                let doc = match &i["documentation"] {
                    Value::String(s) => s.clone(),
                    d => d["value"].as_str().unwrap_or("").to_string(),
                };
                (i["label"].as_str().unwrap_or("").to_string(), doc)
            })
            .collect()
    }

    fn hover(&mut self, uri: &str, pos: (usize, usize)) -> String {
        let r = self.request(
            "textDocument/hover",
            json!({
                "textDocument": { "uri": uri },
                "position": { "line": pos.0, "character": pos.1 }
            }),
        );
        match &r["contents"] {
            Value::String(s) => s.clone(),
            c => c["value"].as_str().unwrap_or("").to_string(),
        }
    }

    /// The messages of the first diagnostics published for `uri` that satisfy `done`.
    fn diagnostics_for(&mut self, uri: &str, done: impl Fn(&[String]) -> bool) -> Vec<String> {
        let deadline = Instant::now() + LSP_TIMEOUT;
        let mut seen = 0;
        loop {
            for d in &self.diagnostics[seen..] {
                if d["uri"] == json!(uri) {
                    let messages: Vec<String> = d["diagnostics"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|x| x["message"].as_str().unwrap_or("").to_string())
                        .collect();
                    if done(&messages) {
                        return messages;
                    }
                }
            }
            seen = self.diagnostics.len();
            let msg = self.next(deadline, "textDocument/publishDiagnostics");
            self.handle(msg);
        }
    }

    /// The server tried no download (schema catalogs): its log shows every attempt, since
    /// the proxy it is given refuses all connections.
    fn no_download_attempted(&self) {
        let log = fs::read_to_string(&self.stderr).unwrap_or_default();
        assert!(
            !log.contains("fetch") && !log.contains("error sending request"),
            "taplo lsp tried to download something:\n{log}"
        );
    }

    fn shutdown(mut self) {
        self.request("shutdown", Value::Null);
        self.notify("exit", Value::Null);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        // Drop kills it.
    }
}

/// A document with cursor marks `‸`: the text without them, and their (line, UTF-16 column)
/// positions in order.
fn with_cursors(marked: &str) -> (String, Vec<(usize, usize)>) {
    let mut text = String::new();
    let mut cursors = Vec::new();
    for (line_no, line) in marked.split('\n').enumerate() {
        if line_no > 0 {
            text.push('\n');
        }
        let mut col = 0;
        for c in line.chars() {
            if c == '‸' {
                cursors.push((line_no, col));
            } else {
                text.push(c);
                col += c.len_utf16();
            }
        }
    }
    (text, cursors)
}

fn labels(items: &[(String, String)]) -> Vec<&str> {
    items.iter().map(|(l, _)| l.as_str()).collect()
}

fn doc_of<'a>(items: &'a [(String, String)], label: &str) -> &'a str {
    &items
        .iter()
        .find(|(l, _)| l == label)
        .unwrap_or_else(|| panic!("no completion `{label}` in {:?}", labels(items)))
        .1
}

fn description(schema: &Value, pointer: &str) -> String {
    schema
        .pointer(pointer)
        .and_then(|d| d["description"].as_str())
        .unwrap_or_else(|| panic!("no description at {pointer}"))
        .to_string()
}

#[test]
fn the_language_server_completes_and_documents_a_spec() {
    let Some(taplo) = taplo_lsp() else { return };
    let schema = schema();
    let service = "/definitions/RawService/properties";
    let tmp = tempfile::tempdir().unwrap();
    let mut lsp = Lsp::start(&taplo, tmp.path());

    // 1. The schema by absolute file URL, as in `#:schema file:///.../hardgen.schema.json`.
    // Keys and hover on a well-formed document (the cursors are on empty lines)...
    let (text, c) = with_cursors(&format!(
        r#"#:schema {url}
[project]
na‸me = "demo"

[zones.web]
egr‸ess = true

[services.fresh]
‸

[services.web]
im‸age = "nginx:1.27.0-bookworm"
zones = ["web"]
‸
seccomp = "strict"
cap_add = ["CHOWN"]
"#,
        url = file_url(&schema_path())
    ));
    let uri = lsp.open(&tmp.path().join("keys.toml"), &text, &schema_path());

    // Keys of a service: all of them in a new table...
    let fresh = lsp.complete(&uri, c[2]);
    for key in [
        "image",
        "build",
        "zones",
        "cap_add",
        "seccomp",
        "healthcheck",
        "unsafe",
    ] {
        assert!(
            labels(&fresh).contains(&key),
            "{key} not offered: {:?}",
            labels(&fresh)
        );
    }
    assert!(
        !labels(&fresh).contains(&"name"),
        "project keys offered in a service"
    );
    assert_eq!(
        doc_of(&fresh, "cap_add"),
        description(&schema, &format!("{service}/cap_add"))
    );
    // ...and only those not written yet in a table that has some (below the cursor too).
    let web = lsp.complete(&uri, c[4]);
    for key in ["build", "memory", "ports", "healthcheck", "user", "restart"] {
        assert!(
            labels(&web).contains(&key),
            "{key} not offered: {:?}",
            labels(&web)
        );
    }
    for written in ["image", "zones", "seccomp", "cap_add"] {
        assert!(
            !labels(&web).contains(&written),
            "`{written}` is already written but offered: {:?}",
            labels(&web)
        );
    }

    // Hover: the schema's description of the key.
    assert_eq!(
        lsp.hover(&uri, c[3]),
        description(&schema, &format!("{service}/image"))
    );
    assert_eq!(
        lsp.hover(&uri, c[0]),
        description(&schema, "/properties/project/properties/name")
    );
    assert_eq!(
        lsp.hover(&uri, c[1]),
        description(&schema, "/definitions/RawZone/properties/egress")
    );

    // ...and values of enumerations while they are being typed, each value with its own
    // documentation.
    let (text, c) = with_cursors(&format!(
        r#"#:schema {url}
[project]
name = "demo"

[services.web]
image = "nginx:1.27.0-bookworm"
seccomp = ‸
restart = "‸"
cap_add = ["CHOWN", ‸]
build = {{ runtime = "‸" }}
"#,
        url = file_url(&schema_path())
    ));
    let uri = lsp.open(&tmp.path().join("values.toml"), &text, &schema_path());
    let seccomp = lsp.complete(&uri, c[0]);
    assert_eq!(
        labels(&seccomp),
        [r#""baseline""#, r#""strict""#, r#""learned""#]
    );
    assert!(doc_of(&seccomp, r#""strict""#).starts_with("Allowlist of what services"));
    let restart = lsp.complete(&uri, c[1]);
    for policy in [
        "on-failure:5",
        "on-failure",
        "unless-stopped",
        "always",
        "no",
    ] {
        assert!(
            labels(&restart).contains(&format!("\"{policy}\"").as_str()),
            "{policy}: {:?}",
            labels(&restart)
        );
    }
    let caps = lsp.complete(&uri, c[2]);
    assert!(
        labels(&caps).contains(&r#""NET_BIND_SERVICE""#),
        "{:?}",
        labels(&caps)
    );
    assert!(doc_of(&caps, r#""SYS_ADMIN""#).contains("dangerous"));
    let runtime = lsp.complete(&uri, c[3]);
    assert_eq!(
        labels(&runtime),
        [
            r#""python""#,
            r#""node""#,
            r#""go""#,
            r#""rust""#,
            r#""static""#
        ]
    );
    assert!(doc_of(&runtime, r#""go""#).contains("distroless"));

    // 2. The layout `hardgen init` writes: `#:schema ./hardgen.schema.json`, the schema next
    // to the spec. The starter is clean; a wrong value is reported while typing.
    let project = tmp.path().join("project");
    fs::create_dir(&project).unwrap();
    fs::copy(schema_path(), project.join(init::SCHEMA_FILE)).unwrap();
    let starter = init::starter_spec();
    let local_schema = project.join(init::SCHEMA_FILE);
    let starter_uri = lsp.open(&project.join("hardgen.toml"), &starter, &local_schema);
    let line = starter
        .lines()
        .position(|l| l.starts_with("egress"))
        .unwrap();
    assert_eq!(
        lsp.hover(&starter_uri, (line, 1)),
        description(&schema, "/definitions/RawZone/properties/egress")
    );

    let wrong = starter.replace("memory = \"512m\"", "memory = \"512MB\"\nseccomp = \"lax\"");
    let wrong_uri = lsp.open(&project.join("wrong.toml"), &wrong, &local_schema);
    let messages = lsp.diagnostics_for(&wrong_uri, |m| m.len() >= 2);
    assert!(
        messages
            .iter()
            .any(|m| m.contains(r#""lax" is not one of ["baseline","strict","learned"]"#)),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with(r#""512MB" does not match"#)),
        "{messages:?}"
    );
    // The starter, opened first, was checked by now: nothing to report on it.
    let starter: Vec<&Value> = lsp
        .diagnostics
        .iter()
        .filter(|d| d["uri"] == json!(starter_uri))
        .collect();
    assert!(
        !starter.is_empty(),
        "no diagnostics published for the starter spec"
    );
    for d in starter {
        assert_eq!(
            d["diagnostics"],
            json!([]),
            "diagnostics on the starter spec"
        );
    }

    lsp.no_download_attempted();
    lsp.shutdown();
}
