//! Linux capabilities hardgen knows, and which of them it calls dangerous.

use schemars::JsonSchema;

/// A Linux capability name without the `CAP_` prefix (as in `cap_add`).
#[derive(JsonSchema)]
#[allow(non_camel_case_types, clippy::upper_case_acronyms, dead_code)]
pub enum Capability {
    AUDIT_CONTROL,
    AUDIT_READ,
    AUDIT_WRITE,
    BLOCK_SUSPEND,
    BPF,
    CHECKPOINT_RESTORE,
    CHOWN,
    DAC_OVERRIDE,
    DAC_READ_SEARCH,
    FOWNER,
    FSETID,
    IPC_LOCK,
    IPC_OWNER,
    KILL,
    LEASE,
    LINUX_IMMUTABLE,
    MAC_ADMIN,
    MAC_OVERRIDE,
    MKNOD,
    NET_ADMIN,
    NET_BIND_SERVICE,
    NET_BROADCAST,
    NET_RAW,
    PERFMON,
    SETFCAP,
    SETGID,
    SETPCAP,
    SETUID,
    SYSLOG,
    SYS_ADMIN,
    SYS_BOOT,
    SYS_CHROOT,
    SYS_MODULE,
    SYS_NICE,
    SYS_PACCT,
    SYS_PTRACE,
    SYS_RAWIO,
    SYS_RESOURCE,
    SYS_TIME,
    SYS_TTY_CONFIG,
    WAKE_ALARM,
}

/// Every capability name, sorted (the same list as the `Capability` schema enum; a test
/// keeps them equal).
pub const ALL: &[&str] = &[
    "AUDIT_CONTROL",
    "AUDIT_READ",
    "AUDIT_WRITE",
    "BLOCK_SUSPEND",
    "BPF",
    "CHECKPOINT_RESTORE",
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "IPC_LOCK",
    "IPC_OWNER",
    "KILL",
    "LEASE",
    "LINUX_IMMUTABLE",
    "MAC_ADMIN",
    "MAC_OVERRIDE",
    "MKNOD",
    "NET_ADMIN",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_RAW",
    "PERFMON",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYSLOG",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_CHROOT",
    "SYS_MODULE",
    "SYS_NICE",
    "SYS_PACCT",
    "SYS_PTRACE",
    "SYS_RAWIO",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "WAKE_ALARM",
];

/// Capabilities that let a container escape, spy on or reconfigure the host or other
/// containers: adding one needs `unsafe.dangerous_caps` with a reason.
pub const DANGEROUS: &[&str] = &[
    "AUDIT_CONTROL",
    "BPF",
    "CHECKPOINT_RESTORE",
    "DAC_READ_SEARCH",
    "LINUX_IMMUTABLE",
    "MAC_ADMIN",
    "MAC_OVERRIDE",
    "NET_ADMIN",
    "PERFMON",
    "SETFCAP",
    "SETPCAP",
    "SYSLOG",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_MODULE",
    "SYS_PACCT",
    "SYS_PTRACE",
    "SYS_RAWIO",
    "SYS_TIME",
];

pub fn is_capability(name: &str) -> bool {
    ALL.binary_search(&name).is_ok()
}

pub fn is_dangerous(name: &str) -> bool {
    DANGEROUS.binary_search(&name).is_ok()
}

/// The bit of a capability in `/proc/<pid>/status` `CapEff` (linux/capability.h).
pub fn bit(name: &str) -> Option<u32> {
    const BITS: &[(&str, u32)] = &[
        ("CHOWN", 0),
        ("DAC_OVERRIDE", 1),
        ("DAC_READ_SEARCH", 2),
        ("FOWNER", 3),
        ("FSETID", 4),
        ("KILL", 5),
        ("SETGID", 6),
        ("SETUID", 7),
        ("SETPCAP", 8),
        ("LINUX_IMMUTABLE", 9),
        ("NET_BIND_SERVICE", 10),
        ("NET_BROADCAST", 11),
        ("NET_ADMIN", 12),
        ("NET_RAW", 13),
        ("IPC_LOCK", 14),
        ("IPC_OWNER", 15),
        ("SYS_MODULE", 16),
        ("SYS_RAWIO", 17),
        ("SYS_CHROOT", 18),
        ("SYS_PTRACE", 19),
        ("SYS_PACCT", 20),
        ("SYS_ADMIN", 21),
        ("SYS_BOOT", 22),
        ("SYS_NICE", 23),
        ("SYS_RESOURCE", 24),
        ("SYS_TIME", 25),
        ("SYS_TTY_CONFIG", 26),
        ("MKNOD", 27),
        ("LEASE", 28),
        ("AUDIT_WRITE", 29),
        ("AUDIT_CONTROL", 30),
        ("SETFCAP", 31),
        ("MAC_OVERRIDE", 32),
        ("MAC_ADMIN", 33),
        ("SYSLOG", 34),
        ("WAKE_ALARM", 35),
        ("BLOCK_SUSPEND", 36),
        ("AUDIT_READ", 37),
        ("PERFMON", 38),
        ("BPF", 39),
        ("CHECKPOINT_RESTORE", 40),
    ];
    BITS.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_sorted_and_consistent() {
        assert!(ALL.windows(2).all(|w| w[0] < w[1]));
        assert!(DANGEROUS.windows(2).all(|w| w[0] < w[1]));
        assert!(DANGEROUS.iter().all(|c| is_capability(c)));
        assert!(ALL.iter().all(|c| bit(c).is_some()));
    }

    #[test]
    fn schema_enum_matches_list() {
        let schema = schemars::schema_for!(Capability);
        let json = serde_json::to_value(&schema).unwrap();
        let names: Vec<&str> = json["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(names, ALL);
    }
}
