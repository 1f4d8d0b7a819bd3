//! examples/luna.toml on the engine, with stand-ins for the images it pulls.

use super::*;

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
pub(super) const STAND_INS: &[(&str, &str)] = &[
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
