//! `hardgen learn` on the Luna and Arkalia examples (stand-in images, as their own live
//! tests): every service opts in (`defaults.seccomp = "learned"`) and repeats its health check
//! as its exercise; `hardgen learn --fresh` records, verifies under the learned profiles and
//! pins `seccomp/learned/<service>.json`; the test then checks the files (header, sorted,
//! size against Docker's default), builds the deployment from them and brings it up itself:
//! every service healthy under its own learned profile (Seccomp 2, the profile inlined by the
//! engine is the learned one), and a syscall the stand-in used at start but that the profile
//! lacks is refused.

use super::arkalia::{inlined_seccomp, sandozia_nofile_override, ARKALIA_STAND_INS};
use super::examples::prepare_example;
use super::luna::STAND_INS;
use super::*;

/// A spec opting every service in (the default, and each service that names its own preset),
/// each repeating its health check for a few seconds as its
/// exercise (the stand-ins' work is answering their health checks).
fn learning_spec(spec: &Path) {
    let text = fs::read_to_string(spec).expect("read the spec");
    let mut t: toml::Table = toml::from_str(&text).expect("TOML");
    t.entry("defaults")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        .as_table_mut()
        .expect("defaults")
        .insert("seccomp".into(), toml::Value::String("learned".into()));
    for (_, svc) in t["services"].as_table_mut().expect("services").iter_mut() {
        let svc = svc.as_table_mut().expect("service");
        // A service's own preset (zeroia's `strict`) would win over the default.
        if svc.contains_key("seccomp") {
            svc.insert("seccomp".into(), toml::Value::String("learned".into()));
        }
        let cmd = svc.get("healthcheck").and_then(|h| h.get("cmd")).cloned();
        if let Some(cmd) = cmd {
            let mut ex = toml::Table::new();
            ex.insert("cmd".into(), cmd);
            ex.insert("duration".into(), toml::Value::String("3s".into()));
            svc.insert("exercise".into(), toml::Value::Table(ex));
        }
    }
    fs::write(spec, toml::to_string(&t).expect("serialise")).expect("write the spec");
}

fn hardgen_in(dir: &Path, secs: u64, args: &[&str]) -> Out {
    let bin = env!("CARGO_BIN_EXE_hardgen");
    let mut argv = vec![bin];
    argv.extend(args);
    run_in(Some(dir), secs, &argv)
}

/// One service's row of the measured table: (service, learned names, names its enforced
/// profile allows, healthy under it in the test's own start).
pub(super) type Row = (String, usize, usize, bool);

/// Learn, pin and verify one example; the per-service table goes to the test's output and is
/// returned (empty when `hardgen learn` failed).
pub(super) fn learn_example(
    c: &mut Checks,
    d: &mut Deployment,
    example: &str,
    services: &[&str],
    overrides: &[&str],
) -> Vec<Row> {
    let mut rows = Vec::new();
    let spec = d.path().join(format!("{example}.toml"));
    learning_spec(&spec);
    // The examples' health checks run every 30 s and `up --wait` waits for each: checked every
    // 3 s instead, for learn's two starts and the test's own.
    let mut overrides = overrides.to_vec();
    overrides.push(d.fast_health(services));
    let spec_s = spec.to_str().unwrap().to_string();
    let out = d.path().to_str().unwrap().to_string();
    let mut args = vec!["learn", spec_s.as_str(), "--out", out.as_str(), "--fresh"];
    for o in &overrides {
        args.extend(["--override", o]);
    }
    let t0 = Instant::now();
    let o = hardgen_in(d.path(), 900, &args);
    println!("{o}");
    c.check(
        example,
        "hardgen learn records, verifies and pins (exit 0)",
        o.ok(),
        || o.to_string(),
    );
    if !o.ok() {
        return rows;
    }
    println!("{example}: hardgen learn took {} s", t0.elapsed().as_secs());
    let engine = run(
        30,
        &["docker", "version", "--format", "{{.Server.Version}}"],
    );
    let docker_default = 361.0;
    for s in services {
        let path = d.path().join(format!("seccomp/learned/{s}.json"));
        let text = fs::read_to_string(&path).unwrap_or_default();
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let names: Vec<&str> = array_str(&v["syscalls"]);
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        c.check(
            s,
            "learned file: format 1, its service, sorted, engine in the header",
            v["format_version"] == 1
                && v["service"] == *s
                && names == sorted
                && !names.is_empty()
                && v["learned_on"][0]["engine"].as_str() == Some(engine.stdout.trim()),
            || text.clone(),
        );
        c.check(
            s,
            "learned set holds nothing the baseline forbids",
            !names
                .iter()
                .any(|n| ["mount", "unshare", "setns", "ptrace", "bpf", "pivot_root"].contains(n)),
            || text.clone(),
        );
    }
    // The deployment built from the learned files, brought up by the test itself.
    let o = hardgen_in(d.path(), 120, &["check", spec_s.as_str()]);
    c.check(
        example,
        "hardgen check accepts the pinned files",
        o.ok(),
        || o.to_string(),
    );
    let o = hardgen_in(
        d.path(),
        120,
        &["build", spec_s.as_str(), "--out", out.as_str()],
    );
    c.check(example, "hardgen build renders them", o.ok(), || {
        o.to_string()
    });
    let report = fs::read_to_string(d.path().join("compliance.md")).unwrap_or_default();
    if d.path().join("scripts/generate-secrets.sh").exists() {
        let o = d.script(60, "generate-secrets.sh", &[]);
        assert!(o.ok(), "generate-secrets.sh failed\n{o}");
    }
    d.up();
    for s in services {
        let id = d.container(s);
        let v = inspect(&id);
        // Services whose learned profiles render the same share one file, named after the
        // first of them: the label says which.
        let label = v["Config"]["Labels"]["io.hardgen.seccomp"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let profile = d.path().join(format!("seccomp/{label}.json"));
        let p: Value = serde_json::from_str(&fs::read_to_string(&profile).unwrap_or_default())
            .unwrap_or(Value::Null);
        let mut allowed: BTreeSet<String> = BTreeSet::new();
        for rule in p["syscalls"].as_array().into_iter().flatten() {
            if rule["action"] == "SCMP_ACT_ALLOW" {
                allowed.extend(array_str(&rule["names"]).into_iter().map(String::from));
            }
        }
        let ratio = allowed.len() as f64 / docker_default * 100.0;
        println!(
            "learned: {example} {s}: profile {} syscalls, {ratio:.0}% of Docker's default",
            allowed.len()
        );
        c.check(
            s,
            "profile at most 40% of Docker's default always-allowed set",
            ratio <= 40.0,
            || format!("{} syscalls", allowed.len()),
        );
        c.check(
            s,
            "compliance.md sizes the learned profile",
            report.contains(&format!("learned profile: {} syscalls", allowed.len())),
            || report.clone(),
        );
        let inlined = inlined_seccomp(&v).unwrap_or(Value::Null);
        let healthy = label.starts_with("learned-")
            && v["State"]["Health"]["Status"] == "healthy"
            && inlined["defaultAction"] == "SCMP_ACT_ERRNO"
            && inlined == p;
        c.check(
            s,
            "healthy under its learned profile (the engine holds that profile)",
            healthy,
            || format!("{}\n{inlined}", v["State"]),
        );
        let learned = fs::read_to_string(d.path().join(format!("seccomp/learned/{s}.json")))
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .map(|v| array_str(&v["syscalls"]).len())
            .unwrap_or(0);
        rows.push((s.to_string(), learned, allowed.len(), healthy));
        let pid = v["State"]["Pid"].as_u64().unwrap_or(0) as u32;
        c.check(
            s,
            "Seccomp 2 (filter) in PID 1",
            proc_status(pid).get("Seccomp").map(String::as_str) == Some("2"),
            || format!("{:?}", proc_status(pid)),
        );
    }
    rows
}

/// Luna and Arkalia learned, pinned and verified (about 3 minutes per engine).
#[test]
#[ignore = "needs root, a Docker engine and bpftrace: run scripts/test.sh as root"]
fn learn_pins_and_verifies_luna_and_arkalia() {
    let _engine = live();
    let test = "live learn";
    let t0 = Instant::now();
    let mut t = Phases::new();
    let mut c = Checks::default();

    for example in ["luna", "arkalia"] {
        let (_spec_dir, mut d, services, overrides) = prepare_stack(example, &|_| {});
        t.mark(&format!("{example} stand-ins"));
        let services: Vec<&str> = services.iter().map(String::as_str).collect();
        let overrides: Vec<&str> = overrides.iter().map(String::as_str).collect();
        learn_example(&mut c, &mut d, example, &services, &overrides);
        t.mark(&format!("{example} learn+verify"));
    }
    t.print(test);
    c.finish(test, t0);
}

/// Ctrl-C during `hardgen learn` (SIGINT to hardgen, as the terminal sends it to the
/// foreground job; SIGTERM takes the same path): once the learning stack's container runs,
/// hardgen is interrupted; it must exit with an error naming the interrupt, leave no
/// container, network or volume of the `<project>-learn` compose project behind, and write
/// no learned file. About 20 s.
#[test]
#[ignore = "needs root, a Docker engine and bpftrace: run scripts/test.sh as root"]
fn learn_interrupted_takes_its_stack_down() {
    let _engine = live();
    let t0 = Instant::now();
    let mut c = Checks::default();
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("int.toml");
    fs::write(
        &spec,
        format!(
            r#"[project]
name = "hglearnint"
subnet_pool = "10.236.0.0/16"

[zones.app]
description = "one zone"

[services.sleeper]
description = "busybox sleeping, learned"
image = "{BUSYBOX_IMAGE}"
command = ["sleep", "600"]
zones = ["app"]
seccomp = "learned"
healthcheck = {{ cmd = ["true"], interval = "2s" }}
"#
        ),
    )
    .unwrap();
    let project = "hglearnint-learn";
    let label = format!("label=com.docker.compose.project={project}");
    let leftovers = || {
        let mut all = String::new();
        for kind in ["container", "network", "volume"] {
            let mut argv = vec!["docker", kind, "ls", "--quiet", "--filter", &label];
            if kind == "container" {
                argv.insert(3, "--all");
            }
            all.push_str(&run(30, &argv).stdout);
        }
        all.trim().to_string()
    };
    assert!(
        leftovers().is_empty(),
        "leftovers of an earlier run: {}",
        leftovers()
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_hardgen"))
        .args(["learn", spec.to_str().unwrap(), "--fresh"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hardgen learn");
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut running = false;
    while Instant::now() < deadline && !running {
        std::thread::sleep(Duration::from_millis(250));
        if child.try_wait().unwrap().is_some() {
            break;
        }
        running = !run(30, &["docker", "ps", "--quiet", "--filter", &label])
            .stdout
            .trim()
            .is_empty();
    }
    c.check("learn", "the learning stack came up", running, || {
        "no container of hglearnint-learn within 180 s".into()
    });
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    c.check(
        "learn",
        "exits with an error naming the interrupt",
        !out.status.success() && stderr.contains("interrupted"),
        || format!("{}\n{stderr}", out.status),
    );
    let left = leftovers();
    c.check(
        "learn",
        "no container, network or volume of the learning project left",
        left.is_empty(),
        || left.clone(),
    );
    c.check(
        "learn",
        "no learned file written",
        !dir.path().join("seccomp/learned/sleeper.json").exists(),
        || "seccomp/learned/sleeper.json exists".into(),
    );
    if !left.is_empty() {
        let _ = run_in(
            Some(dir.path()),
            120,
            &[
                "docker",
                "compose",
                "-p",
                project,
                "down",
                "-v",
                "--timeout",
                "1",
            ],
        );
    }
    c.finish("live learn interrupted", t0);
}

/// The example generated (its spec edited by `tweak` first) and ready to start, with its
/// services and the overrides `hardgen learn` needs for this host.
pub(super) fn prepare_stack(
    example: &str,
    tweak: &dyn Fn(&mut toml::Table),
) -> (Vec<tempfile::TempDir>, Deployment, Vec<String>, Vec<String>) {
    let edit = |path: &str| {
        let mut t: toml::Table = toml::from_str(&fs::read_to_string(path).unwrap()).unwrap();
        tweak(&mut t);
        fs::write(path, toml::to_string(&t).unwrap()).unwrap();
        t["services"]
            .as_table()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<String>>()
    };
    match example {
        "luna" => {
            let (dir, spec) = with_stand_in_programs("examples/luna.toml");
            let services = edit(&spec);
            let mut d = Deployment::generate(&spec, "luna");
            build_stand_ins(&mut d, STAND_INS);
            copy_tree(
                &root().join("tests/live/luna-app"),
                &d.path().join("src/luna-consciousness"),
            );
            fs::create_dir_all(d.path().join("config")).unwrap();
            fs::copy(
                root().join("tests/live/luna-prometheus.yml"),
                d.path().join("config/prometheus.yml"),
            )
            .unwrap();
            (vec![dir], d, services, Vec::new())
        }
        "arkalia" => {
            let (dir, spec) = with_stand_in_programs("examples/arkalia.toml");
            let services = edit(&spec);
            let mut d = Deployment::generate(&spec, "arkalia");
            build_stand_ins(&mut d, ARKALIA_STAND_INS);
            copy_tree(&root().join("tests/live/arkalia-app"), d.path());
            let overrides = sandozia_nofile_override(&mut d)
                .map(|(file, _)| vec![file.to_string()])
                .unwrap_or_default();
            (vec![dir], d, services, overrides)
        }
        _ => {
            let (spec, dir, d) = prepare_example(example, tweak);
            let services = spec.services.keys().cloned().collect();
            (vec![dir], d, services, Vec::new())
        }
    }
}
