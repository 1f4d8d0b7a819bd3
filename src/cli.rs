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
    /// Validate SPEC and report every problem; writes nothing.
    Check {
        #[command(flatten)]
        spec: SpecArgs,
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
