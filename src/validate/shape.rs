//! toml's own errors (syntax, unknown keys, wrong types) told in the spec's words.

/// toml's shape errors in the spec's words: a title for the first line of `message` (Rust
/// type names replaced) and a help line (what the other lines of the message say, and how
/// to fix the usual syntax slips). `app` uses it for E001 when there is no "did you mean".
pub fn toml_explain(message: &str) -> (String, Option<String>) {
    const WORDS: &[(&str, &str)] = &[
        ("struct RawSpec", "a hardgen spec"),
        ("struct RawProject", "the `[project]` table"),
        ("struct RawDefaults", "the `[defaults]` table"),
        ("struct RawZone", "a zone table"),
        ("struct RawFlow", "a `[[flows]]` table"),
        ("struct RawSecret", "a secret table"),
        ("struct RawService", "a service table"),
        ("struct RawBuild", "a `build` table"),
        ("struct RawHealth", "a `healthcheck` table"),
        ("struct RawUnsafe", "an `unsafe` table"),
        ("expected u8", "expected a whole number from 0 to 255"),
        (
            "expected u32",
            "expected a whole number from 0 to 4294967295",
        ),
        ("expected f64", "expected a number"),
        ("expected a sequence", "expected an array `[...]`"),
        ("expected a map", "expected a table"),
    ];
    let mut lines = message.trim().lines();
    let first = lines.next().unwrap_or("").trim();
    // toml's syntax errors read `what is wrong, expected what`: the expectation goes to the
    // help line, before the usual fix (serde's shape errors keep theirs in the title).
    const SERDE: &[&str] = &[
        "unknown ",
        "invalid type",
        "invalid value",
        "invalid length",
        "missing field",
    ];
    let (first, expected) = match first.split_once(", expected ") {
        Some((what, exp)) if !SERDE.iter().any(|p| what.starts_with(p)) => {
            (what, Some(format!("expected {exp}")))
        }
        _ => (first, None),
    };
    // toml expects a "literal string" where a bare word stands: the fix says it better.
    let expected = expected.filter(|_| first != "string values must be quoted");
    let mut title = first.to_string();
    for (rust, spec) in WORDS {
        title = title.replace(rust, spec);
    }
    let mut help: Vec<String> = expected
        .into_iter()
        .chain(lines.map(str::trim).map(str::to_string))
        .filter(|l| !l.is_empty())
        .collect();
    let fix = match title.as_str() {
        "invalid basic string" => Some("a `\"...\"` string ends on its line with `\"` and holds no raw control character (write `\\n`, `\\t`, `\\u001b`; `\"\"\"` opens a multi-line string)"),
        "invalid literal string" => Some("a `'...'` string ends on its line with `'` and holds no raw control character"),
        "invalid multi-line basic string" | "invalid multi-line literal string" => {
            Some("a multi-line string is closed by the same three quotes that open it")
        }
        "string values must be quoted" => Some("quote strings: `name = \"demo\"`"),
        "missing escaped value" | "invalid escape sequence" => Some("in `\"...\"` a backslash starts an escape; write `\\\\` for a backslash, or use a `'...'` string"),
        "unclosed table" | "invalid table header" => Some("a table header is `[name]` or `[parent.name]`, alone on its line"),
        "unclosed array" | "invalid array" => Some("separate the elements with `,` and close the array with `]`"),
        "unclosed inline table" | "invalid inline table" => Some("an inline table `{ a = 1, b = 2 }` stays on one line, with `,` between its entries"),
        "key with no value" => Some("a key is followed by `=` and its value: `key = \"value\"`"),
        f if f.starts_with("missing field `project`") => Some("every spec starts with `[project]` and its `name = \"...\"`"),
        f if f.starts_with("missing field `services`") => Some("declare at least one service: `[services.NAME]`"),
        f if f.starts_with("missing field") => Some("this table needs that key"),
        f if f.starts_with("duplicate key") => Some("each key appears once per table: merge the two"),
        _ => None,
    };
    help.extend(fix.map(str::to_string));
    let help = (!help.is_empty()).then(|| {
        let mut h = help.join("; ");
        for (rust, spec) in WORDS {
            h = h.replace(rust, spec);
        }
        h
    });
    (title, help)
}
