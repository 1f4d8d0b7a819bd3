//! From a [`Policy`] to the JSON profile.

use super::{
    intern, normalize_cap, presets, syscall_number, unconditional, Arch, Arg, Policy, Preset,
};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

const ERRNO_EPERM: u32 = 1;
const ERRNO_ENOSYS: u32 = 38;

/// The decisions of one policy, before they become JSON.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Resolved {
    /// Allowed whatever the arguments.
    pub allow: BTreeSet<&'static str>,
    /// Allowed when any one of the checks matches.
    pub filtered: BTreeMap<&'static str, BTreeSet<Arg>>,
    /// Answered with ENOSYS so that libc falls back to an older call.
    pub enosys: BTreeSet<&'static str>,
}

pub(super) fn resolve(policy: &Policy) -> Resolved {
    let caps: BTreeSet<String> = policy.caps.iter().map(|c| normalize_cap(c)).collect();
    let mut allow = unconditional(policy.preset);
    let mut filtered = presets::filtered(policy.preset, &caps);

    for (cap, names) in presets::CAP_GRANTS {
        if caps.contains(*cap) {
            allow.extend(names.iter().copied());
        }
    }
    // The caller validates names; one that is no syscall anywhere could not
    // be enforced (runc ignores unknown names), so it is not written.
    for name in policy.allow.iter().filter_map(|n| intern(n)) {
        allow.insert(name);
    }
    if policy.preset == Preset::Learned {
        // A learned profile keeps the argument checks on what it learned (the caller
        // leaves a learned `clone3`, whose flags cannot be checked, out: it gets ENOSYS
        // below and libc falls back to the checked `clone`).
        filtered.retain(|name, _| allow.contains(name));
        for name in filtered.keys() {
            allow.remove(name);
        }
    }
    // An unconditional allow makes argument checks on the same call moot.
    filtered.retain(|name, _| !allow.contains(name));
    for name in &policy.deny {
        allow.remove(name.as_str());
        filtered.remove(name.as_str());
    }

    let mut enosys = BTreeSet::new();
    if !allow.contains("clone3") && !filtered.contains_key("clone3") {
        let named = allow.iter().chain(filtered.keys());
        let highest_above_clone3 = named.into_iter().any(|name| {
            Arch::ALL.iter().any(|&arch| {
                match (syscall_number(arch, name), syscall_number(arch, "clone3")) {
                    (Some(nr), Some(clone3)) => nr > clone3,
                    _ => false,
                }
            })
        });
        if highest_above_clone3 {
            enosys.insert("clone3");
        }
    }

    Resolved {
        allow,
        filtered,
        enosys,
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    default_action: &'static str,
    default_errno_ret: u32,
    architectures: Vec<&'static str>,
    syscalls: Vec<Rule>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    names: Vec<&'static str>,
    action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    errno_ret: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    args: Vec<JsonArg>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonArg {
    index: u32,
    value: u64,
    value_two: u64,
    op: &'static str,
}

impl From<&Arg> for JsonArg {
    fn from(arg: &Arg) -> Self {
        JsonArg {
            index: arg.index,
            value: arg.value,
            value_two: arg.value_two,
            op: arg.op.scmp_name(),
        }
    }
}

/// The profile for `policy` as pretty JSON with a trailing newline. The same
/// policy always gives the same bytes: names are sorted, rules come in a
/// fixed order, keys in declaration order.
pub fn render_profile(policy: &Policy) -> String {
    let resolved = resolve(policy);
    let mut syscalls = Vec::new();
    if !resolved.allow.is_empty() {
        syscalls.push(Rule {
            names: resolved.allow.iter().copied().collect(),
            action: "SCMP_ACT_ALLOW",
            errno_ret: None,
            args: Vec::new(),
        });
    }
    // One rule per alternative: OCI runtimes AND the checks inside a rule.
    for (name, checks) in &resolved.filtered {
        for check in checks {
            syscalls.push(Rule {
                names: vec![name],
                action: "SCMP_ACT_ALLOW",
                errno_ret: None,
                args: vec![JsonArg::from(check)],
            });
        }
    }
    if !resolved.enosys.is_empty() {
        syscalls.push(Rule {
            names: resolved.enosys.iter().copied().collect(),
            action: "SCMP_ACT_ERRNO",
            errno_ret: Some(ERRNO_ENOSYS),
            args: Vec::new(),
        });
    }
    let profile = Profile {
        default_action: "SCMP_ACT_ERRNO",
        default_errno_ret: ERRNO_EPERM,
        architectures: Arch::ALL.iter().map(|a| a.scmp_name()).collect(),
        syscalls,
    };
    let mut json =
        serde_json::to_string_pretty(&profile).expect("bug: a seccomp profile always serialises");
    json.push('\n');
    json
}
