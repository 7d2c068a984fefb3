//! The command line. Each command takes its output streams as arguments so tests can
//! run it in-process; `main` only parses arguments and exits with the returned code.
//!
//! Exit codes: 0 conformant, 1 not conformant, 2 could not decide (bad input, an
//! unreadable file, a policy attached from outside the template, a failed write).

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use iamc_core::catalog::Catalog;
use iamc_core::load::ProfileSource;
use iamc_live::files::load;
use iamc_core::report::{Report, RunInfo, SubjectInfo, junit, markdown, terminal};
use iamc_core::template::render::{RefMode, Target, render};

pub const EXIT_CONFORMANT: i32 = 0;
pub const EXIT_NONCONFORMANT: i32 = 1;
pub const EXIT_UNDECIDED: i32 = 2;

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
    /// Exit 0 when they are equal, 1 when they differ, 2 on bad input.
    Diff(DiffArgs),
    /// Join the reports of a sharded run (`run --shard K/N`) into one.
    Merge(MergeArgs),
    /// Print the template rendered for a target as JSON (what a deploy sends).
    Render(RenderArgs),
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

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetKind {
    /// moto server, installed into a cached venv and started by the harness.
    Moto,
    /// LocalStack: `--endpoint` if given, else the open-source runtime on the host,
    /// installed into a cached venv (Python >= 3.12) and started by the harness.
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
    #[arg(long)]
    pub template: Option<PathBuf>,
    #[arg(long)]
    pub profile: Option<PathBuf>,
    #[arg(long)]
    pub report_dir: Option<PathBuf>,
    /// How many calls run at once (each still waits for the calls it needs).
    #[arg(long, default_value_t = 4)]
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
    /// Enforce the policies the upstream's IAM holds for this role (read back at start).
    #[arg(long)]
    pub role: Option<String>,
    #[arg(long)]
    pub profile: Option<PathBuf>,
    /// Access keys to treat as the role (for clients that bring their own keys), besides
    /// the keys AssumeRole issues through the gate.
    #[arg(long = "role-key")]
    pub role_keys: Vec<String>,
    /// Write every decision as JSON lines to this file on exit.
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
pub struct RenderArgs {
    #[arg(long)]
    pub template: Option<PathBuf>,
    #[arg(long)]
    pub profile: Option<PathBuf>,
    #[command(flatten)]
    pub target: TargetArgs,
}

/// Runs a parsed command line.
pub fn execute(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    match cli.command {
        Command::Check(args) => check(&args, &RunClock::now(), out, err),
        Command::Render(args) => render_command(&args, out, err),
        Command::Diff(args) => diff_command(&args, out, err),
        Command::Merge(args) => merge_command(&args, &RunClock::now(), out, err),
        Command::Run(args) => match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
            Ok(rt) => rt.block_on(crate::cli_run::run(&args, &RunClock::now(), out, err)),
            Err(e) => fail(err, &format!("failed to start the async runtime: {e}")),
        },
        Command::Gate(args) => match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
            Ok(rt) => rt.block_on(crate::cli_run::gate(&args, out, err)),
            Err(e) => fail(err, &format!("failed to start the async runtime: {e}")),
        },
        Command::Sweep(args) => match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
            Ok(rt) => rt.block_on(crate::cli_aws::sweep(&args, out, err)),
            Err(e) => fail(err, &format!("failed to start the async runtime: {e}")),
        },
    }
}

/// The run id and timestamp, taken once from the clock by the shell.
pub struct RunClock {
    pub run_id: String,
    pub generated_at: String,
}

impl RunClock {
    pub fn now() -> RunClock {
        let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let (y, mo, d) = iamc_core::calendar::civil_from_days((secs / 86_400) as i64);
        let (h, mi, s) = ((secs % 86_400) / 3600, (secs % 3600) / 60, secs % 60);
        RunClock {
            run_id: format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z-{:x}", std::process::id()),
            generated_at: format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z"),
        }
    }
}

pub fn target_of(args: &TargetArgs) -> Result<Target, String> {
    if args.account_id.len() != 12 || !args.account_id.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("--account-id `{}` must be 12 digits", args.account_id));
    }
    if args.region.is_empty() || !args.region.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(format!("--region `{}` is not a region name such as us-west-2", args.region));
    }
    Ok(Target { account_id: args.account_id.clone(), region: args.region.clone(), ..Target::default() })
}

pub fn source_of(profile: &Option<PathBuf>) -> ProfileSource {
    match profile {
        Some(dir) => ProfileSource::Dir(dir.clone()),
        None => ProfileSource::Embedded,
    }
}

/// `check`: load, prove, write the reports, print the summary.
pub fn check(args: &CheckArgs, clock: &RunClock, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let target = match target_of(&args.target) {
        Ok(t) => t,
        Err(e) => return fail(err, &e),
    };
    let dir = args.report_dir.clone().unwrap_or_else(|| Path::new("reports").join(&clock.run_id));
    let loaded = match load(&source_of(&args.profile), args.template.as_deref(), &target) {
        Ok(l) => l,
        Err(e) => return fail(err, &e.to_string()),
    };
    // Fail on an unusable report directory before the proof, not after it.
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return fail(err, &format!("failed to create report directory `{}`: {e}", dir.display()));
    }
    let catalog = Catalog::embedded();
    let proof = loaded.prove(&target);
    let report = Report::new(
        proof,
        RunInfo::new(&clock.run_id, "check", &clock.generated_at),
        SubjectInfo::of(&loaded, &target),
        catalog.source.clone(),
    );
    if let Err(e) = write_reports(&dir, &report) {
        return fail(err, &e);
    }
    let _ = write!(out, "{}", terminal::render(&report));
    let _ = writeln!(out, "  reports    {}", dir.display());
    report.exit_code
}

/// Writes every report file under a temporary name first and renames them only when
/// all are written, so a failed write never leaves a report that looks complete.
pub fn write_reports(dir: &Path, report: &Report) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("failed to create report directory `{}`: {e}", dir.display()))?;
    let files = [
        ("report.json", report.to_json()),
        ("junit.xml", junit::render(report)),
        ("summary.md", markdown::render(report)),
        ("report.html", iamc_core::report::html::render(report)),
    ];
    let mut written = Vec::new();
    for (name, text) in &files {
        let tmp = dir.join(format!(".{name}.partial"));
        if let Err(e) = std::fs::write(&tmp, text) {
            for t in &written {
                let _ = std::fs::remove_file(t);
            }
            let _ = std::fs::remove_file(&tmp);
            return Err(format!("failed to write `{}`: {e}", tmp.display()));
        }
        written.push(tmp);
    }
    for ((name, _), tmp) in files.iter().zip(&written) {
        std::fs::rename(tmp, dir.join(name))
            .map_err(|e| format!("failed to write `{}`: {e}", dir.join(name).display()))?;
    }
    Ok(())
}

fn merge_command(args: &MergeArgs, clock: &RunClock, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let mut reports = Vec::new();
    for path in &args.reports {
        let label = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => return fail(err, &format!("failed to read `{label}`: {e}")),
        };
        match serde_json::from_str::<Report>(&text) {
            Ok(r) => reports.push((label, r)),
            Err(e) => {
                return fail(err, &format!("{label}:{}:{}: not a report.json of this tool: {e}", e.line(), e.column()));
            }
        }
    }
    let mut merged = match iamc_core::report::merge::merge(reports) {
        Ok(m) => m,
        Err(e) => return fail(err, &e),
    };
    merged.run.run_id = clock.run_id.clone();
    merged.run.generated_at = clock.generated_at.clone();
    let dir = args.report_dir.clone().unwrap_or_else(|| Path::new("reports").join(&clock.run_id));
    if let Err(e) = write_reports(&dir, &merged) {
        return fail(err, &e);
    }
    let _ = write!(out, "{}", terminal::render(&merged));
    let _ = writeln!(out, "  reports    {}", dir.display());
    merged.exit_code
}

fn diff_command(args: &DiffArgs, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let target = match target_of(&args.target) {
        Ok(t) => t,
        Err(e) => return fail(err, &e),
    };
    let source = source_of(&args.profile);
    let (old, new) = match (load(&source, Some(&args.old), &target), load(&source, Some(&args.new), &target)) {
        (Ok(o), Ok(n)) => (o, n),
        (Err(e), _) | (_, Err(e)) => return fail(err, &e.to_string()),
    };
    for side in [&old, &new] {
        if let Some((arn, loc)) = side.role.external.first() {
            return fail(
                err,
                &format!(
                    "{loc}: managed policy `{arn}` is attached but not defined in the template; the diff cannot know its grants"
                ),
            );
        }
    }
    let d = iamc_core::analysis::diff::diff(
        Catalog::embedded(),
        &old.role.policies,
        &new.role.policies,
        &new.profile.scenarios,
        &target,
    );
    let text = match args.format {
        DiffFormat::Markdown => iamc_core::analysis::diff::markdown(&d, &old.template_label, &new.template_label),
        DiffFormat::Json => {
            let doc = serde_json::json!({"schema_version": iamc_core::report::SCHEMA_VERSION, "old": old.template_label, "new": new.template_label, "diff": d});
            serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
        }
    };
    match &args.output {
        Some(path) => {
            if let Err(e) = std::fs::write(path, &text) {
                return fail(err, &format!("failed to write `{}`: {e}", path.display()));
            }
        }
        None => {
            let _ = write!(out, "{text}");
        }
    }
    if d.equal { EXIT_CONFORMANT } else { EXIT_NONCONFORMANT }
}

fn render_command(args: &RenderArgs, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let target = match target_of(&args.target) {
        Ok(t) => t,
        Err(e) => return fail(err, &e),
    };
    // Loading validates the whole profile and model, so a template that renders is one
    // `check` can read.
    let loaded = match load(&source_of(&args.profile), args.template.as_deref(), &target) {
        Ok(l) => l,
        Err(e) => return fail(err, &e.to_string()),
    };
    match render(&loaded.template, &target, RefMode::KeepResourceRefs) {
        Ok(node) => {
            let _ = writeln!(out, "{}", serde_json::to_string_pretty(&node.to_json()).unwrap_or_default());
            EXIT_CONFORMANT
        }
        Err(e) => fail(err, &e.to_string()),
    }
}

pub fn fail(err: &mut dyn Write, message: &str) -> i32 {
    let _ = writeln!(err, "error: {message}");
    EXIT_UNDECIDED
}
