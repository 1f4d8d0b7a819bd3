//! The four outputs of `hardgen audit`: human (grouped by service), JSON (versioned), SARIF
//! 2.1.0 (for code-scanning UIs) and Markdown (a pull-request comment).

use std::fmt::Write as _;

use serde_json::{json, Value};

use super::{rule, rule_title, Audit, Finding, Severity, Target, RULES};

/// Version of the JSON output; bumped on any incompatible change.
pub const FORMAT_VERSION: u32 = 1;

fn target_name(t: Target) -> &'static str {
    match t {
        Target::Compose => "compose",
        Target::Swarm => "swarm",
    }
}

fn control(f: &Finding) -> (Option<&'static str>, &'static str) {
    let r = rule(f.rule);
    (r.cis, rule_title(r))
}

fn sev_colour(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "\x1b[1;35m",
        Severity::High => "\x1b[1;31m",
        Severity::Medium => "\x1b[33m",
        Severity::Low => "\x1b[36m",
        Severity::Info => "\x1b[2m",
    }
}

pub fn summary_line(a: &Audit) -> String {
    let counts: Vec<String> = Severity::ALL
        .iter()
        .map(|s| format!("{} {}", a.count(*s), s.as_str()))
        .collect();
    format!("score {}/100; {}", a.score(), counts.join(", "))
}

pub fn human(a: &Audit, colour: bool) -> String {
    let (bold, reset) = if colour {
        ("\x1b[1m", "\x1b[0m")
    } else {
        ("", "")
    };
    let mut s = String::new();
    let mut groups: Vec<(Option<String>, Vec<&Finding>)> = Vec::new();
    for name in &a.services {
        groups.push((Some(name.clone()), Vec::new()));
    }
    groups.push((None, Vec::new()));
    for f in &a.findings {
        if let Some(g) = groups.iter_mut().find(|(n, _)| *n == f.service) {
            g.1.push(f);
        }
    }
    for (name, fs) in groups {
        match &name {
            Some(n) => {
                let _ = writeln!(s, "{bold}service {n}{reset} (score {})", a.service_score(n));
            }
            None if fs.is_empty() => continue,
            None => {
                let _ = writeln!(s, "{bold}project{reset}");
            }
        }
        if fs.is_empty() {
            let _ = writeln!(s, "  nothing found");
        }
        for f in fs {
            let (cis, title) = control(f);
            let c = if colour { sev_colour(f.severity) } else { "" };
            let id = cis.map(|c| format!("CIS {c}: ")).unwrap_or_default();
            let _ = writeln!(
                s,
                "  {c}{:<8}{reset} {}  [{id}{title}]\n           {}",
                f.severity.as_str(),
                f.loc,
                f.message
            );
        }
    }
    let _ = writeln!(s, "{}", summary_line(a));
    s
}

fn finding_json(f: &Finding) -> Value {
    let (cis, title) = control(f);
    json!({
        "service": f.service,
        "severity": f.severity.as_str(),
        "rule": f.rule,
        "cis": cis,
        "control": title,
        "message": f.message,
        "file": f.loc.file.as_ref(),
        "line": f.loc.line,
        "column": f.loc.col,
    })
}

pub fn to_json(a: &Audit) -> Value {
    let mut summary = serde_json::Map::new();
    for s in Severity::ALL {
        summary.insert(s.as_str().into(), json!(a.count(s)));
    }
    json!({
        "format_version": FORMAT_VERSION,
        "files": a.files,
        "target": target_name(a.target),
        "score": a.score(),
        "summary": summary,
        "services": a.services.iter().map(|n| json!({"name": n, "score": a.service_score(n)})).collect::<Vec<_>>(),
        "findings": a.findings.iter().map(finding_json).collect::<Vec<_>>(),
    })
}

pub fn json(a: &Audit) -> String {
    let mut s = serde_json::to_string_pretty(&to_json(a)).unwrap_or_default();
    s.push('\n');
    s
}

fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub's `security-severity` (0.0-10.0) of a severity.
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "0.0",
    }
}

fn uri(path: &str) -> String {
    let p = path.replace('\\', "/");
    let p = p.strip_prefix("./").unwrap_or(&p).to_string();
    p.chars()
        .map(|c| match c {
            ' ' => "%20".to_string(),
            '%' => "%25".to_string(),
            '#' => "%23".to_string(),
            '?' => "%3F".to_string(),
            c => c.to_string(),
        })
        .collect()
}

pub fn sarif(a: &Audit) -> String {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|r| {
            let title = rule_title(r);
            let full = match r.cis {
                Some(c) => format!("CIS Docker Benchmark v1.6.0 {c}: {title}"),
                None => title.to_string(),
            };
            json!({
                "id": r.id,
                "name": r.id.split('-').map(|w| {
                    let mut c = w.chars();
                    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
                }).collect::<String>(),
                "shortDescription": { "text": title },
                "fullDescription": { "text": full },
                "help": { "text": r.help },
                "properties": { "tags": ["security", "docker"], "cis": r.cis },
            })
        })
        .collect();
    let results: Vec<Value> = a
        .findings
        .iter()
        .map(|f| {
            let idx = RULES.iter().position(|r| r.id == f.rule).unwrap_or(0);
            let msg = match &f.service {
                Some(s) => format!("service {s}: {}", f.message),
                None => f.message.clone(),
            };
            json!({
                "ruleId": f.rule,
                "ruleIndex": idx,
                "level": sarif_level(f.severity),
                "message": { "text": msg },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": uri(&f.loc.file) },
                        "region": { "startLine": f.loc.line, "startColumn": f.loc.col }
                    }
                }],
                "properties": {
                    "severity": f.severity.as_str(),
                    "security-severity": security_severity(f.severity),
                }
            })
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "hardgen",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
            "properties": { "score": a.score() },
        }]
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn markdown(a: &Audit) -> String {
    let mut s = format!(
        "## hardgen audit: score {}/100\n\n{}\n\n| service | score | critical | high | medium | low |\n|---|---|---|---|---|---|\n",
        a.score(),
        a.files.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ")
    );
    for n in &a.services {
        let c = |sev: Severity| {
            a.findings
                .iter()
                .filter(|f| f.service.as_deref() == Some(n.as_str()) && f.severity == sev)
                .count()
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            md_cell(n),
            a.service_score(n),
            c(Severity::Critical),
            c(Severity::High),
            c(Severity::Medium),
            c(Severity::Low)
        );
    }
    let shown: Vec<&Finding> = a
        .findings
        .iter()
        .filter(|f| f.severity > Severity::Info)
        .collect();
    if shown.is_empty() {
        s.push_str("\nNothing above info.\n");
        return s;
    }
    s.push_str("\n| severity | service | where | control | finding |\n|---|---|---|---|---|\n");
    for f in shown {
        let (cis, title) = control(f);
        let ctl = match cis {
            Some(c) => format!("CIS {c} {title}"),
            None => title.to_string(),
        };
        let _ = writeln!(
            s,
            "| {} | {} | `{}` | {} | {} |",
            f.severity.as_str(),
            md_cell(f.service.as_deref().unwrap_or("(project)")),
            md_cell(&f.loc.to_string()),
            md_cell(&ctl),
            md_cell(&f.message)
        );
    }
    let info = a.count(Severity::Info);
    if info > 0 {
        let _ = writeln!(s, "\n{info} info finding(s) not shown.");
    }
    s
}
