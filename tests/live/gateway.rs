//! `[host] internal_gateway_mode = "isolated"` on the engine (README, "Internal zones without a
//! host address").

use super::*;

/// tests/live/gateway.toml, generated and started as it is. On Engine 28 the internal zone's
/// bridge has no IPv4 address and the zone's container cannot reach a host listener at the
/// zone's would-be gateway address; on Engine 20.10, which ignores the option, the same compose
/// file starts and the bridge keeps its gateway (and the same probe connects: the control that
/// shows the probe can see the host, and why the zone-to-host rules stay). On both, the stack
/// is healthy and the flow into the internal zone connects. The firewall is not loaded: these
/// are the engine's properties alone.
#[test]
#[ignore = "needs root and a Docker engine: run scripts/test.sh as root"]
fn internal_zone_gateway_mode_on_the_engine() {
    let _engine = live();
    let engine = Engine::running();
    let test = format!("live gateway (engine {})", engine.name());
    let mut c = Checks::default();
    let t0 = Instant::now();
    let mut d = Deployment::generate("tests/live/gateway.toml", "hggw");
    let compose = fs::read_to_string(d.path().join("docker-compose.yml")).unwrap();
    c.check(
        &test,
        "the internal zone's network asks for isolated by default",
        compose.contains(
            "com.docker.network.bridge.gateway_mode_ipv4: ${HARDGEN_INTERNAL_GATEWAY_MODE:-isolated}",
        ),
        || compose.clone(),
    );
    d.up();
    let gateway = "10.236.0.1";
    let addr = run(30, &["ip", "-4", "-o", "addr", "show", "dev", "hggw-back"]);
    let front = run(30, &["ip", "-4", "-o", "addr", "show", "dev", "hggw-front"]);
    let mode = run(
        30,
        &[
            "docker",
            "network",
            "inspect",
            "--format",
            "{{index .Options \"com.docker.network.bridge.gateway_mode_ipv4\"}}",
            "hggw_back",
        ],
    );
    c.eq(
        &test,
        "the network carries the option",
        mode.stdout.trim(),
        "isolated",
    );
    c.check(
        &test,
        "the egress zone's bridge keeps its address",
        front.ok() && front.stdout.contains("10.236.1.1/24"),
        || front.to_string(),
    );
    let api = d.container("api");
    let web = d.container("web");
    let api_ip = network_ip(&inspect(&api), "hggw_back");
    // A host listener on every address, so the probe tells "the host answered" apart from
    // "nothing of the host is at that address".
    let port = 28590;
    d.listen_on_host("0.0.0.0", port);
    let to_host = run(
        15,
        &[
            "docker",
            "exec",
            &api,
            "nc",
            "-w",
            "2",
            gateway,
            &port.to_string(),
        ],
    );
    let flow = run(
        15,
        &["docker", "exec", &web, "nc", "-w", "2", &api_ip, "8080"],
    );
    c.check(
        &test,
        "the flow web -> api:8080 connects",
        flow.ok(),
        || flow.to_string(),
    );
    match engine {
        Engine::V28 => {
            c.check(
                &test,
                "the internal zone's bridge has no IPv4 address",
                addr.ok() && !addr.stdout.contains("inet "),
                || addr.to_string(),
            );
            c.check(
                &test,
                &format!("api cannot reach the host at {gateway}:{port}"),
                !to_host.ok(),
                || to_host.to_string(),
            );
        }
        Engine::V20 => {
            c.check(
                &test,
                "Engine 20.10 ignores the option: the bridge keeps its gateway",
                addr.ok() && addr.stdout.contains(&format!("{gateway}/24")),
                || addr.to_string(),
            );
            c.check(
                &test,
                &format!(
                    "without the firewall, api reaches the host at {gateway}:{port} (what the zone-to-host rules drop)"
                ),
                to_host.ok(),
                || to_host.to_string(),
            );
        }
    }
    println!("{test}: {addr}");
    drop(d);
    c.finish("internal_zone_gateway_mode_on_the_engine", t0);
}
