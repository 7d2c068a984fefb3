//! The command line's dispatcher and its synchronous commands (check, render, diff,
//! merge). Each command takes its output streams as arguments so tests can run it
//! in-process; `main` only parses arguments and exits with the returned code.
//!
//! Exit codes: 0 conformant, 1 not conformant, 2 could not decide (bad input, an
//! unreadable file, a policy attached from outside the template, a failed write).

use std::io::Write;
use std::path::Path;

use iamc_core::catalog::Catalog;
use iamc_core::report::{Report, RunInfo, SubjectInfo, terminal};
use iamc_core::template::render::{RefMode, render};
use iamc_live::files::load;

use crate::args::{CheckArgs, Cli, Command, DiffArgs, DiffFormat, MergeArgs, RenderArgs, TargetKind};
use crate::shared::{create_report_dir, prepare_report_dir, write_all, EXIT_CONFORMANT, EXIT_NONCONFORMANT, RunClock, fail, source_of, target_of, write_reports};

/// Runs a parsed command line.
pub fn execute(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    match cli.command {
        Command::Check(args) => check(&args, &RunClock::now(), out, err),
        Command::Render(args) => render_command(&args, out, err),
        Command::Diff(args) => diff_command(&args, out, err),
        Command::Merge(args) => merge_command(&args, &RunClock::now(), out, err),
        Command::Run(args) if args.target == TargetKind::Aws => {
            asynchronously(err, |out, err| crate::cli_aws::run(&args, RunClock::now(), out, err), out)
        }
        Command::Run(args) => asynchronously(err, |out, err| crate::cli_run::run(&args, RunClock::now(), out, err), out),
        Command::Gate(args) => asynchronously(err, |out, err| crate::cli_run::gate(&args, out, err), out),
        Command::Sweep(args) => asynchronously(err, |out, err| crate::cli_aws::sweep(&args, out, err), out),
    }
}

/// Runs an async command on a multi-threaded runtime.
fn asynchronously<'a, F, Fut>(err: &'a mut dyn Write, command: F, out: &'a mut dyn Write) -> i32
where
    F: FnOnce(&'a mut dyn Write, &'a mut dyn Write) -> Fut,
    Fut: std::future::Future<Output = i32> + 'a,
{
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt.block_on(command(out, err)),
        Err(e) => fail(err, &format!("failed to start the async runtime: {e}")),
    }
}

/// `check`: load, prove, write the reports, print the summary.
pub fn check(args: &CheckArgs, clock: &RunClock, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let target = match target_of(&args.target) {
        Ok(t) => t,
        Err(e) => return fail(err, &e),
    };
    // Flags are checked; earlier reports go before anything else can fail, so none is
    // left looking current.
    let dir = args.report_dir.clone().unwrap_or_else(|| Path::new("reports").join(&clock.run_id));
    if let Err(e) = prepare_report_dir(&dir, err) {
        return fail(err, &e);
    }
    let loaded = match load(&source_of(&args.profile), args.template.as_deref(), &target) {
        Ok(l) => l,
        Err(e) => return fail(err, &e.to_string()),
    };
    // Fail on an unusable report directory before the proof, not after it.
    if let Err(e) = create_report_dir(&dir) {
        return fail(err, &e);
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
            if let Err(e) = write_all(out, &text) {
                return fail(err, &e);
            }
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
            let text = serde_json::to_string_pretty(&node.to_json()).unwrap_or_default() + "\n";
            match write_all(out, &text) {
                Ok(()) => EXIT_CONFORMANT,
                Err(e) => fail(err, &e),
            }
        }
        Err(e) => fail(err, &e.to_string()),
    }
}
