//! `hardgen audit` and `hardgen import` on the corpus of compose files in tests/compose/ (one
//! directory per stack; `args` lists the files and options when it is not `compose.yml`):
//! audit and import goldens, every imported spec built and checked by the real validators,
//! the audit of every deployment hardgen generates clean, SARIF against the 2.1.0 schema,
//! exit codes, bad input with file:line:col, and credential values kept out of the spec.
//!
//! Goldens are rewritten with `UPDATE_GOLDEN=1 cargo test --test compose_corpus` (never in CI).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::{run_tool as run, sbin_tool, tool};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn hardgen(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hardgen"))
        .args(args)
        .current_dir(root())
        // Interpolation reads the environment: keep the corpus independent of the caller's.
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .expect("run hardgen")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn check_golden(path: &Path, got: &str) {
    if std::env::var_os("UPDATE_GOLDEN").is_some() && std::env::var_os("CI").is_none() {
        fs::write(path, got).unwrap();
        return;
    }
    let want = fs::read_to_string(path).unwrap_or_default();
    if want != got {
        let diff = similar::TextDiff::from_lines(want.as_str(), got)
            .unified_diff()
            .header(&path.display().to_string(), "got")
            .to_string();
        panic!("{} differs:\n{diff}", path.display());
    }
}

/// Every stack of the corpus: (name, arguments: files relative to the repository and options).
fn corpus() -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let dir = root().join("tests/compose");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| dir.join(n).join("compose.yml").is_file())
        .collect();
    names.sort();
    for n in names {
        let args =
            fs::read_to_string(dir.join(&n).join("args")).unwrap_or_else(|_| "compose.yml".into());
        let args = args
            .split_whitespace()
            .map(|a| {
                if a.starts_with('-') || !dir.join(&n).join(a).is_file() {
                    a.to_string()
                } else {
                    format!("tests/compose/{n}/{a}")
                }
            })
            .collect();
        out.push((n, args));
    }
    out
}

/// Credential values of the corpus: none may appear in an imported spec.
const VALUES: &[&str] = &[
    "django-db-pass",
    "s3cr3t-k3y-for-dev",
    "mongo-pass",
    "somewordpress",
    "rails-dev",
    "gitea-pass",
    "rabbit-pass",
    "elastic-pass",
    "kibana-pass",
    "minio-secret-pass",
    "argon2id",
    "pihole-admin",
    "base-token",
    "prod-token",
    "interp-secret",
    "jupyter-token-123",
    "go-api-pass",
    "rust-redis-pass",
    "example-root",
    "ghost-db-pass",
    "grafana-admin",
    "admin-from-dotenv",
    "abcdef0123456789",
    "nextcloud-db-secret",
];

#[test]
fn corpus_has_the_stacks_the_issue_asks_for() {
    let c = corpus();
    assert!(c.len() >= 25, "{} stacks", c.len());
}

#[test]
fn audit_and_import_goldens() {
    let mut failures = Vec::new();
    for (name, args) in corpus() {
        let dir = root().join("tests/compose").join(&name);
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut audit = vec!["audit", "--format", "json"];
        audit.extend(&a);
        let o = hardgen(&audit);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{name}: audit: {}",
            text(&o.stderr)
        );
        check_golden(&dir.join("audit.json"), &text(&o.stdout));

        // Build contexts are written relative to the spec: the spec goes to a fixed place of
        // the repository (two levels down), so the goldens are the same on every machine
        // (`../../tests/compose/<name>/app`).
        let spec = root()
            .join("target/compose-corpus")
            .join(format!("{name}.toml"));
        fs::create_dir_all(spec.parent().unwrap()).unwrap();
        let _ = fs::remove_file(&spec);
        let mut import = vec!["import", "--out", spec.to_str().unwrap()];
        import.extend(&a);
        let o = hardgen(&import);
        match o.status.code() {
            Some(0) => {
                let got = fs::read_to_string(&spec).unwrap();
                for v in VALUES {
                    assert!(
                        !got.contains(v),
                        "{name}: the credential `{v}` is in the imported spec"
                    );
                }
                check_golden(&dir.join("import.toml"), &got);
                check_golden(&dir.join("import.posture"), &text(&o.stdout));
                // The count import prints is every `TODO:` note of the spec (the header names
                // the marker once, in backquotes).
                let notes = got.matches("TODO:").count() - got.matches("`# TODO:`").count();
                let todos = if notes == 1 { "TODO" } else { "TODOs" };
                let said = format!("({notes} {todos} to review)");
                assert!(
                    text(&o.stderr).contains(&said),
                    "{name}: import did not say {said}:\n{}",
                    text(&o.stderr)
                );
                assert!(
                    !dir.join("import.stderr").exists(),
                    "{name}: stale import.stderr"
                );
            }
            Some(2) => {
                assert!(!spec.exists(), "{name}: import failed but wrote the spec");
                check_golden(&dir.join("import.stderr"), &text(&o.stderr));
                if !dir.join("import.toml").exists() {
                    continue;
                }
                failures.push(format!("{name}: import failed:\n{}", text(&o.stderr)));
            }
            c => panic!("{name}: import exit {c:?}: {}", text(&o.stderr)),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every imported spec builds, and its output passes the validators the suite runs on the
/// examples' goldens.
#[test]
fn imported_specs_build_and_validate() {
    let tmp = tempfile::tempdir().unwrap();
    let compose = tool("docker-compose");
    let hadolint = tool("hadolint");
    let shellcheck = tool("shellcheck");
    let iptables = sbin_tool("iptables-restore");
    let nft = sbin_tool("nft");
    let taplo = tool("taplo");
    let mut built = 0;
    for (name, _) in corpus() {
        let spec = root().join("tests/compose").join(&name).join("import.toml");
        if !spec.exists() {
            continue;
        }
        // The spec as import wrote it, under the name it was written with.
        let copy = tmp.path().join(format!("{name}.toml"));
        fs::copy(&spec, &copy).unwrap();
        let out = tmp.path().join(&name);
        let o = hardgen(&[
            "build",
            copy.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(
            o.status.success(),
            "{name}: build failed:\n{}",
            text(&o.stderr)
        );
        built += 1;
        if let Some(c) = &compose {
            let (ok, msg) = run(Command::new(c)
                .arg("-f")
                .arg(out.join("docker-compose.yml"))
                .args(["config", "-q"]));
            assert!(ok, "{name}: docker compose config:\n{msg}");
        }
        if let Some(h) = &hadolint {
            for e in fs::read_dir(out.join("dockerfiles")).into_iter().flatten() {
                let p = e.unwrap().path();
                if p.extension().is_some_and(|x| x == "Dockerfile") {
                    let (ok, msg) = run(Command::new(h)
                        .args(["--no-color", "--failure-threshold", "info", "--config"])
                        .arg(root().join(".hadolint.yaml"))
                        .arg(&p));
                    assert!(
                        ok && msg.trim().is_empty(),
                        "{name}: hadolint {}:\n{msg}",
                        p.display()
                    );
                }
            }
        }
        if let Some(s) = &shellcheck {
            let scripts: Vec<PathBuf> = fs::read_dir(out.join("scripts"))
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            let (ok, msg) = run(Command::new(s).arg("--severity=style").args(&scripts));
            assert!(ok, "{name}: shellcheck:\n{msg}");
        }
        if let Some(ipt) = &iptables {
            let (ok, msg) = run(Command::new("unshare")
                .arg("-n")
                .arg(ipt)
                .args(["--test", "--noflush"])
                .arg(out.join("firewall/iptables.rules")));
            assert!(ok, "{name}: iptables-restore --test:\n{msg}");
        }
        if let Some(nft) = &nft {
            // In a throw-away network namespace: the check never touches the host's ruleset.
            let (ok, msg) = run(Command::new("unshare")
                .arg("-n")
                .arg(nft)
                .args(["-c", "-f"])
                .arg(out.join("firewall/nftables.nft")));
            assert!(ok, "{name}: nft -c:\n{msg}");
        }
        if let Some(taplo) = &taplo {
            // The spec import wrote is TOML that the editors' parser reads too.
            let (ok, msg) = run(Command::new(taplo)
                .args(["check", "--colors", "never"])
                .arg(&spec));
            assert!(ok, "{name}: taplo check:\n{msg}");
        }
    }
    assert!(built >= 25, "only {built} imported specs");
}

/// `hardgen audit` on every deployment hardgen generates (every example, every target with a
/// compose or stack file) reports nothing above info.
#[test]
fn audit_of_generated_deployments_is_clean() {
    let tmp = tempfile::tempdir().unwrap();
    let mut n = 0;
    let mut examples: Vec<String> = fs::read_dir(root().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    examples.sort();
    for example in &examples {
        for (target, file) in [
            ("compose", "docker-compose.yml"),
            ("swarm", "docker-stack.yml"),
        ] {
            let out = tmp.path().join(format!("{example}-{target}"));
            let spec = format!("examples/{example}.toml");
            let o = hardgen(&[
                "build",
                &spec,
                "--target",
                target,
                "--out",
                out.to_str().unwrap(),
            ]);
            assert!(o.status.success(), "{}", text(&o.stderr));
            let f = out.join(file);
            let o = hardgen(&[
                "audit",
                "--format",
                "json",
                "--fail-on",
                "low",
                f.to_str().unwrap(),
            ]);
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            let above: Vec<&serde_json::Value> = v["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["severity"] != "info")
                .collect();
            assert!(above.is_empty(), "{example} {target}: {above:#?}");
            assert_eq!(o.status.code(), Some(0));
            assert_eq!(v["score"], 100);
            assert_eq!(v["target"], target);
            n += 1;
        }
    }
    assert_eq!(n, 2 * examples.len());
    assert!(examples.len() >= 2);
}

#[test]
fn sarif_is_valid_sarif_2_1_0() {
    let o = hardgen(&[
        "audit",
        "--format",
        "sarif",
        "tests/compose/traefik-whoami/compose.yml",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // The properties the schema requires, checked here whether or not a validator exists.
    assert_eq!(v["version"], "2.1.0");
    let run0 = &v["runs"][0];
    assert_eq!(run0["tool"]["driver"]["name"], "hardgen");
    let rules = run0["tool"]["driver"]["rules"].as_array().unwrap();
    let results = run0["results"].as_array().unwrap();
    assert!(!results.is_empty());
    for r in results {
        let idx = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[idx]["id"], r["ruleId"]);
        assert!(r["message"]["text"].as_str().is_some_and(|t| !t.is_empty()));
        let loc = &r["locations"][0]["physicalLocation"];
        assert_eq!(
            loc["artifactLocation"]["uri"],
            "tests/compose/traefik-whoami/compose.yml"
        );
        assert!(loc["region"]["startLine"].as_u64().unwrap() >= 1);
        assert!(loc["region"]["startColumn"].as_u64().unwrap() >= 1);
    }
    // The docker socket finding points at the volume's line and column.
    let sock = results
        .iter()
        .find(|r| r["ruleId"] == "docker-socket")
        .unwrap();
    assert_eq!(
        sock["locations"][0]["physicalLocation"]["region"]["startLine"],
        12
    );
    assert_eq!(
        sock["locations"][0]["physicalLocation"]["region"]["startColumn"],
        9
    );
    // And against the OASIS schema (tests/sarif/), with Python's jsonschema from the tools venv.
    let py = root().join(".tools/venv/bin/python");
    if !py.exists() {
        assert!(
            std::env::var_os("HARDGEN_REQUIRE_TOOLS").is_none(),
            "the tools venv is required (HARDGEN_REQUIRE_TOOLS is set)"
        );
        eprintln!("skipped: schema validation (no .tools/venv)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let doc = tmp.path().join("out.sarif");
    fs::write(&doc, &o.stdout).unwrap();
    let check = "import json, sys, jsonschema\n\
        schema = json.load(open(sys.argv[1]))\n\
        doc = json.load(open(sys.argv[2]))\n\
        jsonschema.Draft4Validator(schema).validate(doc)\n\
        bad = dict(doc); bad['runs'] = [{'results': []}]\n\
        assert not jsonschema.Draft4Validator(schema).is_valid(bad)\n\
        print('ok')\n";
    let (ok, msg) = run(Command::new(&py)
        .args(["-c", check])
        .arg(root().join("tests/sarif/sarif-schema-2.1.0.json"))
        .arg(&doc));
    assert!(ok && msg.trim() == "ok", "SARIF does not validate:\n{msg}");
}

#[test]
fn human_and_markdown_formats() {
    let o = hardgen(&[
        "audit",
        "--color",
        "never",
        "tests/compose/overrides/compose.yml",
        "tests/compose/overrides/compose.override.yml",
        "tests/compose/overrides/compose.prod.yml",
    ]);
    check_golden(
        &root().join("tests/compose/overrides/audit.txt"),
        &text(&o.stdout),
    );
    assert!(!text(&o.stdout).contains('\x1b'));
    let o = hardgen(&[
        "audit",
        "--color",
        "always",
        "tests/compose/overrides/compose.yml",
    ]);
    assert!(text(&o.stdout).contains("\x1b["));
    let o = hardgen(&[
        "audit",
        "--format",
        "markdown",
        "tests/compose/wordpress-mysql/compose.yml",
    ]);
    check_golden(
        &root().join("tests/compose/wordpress-mysql/audit.md"),
        &text(&o.stdout),
    );
}

#[test]
fn findings_name_the_override_file_the_value_came_from() {
    let o = hardgen(&[
        "audit",
        "--format",
        "json",
        "tests/compose/overrides/compose.yml",
        "tests/compose/overrides/compose.override.yml",
        "tests/compose/overrides/compose.prod.yml",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "secret-in-env")
        .unwrap();
    assert_eq!(f["file"], "tests/compose/overrides/compose.prod.yml");
    assert_eq!(
        (f["line"].as_u64(), f["column"].as_u64()),
        (Some(8), Some(18))
    );
    // The ports were replaced (`!override`): only the prod file's port is left.
    let ports: Vec<&serde_json::Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "port-all-addresses")
        .collect();
    assert!(ports.is_empty(), "{ports:?}");
}

#[test]
fn exit_codes() {
    let f = "tests/compose/traefik-whoami/compose.yml";
    assert_eq!(hardgen(&["audit", f]).status.code(), Some(0));
    assert_eq!(
        hardgen(&["audit", "--fail-on", "critical", f])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        hardgen(&["audit", "--fail-under", "50", f]).status.code(),
        Some(1)
    );
    assert_eq!(
        hardgen(&["audit", "--fail-under", "10", f]).status.code(),
        Some(0)
    );
    let clean = "tests/compose/already-hardened/compose.yml";
    assert_eq!(
        hardgen(&["audit", "--fail-on", "low", clean]).status.code(),
        Some(0)
    );
    let o = hardgen(&["audit", "tests/compose/no-such.yml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("tests/compose/no-such.yml:1:1: cannot read compose file"));
    assert_eq!(
        hardgen(&["audit", "--fail-under", "101", f]).status.code(),
        Some(2)
    );
}

/// Bad compose files: exit 2, the place and what is wrong (tests/compose-bad/*.yml with the
/// expected *.stderr), for audit and import alike, and nothing written.
#[test]
fn bad_compose_files_name_file_line_and_column() {
    let dir = root().join("tests/compose-bad");
    let mut names: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "yml")
                && !p.file_name().unwrap().to_string_lossy().starts_with('_')
        })
        .collect();
    names.sort();
    assert!(names.len() >= 8);
    let tmp = tempfile::tempdir().unwrap();
    for p in names {
        let rel = p
            .strip_prefix(root())
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let o = hardgen(&["audit", &rel]);
        assert_eq!(o.status.code(), Some(2), "{rel}: {}", text(&o.stdout));
        assert!(o.stdout.is_empty());
        check_golden(&p.with_extension("stderr"), &text(&o.stderr));
        let spec = tmp.path().join("x.toml");
        let o2 = hardgen(&["import", &rel, "--out", spec.to_str().unwrap()]);
        assert_eq!(o2.status.code(), Some(2));
        assert_eq!(
            text(&o2.stderr),
            text(&o.stderr),
            "{rel}: import and audit disagree"
        );
        assert!(!spec.exists());
    }
}

#[test]
fn keep_secret_values_writes_them_beside_the_deployment_mode_600() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("wp.toml");
    let o = Command::new(env!("CARGO_BIN_EXE_hardgen"))
        .args(["import", "--keep-secret-values", "--out", "wp.toml"])
        .arg(root().join("tests/compose/wordpress-mysql/compose.yml"))
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let dir = tmp.path().join("deploy/wp/secrets");
    use std::os::unix::fs::PermissionsExt;
    let f = dir.join("mysql_root_password");
    assert_eq!(fs::read_to_string(&f).unwrap(), "somewordpress");
    assert_eq!(
        fs::metadata(&f).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(fs::read_to_string(dir.join(".gitignore")).unwrap(), "*\n");
    assert!(!fs::read_to_string(&spec).unwrap().contains("somewordpress"));
    // Without --force an existing spec is kept.
    let o = Command::new(env!("CARGO_BIN_EXE_hardgen"))
        .args(["import", "--out", "wp.toml"])
        .arg(root().join("tests/compose/wordpress-mysql/compose.yml"))
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}
