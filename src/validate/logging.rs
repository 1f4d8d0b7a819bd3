//! `[logging]` -> `Logging`: the driver, and each option checked against the driver that takes
//! it, with Docker's key names in the model.

use std::collections::BTreeMap;
use std::ops::Range;

use crate::diagnostic::{did_you_mean, Diagnostic};
use crate::model::*;
use crate::spec::{RawLogging, Sp};

use super::{container_path_ok, show, Validator};

const CODE: &str = "E048";

/// Which drivers take which spec key.
const KEYS: &[(&str, &[LogDriver])] = &[
    (
        "address",
        &[LogDriver::Syslog, LogDriver::Fluentd, LogDriver::Gelf],
    ),
    (
        "tag",
        &[
            LogDriver::Syslog,
            LogDriver::Journald,
            LogDriver::Fluentd,
            LogDriver::Gelf,
        ],
    ),
    ("facility", &[LogDriver::Syslog]),
    ("format", &[LogDriver::Syslog]),
    ("tls_ca_cert", &[LogDriver::Syslog]),
    ("tls_cert", &[LogDriver::Syslog]),
    ("tls_key", &[LogDriver::Syslog]),
    ("async", &[LogDriver::Fluentd]),
    ("compression", &[LogDriver::Gelf]),
];

fn keys_of(driver: LogDriver) -> String {
    let mut keys: Vec<&str> = KEYS
        .iter()
        .filter(|(_, d)| d.contains(&driver))
        .map(|(k, _)| *k)
        .collect();
    keys.extend(["mode", "max_buffer_size"]);
    if driver == LogDriver::JsonFile {
        keys.push("(rotation: `defaults.log_max_size`, `defaults.log_max_file`)");
    }
    keys.join(", ")
}

fn host_ok(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && h.as_bytes()[0].is_ascii_alphanumeric()
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
}

fn port_ok(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= 5
        && p.bytes().all(|b| b.is_ascii_digit())
        && p.parse::<u32>().is_ok_and(|n| (1..=65535).contains(&n))
}

/// `HOST[:PORT]`; `need_port` makes the port required.
fn host_port(rest: &str, need_port: bool) -> Result<(), String> {
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (rest, None),
    };
    if !host_ok(host) {
        return Err(format!(
            "`{}` is not a host name or IPv4 address",
            show(host)
        ));
    }
    match port {
        Some(p) if !port_ok(p) => Err(format!("`{}` is not a port number (1-65535)", show(p))),
        None if need_port => Err("the port is required: `HOST:PORT`".into()),
        _ => Ok(()),
    }
}

/// The address forms each driver dials, as Docker 20.10 parses them.
fn address(driver: LogDriver, a: &str) -> Result<(), String> {
    let (scheme, rest) = match a.split_once("://") {
        Some((s, r)) => (Some(s), r),
        None => (None, a),
    };
    let unix = |rest: &str| {
        if container_path_ok(rest) {
            Ok(())
        } else {
            Err(format!("`{}` is not an absolute socket path", show(rest)))
        }
    };
    match (driver, scheme) {
        (LogDriver::Syslog, Some("udp" | "tcp" | "tcp+tls")) => host_port(rest, false),
        (LogDriver::Syslog, Some("unix" | "unixgram")) => unix(rest),
        (LogDriver::Fluentd, Some("tcp") | None) => host_port(rest, true),
        (LogDriver::Fluentd, Some("unix")) => unix(rest),
        (LogDriver::Gelf, Some("udp" | "tcp")) => host_port(rest, true),
        (d, s) => {
            let schemes: &[&str] = match d {
                LogDriver::Syslog => &["udp", "tcp", "tcp+tls", "unix", "unixgram"],
                LogDriver::Fluentd => &["tcp", "unix"],
                _ => &["udp", "tcp"],
            };
            let mut msg = format!(
                "the {} driver takes {}",
                d.as_str(),
                schemes
                    .iter()
                    .map(|s| format!("`{s}://`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let tls_like = s.is_some_and(|s| s.contains("tls") || s.contains("ssl"));
            if tls_like && d == LogDriver::Syslog {
                msg.push_str(": did you mean `tcp+tls`?");
            } else if tls_like {
                msg.push_str(&format!(
                    ": Docker's {} driver has no TLS; use syslog over `tcp+tls://`, or a relay on the host",
                    d.as_str()
                ));
            } else if let Some(m) = s.and_then(|s| did_you_mean(s, schemes.iter().copied())) {
                msg = format!("{msg}: {m}");
            } else if s.is_none() {
                msg.push_str(match d {
                    LogDriver::Syslog => " addresses, e.g. `udp://logs.example.net:514`",
                    _ => " addresses, e.g. `udp://graylog.example.net:12201`",
                });
            }
            Err(msg)
        }
    }
}

/// A tag: `{project}`, `{service}` and Docker's `{{.Field}}` templates; no other brace, no
/// `$`, quote, backslash or control character.
fn tag(t: &str) -> Result<(), String> {
    if t.is_empty() || t.len() > 256 {
        return Err("a tag has 1 to 256 characters".into());
    }
    if let Some(c) = t
        .chars()
        .find(|c| c.is_control() || matches!(c, '$' | '"' | '\\'))
    {
        return Err(format!("`{}` may not appear in a tag", c.escape_debug()));
    }
    let mut rest = t;
    while let Some(i) = rest.find(['{', '}']) {
        let after = &rest[i..];
        if let Some(inner) = after.strip_prefix("{{") {
            let Some(end) = inner.find("}}") else {
                return Err("`{{` without its `}}`".into());
            };
            let field = inner[..end].trim();
            let name = field.strip_prefix('.').unwrap_or("");
            if !LOG_TAG_TEMPLATES.contains(&name) {
                let known: Vec<String> =
                    LOG_TAG_TEMPLATES.iter().map(|f| format!(".{f}")).collect();
                let hint = did_you_mean(field, known.iter().map(String::as_str))
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default();
                return Err(format!(
                    "`{{{{{}}}}}` is not one of Docker's tag templates ({}){hint}",
                    show(field),
                    LOG_TAG_TEMPLATES
                        .iter()
                        .map(|f| format!("`{{{{.{f}}}}}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            rest = &inner[end + 2..];
        } else if let Some(inner) = after.strip_prefix('{') {
            let end = inner.find('}').unwrap_or(inner.len());
            let word = &inner[..end];
            if !matches!(word, "project" | "service") || end == inner.len() {
                let hint = did_you_mean(word, ["project", "service"])
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default();
                return Err(format!(
                    "`{{{}}}` is not a placeholder: write `{{project}}`, `{{service}}` or a Docker template such as `{{{{.ID}}}}`{hint}",
                    show(word)
                ));
            }
            rest = &inner[end + 1..];
        } else {
            return Err("a `}` without its `{`".into());
        }
    }
    Ok(())
}

fn abs_host_path(p: &str) -> bool {
    container_path_ok(p)
}

/// One option of the driver, under Docker's name.
fn put(options: &mut BTreeMap<String, String>, key: &str, value: String) {
    options.insert(key.to_string(), value);
}

impl Validator<'_> {
    fn log_err(&mut self, span: &Range<usize>, msg: String, label: &str, help: Option<String>) {
        self.push(
            Diagnostic::error(CODE, msg)
                .at(span.clone(), label)
                .help_opt(help),
        );
    }

    pub(super) fn logging(&mut self, raw: &RawLogging, limits: &LogLimits) -> Logging {
        let driver = raw.driver.as_ref().map_or(LogDriver::JsonFile, |d| d.value);
        let dname = driver.as_str();
        let span_of = |k: &str| -> Option<Range<usize>> {
            match k {
                "address" => raw.address.as_ref().map(|s| s.span.clone()),
                "tag" => raw.tag.as_ref().map(|s| s.span.clone()),
                "facility" => raw.facility.as_ref().map(|s| s.span.clone()),
                "format" => raw.format.as_ref().map(|s| s.span.clone()),
                "tls_ca_cert" => raw.tls_ca_cert.as_ref().map(|s| s.span.clone()),
                "tls_cert" => raw.tls_cert.as_ref().map(|s| s.span.clone()),
                "tls_key" => raw.tls_key.as_ref().map(|s| s.span.clone()),
                "async" => raw.async_.as_ref().map(|s| s.span.clone()),
                "compression" => raw.compression.as_ref().map(|s| s.span.clone()),
                _ => None,
            }
        };
        for (key, drivers) in KEYS {
            if let Some(span) = span_of(key) {
                if !drivers.contains(&driver) {
                    let owners: Vec<&str> = drivers.iter().map(|d| d.as_str()).collect();
                    self.log_err(
                        &span,
                        format!(
                            "`logging.{key}` is an option of the {} driver, not of {dname}",
                            owners.join(" and ")
                        ),
                        &format!("not a {dname} option"),
                        Some(format!("the {dname} driver takes: {}", keys_of(driver))),
                    );
                }
            }
        }
        let mut options = BTreeMap::new();

        match (&raw.address, driver) {
            (Some(a), LogDriver::Syslog | LogDriver::Fluentd | LogDriver::Gelf) => {
                match address(driver, &a.value) {
                    Ok(()) => put(&mut options, &format!("{dname}-address"), a.value.clone()),
                    Err(e) => self.log_err(
                        &a.span,
                        format!("`{}` is not a {dname} address", show(&a.value)),
                        "invalid address",
                        Some(e),
                    ),
                }
            }
            (None, LogDriver::Gelf) => {
                let span = raw.driver.as_ref().map_or(0..0, |d| d.span.clone());
                self.log_err(
                    &span,
                    "the gelf driver needs an `address`".into(),
                    "no `logging.address`",
                    Some("e.g. `address = \"udp://graylog.example.net:12201\"`".into()),
                );
            }
            _ => {}
        }

        if driver == LogDriver::Syslog {
            self.syslog_options(raw, &mut options);
        }
        if driver == LogDriver::Fluentd {
            if let Some(a) = &raw.async_ {
                put(&mut options, "fluentd-async", a.value.to_string());
            }
        }
        if driver == LogDriver::Gelf {
            if let Some(c) = &raw.compression {
                let v = match c.value {
                    GelfCompression::Gzip => "gzip",
                    GelfCompression::Zlib => "zlib",
                    GelfCompression::None => "none",
                };
                put(&mut options, "gelf-compression-type", v.into());
            }
        }
        let non_blocking = raw
            .mode
            .as_ref()
            .is_some_and(|m| m.value == LogMode::NonBlocking);
        if raw.mode.is_some() {
            put(
                &mut options,
                "mode",
                if non_blocking {
                    "non-blocking"
                } else {
                    "blocking"
                }
                .into(),
            );
        }
        if let Some(b) = &raw.max_buffer_size {
            match ByteSize::parse(&b.value) {
                Ok(size) if non_blocking => put(&mut options, "max-buffer-size", size.to_string()),
                Ok(_) => self.log_err(
                    &b.span,
                    "`max_buffer_size` is the buffer of the non-blocking mode".into(),
                    "without `mode = \"non-blocking\"`",
                    Some("set `mode = \"non-blocking\"`, or remove it".into()),
                ),
                Err(e) => self.log_err(&b.span, e, "invalid size", None),
            }
        }

        let tag = if driver == LogDriver::JsonFile {
            None
        } else {
            match &raw.tag {
                None => Some(DEFAULT_LOG_TAG.to_string()),
                Some(t) => match tag(&t.value) {
                    Ok(()) => Some(t.value.clone()),
                    Err(e) => {
                        self.log_err(&t.span, "invalid log tag".into(), "invalid tag", Some(e));
                        None
                    }
                },
            }
        };
        Logging {
            driver,
            options,
            tag,
            limits: limits.clone(),
        }
    }

    /// The syslog driver's TLS files (on `tcp+tls://` only), facility and format.
    fn syslog_options(&mut self, raw: &RawLogging, options: &mut BTreeMap<String, String>) {
        let tls_address = raw
            .address
            .as_ref()
            .is_some_and(|a| a.value.starts_with("tcp+tls://"));
        let tls: [(&Option<Sp<String>>, &str); 3] = [
            (&raw.tls_ca_cert, "syslog-tls-ca-cert"),
            (&raw.tls_cert, "syslog-tls-cert"),
            (&raw.tls_key, "syslog-tls-key"),
        ];
        for (v, key) in tls {
            let Some(v) = v else { continue };
            if !abs_host_path(&v.value) {
                self.log_err(
                    &v.span,
                    format!("`{}` is not an absolute path", show(&v.value)),
                    "invalid path",
                    Some("the Docker daemon reads this file on the host: give its absolute path, without `..`".into()),
                );
            } else if !tls_address {
                self.log_err(
                    &v.span,
                    "TLS files need a `tcp+tls://` syslog address".into(),
                    "TLS without tcp+tls",
                    Some("Docker uses them only on `tcp+tls://` connections: set `address = \"tcp+tls://HOST:PORT\"`".into()),
                );
            } else {
                put(options, key, v.value.clone());
            }
        }
        match (&raw.tls_cert, &raw.tls_key) {
            (Some(c), None) => self.log_err(
                &c.span,
                "a client certificate needs its key".into(),
                "no `tls_key`",
                Some("set `tls_key` too, or neither".into()),
            ),
            (None, Some(k)) => self.log_err(
                &k.span,
                "a client key needs its certificate".into(),
                "no `tls_cert`",
                Some("set `tls_cert` too, or neither".into()),
            ),
            _ => {}
        }
        if let Some(f) = &raw.facility {
            if SYSLOG_FACILITIES.contains(&f.value.as_str()) {
                put(options, "syslog-facility", f.value.clone());
            } else {
                self.log_err(
                    &f.span,
                    format!("`{}` is not a syslog facility", show(&f.value)),
                    "unknown facility",
                    did_you_mean(&f.value, SYSLOG_FACILITIES.iter().copied())
                        .or_else(|| Some(format!("one of: {}", SYSLOG_FACILITIES.join(", ")))),
                );
            }
        }
        if let Some(f) = &raw.format {
            let v = match f.value {
                SyslogFormat::Rfc3164 => "rfc3164",
                SyslogFormat::Rfc5424 => "rfc5424",
                SyslogFormat::Rfc5424micro => "rfc5424micro",
            };
            put(options, "syslog-format", v.into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_per_driver() {
        assert!(address(LogDriver::Syslog, "tcp+tls://logs.example.net:6514").is_ok());
        assert!(address(LogDriver::Syslog, "udp://10.0.0.1").is_ok());
        assert!(address(LogDriver::Syslog, "unix:///dev/log").is_ok());
        assert!(address(LogDriver::Syslog, "tls://x:1")
            .unwrap_err()
            .contains("did you mean `tcp+tls`"));
        assert!(address(LogDriver::Syslog, "tcp://x:0").is_err());
        assert!(address(LogDriver::Syslog, "tcp://x y:1").is_err());
        assert!(address(LogDriver::Gelf, "udp://graylog:12201").is_ok());
        assert!(address(LogDriver::Gelf, "udp://graylog").is_err());
        assert!(address(LogDriver::Gelf, "graylog:12201").is_err());
        assert!(address(LogDriver::Fluentd, "fluent:24224").is_ok());
        assert!(address(LogDriver::Fluentd, "udp://fluent:24224").is_err());
    }

    #[test]
    fn tags() {
        assert!(tag(DEFAULT_LOG_TAG).is_ok());
        assert!(tag("{project}-{service} {{.Name}} {{ .ImageName }}").is_ok());
        assert!(tag("{{.Id}}").unwrap_err().contains("did you mean `.ID`"));
        assert!(tag("{servce}")
            .unwrap_err()
            .contains("did you mean `service`"));
        assert!(tag("{{.ID}").is_err());
        assert!(tag("a}b").is_err());
        assert!(tag("{project").is_err());
        assert!(tag("$HOME").is_err());
        assert!(tag("a\nb").is_err());
        assert!(tag("").is_err());
    }
}
