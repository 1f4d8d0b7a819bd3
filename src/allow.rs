//! `allow` tables: warnings a reviewer accepted, each with the reason it does not apply.
//! An accepted warning is not printed; it is kept in the model for the compliance report, so
//! the choice stays visible where an auditor looks. An entry that matches no warning any more
//! is reported (W108), so stale acceptances do not outlive the problem they excused.

use crate::diagnostic::{codes, did_you_mean, Diagnostic};
use crate::model::Accepted;
use crate::spec::{RawSpec, Sp};
use crate::validate::{show, text_ok};

/// Warnings raised for the target after validation (`build`), acceptable in `[project] allow`.
pub const TARGET_LEVEL: &[&str] = &[TARGET_GAP];

/// The code of an `allow` entry that matches no warning (never itself acceptable).
const STALE: &str = "W108";

/// The code of a control the chosen target cannot fully enforce (printed by `build`).
pub const TARGET_GAP: &str = "W105";

/// Whether the project accepted a target-level warning.
pub fn accepts_target_warning(model: &crate::model::Model, code: &str) -> bool {
    model
        .accepted
        .iter()
        .any(|a| a.service.is_none() && a.code == code)
}

/// Removes the warnings the spec's `allow` tables accept from `diags`, adds the problems of the
/// tables themselves, and returns what was accepted.
pub fn apply(raw: &RawSpec, diags: &mut Vec<Diagnostic>) -> Vec<Accepted> {
    let mut accepted = Vec::new();
    let mut problems = Vec::new();
    // The codes an entry may name: every warning but the one about stale entries.
    let warnings: Vec<&str> = codes()
        .iter()
        .map(|c| c.code)
        .filter(|c| c.starts_with('W') && *c != STALE)
        .collect();
    let tables = std::iter::once((None, &raw.project.allow)).chain(
        raw.services
            .iter()
            .map(|(name, s)| (Some(name.value.as_str()), &s.allow)),
    );
    for (service, table) in tables {
        for (code, reason) in table {
            if !entry_ok(code, reason, &warnings, &mut problems) {
                continue;
            }
            if TARGET_LEVEL.contains(&code.value.as_str()) {
                // Raised by `build` for the chosen target, after validation: accepted here,
                // honoured there (`crate::app`).
                if let Some(s) = service {
                    problems.push(
                        Diagnostic::error(
                            "E045",
                            format!("{} is about the target, not service `{s}`", code.value),
                        )
                        .at(code.span.clone(), "project-wide warning")
                        .help("accept it in `[project] allow`"),
                    );
                } else {
                    accepted.push(Accepted {
                        service: None,
                        code: code.value.clone(),
                        reason: reason.value.clone(),
                        count: 1,
                    });
                }
                continue;
            }
            let before = diags.len();
            diags.retain(|d| {
                d.is_error() || d.code != code.value || d.service.as_deref() != service
            });
            let count = before - diags.len();
            if count == 0 {
                let whose = service.map_or("the project".to_string(), |s| format!("service `{s}`"));
                problems.push(
                    Diagnostic::warning(
                        STALE,
                        format!("{whose} allows {}, but no such warning is raised", code.value),
                    )
                    .at(code.span.clone(), "matches nothing")
                    .help("remove the entry: the problem it accepted is gone (or the code is not one this table can accept: see `hardgen explain`)"),
                );
                continue;
            }
            accepted.push(Accepted {
                service: service.map(str::to_string),
                code: code.value.clone(),
                reason: reason.value.clone(),
                count,
            });
        }
    }
    diags.extend(problems);
    accepted.sort();
    accepted
}

fn entry_ok(
    code: &Sp<String>,
    reason: &Sp<String>,
    warnings: &[&str],
    problems: &mut Vec<Diagnostic>,
) -> bool {
    let mut ok = true;
    if !warnings.contains(&code.value.as_str()) {
        ok = false;
        let help = if code.value.starts_with('E') {
            "errors cannot be accepted: fix the spec (or relax the control in `unsafe`, with a reason)".to_string()
        } else {
            did_you_mean(&code.value, warnings.iter().copied())
                .unwrap_or_else(|| format!("warning codes: {}", warnings.join(", ")))
        };
        problems.push(
            Diagnostic::error(
                "E045",
                format!(
                    "`{}` is not a warning code an `allow` table can accept",
                    show(&code.value)
                ),
            )
            .at(code.span.clone(), "not a warning code")
            .help(help),
        );
    }
    if reason.value.trim().is_empty() || !text_ok(&reason.value) {
        ok = false;
        problems.push(
            Diagnostic::error(
                "E032",
                format!(
                    "allowing {} needs a reason: one printable line",
                    show(&code.value)
                ),
            )
            .at(reason.span.clone(), "no usable reason")
            .help("say why the warning does not apply here: the compliance report shows it"),
        );
    }
    ok
}
