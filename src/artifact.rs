//! Artifacts: the generated files, each a safe relative path with its bytes and mode. The
//! renderers hand each one to a [`Sink`] as soon as it is rendered: the staging writer
//! (`output::Staging`), the drift comparer (`diff::Drift`), or [`Artifacts`], the sorted map
//! of them all for the callers that need every artifact in memory (`hardgen learn`, `import`,
//! the posture review, the tests).

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub bytes: Vec<u8>,
    /// Unix permission bits.
    pub mode: u32,
}

impl Artifact {
    pub fn text(s: String) -> Artifact {
        Artifact {
            bytes: s.into_bytes(),
            mode: 0o644,
        }
    }

    pub fn script(s: String) -> Artifact {
        Artifact {
            bytes: s.into_bytes(),
            mode: 0o755,
        }
    }
}

/// The output directory's layout, defined once: every top-level entry hardgen puts there,
/// whichever target it renders. The renderers may only write below these
/// ([`Artifacts::insert`] refuses anything else), and validation refuses a bind mount of any
/// of them (a container could read the secrets, or rewrite the scripts, firewall rules and
/// profiles that root runs or loads).
pub const TOP_LEVEL: &[&str] = &[
    // Rendered.
    ".env.example",
    ".gitignore",
    "README.md",
    "apparmor",
    "compliance.html",
    "compliance.md",
    "daemon.json",
    "docker-compose.yml",
    "docker-stack.yml",
    "dockerfiles",
    "falco",
    "firewall",
    "host",
    "kubernetes",
    "kustomization.yaml",
    "scripts",
    "seccomp",
    // Written when the output is deployed or written: the secrets and the environment file
    // by `scripts/generate-secrets.sh`, the manifest of generated files by `output`.
    ".env",
    "secrets",
    crate::output::MANIFEST,
];

/// Whether the relative path `p` (in the output directory) is the output directory itself
/// or lies in (or is) something hardgen generates there. `.` components are ignored.
pub fn is_generated(p: &str) -> bool {
    let first = p.split('/').find(|c| !c.is_empty() && *c != ".");
    first.is_none_or(|f| TOP_LEVEL.contains(&f))
}

/// Where rendered artifacts go, one at a time, in the order they are rendered (not sorted;
/// what a sink makes of them must not depend on the order). A renderer hands each artifact
/// over and keeps nothing; a sink that fails (a full disk) keeps its error for its caller and
/// takes nothing more.
///
/// A large artifact (the Falco rules, the compose file) is handed over in pieces instead:
/// [`Sink::begin`], its bytes in order through [`Sink::append`], then [`Sink::end`]; no other
/// artifact is handed over in between. Renderers do this through [`Stream`].
pub trait Sink {
    fn put(&mut self, path: String, artifact: Artifact);
    fn begin(&mut self, path: String, mode: u32);
    fn append(&mut self, bytes: Vec<u8>);
    fn end(&mut self);
}

/// A sink that takes artifacts from two threads at once: [`Split::part`] makes an empty sink
/// of the same kind, taking artifacts to the same place (the same staging directory, the same
/// files to compare with), for a second thread to render into; [`Split::join`] takes back what
/// the part took. Each artifact goes to exactly one of them, and which one does not change the
/// result (a sink's result never depends on the order artifacts arrive in).
pub trait Split: Sink + Send + Sized {
    fn part(&self) -> Self;
    fn join(&mut self, part: Self);
}

/// How much text a renderer gathers before it hands a piece of a streamed artifact over.
pub const CHUNK: usize = 64 * 1024;

impl<'a> dyn Sink + 'a {
    /// Hand over one artifact. `path` must be a safe path under [`TOP_LEVEL`].
    pub fn insert(&mut self, path: impl Into<String>, a: Artifact) {
        let path = path.into();
        check_path(&path);
        self.put(path, a);
    }

    /// Begin an artifact handed over in pieces (see [`Stream`]).
    pub fn stream(&mut self, path: impl Into<String>, mode: u32) -> Stream<'_, 'a> {
        let path = path.into();
        check_path(&path);
        self.begin(path, mode);
        Stream { sink: self }
    }
}

/// An artifact on its way to a sink in pieces: the renderer appends its text to a buffer of
/// its own and offers the buffer after each unit (a service); the buffer is handed over once
/// it holds [`CHUNK`] bytes, so at most about a chunk of the artifact is in memory.
pub struct Stream<'s, 'a> {
    sink: &'s mut (dyn Sink + 'a),
}

impl Stream<'_, '_> {
    /// Hand `buf`'s text over when it has grown to a chunk (leaving `buf` empty).
    pub fn offer(&mut self, buf: &mut String) {
        if buf.len() >= CHUNK {
            let full = std::mem::replace(buf, String::with_capacity(CHUNK + CHUNK / 2));
            self.sink.append(full.into_bytes());
        }
    }

    /// The artifact's last text, and its end.
    pub fn finish(self, rest: String) {
        if !rest.is_empty() {
            self.sink.append(rest.into_bytes());
        }
        self.sink.end();
    }
}

fn check_path(path: &str) {
    assert!(is_safe_path(path), "unsafe artifact path {path:?}");
    assert!(
        is_generated(path),
        "{path:?} is outside the output layout: add its top-level entry to artifact::TOP_LEVEL"
    );
}

/// Every artifact in memory, sorted by path.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Artifacts {
    files: BTreeMap<String, Artifact>,
    /// The artifact being handed over in pieces.
    pending: Option<(String, Artifact)>,
}

/// A relative path made of plain components: no `..`, no absolute path, nothing that could
/// leave the output directory.
pub fn is_safe_path(p: &str) -> bool {
    !p.is_empty()
        && !p.starts_with('/')
        && p.split('/').all(|c| {
            !c.is_empty()
                && c != "."
                && c != ".."
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        })
}

impl Artifacts {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, path: impl Into<String>, a: Artifact) {
        let path = path.into();
        check_path(&path);
        self.put(path, a);
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Artifact)> {
        self.files.iter()
    }

    pub fn get(&self, path: &str) -> Option<&Artifact> {
        self.files.get(path)
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    pub fn paths(&self) -> impl Iterator<Item = &String> {
        self.files.keys()
    }
}

impl Sink for Artifacts {
    fn put(&mut self, path: String, artifact: Artifact) {
        let earlier = self.files.insert(path, artifact);
        debug_assert!(earlier.is_none(), "an artifact was rendered twice");
    }

    fn begin(&mut self, path: String, mode: u32) {
        debug_assert!(
            self.pending.is_none(),
            "an artifact began before the last ended"
        );
        let bytes = Vec::new();
        self.pending = Some((path, Artifact { bytes, mode }));
    }

    fn append(&mut self, bytes: Vec<u8>) {
        let (_, a) = self.pending.as_mut().expect("append after begin");
        if a.bytes.is_empty() {
            a.bytes = bytes;
        } else {
            a.bytes.extend_from_slice(&bytes);
        }
    }

    fn end(&mut self) {
        let (path, a) = self.pending.take().expect("end after begin");
        self.put(path, a);
    }
}

impl Split for Artifacts {
    fn part(&self) -> Self {
        Artifacts::new()
    }

    fn join(&mut self, part: Self) {
        debug_assert!(part.pending.is_none(), "a part joined mid-artifact");
        for (path, a) in part.files {
            self.put(path, a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_paths() {
        assert!(is_safe_path("seccomp/baseline.json"));
        assert!(is_safe_path(".gitignore"));
        assert!(!is_safe_path("../x"));
        assert!(!is_safe_path("/etc/passwd"));
        assert!(!is_safe_path("a//b"));
        assert!(!is_safe_path("a/./b"));
    }

    #[test]
    fn generated_paths() {
        for p in [
            "",
            ".",
            "./",
            "apparmor",
            "./apparmor/x",
            "kubernetes/a.yaml",
            "compliance.md",
            "./secrets/db",
        ] {
            assert!(is_generated(p), "{p}");
        }
        for p in ["data", "./data/apparmor", "config.yml", "./seccompx"] {
            assert!(!is_generated(p), "{p}");
        }
    }
}
