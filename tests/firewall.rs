//! The generated firewall, proven in network namespaces: for every example spec
//! (`examples/*.toml`, `tests/live/*.toml`), the test builds the deployment, then recreates its
//! networks the way Docker does — one "host" namespace with one Linux bridge per zone (named as
//! the compose file names it, with the zone's gateway address), one namespace per service with
//! a veth into each of its zones at its planned address, a listener on every port of every
//! service, an "outside" host behind a routed veth — loads the firewall with the generated
//! `scripts/apply-firewall.sh` and probes every (source service, destination service,
//! destination address, port) case, plus every service to the host and to the outside.
//!
//! What may connect is computed here from the spec alone (zones, members, flows, their
//! clients and ports), never from the generated rules: members of a zone reach each other on
//! any port; a flow's clients reach the target zone's own services on the flow's ports only;
//! nothing crosses zones through the host, nothing reaches the host, and only members of an
//! egress zone reach the outside. Every case must match: no more, no less.
//!
//! The test needs root (namespaces, bridges, netfilter): it is `#[ignore]`d with that reason,
//! and `scripts/test.sh` runs it with `--ignored` as root (CI), where it fails if it cannot
//! run. Everything lives in namespaces of its own (named `hgfw<pid>…`): the host's tables are
//! never touched, and the Docker engine is not used.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;

const NEEDS_ROOT: &str = "needs root (network namespaces, bridges, netfilter): scripts/test.sh runs it as root with --ignored";

/// The host's own listener (every zone gateway is probed on it) and the outside host's.
const HOST_PORT: u16 = 47001;
const OUTSIDE_PORT: u16 = 47002;
const OUTSIDE_HOST: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const UPLINK_HOST: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// How long a probe waits for a connection (or a UDP answer) before it counts as refused.
const PROBE_TIMEOUT_S: &str = "3";
/// The mark hardgen's nftables table sets on what it accepts (README: "The zone firewall").
const FWMARK: &str = "0x1000000";

/// Listener and prober, one process per namespace. `listen PORT/PROTO...` accepts TCP
/// connections and echoes UDP datagrams, prints `ready`, and exits by itself after 15 minutes
/// at the latest. `probe TIMEOUT ADDR:PORT/PROTO...` tries every target at once and prints one
/// `ok`/`no` line per target, in order.
const NETPROBE: &str = r#"
import errno, selectors, socket, sys, time

def listen(specs):
    sel = selectors.DefaultSelector()
    for spec in specs:
        port, proto = spec.split('/')
        if proto == 'tcp':
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(('0.0.0.0', int(port)))
            s.listen(256)
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(('0.0.0.0', int(port)))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, proto)
    print('ready', flush=True)
    end = time.monotonic() + 900
    while time.monotonic() < end:
        for key, _ in sel.select(timeout=1):
            try:
                if key.data == 'tcp':
                    c, _ = key.fileobj.accept()
                    c.close()
                else:
                    d, a = key.fileobj.recvfrom(64)
                    key.fileobj.sendto(d, a)
            except OSError:
                pass

def probe(timeout, targets):
    sel = selectors.DefaultSelector()
    res = ['no'] * len(targets)
    for i, t in enumerate(targets):
        hostport, proto = t.rsplit('/', 1)
        addr, port = hostport.rsplit(':', 1)
        kind = socket.SOCK_STREAM if proto == 'tcp' else socket.SOCK_DGRAM
        s = socket.socket(socket.AF_INET, kind)
        s.setblocking(False)
        try:
            if proto == 'tcp':
                e = s.connect_ex((addr, int(port)))
                if e == 0:
                    res[i] = 'ok'
                    s.close()
                    continue
                if e != errno.EINPROGRESS:
                    s.close()
                    continue
                sel.register(s, selectors.EVENT_WRITE, i)
            else:
                s.connect((addr, int(port)))
                s.send(b'hg')
                sel.register(s, selectors.EVENT_READ, i)
        except OSError:
            s.close()
    end = time.monotonic() + timeout
    while sel.get_map():
        left = end - time.monotonic()
        if left <= 0:
            break
        for key, _ in sel.select(left):
            s = key.fileobj
            if s.type == socket.SOCK_STREAM:
                ok = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
            else:
                try:
                    s.recv(64)
                    ok = True
                except OSError:
                    ok = False
            res[key.data] = 'ok' if ok else 'no'
            sel.unregister(s)
            s.close()
    print('\n'.join(res), flush=True)

if sys.argv[1] == 'listen':
    listen(sys.argv[2:])
else:
    probe(float(sys.argv[2]), sys.argv[3:])
"#;

/// A stand-in for the `docker` CLI: `docker info --format ...` answers like an engine whose
/// firewall backend is `$FAKE_FIREWALL_BACKEND` (empty: an engine before 29, which reports
/// none); everything else fails.
const FAKE_DOCKER: &str = r#"#!/bin/sh
if [ "${1:-}" = info ]; then
    case "$*" in
        *FirewallBackend*) printf '%s\n' "${FAKE_FIREWALL_BACKEND:-}" ;;
        *ServerVersion*) echo 28.5.2 ;;
        *) echo "fake docker: $*" ;;
    esac
    exit 0
fi
echo "fake docker: only info is answered" >&2
exit 1
"#;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs a command; its success and its output (stdout then stderr).
fn run(cmd: &mut Command) -> (bool, String) {
    common::run_tool(cmd)
}

/// Runs a command that must succeed.
fn must(args: &[&str]) -> String {
    let (ok, out) = run(Command::new(args[0]).args(&args[1..]));
    assert!(ok, "{}: {out}", args.join(" "));
    out
}

fn path_env(extra: &Path) -> String {
    format!(
        "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        extra.display()
    )
}

// ------------------------------------------------------------------ the spec, read here

/// A port as the spec writes it: number and protocol.
type Port = (u16, &'static str);

fn parse_port(s: &str) -> Port {
    let (num, proto) = match s.rsplit_once('/') {
        Some((n, "udp")) => (n, "udp"),
        Some((n, _)) => (n, "tcp"),
        None => (s, "tcp"),
    };
    // Published ports are `[ADDRESS:][HOST_PORT:]PORT`: the container port is the last part.
    let container = num.rsplit(':').next().unwrap();
    (
        container.parse().unwrap_or_else(|_| panic!("port {s}")),
        proto,
    )
}

struct Flow {
    to: String,
    clients: BTreeSet<String>,
    ports: BTreeSet<Port>,
}

struct Spec {
    /// zone -> egress
    zones: BTreeMap<String, bool>,
    /// service -> member zones
    members: BTreeMap<String, BTreeSet<String>>,
    /// service -> ports it listens on (expose, published container ports)
    listens: BTreeMap<String, BTreeSet<Port>>,
    /// Ports published on 127.0.0.1: (service, host port, container port).
    loopback_published: Vec<(String, u16, Port)>,
    flows: Vec<Flow>,
}

fn strings(v: Option<&toml::Value>) -> Vec<String> {
    v.and_then(|v| v.as_array())
        .map(|a| a.iter().map(|x| x.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

fn read_spec(path: &Path) -> Spec {
    let v: toml::Value = toml::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    let zones = v["zones"]
        .as_table()
        .unwrap()
        .iter()
        .map(|(n, z)| {
            let egress = z.get("egress").and_then(|e| e.as_bool()).unwrap_or(false);
            (n.clone(), egress)
        })
        .collect();
    let mut members = BTreeMap::new();
    let mut listens = BTreeMap::new();
    let mut loopback_published = Vec::new();
    for (name, s) in v["services"].as_table().unwrap() {
        members.insert(name.clone(), strings(s.get("zones")).into_iter().collect());
        let ports: BTreeSet<Port> = strings(s.get("expose"))
            .iter()
            .chain(strings(s.get("ports")).iter())
            .map(|p| parse_port(p))
            .collect();
        listens.insert(name.clone(), ports);
        for p in strings(s.get("ports")) {
            // `[ADDRESS:][HOST_PORT:]PORT[/udp]`, on 127.0.0.1 unless an address is given.
            let container = parse_port(&p);
            let head = p.split('/').next().unwrap();
            let parts: Vec<&str> = head.split(':').collect();
            let (addr, host_port) = match parts.as_slice() {
                [_] => ("127.0.0.1", container.0),
                [h, _] => ("127.0.0.1", h.parse().unwrap()),
                [a, h, _] => (*a, h.parse().unwrap()),
                _ => panic!("port {p}"),
            };
            if addr == "127.0.0.1" {
                loopback_published.push((name.clone(), host_port, container));
            }
        }
    }
    let flows = v
        .get("flows")
        .and_then(|f| f.as_array())
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|f| {
            let from = f["from"].as_str().unwrap().to_string();
            let clients: BTreeSet<String> = match f.get("clients") {
                Some(_) => strings(f.get("clients")).into_iter().collect(),
                None => members
                    .iter()
                    .filter(|(_, z): &(&String, &BTreeSet<String>)| z.contains(&from))
                    .map(|(n, _)| n.clone())
                    .collect(),
            };
            Flow {
                to: f["to"].as_str().unwrap().to_string(),
                clients,
                ports: strings(f.get("ports"))
                    .iter()
                    .map(|p| parse_port(p))
                    .collect(),
            }
        })
        .collect();
    Spec {
        zones,
        members,
        listens,
        loopback_published,
        flows,
    }
}

// ------------------------------------------------------------------ the deployment, as built

struct Net {
    bridge: String,
    prefix: u8,
    gateway: Ipv4Addr,
}

struct Deployment {
    dir: tempfile::TempDir,
    /// zone -> its network
    nets: BTreeMap<String, Net>,
    /// service -> (zone, address), sorted by zone
    addrs: BTreeMap<String, Vec<(String, Ipv4Addr)>>,
}

fn build(spec: &Path) -> Deployment {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_hardgen"))
        .args(["build"])
        .arg(spec)
        .arg("--out")
        .arg(dir.path())
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}: {}",
        spec.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    let compose: serde_yaml::Value =
        serde_yaml::from_str(&fs::read_to_string(dir.path().join("docker-compose.yml")).unwrap())
            .unwrap();
    let mut nets = BTreeMap::new();
    for (k, n) in compose["networks"].as_mapping().unwrap() {
        let cfg = &n["ipam"]["config"][0];
        let subnet = cfg["subnet"].as_str().unwrap().to_string();
        let prefix = subnet.rsplit_once('/').unwrap().1.parse().unwrap();
        nets.insert(
            k.as_str().unwrap().to_string(),
            Net {
                bridge: n["driver_opts"]["com.docker.network.bridge.name"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                prefix,
                gateway: cfg["gateway"].as_str().unwrap().parse().unwrap(),
            },
        );
    }
    let mut addrs = BTreeMap::new();
    for (k, s) in compose["services"].as_mapping().unwrap() {
        let list: Vec<(String, Ipv4Addr)> = s["networks"]
            .as_mapping()
            .unwrap()
            .iter()
            .map(|(z, a)| {
                (
                    z.as_str().unwrap().to_string(),
                    a["ipv4_address"].as_str().unwrap().parse().unwrap(),
                )
            })
            .collect();
        addrs.insert(k.as_str().unwrap().to_string(), list);
    }
    Deployment { dir, nets, addrs }
}

// ------------------------------------------------------------------ cases

#[derive(Clone)]
struct Case {
    src: String,
    /// A service, `host` or `outside`.
    dst: String,
    addr: Ipv4Addr,
    /// The zone of the destination address (none for the outside).
    zone: Option<String>,
    port: Port,
    allowed: bool,
}

impl Case {
    fn target(&self) -> String {
        format!("{}:{}/{}", self.addr, self.port.0, self.port.1)
    }
    fn describe(&self) -> String {
        format!(
            "{} -> {} {}:{}/{}{}",
            self.src,
            self.dst,
            self.addr,
            self.port.0,
            self.port.1,
            self.zone
                .as_ref()
                .map(|z| format!(" (zone {z})"))
                .unwrap_or_default()
        )
    }
}

/// The zone whose gateway is a service's default route: a member egress zone if it has one
/// (the way out Docker gives it), else its first zone. Services of internal zones get one too,
/// so that the firewall, not a missing route, is what keeps them in.
fn default_zone(spec: &Spec, d: &Deployment, svc: &str) -> String {
    let m = &spec.members[svc];
    d.addrs[svc]
        .iter()
        .map(|(z, _)| z)
        .find(|z| m.contains(*z) && spec.zones[*z])
        .or_else(|| d.addrs[svc].iter().map(|(z, _)| z).find(|z| m.contains(*z)))
        .unwrap_or(&d.addrs[svc][0].0)
        .clone()
}

/// Every case, with what the spec allows.
fn cases(spec: &Spec, d: &Deployment) -> Vec<Case> {
    let mut out = Vec::new();
    let flow_ports = |zone: &str| -> BTreeSet<Port> {
        spec.flows
            .iter()
            .filter(|f| f.to == zone)
            .flat_map(|f| f.ports.iter().copied())
            .collect()
    };
    for src in spec.members.keys() {
        let src_zones: BTreeSet<&str> = d.addrs[src].iter().map(|(z, _)| z.as_str()).collect();
        for dst in spec.members.keys().filter(|d| *d != src) {
            let mut ports = spec.listens[dst].clone();
            for z in &spec.members[dst] {
                ports.extend(flow_ports(z));
            }
            for (zone, addr) in &d.addrs[dst] {
                let dst_member = spec.members[dst].contains(zone);
                let src_member = spec.members[src].contains(zone);
                for &port in &ports {
                    // Reached on the zone's own bridge (the source is attached to it) by a
                    // member, or by a flow's client on the flow's ports; only the zone's own
                    // services are reachable there. Through the host: never.
                    let by_flow = spec.flows.iter().any(|f| {
                        f.to == *zone && f.clients.contains(src) && f.ports.contains(&port)
                    });
                    let allowed =
                        src_zones.contains(zone.as_str()) && dst_member && (src_member || by_flow);
                    out.push(Case {
                        src: src.clone(),
                        dst: dst.clone(),
                        addr: *addr,
                        zone: Some(zone.clone()),
                        port,
                        allowed,
                    });
                }
            }
        }
        for (zone, net) in &d.nets {
            out.push(Case {
                src: src.clone(),
                dst: "host".into(),
                addr: net.gateway,
                zone: Some(zone.clone()),
                port: (HOST_PORT, "tcp"),
                allowed: false,
            });
        }
        let way_out = default_zone(spec, d, src);
        out.push(Case {
            src: src.clone(),
            dst: "outside".into(),
            addr: OUTSIDE_HOST,
            zone: None,
            port: (OUTSIDE_PORT, "tcp"),
            allowed: spec.members[src].contains(&way_out) && spec.zones[&way_out],
        });
    }
    // A neighbour of the host routing straight to the services' addresses (no published
    // port, no DNAT): never.
    for (dst, list) in &d.addrs {
        for (zone, addr) in list {
            for &port in &spec.listens[dst] {
                out.push(Case {
                    src: "outside".into(),
                    dst: dst.clone(),
                    addr: *addr,
                    zone: Some(zone.clone()),
                    port,
                    allowed: false,
                });
            }
        }
    }
    out
}

// ------------------------------------------------------------------ the namespaces

/// One example's namespaces, listeners and files; removed on drop.
struct Lab {
    tag: String,
    host: String,
    outside: String,
    /// service -> its namespace
    ns: BTreeMap<String, String>,
    children: Vec<Child>,
    tools: tempfile::TempDir,
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in self
            .ns
            .values()
            .chain([&self.host, &self.outside])
            .collect::<Vec<_>>()
        {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

impl Lab {
    fn sh(&self, ns: &str, args: &[&str]) -> (bool, String) {
        run(Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .env("PATH", path_env(&self.tools.path().join("bin"))))
    }

    fn host_must(&self, args: &[&str]) -> String {
        let (ok, out) = self.sh(&self.host, args);
        assert!(ok, "[{}] {}: {out}", self.tag, args.join(" "));
        out
    }

    fn listen(&mut self, ns: &str, ports: &[String]) {
        let mut c = Command::new("ip")
            .args(["netns", "exec", ns, "python3"])
            .arg(self.tools.path().join("netprobe.py"))
            .arg("listen")
            .args(ports)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        use std::io::BufRead;
        std::io::BufReader::new(c.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "listener in {ns} did not start");
        self.children.push(c);
    }

    fn sysctl(&self, key: &str) -> String {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        self.host_must(&["cat", &path]).trim().to_string()
    }

    fn set_sysctl(&self, key: &str, value: &str) {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        self.host_must(&["sh", "-c", &format!("echo {value} > {path}")]);
    }
}

fn lab(tag: &str, spec: &Spec, d: &Deployment) -> Lab {
    let tools = tempfile::tempdir().unwrap();
    fs::write(tools.path().join("netprobe.py"), NETPROBE).unwrap();
    fs::create_dir(tools.path().join("bin")).unwrap();
    let docker = tools.path().join("bin/docker");
    fs::write(&docker, FAKE_DOCKER).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&docker, fs::Permissions::from_mode(0o755)).unwrap();

    let mut lab = Lab {
        tag: tag.to_string(),
        host: format!("{tag}h"),
        outside: format!("{tag}o"),
        ns: spec
            .members
            .keys()
            .enumerate()
            .map(|(i, s)| (s.clone(), format!("{tag}s{i}")))
            .collect(),
        children: Vec::new(),
        tools,
    };
    let all: Vec<String> = lab
        .ns
        .values()
        .cloned()
        .chain([lab.host.clone(), lab.outside.clone()])
        .collect();
    for ns in &all {
        must(&["ip", "netns", "add", ns]);
        must(&["ip", "-n", ns, "link", "set", "lo", "up"]);
    }
    let host = lab.host.clone();
    // The host: forwarding on, bridged traffic NOT passed to netfilter yet — the apply script
    // must turn it on (Docker >= 27.3 no longer always does).
    lab.set_sysctl("net.ipv4.ip_forward", "1");
    lab.set_sysctl("net.bridge.bridge-nf-call-iptables", "0");
    for net in d.nets.values() {
        must(&[
            "ip",
            "-n",
            &host,
            "link",
            "add",
            &net.bridge,
            "type",
            "bridge",
        ]);
        must(&[
            "ip",
            "-n",
            &host,
            "addr",
            "add",
            &format!("{}/{}", net.gateway, net.prefix),
            "dev",
            &net.bridge,
        ]);
        must(&["ip", "-n", &host, "link", "set", &net.bridge, "up"]);
    }
    for (i, (svc, ns)) in lab.ns.iter().enumerate() {
        for (k, (zone, addr)) in d.addrs[svc].iter().enumerate() {
            let net = &d.nets[zone];
            let hv = format!("v{i}x{k}");
            let cv = format!("eth{k}");
            must(&[
                "ip", "-n", &host, "link", "add", &hv, "type", "veth", "peer", "name", &cv,
                "netns", ns,
            ]);
            must(&[
                "ip",
                "-n",
                &host,
                "link",
                "set",
                &hv,
                "master",
                &net.bridge,
                "up",
            ]);
            must(&[
                "ip",
                "-n",
                ns,
                "addr",
                "add",
                &format!("{addr}/{}", net.prefix),
                "dev",
                &cv,
            ]);
            must(&["ip", "-n", ns, "link", "set", &cv, "up"]);
        }
        let gw = d.nets[&default_zone(spec, d, svc)].gateway.to_string();
        must(&["ip", "-n", ns, "route", "add", "default", "via", &gw]);
    }
    // The outside: a routed neighbour of the host, with a route back to every zone.
    let outside = lab.outside.clone();
    must(&[
        "ip", "-n", &host, "link", "add", "uplink", "type", "veth", "peer", "name", "eth0",
        "netns", &outside,
    ]);
    must(&[
        "ip",
        "-n",
        &host,
        "addr",
        "add",
        &format!("{UPLINK_HOST}/24"),
        "dev",
        "uplink",
    ]);
    must(&["ip", "-n", &host, "link", "set", "uplink", "up"]);
    must(&[
        "ip",
        "-n",
        &outside,
        "addr",
        "add",
        &format!("{OUTSIDE_HOST}/24"),
        "dev",
        "eth0",
    ]);
    must(&["ip", "-n", &outside, "link", "set", "eth0", "up"]);
    must(&[
        "ip",
        "-n",
        &outside,
        "route",
        "add",
        "default",
        "via",
        &UPLINK_HOST.to_string(),
    ]);
    // Docker's publication on 127.0.0.1 (DNAT of 127.0.0.1:HOST_PORT to the container), and
    // an outside host that sends to 127.0.0.1 through the host, as an L2 neighbour can
    // (moby#45610); each service counts what reaches it from there.
    must(&[
        "ip",
        "-n",
        &outside,
        "route",
        "del",
        "local",
        "127.0.0.0/8",
        "dev",
        "lo",
        "table",
        "local",
    ]);
    must(&[
        "ip",
        "-n",
        &outside,
        "route",
        "del",
        "local",
        "127.0.0.1",
        "dev",
        "lo",
        "table",
        "local",
    ]);
    must(&[
        "ip",
        "-n",
        &outside,
        "route",
        "add",
        "127.0.0.1/32",
        "via",
        &UPLINK_HOST.to_string(),
    ]);
    for (svc, host_port, (port, proto)) in &spec.loopback_published {
        let way_out = default_zone(spec, d, svc);
        let addr = d.addrs[svc].iter().find(|(z, _)| *z == way_out).unwrap().1;
        lab.host_must(&[
            "iptables",
            "-w",
            "-t",
            "nat",
            "-A",
            "PREROUTING",
            "-d",
            "127.0.0.1/32",
            "-p",
            proto,
            "--dport",
            &host_port.to_string(),
            "-j",
            "DNAT",
            "--to-destination",
            &format!("{addr}:{port}"),
        ]);
        let (ok, out) = lab.sh(
            &lab.ns[svc],
            &[
                "iptables",
                "-w",
                "-t",
                "raw",
                "-A",
                "PREROUTING",
                "-s",
                &OUTSIDE_HOST.to_string(),
                "-p",
                proto,
                "--dport",
                &port.to_string(),
            ],
        );
        assert!(ok, "{out}");
    }
    // Listeners: every port a service listens on or a flow to its zones names.
    for (svc, ns) in lab.ns.clone() {
        let mut ports = spec.listens[&svc].clone();
        for f in &spec.flows {
            if spec.members[&svc].contains(&f.to) {
                ports.extend(f.ports.iter().copied());
            }
        }
        let list: Vec<String> = ports.iter().map(|(p, pr)| format!("{p}/{pr}")).collect();
        if !list.is_empty() {
            lab.listen(&ns, &list);
        }
    }
    lab.listen(&host, &[format!("{HOST_PORT}/tcp")]);
    lab.listen(&outside, &[format!("{OUTSIDE_PORT}/tcp")]);
    lab
}

/// Probes every case at once (one prober per source namespace): whether each connected.
fn probe(lab: &Lab, cases: &[Case]) -> Vec<bool> {
    let mut by_src: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, c) in cases.iter().enumerate() {
        by_src.entry(&c.src).or_default().push(i);
    }
    let script = lab.tools.path().join("netprobe.py");
    let children: Vec<(Vec<usize>, Child)> = by_src
        .into_iter()
        .map(|(src, idx)| {
            let ns = if src == "outside" {
                &lab.outside
            } else {
                &lab.ns[src]
            };
            let child = Command::new("ip")
                .args(["netns", "exec", ns, "python3"])
                .arg(&script)
                .args(["probe", PROBE_TIMEOUT_S])
                .args(idx.iter().map(|&i| cases[i].target()))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (idx, child)
        })
        .collect();
    let mut got = vec![false; cases.len()];
    for (idx, child) in children {
        let o = child.wait_with_output().unwrap();
        assert!(
            o.status.success(),
            "prober failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let lines: Vec<String> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        assert_eq!(lines.len(), idx.len(), "prober output: {lines:?}");
        for (i, l) in idx.into_iter().zip(lines) {
            got[i] = l == "ok";
        }
    }
    got
}

/// Sends to every port published on 127.0.0.1 from the outside host, through the host, and
/// returns, for each, how many packets reached the service.
fn neighbour_hits(lab: &Lab, spec: &Spec) -> Vec<(String, u64)> {
    if spec.loopback_published.is_empty() {
        return Vec::new();
    }
    for svc in spec.loopback_published.iter().map(|(s, _, _)| s) {
        let (ok, out) = lab.sh(&lab.ns[svc], &["iptables", "-w", "-t", "raw", "-Z"]);
        assert!(ok, "{out}");
    }
    let targets: Vec<String> = spec
        .loopback_published
        .iter()
        .map(|(_, h, (_, proto))| format!("127.0.0.1:{h}/{proto}"))
        .collect();
    let (ok, out) = lab.sh(
        &lab.outside,
        &[
            "python3",
            lab.tools.path().join("netprobe.py").to_str().unwrap(),
            "probe",
            "2",
        ]
        .into_iter()
        .chain(targets.iter().map(String::as_str))
        .collect::<Vec<_>>(),
    );
    assert!(ok, "{out}");
    spec.loopback_published
        .iter()
        .map(|(svc, h, (port, proto))| {
            let (ok, out) = lab.sh(
                &lab.ns[svc],
                &[
                    "iptables",
                    "-w",
                    "-t",
                    "raw",
                    "-L",
                    "PREROUTING",
                    "-v",
                    "-n",
                    "-x",
                ],
            );
            assert!(ok, "{out}");
            let packets = out
                .lines()
                .filter(|l| l.contains(&format!("{proto} dpt:{port}")))
                .filter_map(|l| l.split_whitespace().next()?.parse::<u64>().ok())
                .sum();
            (format!("127.0.0.1:{h}/{proto} -> {svc}:{port}"), packets)
        })
        .collect()
}

/// The loopback-published ports a neighbour's packets reached, with how many.
fn leaked(hits: &[(String, u64)]) -> Vec<String> {
    hits.iter()
        .filter(|(_, n)| *n > 0)
        .map(|(w, n)| format!("{w}: {n} packet(s) reached it"))
        .collect()
}

/// The cases whose outcome differs from `want`, one line each.
fn mismatches(cases: &[Case], got: &[bool], want: impl Fn(&Case) -> bool) -> Vec<String> {
    cases
        .iter()
        .zip(got)
        .filter(|(c, g)| want(c) != **g)
        .map(|(c, g)| {
            format!(
                "{}: {} (want {})",
                c.describe(),
                if *g { "connected" } else { "refused" },
                if want(c) { "connect" } else { "refused" }
            )
        })
        .collect()
}

fn apply(lab: &Lab, d: &Deployment, backend: &str, args: &[&str]) -> (bool, String) {
    let script = d.dir.path().join("scripts/apply-firewall.sh");
    run(Command::new("ip")
        .args(["netns", "exec", &lab.host, "sh"])
        .arg(&script)
        .args(args)
        .env("PATH", path_env(&lab.tools.path().join("bin")))
        .env("FAKE_FIREWALL_BACKEND", backend))
}

fn security_check(lab: &Lab, d: &Deployment, backend: &str) -> (bool, String) {
    let script = d.dir.path().join("scripts/security-check.sh");
    run(Command::new("ip")
        .args(["netns", "exec", &lab.host, "sh"])
        .arg(&script)
        .arg("--firewall")
        .env("PATH", path_env(&lab.tools.path().join("bin")))
        .env("FAKE_FIREWALL_BACKEND", backend))
}

/// Every spec the project ships: the examples and the live suite's stacks.
fn specs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in ["examples", "tests/live"] {
        for e in fs::read_dir(root().join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

struct Outcome {
    name: String,
    report: String,
    failures: Vec<String>,
}

fn check_example(index: usize, path: &Path) -> Outcome {
    let name = path.file_stem().unwrap().to_string_lossy().into_owned();
    let tag = format!("hgfw{}x{index}", std::process::id() % 100_000);
    let spec = read_spec(path);
    let d = build(path);
    let cases = cases(&spec, &d);
    let lab = lab(&tag, &spec, &d);
    let mut failures = Vec::new();
    let mut fail = |what: &str, list: Vec<String>| {
        if !list.is_empty() {
            failures.push(format!("{name}: {what}:\n  {}", list.join("\n  ")));
        }
    };

    // 1. No firewall: every case connects, so each refusal below is the firewall's doing.
    let got = probe(&lab, &cases);
    fail(
        "without a firewall the lab must connect every case",
        mismatches(&cases, &got, |_| true),
    );
    let hits = neighbour_hits(&lab, &spec);
    fail(
        "without a firewall, a neighbour's packets to 127.0.0.1 must reach the published service (the lab reproduces moby#45610)",
        hits.iter().filter(|(_, n)| *n == 0).map(|(w, _)| w.clone()).collect(),
    );

    // 2. iptables, loaded by the generated apply script as on a Docker host (a DOCKER-USER
    // chain FORWARD jumps to first), from an engine that reports no firewall backend.
    lab.host_must(&["iptables", "-w", "-N", "DOCKER-USER"]);
    lab.host_must(&["iptables", "-w", "-A", "DOCKER-USER", "-j", "RETURN"]);
    lab.host_must(&["iptables", "-w", "-I", "FORWARD", "-j", "DOCKER-USER"]);
    let (ok, out) = security_check(&lab, &d, "");
    fail(
        "security-check --firewall passes before the firewall is loaded",
        if ok { vec![out] } else { vec![] },
    );
    let (ok, out) = apply(&lab, &d, "", &[]);
    fail(
        "apply-firewall.sh (iptables) failed",
        if ok { vec![] } else { vec![out] },
    );
    let bnf = lab.sysctl("net.bridge.bridge-nf-call-iptables");
    fail(
        "apply-firewall.sh leaves net.bridge.bridge-nf-call-iptables off",
        if bnf == "1" { vec![] } else { vec![bnf] },
    );
    let before = lab.host_must(&["iptables-save", "-t", "filter"]);
    let (ok, out) = apply(&lab, &d, "", &[]);
    let after = lab.host_must(&["iptables-save", "-t", "filter"]);
    let strip = |s: &str| -> String {
        s.lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| format!("{l}\n"))
            .collect()
    };
    fail(
        "apply-firewall.sh run twice changes the rules",
        if ok && strip(&before) == strip(&after) {
            vec![]
        } else {
            vec![format!("{out}\nbefore:\n{before}\nafter:\n{after}")]
        },
    );
    let (ok, out) = security_check(&lab, &d, "");
    fail(
        "security-check --firewall fails with the firewall loaded",
        if ok { vec![] } else { vec![out] },
    );
    let ipt = probe(&lab, &cases);
    fail("iptables firewall", mismatches(&cases, &ipt, |c| c.allowed));
    let hits = neighbour_hits(&lab, &spec);
    fail(
        "with the iptables firewall, a neighbour's packets to 127.0.0.1 must not reach the published service",
        leaked(&hits),
    );

    // security-check notices a firewall that is not hooked or not effective.
    let fwd = format!("HG-{}-FWD", d.project());
    let inp = format!("HG-{}-IN", d.project());
    for (chain, target) in [("DOCKER-USER", &fwd), ("INPUT", &inp)] {
        lab.host_must(&["iptables", "-w", "-D", chain, "-j", target]);
        let (ok, out) = security_check(&lab, &d, "");
        fail(
            &format!("security-check --firewall passes without the jump from {chain}"),
            if ok { vec![out] } else { vec![] },
        );
        let (ok, out) = apply(&lab, &d, "", &[]);
        fail("re-apply failed", if ok { vec![] } else { vec![out] });
    }
    lab.host_must(&["iptables", "-w", "-D", "FORWARD", "-j", "DOCKER-USER"]);
    let (ok, out) = security_check(&lab, &d, "");
    fail(
        "security-check --firewall passes when FORWARD does not jump to DOCKER-USER",
        if ok { vec![out] } else { vec![] },
    );
    let (ok, out) = apply(&lab, &d, "", &[]);
    fail("re-apply failed", if ok { vec![] } else { vec![out] });
    lab.set_sysctl("net.bridge.bridge-nf-call-iptables", "0");
    let (ok, out) = security_check(&lab, &d, "");
    fail(
        "security-check --firewall passes with bridge-nf-call-iptables off",
        if ok { vec![out] } else { vec![] },
    );
    let (ok, out) = apply(&lab, &d, "", &[]);
    fail("re-apply failed", if ok { vec![] } else { vec![out] });
    let (ok, out) = security_check(&lab, &d, "");
    fail(
        "security-check --firewall fails after re-applying",
        if ok { vec![] } else { vec![out] },
    );

    // A daemon restart (or reboot, or firewall reload) that rebuilt the filter table: Docker's
    // DOCKER-USER is back, empty, hardgen's chains are gone. security-check says so; the apply
    // script (from the ExecStartPost= drop-in the README shows) restores the whole policy.
    for args in [
        &["-F"][..],
        &["-X"],
        &["-N", "DOCKER-USER"],
        &["-A", "DOCKER-USER", "-j", "RETURN"],
        &["-I", "FORWARD", "-j", "DOCKER-USER"],
    ] {
        let mut cmd = vec!["iptables", "-w"];
        cmd.extend_from_slice(args);
        lab.host_must(&cmd);
    }
    let (ok, out) = security_check(&lab, &d, "");
    fail(
        "security-check --firewall passes after a daemon restart emptied the filter table",
        if ok { vec![out] } else { vec![] },
    );
    let (ok, out) = apply(&lab, &d, "", &[]);
    fail(
        "re-apply after the restart failed",
        if ok { vec![] } else { vec![out] },
    );
    let again = probe(&lab, &cases);
    fail(
        "iptables firewall re-applied after a daemon restart",
        mismatches(&cases, &again, |c| c.allowed),
    );

    let (ok, out) = apply(&lab, &d, "", &["--remove"]);
    let left = lab.host_must(&["iptables-save"]);
    fail(
        "apply-firewall.sh --remove leaves rules behind",
        if ok && !left.contains(&fwd) && !left.contains(&inp) {
            vec![]
        } else {
            vec![format!("{out}\n{left}")]
        },
    );
    let (ok, out) = security_check(&lab, &d, "");
    fail(
        "security-check --firewall passes after --remove",
        if ok { vec![out] } else { vec![] },
    );

    // 3. nftables, from an engine that reports that backend (Engine 29): no DOCKER-USER there.
    lab.host_must(&["iptables", "-w", "-F"]);
    lab.host_must(&["iptables", "-w", "-X"]);
    let table = format!("hardgen-{}", d.project());
    let (ok, out) = apply(&lab, &d, "nftables", &[]);
    fail(
        "apply-firewall.sh (nftables) failed",
        if ok { vec![] } else { vec![out] },
    );
    let before = lab.host_must(&["nft", "list", "ruleset"]);
    let (ok, out) = apply(&lab, &d, "nftables", &[]);
    let after = lab.host_must(&["nft", "list", "ruleset"]);
    fail(
        "apply-firewall.sh (nftables) run twice changes the ruleset",
        if ok && before == after {
            vec![]
        } else {
            vec![format!("{out}\nbefore:\n{before}\nafter:\n{after}")]
        },
    );
    let (ok, out) = security_check(&lab, &d, "nftables");
    fail(
        "security-check --firewall fails with the nftables firewall loaded",
        if ok { vec![] } else { vec![out] },
    );
    let nft = probe(&lab, &cases);
    fail("nftables firewall", mismatches(&cases, &nft, |c| c.allowed));
    let hits = neighbour_hits(&lab, &spec);
    fail(
        "with the nftables firewall, a neighbour's packets to 127.0.0.1 must not reach the published service",
        leaked(&hits),
    );
    fail(
        "the iptables and nftables firewalls disagree",
        cases
            .iter()
            .zip(ipt.iter().zip(&nft))
            .filter(|(_, (a, b))| a != b)
            .map(|(c, (a, _))| format!("{}: iptables {a}, nftables {}", c.describe(), !a))
            .collect(),
    );

    // 4. The fwmark handshake: a Docker-like table at a later priority drops every new
    // forwarded connection unless it carries the mark dockerd was given
    // (--bridge-accept-fwmark). Only what hardgen accepts — the flows — gets through; and
    // with the marks taken out of hardgen's table, the flows are dropped.
    let docker_like = lab.tools.path().join("docker-like.nft");
    fs::write(
        &docker_like,
        format!(
            "table ip hgtest-docker {{\n chain forward {{\n  type filter hook forward priority filter; policy accept;\n  ct state established,related accept\n  meta mark & {FWMARK} == {FWMARK} accept\n  drop\n }}\n}}\n"
        ),
    )
    .unwrap();
    lab.host_must(&["nft", "-f", docker_like.to_str().unwrap()]);
    let by_flow = |c: &Case| {
        c.allowed
            && c.dst != "outside"
            && c.zone
                .as_ref()
                .is_some_and(|z| !spec.members[&c.src].contains(z))
    };
    let marked = probe(&lab, &cases);
    fail(
        "nftables firewall under Docker-like drops: flows must pass (marked), nothing else",
        mismatches(&cases, &marked, by_flow),
    );
    if cases.iter().any(by_flow) {
        let unmarked = lab.tools.path().join("unmarked.nft");
        let text = fs::read_to_string(d.dir.path().join("firewall/nftables.nft")).unwrap();
        let stripped = text.replace(&format!("meta mark set meta mark | {FWMARK} "), "");
        assert_ne!(stripped, text, "no mark in the nftables file");
        fs::write(&unmarked, stripped).unwrap();
        lab.host_must(&["nft", "-f", unmarked.to_str().unwrap()]);
        let got = probe(&lab, &cases);
        fail(
            "without the mark, Docker-like drops must stop the flows too (the handshake matters)",
            mismatches(&cases, &got, |_| false),
        );
    }
    lab.host_must(&["nft", "delete", "table", "ip", "hgtest-docker"]);

    let (ok, out) = apply(&lab, &d, "nftables", &["--remove"]);
    let left = lab.host_must(&["nft", "list", "ruleset"]);
    fail(
        "apply-firewall.sh --remove leaves nftables rules behind",
        if ok && !left.contains(&table) {
            vec![]
        } else {
            vec![format!("{out}\n{left}")]
        },
    );
    let (ok, out) = security_check(&lab, &d, "nftables");
    fail(
        "security-check --firewall (nftables) passes after --remove",
        if ok { vec![out] } else { vec![] },
    );

    let allowed = cases.iter().filter(|c| c.allowed).count();
    let services = spec.members.len();
    let firewall_work = cases
        .iter()
        .zip(&got)
        .filter(|(c, g)| !c.allowed && **g)
        .count();
    let mut report = String::new();
    let _ = write!(
        report,
        "{name}: {} services, {} zones, {} flows: {} cases ({} service-to-service, {} to the host, {} to the outside, {} from the outside; {} ports published on 127.0.0.1 sent to by a neighbour), {allowed} allowed, {firewall_work} refused by the firewall alone; iptables and nftables agree",
        services,
        spec.zones.len(),
        spec.flows.len(),
        cases.len(),
        cases
            .iter()
            .filter(|c| c.src != "outside" && c.dst != "host" && c.dst != "outside")
            .count(),
        cases.iter().filter(|c| c.dst == "host").count(),
        cases.iter().filter(|c| c.dst == "outside").count(),
        cases.iter().filter(|c| c.src == "outside").count(),
        spec.loopback_published.len(),
    );
    drop(lab);
    Outcome {
        name,
        report,
        failures,
    }
}

impl Deployment {
    fn project(&self) -> String {
        let compose: serde_yaml::Value = serde_yaml::from_str(
            &fs::read_to_string(self.dir.path().join("docker-compose.yml")).unwrap(),
        )
        .unwrap();
        compose["name"].as_str().unwrap().to_string()
    }
}

#[test]
#[ignore = "needs root (network namespaces, bridges, netfilter): scripts/test.sh runs it as root with --ignored"]
fn firewall_matrix_of_every_example() {
    assert!(is_root(), "{NEEDS_ROOT}");
    for t in ["ip", "iptables", "iptables-save", "python3"] {
        assert!(
            common::tool(t).is_some()
                || Path::new("/usr/sbin").join(t).exists()
                || Path::new("/sbin").join(t).exists(),
            "{t} is needed: run scripts/install-tools.sh"
        );
    }
    let specs = specs();
    assert!(specs.len() >= 4, "{specs:?}");
    let start = Instant::now();
    // Eight examples at a time: each one's probes mostly wait.
    let indexed: Vec<(usize, &PathBuf)> = specs.iter().enumerate().collect();
    let outcomes: Vec<Outcome> = std::thread::scope(|s| {
        let mut out = Vec::new();
        for chunk in indexed.chunks(8) {
            let handles: Vec<_> = chunk
                .iter()
                .map(|&(i, p)| s.spawn(move || check_example(i, p)))
                .collect();
            for h in handles {
                out.push(h.join().unwrap());
            }
        }
        out
    });
    let mut failures = Vec::new();
    for o in &outcomes {
        println!("{}", o.report);
        failures.extend(o.failures.iter().cloned());
        let _ = &o.name;
    }
    println!(
        "firewall matrix: {} examples in {:.1?}",
        outcomes.len(),
        start.elapsed()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    let _ = Duration::from_secs(0);
}
