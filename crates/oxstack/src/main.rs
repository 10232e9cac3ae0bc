//! `oxstack`: the one binary. `up` runs the all-in-one cloud; `serve` runs a chosen set of
//! services; `db migrate`, `bootstrap`, `doctor` and `identity fernet-rotate` are the
//! operator's tools.

mod cli;
mod config;
mod files;
mod node;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
