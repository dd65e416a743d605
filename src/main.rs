use std::process::ExitCode;

use clap::Parser;
use collab_worker::cli::{Cli, Command};
use collab_worker::config::Settings;
use collab_worker::{ops, telemetry, worker};

/// glibc's malloc was about a third of the worker's CPU while draining a
/// backlog (short-lived documents, JSON strings, row buffers); see README.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("collab-worker: configuration: {error}");
            return ExitCode::from(2);
        }
    };
    if let Err(error) = settings.check() {
        eprintln!("collab-worker: configuration: {error}");
        return ExitCode::from(2);
    }
    let default_filter = match cli.command {
        Command::Run => telemetry::WORKER_LOG_FILTER,
        Command::Dlq(_) | Command::Demo | Command::Explain { .. } => telemetry::COMMAND_LOG_FILTER,
    };
    // Spans are the worker's; created before the runtime, and shut down
    // after it, as the exporter's blocking HTTP client requires.
    let exporter = match cli.command {
        Command::Run => match collab_worker::trace::Exporter::from_env() {
            Ok(exporter) => exporter,
            Err(error) => {
                eprintln!("collab-worker: tracing: {error}");
                return ExitCode::from(2);
            }
        },
        Command::Dlq(_) | Command::Demo | Command::Explain { .. } => None,
    };
    let (exporter, tracer) = exporter.unzip();
    telemetry::init_logging(settings.log_format, default_filter, tracer);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("collab-worker: starting the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run => worker::run(settings).await,
            Command::Dlq(command) => {
                let action = command.into_action().map_err(anyhow::Error::msg)?;
                ops::dlq::run(settings.broker(), action, &mut std::io::stdout()).await
            }
            Command::Demo => ops::demo::run(settings, &mut std::io::stdout()).await,
            Command::Explain {
                entity,
                id,
                json,
                cursor,
                limit,
            } => {
                let page = collab_worker::explain::Page { cursor, limit };
                collab_worker::explain::run(&settings.database_url, entity, &id, &page, json, &mut std::io::stdout())
                    .await
            }
        }
    });
    drop(runtime);
    if let Some(exporter) = exporter {
        exporter.shutdown();
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("collab-worker: {error:#}");
            ExitCode::FAILURE
        }
    }
}
