//! What every command shares: the exit codes and the one map from a command's error to
//! its code, the run's clock, reading the target and profile options, writing reports.

use std::error::Error;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use iamc_core::aws::cost::MaxCostError;
use iamc_core::aws::guard::{GuardError, RegionError};
use iamc_core::load::{LoadError, ProfileSource};
use iamc_core::loc::Loc;
use iamc_core::outcome::ShardError;
use iamc_core::report::merge::MergeError;
use iamc_core::report::{Report, junit, markdown};
use iamc_core::template::TemplateError;
use iamc_core::template::render::Target;
use iamc_live::credentials::{ConnectError, CredentialsError, IdentityError};
use iamc_live::pipeline::{RunError, StartError};

use crate::args::TargetArgs;

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
/// the libraries' errors are said as they say themselves and kept as the source. (Display
/// and `Error` are written out: this package does not depend on thiserror.)
#[derive(Debug)]
pub enum CommandError {
    /// A flag, or a combination of flags, that cannot be run.
    Flag(FlagError),
    /// `--region` is not a region name (on `--target aws`: of the aws partition).
    Region(RegionError),
    /// `--shard` is not `K/N`.
    Shard(ShardError),
    /// `--max-cost` is not an amount.
    MaxCost(MaxCostError),
    /// The allow-list is missing or malformed.
    Guard(GuardError),
    /// The profile, a scenario file or the template does not load.
    Load(LoadError),
    /// The template does not render for the target.
    Render(TemplateError),
    /// The profile lacks the readiness probes a live run needs.
    NoProbes,
    /// `diff`: a policy attached from outside the template, whose grants are unknown.
    ExternalPolicy { arn: String, loc: Loc },
    /// `merge`: a report file that cannot be read.
    ReadReport { path: String, source: std::io::Error },
    /// `merge`: a file that is not a report of this tool.
    NotAReport { path: String, source: serde_json::Error },
    /// `merge`: the reports do not join.
    Merge(MergeError),
    /// A report, the output or a log could not be written.
    Output(OutputError),
    /// The async runtime did not start.
    Runtime(std::io::Error),
    /// The emulator or the gate in front of it did not start.
    Start(Box<StartError>),
    /// A phase of the live run failed.
    Run(Box<RunError>),
    /// `--target aws`, `sweep`: the administrator's session was not opened on an allowed account.
    Connect(ConnectError),
    /// The principal's credentials were not obtained.
    Credentials(CredentialsError),
    /// Whose the principal's credentials are could not be asked.
    Identity(IdentityError),
    /// The cost estimate is above `--max-cost`; nothing was called.
    OverBudget { total_usd: f64, max_usd: f64, unknown: Vec<String> },
    /// The principal's credentials are the administrator's.
    AdminAsPrincipal,
    /// `gate`: the listen address was refused.
    Listen { addr: std::net::SocketAddr, source: std::io::Error },
    /// `sweep`: what runs tagged could not be listed (the sweep's own message).
    ListTagged(String),
    /// `sweep`: some of what was selected could not be deleted.
    NotDeleted { failed: usize, total: usize },
    /// Ctrl-C or SIGTERM while the emulator started.
    InterruptedStarting,
    /// Ctrl-C or SIGTERM during a run on an emulator.
    InterruptedEmulator,
    /// Ctrl-C or SIGTERM during a run on AWS.
    InterruptedAws,
    /// `--target aws` reached the emulator command (a bug in the dispatcher).
    Misrouted,
    /// The run finished without its backend announcing itself (a bug in the harness).
    NoBackend,
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::Flag(e) => write!(f, "{e}"),
            CommandError::Region(e) => write!(f, "{e}"),
            CommandError::Shard(e) => write!(f, "{e}"),
            CommandError::MaxCost(e) => write!(f, "{e}"),
            CommandError::Guard(e) => write!(f, "{e}"),
            CommandError::Load(e) => write!(f, "{e}"),
            CommandError::Render(e) => write!(f, "{e}"),
            CommandError::NoProbes => f.write_str(
                "the profile needs an allowed and a denied Describe scenario without prerequisites to prove the role is ready",
            ),
            CommandError::ExternalPolicy { arn, loc } => write!(
                f,
                "{loc}: managed policy `{arn}` is attached but not defined in the template; the diff cannot know its grants"
            ),
            CommandError::ReadReport { path, source } => write!(f, "failed to read `{path}`: {source}"),
            CommandError::NotAReport { path, source } => {
                write!(f, "{path}:{}:{}: not a report.json of this tool: {source}", source.line(), source.column())
            }
            CommandError::Merge(e) => write!(f, "{e}"),
            CommandError::Output(e) => write!(f, "{e}"),
            CommandError::Runtime(e) => write!(f, "failed to start the async runtime: {e}"),
            CommandError::Start(e) => write!(f, "{e}"),
            CommandError::Run(e) => write!(f, "{e}"),
            CommandError::Connect(e) => write!(f, "{e}"),
            CommandError::Credentials(e) => write!(f, "{e}"),
            CommandError::Identity(e) => write!(f, "{e}"),
            CommandError::OverBudget { total_usd, max_usd, unknown } => {
                let unknown =
                    if unknown.is_empty() { String::new() } else { format!(" (prices unknown for: {})", unknown.join(", ")) };
                write!(f, "the estimated cost, up to ${total_usd:.2}{unknown}, is above --max-cost ${max_usd:.2}; nothing was called")
            }
            CommandError::AdminAsPrincipal => f.write_str(
                "the principal's credentials are the administrator's: the policy under test would not be what decides",
            ),
            CommandError::Listen { addr, source } => write!(f, "failed to listen on {addr}: {source}"),
            CommandError::ListTagged(message) => write!(f, "could not list tagged resources: {message}"),
            CommandError::NotDeleted { failed, total } => write!(f, "{failed} of {total} resources could not be deleted"),
            CommandError::InterruptedStarting => f.write_str("interrupted while the emulator started; nothing was run"),
            CommandError::InterruptedEmulator => {
                f.write_str("interrupted: the emulator was stopped and no report was written")
            }
            CommandError::InterruptedAws => {
                f.write_str("interrupted: the run's resources were torn down and no report was written")
            }
            CommandError::Misrouted => f.write_str("--target aws is run by cli_aws (a bug in the dispatcher)"),
            CommandError::NoBackend => {
                f.write_str("the run finished without its backend announcing itself (a bug in the harness)")
            }
        }
    }
}

impl Error for CommandError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            CommandError::Flag(e) => Some(e),
            CommandError::Region(e) => Some(e),
            CommandError::Shard(e) => Some(e),
            CommandError::MaxCost(e) => Some(e),
            CommandError::Guard(e) => Some(e),
            CommandError::Load(e) => Some(e),
            CommandError::Render(e) => Some(e),
            CommandError::ReadReport { source, .. } | CommandError::Listen { source, .. } => Some(source),
            CommandError::NotAReport { source, .. } => Some(source),
            CommandError::Merge(e) => Some(e),
            CommandError::Output(e) => Some(e),
            CommandError::Runtime(e) => Some(e),
            CommandError::Start(e) => Some(e),
            CommandError::Run(e) => Some(e),
            CommandError::Connect(e) => Some(e),
            CommandError::Credentials(e) => Some(e),
            CommandError::Identity(e) => Some(e),
            _ => None,
        }
    }
}

/// `?` on each library error a command meets.
macro_rules! from_errors {
    ($($variant:ident($error:ty)),* $(,)?) => {
        $(impl From<$error> for CommandError {
            fn from(e: $error) -> Self {
                CommandError::$variant(e)
            }
        })*
    };
}

from_errors!(
    Flag(FlagError),
    Region(RegionError),
    Shard(ShardError),
    MaxCost(MaxCostError),
    Guard(GuardError),
    Load(LoadError),
    Render(TemplateError),
    Merge(MergeError),
    Output(OutputError),
    Start(Box<StartError>),
    Run(Box<RunError>),
    Connect(ConnectError),
    Credentials(CredentialsError),
    Identity(IdentityError),
);

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
#[derive(Debug)]
pub enum FlagError {
    /// An option of `--target aws` given to an emulator run (it would be ignored).
    AwsOnly(&'static str),
    /// `--localstack` given to another target.
    LocalStackOnly,
    /// `--account-id` is not 12 digits.
    AccountId(String),
    /// `--account-id` given to `--target aws`, whose account is the credentials'.
    AccountIdOnAws,
    /// A duration flag (`--older-than`, `--expires-in`) that does not parse (sweep's message).
    Duration(String),
    /// `--expires-in` past what a timestamp can say.
    ExpiresTooFar(String),
    /// `--stack` with `--principal assume`, which deploys its own.
    StackWithAssume,
    /// `--principal instance-profile` or `user` without `--stack`.
    NoStack,
    /// `--principal user` without `--user-profile`.
    NoUserProfile,
    /// `--principal instance-profile` without `--aws-profile`.
    NoAdminProfile,
    /// `sweep` without `--run-id` or `--older-than`.
    NoSelector,
    /// `--listen` is not an address.
    Listen(String),
    /// `--listen` is not on the loopback interface.
    NotLoopback(String),
    /// `--role-key` is not `KEY:SECRET[:SESSION_TOKEN]`.
    RoleKey(String),
}

impl fmt::Display for FlagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlagError::AwsOnly(flag) => write!(f, "{flag} applies to --target aws only"),
            FlagError::LocalStackOnly => f.write_str("--localstack applies to --target localstack only"),
            FlagError::AccountId(id) => write!(f, "--account-id `{id}` must be 12 digits"),
            FlagError::AccountIdOnAws => f.write_str(
                "--account-id does not apply to --target aws: the account is the credentials' (and must be allowed)",
            ),
            FlagError::Duration(message) => f.write_str(message),
            FlagError::ExpiresTooFar(text) => write!(f, "--expires-in `{text}` is too far in the future"),
            FlagError::StackWithAssume => f.write_str(
                "--stack names a deployed stack for --principal instance-profile or user; with --principal assume the run deploys (and deletes) its own",
            ),
            FlagError::NoStack => {
                f.write_str("--principal instance-profile and user run against a deployed stack: pass --stack NAME")
            }
            FlagError::NoUserProfile => {
                f.write_str("--principal user needs --user-profile NAME: the profile holding the user's access keys")
            }
            FlagError::NoAdminProfile => f.write_str(
                "--principal instance-profile needs --aws-profile NAME for the administrator's calls (read back, fixtures, teardown): on the instance the standard chain would give the role itself",
            ),
            FlagError::NoSelector => f.write_str("sweep needs --run-id ID or --older-than DURATION"),
            FlagError::Listen(text) => write!(f, "--listen `{text}` is not an address such as 127.0.0.1:4580"),
            FlagError::NotLoopback(text) => {
                write!(f, "--listen `{text}`: the gate only listens on the loopback interface")
            }
            FlagError::RoleKey(spec) => write!(
                f,
                "--role-key `{spec}` is not KEY:SECRET[:SESSION_TOKEN]: the gate verifies every signature"
            ),
        }
    }
}

impl Error for FlagError {}

/// A report, the command's output or a log that could not be written.
#[derive(Debug)]
pub enum OutputError {
    /// An earlier command's report could not be removed.
    RemoveEarlier { path: PathBuf, source: std::io::Error },
    /// The report directory could not be made.
    CreateDir { path: PathBuf, source: std::io::Error },
    /// A file could not be written.
    Write { path: PathBuf, source: std::io::Error },
    /// Standard output could not be written (a full disk, a closed pipe).
    Stdout(std::io::Error),
}

impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputError::RemoveEarlier { path, source } => {
                write!(f, "failed to remove the earlier `{}`: {source}", path.display())
            }
            OutputError::CreateDir { path, source } => {
                write!(f, "failed to create report directory `{}`: {source}", path.display())
            }
            OutputError::Write { path, source } => write!(f, "failed to write `{}`: {source}", path.display()),
            OutputError::Stdout(source) => write!(f, "failed to write to standard output: {source}"),
        }
    }
}

impl Error for OutputError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            OutputError::RemoveEarlier { source, .. }
            | OutputError::CreateDir { source, .. }
            | OutputError::Write { source, .. }
            | OutputError::Stdout(source) => Some(source),
        }
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
