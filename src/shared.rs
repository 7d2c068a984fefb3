//! What every command shares: the exit codes and the one map from a command's error to
//! its code, the run's clock, reading the target and profile options, the live runs'
//! report directory and inputs, writing reports.

use std::io::Write;
use std::path::{Path, PathBuf};

use iamc_core::analysis::Proof;
use iamc_core::aws::cost::MaxCostError;
use iamc_core::aws::guard::{GuardError, RegionError};
use iamc_core::load::{LoadError, Loaded, ProfileSource};
use iamc_core::loc::Loc;
use iamc_core::outcome::{Shard, ShardError};
use iamc_core::report::merge::MergeError;
use iamc_core::report::{Report, junit, markdown};
use iamc_core::template::TemplateError;
use iamc_core::template::render::{RefMode, Target, render};
use iamc_live::credentials::{ConnectError, CredentialsError, IdentityError};
use iamc_live::files::load;
use iamc_live::pipeline::{Plan, RunError, StartError};
use iamc_live::run;

use crate::args::{RunArgs, TargetArgs};

/// The policy is exactly what the scenarios need.
pub const EXIT_CONFORMANT: i32 = 0;
/// A finding fails the policy.
pub const EXIT_NONCONFORMANT: i32 = 1;
/// Nothing could be decided: bad input, an unreadable file, a failed write, an undecided finding.
pub const EXIT_UNDECIDED: i32 = 2;

/// The exit code of a command that failed: the one map from errors to codes. Every
/// failure means "could not decide" (docs/architecture.md, "Exit codes"); the codes of a
/// decided run come from its report (`Verdict::exit_code`).
pub fn exit_code(_: &CommandError) -> i32 {
    EXIT_UNDECIDED
}

/// Says why a command failed, as `error: …` on `err`, and returns its exit code.
pub fn fail(err: &mut dyn Write, e: &CommandError) -> i32 {
    let _ = writeln!(err, "error: {e}");
    exit_code(e)
}

/// Why a command could not decide. Each message is the whole line said after `error: `;
/// the libraries' errors are said as they say themselves and kept as the source.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// A flag, or a combination of flags, that cannot be run.
    #[error("{0}")]
    Flag(#[from] FlagError),
    /// `--region` is not a region name (on `--target aws`: of the aws partition).
    #[error("{0}")]
    Region(#[from] RegionError),
    /// `--shard` is not `K/N`.
    #[error("{0}")]
    Shard(#[from] ShardError),
    /// `--max-cost` is not an amount.
    #[error("{0}")]
    MaxCost(#[from] MaxCostError),
    /// The allow-list is missing or malformed.
    #[error("{0}")]
    Guard(#[from] GuardError),
    /// The profile, a scenario file or the template does not load.
    #[error("{0}")]
    Load(#[from] LoadError),
    /// The template does not render for the target.
    #[error("{0}")]
    Render(#[from] TemplateError),
    /// The profile lacks the readiness probes a live run needs.
    #[error(
        "the profile needs an allowed and a denied Describe scenario without prerequisites to prove the role is ready"
    )]
    NoProbes,
    /// `diff`: a policy attached from outside the template, whose grants are unknown.
    #[error(
        "{loc}: managed policy `{arn}` is attached but not defined in the template; the diff cannot know its grants"
    )]
    ExternalPolicy { arn: String, loc: Loc },
    /// `merge`: a report file that cannot be read.
    #[error("failed to read `{path}`: {source}")]
    ReadReport { path: String, source: std::io::Error },
    /// `merge`: a file that is not a report of this tool.
    #[error("{path}:{}:{}: not a report.json of this tool: {source}", .source.line(), .source.column())]
    NotAReport { path: String, source: serde_json::Error },
    /// `merge`: the reports do not join.
    #[error("{0}")]
    Merge(#[from] MergeError),
    /// A report, the output or a log could not be written.
    #[error("{0}")]
    Output(#[from] OutputError),
    /// The async runtime did not start.
    #[error("failed to start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// The emulator or the gate in front of it did not start (boxed, like `Run`, so every
    /// command's `Result` stays small).
    #[error("{0}")]
    Start(#[from] Box<StartError>),
    /// A phase of the live run failed.
    #[error("{0}")]
    Run(#[from] Box<RunError>),
    /// `--target aws`, `sweep`: the administrator's session was not opened on an allowed account.
    #[error("{0}")]
    Connect(#[from] ConnectError),
    /// The principal's credentials were not obtained.
    #[error("{0}")]
    Credentials(#[from] CredentialsError),
    /// Whose the principal's credentials are could not be asked.
    #[error("{0}")]
    Identity(#[from] IdentityError),
    /// The cost estimate is above `--max-cost`; nothing was called.
    #[error(
        "the estimated cost, up to ${total_usd:.2}{}, is above --max-cost ${max_usd:.2}; nothing was called",
        prices_unknown(.unknown)
    )]
    OverBudget { total_usd: f64, max_usd: f64, unknown: Vec<String> },
    /// The principal's credentials are the administrator's.
    #[error("the principal's credentials are the administrator's: the policy under test would not be what decides")]
    AdminAsPrincipal,
    /// `gate`: the listen address was refused.
    #[error("failed to listen on {addr}: {source}")]
    Listen { addr: std::net::SocketAddr, source: std::io::Error },
    /// `sweep`: what runs tagged could not be listed (the sweep's own message).
    #[error("could not list tagged resources: {0}")]
    ListTagged(#[source] iamc_live::sweep::SweepError),
    /// `sweep`: some of what was selected could not be deleted.
    #[error("{failed} of {total} resources could not be deleted")]
    NotDeleted { failed: usize, total: usize },
    /// Ctrl-C or SIGTERM while the emulator started.
    #[error("interrupted while the emulator started; nothing was run")]
    InterruptedStarting,
    /// Ctrl-C or SIGTERM during a run on an emulator.
    #[error("interrupted: the emulator was stopped and no report was written")]
    InterruptedEmulator,
    /// Ctrl-C or SIGTERM during a run on AWS.
    #[error("interrupted: the run's resources were torn down and no report was written")]
    InterruptedAws,
    /// `--target aws` reached the emulator command (a bug in the dispatcher).
    #[error("--target aws is run by cli_aws (a bug in the dispatcher)")]
    Misrouted,
    /// The run finished without its backend announcing itself (a bug in the harness).
    #[error("the run finished without its backend announcing itself (a bug in the harness)")]
    NoBackend,
}

/// The parenthesis of an over-budget message naming the actions without a known price.
fn prices_unknown(unknown: &[String]) -> String {
    if unknown.is_empty() { String::new() } else { format!(" (prices unknown for: {})", unknown.join(", ")) }
}

// The two largest are kept boxed, so every command's `Result` stays small.
impl From<StartError> for CommandError {
    fn from(e: StartError) -> Self {
        CommandError::Start(Box::new(e))
    }
}

impl From<RunError> for CommandError {
    fn from(e: RunError) -> Self {
        CommandError::Run(Box::new(e))
    }
}

/// A flag, or a combination of flags, refused before anything is done.
#[derive(Debug, thiserror::Error)]
pub enum FlagError {
    /// An option of `--target aws` given to an emulator run (it would be ignored).
    #[error("{0} applies to --target aws only")]
    AwsOnly(&'static str),
    /// `--localstack` given to another target.
    #[error("--localstack applies to --target localstack only")]
    LocalStackOnly,
    /// `--account-id` is not 12 digits.
    #[error("--account-id `{0}` must be 12 digits")]
    AccountId(String),
    /// `--account-id` given to `--target aws`, whose account is the credentials'.
    #[error("--account-id does not apply to --target aws: the account is the credentials' (and must be allowed)")]
    AccountIdOnAws,
    /// A duration flag (`--older-than`, `--expires-in`) that does not parse (sweep's message).
    #[error("{0}")]
    Duration(String),
    /// `--expires-in` past what a timestamp can say.
    #[error("--expires-in `{0}` is too far in the future")]
    ExpiresTooFar(String),
    /// `--stack` with `--principal assume`, which deploys its own.
    #[error(
        "--stack names a deployed stack for --principal instance-profile or user; with --principal assume the run deploys (and deletes) its own"
    )]
    StackWithAssume,
    /// `--principal instance-profile` or `user` without `--stack`.
    #[error("--principal instance-profile and user run against a deployed stack: pass --stack NAME")]
    NoStack,
    /// `--principal user` without `--user-profile`.
    #[error("--principal user needs --user-profile NAME: the profile holding the user's access keys")]
    NoUserProfile,
    /// `--principal instance-profile` without `--aws-profile`.
    #[error(
        "--principal instance-profile needs --aws-profile NAME for the administrator's calls (read back, fixtures, teardown): on the instance the standard chain would give the role itself"
    )]
    NoAdminProfile,
    /// `sweep` without `--run-id` or `--older-than`.
    #[error("sweep needs --run-id ID or --older-than DURATION")]
    NoSelector,
    /// `--listen` is not an address.
    #[error("--listen `{0}` is not an address such as 127.0.0.1:4580")]
    Listen(String),
    /// `--listen` is not on the loopback interface.
    #[error("--listen `{0}`: the gate only listens on the loopback interface")]
    NotLoopback(String),
    /// `--role-key` is not `KEY:SECRET[:SESSION_TOKEN]`.
    #[error("--role-key `{0}` is not KEY:SECRET[:SESSION_TOKEN]: the gate verifies every signature")]
    RoleKey(String),
}

/// A report, the command's output or a log that could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// An earlier command's report could not be removed.
    #[error("failed to remove the earlier `{}`: {source}", .path.display())]
    RemoveEarlier { path: PathBuf, source: std::io::Error },
    /// The report directory could not be made.
    #[error("failed to create report directory `{}`: {source}", .path.display())]
    CreateDir { path: PathBuf, source: std::io::Error },
    /// A file could not be written.
    #[error("failed to write `{}`: {source}", .path.display())]
    Write { path: PathBuf, source: std::io::Error },
    /// Standard output could not be written (a full disk, a closed pipe).
    #[error("failed to write to standard output: {0}")]
    Stdout(#[source] std::io::Error),
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

/// The target of `check`, `render`, `diff`, `gate` and an emulator run (any region name
/// shape will do: nothing is sent to AWS).
pub fn target_of(args: &TargetArgs) -> Result<Target, CommandError> {
    if args.account_id.len() != 12 || !args.account_id.chars().all(|c| c.is_ascii_digit()) {
        return Err(FlagError::AccountId(args.account_id.clone()).into());
    }
    if args.region.is_empty() || !args.region.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(RegionError::NotARegion(args.region.clone()).into());
    }
    Ok(Target { account_id: args.account_id.clone(), region: args.region.clone(), ..Target::default() })
}

pub fn source_of(profile: &Option<PathBuf>) -> ProfileSource {
    match profile {
        Some(dir) => ProfileSource::Dir(dir.clone()),
        None => ProfileSource::Embedded,
    }
}

/// The files a report directory holds.
const REPORT_FILES: [&str; 4] = ["report.json", "junit.xml", "summary.md", "report.html"];

/// Removes the reports an earlier command left in the report directory (if it exists),
/// so a run that fails or is interrupted never leaves an older report looking like its
/// own. Says on `err` what it removed. The directory is made when reports are written.
pub fn prepare_report_dir(dir: &Path, err: &mut dyn Write) -> Result<(), OutputError> {
    let mut removed = Vec::new();
    if !dir.is_dir() {
        return Ok(());
    }
    for name in REPORT_FILES {
        match std::fs::remove_file(dir.join(name)) {
            Ok(()) => removed.push(name),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(OutputError::RemoveEarlier { path: dir.join(name), source }),
        }
    }
    if !removed.is_empty() {
        let _ = writeln!(err, "note: removed the earlier {} in `{}`", removed.join(", "), dir.display());
    }
    Ok(())
}

/// The report directory of a live run (`--report-dir`, else `reports/<run id>`), emptied
/// of an earlier command's reports. Called once the flags are checked and before anything
/// else can fail, so no earlier report is left looking current.
pub fn live_report_dir(args: &RunArgs, clock: &RunClock, err: &mut dyn Write) -> Result<PathBuf, CommandError> {
    let dir = args.report_dir.clone().unwrap_or_else(|| Path::new("reports").join(&clock.run_id));
    prepare_report_dir(&dir, err)?;
    Ok(dir)
}

/// What both live runs build from the profile for their target before the pipeline:
/// the loaded profile, the static proof and the template as deployed.
pub struct LiveInputs {
    /// The profile, its template and the role's policies, loaded for the target.
    pub loaded: Loaded,
    /// The static proof, for the oracles and the report.
    pub proof: Proof,
    /// The template as deployed (resource references kept for CloudFormation).
    pub deploy_json: String,
}

impl LiveInputs {
    /// Loads the profile for `target`, creates the report directory `dir`, proves, checks
    /// that the profile has readiness probes and renders the template to deploy, in that order.
    pub fn prepare(args: &RunArgs, target: &Target, dir: &Path) -> Result<LiveInputs, CommandError> {
        let loaded = load(&source_of(&args.profile), args.template.as_deref(), target)?;
        create_report_dir(dir)?;
        let proof = loaded.prove(target);
        run::probes(&loaded.profile).ok_or(CommandError::NoProbes)?;
        let deploy_json = render(&loaded.template, target, RefMode::KeepResourceRefs)?.to_json().to_string();
        Ok(LiveInputs { loaded, proof, deploy_json })
    }

    /// The pipeline's plan over these inputs, with the run's concurrency and `--keep`.
    pub fn plan<'a>(&'a self, target: &'a Target, args: &RunArgs, shard: Option<Shard>) -> Plan<'a> {
        Plan {
            loaded: &self.loaded,
            target,
            deploy_json: &self.deploy_json,
            probes: run::probes(&self.loaded.profile).expect("checked by `prepare` on the same profile"),
            proof_scenarios: &self.proof.scenarios,
            concurrency: args.concurrency,
            shard,
            keep: args.keep,
        }
    }
}

/// Writes every report file under a temporary name first and renames them only when
/// all are written, so a failed write never leaves a report that looks complete.
pub fn write_reports(dir: &Path, report: &Report) -> Result<(), OutputError> {
    create_report_dir(dir)?;
    let files = [
        ("report.json", report.to_json()),
        ("junit.xml", junit::render(report)),
        ("summary.md", markdown::render(report)),
        ("report.html", iamc_core::report::html::render(report)),
    ];
    let mut written = Vec::new();
    for (name, text) in &files {
        let tmp = dir.join(format!(".{name}.partial"));
        if let Err(source) = std::fs::write(&tmp, text) {
            for t in &written {
                let _ = std::fs::remove_file(t);
            }
            let _ = std::fs::remove_file(&tmp);
            return Err(OutputError::Write { path: tmp, source });
        }
        written.push(tmp);
    }
    for ((name, _), tmp) in files.iter().zip(&written) {
        std::fs::rename(tmp, dir.join(name)).map_err(|source| OutputError::Write { path: dir.join(name), source })?;
    }
    Ok(())
}

/// Creates the report directory (a live run's emulator keeps its log there).
pub fn create_report_dir(dir: &Path) -> Result<(), OutputError> {
    std::fs::create_dir_all(dir).map_err(|source| OutputError::CreateDir { path: dir.to_path_buf(), source })
}

/// Writes a command's whole output and flushes it: a full disk or a closed pipe is an
/// error (exit 2), not a silent success.
pub fn write_all(out: &mut dyn Write, text: &str) -> Result<(), OutputError> {
    out.write_all(text.as_bytes()).and_then(|()| out.flush()).map_err(OutputError::Stdout)
}
