//! The generated Falco rules (`falco/hardgen-<project>.yaml`), without a Falco engine (none can
//! be installed here): the file's structure against Falco's documented rules format, every
//! field a documented Falco field (`hardgen::falco::FIELDS`), every condition parsed by a
//! small parser of Falco's condition language (balanced parentheses, Falco's operators, every
//! identifier a field, macro or list), and the conditions evaluated on synthetic events: a
//! process X in service Y must match, or must not.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Falco's comparison operators (<https://falco.org/docs/concepts/rules/conditions/>).
const OPERATORS: &[&str] = &[
    "=",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "contains",
    "icontains",
    "bcontains",
    "startswith",
    "bstartswith",
    "endswith",
    "glob",
    "iglob",
    "pmatch",
    "in",
    "intersects",
    "regex",
];
/// Unary operators.
const UNARY: &[&str] = &["exists"];

/// Keys each item kind may carry (Falco's rules file reference); the first ones are required.
const RULE_REQUIRED: &[&str] = &["rule", "desc", "condition", "output", "priority"];
const RULE_OPTIONAL: &[&str] = &[
    "exceptions",
    "enabled",
    "tags",
    "source",
    "append",
    "override",
    "warn_evttypes",
    "skip-if-unknown-filter",
];

// ------------------------------------------------------------------ the condition language

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    Comma,
    Word(String),
    Str(String),
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let b: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            out.push(Tok::LParen);
            i += 1;
        } else if c == ')' {
            out.push(Tok::RParen);
            i += 1;
        } else if c == ',' {
            out.push(Tok::Comma);
            i += 1;
        } else if c == '"' || c == '\'' {
            let q = c;
            let mut j = i + 1;
            let mut v = String::new();
            while j < b.len() && b[j] != q {
                if b[j] == '\\' && j + 1 < b.len() {
                    j += 1;
                }
                v.push(b[j]);
                j += 1;
            }
            if j >= b.len() {
                return Err(format!("unterminated string in `{s}`"));
            }
            out.push(Tok::Str(v));
            i = j + 1;
        } else {
            // A word: up to whitespace, a comma or an unbracketed parenthesis; `[...]` (a
            // field argument) is part of it.
            let mut j = i;
            let mut depth = 0;
            while j < b.len() {
                let c = b[j];
                if c == '[' {
                    depth += 1;
                } else if c == ']' {
                    depth -= 1;
                } else if depth == 0 && (c.is_whitespace() || c == '(' || c == ')' || c == ',') {
                    break;
                }
                j += 1;
            }
            out.push(Tok::Word(b[i..j].iter().collect()));
            i = j;
        }
    }
    Ok(out)
}

#[derive(Debug, Clone)]
enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Macro(String),
    Cmp {
        field: String,
        op: String,
        values: Vec<Val>,
    },
    Exists(String),
}

#[derive(Debug, Clone)]
enum Val {
    Lit(String),
    /// A bare word inside `(...)`: a list name, or a literal when no list has that name.
    Bare(String),
}

struct Parser<'a> {
    toks: &'a [Tok],
    pos: usize,
    known: &'a Known,
}

/// What an identifier may be.
struct Known {
    fields: BTreeSet<String>,
    macros: BTreeSet<String>,
    lists: BTreeSet<String>,
}

impl Known {
    fn is_field(&self, w: &str) -> bool {
        let name = w.split('[').next().unwrap_or(w);
        if w.contains('[') && !w.ends_with(']') {
            return false;
        }
        self.fields.contains(name)
    }
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn word_is(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if x == w)
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut e = self.and()?;
        while self.word_is("or") {
            self.pos += 1;
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }
    fn and(&mut self) -> Result<Expr, String> {
        let mut e = self.not()?;
        while self.word_is("and") {
            self.pos += 1;
            e = Expr::And(Box::new(e), Box::new(self.not()?));
        }
        Ok(e)
    }
    fn not(&mut self) -> Result<Expr, String> {
        if self.word_is("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.atom()
    }
    fn atom(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Tok::LParen) => {
                let e = self.or()?;
                match self.next() {
                    Some(Tok::RParen) => Ok(e),
                    t => Err(format!("expected `)`, got {t:?}")),
                }
            }
            Some(Tok::Word(w)) if self.known.macros.contains(&w) => Ok(Expr::Macro(w)),
            Some(Tok::Word(w)) if self.known.is_field(&w) => {
                let op = match self.next() {
                    Some(Tok::Word(op)) => op,
                    t => return Err(format!("expected an operator after {w}, got {t:?}")),
                };
                if UNARY.contains(&op.as_str()) {
                    return Ok(Expr::Exists(w));
                }
                if !OPERATORS.contains(&op.as_str()) {
                    return Err(format!("`{op}` is not a Falco operator (after {w})"));
                }
                let values = if matches!(op.as_str(), "in" | "intersects" | "pmatch") {
                    self.value_list()?
                } else {
                    match self.next() {
                        Some(Tok::Word(v)) => vec![Val::Lit(v)],
                        Some(Tok::Str(v)) => vec![Val::Lit(v)],
                        t => return Err(format!("expected a value after {w} {op}, got {t:?}")),
                    }
                };
                Ok(Expr::Cmp {
                    field: w,
                    op,
                    values,
                })
            }
            Some(Tok::Word(w)) => Err(format!(
                "`{w}` is neither a documented Falco field nor a macro of the file"
            )),
            t => Err(format!("unexpected {t:?}")),
        }
    }
    fn value_list(&mut self) -> Result<Vec<Val>, String> {
        match self.next() {
            Some(Tok::LParen) => {}
            t => return Err(format!("expected `(`, got {t:?}")),
        }
        let mut out = Vec::new();
        loop {
            match self.next() {
                Some(Tok::Word(w)) => out.push(Val::Bare(w)),
                Some(Tok::Str(s)) => out.push(Val::Lit(s)),
                t => return Err(format!("expected a value, got {t:?}")),
            }
            match self.next() {
                Some(Tok::Comma) => {}
                Some(Tok::RParen) => return Ok(out),
                t => return Err(format!("expected `,` or `)`, got {t:?}")),
            }
        }
    }
}

fn parse(cond: &str, known: &Known) -> Result<Expr, String> {
    let toks = tokenize(cond)?;
    let depth = toks.iter().try_fold(0i32, |d, t| {
        let d = match t {
            Tok::LParen => d + 1,
            Tok::RParen => d - 1,
            _ => d,
        };
        (d >= 0).then_some(d)
    });
    if depth != Some(0) {
        return Err(format!("unbalanced parentheses in `{cond}`"));
    }
    let mut p = Parser {
        toks: &toks,
        pos: 0,
        known,
    };
    let e = p.or()?;
    if p.pos != toks.len() {
        return Err(format!("trailing tokens in `{cond}` at {}", p.pos));
    }
    Ok(e)
}

// ------------------------------------------------------------------ the rules file

struct Rules {
    lists: BTreeMap<String, Vec<String>>,
    macros: BTreeMap<String, Expr>,
    /// name -> (condition, priority, output, tags)
    rules: Vec<(String, Expr, String, String, Vec<String>)>,
}

fn strip_quotes(s: &str) -> String {
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
        .to_string()
}

/// Checks the file's structure and parses every condition; errors name the item.
fn load(path: &Path) -> Result<Rules, Vec<String>> {
    let text = fs::read_to_string(path).unwrap();
    let doc: Value = serde_yaml::from_str(&text).map_err(|e| vec![e.to_string()])?;
    let items = doc
        .as_sequence()
        .ok_or_else(|| vec!["not a YAML sequence".into()])?;
    let mut errors = Vec::new();
    let mut known = Known {
        fields: hardgen::falco::FIELDS
            .iter()
            .map(|f| f.to_string())
            .collect(),
        macros: BTreeSet::new(),
        lists: BTreeSet::new(),
    };
    let mut lists = BTreeMap::new();
    let mut macros = BTreeMap::new();
    let mut rules = Vec::new();
    let mut names = BTreeSet::new();
    let s = |m: &serde_yaml::Mapping, k: &str| m.get(k).and_then(Value::as_str).map(str::to_string);
    for item in items {
        let Some(m) = item.as_mapping() else {
            errors.push(format!("item is not a mapping: {item:?}"));
            continue;
        };
        let keys: BTreeSet<String> = m
            .keys()
            .filter_map(|k| k.as_str().map(str::to_string))
            .collect();
        if let Some(name) = s(m, "list") {
            let want: BTreeSet<String> = ["list", "items"].map(String::from).into();
            if keys != want {
                errors.push(format!("list {name}: keys {keys:?}, want {want:?}"));
            }
            let items: Vec<String> = m
                .get("items")
                .and_then(Value::as_sequence)
                .map(|v| {
                    v.iter()
                        .filter_map(|x| x.as_str().map(strip_quotes))
                        .collect()
                })
                .unwrap_or_default();
            if !names.insert(format!("list {name}")) {
                errors.push(format!("list {name} defined twice"));
            }
            known.lists.insert(name.clone());
            lists.insert(name, items);
        } else if let Some(name) = s(m, "macro") {
            let want: BTreeSet<String> = ["macro", "condition"].map(String::from).into();
            if keys != want {
                errors.push(format!("macro {name}: keys {keys:?}, want {want:?}"));
            }
            let cond = s(m, "condition").unwrap_or_default();
            match parse(&cond, &known) {
                Ok(e) => {
                    macros.insert(name.clone(), e);
                }
                Err(e) => errors.push(format!("macro {name}: {e}")),
            }
            if !names.insert(format!("macro {name}")) {
                errors.push(format!("macro {name} defined twice"));
            }
            known.macros.insert(name);
        } else if let Some(name) = s(m, "rule") {
            for k in RULE_REQUIRED {
                if s(m, k).is_none_or(|v| v.trim().is_empty()) {
                    errors.push(format!("rule {name}: `{k}` missing or empty"));
                }
            }
            for k in &keys {
                if !RULE_REQUIRED.contains(&k.as_str()) && !RULE_OPTIONAL.contains(&k.as_str()) {
                    errors.push(format!("rule {name}: unknown key `{k}`"));
                }
            }
            let priority = s(m, "priority").unwrap_or_default();
            if !hardgen::falco::PRIORITIES.contains(&priority.to_uppercase().as_str()) {
                errors.push(format!("rule {name}: priority `{priority}` is not Falco's"));
            }
            let output = s(m, "output").unwrap_or_default();
            for f in output.split('%').skip(1) {
                let field: String = f
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '[' | ']'))
                    .collect();
                if !known.is_field(&field) {
                    errors.push(format!(
                        "rule {name}: output field %{field} is not documented"
                    ));
                }
            }
            let tags: Vec<String> = m
                .get("tags")
                .and_then(Value::as_sequence)
                .map(|v| {
                    v.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            for t in tags.iter().filter(|t| t.starts_with('T')) {
                let ok = t.len() >= 5
                    && t[1..5].bytes().all(|b| b.is_ascii_digit())
                    && (t.len() == 5
                        || (t.len() == 9
                            && &t[5..6] == "."
                            && t[6..].bytes().all(|b| b.is_ascii_digit())));
                if !ok {
                    errors.push(format!(
                        "rule {name}: `{t}` is not a MITRE ATT&CK technique id"
                    ));
                }
            }
            match parse(&s(m, "condition").unwrap_or_default(), &known) {
                Ok(e) => rules.push((name.clone(), e, priority, output, tags)),
                Err(e) => errors.push(format!("rule {name}: {e}")),
            }
            if !names.insert(format!("rule {name}")) {
                errors.push(format!("rule {name} defined twice"));
            }
        } else {
            errors.push(format!(
                "item is neither a rule, a macro nor a list: {keys:?}"
            ));
        }
    }
    if errors.is_empty() {
        Ok(Rules {
            lists,
            macros,
            rules,
        })
    } else {
        Err(errors)
    }
}

// ------------------------------------------------------------------ evaluation

type Event = BTreeMap<&'static str, String>;

fn cidr_contains(net: &str, ip: &str) -> bool {
    let Some((a, p)) = net.split_once('/') else {
        return net == ip;
    };
    let (Ok(a), Ok(p), Ok(ip)) = (
        a.parse::<Ipv4Addr>(),
        p.parse::<u32>(),
        ip.parse::<Ipv4Addr>(),
    ) else {
        return false;
    };
    let mask = if p == 0 { 0 } else { u32::MAX << (32 - p) };
    u32::from(a) & mask == u32::from(ip) & mask
}

impl Rules {
    fn values(&self, vals: &[Val]) -> Vec<String> {
        let mut out = Vec::new();
        for v in vals {
            match v {
                Val::Lit(s) => out.push(s.clone()),
                Val::Bare(w) => match self.lists.get(w) {
                    Some(items) => out.extend(items.iter().cloned()),
                    None => out.push(w.clone()),
                },
            }
        }
        out
    }

    fn eval(&self, e: &Expr, ev: &Event) -> bool {
        match e {
            Expr::And(a, b) => self.eval(a, ev) && self.eval(b, ev),
            Expr::Or(a, b) => self.eval(a, ev) || self.eval(b, ev),
            Expr::Not(a) => !self.eval(a, ev),
            Expr::Macro(m) => self.eval(&self.macros[m], ev),
            Expr::Exists(f) => ev.contains_key(f.as_str()),
            Expr::Cmp { field, op, values } => {
                let Some(got) = ev.get(field.as_str()) else {
                    return false;
                };
                let vals = self.values(values);
                let net = matches!(field.as_str(), "fd.snet" | "fd.net" | "fd.cnet");
                let num = |s: &str| s.parse::<i64>().ok();
                match op.as_str() {
                    "=" | "==" => vals[0] == *got,
                    "!=" => vals[0] != *got,
                    ">=" => num(got) >= num(&vals[0]),
                    "in" if net => vals.iter().any(|n| cidr_contains(n, got)),
                    "in" => vals.contains(got),
                    "pmatch" => vals.iter().any(|p| {
                        got == p || got.starts_with(&format!("{}/", p.trim_end_matches('/')))
                    }),
                    "startswith" => got.starts_with(&vals[0]),
                    op => panic!("the evaluator has no `{op}`"),
                }
            }
        }
    }

    /// The rules an event fires.
    fn fired(&self, ev: &Event) -> Vec<String> {
        self.rules
            .iter()
            .filter(|(_, e, ..)| self.eval(e, ev))
            .map(|(n, ..)| n.clone())
            .collect()
    }
}

fn build(spec: &str, target: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_hardgen"))
        .args(["build", spec, "--target", target, "--out"])
        .arg(tmp.path())
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{spec}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let dir = tmp.path().join("falco");
    let file = fs::read_dir(&dir)
        .unwrap()
        .next()
        .expect("a rules file")
        .unwrap()
        .path();
    (tmp, file)
}

fn specs() -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(root().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| format!("examples/{}", p.file_name().unwrap().to_string_lossy()))
        .collect();
    v.sort();
    v.push("tests/live/basic.toml".into());
    v
}

#[test]
fn every_rules_file_is_well_formed_with_documented_fields() {
    let mut failures = Vec::new();
    for spec in specs() {
        for target in ["compose", "swarm", "kubernetes"] {
            let (_tmp, file) = build(&spec, target);
            match load(&file) {
                Ok(r) => {
                    assert!(!r.rules.is_empty(), "{spec} {target}: no rules");
                    // Every rule is tagged with a MITRE ATT&CK technique.
                    for (name, _, _, _, tags) in &r.rules {
                        if !tags.iter().any(|t| t.starts_with('T')) {
                            failures.push(format!("{spec} {target}: {name}: no technique"));
                        }
                    }
                }
                Err(e) => failures.push(format!("{spec} {target}:\n  {}", e.join("\n  "))),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_parser_rejects_what_falco_would() {
    let known = Known {
        fields: hardgen::falco::FIELDS
            .iter()
            .map(|f| f.to_string())
            .collect(),
        macros: ["m".to_string()].into(),
        lists: BTreeSet::new(),
    };
    assert!(parse(
        "proc.name = sh and (m or not fd.name pmatch (/tmp))",
        &known
    )
    .is_ok());
    for bad in [
        "proc.name = sh and (m",
        "proc.nam = sh",
        "proc.name ~= sh",
        "proc.name in (a b)",
        "m and unknown_macro",
        "proc.name = \"sh",
        "container.label[x = y",
    ] {
        assert!(parse(bad, &known).is_err(), "{bad}");
    }
}

fn event(pairs: &[(&'static str, &str)]) -> Event {
    pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
}

fn in_service(project: &str, service: &str, mut ev: Event) -> Event {
    ev.insert(
        "container.label[com.docker.compose.project]",
        project.into(),
    );
    ev.insert(
        "container.label[com.docker.compose.service]",
        service.into(),
    );
    ev
}

fn exec(proc_name: &str, uid: &str) -> Event {
    event(&[
        ("evt.type", "execve"),
        ("evt.dir", "<"),
        ("proc.name", proc_name),
        ("user.uid", uid),
    ])
}

fn open(kind: &str, path: &str, proc_name: &str) -> Event {
    let (r, w) = if kind == "w" {
        ("false", "true")
    } else {
        ("true", "false")
    };
    event(&[
        ("evt.type", "openat"),
        ("evt.dir", "<"),
        ("evt.is_open_read", r),
        ("evt.is_open_write", w),
        ("fd.typechar", "f"),
        ("fd.name", path),
        ("proc.name", proc_name),
        ("user.uid", "10001"),
    ])
}

fn connect(ip: &str, port: &str) -> Event {
    event(&[
        ("evt.type", "connect"),
        ("evt.dir", "<"),
        ("fd.typechar", "4"),
        ("fd.snet", ip),
        ("fd.sip", ip),
        ("fd.sport", port),
        ("evt.rawres", "0"),
        ("proc.name", "busybox"),
        ("user.uid", "10001"),
    ])
}

/// tests/live/basic.toml (compose): each kind of rule fires on its event in the right service
/// and stays quiet on the service's own behaviour.
#[test]
fn rules_fire_on_synthetic_events_of_the_basic_stack() {
    let (_tmp, file) = build("tests/live/basic.toml", "compose");
    let r = load(&file).unwrap_or_else(|e| panic!("{}", e.join("\n")));
    let fires = |svc: &str, ev: Event| r.fired(&in_service("hglive", svc, ev));
    let check = |what: &str, got: Vec<String>, want: &[&str]| {
        let want: Vec<String> = want.iter().map(|w| w.to_string()).collect();
        assert_eq!(got, want, "{what}");
    };
    // Processes. probe runs httpd (its command), nc (its health check), docker-init.
    for p in ["httpd", "nc", "docker-init"] {
        check(
            &format!("probe runs {p}"),
            fires("probe", exec(p, "10001")),
            &[],
        );
    }
    check(
        "a shell in probe",
        fires("probe", exec("sh", "10001")),
        &["hardgen hglive/probe: shell, network tool, package manager or interpreter"],
    );
    check(
        "a package manager in probe",
        fires("probe", exec("apt-get", "10001")),
        &["hardgen hglive/probe: shell, network tool, package manager or interpreter"],
    );
    check(
        "an unknown program in probe",
        fires("probe", exec("xmrig", "10001")),
        &["hardgen hglive/probe: unexpected program"],
    );
    // api's command is a shell: sh is its own.
    check("sh in api", fires("api", exec("sh", "10002")), &[]);
    check(
        "curl in api",
        fires("api", exec("curl", "10002")),
        &["hardgen hglive/api: shell, network tool, package manager or interpreter"],
    );
    // Another user than the service's.
    check(
        "a process as root in probe (docker exec -u 0)",
        fires("probe", exec("httpd", "0")),
        &["hardgen hglive/probe: privilege change"],
    );
    let mut setuid = event(&[
        ("evt.type", "setuid"),
        ("evt.dir", "<"),
        ("proc.name", "httpd"),
    ]);
    check(
        "setuid in api",
        fires("api", setuid.clone()),
        &["hardgen hglive/api: privilege change"],
    );
    setuid.insert("proc.name", "runc:[2:INIT]".into());
    check(
        "runc's own set-up of a docker exec",
        fires("api", setuid),
        &[],
    );
    // Writes.
    check(
        "a write to /tmp",
        fires("web", open("w", "/tmp/x", "busybox")),
        &[],
    );
    check(
        "a write to /dev/null",
        fires("web", open("w", "/dev/null", "busybox")),
        &[],
    );
    check(
        "a write to /etc/passwd",
        fires("web", open("w", "/etc/passwd", "busybox")),
        &["hardgen hglive/web: write outside writable paths"],
    );
    check(
        "a write to /tmpfoo (not below /tmp)",
        fires("web", open("w", "/tmpfoo", "busybox")),
        &["hardgen hglive/web: write outside writable paths"],
    );
    // Secrets: web's program is busybox; api has only shared_token.
    check(
        "web reads its secret",
        fires("web", open("r", "/run/secrets/web_key", "busybox")),
        &[],
    );
    check(
        "another program reads web's secret",
        fires("web", open("r", "/run/secrets/web_key", "cat")),
        &["hardgen hglive/web: secret read by another program"],
    );
    check(
        "probe reads a file named like a secret it does not have",
        fires("probe", open("r", "/run/secrets/web_key", "httpd")),
        &[],
    );
    // Connections. web (front, egress) is a client of back on 8080.
    let plan_api = "10.231.0.2";
    check(
        "web -> api:8080 (the flow)",
        fires("web", connect(plan_api, "8080")),
        &[],
    );
    check(
        "web -> api:8081 (not the flow)",
        fires("web", connect(plan_api, "8081")),
        &["hardgen hglive/web: connection outside its zones and flows"],
    );
    check(
        "web -> a public address (egress zone)",
        fires("web", connect("192.0.2.10", "443")),
        &[],
    );
    check(
        "api (internal) -> an address outside its zone",
        fires("api", connect("192.0.2.10", "443")),
        &["hardgen hglive/api: connection outside its zones and flows"],
    );
    check(
        "api -> its own zone",
        fires("api", connect("10.231.0.130", "80")),
        &[],
    );
    check(
        "probe (egress, no flow) -> back",
        fires("probe", connect(plan_api, "8080")),
        &["hardgen hglive/probe: connection outside its zones and flows"],
    );
    // Another project's container: nothing.
    check(
        "a shell in another project",
        r.fired(&in_service("other", "probe", exec("sh", "10001"))),
        &[],
    );
}

/// Every example and the basic stack (compose), every service: each of its own programs, run as
/// its user, stays quiet; a program it was not built to run fires "unexpected program"; its own
/// program run as root fires "privilege change"; a write to /etc/passwd fires "write outside
/// writable paths". The conditions are evaluated on every stack, not only the basic one above.
#[test]
fn rules_fire_on_synthetic_events_of_every_example() {
    let mut failures = Vec::new();
    let mut services = 0;
    for spec in specs() {
        let (tmp, file) = build(&spec, "compose");
        let r = load(&file).unwrap_or_else(|e| panic!("{spec}: {}", e.join("\n")));
        let compose: Value = serde_yaml::from_str(
            &fs::read_to_string(tmp.path().join("docker-compose.yml")).unwrap(),
        )
        .unwrap();
        let project = compose["name"].as_str().unwrap().to_string();
        for (svc, s) in compose["services"].as_mapping().unwrap() {
            let svc = svc.as_str().unwrap();
            services += 1;
            let uid = s["user"]
                .as_str()
                .and_then(|u| u.split(':').next())
                .unwrap_or_else(|| panic!("{spec} {svc}: no user"))
                .to_string();
            let as_user = |mut ev: Event| {
                ev.insert("user.uid", uid.clone());
                r.fired(&in_service(&project, svc, ev))
            };
            let rule = |what: &str| vec![format!("hardgen {project}/{svc}: {what}")];
            let list = format!("hardgen_{project}_{svc}_programs").replace('-', "_");
            let Some(own) = r.lists.get(&list) else {
                failures.push(format!("{spec} {svc}: no list `{list}`"));
                continue;
            };
            let mut cases: Vec<(String, Vec<String>, Vec<String>)> = Vec::new();
            for p in own {
                cases.push((format!("its own `{p}`"), as_user(exec(p, "")), vec![]));
            }
            cases.push((
                "xmrig".into(),
                as_user(exec("xmrig", "")),
                rule("unexpected program"),
            ));
            cases.push((
                "a write to /etc/passwd".into(),
                as_user(open("w", "/etc/passwd", &own[0])),
                rule("write outside writable paths"),
            ));
            if uid != "0" {
                cases.push((
                    format!("`{}` as root", own[0]),
                    r.fired(&in_service(&project, svc, exec(&own[0], "0"))),
                    rule("privilege change"),
                ));
            }
            for (what, got, want) in cases {
                if got != want {
                    failures.push(format!(
                        "{spec} {svc}: {what}: fired {got:?}, want {want:?}"
                    ));
                }
            }
        }
    }
    assert!(services >= 30, "only {services} services");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
