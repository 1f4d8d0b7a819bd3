use super::*;

fn on(engine: &str) -> LearnedOn {
    LearnedOn {
        arch: "x86_64".into(),
        engine: engine.into(),
        kernel: "6.18.44".into(),
    }
}

#[test]
fn the_file_is_sorted_and_round_trips() {
    let file = LearnedFile {
        format_version: FORMAT_VERSION,
        service: "web".into(),
        learned_on: vec![on("28.5.2"), on("20.10.24"), on("28.5.2")],
        syscalls: vec![
            "write".into(),
            "read".into(),
            "accept4".into(),
            "read".into(),
        ],
    };
    let json = file.to_json();
    assert!(json.ends_with("}\n"));
    let back = LearnedFile::parse(&json, "web").expect("parses");
    assert_eq!(back.syscalls, vec!["accept4", "read", "write"]);
    assert_eq!(back.learned_on, vec![on("20.10.24"), on("28.5.2")]);
    assert_eq!(back.to_json(), json, "same set, same bytes");
}

#[test]
fn a_bad_file_says_what_is_wrong() {
    let ok = LearnedFile::new("web", BTreeSet::new(), BTreeSet::from(["read".to_string()]));
    let err = LearnedFile::parse(&ok.to_json(), "api").unwrap_err();
    assert!(
        err.contains("learned for service `web`, not `api`"),
        "{err}"
    );
    let text = ok.to_json().replace("\"read\"", "\"recv\"");
    let err = LearnedFile::parse(&text, "web").unwrap_err();
    assert!(err.contains("`recv`"), "{err}");
    let text = ok
        .to_json()
        .replace("\"format_version\": 1", "\"format_version\": 9");
    let err = LearnedFile::parse(&text, "web").unwrap_err();
    assert!(err.contains("format_version 9"), "{err}");
    let text = ok
        .to_json()
        .replace("\"service\"", "\"extra\": 1, \"service\"");
    assert!(LearnedFile::parse(&text, "web").is_err());
}

#[test]
fn the_profile_adds_what_the_runtime_needs() {
    let learned = BTreeSet::from(["accept4".to_string(), "clone3".to_string()]);
    let names = profile_names(&learned, true, true);
    assert!(names.contains("accept4"));
    assert!(!names.contains("clone3"), "clone3 is answered ENOSYS");
    for n in crate::seccomp::runtime::RUNC
        .iter()
        .chain(crate::seccomp::runtime::DOCKER_INIT)
    {
        assert!(names.contains(*n), "{n}");
    }
    assert!(names.contains("clone"), "docker-init forks");
    assert!(
        !names.contains("setuid"),
        "no-new-privileges: runc switched user already"
    );
    let names = profile_names(&learned, false, false);
    assert!(!names.contains("wait4") && !names.contains("clone"));
    assert!(names.contains("setuid") && names.contains("capset"));
}

#[test]
fn the_runtime_lists_are_syscalls_and_safe() {
    use crate::seccomp::runtime::*;
    for n in RUNC
        .iter()
        .chain(RUNC_WITHOUT_NO_NEW_PRIVILEGES)
        .chain(DOCKER_INIT)
    {
        assert!(crate::seccomp::is_syscall(n), "{n}");
        assert!(
            ![
                "mount",
                "unshare",
                "setns",
                "ptrace",
                "clone3",
                "pivot_root"
            ]
            .contains(n),
            "{n}"
        );
    }
    // Docker's default always-allowed set: 361 names (moby profiles/seccomp/default.json).
    assert_eq!(docker_default().len(), 361);
    assert!(docker_default().contains("read") && !docker_default().contains("mount"));
    assert_eq!(percent_of_docker_default(361), 100);
    assert_eq!(percent_of_docker_default(90), 25);
}

#[test]
fn a_learned_profile_is_default_deny_with_checked_clone() {
    let mut allow: BTreeSet<String> = profile_names(
        &BTreeSet::from(["socket".to_string(), "personality".to_string()]),
        true,
        true,
    );
    allow.insert("io_uring_setup".into());
    let policy = crate::seccomp::Policy {
        preset: crate::seccomp::Preset::Learned,
        allow,
        deny: BTreeSet::new(),
        caps: BTreeSet::new(),
    };
    let json: serde_json::Value =
        serde_json::from_str(&crate::seccomp::render_profile(&policy)).unwrap();
    assert_eq!(json["defaultAction"], "SCMP_ACT_ERRNO");
    assert_eq!(json["defaultErrnoRet"], 1);
    let rules = json["syscalls"].as_array().unwrap();
    let unconditional: Vec<&str> = rules[0]["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for checked in ["clone", "socket", "personality"] {
        assert!(!unconditional.contains(&checked), "{checked} unchecked");
        assert!(
            rules
                .iter()
                .any(|r| r["names"] == serde_json::json!([checked]) && r["args"].is_array()),
            "{checked} has no checked rule"
        );
    }
    assert!(unconditional.contains(&"io_uring_setup"));
    assert!(!unconditional.contains(&"mount"));
    // io_uring_setup (425) is below clone3 (435): the runtime answers ENOSYS above the
    // highest number, so no explicit rule is needed.
    assert!(!rules
        .iter()
        .any(|r| r["names"] == serde_json::json!(["clone3"]) && r["action"] == "SCMP_ACT_ALLOW"));
}
