use std::process::ExitCode;

use clap::Parser;

mod cli;

use cli::{Cli, Command};
use hardgen::app::{self, Outcome};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut err = std::io::stderr().lock();
    let outcome = match cli.command {
        Command::Build { spec, out, check } => {
            app::build(&spec.spec, out.as_deref(), spec.strict, check, &mut err)
        }
        Command::Check { spec } => app::check(&spec.spec, spec.strict, &mut err),
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
