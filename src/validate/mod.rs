//! RawSpec -> Model. Collects every diagnostic in one pass; returns a Model only when there is
//! no error. Subnet allocation and bridge names are settled here too, because they can fail
//! in ways the user must fix (pool exhausted, names colliding).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use crate::caps;
use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::model::*;
use crate::seccomp;
use crate::spec::*;

mod builds;
mod flows;
mod logging;
mod mounts;
mod project;
mod secrets;
mod services;
mod shape;
pub mod targets;
mod text;
mod zones;

use builds::*;
use mounts::*;
use project::*;
use text::*;

pub use mounts::is_sensitive_host_path;
pub use secrets::looks_secret;
pub use shape::toml_explain;
pub use text::show;
pub(crate) use text::text_ok;
pub use zones::default_bridge;
use zones::*;

pub struct Options {
    /// Unpinned images and missing build contexts are errors rather than warnings.
    pub strict: bool,
    /// The spec file's directory, which build contexts are relative to: when given, a
    /// context that does not exist there is reported (a warning, an error with `strict`).
    pub spec_dir: Option<std::path::PathBuf>,
}

pub const DEFAULT_POOL: &str = "10.210.0.0/16";
pub const DEFAULT_USER: User = User {
    uid: 10001,
    gid: 10001,
};

/// Limits that keep every generated line short enough for its consumer (BuildKit reads
/// Dockerfile lines of at most 64 KiB, iptables-restore 10 KiB).
const MAX_ARGS_JSON: usize = 32 * 1024;

pub struct Validator<'a> {
    diags: Vec<Diagnostic>,
    opts: &'a Options,
    /// Services with a `ports` or `expose` value already reported as invalid (E011): what
    /// follows from a port they do not have (no derived health probe, a flow to a port nobody
    /// listens on) would be a knock-on message, gone once that value is fixed.
    bad_ports: BTreeSet<String>,
}

/// Validate `raw` into a model. Each service's keys that validation has converted and that
/// nothing reads afterwards are released as soon as the service is converted (see
/// [`release_converted`]), so the raw spec and the model are not both whole in memory: after
/// this, `raw` holds what the later checks read (`targets::check`, `learn::load`, the
/// compliance report's `report::Lines`).
pub fn validate(
    raw: &mut RawSpec,
    spec_name: &str,
    opts: &Options,
) -> (Option<Model>, Vec<Diagnostic>) {
    validate_in(raw, spec_name, opts, crate::parallel::PARALLEL_FROM)
}

/// `validate`, its services validated on two threads from `parallel_from` services.
fn validate_in(
    raw: &mut RawSpec,
    spec_name: &str,
    opts: &Options,
    parallel_from: usize,
) -> (Option<Model>, Vec<Diagnostic>) {
    let mut v = Validator {
        diags: Vec::new(),
        opts,
        bad_ports: BTreeSet::new(),
    };
    let mut model = v.spec(raw, &safe_spec_name(spec_name), parallel_from);
    model.accepted = crate::allow::apply(raw, &mut v.diags);
    let has_error = v.diags.iter().any(|d| d.is_error());
    let mut diags = v.diags;
    for d in &mut diags {
        d.message = clean(&d.message);
        d.label = clean(&d.label);
        for (_, l) in &mut d.also {
            *l = clean(l);
        }
        d.help = d.help.as_deref().map(clean);
    }
    diags.sort_by_key(|d| (d.span.as_ref().map_or(usize::MAX, |s| s.start), d.code));
    (if has_error { None } else { Some(model) }, diags)
}

/// What a service's validation reads of the rest of the spec: the defaults and the names it
/// may refer to (sorted).
struct Known<'a> {
    defaults: &'a Defaults,
    zones: &'a [&'a str],
    secrets: &'a [&'a str],
    services: &'a [&'a str],
}

/// Frees what validation converted of a service and nothing reads after it: the model holds
/// it now. Kept, for the checks that run on the raw spec after validation: the names, `zones`,
/// `ports`, `depends_on` (validation's own later passes), `allow` (`allow::apply`), `unsafe`,
/// `user`, `cap_add`, `volumes`, `restart`, `syscalls_allow`, the command lists of `build`,
/// `command` and `healthcheck` (`targets::check`, `report::Lines`), `seccomp` and `exercise`
/// (`learn::load`).
fn release_converted(s: &mut RawService) {
    s.image = None;
    s.description = None;
    s.expose = Vec::new();
    s.tmpfs = Vec::new();
    s.environment = BTreeMap::new();
    s.secrets = Vec::new();
    s.syscalls_deny = Vec::new();
    s.processes = Vec::new();
    s.memory = None;
    s.memory_reservation = None;
    s.tmpfs_size = None;
    s.apparmor = None;
}

/// "`a`, `b` and `c`".
fn list(items: impl IntoIterator<Item = String>) -> String {
    let items: Vec<String> = items.into_iter().collect();
    match items.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

impl Validator<'_> {
    fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn err(&mut self, code: &'static str, span: &Range<usize>, msg: String, label: &str) {
        self.push(Diagnostic::error(code, msg).at(span.clone(), label));
    }

    /// Free text (descriptions): `at` is the table that holds it (descriptions carry no span
    /// of their own).
    fn text(&mut self, s: &Option<String>, what: &str, at: &Range<usize>) {
        if let Some(s) = s {
            if !text_ok(s) {
                self.push(
                    Diagnostic::error(
                        "E050",
                        format!("{what} must be one printable line of at most 1024 bytes"),
                    )
                    .at(at.clone(), "its `description`")
                    .help(if s.len() > 1024 {
                        format!("it has {} bytes", s.len())
                    } else {
                        "remove the line breaks, control characters and invisible characters (bidirectional overrides, zero-width spaces)".to_string()
                    }),
                );
            }
        }
    }

    /// A number the spec gives as an integer, checked against its documented range.
    fn range(&mut self, v: &Option<Sp<u32>>, lo: u32, hi: u32, what: &str) -> Option<u32> {
        let v = v.as_ref()?;
        if (lo..=hi).contains(&v.value) {
            Some(v.value)
        } else {
            self.push(
                Diagnostic::error("E021", format!("{what} must be between {lo} and {hi}"))
                    .at(v.span.clone(), "out of range")
                    .help_opt(
                        (what == "pids" && v.value == 0)
                            .then(|| "0 would mean no limit at all (fork bombs)".to_string()),
                    ),
            );
            None
        }
    }

    fn size(&mut self, s: &Option<Sp<String>>) -> Option<ByteSize> {
        let s = s.as_ref()?;
        match ByteSize::parse(&s.value) {
            Ok(b) => Some(b),
            Err(e) => {
                self.err("E021", &s.span, e, "invalid size");
                None
            }
        }
    }

    fn duration(&mut self, s: &Option<Sp<String>>, default: Duration) -> Duration {
        match s {
            None => default,
            Some(s) => match Duration::parse(&s.value) {
                Ok(d) => d,
                Err(e) => {
                    self.err("E021", &s.span, e, "invalid duration");
                    default
                }
            },
        }
    }

    fn cpus(&mut self, s: &Option<Sp<f64>>) -> Option<Cpus> {
        let s = s.as_ref()?;
        match Cpus::from_f64(s.value) {
            Some(c) => Some(c),
            None => {
                self.err(
                    "E021",
                    &s.span,
                    format!("`{}` is not a CPU count between 0.01 and 1024", s.value),
                    "invalid CPU count",
                );
                None
            }
        }
    }

    fn restart(&mut self, s: &Option<Sp<String>>) -> Option<Restart> {
        let s = s.as_ref()?;
        let r = Restart::parse(&s.value);
        if r.is_none() {
            self.push(
                Diagnostic::error(
                    "E022",
                    format!("`{}` is not a restart policy", show(&s.value)),
                )
                .at(s.span.clone(), "unknown policy")
                .help("use `on-failure:5`, `on-failure`, `unless-stopped`, `always` or `no`"),
            );
        }
        r
    }

    /// The model of `raw`; its services validated on two threads from `parallel_from`.
    fn spec(&mut self, raw: &mut RawSpec, spec_name: &str, parallel_from: usize) -> Model {
        let project = self.project(&raw.project);
        self.text(
            &raw.project.description,
            "project.description",
            &raw.project.name.span,
        );
        let defaults = self.defaults(&raw.defaults);

        let zone_names: Vec<&str> = raw.zones.keys().map(|k| k.value.as_str()).collect();
        let secret_names: Vec<&str> = raw.secrets.keys().map(|k| k.value.as_str()).collect();
        // Owned: the services are converted (and released) in place below.
        let service_names: Vec<String> = raw.services.keys().map(|k| k.value.clone()).collect();
        let service_names: Vec<&str> = service_names.iter().map(String::as_str).collect();

        let mut secrets = BTreeMap::new();
        for (name, s) in &raw.secrets {
            if !name_ok(&name.value, 64, b"_-") {
                self.err(
                    "E002",
                    &name.span,
                    format!("`{}` is not a valid secret name", show(&name.value)),
                    "lower-case letters, digits, `_` and `-`, starting with a letter",
                );
            }
            self.text(&s.description, "a secret's description", &name.span);
            let bytes = s.bytes.as_ref().map_or(32, |b| b.value);
            if let Some(b) = &s.bytes {
                if !(16..=4096).contains(&b.value) {
                    self.err(
                        "E021",
                        &b.span,
                        "a secret has 16 to 4096 random bytes".into(),
                        "out of range",
                    );
                }
            }
            if let Some(g) = s.gid.as_ref().filter(|g| g.value == 0) {
                self.err(
                    "E034",
                    &g.span,
                    "a secret's group may not be root (0)".into(),
                    "root group",
                );
            } else if let Some(g) = s.gid.as_ref().filter(|g| g.value > 2_147_483_647) {
                self.err(
                    "E034",
                    &g.span,
                    "a secret's group must be between 1 and 2147483647".into(),
                    "out of range",
                );
            }
            let template = s
                .template
                .as_ref()
                .and_then(|t| self.secret_template(raw, t, s.bytes.as_ref()));
            secrets.insert(
                name.value.clone(),
                Secret {
                    name: name.value.clone(),
                    bytes,
                    gid: s.gid.as_ref().map(|g| g.value),
                    description: s.description.clone(),
                    template,
                },
            );
        }

        // Each service is validated on its own (what it may name is read from `known`): with
        // many, the second half is validated on a second thread with a validator of its own,
        // whose findings come after this one's, in the order one thread would have found them.
        let known = Known {
            defaults: &defaults,
            zones: &zone_names,
            secrets: &secret_names,
            services: &service_names,
        };
        let mut entries: Vec<(&Sp<String>, &mut RawService)> = raw.services.iter_mut().collect();
        let services = if entries.len() >= parallel_from {
            let half = entries.len() / 2;
            let (first, second) = entries.split_at_mut(half);
            let (opts, known) = (self.opts, &known);
            let (mut services, (theirs, second_v)) = crate::parallel::join(
                || self.services(first, known),
                move || {
                    let mut v = Validator {
                        diags: Vec::new(),
                        opts,
                        bad_ports: BTreeSet::new(),
                    };
                    (v.services(second, known), v)
                },
            );
            services.extend(theirs);
            self.diags.extend(second_v.diags);
            self.bad_ports.extend(second_v.bad_ports);
            services
        } else {
            self.services(&mut entries, &known)
        };
        // Collected in order, then built in one go: the map's nodes full (inserted one by one,
        // two-thirds full).
        let services: BTreeMap<String, Service> = services.into_iter().collect();
        self.depends_cycles(raw);

        let flows = self.flows(raw, &zone_names, &services);
        let zones = self.zones(raw, &project, &services, &flows);
        self.ports(raw, &services, &zones);
        self.zone_bridges(raw, &services, &flows, &zones);
        let logging = self.logging(&raw.logging, &defaults.log);

        Model {
            spec_name: spec_name.to_string(),
            project,
            zones,
            flows,
            secrets,
            services,
            accepted: Vec::new(),
            logging,
            host: Host {
                userns_remap: raw.host.userns_remap.as_ref().is_some_and(|b| b.value),
                internal_gateway_mode: raw
                    .host
                    .internal_gateway_mode
                    .as_ref()
                    .map(|m| m.value)
                    .unwrap_or_default(),
            },
        }
    }

    /// The services of `entries`, validated in order, each released once converted.
    fn services(
        &mut self,
        entries: &mut [(&Sp<String>, &mut RawService)],
        known: &Known<'_>,
    ) -> Vec<(String, Service)> {
        let mut services = Vec::with_capacity(entries.len());
        for (name, s) in entries.iter_mut() {
            let first = self.diags.len();
            let svc = self.service(
                name,
                s,
                known.defaults,
                known.zones,
                known.secrets,
                known.services,
            );
            // What was found while validating a service is about that service.
            for d in &mut self.diags[first..] {
                d.service.get_or_insert_with(|| name.value.clone());
            }
            services.push((name.value.clone(), svc));
            release_converted(s);
        }
        services
    }

    fn refs(
        &mut self,
        list: &[Sp<String>],
        known: &[&str],
        code: &'static str,
        kind: &str,
    ) -> Vec<String> {
        let mut out = Vec::new();
        // Callers pass names from sorted maps: a binary search keeps large specs linear.
        debug_assert!(
            known.windows(2).all(|w| w[0] <= w[1]),
            "refs needs sorted names"
        );
        for r in list {
            if known.binary_search(&r.value.as_str()).is_err() {
                let shown = show(&r.value);
                // "service of zone `api`" -> "services of zone `api`"
                let plural = match kind.split_once(' ') {
                    Some((a, b)) => format!("{a}s {b}"),
                    None => format!("{kind}s"),
                };
                let help = did_you_mean(&r.value, known.iter().copied()).or_else(|| {
                    Some(if known.is_empty() {
                        format!("there are no {plural}")
                    } else {
                        let listed: Vec<String> = known.iter().take(20).map(|k| show(k)).collect();
                        format!(
                            "{plural}: {}{}",
                            listed.join(", "),
                            if known.len() > 20 { ", ..." } else { "" }
                        )
                    })
                });
                let help = match help {
                    Some(h) if !r.value.is_ascii() => Some(format!(
                        "{h} (`{shown}` has non-ASCII characters: look-alike letters?)"
                    )),
                    h => h,
                };
                let message = if kind.contains(' ') {
                    format!("`{shown}` is not a {kind}")
                } else {
                    format!("unknown {kind} `{shown}`")
                };
                self.push(
                    Diagnostic::error(code, message)
                        .at(r.span.clone(), format!("no {kind} named `{shown}`"))
                        .help_opt(help),
                );
            } else if out.contains(&r.value) {
                self.err(
                    "E033",
                    &r.span,
                    format!("{kind} `{}` is listed twice", show(&r.value)),
                    "duplicate",
                );
            } else {
                out.push(r.value.clone());
            }
        }
        out
    }

    fn args(&mut self, list: &[Sp<String>], what: &str) -> Vec<String> {
        for a in list {
            if a.value.contains('\0') || a.value.len() > 4096 {
                self.err(
                    "E035",
                    &a.span,
                    format!("{what} arguments may not contain NUL and have at most 4096 bytes"),
                    "invalid argument",
                );
            }
        }
        let out: Vec<String> = list.iter().map(|a| a.value.clone()).collect();
        let json = serde_json::to_string(&out).map_or(usize::MAX, |j| j.len());
        if json > MAX_ARGS_JSON {
            if let (Some(first), Some(last)) = (list.first(), list.last()) {
                self.push(
                    Diagnostic::error(
                        "E035",
                        format!("{what} is too long: {json} bytes once quoted, at most {MAX_ARGS_JSON}"),
                    )
                    .at(first.span.start..last.span.end, "too long")
                    .help("the Dockerfile holds it on one line; put long scripts in a file of the image"),
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A spec of `n` services, those in `bad` with one mistake of each kind a service's own
    /// validation finds, and a dependency cycle through them that a later pass finds. Zone
    /// `back` has only them, whose ports are invalid: no knock-on warning that nothing there
    /// listens on the flow's port.
    fn spec_with(n: usize, bad: &[usize]) -> String {
        let mut t = String::from(
            "[project]\nname = \"split\"\n\n[zones.front]\n\n[zones.back]\n\n\
             [[flows]]\nfrom = \"front\"\nto = \"back\"\nports = [\"9000/tcp\"]\n\n",
        );
        for i in 0..n {
            t.push_str(&format!("[services.s{i:03}]\nimage = \"busybox:1.36.1\"\n"));
            t.push_str("healthcheck = { cmd = [\"true\"] }\n");
            if bad.contains(&i) {
                t.push_str("zones = [\"back\", \"middle\"]\nexpose = [\"http\"]\n");
                t.push_str("cap_add = [\"NET_RAWW\"]\nrestart = \"sometimes\"\n");
                // The mistakes depend on each other in a ring: a cycle across the halves.
                let k = bad.iter().position(|&b| b == i).unwrap_or(0);
                let next = bad[(k + 1) % bad.len()];
                t.push_str(&format!("depends_on = [\"s{next:03}\"]\n"));
            } else {
                t.push_str("zones = [\"front\"]\nexpose = [\"8080\"]\n");
            }
            t.push('\n');
        }
        t
    }

    fn both(text: &str) -> [(Option<Model>, Vec<Diagnostic>); 2] {
        let opts = Options {
            strict: false,
            spec_dir: None,
        };
        [usize::MAX, 2].map(|from| {
            let mut raw = crate::spec::parse(text).expect("the test spec reads");
            validate_in(&mut raw, "split", &opts, from)
        })
    }

    /// On two threads, validation finds what it finds on one, in the same order, and builds
    /// the same model: mistakes in both halves, at their edges, and none.
    #[test]
    fn two_threads_validate_as_one() {
        for (n, bad) in [
            (9, &[0, 3, 4, 5, 8][..]),
            (8, &[3, 4][..]),
            (8, &[5, 6][..]),
            (2, &[1][..]),
            (7, &[][..]),
            (6, &[][..]),
        ] {
            let [one, two] = both(&spec_with(n, bad));
            if bad.is_empty() {
                assert!(one.0.is_some(), "{n}: {:?}", one.1);
            } else {
                assert!(!one.1.is_empty(), "{n}: nothing found");
            }
            assert_eq!(one, two, "{n} services, mistakes in {bad:?}");
        }
    }
}
