//! Artifacts: the generated files, as a sorted map of safe relative paths to bytes and mode.

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

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Artifacts {
    files: BTreeMap<String, Artifact>,
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
        assert!(is_safe_path(&path), "unsafe artifact path {path:?}");
        self.files.insert(path, a);
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
}
