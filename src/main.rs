//! The `sebroker` command: parse the command line, run, exit with 0 (ok),
//! 1 (failed), 2 (usage) or 3 (partial).

use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    ExitCode::from(sebroker::cli::main())
}
