//! The command line's arguments (clap). The commands turn these into library types.

use std::error::Error;
use std::fmt;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "iam-conformance",
    version,
    about = "Prove that an IAM policy in a CloudFormation template grants exactly what its users need"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Prove statically, from the template alone, that the policy grants exactly the
    /// profile's contract. Exit 0 conformant, 1 not conformant, 2 could not decide.
    Check(CheckArgs),
    /// Deploy the template on an emulator, run every scenario as a real call through the
    /// IAM gate, tear down, and report (with the static proof of `check`).
    Run(RunArgs),
    /// Run the IAM gate standalone in front of an emulator, so any client can be run with
    /// the policy enforced. Stops on Ctrl-C.
    Gate(GateArgs),
    /// Compare the effective permissions of two templates (for a release sign-off).
    /// Exit 0 when they are equal, 1 when they differ, 2 on bad input or when some action cannot be decided exactly (and no difference is found).
    Diff(DiffArgs),
    /// Join the reports of a sharded run (`run --shard K/N`) into one.
    Merge(MergeArgs),
    /// Print the template rendered for a target as JSON (what a deploy sends).
    Render(RenderArgs),
    /// Run the static proof of `check` on a template and write, for each witness request
    /// it found (a surviving mutant's, an unexpected grant's, a widened scope's), a
    /// scenario to review. Exit 0 nothing to suggest (and conformant), 1 suggestions
    /// written (not conformant), 2 could not decide.
    Suggest(SuggestArgs),
    /// Find and delete what `run --target aws` left in an account, by its tags, in
    /// dependency order. Needs the same allow-list as the run.
    Sweep(SweepArgs),
}

#[derive(Args, Debug, Clone)]
pub struct MergeArgs {
    /// The shards' report.json files.
    #[arg(required = true)]
    pub reports: Vec<PathBuf>,
    /// Where to write the merged reports. Default: reports/<run-id>/.
    #[arg(long)]
    pub report_dir: Option<PathBuf>,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiffFormat {
    Markdown,
    Json,
}

#[derive(Args, Debug, Clone)]
pub struct DiffArgs {
    /// The template before the change.
    pub old: PathBuf,
    /// The template after the change.
    pub new: PathBuf,
    /// The profile whose role and scenarios apply. Default: the embedded seed profile.
    #[arg(long)]
    pub profile: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "markdown")]
    pub format: DiffFormat,
    /// Write to this file instead of standard output.
    #[arg(long)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub target: TargetArgs,
}

/// `--localstack`: how LocalStack runs.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocalStackArg {
    /// A container when a Docker engine answers, else the runtime on the host.
    Auto,
    /// A container started through testcontainers.
    Container,
    /// The open-source runtime as a process on the host.
    Host,
}

/// The emulator or account a run goes to.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetKind {
    /// moto server, installed into a cached venv and started by the harness.
    Moto,
    /// LocalStack: `--endpoint` if given, else as `--localstack` says (a container when a
    /// Docker engine answers, else the open-source runtime on the host).
    Localstack,
    /// A real sandbox account: AWS decides. Needs an allow-list (`--allow-account` or
    /// IAM_CONFORMANCE_ALLOWED_ACCOUNTS); credentials come from the standard chain.
    Aws,
}

/// `--target aws`: how calls are made.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunMode {
    /// EC2 calls that accept it are sent with DryRun (AWS authorizes and stops); the rest live.
    DryRun,
    /// Every call is made for real.
    Live,
}

/// `--target aws`: whose credentials act under the policy.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Principal {
    /// The administrator deploys the stack and assumes its role.
    Assume,
    /// Run on an EC2 instance launched with the stack's instance profile (metadata credentials).
    InstanceProfile,
    /// Access keys of an IAM user the stack's managed policy is attached to (`--user-profile`).
    User,
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// The emulator to run against.
    #[arg(long, value_enum, default_value = "moto")]
    pub target: TargetKind,
    /// Use an emulator already running at this URL instead of starting one.
    #[arg(long)]
    pub endpoint: Option<String>,
    /// `--target localstack`: `container` (through testcontainers: the official image with
    /// LOCALSTACK_AUTH_TOKEN, else the locally built one), `host` (the open-source runtime
    /// as a process), or `auto`: a container when a Docker engine answers, else host.
    #[arg(long, value_enum, default_value = "auto")]
    pub localstack: LocalStackArg,
    #[arg(long)]
    pub template: Option<PathBuf>,
    #[arg(long)]
    pub profile: Option<PathBuf>,
    #[arg(long)]
    pub report_dir: Option<PathBuf>,
    /// How many calls run at once (each still waits for the calls it needs).
    #[arg(long, default_value_t = 4, value_parser = positive)]
    pub concurrency: usize,
    /// Leave the emulator running with everything the run created (its URL and PID are printed).
    #[arg(long)]
    pub keep: bool,
    /// Run only shard K of N (scenarios K, K+N, K+2N… in profile order, with what they
    /// need); join the shards' reports with `iam-conformance merge`.
    #[arg(long)]
    pub shard: Option<String>,
    /// Account id of the emulator. Default: the emulator's own default account
    /// (moto 123456789012, LocalStack 000000000000).
    #[arg(long)]
    pub account_id: Option<String>,
    #[arg(long, default_value = "us-west-2")]
    pub region: String,
    /// `--target aws`: an account the run may touch (repeatable; also
    /// IAM_CONFORMANCE_ALLOWED_ACCOUNTS). Without one nothing is called.
    #[arg(long = "allow-account")]
    pub allow_accounts: Vec<String>,
    /// `--target aws`: dry-run (EC2 DryRun wherever accepted, the rest live) or live.
    #[arg(long, value_enum, default_value = "dry-run")]
    pub mode: RunMode,
    /// `--target aws`: refuse the run when its estimated cost is above this many US dollars.
    #[arg(long)]
    pub max_cost: Option<String>,
    /// `--target aws`: whose credentials act under the policy.
    #[arg(long, value_enum, default_value = "assume")]
    pub principal: Principal,
    /// `--target aws`: the named profile of the administrator's credentials (default: the standard chain).
    #[arg(long)]
    pub aws_profile: Option<String>,
    /// `--principal user`: the named profile holding the user's access keys.
    #[arg(long)]
    pub user_profile: Option<String>,
    /// `--principal instance-profile|user`: the deployed stack to use (neither deployed nor deleted by the run).
    #[arg(long)]
    pub stack: Option<String>,
    /// `--target aws`: expiry tagged on everything the run creates (`sweep --older-than` also uses it).
    #[arg(long, default_value = "6h")]
    pub expires_in: String,
    /// `--target aws`: do not consult the policy simulator (iam:SimulatePrincipalPolicy).
    #[arg(long)]
    pub no_simulate: bool,
}

#[derive(Args, Debug, Clone)]
pub struct SweepArgs {
    /// Delete what this run left (its `iam-conformance:run-id` tag).
    #[arg(long, conflicts_with = "older_than", required_unless_present = "older_than")]
    pub run_id: Option<String>,
    /// Delete what runs older than this left, or whatever has expired (e.g. 6h, 30m, 2d).
    #[arg(long)]
    pub older_than: Option<String>,
    /// List what would be deleted, and the calls, without deleting anything.
    #[arg(long)]
    pub dry_run: bool,
    /// An account the sweep may touch (repeatable; also IAM_CONFORMANCE_ALLOWED_ACCOUNTS).
    #[arg(long = "allow-account")]
    pub allow_accounts: Vec<String>,
    /// The named profile of the administrator's credentials (default: the standard chain).
    #[arg(long)]
    pub aws_profile: Option<String>,
    /// Send every call to this URL (an emulator) instead of AWS's endpoints.
    #[arg(long)]
    pub endpoint: Option<String>,
    #[arg(long, default_value = "us-west-2")]
    pub region: String,
}

#[derive(Args, Debug, Clone)]
pub struct GateArgs {
    /// The emulator to forward to.
    #[arg(long)]
    pub upstream: String,
    /// Where to listen (127.0.0.1 only).
    #[arg(long, default_value = "127.0.0.1:4580")]
    pub listen: String,
    /// Enforce the policies this template gives the profile's role.
    #[arg(long, conflicts_with = "role")]
    pub template: Option<PathBuf>,
    /// Enforce the policies the upstream's IAM holds for this role, read when deciding (the
    /// gate may start first; the role's calls are refused until it exists).
    #[arg(long)]
    pub role: Option<String>,
    #[arg(long)]
    pub profile: Option<PathBuf>,
    /// Credentials to treat as the role (for clients that bring their own keys), as
    /// KEY:SECRET[:SESSION_TOKEN], besides the keys AssumeRole issues through the gate.
    #[arg(long = "role-key", value_name = "KEY:SECRET")]
    pub role_keys: Vec<String>,
    /// Write every decision as JSON lines to this file, each as it is made.
    #[arg(long)]
    pub log: Option<PathBuf>,
    #[arg(long, default_value = "123456789012")]
    pub account_id: String,
    #[arg(long, default_value = "us-west-2")]
    pub region: String,
}

#[derive(Args, Debug, Clone)]
pub struct TargetArgs {
    /// Account id the template is rendered for (replaces MYAWSACCOUNT/MYAWSACCOUNTID and AWS::AccountId).
    #[arg(long, default_value = "000000000000")]
    pub account_id: String,
    /// Region the template is rendered for.
    #[arg(long, default_value = "us-west-2")]
    pub region: String,
}

#[derive(Args, Debug, Clone)]
pub struct CheckArgs {
    /// Template to check instead of the profile's own; the profile's scenarios stay the contract.
    #[arg(long)]
    pub template: Option<PathBuf>,
    /// Profile directory (profile.toml and scenario files). Default: the embedded seed profile.
    #[arg(long)]
    pub profile: Option<PathBuf>,
    /// Where to write report.json, junit.xml and summary.md. Default: reports/<run-id>/.
    #[arg(long)]
    pub report_dir: Option<PathBuf>,
    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Args, Debug, Clone)]
pub struct SuggestArgs {
    /// The template to prove; the profile's scenarios stay the contract.
    pub template: PathBuf,
    /// Profile directory (profile.toml and scenario files). Default: the embedded seed profile.
    #[arg(long)]
    pub profile: Option<PathBuf>,
    /// Write the suggested scenarios to this file instead of standard output (the summary
    /// then goes to standard output, else to standard error).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Args, Debug, Clone)]
pub struct RenderArgs {
    #[arg(long)]
    pub template: Option<PathBuf>,
    #[arg(long)]
    pub profile: Option<PathBuf>,
    #[command(flatten)]
    pub target: TargetArgs,
}

/// Why a count flag (`--concurrency`) was refused; clap says it after the flag and value.
#[derive(Debug)]
pub enum CountError {
    /// Zero.
    Zero,
    /// Not a whole number.
    NotANumber(std::num::ParseIntError),
}

impl fmt::Display for CountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CountError::Zero => f.write_str("must be at least 1"),
            CountError::NotANumber(e) => write!(f, "{e}"),
        }
    }
}

impl Error for CountError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            CountError::Zero => None,
            CountError::NotANumber(e) => Some(e),
        }
    }
}

/// `--concurrency`: at least one call at a time.
pub fn positive(text: &str) -> Result<usize, CountError> {
    match text.parse::<usize>() {
        Ok(0) => Err(CountError::Zero),
        Ok(n) => Ok(n),
        Err(e) => Err(CountError::NotANumber(e)),
    }
}
