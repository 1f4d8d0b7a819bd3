use std::process::ExitCode;

use clap::Parser;

mod cli;

use std::io::IsTerminal;

use cli::{Cli, Color, Command, FailOn, Format};
use hardgen::app::{self, Outcome};

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
            let opts = app::DiffOptions {
                target: target.target(),
                format: match format {
                    Format::Human => app::DiffFormat::Human,
                    Format::Markdown => app::DiffFormat::Markdown,
                    Format::Json => app::DiffFormat::Json,
                },
                color: match color {
                    Color::Always => true,
                    Color::Never => false,
                    Color::Auto => std::io::stdout().is_terminal(),
                },
                fail_on_weakens: fail_on == FailOn::Weakens,
                fail_on_any: fail_on == FailOn::Any,
                strict,
            };
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
        Command::Check { spec } => {
            app::check(&spec.spec, spec.strict, spec.target.target(), &mut err)
        }
        Command::Report { spec, html } => app::report(
            &spec.spec,
            spec.target.target(),
            html,
            &mut std::io::stdout().lock(),
            &mut err,
        ),
        Command::Targets => {
            print!("{}", hardgen::targets::markdown_table());
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
        Command::Codes => {
            for (code, meaning) in hardgen::diagnostic::CODES {
                println!("{code}  {meaning}");
            }
            Outcome::Ok
        }
    };
    match outcome {
        Outcome::Ok => ExitCode::SUCCESS,
        Outcome::Differs => ExitCode::from(1),
        Outcome::Failed => ExitCode::from(2),
    }
}
