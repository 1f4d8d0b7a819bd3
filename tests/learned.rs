//! Learned seccomp profiles, the pinned half (no engine): `seccomp = "learned"` builds from
//! `seccomp/learned/<service>.json`, `check` refuses a missing file (E060, tests/bad), the
//! posture review names added and removed syscalls, the compliance report sizes each profile.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn hardgen(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hardgen"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run hardgen")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json")
}

fn names(rule: &serde_json::Value) -> Vec<String> {
    rule["names"]
        .as_array()
        .expect("names")
        .iter()
        .map(|v| v.as_str().expect("name").to_string())
        .collect()
}

/// A copy of tests/specs/learned.toml and its learned files in a scratch directory.
fn scratch() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    let spec = std::fs::read_to_string(root().join("tests/specs/learned.toml")).expect("spec");
    std::fs::write(tmp.path().join("learned.toml"), spec).expect("write");
    let learned = tmp.path().join("seccomp/learned");
    std::fs::create_dir_all(&learned).expect("mkdir");
    for s in ["web", "worker"] {
        std::fs::copy(
            root().join(format!("tests/specs/seccomp/learned/{s}.json")),
            learned.join(format!("{s}.json")),
        )
        .expect("copy");
    }
    tmp
}

#[test]
fn build_renders_each_learned_profile_default_deny() {
    let tmp = scratch();
    let o = hardgen(tmp.path(), &["build", "learned.toml", "--out", "out"]);
    assert!(o.status.success(), "{}", text(&o));
    let out = tmp.path().join("out");
    let web = json(&out.join("seccomp/learned-web.json"));
    assert_eq!(web["defaultAction"], "SCMP_ACT_ERRNO");
    assert_eq!(web["defaultErrnoRet"], 1);
    let allow = names(&web["syscalls"][0]);
    for n in ["accept4", "bind", "listen", "poll", "read", "setsockopt"] {
        assert!(allow.contains(&n.to_string()), "learned {n} missing");
    }
    // runc's and docker-init's needs, stated in src/seccomp/runtime.rs.
    for n in [
        "execve",
        "rt_sigreturn",
        "futex",
        "wait4",
        "kill",
        "rt_sigtimedwait",
    ] {
        assert!(allow.contains(&n.to_string()), "runtime {n} missing");
    }
    for n in [
        "clone",
        "clone3",
        "socket",
        "mount",
        "ptrace",
        "io_uring_setup",
    ] {
        assert!(
            !allow.contains(&n.to_string()),
            "{n} allowed unconditionally"
        );
    }
    // worker: no init (no docker-init needs), its syscalls_allow, its syscalls_deny wins.
    let worker = json(&out.join("seccomp/learned-worker.json"));
    let allow = names(&worker["syscalls"][0]);
    assert!(allow.contains(&"io_uring_setup".to_string()));
    assert!(allow.contains(&"clock_nanosleep".to_string()));
    assert!(!allow.contains(&"kill".to_string()), "denied by the spec");
    assert!(
        !allow.contains(&"rt_sigtimedwait".to_string()),
        "no docker-init"
    );
    let compose = std::fs::read_to_string(out.join("docker-compose.yml")).expect("compose");
    assert!(
        compose.contains("seccomp:seccomp/learned-web.json"),
        "{compose}"
    );
    assert!(
        compose.contains("seccomp:seccomp/baseline.json"),
        "legacy keeps baseline"
    );
    let report = std::fs::read_to_string(out.join("compliance.md")).expect("report");
    assert!(
        report.contains("learned profile: 37 syscalls (10% of Docker's default)"),
        "{report}"
    );
    // Deterministic: a second build changes nothing.
    let o = hardgen(
        tmp.path(),
        &["build", "learned.toml", "--out", "out", "--check"],
    );
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn check_fails_when_a_learned_profile_is_missing() {
    let tmp = scratch();
    std::fs::remove_file(tmp.path().join("seccomp/learned/worker.json")).expect("rm");
    let o = hardgen(tmp.path(), &["check", "learned.toml"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("error[E060]: service `worker` uses a learned seccomp profile, but `seccomp/learned/worker.json` does not exist next to the spec"), "{t}");
    assert!(
        t.contains("--> learned.toml:8:11"),
        "the default's place: {t}"
    );
    let o = hardgen(tmp.path(), &["build", "learned.toml", "--out", "out"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!tmp.path().join("out").exists(), "nothing written");
}

#[test]
fn diff_names_added_syscalls_as_weakening_and_removed_as_strengthening() {
    let old = scratch();
    let new = scratch();
    let web = new.path().join("seccomp/learned/web.json");
    let t = std::fs::read_to_string(&web)
        .expect("read")
        .replace("\"poll\",", "\"ppoll\",\n    \"sendfile\",");
    std::fs::write(&web, t).expect("write");
    let o = hardgen(
        root().as_path(),
        &[
            "diff",
            old.path().join("learned.toml").to_str().unwrap(),
            new.path().join("learned.toml").to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let changes: Vec<(String, String)> = v["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            (
                c["class"].as_str().unwrap().to_string(),
                c["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        changes.contains(&(
            "weakens".into(),
            "learned seccomp profile allows 2 more syscall(s): ppoll, sendfile".into()
        )),
        "{changes:?}"
    );
    assert!(
        changes.contains(&(
            "strengthens".into(),
            "learned seccomp profile allows 1 fewer syscall(s): poll".into()
        )),
        "{changes:?}"
    );
    // Leaving the learned profile for the baseline weakens; the reverse strengthens.
    let spec = new.path().join("learned.toml");
    let t = std::fs::read_to_string(&spec).expect("read");
    std::fs::write(
        &spec,
        t.replacen(
            "seccomp = \"learned\"\nhealthcheck",
            "seccomp = \"baseline\"\nhealthcheck",
            1,
        ),
    )
    .expect("write");
    let o = hardgen(
        root().as_path(),
        &[
            "diff",
            old.path().join("learned.toml").to_str().unwrap(),
            spec.to_str().unwrap(),
        ],
    );
    let t = text(&o);
    assert!(
        t.contains("weakens      service web: seccomp preset learned -> baseline"),
        "{t}"
    );
}
