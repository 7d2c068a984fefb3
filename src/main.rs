use clap::Parser;

fn main() {
    let cli = iam_conformance::cli::Cli::parse();
    let code = iam_conformance::cli::execute(cli, &mut std::io::stdout(), &mut std::io::stderr());
    std::process::exit(code);
}
