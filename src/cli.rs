//! Command-line arguments (clap derive only), converted to plain options right away.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "hardgen",
    version,
    about = "Turn a compact TOML spec of services and network zones into a hardened container deployment",
    long_about = None,
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(clap::Args)]
pub struct SpecArgs {
    /// The spec file (TOML).
    pub spec: PathBuf,
    /// Treat unpinned images (`:latest` or no tag) as errors.
    #[arg(long)]
    pub strict: bool,
    /// Where the deployment runs: Docker Compose on one host, Docker Swarm, or Kubernetes.
    #[arg(long, value_enum, default_value_t = TargetArg::Compose)]
    pub target: TargetArg,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetArg {
    /// docker-compose.yml with the iptables zone policy (one host).
    Compose,
    /// A stack file for `docker stack deploy`.
    Swarm,
    /// Kubernetes manifests meeting the "restricted" Pod Security Standard.
    Kubernetes,
}

impl TargetArg {
    pub fn target(self) -> hardgen::targets::Target {
        match self {
            TargetArg::Compose => hardgen::targets::Target::Compose,
            TargetArg::Swarm => hardgen::targets::Target::Swarm,
            TargetArg::Kubernetes => hardgen::targets::Target::Kubernetes,
        }
    }
}

#[derive(Subcommand)]
pub enum Command {
    /// Validate SPEC and write the deployment into the output directory.
    ///
    /// Writes nothing unless the whole spec is valid. Files are replaced atomically,
    /// unchanged files are left alone, files hardgen did not generate are never overwritten,
    /// and files of a previous build that are no longer generated are removed (hardgen keeps
    /// a manifest, `.hardgen-manifest`, of what it wrote).
    Build {
        #[command(flatten)]
        spec: SpecArgs,
        /// Output directory. Default: `deploy/<spec file name without .toml>` in the
        /// current directory.
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// Write nothing: exit 1 if the output directory differs from what SPEC generates.
        #[arg(long)]
        check: bool,
    },
    /// Show what differs: drift between SPEC and a deployment on disk, or the security
    /// posture change between two versions of a spec.
    ///
    /// `hardgen diff SPEC [--out DIR]`: renders SPEC in memory and compares it with DIR
    /// (exit 0 identical, 1 different, 2 error). `hardgen diff OLD NEW` or
    /// `hardgen diff SPEC --base REV` (SPEC as it was at a git revision): compares the two
    /// models and classes each change as weakens / strengthens / neutral.
    Diff {
        /// The spec (the old one when NEW is given).
        spec: PathBuf,
        /// A second spec: review the posture change from SPEC to NEW.
        new: Option<PathBuf>,
        /// Review the posture change from SPEC at this git revision to SPEC now.
        #[arg(long, conflicts_with = "new")]
        base: Option<String>,
        /// Deployment directory for the drift check. Default: `deploy/<spec name>`.
        #[arg(long, short, conflicts_with_all = ["new", "base"])]
        out: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Colour the human output.
        #[arg(long, value_enum, default_value_t = Color::Auto)]
        color: Color,
        /// Posture review: exit 1 when a change of this class (or any change) is found.
        #[arg(long, value_enum, default_value_t = FailOn::Never)]
        fail_on: FailOn,
        /// Treat unpinned images (`:latest` or no tag) as errors.
        #[arg(long)]
        strict: bool,
        /// The target whose generated files are compared.
        #[arg(long, value_enum, default_value_t = TargetArg::Compose)]
        target: TargetArg,
    },
    /// Learn a seccomp profile for every service that opts in (`seccomp = "learned"`): run
    /// the stack on the local Docker engine under recording profiles, run every health check
    /// and the spec's exercises, then verify the stack under the learned profiles and write
    /// `seccomp/learned/<service>.json` next to the spec (merged with the previous set unless
    /// `--fresh`). Needs root, a Docker engine and bpftrace; writes nothing if verification
    /// fails.
    Learn {
        /// The spec file (TOML).
        spec: PathBuf,
        /// The deployment directory whose other files (bind-mounted configuration, secrets)
        /// the stack needs; it is copied, never changed. Default: `deploy/<spec name>`.
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// A compose file layered over the generated one for this host only (repeatable).
        #[arg(long = "override")]
        overrides: Vec<PathBuf>,
        /// Forget the previous learned sets instead of merging with them.
        #[arg(long)]
        fresh: bool,
    },
    /// Print which hardening controls each target (compose, swarm, kubernetes) enforces.
    Targets,
    /// Print the compliance report of SPEC: services × CIS Docker Benchmark v1.6.0 controls,
    /// each satisfied, relaxed by the spec (with its line) or not applicable. `build` writes
    /// it too, as compliance.md and compliance.html.
    Report {
        #[command(flatten)]
        spec: SpecArgs,
        /// Self-contained HTML instead of Markdown.
        #[arg(long)]
        html: bool,
    },
    /// Validate each SPEC and report every problem; writes nothing. Exit 2 if any is
    /// invalid (several specs: for pre-commit hooks and CI).
    Check {
        /// The spec files (TOML).
        #[arg(required = true)]
        specs: Vec<PathBuf>,
        /// Treat unpinned images (`:latest` or no tag) and missing build contexts as errors.
        #[arg(long)]
        strict: bool,
        /// Where the deployment runs: Docker Compose on one host, Docker Swarm, or Kubernetes.
        #[arg(long, value_enum, default_value_t = TargetArg::Compose)]
        target: TargetArg,
    },
    /// Print the JSON schema of the spec (for editors: completion and hover docs).
    Schema,
    /// Write a starter spec that validates, with the JSON schema next to it for editors.
    ///
    /// PATH is the spec to write (default `hardgen.toml`; a directory means
    /// `DIR/hardgen.toml`). Nothing is overwritten without --force.
    Init {
        /// The spec file (or directory) to create.
        path: Option<PathBuf>,
        /// Overwrite an existing spec.
        #[arg(long)]
        force: bool,
    },
    /// Print the diagnostic codes hardgen uses, with their meaning.
    Codes,
    /// Explain a diagnostic code at length: why it matters and what to do (like
    /// `rustc --explain`).
    Explain {
        /// The code, e.g. `E007` or `W101` (case-insensitive).
        code: String,
    },
    /// Print a shell completion script for hardgen on standard output.
    ///
    /// bash: `hardgen completions bash > ~/.local/share/bash-completion/completions/hardgen`;
    /// zsh: `hardgen completions zsh > "${fpath[1]}/_hardgen"`;
    /// fish: `hardgen completions fish > ~/.config/fish/completions/hardgen.fish`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print hardgen's manual page (roff) on standard output:
    /// `hardgen man > ~/.local/share/man/man1/hardgen.1`.
    Man,
    /// Audit existing compose files: per service, every control hardgen enforces that the
    /// files do not, and the problems a reviewer looks for, with file:line:col.
    ///
    /// Exit 0; 1 with --fail-under/--fail-on when the audit falls short; 2 on unreadable or
    /// invalid input.
    Audit {
        #[command(flatten)]
        compose: ComposeArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t = AuditFormat::Human)]
        format: AuditFormat,
        /// Colour the human output.
        #[arg(long, value_enum, default_value_t = Color::Auto)]
        color: Color,
        /// Exit 1 when the overall score is below N (0-100).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=100))]
        fail_under: Option<u32>,
        /// Exit 1 when a finding of this severity or worse is found.
        #[arg(long, value_enum)]
        fail_on: Option<SeverityArg>,
        /// How the files are deployed: a stack file (swarm) cannot express some controls.
        /// Default: swarm when the first file's name contains "stack".
        #[arg(long, value_enum)]
        target: Option<AuditTarget>,
    },
    /// Write a hardgen spec describing the stack of existing compose files, hardgen's
    /// defaults doing the hardening; ends with the posture review original -> generated.
    Import {
        #[command(flatten)]
        compose: ComposeArgs,
        /// Where to write the spec. Default: `<project>.toml` in the current directory.
        #[arg(long, short)]
        out: Option<PathBuf>,
        /// Write the credentials found in the environment into `secrets/` next to the spec
        /// (mode 600, git-ignored) instead of leaving them for generate-secrets.sh.
        #[arg(long)]
        keep_secret_values: bool,
        /// Overwrite an existing spec.
        #[arg(long)]
        force: bool,
    },
}

#[derive(clap::Args)]
pub struct ComposeArgs {
    /// The compose files, merged in order like `docker compose -f A -f B`.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Activate a profile (repeatable; COMPOSE_PROFILES is read too).
    #[arg(long)]
    pub profile: Vec<String>,
    /// Project name. Default: `name:` of the files, else the directory name.
    #[arg(long, short = 'p')]
    pub project_name: Option<String>,
}

impl ComposeArgs {
    pub fn options(&self) -> hardgen::compose_in::Options {
        hardgen::compose_in::Options {
            files: self.files.clone(),
            profiles: self.profile.clone(),
            env: std::env::vars().collect(),
            project_name: self.project_name.clone(),
            texts: Default::default(),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuditFormat {
    /// Grouped by service (coloured on a terminal).
    Human,
    /// Stable JSON (see README: "hardgen audit --format json").
    Json,
    /// SARIF 2.1.0, for code-scanning UIs.
    Sarif,
    /// A pull-request comment.
    Markdown,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SeverityArg {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuditTarget {
    Compose,
    Swarm,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Plain text (coloured on a terminal).
    Human,
    /// A pull-request comment: table of changes, artifact diff folded in `<details>`.
    Markdown,
    /// Stable JSON for bots (see README: "hardgen diff --format json").
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    /// Never fail because of the posture review.
    Never,
    /// Exit 1 when anything weakens.
    Weakens,
    /// Exit 1 on any security-relevant change.
    Any,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}
