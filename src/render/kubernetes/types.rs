//! The Kubernetes objects hardgen writes, as typed structs: only the fields it sets, in
//! alphabetical order (the order of the files), camelCase as the API spells them.

use std::collections::BTreeMap;

use serde::Serialize;

pub type Labels = BTreeMap<String, String>;

/// One object of a manifest file.
#[derive(Serialize)]
#[serde(untagged)]
pub enum Manifest {
    Namespace(Object<()>),
    Workload(Object<WorkloadSpec>),
    Service(Object<ServiceSpec>),
    Claim(Object<ClaimSpec>),
    Policy(Object<PolicySpec>),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Object<S> {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: Metadata,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec: Option<S>,
}

#[derive(Serialize, Default)]
pub struct Metadata {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: Labels,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: Labels,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadSpec {
    pub replicas: u32,
    pub selector: Selector,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    pub template: PodTemplate,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volume_claim_templates: Vec<ClaimTemplate>,
}

/// A label selector; empty (`{}`) selects every pod of the namespace.
#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Selector {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<Expression>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: Labels,
}

impl Selector {
    pub fn labels<const N: usize>(pairs: [(String, &str); N]) -> Selector {
        Selector {
            match_labels: pairs.into_iter().map(|(k, v)| (k, v.to_string())).collect(),
            ..Selector::default()
        }
    }
}

#[derive(Serialize)]
pub struct Expression {
    pub key: &'static str,
    pub operator: &'static str,
    pub values: Vec<String>,
}

#[derive(Serialize)]
pub struct PodTemplate {
    pub metadata: TemplateMetadata,
    pub spec: PodSpec,
}

#[derive(Serialize)]
pub struct TemplateMetadata {
    pub labels: Labels,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    pub automount_service_account_token: bool,
    pub containers: Vec<Container>,
    pub enable_service_links: bool,
    pub security_context: PodSecurityContext,
    pub volumes: Vec<PodVolume>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSecurityContext {
    pub fs_group: u32,
    pub run_as_group: u32,
    pub run_as_non_root: bool,
    pub run_as_user: u32,
    pub seccomp_profile: SeccompProfile,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub supplemental_groups: Vec<u32>,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct SeccompProfile {
    pub localhost_profile: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    pub image: String,
    pub image_pull_policy: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liveness_probe: Option<Probe>,
    pub name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ContainerPort>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readiness_probe: Option<Probe>,
    pub resources: Resources,
    pub security_context: ContainerSecurityContext,
    pub volume_mounts: Vec<VolumeMount>,
}

#[derive(Serialize)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    pub container_port: u16,
    pub protocol: String,
}

#[derive(Serialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    pub exec: ExecAction,
    pub failure_threshold: u32,
    pub initial_delay_seconds: u64,
    pub period_seconds: u64,
    pub timeout_seconds: u64,
}

#[derive(Serialize, Clone)]
pub struct ExecAction {
    pub command: Vec<String>,
}

#[derive(Serialize)]
pub struct Resources {
    pub limits: Quantities,
    pub requests: Quantities,
}

#[derive(Serialize)]
pub struct Quantities {
    pub cpu: String,
    pub memory: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerSecurityContext {
    pub allow_privilege_escalation: bool,
    pub capabilities: Capabilities,
    pub privileged: bool,
    pub read_only_root_filesystem: bool,
    pub run_as_group: u32,
    pub run_as_non_root: bool,
    pub run_as_user: u32,
    pub seccomp_profile: SeccompProfile,
}

#[derive(Serialize)]
pub struct Capabilities {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub add: Vec<String>,
    pub drop: [&'static str; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeMount {
    pub mount_path: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_path: Option<String>,
}

/// A pod volume: its name and exactly one source.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodVolume {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_map: Option<ConfigMapSource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub empty_dir: Option<EmptyDir>,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persistent_volume_claim: Option<ClaimSource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretSource>,
}

impl PodVolume {
    pub fn named(name: String) -> PodVolume {
        PodVolume {
            config_map: None,
            empty_dir: None,
            name,
            persistent_volume_claim: None,
            secret: None,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapSource {
    pub default_mode: u32,
    pub name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EmptyDir {
    pub medium: &'static str,
    pub size_limit: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimSource {
    pub claim_name: String,
    pub read_only: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretSource {
    pub default_mode: u32,
    pub secret_name: String,
}

#[derive(Serialize)]
pub struct ClaimTemplate {
    pub metadata: Metadata,
    pub spec: ClaimSpec,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimSpec {
    pub access_modes: [&'static str; 1],
    pub resources: ClaimResources,
}

impl ClaimSpec {
    /// A 1 GiB claim.
    pub fn gib(access_mode: &'static str) -> ClaimSpec {
        ClaimSpec {
            access_modes: [access_mode],
            resources: ClaimResources {
                requests: Storage { storage: "1Gi" },
            },
        }
    }
}

#[derive(Serialize)]
pub struct ClaimResources {
    pub requests: Storage,
}

#[derive(Serialize)]
pub struct Storage {
    pub storage: &'static str,
}

#[derive(Serialize)]
pub struct ServiceSpec {
    pub ports: Vec<ServicePort>,
    pub selector: Labels,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePort {
    pub name: String,
    pub port: u16,
    pub protocol: String,
    pub target_port: u16,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicySpec {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub egress: Vec<EgressRule>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ingress: Vec<IngressRule>,
    pub pod_selector: Selector,
    pub policy_types: Vec<&'static str>,
}

#[derive(Serialize)]
pub struct IngressRule {
    pub from: Vec<Peer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<PolicyPort>>,
}

#[derive(Serialize)]
pub struct EgressRule {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<PolicyPort>>,
    pub to: Vec<Peer>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Peer {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_block: Option<IpBlock>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<Selector>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_selector: Option<Selector>,
}

#[derive(Serialize)]
pub struct IpBlock {
    pub cidr: &'static str,
    pub except: Vec<&'static str>,
}

#[derive(Serialize, Clone)]
pub struct PolicyPort {
    pub port: u16,
    pub protocol: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Kustomization {
    pub api_version: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub config_map_generator: Vec<Generator>,
    pub generator_options: GeneratorOptions,
    pub kind: &'static str,
    pub namespace: String,
    pub resources: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secret_generator: Vec<Generator>,
}

#[derive(Serialize)]
pub struct Generator {
    pub files: Vec<String>,
    pub name: String,
    pub namespace: String,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GeneratorOptions {
    pub disable_name_suffix_hash: bool,
}
