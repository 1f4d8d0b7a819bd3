//! Helpers shared by the integration test crates.
// Each test crate uses a different subset.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A validator from `.tools/bin` or PATH. Missing tools fail the test when
/// HARDGEN_REQUIRE_TOOLS=1 (scripts/test.sh, CI); otherwise the check is skipped loudly.
pub fn tool(name: &str) -> Option<PathBuf> {
    let local = root().join(".tools/bin").join(name);
    if local.exists() {
        return Some(local);
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("HARDGEN_REQUIRE_TOOLS").is_none(),
            "{name} is required (HARDGEN_REQUIRE_TOOLS is set) but not installed: run scripts/install-tools.sh"
        );
        eprintln!("skipped: {name} not installed (run scripts/test.sh to install the validators)");
    }
    found
}

/// A system tool Debian installs in /usr/sbin (nft, iptables-restore, apparmor_parser), which a
/// user's PATH may lack: [`tool`], else /usr/sbin.
pub fn sbin_tool(name: &str) -> Option<PathBuf> {
    tool(name).or_else(|| {
        let p = PathBuf::from("/usr/sbin").join(name);
        p.exists().then_some(p)
    })
}

/// Runs a tool: whether it succeeded, and its stdout and stderr together.
pub fn run_tool(cmd: &mut Command) -> (bool, String) {
    let o = cmd.output().expect("run tool");
    (
        o.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}
