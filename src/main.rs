use std::process::ExitCode;

use clap::{CommandFactory, Parser};

mod cli;

use std::io::{IsTerminal, Write};

use cli::{Cli, Color, Command, FailOn, Format};
use hardgen::app::{self, Outcome};

/// jemalloc instead of the system's allocator: a build allocates and frees a string or a map for
/// most facts of the spec, and glibc's malloc and free were a fifth of its instructions; with
/// jemalloc a fresh build of the benchmark's 1,000-service spec takes 14 % less time
/// (bench/profile-notes.md, "The allocator").
#[cfg(all(feature = "jemalloc", not(target_env = "msvc")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options (its `malloc_conf`, read when it starts): freed pages go back to the
/// system after 50 ms instead of 10 s, so a large spec's peak memory stays what it holds at
/// once (at 5,000 services 44 MiB instead of 53), and pages are purged at once rather than
/// kept "muzzy". A process of under a tenth of a second is not slowed by it.
#[cfg(all(feature = "jemalloc", not(target_env = "msvc")))]
#[export_name = "_rjem_malloc_conf"]
static MALLOC_CONF: &[u8; 35] = b"dirty_decay_ms:50,muzzy_decay_ms:0\0";

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut err = std::io::stderr().lock();
    let outcome = match cli.command {
        Command::Build { spec, out, check } => app::build(
            &spec.spec,
            out.as_deref(),
            spec.strict,
            spec.target.target(),
            check,
            &mut err,
        ),
        Command::Diff {
            spec,
            new,
            base,
            out,
            format,
            color,
            fail_on,
            strict,
            target,
        } => {
            let opts = diff_options(format, color, fail_on, strict, target.target());
            let mut stdout = std::io::stdout().lock();
            match (new, base) {
                (Some(new), _) => match (
                    app::read_spec(&spec, &mut err),
                    app::read_spec(&new, &mut err),
                ) {
                    (Some(o), Some(n)) => app::diff_posture(&o, &n, &opts, &mut stdout, &mut err),
                    _ => Outcome::Failed,
                },
                (None, Some(rev)) => match (
                    app::read_spec_at(&spec, &rev, &mut err),
                    app::read_spec(&spec, &mut err),
                ) {
                    (Some(o), Some(n)) => app::diff_posture(&o, &n, &opts, &mut stdout, &mut err),
                    _ => Outcome::Failed,
                },
                (None, None) => {
                    app::diff_drift(&spec, out.as_deref(), &opts, &mut stdout, &mut err)
                }
            }
        }
        Command::Check {
            specs,
            strict,
            target,
        } => {
            // Every spec is checked (all problems at once), the worst outcome is the exit code.
            let outcomes: Vec<Outcome> = specs
                .iter()
                .map(|s| app::check(s, strict, target.target(), &mut err))
                .collect();
            if outcomes.contains(&Outcome::Failed) {
                Outcome::Failed
            } else {
                Outcome::Ok
            }
        }
        Command::Report { spec, html } => app::report(
            &spec.spec,
            spec.target.target(),
            html,
            &mut std::io::stdout().lock(),
            &mut err,
        ),
        Command::Learn {
            spec,
            out,
            overrides,
            fresh,
        } => hardgen::learn::record::learn(
            &spec,
            &hardgen::learn::record::Options {
                out,
                overrides,
                fresh,
            },
            &mut std::io::stdout().lock(),
            &mut err,
        ),
        Command::Targets => {
            print!("{}", hardgen::targets::explained());
            Outcome::Ok
        }
        Command::Init { path, force } => {
            if hardgen::init::run(path.as_deref(), force, &app::schema_json(), &mut err) {
                Outcome::Ok
            } else {
                Outcome::Failed
            }
        }
        Command::Schema => {
            print!("{}", app::schema_json());
            Outcome::Ok
        }
        Command::Audit {
            compose,
            format,
            color,
            fail_under,
            fail_on,
            target,
        } => {
            let opts = audit_options(
                compose.options(),
                format,
                color,
                fail_under,
                fail_on,
                target,
            );
            hardgen::audit::run(&opts, &mut std::io::stdout().lock(), &mut err)
        }
        Command::Import {
            compose,
            out,
            keep_secret_values,
            force,
        } => hardgen::import::run(
            &hardgen::import::RunOptions {
                compose: compose.options(),
                out,
                keep_secret_values,
                force,
            },
            &mut std::io::stdout().lock(),
            &mut err,
        ),
        Command::Codes => {
            for c in hardgen::diagnostic::codes() {
                println!("{}  {}", c.code, c.title);
            }
            Outcome::Ok
        }
        Command::Explain { code } => explain(&code, &mut err),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "hardgen",
                &mut std::io::stdout(),
            );
            Outcome::Ok
        }
        Command::Man => man(&mut err),
    };
    match outcome {
        Outcome::Ok => ExitCode::SUCCESS,
        Outcome::Differs => ExitCode::from(1),
        Outcome::Failed => ExitCode::from(2),
    }
}

/// `--color`: always, never, or when standard output is a terminal.
fn colour(c: Color) -> bool {
    match c {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::io::stdout().is_terminal(),
    }
}

fn diff_options(
    format: Format,
    color: Color,
    fail_on: FailOn,
    strict: bool,
    target: hardgen::targets::Target,
) -> app::DiffOptions {
    app::DiffOptions {
        target,
        format: match format {
            Format::Human => app::DiffFormat::Human,
            Format::Markdown => app::DiffFormat::Markdown,
            Format::Json => app::DiffFormat::Json,
        },
        color: colour(color),
        fail_on_weakens: fail_on == FailOn::Weakens,
        fail_on_any: fail_on == FailOn::Any,
        strict,
    }
}

fn audit_options(
    compose: hardgen::compose_in::Options,
    format: cli::AuditFormat,
    color: Color,
    fail_under: Option<u32>,
    fail_on: Option<cli::SeverityArg>,
    target: Option<cli::AuditTarget>,
) -> hardgen::audit::RunOptions {
    use hardgen::audit;
    audit::RunOptions {
        compose,
        target: target.map(|t| match t {
            cli::AuditTarget::Compose => audit::Target::Compose,
            cli::AuditTarget::Swarm => audit::Target::Swarm,
        }),
        format: match format {
            cli::AuditFormat::Human => audit::Format::Human,
            cli::AuditFormat::Json => audit::Format::Json,
            cli::AuditFormat::Sarif => audit::Format::Sarif,
            cli::AuditFormat::Markdown => audit::Format::Markdown,
        },
        colour: colour(color),
        fail_under,
        fail_on: fail_on.map(|s| match s {
            cli::SeverityArg::Info => audit::Severity::Info,
            cli::SeverityArg::Low => audit::Severity::Low,
            cli::SeverityArg::Medium => audit::Severity::Medium,
            cli::SeverityArg::High => audit::Severity::High,
            cli::SeverityArg::Critical => audit::Severity::Critical,
        }),
    }
}

/// `hardgen explain CODE`: the code's text from docs/codes.md.
fn explain(code: &str, err: &mut dyn Write) -> Outcome {
    match hardgen::diagnostic::explain(code) {
        Some(text) => {
            print!("{text}");
            Outcome::Ok
        }
        None => {
            let _ = writeln!(
                err,
                "error: `{}` is not a hardgen diagnostic code; `hardgen codes` lists them",
                code.escape_debug()
            );
            Outcome::Failed
        }
    }
}

/// `hardgen man`: the manual page, from the command-line definition.
fn man(err: &mut dyn Write) -> Outcome {
    match clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout()) {
        Ok(()) => Outcome::Ok,
        Err(e) => {
            let _ = writeln!(err, "error: writing the manual page: {e}");
            Outcome::Failed
        }
    }
}
