//! What the container runtime itself does under a service's filter, stated once: a learned
//! profile (`seccomp = "learned"`) is the learned set plus these, so that a start-up path the
//! recording happened not to see (a Go runtime signal, a retried `execve`) cannot break it.
//!
//! Sources (read for runc 1.1.5, the runtime of Debian 12's `docker.io`, and tini 0.19, which
//! Docker ships as `docker-init`):
//! - runc `libcontainer/standard_init_linux.go` and `setns_init_linux.go`: with
//!   no-new-privileges the filter is loaded "as close to execve as possible" — after it come
//!   only the closing of inherited descriptors (`utils.CloseExecFrom`: `openat` of
//!   `/proc/self/fd`, `fstatfs` to check it is procfs, `getdents64`, `fcntl`, `close`), the
//!   write to the sync pipe and `execve` (retried on `EINTR`), all while Go's runtime may run
//!   (`futex`, `rt_sigreturn` after its preemption signal `SIGURG` sent with `tgkill`,
//!   `sched_yield`, `nanosleep`, `mmap`/`munmap`/`madvise`, `epoll_pwait`, `sigaltstack`,
//!   `rt_sigprocmask`, `getpid`, `gettid`, `exit_group`).
//!   <https://github.com/opencontainers/runc/blob/v1.1.5/libcontainer/standard_init_linux.go>
//! - runc `libcontainer/init_linux.go` (`finalizeNamespace`, `setupUser`): without
//!   no-new-privileges the filter is loaded *before* the switch to the service's user, so
//!   `capget`, `capset`, `prctl` (keep-caps), `setgroups`, `setgid`, `setuid`, `getppid` and
//!   the identity checks run under it too.
//!   <https://github.com/opencontainers/runc/blob/v1.1.5/libcontainer/init_linux.go>
//! - tini `src/tini.c` (`docker-init`, PID 1 with `init: true`): `prctl`
//!   (`PR_SET_CHILD_SUBREAPER`, `PR_SET_PDEATHSIG`), `rt_sigprocmask`, `rt_sigaction`,
//!   `rt_sigtimedwait` (its signal loop), `clone` (fork; argument-checked, see `mod.rs`),
//!   `setpgid`, `ioctl` (`tcsetpgrp`), `execve`, `wait4` (reaping), `kill` (forwarding
//!   `SIGTERM` from `docker stop`), `getpid`.
//!   <https://github.com/krallin/tini/blob/v0.19.0/src/tini.c>
//! - The health checks and `docker exec` run through the same runc init path
//!   (`setns_init_linux.go`), so they need nothing beyond the lists below.

/// runc's init after the filter is loaded (no-new-privileges on, hardgen's default). Every
/// learned profile allows these.
pub const RUNC: &[&str] = &[
    "close",
    "epoll_pwait",
    "execve",
    "exit_group",
    "fcntl",
    "fstatfs",
    "futex",
    "getdents64",
    "getpid",
    "gettid",
    "madvise",
    "mmap",
    "munmap",
    "nanosleep",
    "newfstatat",
    "openat",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "sched_yield",
    "sigaltstack",
    "tgkill",
    "write",
];

/// What runc does under the filter on top of [`RUNC`] when the service runs without
/// no-new-privileges (the filter then comes before the user switch).
pub const RUNC_WITHOUT_NO_NEW_PRIVILEGES: &[&str] = &[
    "capget",
    "capset",
    "faccessat2",
    "getegid",
    "geteuid",
    "getgid",
    "getppid",
    "getuid",
    "prctl",
    "setgid",
    "setgroups",
    "setuid",
];

/// docker-init (tini) as PID 1, for services with `init: true` (the default). `clone` is not
/// here: it is allowed with its namespace-flag check whenever a learned profile allows it, and
/// always for these services (see `plan`).
pub const DOCKER_INIT: &[&str] = &[
    "execve",
    "getpid",
    "ioctl",
    "kill",
    "prctl",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigtimedwait",
    "setpgid",
    "wait4",
];

/// The names Docker's default profile allows unconditionally (see the file's header): the
/// yardstick of a learned profile's size.
pub fn docker_default() -> &'static std::collections::BTreeSet<&'static str> {
    static SET: std::sync::OnceLock<std::collections::BTreeSet<&'static str>> =
        std::sync::OnceLock::new();
    SET.get_or_init(|| {
        include_str!("docker_default.txt")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    })
}
