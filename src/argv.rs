//! Secrets that reach a process's arguments. Arguments are world-readable on the host
//! (`ps`, `/proc/PID/cmdline`), unlike the secret file (owner and mode) or a process's
//! environment (`/proc/PID/environ`: its own user and root only).
//!
//! Found in an exec-form list (`command`, `build.command`, `healthcheck.cmd`):
//! - a shell reading a secret file into a word that is not an assignment:
//!   `--requirepass "$(cat /run/secrets/x)"`, `$(< /run/secrets/x)`, `` `cat /run/secrets/x` ``;
//! - a shell variable read from a secret file and then used as a word: `p=$(cat
//!   /run/secrets/x); exec app --password "$p"`, `read -r p </run/secrets/x; app "$p"`;
//! - the path itself after a password-like flag (`--requirepass /run/secrets/x`): the
//!   program takes the path as the password.
//!
//! `VAR="$(cat /run/secrets/x)" app` and `export VAR=...` pass it through the environment:
//! not reported.

const SECRETS_DIR: &str = "/run/secrets/";

/// One finding: the argument's index and the secret's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretInArgs {
    pub arg: usize,
    pub secret: String,
}

fn secret_name_at(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .collect()
}

fn is_ident(s: &str) -> bool {
    let mut b = s.bytes();
    b.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// The variable assigned when `before` (the text up to a value) ends with `NAME=` or
/// `NAME="`.
fn assigned_var(before: &str) -> Option<&str> {
    let b = before.strip_suffix('"').unwrap_or(before);
    let b = b.strip_suffix('=')?;
    // After the last character that cannot be in a name (which may be several bytes long).
    let start = b
        .char_indices()
        .rev()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let name = &b[start..];
    is_ident(name).then_some(name)
}

/// A flag whose value is a password or key, not a file: `--requirepass`, `--password`,
/// `--auth-token`; not `--password-file`.
fn password_flag(flag: &str) -> bool {
    let f = flag.to_ascii_lowercase();
    f.starts_with('-')
        && ["pass", "secret", "token", "auth", "key", "cred"]
            .iter()
            .any(|w| f.contains(w))
        && !["file", "path", "dir"].iter().any(|w| f.contains(w))
}

/// Whether `s` holds [`SECRETS_DIR`]. Most arguments are a few bytes without the path: a
/// byte scan rules them out for a fraction of what setting up `match_indices`' substring
/// searcher costs (21,750 calls, 11 M instructions of a build at 1,000 services).
fn mentions_secrets_dir(s: &str) -> bool {
    let dir = SECRETS_DIR.as_bytes();
    s.as_bytes().windows(dir.len()).any(|w| w == dir)
}

/// Where the secret files of a shell string are read into a value: (byte offset of the
/// value's start, secret name), for `$(cat F)`, `$(< F)`, `` `cat F` ``.
fn substitutions(s: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    if !mentions_secrets_dir(s) {
        return out;
    }
    for (p, _) in s.match_indices(SECRETS_DIR) {
        let before = &s[..p];
        let open = [before.rfind("$("), before.rfind('`')]
            .into_iter()
            .flatten()
            .max();
        let Some(open) = open else { continue };
        // Still inside it: no closing `)` between the opening and the path.
        if s[open..p].contains(')') {
            continue;
        }
        let inner = s[open..p]
            .trim_start_matches("$(")
            .trim_start_matches('`')
            .trim();
        let reads = inner.is_empty()
            || inner == "<"
            || inner.starts_with("cat")
            || inner.starts_with("head")
            || inner.starts_with("tr")
            || inner.ends_with('<')
            || inner.ends_with("\"")
            || inner.ends_with('\'');
        if reads {
            out.push((open, secret_name_at(&s[p + SECRETS_DIR.len()..])));
        }
    }
    out
}

/// Variables a shell string reads from secret files: `NAME=$(cat F)` and `read [-r] NAME < F`.
fn tainted_vars(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (at, secret) in substitutions(s) {
        if let Some(v) = assigned_var(&s[..at]) {
            out.push((v.to_string(), secret));
        }
    }
    for (p, _) in s.match_indices("read ") {
        let rest = &s[p + 5..];
        let stmt = rest.split([';', '\n', '&', '|']).next().unwrap_or("");
        let Some(redirect) = stmt.find('<') else {
            continue;
        };
        let path = stmt[redirect + 1..].trim().trim_matches(['"', '\'']);
        let Some(secret) = path.strip_prefix(SECRETS_DIR) else {
            continue;
        };
        for w in stmt[..redirect].split_whitespace() {
            if is_ident(w) {
                out.push((w.to_string(), secret_name_at(secret)));
            }
        }
    }
    out
}

/// Uses of `$NAME` / `${NAME}` that are words (not the value of an assignment).
fn word_uses(s: &str, name: &str) -> bool {
    for pat in [format!("${{{name}}}"), format!("${name}")] {
        for (p, _) in s.match_indices(&pat) {
            let after = &s[p + pat.len()..];
            // `$NAME` must not run on into a longer name.
            if !pat.starts_with("${")
                && after
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                continue;
            }
            if assigned_var(&s[..p]).is_none() {
                return true;
            }
        }
    }
    false
}

/// Every secret an exec-form list puts into a process's arguments.
pub fn secrets_in_args(args: &[String]) -> Vec<SecretInArgs> {
    let mut out: Vec<SecretInArgs> = Vec::new();
    let mut push = |arg: usize, secret: String| {
        let f = SecretInArgs { arg, secret };
        if !out.contains(&f) {
            out.push(f);
        }
    };
    for (i, a) in args.iter().enumerate() {
        // Every finding below names a secret by the path in `a` itself (a substitution's or
        // a `read`'s file, the value after a password flag, a `--flag=` value, a word of a
        // shell string): an argument without the directory has none.
        if !mentions_secrets_dir(a) {
            continue;
        }
        for (at, secret) in substitutions(a) {
            if assigned_var(&a[..at]).is_none() {
                push(i, secret);
            }
        }
        for (var, secret) in tainted_vars(a) {
            if word_uses(a, &var) {
                push(i, secret);
            }
        }
        // The path as the value of a password flag.
        if let Some(rest) = a.strip_prefix(SECRETS_DIR) {
            if i > 0 && password_flag(&args[i - 1]) {
                push(i, secret_name_at(rest));
            }
        }
        if let Some((flag, value)) = a.split_once('=') {
            if let Some(rest) = value.strip_prefix(SECRETS_DIR) {
                if password_flag(flag) {
                    push(i, secret_name_at(rest));
                }
            }
        }
        // The same, inside a shell string: `--requirepass /run/secrets/x`.
        let words: Vec<&str> = a.split_whitespace().collect();
        for w in words.windows(2) {
            let v = w[1].trim_matches(['"', '\'']);
            if let Some(rest) = v.strip_prefix(SECRETS_DIR) {
                if password_flag(w[0]) {
                    push(i, secret_name_at(rest));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the property tests: a multi-byte character just before `NAME=` was sliced
    /// through (a panic on user input).
    #[test]
    fn names_after_multi_byte_characters() {
        assert_eq!(assigned_var("é="), None);
        assert_eq!(assigned_var("échoPASS="), Some("choPASS"));
        assert_eq!(assigned_var("x→TOKEN=\""), Some("TOKEN"));
        for s in ["€=", "a€=", "€", "=€=", "ü_ü="] {
            let _ = assigned_var(s);
        }
    }

    fn found(args: &[&str]) -> Vec<String> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        secrets_in_args(&args)
            .into_iter()
            .map(|f| format!("{}:{}", f.arg, f.secret))
            .collect()
    }

    #[test]
    fn finds_secrets_read_into_arguments() {
        for (args, want) in [
            (
                &[
                    "sh",
                    "-c",
                    "exec redis-server --requirepass \"$(cat /run/secrets/redis_password)\"",
                ][..],
                "2:redis_password",
            ),
            (
                &["sh", "-c", "app --password $(< /run/secrets/pw)"][..],
                "2:pw",
            ),
            (&["sh", "-c", "app -p `cat /run/secrets/pw`"][..], "2:pw"),
            (
                &[
                    "sh",
                    "-c",
                    "p=$(cat /run/secrets/pw); exec app --password \"$p\"",
                ][..],
                "2:pw",
            ),
            (
                &["sh", "-c", "read -r p </run/secrets/pw; exec app \"${p}\""][..],
                "2:pw",
            ),
            (
                &["redis-server", "--requirepass", "/run/secrets/pw"][..],
                "2:pw",
            ),
            (&["app", "--password=/run/secrets/pw"][..], "1:pw"),
            (
                &[
                    "sh",
                    "-c",
                    "redis-cli -a \"$(cat /run/secrets/redis_password)\" ping",
                ][..],
                "2:redis_password",
            ),
        ] {
            assert_eq!(found(args), vec![want.to_string()], "{args:?}");
        }
    }

    #[test]
    fn environment_and_file_options_are_not_arguments() {
        for args in [
            &["redis-server", "/run/secrets/redis_conf"][..],
            &["app", "--password-file", "/run/secrets/pw"][..],
            &["app", "--password-file=/run/secrets/pw"][..],
            &[
                "sh",
                "-c",
                "REDISCLI_AUTH=\"$(cat /run/secrets/pw)\" redis-cli ping",
            ][..],
            &["sh", "-c", "export TOKEN=$(cat /run/secrets/pw); exec app"][..],
            &[
                "sh",
                "-c",
                "p=$(cat /run/secrets/pw); export P=\"$p\"; exec app",
            ][..],
            &["cat", "/run/secrets/pw"][..],
        ] {
            let f = found(args);
            assert!(f.is_empty(), "{args:?}: {f:?}");
        }
    }
}
