//! hardgen: a compact TOML spec of services and network zones in, a hardened container
//! deployment out. The pipeline: spec -> validate -> model -> plan -> render -> artifacts ->
//! writer/differ.

pub mod allow;
pub mod app;
pub mod argv;
pub mod artifact;
pub mod audit;
pub mod caps;
pub mod compose_in;
pub mod detect;
pub mod diagnostic;
pub mod diff;
pub mod falco;
pub mod import;
pub mod init;
pub mod layout;
pub mod learn;
pub mod model;
pub mod output;
mod parallel;
pub mod plan;
pub mod posture;
pub mod render;
pub mod report;
pub mod seccomp;
pub mod spec;
pub mod targets;
pub mod validate;
