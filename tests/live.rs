//! Live tests: generated deployments brought up on the real Docker engine, and their hardening
//! proven from the outside (`docker inspect`, the host's `/proc` and cgroup files, probes from
//! inside the containers, iptables).
//!
//! Every live test is `#[ignore]`d with the reason, so a plain `cargo test` reports it as
//! *ignored*, never as passed. `scripts/test.sh` runs them as root with
//! `cargo test --test live -- --include-ignored`, once per engine (`HARDGEN_ENGINE=20.10`, then
//! `28`), and fails when one of them did not run. A live test that runs needs root, a running
//! engine (`scripts/docker-engine.sh`), the local base images (`scripts/test-images.sh`),
//! Debian's `busybox-static` on the host and iptables: when one is missing it FAILS, naming
//! what is missing. With `HARDGEN_ENGINE` set, the running engine must be that one. Nothing is
//! pulled: images are built locally, and the stack tests build stand-ins for the images their
//! specs name (`tests/live/stand-ins/`), removed afterwards.
//!
//! The tests share the engine and compare iptables snapshots, so they run one at a time (a
//! static lock). Everything a run creates is removed by a guard's `Drop`, also on failure.
//! Property checks do not stop at the first failure: the test ends with the list of every
//! service and property that failed, each with the command output that shows it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The Docker host hardening (scripts/harden-host.sh, scripts/host-check.sh).
#[path = "live/host.rs"]
mod host;

#[path = "live/daemon_modes.rs"]
mod daemon_modes;

static ENGINE: Mutex<()> = Mutex::new(());

const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Label carried by the stand-in images the Luna test builds; a tag without it is never touched.
const STAND_IN_LABEL: &str = "org.hardgen.live-stand-in";
const BUSYBOX_IMAGE: &str = "hardgen-test/busybox:1";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The engine lines the live suite is proven on (`scripts/docker-engine.sh`, `HARDGEN_ENGINE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Engine {
    /// Debian 12's docker.io 20.10.
    V20,
    /// Engine 28 (Debian unstable's docker.io 28.x).
    V28,
}

impl Engine {
    fn from_version(v: &str) -> Option<Self> {
        if v.starts_with("20.10.") {
            Some(Self::V20)
        } else if v.starts_with("28.") {
            Some(Self::V28)
        } else {
            None
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::V20 => "20.10",
            Self::V28 => "28",
        }
    }

    /// The engine answering on the socket.
    fn running() -> Self {
        let v = run(
            30,
            &["docker", "version", "--format", "{{.Server.Version}}"],
        );
        assert!(
            v.ok(),
            "no Docker engine: run scripts/docker-engine.sh\n{v}"
        );
        Self::from_version(v.stdout.trim()).unwrap_or_else(|| {
            panic!(
                "engine {} is not one the live suite is proven on (20.10, 28)",
                v.stdout.trim()
            )
        })
    }
}

/// The engine lock, after checking what the live tests need. A live test only runs when asked
/// for (`--include-ignored`): anything missing then fails it, it never passes by not running.
fn live() -> MutexGuard<'static, ()> {
    // A test that failed while holding the lock still released the engine (its guard ran).
    let guard = ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    let id = run(10, &["id", "-u"]);
    assert_eq!(
        id.stdout.trim(),
        "0",
        "the live tests must run as root (scripts/test.sh)\n{id}"
    );
    let engine = Engine::running();
    if let Ok(want) = std::env::var("HARDGEN_ENGINE") {
        assert_eq!(
            engine.name(),
            want,
            "HARDGEN_ENGINE={want} but engine {engine:?} runs: start it with \
             HARDGEN_ENGINE={want} scripts/docker-engine.sh"
        );
    }
    for image in [BUSYBOX_IMAGE, "debian:bookworm-slim"] {
        let o = run(
            30,
            &["docker", "image", "inspect", "--format", "{{.Id}}", image],
        );
        assert!(
            o.ok(),
            "image {image} missing: run scripts/test-images.sh\n{o}"
        );
    }
    assert!(
        Path::new("/bin/busybox").exists(),
        "/bin/busybox missing: install Debian's busybox-static (scripts/install-tools.sh)"
    );
    let ipt = run(30, &["iptables", "-w", "-S", "DOCKER-USER"]);
    assert!(
        ipt.ok(),
        "no DOCKER-USER chain (iptables backend of the engine needed)\n{ipt}"
    );
    guard
}

/// `HARDGEN_LIVE=1` asks for the live suite: then the ignored live tests must have been
/// included, or they would be reported as ignored while the caller believes they ran.
#[test]
fn live_tests_run_when_asked_for() {
    if std::env::var("HARDGEN_LIVE").as_deref() != Ok("1") {
        return;
    }
    let args: Vec<String> = std::env::args().collect();
    assert!(
        args.iter()
            .any(|a| a == "--include-ignored" || a == "--ignored"),
        "HARDGEN_LIVE=1 but the live tests are #[ignore]d in this run: pass \
         `-- --include-ignored` (scripts/test.sh does); args were {args:?}"
    );
}

// ------------------------------------------------------------------ engine

/// Removes the networks and container the engine test makes, also on failure.
struct EngineProbe;

impl EngineProbe {
    const NETS: [&'static str; 2] = ["hglive-engine-open", "hglive-engine-internal"];
    const CONTAINER: &'static str = "hglive-engine-c";

    fn clean() {
        run(30, &["docker", "rm", "-f", Self::CONTAINER]);
        for n in Self::NETS {
            run(30, &["docker", "network", "rm", n]);
        }
    }
}

impl Drop for EngineProbe {
    fn drop(&mut self) {
        Self::clean();
    }
}

/// What differs between the engines in what hardgen's firewall hooks into, asserted per engine
/// with a container on an ordinary and on an internal network: the filter table's Docker
/// chains, the order of `FORWARD` (DOCKER-USER first on both: the zone policy sees every
/// forwarded packet before Docker's own accepts), what `DOCKER-USER` holds before anything is
/// loaded, and the firewall backend `docker info` reports. (Engine 28's release notes also name
/// a `DOCKER-INTERNAL` chain; 28.5.2 with an internal network has none.)
#[test]
#[ignore = "needs root and a Docker engine: run scripts/test.sh as root"]
fn engine_firewall_hooks_are_as_documented() {
    let _engine = live();
    let engine = Engine::running();
    let t0 = Instant::now();
    let mut c = Checks::default();
    EngineProbe::clean();
    let _guard = EngineProbe;
    must(
        run(30, &["docker", "network", "create", EngineProbe::NETS[0]]),
        "network create",
    );
    must(
        run(
            30,
            &[
                "docker",
                "network",
                "create",
                "--internal",
                EngineProbe::NETS[1],
            ],
        ),
        "network create --internal",
    );
    must(
        run(
            60,
            &[
                "docker",
                "run",
                "-d",
                "--pull",
                "never",
                "--name",
                EngineProbe::CONTAINER,
                "--network",
                EngineProbe::NETS[0],
                BUSYBOX_IMAGE,
                "sleep",
                "60",
            ],
        ),
        "docker run",
    );
    must(
        run(
            30,
            &[
                "docker",
                "network",
                "connect",
                EngineProbe::NETS[1],
                EngineProbe::CONTAINER,
            ],
        ),
        "network connect",
    );
    let (filter, _) = iptables_state();
    let chains: BTreeSet<&str> = filter
        .iter()
        .filter_map(|l| l.strip_prefix("-N "))
        .filter(|n| n.starts_with("DOCKER"))
        .collect();
    let forward = chain_rules(&filter, "FORWARD");
    let user = chain_rules(&filter, "DOCKER-USER");
    let backend = run(
        30,
        &["docker", "info", "--format", "{{json .FirewallBackend}}"],
    );
    let who = format!("engine {}", engine.name());
    match engine {
        Engine::V20 => {
            c.eq(
                &who,
                "filter chains",
                chains,
                BTreeSet::from([
                    "DOCKER",
                    "DOCKER-ISOLATION-STAGE-1",
                    "DOCKER-ISOLATION-STAGE-2",
                    "DOCKER-USER",
                ]),
            );
            c.eq(
                &who,
                "FORWARD starts DOCKER-USER, DOCKER-ISOLATION-STAGE-1",
                forward.iter().take(2).copied().collect::<Vec<_>>(),
                vec![
                    "-A FORWARD -j DOCKER-USER",
                    "-A FORWARD -j DOCKER-ISOLATION-STAGE-1",
                ],
            );
            c.eq(
                &who,
                "DOCKER-USER holds only RETURN",
                user,
                vec!["-A DOCKER-USER -j RETURN"],
            );
            c.eq(
                &who,
                "no firewall backend reported",
                backend.stdout.trim(),
                "null",
            );
        }
        Engine::V28 => {
            c.eq(
                &who,
                "filter chains",
                chains,
                BTreeSet::from([
                    "DOCKER",
                    "DOCKER-BRIDGE",
                    "DOCKER-CT",
                    "DOCKER-FORWARD",
                    "DOCKER-ISOLATION-STAGE-1",
                    "DOCKER-ISOLATION-STAGE-2",
                    "DOCKER-USER",
                ]),
            );
            c.eq(
                &who,
                "FORWARD is DOCKER-USER, then DOCKER-FORWARD",
                forward.clone(),
                vec!["-A FORWARD -j DOCKER-USER", "-A FORWARD -j DOCKER-FORWARD"],
            );
            c.eq(&who, "DOCKER-USER empty", user, Vec::<&str>::new());
            c.check(
                &who,
                "firewall backend iptables",
                backend.stdout.contains("\"iptables\""),
                || backend.to_string(),
            );
        }
    }
    println!(
        "engine {}: filter table\n{}",
        engine.name(),
        filter.join("\n")
    );
    c.finish("engine_firewall_hooks_are_as_documented", t0);
}

// ------------------------------------------------------------------ commands

/// What a command did, printable as evidence.
struct Out {
    cmd: String,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Out {
    fn ok(&self) -> bool {
        self.code == Some(0)
    }
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        fn tail(s: &str) -> String {
            let lines: Vec<&str> = s.trim_end().lines().collect();
            let skip = lines.len().saturating_sub(60);
            let mut t = lines[skip..].join("\n      ");
            if skip > 0 {
                t = format!("[{skip} lines cut]\n      {t}");
            }
            t
        }
        write!(
            f,
            "    $ {}\n    exit: {}\n    stdout: {}\n    stderr: {}",
            self.cmd,
            self.code
                .map_or_else(|| "killed".to_string(), |c| c.to_string()),
            tail(&self.stdout),
            tail(&self.stderr)
        )
    }
}

/// Runs `argv` with stdin closed, killed after `secs` seconds (coreutils `timeout`).
fn run(secs: u64, argv: &[&str]) -> Out {
    run_in(None, secs, argv)
}

fn run_in(dir: Option<&Path>, secs: u64, argv: &[&str]) -> Out {
    let mut c = Command::new("timeout");
    c.args(["-k", "5", &secs.to_string()])
        .args(argv)
        .env("PATH", PATH)
        .stdin(Stdio::null());
    if let Some(d) = dir {
        c.current_dir(d);
    }
    let o = c
        .output()
        .unwrap_or_else(|e| panic!("cannot run {argv:?}: {e}"));
    Out {
        cmd: argv.join(" "),
        code: o.status.code().filter(|c| *c != 124 && *c != 137),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn must(out: Out, what: &str) -> Out {
    assert!(out.ok(), "{what} failed\n{out}");
    out
}

fn inspect(id: &str) -> Value {
    let o = must(run(30, &["docker", "inspect", id]), "docker inspect");
    let mut v: Value = serde_json::from_str(&o.stdout).expect("docker inspect prints JSON");
    v[0].take()
}

fn image_label(image: &str) -> Option<String> {
    let o = run(
        30,
        &[
            "docker",
            "image",
            "inspect",
            "--format",
            &format!("{{{{index .Config.Labels \"{STAND_IN_LABEL}\"}}}}"),
            image,
        ],
    );
    o.ok().then(|| o.stdout.trim().to_string())
}

// ------------------------------------------------------------------ checks

/// Collects property results; `finish` fails the test with every failed property.
#[derive(Default)]
struct Checks {
    passed: usize,
    failures: Vec<String>,
}

impl Checks {
    fn check(&mut self, who: &str, property: &str, ok: bool, evidence: impl FnOnce() -> String) {
        if ok {
            self.passed += 1;
            println!("ok   {who}: {property}");
        } else {
            let e = evidence();
            println!("FAIL {who}: {property}\n{e}");
            self.failures.push(format!("{who}: {property}\n{e}"));
        }
    }

    fn eq<T: PartialEq + std::fmt::Debug>(&mut self, who: &str, property: &str, got: T, want: T) {
        let ok = got == want;
        self.check(who, property, ok, || {
            format!("    got:  {got:?}\n    want: {want:?}")
        });
    }

    fn finish(self, test: &str, t0: Instant) {
        println!(
            "{test}: {} properties passed, {} failed, {:.1}s",
            self.passed,
            self.failures.len(),
            t0.elapsed().as_secs_f64()
        );
        if !self.failures.is_empty() {
            panic!(
                "{test}: {} of {} properties failed:\n\n{}",
                self.failures.len(),
                self.passed + self.failures.len(),
                self.failures.join("\n\n")
            );
        }
    }
}

/// Wall time of the phases of a test, printed at its end.
struct Phases {
    t0: Instant,
    last: Instant,
    done: Vec<(String, Duration)>,
}

impl Phases {
    fn new() -> Self {
        let now = Instant::now();
        Phases {
            t0: now,
            last: now,
            done: Vec::new(),
        }
    }
    fn mark(&mut self, name: &str) {
        let now = Instant::now();
        self.done.push((name.to_string(), now - self.last));
        self.last = now;
    }
    fn print(&self, test: &str) {
        let parts: Vec<String> = self
            .done
            .iter()
            .map(|(n, d)| format!("{n} {:.1}s", d.as_secs_f64()))
            .collect();
        println!(
            "{test}: wall time {:.1}s ({})",
            self.t0.elapsed().as_secs_f64(),
            parts.join(", ")
        );
    }
}

// ------------------------------------------------------------------ deployment guard

/// A generated deployment in a temporary directory, and everything the test starts around it.
/// Dropping it removes all of it: host listeners, the firewall policy, the stack with its
/// volumes and built images, extra containers and networks, stand-in images.
struct Deployment {
    project: String,
    dir: tempfile::TempDir,
    compose: Vec<String>,
    firewall_loaded: bool,
    listeners: Vec<Child>,
    containers: Vec<String>,
    networks: Vec<String>,
    stand_ins: Vec<String>,
    /// Compose files layered over the generated one (paths relative to the deployment), for
    /// what this host cannot honour; each is explained where the test adds it.
    overrides: Vec<String>,
    /// AppArmor profiles the test loaded (hosts with AppArmor), unloaded on drop.
    apparmor_profiles: Vec<PathBuf>,
}

impl Deployment {
    /// `hardgen build SPEC --out <tmp>`; leftovers of an interrupted run of the same project
    /// are removed first.
    fn generate(spec: &str, project: &str) -> Deployment {
        let dir = tempfile::Builder::new()
            .prefix(&format!("hardgen-live-{project}-"))
            .tempdir()
            .expect("temporary directory");
        // Build contexts are relative to the spec: the spec is copied into the deployment
        // directory, so that the test puts each service's source at `<dir>/src/<service>`
        // (the spec's default context) beside the generated files.
        let copy = dir
            .path()
            .join(Path::new(spec).file_name().expect("spec file name"));
        fs::copy(root().join(spec), &copy).expect("copy the spec next to its sources");
        let o = Command::new(env!("CARGO_BIN_EXE_hardgen"))
            .arg("build")
            .arg(&copy)
            .arg("--out")
            .arg(dir.path())
            .current_dir(root())
            .output()
            .expect("run hardgen");
        assert!(
            o.status.success(),
            "hardgen build {spec} failed:\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let d = Deployment {
            project: project.to_string(),
            dir,
            compose: compose_command(),
            firewall_loaded: false,
            listeners: Vec::new(),
            containers: Vec::new(),
            networks: Vec::new(),
            stand_ins: Vec::new(),
            overrides: Vec::new(),
            apparmor_profiles: Vec::new(),
        };
        d.compose_run(
            120,
            &["down", "--volumes", "--remove-orphans", "--timeout", "3"],
        );
        d.script(60, "apply-firewall.sh", &["--remove"]);
        d
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn compose_run(&self, secs: u64, args: &[&str]) -> Out {
        let mut argv: Vec<&str> = self.compose.iter().map(String::as_str).collect();
        argv.extend(["-f", "docker-compose.yml"]);
        for o in &self.overrides {
            argv.extend(["-f", o.as_str()]);
        }
        argv.extend(args);
        run_in(Some(self.path()), secs, &argv)
    }

    fn script(&self, secs: u64, name: &str, args: &[&str]) -> Out {
        let path = format!("scripts/{name}");
        let mut argv = vec!["sh", path.as_str()];
        argv.extend(args);
        run_in(Some(self.path()), secs, &argv)
    }

    /// `docker compose up -d --wait`; on failure, the test fails with compose's output, the
    /// state of every container and its last log lines.
    fn up(&self) {
        let o = self.compose_run(
            600,
            &[
                "up",
                "--detach",
                "--wait",
                "--wait-timeout",
                "300",
                "--pull",
                "never",
            ],
        );
        if !o.ok() {
            let ps = self.compose_run(30, &["ps", "--all"]);
            let logs = self.compose_run(30, &["logs", "--no-color", "--tail", "20"]);
            panic!(
                "{}: docker compose up --wait failed\n{o}\n{ps}\n{logs}",
                self.project
            );
        }
    }

    fn container(&self, service: &str) -> String {
        let o = must(
            run(
                30,
                &[
                    "docker",
                    "ps",
                    "--quiet",
                    "--no-trunc",
                    "--filter",
                    &format!("label=com.docker.compose.project={}", self.project),
                    "--filter",
                    &format!("label=com.docker.compose.service={service}"),
                ],
            ),
            "docker ps",
        );
        let id = o.stdout.lines().next().unwrap_or("").trim().to_string();
        assert!(
            !id.is_empty(),
            "{}: no running container for service {service}",
            self.project
        );
        id
    }

    /// A host listener (`busybox httpd`) on ADDR:PORT, stopped with the deployment.
    fn listen_on_host(&mut self, addr: &str, port: u16) {
        let www = self.path().join("host-www");
        fs::create_dir_all(&www).unwrap();
        let child = Command::new("/bin/busybox")
            .args(["httpd", "-f", "-p", &format!("{addr}:{port}"), "-h"])
            .arg(&www)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start busybox httpd on the host");
        self.listeners.push(child);
        for _ in 0..50 {
            if probe_host(addr, port) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("host listener on {addr}:{port} does not accept connections");
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        let mut problems = Vec::new();
        for mut l in self.listeners.drain(..) {
            let _ = l.kill();
            let _ = l.wait();
        }
        if self.firewall_loaded {
            let o = self.script(60, "apply-firewall.sh", &["--remove"]);
            if !o.ok() {
                problems.push(o.to_string());
            }
        }
        let o = self.compose_run(
            180,
            &[
                "down",
                "--volumes",
                "--remove-orphans",
                "--rmi",
                "local",
                "--timeout",
                "3",
            ],
        );
        if !o.ok() {
            problems.push(o.to_string());
        }
        // Built images carry the spec's name (`image:` next to `build:`), which `--rmi local`
        // leaves alone: remove exactly those.
        for image in built_images(&self.dir.path().join("docker-compose.yml")) {
            let _ = run(60, &["docker", "image", "rm", &image]);
        }
        for c in &self.containers {
            let _ = run(60, &["docker", "rm", "--force", "--volumes", c]);
        }
        for n in &self.networks {
            let _ = run(60, &["docker", "network", "rm", n]);
        }
        for profile in &self.apparmor_profiles {
            let o = run(
                60,
                &[
                    "apparmor_parser",
                    "-R",
                    profile.to_str().unwrap_or_default(),
                ],
            );
            if !o.ok() {
                problems.push(o.to_string());
            }
        }
        for image in &self.stand_ins {
            if image_label(image).is_some_and(|l| !l.is_empty()) {
                let o = run(60, &["docker", "image", "rm", image]);
                if !o.ok() {
                    problems.push(o.to_string());
                }
            }
        }
        if !problems.is_empty() {
            eprintln!(
                "{}: cleanup problems:\n{}",
                self.project,
                problems.join("\n")
            );
        }
    }
}

/// The real Compose v2 binary: the one install-tools.sh links into .tools/bin, else the
/// `docker compose` plugin.
/// The image names of the services a compose file builds.
fn built_images(compose: &Path) -> Vec<String> {
    let Ok(text) = fs::read_to_string(compose) else {
        return Vec::new();
    };
    let Ok(doc) = serde_yaml::from_str::<serde_yaml::Value>(&text) else {
        return Vec::new();
    };
    doc["services"]
        .as_mapping()
        .map(|m| {
            m.values()
                .filter(|s| s.get("build").is_some())
                .filter_map(|s| s["image"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn compose_command() -> Vec<String> {
    let tools = std::env::var_os("HARDGEN_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".tools"));
    let bin = tools.join("bin/docker-compose");
    if bin.exists() && run(30, &[bin.to_str().unwrap(), "version"]).ok() {
        vec![bin.to_string_lossy().into_owned()]
    } else {
        vec!["docker".into(), "compose".into()]
    }
}

// ------------------------------------------------------------------ expectations

/// What the test expects of one service, written from the spec by hand (not from hardgen's
/// output, so that a wrong rendering cannot make its own expectation).
struct Svc {
    name: &'static str,
    uid: u32,
    gid: u32,
    /// Supplementary groups besides `gid` (group-readable shared secrets).
    groups: &'static [u32],
    caps: &'static [&'static str],
    memory: u64,
    pids: i64,
    nano_cpus: i64,
    /// (container port, host address, host port)
    ports: &'static [(&'static str, &'static str, &'static str)],
    secrets: &'static [&'static str],
    /// Secrets of the stack this service must not see.
    not_secrets: &'static [&'static str],
    /// How to run busybox applets in the container: `["/app/busybox"]`, `["busybox"]` or
    /// `[]` (applets on PATH).
    bb: &'static [&'static str],
    /// tmpfs size as the kernel shows it in mountinfo (`size=8192k`).
    tmpfs_kib: u64,
    /// Memory reservation in bytes, 0 for none.
    mem_reservation: u64,
    /// Built from a generated Dockerfile (`build =`): the image itself is checked too.
    built: bool,
    /// The runtime stage is `scratch`: the image holds the application binary only.
    scratch: bool,
    /// `restart: on-failure:N`.
    restart_retries: i64,
}

impl Svc {
    fn applet(&self, argv: &[&str]) -> Vec<String> {
        self.bb.iter().chain(argv).map(|s| s.to_string()).collect()
    }
}

const CAPS: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

fn cap_mask(caps: &[&str]) -> u64 {
    caps.iter()
        .map(|c| {
            let bit = CAPS
                .iter()
                .position(|k| k == c)
                .unwrap_or_else(|| panic!("unknown capability {c}"));
            1u64 << bit
        })
        .fold(0, |m, b| m | b)
}

// ------------------------------------------------------------------ host views

fn proc_status(pid: u32) -> BTreeMap<String, String> {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

/// The cgroup directory of `pid` for a v1 controller, or the v2 unified one.
fn cgroup_dir(pid: u32, controller: &str) -> Option<PathBuf> {
    let text = fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
        if ctrls.split(',').any(|c| c == controller) {
            return Some(PathBuf::from(format!("/sys/fs/cgroup/{controller}{path}")));
        }
    }
    let v2 = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    Some(PathBuf::from(format!("/sys/fs/cgroup{v2}")))
}

/// The processes of a container, read from the cgroup of its PID 1.
///
/// A `docker exec` (a health check, a probe) starts as the runtime's own init (`runc init`),
/// which joins the container's cgroup *before* it applies the container's user, capabilities
/// and seccomp filter and then executes the program. Caught in that window, it is not yet a
/// process of the container: wait (at most 3 s) until no such process is left, so each one is
/// checked as the program it became. One still there after the wait is returned, and fails the
/// checks that follow.
fn container_pids(pid: u32) -> Vec<u32> {
    let read = || -> Vec<u32> {
        cgroup_dir(pid, "pids")
            .map(|dir| read_trim(&dir.join("cgroup.procs")))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    };
    let runtime_init = |p: &u32| {
        let cmd = fs::read_to_string(format!("/proc/{p}/cmdline")).unwrap_or_default();
        let comm = fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
        cmd.starts_with("runc\0init") || comm.starts_with("runc:[")
    };
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let pids = read();
        if !pids.iter().any(runtime_init) || Instant::now() >= deadline {
            return pids;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn read_trim(p: &Path) -> String {
    fs::read_to_string(p)
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|e| format!("<{}: {e}>", p.display()))
}

/// (mount point, mount options, file system type, super options) from /proc/PID/mountinfo.
fn mounts(pid: u32) -> Vec<(String, String, String, String)> {
    fs::read_to_string(format!("/proc/{pid}/mountinfo"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let f: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            Some((
                f.get(4)?.to_string(),
                f.get(5)?.to_string(),
                r.first()?.to_string(),
                r.get(2).unwrap_or(&"").to_string(),
            ))
        })
        .collect()
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s, 16).unwrap_or(u64::MAX)
}

fn probe_host(addr: &str, port: u16) -> bool {
    run(
        10,
        &["/bin/busybox", "nc", "-w", "2", addr, &port.to_string()],
    )
    .ok()
}

// ------------------------------------------------------------------ per-service properties

/// Every hardening property of one running service, from inspect, /proc and cgroups on the
/// host, and commands run inside the container.
fn check_service(c: &mut Checks, d: &Deployment, s: &Svc) {
    let who = s.name;
    let id = d.container(s.name);
    let v = inspect(&id);
    let hc = &v["HostConfig"];
    let ev = |key: &str| format!("    docker inspect .{key} = {}", pointer(&v, key));

    c.eq(who, "running", v["State"]["Running"].as_bool(), Some(true));
    c.eq(
        who,
        "health",
        v["State"]["Health"]["Status"].as_str(),
        Some("healthy"),
    );
    c.eq(
        who,
        "configured user (Config.User)",
        v["Config"]["User"].as_str().unwrap_or(""),
        format!("{}:{}", s.uid, s.gid).as_str(),
    );
    c.eq(
        who,
        "read-only root (ReadonlyRootfs)",
        hc["ReadonlyRootfs"].as_bool(),
        Some(true),
    );
    c.eq(
        who,
        "not privileged",
        hc["Privileged"].as_bool(),
        Some(false),
    );
    let cap_drop: Vec<&str> = array_str(&hc["CapDrop"]);
    c.eq(who, "cap_drop ALL", cap_drop, vec!["ALL"]);
    let mut cap_add: Vec<String> = array_str(&hc["CapAdd"])
        .iter()
        .map(|c| c.trim_start_matches("CAP_").to_string())
        .collect();
    cap_add.sort();
    let mut want_caps: Vec<String> = s.caps.iter().map(|c| c.to_string()).collect();
    want_caps.sort();
    c.eq(who, "cap_add exactly as in the spec", cap_add, want_caps);
    let sec: Vec<&str> = array_str(&hc["SecurityOpt"]);
    c.check(
        who,
        "no-new-privileges in SecurityOpt",
        sec.iter().any(|o| {
            matches!(
                *o,
                "no-new-privileges" | "no-new-privileges:true" | "no-new-privileges=true"
            )
        }),
        || ev("HostConfig.SecurityOpt"),
    );
    c.check(
        who,
        "a seccomp profile in SecurityOpt, not unconfined",
        sec.iter()
            .any(|o| o.starts_with("seccomp") && !o.contains("unconfined")),
        || format!("    SecurityOpt = {sec:?}"),
    );
    // (CgroupnsMode is "host" by default on cgroup v1 hosts; it is not one of the controls.)
    for ns in ["NetworkMode", "PidMode", "IpcMode", "UTSMode", "UsernsMode"] {
        c.check(
            who,
            &format!("{ns} is not host"),
            hc[ns].as_str() != Some("host"),
            || ev(&format!("HostConfig.{ns}")),
        );
    }
    c.eq(
        who,
        "memory limit (HostConfig.Memory)",
        hc["Memory"].as_u64(),
        Some(s.memory),
    );
    c.eq(
        who,
        "no swap (HostConfig.MemorySwap = Memory)",
        hc["MemorySwap"].as_u64(),
        Some(s.memory),
    );
    c.eq(
        who,
        "pids limit (HostConfig.PidsLimit)",
        hc["PidsLimit"].as_i64(),
        Some(s.pids),
    );
    c.eq(
        who,
        "CPU limit (HostConfig.NanoCpus)",
        hc["NanoCpus"].as_i64(),
        Some(s.nano_cpus),
    );

    c.eq(
        who,
        "memory reservation (HostConfig.MemoryReservation)",
        hc["MemoryReservation"].as_u64(),
        Some(s.mem_reservation),
    );
    c.eq(
        who,
        "init process (HostConfig.Init)",
        hc["Init"].as_bool(),
        Some(true),
    );
    c.eq(
        who,
        &format!("restart policy on-failure:{}", s.restart_retries),
        (
            hc["RestartPolicy"]["Name"].as_str(),
            hc["RestartPolicy"]["MaximumRetryCount"].as_i64(),
        ),
        (Some("on-failure"), Some(s.restart_retries)),
    );
    c.eq(
        who,
        "bounded json-file logs (10m x 3)",
        (
            hc["LogConfig"]["Type"].as_str(),
            hc["LogConfig"]["Config"]["max-size"].as_str(),
            hc["LogConfig"]["Config"]["max-file"].as_str(),
        ),
        (Some("json-file"), Some("10m"), Some("3")),
    );
    if s.built {
        let image = inspect(v["Image"].as_str().unwrap_or(""));
        c.eq(
            who,
            "built image: USER is the numeric service user",
            image["Config"]["User"].as_str().unwrap_or(""),
            format!("{}:{}", s.uid, s.gid).as_str(),
        );
        if s.scratch {
            c.eq(
                who,
                "built image: scratch runtime with one layer (the binary)",
                image["RootFS"]["Layers"].as_array().map(Vec::len),
                Some(1),
            );
        }
        c.eq(
            who,
            "built image: exec-form HEALTHCHECK",
            image["Config"]["Healthcheck"]["Test"][0].as_str(),
            Some("CMD"),
        );
    }

    // Published ports: exactly the spec's, never on every address.
    let mut got_ports = BTreeSet::new();
    if let Some(m) = v["NetworkSettings"]["Ports"].as_object() {
        for (port, binds) in m {
            for b in binds.as_array().into_iter().flatten() {
                got_ports.insert((
                    port.clone(),
                    b["HostIp"].as_str().unwrap_or("").to_string(),
                    b["HostPort"].as_str().unwrap_or("").to_string(),
                ));
            }
        }
    }
    let want_ports: BTreeSet<(String, String, String)> = s
        .ports
        .iter()
        .map(|(p, ip, hp)| (p.to_string(), ip.to_string(), hp.to_string()))
        .collect();
    c.check(
        who,
        "published ports never bound to every address",
        got_ports
            .iter()
            .all(|(_, ip, _)| !matches!(ip.as_str(), "" | "0.0.0.0" | "::")),
        || format!("    NetworkSettings.Ports = {got_ports:?}"),
    );
    c.eq(
        who,
        "published ports and host addresses",
        got_ports,
        want_ports,
    );

    // Secrets: nowhere in the environment.
    let env: Vec<&str> = array_str(&v["Config"]["Env"]);
    let secret_values: Vec<(String, String)> = s
        .secrets
        .iter()
        .chain(s.not_secrets)
        .map(|n| {
            let p = d.path().join("secrets").join(n);
            (n.to_string(), fs::read_to_string(&p).unwrap_or_default())
        })
        .collect();
    for (name, value) in &secret_values {
        c.check(
            who,
            &format!("secret {name} absent from the environment (Config.Env)"),
            !value.is_empty() && !env.iter().any(|e| e.contains(value.as_str())),
            || format!("    secret file empty or its value is in Config.Env = {env:?}"),
        );
    }

    // The kernel's view of every process of the container.
    let pid = v["State"]["Pid"].as_u64().unwrap_or(0) as u32;
    let mask = cap_mask(s.caps);
    let pids: Vec<u32> = container_pids(pid);
    c.check(
        who,
        "processes found in the container's cgroup",
        !pids.is_empty(),
        || {
            format!(
                "    PID 1 on the host: {pid}, cgroup: {:?}",
                cgroup_dir(pid, "pids")
            )
        },
    );
    let mut want_groups: BTreeSet<u32> = s.groups.iter().copied().collect();
    want_groups.insert(s.gid);
    for p in &pids {
        let st = proc_status(*p);
        let cmd = fs::read_to_string(format!("/proc/{p}/cmdline"))
            .unwrap_or_default()
            .replace('\0', " ");
        let pw = format!("{who} pid {p} ({})", cmd.trim());
        // A secret in a process's arguments is readable by every host user (`ps`).
        for (name, value) in &secret_values {
            let value = value.trim();
            c.check(
                &pw,
                &format!("secret {name} not in the process's arguments (/proc/PID/cmdline)"),
                value.is_empty() || !cmd.contains(value),
                || format!("    cmdline: {cmd}"),
            );
        }
        let ids = |k: &str| -> Vec<u32> {
            st.get(k)
                .map(|v| {
                    v.split_whitespace()
                        .filter_map(|x| x.parse().ok())
                        .collect()
                })
                .unwrap_or_default()
        };
        c.eq(
            &pw,
            "real/effective/saved/fs UID",
            ids("Uid"),
            vec![s.uid; 4],
        );
        c.eq(
            &pw,
            "real/effective/saved/fs GID",
            ids("Gid"),
            vec![s.gid; 4],
        );
        c.eq(
            &pw,
            "groups",
            ids("Groups").into_iter().collect::<BTreeSet<_>>(),
            want_groups.clone(),
        );
        let cap = |k: &str| hex(st.get(k).map(String::as_str).unwrap_or("?"));
        let caps_ev = || {
            format!(
                "    CapInh {:?} CapPrm {:?} CapEff {:?} CapBnd {:?} CapAmb {:?}, spec mask {mask:016x}",
                st.get("CapInh"),
                st.get("CapPrm"),
                st.get("CapEff"),
                st.get("CapBnd"),
                st.get("CapAmb")
            )
        };
        c.check(
            &pw,
            "bounding set (CapBnd) is exactly the added capabilities",
            cap("CapBnd") == mask,
            caps_ev,
        );
        c.check(
            &pw,
            "effective capabilities (CapEff) zero or exactly the added ones",
            cap("CapEff") == 0 || cap("CapEff") == mask,
            caps_ev,
        );
        c.check(
            &pw,
            "no capability outside the added ones (CapPrm, CapInh, CapAmb)",
            ["CapPrm", "CapInh", "CapAmb"]
                .iter()
                .all(|k| cap(k) & !mask == 0),
            caps_ev,
        );
        c.eq(
            &pw,
            "NoNewPrivs",
            st.get("NoNewPrivs").map(String::as_str),
            Some("1"),
        );
        c.eq(
            &pw,
            "Seccomp (2 = filter)",
            st.get("Seccomp").map(String::as_str),
            Some("2"),
        );
    }

    // cgroup limits as the kernel enforces them.
    if let Some(dir) = cgroup_dir(pid, "memory") {
        let v1 = dir.join("memory.limit_in_bytes");
        if v1.exists() {
            c.eq(
                who,
                "cgroup memory.limit_in_bytes",
                read_trim(&v1),
                s.memory.to_string(),
            );
            let sw = dir.join("memory.memsw.limit_in_bytes");
            if sw.exists() {
                c.eq(
                    who,
                    "cgroup memory.memsw.limit_in_bytes",
                    read_trim(&sw),
                    s.memory.to_string(),
                );
            }
        } else {
            c.eq(
                who,
                "cgroup memory.max",
                read_trim(&dir.join("memory.max")),
                s.memory.to_string(),
            );
        }
    }
    if let Some(dir) = cgroup_dir(pid, "pids") {
        c.eq(
            who,
            "cgroup pids.max",
            read_trim(&dir.join("pids.max")),
            s.pids.to_string(),
        );
    }

    // Mounts.
    let m = mounts(pid);
    let root_opts = m
        .iter()
        .find(|(mp, ..)| mp == "/")
        .map(|(_, o, ..)| o.clone())
        .unwrap_or_default();
    c.check(
        who,
        "/ mounted read-only (mountinfo)",
        root_opts.split(',').any(|o| o == "ro"),
        || format!("    / options: {root_opts:?}"),
    );
    for t in ["/tmp", "/run"] {
        let e = m.iter().rev().find(|(mp, ..)| mp == t);
        c.check(
            who,
            &format!("{t} is a noexec,nosuid,nodev tmpfs of the spec's size"),
            e.is_some_and(|(_, o, fs, so)| {
                let o: Vec<&str> = o.split(',').collect();
                fs == "tmpfs"
                    && ["noexec", "nosuid", "nodev"].iter().all(|f| o.contains(f))
                    && (t != "/tmp" || so.split(',').any(|x| x == format!("size={}k", s.tmpfs_kib)))
            }),
            || format!("    mountinfo entry: {e:?}"),
        );
    }

    // Inside the container.
    let exec = |argv: &[String]| -> Out {
        let mut a = vec!["docker", "exec", id.as_str()];
        a.extend(argv.iter().map(String::as_str));
        run(30, &a)
    };
    let o = exec(&s.applet(&["id", "-u"]));
    c.check(
        who,
        "docker exec runs as the service UID",
        o.stdout.trim() == s.uid.to_string(),
        || o.to_string(),
    );
    let o = exec(&s.applet(&["sh", "-c", "echo x > /hardgen-live-probe"]));
    c.check(
        who,
        "writing to / fails (read-only file system)",
        !o.ok() && o.stderr.contains("Read-only file system"),
        || o.to_string(),
    );
    let o = exec(&s.applet(&[
        "sh",
        "-c",
        "echo x > /tmp/hardgen-live-probe && cat /tmp/hardgen-live-probe",
    ]));
    c.check(
        who,
        "/tmp is writable",
        o.ok() && o.stdout.trim() == "x",
        || o.to_string(),
    );
    // busybox's own shell resolves `busybox` as an applet: look for the file instead.
    let cp = "for b in /app/busybox /bin/busybox /usr/local/bin/busybox; do \
              [ -f $b ] && break; done; \
              cp $b /tmp/hardgen-live-exe && /tmp/hardgen-live-exe true";
    let o = exec(&s.applet(&["sh", "-c", cp]));
    c.check(
        who,
        "a program copied to /tmp cannot be executed (noexec)",
        !o.ok() && o.stderr.contains("Permission denied"),
        || o.to_string(),
    );
    let _ = exec(&s.applet(&[
        "rm",
        "-f",
        "/tmp/hardgen-live-probe",
        "/tmp/hardgen-live-exe",
    ]));
    if s.scratch {
        let o = exec(&s.applet(&[
            "sh",
            "-c",
            // /sbin/docker-init is Docker's init, bind-mounted (init: true).
            "for f in /bin /usr /lib /lib64 /etc/apt /var/lib/dpkg /sbin/*; do \
             [ -e $f ] && [ $f != /sbin/docker-init ] && echo $f; done; true",
        ]));
        c.check(
            who,
            "scratch runtime: no shell, libraries or package manager shipped",
            o.ok() && o.stdout.trim().is_empty(),
            || o.to_string(),
        );
    }
    for (name, value) in secret_values
        .iter()
        .filter(|(n, _)| s.secrets.contains(&n.as_str()))
    {
        let path = format!("/run/secrets/{name}");
        let o = exec(&s.applet(&["cat", &path]));
        c.check(
            who,
            &format!("secret {name} readable by the service user in the container"),
            o.ok() && o.stdout == *value,
            || o.to_string(),
        );
        let o = exec(&s.applet(&["sh", "-c", &format!("echo x >> {path}")]));
        c.check(who, &format!("secret {name} is read-only"), !o.ok(), || {
            o.to_string()
        });
        let meta = fs::metadata(d.path().join("secrets").join(name));
        c.check(
            who,
            &format!("secret file {name} not readable by others on the host"),
            meta.as_ref().is_ok_and(|m| m.mode() & 0o007 == 0),
            || format!("    {meta:?}"),
        );
    }
    for name in s.not_secrets {
        let o = exec(&s.applet(&["cat", &format!("/run/secrets/{name}")]));
        c.check(who, &format!("secret {name} not mounted"), !o.ok(), || {
            o.to_string()
        });
    }
}

/// A syscall the profile denies fails with EPERM inside the container while the service keeps
/// running; the same command under `seccomp=unconfined` (same user, no capabilities,
/// no-new-privileges) succeeds, so the filter is what denies it.
fn check_seccomp_bites(c: &mut Checks, d: &Deployment, s: &Svc) {
    let who = s.name;
    let id = d.container(s.name);
    let before = inspect(&id);
    let argv = s.applet(&["unshare", "-U", "true"]);
    let mut a = vec!["docker", "exec", id.as_str()];
    a.extend(argv.iter().map(String::as_str));
    let o = run(30, &a);
    c.check(
        who,
        "seccomp denies unshare(CLONE_NEWUSER) with EPERM (Operation not permitted)",
        !o.ok() && o.stderr.contains("Operation not permitted"),
        || o.to_string(),
    );
    let image = before["Image"].as_str().unwrap_or("").to_string();
    let user = format!("{}:{}", s.uid, s.gid);
    let mut ctl = vec![
        "docker",
        "run",
        "--rm",
        "--pull",
        "never",
        "--network",
        "none",
        "--user",
        user.as_str(),
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges:true",
        "--security-opt",
        "seccomp=unconfined",
        "--entrypoint",
        argv[0].as_str(),
        image.as_str(),
    ];
    ctl.extend(argv[1..].iter().map(String::as_str));
    let o = run(60, &ctl);
    c.check(
        who,
        "control: the same unshare succeeds without the seccomp filter",
        o.ok(),
        || o.to_string(),
    );
    let after = inspect(&id);
    c.check(
        who,
        "still running after the denied syscall (same PID 1, no restart)",
        after["State"]["Running"].as_bool() == Some(true)
            && after["State"]["Pid"] == before["State"]["Pid"]
            && after["RestartCount"] == before["RestartCount"]
            && after["State"]["Health"]["Status"].as_str() == Some("healthy"),
        || {
            format!(
                "    before: {} {}\n    after:  {} {}",
                before["State"], before["RestartCount"], after["State"], after["RestartCount"]
            )
        },
    );
}

fn pointer<'a>(v: &'a Value, dotted: &str) -> &'a Value {
    v.pointer(&format!("/{}", dotted.replace('.', "/")))
        .unwrap_or(&Value::Null)
}

fn array_str(v: &Value) -> Vec<&str> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// Runs the generated security-check.sh. With the firewall loaded it must pass and say "N
/// passed, 0 failed"; before, every service check must pass and the firewall checks (and only
/// they) must fail: a policy not in force is reported.
fn check_security_script(c: &mut Checks, d: &Deployment) {
    let o = d.script(120, "security-check.sh", &[]);
    let summary = o
        .stdout
        .lines()
        .rev()
        .find(|l| l.contains(" passed, "))
        .unwrap_or("")
        .to_string();
    println!("security-check.sh: {summary}");
    let failed: Vec<&str> = o.stdout.lines().filter(|l| l.starts_with("FAIL")).collect();
    let details = || {
        format!(
            "    $ {}\n    exit: {:?}\n    {summary}\n    {}\n    stderr: {}",
            o.cmd,
            o.code,
            failed.join("\n    "),
            o.stderr.trim()
        )
    };
    if d.firewall_loaded {
        c.check(
            "scripts/security-check.sh",
            "passes (exit 0, 0 failed)",
            o.ok() && summary.ends_with(" 0 failed"),
            details,
        );
    } else {
        let others: Vec<&&str> = failed
            .iter()
            .filter(|l| !l.starts_with("FAIL firewall:"))
            .collect();
        c.check(
            "scripts/security-check.sh",
            "before the firewall is loaded: every service check passes, the firewall checks fail (exit 1)",
            !o.ok() && others.is_empty() && failed.iter().any(|l| l.starts_with("FAIL firewall:")),
            details,
        );
    }
}

// ------------------------------------------------------------------ network probes

/// A TCP connection attempt from a service (or the host) and whether it must connect.
struct Probe {
    label: String,
    from: Option<String>, // container id; None = the host
    nc: Vec<String>,
    addr: String,
    port: u16,
}

impl Probe {
    fn service(d: &Deployment, s: &Svc, addr: &str, port: u16, label: &str) -> Probe {
        Probe {
            label: format!("{} -> {addr}:{port} ({label})", s.name),
            from: Some(d.container(s.name)),
            nc: s.applet(&["nc"]),
            addr: addr.to_string(),
            port,
        }
    }
    fn host(addr: &str, port: u16, label: &str) -> Probe {
        Probe {
            label: format!("host -> {addr}:{port} ({label})"),
            from: None,
            nc: vec!["/bin/busybox".into(), "nc".into()],
            addr: addr.to_string(),
            port,
        }
    }
    fn connect(&self) -> Out {
        let port = self.port.to_string();
        let mut argv: Vec<&str> = Vec::new();
        if let Some(id) = &self.from {
            argv.extend(["docker", "exec", id.as_str()]);
        }
        argv.extend(self.nc.iter().map(String::as_str));
        argv.extend(["-w", "2", self.addr.as_str(), port.as_str()]);
        run(15, &argv)
    }
}

/// Runs the probes in parallel; `want` says for each whether it must connect.
fn check_probes(c: &mut Checks, phase: &str, probes: &[(Probe, bool)]) {
    let results: Vec<Out> = std::thread::scope(|sc| {
        let hs: Vec<_> = probes
            .iter()
            .map(|(p, _)| sc.spawn(move || p.connect()))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for ((p, want), o) in probes.iter().zip(results) {
        let verb = if *want { "connects" } else { "is blocked" };
        c.check(
            phase,
            &format!("{} {verb}", p.label),
            o.ok() == *want,
            || o.to_string(),
        );
    }
}

fn network_ip(v: &Value, network: &str) -> String {
    v["NetworkSettings"]["Networks"][network]["IPAddress"]
        .as_str()
        .unwrap_or_else(|| panic!("no address on network {network}"))
        .to_string()
}

fn gateway(network: &str) -> String {
    let o = must(
        run(
            30,
            &[
                "docker",
                "network",
                "inspect",
                "--format",
                "{{range .IPAM.Config}}{{.Gateway}}{{end}}",
                network,
            ],
        ),
        "docker network inspect",
    );
    o.stdout.trim().to_string()
}

/// Whether the engine carries this published port with docker-proxy (userland proxy on).
fn docker_proxy_serves(port: u16) -> bool {
    let needle = format!("-host-port\0{port}\0");
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| {
            fs::read(e.path().join("cmdline")).is_ok_and(|b| {
                let s = String::from_utf8_lossy(&b);
                s.contains("docker-proxy") && s.contains(&needle)
            })
        })
}

// ------------------------------------------------------------------ firewall

fn iptables_state() -> (Vec<String>, Vec<String>) {
    let f = must(run(30, &["iptables", "-w", "-S"]), "iptables -S");
    let n = must(
        run(30, &["iptables", "-w", "-t", "nat", "-S"]),
        "iptables -t nat -S",
    );
    let lines = |s: &str| s.lines().map(str::to_string).collect::<Vec<_>>();
    (lines(&f.stdout), lines(&n.stdout))
}

fn chain_rules<'a>(filter: &'a [String], chain: &str) -> Vec<&'a str> {
    let p = format!("-A {chain} ");
    filter
        .iter()
        .filter(|l| l.starts_with(&p))
        .map(String::as_str)
        .collect()
}

/// Loads the generated policy twice and checks what it changed: only hardgen's own chains
/// and one jump each from DOCKER-USER and INPUT, first in those chains, nothing of Docker's
/// rules or the nat table; the second load changes nothing. Returns the state before.
fn apply_firewall(c: &mut Checks, d: &mut Deployment) -> (Vec<String>, Vec<String>) {
    let who = "scripts/apply-firewall.sh";
    let fwd = format!("HG-{}-FWD", d.project);
    let inp = format!("HG-{}-IN", d.project);
    let before = iptables_state();
    d.firewall_loaded = true;
    let o = d.script(60, "apply-firewall.sh", &[]);
    c.check(who, "loads (exit 0)", o.ok(), || o.to_string());
    let after = iptables_state();
    let added: Vec<&String> = after.0.iter().filter(|l| !before.0.contains(l)).collect();
    let removed: Vec<&String> = before.0.iter().filter(|l| !after.0.contains(l)).collect();
    let jump_fwd = format!("-A DOCKER-USER -j {fwd}");
    let jump_inp = format!("-A INPUT -j {inp}");
    let foreign: Vec<&&String> = added
        .iter()
        .filter(|l| {
            !(l.starts_with(&format!("-N {fwd}"))
                || l.starts_with(&format!("-N {inp}"))
                || l.starts_with(&format!("-A {fwd} "))
                || l.starts_with(&format!("-A {inp} "))
                || **l == &jump_fwd
                || **l == &jump_inp)
        })
        .collect();
    c.check(
        who,
        "adds only its own chains and the two jumps",
        foreign.is_empty(),
        || format!("    added outside its chains: {foreign:?}"),
    );
    c.check(
        who,
        "removes no existing rule (Docker's chains intact)",
        removed.is_empty(),
        || format!("    removed: {removed:?}"),
    );
    c.eq(who, "nat table unchanged", &after.1, &before.1);
    let du_before = chain_rules(&before.0, "DOCKER-USER");
    let du_after = chain_rules(&after.0, "DOCKER-USER");
    let mut want_du = vec![jump_fwd.as_str()];
    want_du.extend(du_before.iter().filter(|l| **l != jump_fwd));
    c.eq(
        who,
        "DOCKER-USER = its jump first, then the rules it had",
        du_after,
        want_du,
    );
    let in_after = chain_rules(&after.0, "INPUT");
    c.eq(
        who,
        "INPUT starts with its single jump",
        in_after.first().copied(),
        Some(jump_inp.as_str()),
    );
    c.eq(
        who,
        "exactly one jump to its INPUT chain",
        in_after.iter().filter(|l| **l == jump_inp).count(),
        1,
    );
    c.check(
        who,
        "its chains hold rules",
        !chain_rules(&after.0, &fwd).is_empty() && !chain_rules(&after.0, &inp).is_empty(),
        || format!("    {:?}", after.0),
    );
    let o = d.script(60, "apply-firewall.sh", &[]);
    c.check(who, "loads again (exit 0)", o.ok(), || o.to_string());
    let again = iptables_state();
    c.eq(
        who,
        "idempotent: a second load changes no rule (filter)",
        &again.0,
        &after.0,
    );
    c.eq(
        who,
        "idempotent: a second load changes no rule (nat)",
        &again.1,
        &after.1,
    );
    check_security_script(c, d);
    before
}

/// `apply-firewall.sh --remove` brings iptables back to the state before the first load.
fn remove_firewall(c: &mut Checks, d: &mut Deployment, before: &(Vec<String>, Vec<String>)) {
    let who = "scripts/apply-firewall.sh --remove";
    let o = d.script(60, "apply-firewall.sh", &["--remove"]);
    c.check(who, "exit 0", o.ok(), || o.to_string());
    let now = iptables_state();
    c.eq(
        who,
        "filter table as before the policy was loaded",
        &now.0,
        &before.0,
    );
    c.eq(
        who,
        "nat table as before the policy was loaded",
        &now.1,
        &before.1,
    );
    if o.ok() {
        d.firewall_loaded = false;
    }
}

// ------------------------------------------------------------------ basic stack

const MIB: u64 = 1024 * 1024;

const WEB: Svc = Svc {
    name: "web",
    uid: 10001,
    gid: 10001,
    groups: &[30000],
    caps: &["NET_BIND_SERVICE"],
    memory: 64 * MIB,
    pids: 32,
    nano_cpus: 250_000_000,
    ports: &[
        ("80/tcp", "127.0.0.1", "28480"),
        ("80/tcp", "10.231.0.1", "28481"),
    ],
    secrets: &["web_key", "shared_token"],
    not_secrets: &[],
    bb: &["/app/busybox"],
    tmpfs_kib: 8192,
    mem_reservation: 0,
    built: true,
    scratch: true,
    restart_retries: 5,
};

const API: Svc = Svc {
    name: "api",
    uid: 10002,
    gid: 10002,
    groups: &[30000],
    caps: &[],
    memory: 48 * MIB,
    pids: 24,
    nano_cpus: 500_000_000,
    ports: &[],
    secrets: &["shared_token"],
    not_secrets: &["web_key"],
    bb: &[],
    tmpfs_kib: 8192,
    mem_reservation: 0,
    built: false,
    scratch: false,
    restart_retries: 5,
};

const PROBE: Svc = Svc {
    name: "probe",
    uid: 10001,
    gid: 10001,
    groups: &[],
    caps: &[],
    memory: 32 * MIB,
    pids: 128,
    nano_cpus: 500_000_000,
    ports: &[],
    secrets: &[],
    not_secrets: &["web_key", "shared_token"],
    bb: &[],
    tmpfs_kib: 4096,
    mem_reservation: 0,
    built: false,
    scratch: false,
    restart_retries: 5,
};

/// tests/live/basic.toml: build (static runtime), up --wait, the generated security check,
/// every property of every service from the host, seccomp, and the zones with the generated
/// firewall (before it as a control, after it, idempotence, removal).
#[test]
#[ignore = "needs root and a Docker engine: run scripts/test.sh as root"]
fn basic_stack_is_hardened_on_the_engine() {
    let _engine = live();
    let test = "live basic";
    let mut t = Phases::new();
    let mut c = Checks::default();
    assert!(
        std::net::TcpListener::bind(("127.0.0.1", 28480)).is_ok(),
        "127.0.0.1:28480 is in use: tests/live/basic.toml publishes it"
    );
    let mut d = Deployment::generate("tests/live/basic.toml", "hglive");

    // The static runtime's build context: Debian's static busybox as the app binary.
    let ctx = d.path().join("src/web");
    fs::create_dir_all(&ctx).unwrap();
    fs::copy("/bin/busybox", ctx.join("busybox")).expect("copy /bin/busybox");
    let o = run(10, &["dpkg-query", "-W", "-f=${Status}", "busybox-static"]);
    assert!(
        o.stdout.contains("installed"),
        "busybox-static not installed (a dynamic busybox cannot run FROM scratch)\n{o}"
    );

    // Our own "outside": a non-internal network and a busybox httpd on it, not in the stack.
    let _ = run(30, &["docker", "rm", "--force", "hglive-outside"]);
    let _ = run(30, &["docker", "network", "rm", "hglive-outside"]);
    d.networks.push("hglive-outside".into());
    d.containers.push("hglive-outside".into());
    must(
        run(
            60,
            &[
                "docker",
                "network",
                "create",
                "--driver",
                "bridge",
                "--subnet",
                "10.232.0.0/24",
                "--opt",
                "com.docker.network.bridge.name=hglive-out",
                "hglive-outside",
            ],
        ),
        "create the outside network",
    );
    must(
        run(
            60,
            &[
                "docker",
                "run",
                "--detach",
                "--name",
                "hglive-outside",
                "--pull",
                "never",
                "--network",
                "hglive-outside",
                "--ip",
                "10.232.0.10",
                "--user",
                "10001:10001",
                "--read-only",
                "--cap-drop",
                "ALL",
                "--security-opt",
                "no-new-privileges:true",
                BUSYBOX_IMAGE,
                "httpd",
                "-f",
                "-p",
                "8090",
                "-h",
                "/tmp",
            ],
        ),
        "start the outside container",
    );
    t.mark("setup");

    let o = d.script(60, "generate-secrets.sh", &[]);
    assert!(o.ok(), "generate-secrets.sh failed\n{o}");
    d.up();
    t.mark("build+up --wait");

    check_security_script(&mut c, &d);
    for s in [&WEB, &API, &PROBE] {
        check_service(&mut c, &d, s);
    }
    t.mark("properties");
    for s in [&WEB, &API, &PROBE] {
        check_seccomp_bites(&mut c, &d, s);
    }
    t.mark("seccomp");

    // Zones. Addresses as the engine assigned them.
    let web = inspect(&d.container("web"));
    let api = inspect(&d.container("api"));
    let api_ip = network_ip(&api, "hglive_back");
    let web_back_ip = network_ip(&web, "hglive_back");
    let web_front_ip = network_ip(&web, "hglive_front");
    let gw_back = gateway("hglive_back");
    let gw_front = gateway("hglive_front");
    let gw_side = gateway("hglive_side");
    let outside = "10.232.0.10";
    for gw in [&gw_back, &gw_front, &gw_side] {
        d.listen_on_host(gw, 28490);
    }
    let proxy = docker_proxy_serves(28481);
    println!(
        "userland proxy: {} (published ports reached from a zone through a host address go {})",
        if proxy { "on" } else { "off" },
        if proxy {
            "through docker-proxy, INPUT"
        } else {
            "through DNAT, FORWARD"
        }
    );

    // Before the policy: controls showing each probe can connect when nothing blocks it.
    let controls = vec![
        (
            Probe::host(outside, 8090, "the outside container is up"),
            true,
        ),
        (
            Probe::service(&d, &API, &gw_back, 28490, "internal zone to a host service"),
            true,
        ),
        (
            Probe::service(&d, &WEB, &gw_front, 28490, "egress zone to a host service"),
            true,
        ),
        (
            Probe::service(&d, &PROBE, &gw_side, 28490, "egress zone to a host service"),
            true,
        ),
        (
            Probe::service(
                &d,
                &WEB,
                &api_ip,
                8081,
                "same bridge, port outside the flow",
            ),
            true,
        ),
        (
            Probe::service(&d, &API, &web_back_ip, 80, "service to its flow client"),
            true,
        ),
    ];
    check_probes(&mut c, "before the firewall (control)", &controls);
    if proxy {
        check_probes(
            &mut c,
            "before the firewall (control)",
            &[(
                Probe::service(
                    &d,
                    &PROBE,
                    &gw_back,
                    28481,
                    "another zone's published port through a host address, via docker-proxy",
                ),
                true,
            )],
        );
    }
    t.mark("control probes");

    let iptables_before = apply_firewall(&mut c, &mut d);
    let after = vec![
        (
            Probe::service(&d, &WEB, &api_ip, 8080, "allowed flow front -> back 8080"),
            true,
        ),
        (
            Probe::service(
                &d,
                &WEB,
                &api_ip,
                8081,
                "same target, port the flow does not allow",
            ),
            false,
        ),
        (
            Probe::service(
                &d,
                &API,
                &web_back_ip,
                80,
                "a service opening a connection to its flow client",
            ),
            false,
        ),
        (
            Probe::service(
                &d,
                &API,
                outside,
                8090,
                "internal zone to the outside container",
            ),
            false,
        ),
        (
            Probe::service(
                &d,
                &API,
                &gw_back,
                28490,
                "internal zone to a host service on its gateway",
            ),
            false,
        ),
        (
            Probe::service(
                &d,
                &WEB,
                &gw_front,
                28490,
                "egress zone to a host service on its gateway",
            ),
            false,
        ),
        (
            Probe::service(
                &d,
                &PROBE,
                &gw_side,
                28490,
                "egress zone to a host service on its gateway",
            ),
            false,
        ),
        (
            Probe::service(
                &d,
                &PROBE,
                &gw_back,
                28481,
                "another zone's published port through a host address",
            ),
            false,
        ),
        (
            Probe::service(
                &d,
                &API,
                &gw_back,
                28481,
                "internal zone to another zone's published port on its gateway",
            ),
            false,
        ),
        (
            Probe::service(&d, &PROBE, &api_ip, 8080, "zone without a flow to back"),
            false,
        ),
        (
            Probe::service(
                &d,
                &PROBE,
                &web_front_ip,
                80,
                "zone without a flow to front",
            ),
            false,
        ),
        (
            Probe::host("127.0.0.1", 28480, "published port on 127.0.0.1"),
            true,
        ),
        (
            Probe::host(&gw_front, 28480, "the same port on another host address"),
            false,
        ),
    ];
    check_probes(&mut c, "with the firewall", &after);
    t.mark("firewall+probes");
    check_incident(&mut c, &d, &api_ip);
    t.mark("incident");
    check_process_allowlist(&mut c, &d);
    t.mark("process allowlist");
    remove_firewall(&mut c, &mut d, &iptables_before);

    drop(d);
    t.mark("cleanup");
    t.print(test);
    c.finish(test, t.t0);
}

/// The generated `scripts/incident.sh` on the running basic stack, with the firewall loaded:
/// `isolate api` pauses it and takes it off every zone network (its flow client web can no
/// longer reach it, by address or name); `collect api` saves the evidence under
/// `forensics/<stamp>-api/` (mode 700); `restore api` unpauses it and reconnects it with its
/// planned address and DNS alias: the flow connects again and the security check is green.
fn check_incident(c: &mut Checks, d: &Deployment, api_ip: &str) {
    let who = "scripts/incident.sh";
    let id = d.container("api");
    let before = inspect(&id);
    let planned: Vec<(String, String)> = before["NetworkSettings"]["Networks"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(n, v)| (n.clone(), v["IPAddress"].as_str().unwrap_or("").to_string()))
        .collect();
    c.eq(
        who,
        "api starts on its planned network and address",
        planned.clone(),
        vec![("hglive_back".to_string(), api_ip.to_string())],
    );
    let flow = |label: &str| {
        vec![
            (
                Probe::service(
                    d,
                    &WEB,
                    api_ip,
                    8080,
                    &format!("flow front -> back, {label}"),
                ),
                true,
            ),
            (
                Probe::service(d, &WEB, "api", 8080, &format!("the same by name, {label}")),
                true,
            ),
        ]
    };
    let o = d.script(30, "incident.sh", &["isolate", "nosuch"]);
    c.check(
        who,
        "an unknown service is refused (exit 2)",
        o.code == Some(2),
        || o.to_string(),
    );

    let o = d.script(60, "incident.sh", &["isolate", "api"]);
    c.check(who, "isolate api (exit 0)", o.ok(), || o.to_string());
    let v = inspect(&id);
    c.eq(
        "isolate api",
        "container paused",
        v["State"]["Paused"].as_bool(),
        Some(true),
    );
    let nets: Vec<&String> = v["NetworkSettings"]["Networks"]
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    c.eq(
        "isolate api",
        "attached to no network",
        nets,
        Vec::<&String>::new(),
    );
    let blocked: Vec<(Probe, bool)> = flow("api isolated")
        .into_iter()
        .map(|(p, _)| (p, false))
        .collect();
    check_probes(c, "isolate api", &blocked);

    let o = d.script(60, "incident.sh", &["collect", "api"]);
    c.check(who, "collect api (exit 0)", o.ok(), || o.to_string());
    let forensics = d.path().join("forensics");
    let dirs: Vec<PathBuf> = fs::read_dir(&forensics)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().ends_with("-api"))
        })
        .collect();
    c.check(
        "collect api",
        "one forensics/<stamp>-api directory",
        dirs.len() == 1,
        || format!("    {dirs:?}\n{o}"),
    );
    let mode = |p: &Path| fs::metadata(p).map(|m| m.mode() & 0o7777).unwrap_or(0);
    c.eq(
        "collect api",
        "forensics/ mode 700",
        format!("{:o}", mode(&forensics)),
        "700".to_string(),
    );
    if let Some(dir) = dirs.first() {
        c.eq(
            "collect api",
            "forensics/<stamp>-api mode 700",
            format!("{:o}", mode(dir)),
            "700".to_string(),
        );
        let read = |f: &str| fs::read_to_string(dir.join(f));
        for f in [
            "inspect.json",
            "diff.txt",
            "logs.txt",
            "processes.txt",
            "net-tcp.txt",
        ] {
            let p = dir.join(f);
            c.check(
                "collect api",
                &format!("{f} saved, not readable by group or others"),
                p.is_file() && mode(&p) & 0o077 == 0,
                || format!("    {}: {:?}", p.display(), fs::metadata(&p)),
            );
        }
        let saved: Option<Value> = read("inspect.json")
            .ok()
            .and_then(|j| serde_json::from_str(&j).ok());
        c.check(
            "collect api",
            "inspect.json is the paused container's docker inspect",
            saved.as_ref().is_some_and(|j| {
                j[0]["Id"].as_str() == Some(id.as_str()) && j[0]["State"]["Paused"] == true
            }),
            || format!("    {:?}", read("inspect.json")),
        );
        let ps = read("processes.txt").unwrap_or_default();
        c.check(
            "collect api",
            "processes.txt lists the service's processes (httpd)",
            ps.contains("httpd"),
            || format!("    {ps}"),
        );
        // /proc/net/tcp{,6} of the container's namespace: httpd listening (state 0A) on
        // 8080 (1F90) and 8081 (1F91) — on `::` (busybox httpd binds IPv6 dual-stack), so in
        // tcp6; tcp holds at least the embedded DNS listener on 127.0.0.11.
        let tcp = read("net-tcp.txt").unwrap_or_default();
        c.check(
            "collect api",
            "net-tcp.txt holds the table (header and sockets)",
            tcp.lines().count() > 1 && tcp.contains("local_address"),
            || format!("    {tcp}"),
        );
        let tcp6 = read("net-tcp6.txt").unwrap_or_default();
        let both = format!("{tcp}{tcp6}");
        c.check(
            "collect api",
            "net-tcp.txt/net-tcp6.txt show the listeners on 8080 and 8081",
            [":1F90 ", ":1F91 "].iter().all(|p| {
                both.lines()
                    .any(|l| l.contains(p) && l.split_whitespace().nth(3) == Some("0A"))
            }),
            || format!("    {both}"),
        );
        let diff = read("diff.txt").unwrap_or_default();
        println!("collect api: diff.txt = {:?}", diff.trim());
    }

    let o = d.script(60, "incident.sh", &["restore", "api"]);
    c.check(who, "restore api (exit 0)", o.ok(), || o.to_string());
    let v = inspect(&id);
    c.eq(
        "restore api",
        "running, not paused, same PID 1",
        (
            v["State"]["Running"].as_bool(),
            v["State"]["Paused"].as_bool(),
            v["State"]["Pid"].as_u64(),
        ),
        (Some(true), Some(false), before["State"]["Pid"].as_u64()),
    );
    let restored: Vec<(String, String)> = v["NetworkSettings"]["Networks"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(n, v)| (n.clone(), v["IPAddress"].as_str().unwrap_or("").to_string()))
        .collect();
    c.eq(
        "restore api",
        "reconnected with its planned network and address",
        restored,
        planned,
    );
    let aliases = array_str(&v["NetworkSettings"]["Networks"]["hglive_back"]["Aliases"]);
    c.check(
        "restore api",
        "DNS alias api on hglive_back",
        aliases.contains(&"api"),
        || format!("    Aliases = {aliases:?}"),
    );
    check_probes(c, "restore api", &flow("api restored"));
    // Paused, the health check failed: wait (bounded) for the next passing one.
    let t0 = Instant::now();
    let health = loop {
        let h = inspect(&id)["State"]["Health"]["Status"]
            .as_str()
            .unwrap_or("")
            .to_string();
        if h == "healthy" || t0.elapsed() > Duration::from_secs(30) {
            break h;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    c.eq("restore api", "healthy again", health.as_str(), "healthy");
    check_security_script(c, d);
}

/// The programs the stand-ins run instead of the real images' (tests/live/stand-ins: shell
/// scripts over busybox, serving with its httpd, probing with its nc and wget, parsing with
/// tr and sed, waiting with sleep; the Debian-based python stand-in calls `busybox httpd`),
/// added to every service's `processes` in a copy of the example: the
/// generated process allowlist then describes the stand-ins, as a spec would describe its
/// images. The rest of the spec is unchanged.
const STAND_IN_PROGRAMS: &[&str] = &[
    "sh", "busybox", "httpd", "nc", "tr", "sed", "wget", "sleep", "mkdir",
];

fn with_stand_in_programs(example: &str) -> (tempfile::TempDir, String) {
    let text = fs::read_to_string(root().join(example)).expect("read the example");
    let mut spec: toml::Table = toml::from_str(&text).expect("the example is TOML");
    for (_, svc) in spec["services"]
        .as_table_mut()
        .expect("services")
        .iter_mut()
    {
        let svc = svc.as_table_mut().expect("a service table");
        let list = svc
            .entry("processes")
            .or_insert_with(|| toml::Value::Array(Vec::new()))
            .as_array_mut()
            .expect("processes is an array");
        for p in STAND_IN_PROGRAMS {
            if !list.iter().any(|v| v.as_str() == Some(p)) {
                list.push(toml::Value::String((*p).to_string()));
            }
        }
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let name = Path::new(example).file_name().expect("file name");
    let path = dir.path().join(name);
    fs::write(&path, toml::to_string(&spec).expect("serialise the spec")).unwrap();
    let path = path.to_str().expect("UTF-8 path").to_string();
    (dir, path)
}

/// Host PIDs of the processes in `container`'s PID namespace, with their `comm`.
fn container_processes(container: &str) -> Vec<(u32, String)> {
    let pid = inspect(container)["State"]["Pid"].as_u64().unwrap_or(0);
    let ns = fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(p) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        if ns.is_some() && fs::read_link(format!("/proc/{p}/ns/pid")).ok() == ns {
            let comm = fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
            out.push((p, comm.trim_end().to_string()));
        }
    }
    out
}

/// The process allowlist of `scripts/security-check.sh`, on the running basic stack: a shell
/// started in `probe` with `docker exec` (probe's allowlist: docker-init, httpd, and nc of its
/// health check) fails the check, naming the service and the process; `incident.sh isolate
/// probe` acts on that finding (paused, off its zone) and `restore` brings it back; with the
/// shell gone the check is green again.
fn check_process_allowlist(c: &mut Checks, d: &Deployment) {
    let who = "process allowlist";
    let id = d.container("probe");
    must(
        run(
            30,
            &[
                "docker",
                "exec",
                "--detach",
                &id,
                "sh",
                "-c",
                "while :; do sleep 1; done",
            ],
        ),
        "docker exec a shell into probe",
    );
    let t0 = Instant::now();
    while !container_processes(&id).iter().any(|(_, c)| c == "sh") {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the injected shell does not show in probe"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let o = d.script(120, "security-check.sh", &[]);
    let fails: Vec<&str> = o.stdout.lines().filter(|l| l.starts_with("FAIL")).collect();
    c.check(
        who,
        "security-check.sh fails (exit 1) with the shell running in probe",
        o.code == Some(1),
        || o.to_string(),
    );
    c.check(
        who,
        "the failure names the service and the process (FAIL probe: ... outside the allowlist: sh)",
        fails
            .iter()
            .any(|l| l.starts_with("FAIL probe: process outside the allowlist: sh ")),
        || o.to_string(),
    );
    c.check(
        who,
        "only probe's processes fail (web and api are within their allowlists)",
        fails
            .iter()
            .all(|l| l.starts_with("FAIL probe: process outside the allowlist: ")),
        || o.to_string(),
    );

    // Incident response on that finding.
    let o = d.script(60, "incident.sh", &["isolate", "probe"]);
    c.check(who, "incident.sh isolate probe (exit 0)", o.ok(), || {
        o.to_string()
    });
    let v = inspect(&id);
    let nets = v["NetworkSettings"]["Networks"]
        .as_object()
        .map_or(0, serde_json::Map::len);
    c.eq(
        who,
        "probe isolated: paused, on no network",
        (v["State"]["Paused"].as_bool(), nets),
        (Some(true), 0),
    );
    let o = d.script(60, "incident.sh", &["restore", "probe"]);
    c.check(who, "incident.sh restore probe (exit 0)", o.ok(), || {
        o.to_string()
    });

    // Stop the injected processes (from the host), then the check is green again.
    for (pid, comm) in container_processes(&id) {
        if comm == "sh" || comm == "sleep" {
            let _ = run(10, &["kill", "-9", &pid.to_string()]);
        }
    }
    let t0 = Instant::now();
    loop {
        let left: Vec<(u32, String)> = container_processes(&id)
            .into_iter()
            .filter(|(_, c)| c == "sh" || c == "sleep")
            .collect();
        let healthy = inspect(&id)["State"]["Health"]["Status"] == "healthy";
        if (left.is_empty() && healthy) || t0.elapsed() > Duration::from_secs(30) {
            c.check(
                who,
                "the shell is gone and probe healthy again",
                left.is_empty() && healthy,
                || format!("    left: {left:?}, healthy: {healthy}"),
            );
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let o = d.script(120, "security-check.sh", &[]);
    c.check(
        who,
        "security-check.sh green again, probe within its allowlist",
        o.ok()
            && o.stdout
                .lines()
                .any(|l| l.starts_with("PASS probe: every process in the allowlist")),
        || o.to_string(),
    );
}

// ------------------------------------------------------------------ Luna example

const LUNA: Svc = Svc {
    name: "luna-consciousness",
    uid: 1000,
    gid: 1000,
    groups: &[30000],
    caps: &[],
    memory: 1024 * MIB,
    pids: 128,
    nano_cpus: 2_000_000_000,
    ports: &[
        ("3000/tcp", "127.0.0.1", "3000"),
        ("8000/tcp", "127.0.0.1", "8000"),
        ("9100/tcp", "127.0.0.1", "9100"),
    ],
    secrets: &["redis_password", "luna_master_key"],
    not_secrets: &["gf_admin_password", "redis_conf"],
    bb: &["busybox"],
    tmpfs_kib: 100 * 1024,
    mem_reservation: 256 * MIB,
    built: true,
    scratch: false,
    restart_retries: 5,
};

const REDIS: Svc = Svc {
    name: "redis",
    uid: 999,
    gid: 999,
    groups: &[30000],
    caps: &[],
    memory: 512 * MIB,
    pids: 128,
    nano_cpus: 500_000_000,
    ports: &[],
    secrets: &["redis_conf", "redis_password"],
    not_secrets: &["luna_master_key", "gf_admin_password"],
    bb: &[],
    tmpfs_kib: 64 * 1024,
    mem_reservation: 0,
    built: false,
    scratch: false,
    restart_retries: 5,
};

const PROMETHEUS: Svc = Svc {
    name: "prometheus",
    uid: 65534,
    gid: 65534,
    groups: &[],
    caps: &[],
    memory: 512 * MIB,
    pids: 128,
    nano_cpus: 500_000_000,
    ports: &[],
    secrets: &[],
    not_secrets: &[
        "redis_password",
        "redis_conf",
        "luna_master_key",
        "gf_admin_password",
    ],
    bb: &[],
    tmpfs_kib: 64 * 1024,
    mem_reservation: 0,
    built: false,
    scratch: false,
    restart_retries: 5,
};

const GRAFANA: Svc = Svc {
    name: "grafana",
    uid: 472,
    gid: 472,
    groups: &[],
    caps: &[],
    memory: 512 * MIB,
    pids: 128,
    nano_cpus: 500_000_000,
    ports: &[("3000/tcp", "127.0.0.1", "3001")],
    secrets: &["gf_admin_password"],
    not_secrets: &["redis_password", "redis_conf", "luna_master_key"],
    bb: &[],
    tmpfs_kib: 64 * 1024,
    mem_reservation: 0,
    built: false,
    scratch: false,
    restart_retries: 5,
};

/// (stand-in directory under tests/live/stand-ins, image the Luna spec names)
const STAND_INS: &[(&str, &str)] = &[
    ("python", "python:3.11-slim-bookworm"),
    ("redis", "redis:7.2.5-bookworm"),
    ("prometheus", "prom/prometheus:v2.53.0"),
    ("grafana", "grafana/grafana:11.1.0"),
];

/// examples/luna.toml with stand-in images of the same users, ports, volumes and commands:
/// every service healthy, the generated security check green, every property from the host,
/// writable volumes, seccomp, and the two flows with the generated firewall.
#[test]
#[ignore = "needs root and a Docker engine: run scripts/test.sh as root"]
fn luna_example_is_hardened_on_the_engine() {
    let _engine = live();
    let test = "live luna";
    let mut t = Phases::new();
    let mut c = Checks::default();
    for port in [3000, 3001, 8000, 9100] {
        assert!(
            std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "127.0.0.1:{port} is in use: the Luna example publishes it"
        );
    }
    let (_spec_dir, spec) = with_stand_in_programs("examples/luna.toml");
    let mut d = Deployment::generate(&spec, "luna");

    build_stand_ins(&mut d, STAND_INS);
    let app = d.path().join("src/luna-consciousness");
    copy_tree(&root().join("tests/live/luna-app"), &app);
    fs::create_dir_all(d.path().join("config")).unwrap();
    fs::copy(
        root().join("tests/live/luna-prometheus.yml"),
        d.path().join("config/prometheus.yml"),
    )
    .unwrap();
    t.mark("stand-ins");

    let o = d.script(60, "generate-secrets.sh", &[]);
    assert!(o.ok(), "generate-secrets.sh failed\n{o}");
    d.up();
    t.mark("build+up --wait");

    check_security_script(&mut c, &d);
    for s in [&LUNA, &REDIS, &PROMETHEUS, &GRAFANA] {
        check_service(&mut c, &d, s);
    }
    // The writable places are the volumes (and tmpfs), as the spec lists them.
    for (s, dirs) in [
        (
            &LUNA,
            &[
                "/app/data/memories",
                "/app/data/consciousness",
                "/app/logs",
                "/app/memory_fractal/roots",
                "/app/memory_fractal/branchs",
                "/app/memory_fractal/leaves",
                "/app/memory_fractal/seeds",
            ][..],
        ),
        (&REDIS, &["/data"][..]),
        (&PROMETHEUS, &["/prometheus"][..]),
        (&GRAFANA, &["/var/lib/grafana"][..]),
    ] {
        let id = d.container(s.name);
        for dir in dirs {
            let script = format!("echo x > {dir}/.hardgen-live && rm {dir}/.hardgen-live");
            let argv = s.applet(&["sh", "-c", &script]);
            let mut a = vec!["docker", "exec", id.as_str()];
            a.extend(argv.iter().map(String::as_str));
            let o = run(30, &a);
            c.check(
                s.name,
                &format!("volume directory {dir} writable by the service user"),
                o.ok(),
                || o.to_string(),
            );
        }
    }
    t.mark("properties");
    for s in [&LUNA, &REDIS, &PROMETHEUS, &GRAFANA] {
        check_seccomp_bites(&mut c, &d, s);
    }
    t.mark("seccomp");

    let luna = inspect(&d.container("luna-consciousness"));
    let redis = inspect(&d.container("redis"));
    let luna_app_ip = network_ip(&luna, "luna_app");
    let luna_data_ip = network_ip(&luna, "luna_data");
    let redis_ip = network_ip(&redis, "luna_data");
    let gw_data = gateway("luna_data");
    d.listen_on_host(&gw_data, 28490);
    check_probes(
        &mut c,
        "before the firewall (control)",
        &[
            (
                Probe::service(&d, &PROMETHEUS, &luna_app_ip, 8000, "port outside the flow"),
                true,
            ),
            (
                Probe::service(
                    &d,
                    &REDIS,
                    &luna_data_ip,
                    8000,
                    "service to its flow client",
                ),
                true,
            ),
            (
                Probe::service(
                    &d,
                    &REDIS,
                    &gw_data,
                    28490,
                    "internal zone to a host service",
                ),
                true,
            ),
        ],
    );
    let iptables_before = apply_firewall(&mut c, &mut d);
    check_probes(
        &mut c,
        "with the firewall",
        &[
            (
                Probe::service(&d, &LUNA, &redis_ip, 6379, "flow app -> data 6379"),
                true,
            ),
            (
                Probe::service(
                    &d,
                    &PROMETHEUS,
                    &luna_app_ip,
                    9100,
                    "flow monitoring -> app 9100",
                ),
                true,
            ),
            (
                Probe::service(&d, &PROMETHEUS, &luna_app_ip, 8000, "port outside the flow"),
                false,
            ),
            (
                Probe::service(
                    &d,
                    &REDIS,
                    &luna_data_ip,
                    8000,
                    "service opening a connection to its flow client",
                ),
                false,
            ),
            (
                Probe::service(
                    &d,
                    &REDIS,
                    &gw_data,
                    28490,
                    "internal zone to a host service on its gateway",
                ),
                false,
            ),
            (
                Probe::host("127.0.0.1", 3001, "Grafana published on 127.0.0.1"),
                true,
            ),
            (
                Probe::host("127.0.0.1", 8000, "Luna published on 127.0.0.1"),
                true,
            ),
        ],
    );
    t.mark("firewall+probes");
    remove_firewall(&mut c, &mut d, &iptables_before);

    drop(d);
    t.mark("cleanup");
    for (_, image) in STAND_INS {
        c.check(
            "cleanup",
            &format!("stand-in {image} removed"),
            image_label(image).is_none(),
            || format!("    {image} still present"),
        );
    }
    t.print(test);
    c.finish(test, t.t0);
}

/// Builds the stand-in images (tests/live/stand-ins/DIR tagged with the image name the spec
/// uses); each is removed with the deployment. An image of that name that is not one of ours
/// (no stand-in label) stops the test: it is never retagged.
fn build_stand_ins(d: &mut Deployment, list: &[(&str, &str)]) {
    for (dir, image) in list {
        match image_label(image) {
            Some(l) if l.is_empty() => panic!(
                "image {image} exists and is not a stand-in of this test: it will not be retagged"
            ),
            _ => {}
        }
        let ctx = d.path().join(format!("stand-in-{dir}"));
        copy_tree(&root().join("tests/live/stand-ins").join(dir), &ctx);
        if *dir == "python" {
            fs::copy("/bin/busybox", ctx.join("busybox")).expect("copy /bin/busybox");
        }
        d.stand_ins.push(image.to_string());
        must(
            // The client here has no buildx: the legacy builder (as scripts/test-images.sh).
            run(
                300,
                &[
                    "env",
                    "DOCKER_BUILDKIT=0",
                    "docker",
                    "build",
                    "--quiet",
                    "--tag",
                    image,
                    ctx.to_str().unwrap(),
                ],
            ),
            &format!("docker build of the stand-in {image}"),
        );
    }
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            fs::copy(e.path(), &dest).unwrap();
        }
    }
}

// ------------------------------------------------------------------ Arkalia example

/// The secrets of examples/arkalia.toml.
const ARKALIA_SECRETS: &[&str] = &[
    "sandozia_key",
    "zeroia_config",
    "jwt_secret",
    "postgres_password",
    "redis_password",
    "redis_conf",
];

/// A service of examples/arkalia.toml: the spec's defaults (512m, 1 CPU, 256 pids, 64m tmpfs,
/// on-failure:5) unless the service says otherwise.
const fn arkalia_svc(name: &'static str, secret: &'static [&'static str]) -> Svc {
    Svc {
        name,
        uid: 10001,
        gid: 10001,
        groups: &[],
        caps: &[],
        memory: 512 * MIB,
        pids: 256,
        nano_cpus: 1_000_000_000,
        ports: &[],
        secrets: secret,
        not_secrets: &[],
        bb: &["busybox"],
        tmpfs_kib: 64 * 1024,
        mem_reservation: 0,
        built: true,
        scratch: false,
        restart_retries: 5,
    }
}

const ARK_SANDOZIA: Svc = Svc {
    tmpfs_kib: 50 * 1024,
    ..arkalia_svc("sandozia", &["sandozia_key"])
};
const ARK_ZEROIA: Svc = Svc {
    restart_retries: 3,
    ..arkalia_svc("zeroia", &["zeroia_config"])
};
const ARK_REFLEXIA: Svc = arkalia_svc("reflexia", &[]);
const ARK_HELLORIA: Svc = Svc {
    ports: &[("8000/tcp", "127.0.0.1", "8000")],
    ..arkalia_svc("helloria", &["jwt_secret"])
};
const ARK_ASSISTANTIA: Svc = Svc {
    uid: 1001,
    gid: 1001,
    memory: 1024 * MIB,
    tmpfs_kib: 200 * 1024,
    ..arkalia_svc("assistantia", &[])
};
const ARK_PROMETHEUS: Svc = Svc {
    uid: 65534,
    gid: 65534,
    bb: &[],
    built: false,
    ..arkalia_svc("prometheus", &[])
};
const ARK_POSTGRES: Svc = Svc {
    uid: 999,
    gid: 999,
    memory: 1024 * MIB,
    bb: &[],
    built: false,
    ..arkalia_svc("postgres", &["postgres_password"])
};
const ARK_REDIS: Svc = Svc {
    uid: 999,
    gid: 999,
    bb: &[],
    built: false,
    ..arkalia_svc("redis", &["redis_conf", "redis_password"])
};

const ARKALIA: [&Svc; 8] = [
    &ARK_SANDOZIA,
    &ARK_ZEROIA,
    &ARK_REFLEXIA,
    &ARK_HELLORIA,
    &ARK_ASSISTANTIA,
    &ARK_PROMETHEUS,
    &ARK_POSTGRES,
    &ARK_REDIS,
];

const ARKALIA_STAND_INS: &[(&str, &str)] = &[
    ("python", "python:3.11-slim-bookworm"),
    ("redis", "redis:7.2.5-bookworm"),
    ("prometheus", "prom/prometheus:v2.53.0"),
    ("postgres", "postgres:16.4-bookworm"),
];

/// The hard RLIMIT_NOFILE a container can be given here, when the runtime cannot raise it:
/// runc sets a container's rlimits from outside with prlimit(2), which needs
/// CAP_SYS_RESOURCE to go above its own hard limit. None when containerd (else dockerd) has
/// that capability.
fn runtime_nofile_ceiling() -> Option<u64> {
    let pid = ["containerd", "dockerd"].iter().find_map(|name| {
        fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
            let comm = fs::read_to_string(e.path().join("comm")).ok()?;
            (comm.trim() == *name)
                .then(|| e.file_name().to_str()?.parse::<u32>().ok())
                .flatten()
        })
    })?;
    const CAP_SYS_RESOURCE: u64 = 1 << 24;
    let bnd = hex(proc_status(pid)
        .get("CapBnd")
        .map(String::as_str)
        .unwrap_or("0"));
    if bnd & CAP_SYS_RESOURCE != 0 {
        return None;
    }
    let limits = fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(4)?.parse().ok()
}

/// Whether the kernel has AppArmor enabled (what Docker asks before applying a profile).
fn apparmor_enabled() -> bool {
    fs::read_to_string("/sys/module/apparmor/parameters/enabled").is_ok_and(|s| s.trim() == "Y")
}

/// The seccomp profile Compose inlined in SecurityOpt (`seccomp=<json>`), parsed.
fn inlined_seccomp(v: &Value) -> Option<Value> {
    array_str(&v["HostConfig"]["SecurityOpt"])
        .iter()
        .find_map(|o| o.strip_prefix("seccomp=").or(o.strip_prefix("seccomp:")))
        .and_then(|j| serde_json::from_str(j).ok())
}

/// Runs `script` with `sh -c` in the service's container, as its user.
fn exec_sh(d: &Deployment, s: &Svc, script: &str) -> Out {
    let id = d.container(s.name);
    let argv = s.applet(&["sh", "-c", script]);
    let mut a = vec!["docker", "exec", id.as_str()];
    a.extend(argv.iter().map(String::as_str));
    run(30, &a)
}

/// examples/arkalia.toml with stand-in images (python builds of the five modules, Prometheus,
/// PostgreSQL, Redis): one `up --wait`, every service healthy, the generated security check
/// green, every property from the host, the AppArmor options as this host treats them, the
/// volumes and read-only mounts, seccomp (the strict preset of ZeroIA), and the four flows
/// with the generated firewall.
#[test]
#[ignore = "needs root and a Docker engine: run scripts/test.sh as root"]
fn arkalia_example_is_hardened_on_the_engine() {
    let _engine = live();
    let test = "live arkalia";
    let mut t = Phases::new();
    let mut c = Checks::default();
    assert!(
        std::net::TcpListener::bind(("127.0.0.1", 8000)).is_ok(),
        "127.0.0.1:8000 is in use: the Arkalia example publishes it"
    );
    let (_spec_dir, spec) = with_stand_in_programs("examples/arkalia.toml");
    let mut d = Deployment::generate(&spec, "arkalia");
    build_stand_ins(&mut d, ARKALIA_STAND_INS);
    // Build contexts of the five modules, ./config (with prometheus.yml), ./docs and
    // ./state/zeroia, which the spec bind-mounts read-only.
    copy_tree(&root().join("tests/live/arkalia-app"), d.path());

    // Sandozia asks for nofile 65535. Where the runtime cannot raise a hard limit above its
    // own (no CAP_SYS_RESOURCE, as in this project's sandboxed engines: containerd's hard
    // limit is 20000), runc fails the start with "error setting rlimits for ready process:
    // error setting rlimit type 7: operation not permitted". A host limit, not a product bug:
    // an override lowers it to the runtime's ceiling, and the value is checked below.
    let mut want_nofile = 65535;
    if let Some(ceiling) = runtime_nofile_ceiling().filter(|c| *c < 65535) {
        println!(
            "note: the runtime cannot raise RLIMIT_NOFILE above {ceiling} (no CAP_SYS_RESOURCE): \
             sandozia's nofile 65535 lowered to {ceiling} by live-nofile.override.yml"
        );
        fs::write(
            d.path().join("live-nofile.override.yml"),
            format!(
                "services:\n  sandozia:\n    ulimits:\n      nofile:\n        soft: {ceiling}\n        hard: {ceiling}\n"
            ),
        )
        .unwrap();
        d.overrides.push("live-nofile.override.yml".into());
        want_nofile = ceiling;
    }

    // AppArmor: the generated loader loads the two profiles where the kernel has AppArmor,
    // and says it does nothing (exit 0) where it has not.
    let aa = apparmor_enabled();
    let o = d.script(60, "apply-apparmor.sh", &[]);
    if aa {
        for p in ["docker-sandozia", "docker-assistantia"] {
            d.apparmor_profiles.push(d.path().join("apparmor").join(p));
        }
    }
    c.check(
        "scripts/apply-apparmor.sh",
        if aa {
            "loads the profiles (exit 0)"
        } else {
            "no AppArmor on this host: says so and exits 0"
        },
        o.ok() && (aa || o.stderr.contains("no AppArmor")),
        || o.to_string(),
    );
    t.mark("stand-ins");

    let o = d.script(60, "generate-secrets.sh", &[]);
    assert!(o.ok(), "generate-secrets.sh failed\n{o}");
    d.up();
    t.mark("build+up --wait");

    check_security_script(&mut c, &d);
    for s in ARKALIA {
        let mut s = Svc { ..*s };
        let not: Vec<&'static str> = ARKALIA_SECRETS
            .iter()
            .copied()
            .filter(|n| !s.secrets.contains(n))
            .collect();
        s.not_secrets = Box::leak(not.into_boxed_slice());
        check_service(&mut c, &d, &s);
    }

    // AppArmor as the engine applied it. Docker 20.10 applies `apparmor:PROFILE` only when
    // the kernel has AppArmor; without it the option is kept in HostConfig.SecurityOpt and
    // silently ignored (AppArmorProfile empty, the container starts).
    for (s, profile) in [
        (&ARK_SANDOZIA, "docker-sandozia"),
        (&ARK_ASSISTANTIA, "docker-assistantia"),
    ] {
        let v = inspect(&d.container(s.name));
        let opt = format!("apparmor:{profile}");
        c.check(
            s.name,
            &format!("{opt} in SecurityOpt"),
            array_str(&v["HostConfig"]["SecurityOpt"]).contains(&opt.as_str()),
            || format!("    SecurityOpt = {}", v["HostConfig"]["SecurityOpt"]),
        );
        c.eq(
            s.name,
            if aa {
                "AppArmorProfile applied by the engine"
            } else {
                "no AppArmor on this host: AppArmorProfile empty (option ignored by the engine)"
            },
            v["AppArmorProfile"].as_str().unwrap_or(""),
            if aa { profile } else { "" },
        );
    }
    // The seccomp profile each service runs under is the generated file its compose entry
    // names (Compose inlines it): ZeroIA's strict preset, baseline for the others.
    for s in ARKALIA {
        let file = if s.name == "zeroia" {
            "strict"
        } else {
            "baseline"
        };
        let want: Option<Value> = fs::read_to_string(d.path().join(format!("seccomp/{file}.json")))
            .ok()
            .and_then(|j| serde_json::from_str(&j).ok());
        let got = inlined_seccomp(&inspect(&d.container(s.name)));
        c.check(
            s.name,
            &format!("runs under seccomp/{file}.json"),
            want.is_some() && got == want,
            || "    the inlined profile differs from the generated file".to_string(),
        );
    }
    // nofile of Sandozia, as its PID 1 has it.
    let v = inspect(&d.container("sandozia"));
    let pid = v["State"]["Pid"].as_u64().unwrap_or(0);
    let limits = fs::read_to_string(format!("/proc/{pid}/limits")).unwrap_or_default();
    let nofile: Vec<&str> = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .map(|l| l.split_whitespace().skip(3).take(2).collect())
        .unwrap_or_default();
    let want = want_nofile.to_string();
    c.eq(
        "sandozia",
        "nofile soft and hard limits of PID 1",
        nofile,
        vec![want.as_str(), want.as_str()],
    );
    // Writable: the volumes and the socket tmpfs. Read-only: the configuration bind mounts.
    for (s, dir) in [
        (&ARK_POSTGRES, "/var/lib/postgresql/data/pgdata"),
        (&ARK_POSTGRES, "/var/run/postgresql"),
        (&ARK_REDIS, "/data"),
        (&ARK_PROMETHEUS, "/prometheus"),
    ] {
        let o = exec_sh(
            &d,
            s,
            &format!("echo x > {dir}/.hardgen-live && rm {dir}/.hardgen-live"),
        );
        c.check(
            s.name,
            &format!("{dir} writable by the service user"),
            o.ok(),
            || o.to_string(),
        );
    }
    for (s, dir) in [
        (&ARK_SANDOZIA, "/app/config"),
        (&ARK_SANDOZIA, "/app/docs"),
        (&ARK_ZEROIA, "/app/state"),
        (&ARK_PROMETHEUS, "/etc/prometheus"),
    ] {
        let o = exec_sh(&d, s, &format!("echo x > {dir}/.hardgen-live"));
        c.check(
            s.name,
            &format!("{dir} is read-only"),
            !o.ok() && o.stderr.contains("Read-only file system"),
            || o.to_string(),
        );
    }
    t.mark("properties");
    for s in [&ARK_ZEROIA, &ARK_SANDOZIA] {
        check_seccomp_bites(&mut c, &d, s);
    }
    t.mark("seccomp");

    // Flows. Planned addresses (the spec's subnets, members low, flow clients high).
    let (postgres, redis) = ("172.20.4.2", "172.20.4.3");
    let sandozia_intel = "172.20.1.2";
    let sandozia_data = "172.20.4.130";
    let prometheus_intel = "172.20.1.129";
    let prometheus_mon = "172.20.2.2";
    check_probes(
        &mut c,
        "before the firewall (control)",
        &[
            (
                Probe::service(&d, &ARK_SANDOZIA, redis, 6379, "same bridge, no flow"),
                true,
            ),
            (
                Probe::service(
                    &d,
                    &ARK_POSTGRES,
                    sandozia_data,
                    8500,
                    "service to its flow client",
                ),
                true,
            ),
        ],
    );
    let iptables_before = apply_firewall(&mut c, &mut d);
    check_probes(
        &mut c,
        "with the firewall",
        &[
            (
                Probe::service(&d, &ARK_HELLORIA, postgres, 5432, "flow api -> data 5432"),
                true,
            ),
            (
                Probe::service(&d, &ARK_HELLORIA, redis, 6379, "flow api -> data 6379"),
                true,
            ),
            (
                Probe::service(
                    &d,
                    &ARK_ASSISTANTIA,
                    postgres,
                    5432,
                    "flow api -> data 5432",
                ),
                true,
            ),
            (
                Probe::service(
                    &d,
                    &ARK_HELLORIA,
                    sandozia_intel,
                    8500,
                    "flow api -> intelligence 8500 (client helloria)",
                ),
                true,
            ),
            (
                Probe::service(
                    &d,
                    &ARK_SANDOZIA,
                    postgres,
                    5432,
                    "flow intelligence -> data 5432",
                ),
                true,
            ),
            (
                Probe::service(
                    &d,
                    &ARK_SANDOZIA,
                    redis,
                    6379,
                    "intelligence -> data, port outside the flow",
                ),
                false,
            ),
            (
                Probe::service(
                    &d,
                    &ARK_ZEROIA,
                    sandozia_intel,
                    8500,
                    "flow monitoring -> intelligence 8500",
                ),
                true,
            ),
            (
                Probe::service(
                    &d,
                    &ARK_REFLEXIA,
                    sandozia_intel,
                    8500,
                    "flow monitoring -> intelligence 8500",
                ),
                true,
            ),
            (
                Probe::service(
                    &d,
                    &ARK_PROMETHEUS,
                    sandozia_intel,
                    8500,
                    "flow monitoring -> intelligence 8500",
                ),
                true,
            ),
            (
                Probe::service(
                    &d,
                    &ARK_ZEROIA,
                    prometheus_mon,
                    9090,
                    "inside the monitoring zone",
                ),
                true,
            ),
            (
                Probe::service(
                    &d,
                    &ARK_REFLEXIA,
                    prometheus_intel,
                    9090,
                    "flow client to another client in intelligence",
                ),
                false,
            ),
            (
                Probe::service(
                    &d,
                    &ARK_ASSISTANTIA,
                    sandozia_data,
                    8500,
                    "flow client to another client in data",
                ),
                false,
            ),
            (
                Probe::service(
                    &d,
                    &ARK_POSTGRES,
                    sandozia_data,
                    8500,
                    "data service opening a connection to its flow client",
                ),
                false,
            ),
            (
                Probe::host("127.0.0.1", 8000, "Helloria published on 127.0.0.1"),
                true,
            ),
        ],
    );
    // The flow api -> intelligence by name, as Helloria would call Sandozia. Both are also
    // attached to data (Helloria for api -> data, Sandozia for intelligence -> data), where
    // Docker's DNS would answer with Sandozia's client address, which the policy drops: the
    // generated extra_hosts pins `sandozia` to its intelligence address for Helloria.
    let by_name = Probe::service(&d, &ARK_HELLORIA, "sandozia", 8500, "by name").connect();
    let hosts = exec_sh(&d, &ARK_HELLORIA, "cat /etc/hosts");
    c.check(
        "with the firewall",
        "helloria -> sandozia:8500 by name (flow api -> intelligence) connects",
        by_name.ok(),
        || format!("{by_name}\n{hosts}"),
    );
    t.mark("firewall+probes");
    remove_firewall(&mut c, &mut d, &iptables_before);
    check_integrity_entrypoint(&mut c, &d);
    t.mark("integrity");

    drop(d);
    t.mark("cleanup");
    for (_, image) in ARKALIA_STAND_INS {
        c.check(
            "cleanup",
            &format!("stand-in {image} removed"),
            image_label(image).is_none(),
            || format!("    {image} still present"),
        );
    }
    t.print(test);
    c.finish(test, t.t0);
}

/// Sandozia's image is built with `integrity = true`: its entrypoint verifies the application
/// files against the checksums recorded at build time. The running service proves the
/// pristine image passes; a derived image with one file changed must refuse to start and
/// name the file.
fn check_integrity_entrypoint(c: &mut Checks, d: &Deployment) {
    const WHO: &str = "sandozia (integrity)";
    const TAMPERED: &str = "hglive-tampered-sandozia:1";
    const FILE: &str = "/app/modules/sandozia/core/sandozia_core.py";
    let id = d.container("sandozia");
    let image = inspect(&id)["Image"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let info = inspect(&image);
    c.eq(
        WHO,
        "the image's entrypoint is the generated integrity check",
        pointer(&info, "Config.Entrypoint").clone(),
        serde_json::json!(["/usr/local/bin/hardgen-entrypoint"]),
    );
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!("FROM {image}\nUSER 0\nRUN echo '# tampered' >> {FILE}\nUSER 10001:10001\n"),
    )
    .expect("write Dockerfile");
    let ctx = dir.path().to_string_lossy().into_owned();
    let built = run(
        180,
        &[
            "docker",
            "build",
            "--pull=false",
            "-q",
            "-t",
            TAMPERED,
            &ctx,
        ],
    );
    c.check(WHO, "a tampered derived image builds", built.ok(), || {
        built.to_string()
    });
    if built.ok() {
        let start = run(
            60,
            &[
                "docker",
                "run",
                "--rm",
                "--network",
                "none",
                "--read-only",
                TAMPERED,
                "true",
            ],
        );
        c.check(
            WHO,
            "the tampered image refuses to start (exit 1)",
            start.code == Some(1),
            || start.to_string(),
        );
        c.check(
            WHO,
            "the refusal names the changed file",
            start.stderr.contains("integrity check failed") && start.stderr.contains(FILE),
            || start.to_string(),
        );
        let pristine = run(
            60,
            &[
                "docker",
                "run",
                "--rm",
                "--network",
                "none",
                "--read-only",
                &image,
                "true",
            ],
        );
        c.check(
            WHO,
            "the pristine image starts the same command (exit 0)",
            pristine.ok(),
            || pristine.to_string(),
        );
    }
    let _ = run(60, &["docker", "rmi", "-f", TAMPERED]);
}

// ------------------------------------------------------------------ swarm target

const SWARM_STACK: &str = "hgswarm";
/// The name tests/live/swarm.toml gives the busybox image: a swarm task always tries to pull
/// its image before using the local one, and this one sends that attempt to a closed port on
/// the loopback instead of a registry.
const SWARM_IMAGE: &str = "127.0.0.1:5999/hardgen-test/busybox:1";

/// iptables filter, nat and mangle rules (`iptables -S`), one table per element.
fn iptables_tables() -> Vec<Vec<String>> {
    ["filter", "nat", "mangle"]
        .iter()
        .map(|t| {
            must(run(30, &["iptables", "-w", "-t", t, "-S"]), "iptables -S")
                .stdout
                .lines()
                .map(str::to_string)
                .collect()
        })
        .collect()
}

fn docker_networks() -> BTreeSet<String> {
    must(
        run(30, &["docker", "network", "ls", "--format", "{{.Name}}"]),
        "docker network ls",
    )
    .stdout
    .lines()
    .map(str::to_string)
    .collect()
}

fn swarm_state() -> String {
    run(
        30,
        &["docker", "info", "--format", "{{.Swarm.LocalNodeState}}"],
    )
    .stdout
    .trim()
    .to_string()
}

/// A one-node swarm (created only if the node was in none) with the stack deployed on it.
/// Dropping it removes the stack and waits for its containers and networks to go, leaves the
/// swarm it created (and the docker_gwbridge network that came with it), and deletes the
/// iptables rules the engine programs for encrypted overlays and leaves behind.
struct Swarm {
    dir: tempfile::TempDir,
    created: bool,
    networks_before: BTreeSet<String>,
    iptables_before: Vec<Vec<String>>,
    tagged: bool,
}

impl Swarm {
    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Waits (bounded) until no container or network of the stack is left.
    fn wait_stack_gone(secs: u64) -> bool {
        let t0 = Instant::now();
        let label = format!("label=com.docker.stack.namespace={SWARM_STACK}");
        loop {
            let c = run(30, &["docker", "ps", "-aq", "--filter", &label]);
            let n = run(30, &["docker", "network", "ls", "-q", "--filter", &label]);
            if c.ok() && n.ok() && c.stdout.trim().is_empty() && n.stdout.trim().is_empty() {
                return true;
            }
            if t0.elapsed() > Duration::from_secs(secs) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for Swarm {
    fn drop(&mut self) {
        let mut problems = Vec::new();
        if swarm_state() == "active" {
            let _ = run(60, &["docker", "stack", "rm", SWARM_STACK]);
            if !Swarm::wait_stack_gone(90) {
                problems.push(format!("stack {SWARM_STACK}: containers or networks left"));
            }
        }
        if self.created {
            let o = run(60, &["docker", "swarm", "leave", "--force"]);
            if !o.ok() {
                problems.push(o.to_string());
            }
            if !self.networks_before.contains("docker_gwbridge") {
                for _ in 0..10 {
                    let o = run(30, &["docker", "network", "rm", "docker_gwbridge"]);
                    if o.ok() || o.stderr.contains("not found") {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
        }
        // Engine 20.10 leaves the rules it programs for encrypted overlays (INPUT: VXLAN of
        // those VNIs only through IPsec; mangle OUTPUT: mark them) after the network and the
        // swarm are gone. Delete the ones that were not there before, nothing else.
        let now = iptables_tables();
        for (i, table) in ["filter", "nat", "mangle"].iter().enumerate() {
            for rule in now[i].iter().filter(|r| {
                r.starts_with("-A ")
                    && r.contains("--dport 4789")
                    && !self.iptables_before[i].contains(r)
            }) {
                let del = format!("iptables -w -t {table} -D {}", &rule[3..]);
                let o = run(30, &["sh", "-c", &del]);
                if !o.ok() {
                    problems.push(o.to_string());
                }
            }
        }
        if self.tagged {
            let o = run(30, &["docker", "image", "rm", SWARM_IMAGE]);
            if !o.ok() {
                problems.push(o.to_string());
            }
        }
        if !problems.is_empty() {
            eprintln!("swarm: cleanup problems:\n{}", problems.join("\n"));
        }
    }
}

/// Whether this kernel can install the ESP security associations an encrypted overlay uses
/// between nodes (libnetwork: AEAD rfc4106(gcm(aes)), transport mode). Tried in a throw-away
/// network namespace: the host's IPsec database is not touched.
fn ipsec_gcm_supported() -> Out {
    run(
        10,
        &[
            "unshare",
            "-n",
            "ip",
            "xfrm",
            "state",
            "add",
            "src",
            "127.0.0.1",
            "dst",
            "127.0.0.2",
            "proto",
            "esp",
            "spi",
            "0x4242",
            "mode",
            "transport",
            "aead",
            "rfc4106(gcm(aes))",
            "0x0102030405060708090a0b0c0d0e0f1011121314",
            "128",
        ],
    )
}

/// tests/live/swarm.toml built with `--target swarm` and deployed with `docker stack deploy`
/// on a one-node swarm: every service 1/1 and healthy, then in the task containers the user,
/// capabilities (bounding set exactly cap_add), read-only root, memory and CPU limits, bounded
/// logs, init, secrets with their per-service uid/gid/mode; the restart policy and the
/// encrypted, internal overlays from the engine; the zones by probes. What the target says it
/// cannot enforce (security_opt, pids) is checked to be as it says.
#[test]
#[ignore = "needs root and a Docker engine: run scripts/test.sh as root"]
fn swarm_stack_is_hardened_on_the_engine() {
    let _engine = live();
    let test = "live swarm";
    let mut t = Phases::new();
    let mut c = Checks::default();
    let state = swarm_state();
    assert!(
        matches!(state.as_str(), "inactive" | "active"),
        "unexpected swarm state {state:?}"
    );
    let dir = tempfile::Builder::new()
        .prefix("hardgen-live-swarm-")
        .tempdir()
        .expect("temporary directory");
    let o = Command::new(env!("CARGO_BIN_EXE_hardgen"))
        .args([
            "build",
            "tests/live/swarm.toml",
            "--target",
            "swarm",
            "--out",
        ])
        .arg(dir.path())
        .current_dir(root())
        .output()
        .expect("run hardgen");
    assert!(
        o.status.success(),
        "hardgen build --target swarm failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let warnings = String::from_utf8_lossy(&o.stderr).into_owned();
    let mut sw = Swarm {
        dir,
        created: false,
        networks_before: docker_networks(),
        iptables_before: iptables_tables(),
        tagged: false,
    };
    assert!(
        std::net::TcpListener::bind(("127.0.0.1", 5999)).is_ok(),
        "127.0.0.1:5999 is in use: the swarm test sends the tasks' image pulls there"
    );
    assert!(
        !run(30, &["docker", "image", "inspect", SWARM_IMAGE]).ok(),
        "{SWARM_IMAGE} exists: not tagged by this test, not touched"
    );
    must(
        run(30, &["docker", "tag", BUSYBOX_IMAGE, SWARM_IMAGE]),
        "docker tag",
    );
    sw.tagged = true;
    if state == "active" {
        // Already in a swarm (not ours): use it, leave it; remove a stack left by a killed run.
        let _ = run(60, &["docker", "stack", "rm", SWARM_STACK]);
        assert!(
            Swarm::wait_stack_gone(90),
            "a previous {SWARM_STACK} stack is still there"
        );
    } else {
        must(
            run(
                60,
                &[
                    "docker",
                    "swarm",
                    "init",
                    "--advertise-addr",
                    "127.0.0.1",
                    "--listen-addr",
                    "127.0.0.1:2377",
                ],
            ),
            "docker swarm init",
        );
        sw.created = true;
    }
    t.mark("swarm init");

    let o = run_in(Some(sw.path()), 60, &["sh", "scripts/generate-secrets.sh"]);
    assert!(o.ok(), "generate-secrets.sh failed\n{o}");
    let deploy = run_in(
        Some(sw.path()),
        120,
        &[
            "docker",
            "stack",
            "deploy",
            "-c",
            "docker-stack.yml",
            "--resolve-image",
            "never",
            SWARM_STACK,
        ],
    );
    assert!(deploy.ok(), "docker stack deploy failed\n{deploy}");
    c.check(
        "docker stack deploy",
        "no option of the stack file ignored (no \"Ignoring\" message)",
        !format!("{}{}", deploy.stdout, deploy.stderr).contains("Ignoring"),
        || deploy.to_string(),
    );
    // Every service 1/1 (a task with a health check counts once healthy), bounded.
    let t0 = Instant::now();
    let label = format!("label=com.docker.stack.namespace={SWARM_STACK}");
    let replicas = loop {
        let o = run(
            30,
            &[
                "docker",
                "service",
                "ls",
                "--filter",
                &label,
                "--format",
                "{{.Name}} {{.Replicas}}",
            ],
        );
        let lines: Vec<String> = o.stdout.lines().map(str::to_string).collect();
        let ready = lines.len() == 2 && lines.iter().all(|l| l.ends_with(" 1/1"));
        if ready || t0.elapsed() > Duration::from_secs(120) {
            break lines;
        }
        std::thread::sleep(Duration::from_secs(1));
    };
    let tasks = || {
        run(
            30,
            &[
                "docker",
                "service",
                "ps",
                "--no-trunc",
                &format!("{SWARM_STACK}_app"),
                &format!("{SWARM_STACK}_api"),
            ],
        )
        .to_string()
    };
    assert!(
        replicas.len() == 2 && replicas.iter().all(|l| l.ends_with(" 1/1")),
        "services not 1/1 within 120 s: {replicas:?}\n{}",
        tasks()
    );
    t.mark("deploy, 1/1");

    // What a container gets from the daemon when nothing asks: the swarm target relies on it
    // for no-new-privileges (daemon.json) and seccomp (the default profile).
    let ctl = must(
        run(
            60,
            &[
                "docker",
                "run",
                "--rm",
                "--pull",
                "never",
                "--network",
                "none",
                BUSYBOX_IMAGE,
                "grep",
                "NoNewPrivs",
                "/proc/self/status",
            ],
        ),
        "control container",
    );
    let daemon_nnp = ctl
        .stdout
        .split_whitespace()
        .nth(1)
        .unwrap_or("?")
        .to_string();
    println!("daemon default NoNewPrivs: {daemon_nnp} (the swarm target's daemon.json sets 1)");

    struct SwarmSvc {
        name: &'static str,
        user: (u32, u32),
        caps: &'static [&'static str],
        memory: u64,
        nano_cpus: i64,
        pids: i64,
        tmpfs_kib: u64,
        secrets: &'static [&'static str],
        networks: &'static [&'static str],
    }
    let services = [
        SwarmSvc {
            name: "app",
            user: (10001, 10001),
            caps: &["NET_BIND_SERVICE"],
            memory: 64 * MIB,
            nano_cpus: 250_000_000,
            pids: 32,
            tmpfs_kib: 8192,
            secrets: &["app_key", "token"],
            networks: &["hgswarm_back", "hgswarm_front"],
        },
        SwarmSvc {
            name: "api",
            user: (10002, 10002),
            caps: &[],
            memory: 48 * MIB,
            nano_cpus: 500_000_000,
            pids: 24,
            tmpfs_kib: 4096,
            secrets: &["token"],
            networks: &["hgswarm_back"],
        },
    ];
    let mut ids = BTreeMap::new();
    for s in &services {
        let who = s.name;
        let svc = format!("{SWARM_STACK}_{}", s.name);
        let o = must(
            run(
                30,
                &[
                    "docker",
                    "ps",
                    "-q",
                    "--no-trunc",
                    "--filter",
                    &format!("label=com.docker.swarm.service.name={svc}"),
                ],
            ),
            "docker ps",
        );
        let id = o.stdout.lines().next().unwrap_or("").trim().to_string();
        assert!(!id.is_empty(), "no task container for {svc}");
        ids.insert(s.name, id.clone());
        // Health: a task counts as running once healthy; wait for the container's own status.
        let t0 = Instant::now();
        let v = loop {
            let v = inspect(&id);
            if v["State"]["Health"]["Status"] == "healthy" || t0.elapsed() > Duration::from_secs(30)
            {
                break v;
            }
            std::thread::sleep(Duration::from_millis(500));
        };
        let hc = &v["HostConfig"];
        let user = format!("{}:{}", s.user.0, s.user.1);
        c.eq(
            who,
            "health",
            v["State"]["Health"]["Status"].as_str(),
            Some("healthy"),
        );
        c.eq(
            who,
            "configured user (Config.User)",
            v["Config"]["User"].as_str(),
            Some(user.as_str()),
        );
        c.eq(
            who,
            "read-only root (ReadonlyRootfs)",
            hc["ReadonlyRootfs"].as_bool(),
            Some(true),
        );
        c.eq(who, "cap_drop ALL", array_str(&hc["CapDrop"]), vec!["ALL"]);
        let mut cap_add: Vec<String> = array_str(&hc["CapAdd"])
            .iter()
            .map(|c| c.trim_start_matches("CAP_").to_string())
            .collect();
        cap_add.sort();
        c.eq(
            who,
            "cap_add exactly as in the spec",
            cap_add,
            s.caps.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
        );
        c.eq(
            who,
            "not privileged",
            hc["Privileged"].as_bool(),
            Some(false),
        );
        c.eq(
            who,
            "memory limit (HostConfig.Memory)",
            hc["Memory"].as_u64(),
            Some(s.memory),
        );
        c.eq(
            who,
            "CPU limit (HostConfig.NanoCpus)",
            hc["NanoCpus"].as_i64(),
            Some(s.nano_cpus),
        );
        // Swarm services have no swap setting (API 1.41): the engine's default, twice the
        // memory limit. Not among the controls the swarm target lists as unenforced.
        println!(
            "{who}: MemorySwap {} (memory {}): swap is not settable for swarm services",
            hc["MemorySwap"], s.memory
        );
        c.eq(
            who,
            "init process (HostConfig.Init)",
            hc["Init"].as_bool(),
            Some(true),
        );
        c.eq(
            who,
            "bounded json-file logs (10m x 3)",
            (
                hc["LogConfig"]["Type"].as_str(),
                hc["LogConfig"]["Config"]["max-size"].as_str(),
                hc["LogConfig"]["Config"]["max-file"].as_str(),
            ),
            (Some("json-file"), Some("10m"), Some("3")),
        );
        let mut nets: Vec<&String> = v["NetworkSettings"]["Networks"]
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        nets.sort();
        c.eq(
            who,
            "attached to its zones' overlays only",
            nets.iter().map(|n| n.as_str()).collect::<Vec<_>>(),
            s.networks.to_vec(),
        );
        // Documented as not enforced by the swarm target: security_opt dropped by stack deploy
        // (no-new-privileges from the daemon, the daemon's default seccomp profile).
        c.eq(
            who,
            "no security_opt reaches the container (as the target documents)",
            hc["SecurityOpt"].as_array().map_or(0, Vec::len),
            0,
        );
        c.check(
            who,
            &format!("pids limit {} (HostConfig.PidsLimit)", s.pids),
            hc["PidsLimit"].as_i64() == Some(s.pids),
            || format!("    HostConfig.PidsLimit = {}", hc["PidsLimit"]),
        );

        // The kernel's view of PID 1 and the other processes.
        let pid = v["State"]["Pid"].as_u64().unwrap_or(0) as u32;
        let mask = cap_mask(s.caps);
        let pids: Vec<u32> = container_pids(pid);
        c.check(
            who,
            "processes found in the task's cgroup",
            !pids.is_empty(),
            || format!("    PID 1 on the host: {pid}"),
        );
        for p in &pids {
            let st = proc_status(*p);
            let pw = format!("{who} pid {p}");
            let field = |k: &str| st.get(k).cloned().unwrap_or_default();
            let ids_of = |k: &str| -> Vec<u32> {
                field(k)
                    .split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect()
            };
            c.eq(
                &pw,
                "real/effective/saved/fs UID",
                ids_of("Uid"),
                vec![s.user.0; 4],
            );
            c.eq(
                &pw,
                "real/effective/saved/fs GID",
                ids_of("Gid"),
                vec![s.user.1; 4],
            );
            let cap = |k: &str| hex(&field(k));
            c.check(
                &pw,
                "bounding set (CapBnd) is exactly cap_add",
                cap("CapBnd") == mask,
                || format!("    CapBnd {} want {mask:016x}", field("CapBnd")),
            );
            c.check(
                &pw,
                "effective capabilities (CapEff) zero or exactly cap_add",
                cap("CapEff") == 0 || cap("CapEff") == mask,
                || format!("    CapEff {} want 0 or {mask:016x}", field("CapEff")),
            );
            c.eq(
                &pw,
                "NoNewPrivs as the daemon's default (stack deploy sets none)",
                field("NoNewPrivs"),
                daemon_nnp.clone(),
            );
            c.eq(
                &pw,
                "Seccomp 2 (the daemon's default profile)",
                field("Seccomp"),
                "2".to_string(),
            );
        }
        if let Some(dir) = cgroup_dir(pid, "memory") {
            let v1 = dir.join("memory.limit_in_bytes");
            let f = if v1.exists() {
                v1
            } else {
                dir.join("memory.max")
            };
            c.eq(
                who,
                "cgroup memory limit",
                read_trim(&f),
                s.memory.to_string(),
            );
        }
        let m = mounts(pid);
        let root_ro = m
            .iter()
            .find(|(mp, ..)| mp == "/")
            .is_some_and(|(_, o, ..)| o.split(',').any(|x| x == "ro"));
        c.check(who, "/ mounted read-only (mountinfo)", root_ro, || {
            format!("    {m:?}")
        });
        for t in ["/tmp", "/run"] {
            let e = m.iter().rev().find(|(mp, ..)| mp == t);
            c.check(
                who,
                &format!("{t} is a tmpfs of the spec's size"),
                e.is_some_and(|(_, _, fs, so)| {
                    fs == "tmpfs" && so.split(',').any(|x| x == format!("size={}k", s.tmpfs_kib))
                }),
                || format!("    mountinfo entry: {e:?}"),
            );
        }
        let exec = |script: &str| run(30, &["docker", "exec", id.as_str(), "sh", "-c", script]);
        let o = exec("echo x > /hardgen-live-probe");
        c.check(
            who,
            "writing to / fails (read-only file system)",
            !o.ok() && o.stderr.contains("Read-only file system"),
            || o.to_string(),
        );
        for name in s.secrets {
            let value =
                fs::read_to_string(sw.path().join("secrets").join(name)).unwrap_or_default();
            let o = exec(&format!(
                "stat -c '%u:%g %a' /run/secrets/{name} && cat /run/secrets/{name}"
            ));
            let want = format!("{user} 400\n{value}");
            c.check(
                who,
                &format!(
                    "secret {name}: owned by {user}, mode 0400, readable, the generated value"
                ),
                o.ok() && !value.is_empty() && o.stdout == want,
                || o.to_string(),
            );
            let o = exec(&format!("echo x >> /run/secrets/{name}"));
            c.check(who, &format!("secret {name} is read-only"), !o.ok(), || {
                o.to_string()
            });
        }
        let o = exec("ls /run/secrets");
        let mut got: Vec<&str> = o.stdout.split_whitespace().collect();
        got.sort();
        c.eq(
            who,
            "exactly its secrets in /run/secrets",
            got,
            s.secrets.to_vec(),
        );
        // Restart policy: the service's, not the container's (swarm restarts tasks).
        let rp = must(
            run(
                30,
                &[
                    "docker",
                    "service",
                    "inspect",
                    "--format",
                    "{{json .Spec.TaskTemplate.RestartPolicy}}",
                    &svc,
                ],
            ),
            "docker service inspect",
        );
        let rp: Value = serde_json::from_str(rp.stdout.trim()).unwrap_or(Value::Null);
        c.eq(
            who,
            "service restart policy on-failure, 5 attempts",
            (rp["Condition"].as_str(), rp["MaxAttempts"].as_u64()),
            (Some("on-failure"), Some(5)),
        );
    }
    t.mark("properties");

    // Zones: the overlays, as the engine created them.
    for (net, internal) in [("hgswarm_back", true), ("hgswarm_front", false)] {
        let v = inspect(net);
        c.eq(
            net,
            "overlay, encrypted, internal as the zone says",
            (
                v["Driver"].as_str(),
                v["Options"]["encrypted"].as_str(),
                v["Internal"].as_bool(),
            ),
            (Some("overlay"), Some("true"), Some(internal)),
        );
    }
    // Encrypted overlays: created and used here (one node: no VXLAN between nodes, so no
    // IPsec). Between nodes, libnetwork installs ESP with AEAD rfc4106(gcm(aes)).
    let xfrm = ipsec_gcm_supported();
    println!(
        "IPsec ESP rfc4106(gcm(aes)) on this kernel: {}",
        if xfrm.ok() {
            "supported".to_string()
        } else {
            format!(
                "NOT supported ({}): encrypted overlays would carry no traffic between nodes",
                xfrm.stderr.trim()
            )
        }
    );
    let app = inspect(&ids["app"]);
    let app_back = app["NetworkSettings"]["Networks"]["hgswarm_back"]["IPAddress"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let app_front = app["NetworkSettings"]["Networks"]["hgswarm_front"]["IPAddress"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let probe = |from: &str, addr: &str, port: u16, label: &str| Probe {
        label: format!("{from} -> {addr}:{port} ({label})"),
        from: Some(ids[from].clone()),
        nc: vec!["nc".into()],
        addr: addr.to_string(),
        port,
    };
    // A service name resolves to a virtual IP that the engine load-balances with IPVS; a
    // kernel without IPVS (no /proc/net/ip_vs, as here) leaves the VIP dead: connections to
    // `api` time out while `tasks.api` (the tasks' own addresses) works.
    let ipvs = Path::new("/proc/net/ip_vs").exists();
    let mut zone_probes = vec![
        (
            probe(
                "app",
                "tasks.api",
                8080,
                "flow front -> back, the task by name",
            ),
            true,
        ),
        (
            probe(
                "api",
                &app_front,
                80,
                "internal zone to another zone's overlay",
            ),
            false,
        ),
        (
            probe(
                "api",
                &app_back,
                80,
                "flow client's port in the shared zone: open (the target documents \
                 that swarm does not narrow flows to ports)",
            ),
            true,
        ),
    ];
    if ipvs {
        zone_probes.push((
            probe("app", "api", 8080, "flow front -> back, the service VIP"),
            true,
        ));
    } else {
        println!(
            "note: no IPVS in this kernel (/proc/net/ip_vs missing): swarm service VIPs do not \
             forward; the flow is probed through tasks.api"
        );
    }
    check_probes(&mut c, "swarm zones", &zone_probes);
    t.mark("zones");
    println!(
        "hardgen build --target swarm warnings:\n{}",
        warnings.trim()
    );

    let (networks_before, iptables_before) =
        (sw.networks_before.clone(), sw.iptables_before.clone());
    drop(sw);
    t.mark("cleanup");
    c.eq(
        "cleanup",
        "docker networks as before",
        docker_networks(),
        networks_before,
    );
    c.eq(
        "cleanup",
        "iptables filter, nat and mangle as before",
        iptables_tables(),
        iptables_before,
    );
    c.check(
        "cleanup",
        &format!("{SWARM_IMAGE} untagged"),
        !run(30, &["docker", "image", "inspect", SWARM_IMAGE]).ok(),
        String::new,
    );
    c.eq(
        "cleanup",
        "swarm state as before",
        swarm_state(),
        state.clone(),
    );
    c.check(
        "cleanup",
        "no container or network of the stack left",
        Swarm::wait_stack_gone(5),
        String::new,
    );
    t.print(test);
    c.finish(test, t.t0);
}

// ------------------------------------------------------------------ the other examples

#[path = "live/examples.rs"]
mod examples;
// ------------------------------------------------------------------ central logs

/// tests/live/syslog.toml: the project's `[logging]` choice (Docker's syslog driver over TCP)
/// on a running stack. A receiver of the test's own (busybox `nc -ll`, a reader forked per
/// connection) listens on its own internal network at 10.233.0.10:514; the Docker daemon dials
/// it from the host over that bridge. Each service prints a line at start: the receiver gets
/// it, tagged with the project and the service, and `docker inspect` shows the driver and
/// options of the generated compose file.
#[test]
#[ignore = "needs root and a Docker engine: run scripts/test.sh as root"]
fn syslog_driver_delivers_every_service_to_a_receiver() {
    let _engine = live();
    let test = "live syslog";
    let mut t = Phases::new();
    let mut c = Checks::default();
    let receiver = "hglog-receiver";
    let net = "hglog-logs";
    let _ = run(30, &["docker", "rm", "--force", receiver]);
    let _ = run(30, &["docker", "network", "rm", net]);
    let mut d = Deployment::generate("tests/live/syslog.toml", "hglog");
    d.containers.push(receiver.into());
    d.networks.push(net.into());
    must(
        run(
            60,
            &[
                "docker",
                "network",
                "create",
                "--driver",
                "bridge",
                "--internal",
                "--subnet",
                "10.233.0.0/24",
                "--opt",
                "com.docker.network.bridge.name=hglog-logs",
                net,
            ],
        ),
        "create the receiver's internal network",
    );
    must(
        run(
            60,
            &[
                "docker",
                "run",
                "--detach",
                "--name",
                receiver,
                "--pull",
                "never",
                "--network",
                net,
                "--ip",
                "10.233.0.10",
                "--read-only",
                "--tmpfs",
                "/tmp:size=4m",
                "--cap-drop",
                "ALL",
                "--cap-add",
                "NET_BIND_SERVICE",
                "--security-opt",
                "no-new-privileges:true",
                "--log-driver",
                "json-file",
                BUSYBOX_IMAGE,
                "nc",
                "-ll",
                "-p",
                "514",
                "-e",
                "sh",
                "-c",
                "cat >> /tmp/syslog",
            ],
        ),
        "start the syslog receiver",
    );
    // The receiver listens before the stack starts (a TCP syslog driver that cannot connect
    // fails the container's start).
    let t0 = Instant::now();
    while !run(5, &["/bin/busybox", "nc", "-w", "2", "10.233.0.10", "514"]).ok() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the receiver does not accept connections on 10.233.0.10:514 from the host"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    t.mark("receiver");
    d.up();
    t.mark("up --wait");

    for svc in ["api", "worker"] {
        let v = inspect(&d.container(svc));
        let lc = &v["HostConfig"]["LogConfig"];
        c.eq(
            svc,
            "log driver and options as generated",
            (
                lc["Type"].as_str(),
                lc["Config"]["syslog-address"].as_str(),
                lc["Config"]["syslog-format"].as_str(),
                lc["Config"]["syslog-facility"].as_str(),
                lc["Config"]["tag"].as_str(),
            ),
            (
                Some("syslog"),
                Some("tcp://10.233.0.10:514"),
                Some("rfc5424"),
                Some("local3"),
                Some(format!("hglog/{svc}/{{{{.ID}}}}").as_str()),
            ),
        );
    }
    // Bounded wait for the lines (the driver sends as the container writes).
    let wanted = |log: &str, svc: &str| {
        log.lines().any(|l| {
            l.contains(&format!("hglog-line-from-{svc}")) && l.contains(&format!("hglog/{svc}/"))
        })
    };
    let t0 = Instant::now();
    let log = loop {
        let o = run(10, &["docker", "exec", receiver, "cat", "/tmp/syslog"]);
        if ["api", "worker"].iter().all(|s| wanted(&o.stdout, s))
            || t0.elapsed() > Duration::from_secs(30)
        {
            break o;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    println!("receiver got:\n{}", log.stdout.trim_end());
    for svc in ["api", "worker"] {
        c.check(
            svc,
            "its start-up line reaches the syslog receiver, tagged hglog/<service>/<id>",
            wanted(&log.stdout, svc),
            || log.to_string(),
        );
    }
    // RFC 5424 with facility local3 (19): PRI = 19 * 8 + severity (info 6, err 3).
    c.check(
        "receiver",
        "lines are RFC 5424 with facility local3 (<158>1 or <155>1)",
        log.stdout.contains("<158>1 ") || log.stdout.contains("<155>1 "),
        || log.to_string(),
    );
    t.mark("lines");
    drop(d);
    t.mark("cleanup");
    t.print(test);
    c.finish(test, t.t0);
}

// ------------------------------------------------------------------ imported compose stacks

#[path = "live/imported.rs"]
mod imported;
