//! The `kensa` binary: a thin shell over the library (see `kensa::cli`).

use clap::Parser;

fn main() {
    let cli = kensa::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("kensa: error: cannot start the async runtime: {e}");
            std::process::exit(kensa::cli::EXIT_USAGE);
        }
    };
    let code = runtime.block_on(kensa::cli::run(cli));
    // Don't wait for stragglers (a tarpitted socket, a demo server): the report is written.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    std::process::exit(code);
}
