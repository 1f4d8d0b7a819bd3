//! `hardgen learn SPEC`: record, pin and verify the learned seccomp profiles.
//!
//! # How the syscalls are recorded, and why not from the kernel log
//!
//! The stack runs under *recording* profiles: each service that opts in gets its baseline
//! policy (its `syscalls_allow`, `syscalls_deny` and capabilities included), so the stack is
//! as hardened while it is learned as it would be without `learned`, and a learned set is never
//! wider than the baseline. While it runs, `bpftrace` counts, in the kernel, every syscall
//! entered by a task whose seccomp mode is "filter" (2), keyed by the task's UTS host name
//! (Docker gives each container its short id) and the syscall number. That is exactly "what
//! ran under the filter": runc's init after it loaded the filter (before that its mode is 0
//! and its mounts and `pivot_root` are not counted), docker-init, the service's processes,
//! and every `docker exec` — the health checks and the exercises. A syscall the filter
//! refuses never reaches the `sys_enter` tracepoint, so it is not learned.
//!
//! The kernel log (`SCMP_ACT_LOG` as the default action) was the other way: every logged
//! syscall is one audit record, and without a running `auditd` the records reach the log
//! through `printk_ratelimit()` — by default (`kernel.printk_ratelimit` 5 s,
//! `printk_ratelimit_burst` 10) ten lines per five seconds, so lines are dropped and a dropped
//! line is a syscall missing from the profile. Lifting the limit floods the log (one line per
//! call, millions for a busy service) and the ring buffer overwrites what was not read yet;
//! `auditd` has its own backlog limit and disk. Counting in the kernel drops nothing and costs
//! one map update per call. It needs root, `bpftrace` (Debian's package) and the kernel's
//! BTF (`/sys/kernel/btf/vmlinux`) and tracing file system (mounted here if it is not).
//!
//! # Verification
//!
//! The stack is then built again with the learned profiles enforced (default `SCMP_ACT_ERRNO`)
//! and brought up again: every service must turn healthy, its health check and exercise must
//! pass when run again, and `unshare(CLONE_NEWUSER)` (outside every learned set) must fail
//! with EPERM inside each learning service that has the `unshare` program (in a twin
//! container of the same image, user and profile, running the host's static busybox, for one
//! that has not). The same trace
//! counts the calls that failed with EPERM or ENOSYS, so a failure names the service and the
//! syscalls its learned profile refused. Nothing is written unless verification passes.

use super::{LearnedFile, LearnedOn, Source};
use crate::app::{self, Outcome};
use crate::layout::Layout;
use crate::model::{Model, SeccompPreset};
use crate::seccomp::{self, Arch};
use crate::targets::Target;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What `hardgen learn` was asked to do.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The deployment directory whose other files (bind-mounted configuration, secrets) the
    /// stack needs; default `deploy/<spec name>`. It is copied, never changed.
    pub out: Option<PathBuf>,
    /// Extra compose files layered over the generated one (`docker compose -f`), for what only
    /// this host needs.
    pub overrides: Vec<PathBuf>,
    /// Forget the previous learned sets instead of merging with them.
    pub fresh: bool,
}

/// The trace: what ran under a seccomp filter, per UTS host name (`@e`), and what failed with
/// EPERM or ENOSYS (`@f`).
const TRACE: &str = r#"tracepoint:raw_syscalls:sys_enter /curtask->seccomp.mode == 2/ {
  @e[curtask->nsproxy->uts_ns->name.nodename, args->id] = count();
}
tracepoint:raw_syscalls:sys_exit /curtask->seccomp.mode == 2 && (args->ret == -1 || args->ret == -38)/ {
  @f[curtask->nsproxy->uts_ns->name.nodename, args->id] = count();
}
tracepoint:raw_syscalls:sys_enter /pid == $1 && @ready_enter == 0/ {
  @ready_enter = 1; printf("ready enter\n");
}
tracepoint:raw_syscalls:sys_exit /pid == $1 && @ready_exit == 0/ {
  @ready_exit = 1; printf("ready exit\n");
}"#;

type Counts = BTreeMap<String, BTreeSet<u32>>;

struct Trace {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Trace {
    fn start() -> Result<Trace, String> {
        if !Path::new("/sys/kernel/tracing/events/raw_syscalls").exists() {
            let _ = Command::new("mount")
                .args(["-t", "tracefs", "nodev", "/sys/kernel/tracing"])
                .status();
        }
        // bpftrace says "Attaching N probes..." before it attaches them: the two `ready` lines
        // come from probes that fire on this process's own syscalls, so once both are there
        // both tracepoints are in place (this thread sleeps in short steps meanwhile).
        let mut child = Command::new("bpftrace")
            .args(["-e", TRACE, &std::process::id().to_string()])
            // Every seccomp-confined task of the host shares the maps: room for many.
            .env("BPFTRACE_MAP_KEYS_MAX", "131072")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run bpftrace (Debian's `bpftrace` package): {e}"))?;
        let stdout = child.stdout.take().expect("piped");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().expect("lock").push(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(90);
        let ready = |l: &Vec<String>| {
            l.iter().any(|x| x == "ready enter") && l.iter().any(|x| x == "ready exit")
        };
        while !ready(&lines.lock().expect("lock")) && Instant::now() < deadline && !interrupted() {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if !ready(&lines.lock().expect("lock")) {
            let _ = child.kill();
            let out = child.wait_with_output().ok();
            let stderr = out
                .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
                .unwrap_or_default();
            return Err(format!(
                "bpftrace did not attach (root, the kernel's BTF and tracing are needed): {}",
                stderr.trim()
            ));
        }
        Ok(Trace {
            child,
            lines,
            reader: Some(reader),
        })
    }

    /// Stops the trace; the syscalls entered and those that failed, per host name.
    fn stop(mut self) -> Result<(Counts, Counts), String> {
        // bpftrace (0.17, Debian 12) now and then misses a SIGINT and sleeps on (seen once in
        // about 35 learning runs): it is sent again every 2 s while bpftrace has printed
        // nothing since the last one (once it prints its maps it is on its way out, and a
        // second signal must not cut that short); after 60 s it is killed.
        let pid = self.child.id().to_string();
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = 'wait: loop {
            let printed = self.lines.lock().expect("lock").len();
            let _ = Command::new("kill").args(["-INT", &pid]).status();
            let resend = Instant::now() + Duration::from_secs(2);
            loop {
                if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                    break 'wait status;
                }
                if Instant::now() >= deadline {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return Err("bpftrace did not stop within 60 s of SIGINT".into());
                }
                let quiet = self.lines.lock().expect("lock").len() == printed;
                if Instant::now() >= resend && quiet {
                    continue 'wait;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        };
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        if !status.success() {
            return Err(format!("bpftrace ended with {status}"));
        }
        let lines = self.lines.lock().expect("lock");
        let (mut entered, mut failed) = (Counts::new(), Counts::new());
        for line in lines.iter() {
            let (map, rest) = match line.split_once('[') {
                Some((m, r)) => (m, r),
                None => continue,
            };
            let Some((key, _count)) = rest.split_once("]: ") else {
                continue;
            };
            let Some((host, nr)) = key.rsplit_once(", ") else {
                continue;
            };
            let Ok(nr) = nr.trim().parse::<u32>() else {
                continue;
            };
            let target = match map {
                "@e" => &mut entered,
                "@f" => &mut failed,
                _ => continue,
            };
            target.entry(host.to_string()).or_default().insert(nr);
        }
        Ok((entered, failed))
    }
}

impl Drop for Trace {
    fn drop(&mut self) {
        if self.reader.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Set by SIGINT or SIGTERM while `hardgen learn` runs (see [`catch_interrupts`]).
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_signal: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Ctrl-C (SIGINT) or `kill` (SIGTERM) would end hardgen on the spot with the default action,
/// leaving the `<project>-learn` containers, networks and volumes behind. While `learn` runs
/// the signal only sets a flag: the command running is stopped (see [`run`]), the step fails,
/// and the stack's guard takes the stack down ([`Stack`]'s `Drop`) before hardgen exits.
fn catch_interrupts() {
    let handler = on_interrupt as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic; `signal` has no other precondition.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
}

fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

const INTERRUPTED_MSG: &str = "interrupted (SIGINT or SIGTERM)";

/// A command's status and output together. Once interrupted, the command is killed and
/// reported as failed (the teardown runs with `interruptible` false).
fn run(argv: &[&str], dir: Option<&Path>) -> (bool, String) {
    run_with(argv, dir, true)
}

fn run_with(argv: &[&str], dir: Option<&Path>, interruptible: bool) -> (bool, String) {
    if interruptible && interrupted() {
        return (false, INTERRUPTED_MSG.to_string());
    }
    let mut c = Command::new(argv[0]);
    c.args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(d) = dir {
        c.current_dir(d);
    }
    let mut child = match c.spawn() {
        Ok(child) => child,
        Err(e) => return (false, format!("cannot run {}: {e}", argv[0])),
    };
    let drain = |r: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(child.stdout.take().map(|r| Box::new(r) as _));
    let err = drain(child.stderr.take().map(|r| Box::new(r) as _));
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if interruptible && interrupted() => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => break None,
        }
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.join().unwrap_or_default()),
        String::from_utf8_lossy(&err.join().unwrap_or_default())
    );
    match status {
        Some(s) => (s.success(), text),
        None => (false, INTERRUPTED_MSG.to_string()),
    }
}

fn host_arch() -> Result<Arch, String> {
    match std::env::consts::ARCH {
        "x86_64" => Ok(Arch::X86_64),
        "aarch64" => Ok(Arch::Aarch64),
        other => Err(format!("hardgen learns on x86_64 and aarch64, not {other}")),
    }
}

/// The compose project the learning stack runs as (its own, so a deployment of the spec
/// that is up keeps its containers; its bridges, named by the spec, must not be up).
fn project_name(model: &Model) -> String {
    format!("{}-learn", model.project.name)
}

/// One learning stack: a private copy of the deployment directory with generated files of
/// its own, and the compose command for it.
struct Stack {
    dir: PathBuf,
    project: String,
    overrides: Vec<PathBuf>,
    up: bool,
}

impl Stack {
    fn compose(&self, args: &[&str]) -> (bool, String) {
        self.compose_with(args, true)
    }

    fn compose_with(&self, args: &[&str], interruptible: bool) -> (bool, String) {
        let mut argv: Vec<String> = vec![
            "docker".into(),
            "compose".into(),
            "-p".into(),
            self.project.clone(),
            "-f".into(),
            "docker-compose.yml".into(),
        ];
        for o in &self.overrides {
            argv.push("-f".into());
            argv.push(o.display().to_string());
        }
        argv.extend(args.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
        run_with(&refs, Some(&self.dir), interruptible)
    }

    fn render(&self, model: &Model, spec: &Path) -> Result<(), String> {
        let layout = Layout::new(spec, &self.dir);
        let mut sink = Vec::new();
        let artifacts = app::artifacts(model, Target::Compose, &layout, &mut sink)
            .ok_or_else(|| String::from_utf8_lossy(&sink).into_owned())?;
        for (path, a) in artifacts.iter() {
            let full = self.dir.join(path);
            if let Some(parent) = full.parent() {
                std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
            }
            std::fs::write(&full, &a.bytes).map_err(|e| format!("{}: {e}", full.display()))?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&full, std::fs::Permissions::from_mode(a.mode))
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn up(&mut self) -> Result<(), String> {
        self.up = true;
        let (ok, out) = self.compose(&["up", "-d", "--wait", "--pull", "never"]);
        if ok {
            Ok(())
        } else {
            Err(out.trim().to_string())
        }
    }

    /// service -> (container id, UTS host name).
    fn containers(&self) -> Result<BTreeMap<String, (String, String)>, String> {
        let (ok, out) = self.compose(&["ps", "-a", "-q"]);
        if !ok {
            return Err(out);
        }
        let mut map = BTreeMap::new();
        for id in out.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (ok, info) = run(
                &[
                    "docker",
                    "inspect",
                    "-f",
                    "{{index .Config.Labels \"com.docker.compose.service\"}} {{.Config.Hostname}}",
                    id,
                ],
                None,
            );
            if !ok {
                return Err(info);
            }
            let mut parts = info.split_whitespace();
            if let (Some(service), Some(host)) = (parts.next(), parts.next()) {
                map.insert(service.to_string(), (id.to_string(), host.to_string()));
            }
        }
        Ok(map)
    }

    fn down(&mut self) {
        if self.up {
            let _ = self.compose_with(
                &["down", "-v", "--remove-orphans", "--timeout", "10"],
                false,
            );
            self.up = false;
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.down();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path())?, &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Runs each learning service's health check and exercise in its container.
fn exercise(
    model: &Model,
    services: &BTreeSet<String>,
    exercises: &BTreeMap<String, super::Exercise>,
    containers: &BTreeMap<String, (String, String)>,
    say: &mut dyn Write,
) -> Result<(), (String, String)> {
    for name in services {
        let Some((id, _)) = containers.get(name) else {
            return Err((name.clone(), "no container".into()));
        };
        let svc = &model.services[name];
        if let Some(h) = &svc.health {
            let mut argv = vec!["docker", "exec", id.as_str()];
            argv.extend(h.cmd.iter().map(String::as_str));
            let (ok, out) = run(&argv, None);
            if !ok {
                return Err((
                    name.clone(),
                    format!("health check `{}` failed: {}", h.cmd.join(" "), out.trim()),
                ));
            }
        }
        if let Some(ex) = exercises.get(name) {
            let until = Instant::now() + Duration::from_millis(ex.millis);
            let mut runs = 0u32;
            loop {
                let mut argv = vec!["docker", "exec", id.as_str()];
                argv.extend(ex.cmd.iter().map(String::as_str));
                let (ok, out) = run(&argv, None);
                runs += 1;
                if !ok {
                    return Err((
                        name.clone(),
                        format!(
                            "exercise `{}` failed (run {runs}): {}",
                            ex.cmd.join(" "),
                            out.trim()
                        ),
                    ));
                }
                if Instant::now() >= until {
                    break;
                }
            }
            let _ = writeln!(say, "  {name}: exercise passed ({runs} run(s))");
        }
    }
    Ok(())
}

/// `unshare -U true` inside the container must fail with EPERM (no learned set has
/// `unshare`). `Ok(false)` when the image has no `unshare` program to ask.
fn denied_inside(id: &str) -> Result<bool, String> {
    for argv in [
        vec!["docker", "exec", id, "unshare", "-U", "true"],
        vec!["docker", "exec", id, "busybox", "unshare", "-U", "true"],
        vec![
            "docker",
            "exec",
            id,
            "/app/busybox",
            "unshare",
            "-U",
            "true",
        ],
    ] {
        let (ok, out) = run(&argv, None);
        if out.contains("executable file not found")
            || out.contains("no such file or directory")
            || out.contains("applet not found")
        {
            continue;
        }
        if !ok && out.contains("Operation not permitted") {
            return Ok(true);
        }
        return Err(format!(
            "unshare(CLONE_NEWUSER) was not refused with EPERM: {}",
            out.trim()
        ));
    }
    Ok(false)
}

/// For an image without an `unshare` program (distroless): a one-off twin of the container —
/// the same image, user and seccomp profile, read back from the engine (`docker inspect`: the
/// profile the engine holds, inlined) — runs the host's static busybox, bind-mounted read-only,
/// as `unshare -U true`, which must fail with EPERM. `Ok(None)` when the host has no static
/// `/bin/busybox` or busybox itself cannot start under the profile (inconclusive).
fn denied_in_a_twin(id: &str, dir: &Path) -> Result<Option<bool>, String> {
    let busybox = Path::new("/bin/busybox");
    if !busybox.is_file() {
        return Ok(None);
    }
    let (ok, out) = run(&["docker", "inspect", id], None);
    if !ok {
        return Err(format!("docker inspect: {}", out.trim()));
    }
    let v: serde_json::Value = serde_json::from_str(&out).map_err(|e| e.to_string())?;
    let c = &v[0];
    let image = c["Image"].as_str().unwrap_or_default().to_string();
    let user = c["Config"]["User"].as_str().unwrap_or_default().to_string();
    let profile = c["HostConfig"]["SecurityOpt"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o.as_str()?.strip_prefix("seccomp="))
        .next()
        .map(str::to_string)
        .ok_or("the container has no seccomp profile")?;
    let file = dir.join(format!("twin-{}.json", &id[..12.min(id.len())]));
    std::fs::write(&file, profile).map_err(|e| e.to_string())?;
    let seccomp = format!("seccomp={}", file.display());
    // Named `busybox` inside: busybox takes its applet from argv[0] unless that is `busybox`.
    let mount = format!("{}:/.hardgen-probe/busybox:ro", busybox.display());
    let mut argv = vec![
        "docker",
        "run",
        "--rm",
        "--pull",
        "never",
        "--network",
        "none",
        "--read-only",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "--security-opt",
        seccomp.as_str(),
        "-v",
        mount.as_str(),
        "--entrypoint",
        "/.hardgen-probe/busybox",
    ];
    if !user.is_empty() {
        argv.extend(["--user", user.as_str()]);
    }
    argv.extend([image.as_str(), "unshare", "-U", "true"]);
    let (ok, out) = run(&argv, None);
    let _ = std::fs::remove_file(&file);
    if ok {
        return Err(format!(
            "unshare(CLONE_NEWUSER) succeeded in a twin of the container: {}",
            out.trim()
        ));
    }
    // busybox says `unshare: unshare(0x10000000): Operation not permitted`.
    Ok((out.contains("unshare(") && out.contains("Operation not permitted")).then_some(true))
}

fn engine_version() -> Result<String, String> {
    let (ok, out) = run(
        &["docker", "version", "--format", "{{.Server.Version}}"],
        None,
    );
    if ok {
        Ok(out.trim().to_string())
    } else {
        Err(format!("no Docker engine: {}", out.trim()))
    }
}

/// `hardgen learn SPEC`.
pub fn learn(
    spec_path: &Path,
    opts: &Options,
    stdout: &mut dyn Write,
    err: &mut dyn Write,
) -> Outcome {
    catch_interrupts();
    match learn_inner(spec_path, opts, stdout, err) {
        Ok(()) => Outcome::Ok,
        Err(_) if interrupted() => {
            let _ = writeln!(
                err,
                "error: {INTERRUPTED_MSG}: the learning stack was taken down; nothing was written"
            );
            Outcome::Failed
        }
        Err(msg) => {
            let _ = writeln!(err, "error: {msg}; nothing was written");
            Outcome::Failed
        }
    }
}

fn learn_inner(
    spec_path: &Path,
    opts: &Options,
    say: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), String> {
    let started = Instant::now();
    let Loaded {
        model,
        services,
        previous,
        exercises,
    } = load_opted_in(spec_path, opts, err)?;
    let arch = host_arch()?;
    let engine = engine_version()?;
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_err(|e| format!("cannot read the kernel release: {e}"))?
        .trim()
        .to_string();

    // The private copy of the deployment directory.
    let out = opts
        .out
        .clone()
        .unwrap_or_else(|| app::default_out(spec_path, Target::Compose));
    let dir = std::env::temp_dir().join(format!(
        "hardgen-learn-{}-{}",
        model.project.name,
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    if out.is_dir() {
        copy_tree(&out, &dir).map_err(|e| format!("cannot copy `{}`: {e}", out.display()))?;
    } else {
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    }
    let overrides = opts
        .overrides
        .iter()
        .map(|o| std::fs::canonicalize(o).map_err(|e| format!("{}: {e}", o.display())))
        .collect::<Result<Vec<_>, _>>()?;
    let mut stack = Stack {
        dir,
        project: project_name(&model),
        overrides,
        up: false,
    };

    // 1. Record under the baseline policies.
    let mut recording = model.clone();
    for s in recording.services.values_mut() {
        if services.contains(&s.name) {
            s.seccomp.preset = SeccompPreset::Baseline;
            s.seccomp.learned = None;
        }
    }
    stack.render(&recording, spec_path)?;
    if stack.dir.join("scripts/generate-secrets.sh").is_file() {
        let (ok, out) = run(&["sh", "scripts/generate-secrets.sh"], Some(&stack.dir));
        if !ok {
            return Err(format!("generate-secrets.sh failed: {}", out.trim()));
        }
    }
    let _ = writeln!(
        say,
        "hardgen learn: recording {} service(s) of `{}` on Engine {engine}, kernel {kernel}, {arch}",
        services.len(),
        model.project.name
    );
    let trace = Trace::start()?;
    if let Err(e) = stack.up() {
        return Err(format!("the recording stack did not come up healthy: {e}"));
    }
    let containers = stack.containers()?;
    exercise(&model, &services, &exercises, &containers, say)
        .map_err(|(s, why)| format!("service `{s}` (recording): {why}"))?;
    // One more round of automatic health checks under the trace is not needed: `up --wait`
    // waited for one, and each was run again above.
    let (entered, _) = trace.stop()?;
    stack.down();
    let learned = learned_sets(&services, &containers, &entered, &previous, arch, say)?;

    // 2. Verify under the learned profiles.
    let mut enforced = model.clone();
    super::attach(&mut enforced, &learned);
    stack.render(&enforced, spec_path)?;
    let trace = Trace::start()?;
    let verdict = (|| -> Result<(), (String, String)> {
        stack.up().map_err(|e| {
            (
                "(stack)".to_string(),
                format!("did not come up healthy: {e}"),
            )
        })?;
        let containers = stack.containers().map_err(|e| ("(stack)".to_string(), e))?;
        exercise(&model, &services, &exercises, &containers, say)?;
        for name in &services {
            let id = &containers[name].0;
            match denied_inside(id) {
                Ok(true) => {
                    let _ = writeln!(say, "  {name}: unshare refused with EPERM inside");
                }
                Ok(false) => match denied_in_a_twin(id, &stack.dir) {
                    Ok(Some(_)) => {
                        let _ = writeln!(
                            say,
                            "  {name}: no `unshare` program in the image; refused with EPERM \
                             in a twin (same image, user and profile, the host's busybox)"
                        );
                    }
                    Ok(None) => {
                        let _ = writeln!(
                            say,
                            "  {name}: no `unshare` program in the image and no twin probe \
                             (no static /bin/busybox, or it cannot start under the profile): \
                             EPERM not probed"
                        );
                    }
                    Err(e) => return Err((name.clone(), e)),
                },
                Err(e) => return Err((name.clone(), e)),
            }
        }
        Ok(())
    })();
    let containers = stack.containers().unwrap_or_default();
    let (_, failed) = trace.stop()?;
    stack.down();
    if let Err((service, why)) = verdict {
        let refused = refused_summary(&model, &services, &learned, &containers, &failed, arch);
        return Err(format!(
            "verification under the learned profiles failed: service `{service}`: {why}{refused}"
        ));
    }

    // 3. Pin (not when interrupted meanwhile: the user asked to stop).
    if interrupted() {
        return Err(INTERRUPTED_MSG.to_string());
    }
    pin(
        spec_path,
        opts,
        &model,
        &learned,
        LearnedOn {
            arch: arch.name().to_string(),
            engine,
            kernel,
        },
        say,
    )?;
    let _ = writeln!(
        say,
        "hardgen learn: verified and pinned in {} s",
        started.elapsed().as_secs()
    );
    Ok(())
}

/// The spec's model and what `learn` needs of it.
struct Loaded {
    model: Model,
    /// The services that opt in (`seccomp = "learned"`).
    services: BTreeSet<String>,
    /// Their learned sets so far (empty with `--fresh`).
    previous: BTreeMap<String, BTreeSet<String>>,
    exercises: BTreeMap<String, super::Exercise>,
}

/// Reads and validates the spec; every problem but a missing learned file (what `learn` is
/// here for) is reported, and stops it.
fn load_opted_in(spec_path: &Path, opts: &Options, err: &mut dyn Write) -> Result<Loaded, String> {
    let src = app::read_spec(spec_path, err).ok_or("the spec cannot be read")?;
    let mut raw = crate::spec::parse(&src.text).map_err(|e| {
        format!(
            "`{}` is not a valid spec: {}",
            spec_path.display(),
            e.message()
        )
    })?;
    // Every other problem of the spec first (a missing learned file is what we are here for).
    let (previous, diags) = super::load(&raw, &Source::Dir(Layout::spec_dir_of(spec_path)));
    let origin = spec_path.display().to_string();
    let mut failed = false;
    for d in diags
        .iter()
        .filter(|d| d.code != "E060" && !(opts.fresh && d.code == "E061"))
    {
        let _ = write!(err, "{}", d.render(&origin, &src.text));
        failed = true;
    }
    let name = spec_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "spec".into());
    let vopts = crate::validate::Options {
        strict: false,
        spec_dir: Some(Layout::spec_dir_of(spec_path)),
    };
    let (model, vdiags) = crate::validate::validate(&mut raw, &name, &vopts);
    for d in vdiags.iter().filter(|d| d.is_error()) {
        let _ = write!(err, "{}", d.render(&origin, &src.text));
    }
    let Some(model) = model.filter(|_| !failed) else {
        return Err(format!("`{origin}` is invalid"));
    };
    let services: BTreeSet<String> = model
        .services
        .values()
        .filter(|s| s.seccomp.preset == SeccompPreset::Learned)
        .map(|s| s.name.clone())
        .collect();
    if services.is_empty() {
        return Err(format!(
            "no service of `{origin}` opts in: set `seccomp = \"learned\"` on a service or in `[defaults]`"
        ));
    }
    let previous = if opts.fresh {
        BTreeMap::new()
    } else {
        previous
    };
    let exercises = super::exercises(&raw);
    Ok(Loaded {
        model,
        services,
        previous,
        exercises,
    })
}

/// Each opted-in service's recorded syscall names (from the trace, by the container's host
/// name), merged with its previous learned set.
fn learned_sets(
    services: &BTreeSet<String>,
    containers: &BTreeMap<String, (String, String)>,
    entered: &Counts,
    previous: &BTreeMap<String, BTreeSet<String>>,
    arch: Arch,
    say: &mut dyn Write,
) -> Result<BTreeMap<String, BTreeSet<String>>, String> {
    let mut learned: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for name in services {
        let host = &containers
            .get(name)
            .ok_or_else(|| format!("service `{name}`: no container"))?
            .1;
        let numbers = entered
            .get(host)
            .ok_or_else(|| format!("service `{name}`: no syscall was recorded"))?;
        let mut set: BTreeSet<String> = numbers
            .iter()
            .filter_map(|nr| seccomp::syscall_name(arch, *nr))
            .map(str::to_string)
            .collect();
        let recorded = set.len();
        if let Some(prev) = previous.get(name) {
            set.extend(prev.iter().cloned());
        }
        let _ = writeln!(
            say,
            "  {name}: {recorded} syscalls recorded, {} with the previous set",
            set.len()
        );
        learned.insert(name.clone(), set);
    }
    Ok(learned)
}

/// What the learned profiles refused each service during verification (from the trace's
/// failed syscalls), as " (service `x` was refused a, b; ...)", or nothing.
fn refused_summary(
    model: &Model,
    services: &BTreeSet<String>,
    learned: &BTreeMap<String, BTreeSet<String>>,
    containers: &BTreeMap<String, (String, String)>,
    failed: &Counts,
    arch: Arch,
) -> String {
    let mut refused = Vec::new();
    for name in services {
        let Some((_, host)) = containers.get(name) else {
            continue;
        };
        let allowed = super::profile_names(
            &learned[name],
            model.services[name].init,
            model.services[name].no_new_privileges,
        );
        let names: BTreeSet<&str> = failed
            .get(host)
            .into_iter()
            .flatten()
            .filter_map(|nr| seccomp::syscall_name(arch, *nr))
            .filter(|n| !allowed.contains(*n) && *n != "clone3" && *n != "unshare")
            .collect();
        if !names.is_empty() {
            refused.push(format!(
                "service `{name}` was refused {}",
                names.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    if refused.is_empty() {
        String::new()
    } else {
        format!(" ({})", refused.join("; "))
    }
}

/// Writes each service's learned file next to the spec, keeping the engines, kernels and
/// architectures of earlier runs unless `--fresh`.
fn pin(
    spec_path: &Path,
    opts: &Options,
    model: &Model,
    learned: &BTreeMap<String, BTreeSet<String>>,
    on: LearnedOn,
    say: &mut dyn Write,
) -> Result<(), String> {
    let spec_dir = Layout::spec_dir_of(spec_path);
    let learned_dir = spec_dir.join("seccomp/learned");
    std::fs::create_dir_all(&learned_dir)
        .map_err(|e| format!("cannot create `{}`: {e}", learned_dir.display()))?;
    for (name, set) in learned {
        let path = spec_dir.join(super::relative_path(name));
        let mut runs: BTreeSet<LearnedOn> = BTreeSet::new();
        if !opts.fresh {
            if let Some(old) = std::fs::read_to_string(&path)
                .ok()
                .and_then(|t| LearnedFile::parse(&t, name).ok())
            {
                runs.extend(old.learned_on);
            }
        }
        runs.insert(on.clone());
        let file = LearnedFile::new(name, runs, set.clone());
        std::fs::write(&path, file.to_json())
            .map_err(|e| format!("cannot write `{}`: {e}", path.display()))?;
        let size = super::profile_names(
            set,
            model.services[name].init,
            model.services[name].no_new_privileges,
        )
        .len();
        let _ = writeln!(
            say,
            "wrote {} ({} learned, profile {size} syscalls = {}% of Docker's default)",
            super::relative_path(name),
            set.len(),
            super::percent_of_docker_default(size)
        );
    }
    Ok(())
}

#[cfg(test)]
mod interrupt_tests {
    use super::*;

    /// The cleanup path of an interrupted `learn`: SIGTERM (and SIGINT, the same handler) only
    /// sets the flag — the process lives on; a running command is then killed and reported
    /// as interrupted, further commands do not start, and the teardown's commands still run
    /// to their end. One test, because the flag is process-wide.
    #[test]
    fn an_interrupt_stops_the_step_but_not_the_teardown() {
        catch_interrupts();
        assert!(!interrupted());
        // SAFETY: raising a signal whose handler was installed above.
        assert_eq!(unsafe { libc::raise(libc::SIGTERM) }, 0);
        assert!(
            interrupted(),
            "the handler set the flag (and the process is alive)"
        );
        INTERRUPTED.store(false, Ordering::SeqCst);

        let setter = std::thread::spawn(|| {
            std::thread::sleep(Duration::from_millis(300));
            // SAFETY: as above.
            unsafe { libc::raise(libc::SIGINT) };
        });
        let t0 = Instant::now();
        let (ok, out) = run(&["sleep", "60"], None);
        setter.join().unwrap();
        assert!(!ok && out == INTERRUPTED_MSG, "{ok} {out}");
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the command was killed"
        );

        let (ok, out) = run(&["true"], None);
        assert!(!ok && out == INTERRUPTED_MSG, "no new step starts: {out}");
        let (ok, out) = run_with(&["sh", "-c", "sleep 0.2; echo down"], None, false);
        assert!(ok && out.trim() == "down", "the teardown runs: {out}");
        INTERRUPTED.store(false, Ordering::SeqCst);
    }
}
