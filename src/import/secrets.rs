//! The credentials of the compose files: values of secret-named variables and URLs with a
//! password, credential arguments of commands, and compose secrets. Their values never reach
//! the spec: each becomes a `[secrets.NAME]` entry.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::text::{argv, sanitize, toml_str, Doc};
use crate::audit::{self, secret_name, url_password};
use crate::compose_in::{Cmd, Project};

pub(super) struct Secret {
    pub(super) name: String,
    pub(super) description: String,
    pub(super) value: Option<String>,
    pub(super) comment: String,
}

/// A credential argument of a command: its word index, its secret, the `--flag` of a
/// `--flag=value` word.
pub(super) type CmdSecret = (usize, String, Option<String>);

#[derive(Default)]
pub(super) struct Secrets {
    /// By secret name.
    pub(super) secrets: BTreeMap<String, Secret>,
    /// Credential value -> secret name.
    pub(super) by_value: BTreeMap<String, String>,
    /// (compose service, variable) -> secret name.
    pub(super) env_secret: BTreeMap<(String, String), String>,
    /// Compose service -> the credential arguments of its command.
    pub(super) cmd_secret: BTreeMap<String, Vec<CmdSecret>>,
    /// Compose secret name -> secret name.
    pub(super) compose_secret_name: BTreeMap<String, String>,
}

/// Secrets, found in environment values, command arguments and compose secrets.
pub(super) fn find(p: &Project) -> Secrets {
    let mut s = Secrets::default();
    s.environment(p);
    s.linked_urls();
    s.commands(p);
    s.compose_secrets(p);
    s
}

impl Secrets {
    /// The secret holding `value` (one secret a value, however many places hold it).
    fn new_secret(&mut self, svc: &str, var: &str, value: &str, what: String) -> String {
        if let Some(n) = self.by_value.get(value) {
            if let Some(s) = self.secrets.get_mut(n) {
                let _ = write!(s.comment, ", {what}");
            }
            return n.clone();
        }
        let mut name = sanitize(var, 64, &['_'], "s-");
        if self.secrets.contains_key(&name) {
            name = sanitize(&format!("{svc}_{var}"), 64, &['_'], "s-");
        }
        while self.secrets.contains_key(&name) {
            name.push('x');
        }
        self.by_value.insert(value.to_string(), name.clone());
        self.secrets.insert(
            name.clone(),
            Secret {
                name: name.clone(),
                description: format!("imported from {var} of {svc}"),
                value: Some(value.to_string()),
                comment: format!("import: was the value of {what}"),
            },
        );
        name
    }

    fn environment(&mut self, p: &Project) {
        for s in p.services.values() {
            for e in &s.environment {
                let Some(val) = &e.value else { continue };
                if (secret_name(&e.name) && audit::env_secret_value(val))
                    || url_password(val).is_some()
                {
                    let what = format!("{} in {}", e.name, s.name);
                    let n = self.new_secret(&s.name, &e.name, val, what);
                    self.env_secret.insert((s.name.clone(), e.name.clone()), n);
                }
            }
        }
    }

    /// A URL secret that holds the password of another secret: they must stay in step.
    fn linked_urls(&mut self) {
        let values: Vec<(String, String)> = self
            .secrets
            .values()
            .filter_map(|s| s.value.clone().map(|v| (s.name.clone(), v)))
            .collect();
        for (name, v) in &values {
            if let Some(pw) = url_password(v) {
                if let Some((other, _)) = values.iter().find(|(o, ov)| o != name && ov == pw) {
                    if let Some(s) = self.secrets.get_mut(name) {
                        let _ = write!(
                            s.comment,
                            "; TODO: the URL holds the password of secret `{other}`: write both files yourself (generate-secrets.sh would make them differ)"
                        );
                    }
                }
            }
        }
    }

    /// Secrets in command arguments: the value following a credential flag, or
    /// `--flag=value`.
    fn commands(&mut self, p: &Project) {
        for s in p.services.values() {
            let Some(c) = &s.command else { continue };
            if audit::secret_args(&c.value).is_empty() {
                continue;
            }
            let words = argv(&c.value);
            let mut found = Vec::new();
            for (i, w) in words.iter().enumerate() {
                let lower = w.to_ascii_lowercase();
                if audit::secret_args(&Cmd::Exec(vec![
                    w.clone(),
                    words.get(i + 1).cloned().unwrap_or_default(),
                ]))
                .iter()
                .any(|f| f == &lower)
                {
                    let val = words[i + 1].clone();
                    let var = format!("{}_{}", s.name, w.trim_start_matches('-'));
                    let what = format!("`{w}` in the command of {}", s.name);
                    let n = self.new_secret(&s.name, &var, &val, what);
                    found.push((i + 1, n, None));
                } else if let Some((k, val)) = w.split_once('=') {
                    if !audit::secret_args(&Cmd::Exec(vec![w.clone()])).is_empty() {
                        let var = format!("{}_{}", s.name, k.trim_start_matches('-'));
                        let what = format!("`{k}` in the command of {}", s.name);
                        let n = self.new_secret(&s.name, &var, val, what);
                        found.push((i, n, Some(k.to_string())));
                    }
                }
            }
            self.cmd_secret.insert(s.name.clone(), found);
        }
    }

    /// Compose secrets used by services.
    fn compose_secrets(&mut self, p: &Project) {
        for s in p.services.values() {
            for r in &s.secrets {
                if self.compose_secret_name.contains_key(&r.source) {
                    continue;
                }
                let top = &p.secrets[&r.source];
                let base = r
                    .target
                    .as_deref()
                    .filter(|t| !t.contains('/'))
                    .unwrap_or(&r.source);
                let mut name = sanitize(base, 64, &['_'], "s-");
                while self.secrets.contains_key(&name) {
                    name.push('x');
                }
                let origin = match (&top.file, &top.environment, top.external) {
                    (Some(f), _, _) => format!("file `{f}`"),
                    (_, Some(e), _) => format!("variable `{e}`"),
                    (_, _, true) => "an external secret".to_string(),
                    _ => "inline content".to_string(),
                };
                let value = match (&top.file, &top.content) {
                    (Some(f), _) => std::fs::read_to_string(p.dir.join(f)).ok(),
                    (_, Some(c)) => Some(c.clone()),
                    _ => None,
                };
                self.secrets.insert(
                    name.clone(),
                    Secret {
                        name: name.clone(),
                        description: format!("compose secret {} ({origin})", r.source),
                        value,
                        comment: format!(
                            "import: compose secret `{}` from {origin}: put it in secrets/{name} before generate-secrets.sh (which keeps existing files), or let it make a random one",
                            r.source
                        ),
                    },
                );
                self.compose_secret_name.insert(r.source.clone(), name);
            }
        }
    }

    /// The values found, by secret name (written only on request, never into the spec).
    pub(super) fn values(&self) -> BTreeMap<String, String> {
        self.secrets
            .values()
            .filter_map(|s| s.value.clone().map(|v| (s.name.clone(), v)))
            .collect()
    }

    /// The `[secrets.NAME]` tables.
    pub(super) fn write(&self, doc: &mut Doc) {
        for s in self.secrets.values() {
            doc.line(&format!("[secrets.{}]", s.name), Some(s.comment.clone()));
            doc.line(&format!("description = {}", toml_str(&s.description)), None);
            doc.blank();
        }
    }
}
