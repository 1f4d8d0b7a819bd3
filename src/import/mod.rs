//! `hardgen import`: a spec describing the stack of existing compose files — services, images
//! or build contexts, commands, environment, ports, volumes, dependencies — with hardgen's
//! defaults doing the hardening. Every line where import decided or guessed carries a
//! comment (`# import: ...`, or `# TODO: ...` where the user should check); what hardgen
//! cannot express is either an `unsafe` entry "imported as is" or an error listing what to
//! decide.
//!
//! Layout: `topology` (who talks to whom: names, zones, flows), `secrets` (credentials found
//! and moved out of the spec), `service` (one `[services.NAME]` table, a method a section),
//! `build` (build contexts), `text` (TOML and Compose value forms, the spec being written),
//! `posture` (the review printed after an import), `images` (what import knows of images).

mod build;
pub mod images;
mod posture;
mod secrets;
mod service;
mod text;
mod topology;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::app::Outcome;
use crate::audit;
use crate::compose_in::{self, Project};
use text::{sanitize, toml_str, Doc};

pub struct RunOptions {
    pub compose: compose_in::Options,
    pub out: Option<PathBuf>,
    pub keep_secret_values: bool,
    pub force: bool,
}

/// The result of an import: the spec's text, its TODOs, the credential values found (never
/// written into the spec) and the services' new names.
pub struct Imported {
    pub text: String,
    pub todos: usize,
    pub secret_values: BTreeMap<String, String>,
}

pub fn import(p: &Project) -> Result<Imported, Vec<String>> {
    import_to(p, &p.dir)
}

/// The import of a spec written into `spec_dir` (build contexts are relative to it).
pub fn import_to(p: &Project, spec_dir: &Path) -> Result<Imported, Vec<String>> {
    let mut decide: Vec<String> = Vec::new();
    let mut doc = Doc {
        spec_dir: Some(spec_dir.to_path_buf()),
        ..Doc::default()
    };
    let topo = topology::topology(p);
    let secrets = secrets::find(p);
    header(&mut doc, p);
    topology::write_host(&mut doc, p, &topo);
    topology::write_zones(&mut doc, p, &topo, &mut decide);
    topology::write_flows(&mut doc, &topo);
    secrets.write(&mut doc);
    let cx = service::Ctx {
        p,
        topo: &topo,
        secrets: &secrets,
    };
    for s in p.services.values() {
        service::service(&cx, s, &mut doc, &mut decide);
    }
    safety_net(&mut doc, p, &secrets.by_value, &mut decide);
    if !decide.is_empty() {
        return Err(decide);
    }
    Ok(Imported {
        todos: doc.todos,
        text: doc.text,
        secret_values: secrets.values(),
    })
}

/// The spec's opening comments and its `[project]` table.
fn header(doc: &mut Doc, p: &Project) {
    let project_name = sanitize(&p.name, 20, &[], "x-");
    let project_name = project_name.trim_end_matches('-').to_string();
    doc.comment(&format!(
        "Imported by `hardgen import` from {}.",
        p.files
            .iter()
            .map(|f| format!("`{f}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    // Written as is: this line names the `# TODO:` marker, it is not one.
    doc.text.push_str("# hardgen's defaults do the hardening. `# import:` marks what import decided, `# TODO:` what\n");
    doc.comment("it could not know: read those lines before the first `hardgen build`.");
    doc.comment("Credential values were never written here: see [secrets].");
    if !p.inactive.is_empty() {
        doc.comment(&format!(
            "import: not imported (profiles not active): {}",
            p.inactive.join(", ")
        ));
    }
    doc.blank();
    doc.line("[project]", None);
    let name_comment = (project_name != p.name)
        .then(|| format!("import: from the compose project name `{}`", p.name));
    doc.line(&format!("name = {}", toml_str(&project_name)), name_comment);
    doc.blank();
}

/// No credential value may reach the spec.
fn safety_net(
    doc: &mut Doc,
    p: &Project,
    by_value: &BTreeMap<String, String>,
    decide: &mut Vec<String>,
) {
    // A value that is also the whole value of a non-secret variable (a quick start's
    // `MYSQL_USER: wordpress` and `MYSQL_PASSWORD: wordpress`) is the user's data: said, kept.
    let mut same_as_data = Vec::new();
    for (value, name) in by_value {
        if value.chars().count() < 4 {
            continue;
        }
        let whole = format!(" = {}", toml_str(value));
        let rest = doc.text.replace(&whole, " = \u{0}");
        let is_name = p.services.contains_key(value)
            || p.volumes.contains_key(value)
            || p.networks.contains_key(value);
        if is_name {
            same_as_data.push(name.clone());
        } else if rest.contains(value.as_str()) {
            decide.push(format!(
                "the value of secret `{name}` appears elsewhere in the compose files (not as a credential variable): remove it there, import would write it into the spec"
            ));
        } else if rest.len() != doc.text.len() {
            same_as_data.push(name.clone());
        }
    }
    if !same_as_data.is_empty() {
        let note = format!(
            "# TODO: secret(s) {} had the same value as a name or a non-secret variable of the compose files: choose a real password\n",
            same_as_data.join(", ")
        );
        doc.todos += 1;
        if let Some(i) = doc.text.find("\n[project]") {
            doc.text.insert_str(i + 1, &note);
        }
    }
}

/// Render the imported spec for compose and audit what it generates.
pub fn audit_generated(spec_text: &str, spec_name: &str) -> Result<audit::Audit, String> {
    let mut raw = crate::spec::parse(spec_text)
        .map_err(|e| format!("the imported spec does not parse: {e}"))?;
    let (model, diags) = crate::validate::validate(
        &mut raw,
        spec_name,
        &crate::validate::Options {
            strict: false,
            spec_dir: None,
        },
    );
    let Some(model) = model else {
        let mut s = String::from("the imported spec is invalid (a bug of import):\n");
        for d in diags.iter().filter(|d| d.is_error()) {
            s.push_str(&d.render(spec_name, spec_text));
        }
        return Err(s);
    };
    let mut sink = Vec::new();
    let arts = crate::app::artifacts(
        &model,
        crate::targets::Target::Compose,
        &crate::layout::Layout::beside_spec(),
        &mut sink,
    )
    .ok_or_else(|| String::from_utf8_lossy(&sink).into_owned())?;
    let compose = arts
        .get("docker-compose.yml")
        .ok_or("no docker-compose.yml generated")?;
    let path = PathBuf::from("(generated)/docker-compose.yml");
    let mut texts = BTreeMap::new();
    texts.insert(
        path.clone(),
        String::from_utf8_lossy(&compose.bytes).into_owned(),
    );
    let project = compose_in::load(&compose_in::Options {
        files: vec![path],
        texts,
        ..Default::default()
    })
    .map_err(|e| format!("the generated compose file does not read back: {e}"))?;
    Ok(audit::audit(&project, audit::Target::Compose))
}

pub fn run(
    opts: &RunOptions,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> Outcome {
    let project = match compose_in::load(&opts.compose) {
        Ok(p) => p,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return Outcome::Failed;
        }
    };
    let spec_path = opts.out.clone().unwrap_or_else(|| {
        PathBuf::from(format!(
            "{}.toml",
            sanitize(&project.name, 20, &[], "x-").trim_end_matches('-')
        ))
    });
    let imported = match import_to(&project, &crate::layout::Layout::spec_dir_of(&spec_path)) {
        Ok(i) => i,
        Err(list) => {
            let _ = writeln!(err, "error: hardgen cannot express everything in these compose files; decide, then import again:");
            for l in &list {
                let _ = writeln!(err, "  - {l}");
            }
            let _ = writeln!(err, "nothing was written");
            return Outcome::Failed;
        }
    };
    let spec_name = spec_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "spec.toml".into());
    let generated = match audit_generated(&imported.text, &spec_name) {
        Ok(a) => a,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return Outcome::Failed;
        }
    };
    if spec_path.exists() && !opts.force {
        let _ = writeln!(
            err,
            "error: `{}` exists; use --force to overwrite it",
            spec_path.display()
        );
        return Outcome::Failed;
    }
    if let Err(e) = write_file(&spec_path, imported.text.as_bytes(), None) {
        let _ = writeln!(err, "error: cannot write `{}`: {e}", spec_path.display());
        return Outcome::Failed;
    }
    let _ = writeln!(
        err,
        "wrote {} ({} TODO{} to review)",
        spec_path.display(),
        imported.todos,
        if imported.todos == 1 { "" } else { "s" }
    );
    if opts.keep_secret_values && !imported.secret_values.is_empty() {
        let dir =
            crate::app::default_out(&spec_path, crate::targets::Target::Compose).join("secrets");
        let mut ok = write_file(&dir.join(".gitignore"), b"*\n", Some(0o600));
        for (n, v) in &imported.secret_values {
            ok = ok.and_then(|_| write_file(&dir.join(n), v.as_bytes(), Some(0o600)));
        }
        match ok {
            Ok(()) => {
                let _ = writeln!(err, "wrote {} secret value(s) into {} (mode 600, git-ignored; generate-secrets.sh keeps them)", imported.secret_values.len(), dir.display());
            }
            Err(e) => {
                let _ = writeln!(
                    err,
                    "error: cannot write the secret values into {}: {e}",
                    dir.display()
                );
                return Outcome::Failed;
            }
        }
    }
    let original = audit::audit(&project, audit::Target::Compose);
    let names: BTreeMap<String, String> = project
        .services
        .keys()
        .map(|n| (n.clone(), sanitize(n, 63, &['_'], "svc-")))
        .collect();
    let _ = out.write_all(posture::posture(&original, &generated, &names).as_bytes());
    Outcome::Ok
}

fn write_file(path: &Path, bytes: &[u8], mode: Option<u32>) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension("hardgen-tmp");
    {
        use std::io::Write;
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(mode.unwrap_or(0o644));
        }
        let mut f = o.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}
