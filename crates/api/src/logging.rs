//! Log output: human-readable by default, JSON with `RAPPORT_LOG_FORMAT=json`; every
//! line of a request carries its `request_id` (from the request span). Logs go to
//! stderr; stdout is kept for the commands' JSON output.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::config::LogFormat;

/// Installs the global subscriber. Database driver chatter is kept at `warn` unless the
/// filter names it.
pub fn init(format: LogFormat, filter: &str) {
    let mut directives = filter.to_owned();
    for quiet in ["sqlx", "sea_orm", "sea_orm_migration", "actix_server"] {
        if !filter.contains(quiet) {
            directives.push(',');
            directives.push_str(quiet);
            directives.push_str("=warn");
        }
    }
    let env = EnvFilter::try_new(&directives).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(env)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .with_span_events(FmtSpan::NONE);
    let _ = match format {
        LogFormat::Text => builder.with_target(false).try_init(),
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(false).try_init(),
    };
}
