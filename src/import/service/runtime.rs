//! What a service runs with: its environment and secrets, its command, its health check
//! (credentials read from their secret files, never written into the spec).

use super::*;

impl Svc<'_> {
    /// Environment and secrets; the environment table is written last (a sub-table).
    pub(super) fn environment(&mut self, doc: &mut Doc) -> Environment {
        let cx = self.cx;
        let env_secret = &cx.secrets.env_secret;
        let cmd_secret = &cx.secrets.cmd_secret;
        let compose_secret_name = &cx.secrets.compose_secret_name;
        let s = self.s;
        let img = self.img;
        let mut env: BTreeMap<String, (String, Option<String>)> = BTreeMap::new();
        let mut svc_secrets: Vec<String> = Vec::new();
        for e in &s.environment {
            let Some(val) = &e.value else { continue };
            if let Some(sec) = env_secret.get(&(s.name.clone(), e.name.clone())) {
                if !svc_secrets.contains(sec) {
                    svc_secrets.push(sec.clone());
                }
                let file = format!("/run/secrets/{sec}");
                match img.and_then(|i| i.file_env.iter().find(|(v, _)| *v == e.name)) {
                    Some((_, fvar)) => {
                        env.insert(
                            fvar.to_string(),
                            (
                                file,
                                Some(format!("import: the image reads {} from this file", e.name)),
                            ),
                        );
                    }
                    None => {
                        env.insert(
                        format!("{}_FILE", e.name),
                        (file, Some(format!("TODO: {} was in the environment; it is now this file: make the application read it", e.name))),
                    );
                    }
                }
                continue;
            }
            if e.name.contains('.') && img.is_some_and(|i| i.names.contains(&"elasticsearch")) {
                let n = format!(
                    "ES_SETTING_{}",
                    e.name
                        .replace('_', "__")
                        .replace('.', "_")
                        .to_ascii_uppercase()
                );
                env.insert(
                    n,
                    (
                        val.clone(),
                        Some(format!(
                            "import: `{}` in the form the image takes for settings",
                            e.name
                        )),
                    ),
                );
                continue;
            }
            if !e
                .name
                .chars()
                .enumerate()
                .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()))
            {
                self.d(format!(
                    "environment variable `{}` has a name hardgen does not accept",
                    e.name
                ));
                continue;
            }
            let note = e
                .from_file
                .then(|| format!("import: from env_file {}", e.loc.file));
            env.insert(e.name.clone(), (val.clone(), note));
        }
        for r in &s.secrets {
            let sec = &compose_secret_name[&r.source];
            if !svc_secrets.contains(sec) {
                svc_secrets.push(sec.clone());
            }
            if r.target.as_deref().is_some_and(|t| t.contains('/')) {
                doc.comment(&format!(
                "TODO: compose mounted secret `{}` at {}; hardgen mounts it at /run/secrets/{sec}",
                r.source,
                r.target.as_deref().unwrap_or("")
            ));
            }
        }
        if s.build.is_none() {
            for (_, sec, _) in cmd_secret.get(&s.name).into_iter().flatten() {
                if !svc_secrets.contains(sec) {
                    svc_secrets.push(sec.clone());
                }
            }
        }
        if !svc_secrets.is_empty() {
            doc.line(&format!("secrets = {}", toml_list(&svc_secrets)), None);
        }

        (env, svc_secrets)
    }

    /// Command (credential arguments read from their secret files at start); the secret the health check may need.
    pub(super) fn command(&mut self, doc: &mut Doc) -> Option<String> {
        let cx = self.cx;
        let cmd_secret = &cx.secrets.cmd_secret;
        let s = self.s;
        let img = self.img;
        let mut health_secret: Option<String> = None;
        if let Some(c) = s.command.as_ref().filter(|_| s.build.is_none()) {
            let mut words = argv(&c.value);
            match cmd_secret.get(&s.name) {
                Some(found) if !found.is_empty() => {
                    let shell = img.is_some_and(|i| i.has_shell);
                    if !shell {
                        self.d("its command passes a credential and import does not know whether the image has a shell to read it from a file: read it from /run/secrets in the image".into());
                    } else {
                        let mut parts: Vec<String> = words.iter().map(|w| sh_quote(w)).collect();
                        for (i, sec, key) in found {
                            let read = format!("\"$(cat /run/secrets/{sec})\"");
                            parts[*i] = match key {
                                Some(k) => format!("{}={read}", sh_quote(k)),
                                None => read,
                            };
                            health_secret.get_or_insert(sec.clone());
                        }
                        words = vec![
                            "sh".into(),
                            "-c".into(),
                            format!("exec {}", parts.join(" ")),
                        ];
                        doc.line(&format!("command = {}", toml_list(&words)), Some("import: the credential is read from its secret file at start, not passed in clear".into()));
                    }
                }
                _ => doc.line(
                    &format!("command = {}", toml_list(&words)),
                    matches!(c.value, Cmd::Shell(_)).then(|| {
                        "import: the string command split into words as Compose does".into()
                    }),
                ),
            }
        }

        health_secret
    }

    /// Health check.
    pub(super) fn healthcheck(
        &mut self,
        doc: &mut Doc,
        svc_secrets: &[String],
        health_secret: Option<String>,
    ) {
        let cx = self.cx;
        let p = cx.p;
        let by_value = &cx.secrets.by_value;
        let s = self.s;
        let img = self.img;
        match &s.healthcheck {
            Some(h) if h.disabled => self.unsafe_flags.push((
                "no_healthcheck",
                "health check disabled in the compose file".into(),
            )),
            Some(h) => {
                let mut cmd = h
                    .test
                    .as_ref()
                    .and_then(|t| match t.first().map(String::as_str) {
                        Some("CMD") => Some((t[1..].to_vec(), None)),
                        Some("CMD-SHELL") => Some((
                            vec!["sh".into(), "-c".into(), t[1..].join(" ")],
                            Some("import: the shell form runs with sh -c".to_string()),
                        )),
                        _ => None,
                    });
                // A credential written into the check reads its secret file instead.
                if let Some((c, note)) = &mut cmd {
                    let mut script = if c.first().map(String::as_str) == Some("sh")
                        && c.get(1).map(String::as_str) == Some("-c")
                    {
                        c[2..].join(" ")
                    } else {
                        c.iter().map(|w| sh_quote(w)).collect::<Vec<_>>().join(" ")
                    };
                    let mut replaced = false;
                    for (value, sec) in by_value {
                        if value.chars().count() >= 4 && script.contains(value.as_str()) {
                            if !svc_secrets.contains(sec) {
                                self.d(format!("its health check holds the credential of secret `{sec}`, which the service does not mount"));
                            }
                            script = script
                                .replace(value.as_str(), &format!("\"$(cat /run/secrets/{sec})\""));
                            replaced = true;
                        }
                    }
                    if replaced {
                        *c = vec!["sh".into(), "-c".into(), script];
                        *note = Some(
                            "import: the health check reads the credential from its secret file"
                                .into(),
                        );
                    }
                }
                match cmd {
                    Some((c, note)) if !c.is_empty() => {
                        let mut parts = vec![format!("cmd = {}", toml_list(&c))];
                        for (k, v) in [
                            ("interval", &h.interval),
                            ("timeout", &h.timeout),
                            ("start_period", &h.start_period),
                        ] {
                            if let Some(d) = v.as_deref().and_then(duration) {
                                parts.push(format!("{k} = {}", toml_str(&d)));
                            }
                        }
                        if let Some(r) = h.retries.filter(|r| (1..=100).contains(r)) {
                            parts.push(format!("retries = {r}"));
                        }
                        doc.line(&format!("healthcheck = {{ {} }}", parts.join(", ")), note);
                    }
                    _ => self.unsafe_flags.push((
                        "no_healthcheck",
                        "the compose health check has no test hardgen can run".into(),
                    )),
                }
            }
            None => {
                let table = img.map(|i| i.health).filter(|h| !h.is_empty());
                match (table, &health_secret) {
                    (Some(_), Some(sec)) if img.is_some_and(|i| i.names.contains(&"redis")) => {
                        let c = vec!["sh".to_string(), "-c".into(), format!("redis-cli --no-auth-warning -a \"$(cat /run/secrets/{sec})\" ping | grep -q PONG")];
                        doc.line(
                            &format!("healthcheck = {{ cmd = {} }}", toml_list(&c)),
                            Some("import: the image table's check, with the password".into()),
                        );
                    }
                    (Some(h), _) => {
                        let c: Vec<String> = h.iter().map(|x| x.to_string()).collect();
                        doc.line(
                            &format!("healthcheck = {{ cmd = {} }}", toml_list(&c)),
                            Some(
                                "import: the image table's check (the compose file had none)"
                                    .into(),
                            ),
                        );
                    }
                    (None, _)
                        if s.build.is_some()
                            && !listening_ports(s).is_empty()
                            && build_has_derived_health(p, s) => {}
                    (None, _) => self.unsafe_flags.push((
                        "no_healthcheck",
                        "the compose file has no health check and import knows none for this image"
                            .into(),
                    )),
                }
            }
        }
    }
}
