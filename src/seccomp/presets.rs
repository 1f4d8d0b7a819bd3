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

/// [`Preset::Strict`]: an allowlist built up, not the baseline cut down. It is the union of
/// these groups, of what runc's init, docker-init and `docker exec` need (stated once in
/// `runtime.rs`, not here), of `restart_syscall` (below), and of the argument-checked `clone`,
/// `socket` and `personality` (see [`filtered`]). Every name is one the baseline allows (a test
/// checks): strict never opens what the baseline closes.
///
/// The first group is what every service of every example was seen to call (`hardgen learn`,
/// `scripts/learn-examples.sh`); the others are what common runtimes and servers call on paths
/// the stand-in images did not exercise, each with the upstream source it was read from.
/// Nothing else of the baseline is allowed: native AIO (`io_setup`...: nginx's `aio on` with
/// O_DIRECT, MySQL/InnoDB), message queues, `sync`, `vmsplice`/`tee`, the x86 descriptor calls,
/// `process_vm_*`, `memfd_secret`, `pkey_*`, fanotify, the set-fsuid calls, clock discipline,
/// `execveat`, legacy `getdents`, `uselib`-era calls. io_uring is in neither preset: libuv (Node.js) has it off by default since
/// 1.48 (CVE-2024-22017) and, when it is switched on, falls back to its thread pool when
/// `io_uring_setup` fails (`uv__iou_init`, src/unix/linux.c).
pub(super) const STRICT: &[Group] = &[
    Group {
        // The union of the learned sets of every service of examples/*.toml (stand-in images
        // of the live suite) on Engines 20.10.24 and 28.x, kernel 6.18, x86_64:
        // `scripts/learn-examples.sh`, 2026-12-02.
        topic: "learned from the examples",
        names: &[
            "accept",
            "accept4",
            "access",
            "alarm",
            "arch_prctl",
            "bind",
            "brk",
            "chdir",
            "chmod",
            "clock_nanosleep",
            "connect",
            "dup2",
            "epoll_create1",
            "epoll_ctl",
            "epoll_wait",
            "eventfd2",
            "exit",
            "fadvise64",
            "fstat",
            "ftruncate",
            "getcwd",
            "getgroups",
            "getpeername",
            "getpgrp",
            "getrandom",
            "getrlimit",
            "getsockname",
            "getsockopt",
            "listen",
            "lseek",
            "mkdir",
            "mprotect",
            "pipe2",
            "pkey_alloc",
            "poll",
            "pread64",
            "prlimit64",
            "read",
            "readlink",
            "recvfrom",
            "recvmsg",
            "rseq",
            "sched_getaffinity",
            "sendfile",
            "sendmmsg",
            "sendto",
            "set_robust_list",
            "set_tid_address",
            "setsid",
            "setsockopt",
            "shutdown",
            "statfs",
            "statx",
            "sysinfo",
            "umask",
            "uname",
            "vfork",
        ],
    },
    Group {
        // Not called by programs but by the kernel: a sleep or wait interrupted by a signal
        // resumes through it, and it passes the filter like any call. Docker's default
        // profile allows it for that reason
        // (https://github.com/moby/moby/blob/v28.0.0/profiles/seccomp/default.json).
        topic: "kernel-initiated restart",
        names: &["restart_syscall"],
    },
    Group {
        // glibc: the dynamic loader and libc start-up (elf/rtld.c, elf/dl-load.c,
        // csu/libc-start.c, sysdeps/unix/sysv/linux/x86_64/dl-tls, TLS with arch_prctl on
        // x86_64), threads (nptl/pthread_create.c: clone3 first — answered ENOSYS, see
        // `filtered` — then clone; set_robust_list, rseq registration, guard pages with
        // mprotect), malloc (brk, mmap, mremap, madvise; getrandom for the tcache since
        // 2.36), stdio on a terminal (ioctl TCGETS). musl: src/env/__init_tls.c
        // (set_tid_address, arch_prctl), src/process/_Fork.c (SYS_fork on x86_64),
        // src/process/vfork.c, src/stdio/__stdio_read.c and __stdio_write.c (readv, writev),
        // src/linux/membarrier.c, src/conf/sysconf.c (sched_getaffinity for the CPU count);
        // on x86_64 musl calls the legacy numbers where they exist (src/fcntl/open.c: open,
        // src/unistd/pipe.c: pipe, src/unistd/pause.c: pause, src/stat/mknod.c for mkfifo,
        // src/unistd/lchown.c), as Alpine-based images do.
        // https://sourceware.org/git/?p=glibc.git;a=tree;h=refs/heads/release/2.36/master
        // https://git.musl-libc.org/cgit/musl/tree/src?h=v1.2.5
        topic: "C libraries: start-up, threads, malloc, stdio",
        names: &[
            "faccessat",
            "fork",
            "lchown",
            "membarrier",
            "mknod",
            "mknodat",
            "mremap",
            "open",
            "pause",
            "pipe",
            "readv",
            "writev",
        ],
    },
    Group {
        // Go's runtime and standard library: src/runtime/sys_linux_amd64.s (every syscall
        // the runtime makes itself: mincore, pselect6 for usleep, setitimer and, since Go
        // 1.18, per-thread profiling timers timer_create/timer_settime/timer_delete; tkill and
        // tgkill for preemption signals), src/runtime/netpoll_epoll.go (epoll, eventfd2 since
        // Go 1.21), src/syscall/rlimit.go (RLIMIT_NOFILE raised at start-up), src/os/exec and
        // src/syscall/exec_linux.go (pipe2, dup3, wait4, waitid, pidfd_open and
        // pidfd_send_signal since Go 1.23), src/internal/poll/splice_linux.go (io.Copy between
        // sockets, as reverse proxies do, through splice).
        // https://github.com/golang/go/blob/go1.23.0/src/runtime/sys_linux_amd64.s
        topic: "Go runtime",
        names: &[
            "dup3",
            "epoll_create",
            "mincore",
            "pidfd_open",
            "pidfd_send_signal",
            "pselect6",
            "setitimer",
            "splice",
            "timer_create",
            "timer_delete",
            "timer_settime",
            "tkill",
            "waitid",
        ],
    },
    Group {
        // HotSpot: src/hotspot/os/linux/os_linux.cpp (CPU count from sched_getaffinity,
        // memory from sysinfo, clock_getres, getrusage, mincore for the stack's committed
        // pages, thread names with prctl, membarrier for -XX:+UseSystemMemoryBarrier,
        // sched_getcpu through getcpu, thread priorities with getpriority/setpriority), the
        // container support reading cgroup files
        // (cgroupSubsystem_linux.cpp: statfs, getdents64), ZGC's heap backing
        // (gc/z/zPhysicalMemoryBacking_linux.cpp: memfd_create, fallocate, ftruncate,
        // fstatfs), MappedByteBuffer.force (src/java.base/unix/native/libnio/MappedMemoryUtils.c:
        // msync).
        // https://github.com/openjdk/jdk/blob/jdk-21%2B35/src/hotspot/os/linux/os_linux.cpp
        topic: "JVM (HotSpot)",
        names: &[
            "clock_getres",
            "clock_gettime",
            "fallocate",
            "getcpu",
            "getpriority",
            "getrusage",
            "gettimeofday",
            "memfd_create",
            "msync",
            "setpriority",
        ],
    },
    Group {
        // Node.js through libuv: src/unix/linux.c (epoll_pwait loop, eventfd2, inotify for
        // fs.watch, statx, recvmmsg/sendmmsg for UDP, sched_getaffinity for
        // uv_available_parallelism; io_uring left out, see above), src/unix/fs.c
        // (copy_file_range and sendfile for copies, preadv/pwritev, utimensat, fdatasync),
        // src/unix/process.c (pipe2, socketpair, dup2, vfork-style spawn through clone), and
        // V8's pages (mprotect, madvise), src/unix/thread.c (uv_thread_getpriority and
        // uv_thread_setpriority: glibc's pthread_getschedparam and sched_get_priority_*).
        // https://github.com/libuv/libuv/blob/v1.48.0/src/unix/linux.c
        topic: "Node.js (libuv)",
        names: &[
            "copy_file_range",
            "epoll_pwait2",
            "fdatasync",
            "inotify_add_watch",
            "inotify_init1",
            "inotify_rm_watch",
            "preadv",
            "pwritev",
            "recvmmsg",
            "sched_get_priority_max",
            "sched_get_priority_min",
            "sched_getparam",
            "sched_getscheduler",
            "socketpair",
            "utimensat",
        ],
    },
    Group {
        // CPython: Python/bootstrap_hash.c (getrandom for hash seeds), Modules/selectmodule.c
        // (select, poll, epoll for asyncio), Modules/_posixsubprocess.c (close_range, vfork,
        // dup2, setsid for start_new_session), Modules/posixmodule.c (the os module's file
        // and process calls), Lib/shutil.py (sendfile, copy_file_range in 3.14's
        // os.copy_file_range path; copy2/copystat copy extended attributes: listxattr,
        // getxattr, setxattr and their l- forms), os.symlink, os.truncate.
        // https://github.com/python/cpython/blob/v3.12.0/Modules/_posixsubprocess.c
        topic: "CPython",
        names: &[
            "close_range",
            "dup",
            "fchdir",
            "fchmod",
            "fchown",
            "flock",
            "fsync",
            "getpgid",
            "getsid",
            "getxattr",
            "lgetxattr",
            "listxattr",
            "llistxattr",
            "lsetxattr",
            "lstat",
            "ppoll",
            "rename",
            "rmdir",
            "select",
            "setxattr",
            "stat",
            "symlink",
            "symlinkat",
            "times",
            "truncate",
            "unlink",
            "unlinkat",
        ],
    },
    Group {
        // nginx: src/os/unix/ngx_process_cycle.c (the master waits in rt_sigsuspend, signals
        // workers with kill, reaps with wait4; workers set rlimits, CPU affinity and
        // credentials, prctl PR_SET_DUMPABLE), src/os/unix/ngx_channel.c (socketpair,
        // sendmsg/recvmsg with descriptors), src/os/unix/ngx_linux_sendfile_chain.c,
        // src/event/modules/ngx_epoll_module.c (epoll; eventfd and io_setup only for native
        // `aio`, left out), `timer_resolution` with setitimer, log reopening (rename, chown).
        // https://github.com/nginx/nginx/blob/release-1.26.0/src/os/unix/ngx_process_cycle.c
        topic: "nginx",
        names: &[
            "chown",
            "fchownat",
            "pwrite64",
            "rt_sigsuspend",
            "sched_setaffinity",
            "sendmsg",
            "setrlimit",
        ],
    },
    Group {
        // PostgreSQL: src/backend/port/sysv_shmem.c (the small System V segment:
        // shmget/shmat/shmdt/shmctl), src/backend/port/sysv_sema.c (System V semaphores
        // where unnamed POSIX ones are not used), src/backend/storage/ipc/latch.c (epoll, and
        // signalfd for latches since 16), src/backend/storage/file/fd.c (fsync, fdatasync,
        // sync_file_range, posix_fadvise, posix_fallocate, preadv/pwritev, syncfs for
        // recovery_init_sync_method), src/backend/storage/ipc/dsm_impl.c (shm_open on
        // /dev/shm, ftruncate, fallocate), pg_usleep with select, statement_timeout with
        // setitimer, PR_SET_PDEATHSIG with prctl.
        // https://github.com/postgres/postgres/blob/REL_16_0/src/backend/storage/ipc/latch.c
        // Redis adds nothing to the groups above: src/ae_epoll.c (epoll), src/rdb.c and
        // src/aof.c (fork through clone for BGSAVE and rewrites, wait4, rename, fsync,
        // ftruncate; src/config.h maps rdb_fsync_range to sync_file_range on Linux),
        // src/setcpuaffinity.c (sched_setaffinity), src/server.c (getrusage for INFO).
        // https://github.com/redis/redis/blob/7.2.4/src/config.h
        topic: "PostgreSQL",
        names: &[
            "link",
            "linkat",
            "renameat",
            "semctl",
            "semget",
            "semop",
            "semtimedop",
            "shmat",
            "shmctl",
            "shmdt",
            "shmget",
            "signalfd4",
            "sync_file_range",
            "syncfs",
        ],
    },
    Group {
        // aarch64 has none of x86_64's legacy path and descriptor calls: its C libraries and
        // Go call the *at and numbered forms instead (asm-generic/unistd.h). The groups above
        // were read and learned on x86_64; these are the forms aarch64 needs for the legacy
        // names they allow, where no group allows them already ([`AARCH64_FORMS`], checked
        // by a test).
        topic: "aarch64 forms of the legacy calls",
        names: &["fchmodat", "mkdirat", "readlinkat", "renameat2"],
    },
];

/// The x86_64-only names a preset may allow, and what aarch64 calls instead (glibc, musl and
/// Go on aarch64; `arch_prctl` has no counterpart: aarch64 sets TLS in a register).
#[cfg_attr(not(test), allow(dead_code))]
pub(super) const AARCH64_FORMS: &[(&str, &[&str])] = &[
    ("access", &["faccessat"]),
    ("alarm", &["setitimer"]),
    ("chmod", &["fchmodat"]),
    ("chown", &["fchownat"]),
    ("dup2", &["dup3"]),
    ("epoll_create", &["epoll_create1"]),
    ("epoll_wait", &["epoll_pwait"]),
    ("fork", &["clone"]),
    ("getpgrp", &["getpgid"]),
    ("lchown", &["fchownat"]),
    ("link", &["linkat"]),
    ("lstat", &["newfstatat"]),
    ("mkdir", &["mkdirat"]),
    ("mknod", &["mknodat"]),
    ("open", &["openat"]),
    ("pause", &["ppoll"]),
    ("pipe", &["pipe2"]),
    ("poll", &["ppoll"]),
    ("readlink", &["readlinkat"]),
    ("rename", &["renameat", "renameat2"]),
    ("rmdir", &["unlinkat"]),
    ("select", &["pselect6"]),
    ("stat", &["newfstatat"]),
    ("symlink", &["symlinkat"]),
    ("unlink", &["unlinkat"]),
    ("vfork", &["clone"]),
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
