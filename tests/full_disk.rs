//! A full disk in the middle of a build leaves the previous output exactly as it was: the
//! build fails with exit 2 and names the problem, no file is replaced or removed, and no
//! staged temporary file is left behind.
//!
//! The disk is a small tmpfs mounted in a private mount namespace (`unshare -m`): the test
//! needs root, so it is `#[ignore]`d with that reason, and `scripts/test.sh` runs it with
//! `--ignored` as root (CI), where it fails if it cannot mount.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const SCRIPT: &str = r#"
set -u
hardgen=$1 luna=$2 arkalia=$3 work=$4
mnt="$work/mnt"
mkdir -p "$mnt"
mount -t tmpfs -o size=2m tmpfs "$mnt" || exit 97
out="$mnt/out"
"$hardgen" build "$luna" --out "$out" 2>"$work/first.err" || exit 98
snapshot() { (cd "$out" && find . -type f | LC_ALL=C sort | while read -r f; do
    printf '%s %s\n' "$(stat -c '%a %s' "$f")" "$(sha256sum "$f")"; done) >"$1"; }
snapshot "$work/before"
# Fill the disk, then give back a little: some files stage, then one fails.
dd if=/dev/zero of="$mnt/filler" bs=4096 2>/dev/null
truncate -s -48K "$mnt/filler"
"$hardgen" build "$arkalia" --out "$out" 2>"$work/second.err"
echo $? >"$work/second.code"
snapshot "$work/after"
find "$out" -name '*.tmp' >"$work/leftovers"
# A first build on the full disk: no output directory, no staging directory is left.
"$hardgen" build "$arkalia" --out "$mnt/new/out" 2>"$work/third.err"
echo $? >"$work/third.code"
ls -A "$mnt" >"$work/mnt-after"
"#;

#[test]
#[ignore = "needs root (a tmpfs mounted in a private mount namespace): scripts/test.sh runs it as root with --ignored"]
fn full_disk_keeps_the_previous_output() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();
    let script = work.join("full-disk.sh");
    fs::write(&script, SCRIPT).unwrap();
    let o = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh"])
        .arg(&script)
        .arg(env!("CARGO_BIN_EXE_hardgen"))
        .arg(root().join("examples/luna.toml"))
        .arg(root().join("examples/arkalia.toml"))
        .arg(work)
        .output()
        .expect("run unshare");
    let code = o.status.code();
    assert!(
        code != Some(97) && code.is_some() && work.join("mnt").exists(),
        "cannot mount a tmpfs in a private mount namespace (run as root): {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        o.status.success(),
        "the scenario failed (code {code:?}): {}{}",
        String::from_utf8_lossy(&o.stderr),
        fs::read_to_string(work.join("first.err")).unwrap_or_default()
    );
    let second = fs::read_to_string(work.join("second.err")).unwrap();
    let second_code = fs::read_to_string(work.join("second.code")).unwrap();
    assert_eq!(
        second_code.trim(),
        "2",
        "a build on a full disk must fail:\n{second}"
    );
    assert!(
        second.contains("No space left on device"),
        "the error names the cause:\n{second}"
    );
    assert!(
        second.contains("previous output"),
        "the error says the previous output is kept:\n{second}"
    );
    let before = fs::read_to_string(work.join("before")).unwrap();
    let after = fs::read_to_string(work.join("after")).unwrap();
    assert!(before.lines().count() > 10, "{before}");
    assert_eq!(
        before, after,
        "the previous output changed on a failed build"
    );
    let third = fs::read_to_string(work.join("third.err")).unwrap();
    let third_code = fs::read_to_string(work.join("third.code")).unwrap();
    assert_eq!(
        third_code.trim(),
        "2",
        "a first build on a full disk must fail:\n{third}"
    );
    assert!(
        third.contains("No space left on device") && third.contains("nothing was written"),
        "the error names the cause and says nothing was written:\n{third}"
    );
    let mnt_after = fs::read_to_string(work.join("mnt-after")).unwrap();
    assert_eq!(
        mnt_after.lines().collect::<Vec<_>>(),
        ["filler", "out"],
        "a failed first build left something behind"
    );
    let leftovers = fs::read_to_string(work.join("leftovers")).unwrap();
    assert!(
        leftovers.trim().is_empty(),
        "staged files left behind:\n{leftovers}"
    );
}
