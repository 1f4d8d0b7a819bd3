//! What each preset allows, grouped by the job the syscalls do.
//!
//! The grouping is hardgen's own. The choice of names follows the consensus of
//! container runtimes on "what ordinary programs need" (Docker's default
//! profile is the usual yardstick) minus the kernel surface hardgen never
//! wants inside a service: namespaces and mounts, kernel modules and kexec,
//! tracing and BPF, the kernel keyring, userfaultfd, file handles, swap,
//! quotas, host identity and clocks, raw port I/O.
//!
//! Only names of the 64-bit native ABIs (x86_64, aarch64) appear here: the
//! profile denies the 32-bit compat ABIs as a whole (see `mod.rs`), so their
//! `*32`/`*64`/`*_time64` variants would be dead weight. A test checks that
//! every name exists in at least one embedded syscall table.

use super::{Arg, CmpOp, Preset};
use std::collections::{BTreeMap, BTreeSet};

/// A set of syscalls that belong together, with the reason they are there.
pub(super) struct Group {
    // Names the group in test failures; otherwise documentation.
    #[cfg_attr(not(test), allow(dead_code))]
    pub topic: &'static str,
    pub names: &'static [&'static str],
}

/// The unconditional part of [`Preset::Baseline`].
///
/// `clone`, `socket` and `personality` are missing on purpose: they are only
/// allowed with argument checks (see [`filtered`]).
pub(super) const BASELINE: &[Group] = &[
    Group {
        // Starting, replacing, ending and reaping processes. `fork`/`vfork`
        // exist on x86_64 only; libc uses `clone` for them on aarch64.
        topic: "process lifecycle",
        names: &[
            "execve",
            "execveat",
            "exit",
            "exit_group",
            "fork",
            "vfork",
            "wait4",
            "waitid",
            "restart_syscall",
            "pidfd_open",
            "pidfd_send_signal",
            "process_mrelease",
        ],
    },
    Group {
        // Who am I, process groups and sessions (shells with job control,
        // docker-init's setpgid), per-process switches. `prctl` and
        // `arch_prctl` are needed by every runtime (TLS on x86_64,
        // PR_SET_NAME, PR_SET_NO_NEW_PRIVS, keep-caps during runc init).
        topic: "process attributes",
        names: &[
            "getpid",
            "gettid",
            "getppid",
            "getpgid",
            "getpgrp",
            "getsid",
            "setpgid",
            "setsid",
            "set_tid_address",
            "prctl",
            "arch_prctl",
            "getrusage",
        ],
    },
    Group {
        // Threads: futexes, robust lists, restartable sequences (glibc
        // registers rseq for every thread), barriers used by JITs and RCU.
        topic: "threads and synchronisation",
        names: &[
            "futex",
            "futex_waitv",
            "set_robust_list",
            "get_robust_list",
            "rseq",
            "membarrier",
        ],
    },
    Group {
        // Scheduling of the caller's own threads; raising priorities still
        // needs CAP_SYS_NICE in the kernel.
        topic: "scheduling",
        names: &[
            "sched_yield",
            "sched_getaffinity",
            "sched_setaffinity",
            "sched_getattr",
            "sched_setattr",
            "sched_getparam",
            "sched_setparam",
            "sched_getscheduler",
            "sched_setscheduler",
            "sched_get_priority_max",
            "sched_get_priority_min",
            "sched_rr_get_interval",
            "getpriority",
            "setpriority",
            "ioprio_get",
            "ioprio_set",
            "getcpu",
        ],
    },
    Group {
        // Credentials. Without no-new-privileges runc loads the filter
        // before it switches to the service's user, so the set*id family,
        // setgroups and capget/capset must pass; the kernel still refuses
        // changes the (dropped) capabilities do not cover.
        topic: "credentials",
        names: &[
            "getuid",
            "geteuid",
            "getgid",
            "getegid",
            "getgroups",
            "getresuid",
            "getresgid",
            "setuid",
            "setgid",
            "setreuid",
            "setregid",
            "setresuid",
            "setresgid",
            "setgroups",
            "setfsuid",
            "setfsgid",
            "capget",
            "capset",
        ],
    },
    Group {
        // Signals. `rt_sigreturn` is what every signal handler returns
        // through (runc's Go runtime preempts with SIGURG: without it starts
        // fail at random); `kill` lets docker-init forward SIGTERM.
        topic: "signals",
        names: &[
            "rt_sigaction",
            "rt_sigprocmask",
            "rt_sigreturn",
            "rt_sigsuspend",
            "rt_sigpending",
            "rt_sigtimedwait",
            "rt_sigqueueinfo",
            "rt_tgsigqueueinfo",
            "sigaltstack",
            "kill",
            "tkill",
            "tgkill",
            "pause",
            "alarm",
            "signalfd",
            "signalfd4",
        ],
    },
    Group {
        topic: "memory",
        names: &[
            "brk",
            "mmap",
            "munmap",
            "mremap",
            "mprotect",
            "madvise",
            "mincore",
            "msync",
            "mlock",
            "mlock2",
            "mlockall",
            "munlock",
            "munlockall",
            "memfd_create",
            "memfd_secret",
            "remap_file_pages",
            "pkey_alloc",
            "pkey_free",
            "pkey_mprotect",
        ],
    },
    Group {
        // Reading and writing open descriptors, pipes (`pipe2` for shells),
        // zero-copy transfers, flushing. `ioctl` is needed by every shell and
        // by docker-init (terminal and process-group control).
        topic: "descriptor I/O",
        names: &[
            "read",
            "write",
            "readv",
            "writev",
            "pread64",
            "pwrite64",
            "preadv",
            "pwritev",
            "preadv2",
            "pwritev2",
            "lseek",
            "close",
            "close_range",
            "dup",
            "dup2",
            "dup3",
            "fcntl",
            "flock",
            "ioctl",
            "pipe",
            "pipe2",
            "sendfile",
            "splice",
            "tee",
            "vmsplice",
            "copy_file_range",
            "fsync",
            "fdatasync",
            "sync",
            "syncfs",
            "sync_file_range",
            "fallocate",
            "fadvise64",
            "readahead",
            "truncate",
            "ftruncate",
        ],
    },
    Group {
        // Opening and inspecting paths. Both the legacy (x86_64-only) and
        // the *at forms: static binaries and old libcs still use the former.
        // `fstatfs` is how runc checks that /proc is procfs.
        topic: "paths and metadata",
        names: &[
            "open",
            "openat",
            "openat2",
            "creat",
            "access",
            "faccessat",
            "faccessat2",
            "stat",
            "lstat",
            "fstat",
            "newfstatat",
            "statx",
            "statfs",
            "fstatfs",
            "getdents",
            "getdents64",
            "getcwd",
            "chdir",
            "fchdir",
            "umask",
            "readlink",
            "readlinkat",
        ],
    },
    Group {
        // Changing the file tree. `mknod*` without CAP_MKNOD only makes
        // FIFOs and sockets (mkfifo uses it).
        topic: "file tree changes",
        names: &[
            "mkdir",
            "mkdirat",
            "rmdir",
            "link",
            "linkat",
            "unlink",
            "unlinkat",
            "symlink",
            "symlinkat",
            "rename",
            "renameat",
            "renameat2",
            "mknod",
            "mknodat",
            "chmod",
            "fchmod",
            "fchmodat",
            "chown",
            "fchown",
            "fchownat",
            "lchown",
            "utime",
            "utimes",
            "utimensat",
            "futimesat",
        ],
    },
    Group {
        topic: "extended attributes",
        names: &[
            "getxattr",
            "lgetxattr",
            "fgetxattr",
            "setxattr",
            "lsetxattr",
            "fsetxattr",
            "listxattr",
            "llistxattr",
            "flistxattr",
            "removexattr",
            "lremovexattr",
            "fremovexattr",
        ],
    },
    Group {
        // Waiting for descriptors, events and timers. The `_old` epoll
        // entries exist on x86_64 but the kernel never implemented them.
        topic: "event waiting",
        names: &[
            "poll",
            "ppoll",
            "select",
            "pselect6",
            "epoll_create",
            "epoll_create1",
            "epoll_ctl",
            "epoll_wait",
            "epoll_pwait",
            "epoll_pwait2",
            "epoll_ctl_old",
            "epoll_wait_old",
            "eventfd",
            "eventfd2",
            "timerfd_create",
            "timerfd_settime",
            "timerfd_gettime",
            "inotify_init",
            "inotify_init1",
            "inotify_add_watch",
            "inotify_rm_watch",
            "fanotify_mark",
        ],
    },
    Group {
        // Reading clocks and arming timers. `adjtimex`/`clock_adjtime` are
        // here for their read-only use (ntp_gettime, chrony status);
        // changing the clock needs CAP_SYS_TIME, which also unlocks
        // settimeofday/clock_settime (see CAP_GRANTS).
        topic: "time",
        names: &[
            "clock_gettime",
            "clock_getres",
            "clock_nanosleep",
            "nanosleep",
            "gettimeofday",
            "time",
            "times",
            "getitimer",
            "setitimer",
            "timer_create",
            "timer_settime",
            "timer_gettime",
            "timer_getoverrun",
            "timer_delete",
            "adjtimex",
            "clock_adjtime",
        ],
    },
    Group {
        // Sockets once created (`socket` itself is argument-checked).
        topic: "sockets",
        names: &[
            "socketpair",
            "bind",
            "connect",
            "listen",
            "accept",
            "accept4",
            "getsockname",
            "getpeername",
            "getsockopt",
            "setsockopt",
            "sendto",
            "recvfrom",
            "sendmsg",
            "recvmsg",
            "sendmmsg",
            "recvmmsg",
            "shutdown",
        ],
    },
    Group {
        // System V and POSIX IPC, confined to the container's IPC namespace.
        topic: "inter-process communication",
        names: &[
            "msgget",
            "msgsnd",
            "msgrcv",
            "msgctl",
            "semget",
            "semop",
            "semtimedop",
            "semctl",
            "shmget",
            "shmat",
            "shmdt",
            "shmctl",
            "mq_open",
            "mq_unlink",
            "mq_timedsend",
            "mq_timedreceive",
            "mq_notify",
            "mq_getsetattr",
        ],
    },
    Group {
        // Linux native AIO (libaio). io_uring is not here: its history of
        // privilege escalations made runtimes drop it from their defaults;
        // a service that needs it lists io_uring_* in `allow`.
        topic: "asynchronous I/O",
        names: &[
            "io_setup",
            "io_destroy",
            "io_submit",
            "io_cancel",
            "io_getevents",
            "io_pgetevents",
        ],
    },
    Group {
        topic: "system information and limits",
        names: &[
            "uname",
            "sysinfo",
            "getrlimit",
            "setrlimit",
            "prlimit64",
            "getrandom",
        ],
    },
    Group {
        // Programs that sandbox themselves further (browsers, sshd, systemd
        // services): these calls can only take privileges away.
        topic: "self-sandboxing",
        names: &[
            "seccomp",
            "landlock_create_ruleset",
            "landlock_add_rule",
            "landlock_restrict_self",
        ],
    },
    Group {
        // Reading another process's memory; the kernel applies ptrace
        // access rules, so within a container only the same user's
        // processes. Debuggers and profilers (py-spy) use it.
        topic: "cross-process memory",
        names: &["process_vm_readv", "process_vm_writev"],
    },
    Group {
        // x86 segment and TLS descriptors: 32-bit TLS, Wine, DOS emulators.
        topic: "x86 descriptors",
        names: &["modify_ldt", "get_thread_area", "set_thread_area"],
    },
];

/// What [`Preset::Strict`] takes away from the baseline, and why. None of
/// it is on the path of runc, docker-init, `docker exec`, a shell, or a
/// typical network service (checked live: busybox, python's http.server).
pub(super) const STRICT_REMOVES: &[Group] = &[
    Group {
        // Database engines use libaio; ordinary services do not. Old,
        // rarely audited kernel code.
        topic: "Linux native AIO",
        names: &[
            "io_setup",
            "io_destroy",
            "io_submit",
            "io_cancel",
            "io_getevents",
            "io_pgetevents",
        ],
    },
    Group {
        // Reaching into other processes is a debugger's job; hardgen adds
        // it back with CAP_SYS_PTRACE.
        topic: "cross-process memory",
        names: &["process_vm_readv", "process_vm_writev", "process_mrelease"],
    },
    Group {
        // x86 oddities and deprecated interfaces that 64-bit programs do
        // not need: LDT/TLS descriptors (exploited more than once),
        // never-implemented epoll calls, emulated remap_file_pages, and
        // futimesat (superseded by utimensat).
        topic: "legacy and x86 oddities",
        names: &[
            "modify_ldt",
            "get_thread_area",
            "set_thread_area",
            "epoll_ctl_old",
            "epoll_wait_old",
            "remap_file_pages",
            "futimesat",
        ],
    },
    Group {
        // Message queues (SysV and POSIX) are rare in services; shared
        // memory and semaphores stay (PostgreSQL, Apache, Python's
        // multiprocessing).
        topic: "message queues",
        names: &[
            "msgget",
            "msgsnd",
            "msgrcv",
            "msgctl",
            "mq_open",
            "mq_unlink",
            "mq_timedsend",
            "mq_timedreceive",
            "mq_notify",
            "mq_getsetattr",
        ],
    },
    Group {
        // Clock-discipline reads only matter to NTP tooling, which needs
        // CAP_SYS_TIME anyway (and then gets them back).
        topic: "clock discipline",
        names: &["adjtimex", "clock_adjtime"],
    },
    Group {
        // `sync` flushes every filesystem of the host: a cheap way for one
        // container to stall its neighbours. fsync/fdatasync/syncfs stay.
        topic: "host-wide flush",
        names: &["sync"],
    },
    Group {
        // Page-gifting pipe tricks (vmsplice had its share of CVEs) with no
        // common users; splice and sendfile stay for proxies and Go's io.Copy.
        topic: "pipe page tricks",
        names: &["vmsplice", "tee"],
    },
    Group {
        // Niche hardware and kernel features: secret memory areas, memory
        // protection keys (JITs fall back without them), fanotify (its
        // init needs CAP_SYS_ADMIN), I/O priority changes, and the
        // filesystem-uid calls only NFS servers used.
        topic: "niche kernel features",
        names: &[
            "memfd_secret",
            "pkey_alloc",
            "pkey_free",
            "pkey_mprotect",
            "fanotify_mark",
            "ioprio_set",
            "setfsuid",
            "setfsgid",
        ],
    },
];

/// Syscalls a capability makes useful. Without the capability the kernel
/// refuses them anyway, so allowing them only when the service adds the
/// capability keeps the filter tight without breaking the capability.
/// CAP_SYS_ADMIN is deliberately absent: hardgen never grants it, and it
/// would open the namespace and mount machinery that the filter exists to
/// close.
pub(super) const CAP_GRANTS: &[(&str, &[&str])] = &[
    ("BPF", &["bpf"]),
    (
        "DAC_READ_SEARCH",
        &["open_by_handle_at", "name_to_handle_at"],
    ),
    ("PERFMON", &["perf_event_open"]),
    ("SYSLOG", &["syslog"]),
    ("SYS_BOOT", &["reboot"]),
    ("SYS_CHROOT", &["chroot"]),
    (
        "SYS_MODULE",
        &["init_module", "finit_module", "delete_module"],
    ),
    (
        "SYS_NICE",
        &[
            "get_mempolicy",
            "set_mempolicy",
            "set_mempolicy_home_node",
            "mbind",
            "ioprio_set",
        ],
    ),
    ("SYS_PACCT", &["acct"]),
    (
        "SYS_PTRACE",
        &[
            "ptrace",
            "process_vm_readv",
            "process_vm_writev",
            "process_madvise",
            "process_mrelease",
            "kcmp",
            "pidfd_getfd",
        ],
    ),
    ("SYS_RAWIO", &["iopl", "ioperm"]),
    (
        "SYS_TIME",
        &["settimeofday", "clock_settime", "adjtimex", "clock_adjtime"],
    ),
    ("SYS_TTY_CONFIG", &["vhangup"]),
];

/// The namespace flags of clone(2): CLONE_NEWNS, CLONE_NEWCGROUP,
/// CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET.
/// (CLONE_NEWTIME only exists for clone3/unshare.)
pub(super) const CLONE_NAMESPACE_FLAGS: u64 = 0x7E02_0000;

const AF_UNIX: u64 = 1;
const AF_INET: u64 = 2;
const AF_INET6: u64 = 10;
const AF_NETLINK: u64 = 16;
const AF_PACKET: u64 = 17;
const AF_ALG: u64 = 38;
const AF_NFC: u64 = 39;
const AF_VSOCK: u64 = 40;

const PER_LINUX: u64 = 0x0000;
const PER_LINUX32: u64 = 0x0008;
const UNAME26: u64 = 0x0002_0000;
const PERSONALITY_QUERY: u64 = 0xffff_ffff;

fn eq(index: u32, value: u64) -> Arg {
    Arg {
        index,
        value,
        value_two: 0,
        op: CmpOp::Eq,
    }
}

/// Syscalls that a preset allows only for some argument values: name →
/// alternatives (the call passes when any one of them matches).
///
/// - `clone`: every thread and fork needs it, but with a namespace flag it
///   is `unshare` in disguise (an unprivileged user namespace is enough to
///   reach code normally behind CAP_SYS_ADMIN). Allowed when none of the
///   namespace flags is set; clone(2) takes its flags in argument 0 on both
///   x86_64 and aarch64. `clone3` passes its flags in memory, where seccomp
///   cannot look: it answers ENOSYS instead, so libc falls back to `clone`.
/// - `socket`: baseline refuses only the crypto API (AF_ALG) and VM sockets
///   (AF_VSOCK); strict allows only the families services use: Unix, IPv4,
///   IPv6, netlink (getaddrinfo's AI_ADDRCONFIG), plus packet sockets when
///   the service adds CAP_NET_RAW.
/// - `personality`: only personas that change nothing dangerous (no
///   ADDR_NO_RANDOMIZE, no READ_IMPLIES_EXEC); strict keeps the default
///   persona and the query.
pub(super) fn filtered(
    preset: Preset,
    caps: &BTreeSet<String>,
) -> BTreeMap<&'static str, BTreeSet<Arg>> {
    let mut rules: BTreeMap<&'static str, BTreeSet<Arg>> = BTreeMap::new();
    rules.insert(
        "clone",
        BTreeSet::from([Arg {
            index: 0,
            value: CLONE_NAMESPACE_FLAGS,
            value_two: 0,
            op: CmpOp::MaskedEq,
        }]),
    );
    match preset {
        Preset::Baseline | Preset::Learned => {
            rules.insert(
                "socket",
                BTreeSet::from([
                    Arg {
                        index: 0,
                        value: AF_ALG,
                        value_two: 0,
                        op: CmpOp::Lt,
                    },
                    eq(0, AF_NFC),
                    Arg {
                        index: 0,
                        value: AF_VSOCK,
                        value_two: 0,
                        op: CmpOp::Gt,
                    },
                ]),
            );
            rules.insert(
                "personality",
                [
                    PER_LINUX,
                    PER_LINUX32,
                    UNAME26,
                    UNAME26 | PER_LINUX32,
                    PERSONALITY_QUERY,
                ]
                .into_iter()
                .map(|p| eq(0, p))
                .collect(),
            );
        }
        Preset::Strict => {
            let mut families = vec![AF_UNIX, AF_INET, AF_INET6, AF_NETLINK];
            if caps.contains("NET_RAW") {
                families.push(AF_PACKET);
            }
            rules.insert("socket", families.into_iter().map(|f| eq(0, f)).collect());
            rules.insert(
                "personality",
                [PER_LINUX, PERSONALITY_QUERY]
                    .into_iter()
                    .map(|p| eq(0, p))
                    .collect(),
            );
        }
    }
    rules
}
