//! `hardgen init [PATH] [--force]`: a starter spec that validates, with the JSON schema next
//! to it so that editors complete and document it from the first keystroke.
//!
//! Where the schema goes, and why: the spec's first line is `#:schema ./hardgen.schema.json`,
//! a path relative to the spec, and `init` writes that file (the schema of the running
//! hardgen, the same bytes as `hardgen schema`) into the spec's directory. So:
//! - it works offline and for every user of the project, wherever hardgen is installed (an
//!   absolute path would name one machine's files; a URL would need the network and could
//!   describe another hardgen version than the one that builds the spec);
//! - several specs in one directory share one schema file;
//! - after upgrading hardgen, `hardgen schema > hardgen.schema.json` refreshes it (and a
//!   later `init` in the same directory replaces an older hardgen schema by itself).
//!
//! PATH is the spec to write, `hardgen.toml` by default; an existing directory (or a PATH
//! ending in `/`) means `PATH/hardgen.toml`. Missing parent directories are created. Nothing is
//! overwritten without `--force`: not an existing spec, and not a `hardgen.schema.json` that is
//! not a hardgen schema. Both files are checked before either is written.
//!
//! This module only uses the standard library: `tests/editor.rs` compiles it on its own.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The spec `init` writes when no PATH is given (or into a directory PATH).
pub const DEFAULT_SPEC: &str = "hardgen.toml";
/// The schema file `init` writes next to the spec; the spec's `#:schema` line names it.
pub const SCHEMA_FILE: &str = "hardgen.schema.json";
/// The project name of the starter spec when the directory name cannot be one.
pub const FALLBACK_PROJECT: &str = "app";

/// The starter spec, with the project name `app`.
pub fn starter_spec() -> String {
    starter_spec_for(FALLBACK_PROJECT)
}

/// The starter spec for a project name (which must be a valid one: see [`project_name`]).
pub fn starter_spec_for(project: &str) -> String {
    starter_spec_named(project, DEFAULT_SPEC)
}

/// The starter spec for a project name, its comments naming the spec file `spec_file`.
pub fn starter_spec_named(project: &str, spec_file: &str) -> String {
    let stem = spec_file.strip_suffix(".toml").unwrap_or(spec_file);
    STARTER
        .replace("{project}", project)
        .replace("{spec}", spec_file)
        .replace("{stem}", stem)
}

/// A valid project name made from a directory name: lower-case letters, digits and `-`,
/// starting with a letter, at most 20 characters; [`FALLBACK_PROJECT`] when nothing is left.
pub fn project_name(dir_name: &str) -> String {
    let mut name = String::new();
    for c in dir_name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || (c.is_ascii_digit() && !name.is_empty()) {
            name.push(c);
        } else if !name.is_empty() && !name.ends_with('-') {
            name.push('-');
        }
        if name.len() == 20 {
            break;
        }
    }
    let name = name.trim_end_matches('-');
    if name.is_empty() {
        FALLBACK_PROJECT.to_string()
    } else {
        name.to_string()
    }
}

/// The spec file a PATH argument stands for.
pub fn spec_path(path: Option<&Path>) -> PathBuf {
    match path {
        None => PathBuf::from(DEFAULT_SPEC),
        Some(p) if p.is_dir() || p.as_os_str().to_string_lossy().ends_with('/') => {
            p.join(DEFAULT_SPEC)
        }
        Some(p) => p.to_path_buf(),
    }
}

/// What `init` did, for the message.
#[derive(Debug, PartialEq, Eq)]
pub struct Written {
    pub spec: PathBuf,
    pub schema: PathBuf,
    /// What happened to the schema file.
    pub schema_action: SchemaAction,
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum SchemaAction {
    Created,
    /// An older (or another) hardgen schema was replaced.
    Updated,
    /// It was already this hardgen's schema.
    Unchanged,
}

/// Write the starter spec at `path` (see [`spec_path`]) and `schema_json` next to it.
pub fn init(path: Option<&Path>, force: bool, schema_json: &str) -> Result<Written, String> {
    let spec = spec_path(path);
    let (dir, schema) = match spec.parent() {
        Some(d) if !d.as_os_str().is_empty() => (d.to_path_buf(), d.join(SCHEMA_FILE)),
        _ => (PathBuf::from("."), PathBuf::from(SCHEMA_FILE)),
    };

    // Decide everything before writing anything.
    if spec.exists() && !force {
        return Err(format!(
            "`{}` already exists; pass --force to overwrite it",
            spec.display()
        ));
    }
    let schema_action = match fs::read(&schema) {
        Err(_) => SchemaAction::Created,
        Ok(old) if old == schema_json.as_bytes() => SchemaAction::Unchanged,
        Ok(old) if force || is_hardgen_schema(&old) => SchemaAction::Updated,
        Ok(_) => {
            return Err(format!(
                "`{}` exists and is not a hardgen schema; pass --force to overwrite it",
                schema.display()
            ))
        }
    };

    fs::create_dir_all(&dir).map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
    let project = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| project_name(&n.to_string_lossy())))
        .unwrap_or_else(|| FALLBACK_PROJECT.to_string());
    if schema_action != SchemaAction::Unchanged {
        write_file(&schema, schema_json.as_bytes())?;
    }
    let spec_file = spec
        .file_name()
        .map_or_else(|| DEFAULT_SPEC.into(), |n| n.to_string_lossy());
    write_file(&spec, starter_spec_named(&project, &spec_file).as_bytes())?;
    Ok(Written {
        spec,
        schema,
        schema_action,
    })
}

/// `hardgen init`: [`init`] with its messages on `err`. Returns whether it succeeded (exit
/// code 0, else 2).
pub fn run(path: Option<&Path>, force: bool, schema_json: &str, err: &mut dyn Write) -> bool {
    match init(path, force, schema_json) {
        Ok(w) => {
            let schema_note = match w.schema_action {
                SchemaAction::Created => "wrote",
                SchemaAction::Updated => "updated",
                SchemaAction::Unchanged => "kept",
            };
            let _ = writeln!(
                err,
                "hardgen: wrote {} ({schema_note} {} next to it for editors)\n\
                 next: edit it, then `hardgen check {0}` and `hardgen build {0}`",
                w.spec.display(),
                w.schema.display(),
            );
            true
        }
        Err(e) => {
            let _ = writeln!(err, "error: {e}; nothing was written");
            false
        }
    }
}

fn is_hardgen_schema(bytes: &[u8]) -> bool {
    // The title hardgen's schema has had since its first version (`spec::RawSpec`).
    std::str::from_utf8(bytes).is_ok_and(|s| s.contains("\"title\": \"hardgen spec\""))
}

/// Write through a temporary file in the same directory, then rename: a reader (or a full
/// disk) never sees half a file.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.hardgen-tmp"));
    let result = fs::write(&tmp, bytes).and_then(|()| fs::rename(&tmp, path));
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(format!("cannot write `{}`: {e}", path.display()));
    }
    Ok(())
}

/// The starter spec. Valid as it is (`tests/editor.rs` checks it with `hardgen check` and
/// `taplo check`): a built web service reaching a database in an internal zone.
const STARTER: &str = r#"#:schema ./hardgen.schema.json
# A hardgen spec: services and network zones in, a hardened container deployment out.
#
#   hardgen check {spec}
#       validates it and reports every problem at once;
#   hardgen build {spec}
#       writes deploy/{stem}/: docker-compose.yml, Dockerfiles, seccomp profiles, firewall
#       rules and scripts.
#
# Hardened settings are the defaults (non-root user, no capabilities, read-only root,
# seccomp, resource limits, health checks, ports on 127.0.0.1...): write only what differs.
# The first line points editors at the schema next to this file: with taplo (VS Code "Even
# Better TOML", Neovim, Helix, Zed) they complete keys and values and show each key's
# documentation on hover.

[project]
name = "{project}"
subnet_pool = "10.210.0.0/16"       # zones without a subnet get the next free /24 of it

# Each zone is its own network and Linux bridge. Zones are internal (no route out) unless
# they set `egress = true`; traffic between zones is dropped unless a flow allows it.
[zones.front]
egress = true                       # `web` publishes a port: its zone needs a route out

[zones.data]

# The services of `front` may reach port 5432 of the services of `data`, and nothing else.
[[flows]]
from = "front"
to = "data"
ports = ["5432/tcp"]

# A random file under secrets/ (written by scripts/generate-secrets.sh), mounted read-only
# at /run/secrets/db_password in the services that list it.
[secrets.db_password]

# Built from src/web/ with a generated multi-stage Dockerfile. Its health check is derived
# (a connection to its first port).
[services.web]
build = { runtime = "python", version = "3.12", command = ["python", "-m", "web"] }
zones = ["front"]
ports = ["8000"]                    # published on 127.0.0.1:8000 unless an address is given
secrets = ["db_password"]
environment = { DB_HOST = "db", DB_PASSWORD_FILE = "/run/secrets/db_password" }
depends_on = ["db"]

[services.db]
image = "postgres:16.4-bookworm"    # pin it: append @sha256:<digest> (hardgen warns until then)
zones = ["data"]
user = "999:999"                    # the image's postgres user
expose = ["5432"]
volumes = ["pgdata:/var/lib/postgresql/data"]
tmpfs = ["/var/run/postgresql:1m"]
secrets = ["db_password"]
environment = { POSTGRES_PASSWORD_FILE = "/run/secrets/db_password", PGDATA = "/var/lib/postgresql/data/pgdata" }
healthcheck = { cmd = ["pg_isready", "-U", "postgres", "-h", "127.0.0.1"] }
memory = "512m"
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_from_directories() {
        assert_eq!(project_name("my-shop"), "my-shop");
        assert_eq!(project_name("My Shop_2"), "my-shop-2");
        assert_eq!(project_name("2024 site"), "site");
        assert_eq!(project_name("..."), FALLBACK_PROJECT);
        assert_eq!(
            project_name("a-very-long-directory-name-indeed"),
            "a-very-long-director"
        );
        assert_eq!(project_name("abcdefghijklmnopqrs-t"), "abcdefghijklmnopqrs");
    }

    #[test]
    fn starter_names_its_schema_and_project() {
        let s = starter_spec_for("shop");
        assert!(s.starts_with("#:schema ./hardgen.schema.json\n"));
        assert!(s.contains("name = \"shop\""));
        assert!(s.contains("#   hardgen build hardgen.toml\n#       writes deploy/hardgen/:"));
        for placeholder in ["{project}", "{spec}", "{stem}"] {
            assert!(!s.contains(placeholder), "{placeholder}");
        }
    }
}
