//! The one YAML emission path of every YAML artifact (compose, swarm, kubernetes, the Falco
//! rules): typed structs serialised by `emit`, a serde Serializer that writes block-style
//! YAML straight into the output (always valid YAML, no spec value can add a key), the bytes
//! serde_yaml would write, with the scalars YAML 1.1 readers would misread quoted.
//!
//! serde_yaml itself (libyaml's emitter) stays as the fallback for the rare values `emit`
//! does not reproduce (see its documentation; none occurs in hardgen's artifacts), followed
//! by `quote_yaml11`, which was this module's whole path before `emit`.

mod emit;
#[cfg(test)]
mod tests;

use serde::Serialize;

/// Appends `value` as one YAML document to `out`. The renderers' structs always serialise
/// (string keys, no non-finite floats): a failure is a bug in hardgen.
pub fn document<T: Serialize + ?Sized>(value: &T, out: &mut String) {
    let start = out.len();
    if emit::write(value, out).is_err() {
        out.truncate(start);
        via_serde_yaml(value, out);
    }
}

/// Appends `key: value` as one entry of a block mapping that is the value of a top-level
/// key (written after that key's own line, `services:`), the bytes `document` writes for it
/// inside the whole document: the entry as a document of its own, every line two spaces in.
/// Block layout is relative to the enclosing indentation, and the only lines written without
/// it are a block scalar's empty lines, which stay empty. Lets a renderer hand a large
/// mapping over an entry at a time instead of building and holding all of it.
pub fn nested_entry<K, T>(key: &K, value: &T, scratch: &mut String, out: &mut String)
where
    K: Serialize + ?Sized,
    T: Serialize + ?Sized,
{
    struct Entry<'a, K: ?Sized, T: ?Sized>(&'a K, &'a T);
    impl<K: Serialize + ?Sized, T: Serialize + ?Sized> Serialize for Entry<'_, K, T> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap;
            let mut m = s.serialize_map(Some(1))?;
            m.serialize_entry(self.0, self.1)?;
            m.end()
        }
    }
    // Written in place, two spaces in (a document written on its own and then indented line
    // by line was a sixth of the compose file's time); `document`'s fallback, then indented,
    // when the emitter refuses the entry.
    let start = out.len();
    if emit::write_in(&Entry(key, value), 2, out).is_err() {
        out.truncate(start);
        scratch.clear();
        via_serde_yaml(&Entry(key, value), scratch);
        for line in scratch.split_inclusive('\n') {
            if line != "\n" {
                out.push_str("  ");
            }
            out.push_str(line);
        }
    }
}

/// The document as serde_yaml writes it, with the YAML 1.1 ambiguities of its plain
/// scalars quoted: `document`'s fallback, and what its tests compare with.
fn via_serde_yaml<T: Serialize + ?Sized>(value: &T, out: &mut String) {
    let yaml = serde_yaml::to_string(value).expect("rendered structs always serialise");
    quote_yaml11(&yaml, out);
}

/// YAML 1.1 parsers (PyYAML, so compose-lint and yamllint) read `1000:1000` as a base-60
/// integer and `no` as a boolean; serde_yaml writes YAML 1.2 and leaves them bare. Quote such
/// scalars (never inside block scalars, whose lines are a value's text).
fn quote_yaml11(yaml: &str, out: &mut String) {
    // Inside a block scalar (`key: |-` and the more indented lines after it) every line is
    // literal text of a value: never touched.
    let mut block: Option<usize> = None;
    for line in yaml.lines() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        if let Some(b) = block {
            if line.trim().is_empty() || indent > b {
                out.push_str(line);
                out.push('\n');
                continue;
            }
            block = None;
        }
        let split = line.rfind(": ").map(|i| i + 2).or_else(|| {
            line.trim_start()
                .starts_with("- ")
                .then(|| line.find("- ").map_or(0, |i| i + 2))
        });
        match split {
            Some(i) if yaml11_ambiguous(&line[i..]) => {
                out.push_str(&line[..i]);
                out.push('\'');
                out.push_str(&line[i..]);
                out.push('\'');
            }
            Some(i) if is_block_header(&line[i..]) => {
                block = Some(indent);
                out.push_str(line);
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
}

/// YAML 1.1's booleans that YAML 1.2 reads as strings (`yes`, `off`...).
fn yaml11_boolean(v: &str) -> bool {
    matches!(
        v,
        "y" | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "on"
            | "On"
            | "ON"
            | "off"
            | "Off"
            | "OFF"
    )
}

/// A plain scalar that YAML 1.2 reads as a string but YAML 1.1 as something else: a
/// base-60 integer (`1000:1000`), a boolean (`yes`, `off`...) or an integer with `_`.
fn yaml11_ambiguous(v: &str) -> bool {
    let sexagesimal = v.contains(':')
        && v.split(':')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let boolean = yaml11_boolean(v);
    let digits = v.strip_prefix(['-', '+']).unwrap_or(v);
    let underscored = digits.contains('_')
        && digits.as_bytes()[0].is_ascii_digit()
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'_');
    sexagesimal || boolean || underscored
}

/// `|`, `|-`, `>+2`...: the header of a block scalar, whose text follows on the next lines.
fn is_block_header(v: &str) -> bool {
    let mut b = v.bytes();
    matches!(b.next(), Some(b'|' | b'>')) && b.all(|c| matches!(c, b'-' | b'+' | b'0'..=b'9'))
}
