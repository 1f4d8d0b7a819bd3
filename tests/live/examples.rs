//! The examples beyond Luna and Arkalia, table-driven: each is generated, built (every build
//! service from its generated Dockerfile, against local stand-ins of the base images it
//! names), started with stand-ins of the images it pulls, and must be healthy, pass its
//! generated `security-check.sh`, hold from the host (read-only root, capabilities dropped,
//! NoNewPrivs, seccomp in force, uid and limits of every process), run each built image as
//! the generated user with the generated command, and keep exactly the zone policy its spec states with
//! `scripts/apply-firewall.sh` loaded: for every (source service, destination service,
//! destination address, destination port), the connection succeeds exactly when the spec
//! allows it — the address is the destination's on one of its own zones, and the source is a
//! member of that zone or a client of a flow into it that lists the port. Addresses a
//! destination has as a flow client accept nothing. A connection from the host to the same
//! address and port before the firewall is loaded proves a listener is there, so a refusal
//! means the policy, not a missing service. Each zone's members are also refused on a host
//! listener on the zone's gateway.
//!
//! The expected matrix is computed from the spec (`examples/<name>.toml`), not from the
//! generated rules. Probes run from the host in the source container's network namespace
//! (`nsenter --net`), with the host's static busybox: distroless images have no `nc`.
//!
//! What a new example needs: its spec, its application sources and configuration under
//! `tests/live/examples/<name>/` (copied over the generated deployment), a stand-in for each
//! image it pulls (`STAND_INS` below, `tests/live/stand-ins/<dir>/`), and one `#[test]` line.

use super::*;
use std::os::unix::fs::PermissionsExt;

/// Stand-ins by image name prefix: (prefix, directory under tests/live/stand-ins).
const STAND_INS: &[(&str, &str)] = &[
    ("nginxinc/nginx-unprivileged:", "nginx"),
    ("postgres:", "postgres"),
    ("redis:", "redis"),
    ("prom/prometheus:", "prometheus"),
    ("prom/alertmanager:", "alertmanager"),
    ("grafana/grafana:", "grafana"),
    (
        "quay.io/prometheuscommunity/postgres-exporter:",
        "postgres-exporter",
    ),
    // Builder and runtime images of the generated Dockerfiles: Debian's own toolchains
    // (hardgen-test/toolchains, scripts/test-images.sh), and distroless look-alikes.
    ("golang:", "toolchain"),
    ("rust:", "toolchain"),
    ("node:", "toolchain"),
    ("python:", "toolchain"),
    ("gcr.io/distroless/static-debian12:", "distroless-static"),
    ("gcr.io/distroless/cc-debian12:", "distroless-cc"),
];

/// Images the live suite's own scripts provide (never replaced by a stand-in).
const PROVIDED: &[&str] = &["scratch", "debian:bookworm-slim"];

/// The spec, read with the `toml` crate: what the expected matrix is computed from.
pub(super) struct Spec {
    pub(super) project: String,
    pub(super) zones: Vec<String>,
    /// service -> (member zones, TCP ports it listens on)
    pub(super) services: BTreeMap<String, (Vec<String>, Vec<u16>)>,
    flows: Vec<Flow>,
}

/// A flow of the spec: (from zone, to zone, clients or None for all, TCP ports).
type Flow = (String, String, Option<Vec<String>>, Vec<u16>);

fn port_of(s: &str) -> Option<u16> {
    // "8080", "9000:8080", "127.0.0.1:9000:8080", "6379/tcp"; UDP is not probed.
    let (p, proto) = s.split_once('/').unwrap_or((s, "tcp"));
    (proto == "tcp").then(|| p.rsplit(':').next().unwrap().parse().unwrap())
}

impl Spec {
    fn read(name: &str) -> Spec {
        let text = fs::read_to_string(root().join(format!("examples/{name}.toml"))).unwrap();
        let v: toml::Value = toml::from_str(&text).unwrap();
        let strs = |v: Option<&toml::Value>| -> Vec<String> {
            v.and_then(toml::Value::as_array)
                .map(|a| a.iter().map(|x| x.as_str().unwrap().to_string()).collect())
                .unwrap_or_default()
        };
        let zones = v["zones"].as_table().unwrap().keys().cloned().collect();
        let mut services = BTreeMap::new();
        for (name, s) in v["services"].as_table().unwrap() {
            let mut ports: Vec<u16> = strs(s.get("expose"))
                .iter()
                .chain(&strs(s.get("ports")))
                .filter_map(|p| port_of(p))
                .collect();
            ports.sort_unstable();
            ports.dedup();
            services.insert(name.clone(), (strs(s.get("zones")), ports));
        }
        let flows = v
            .get("flows")
            .and_then(toml::Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|f| {
                        (
                            f["from"].as_str().unwrap().to_string(),
                            f["to"].as_str().unwrap().to_string(),
                            f.get("clients").map(|c| strs(Some(c))),
                            strs(f.get("ports"))
                                .iter()
                                .filter_map(|p| port_of(p))
                                .collect(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Spec {
            project: v["project"]["name"].as_str().unwrap().to_string(),
            zones,
            services,
            flows,
        }
    }

    /// Whether the spec lets service `from` open a TCP connection to `port` of a member of
    /// zone `zone`: as a member of that zone, or as a client of a flow into it on that port.
    fn allows(&self, from: &str, zone: &str, port: u16) -> bool {
        let member_of = &self.services[from].0;
        member_of.iter().any(|z| z == zone)
            || self.flows.iter().any(|(fz, tz, clients, ports)| {
                tz == zone
                    && member_of.contains(fz)
                    && clients.as_ref().is_none_or(|c| c.iter().any(|x| x == from))
                    && ports.contains(&port)
            })
    }
}

/// A connection attempt from a service's network namespace (or the host) to ADDR:PORT.
struct NsProbe {
    label: String,
    pid: Option<u32>,
    addr: String,
    port: u16,
    want: bool,
}

impl NsProbe {
    fn connect(&self) -> Out {
        let port = self.port.to_string();
        let ns = self.pid.map(|p| format!("--net=/proc/{p}/ns/net"));
        let mut argv: Vec<&str> = Vec::new();
        if let Some(ns) = &ns {
            argv.extend(["nsenter", ns.as_str()]);
        }
        argv.extend([
            "/bin/busybox",
            "nc",
            "-w",
            "2",
            self.addr.as_str(),
            port.as_str(),
        ]);
        run(15, &argv)
    }
}

/// Runs the probes, 16 at a time, and records each result.
fn check_ns_probes(c: &mut Checks, phase: &str, probes: &[NsProbe]) {
    for chunk in probes.chunks(16) {
        let results: Vec<Out> = std::thread::scope(|sc| {
            let hs: Vec<_> = chunk
                .iter()
                .map(|p| sc.spawn(move || p.connect()))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (p, o) in chunk.iter().zip(results) {
            let verb = if p.want { "connects" } else { "is refused" };
            c.check(
                phase,
                &format!("{} {verb}", p.label),
                o.ok() == p.want,
                || o.to_string(),
            );
        }
    }
}

fn container_pid(id: &str) -> u32 {
    inspect(id)["State"]["Pid"]
        .as_u64()
        .and_then(|p| u32::try_from(p).ok())
        .filter(|p| *p > 0)
        .unwrap_or_else(|| panic!("container {id} has no pid"))
}

/// Every image the deployment needs that is not built by compose itself: the `image:` of
/// its services and the `FROM` lines of its generated Dockerfiles.
fn images_needed(d: &Deployment) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let compose: serde_yaml::Value =
        serde_yaml::from_str(&fs::read_to_string(d.path().join("docker-compose.yml")).unwrap())
            .unwrap();
    for (_, s) in compose["services"].as_mapping().unwrap() {
        if s.get("build").is_none() {
            if let Some(i) = s["image"].as_str() {
                out.insert(i.to_string());
            }
        }
    }
    if let Ok(dir) = fs::read_dir(d.path().join("dockerfiles")) {
        for e in dir {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "Dockerfile") {
                for l in fs::read_to_string(&p).unwrap().lines() {
                    if let Some(rest) = l.strip_prefix("FROM ") {
                        out.insert(rest.split_whitespace().next().unwrap().to_string());
                    }
                }
            }
        }
    }
    out.retain(|i| !PROVIDED.contains(&i.as_str()));
    out
}

/// The file system of a distroless stand-in (FROM scratch, no build stage: the legacy builder
/// would keep a stage image behind): passwd and group with root, nobody and nonroot (65532),
/// /tmp, and for `cc` the C runtime of Debian 12 (this host's: the same glibc and libgcc_s).
fn distroless_rootfs(rootfs: &Path, cc: bool) {
    for dir in ["etc", "tmp", "home/nonroot"] {
        fs::create_dir_all(rootfs.join(dir)).unwrap();
    }
    fs::set_permissions(rootfs.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
    )
    .unwrap();
    fs::write(
        rootfs.join("etc/group"),
        "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n",
    )
    .unwrap();
    if cc {
        let lib = rootfs.join("lib/x86_64-linux-gnu");
        fs::create_dir_all(&lib).unwrap();
        fs::create_dir_all(rootfs.join("lib64")).unwrap();
        for l in [
            "libc.so.6",
            "libm.so.6",
            "libgcc_s.so.1",
            "libdl.so.2",
            "libpthread.so.0",
            "librt.so.1",
        ] {
            fs::copy(Path::new("/lib/x86_64-linux-gnu").join(l), lib.join(l))
                .unwrap_or_else(|e| panic!("/lib/x86_64-linux-gnu/{l}: {e}"));
        }
        fs::copy(
            "/lib64/ld-linux-x86-64.so.2",
            rootfs.join("lib64/ld-linux-x86-64.so.2"),
        )
        .unwrap();
    }
}

/// Builds a stand-in for each image, labelled with the name it stands in for.
fn build_example_stand_ins(d: &mut Deployment, images: &BTreeSet<String>) {
    for image in images {
        let dir = STAND_INS
            .iter()
            .find(|(prefix, _)| image.starts_with(prefix))
            .map(|(_, dir)| *dir)
            .unwrap_or_else(|| panic!("no stand-in for {image}: add one to STAND_INS"));
        if image_label(image).is_some_and(|l| l.is_empty()) {
            panic!(
                "image {image} exists and is not a stand-in of this test: it will not be retagged"
            );
        }
        let ctx = d.path().join(format!("stand-in-{dir}"));
        if !ctx.exists() {
            copy_tree(&root().join("tests/live/stand-ins").join(dir), &ctx);
            if dir.starts_with("distroless") {
                distroless_rootfs(&ctx.join("rootfs"), dir == "distroless-cc");
            }
        }
        d.stand_ins.push(image.clone());
        let label = format!("{STAND_IN_LABEL}={image}");
        must(
            run(
                300,
                &[
                    "env",
                    "DOCKER_BUILDKIT=0",
                    "docker",
                    "build",
                    "--quiet",
                    "--label",
                    &label,
                    "--tag",
                    image,
                    ctx.to_str().unwrap(),
                ],
            ),
            &format!("docker build of the stand-in {image}"),
        );
    }
}

/// Every service built from a generated Dockerfile runs what that Dockerfile says: the image's
/// user and command are the generated `USER` and `CMD`, the container runs that command, and
/// every one of its processes (`docker top`) has the generated uid and gid.
fn check_built_images(c: &mut Checks, d: &Deployment) {
    let compose: serde_yaml::Value =
        serde_yaml::from_str(&fs::read_to_string(d.path().join("docker-compose.yml")).unwrap())
            .unwrap();
    for (name, s) in compose["services"].as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        if s.get("build").is_none() {
            continue;
        }
        let dockerfile =
            fs::read_to_string(d.path().join(format!("dockerfiles/{name}.Dockerfile"))).unwrap();
        let last = |prefix: &str| {
            dockerfile
                .lines()
                .rev()
                .find_map(|l| l.strip_prefix(prefix))
                .unwrap_or_else(|| panic!("{name}: no {prefix}in its Dockerfile"))
                .to_string()
        };
        let user = last("USER ");
        let cmd: Value = serde_json::from_str(&last("CMD ")).unwrap();
        let id = d.container(name);
        let v = inspect(&id);
        let image = inspect(v["Image"].as_str().unwrap());
        c.eq(
            name,
            "image USER is the generated one",
            image["Config"]["User"].as_str(),
            Some(user.as_str()),
        );
        c.eq(
            name,
            "image CMD is the generated one",
            &image["Config"]["Cmd"],
            &cmd,
        );
        c.eq(
            name,
            "container runs the generated CMD",
            &v["Config"]["Cmd"],
            &cmd,
        );
        c.eq(
            name,
            "compose user is the generated USER",
            s["user"].as_str(),
            Some(user.as_str()),
        );
        let top = run(30, &["docker", "top", &id, "-eo", "pid,uid,gid,args"]);
        let procs: Vec<&str> = top.stdout.lines().skip(1).collect();
        let (uid, gid) = user.split_once(':').unwrap();
        c.check(
            name,
            &format!("every process runs as {user} and the command runs"),
            top.ok()
                && !procs.is_empty()
                && procs.iter().all(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    f.len() > 3 && f[1] == uid && f[2] == gid
                })
                && procs.iter().any(|l| l.contains(cmd[0].as_str().unwrap())),
            || top.to_string(),
        );
    }
}

/// `512m`, `1g` as bytes (the compose file's `mem_limit`).
fn bytes(size: &str) -> u64 {
    let (n, unit) = size.split_at(size.len() - 1);
    let n: u64 = n.parse().unwrap();
    n * match unit {
        "k" => 1024,
        "m" => 1024 * 1024,
        "g" => 1024 * 1024 * 1024,
        u => panic!("size unit {u}"),
    }
}

/// What the engine enforces for every service, checked from the host independently of the
/// generated security check: read-only root, all capabilities dropped, no-new-privileges and
/// a seccomp profile in force (`/proc/<pid>/status` of every process: NoNewPrivs 1, Seccomp 2,
/// no effective capability, the compose file's uid), and the memory and pids limits.
fn check_containers(c: &mut Checks, d: &Deployment) {
    let compose: serde_yaml::Value =
        serde_yaml::from_str(&fs::read_to_string(d.path().join("docker-compose.yml")).unwrap())
            .unwrap();
    for (name, s) in compose["services"].as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        let id = d.container(name);
        let v = inspect(&id);
        let hc = &v["HostConfig"];
        c.eq(
            name,
            "read-only root",
            hc["ReadonlyRootfs"].as_bool(),
            Some(true),
        );
        c.eq(
            name,
            "capabilities dropped (ALL)",
            hc["CapDrop"]
                .as_array()
                .map(|a| a.iter().any(|x| x == "ALL")),
            Some(true),
        );
        c.eq(
            name,
            "memory limit",
            hc["Memory"].as_u64(),
            Some(bytes(s["mem_limit"].as_str().unwrap())),
        );
        c.eq(
            name,
            "pids limit",
            hc["PidsLimit"].as_i64(),
            s["pids_limit"].as_i64(),
        );
        let uid = s["user"].as_str().unwrap().split(':').next().unwrap();
        let no_caps = s.get("cap_add").is_none();
        let top = run(30, &["docker", "top", &id, "-eo", "pid"]);
        let pids: Vec<u32> = top
            .stdout
            .lines()
            .skip(1)
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        c.check(name, "has processes", !pids.is_empty(), || top.to_string());
        for p in pids {
            let st = proc_status(p);
            if st.is_empty() {
                continue; // gone since `docker top` (a health check's exec)
            }
            let ok = st.get("NoNewPrivs").map(String::as_str) == Some("1")
                && st.get("Seccomp").map(String::as_str) == Some("2")
                && st
                    .get("Uid")
                    .is_some_and(|u| u.split_whitespace().all(|x| x == uid))
                && (!no_caps || st.get("CapEff").is_some_and(|x| hex(x) == 0));
            c.check(
                name,
                &format!(
                    "process {p}: NoNewPrivs 1, Seccomp 2, uid {uid}, no effective capability"
                ),
                ok,
                || format!("    {st:?}"),
            );
        }
    }
}

/// Brings up examples/<name>.toml and proves it healthy, security-checked and isolated as
/// its spec says. Returns the number of (source, destination, port) cases of the matrix.
/// Examples/<name>.toml generated and ready to start: the spec with the stand-ins' programs
/// (`tweak` edits it first: the measurements of `measure.rs` force a seccomp policy), the
/// example's own files, its prebuilt binaries compiled, health checks every 3 s (an override),
/// and a stand-in for every image it pulls or builds from.
pub(super) fn prepare_example(
    name: &str,
    tweak: &dyn Fn(&mut toml::Table),
) -> (Spec, tempfile::TempDir, Deployment) {
    let spec = Spec::read(name);
    let (spec_dir, spec_path) = with_stand_in_programs(&format!("examples/{name}.toml"));
    let mut t: toml::Table = toml::from_str(&fs::read_to_string(&spec_path).unwrap()).unwrap();
    tweak(&mut t);
    fs::write(&spec_path, toml::to_string(&t).unwrap()).unwrap();
    let mut d = Deployment::generate(&spec_path, &spec.project);
    let own = root().join("tests/live/examples").join(name);
    if own.exists() {
        copy_tree(&own, d.path());
    }
    // A prebuilt static binary of the example (`static` runtime) is compiled here, from the
    // Go source the example ships in `prebuilt/<service>/`, with the toolchain image.
    if let Ok(dir) = fs::read_dir(d.path().join("prebuilt")) {
        for e in dir {
            let src = e.unwrap().path();
            let svc = src.file_name().unwrap().to_string_lossy().into_owned();
            let out = d.path().join("src").join(&svc);
            fs::create_dir_all(&out).unwrap();
            let bin = fs::read_to_string(src.join("BINARY")).unwrap();
            let vsrc = format!("{}:/src:ro", src.display());
            let vout = format!("{}:/out", out.display());
            let target = format!("/out/{}", bin.trim());
            must(
                run(
                    300,
                    &[
                        "docker",
                        "run",
                        "--rm",
                        "--network",
                        "none",
                        "-e",
                        "CGO_ENABLED=0",
                        "-e",
                        "GOCACHE=/tmp/go-cache",
                        "-e",
                        "HOME=/tmp",
                        "-v",
                        &vsrc,
                        "-v",
                        &vout,
                        "-w",
                        "/src",
                        "hardgen-test/toolchains:1",
                        "go",
                        "build",
                        "-o",
                        &target,
                        ".",
                    ],
                ),
                &format!("go build of the prebuilt binary of {svc}"),
            );
        }
    }
    let services: Vec<&String> = spec.services.keys().collect();
    d.fast_health(&services);
    let images = images_needed(&d);
    build_example_stand_ins(&mut d, &images);
    (spec, spec_dir, d)
}

fn example_on_the_engine(name: &str) -> usize {
    let test = format!("live {name}");
    let mut t = Phases::new();
    let mut c = Checks::default();
    let (spec, _spec_dir, mut d) = prepare_example(name, &|_| {});
    t.mark("stand-ins");
    if d.path().join("scripts/generate-secrets.sh").exists() {
        let o = d.script(60, "generate-secrets.sh", &[]);
        assert!(o.ok(), "generate-secrets.sh failed\n{o}");
    }
    d.up();
    t.mark("build+up --wait");
    check_security_script(&mut c, &d);
    check_built_images(&mut c, &d);
    check_containers(&mut c, &d);
    t.mark("security-check");

    // Addresses: each service's address on every network it is attached to — its own zones
    // (member addresses) and the zones it is a flow client of (client addresses).
    let mut pid = BTreeMap::new();
    let mut addrs: Vec<(String, String, String, bool)> = Vec::new(); // (service, zone, address, member)
    let prefix = format!("{}_", spec.project);
    for (svc, (zones, _)) in &spec.services {
        let id = d.container(svc);
        let v = inspect(&id);
        pid.insert(svc.clone(), container_pid(&id));
        for (net, n) in v["NetworkSettings"]["Networks"].as_object().unwrap() {
            let zone = net
                .strip_prefix(&prefix)
                .unwrap_or_else(|| panic!("{svc}: on network {net}, not one of its project's"))
                .to_string();
            let member = zones.contains(&zone);
            addrs.push((
                svc.clone(),
                zone,
                n["IPAddress"].as_str().unwrap().to_string(),
                member,
            ));
        }
    }
    // Zones whose bridge has no host address (`internal_gateway_mode = "isolated"` on
    // Engine 28+): the host cannot reach them, nor they it.
    let gateways_of: BTreeMap<&String, String> = spec
        .zones
        .iter()
        .map(|z| (z, gateway(&format!("{}_{z}", spec.project))))
        .collect();
    let isolated: BTreeSet<String> = gateways_of
        .iter()
        .filter(|(_, gw)| {
            let o = run(10, &["ip", "-4", "-o", "addr", "show", "to", gw]);
            !(o.ok() && o.stdout.contains(&format!("inet {gw}/")))
        })
        .map(|(z, _)| (*z).clone())
        .collect();
    // Controls: every (address, port) has a listener, seen from the host, or from the service
    // itself on a zone the host has no address on.
    let mut controls = Vec::new();
    for (svc, zone, addr, _) in &addrs {
        let from_host = !isolated.contains(zone);
        for &port in &spec.services[svc].1 {
            controls.push(NsProbe {
                label: format!(
                    "{} -> {svc} {addr}:{port} (network of zone {zone}, listener there)",
                    if from_host { "host" } else { svc.as_str() }
                ),
                pid: if from_host { None } else { Some(pid[svc]) },
                addr: addr.clone(),
                port,
                want: true,
            });
        }
    }
    // Each zone's gateway with a host listener: reachable before the firewall. A zone whose
    // bridge has no host address (`internal_gateway_mode = "isolated"` on Engine 28+) gets a
    // listener on every host address instead: the probe to its gateway must still fail.
    let mut gateways = Vec::new();
    for (i, z) in spec.zones.iter().enumerate() {
        let gw = gateways_of[z].clone();
        let port = 28500 + u16::try_from(i).unwrap();
        if !isolated.contains(z) {
            d.listen_on_host(&gw, port);
        } else {
            println!("{name}: zone {z}: the host has no address {gw} (isolated gateway)");
            d.listen_on_host("0.0.0.0", port);
        }
        gateways.push((z.clone(), gw, port));
    }
    check_ns_probes(&mut c, "before the firewall (control)", &controls);

    let iptables_before = apply_firewall(&mut c, &mut d);
    let mut matrix = Vec::new();
    for from in spec.services.keys() {
        for (to, zone, addr, member) in &addrs {
            if to == from {
                continue;
            }
            for &port in &spec.services[to].1 {
                // A flow client's address on the target zone accepts nothing: flows go one way.
                let want = *member && spec.allows(from, zone, port);
                let role = if *member { "member" } else { "flow-client" };
                matrix.push(NsProbe {
                    label: format!("{from} -> {to} {addr}:{port} ({role} address on zone {zone})"),
                    pid: Some(pid[from]),
                    addr: addr.clone(),
                    port,
                    want,
                });
            }
        }
    }
    for (z, gw, port) in &gateways {
        let member = spec
            .services
            .iter()
            .find(|(_, (zones, _))| zones.contains(z))
            .map(|(s, _)| s.clone());
        if let Some(m) = member {
            matrix.push(NsProbe {
                label: format!("{m} -> host {gw}:{port} (zone {z} to the host)"),
                pid: Some(pid[&m]),
                addr: gw.clone(),
                port: *port,
                want: false,
            });
        }
    }
    let allowed = matrix.iter().filter(|p| p.want).count();
    println!(
        "{name}: firewall matrix of {} cases ({allowed} allowed, {} refused), {} services, {} zones, {} flows",
        matrix.len(),
        matrix.len() - allowed,
        spec.services.len(),
        spec.zones.len(),
        spec.flows.len()
    );
    check_ns_probes(&mut c, "with the firewall", &matrix);
    // The host still reaches every service (its own connections are not the zones').
    check_ns_probes(&mut c, "with the firewall, from the host", &controls);
    t.mark("firewall matrix");
    remove_firewall(&mut c, &mut d, &iptables_before);
    let stand_ins = d.stand_ins.clone();
    drop(d);
    t.mark("cleanup");
    for image in &stand_ins {
        c.check(
            "cleanup",
            &format!("stand-in {image} removed"),
            image_label(image).is_none(),
            || format!("    {image} still present"),
        );
    }
    t.print(&test);
    c.finish(&test, t.t0);
    matrix.len()
}

#[test]
#[ignore = "needs root and a Docker engine: run scripts/test.sh as root"]
fn shop_example_is_healthy_and_isolated_on_the_engine() {
    let _engine = live();
    example_on_the_engine("shop");
}

#[test]
#[ignore = "needs root and a Docker engine: run scripts/test.sh as root"]
fn jobs_example_is_healthy_and_isolated_on_the_engine() {
    let _engine = live();
    example_on_the_engine("jobs");
}

#[test]
#[ignore = "needs root and a Docker engine: run scripts/test.sh as root"]
fn metrics_example_is_healthy_and_isolated_on_the_engine() {
    let _engine = live();
    example_on_the_engine("metrics");
}

#[test]
#[ignore = "needs root and a Docker engine: run scripts/test.sh as root"]
fn boutique_example_is_healthy_and_isolated_on_the_engine() {
    let _engine = live();
    example_on_the_engine("boutique");
}

/// The commands of a generated README's "Deploy" section, in order: the code spans of its
/// numbered items (with their continuation lines) that are commands.
fn readme_steps(readme: &str) -> Vec<String> {
    let deploy = readme
        .split("## Deploy\n")
        .nth(1)
        .and_then(|r| r.split("\n## ").next())
        .expect("the generated README has a Deploy section");
    let mut steps = Vec::new();
    for line in deploy.lines() {
        for (i, code) in line.split('`').enumerate() {
            if i % 2 == 1
                && ["sudo ", "docker ", "scripts/"]
                    .iter()
                    .any(|p| code.starts_with(p))
            {
                steps.push(code.to_string());
            }
        }
    }
    steps
}

/// A new user's path, literally: a repository with the spec and the application source next
/// to it, `hardgen build` from there (default output `deploy/<spec>`), then every command of
/// the generated README's Deploy section as written (as root, `sudo` is the identity), ending
/// with the stack healthy and `security-check.sh` green. Only the README's first step —
/// merging `daemon.json` into the engine's configuration and restarting it — is not done on
/// this shared test engine. The base images and the pulled images are this suite's stand-ins
/// (no registry is reachable); the health checks keep their generated timing.
#[test]
#[ignore = "needs root and a Docker engine: run scripts/test.sh as root"]
fn jobs_readme_followed_literally_ends_healthy() {
    let _engine = live();
    let mut t = Phases::new();
    // The stand-ins (and their removal) come with a deployment of the same spec.
    let mut stand_ins = Deployment::generate("examples/jobs.toml", "jobs");
    let images = images_needed(&stand_ins);
    build_example_stand_ins(&mut stand_ins, &images);
    t.mark("stand-ins");

    let repo = tempfile::Builder::new()
        .prefix("hardgen-live-readme-")
        .tempdir()
        .expect("temporary directory");
    // The spec as the user has it, but with the stand-ins' programs in its process allowlist
    // (the stand-ins run busybox programs instead of the real images').
    let (_spec_dir, spec) = with_stand_in_programs("examples/jobs.toml");
    fs::copy(&spec, repo.path().join("jobs.toml")).unwrap();
    copy_tree(
        &root().join("tests/live/examples/jobs/src"),
        &repo.path().join("src"),
    );
    hardgen_build(repo.path(), &["jobs.toml"]);
    let deploy = repo.path().join("deploy/jobs");
    let steps = readme_steps(&fs::read_to_string(deploy.join("README.md")).unwrap());
    assert_eq!(
        steps,
        [
            "sudo scripts/harden-host.sh --restart",
            "sudo scripts/host-check.sh",
            "sudo scripts/generate-secrets.sh",
            "scripts/pull-images.sh",
            "docker compose up -d --wait --pull never",
            "sudo scripts/apply-firewall.sh",
            "sudo scripts/security-check.sh",
        ],
        "the generated README's deploy steps changed: review this test"
    );
    // Not run here: hardening the host restarts the shared test engine (the host tests
    // prove harden-host.sh and host-check.sh on a daemon of their own), and pulling needs a
    // registry (the stand-ins are those images).
    let skipped = [
        "sudo scripts/harden-host.sh --restart",
        "sudo scripts/host-check.sh",
        "scripts/pull-images.sh",
    ];
    let mut failure = None;
    for step in steps.iter().filter(|s| !skipped.contains(&s.as_str())) {
        let cmd = step.strip_prefix("sudo ").unwrap_or(step);
        let o = run_in(Some(&deploy), 600, &["sh", "-c", cmd]);
        t.mark(cmd);
        if !o.ok() {
            failure = Some(format!("`{step}` failed in {}:\n{o}", deploy.display()));
            break;
        }
    }
    // Undo what the README did, whatever happened.
    let _ = run_in(
        Some(&deploy),
        60,
        &["sh", "-c", "scripts/apply-firewall.sh --remove"],
    );
    let _ = run_in(
        Some(&deploy),
        180,
        &[
            "docker",
            "compose",
            "down",
            "--volumes",
            "--remove-orphans",
            "--timeout",
            "3",
        ],
    );
    for image in built_images(&deploy.join("docker-compose.yml")) {
        let _ = run(60, &["docker", "image", "rm", &image]);
    }
    t.print("live jobs README");
    if let Some(f) = failure {
        panic!("{f}");
    }
}
