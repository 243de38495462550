//! The `mailgrant` binary: parses the command line and wires storage, service and HTTP together.

mod cli;
mod commands;
mod log_line;
mod logging;
mod output;
mod serve;

use clap::Parser;
use std::process::ExitCode;

// Every request allocates a little on one thread and frees it on another (tokio moves tasks);
// glibc's malloc spent about 9% of the token endpoint's CPU on that, mimalloc a fraction.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let _log_flush = cli::init_logging(&cli);
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let cli::Command::Serve(cli::ServeArgs {
        workers: Some(n), ..
    }) = &cli.command
    {
        builder.worker_threads(n.get());
    }
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(commands::run(cli))
}
