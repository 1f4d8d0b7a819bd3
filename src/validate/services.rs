//! `[services.NAME]`: identity, references, ports, capabilities, environment, resources,
//! syscalls, health check, and the dependency graph between services.

use super::*;

/// The healthcheck hardgen can write itself for a built image: the runtime's own
/// interpreter connecting to the service's first port.
/// Whether hardgen derives the health check of RUNTIME's builds from the port they listen on
/// (the runtimes [`derived_probe`] has a command for).
fn probes_a_port(runtime: Runtime) -> bool {
    matches!(runtime, Runtime::Python | Runtime::Node)
}

pub(super) fn derived_probe(runtime: Runtime, port: Option<PortProto>) -> Option<Vec<String>> {
    let port = port.filter(|p| p.proto == Proto::Tcp)?.port;
    match runtime {
        Runtime::Python => Some(vec![
            "python".into(),
            "-c".into(),
            format!("import socket; socket.create_connection(('127.0.0.1', {port}), 3).close()"),
        ]),
        Runtime::Node => Some(vec![
            "node".into(),
            "-e".into(),
            format!(
                "require('net').connect({port}, '127.0.0.1').on('connect', () => process.exit(0)).on('error', () => process.exit(1))"
            ),
        ]),
        Runtime::Go | Runtime::Rust | Runtime::Static => None,
    }
}

impl Validator<'_> {
    pub(super) fn service(
        &mut self,
        name: &Sp<String>,
        s: &RawService,
        d: &Defaults,
        zones: &[&str],
        secrets: &[&str],
        services: &[&str],
    ) -> Service {
        let n = &name.value;
        if !name_ok(n, 63, b"_-") {
            self.err(
                "E002",
                &name.span,
                format!("`{}` is not a valid service name", show(n)),
                "lower-case letters, digits, `_` and `-`, starting with a letter, at most 63",
            );
        }
        self.text(&s.description, "a service's description", &name.span);
        if s.description.as_deref().is_some_and(|d| d.ends_with('\\')) {
            self.push(
                Diagnostic::error("E050", "a service's description may not end with a backslash")
                    .at(name.span.clone(), "its `description`")
                    .help("it is quoted in the Dockerfile's LABEL, where `\\\"` is read differently by Docker and by linters"),
            );
        }
        let uns = s.unsafe_.as_ref();
        let flag = |f: fn(&RawUnsafe) -> bool| uns.is_some_and(f);
        if let Some(u) = uns {
            self.unsafe_reason(
                u.reason.as_ref(),
                &name.span,
                format!("service `{n}`: `unsafe` needs a `reason`"),
                "service",
            );
        }

        let source = self.source(name, s, d);

        let (svc_zones, svc_secrets, depends_on) =
            self.service_refs(name, s, zones, secrets, services);

        let (ports, expose) = self.ports_of(n, s);
        let cap_add = self.cap_add(n, s, &ports, &expose, flag(|u| u.dangerous_caps));

        let (volumes, tmpfs) = self.mounts(s, n, &svc_secrets, flag(|u| u.sensitive_mounts));

        let environment = self.environment(s);

        let allow_root = flag(|u| u.root_user);
        let user = self.user(&s.user, allow_root).unwrap_or(d.user);
        let (memory, memory_reservation, cpus, cpus_reservation) = self.limits(s, d);
        let tmpfs_size = self.size(&s.tmpfs_size).unwrap_or(d.tmpfs_size);
        let tmpfs_total: u64 = crate::model::tmpfs_mounts(&tmpfs, tmpfs_size)
            .iter()
            .map(|t| t.size.bytes)
            .fold(0, u64::saturating_add);
        if tmpfs_total >= memory.bytes {
            // Where the sizes come from: the service's own keys, else its name (defaults).
            let span = s
                .tmpfs_size
                .as_ref()
                .or(s.memory.as_ref())
                .or(s.tmpfs.first())
                .map_or_else(|| name.span.clone(), |x| x.span.clone());
            self.push(
                Diagnostic::error(
                    "E021",
                    format!("service `{n}`: its tmpfs mounts ({} MiB in all) count against the memory limit {memory} and could fill it", tmpfs_total >> 20),
                )
                .at(span, "tmpfs too large for the memory limit")
                .help("lower `tmpfs_size` or raise `memory`"),
            );
        }

        let (allow, deny) = self.syscalls(s);

        let health = self.health(
            n,
            name,
            s,
            &source,
            &ports,
            &expose,
            flag(|u| u.no_healthcheck),
        );
        let command = s.command.as_ref().map(|c| self.args(c, "command"));
        self.programs(n, s, &source);
        let restart = self.restart(&s.restart).unwrap_or(d.restart);
        let (read_only, no_new_privileges) = self.relaxations(name, s, &cap_add, user);

        Service {
            name: n.clone(),
            source,
            zones: svc_zones,
            ports,
            expose,
            volumes,
            tmpfs,
            environment,
            secrets: svc_secrets,
            cap_add,
            user,
            memory,
            memory_reservation,
            cpus,
            cpus_reservation,
            pids: self.range(&s.pids, 8, 4_194_304, "pids").unwrap_or(d.pids),
            nofile: self.range(&s.nofile, 64, 1_048_576, "nofile"),
            restart,
            seccomp: SeccompPolicy {
                preset: s.seccomp.as_ref().map_or(d.seccomp, |x| x.value),
                allow,
                deny,
                learned: None,
            },
            apparmor: match &s.apparmor {
                Some(_) => self.apparmor(&s.apparmor),
                None => d.apparmor.clone(),
            },
            health,
            init: s.init.as_ref().is_none_or(|i| i.value),
            command,
            processes: self.processes(&s.processes),
            depends_on,
            tmpfs_size,
            read_only,
            no_new_privileges,
            log: d.log.clone(),
            unsafe_reason: uns.and_then(|u| u.reason.as_ref()).map(|r| r.value.clone()),
            description: s.description.clone(),
        }
    }

    /// The zones, secrets and services a service names: declared, each once; at least one
    /// zone; no dependency on itself.
    fn service_refs(
        &mut self,
        name: &Sp<String>,
        s: &RawService,
        zones: &[&str],
        secrets: &[&str],
        services: &[&str],
    ) -> (Vec<String>, Vec<String>, Vec<String>) {
        let n = &name.value;
        if s.zones.is_empty() {
            self.push(
                Diagnostic::error("E007", format!("service `{n}` is in no zone"))
                    .at(name.span.clone(), "no zones")
                    .help(if zones.is_empty() {
                        "declare a zone with `[zones.NAME]` and list it in `zones = [\"NAME\"]`"
                            .to_string()
                    } else {
                        format!("add `zones = [\"{}\"]`", zones[0])
                    }),
            );
        }
        let svc_zones = self.refs(&s.zones, zones, "E007", "zone");
        let svc_secrets = self.refs(&s.secrets, secrets, "E008", "secret");
        let depends_on = self.refs(&s.depends_on, services, "E009", "service");
        if let Some(dep) = s.depends_on.iter().find(|x| &x.value == n) {
            self.err(
                "E036",
                &dep.span,
                format!("service `{n}` depends on itself"),
                "self dependency",
            );
        }
        (svc_zones, svc_secrets, depends_on)
    }

    /// Memory and CPU limits and reservations (a reservation is not above its limit).
    fn limits(
        &mut self,
        s: &RawService,
        d: &Defaults,
    ) -> (ByteSize, Option<ByteSize>, Cpus, Option<Cpus>) {
        let memory = self.size(&s.memory).unwrap_or(d.memory);
        let memory_reservation = self.size(&s.memory_reservation);
        if let (Some(r), Some(sp)) = (memory_reservation, &s.memory_reservation) {
            if r.bytes > memory.bytes {
                self.err(
                    "E021",
                    &sp.span,
                    format!("the reservation {r} is above the limit {memory}"),
                    "above the limit",
                );
            }
        }
        let cpus = self.cpus(&s.cpus).unwrap_or(d.cpus);
        let cpus_reservation = self.cpus(&s.cpus_reservation);
        if let (Some(r), Some(sp)) = (cpus_reservation, &s.cpus_reservation) {
            if r > cpus {
                self.err(
                    "E021",
                    &sp.span,
                    format!("the reservation {r} is above the limit {cpus}"),
                    "above the limit",
                );
            }
        }
        (memory, memory_reservation, cpus, cpus_reservation)
    }

    /// An `unsafe` table says why: `reason` is one non-empty line. Without one, `missing` is
    /// the message, placed at `at` (the owner's name); `owner` is "service" or "project".
    pub(super) fn unsafe_reason(
        &mut self,
        reason: Option<&Sp<String>>,
        at: &Range<usize>,
        missing: String,
        owner: &str,
    ) {
        match reason {
            Some(r) if !r.value.trim().is_empty() && text_ok(&r.value) => {}
            Some(r) => self.err(
                "E032",
                &r.span,
                "the reason must be one non-empty line".into(),
                "invalid reason",
            ),
            None => self.push(
                Diagnostic::error("E032", missing)
                    .at(at.clone(), "relaxes hardening without saying why")
                    .help(format!(
                        "add `reason = \"...\"` to the {owner}'s `unsafe` table"
                    )),
            ),
        }
    }

    /// Whether the root file system is read-only and no-new-privileges is set, with the
    /// warnings about relaxed hardening and added capabilities a non-root user never holds.
    fn relaxations(
        &mut self,
        name: &Sp<String>,
        s: &RawService,
        cap_add: &BTreeSet<String>,
        user: User,
    ) -> (bool, bool) {
        let n = &name.value;
        let flag = |f: fn(&RawUnsafe) -> bool| s.unsafe_.as_ref().is_some_and(f);
        let allow_root = flag(|u| u.root_user);
        let read_only = !flag(|u| u.writable_root);
        let no_new_privileges = !flag(|u| u.allow_new_privileges);
        if !cap_add.is_empty() && user.uid != 0 && no_new_privileges {
            if let Some(first) = s.cap_add.first() {
                let caps: Vec<&str> = cap_add.iter().map(String::as_str).collect();
                self.push(
                    Diagnostic::warning(
                        "W104",
                        format!(
                            "service `{n}` runs as {user}: `cap_add` ({}) gives its processes no capability",
                            caps.join(", ")
                        ),
                    )
                    .at(first.span.clone(), "stays out of the effective set")
                    .help("Docker puts added capabilities of a non-root user in the bounding set only (CapPrm, CapEff and CapAmb stay 0), and no-new-privileges stops file capabilities from raising them: remove `cap_add`; a capability is only held by a root process (`user = \"0:0\"` with `unsafe = { root_user = true, reason = \"...\" }`), which the bounding set then limits"),
                );
            }
        }
        let any_unsafe = !read_only
            || !no_new_privileges
            || allow_root
            || flag(|u| u.no_healthcheck)
            || flag(|u| u.bridges_zones)
            || flag(|u| u.dangerous_caps)
            || flag(|u| u.sensitive_mounts);
        if any_unsafe {
            self.push(
                Diagnostic::warning(
                    "W104",
                    format!("service `{n}` relaxes hardening explicitly"),
                )
                .at(name.span.clone(), "see its `unsafe` table"),
            );
        }

        (read_only, no_new_privileges)
    }

    /// Where the image comes from: `image` or `build`, exactly one.
    fn source(&mut self, name: &Sp<String>, s: &RawService, d: &Defaults) -> Source {
        let n = &name.value;
        match (&s.image, &s.build) {
            (Some(img), None) => Source::Image(self.image(img)),
            (None, Some(b)) => {
                let mut build = self.build(n, b);
                // The project default applies where the runtime has a shell.
                build.integrity = build.integrity
                    || (b.integrity.is_none()
                        && d.integrity
                        && matches!(build.runtime, Runtime::Python | Runtime::Node));
                Source::Build(build)
            }
            (Some(img), Some(_)) => {
                self.err(
                    "E019",
                    &img.span,
                    format!("service `{n}` has both `image` and `build`"),
                    "remove one",
                );
                Source::Image(ImageRef::parse("invalid").expect("literal parses"))
            }
            (None, None) => {
                self.push(
                    Diagnostic::error(
                        "E019",
                        format!("service `{n}` has neither `image` nor `build`"),
                    )
                    .at(name.span.clone(), "no image")
                    .help("add `image = \"name:tag\"` or `build = { runtime = \"python\", ... }`"),
                );
                Source::Image(ImageRef::parse("invalid").expect("literal parses"))
            }
        }
    }

    /// Published ports and exposed ports.
    fn ports_of(&mut self, n: &str, s: &RawService) -> (Vec<PublishedPort>, Vec<PortProto>) {
        let mut invalid = false;
        let mut ports = Vec::new();
        for p in &s.ports {
            match PublishedPort::parse(&p.value) {
                Ok(pp) => ports.push(pp),
                Err(e) => {
                    invalid = true;
                    self.err("E011", &p.span, e, "invalid port");
                }
            }
        }
        let mut expose = Vec::new();
        for p in &s.expose {
            match PortProto::parse(&p.value) {
                Ok(pp) if !expose.contains(&pp) => expose.push(pp),
                Ok(pp) => self.err(
                    "E033",
                    &p.span,
                    format!("port {pp} is listed twice"),
                    "duplicate",
                ),
                Err(e) => {
                    invalid = true;
                    self.err("E011", &p.span, e, "invalid port");
                }
            }
        }
        if invalid {
            self.bad_ports.insert(n.to_string());
        }
        (ports, expose)
    }

    /// Added capabilities: real, unprefixed, not dangerous without `unsafe`, needed.
    fn cap_add(
        &mut self,
        n: &str,
        s: &RawService,
        ports: &[PublishedPort],
        expose: &[PortProto],
        dangerous_ok: bool,
    ) -> BTreeSet<String> {
        let mut cap_add = BTreeSet::new();
        for c in &s.cap_add {
            let v = c.value.as_str();
            if let Some(stripped) = v.strip_prefix("CAP_").filter(|x| caps::is_capability(x)) {
                self.push(
                    Diagnostic::error(
                        "E014",
                        format!("write capabilities without the `CAP_` prefix: `{stripped}`"),
                    )
                    .at(c.span.clone(), "prefixed name")
                    .help(format!("write `{stripped}`")),
                );
            } else if !caps::is_capability(v) {
                self.push(
                    Diagnostic::error("E014", format!("unknown capability `{}`", show(v)))
                        .at(c.span.clone(), "not a Linux capability")
                        .help_opt(did_you_mean(
                            &v.to_ascii_uppercase(),
                            caps::ALL.iter().copied(),
                        )),
                );
            } else if caps::is_dangerous(v) && !dangerous_ok {
                self.push(
                    Diagnostic::error("E015", format!("capability `{v}` is dangerous"))
                        .at(c.span.clone(), "grants host-level power")
                        .help("if it is really needed, set `unsafe = { dangerous_caps = true, reason = \"...\" }`"),
                );
            } else if !cap_add.insert(v.to_string()) {
                self.err(
                    "E033",
                    &c.span,
                    format!("capability `{v}` is listed twice"),
                    "duplicate",
                );
            }
        }
        if cap_add.contains("NET_BIND_SERVICE") {
            let low = ports
                .iter()
                .map(|p| p.container.port)
                .chain(expose.iter().map(|p| p.port))
                .any(|p| p < 1024);
            if !low {
                let span = s
                    .cap_add
                    .iter()
                    .find(|c| c.value == "NET_BIND_SERVICE")
                    .map(|c| c.span.clone());
                let mut diag = Diagnostic::warning("W104", format!("service `{n}`: NET_BIND_SERVICE is only needed to listen on ports below 1024"))
                    .help("remove it: no port of this service is below 1024 (and Docker 20.10 or later lets containers bind low ports without it: net.ipv4.ip_unprivileged_port_start=0)");
                if let Some(span) = span {
                    diag = diag.at(span, "not needed");
                }
                self.push(diag);
            }
        }
        cap_add
    }

    /// Environment variables: valid names and values, no secret written into one.
    fn environment(&mut self, s: &RawService) -> BTreeMap<String, String> {
        let mut environment = BTreeMap::new();
        for (k, v) in &s.environment {
            let key_ok = !k.value.is_empty()
                && k.value.len() <= 128
                && (k.value.as_bytes()[0].is_ascii_alphabetic() || k.value.as_bytes()[0] == b'_')
                && k.value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !key_ok {
                self.err(
                    "E028",
                    &k.span,
                    format!(
                        "`{}` is not a valid environment variable name",
                        show(&k.value)
                    ),
                    "letters, digits and `_`",
                );
            }
            if v.value.contains('\0') || v.value.len() > 4096 {
                self.err(
                    "E028",
                    &v.span,
                    "environment values may not contain NUL and have at most 4096 bytes".into(),
                    "invalid value",
                );
            }
            if looks_secret(&k.value) && !v.value.starts_with("/run/secrets/") {
                self.push(
                    Diagnostic::error("E027", format!("`{}` looks like a secret written into the environment", k.value))
                        .at(v.span.clone(), "literal secret")
                        .help(format!(
                            "declare it in `[secrets]`, list it in this service's `secrets`, and pass its path instead, e.g. `{}_FILE = \"/run/secrets/...\"`",
                            k.value
                        )),
                );
            }
            environment.insert(k.value.clone(), v.value.clone());
        }
        environment
    }

    /// Syscalls added to and removed from the seccomp preset: real ones only.
    fn syscalls(&mut self, s: &RawService) -> (BTreeSet<String>, BTreeSet<String>) {
        let mut allow = BTreeSet::new();
        let mut deny = BTreeSet::new();
        for (list, set) in [
            (&s.syscalls_allow, &mut allow),
            (&s.syscalls_deny, &mut deny),
        ] {
            for sc in list {
                if seccomp::is_syscall(&sc.value) {
                    set.insert(sc.value.clone());
                } else {
                    self.push(
                        Diagnostic::error("E023", format!("unknown syscall `{}`", show(&sc.value)))
                            .at(sc.span.clone(), "not a syscall on x86_64 or aarch64")
                            .help_opt(did_you_mean(&sc.value, seccomp::all_syscalls())),
                    );
                }
            }
        }
        (allow, deny)
    }

    /// The programs the commands start (present in the image) and their arguments (no
    /// secret in them).
    fn programs(&mut self, n: &str, s: &RawService, source: &Source) {
        if let (Source::Build(b), Some(raw_build)) = (source, &s.build) {
            let lists = [
                (raw_build.command.as_deref(), "build.command"),
                (s.command.as_deref(), "command"),
                (
                    s.healthcheck.as_ref().and_then(|h| h.cmd.as_deref()),
                    "healthcheck.cmd",
                ),
            ];
            for (list, what) in lists {
                if let Some(first) = list.and_then(<[_]>::first) {
                    self.program_in_image(n, b, first, what);
                }
            }
        }
        self.secrets_in_args(n, s);
    }

    pub(super) fn apparmor(&mut self, a: &Option<Sp<String>>) -> Option<String> {
        let a = a.as_ref()?;
        let v = &a.value;
        let ok = !v.is_empty()
            && v.len() <= 128
            && v.as_bytes()[0].is_ascii_alphanumeric()
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !ok {
            self.push(
                Diagnostic::error("E002", format!("`{}` is not an AppArmor profile name", show(v)))
                    .at(a.span.clone(), "invalid profile name")
                    .help("letters, digits, `.`, `_` and `-`, starting with a letter or digit, at most 128"),
            );
            None
        } else if v == "unconfined" {
            self.push(
                Diagnostic::error("E002", "`unconfined` turns AppArmor off")
                    .at(a.span.clone(), "no AppArmor confinement")
                    .help("omit `apparmor`: Docker then applies its `docker-default` profile"),
            );
            None
        } else {
            Some(v.clone())
        }
    }

    pub(super) fn user(&mut self, s: &Option<Sp<String>>, allow_root: bool) -> Option<User> {
        let s = s.as_ref()?;
        match User::parse(&s.value) {
            Some(u) if (u.uid == 0 || u.gid == 0) && !allow_root => {
                self.push(
                    Diagnostic::error("E020", "the service would run as root")
                        .at(s.span.clone(), "UID or GID 0")
                        .help("use a numeric non-root user such as `\"10001:10001\"`, or set `unsafe.root_user = true` with a reason"),
                );
                None
            }
            Some(u) if u.uid == u32::MAX || u.gid == u32::MAX => {
                self.push(
                    Diagnostic::error("E020", format!("`{}` is not a usable user", show(&s.value)))
                        .at(s.span.clone(), "4294967295 is -1")
                        .help("the kernel reads ID 4294967295 as -1 (\"unchanged\"): use an ID below it"),
                );
                None
            }
            Some(u) => Some(u),
            None => {
                self.push(
                    Diagnostic::error("E020", format!("`{}` is not a numeric `UID:GID`", show(&s.value)))
                        .at(s.span.clone(), "expected e.g. \"10001:10001\"")
                        .help("names are not allowed: a numeric user cannot be remapped by the image's /etc/passwd"),
                );
                None
            }
        }
    }

    /// Program names of a service's allowlist: a name or a path (its base name counts).
    pub(super) fn processes(&mut self, list: &[Sp<String>]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for p in list {
            let v = &p.value;
            let ok = !v.is_empty()
                && v.len() <= 255
                && !v.ends_with('/')
                && v.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-' | b'+')
                })
                && !v.split('/').any(|c| c == "." || c == "..")
                && !v.contains("//");
            if !ok {
                self.push(
                    Diagnostic::error("E049", format!("`{}` is not a program name", show(v)))
                        .at(p.span.clone(), "invalid program name")
                        .help("the name of a program as `ps` shows it (`postgres`), or its path (`/usr/local/bin/postgres`): letters, digits, `.`, `_`, `+`, `-`"),
                );
            } else if out.contains(v) {
                self.push(
                    Diagnostic::error("E033", format!("`{}` is listed twice", show(v)))
                        .at(p.span.clone(), "duplicate"),
                );
            } else {
                out.push(v.clone());
            }
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn health(
        &mut self,
        n: &str,
        name: &Sp<String>,
        s: &RawService,
        source: &Source,
        ports: &[PublishedPort],
        expose: &[PortProto],
        disabled: bool,
    ) -> Option<Health> {
        let h = s.healthcheck.as_deref();
        let timing = |this: &mut Self, cmd: Vec<String>| {
            let d = RawHealth::default();
            let h = h.unwrap_or(&d);
            Health {
                cmd,
                interval: this.duration(&h.interval, Duration::seconds(30)),
                timeout: this.duration(&h.timeout, Duration::seconds(5)),
                start_period: this.duration(&h.start_period, Duration::seconds(20)),
                retries: this.range(&h.retries, 1, 100, "retries").unwrap_or(3),
            }
        };
        if disabled {
            return None;
        }
        if let Some(cmd) = h.and_then(|h| h.cmd.as_ref()) {
            if cmd.is_empty() {
                self.err(
                    "E024",
                    &name.span,
                    format!("service `{n}`: the health check command is empty"),
                    "empty healthcheck",
                );
                return None;
            }
            let cmd = self.args(cmd, "healthcheck");
            return Some(timing(self, cmd));
        }
        let first_port = expose
            .first()
            .copied()
            .or_else(|| ports.first().map(|p| p.container));
        if let Source::Build(b) = source {
            if let Some(cmd) = derived_probe(b.runtime, first_port) {
                return Some(timing(self, cmd));
            }
            // A runtime whose probe comes from a port, with a port already reported as invalid
            // (E011): the missing health check follows from that value.
            if self.bad_ports.contains(n) && probes_a_port(b.runtime) {
                return None;
            }
        }
        self.push(
            Diagnostic::error("E024", format!("service `{n}` needs a health check"))
                .at(name.span.clone(), "no health check")
                .help(match source {
                    Source::Build(b) if probes_a_port(b.runtime) => {
                        "list the port it listens on in `expose` (hardgen then probes it), or write `healthcheck = { cmd = [...] }`".to_string()
                    }
                    _ => "write `healthcheck = { cmd = [\"/path/to/probe\", \"...\"] }` (exec form: the image's own tool), or set `unsafe = { no_healthcheck = true, reason = \"...\" }`".to_string(),
                }),
        );
        None
    }

    pub(super) fn depends_cycles(&mut self, raw: &RawSpec) {
        // The services by index in name order (the map's), each with the indices of the
        // services it depends on; names that are no service are left out (reported by
        // `refs`).
        let names: Vec<&Sp<String>> = raw.services.keys().collect();
        let index = |name: &str| names.binary_search_by(|k| k.value.as_str().cmp(name)).ok();
        let graph: Vec<Vec<usize>> = raw
            .services
            .values()
            .map(|s| {
                s.depends_on
                    .iter()
                    .filter_map(|d| index(&d.value))
                    .collect()
            })
            .collect();
        // Colour DFS (0 unseen, 1 on the path, 2 done); report each cycle once, at the service
        // that closes it, those found from the first start that finds any.
        let mut state = vec![0u8; names.len()];
        let mut reported = false;
        for start in 0..names.len() {
            if reported {
                break;
            }
            if state[start] != 0 {
                continue;
            }
            let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
            state[start] = 1;
            while let Some((node, i)) = stack.pop() {
                let Some(&m) = graph[node].get(i) else {
                    state[node] = 2;
                    continue;
                };
                stack.push((node, i + 1));
                match state[m] {
                    0 => {
                        state[m] = 1;
                        stack.push((m, 0));
                    }
                    1 if m != node => {
                        let path: Vec<&str> = stack
                            .iter()
                            .skip_while(|&&(n, _)| n != m)
                            .map(|&(n, _)| names[n].value.as_str())
                            .collect();
                        self.push(
                            Diagnostic::error(
                                "E036",
                                format!(
                                    "services depend on each other in a cycle: {} -> {}",
                                    path.join(" -> "),
                                    names[m].value
                                ),
                            )
                            .at(names[node].span.clone(), "part of a dependency cycle"),
                        );
                        reported = true;
                    }
                    _ => {}
                }
            }
        }
    }
}
