//! Measurements over every example, run by `scripts/learn-examples.sh` one example at a time
//! (it holds the live lock for one stack, not for the whole run), not by CI: `scripts/test.sh`
//! skips `measure::`. Each test reads the example from `HARDGEN_MEASURE_EXAMPLE` and writes
//! what it measured under `HARDGEN_MEASURE_OUT/<engine>/<example>/` (default
//! `/tmp/hardgen-measure`):
//!
//! - `learn_one_example`: `hardgen learn` on every service of the example (as `learn.rs` does
//!   for Luna and Arkalia), the pinned `seccomp/learned/<service>.json` copied there and one
//!   line per service in `learned.tsv` (service, learned names, enforced profile size, ratio
//!   to Docker's default, healthy under it, learn's verification passed).
//! - `strict_one_example`: every service forced to `seccomp = "strict"`, the stack brought up,
//!   and per service in `strict.tsv`: started, healthy, its health check repeated for 3 s as
//!   its exercise, and the engine holding the strict profile (Seccomp 2 in PID 1).

use super::learn::{learn_example, prepare_stack as prepare};
use super::*;

fn example() -> String {
    std::env::var("HARDGEN_MEASURE_EXAMPLE")
        .expect("HARDGEN_MEASURE_EXAMPLE names the example: run scripts/learn-examples.sh")
}

fn out_dir(example: &str) -> PathBuf {
    let base = std::env::var("HARDGEN_MEASURE_OUT").unwrap_or("/tmp/hardgen-measure".into());
    let dir = Path::new(&base)
        .join(Engine::running().name())
        .join(example);
    fs::create_dir_all(&dir).expect("the measurement directory");
    dir
}

#[test]
#[ignore = "a measurement: run by scripts/learn-examples.sh (needs HARDGEN_MEASURE_EXAMPLE)"]
fn learn_one_example() {
    let _engine = live();
    let example = example();
    let test = format!("measure learn {example}");
    let t0 = Instant::now();
    let mut c = Checks::default();
    let (_dirs, mut d, services, overrides) = prepare(&example, &|_| {});
    let services: Vec<&str> = services.iter().map(String::as_str).collect();
    let overrides: Vec<&str> = overrides.iter().map(String::as_str).collect();
    let rows = learn_example(&mut c, &mut d, &example, &services, &overrides);
    let out = out_dir(&example);
    let learn_ok = !rows.is_empty();
    let mut tsv = String::new();
    for (s, learned, allowed, healthy) in &rows {
        let ratio = *allowed as f64 / 361.0 * 100.0;
        tsv.push_str(&format!(
            "{s}\t{learned}\t{allowed}\t{ratio:.0}\t{healthy}\t{learn_ok}\n"
        ));
        let from = d.path().join(format!("seccomp/learned/{s}.json"));
        let _ = fs::copy(&from, out.join(format!("{s}.json")));
    }
    fs::write(out.join("learned.tsv"), tsv).unwrap();
    println!("{example}: measured in {} s", t0.elapsed().as_secs());
    c.finish(&test, t0);
}

#[test]
#[ignore = "a measurement: run by scripts/learn-examples.sh (needs HARDGEN_MEASURE_EXAMPLE)"]
fn strict_one_example() {
    let _engine = live();
    let example = example();
    let test = format!("measure strict {example}");
    let t0 = Instant::now();
    let mut c = Checks::default();
    let force_strict = |t: &mut toml::Table| {
        t.entry("defaults")
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .unwrap()
            .insert("seccomp".into(), "strict".into());
        for (_, svc) in t["services"].as_table_mut().unwrap().iter_mut() {
            let svc = svc.as_table_mut().unwrap();
            if svc.contains_key("seccomp") {
                svc.insert("seccomp".into(), "strict".into());
            }
        }
    };
    let (_dirs, mut d, services, _) = prepare(&example, &force_strict);
    d.fast_health(&services);
    if d.path().join("scripts/generate-secrets.sh").exists() {
        let o = d.script(60, "generate-secrets.sh", &[]);
        assert!(o.ok(), "generate-secrets.sh failed\n{o}");
    }
    let up = d.compose_run(
        600,
        &[
            "up",
            "--detach",
            "--wait",
            "--wait-timeout",
            "180",
            "--pull",
            "never",
        ],
    );
    c.check(&example, "up --wait under strict", up.ok(), || {
        let ps = d.compose_run(30, &["ps", "--all"]);
        let logs = d.compose_run(30, &["logs", "--no-color", "--tail", "20"]);
        format!("{up}\n{ps}\n{logs}")
    });
    let compose: serde_yaml::Value =
        serde_yaml::from_str(&fs::read_to_string(d.path().join("docker-compose.yml")).unwrap())
            .unwrap();
    let mut tsv = String::new();
    for s in &services {
        let ps = run(
            30,
            &[
                "docker",
                "ps",
                "--all",
                "--quiet",
                "--no-trunc",
                "--filter",
                &format!("label=com.docker.compose.project={}", d.project),
                "--filter",
                &format!("label=com.docker.compose.service={s}"),
            ],
        );
        let id = ps.stdout.lines().next().unwrap_or("").trim().to_string();
        let v = if id.is_empty() {
            Value::Null
        } else {
            inspect(&id)
        };
        let label = v["Config"]["Labels"]["io.hardgen.seccomp"]
            .as_str()
            .unwrap_or("");
        let pid = v["State"]["Pid"].as_u64().unwrap_or(0) as u32;
        let strict = label == "strict"
            && pid > 0
            && proc_status(pid).get("Seccomp").map(String::as_str) == Some("2");
        let started = v["State"]["Running"] == true;
        let has_health = compose["services"][s.as_str()].get("healthcheck").is_some();
        let healthy = !has_health || v["State"]["Health"]["Status"] == "healthy";
        // The exercise: the health check, repeated for 3 s (as learn.rs declares it).
        let cmd: Vec<String> = compose["services"][s.as_str()]["healthcheck"]["test"]
            .as_sequence()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let mut exercise = if !started {
            "n/a".to_string()
        } else if cmd.is_empty() {
            "no health check".to_string()
        } else {
            "pass".to_string()
        };
        if started && !cmd.is_empty() {
            let mut argv = vec!["docker".to_string(), "exec".into(), id.clone()];
            let rest = match cmd[0].as_str() {
                "CMD" => cmd[1..].to_vec(),
                "CMD-SHELL" => vec!["/bin/sh".into(), "-c".into(), cmd[1..].join(" ")],
                _ => cmd.clone(),
            };
            argv.extend(rest);
            let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            let until = Instant::now() + Duration::from_secs(3);
            loop {
                let o = run(30, &argv);
                if !o.ok() {
                    exercise = format!("FAIL: {}", o.stderr.trim().replace('\n', " "));
                    break;
                }
                if Instant::now() >= until {
                    break;
                }
            }
        }
        println!(
            "strict: {example} {s}: profile {label}, started {started}, healthy {healthy}, exercise {exercise}"
        );
        c.check(
            s,
            "runs under the strict profile (Seccomp 2)",
            strict,
            || format!("label {label}, {}", v["State"]),
        );
        c.check(
            s,
            "started and healthy under strict",
            started && healthy,
            || v["State"].to_string(),
        );
        c.check(
            s,
            "health check repeated 3 s under strict",
            exercise == "pass" || exercise == "no health check",
            || exercise.clone(),
        );
        tsv.push_str(&format!(
            "{s}\t{started}\t{healthy}\t{exercise}\t{strict}\n"
        ));
    }
    fs::write(out_dir(&example).join("strict.tsv"), tsv).unwrap();
    println!("{example}: measured in {} s", t0.elapsed().as_secs());
    c.finish(&test, t0);
}
