//! Schema-only shapes. Nothing here is deserialized: these types and patterns only shape the
//! JSON schema (`hardgen schema`), i.e. what editors complete, show on hover and flag, and what
//! `taplo check` rejects. The patterns accept exactly what `validate` and `model` accept, except
//! where a rule is not a regular language in practice (host bits of a subnet, `..` in a path,
//! an overlong run of leading zeros): there the pattern is looser and `hardgen check` has the
//! last word. `tests/editor.rs` checks both against each other.

use std::marker::PhantomData;

use schemars::gen::SchemaGenerator;
use schemars::schema::{InstanceType, Schema, SchemaObject, StringValidation};
use schemars::JsonSchema;
use serde_json::{json, Value};

macro_rules! octet {
    () => {
        "(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
    };
}
macro_rules! ipv4 {
    () => {
        concat!("(", octet!(), r"\.){3}", octet!())
    };
}
/// 1-65535; `model::parse_port` also takes leading zeros.
macro_rules! port {
    () => {
        "0*(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
    };
}
/// `ByteSize::parse` without the anchors: 1-9 digits, not zero, unit k, m or g in either case.
macro_rules! size {
    () => {
        "0*[1-9][0-9]{0,8}[kKmMgG]"
    };
}
/// `validate::container_path_ok` without the anchors (except its `.`/`..` components).
macro_rules! container_path {
    () => {
        "(/[A-Za-z0-9._@+-]+)+/?"
    };
}

pub const PROJECT_NAME: &str = "^[a-z][a-z0-9-]{0,19}$";
pub const ZONE_NAME: &str = "^[a-z][a-z0-9_-]{0,31}$";
pub const SERVICE_NAME: &str = "^[a-z][a-z0-9_-]{0,62}$";
pub const SECRET_NAME: &str = "^[a-z][a-z0-9_-]{0,63}$";
pub const USER: &str = "^[0-9]{1,10}:[0-9]{1,10}$";
pub const SIZE: &str = concat!("^", size!(), "$");
/// `Duration::parse`: 1-7 digits, not zero, unit ms, s, m or h.
pub const DURATION: &str = "^0*[1-9][0-9]{0,6}(ms|s|m|h)$";
/// The pool is a /24 or larger.
pub const POOL: &str = concat!("^", ipv4!(), "/0*([0-9]|1[0-9]|2[0-4])$");
/// A zone is a /28 or larger.
pub const SUBNET: &str = concat!("^", ipv4!(), "/0*([0-9]|1[0-9]|2[0-8])$");
pub const PORT_PROTO: &str = concat!("^", port!(), "(/(tcp|udp))?$");
pub const PUBLISHED_PORT: &str = concat!(
    "^(",
    ipv4!(),
    ":)?(",
    port!(),
    ":)?",
    port!(),
    "(/(tcp|udp))?$"
);
pub const BRIDGE: &str = "^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$";
pub const APPARMOR: &str = "^[a-zA-Z0-9][a-zA-Z0-9._-]{0,127}$";
pub const VERSION: &str = "^[0-9][0-9A-Za-z._-]{0,31}$";
pub const CONTEXT: &str = "^[A-Za-z0-9._-][A-Za-z0-9/._-]{0,255}$";
pub const BINARY: &str = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$";
pub const DIGEST: &str = "^sha256:[0-9a-f]{64}$";
pub const DEB_PACKAGE: &str = "^[a-z0-9][a-z0-9+.-]{1,63}(=[A-Za-z0-9.+~:-]{1,64})?$";
pub const CONTAINER_PATH: &str = concat!("^", container_path!(), "$");
pub const TMPFS: &str = concat!("^", container_path!(), "(:", size!(), ")?$");
pub const VOLUME: &str = concat!(
    r"^([a-z][a-z0-9_.-]{0,63}|(/|\./)[A-Za-z0-9/._@+-]*):",
    container_path!(),
    "(:(ro|rw))?$"
);
/// The characters `ImageRef::parse` can accept anywhere (no spaces, no control characters).
pub const IMAGE: &str = "^[A-Za-z0-9._/:@-]{1,255}$";
pub const ENV_NAME: &str = "^[A-Za-z_][A-Za-z0-9_]{0,127}$";
/// `host[:port][/path]`, lower case (a Docker image reference's repository prefix).
pub const REGISTRY: &str =
    "^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]{1,5})?(/[a-z0-9]+([._-][a-z0-9]+)*){0,8}$";
pub const IMAGE_TAG: &str = "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$";
/// `validate::log_address` without the per-driver rules (which scheme for which driver,
/// required port).
pub const LOG_ADDRESS: &str = concat!(
    r"^((udp|tcp|tcp\+tls)://[A-Za-z0-9][A-Za-z0-9.-]{0,252}(:",
    port!(),
    r")?|unix(gram)?://(/[A-Za-z0-9._@+-]+)+|[A-Za-z0-9][A-Za-z0-9.-]{0,252}:",
    port!(),
    ")$"
);
/// `validate::log_tag`: printable, no `$`, `"` or `\`; `{{...}}` must be one of Docker's
/// templates (checked by `hardgen check`).
pub const LOG_TAG: &str = r#"^[^\x00-\x1f\x7f"\\$]{1,256}$"#;
/// A program name or path (`validate::process_ok`).
pub const PROCESS: &str = "^/?[A-Za-z0-9._+-]+(/[A-Za-z0-9._+-]+)*$";
/// An absolute path on the host, no `..` (checked by `hardgen check`).
pub const HOST_ABS_PATH: &str = "^(/[A-Za-z0-9._@+-]+)+$";
/// A character of free text (`validate::text_ok`): no control character, nothing invisible
/// that reorders or hides text (bidirectional overrides, zero-width characters...).
macro_rules! text_char {
    () => {
        r"[^\x00-\x1f\x7f-\x9f\u200B-\u200F\u2028-\u202E\u2060-\u2069\uFEFF]"
    };
}
/// One line of free text.
pub const TEXT: &str = concat!("^", text_char!(), "*$");
/// One line of free text, not blank.
pub const REASON: &str = concat!(
    "^",
    text_char!(),
    r"*[^\s\x00-\x1f\x7f-\x9f\u200B-\u200F\u2028-\u202E\u2060-\u2069\uFEFF]",
    text_char!(),
    "*$"
);

fn string_schema() -> SchemaObject {
    SchemaObject {
        instance_type: Some(InstanceType::String.into()),
        ..Default::default()
    }
}

fn pattern_schema(pattern: &str) -> Schema {
    let mut s = string_schema();
    s.string = Some(Box::new(StringValidation {
        pattern: Some(pattern.to_string()),
        ..Default::default()
    }));
    s.into()
}

/// A string enumeration with one documentation line per value: taplo shows it when it
/// completes the value and on hover (`x-taplo.docs.enumValues`).
fn enum_schema(values: Vec<Value>, docs: Vec<Option<String>>) -> SchemaObject {
    let mut s = string_schema();
    s.enum_values = Some(values);
    if docs.iter().any(Option::is_some) {
        s.extensions
            .insert("x-taplo".into(), json!({ "docs": { "enumValues": docs } }));
    }
    s
}

/// A derived enum whose variants carry doc comments (schemars writes a `oneOf` of
/// one-value enums), flattened into one `enum`: a wrong value is then reported as
/// "not one of [...]" rather than "not valid under any of the schemas".
pub struct DocumentedEnum<T>(PhantomData<T>);

impl<T: JsonSchema> JsonSchema for DocumentedEnum<T> {
    fn is_referenceable() -> bool {
        false
    }
    fn schema_name() -> String {
        T::schema_name()
    }
    fn json_schema(gen: &mut SchemaGenerator) -> Schema {
        let derived = T::json_schema(gen).into_object();
        let mut values = Vec::new();
        let mut docs = Vec::new();
        for variant in derived
            .subschemas
            .and_then(|s| s.one_of)
            .unwrap_or_default()
        {
            let variant = variant.into_object();
            for v in variant.enum_values.unwrap_or_default() {
                values.push(v);
                docs.push(
                    variant
                        .metadata
                        .as_ref()
                        .and_then(|m| m.description.clone()),
                );
            }
        }
        assert!(
            !values.is_empty(),
            "{} has no documented variants",
            T::schema_name()
        );
        enum_schema(values, docs).into()
    }
}

/// `Restart::parse`: the usual policies are offered for completion, any
/// `on-failure:N` is accepted.
pub struct RestartPolicy;

impl JsonSchema for RestartPolicy {
    fn is_referenceable() -> bool {
        false
    }
    fn schema_name() -> String {
        "RestartPolicy".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let policies = [
            (
                "on-failure:5",
                "Restart after a failure (non-zero exit), at most 5 times. The default.",
            ),
            (
                "on-failure",
                "Restart after every failure (non-zero exit), without limit.",
            ),
            (
                "unless-stopped",
                "Always restart, unless the container was stopped explicitly.",
            ),
            ("always", "Always restart, even after a clean exit."),
            ("no", "Never restart."),
        ];
        let known = enum_schema(
            policies.iter().map(|(v, _)| json!(v)).collect(),
            policies.iter().map(|(_, d)| Some(d.to_string())).collect(),
        );
        let mut s = string_schema();
        s.subschemas().any_of = Some(vec![
            known.into(),
            pattern_schema("^on-failure:[0-9]{1,10}$"),
        ]);
        s.into()
    }
}

/// A syslog facility name (`crate::model::SYSLOG_FACILITIES`).
pub struct SyslogFacility;

impl JsonSchema for SyslogFacility {
    fn is_referenceable() -> bool {
        false
    }
    fn schema_name() -> String {
        "SyslogFacility".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        enum_schema(
            crate::model::SYSLOG_FACILITIES
                .iter()
                .map(|f| json!(f))
                .collect(),
            Vec::new(),
        )
        .into()
    }
}

/// A capability name from `caps::ALL`; the dangerous ones say so.
pub struct CapabilityName;

impl JsonSchema for CapabilityName {
    fn is_referenceable() -> bool {
        false
    }
    fn schema_name() -> String {
        "Capability".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let docs = crate::caps::ALL
            .iter()
            .map(|c| {
                crate::caps::is_dangerous(c).then(|| {
                    format!(
                        "`{c}` is dangerous: it needs \
                         `unsafe = {{ dangerous_caps = true, reason = \"...\" }}`."
                    )
                })
            })
            .collect();
        enum_schema(crate::caps::ALL.iter().map(|c| json!(c)).collect(), docs).into()
    }
}

/// A syscall name of x86_64 or aarch64 (`seccomp::all_syscalls`).
pub struct SyscallName;

impl JsonSchema for SyscallName {
    fn schema_name() -> String {
        "Syscall".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        // Wrapped in `anyOf` only so that a wrong name is reported in one line rather
        // than with the list of all ~370 names; editors still complete them.
        let names = enum_schema(
            crate::seccomp::all_syscalls().map(|c| json!(c)).collect(),
            Vec::new(),
        );
        let mut s = string_schema();
        s.metadata().description = Some("A Linux system call name (x86_64 or aarch64).".into());
        s.subschemas().any_of = Some(vec![names.into()]);
        s.into()
    }
}

/// `T`'s schema written in place rather than as a `$ref`, for the tables used once: a
/// wrong value inside is then reported for itself (not as "not valid under any of the
/// schemas" of `Option`'s `anyOf`), and hover shows the field's own description.
pub struct Inline<T>(PhantomData<T>);

impl<T: JsonSchema> JsonSchema for Inline<T> {
    fn is_referenceable() -> bool {
        false
    }
    fn schema_name() -> String {
        T::schema_name()
    }
    fn json_schema(gen: &mut SchemaGenerator) -> Schema {
        T::json_schema(gen)
    }
}

/// The key pattern of a [`NameMap`].
pub trait KeyPattern {
    const PATTERN: &'static str;
}
pub struct ZoneKey;
impl KeyPattern for ZoneKey {
    const PATTERN: &'static str = ZONE_NAME;
}
pub struct ServiceKey;
impl KeyPattern for ServiceKey {
    const PATTERN: &'static str = SERVICE_NAME;
}
pub struct SecretKey;
impl KeyPattern for SecretKey {
    const PATTERN: &'static str = SECRET_NAME;
}
pub struct EnvKey;
impl KeyPattern for EnvKey {
    const PATTERN: &'static str = ENV_NAME;
}
pub struct WarningKey;
impl KeyPattern for WarningKey {
    const PATTERN: &'static str = "^W[0-9]{3}$";
}

/// A table of `V` by name, the names constrained by `propertyNames`.
pub struct NameMap<K, V>(PhantomData<(K, V)>);

impl<K: KeyPattern, V: JsonSchema> JsonSchema for NameMap<K, V> {
    fn is_referenceable() -> bool {
        false
    }
    fn schema_name() -> String {
        format!("Map_of_{}", V::schema_name())
    }
    fn json_schema(gen: &mut SchemaGenerator) -> Schema {
        let mut s = SchemaObject {
            instance_type: Some(InstanceType::Object.into()),
            ..Default::default()
        };
        let object = s.object();
        object.additional_properties = Some(Box::new(gen.subschema_for::<V>()));
        object.property_names = Some(Box::new(pattern_schema(K::PATTERN)));
        s.into()
    }
}
