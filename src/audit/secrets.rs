//! Credentials in a service's environment and command: secret-like names, URLs with a password,
//! literal values, credential flags.

use crate::compose_in::Cmd;

/// A credential-looking variable name (`looks_secret`, plus `*_KEY`).
pub fn secret_name(name: &str) -> bool {
    let k = name.to_ascii_uppercase();
    crate::validate::looks_secret(&k)
        || (k.ends_with("_KEY") && !k.ends_with("PUBLIC_KEY"))
        || k.ends_with("_PASS")
}

/// A URL with a password in it (`scheme://user:password@host`), the password returned.
pub fn url_password(value: &str) -> Option<&str> {
    let (_, rest) = value.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, pass) = userinfo.split_once(':')?;
    (!pass.is_empty() && !pass.contains('$')).then_some(pass)
}

/// A literal credential value: not empty, not a file path hardgen or the image reads, not
/// something the shell expands at run time.
pub fn literal_secret(value: &str) -> bool {
    !value.is_empty()
        && !value.starts_with("/run/secrets/")
        && !value.starts_with('/')
        && !value.contains('$')
}

/// A credential value in the environment: not empty and not a file's path (`$` is
/// literal there: nothing expands it).
pub fn env_secret_value(value: &str) -> bool {
    !value.is_empty() && !value.starts_with('/')
}

const SECRET_FLAGS: &[&str] = &[
    "--password",
    "--requirepass",
    "--masterauth",
    "--token",
    "--api-key",
    "--apikey",
    "--secret",
    "--auth-token",
    "--access-key",
    "--secret-key",
    "--db-password",
];

/// Arguments that carry a credential in clear: `--password=x`, `--requirepass x`,
/// `PASSWORD=x` inside a shell string, a URL with a password.
pub fn secret_args(cmd: &Cmd) -> Vec<String> {
    let words: Vec<String> = cmd
        .words()
        .iter()
        .flat_map(|w| w.split_whitespace().map(String::from).collect::<Vec<_>>())
        .collect();
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let w = w.trim_matches(|c| c == '"' || c == '\'');
        let lower = w.to_ascii_lowercase();
        if let Some(f) = SECRET_FLAGS.iter().find(|f| lower == **f) {
            if let Some(next) = words.get(i + 1) {
                if literal_secret(next.trim_matches('"')) && !next.starts_with('-') {
                    out.push(f.to_string());
                }
            }
        } else if let Some((k, val)) = w.split_once('=') {
            let k2 = k.to_ascii_lowercase();
            let flag = SECRET_FLAGS.contains(&k2.as_str());
            let var = !k.starts_with('-') && secret_name(k.trim_start_matches('-'));
            if (flag || var) && literal_secret(val) {
                out.push(k.to_string());
            }
        }
        if url_password(w).is_some() {
            out.push("a URL with a password".into());
        }
    }
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_detection() {
        assert!(
            secret_name("POSTGRES_PASSWORD")
                && secret_name("API_KEY")
                && secret_name("ENCRYPTION_KEY")
        );
        assert!(!secret_name("POSTGRES_PASSWORD_FILE") && !secret_name("DB_HOST"));
        assert_eq!(url_password("postgres://u:pw@db:5432/x"), Some("pw"));
        assert_eq!(url_password("redis://db:6379"), None);
        let c = Cmd::Shell("redis-server --requirepass s3cret --appendonly yes".into());
        assert_eq!(secret_args(&c), vec!["--requirepass".to_string()]);
        let c = Cmd::Exec(vec![
            "sh".into(),
            "-c".into(),
            "redis-server --requirepass \"$(cat /run/secrets/x)\"".into(),
        ]);
        assert!(secret_args(&c).is_empty());
        assert!(!secret_args(&Cmd::Exec(vec!["--password=hunter2".into()])).is_empty());
    }
}
