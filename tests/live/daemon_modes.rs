//! Each target's `daemon.json` is accepted by a Docker daemon in that target's mode.
//!
//! dockerd refuses swarm mode while `live-restore` is on ("--live-restore daemon configuration
//! is incompatible with swarm mode"): a swarm user handed a file with it would drop the whole
//! file, and with it the daemon-wide `no-new-privileges`. So every distinct `daemon.json` the
//! examples and the live specs generate is loaded, as written, into a throw-away dockerd (the
//! engine under test, its own roots and socket, in its own network namespace: see host.rs),
//! and the settings are read back from `docker info`. The swarm target's file must let
//! `docker swarm init` succeed; the compose target's file (which keeps `live-restore`, CIS
//! 2.15) must make it fail with dockerd's own reason — the control that shows this test
//! would catch a swarm file that kept it.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::Instant;

use serde_json::Value;

use super::host::TestDaemon;
use super::{hardgen_build, must, root};

/// The specs whose `daemon.json` is proven: every example and the live suite's own specs
/// (these add a syslog log driver).
fn specs() -> Vec<String> {
    let mut specs: Vec<String> = fs::read_dir(root().join("examples"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| format!("examples/{}", p.file_name().unwrap().to_string_lossy()))
        .collect();
    specs.extend(
        ["basic", "syslog", "swarm"]
            .iter()
            .map(|s| format!("tests/live/{s}.toml")),
    );
    specs.sort();
    specs
}

/// `daemon.json` of SPEC built for TARGET.
fn daemon_json(spec: &str, target: &str, out: &Path) -> String {
    hardgen_build(
        &root(),
        &[spec, "--target", target, "--out", out.to_str().unwrap()],
    );
    fs::read_to_string(out.join("daemon.json"))
        .unwrap_or_else(|e| panic!("{spec} --target {target}: no daemon.json: {e}"))
}

#[test]
#[ignore = "needs root and a Docker engine (a second dockerd is started): run scripts/test.sh as root"]
fn every_targets_daemon_json_is_accepted_in_its_mode() {
    let _guard = super::live();
    let t_start = Instant::now();
    let tmp = tempfile::Builder::new()
        .prefix("hardgen-live-daemon-")
        .tempdir()
        .unwrap();

    // (target, file content) -> the specs that generate it.
    let mut files: BTreeMap<(&str, String), Vec<String>> = BTreeMap::new();
    for target in ["compose", "swarm"] {
        for spec in specs() {
            let out = tmp
                .path()
                .join("out")
                .join(target)
                .join(spec.replace('/', "_"));
            let text = daemon_json(&spec, target, &out);
            files.entry((target, text)).or_default().push(spec);
        }
    }
    assert!(
        files.keys().any(|(t, _)| *t == "swarm") && files.keys().any(|(t, _)| *t == "compose"),
        "no daemon.json for one of the targets"
    );

    let mut proven = 0;
    for (n, ((target, text), specs)) in files.iter().enumerate() {
        let who = format!("{target} daemon.json of {}", specs.join(", "));
        let file: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{who}: {e}"));
        let dir = tmp.path().join(format!("daemon-{n}"));
        fs::create_dir_all(&dir).unwrap();
        let config = dir.join("daemon.json");
        fs::write(&config, text).unwrap();
        // Starting at all is the first proof: dockerd exits on a setting it does not accept.
        let d = TestDaemon::start(&dir, &config, &[]);
        let info = d.info();
        assert_eq!(
            info["LiveRestoreEnabled"].as_bool(),
            Some(file["live-restore"].as_bool().unwrap_or(false)),
            "{who}: live-restore in force"
        );
        assert_eq!(
            info["LoggingDriver"], file["log-driver"],
            "{who}: the default log driver in force"
        );
        let init = d.docker(
            60,
            &[
                "swarm",
                "init",
                "--advertise-addr",
                "127.0.0.1",
                "--listen-addr",
                "127.0.0.1:2377",
            ],
        );
        match *target {
            "swarm" => {
                assert!(init.ok(), "{who}: docker swarm init refused\n{init}");
                let state = must(
                    d.docker(30, &["info", "--format", "{{.Swarm.LocalNodeState}}"]),
                    "docker info",
                );
                assert_eq!(state.stdout.trim(), "active", "{who}: swarm state");
                must(d.docker(60, &["swarm", "leave", "--force"]), "swarm leave");
            }
            _ => {
                // The control: the same daemon with live-restore on refuses swarm mode.
                assert!(
                    !init.ok() && init.stderr.contains("live-restore"),
                    "{who}: swarm init was expected to fail on live-restore\n{init}"
                );
            }
        }
        drop(d);
        println!("ok   {who}: accepted by dockerd; swarm init as expected for the target");
        proven += 1;
    }
    println!(
        "every_targets_daemon_json_is_accepted_in_its_mode: {proven} files in {:.1?}",
        t_start.elapsed()
    );
}
