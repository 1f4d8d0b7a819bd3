//! The central log choice on the engine (Docker's syslog driver to a receiver of the test's own).

use super::*;

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
