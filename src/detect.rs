//! Detection derived from the model: each service's process allowlist (enforced by
//! `scripts/security-check.sh`, also the basis of the Falco rules' "own program tree").
//!
//! A process is named by its `comm` (what `/proc/PID/comm` and `ps -o comm` show: the base
//! name of the file it executed, at most 15 bytes; for a `#!` script, the script's name).

use crate::model::*;

/// The kernel keeps 15 bytes of a program's name (`TASK_COMM_LEN` 16 with the NUL).
pub const COMM_LEN: usize = 15;

/// Where an allowlist entry comes from (shown in the generated comments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowlist {
    /// Program names as `comm` shows them (truncated to 15 bytes), sorted, unique.
    pub names: Vec<String>,
    /// False when the service runs its image's own command (no `command` in the spec, not
    /// built by hardgen) and the spec lists no `processes`: hardgen does not know its
    /// programs, and the check reports the service as not checked rather than guessing.
    pub known: bool,
}

/// A program name as the kernel records it: the base name of the path, 15 bytes at most (cut
/// on a character boundary; names are ASCII after validation anyway).
pub fn comm_of(program: &str) -> String {
    let base = program.rsplit('/').next().unwrap_or(program);
    let mut end = base.len().min(COMM_LEN);
    while !base.is_char_boundary(end) {
        end -= 1;
    }
    base[..end].to_string()
}

const SHELLS: &[&str] = &["sh", "bash", "dash", "ash", "zsh", "ksh", "busybox sh"];

/// Words a shell reads as keywords or prefixes, not as the program a segment runs.
const SHELL_PREFIXES: &[&str] = &[
    "exec", "command", "env", "nohup", "then", "do", "else", "elif", "if", "while", "until", "!",
    "{", "}", "time", "fi", "done", "esac",
];

/// The programs a `sh -c SCRIPT` runs: the first word of every simple command (after `&&`,
/// `||`, `;`, `|`, `&`, `$(`, a backquote, a parenthesis or a line break), skipping
/// keywords, `exec`/`env` and variable assignments. A heuristic: a script that builds
/// program names at run time needs `processes`.
pub fn script_programs(script: &str) -> Vec<String> {
    // Split into segments, each marked with whether it starts a command: after `)` (the end
    // of a `$(...)` or a subshell) the words still belong to the enclosing command.
    let mut segments: Vec<(bool, String)> = vec![(true, String::new())];
    let mut in_backquote = false;
    let mut chars = script.chars().peekable();
    while let Some(c) = chars.next() {
        let starts = match c {
            '&' | '|' => {
                if chars.peek() == Some(&c) {
                    chars.next();
                }
                Some(true)
            }
            ';' | '\n' | '(' => Some(true),
            '$' if chars.peek() == Some(&'(') => {
                chars.next();
                Some(true)
            }
            ')' => Some(false),
            '`' => {
                in_backquote = !in_backquote;
                Some(in_backquote)
            }
            _ => None,
        };
        match starts {
            Some(st) => segments.push((st, String::new())),
            None => segments.last_mut().expect("one segment").1.push(c),
        }
    }
    let mut out = Vec::new();
    for (_, seg) in segments.iter().filter(|(starts, _)| *starts) {
        let words = seg
            .split_whitespace()
            .map(|w| w.trim_matches(|c| c == '"' || c == '\''));
        for w in words {
            if w.is_empty()
                || SHELL_PREFIXES.contains(&w)
                || w.starts_with('-')
                || (w.contains('=') && !w.starts_with('='))
                || w.starts_with('<')
                || w.starts_with('>')
            {
                continue;
            }
            if w.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-' | b'+'))
            {
                out.push(comm_of(w));
            }
            break;
        }
    }
    out
}

/// The programs an exec-form command runs: its program, and for `sh -c SCRIPT` the
/// script's programs too.
fn command_programs(cmd: &[String]) -> Vec<String> {
    let Some(first) = cmd.first() else {
        return Vec::new();
    };
    let mut out = vec![comm_of(first)];
    let prog = comm_of(first);
    if SHELLS.contains(&prog.as_str()) {
        if let Some(i) = cmd.iter().position(|a| a == "-c") {
            if let Some(script) = cmd.get(i + 1) {
                out.extend(script_programs(script));
            }
        }
    }
    out
}

/// The programs a runtime preset's image runs for its command: the interpreter under the
/// names it is installed as (the official images link `python3` and `python3.X` to the same
/// file; `comm` is the name the command used).
fn runtime_programs(b: &Build) -> Vec<String> {
    match b.runtime {
        Runtime::Python => {
            let mut v = vec!["python".to_string(), "python3".to_string()];
            if let Some(ver) = &b.version {
                let minor: Vec<&str> = ver.split('.').take(2).collect();
                v.push(comm_of(&format!("python{}", minor.join("."))));
            }
            v
        }
        Runtime::Node => vec!["node".to_string()],
        Runtime::Go | Runtime::Rust | Runtime::Static => Vec::new(),
    }
}

/// A name the generated shell and Falco lists can carry as it is.
pub fn name_ok(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= COMM_LEN
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+'))
}

/// The process allowlist of a service.
pub fn allowlist(s: &Service) -> Allowlist {
    let mut names: Vec<String> = Vec::new();
    let mut known = !s.processes.is_empty();
    if s.init {
        // Docker's init (tini) is PID 1 and parent of the command.
        names.push("docker-init".into());
    }
    if let Some(cmd) = &s.command {
        names.extend(command_programs(cmd));
        known = true;
    }
    if let Source::Build(b) = &s.source {
        known = true;
        if s.command.is_none() {
            names.extend(command_programs(&b.command));
        }
        names.extend(runtime_programs(b));
        if b.integrity {
            // The integrity entrypoint (POSIX sh) checks the files, then execs the command.
            names.extend(["sh", "sha256sum", "sed"].map(String::from));
            names.push(comm_of("hardgen-entrypoint"));
        }
    }
    if let Some(h) = &s.health {
        // Health checks run by `docker exec` in the container: a check may catch one.
        names.extend(command_programs(&h.cmd));
    }
    names.extend(s.processes.iter().map(|p| comm_of(p)));
    // Only plain names reach the scripts and rules; a program named otherwise (quotes,
    // spaces...) is not allowed, so a process of that name is reported: fail closed.
    names.retain(|n| name_ok(n));
    names.sort();
    names.dedup();
    Allowlist { names, known }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comm_is_the_truncated_base_name() {
        assert_eq!(
            comm_of("/usr/local/bin/docker-entrypoint.sh"),
            "docker-entrypoi"
        );
        assert_eq!(comm_of("python"), "python");
    }

    #[test]
    fn shell_scripts_name_their_programs() {
        assert_eq!(
            script_programs(
                "exec redis-server --appendonly yes --requirepass \"$(cat /run/secrets/x)\""
            ),
            ["redis-server", "cat"]
        );
        assert_eq!(
            script_programs("redis-cli -a \"$(cat /run/secrets/x)\" ping | grep -q PONG"),
            ["redis-cli", "cat", "grep"]
        );
        assert_eq!(
            script_programs("a `b x` c; (d) e | f"),
            ["a", "b", "d", "f"]
        );
        assert_eq!(
            script_programs("httpd -p 8081 -h /tmp && exec httpd -f -p 8080 -h /tmp"),
            ["httpd", "httpd"]
        );
        assert_eq!(
            script_programs("FOO=1 env BAR=2 /usr/bin/app --x; if true; then run; fi"),
            ["app", "true", "run"]
        );
    }
}
