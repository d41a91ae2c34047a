//! The `mailaudit` binary: parse the command line, run it, map the outcome to an exit status.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = mailaudit::cli::Cli::parse();
    match mailaudit::app::run(cli) {
        Ok(status) => status,
        Err(error) => {
            mailaudit::warn_line!("mailaudit: {error:#}");
            ExitCode::from(2)
        }
    }
}
