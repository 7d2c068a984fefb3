//! The `iam-conformance` command line: clap arguments, one function per command, one map
//! from outcomes to exit codes. The work is done by `iamc-core` and `iamc-live`.

mod args;
mod cli;
mod cli_aws;
mod cli_run;
mod live;
mod shared;

use clap::Parser;

fn main() {
    let cli = args::Cli::parse();
    let code = cli::execute(cli, &mut std::io::stdout(), &mut std::io::stderr());
    std::process::exit(code);
}
