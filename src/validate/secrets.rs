//! `[secrets.NAME]`: random secrets and templated ones, and secrets that leak into the
//! environment or a process's arguments.

use super::*;

pub fn looks_secret(key: &str) -> bool {
    let k = key.to_ascii_uppercase();
    if k.ends_with("_FILE") {
        return false;
    }
    [
        "PASSWORD",
        "PASSWD",
        "SECRET",
        "TOKEN",
        "API_KEY",
        "APIKEY",
        "PRIVATE_KEY",
        "MASTER_KEY",
    ]
    .iter()
    .any(|w| k.contains(w))
}

impl Validator<'_> {
    /// A secret built from other secrets (`template`): printable text, `{name}` naming
    /// random secrets of the spec.
    pub(super) fn secret_template(
        &mut self,
        raw: &RawSpec,
        t: &Sp<String>,
        bytes: Option<&Sp<u32>>,
    ) -> Option<Vec<TemplatePart>> {
        let mut ok = true;
        if let Some(b) = bytes {
            self.push(
                Diagnostic::error(
                    "E043",
                    "a secret with a `template` has no random bytes of its own",
                )
                .at(b.span.clone(), "not used")
                .help("remove `bytes`: set it on the secrets the template names"),
            );
            ok = false;
        }
        if t.value.chars().count() > 4096
            || t.value
                .chars()
                .any(|c| !(c == '\n' || c == '\t' || (' '..='~').contains(&c)))
        {
            self.push(
                Diagnostic::error("E043", "a secret's template holds printable ASCII, newlines and tabs, at most 4096 characters")
                    .at(t.span.clone(), "invalid character or too long")
                    .help("write the config line in plain ASCII (`\\n` ends a line), e.g. `template = \"requirepass {redis_password}\\n\"`"),
            );
            return None;
        }
        let parts = match TemplatePart::parse(&t.value) {
            Ok(p) => p,
            Err(e) => {
                self.push(
                    Diagnostic::error("E043", e)
                        .at(t.span.clone(), "invalid template")
                        .help("`{name}` stands for the value of the random secret `name`; a template holds no other brace"),
                );
                return None;
            }
        };
        let names: Vec<&str> = raw.secrets.keys().map(|k| k.value.as_str()).collect();
        let mut any = false;
        for p in &parts {
            let TemplatePart::Secret(n) = p else { continue };
            any = true;
            match raw.secrets.iter().find(|(k, _)| &k.value == n) {
                None => {
                    self.push(
                        Diagnostic::error(
                            "E008",
                            format!("unknown secret `{}` in the template", show(n)),
                        )
                        .at(t.span.clone(), "no such secret")
                        .help_opt(
                            did_you_mean(n, names.iter().copied()).or_else(|| {
                                Some("declare it with `[secrets.NAME]` (random bytes)".into())
                            }),
                        ),
                    );
                    ok = false;
                }
                Some((_, other)) if other.template.is_some() => {
                    self.push(
                        Diagnostic::error(
                            "E043",
                            format!(
                                "`{n}` has a template itself: a template names random secrets only"
                            ),
                        )
                        .at(t.span.clone(), "names a templated secret")
                        .help(format!("name the random secret that `{n}` is built from")),
                    );
                    ok = false;
                }
                Some(_) => {}
            }
        }
        if !any {
            self.push(
                Diagnostic::error("E043", "a secret's template names no secret: it would hold no secret value")
                    .at(t.span.clone(), "no `{name}`")
                    .help("write `{name}` where the value of the random secret `name` goes, e.g. `template = \"requirepass {redis_password}\"`"),
            );
            ok = false;
        }
        ok.then_some(parts)
    }

    /// W106: a secret read into a process's arguments (`crate::argv`).
    pub(super) fn secrets_in_args(&mut self, n: &str, s: &RawService) {
        let lists = [
            (
                s.build.as_ref().and_then(|b| b.command.as_deref()),
                "build.command",
            ),
            (s.command.as_deref(), "command"),
            (
                s.healthcheck.as_ref().and_then(|h| h.cmd.as_deref()),
                "healthcheck.cmd",
            ),
        ];
        for (list, what) in lists {
            let Some(list) = list else { continue };
            let values: Vec<String> = list.iter().map(|a| a.value.clone()).collect();
            for f in crate::argv::secrets_in_args(&values) {
                self.push(
                    Diagnostic::warning(
                        "W106",
                        format!(
                            "service `{n}`: `{what}` puts the secret `{}` into a process's arguments, which every user of the host can read (`ps`)",
                            show(&f.secret)
                        ),
                    )
                    .at(list[f.arg].span.clone(), "secret in the arguments")
                    .help("let the program read the file itself: a `*_FILE` variable, a `--password-file` option, or a secret that is the program's config fragment (`[secrets.redis_conf]` with `template = \"requirepass {redis_password}\"`, then `command = [\"redis-server\", \"/run/secrets/redis_conf\"]`); a client tool can take it from the environment (`REDISCLI_AUTH=\"$(cat /run/secrets/...)\" redis-cli ping`)"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_env() {
        assert!(looks_secret("POSTGRES_PASSWORD"));
        assert!(!looks_secret("POSTGRES_PASSWORD_FILE"));
        assert!(!looks_secret("LOG_LEVEL"));
    }
}
