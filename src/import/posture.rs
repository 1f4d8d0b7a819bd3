//! The posture review `hardgen import` prints: the audit of the original compose files
//! against the audit of the deployment hardgen generates from the imported spec.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::audit;

pub(super) fn posture(
    original: &audit::Audit,
    generated: &audit::Audit,
    names: &BTreeMap<String, String>,
) -> String {
    use crate::posture::Class;
    let mut lines: Vec<(Class, String)> = Vec::new();
    let key = |f: &audit::Finding, rename: bool| {
        let svc = f.service.as_ref().map(|s| {
            if rename {
                names.get(s).cloned().unwrap_or(s.clone())
            } else {
                s.clone()
            }
        });
        (svc, f.rule)
    };
    // What the generated deployment still shows, at any severity (a flat network that is one
    // zone of the spec is info there, and still as flat as before).
    let gen_any: BTreeSet<(Option<String>, &str)> =
        generated.findings.iter().map(|f| key(f, false)).collect();
    let gen: BTreeSet<(Option<String>, &str)> = generated
        .findings
        .iter()
        .filter(|f| f.severity > audit::Severity::Info)
        .map(|f| key(f, false))
        .collect();
    let orig: BTreeSet<(Option<String>, &str)> = original
        .findings
        .iter()
        .filter(|f| f.severity > audit::Severity::Info)
        .map(|f| key(f, true))
        .collect();
    let label = |svc: &Option<String>| match svc {
        Some(s) => format!("service {s}"),
        None => "project".to_string(),
    };
    for (svc, rule) in &orig {
        let r = audit::rule(rule);
        let ctl = match r.cis {
            Some(c) => format!("CIS {c} {}", audit::rule_title(r)),
            None => audit::rule_title(r).to_string(),
        };
        if gen_any.contains(&(svc.clone(), *rule)) {
            // Every finding that remains (two ports on every address are two), once each.
            let mut why: Vec<&str> = Vec::new();
            for f in &generated.findings {
                if f.service == *svc && f.rule == *rule && !why.contains(&f.message.as_str()) {
                    why.push(&f.message);
                }
            }
            let why = why.join("; ");
            lines.push((
                Class::Neutral,
                format!("{}: stays weak: {ctl}: {why}", label(svc)),
            ));
        } else {
            lines.push((
                Class::Strengthens,
                format!("{}: {ctl}: now enforced", label(svc)),
            ));
        }
    }
    for (svc, rule) in &gen {
        if !orig.contains(&(svc.clone(), *rule)) {
            let f = generated
                .findings
                .iter()
                .find(|f| f.service == *svc && f.rule == *rule);
            lines.push((
                Class::Weakens,
                format!(
                    "{}: {}",
                    label(svc),
                    f.map(|f| f.message.clone()).unwrap_or_default()
                ),
            ));
        }
    }
    lines.sort();
    let mut out = String::from("posture review, original compose file -> generated deployment:\n");
    for (c, l) in &lines {
        let _ = writeln!(out, "{:<12} {l}", c.as_str());
    }
    let n = |c: Class| lines.iter().filter(|(x, _)| *x == c).count();
    let _ = writeln!(
        out,
        "{} strengthen, {} stay weak, {} weaken; audit score {} -> {}",
        n(Class::Strengthens),
        n(Class::Neutral),
        n(Class::Weakens),
        original.score(),
        generated.score()
    );
    out
}
