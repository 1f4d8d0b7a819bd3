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
    let mut title = first.to_string();
    for (rust, spec) in WORDS {
        title = title.replace(rust, spec);
    }
    let mut help: Vec<String> = lines
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    let fix = match first {
        "invalid basic string" => Some("a `\"...\"` string ends on its line with `\"` and holds no raw control character (write `\\n`, `\\t`, `\\u001b`; `\"\"\"` opens a multi-line string)"),
        "invalid literal string" => Some("a `'...'` string ends on its line with `'` and holds no raw control character"),
        "invalid multiline basic string" | "invalid multiline literal string" => {
            Some("a multi-line string is closed by the same three quotes that open it")
        }
        "invalid string" => Some("quote strings: `name = \"demo\"`"),
        "invalid escape sequence" => Some("in `\"...\"` a backslash starts an escape; write `\\\\` for a backslash, or use a `'...'` string"),
        "invalid table header" => Some("a table header is `[name]` or `[parent.name]`, alone on its line"),
        "invalid array" => Some("separate the elements with `,` and close the array with `]`"),
        "invalid inline table" => Some("an inline table `{ a = 1, b = 2 }` stays on one line, with `,` between its entries"),
        "expected `.`, `=`" => Some("a key is followed by `=` and its value: `key = \"value\"`"),
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
