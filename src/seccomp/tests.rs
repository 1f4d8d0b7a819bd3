use super::profile::resolve;
use super::*;
use serde_json::Value;

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn policy(preset: Preset, allow: &[&str], deny: &[&str], caps: &[&str]) -> Policy {
    Policy {
        preset,
        allow: set(allow),
        deny: set(deny),
        caps: set(caps),
    }
}

fn parse(policy: &Policy) -> Value {
    serde_json::from_str(&render_profile(policy)).expect("profile is JSON")
}

/// The rules of a rendered profile as (names, action, errnoRet, has args).
fn rules(profile: &Value) -> Vec<(Vec<String>, String, Option<u64>, bool)> {
    profile["syscalls"]
        .as_array()
        .expect("syscalls array")
        .iter()
        .map(|r| {
            let names = r["names"]
                .as_array()
                .expect("names")
                .iter()
                .map(|n| n.as_str().expect("name").to_owned())
                .collect();
            (
                names,
                r["action"].as_str().expect("action").to_owned(),
                r.get("errnoRet").and_then(Value::as_u64),
                r.get("args").is_some(),
            )
        })
        .collect()
}

fn unconditional_allow(profile: &Value) -> Vec<String> {
    let groups: Vec<_> = rules(profile)
        .into_iter()
        .filter(|(_, action, _, args)| action == "SCMP_ACT_ALLOW" && !args)
        .collect();
    assert_eq!(groups.len(), 1, "exactly one unconditional allow group");
    groups.into_iter().next().map(|g| g.0).unwrap_or_default()
}

fn enosys_names(profile: &Value) -> Vec<String> {
    rules(profile)
        .into_iter()
        .filter(|(_, action, errno, _)| action == "SCMP_ACT_ERRNO" && *errno == Some(38))
        .flat_map(|r| r.0)
        .collect()
}

/// What runs under the filter needs these: runc's init after the filter is loaded (its Go
/// runtime returns from signal handlers with `rt_sigreturn`; without it starts fail at random),
/// `docker-init` as PID 1 (`kill` forwards `docker stop`'s SIGTERM), and every `docker exec`,
/// health checks included (a shell with pipes needs `pipe2` and `wait4`). Docker's own default
/// profile allows all of them
/// (<https://github.com/moby/moby/blob/master/profiles/seccomp/default.json>); the live tests
/// start, check and stop every generated stack under hardgen's profiles.
const NEEDED_BY_RUNTIME: &[&str] = &[
    "rt_sigreturn",
    "fstatfs",
    "arch_prctl",
    "newfstatat",
    "getcwd",
    "chdir",
    "ioctl",
    "rt_sigtimedwait",
    "setpgid",
    "wait4",
    "kill",
    "pipe2",
    "pread64",
    "capget",
    "capset",
    "prctl",
    "setgroups",
    "setgid",
    "setuid",
    "getppid",
    "getuid",
    "geteuid",
    "faccessat2",
    "clone",
    "execve",
    "futex",
];

/// Never in a preset: only a capability (or an explicit `allow`) opens them.
const DANGEROUS: &[&str] = &[
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "ptrace",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "bpf",
    "perf_event_open",
    "unshare",
    "setns",
    "clone3",
    "keyctl",
    "add_key",
    "request_key",
    "userfaultfd",
    "open_by_handle_at",
    "name_to_handle_at",
    "reboot",
    "swapon",
    "swapoff",
    "sethostname",
    "setdomainname",
    "syslog",
    "acct",
    "quotactl",
    "quotactl_fd",
    "iopl",
    "ioperm",
    "lookup_dcookie",
    "settimeofday",
    "clock_settime",
    "fsopen",
    "fsmount",
    "fsconfig",
    "fspick",
    "move_mount",
    "open_tree",
    "mount_setattr",
    "fanotify_init",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "kcmp",
    "pidfd_getfd",
    "process_madvise",
    "mbind",
    "set_mempolicy",
    "migrate_pages",
    "move_pages",
    "vhangup",
    "uselib",
    "_sysctl",
    "nfsservctl",
];

#[test]
fn tables_have_the_known_numbers() {
    assert_eq!(syscall_number(Arch::X86_64, "read"), Some(0));
    assert_eq!(syscall_number(Arch::X86_64, "open"), Some(2));
    assert_eq!(syscall_number(Arch::X86_64, "clone3"), Some(435));
    assert_eq!(syscall_number(Arch::X86_64, "newfstatat"), Some(262));
    assert_eq!(syscall_number(Arch::Aarch64, "io_setup"), Some(0));
    assert_eq!(syscall_number(Arch::Aarch64, "openat"), Some(56));
    assert_eq!(syscall_number(Arch::Aarch64, "newfstatat"), Some(79));
    assert_eq!(syscall_number(Arch::Aarch64, "clone3"), Some(435));
    for legacy in ["open", "fork", "stat", "pipe", "arch_prctl", "dup2"] {
        assert_eq!(syscall_number(Arch::Aarch64, legacy), None, "{legacy}");
    }
    // 32-bit-only and invented names are nowhere.
    for bogus in [
        "recv",
        "send",
        "socketcall",
        "fcntl64",
        "mmap2",
        "nosuchcall",
        "",
    ] {
        assert!(!is_syscall(bogus), "{bogus}");
    }
    assert!(is_syscall("open") && is_syscall("openat") && is_syscall("arch_prctl"));
}

#[test]
fn tables_have_no_duplicate_numbers() {
    for arch in Arch::ALL {
        let mut seen = BTreeMap::new();
        for (name, nr) in arch.table() {
            if let Some(other) = seen.insert(*nr, *name) {
                panic!("{arch}: {name} and {other} share number {nr}");
            }
        }
        assert!(arch.table().len() > 300, "{arch} table looks truncated");
    }
}

#[test]
fn all_syscalls_is_sorted_unique_union() {
    let all: Vec<_> = all_syscalls().collect();
    assert!(
        all.windows(2).all(|w| w[0] < w[1]),
        "sorted and deduplicated"
    );
    let union: BTreeSet<_> = Arch::ALL
        .iter()
        .flat_map(|a| a.table().keys().copied())
        .collect();
    assert_eq!(all, union.into_iter().collect::<Vec<_>>());
    assert!(all.contains(&"open") && all.contains(&"openat"));
}

#[test]
fn every_listed_name_exists_in_a_table() {
    let mut listed: Vec<(&str, &str)> = Vec::new();
    for g in presets::BASELINE.iter().chain(presets::STRICT) {
        listed.extend(g.names.iter().map(|n| (g.topic, *n)));
    }
    for (cap, names) in presets::CAP_GRANTS {
        listed.extend(names.iter().map(|n| (*cap, *n)));
    }
    for p in Preset::ALL {
        listed.extend(preset_syscalls(p).into_iter().map(|n| (p.name(), n)));
    }
    listed.extend(NEEDED_BY_RUNTIME.iter().map(|n| ("runtime", *n)));
    listed.extend(DANGEROUS.iter().map(|n| ("dangerous", *n)));
    let unknown: Vec<_> = listed.into_iter().filter(|(_, n)| !is_syscall(n)).collect();
    assert!(unknown.is_empty(), "not a syscall on any arch: {unknown:?}");
}

#[test]
fn baseline_groups_do_not_overlap() {
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for g in presets::BASELINE {
        for name in g.names {
            if let Some(other) = seen.insert(name, g.topic) {
                panic!("{name} is in both `{other}` and `{}`", g.topic);
            }
        }
    }
    let filtered = presets::filtered(Preset::Baseline, &BTreeSet::new());
    for name in filtered.keys() {
        assert!(
            !seen.contains_key(name),
            "{name} is both filtered and unconditional"
        );
    }
}

#[test]
fn strict_is_a_strict_subset_of_baseline() {
    let baseline = preset_syscalls(Preset::Baseline);
    let strict = preset_syscalls(Preset::Strict);
    let opened: Vec<_> = strict.difference(&baseline).collect();
    assert!(
        opened.is_empty(),
        "strict allows what baseline refuses: {opened:?}"
    );
    assert!(strict.len() < baseline.len());
}

/// Each strict group lists what it adds: no name twice, none that `runtime.rs` already
/// states (runc, docker-init), none of the argument-checked calls, no empty group.
#[test]
fn strict_groups_state_each_name_once() {
    let filtered = presets::filtered(Preset::Strict, &BTreeSet::new());
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for n in runtime::RUNC
        .iter()
        .chain(runtime::RUNC_WITHOUT_NO_NEW_PRIVILEGES)
        .chain(runtime::DOCKER_INIT)
    {
        seen.insert(n, "runtime.rs");
    }
    for g in presets::STRICT {
        assert!(!g.names.is_empty(), "`{}` is empty", g.topic);
        for name in g.names {
            assert!(!filtered.contains_key(name), "{name} is argument-checked");
            if let Some(other) = seen.insert(name, g.topic) {
                panic!("{name} is in both `{other}` and `{}`", g.topic);
            }
        }
    }
}

/// Every x86_64-only name a preset allows has its aarch64 form allowed too (the presets are
/// rendered for both architectures; the learned sets and most sources are x86_64's).
#[test]
fn presets_allow_the_aarch64_forms_of_their_legacy_calls() {
    let aarch64 = Arch::Aarch64.table();
    for p in Preset::ALL {
        let names = preset_syscalls(p);
        for n in names.iter().filter(|n| !aarch64.contains_key(*n)) {
            if [
                "arch_prctl",
                "modify_ldt",
                "get_thread_area",
                "set_thread_area",
            ]
            .contains(n)
                || n.ends_with("_old")
            {
                continue; // x86 only, nothing to stand in for
            }
            if p == Preset::Baseline && !presets::AARCH64_FORMS.iter().any(|(x, _)| x == n) {
                continue; // the baseline allows every *at form anyway
            }
            let forms = presets::AARCH64_FORMS
                .iter()
                .find(|(x, _)| x == n)
                .unwrap_or_else(|| panic!("{p}: {n} is x86_64-only: add its aarch64 form"))
                .1;
            for f in forms {
                assert!(aarch64.contains_key(f), "{f} is not an aarch64 syscall");
                assert!(
                    names.contains(f),
                    "{p} allows {n} but not its aarch64 form {f}"
                );
            }
        }
    }
}

/// The figure the README states for strict (names, and share of Docker's default
/// always-allowed set).
#[test]
fn strict_size_is_the_documented_one() {
    let strict = preset_syscalls(Preset::Strict);
    let docker = runtime::docker_default();
    let pct = (strict.len() * 100 + docker.len() / 2) / docker.len();
    let readme = include_str!("../../README.md");
    let claim = format!("`strict` allows {} syscalls ({pct}% of", strict.len());
    assert!(
        readme.contains(&claim),
        "README.md should say {claim:?} (the preset changed: update the figure)"
    );
}

#[test]
fn presets_include_what_the_runtime_needs() {
    for p in Preset::ALL {
        let names = preset_syscalls(p);
        let missing: Vec<_> = NEEDED_BY_RUNTIME
            .iter()
            .filter(|n| !names.contains(*n))
            .collect();
        assert!(missing.is_empty(), "{p} misses {missing:?}");
        let profile = parse(&Policy::new(p));
        let allow = unconditional_allow(&profile);
        for n in NEEDED_BY_RUNTIME.iter().filter(|n| **n != "clone") {
            assert!(
                allow.iter().any(|a| a == n),
                "{p}: {n} not unconditionally allowed"
            );
        }
    }
}

#[test]
fn presets_exclude_the_dangerous_calls() {
    for p in Preset::ALL {
        let names = preset_syscalls(p);
        let present: Vec<_> = DANGEROUS.iter().filter(|n| names.contains(*n)).collect();
        assert!(present.is_empty(), "{p} allows {present:?}");
    }
}

#[test]
fn clone_is_allowed_only_without_namespace_flags() {
    for p in Preset::ALL {
        let profile = parse(&Policy::new(p));
        assert!(!unconditional_allow(&profile).contains(&"clone".to_owned()));
        let clone_rules: Vec<_> = profile["syscalls"]
            .as_array()
            .expect("syscalls")
            .iter()
            .filter(|r| r["names"] == serde_json::json!(["clone"]))
            .collect();
        assert_eq!(clone_rules.len(), 1, "{p}");
        assert_eq!(
            clone_rules[0]["args"],
            serde_json::json!([{
                "index": 0,
                "value": 0x7E02_0000u64,
                "valueTwo": 0,
                "op": "SCMP_CMP_MASKED_EQ"
            }])
        );
    }
    // An explicit allow lifts the check.
    let r = resolve(&policy(Preset::Baseline, &["clone"], &[], &[]));
    assert!(r.allow.contains("clone") && !r.filtered.contains_key("clone"));
}

#[test]
fn clone3_gets_enosys_when_something_above_it_is_allowed() {
    for p in Preset::ALL {
        // faccessat2 (439) and close_range (436) are above clone3 (435).
        let profile = parse(&Policy::new(p));
        assert_eq!(enosys_names(&profile), vec!["clone3".to_owned()], "{p}");
    }
    // Denying clone3 explicitly still answers ENOSYS, never an allow.
    let profile = parse(&policy(Preset::Strict, &["clone3"], &["clone3"], &[]));
    assert_eq!(enosys_names(&profile), vec!["clone3".to_owned()]);
    assert!(!unconditional_allow(&profile).contains(&"clone3".to_owned()));
    // Allowing clone3 removes the ENOSYS rule.
    let profile = parse(&policy(Preset::Strict, &["clone3"], &[], &[]));
    assert!(enosys_names(&profile).is_empty());
    assert!(unconditional_allow(&profile).contains(&"clone3".to_owned()));
    // Nothing above clone3 left: runc answers ENOSYS by itself.
    let above: Vec<&str> = preset_syscalls(Preset::Strict)
        .into_iter()
        .filter(|n| {
            Arch::ALL
                .iter()
                .any(|&a| syscall_number(a, n).is_some_and(|nr| nr > 435))
        })
        .collect();
    assert!(above.contains(&"faccessat2"));
    let r = resolve(&policy(Preset::Strict, &[], &above, &[]));
    assert!(r.enosys.is_empty(), "{:?}", r.enosys);
    // A capability can bring one back (process_madvise is 440).
    let r = resolve(&policy(Preset::Strict, &[], &above, &["SYS_PTRACE"]));
    assert!(r.enosys.contains("clone3"));
}

#[test]
fn deny_wins_over_allow_presets_and_caps() {
    let p = policy(
        Preset::Baseline,
        &["io_uring_setup", "ptrace", "read"],
        &["io_uring_setup", "ptrace", "socket", "write"],
        &["CAP_SYS_PTRACE"],
    );
    let r = resolve(&p);
    for n in ["io_uring_setup", "ptrace", "write", "socket"] {
        assert!(!r.allow.contains(n) && !r.filtered.contains_key(n), "{n}");
    }
    assert!(r.allow.contains("read"));
    assert!(
        r.allow.contains("process_vm_readv"),
        "the cap's other calls stay"
    );
    let text = render_profile(&p);
    for n in [
        "\"io_uring_setup\"",
        "\"ptrace\"",
        "\"write\"",
        "\"socket\"",
    ] {
        assert!(!text.contains(n), "{n} in output");
    }
}

#[test]
fn allow_adds_names_and_unknown_names_are_dropped() {
    let r = resolve(&policy(
        Preset::Strict,
        &["io_uring_setup", "io_uring_enter", "recv", "no_such_call"],
        &[],
        &[],
    ));
    assert!(r.allow.contains("io_uring_setup") && r.allow.contains("io_uring_enter"));
    assert!(!r.allow.contains("recv") && !r.allow.contains("no_such_call"));
}

#[test]
fn caps_open_their_syscalls_in_any_spelling() {
    let base = resolve(&Policy::new(Preset::Strict));
    for cap in ["SYS_TIME", "CAP_SYS_TIME", "cap_sys_time", " sys_time "] {
        let r = resolve(&policy(Preset::Strict, &[], &[], &[cap]));
        for n in ["settimeofday", "clock_settime", "adjtimex", "clock_adjtime"] {
            assert!(r.allow.contains(n), "{cap}: {n}");
        }
    }
    let r = resolve(&policy(
        Preset::Strict,
        &[],
        &[],
        &["SYS_PTRACE", "SYS_NICE"],
    ));
    for n in [
        "ptrace",
        "process_vm_readv",
        "kcmp",
        "pidfd_getfd",
        "mbind",
        "ioprio_set",
    ] {
        assert!(r.allow.contains(n) && !base.allow.contains(n), "{n}");
    }
    // CAP_SYS_ADMIN opens nothing, unknown caps neither.
    let r = resolve(&policy(
        Preset::Strict,
        &[],
        &[],
        &["SYS_ADMIN", "NOT_A_CAP"],
    ));
    assert_eq!(r, base);
}

#[test]
fn socket_families() {
    let families = |r: &profile::Resolved| -> Vec<(u64, CmpOp)> {
        r.filtered["socket"]
            .iter()
            .map(|a| (a.value, a.op))
            .collect()
    };
    let baseline = resolve(&Policy::new(Preset::Baseline));
    assert_eq!(
        families(&baseline),
        vec![(38, CmpOp::Lt), (39, CmpOp::Eq), (40, CmpOp::Gt)]
    );
    let strict = resolve(&Policy::new(Preset::Strict));
    let eq = |v: &[u64]| v.iter().map(|&f| (f, CmpOp::Eq)).collect::<Vec<_>>();
    assert_eq!(families(&strict), eq(&[1, 2, 10, 16]));
    let raw = resolve(&policy(Preset::Strict, &[], &[], &["NET_RAW"]));
    assert_eq!(families(&raw), eq(&[1, 2, 10, 16, 17]));
}

#[test]
fn output_is_deterministic_and_well_formed() {
    let a = policy(
        Preset::Strict,
        &["io_uring_enter", "io_uring_setup"],
        &["mincore"],
        &["SYS_PTRACE", "NET_RAW"],
    );
    // Same content built in another order.
    let mut b = Policy::new(Preset::Strict);
    for n in ["io_uring_setup", "io_uring_enter"] {
        b.allow.insert(n.to_owned());
    }
    b.deny.insert("mincore".to_owned());
    b.caps.insert("NET_RAW".to_owned());
    b.caps.insert("SYS_PTRACE".to_owned());
    let text = render_profile(&a);
    assert_eq!(text, render_profile(&b));
    assert_eq!(text, render_profile(&a.clone()));
    assert!(text.ends_with("}\n") && !text.ends_with("\n\n"));
    assert!(!text.contains('\r'));

    for p in [
        a,
        Policy::new(Preset::Baseline),
        Policy::new(Preset::Strict),
    ] {
        let v = parse(&p);
        let keys: Vec<_> = v.as_object().expect("object").keys().cloned().collect();
        assert_eq!(
            keys,
            [
                "architectures",
                "defaultAction",
                "defaultErrnoRet",
                "syscalls"
            ]
        );
        assert_eq!(v["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(v["defaultErrnoRet"], 1);
        assert_eq!(
            v["architectures"],
            serde_json::json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"])
        );
        let allow = unconditional_allow(&v);
        assert!(allow.windows(2).all(|w| w[0] < w[1]), "allow names sorted");
        for rule in v["syscalls"].as_array().expect("syscalls") {
            for key in rule.as_object().expect("rule").keys() {
                assert!(
                    ["names", "action", "errnoRet", "args"].contains(&key.as_str()),
                    "unexpected key {key}"
                );
            }
            for name in rule["names"].as_array().expect("names") {
                let name = name.as_str().expect("string");
                assert!(is_syscall(name), "{name} is not in the tables");
            }
        }
    }
    // Key order as written: the profile's own field order.
    let text = render_profile(&Policy::new(Preset::Baseline));
    let pos = |k: &str| text.find(k).expect(k);
    assert!(pos("\"defaultAction\"") < pos("\"defaultErrnoRet\""));
    assert!(pos("\"defaultErrnoRet\"") < pos("\"architectures\""));
    assert!(pos("\"architectures\"") < pos("\"syscalls\""));
}

#[test]
fn preset_names() {
    for p in Preset::ALL {
        assert_eq!(p.name().parse::<Preset>(), Ok(p));
        assert_eq!(p.to_string(), p.name());
        assert_eq!(serde_json::to_value(p).expect("json"), p.name());
    }
    assert_eq!(Preset::default(), Preset::Baseline);
    assert!("Strict".parse::<Preset>().is_err());
}
