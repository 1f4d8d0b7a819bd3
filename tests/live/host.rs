//! Live tests of the Docker host hardening: `scripts/harden-host.sh` (audit rules, daemon.json
//! merge) and `scripts/host-check.sh`, run on this host.
//!
//! Opt-in like tests/live.rs (`HARDGEN_LIVE=1`, root, the engine and the local busybox image of
//! scripts/test-images.sh, Debian's `auditd`, `jq`). The shared engine is never restarted or
//! reconfigured: the daemon settings are proven on a second dockerd of the test's own (its own
//! data root, exec root, socket and pidfile, in a network namespace of its own so that its
//! iptables rules and bridge cannot touch the host's), started with the merged daemon.json.
//! Audit rules are loaded into the host's kernel and removed again (only hardgen's own rules;
//! the audit state found is restored, and an auditd the test started is stopped).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::{hardgen_build, must, root, run, Out, BUSYBOX_IMAGE, PATH};

const SPEC: &str = "tests/live/basic.toml";
const PROJECT: &str = "hglive";
pub(super) const TEST_SOCK: &str = "/run/hardgen-host-test.sock";
pub(super) const TEST_NETNS: &str = "h-host-test";
const TEST_EXEC_ROOT: &str = "/run/h-host-test-exec";

/// The live suite's engine lock, and the host tools these tests need.
fn live() -> std::sync::MutexGuard<'static, ()> {
    let guard = super::live();
    for tool in ["auditctl", "ausearch", "auditd", "jq", "nsenter", "ip"] {
        assert!(
            run(10, &["sh", "-c", &format!("command -v {tool}")]).ok(),
            "{tool} missing: run scripts/install-tools.sh (auditd, jq)"
        );
    }
    guard
}

pub(super) fn run_env(secs: u64, argv: &[&str], env: &[(&str, &str)]) -> Out {
    let mut cmd = Command::new("timeout");
    cmd.args(["-k", "5", &secs.to_string()])
        .args(argv)
        .env("PATH", PATH)
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = cmd.output().expect("run command");
    Out {
        cmd: argv.join(" "),
        code: o.status.code().filter(|c| *c != 124 && *c != 137),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// `hardgen build` of the live test spec into a temporary directory.
pub(super) fn generate(dir: &Path) {
    hardgen_build(&root(), &[SPEC, "--out", dir.to_str().unwrap()]);
}

pub(super) fn script(dir: &Path, name: &str, args: &[&str], env: &[(&str, &str)]) -> Out {
    let path = dir.join("scripts").join(name);
    let mut argv = vec!["sh", path.to_str().unwrap()];
    argv.extend(args);
    run_env(120, &argv, env)
}

/// (PASS, WARN, NA) counts and the lines of a host-check run.
fn host_check(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (usize, usize, usize, String) {
    let o = script(dir, "host-check.sh", args, env);
    let count = |p: &str| o.stdout.lines().filter(|l| l.starts_with(p)).count();
    let (p, w, n) = (count("PASS "), count("WARN "), count("NA "));
    let summary = format!("host-check: {p} PASS, {w} WARN, {n} NA");
    assert!(
        o.stdout.contains(&summary),
        "host-check summary does not match its lines\n{o}"
    );
    assert_eq!(o.ok(), w == 0, "host-check exit status vs WARN count\n{o}");
    (p, w, n, o.stdout)
}

fn line_of<'a>(report: &'a str, id: &str) -> &'a str {
    report
        .lines()
        .find(|l| !l.starts_with("==") && l.split_whitespace().nth(1) == Some(id))
        .unwrap_or_else(|| panic!("no line for {id} in\n{report}"))
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Events of `ausearch -k KEY --raw` newer than `since`, each as its records' text.
fn audit_events(key: &str, since: f64) -> Vec<String> {
    let o = run(60, &["ausearch", "--raw", "-k", key]);
    let mut events: Vec<(String, String)> = Vec::new();
    for line in o.stdout.lines() {
        let Some(start) = line.find("msg=audit(") else {
            continue;
        };
        let rest = &line[start + 10..];
        let Some(end) = rest.find(')') else { continue };
        let id = &rest[..end];
        let ts: f64 = id.split(':').next().unwrap_or("0").parse().unwrap_or(0.0);
        if ts < since {
            continue;
        }
        match events.iter_mut().find(|(i, _)| i == id) {
            Some((_, text)) => {
                text.push('\n');
                text.push_str(line);
            }
            None => events.push((id.to_string(), line.to_string())),
        }
    }
    events.into_iter().map(|(_, t)| t).collect()
}

fn audit_rules_listing() -> Vec<String> {
    let o = run(30, &["auditctl", "-l"]);
    o.stdout
        .lines()
        .filter(|l| l.starts_with('-'))
        .map(str::to_string)
        .collect()
}

/// The kernel audit state found, restored on drop (also on failure): hardgen's rules
/// removed, `enabled` as it was, an auditd the test started stopped.
struct AuditGuard {
    enabled: String,
    started_auditd: Option<u32>,
    key: String,
}

impl AuditGuard {
    fn new(key: &str) -> AuditGuard {
        let status = must(run(30, &["auditctl", "-s"]), "auditctl -s");
        let enabled = status
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("enabled "))
            .unwrap_or("0")
            .trim()
            .to_string();
        let mut g = AuditGuard {
            enabled,
            started_auditd: None,
            key: key.to_string(),
        };
        if !run(10, &["pgrep", "-x", "auditd"]).ok() {
            // No systemd here: auditd is started by hand (it forks into the background).
            must(run(30, &["auditd"]), "start auditd");
            let pid = run(10, &["pgrep", "-xo", "auditd"]);
            g.started_auditd = pid.stdout.trim().parse().ok();
            assert!(g.started_auditd.is_some(), "auditd did not start\n{pid}");
        }
        g
    }
}

impl Drop for AuditGuard {
    fn drop(&mut self) {
        for rule in audit_rules_listing() {
            if rule.ends_with(&format!(" -k {}", self.key)) {
                let del = rule.replacen("-w ", "-W ", 1);
                let argv: Vec<&str> = std::iter::once("auditctl")
                    .chain(del.split_whitespace())
                    .collect();
                let _ = run(30, &argv);
            }
        }
        if let Some(pid) = self.started_auditd {
            let _ = run(10, &["kill", &pid.to_string()]);
            for _ in 0..50 {
                if !Path::new(&format!("/proc/{pid}")).exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        if self.enabled != "2" {
            let _ = run(30, &["auditctl", "-e", &self.enabled]);
        }
    }
}

#[test]
#[ignore = "needs root, a Docker engine and auditd: run scripts/test.sh as root"]
fn harden_host_audit_rules_record_docker_activity() {
    let _guard = live();
    let t_start = Instant::now();
    let tmp = tempfile::Builder::new()
        .prefix("hardgen-live-host-")
        .tempdir()
        .unwrap();
    let dir = tmp.path().join("deploy");
    generate(&dir);
    let key = format!("hardgen-{PROJECT}");
    let before_rules = audit_rules_listing();
    let audit = AuditGuard::new(&key);
    let rules_dir = tmp.path().join("rules.d");
    let state = tmp.path().join("state");
    let opts = [
        "--no-daemon",
        "--audit-dir",
        rules_dir.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
    ];

    let (p0, w0, n0, report0) = host_check(&dir, &[], &[]);
    println!("host-check before harden-host.sh (shared engine): {p0} PASS, {w0} WARN, {n0} NA\n{report0}");

    let applied = must(script(&dir, "harden-host.sh", &opts, &[]), "harden-host.sh");
    println!("{}", applied.stdout);
    let file = fs::read_to_string(rules_dir.join(format!("hardgen-{PROJECT}.rules"))).unwrap();
    let written: Vec<&str> = file.lines().filter(|l| l.starts_with("-w ")).collect();
    let loaded: Vec<String> = audit_rules_listing()
        .into_iter()
        .filter(|l| l.ends_with(&format!(" -k {key}")))
        .collect();
    assert_eq!(
        loaded.len(),
        written.len(),
        "every resolved rule is loaded\nfile:\n{file}\nloaded:\n{}",
        loaded.join("\n")
    );
    // The paths of the engine running here (Debian's under /usr/sbin, Engine 28 under the tools
    // directory), found the way the script finds them: its dockerd, then its PATH.
    let (engine_exe, engine_path) = running_engine();
    let mut must_watch = vec![
        "/var/lib/docker".to_string(),
        "/etc/docker".to_string(),
        engine_exe.display().to_string(),
    ];
    for bin in ["dockerd", "containerd", "runc", "containerd-shim-runc-v2"] {
        let o = run(
            10,
            &[
                "env",
                &format!("PATH={engine_path}:{PATH}"),
                "sh",
                "-c",
                &format!("command -v {bin}"),
            ],
        );
        if o.ok() {
            must_watch.push(o.stdout.trim().to_string());
        }
    }
    for path in &must_watch {
        assert!(
            loaded.iter().any(|l| l.starts_with(&format!("-w {path} "))),
            "no loaded rule for {path}:\n{}",
            loaded.join("\n")
        );
    }

    // Applying again replaces hardgen's rules instead of failing on "Rule exists".
    must(
        script(&dir, "harden-host.sh", &opts, &[]),
        "harden-host.sh again",
    );
    let again = audit_rules_listing()
        .into_iter()
        .filter(|l| l.ends_with(&format!(" -k {key}")))
        .count();
    assert_eq!(
        again,
        written.len(),
        "no duplicate rules after a second run"
    );

    // A write to /etc/docker, and a container started on the engine, are recorded with the key
    // (in this order: auditd writes its log in batches, which the engine's many records fill).
    // Records from a minute back: the marker's name and the container's id are this run's
    // own, so a wider window costs nothing and survives a clock that steps back.
    let t_run = now() - 60.0;
    let marker_name = format!(".hardgen-host-test-{}", std::process::id());
    let marker = format!("/etc/docker/{marker_name}");
    // The write comes from a new process: the kernel gives a task syscall auditing only if
    // auditing had been enabled once since boot when the task was created (`audit_alloc`), and
    // this test's thread was created before the test started auditd on a fresh machine — its
    // own writes would never be recorded (what made this test fail on fresh machines only).
    let write_marker = || {
        must(
            run(
                10,
                &["sh", "-c", &format!("echo x > '{marker}' && rm '{marker}'")],
            ),
            "write to /etc/docker from a new process",
        );
    };
    write_marker();
    let id = must(
        run(
            60,
            &[
                "docker",
                "create",
                "--network",
                "none",
                BUSYBOX_IMAGE,
                "true",
            ],
        ),
        "docker create",
    )
    .stdout
    .trim()
    .to_string();
    let started = run(60, &["docker", "start", "--attach", &id]);
    let _ = run(60, &["docker", "rm", "--force", &id]);
    must(started, "docker start");
    let mut run_events = Vec::new();
    let mut write_events = Vec::new();
    let mut writes = 1;
    for i in 0..50 {
        // The record may reach the log after ausearch read it: write again every 2 s until
        // one is found.
        if i % 10 == 9 && write_events.is_empty() {
            write_marker();
            writes += 1;
        }
        let events = audit_events(&key, t_run);
        // The engine's own records of this container: its directories and runc's arguments
        // name its id.
        run_events = events
            .iter()
            .filter(|e| {
                e.contains(&id)
                    && ["dockerd", "containerd", "runc"]
                        .iter()
                        .any(|b| e.contains(&format!("/{b}\"")))
            })
            .cloned()
            .collect();
        write_events = events
            .iter()
            .filter(|e| e.contains(&format!("name=\"{marker}\"")))
            .cloned()
            .collect();
        if !run_events.is_empty() && !write_events.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        !run_events.is_empty(),
        "no audit event with key {key} from dockerd/containerd/runc naming container {id}"
    );
    assert!(
        !write_events.is_empty(),
        "no audit event with key {key} naming {marker} after {writes} writes; records naming \
         it:\n{}\naudit status:\n{}\nrules:\n{}\n{}",
        run(30, &["ausearch", "--raw", "-k", &key])
            .stdout
            .lines()
            .filter(|l| l.contains(&marker_name))
            .collect::<Vec<_>>()
            .join("\n"),
        run(30, &["auditctl", "-s"]).stdout,
        audit_rules_listing().join("\n"),
        run(10, &["stat", "/etc/docker"]).stdout
    );
    println!("audit: the write to /etc/docker recorded after {writes} write(s)");
    println!(
        "audit: {} events of the engine during docker run, e.g.\n{}\nwrite to /etc/docker:\n{}",
        run_events.len(),
        run_events[0],
        write_events[0]
    );

    let (p1, w1, n1, report1) = host_check(&dir, &[], &[]);
    println!("host-check after harden-host.sh --no-daemon (shared engine): {p1} PASS, {w1} WARN, {n1} NA\n{report1}");
    for id in [
        "1.1.3", "1.1.5", "1.1.6", "1.1.8", "1.1.12", "1.1.14", "1.1.17", "1.1.18",
    ] {
        assert!(
            line_of(&report1, id).starts_with("PASS"),
            "{id} after harden-host.sh:\n{report1}"
        );
    }
    for id in [
        "1.1.4", "1.1.7", "1.1.9", "1.1.10", "1.1.11", "1.1.13", "1.1.15", "1.1.16",
    ] {
        assert!(
            !line_of(&report1, id).starts_with("WARN"),
            "{id} after harden-host.sh:\n{report1}"
        );
    }

    // --undo removes exactly hardgen's rules.
    must(
        script(
            &dir,
            "harden-host.sh",
            &[
                "--undo",
                "--no-daemon",
                "--audit-dir",
                rules_dir.to_str().unwrap(),
            ],
            &[],
        ),
        "harden-host.sh --undo",
    );
    assert_eq!(
        audit_rules_listing(),
        before_rules,
        "rules as found after --undo"
    );
    assert!(!rules_dir.join(format!("hardgen-{PROJECT}.rules")).exists());
    drop(audit);
    println!(
        "harden_host_audit_rules_record_docker_activity: {:.1?}",
        t_start.elapsed()
    );
}

/// FORWARD and the chains it reaches by jumps (user chains, as `iptables -S` lists them).
fn forward_chains(rules: &str) -> Vec<String> {
    let mut chains = vec!["FORWARD".to_string()];
    let mut i = 0;
    while i < chains.len() {
        let prefix = format!("-A {} ", chains[i]);
        for l in rules.lines().filter(|l| l.starts_with(&prefix)) {
            if let Some(target) = l.split(" -j ").nth(1).map(str::trim) {
                let declared = rules.lines().any(|d| d == format!("-N {target}"));
                if declared && !chains.iter().any(|c| c == target) {
                    chains.push(target.to_string());
                }
            }
        }
        i += 1;
    }
    chains
}

/// The running engine's dockerd binary and PATH (Engine 28 runs from the tools directory with
/// its containerd first on PATH).
fn running_engine() -> (PathBuf, String) {
    let pid = fs::read_to_string("/var/run/docker.pid").expect("/var/run/docker.pid");
    let pid = pid.trim();
    let exe = fs::read_link(format!("/proc/{pid}/exe")).expect("dockerd executable");
    let environ = fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    let path = environ
        .split(|b| *b == 0)
        .filter_map(|v| v.strip_prefix(b"PATH="))
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .next()
        .unwrap_or_default();
    (exe, path)
}

/// Whether process PID runs (exists and is not a zombie).
fn alive(pid: &str) -> bool {
    fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|s| {
        !s.lines()
            .any(|l| l.starts_with("State:") && l.contains('Z'))
    })
}

/// A second dockerd with its own roots and socket, in its own network namespace.
pub(super) struct TestDaemon {
    dir: PathBuf,
    config: PathBuf,
    extra: Vec<String>,
    child: Option<Child>,
    /// Keep the exec root when stopping (a restart): the kernel drops an audit watch whose
    /// parent directory is removed, as it would the rules on a real host's /run at reboot.
    restart: bool,
}

impl TestDaemon {
    pub(super) fn start(dir: &Path, config: &Path, extra: &[&str]) -> TestDaemon {
        Self::cleanup_leftovers();
        must(run(10, &["ip", "netns", "add", TEST_NETNS]), "ip netns add");
        must(
            run(
                10,
                &[
                    "ip", "netns", "exec", TEST_NETNS, "ip", "link", "set", "lo", "up",
                ],
            ),
            "lo up",
        );
        let mut d = TestDaemon {
            dir: dir.to_path_buf(),
            config: config.to_path_buf(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            child: None,
            restart: false,
        };
        d.spawn();
        d
    }

    /// The engine's dockerd with this daemon's roots, socket and configuration, and the PATH
    /// it finds containerd and runc on: how `spawn` and `restart_command` start it.
    fn command_line(&self) -> (PathBuf, Vec<String>, String) {
        let (exe, engine_path) = running_engine();
        let mut args: Vec<String> = vec![
            "--data-root".into(),
            self.dir.join("data").to_string_lossy().into_owned(),
            "--exec-root".into(),
            TEST_EXEC_ROOT.into(),
            "--pidfile".into(),
            self.dir.join("dockerd.pid").to_string_lossy().into_owned(),
            "-H".into(),
            format!("unix://{TEST_SOCK}"),
            "--config-file".into(),
            self.config.to_string_lossy().into_owned(),
        ];
        args.extend(self.extra.iter().cloned());
        (exe, args, format!("{engine_path}:{PATH}"))
    }

    /// dockerd started in the test namespace, answering on the test socket.
    pub(super) fn spawn(&mut self) {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("dockerd.log"))
            .unwrap();
        let host = format!("unix://{TEST_SOCK}");
        let (exe, args, path) = self.command_line();
        // nsenter, not `ip netns exec`: the latter remounts /sys, hiding the cgroup mounts.
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net=/run/netns/{TEST_NETNS}"))
            .arg(&exe)
            .args(&args)
            .env("PATH", path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        self.child = Some(cmd.spawn().expect("start the test dockerd"));
        for _ in 0..120 {
            if run(10, &["docker", "-H", &host, "info", "--format", "{{.ID}}"]).ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        let log = fs::read_to_string(self.dir.join("dockerd.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(15).collect();
        panic!("the test dockerd does not answer:\n{}", tail.join("\n"));
    }

    /// Stops dockerd (SIGTERM, as a service manager does) and waits for it to exit: the test's
    /// own child, and a daemon a script restarted (`--restart-cmd`: not the test's child, found
    /// by its pidfile).
    pub(super) fn stop(&mut self) {
        let child = self.child.as_ref().map(|c| c.id().to_string());
        let pidfile = fs::read_to_string(self.dir.join("dockerd.pid"))
            .ok()
            .map(|p| p.trim().to_string());
        for pid in [child, pidfile].into_iter().flatten() {
            if alive(&pid) {
                let _ = run(10, &["kill", &pid]);
                for _ in 0..200 {
                    if !alive(&pid) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                if alive(&pid) {
                    let _ = run(10, &["kill", "-9", &pid]);
                }
            }
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
    }

    /// A shell command that restarts this daemon as `spawn` starts it, for a script's
    /// `--restart-cmd` run in the test namespace: SIGTERM to the pid of the pidfile, wait until
    /// it has exited (a zombie of the test counts as exited), start it again in the background.
    pub(super) fn restart_command(&self) -> String {
        let (exe, args, path) = self.command_line();
        let q = |s: &str| format!("'{s}'");
        let pidfile = q(&self.dir.join("dockerd.pid").to_string_lossy());
        let argv: Vec<String> = args.iter().map(|a| q(a)).collect();
        format!(
            "pid=$(cat {pidfile}) && kill -TERM \"$pid\" && i=0 && \
             while [ -e /proc/$pid ] && ! grep -q '^State:.*Z' /proc/$pid/status 2>/dev/null; do \
             i=$((i + 1)); [ $i -le 300 ] || exit 1; sleep 0.1; done; \
             PATH={path} setsid {exe} {argv} >>{log} 2>&1 </dev/null &",
            path = q(&path),
            exe = q(&exe.to_string_lossy()),
            argv = argv.join(" "),
            log = q(&self.dir.join("dockerd.log").to_string_lossy()),
        )
    }

    /// A restart of the daemon as a service manager does it: stopped, then started again with
    /// the same configuration, in the same network namespace (whose firewall rules stay).
    pub(super) fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// The daemon's process id, from its pidfile.
    pub(super) fn pid(&self) -> String {
        let pid =
            fs::read_to_string(self.dir.join("dockerd.pid")).expect("the test dockerd's pidfile");
        pid.trim().to_string()
    }

    /// `docker info` of this daemon, as JSON.
    pub(super) fn info(&self) -> Value {
        let o = must(
            self.docker(30, &["info", "--format", "{{json .}}"]),
            "docker info",
        );
        serde_json::from_str(&o.stdout).expect("docker info prints JSON")
    }

    pub(super) fn docker(&self, secs: u64, args: &[&str]) -> Out {
        let host = format!("unix://{TEST_SOCK}");
        let mut argv = vec!["docker", "-H", host.as_str()];
        argv.extend(args);
        run(secs, &argv)
    }

    fn cleanup_leftovers() {
        let _ = run(10, &["ip", "netns", "del", TEST_NETNS]);
        let _ = fs::remove_file(TEST_SOCK);
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        let host = format!("unix://{TEST_SOCK}");
        let ids = run(30, &["docker", "-H", &host, "ps", "-aq"]);
        for id in ids.stdout.split_whitespace() {
            let _ = run(30, &["docker", "-H", &host, "rm", "-f", id]);
        }
        self.stop();
        // Mounts the daemon left under its roots, deepest first.
        let mounts = fs::read_to_string("/proc/mounts").unwrap_or_default();
        let dir = self.dir.to_string_lossy().to_string();
        let mut points: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|m| m.starts_with(&dir) || m.starts_with(TEST_EXEC_ROOT))
            .collect();
        points.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in points {
            let _ = run(10, &["umount", "-l", m]);
        }
        if !self.restart {
            let _ = fs::remove_dir_all(TEST_EXEC_ROOT);
        }
        Self::cleanup_leftovers();
    }
}

fn inspect(d: &TestDaemon, what: &str) -> Value {
    let o = must(d.docker(30, &["inspect", what]), "docker inspect");
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    v[0].clone()
}

#[test]
#[ignore = "needs root, a Docker engine and auditd: run scripts/test.sh as root"]
fn harden_host_daemon_settings_in_force_on_a_test_daemon() {
    let _guard = live();
    let t_start = Instant::now();
    let tmp = tempfile::Builder::new()
        .prefix("hardgen-live-host-")
        .tempdir()
        .unwrap();
    let dir = tmp.path().join("deploy");
    generate(&dir);
    let etc = tmp.path().join("etc");
    fs::create_dir_all(&etc).unwrap();
    let config = etc.join("daemon.json");
    // The user's own settings, which the merge must keep.
    let user = r#"{"labels": ["hardgen-host-test=1"], "max-concurrent-downloads": 2}"#;
    fs::write(&config, user).unwrap();
    let state = tmp.path().join("state");
    let host = format!("unix://{TEST_SOCK}");
    let env = [("DOCKER_HOST", host.as_str())];
    let opts = [
        "--no-audit",
        "--daemon-json",
        config.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
    ];

    let key = format!("hardgen-{PROJECT}");
    let audit = AuditGuard::new(&key);
    let rules_dir = tmp.path().join("rules.d");

    // Before: the test daemon with the user's configuration only. harden-host.sh runs while it
    // runs (the audit rules name its data root and containerd socket), then it is restarted
    // with the merged file.
    let (_, _, _, report0) = {
        let mut d = TestDaemon::start(tmp.path(), &config, &[]);
        d.restart = true;
        let pid = d.pid();
        let r = host_check(&dir, &["--dockerd-pid", &pid], &env);
        println!(
            "host-check before (test daemon): {} PASS, {} WARN, {} NA\n{}",
            r.0, r.1, r.2, r.3
        );
        let mut args = vec![
            "--audit-dir",
            rules_dir.to_str().unwrap(),
            "--dockerd-pid",
            &pid,
        ];
        args.extend(&opts[1..]);
        let o = must(
            script(&dir, "harden-host.sh", &args, &env),
            "harden-host.sh",
        );
        println!("{}", o.stdout);
        drop(d);
        r
    };
    let merged: Value = serde_json::from_str(&fs::read_to_string(&config).unwrap()).unwrap();
    let generated: Value =
        serde_json::from_str(&fs::read_to_string(dir.join("daemon.json")).unwrap()).unwrap();
    assert_eq!(
        merged["labels"][0], "hardgen-host-test=1",
        "user setting kept"
    );
    assert_eq!(merged["max-concurrent-downloads"], 2, "user setting kept");
    for (k, v) in generated.as_object().unwrap() {
        assert_eq!(&merged[k], v, "{k} merged");
    }
    assert!(state.join("daemon.json.orig").exists(), "backup kept");

    let d = TestDaemon::start(tmp.path(), &config, &[]);
    let info = d.info();
    assert_eq!(info["LiveRestoreEnabled"], true, "live-restore in force");
    assert_eq!(info["LoggingDriver"], "json-file", "log-driver in force");
    assert!(
        info["Labels"]
            .as_array()
            .is_some_and(|l| l.iter().any(|x| x == "hardgen-host-test=1")),
        "the user's label in force: {}",
        info["Labels"]
    );
    let bridge = inspect(&d, "bridge");
    assert_eq!(
        bridge["Options"]["com.docker.network.bridge.enable_icc"], "false",
        "icc=false in force on the default bridge"
    );
    // Where the engine puts the rule is its own: FORWARD (Engine 20.10) or a chain FORWARD
    // jumps to (DOCKER-FORWARD on Engine 28). Found from the rules, not from the version.
    let filter = must(
        run(10, &["ip", "netns", "exec", TEST_NETNS, "iptables", "-S"]),
        "iptables -S in the test namespace",
    );
    let forward_chains = forward_chains(&filter.stdout);
    assert!(
        filter.stdout.lines().any(|l| forward_chains
            .iter()
            .any(|c| l == format!("-A {c} -i docker0 -o docker0 -j DROP"))),
        "icc=false: docker0 to docker0 dropped in {forward_chains:?}\n{filter}"
    );

    let load = run(
        120,
        &[
            "sh",
            "-c",
            &format!("docker save {BUSYBOX_IMAGE} | docker -H {host} load"),
        ],
    );
    must(load, "load busybox into the test daemon");
    let server = must(
        d.docker(
            60,
            &[
                "run",
                "-d",
                "-p",
                "127.0.0.1:18080:80",
                BUSYBOX_IMAGE,
                "httpd",
                "-f",
                "-p",
                "80",
            ],
        ),
        "run a server on the test daemon",
    )
    .stdout
    .trim()
    .to_string();
    let c = inspect(&d, &server);
    let pid = c["State"]["Pid"].as_u64().unwrap();
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(
        status.lines().any(|l| l == "NoNewPrivs:\t1"),
        "no-new-privileges in force for a container that did not ask for it\n{status}"
    );
    assert_eq!(c["HostConfig"]["LogConfig"]["Type"], "json-file");
    assert_eq!(c["HostConfig"]["LogConfig"]["Config"]["max-size"], "10m");
    assert_eq!(c["HostConfig"]["LogConfig"]["Config"]["max-file"], "3");
    // userland-proxy=false: the published port is NAT only, no docker-proxy of this daemon.
    let dpid = d.pid();
    let proxies = run(10, &["pgrep", "-P", &dpid, "docker-proxy"]);
    assert!(
        !proxies.ok(),
        "no docker-proxy child of the test dockerd while a port is published\n{proxies}"
    );
    let nat = must(
        run(
            10,
            &[
                "ip", "netns", "exec", TEST_NETNS, "iptables", "-t", "nat", "-S", "DOCKER",
            ],
        ),
        "nat DOCKER",
    );
    assert!(
        nat.stdout.contains("--dport 18080"),
        "port published by NAT\n{nat}"
    );
    // icc=false bites: the server answers from the namespace's host side, not from a neighbour.
    let ip = c["NetworkSettings"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string();
    let from_host = run(
        30,
        &[
            "nsenter",
            &format!("--net=/run/netns/{TEST_NETNS}"),
            "/bin/busybox",
            "nc",
            "-w",
            "2",
            &ip,
            "80",
        ],
    );
    assert!(
        from_host.ok(),
        "positive control: host side reaches the server\n{from_host}"
    );
    let from_neighbour = d.docker(
        60,
        &["run", "--rm", BUSYBOX_IMAGE, "nc", "-w", "2", &ip, "80"],
    );
    assert!(
        !from_neighbour.ok(),
        "icc=false: a neighbour on docker0 cannot reach the server\n{from_neighbour}"
    );

    let (p1, w1, n1, report1) = host_check(&dir, &["--dockerd-pid", &dpid], &env);
    println!("host-check after (test daemon): {p1} PASS, {w1} WARN, {n1} NA\n{report1}");
    for id in [
        "1.1.3", "1.1.5", "1.1.6", "1.1.8", "1.1.11", "1.1.14", "1.1.18", "2.2", "2.14", "2.15",
        "2.16",
    ] {
        assert!(
            line_of(&report1, id).starts_with("PASS"),
            "{id} after harden-host.sh:\n{report1}"
        );
        assert!(
            line_of(&report0, id).starts_with("WARN"),
            "{id} before harden-host.sh:\n{report0}"
        );
    }
    drop(d);
    must(
        script(
            &dir,
            "harden-host.sh",
            &[
                "--undo",
                "--no-daemon",
                "--audit-dir",
                rules_dir.to_str().unwrap(),
            ],
            &[],
        ),
        "harden-host.sh --undo (audit)",
    );
    drop(audit);

    // A conflicting value is reported and kept; --undo restores the user's file.
    let conflict = etc.join("conflict.json");
    fs::write(&conflict, r#"{"icc": true, "log-driver": "journald"}"#).unwrap();
    let o = must(
        script(
            &dir,
            "harden-host.sh",
            &[
                "--no-audit",
                "--daemon-json",
                conflict.to_str().unwrap(),
                "--state-dir",
                tmp.path().join("state2").to_str().unwrap(),
            ],
            &env,
        ),
        "harden-host.sh on a conflicting file",
    );
    assert!(o.stdout.contains("CONFLICT icc: kept true"), "{o}");
    assert!(o.stdout.contains("CONFLICT log-driver"), "{o}");
    let c: Value = serde_json::from_str(&fs::read_to_string(&conflict).unwrap()).unwrap();
    assert_eq!(c["icc"], true);
    assert_eq!(c["log-driver"], "journald");
    assert!(
        c.get("log-opts").is_none(),
        "json-file options not given to journald"
    );
    assert_eq!(c["no-new-privileges"], true);

    let mut undo = opts.to_vec();
    undo.push("--undo");
    must(
        script(&dir, "harden-host.sh", &undo, &env),
        "harden-host.sh --undo",
    );
    assert_eq!(
        fs::read_to_string(&config).unwrap(),
        user,
        "--undo restores the file"
    );

    // 2.13: a spec with remote logging (`[logging]` syslog, tests/live/syslog.toml) puts its
    // driver in force on the daemon (dockerd dials the receiver only when a container starts).
    let logdir = tmp.path().join("logging");
    fs::create_dir_all(&logdir).unwrap();
    let logdeploy = logdir.join("deploy");
    hardgen_build(
        &root(),
        &[
            "tests/live/syslog.toml",
            "--out",
            logdeploy.to_str().unwrap(),
        ],
    );
    let logconf = logdir.join("daemon.json");
    fs::write(&logconf, "{}").unwrap();
    must(
        script(
            &logdeploy,
            "harden-host.sh",
            &[
                "--no-audit",
                "--daemon-json",
                logconf.to_str().unwrap(),
                "--state-dir",
                logdir.join("state").to_str().unwrap(),
            ],
            &env,
        ),
        "harden-host.sh (syslog spec)",
    );
    let d = TestDaemon::start(&logdir, &logconf, &[]);
    let driver = must(
        d.docker(30, &["info", "--format", "{{.LoggingDriver}}"]),
        "docker info",
    );
    assert_eq!(
        driver.stdout.trim(),
        "syslog",
        "the spec's log driver in force"
    );
    let (p2, w2, n2, report2) = host_check(&logdeploy, &["--dockerd-pid", &d.pid()], &env);
    println!(
        "host-check with the syslog spec (test daemon): {p2} PASS, {w2} WARN, {n2} NA\n{report2}"
    );
    assert!(
        line_of(&report2, "2.13").starts_with("PASS"),
        "2.13 with [logging] syslog in force:\n{report2}"
    );
    drop(d);
    println!(
        "harden_host_daemon_settings_in_force_on_a_test_daemon: {:.1?}",
        t_start.elapsed()
    );
}

/// Runs `harden-host.sh --undo` for the user-namespace part on drop (also on failure): the
/// `dockremap` user and the subordinate ranges the script added are removed again.
struct SubidGuard {
    dir: PathBuf,
    args: Vec<String>,
}

impl Drop for SubidGuard {
    fn drop(&mut self) {
        let mut args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        args.push("--undo");
        let o = script(&self.dir, "harden-host.sh", &args, &[]);
        if !o.ok() {
            eprintln!("harden-host.sh --undo failed\n{o}");
        }
    }
}

const USERNS_SPEC: &str = r#"[project]
name = "hguserns"
subnet_pool = "10.231.0.0/16"

[host]
userns_remap = true

[zones.web]
egress = true

[secrets.token]

[services.web]
image = "hardgen-test/busybox:1"
zones = ["web"]
command = ["/bin/httpd", "-f", "-p", "8080", "-h", "/data"]
volumes = ["./data:/data"]
secrets = ["token"]
healthcheck = { cmd = ["/bin/wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"] }
"#;

fn subid_base(file: &str) -> Option<u64> {
    fs::read_to_string(file)
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("dockremap:"))
        .and_then(|rest| rest.split(':').next())
        .and_then(|s| s.parse().ok())
}

fn status_ids(pid: u64, field: &str) -> Vec<u64> {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .map(|v| {
            v.split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
#[ignore = "needs root and a Docker engine: run scripts/test.sh as root"]
fn harden_host_userns_remap_on_a_test_daemon() {
    let _guard = live();
    let t_start = Instant::now();
    let tmp = tempfile::Builder::new()
        .prefix("hardgen-live-userns-")
        .tempdir()
        .unwrap();
    // The remapped root must traverse to the data root (tempdir makes 0700).
    must(
        run(10, &["chmod", "0711", tmp.path().to_str().unwrap()]),
        "chmod",
    );
    let spec = tmp.path().join("userns.toml");
    fs::write(&spec, USERNS_SPEC).unwrap();
    let dir = tmp.path().join("deploy");
    hardgen_build(
        &root(),
        &[spec.to_str().unwrap(), "--out", dir.to_str().unwrap()],
    );
    let generated: Value =
        serde_json::from_str(&fs::read_to_string(dir.join("daemon.json")).unwrap()).unwrap();
    assert_eq!(generated["userns-remap"], "dockremap");

    let subuid_before = fs::read_to_string("/etc/subuid").ok();
    let subgid_before = fs::read_to_string("/etc/subgid").ok();
    let user_before = run(10, &["getent", "passwd", "dockremap"]).ok();
    let config = tmp.path().join("daemon.json");
    let state = tmp.path().join("state");
    let args: Vec<String> = [
        "--no-audit",
        "--daemon-json",
        config.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let host = format!("unix://{TEST_SOCK}");
    let env = [("DOCKER_HOST", host.as_str())];
    let subids = SubidGuard {
        dir: dir.clone(),
        args: args.clone(),
    };
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = must(
        script(&dir, "harden-host.sh", &argv, &env),
        "harden-host.sh",
    );
    println!("{}", o.stdout);
    assert!(
        run(10, &["getent", "passwd", "dockremap"]).ok(),
        "dockremap user"
    );
    let uid_base = subid_base("/etc/subuid").expect("dockremap in /etc/subuid");
    let gid_base = subid_base("/etc/subgid").expect("dockremap in /etc/subgid");
    assert!(
        uid_base >= 100_000 && gid_base >= 100_000,
        "{uid_base} {gid_base}"
    );

    let d = TestDaemon::start(tmp.path(), &config, &[]);
    let info = must(
        d.docker(30, &["info", "--format", "{{json .SecurityOptions}}"]),
        "docker info",
    );
    assert!(
        info.stdout.contains("name=userns"),
        "userns in force\n{info}"
    );
    // The host checks the spec can make pass here: 2.9 on the remapped daemon, and 4.5 in a
    // shell that sets content trust (a variable of the shell that pulls, not of the daemon).
    let (p, w, n, report) = host_check(
        &dir,
        &["--dockerd-pid", &d.pid()],
        &[
            ("DOCKER_HOST", host.as_str()),
            ("DOCKER_CONTENT_TRUST", "1"),
        ],
    );
    println!("host-check on the remapped test daemon: {p} PASS, {w} WARN, {n} NA\n{report}");
    for id in ["2.9", "4.5"] {
        assert!(
            line_of(&report, id).starts_with("PASS"),
            "{id} on the remapped test daemon:\n{report}"
        );
    }
    must(
        run(
            120,
            &[
                "sh",
                "-c",
                &format!("docker save {BUSYBOX_IMAGE} | docker -H {host} load"),
            ],
        ),
        "load busybox into the test daemon",
    );
    // Root in a container is the first id of the range on the host.
    let c = must(
        d.docker(
            60,
            &[
                "run",
                "-d",
                "--network",
                "none",
                BUSYBOX_IMAGE,
                "sleep",
                "60",
            ],
        ),
        "docker run as root",
    )
    .stdout
    .trim()
    .to_string();
    let pid = inspect(&d, &c)["State"]["Pid"].as_u64().unwrap();
    let uids = status_ids(pid, "Uid");
    assert_eq!(
        uids.first(),
        Some(&uid_base),
        "container root is host uid {uid_base}: {uids:?}"
    );
    let map = fs::read_to_string(format!("/proc/{pid}/uid_map")).unwrap();
    assert_eq!(
        map.split_whitespace().collect::<Vec<_>>(),
        ["0", &uid_base.to_string(), "65536"],
        "uid_map"
    );
    let _ = d.docker(30, &["rm", "-f", &c]);

    // The stack: secrets and the writable bind mount belong to the remapped ids.
    let o = must(
        script(&dir, "generate-secrets.sh", &[], &[]),
        "generate-secrets.sh",
    );
    println!("{}", o.stdout);
    let meta = fs::metadata(dir.join("secrets/token")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        (u64::from(meta.uid()), u64::from(meta.gid())),
        (uid_base + 10001, gid_base + 10001)
    );
    let data = fs::metadata(dir.join("data")).unwrap();
    assert_eq!(u64::from(data.uid()), uid_base + 10001, "bind dir owner");
    fs::write(dir.join("data/index.html"), "userns\n").unwrap();
    let compose = super::compose_command();
    let compose_run = |secs: u64, extra: &[&str]| {
        let mut argv: Vec<&str> = compose.iter().map(String::as_str).collect();
        argv.extend(["--project-directory", dir.to_str().unwrap(), "-f"]);
        let file = dir.join("docker-compose.yml");
        let file = file.to_str().unwrap().to_string();
        let mut all: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        all.push(file);
        all.extend(extra.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        run_env(secs, &refs, &env)
    };
    let up = compose_run(
        300,
        &[
            "up",
            "--detach",
            "--wait",
            "--wait-timeout",
            "120",
            "--pull",
            "never",
        ],
    );
    let ps = compose_run(30, &["ps", "--all"]);
    let logs = compose_run(30, &["logs", "--no-color", "--tail", "20"]);
    let web = d
        .docker(
            30,
            &[
                "ps",
                "-q",
                "--filter",
                "label=com.docker.compose.service=web",
            ],
        )
        .stdout
        .trim()
        .to_string();
    let checks = (|| {
        if !up.ok() {
            return Err(format!("compose up --wait failed\n{up}\n{ps}\n{logs}"));
        }
        let v = inspect(&d, &web);
        if v["State"]["Health"]["Status"] != "healthy" {
            return Err(format!("web not healthy: {}", v["State"]));
        }
        let pid = v["State"]["Pid"].as_u64().unwrap();
        let uids = status_ids(pid, "Uid");
        if uids.first() != Some(&(uid_base + 10001)) {
            return Err(format!(
                "web runs as host uid {uids:?}, want {}",
                uid_base + 10001
            ));
        }
        let secret = d.docker(30, &["exec", &web, "cat", "/run/secrets/token"]);
        if !secret.ok() || secret.stdout.trim().len() != 64 {
            return Err(format!("secret not readable by the service\n{secret}"));
        }
        Ok(())
    })();
    let down = compose_run(120, &["down", "--volumes", "--timeout", "3"]);
    drop(d);
    drop(subids);
    if let Err(e) = checks {
        panic!("{e}");
    }
    assert!(down.ok(), "compose down\n{down}");
    assert_eq!(
        fs::read_to_string("/etc/subuid").ok(),
        subuid_before,
        "--undo restores /etc/subuid"
    );
    assert_eq!(
        fs::read_to_string("/etc/subgid").ok(),
        subgid_before,
        "--undo restores /etc/subgid"
    );
    assert_eq!(
        run(10, &["getent", "passwd", "dockremap"]).ok(),
        user_before,
        "--undo removes the user it added"
    );
    println!(
        "harden_host_userns_remap_on_a_test_daemon: {:.1?}",
        t_start.elapsed()
    );
}
