//! Where the spec and the deployment sit relative to each other. Users keep their application
//! source in their own repository, next to the spec, and the deployment in a generated
//! directory: build contexts are written relative to the spec's directory and rendered
//! relative to the output directory (and the Dockerfile relative to the context), so the
//! generated compose file builds from the user's source wherever `--out` points.
//!
//! Paths are made absolute and normalised lexically (`a/b/../c` is `a/c`) without touching
//! the file system, so the same layout gives the same relative paths on every machine.

use std::path::{Component, Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The spec file's directory, absolute and normalised.
    spec_dir: PathBuf,
    /// The output directory, absolute and normalised.
    out_dir: PathBuf,
    /// The two directories' components below `/`, when both are UTF-8 (see `joined`).
    parts: Option<(Vec<String>, Vec<String>)>,
}

impl Layout {
    /// The layout of `hardgen build SPEC --out OUT`, relative paths taken from the current
    /// directory.
    pub fn new(spec: &Path, out: &Path) -> Layout {
        let spec_dir = spec.parent().unwrap_or(Path::new(""));
        Layout::of(absolute(spec_dir), absolute(out))
    }

    /// The layout of two absolute, normalised directories.
    fn of(spec_dir: PathBuf, out_dir: PathBuf) -> Layout {
        let components = |dir: &Path| -> Option<Vec<String>> {
            Some(
                dir.to_str()?
                    .split('/')
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect(),
            )
        };
        let parts = components(&spec_dir).zip(components(&out_dir));
        Layout {
            spec_dir,
            out_dir,
            parts,
        }
    }

    /// A deployment written into the spec's own directory (contexts `./src/<service>`).
    pub fn beside_spec() -> Layout {
        Layout::of(PathBuf::from("/"), PathBuf::from("/"))
    }

    /// The spec's directory as the user gave it (for messages: `examples/src/web`).
    pub fn spec_dir_of(spec: &Path) -> PathBuf {
        match spec.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    /// A build context (relative to the spec's directory) as seen from the output directory:
    /// `./src/web` when the two directories are one, `../../src/web` for `--out deploy/x`.
    pub fn context_from_out(&self, context: &str) -> String {
        let fast = self.parts.as_ref().and_then(|(spec, out)| {
            let to = joined(spec, context)?;
            Some(relative_parts(out, &to))
        });
        let rel = fast
            .unwrap_or_else(|| relative(&self.out_dir, &normalise(&self.spec_dir.join(context))));
        if rel.starts_with("..") {
            rel
        } else {
            format!("./{rel}")
        }
    }

    /// A generated file (relative to the output directory) as seen from a build context, as
    /// Compose resolves `build.dockerfile`.
    pub fn from_context(&self, context: &str, generated: &str) -> String {
        let fast = self.parts.as_ref().and_then(|(spec, out)| {
            let from = joined(spec, context)?;
            let to = joined(out, generated)?;
            Some(relative_parts(&from, &to))
        });
        fast.unwrap_or_else(|| {
            let ctx = normalise(&self.spec_dir.join(context));
            relative(&ctx, &normalise(&self.out_dir.join(generated)))
        })
    }
}

/// `to` relative to the directory `from`, both taken from the current directory when relative
/// (for `hardgen import`: a compose file's build context as seen from the spec).
pub fn relative_between(from: &Path, to: &Path) -> String {
    relative(&absolute(from), &absolute(to))
}

fn absolute(p: &Path) -> PathBuf {
    let p = if p.as_os_str().is_empty() {
        Path::new(".")
    } else {
        p
    };
    normalise(&std::path::absolute(p).unwrap_or_else(|_| Path::new("/").join(p)))
}

/// Lexical normalisation of an absolute path: `.` dropped, `..` pops (never above `/`).
fn normalise(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// `to` relative to the directory `from` (both absolute and normalised), `/`-separated;
/// `.` when they are the same.
fn relative(from: &Path, to: &Path) -> String {
    let f: Vec<Component> = from.components().collect();
    let t: Vec<Component> = to.components().collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_string(); f.len() - common];
    parts.extend(
        t[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

/// The components (below `/`) of `normalise(&dir.join(rel))`, without building either path,
/// for the usual case; `None` otherwise. `dir` is given as its components below `/` (a
/// `Layout`'s directory is absolute and normalised: as a string, `/` and its components
/// joined by `/`; `Layout::parts` holds them when the directory is UTF-8 — otherwise
/// `relative` would print it lossily, and the general path is taken). When `rel` is a plain
/// relative path (not absolute, no `..` component), `join` appends `rel` after a `/`, and
/// `normalise` keeps every component of the result but the `.` and empty ones (`a/./b`,
/// `a//b`, a trailing `/`): what the filter below keeps. An absolute `rel` (which `join`
/// takes instead of `dir`) or a `..` (which pops) take the general path.
fn joined<'a>(dir: &'a [String], rel: &'a str) -> Option<Vec<&'a str>> {
    if rel.starts_with('/') || rel.split('/').any(|c| c == "..") {
        return None;
    }
    let mut out: Vec<&str> = Vec::with_capacity(dir.len() + 4);
    out.extend(dir.iter().map(String::as_str));
    out.extend(rel.split('/').filter(|c| !c.is_empty() && *c != "."));
    Some(out)
}

/// `relative` on paths given as their components below `/` (both absolute and normalised):
/// a `..` for each component of `from` after the common ones, then the rest of `to`, joined
/// by `/`; `.` when they are the same.
fn relative_parts<S: AsRef<str>>(from: &[S], to: &[&str]) -> String {
    let common = from
        .iter()
        .zip(to)
        .take_while(|(a, b)| a.as_ref() == **b)
        .count();
    let len = 3 * (from.len() - common) + to[common..].iter().map(|p| p.len() + 1).sum::<usize>();
    let mut out = String::with_capacity(len);
    let ups = std::iter::repeat_n("..", from.len() - common);
    for part in ups.chain(to[common..].iter().copied()) {
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(part);
    }
    if out.is_empty() {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(spec_dir: &str, out: &str) -> Layout {
        Layout::of(normalise(Path::new(spec_dir)), normalise(Path::new(out)))
    }

    #[test]
    fn contexts_are_rendered_from_the_output_directory() {
        let same = layout("/repo", "/repo");
        assert_eq!(same.context_from_out("src/web"), "./src/web");
        assert_eq!(
            same.from_context("src/web", "dockerfiles/web.Dockerfile"),
            "../../dockerfiles/web.Dockerfile"
        );
        let deploy = layout("/repo", "/repo/deploy/shop");
        assert_eq!(deploy.context_from_out("src/web"), "../../src/web");
        assert_eq!(
            deploy.from_context("src/web", "dockerfiles/web.Dockerfile"),
            "../../deploy/shop/dockerfiles/web.Dockerfile"
        );
        let up = layout("/repo/ops", "/srv/out");
        assert_eq!(up.context_from_out("../app"), "../../repo/app");
        assert_eq!(up.context_from_out("."), "../../repo/ops");
        assert_eq!(
            up.from_context("../app", "dockerfiles/a.Dockerfile"),
            "../../srv/out/dockerfiles/a.Dockerfile"
        );
    }

    /// The general path of `context_from_out` and `from_context`, which the fast one must
    /// equal.
    fn general(l: &Layout, context: &str, generated: &str) -> (String, String) {
        let rel = relative(&l.out_dir, &normalise(&l.spec_dir.join(context)));
        let from_out = if rel.starts_with("..") {
            rel
        } else {
            format!("./{rel}")
        };
        let ctx = normalise(&l.spec_dir.join(context));
        let dockerfile = relative(&ctx, &normalise(&l.out_dir.join(generated)));
        (from_out, dockerfile)
    }

    #[test]
    fn the_plain_path_fast_path_is_the_general_path() {
        let dirs = [
            "/",
            "/repo",
            "/repo/ops",
            "/repo/deploy",
            "/repo/deploy/shop",
            "/repo/src",
            "/repo/src/web",
            "/srv/out",
            "/..foo/bar",
            "/répo/ü",
        ];
        let contexts = [
            "",
            ".",
            "./",
            "src/web",
            "./src/web",
            "src//web/",
            "src/./web",
            "deploy",
            "deploy/shop",
            "deploy/shop/x",
            "../app",
            "src/../app",
            "/abs/app",
            "..foo",
            "..foo/x",
            ".hidden/x",
            "a..b",
            "src/wéb",
        ];
        let generated = [
            "dockerfiles/web.Dockerfile",
            "./dockerfiles//a.Dockerfile",
            "../x/y",
            "/etc/x",
        ];
        for spec in dirs {
            for out in dirs {
                let l = layout(spec, out);
                for c in contexts {
                    for g in generated {
                        assert_eq!(
                            (l.context_from_out(c), l.from_context(c, g)),
                            general(&l, c, g),
                            "spec {spec}, out {out}, context {c}, generated {g}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_directory_that_is_not_utf8_takes_the_general_path() {
        use std::os::unix::ffi::OsStrExt;
        let odd = Path::new(std::ffi::OsStr::from_bytes(b"/repo/\xff/ops"));
        for l in [
            Layout::of(normalise(odd), normalise(Path::new("/repo/out"))),
            Layout::of(normalise(Path::new("/repo/out")), normalise(odd)),
        ] {
            assert!(l.parts.is_none());
            let g = "dockerfiles/a.Dockerfile";
            for c in ["src/web", "../app", "."] {
                assert_eq!(
                    (l.context_from_out(c), l.from_context(c, g)),
                    general(&l, c, g)
                );
            }
        }
    }

    #[test]
    fn normalisation_is_lexical_and_stays_under_the_root() {
        assert_eq!(normalise(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(normalise(Path::new("/../../x")), PathBuf::from("/x"));
        assert_eq!(relative(Path::new("/a/b"), Path::new("/a/b")), ".");
    }
}
