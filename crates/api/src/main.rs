//! The `rapport` binary.

use clap::Parser;
use rapport_api::cli::{self, Cli, Command};
use rapport_api::config::Settings;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Cli::parse();
    let (settings, warnings) = match Settings::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            println!("{}", serde_json::json!({ "error": e.to_string() }));
            return std::process::ExitCode::FAILURE;
        }
    };
    rapport_api::logging::init(settings.log_format, &settings.log_filter);
    for w in warnings {
        tracing::warn!("{w}");
    }
    match cli::run(settings, args.command.unwrap_or(Command::Serve)).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(cli::Failure(message)) => {
            tracing::error!("{message}");
            println!("{}", serde_json::json!({ "error": message }));
            std::process::ExitCode::FAILURE
        }
    }
}
