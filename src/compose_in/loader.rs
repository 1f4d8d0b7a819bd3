//! Reading the files: `.env` and `${VAR}` interpolation, `extends` (same file or another),
//! then `-f` merging; `load` is the entry point.

use super::merge::{merge, merge_service, normalise_service, set, take};
use super::project::build_project;
use super::*;

pub(super) struct Loader {
    pub(super) dir: PathBuf,
    pub(super) vars: interp::Vars,
    /// Interpolated top-level nodes of the files read so far (for `extends: {file: ...}`).
    cache: BTreeMap<PathBuf, Node>,
    texts: BTreeMap<PathBuf, String>,
}

pub(super) fn display_path(p: &Path) -> Arc<str> {
    Arc::from(p.display().to_string().as_str())
}

pub(super) fn read_text(path: &Path, what: &str, at: Option<&Loc>) -> Result<String, Error> {
    let file = display_path(path);
    let at = at.cloned().unwrap_or_else(|| Loc::file_start(&file));
    let bytes =
        std::fs::read(path).map_err(|e| err(&at, format!("cannot read {what} `{file}`: {e}")))?;
    String::from_utf8(bytes).map_err(|e| {
        err(
            &at,
            format!(
                "{what} `{file}` is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// An env file's entries; a line it cannot parse is an error at that line of that file.
pub(super) fn read_env_file(path: &Path, at: Option<&Loc>) -> Result<Vec<interp::EnvLine>, Error> {
    let text = read_text(path, "env file", at)?;
    let file = display_path(path);
    interp::parse_env_file(&text).map_err(|(line, m)| {
        err(
            &Loc {
                file: file.clone(),
                line,
                col: 1,
            },
            m,
        )
    })
}

pub(super) fn interpolate_node(n: &mut Node, vars: &interp::Vars) -> Result<(), Error> {
    match &mut n.kind {
        Kind::Str { s, .. } => {
            if s.contains('$') {
                *s = interp::interpolate(s, vars).map_err(|m| err(&n.loc, m))?;
            }
        }
        Kind::Seq(items) => {
            for i in items {
                interpolate_node(i, vars)?;
            }
        }
        Kind::Map(entries) => {
            for (_, v) in entries {
                interpolate_node(v, vars)?;
            }
        }
        Kind::Null => {}
    }
    Ok(())
}

impl Loader {
    pub(super) fn file(&mut self, path: &Path, at: Option<&Loc>) -> Result<Node, Error> {
        if let Some(n) = self.cache.get(path) {
            return Ok(n.clone());
        }
        let text = match self.texts.get(path) {
            Some(t) => t.clone(),
            None => read_text(path, "compose file", at)?,
        };
        let file = display_path(path);
        let mut node = yaml::parse(&text, &file)?;
        if node.is_null() {
            node = Node::map(Vec::new(), Loc::file_start(&file));
        }
        if node.as_map().is_none() {
            return Err(err(
                &node.loc,
                format!(
                    "a compose file is a mapping (services:, networks: ...), not {}",
                    node.kind_name()
                ),
            ));
        }
        interpolate_node(&mut node, &self.vars)?;
        if let Some(services) = node.get("services") {
            if !services.is_null() && services.as_map().is_none() {
                return Err(err(
                    &services.loc,
                    "`services` must be a mapping of service names",
                ));
            }
        }
        self.cache.insert(path.to_path_buf(), node.clone());
        Ok(node)
    }

    /// A service of a file with its `extends` resolved, normalised for merging.
    pub(super) fn service(
        &mut self,
        path: &Path,
        name: &str,
        at: &Loc,
        seen: &mut Vec<(PathBuf, String)>,
    ) -> Result<Node, Error> {
        let key = (path.to_path_buf(), name.to_string());
        if seen.contains(&key) {
            return Err(err(at, format!("`extends` loops back to service `{name}`")));
        }
        seen.push(key);
        let doc = self.file(path, Some(at))?;
        let svc = doc
            .get("services")
            .and_then(|s| s.get(name))
            .ok_or_else(|| {
                let known: Vec<String> = doc
                    .get("services")
                    .and_then(|s| s.as_map())
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|(k, _)| k.as_str().map(String::from))
                    .collect();
                let hint = crate::diagnostic::did_you_mean(name, known.iter().map(String::as_str))
                    .map(|h| format!(" ({h})"))
                    .unwrap_or_default();
                err(
                    at,
                    format!("no service `{name}` in `{}`{hint}", path.display()),
                )
            })?
            .clone();
        let mut svc = match svc.kind {
            Kind::Null => Node::map(Vec::new(), svc.loc),
            Kind::Map(_) => svc,
            _ => return Err(err(&svc.loc, format!("service `{name}` must be a mapping"))),
        };
        let ext = take(&mut svc, "extends");
        let svc = normalise_service(svc)?;
        let Some(ext) = ext else {
            seen.pop();
            return Ok(svc);
        };
        let (base_name, base_file, loc) = match &ext.kind {
            Kind::Str { s, .. } => (s.clone(), None, ext.loc.clone()),
            Kind::Map(_) => {
                let s = ext
                    .get("service")
                    .and_then(Node::as_str)
                    .ok_or_else(|| err(&ext.loc, "`extends` needs `service:`"))?;
                let f = ext.get("file").and_then(Node::as_str).map(String::from);
                (s.to_string(), f, ext.loc.clone())
            }
            _ => {
                return Err(err(
                    &ext.loc,
                    "`extends` is a service name or {service, file}",
                ))
            }
        };
        let base_path = match base_file {
            Some(f) => {
                let parent = path.parent().unwrap_or(Path::new("."));
                parent.join(f)
            }
            None => path.to_path_buf(),
        };
        let base = self.service(&base_path, &base_name, &loc, seen)?;
        seen.pop();
        Ok(merge_service(base, svc))
    }
}

pub fn load(opts: &Options) -> Result<Project, Error> {
    let first = opts
        .files
        .first()
        .cloned()
        .unwrap_or_else(|| PathBuf::from("compose.yaml"));
    let dir = first
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    // `.env` of the project directory, then the process environment over it.
    let mut vars = interp::Vars::new();
    let dotenv = dir.join(".env");
    if dotenv.is_file() {
        let entries = read_env_file(&dotenv, None)?;
        for (_, k, val) in entries {
            if let Some(val) = val {
                let val = interp::interpolate(&val, &vars).unwrap_or(val);
                vars.insert(k, val);
            }
        }
    }
    for (k, val) in &opts.env {
        vars.insert(k.clone(), val.clone());
    }
    let mut loader = Loader {
        dir: dir.clone(),
        vars,
        cache: BTreeMap::new(),
        texts: opts.texts.clone(),
    };
    let mut merged: Option<Node> = None;
    let mut files = Vec::new();
    for f in &opts.files {
        files.push(display_path(f));
        let mut doc = loader.file(f, None)?;
        // Resolve `extends` and normalise every service of this file before merging.
        if let Some(services) = doc
            .get("services")
            .and_then(|s| s.as_map())
            .map(<[_]>::to_vec)
        {
            let mut out = Vec::new();
            for (k, _) in services {
                let name = k.as_str().unwrap_or("").to_string();
                let svc = loader.service(f, &name, &k.loc, &mut Vec::new())?;
                out.push((k, svc));
            }
            let loc = doc.get("services").map(|s| s.loc.clone()).unwrap();
            set(&mut doc, "services", Node::map(out, loc));
        }
        merged = Some(match merged {
            None => doc,
            Some(b) => merge(b, doc, ""),
        });
    }
    let doc = merged
        .unwrap_or_else(|| Node::map(Vec::new(), Loc::file_start(&Arc::from("compose.yaml"))));
    build_project(&doc, opts, &mut loader, files)
}

// ---------------------------------------------------------------------------------------
// Typing
