//! `hardgen import` then `hardgen build` on stacks of the compose corpus (tests/compose/):
//! the original compose file and the hardened deployment are both started with generic
//! stand-ins of the images they name (`tests/live/stand-ins/generic/`), and the hardened one
//! must come up healthy wherever the original did, with every dependency reachable.

use super::*;

/// Stand-ins of the images the imported stacks name: (image, UID, GID, port, data directory).
const IMPORT_STAND_INS: &[(&str, u32, u32, u16, &str)] = &[
    ("wordpress:6.6.1-apache", 33, 33, 80, "/var/www/html"),
    ("mysql:8.0.39", 999, 999, 3306, "/var/lib/mysql"),
    ("nextcloud:29.0.4-apache", 33, 33, 80, "/var/www/html"),
    (
        "postgres:16.4-bookworm",
        999,
        999,
        5432,
        "/var/lib/postgresql/data",
    ),
    ("redis:7.2.5-bookworm", 999, 999, 6379, "/data"),
    (
        "gitea/gitea:1.22.1-rootless",
        1000,
        1000,
        3000,
        "/var/lib/gitea",
    ),
    ("mariadb:11.4.2", 999, 999, 3306, "/var/lib/mysql"),
    ("adminer:4.8.1", 1000, 1000, 8080, "/nonexistent"),
    ("prom/prometheus:v2.53.0", 65534, 65534, 9090, "/prometheus"),
    ("grafana/grafana:11.1.0", 472, 472, 3000, "/var/lib/grafana"),
    (
        "prom/node-exporter:v1.8.2",
        65534,
        65534,
        9100,
        "/nonexistent",
    ),
];

/// The corpus stacks started live (the most varied of those built from images only: a
/// segmented network with an internal zone and a compose secret, a docker-socket-free
/// monitoring stack with host mounts and a bind-mounted configuration, depends_on with
/// conditions, credentials in the environment). Five, the minimum: each takes about a
/// minute, most of it the first health-check interval.
const IMPORT_LIVE: &[&str] = &[
    "wordpress-mysql",
    "nextcloud",
    "gitea-postgres",
    "adminer-mariadb",
    "monitoring",
];

/// One corpus stack, started as written and as imported and built; both brought down (with
/// their volumes) on drop.
struct ImportedStack {
    name: String,
    dir: tempfile::TempDir,
    compose: Vec<String>,
}

impl ImportedStack {
    fn original(&self) -> PathBuf {
        self.dir.path().join("original")
    }
    fn hardened(&self) -> PathBuf {
        self.dir.path().join("hardened")
    }
    fn compose_in(&self, which: &str, secs: u64, args: &[&str]) -> Out {
        let (dir, file) = if which == "original" {
            (self.original(), "compose.yml")
        } else {
            (self.hardened(), "docker-compose.yml")
        };
        // `down` runs before the files are there (leftovers of an interrupted run), and on drop.
        let _ = fs::create_dir_all(&dir);
        let project = format!("hgimp-{}-{which}", self.name);
        let mut argv: Vec<&str> = self.compose.iter().map(String::as_str).collect();
        argv.extend(["-p", project.as_str(), "-f", file]);
        argv.extend(args);
        run_in(Some(&dir), secs, &argv)
    }
    fn up(&self, which: &str) -> Out {
        let o = self.compose_in(
            which,
            600,
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
        if o.ok() {
            return o;
        }
        let ps = self.compose_in(which, 30, &["ps", "--all"]);
        let logs = self.compose_in(which, 30, &["logs", "--no-color", "--tail", "20"]);
        Out {
            stderr: format!("{}\n{ps}\n{logs}", o.stderr),
            ..o
        }
    }
    fn down(&self, which: &str) {
        self.compose_in(
            which,
            180,
            &["down", "--volumes", "--remove-orphans", "--timeout", "3"],
        );
    }
}

impl Drop for ImportedStack {
    fn drop(&mut self) {
        self.down("original");
        self.down("hardened");
    }
}

/// Removes the generic stand-ins it built, also on failure.
struct ImportStandIns(Vec<String>);

impl Drop for ImportStandIns {
    fn drop(&mut self) {
        for image in &self.0 {
            if image_label(image).is_some_and(|l| !l.is_empty()) {
                run(60, &["docker", "image", "rm", image]);
            }
        }
    }
}

/// `hardgen import` then `hardgen build` gives a deployment that Compose accepts and that
/// starts: for each stack of IMPORT_LIVE, the original compose file and the hardened one are
/// started (`up --wait`: every container running, and healthy where it has a health check), the
/// hardened one must come up wherever the original did, and every `depends_on` of the imported
/// spec is reachable from its client on the target's listening ports (within a zone or through
/// a flow's client attachment).
#[test]
#[ignore = "needs root and a Docker engine: run scripts/test.sh as root"]
fn imported_stacks_start_like_the_originals() {
    let _guard = live();
    let test = "imported stacks";
    let mut t = Phases::new();
    let mut c = Checks::default();
    let mut stand_ins = ImportStandIns(Vec::new());
    let tmp = tempfile::tempdir().unwrap();
    for (image, uid, gid, port, data) in IMPORT_STAND_INS {
        if let Some(l) = image_label(image) {
            assert!(
                !l.is_empty(),
                "image {image} exists and is not a stand-in: it will not be retagged"
            );
        }
        let ctx = tmp.path().join("generic");
        copy_tree(&root().join("tests/live/stand-ins/generic"), &ctx);
        stand_ins.0.push(image.to_string());
        let args = [
            format!("IMAGE={image}"),
            format!("UID={uid}"),
            format!("GID={gid}"),
            format!("PORT={port}"),
            format!("DATA={data}"),
        ];
        let mut argv = vec![
            "env",
            "DOCKER_BUILDKIT=0",
            "docker",
            "build",
            "--quiet",
            "--tag",
            image,
        ];
        for a in &args {
            argv.extend(["--build-arg", a.as_str()]);
        }
        argv.push(ctx.to_str().unwrap());
        must(
            run(300, &argv),
            &format!("docker build of the stand-in {image}"),
        );
    }
    t.mark("stand-ins");
    let mut both_up = 0;
    for name in IMPORT_LIVE {
        let stack = ImportedStack {
            name: name.to_string(),
            dir: tempfile::Builder::new()
                .prefix(&format!("hardgen-live-import-{name}-"))
                .tempdir()
                .unwrap(),
            compose: compose_command(),
        };
        stack.down("original");
        stack.down("hardened");
        copy_tree(&root().join("tests/compose").join(name), &stack.original());
        // import, then build, as a user would.
        let spec = stack.dir.path().join(format!("{name}.toml"));
        let o = Command::new(env!("CARGO_BIN_EXE_hardgen"))
            .args(["import", "compose.yml", "--out"])
            .arg(&spec)
            .current_dir(stack.original())
            .env_clear()
            .env("PATH", PATH)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{name}: import failed:\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        hardgen_build(
            &root(),
            &[
                spec.to_str().unwrap(),
                "--out",
                stack.hardened().to_str().unwrap(),
            ],
        );
        // What the spec's comments tell the user to do: relative bind sources copied next to
        // the deployment, secrets generated.
        let spec_text = fs::read_to_string(&spec).unwrap();
        for line in spec_text.lines().filter(|l| l.starts_with("volumes = ")) {
            for src in line.split('"').filter(|s| s.starts_with("./")) {
                let rel = src.split(':').next().unwrap();
                let from = stack.original().join(rel);
                if from.is_file() {
                    fs::copy(&from, stack.hardened().join(rel)).unwrap();
                }
            }
        }
        must(
            run_in(
                Some(&stack.hardened()),
                60,
                &["sh", "scripts/generate-secrets.sh"],
            ),
            &format!("{name}: generate-secrets.sh"),
        );
        let orig = stack.up("original");
        c.check(
            name,
            "the original stack comes up (up --wait)",
            orig.ok(),
            || orig.to_string(),
        );
        stack.down("original");
        let hard = stack.up("hardened");
        c.check(
            name,
            "the hardened stack comes up healthy where the original did",
            hard.ok() || !orig.ok(),
            || hard.to_string(),
        );
        if hard.ok() && orig.ok() {
            both_up += 1;
        }
        if hard.ok() {
            // Each dependency is reachable from its client on the ports the spec exposes.
            let raw: toml::Value = toml::from_str(&spec_text).unwrap();
            let services = raw["services"].as_table().unwrap();
            for (svc, s) in services {
                for dep in s
                    .get("depends_on")
                    .and_then(|d| d.as_array())
                    .into_iter()
                    .flatten()
                {
                    let dep = dep.as_str().unwrap();
                    for port in services[dep]
                        .get("expose")
                        .and_then(|e| e.as_array())
                        .into_iter()
                        .flatten()
                    {
                        let port = port.as_str().unwrap();
                        let probe = format!("nc -w 2 {dep} {port} </dev/null");
                        let o = stack.compose_in(
                            "hardened",
                            30,
                            &["exec", "-T", svc, "sh", "-c", &probe],
                        );
                        c.check(name, &format!("{svc} reaches {dep}:{port}"), o.ok(), || {
                            o.to_string()
                        });
                    }
                }
            }
        }
        t.mark(name);
    }
    c.check(
        "corpus",
        "all five stacks came up both as written and hardened",
        both_up == IMPORT_LIVE.len() && both_up >= 5,
        || format!("{both_up} of {}", IMPORT_LIVE.len()),
    );
    drop(stand_ins);
    t.print(test);
    c.finish(test, t.t0);
}
