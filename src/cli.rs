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
    /// Validate SPEC and report every problem; writes nothing.
    Check {
        #[command(flatten)]
        spec: SpecArgs,
    },
    /// Print the JSON schema of the spec (for editors: completion and hover docs).
    Schema,
    /// Print the diagnostic codes hardgen uses, with their meaning.
    Codes,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}
