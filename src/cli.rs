//! The command line's dispatcher and its synchronous commands (check, render, diff,
//! merge, suggest). Each command takes its output streams as arguments so tests can run it
//! in-process; `main` only parses arguments and exits with the returned code.
//!
//! Exit codes: 0 conformant, 1 not conformant, 2 could not decide (bad input, an
//! unreadable file, a policy attached from outside the template, a failed write).

use std::io::Write;
use std::path::Path;

use iamc_core::analysis::{MutantStatus, Proof};
use iamc_core::catalog::Catalog;
use iamc_core::report::{Report, RunInfo, SubjectInfo, terminal};
use iamc_core::suggest;
use iamc_core::template::render::{RefMode, render};
use iamc_live::files::load;

use crate::args::{CheckArgs, Cli, Command, DiffArgs, DiffFormat, MergeArgs, RenderArgs, SuggestArgs, TargetKind};
use crate::shared::{
    CommandError, EXIT_CONFORMANT, EXIT_NONCONFORMANT, EXIT_UNDECIDED, OutputError, RunClock, create_report_dir, fail,
    prepare_report_dir, source_of, target_of, write_all, write_reports,
};

/// Runs a parsed command line; returns the exit code (a failure's through [`fail`]).
pub fn execute(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let result = match cli.command {
        Command::Check(args) => check(&args, &RunClock::now(), out, err),
        Command::Render(args) => render_command(&args, out),
        Command::Suggest(args) => suggest_command(&args, out, err),
        Command::Diff(args) => diff_command(&args, out),
        Command::Merge(args) => merge_command(&args, &RunClock::now(), out),
        Command::Run(args) if args.target == TargetKind::Aws => {
            asynchronously(out, err, |out, err| crate::cli_aws::run(&args, RunClock::now(), out, err))
        }
        Command::Run(args) => {
            asynchronously(out, err, |out, err| crate::cli_run::run(&args, RunClock::now(), out, err))
        }
        Command::Gate(args) => asynchronously(out, err, |out, _| crate::cli_run::gate(&args, out)),
        Command::Sweep(args) => asynchronously(out, err, |out, _| crate::cli_aws::sweep(&args, out)),
    };
    result.unwrap_or_else(|e| fail(err, &e))
}

/// Runs an async command on a multi-threaded runtime.
fn asynchronously<'a, F, Fut>(out: &'a mut dyn Write, err: &'a mut dyn Write, command: F) -> Result<i32, CommandError>
where
    F: FnOnce(&'a mut dyn Write, &'a mut dyn Write) -> Fut,
    Fut: std::future::Future<Output = Result<i32, CommandError>> + 'a,
{
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(CommandError::Runtime)?;
    rt.block_on(command(out, err))
}

/// `check`: load, prove, write the reports, print the summary.
pub fn check(
    args: &CheckArgs,
    clock: &RunClock,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, CommandError> {
    let target = target_of(&args.target)?;
    // Flags are checked; earlier reports go before anything else can fail, so none is
    // left looking current.
    let dir = args.report_dir.clone().unwrap_or_else(|| Path::new("reports").join(&clock.run_id));
    prepare_report_dir(&dir, err)?;
    let loaded = load(&source_of(&args.profile), args.template.as_deref(), &target)?;
    // Fail on an unusable report directory before the proof, not after it.
    create_report_dir(&dir)?;
    let catalog = Catalog::embedded();
    let proof = loaded.prove(&target);
    let report = Report::new(
        proof,
        RunInfo::new(&clock.run_id, "check", &clock.generated_at),
        SubjectInfo::of(&loaded, &target),
        catalog.source.clone(),
    );
    write_reports(&dir, &report)?;
    let _ = write!(out, "{}", terminal::render(&report));
    let _ = writeln!(out, "  reports    {}", dir.display());
    Ok(report.exit_code)
}

fn merge_command(args: &MergeArgs, clock: &RunClock, out: &mut dyn Write) -> Result<i32, CommandError> {
    let mut reports = Vec::new();
    for path in &args.reports {
        let label = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|source| CommandError::ReadReport { path: label.clone(), source })?;
        let report = serde_json::from_str::<Report>(&text)
            .map_err(|source| CommandError::NotAReport { path: label.clone(), source })?;
        reports.push((label, report));
    }
    let mut merged = iamc_core::report::merge::merge(reports)?;
    merged.run.run_id = clock.run_id.clone();
    merged.run.generated_at = clock.generated_at.clone();
    let dir = args.report_dir.clone().unwrap_or_else(|| Path::new("reports").join(&clock.run_id));
    write_reports(&dir, &merged)?;
    let _ = write!(out, "{}", terminal::render(&merged));
    let _ = writeln!(out, "  reports    {}", dir.display());
    Ok(merged.exit_code)
}

fn diff_command(args: &DiffArgs, out: &mut dyn Write) -> Result<i32, CommandError> {
    let target = target_of(&args.target)?;
    let source = source_of(&args.profile);
    let (old, new) = (load(&source, Some(&args.old), &target), load(&source, Some(&args.new), &target));
    let (old, new) = (old?, new?);
    for side in [&old, &new] {
        if let Some((arn, loc)) = side.role.external.first() {
            return Err(CommandError::ExternalPolicy { arn: arn.clone(), loc: loc.clone() });
        }
    }
    let d = iamc_core::analysis::diff::diff_in(
        Catalog::embedded(),
        &old.role.policies,
        &new.role.policies,
        &new.profile.scenarios,
        &target,
        &new.request_context(&target),
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
            std::fs::write(path, &text).map_err(|source| OutputError::Write { path: path.clone(), source })?
        }
        None => write_all(out, &text)?,
    }
    // A difference found is definite; with none found but some action undecided, the
    // comparison could not decide (docs/exact.md).
    Ok(if d.equal {
        EXIT_CONFORMANT
    } else if d.changes.is_empty() && d.scenario_changes.is_empty() && !d.undecided.is_empty() {
        EXIT_UNDECIDED
    } else {
        EXIT_NONCONFORMANT
    })
}

fn render_command(args: &RenderArgs, out: &mut dyn Write) -> Result<i32, CommandError> {
    let target = target_of(&args.target)?;
    // Loading validates the whole profile and model, so a template that renders is one
    // `check` can read.
    let loaded = load(&source_of(&args.profile), args.template.as_deref(), &target)?;
    let node = render(&loaded.template, &target, RefMode::KeepResourceRefs)?;
    let text = serde_json::to_string_pretty(&node.to_json()).unwrap_or_default() + "\n";
    write_all(out, &text)?;
    Ok(EXIT_CONFORMANT)
}

/// `suggest`: the proof of `check`, then one scenario per witness request it found,
/// written to `--out` or standard output, with a summary of what each answers.
fn suggest_command(args: &SuggestArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<i32, CommandError> {
    let target = target_of(&args.target)?;
    let loaded = load(&source_of(&args.profile), Some(&args.template), &target)?;
    let proof = loaded.prove(&target);
    let profile = &loaded.profile;
    let taken = profile.scenarios.iter().map(|s| s.id.clone()).chain(profile.fixtures.iter().map(|f| f.id.clone()));
    let suggestions = suggest::suggest(&suggest::seeds_of(&proof), &loaded.role.policies, &target, &taken.collect());
    let text = if suggestions.is_empty() {
        format!("{}\n# Nothing to suggest: the proof found no witness request.\n", suggest::document(&[]))
    } else {
        suggest::document(&suggestions)
    };
    // The scenarios own standard output unless they go to a file.
    let summary = suggest_summary(&proof, &suggestions, args.out.as_deref());
    match &args.out {
        Some(path) => {
            std::fs::write(path, &text).map_err(|source| OutputError::Write { path: path.clone(), source })?;
            write_all(out, &summary)?;
        }
        None => {
            write_all(out, &text)?;
            let _ = write!(err, "{summary}");
        }
    }
    let code = proof.verdict.exit_code();
    Ok(if suggestions.is_empty() { code } else { code.max(EXIT_NONCONFORMANT) })
}

/// How many scenarios were suggested, for what, and what the proof left without a witness.
fn suggest_summary(proof: &Proof, suggestions: &[suggest::Suggestion], out: Option<&Path>) -> String {
    let to = out.map(|p| format!("`{}`", p.display())).unwrap_or_else(|| "standard output".into());
    let mut text = format!("iam-conformance suggest: {} scenarios written to {to}\n", suggestions.len());
    for s in suggestions {
        let origins: Vec<String> = s.origins.iter().map(suggest::Origin::describe).collect();
        text.push_str(&format!("  - {} ({}) for {}\n", s.id, s.expect.as_str(), origins.join("; ")));
        text.push_str(&format!("    request: {}\n", s.witness.describe()));
        if let Some(why) = &s.unloadable {
            text.push_str(&format!("    written commented out: {why}\n"));
        }
    }
    let bare = proof.mutants.iter().filter(|m| m.status == MutantStatus::Survived && m.witness.is_none()).count();
    if bare > 0 {
        text.push_str(&format!("  {bare} surviving mutants carry no witness request: nothing to suggest for them\n"));
    }
    if !suggestions.is_empty() {
        text.push_str("  review each, then add the file to the profile's scenario_files\n");
    }
    text
}
