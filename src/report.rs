//! Compliance report: services × CIS Docker Benchmark v1.6.0 controls, each cell satisfied,
//! relaxed by the spec (with the spec line that relaxes it) or not applicable — as Markdown
//! and as a self-contained HTML page.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::model::*;
use crate::plan::Plan;
use crate::spec::RawSpec;
use crate::targets::{Control, Support, Target};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Satisfied,
    Relaxed,
    NotApplicable,
    /// The deployment target cannot enforce it (swarm, kubernetes): see `hardgen targets`.
    NotEnforced,
}

impl Status {
    fn word(self) -> &'static str {
        match self {
            Status::Satisfied => "satisfied",
            Status::Relaxed => "relaxed by spec",
            Status::NotApplicable => "not applicable",
            Status::NotEnforced => "not enforced by target",
        }
    }
    fn class(self) -> &'static str {
        match self {
            Status::Satisfied => "ok",
            Status::Relaxed => "relaxed",
            Status::NotApplicable => "na",
            Status::NotEnforced => "gap",
        }
    }
}

pub struct Cell {
    pub status: Status,
    /// Most notes are fixed words: borrowed, not allocated per cell.
    pub note: Cow<'static, str>,
    /// 1-based line of the spec that relaxes the control.
    pub line: Option<usize>,
}

/// Defines [`Cis`] with its rows in order ([`Cis::ALL`], complete by construction), their
/// benchmark numbers and names.
macro_rules! cis_controls {
    ($($id:ident => ($number:literal, $name:literal),)*) => {
        /// Controls in CIS Docker Benchmark v1.6.0 numbering, as hardgen checks them per service.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Cis { $($id,)* }
        impl Cis {
            /// The rows of the report, in order.
            pub const ALL: &'static [Cis] = &[$(Cis::$id,)*];
            /// The benchmark's numbers and the control's name.
            pub fn id_and_name(self) -> (&'static str, &'static str) {
                match self { $(Cis::$id => ($number, $name),)* }
            }
        }
    };
}

cis_controls! {
    User => ("4.1", "non-root user"),
    Health => ("4.6, 5.27", "health check"),
    SecretsOutOfArgs => ("4.10", "secrets not in the environment or arguments"),
    AppArmor => ("5.2", "AppArmor profile"),
    Capabilities => ("5.4", "capabilities restricted"),
    NotPrivileged => ("5.5", "not privileged, no devices"),
    NoHostMounts => ("5.6, 5.20, 5.32", "no sensitive host mounts"),
    OwnNamespaces => ("5.10, 5.16, 5.17, 5.21, 5.31", "no host namespaces"),
    Limits => ("5.11, 5.12, 5.29", "memory, CPU and pids limits"),
    ReadOnlyRoot => ("5.13", "read-only root file system"),
    PortsBound => ("5.14", "ports bound to a host address"),
    Restart => ("5.15", "restart on-failure, at most 5"),
    Seccomp => ("5.22", "seccomp profile"),
    NoNewPrivileges => ("5.26", "no-new-privileges"),
    OwnNetworks => ("5.30", "own networks only"),
}

impl Cis {
    /// The control numbered `number` (as in the report's first column).
    pub fn by_number(number: &str) -> Option<Cis> {
        Cis::ALL
            .iter()
            .copied()
            .find(|c| c.id_and_name().0 == number)
    }

    /// The controls of the target table ([`crate::targets::Control`]) this one rests on: where
    /// the target does not fully enforce one that the service uses, the cell says so.
    pub fn rests_on(self) -> &'static [Control] {
        match self {
            Cis::User => &[Control::User],
            Cis::Health => &[Control::Health],
            // File secrets are mounted by every target; their owner and mode are not 4.10.
            Cis::SecretsOutOfArgs => &[],
            Cis::AppArmor => &[Control::AppArmor],
            Cis::Capabilities => &[Control::Capabilities],
            Cis::NotPrivileged | Cis::NoHostMounts | Cis::OwnNamespaces => &[],
            Cis::Limits => &[Control::Limits, Control::Pids],
            Cis::ReadOnlyRoot => &[Control::ReadOnlyRoot],
            Cis::PortsBound => &[Control::Ports],
            Cis::Restart => &[Control::Restart],
            Cis::Seccomp => &[Control::Seccomp],
            Cis::NoNewPrivileges => &[Control::NoNewPrivileges],
            Cis::OwnNetworks => &[Control::Zones],
        }
    }
}

pub struct Matrix {
    pub project: String,
    pub spec: String,
    pub target: &'static str,
    pub services: Vec<String>,
    /// Row per control, column per service.
    pub cells: Vec<Vec<Cell>>,
    /// Warnings the spec accepted (`allow`), with their reasons.
    pub accepted: Vec<crate::model::Accepted>,
}

/// An accepted warning's row: scope, code, the code's title, reason.
fn accepted_rows(m: &Matrix) -> Vec<[String; 4]> {
    m.accepted
        .iter()
        .map(|a| {
            let title = crate::diagnostic::codes()
                .iter()
                .find(|c| c.code == a.code)
                .map_or("", |c| c.title);
            [
                a.service
                    .as_ref()
                    .map_or("project".to_string(), |s| format!("service {s}")),
                a.code.clone(),
                title.to_string(),
                a.reason.clone(),
            ]
        })
        .collect()
}

/// Spec lines of the settings that can relax a control, per service.
#[derive(Default)]
pub struct Lines {
    /// Per service, (setting, line) with the first line found for each setting: looked up
    /// by `&str`, without building a key per cell.
    map: BTreeMap<String, Vec<(&'static str, usize)>>,
}

impl Lines {
    pub fn from_spec(raw: &RawSpec, text: &str) -> Lines {
        let mut map = BTreeMap::new();
        // Offsets where lines start, so each span's line is a binary search, not a scan.
        let starts: Vec<usize> = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        let line = |off: usize| starts.partition_point(|&s| s <= off);
        for (name, s) in &raw.services {
            let found: &mut Vec<(&'static str, usize)> = map.entry(name.value.clone()).or_default();
            let mut put = |key: &'static str, span: Option<&std::ops::Range<usize>>| {
                if let Some(sp) = span {
                    if !found.iter().any(|(k, _)| *k == key) {
                        found.push((key, line(sp.start)));
                    }
                }
            };
            let unsafe_line = s
                .unsafe_
                .as_ref()
                .and_then(|u| u.reason.as_ref())
                .map(|r| &r.span);
            put("user", s.user.as_ref().map(|u| &u.span).or(unsafe_line));
            put("unsafe", unsafe_line.or(Some(&name.span)));
            put("cap_add", s.cap_add.first().map(|c| &c.span));
            put("ports", s.ports.first().map(|p| &p.span));
            put("volumes", s.volumes.first().map(|v| &v.span));
            put("restart", s.restart.as_ref().map(|r| &r.span));
            put("syscalls_allow", s.syscalls_allow.first().map(|x| &x.span));
            let lists = [
                s.build.as_ref().and_then(|b| b.command.as_deref()),
                s.command.as_deref(),
                s.healthcheck.as_ref().and_then(|h| h.cmd.as_deref()),
            ];
            for list in lists.into_iter().flatten() {
                let values: Vec<String> = list.iter().map(|a| a.value.clone()).collect();
                if let Some(f) = crate::argv::secrets_in_args(&values).first() {
                    put("secret_args", Some(&list[f.arg].span));
                }
            }
        }
        Lines { map }
    }

    fn get(&self, service: &str, key: &'static str) -> Option<usize> {
        self.map
            .get(service)?
            .iter()
            .find(|(k, _)| *k == key)
            .map(|&(_, l)| l)
    }
}

fn cell(status: Status, note: impl Into<Cow<'static, str>>, line: Option<usize>) -> Cell {
    Cell {
        status,
        note: note.into(),
        line,
    }
}

/// Secrets the service's commands put into a process's arguments: (which command, secret).
fn secrets_in_args(s: &Service) -> Vec<(&'static str, String)> {
    let build = match &s.source {
        Source::Build(b) => Some(&b.command),
        Source::Image(_) => None,
    };
    [
        ("build.command", build),
        ("command", s.command.as_ref()),
        ("healthcheck", s.health.as_ref().map(|h| &h.cmd)),
    ]
    .into_iter()
    .filter_map(|(what, list)| list.map(|l| (what, l)))
    .flat_map(|(what, list)| {
        crate::argv::secrets_in_args(list)
            .into_iter()
            .map(move |f| (what, f.secret))
    })
    .collect()
}

fn evaluate(s: &Service, lines: &Lines, control: Cis) -> Cell {
    let n = s.name.as_str();
    match control {
        Cis::User => {
            if s.user.uid == 0 || s.user.gid == 0 {
                cell(
                    Status::Relaxed,
                    text_after("runs as ", &s.user),
                    lines.get(n, "user"),
                )
            } else {
                cell(Status::Satisfied, text_after("user ", &s.user), None)
            }
        }
        Cis::Health => match &s.health {
            Some(h) => cell(Status::Satisfied, text_after("every ", &h.interval), None),
            None => cell(Status::Relaxed, "no health check", lines.get(n, "unsafe")),
        },
        Cis::SecretsOutOfArgs => {
            let in_args = secrets_in_args(s);
            if let Some((what, secret)) = in_args.first() {
                // A secret in a process's arguments is readable by every host user (`ps`),
                // whether or not the service lists it among its file secrets.
                cell(
                    Status::Relaxed,
                    format!("secret {secret} in the arguments of {what}"),
                    lines.get(n, "secret_args"),
                )
            } else if s.secrets.is_empty() {
                cell(Status::NotApplicable, "no secret", None)
            } else {
                let mut note = s.secrets.len().text();
                note.push_str(" file secret(s)");
                cell(Status::Satisfied, note, None)
            }
        }
        Cis::AppArmor => match &s.apparmor {
            Some(p) => cell(Status::Satisfied, ["profile ", p.as_str()].concat(), None),
            None => cell(Status::NotApplicable, "no profile requested", None),
        },
        Cis::Capabilities => {
            if s.cap_add.is_empty() {
                cell(Status::Satisfied, "all dropped", None)
            } else {
                let caps: Vec<&str> = s.cap_add.iter().map(String::as_str).collect();
                cell(
                    Status::Relaxed,
                    format!("adds {}", caps.join(", ")),
                    lines.get(n, "cap_add"),
                )
            }
        }
        Cis::NotPrivileged => cell(Status::Satisfied, "never privileged", None),
        Cis::NoHostMounts => {
            let host: Vec<&Volume> = s
                .volumes
                .iter()
                .filter(|v| matches!(&v.source, VolumeSource::Host(p) if p.starts_with('/')))
                .collect();
            if host.is_empty() {
                cell(Status::Satisfied, "no absolute host path", None)
            } else {
                cell(
                    Status::Relaxed,
                    "absolute host path mounted",
                    lines.get(n, "volumes"),
                )
            }
        }
        Cis::OwnNamespaces => cell(Status::Satisfied, "own namespaces", None),
        Cis::Limits => {
            let mut note = String::with_capacity(32);
            s.memory.push_to(&mut note);
            note.push_str(" / ");
            s.cpus.push_to(&mut note);
            note.push_str(" CPU / ");
            s.pids.push_to(&mut note);
            note.push_str(" pids");
            cell(Status::Satisfied, note, None)
        }
        Cis::ReadOnlyRoot => {
            if s.read_only {
                cell(Status::Satisfied, "read-only", None)
            } else {
                cell(Status::Relaxed, "writable root", lines.get(n, "unsafe"))
            }
        }
        Cis::PortsBound => {
            if s.ports.is_empty() {
                cell(Status::NotApplicable, "nothing published", None)
            } else if s.ports.iter().any(|p| p.host_ip.is_unspecified()) {
                cell(
                    Status::Relaxed,
                    "published on 0.0.0.0",
                    lines.get(n, "ports"),
                )
            } else {
                let mut note = String::from("on ");
                for (i, p) in s.ports.iter().enumerate() {
                    if i > 0 {
                        note.push_str(", ");
                    }
                    p.host_ip.push_to(&mut note);
                }
                cell(Status::Satisfied, note, None)
            }
        }
        Cis::Restart => match s.restart {
            Restart::OnFailure(Some(k)) if k <= 5 => {
                cell(Status::Satisfied, s.restart.text(), None)
            }
            r => cell(Status::Relaxed, r.text(), lines.get(n, "restart")),
        },
        Cis::Seccomp => {
            let preset = s.seccomp.preset.name();
            if let Some(learned) = &s.seccomp.learned {
                let mut names = crate::learn::profile_names(learned, s.init, s.no_new_privileges);
                names.extend(s.seccomp.allow.iter().cloned());
                names.retain(|n| !s.seccomp.deny.contains(n));
                let text = format!(
                    "learned profile: {} syscalls ({}% of Docker's default)",
                    names.len(),
                    crate::learn::percent_of_docker_default(names.len())
                );
                if s.seccomp.allow.is_empty() {
                    cell(Status::Satisfied, text, None)
                } else {
                    cell(
                        Status::Relaxed,
                        format!("{text}, {} extra", s.seccomp.allow.len()),
                        lines.get(n, "syscalls_allow"),
                    )
                }
            } else if s.seccomp.allow.is_empty() {
                cell(Status::Satisfied, [preset, " preset"].concat(), None)
            } else {
                cell(
                    Status::Relaxed,
                    format!("{preset} + {} extra syscall(s)", s.seccomp.allow.len()),
                    lines.get(n, "syscalls_allow"),
                )
            }
        }
        Cis::NoNewPrivileges => {
            if s.no_new_privileges {
                cell(Status::Satisfied, "set", None)
            } else {
                cell(Status::Relaxed, "not set", lines.get(n, "unsafe"))
            }
        }
        Cis::OwnNetworks => {
            let mut note = String::from("zones: ");
            for (i, z) in s.zones.iter().enumerate() {
                if i > 0 {
                    note.push_str(", ");
                }
                note.push_str(z);
            }
            cell(Status::Satisfied, note, None)
        }
    }
}

/// `prefix` and then `value`, without `core::fmt`.
fn text_after(prefix: &str, value: &impl Text) -> String {
    let mut s = String::with_capacity(prefix.len() + 16);
    s.push_str(prefix);
    value.push_to(&mut s);
    s
}

/// What a target does not fully enforce of a CIS control, for a service that uses the
/// controls it rests on: the notes of the target table, joined.
fn target_gap(target: Target, cis: Cis, s: &Service, model: &Model) -> Option<String> {
    let gaps: Vec<String> = cis
        .rests_on()
        .iter()
        .map(|&c| (c, c.claim(target)))
        .filter(|&(c, claim)| claim.support != Support::Yes && c.used_by(s, model))
        .map(|(c, claim)| format!("{}: {}", c.name(), claim.note))
        .collect();
    (!gaps.is_empty()).then(|| gaps.join("; "))
}

pub fn matrix(plan: &Plan, lines: &Lines, target: Target) -> Matrix {
    let services: Vec<&Service> = plan.services.iter().map(|p| p.svc).collect();
    Matrix {
        project: plan.model.project.name.clone(),
        spec: plan.model.spec_name.clone(),
        target: target.name(),
        services: services.iter().map(|s| s.name.clone()).collect(),
        accepted: plan.model.accepted.clone(),
        cells: Cis::ALL
            .iter()
            .map(|&cis| {
                services
                    .iter()
                    .map(|s| match target_gap(target, cis, s, plan.model) {
                        Some(gap) => cell(Status::NotEnforced, gap, None),
                        None => evaluate(s, lines, cis),
                    })
                    .collect()
            })
            .collect(),
    }
}

/// A cell's note and, when the spec relaxes the control, the spec line, each piece passed
/// through `put` (which escapes it for its format: escaping is per character, so the
/// pieces escaped one by one are the whole escaped).
fn cell_text(m: &Matrix, c: &Cell, s: &mut String, put: fn(&mut String, &str)) {
    put(s, &c.note);
    if let Some(l) = c.line {
        put(s, " (");
        put(s, &m.spec);
        put(s, ":");
        put(s, itoa(l).as_str());
        put(s, ")");
    }
}

/// `n` in decimal without `core::fmt`.
fn itoa(mut n: usize) -> Digits {
    let mut d = Digits {
        buf: [0; 20],
        start: 20,
    };
    loop {
        d.start -= 1;
        d.buf[d.start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return d;
        }
    }
}

struct Digits {
    buf: [u8; 20],
    start: usize,
}

impl Digits {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[self.start..]).expect("ASCII digits")
    }
}

/// `text`, each ASCII byte that `map` replaces written as its replacement.
fn push_replacing(s: &mut String, text: &str, map: fn(u8) -> Option<&'static str>) {
    let mut last = 0;
    for (i, b) in text.bytes().enumerate() {
        if let Some(r) = map(b) {
            s.push_str(&text[last..i]);
            s.push_str(r);
            last = i + 1;
        }
    }
    s.push_str(&text[last..]);
}

/// Markdown table cell text: `|` escaped.
fn push_md(s: &mut String, text: &str) {
    // Most notes have nothing to escape: copied whole, without a call of `map` per byte.
    if !text.contains('|') {
        s.push_str(text);
        return;
    }
    push_replacing(s, text, |b| (b == b'|').then_some("\\|"));
}

fn count(m: &Matrix, s: Status) -> usize {
    m.cells.iter().flatten().filter(|c| c.status == s).count()
}

/// `compliance.md`, written a row at a time: `offer` is given the text so far after each
/// control's row (5,000 cells at 5,000 services) and may take it (hand it to the sink); the
/// rest is returned.
pub fn markdown(m: &Matrix, header: &str, offer: &mut dyn FnMut(&mut String)) -> String {
    let mut s = format!(
        "<!-- {header} -->\n# Compliance of {}: CIS Docker Benchmark v1.6.0 ({} target)\n\n{} satisfied, {} relaxed by the spec, {} not applicable, {} not enforced by the target.\n\n",
        m.project,
        m.target,
        count(m, Status::Satisfied),
        count(m, Status::Relaxed),
        count(m, Status::NotApplicable),
        count(m, Status::NotEnforced)
    );
    let _ = writeln!(s, "| CIS | control | {} |", m.services.join(" | "));
    let _ = writeln!(s, "|---|---|{}", "---|".repeat(m.services.len()));
    for (cis, row) in Cis::ALL.iter().zip(&m.cells) {
        let (id, name) = cis.id_and_name();
        s.push_str("| ");
        s.push_str(id);
        s.push_str(" | ");
        s.push_str(name);
        s.push_str(" | ");
        for (i, c) in row.iter().enumerate() {
            if i > 0 {
                s.push_str(" | ");
            }
            s.push_str(match c.status {
                Status::Satisfied => "✅",
                Status::Relaxed => "⚠️",
                Status::NotApplicable => "—",
                Status::NotEnforced => "❌",
            });
            s.push(' ');
            cell_text(m, c, &mut s, push_md);
        }
        s.push_str(" |\n");
        offer(&mut s);
    }
    s.push_str("\n✅ satisfied · ⚠️ relaxed by the spec (at the line shown) · — not applicable · ❌ not enforced by the target\n");
    let rows = accepted_rows(m);
    if !rows.is_empty() {
        s.push_str("\n## Warnings accepted by the spec (`allow`)\n\n| scope | code | warning | reason |\n|---|---|---|---|\n");
        for r in rows {
            let r: Vec<String> = r.iter().map(|c| c.replace('|', "\\|")).collect();
            let _ = writeln!(s, "| {} | {} | {} | {} |", r[0], r[1], r[2], r[3]);
        }
    }
    s
}

fn esc_byte(b: u8) -> Option<&'static str> {
    match b {
        b'&' => Some("&amp;"),
        b'<' => Some("&lt;"),
        b'>' => Some("&gt;"),
        b'"' => Some("&quot;"),
        _ => None,
    }
}

/// HTML text: `&`, `<`, `>` and `"` as entities, in one pass.
fn push_esc(s: &mut String, text: &str) {
    // Most notes have nothing to escape: copied whole, without a call of `map` per byte.
    if !text.bytes().any(|b| matches!(b, b'&' | b'<' | b'>' | b'"')) {
        s.push_str(text);
        return;
    }
    push_replacing(s, text, esc_byte);
}

fn esc(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    push_esc(&mut s, text);
    s
}

/// A self-contained page: inline CSS, no script, no external asset. Written a row at a
/// time, like [`markdown`].
pub fn html(m: &Matrix, header: &str, offer: &mut dyn FnMut(&mut String)) -> String {
    let mut s = format!(
        r#"<!DOCTYPE html>
<!-- {header} -->
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Compliance of {project}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d232a; background: #fff; }}
h1 {{ font-size: 20px; margin: 0 0 4px; }}
.summary {{ margin: 0 0 16px; color: #4a5560; }}
.summary b.ok {{ color: #1b7f3b; }} .summary b.relaxed {{ color: #a45a00; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #d5dae0; padding: 6px 8px; text-align: left; vertical-align: top; }}
thead th {{ background: #f2f4f7; position: sticky; top: 0; }}
th.cis {{ white-space: nowrap; color: #4a5560; font-weight: normal; }}
td.ok {{ background: #dff3e4; }}
td.relaxed {{ background: #ffe8c7; }}
td.na {{ background: #f5f6f8; color: #8a939c; }}
td.gap {{ background: #fbd5d5; }}
td.gap .state {{ color: #a11d1d; }}
td .state {{ display: block; font-weight: 600; font-size: 12px; text-transform: uppercase; letter-spacing: .02em; }}
td.ok .state {{ color: #1b7f3b; }} td.relaxed .state {{ color: #a45a00; }}
.legend span {{ display: inline-block; padding: 2px 8px; margin-right: 8px; border: 1px solid #d5dae0; }}
</style>
</head>
<body>
<h1>Compliance of {project}</h1>
<p class="summary">CIS Docker Benchmark v1.6.0, {target} target, generated from <code>{spec}</code>:
<b class="ok" id="n-ok">{ok}</b> satisfied, <b class="relaxed" id="n-relaxed">{relaxed}</b> relaxed by the spec,
<b id="n-na">{na}</b> not applicable, <b id="n-gap">{gap}</b> not enforced by the target.</p>
<table id="matrix">
<thead><tr><th>CIS</th><th>control</th>"#,
        project = esc(&m.project),
        spec = esc(&m.spec),
        ok = count(m, Status::Satisfied),
        relaxed = count(m, Status::Relaxed),
        na = count(m, Status::NotApplicable),
        gap = count(m, Status::NotEnforced),
        target = m.target,
    );
    for svc in &m.services {
        s.push_str("<th>");
        push_esc(&mut s, svc);
        s.push_str("</th>");
    }
    s.push_str("</tr></thead>\n<tbody>\n");
    for (cis, row) in Cis::ALL.iter().zip(&m.cells) {
        let (id, name) = cis.id_and_name();
        let _ = write!(s, "<tr><th class=\"cis\">{id}</th><th>{}</th>", esc(name));
        for c in row {
            s.push_str("<td class=\"");
            s.push_str(c.status.class());
            s.push_str("\"><span class=\"state\">");
            s.push_str(c.status.word());
            s.push_str("</span>");
            cell_text(m, c, &mut s, push_esc);
            s.push_str("</td>");
        }
        s.push_str("</tr>\n");
        offer(&mut s);
    }
    s.push_str("</tbody>\n</table>\n");
    let rows = accepted_rows(m);
    if !rows.is_empty() {
        s.push_str("<h2>Warnings accepted by the spec (<code>allow</code>)</h2>\n<table id=\"accepted\">\n<thead><tr><th>scope</th><th>code</th><th>warning</th><th>reason</th></tr></thead>\n<tbody>\n");
        for r in rows {
            let _ = writeln!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&r[0]),
                esc(&r[1]),
                esc(&r[2]),
                esc(&r[3])
            );
        }
        s.push_str("</tbody>\n</table>\n");
    }
    s.push_str(
        "<p class=\"legend\"><span style=\"background:#dff3e4\">satisfied</span><span style=\"background:#ffe8c7\">relaxed by the spec</span><span style=\"background:#f5f6f8\">not applicable</span><span style=\"background:#fbd5d5\">not enforced by the target</span></p>\n</body>\n</html>\n",
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_those_of_the_spans() {
        let text = "[project]\nname = \"t\"\n[zones.a]\n[services.s]\nimage = \"x:1\"\nzones = [\"a\"]\ncap_add = [\"CHOWN\"]\nhealthcheck = { cmd = [\"true\"] }\n";
        let raw = crate::spec::parse(text).unwrap();
        let lines = Lines::from_spec(&raw, text);
        assert_eq!(lines.get("s", "cap_add"), Some(7));
        assert_eq!(lines.get("s", "user"), None);
        for (off, _) in text.char_indices() {
            let starts: Vec<usize> = std::iter::once(0)
                .chain(text.match_indices('\n').map(|(i, _)| i + 1))
                .collect();
            assert_eq!(
                starts.partition_point(|&s| s <= off),
                crate::diagnostic::line_col(text, off).0
            );
        }
    }
}
