//! `[project]` and `[defaults]`: the project's name, address pool, registry and image tag;
//! the values every service starts from.

use super::*;

pub struct Defaults {
    pub(super) user: User,
    pub(super) memory: ByteSize,
    pub(super) cpus: Cpus,
    pub(super) pids: u32,
    pub(super) restart: Restart,
    pub(super) seccomp: SeccompPreset,
    pub(super) apparmor: Option<String>,
    pub(super) tmpfs_size: ByteSize,
    pub(super) log: LogLimits,
    pub(super) integrity: bool,
}

impl Validator<'_> {
    pub(super) fn project(&mut self, p: &RawProject) -> Project {
        if !name_ok(&p.name.value, 20, b"-") {
            self.push(
                Diagnostic::error("E002", format!("`{}` is not a valid project name", show(&p.name.value)))
                    .at(p.name.span.clone(), "invalid project name")
                    .help("lower-case letters, digits and `-`, starting with a letter, at most 20 characters"),
            );
        }
        let pool = match &p.subnet_pool {
            None => Ipv4Net::parse(DEFAULT_POOL).expect("default pool parses"),
            Some(s) => match Ipv4Net::parse(&s.value) {
                Ok(n) if n.prefix <= 24 => n,
                Ok(_) => {
                    self.err(
                        "E003",
                        &s.span,
                        "the subnet pool must be a /24 or larger".into(),
                        "too small",
                    );
                    Ipv4Net::parse(DEFAULT_POOL).expect("default pool parses")
                }
                Err(e) => {
                    self.err("E003", &s.span, e, "invalid subnet");
                    Ipv4Net::parse(DEFAULT_POOL).expect("default pool parses")
                }
            },
        };
        let public_ok = p.unsafe_.as_ref().is_some_and(|u| u.public_addresses);
        if let Some(u) = &p.unsafe_ {
            self.unsafe_reason(
                u.reason.as_ref(),
                &p.name.span,
                "`[project] unsafe` needs a `reason`".into(),
                "project",
            );
        }
        if let (Some(s), Some(why)) = (&p.subnet_pool, not_private(pool)) {
            if !public_ok {
                self.push(
                    Diagnostic::error("E047", format!("subnet pool `{pool}` {why}"))
                        .at(s.span.clone(), "not a private range")
                        .help("take the pool from a private range: 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 (RFC 1918) or 100.64.0.0/10 (RFC 6598), e.g. `10.210.0.0/16`; to use other addresses on purpose, set `[project] unsafe = { public_addresses = true, reason = \"...\" }`"),
                );
            }
        }
        let zone_prefix = match &p.zone_prefix {
            None => 24,
            Some(z) if (16..=28).contains(&z.value) && z.value >= pool.prefix => z.value,
            Some(z) => {
                self.err(
                    "E021",
                    &z.span,
                    format!(
                        "zone_prefix must be between the pool's /{} and /28",
                        pool.prefix.max(16)
                    ),
                    "out of range",
                );
                24
            }
        };
        let registry = p.registry.as_ref().and_then(|r| {
            let ok = registry_ok(&r.value);
            if !ok {
                self.err(
                    "E029",
                    &r.span,
                    format!("`{}` is not a registry", show(&r.value)),
                    "`host[:port][/path]`, lower case",
                );
            }
            ok.then(|| r.value.clone())
        });
        let image_tag = match &p.image_tag {
            None => "local".to_string(),
            Some(t) => {
                if !image_tag_ok(&t.value) {
                    self.err(
                        "E029",
                        &t.span,
                        format!("`{}` is not an image tag", show(&t.value)),
                        "letters, digits, `_`, `.` and `-`, at most 128, not starting with `.` or `-`",
                    );
                }
                t.value.clone()
            }
        };
        Project {
            name: p.name.value.clone(),
            pool,
            zone_prefix,
            description: p.description.clone(),
            registry,
            image_tag,
        }
    }

    pub(super) fn defaults(&mut self, d: &RawDefaults) -> Defaults {
        Defaults {
            user: self.user(&d.user, false).unwrap_or(DEFAULT_USER),
            memory: self.size(&d.memory).unwrap_or(ByteSize {
                bytes: 256 << 20,
                amount: 256,
                unit: 'm',
            }),
            cpus: self.cpus(&d.cpus).unwrap_or(Cpus(500)),
            pids: self.range(&d.pids, 8, 4_194_304, "pids").unwrap_or(128),
            restart: self
                .restart(&d.restart)
                .unwrap_or(Restart::OnFailure(Some(5))),
            seccomp: d
                .seccomp
                .as_ref()
                .map_or(SeccompPreset::Baseline, |s| s.value),
            apparmor: self.apparmor(&d.apparmor),
            tmpfs_size: self.size(&d.tmpfs_size).unwrap_or(ByteSize {
                bytes: 64 << 20,
                amount: 64,
                unit: 'm',
            }),
            log: LogLimits {
                max_size: self.size(&d.log_max_size).unwrap_or(ByteSize {
                    bytes: 10 << 20,
                    amount: 10,
                    unit: 'm',
                }),
                max_file: self
                    .range(&d.log_max_file, 1, 100, "log_max_file")
                    .unwrap_or(3),
            },
            integrity: d.integrity.as_ref().is_some_and(|i| i.value),
        }
    }
}
