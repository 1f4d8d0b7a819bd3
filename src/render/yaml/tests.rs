//! The fast emitter against today's path (serde_yaml + quote_yaml11), byte for byte, on
//! thousands of generated values; where it deliberately differs (it quotes what a YAML 1.1
//! reader would misread in more places), serde_yaml and PyYAML must both read its output
//! as the value.

use super::{document, emit, nested_entry, quote_yaml11, via_serde_yaml};
use serde::ser::{SerializeMap, SerializeSeq, SerializeStruct};
use serde::{Serialize, Serializer};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// SplitMix64: a small deterministic generator (fixed seed, no crate).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'t, T>(&mut self, from: &'t [T]) -> &'t T {
        &from[self.below(from.len())]
    }
    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

/// A generated value, serialised through every serde entry point the renderers use.
#[derive(Clone, Debug)]
enum V {
    Unit,
    None,
    Some(Box<V>),
    Bool(bool),
    I(i64),
    U(u64),
    F(f64),
    S(String),
    Char(char),
    Variant(&'static str),
    Seq(Vec<V>),
    Map(Vec<(V, V)>),
    Struct(Vec<(&'static str, V)>),
}

impl Serialize for V {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            V::Unit => s.serialize_unit(),
            V::None => s.serialize_none(),
            V::Some(v) => s.serialize_some(v),
            V::Bool(b) => s.serialize_bool(*b),
            V::I(i) => s.serialize_i64(*i),
            V::U(u) => s.serialize_u64(*u),
            V::F(f) => s.serialize_f64(*f),
            V::S(x) => s.serialize_str(x),
            V::Char(c) => s.serialize_char(*c),
            V::Variant(name) => s.serialize_unit_variant("E", 0, name),
            V::Seq(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            V::Map(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
            V::Struct(fields) => {
                let mut st = s.serialize_struct("S", fields.len())?;
                for (k, v) in fields {
                    st.serialize_field(k, v)?;
                }
                st.end()
            }
        }
    }
}

/// Pieces of generated strings: indicators, spaces, breaks, control and non-ASCII
/// characters, and what YAML 1.1 or 1.2 readers take for another type.
const PIECES: &[&str] = &[
    "",
    "a",
    "Z",
    "x1",
    "name",
    "é",
    "日本",
    "😀",
    " ",
    "  ",
    ":",
    ": ",
    "#",
    " #",
    "-",
    "- ",
    "?",
    "? ",
    "'",
    "\"",
    "\n",
    "\n\n",
    "\t",
    "{",
    "}",
    "[",
    "]",
    ",",
    "&",
    "*",
    "!",
    "|",
    ">",
    "%",
    "@",
    "`",
    "\\",
    "~",
    ".",
    "...",
    "---",
    "_",
    "+",
    "=",
    "<<",
    "0x1F",
    "0x_1F",
    "1e3",
    "1E3",
    ".inf",
    "-.inf",
    ".NaN",
    "inf",
    "null",
    "Null",
    "NULL",
    "true",
    "False",
    "Yes",
    "yes",
    "NO",
    "on",
    "Off",
    "y",
    "N",
    "0",
    "08",
    "007",
    "0o17",
    "0b101",
    "-0x1F",
    "+12",
    "12",
    "-12",
    "1.5",
    "1.",
    ".5",
    "+.5",
    "1_000",
    "1_000.5",
    "1:2:3",
    "1000:1000",
    "-1:30",
    "1:20.5",
    "190:20:30",
    "2001-12-14",
    "2001-12-14t21:59:43.10-05:00",
    "2001-12-14 21:59:43.10 -5",
    "2002-1-2 1:02:03",
    "\r",
    "\u{85}",
    "\u{A0}",
    "\u{FEFF}",
    "\0",
    "\u{7}",
    "\u{1b}",
    "\u{7f}",
    "\u{9f}",
    "\u{FFFE}",
    "\u{10FFFF}",
];

/// Field names of generated structs (static, as serde's derive gives them).
const FIELDS: &[&str] = &[
    "name",
    "image",
    "yes",
    "on",
    "1",
    "null",
    "a b",
    "x: y",
    "-",
    "",
    "it's",
    "日本",
    "1000:1000",
    "<<",
    "=",
    "2001-12-14",
    "#c",
    "true",
    "~",
    "1_0",
];

fn gen_string(r: &mut Rng) -> String {
    // Rare: what only serde_yaml writes (line/paragraph separators, raw in quoted scalars).
    if r.chance(400) {
        return "a\u{2028}b".into();
    }
    let n = if r.chance(3) { 1 } else { 2 + r.below(3) };
    (0..n).map(|_| *r.pick(PIECES)).collect()
}

fn gen_scalar(r: &mut Rng) -> V {
    match r.below(16) {
        0 => V::Unit,
        1 => V::None,
        2 => V::Bool(r.chance(2)),
        3 => V::I(*r.pick(&[0, 1, -1, 42, -4096, i64::MIN, i64::MAX, 1_000_000])),
        4 => V::U(*r.pick(&[0, 7, 8080, u64::MAX])),
        // Floats whose shortest form has a dot (PyYAML's floats need one), and infinities.
        5 => V::F(*r.pick(&[
            0.5,
            -2.0,
            3.25,
            100.0,
            0.1,
            -0.0,
            f64::INFINITY,
            -f64::INFINITY,
        ])),
        6 => V::Char(*r.pick(&['a', '\'', '"', ' ', '#', 'é', '\t', '\u{FEFF}', 'y'])),
        7 => {
            const VARIANTS: [&str; 4] = ["Always", "yes", "on-failure", "Null"];
            V::Variant(VARIANTS[r.below(4)])
        }
        8 => V::Some(Box::new(V::S(gen_string(r)))),
        _ => V::S(gen_string(r)),
    }
}

/// A mapping key: a scalar (strings mostly), unique within its mapping.
fn gen_key(r: &mut Rng) -> V {
    match r.below(12) {
        0 => V::I(*r.pick(&[0, 1, -7, 65536])),
        1 => V::Unit,
        // Rare: keys serde_yaml writes as complex keys (`? `).
        2 if r.chance(40) => V::S("k".repeat(129)),
        2 if r.chance(40) => V::Seq(vec![V::S("a".into())]),
        _ => V::S(gen_string(r)),
    }
}

fn gen_value(r: &mut Rng, depth: usize) -> V {
    if depth == 0 || r.chance(3) {
        return gen_scalar(r);
    }
    let n = r.below(4);
    match r.below(3) {
        0 => V::Seq((0..n).map(|_| gen_value(r, depth - 1)).collect()),
        1 => {
            let mut keys: Vec<serde_yaml::Value> = Vec::new();
            let mut entries = Vec::new();
            for _ in 0..n {
                let k = gen_key(r);
                let kv = serde_yaml::to_value(&k).unwrap();
                if !keys.contains(&kv) {
                    keys.push(kv);
                    entries.push((k, gen_value(r, depth - 1)));
                }
            }
            V::Map(entries)
        }
        _ => {
            let mut fields: Vec<(&'static str, V)> = Vec::new();
            for _ in 0..n {
                let k = *r.pick(FIELDS);
                if fields.iter().all(|(f, _)| *f != k) {
                    fields.push((k, gen_value(r, depth - 1)));
                }
            }
            V::Struct(fields)
        }
    }
}

fn fast(v: &V) -> Option<String> {
    let mut out = String::new();
    match emit::write(v, &mut out) {
        Ok(()) => Some(out),
        Err(emit::Error::Unsupported(_)) => None,
        Err(e) => panic!("{e}"),
    }
}

fn old(v: &V) -> String {
    let mut out = String::new();
    via_serde_yaml(v, &mut out);
    out
}

/// What PyYAML must read, in the form the Python side normalises its result to (booleans
/// and floats tagged: Python's `True == 1` and `1.0 == 1`).
fn expected(v: &V) -> serde_json::Value {
    use serde_json::json;
    match v {
        V::Unit | V::None => json!(null),
        V::Some(v) => expected(v),
        V::Bool(b) => json!({ "__bool__": b }),
        V::I(i) => json!(i),
        V::U(u) => json!(u),
        V::F(f) if f.is_infinite() => json!({ "__float__": if *f > 0.0 { "inf" } else { "-inf" } }),
        V::F(f) => json!({ "__float__": f }),
        V::S(s) => json!(s),
        V::Char(c) => json!(c.to_string()),
        V::Variant(name) => json!(name),
        V::Seq(items) => serde_json::Value::Array(items.iter().map(expected).collect()),
        V::Map(entries) => json!({ "__map__": entries
            .iter()
            .map(|(k, v)| json!([expected(k), expected(v)]))
            .collect::<Vec<_>>() }),
        V::Struct(fields) => json!({ "__map__": fields
            .iter()
            .map(|(k, v)| json!([k, expected(v)]))
            .collect::<Vec<_>>() }),
    }
}

const CASES: usize = 4000;

fn cases() -> Vec<V> {
    let mut r = Rng(0x5EED_0019);
    (0..CASES)
        .map(|i| {
            if i % 4 == 0 {
                // Top-level scalars and shallow collections too.
                gen_value(&mut r, i % 3)
            } else {
                gen_value(&mut r, 4)
            }
        })
        .collect()
}

#[test]
fn fast_emitter_writes_what_serde_yaml_writes() {
    let (mut same, mut differ, mut fallback) = (0, 0, 0);
    for (i, v) in cases().iter().enumerate() {
        let old = old(v);
        let mut doc = String::from("# header\n");
        document(v, &mut doc);
        let Some(new) = fast(v) else {
            // document() falls back to exactly today's path.
            assert_eq!(
                doc,
                format!("# header\n{old}"),
                "case {i}: fallback differs"
            );
            fallback += 1;
            continue;
        };
        assert_eq!(
            doc,
            format!("# header\n{new}"),
            "case {i}: document() is not the fast path"
        );
        if new == old {
            same += 1;
            continue;
        }
        differ += 1;
        // A deliberate difference: more quotes. serde_yaml reads the same value.
        let back: serde_yaml::Value =
            serde_yaml::from_str(&new).unwrap_or_else(|e| panic!("case {i}: {e}\n{new}\n{v:?}"));
        assert_eq!(
            back,
            serde_yaml::to_value(v).unwrap(),
            "case {i}: serde_yaml reads another value\n--- new\n{new}--- old\n{old}"
        );
        assert!(
            new.matches('\'').count() > old.matches('\'').count(),
            "case {i}: differs otherwise than by quotes\n--- new\n{new}--- old\n{old}"
        );
    }
    eprintln!(
        "{same} identical, {differ} quoted where today's path does not, {fallback} fell back"
    );
    // Every branch ran, and the fast path is the rule.
    assert!(same > CASES / 2, "{same} identical");
    assert!(differ > 0 && fallback > 0);
    assert!(fallback < CASES / 10, "{fallback} fell back");
}

#[test]
fn pyyaml_reads_every_fast_document_as_its_value() {
    let py = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".tools/venv/bin/python");
    if !py.exists() {
        assert!(
            std::env::var_os("HARDGEN_REQUIRE_TOOLS").is_none(),
            "the tools venv (PyYAML) is required (HARDGEN_REQUIRE_TOOLS is set)"
        );
        eprintln!("skipped: PyYAML check (no .tools/venv: run scripts/install-tools.sh)");
        return;
    }
    let docs: Vec<serde_json::Value> = cases()
        .iter()
        .filter_map(|v| {
            fast(v).map(|yaml| serde_json::json!({ "yaml": yaml, "expect": expected(v) }))
        })
        .collect();
    let script = r#"
import json, math, sys, yaml
def norm(x):
    if isinstance(x, bool): return {"__bool__": x}
    if isinstance(x, float):
        return {"__float__": ("inf" if x > 0 else "-inf") if math.isinf(x) else x}
    if x is None or isinstance(x, (int, str)): return x
    if isinstance(x, list): return [norm(i) for i in x]
    if isinstance(x, dict): return {"__map__": [[norm(k), norm(v)] for k, v in x.items()]}
    return {"__other__": repr(x)}
bad = []
for c in json.load(sys.stdin):
    try:
        got = norm(yaml.safe_load(c["yaml"]))
    except Exception as e:
        got = {"__error__": str(e)}
    if got != c["expect"]:
        bad.append({"yaml": c["yaml"], "got": got, "expect": c["expect"]})
print(json.dumps({"bad": bad[:5], "nbad": len(bad)}))
"#;
    let mut child = Command::new(&py)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run python");
    let input = serde_json::to_vec(&docs).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &input));
    let out = child.wait_with_output().expect("python");
    writer.join().unwrap().expect("write to python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        result["nbad"],
        0,
        "PyYAML reads {} of {} documents otherwise; first ones:\n{:#}",
        result["nbad"],
        docs.len(),
        result["bad"]
    );
    assert!(docs.len() > CASES * 9 / 10);
}

/// The bytes of a few shapes, as serde_yaml writes them.
fn yaml(v: &V) -> String {
    let new = fast(v).expect("fast path");
    assert_eq!(new, old(v), "serde_yaml writes otherwise");
    new
}

fn s(x: &str) -> V {
    V::S(x.into())
}

fn map(entries: &[(&str, V)]) -> V {
    V::Map(entries.iter().map(|(k, v)| (s(k), v.clone())).collect())
}

#[test]
fn layout_of_collections() {
    let v = map(&[
        ("empty_seq", V::Seq(vec![])),
        ("empty_map", V::Map(vec![])),
        ("none", V::None),
        (
            "nested",
            V::Seq(vec![V::Seq(vec![s("a"), s("b")]), V::Seq(vec![])]),
        ),
        (
            "maps",
            V::Seq(vec![
                map(&[("k", s("v")), ("k2", V::Seq(vec![V::I(1)]))]),
                map(&[]),
            ]),
        ),
        ("deep", map(&[("a", map(&[("b", V::U(u64::MAX))]))])),
    ]);
    assert_eq!(
        yaml(&v),
        "empty_seq: []\nempty_map: {}\nnone: null\nnested:\n- - a\n  - b\n- []\n\
         maps:\n- k: v\n  k2:\n  - 1\n- {}\ndeep:\n  a:\n    b: 18446744073709551615\n"
    );
    assert_eq!(yaml(&V::Seq(vec![])), "[]\n");
    assert_eq!(yaml(&V::Map(vec![])), "{}\n");
    assert_eq!(yaml(&s("x")), "x\n");
    assert_eq!(
        yaml(&V::Seq(vec![V::Seq(vec![V::Seq(vec![V::Unit])])])),
        "- - - null\n"
    );
}

#[test]
fn scalar_styles() {
    let cases: &[(&str, &str)] = &[
        ("plain", "plain"),
        ("true", "'true'"),
        ("0x1F", "'0x1F'"),
        ("1e3", "'1e3'"),
        ("08", "'08'"),
        ("~", "'~'"),
        ("", "''"),
        ("it's", "it's"),
        ("'q", "'''q'"),
        ("a: b", "'a: b'"),
        ("a #b", "'a #b'"),
        ("a#b", "a#b"),
        (" lead", "' lead'"),
        ("tab\t", "\"tab\\t\""),
        ("bell\u{7}\u{85}\u{FEFF}😀", "\"bell\\a\\N\\uFEFF😀\""),
        ("a\nb", "|-\n  a\n  b"),
        ("a\nb\n", "|\n  a\n  b\n"),
        ("a\n\n", "|+\n  a\n\n"),
        (" a\nb", "|2-\n   a\n  b"),
        ("a \nb", "\"a \\nb\""),
    ];
    for (text, want) in cases {
        // A literal block that ends with its text's line break has no other after it.
        let end = if want.ends_with('\n') { "" } else { "\n" };
        assert_eq!(
            yaml(&map(&[("k", s(text))])),
            format!("k: {want}{end}"),
            "{text:?}"
        );
    }
    assert_eq!(yaml(&V::F(1e16)), "1e16\n");
    assert_eq!(yaml(&V::F(f64::NAN)), ".nan\n");
    assert_eq!(yaml(&V::F(-f64::INFINITY)), "-.inf\n");
    assert_eq!(yaml(&V::I(i64::MIN)), "-9223372036854775808\n");
    assert_eq!(yaml(&V::Char('\'')), "''''\n");
}

#[test]
fn yaml11_types_are_quoted_where_serde_yaml_leaves_them_plain() {
    // Today's path: values after `: ` and `- ` (quote_yaml11).
    for v in ["1000:1000", "yes", "Off", "y", "1_000", "-1_000"] {
        assert_eq!(fast(&map(&[("k", s(v))])).unwrap(), format!("k: '{v}'\n"));
        assert_eq!(fast(&V::Seq(vec![s(v)])).unwrap(), format!("- '{v}'\n"));
    }
    // And everything else PyYAML resolves to another type, everywhere: keys, items of
    // nested sequences, values after a block scalar in a sequence's mapping.
    for v in [
        "2001-12-14",
        "2001-12-14 21:59:43.10 -5",
        "1_000.5",
        "-1:30",
        "1:20.5",
        "0x_1F",
        "=",
        "<<",
    ] {
        assert_eq!(
            fast(&map(&[("k", s(v))])).unwrap(),
            format!("k: '{v}'\n"),
            "{v}"
        );
    }
    assert_eq!(fast(&map(&[("no", V::I(1))])).unwrap(), "'no': 1\n");
    assert_eq!(
        fast(&V::Seq(vec![V::Seq(vec![s("on")])])).unwrap(),
        "- - 'on'\n"
    );
    assert_eq!(
        fast(&V::Seq(vec![map(&[("a", s("x\ny")), ("b", s("off"))])])).unwrap(),
        "- a: |-\n    x\n    y\n  b: 'off'\n"
    );
    // Not types: left plain.
    for v in [
        "2001-12-1",
        "1:2:3x",
        "0x",
        "0b2",
        "1.2.3",
        "12:3a",
        "12:30:45abc",
        "ye",
        "<",
    ] {
        assert_eq!(
            fast(&map(&[("k", s(v))])).unwrap(),
            format!("k: {v}\n"),
            "{v}"
        );
    }
}

#[test]
fn quote_yaml11_quotes_values_outside_block_scalars() {
    let mut out = String::new();
    quote_yaml11("a: yes\nb:\n- 1:2\n- x\nc: |-\n  d: no\ne: 1_0\n", &mut out);
    assert_eq!(
        out,
        "a: 'yes'\nb:\n- '1:2'\n- x\nc: |-\n  d: no\ne: '1_0'\n"
    );
}

#[test]
fn what_serde_yaml_writes_as_tags_or_complex_keys_falls_back() {
    #[derive(Serialize)]
    enum E {
        Tagged(u8),
    }
    let mut out = String::new();
    assert!(matches!(
        emit::write(&E::Tagged(1), &mut out),
        Err(emit::Error::Unsupported(_))
    ));
    let mut doc = String::new();
    document(&E::Tagged(1), &mut doc);
    assert_eq!(doc, "!Tagged 1\n");
    let long = V::Map(vec![(s(&"k".repeat(129)), V::I(1))]);
    assert!(fast(&long).is_none());
    assert_eq!(old(&long), format!("? {}\n: 1\n", "k".repeat(129)));
    assert!(fast(&map(&[("k", s("a\u{2029}b"))])).is_none());
}

/// A mapping written an entry at a time (`nested_entry`, as the compose file's services are)
/// is the mapping `document` writes whole, byte for byte, on generated values (block scalars
/// with empty and indented lines, nested sequences and mappings, complex keys).
#[test]
fn nested_entries_are_the_whole_mapping() {
    let mut r = Rng(0x5EED_0020);
    let mut checked = 0;
    for i in 0..CASES / 4 {
        let n = 1 + r.below(4);
        let mut entries: Vec<(String, V)> = Vec::new();
        for _ in 0..n {
            let k = if r.chance(10) {
                "k".repeat(129)
            } else {
                gen_string(&mut r)
            };
            let mut v = gen_value(&mut r, 4);
            if r.chance(4) {
                v = V::S(format!(
                    "{}\n\n  {}\n",
                    gen_string(&mut r),
                    gen_string(&mut r)
                ));
            }
            if entries.iter().all(|(e, _)| *e != k) {
                entries.push((k, v));
            }
        }
        let map = V::Map(
            entries
                .iter()
                .map(|(k, v)| (V::S(k.clone()), v.clone()))
                .collect(),
        );
        let whole = V::Struct(vec![("services", map)]);
        // Only the fast path: a value it does not write makes the whole document fall back
        // to serde_yaml, but only its own entry.
        if fast(&whole).is_none() {
            continue;
        }
        let mut expected = String::new();
        document(&whole, &mut expected);
        let mut got = String::from("services:\n");
        let mut scratch = String::new();
        for (k, v) in &entries {
            nested_entry(k, v, &mut scratch, &mut got);
        }
        assert_eq!(got, expected, "case {i}");
        checked += 1;
    }
    assert!(checked > CASES / 8, "{checked} checked");
}

/// Every string and key of a generated value.
fn strings_of(v: &V, out: &mut Vec<String>) {
    match v {
        V::S(x) => out.push(x.clone()),
        V::Some(v) => strings_of(v, out),
        V::Seq(items) => items.iter().for_each(|i| strings_of(i, out)),
        V::Map(entries) => entries.iter().for_each(|(k, v)| {
            strings_of(k, out);
            strings_of(v, out);
        }),
        V::Struct(fields) => fields.iter().for_each(|(k, v)| {
            out.push(k.to_string());
            strings_of(v, out);
        }),
        _ => {}
    }
}

/// The quick test of the common strings says plain only where the whole analysis does
/// (as a value and as a key): on the generated values' strings, on every two pieces after
/// each start it accepts and a few it does not, and on edge cases; and it does say plain
/// for the strings hardgen's artifacts are mostly made of.
#[test]
fn obviously_plain_strings_are_written_plain() {
    let mut strings: Vec<String> = [
        "",
        "-",
        "- x",
        "-x",
        ":",
        "a:b",
        "a: b",
        "a:",
        "a :b",
        "#x",
        "a #b",
        "a#b",
        "a #",
        "?",
        "? x",
        "*a",
        "&a",
        "!a",
        "|",
        "|-",
        ">",
        "%",
        "@",
        "`",
        "'",
        "\"",
        "{",
        "[",
        ",",
        " a",
        "a ",
        "a  b",
        "~",
        "null",
        "Null",
        "NULL",
        "nULL",
        "true",
        "True",
        "TRUE",
        "false",
        "yes",
        "Yes",
        "YES",
        "on",
        "On",
        "ON",
        "y",
        "Y",
        "n",
        "N",
        "no",
        "off",
        "Off",
        "OFF",
        "0",
        "012",
        "0x1f",
        "0o7",
        "0b1",
        "1e3",
        ".5",
        "1_000",
        "_1_000",
        ".inf",
        "-.inf",
        ".NaN",
        ".nan",
        "inf",
        "nan",
        "infinity",
        "1:20",
        "a1:20",
        "2001-12-14",
        "=",
        "<<",
        ".",
        "..",
        "...",
        "./",
        "../",
        ".../x",
        "---",
        "--- x",
        "é",
        "aé",
        "a\tb",
        "a\t",
        "a\u{1}b",
        "a\u{7f}",
        "a\u{85}b",
        "a\u{A0}",
        "a\nb",
        "a\r",
        "/run/secrets/x",
        "_x",
        "8002/tcp",
        "256m",
        "30s",
        "1.5",
        "10.0.2.2",
        "10001:10001",
        "0x1fg",
        "1inf",
        "1nan",
        "9z",
        "1e3x",
        "1:2:3x",
        "2001-12-14x",
        "2001-12-14t21:59:43.10-05:00",
        "2001-12-14 21:59:43.10 -5",
        "1_000y",
        "0b2",
        "1.2.3",
        "1..2",
        "1.2.",
        "1.5e3.4",
        "1:20.5.1",
        "2001-12-14 21:59:43.10.5",
        "0x1.2.3",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    strings.push("k".repeat(128));
    strings.push("k".repeat(129));
    strings.push(format!("{} #", "k".repeat(127)));
    strings.extend(FIELDS.iter().map(|f| f.to_string()));
    for v in cases() {
        strings_of(&v, &mut strings);
    }
    for start in [
        "", "a", "n", "O", "/", "_", "./", "../", ".", "-", "1", "a ", "a:",
    ] {
        for p in PIECES {
            for q in PIECES {
                strings.push(format!("{start}{p}{q}"));
            }
        }
    }
    let mut plain = 0;
    for v in &strings {
        if !emit::obviously_plain(v) {
            continue;
        }
        plain += 1;
        for key in [false, true] {
            if key && v.len() > 128 {
                // `Emitter::string` leaves a long key to the whole analysis (which refuses it).
                continue;
            }
            assert!(
                matches!(emit::full_style(v, false, key), Ok(emit::Style::Plain)),
                "{v:?} (key: {key}): {:?}",
                emit::full_style(v, false, key).ok()
            );
        }
    }
    assert!(plain > strings.len() / 20, "{plain} of {}", strings.len());
    for v in [
        "svc00002",
        "nginx",
        "node",
        "NET_BIND_SERVICE",
        "/run/secrets/db_password",
        "/tmp:rw,noexec,nosuid,nodev,size=64m,mode=1777",
        "no-new-privileges:true",
        "seccomp:seccomp/baseline.json",
        "bench1000-svc00002:local",
        "svc00003:10.0.3.2",
        "10.0.3.2",
        "1.25.3",
        "on-failure:5",
        "8002/tcp",
        "256m",
        "./config",
        "../src/svc00002",
        "_",
        "import socket; socket.create_connection(('127.0.0.1', 8002), 3).close()",
        "hardgen_outbound and hardgen_bench1000_svc00027 and not (hardgen_bench1000_svc00027_destinations)",
        "Connection outside the zones of a/b (connection=%fd.name to=%fd.sip:%fd.sport a#b)",
    ] {
        assert!(emit::obviously_plain(v), "{v:?}");
    }
}

/// The block-at-a-time test of neighbouring bytes sees every pair, whatever the length and
/// position: a printable name with one odd pair or byte anywhere is not obviously plain.
#[test]
fn obviously_plain_sees_every_pair() {
    for n in 1..=70 {
        let name = "a".repeat(n);
        assert!(emit::obviously_plain(&name), "{n}");
        for j in 1..n {
            for odd in [": ", " #", "\t", "\u{7f}", "é", "\n"] {
                let mut v = name.clone();
                v.replace_range(j..(j + odd.len()).min(n), odd);
                assert!(!emit::obviously_plain(&v), "{v:?}");
            }
        }
    }
}

/// The quick test of struct field names says plain only where `obviously_plain` does (and
/// so where the whole analysis does, as a key: `obviously_plain_strings_are_written_plain`),
/// on every lowercase word, the renderers' field names and edge cases; and the common
/// field names pass it.
#[test]
fn plain_field_names_are_obviously_plain() {
    let mut names: Vec<String> = [
        "",
        "_",
        "_x",
        "a",
        "y",
        "n",
        "no",
        "on",
        "off",
        "yes",
        "null",
        "true",
        "false",
        "nul",
        "truey",
        "x1",
        "1x",
        "a-b",
        "a.b",
        "a b",
        "a:",
        "A",
        "aB",
        "é",
        "ipv4_address",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    names.push("k".repeat(128));
    names.push("k".repeat(129));
    let letters = "abcdefghijklmnopqrstuvwxyz_0";
    for a in letters.chars() {
        names.push(a.to_string());
        for b in letters.chars() {
            names.push(format!("{a}{b}"));
            for c in "aefhlnorsuy".chars() {
                names.push(format!("{a}{b}{c}"));
                for d in "eflsu".chars() {
                    names.push(format!("{a}{b}{c}{d}"));
                    names.push(format!("{a}{b}{c}{d}e"));
                }
            }
        }
    }
    let mut fast = 0;
    for k in &names {
        if emit::plain_field_name(k) {
            fast += 1;
            assert!(emit::obviously_plain(k) && k.len() <= 128, "{k:?}");
        }
    }
    assert!(fast > names.len() / 2, "{fast} of {}", names.len());
    for k in [
        "name",
        "image",
        "user",
        "read_only",
        "init",
        "cap_drop",
        "security_opt",
        "tmpfs",
        "environment",
        "networks",
        "restart",
        "mem_limit",
        "cpus",
        "pids_limit",
        "deploy",
        "logging",
        "labels",
        "rule",
        "desc",
        "condition",
        "output",
        "priority",
        "tags",
        "list",
        "items",
    ] {
        assert!(emit::plain_field_name(k), "{k}");
    }
    for k in ["on", "no", "y", "null", "true", "macro_", "Type", "x-y"] {
        assert_eq!(emit::plain_field_name(k), k == "macro_", "{k}");
    }
}
