//! ferry: carry Python wheels and Hugging Face models across an air gap.
//!
//! Pipeline: `inputs` (files → Plan) → `resolve` (Plan → Lock) → `fetch` (Lock → files) →
//! `bundle` (files → signed tar) → `install` (verified tar → venv + HF cache).
pub mod accel;
pub mod bundle;
pub mod cli;
pub mod commands;
pub mod dist;
mod error;
pub mod fetch;
pub mod hashed;
pub mod host;
pub mod inputs;
pub mod install;
pub mod lock;
pub mod mirrors;
pub mod oci;
pub mod resolve;
pub mod serve;
pub mod target;
pub mod torrent;
pub mod types;

pub use error::Error;

use clap::Parser;

/// Entry point of the binary.
pub fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    init_logging(cli.quiet, cli.verbose);
    commands::set_quiet(cli.quiet);
    match commands::run(cli.into_command()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            std::process::ExitCode::from(err.exit_code())
        }
    }
}

fn init_logging(quiet: bool, verbose: u8) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "ferry=debug",
        _ => "ferry=trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("FERRY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .event_format(LogLine)
        .try_init();
}

/// Log lines in the format of ferry's other messages: `warning: …`, `debug: …`; no module paths, no times,
/// no colours.
struct LogLine;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for LogLine
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let level = match *event.metadata().level() {
            tracing::Level::ERROR => "error",
            tracing::Level::WARN => "warning",
            tracing::Level::INFO => "info",
            tracing::Level::DEBUG => "debug",
            tracing::Level::TRACE => "trace",
        };
        write!(writer, "{level}: ")?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}
