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

/// The zone firewall across a restart of dockerd.
#[path = "live/restart.rs"]
mod restart;

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

/// `hardgen build ARGS...` run in `cwd`; the test fails with hardgen's messages if it fails.
/// Returns what it printed on stderr (its warnings).
fn hardgen_build(cwd: &Path, args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_hardgen"))
        .arg("build")
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run hardgen");
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        o.status.success(),
        "hardgen build {} failed:\n{stderr}",
        args.join(" ")
    );
    stderr
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
        hardgen_build(
            &root(),
            &[
                copy.to_str().unwrap(),
                "--out",
                dir.path().to_str().unwrap(),
            ],
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

    /// Health checks of `services` every 3 s instead of the examples' 30 s (`up --wait`
    /// starts each dependency level only when the one below is healthy): an override, the
    /// generated files are not edited; command, timeout, retries and start period stay
    /// generated. Returns the override's file name.
    fn fast_health<S: AsRef<str>>(&mut self, services: &[S]) -> &'static str {
        const FILE: &str = "live-fast-health.override.yml";
        let fast: String = services
            .iter()
            .map(|s| format!("  {}:\n    healthcheck:\n      interval: 3s\n", s.as_ref()))
            .collect();
        fs::write(self.path().join(FILE), format!("services:\n{fast}")).unwrap();
        if !self.overrides.iter().any(|o| o == FILE) {
            self.overrides.push(FILE.to_string());
        }
        FILE
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

/// Every hardening property of one running compose service, from inspect, /proc and cgroups
/// on the host, and commands run inside the container.
fn check_service(c: &mut Checks, d: &Deployment, s: &Svc) {
    let who = s.name;
    let id = d.container(s.name);
    let v = inspect(&id);
    let secret_values = secret_values(d.path(), s);
    check_container(c, &v, s, &COMPOSE, &secret_values);
    check_built_and_ports(c, &v, s);
    let pid = v["State"]["Pid"].as_u64().unwrap_or(0) as u32;
    check_kernel(c, who, pid, s, &COMPOSE, "1", &secret_values);
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

/// What a target puts in force in each container: the table the per-service checks read.
/// Compose enforces every control; what a target documents as not enforced (swarm: `docker
/// stack deploy` drops security_opt, services have no swap setting, restarts belong to the
/// service rather than the task) is checked to be absent, or reported, never assumed present.
struct TargetControls {
    /// no-new-privileges and a seccomp profile in SecurityOpt (else none at all).
    security_opt: bool,
    /// MemorySwap equal to Memory.
    no_swap: bool,
    /// MemoryReservation and `on-failure:N` on the container.
    container_restart: bool,
    /// /tmp and /run mounted noexec,nosuid,nodev (else: tmpfs only).
    tmpfs_flags: bool,
    /// /run sized like /tmp (`tmpfs_size`).
    run_sized: bool,
}

const COMPOSE: TargetControls = TargetControls {
    security_opt: true,
    no_swap: true,
    container_restart: true,
    tmpfs_flags: true,
    run_sized: false,
};

const SWARM: TargetControls = TargetControls {
    security_opt: false,
    no_swap: false,
    container_restart: false,
    tmpfs_flags: false,
    run_sized: true,
};

/// The generated secret files a service must and must not see: (name, value).
fn secret_values(dir: &Path, s: &Svc) -> Vec<(String, String)> {
    s.secrets
        .iter()
        .chain(s.not_secrets)
        .map(|n| {
            let p = dir.join("secrets").join(n);
            (n.to_string(), fs::read_to_string(&p).unwrap_or_default())
        })
        .collect()
}

/// The container's configuration as the engine applied it (`docker inspect`), for any target.
fn check_container(
    c: &mut Checks,
    v: &Value,
    s: &Svc,
    t: &TargetControls,
    secret_values: &[(String, String)],
) {
    let who = s.name;
    let hc = &v["HostConfig"];
    let ev = |key: &str| format!("    docker inspect .{key} = {}", pointer(v, key));

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
    if t.security_opt {
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
    } else {
        // Documented as not enforced (swarm: `docker stack deploy` drops security_opt; the
        // daemon's no-new-privileges default and its seccomp profile apply).
        c.eq(
            who,
            "no security_opt reaches the container (as the target documents)",
            sec.len(),
            0,
        );
    }
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
    if t.no_swap {
        c.eq(
            who,
            "no swap (HostConfig.MemorySwap = Memory)",
            hc["MemorySwap"].as_u64(),
            Some(s.memory),
        );
    } else {
        // Swarm services have no swap setting (API 1.41): the engine's default, twice the
        // memory limit. Not among the controls the swarm target lists as unenforced.
        println!(
            "{who}: MemorySwap {} (memory {}): swap is not settable for this target",
            hc["MemorySwap"], s.memory
        );
    }
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

    if t.container_restart {
        c.eq(
            who,
            "memory reservation (HostConfig.MemoryReservation)",
            hc["MemoryReservation"].as_u64(),
            Some(s.mem_reservation),
        );
    }
    c.eq(
        who,
        "init process (HostConfig.Init)",
        hc["Init"].as_bool(),
        Some(true),
    );
    if t.container_restart {
        c.eq(
            who,
            &format!("restart policy on-failure:{}", s.restart_retries),
            (
                hc["RestartPolicy"]["Name"].as_str(),
                hc["RestartPolicy"]["MaximumRetryCount"].as_i64(),
            ),
            (Some("on-failure"), Some(s.restart_retries)),
        );
    }
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
    // Secrets: nowhere in the environment.
    let env: Vec<&str> = array_str(&v["Config"]["Env"]);
    for (name, value) in secret_values {
        c.check(
            who,
            &format!("secret {name} absent from the environment (Config.Env)"),
            !value.is_empty() && !env.iter().any(|e| e.contains(value.as_str())),
            || format!("    secret file empty or its value is in Config.Env = {env:?}"),
        );
    }
}

/// A compose service's built image and published ports.
fn check_built_and_ports(c: &mut Checks, v: &Value, s: &Svc) {
    let who = s.name;
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
}

/// The kernel's view of the container: every process's ids, capabilities, NoNewPrivs
/// (`nnp`, as the target sets it) and seccomp mode, its cgroup limits and its mounts.
fn check_kernel(
    c: &mut Checks,
    who: &str,
    pid: u32,
    s: &Svc,
    t: &TargetControls,
    nnp: &str,
    secret_values: &[(String, String)],
) {
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
        for (name, value) in secret_values {
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
            if t.security_opt {
                "NoNewPrivs"
            } else {
                "NoNewPrivs as the daemon's default (the target sets none)"
            },
            st.get("NoNewPrivs").map(String::as_str),
            Some(nnp),
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
            if t.no_swap && sw.exists() {
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
    for dir in ["/tmp", "/run"] {
        let e = m.iter().rev().find(|(mp, ..)| mp == dir);
        let sized = dir == "/tmp" || t.run_sized;
        let property = match (t.tmpfs_flags, sized) {
            (true, true) => format!("{dir} is a noexec,nosuid,nodev tmpfs of the spec's size"),
            (true, false) => format!("{dir} is a noexec,nosuid,nodev tmpfs"),
            (false, true) => format!("{dir} is a tmpfs of the spec's size"),
            (false, false) => format!("{dir} is a tmpfs"),
        };
        c.check(
            who,
            &property,
            e.is_some_and(|(_, o, fs, so)| {
                let o: Vec<&str> = o.split(',').collect();
                fs == "tmpfs"
                    && (!t.tmpfs_flags
                        || ["noexec", "nosuid", "nodev"].iter().all(|f| o.contains(f)))
                    && (!sized || so.split(',').any(|x| x == format!("size={}k", s.tmpfs_kib)))
            }),
            || format!("    mountinfo entry: {e:?}"),
        );
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

const MIB: u64 = 1024 * 1024;

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

// ------------------------------------------------------------------ the stacks, one module each

#[path = "live/arkalia.rs"]
mod arkalia;
#[path = "live/basic.rs"]
mod basic;
#[path = "live/gateway.rs"]
mod gateway;
#[path = "live/luna.rs"]
mod luna;
#[path = "live/swarm.rs"]
mod swarm;
#[path = "live/syslog.rs"]
mod syslog;

// ------------------------------------------------------------------ the other examples

#[path = "live/examples.rs"]
mod examples;
// ------------------------------------------------------------------ imported compose stacks

#[path = "live/imported.rs"]
mod imported;

#[path = "live/learn.rs"]
mod learn;

// ------------------------------------------------------------------ measurements (not in CI)

#[path = "live/measure.rs"]
mod measure;
