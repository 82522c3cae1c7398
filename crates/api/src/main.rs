//! The `rapport` binary.

use clap::Parser;

/// mimalloc: the server allocates many small, short-lived JSON values per request, which
/// it serves markedly faster than the system allocator (see the README's figures).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use rapport_api::cli::{self, Cli, Command};
use rapport_api::config::Settings;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = match Cli::try_parse() {
        Ok(a) => a,
        Err(e) if !e.use_stderr() => {
            // --help and --version
            let _ = e.print();
            return std::process::ExitCode::SUCCESS;
        }
        Err(e) => {
            let message = e.render().to_string();
            eprintln!("{message}");
            // The error without clap's usage and hint lines, on one line.
            let summary = message
                .lines()
                .take_while(|l| !l.starts_with("Usage:"))
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
                .collect::<Vec<_>>()
                .join(" ");
            println!(
                "{}",
                serde_json::json!({ "error": summary.trim_start_matches("error: ") })
            );
            return std::process::ExitCode::FAILURE;
        }
    };
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
