//! What every command shares: the exit codes, the run's clock, reading the target and
//! profile options, writing reports, failing with a message.

use std::io::Write;
use std::path::{Path, PathBuf};

use iamc_core::load::ProfileSource;
use iamc_core::report::{Report, junit, markdown};
use iamc_core::template::render::Target;

use crate::args::TargetArgs;

/// The policy is exactly what the scenarios need.
pub const EXIT_CONFORMANT: i32 = 0;
/// A finding fails the policy.
pub const EXIT_NONCONFORMANT: i32 = 1;
/// Nothing could be decided: bad input, an unreadable file, a failed write, an undecided finding.
pub const EXIT_UNDECIDED: i32 = 2;

/// Said when a profile lacks the readiness probes a live run needs.
pub const NO_PROBES: &str =
    "the profile needs an allowed and a denied Describe scenario without prerequisites to prove the role is ready";

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

/// The files a report directory holds.
const REPORT_FILES: [&str; 4] = ["report.json", "junit.xml", "summary.md", "report.html"];

/// Removes the reports an earlier command left in the report directory (if it exists),
/// so a run that fails or is interrupted never leaves an older report looking like its
/// own. Says on `err` what it removed. The directory is made when reports are written.
pub fn prepare_report_dir(dir: &Path, err: &mut dyn Write) -> Result<(), String> {
    let mut removed = Vec::new();
    if !dir.is_dir() {
        return Ok(());
    }
    for name in REPORT_FILES {
        match std::fs::remove_file(dir.join(name)) {
            Ok(()) => removed.push(name),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("failed to remove the earlier `{}`: {e}", dir.join(name).display())),
        }
    }
    if !removed.is_empty() {
        let _ = writeln!(err, "note: removed the earlier {} in `{}`", removed.join(", "), dir.display());
    }
    Ok(())
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

pub fn fail(err: &mut dyn Write, message: &str) -> i32 {
    let _ = writeln!(err, "error: {message}");
    EXIT_UNDECIDED
}

/// Creates the report directory (a live run's emulator keeps its log there).
pub fn create_report_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("failed to create report directory `{}`: {e}", dir.display()))
}

/// Writes a command's whole output and flushes it: a full disk or a closed pipe is an
/// error (exit 2), not a silent success.
pub fn write_all(out: &mut dyn Write, text: &str) -> Result<(), String> {
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| format!("failed to write to standard output: {e}"))
}

/// `--concurrency`: at least one call at a time.
pub fn positive(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}
