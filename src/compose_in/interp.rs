//! Compose's variable interpolation and `.env`/`env_file` syntax.
//!
//! `$VAR`, `${VAR}`, `${VAR:-default}` (unset or empty), `${VAR-default}` (unset),
//! `${VAR:?message}` / `${VAR?message}` (error), `${VAR:+alt}` / `${VAR+alt}`, `$$` for a
//! literal `$`; defaults may themselves hold `${...}`.

use std::collections::BTreeMap;

pub type Vars = BTreeMap<String, String>;

/// One line of an env file: line number, name, value (none: `KEY` alone).
pub type EnvLine = (usize, String, Option<String>);

/// Interpolate `s`. The error is a message (the caller adds the place).
pub fn interpolate(s: &str, vars: &Vars) -> Result<String, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    expand(&chars, &mut i, vars, &mut out, false)?;
    Ok(out)
}

fn name_char(c: char, first: bool) -> bool {
    c == '_' || c.is_ascii_alphabetic() || (!first && c.is_ascii_digit())
}

/// Expand until the end, or (when `in_braces`) until the `}` that closes the current
/// expression, which is left unconsumed.
fn expand(
    c: &[char],
    i: &mut usize,
    vars: &Vars,
    out: &mut String,
    in_braces: bool,
) -> Result<(), String> {
    while *i < c.len() {
        let ch = c[*i];
        if in_braces && ch == '}' {
            return Ok(());
        }
        if ch != '$' {
            out.push(ch);
            *i += 1;
            continue;
        }
        // `$` ...
        match c.get(*i + 1) {
            Some('$') => {
                out.push('$');
                *i += 2;
            }
            Some('{') => {
                *i += 2;
                let start = *i;
                while *i < c.len() && name_char(c[*i], *i == start) {
                    *i += 1;
                }
                let name: String = c[start..*i].iter().collect();
                if name.is_empty() {
                    return Err(format!(
                        "invalid interpolation `${{{}`: a variable name is expected after `${{`",
                        c[start..].iter().take(20).collect::<String>()
                    ));
                }
                let value = vars.get(&name);
                let op: String = match c.get(*i) {
                    Some('}') => String::new(),
                    Some(':') => match c.get(*i + 1) {
                        Some(o @ ('-' | '?' | '+')) => format!(":{o}"),
                        _ => {
                            return Err(format!(
                                "invalid interpolation of `{name}`: expected `:-`, `:?` or `:+` after the name"
                            ))
                        }
                    },
                    Some(o @ ('-' | '?' | '+')) => o.to_string(),
                    Some(o) => {
                        return Err(format!(
                            "invalid interpolation of `{name}`: unexpected `{o}` (names are letters, digits and `_`)"
                        ))
                    }
                    None => return Err(format!("unclosed `${{{name}`: `}}` is missing")),
                };
                *i += op.len();
                let mut arg = String::new();
                if !op.is_empty() {
                    expand(c, i, vars, &mut arg, true)?;
                }
                if c.get(*i) != Some(&'}') {
                    return Err(format!("unclosed `${{{name}`: `}}` is missing"));
                }
                *i += 1;
                let set = value.is_some();
                let nonempty = value.is_some_and(|v| !v.is_empty());
                match op.as_str() {
                    "" => out.push_str(value.map(String::as_str).unwrap_or("")),
                    ":-" => out.push_str(if nonempty { value.unwrap() } else { &arg }),
                    "-" => out.push_str(if set { value.unwrap() } else { &arg }),
                    ":+" => out.push_str(if nonempty { &arg } else { "" }),
                    "+" => out.push_str(if set { &arg } else { "" }),
                    ":?" | "?" => {
                        let ok = if op == ":?" { nonempty } else { set };
                        if !ok {
                            return Err(if arg.is_empty() {
                                format!("required variable `{name}` is missing a value")
                            } else {
                                format!("required variable `{name}` is missing a value: {arg}")
                            });
                        }
                        out.push_str(value.unwrap());
                    }
                    _ => unreachable!(),
                }
            }
            Some(&n) if name_char(n, true) => {
                *i += 1;
                let start = *i;
                while *i < c.len() && name_char(c[*i], *i == start) {
                    *i += 1;
                }
                let name: String = c[start..*i].iter().collect();
                out.push_str(vars.get(&name).map(String::as_str).unwrap_or(""));
            }
            _ => {
                // A lone `$` (end of string, or before a character that starts no name).
                out.push('$');
                *i += 1;
            }
        }
    }
    if in_braces {
        return Err("unclosed `${`: `}` is missing".into());
    }
    Ok(())
}

/// One `KEY=VALUE` line of a `.env` or `env_file`: `(line number, key, value)`; comments,
/// blank lines and `export ` are handled, quotes removed (double quotes with `\n`, `\"`
/// escapes; single quotes literal), `# comment` after an unquoted value dropped. A `KEY`
/// alone (no `=`) has no value.
pub fn parse_env_file(text: &str) -> Result<Vec<EnvLine>, (usize, String)> {
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v)),
            None => (line, None),
        };
        if key.is_empty()
            || !key
                .chars()
                .enumerate()
                .all(|(i, c)| name_char(c, i == 0) || (i > 0 && matches!(c, '.' | '-')))
        {
            return Err((n + 1, format!("`{key}` is not a variable name")));
        }
        let value = value.map(|v| {
            let v = v.trim_start();
            if let Some(rest) = v.strip_prefix('"') {
                let mut s = String::new();
                let mut it = rest.chars();
                while let Some(c) = it.next() {
                    match c {
                        '"' => break,
                        '\\' => match it.next() {
                            Some('n') => s.push('\n'),
                            Some('t') => s.push('\t'),
                            Some(o) => s.push(o),
                            None => {}
                        },
                        o => s.push(o),
                    }
                }
                s
            } else if let Some(rest) = v.strip_prefix('\'') {
                rest.split('\'').next().unwrap_or("").to_string()
            } else {
                match v.find(" #") {
                    Some(p) => v[..p].trim_end().to_string(),
                    None => v.trim_end().to_string(),
                }
            }
        });
        out.push((n + 1, key.to_string(), value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        [("A", "a"), ("E", ""), ("N", "5")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_form() {
        let v = vars();
        let cases = [
            ("$A-${A}", "a-a"),
            ("${E:-d}|${E-d}|${U-d}|${U:-d}", "d||d|d"),
            ("${A:+x}|${E:+x}|${E+x}|${U+x}", "x||x|"),
            ("$$A $$ ${A:?boom}", "$A $ a"),
            ("${U:-${A}-${N}}", "a-5"),
            ("cost: 5$", "cost: 5$"),
            ("$1", "$1"),
        ];
        for (i, o) in cases {
            assert_eq!(interpolate(i, &v).unwrap(), o, "{i}");
        }
        assert!(interpolate("${U:?set U}", &v)
            .unwrap_err()
            .contains("set U"));
        assert!(interpolate("${E?x}", &v).is_ok());
        assert!(interpolate("${A", &v).is_err());
        assert!(interpolate("${A:x}", &v).is_err());
        assert!(interpolate("${}", &v).is_err());
    }

    #[test]
    fn env_files() {
        let t = "# c\nexport A=1\nB=\"x\\ny\" \nC='$lit'\nD=v # note\nE\n";
        let e = parse_env_file(t).unwrap();
        assert_eq!(e[0], (2, "A".into(), Some("1".into())));
        assert_eq!(e[1].2.as_deref(), Some("x\ny"));
        assert_eq!(e[2].2.as_deref(), Some("$lit"));
        assert_eq!(e[3].2.as_deref(), Some("v"));
        assert_eq!(e[4].2, None);
        assert_eq!(parse_env_file("1A=2").unwrap_err().0, 1);
    }
}
