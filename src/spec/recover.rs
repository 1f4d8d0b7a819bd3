//! Every shape problem in one run. toml's deserializer stops at the first unknown key or
//! wrong type; here each one is recorded, the key (or table) it is in is blanked out of a copy
//! of the text (spaces, line breaks kept, so every other span stays the same) and the spec is
//! read again, until it deserializes or a problem cannot be set aside (a syntax error, a
//! missing key). The spec read from the blanked text is still validated, so a type error does
//! not hide the other mistakes; only what the blanked keys' absence implies is not reported.

use std::ops::Range;

use toml_edit::{Document, InlineTable, Item, Table, Value};

use super::RawSpec;

/// At most this many shape errors are collected (each costs one more parse).
const MAX_ERRORS: usize = 64;

/// What reading a spec found.
pub struct Shape {
    /// The spec without the keys and tables that had shape errors: `None` when a problem
    /// could not be set aside.
    pub raw: Option<RawSpec>,
    /// toml's errors, in the order found (each with its span in the original text).
    pub errors: Vec<toml::de::Error>,
    /// The name keys of the tables a blanked key or table was in (`api` of
    /// `[services.api]`): a later diagnostic placed on one of them (the service has no image,
    /// no zone, no health check) may only be the blanked key's absence, and is left out.
    pub set_aside: Vec<Range<usize>>,
}

impl Shape {
    /// Whether a diagnostic at `span` may be a knock-on of a blanked key.
    pub fn is_set_aside(&self, span: &Range<usize>) -> bool {
        self.set_aside.contains(span)
    }
}

/// One key/value pair or table of the document: what can be blanked.
struct Unit {
    range: Range<usize>,
    /// The key's name (a `missing field` error naming it is the blanking's own doing).
    key: String,
    /// An entry of an inline table (blanked with a comma).
    inline: bool,
    /// Where its key ends and its value is, for a key/value pair.
    value: Option<(usize, Range<usize>)>,
    /// Spans of the keys of the tables it is in, innermost last.
    owners: Vec<Range<usize>>,
}

/// Read `text` as a spec, collecting every unknown key and type error.
pub fn parse_collecting(text: &str) -> Shape {
    // A valid spec of the usual layout is read a service at a time (the same `RawSpec`, less
    // memory); anything else, and every error, is toml's reading of the whole document.
    if let Some(raw) = super::chunked::parse(text) {
        return Shape {
            raw: Some(raw),
            errors: Vec::new(),
            set_aside: Vec::new(),
        };
    }
    // Copied only when a key is blanked (a valid spec of thousands of services is read in
    // place).
    let mut text = std::borrow::Cow::Borrowed(text);
    let mut shape = Shape {
        raw: None,
        errors: Vec::new(),
        set_aside: Vec::new(),
    };
    let mut blanked: Vec<String> = Vec::new();
    loop {
        let e = match toml::from_str::<RawSpec>(&text) {
            Ok(raw) => {
                shape.raw = Some(raw);
                return shape;
            }
            Err(e) => e,
        };
        let msg = e.message();
        if let Some(k) = msg
            .strip_prefix("missing field `")
            .and_then(|m| m.split('`').next())
        {
            let in_stand_in = e
                .span()
                .is_some_and(|s| shape.set_aside.iter().any(|a| a.contains(&s.start)));
            // A misspelling of it was reported already (`form` for `from`).
            let misspelt = shape.errors.iter().any(|e| {
                e.message()
                    .strip_prefix("unknown field `")
                    .and_then(|m| m.split('`').next())
                    .is_some_and(|w| crate::diagnostic::did_you_mean_word(w, [k]).is_some())
            });
            if in_stand_in || misspelt || blanked.iter().any(|b| b == k) {
                // Only the blanked key (or what the stand-in table lacks) is missing:
                // already reported as what it was.
                return shape;
            }
        }
        let recoverable = [
            "unknown field",
            "invalid type",
            "unknown variant",
            "invalid value",
            "invalid length",
        ]
        .iter()
        .any(|p| msg.starts_with(p));
        let span = e.span();
        shape.errors.push(e);
        if !recoverable || shape.errors.len() >= MAX_ERRORS {
            return shape;
        }
        let Some(span) = span else { return shape };
        let Ok(doc) = Document::parse(&*text) else {
            return shape;
        };
        let mut units = Vec::new();
        table_units(doc.as_table(), &mut Vec::new(), &mut units);
        let Some(unit) = units
            .into_iter()
            .filter(|u| {
                u.range.start <= span.start && span.start < u.range.end.max(u.range.start + 1)
            })
            .min_by_key(|u| u.range.len())
        else {
            return shape;
        };
        // A value of the wrong type is replaced by a neutral one of the right type, so the
        // key is still there (a required key stays present); anything else is blanked.
        let stand_in = placeholder(msg_of(&shape)).and_then(|p| {
            let (key_end, value) = unit.value.clone()?;
            (value == span && value.end - key_end > p.len()).then_some((key_end, value.end, p))
        });
        let mut bytes = std::mem::take(&mut text).into_owned().into_bytes();
        match stand_in {
            Some((key_end, end, p)) => {
                for b in &mut bytes[key_end..end] {
                    if *b != b'\n' {
                        *b = b' ';
                    }
                }
                bytes[key_end] = b'=';
                bytes[key_end + 1..key_end + 1 + p.len()].copy_from_slice(p.as_bytes());
                shape.set_aside.push(key_end + 1..key_end + 1 + p.len());
            }
            None => {
                let range = with_separator(&text_of(&bytes), unit.range.clone(), &unit);
                for b in &mut bytes[range] {
                    if *b != b'\n' {
                        *b = b' ';
                    }
                }
                blanked.push(unit.key.clone());
            }
        }
        text = std::borrow::Cow::Owned(
            String::from_utf8(bytes).expect("whole characters replaced by ASCII"),
        );
        shape.set_aside.extend(unit.owners);
    }
}

/// An entry of an inline table goes with one of its commas, so the table still parses.
fn with_separator(text: &str, range: Range<usize>, unit: &Unit) -> Range<usize> {
    if !unit.inline {
        return range;
    }
    let after = &text[range.end..];
    let ws = after.len() - after.trim_start_matches([' ', '\t']).len();
    if after[ws..].starts_with(',') {
        return range.start..range.end + ws + 1;
    }
    let before = &text[..range.start];
    let trimmed = before.trim_end_matches([' ', '\t']);
    if trimmed.ends_with(',') {
        return trimmed.len() - 1..range.end;
    }
    range
}

fn table_units(t: &Table, owners: &mut Vec<Range<usize>>, out: &mut Vec<Unit>) {
    for (k, item) in t.iter() {
        let key_span = t.key(k).and_then(|k| k.span());
        match item {
            Item::Value(v) => value_units(k, key_span, v, false, owners, out),
            Item::Table(sub) => {
                let pushed = key_span.inspect(|ks| owners.push(ks.clone())).is_some();
                if !sub.is_implicit() && !sub.is_dotted() {
                    let outer = &owners[..owners.len() - usize::from(pushed)];
                    out.extend(header_unit(sub, k, outer));
                }
                table_units(sub, owners, out);
                if pushed {
                    owners.pop();
                }
            }
            Item::ArrayOfTables(a) => {
                for sub in a.iter() {
                    out.extend(header_unit(sub, k, owners));
                    table_units(sub, owners, out);
                }
            }
            Item::None => {}
        }
    }
}

/// A table with a `[header]`: from its header to the end of its last value.
fn header_unit(t: &Table, key: &str, owners: &[Range<usize>]) -> Option<Unit> {
    let header = t.span()?;
    let end = t
        .iter()
        .filter_map(|(_, i)| i.as_value().and_then(Value::span))
        .map(|s| s.end)
        .max()
        .unwrap_or(header.end);
    Some(Unit {
        range: header.start..end.max(header.end),
        key: key.to_string(),
        inline: false,
        value: None,
        owners: owners.to_vec(),
    })
}

fn inline_units(t: &InlineTable, owners: &mut Vec<Range<usize>>, out: &mut Vec<Unit>) {
    for (k, v) in t.iter() {
        let key_span = t.key(k).and_then(|k| k.span());
        value_units(k, key_span, v, true, owners, out);
    }
}

/// A `key = value` pair, and the pairs of an inline table it holds.
fn value_units(
    k: &str,
    key_span: Option<Range<usize>>,
    v: &Value,
    inline: bool,
    owners: &mut Vec<Range<usize>>,
    out: &mut Vec<Unit>,
) {
    if let (Some(ks), Some(vs)) = (key_span.clone(), v.span()) {
        out.push(Unit {
            range: ks.start..vs.end,
            key: k.to_string(),
            inline,
            value: Some((ks.end, vs)),
            owners: owners.clone(),
        });
    }
    if let (Value::InlineTable(it), Some(ks)) = (v, key_span) {
        owners.push(ks);
        inline_units(it, owners, out);
        owners.pop();
    }
}

fn msg_of(shape: &Shape) -> &str {
    shape.errors.last().map_or("", |e| e.message())
}

fn text_of(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// What stands in for a value toml refused: a neutral value of the type an `invalid type`
/// message expects, or the value an `unknown variant` was probably meant to be (`"syslog"`
/// for `"sylog"`, so that its table is checked as intended).
fn placeholder(msg: &str) -> Option<String> {
    if let Some(rest) = msg.strip_prefix("unknown variant `") {
        let (word, expected) = rest.split_once('`')?;
        let expected: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        let meant = crate::diagnostic::did_you_mean_word(word, expected.iter().copied())?;
        return Some(format!("\"{meant}\""));
    }
    let expected = msg
        .strip_prefix("invalid type: ")?
        .split_once(", expected ")?
        .1;
    Some(
        match expected {
            "a string" => "\"\"",
            "u8" | "u16" | "u32" | "u64" | "i64" | "usize" => "1",
            "f64" | "f32" => "1.0",
            "a boolean" => "true",
            "a sequence" => "[]",
            // A table may need keys of its own: blanked instead.
            _ => return None,
        }
        .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(text: &str) -> (Vec<String>, bool) {
        let s = parse_collecting(text);
        (
            s.errors.iter().map(|e| e.message().to_string()).collect(),
            s.raw.is_some(),
        )
    }

    const BASE: &str = "[project]\nname = \"demo\"\n[zones.app]\n[services.api]\nimage = \"busybox:1.36\"\nzones = [\"app\"]\n";

    #[test]
    fn every_unknown_key_and_type_error() {
        let text = format!(
            "{BASE}healthcheck = {{ intervall = \"1s\", cmd = [\"true\"] }}\nmemroy = \"1g\"\npids = \"x\"\nports = [80]\n"
        );
        let (msgs, read) = messages(&text);
        assert_eq!(msgs.len(), 4, "{msgs:?}");
        assert!(
            msgs[0].contains("intervall") && msgs[1].contains("memroy"),
            "{msgs:?}"
        );
        assert!(read, "the rest of the spec is still read");
    }

    #[test]
    fn a_wrong_required_value_is_stood_in_for() {
        let (msgs, read) = messages(
            &format!("{BASE}[zones.data]\negress = \"yes\"\n")
                .replace("name = \"demo\"", "name = 5"),
        );
        assert_eq!(msgs.len(), 2, "{msgs:?}");
        assert!(read, "`name` stays present");
    }

    #[test]
    fn stops_at_what_cannot_be_set_aside() {
        let (msgs, read) = messages("[project]\nname = \"demo\"\nname = \"x\"\n");
        assert_eq!(msgs.len(), 1, "{msgs:?}");
        assert!(!read);
        // A misspelt required key: its absence is not a second error.
        let (msgs, read) = messages(&format!(
            "{BASE}healthcheck = {{ cmd = [\"true\"] }}\n[[flows]]\nform = \"app\"\nto = \"app\"\n"
        ));
        assert_eq!(msgs.len(), 1, "{msgs:?}");
        assert!(!read);
    }
}
