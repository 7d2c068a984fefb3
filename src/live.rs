//! What the two live commands (`run` on an emulator, `run --target aws`) share after the
//! pipeline: printing its events, and turning its outcome into the reports.

use std::io::{IsTerminal, Write};
use std::path::Path;

use iamc_core::catalog::Catalog;
use iamc_core::load::Loaded;
use iamc_core::outcome::Shard;
use iamc_core::report::assemble::{LiveRun, assemble};
use iamc_core::report::events::{EnvironmentBuilder, RunEvent};
use iamc_core::report::{Report, RunInfo, SubjectInfo, terminal};
use iamc_core::template::render::Target;
use iamc_live::pipeline::Outcome;

use crate::shared::{CommandError, RunClock, write_reports};

/// Where an event's line goes.
enum Stream {
    Out,
    Err,
}

/// The terminal side of a run: progress lines (live on a terminal, else kept and printed
/// when the run ends), notes and warnings; and the report's environment, from the same
/// events.
pub struct Progress {
    terminal: bool,
    /// A live progress line is on the screen, not yet ended by a newline.
    line_open: bool,
    lines: Vec<(Stream, String)>,
    environment: EnvironmentBuilder,
}

impl Progress {
    /// Progress printed live when standard output is a terminal.
    pub fn new() -> Progress {
        Progress {
            terminal: std::io::stdout().is_terminal(),
            line_open: false,
            lines: Vec::new(),
            environment: Default::default(),
        }
    }

    /// Takes one event.
    pub fn on(&mut self, event: RunEvent) {
        self.environment.observe(&event);
        match event {
            RunEvent::Scenario { done, total, result } => {
                let line =
                    format!("  [{done:>3}/{total}] {:<60} {} ({})", result.id, result.observed, result.decided_by);
                if self.terminal {
                    print!("\r{line:<100}");
                    let _ = std::io::stdout().flush();
                    self.line_open = true;
                } else {
                    self.lines.push((Stream::Out, line));
                }
            }
            RunEvent::Note(line) => self.lines.push((Stream::Out, line)),
            RunEvent::Warning(line) => self.lines.push((Stream::Err, format!("warning: {line}"))),
            _ => {}
        }
    }

    /// Prints what was kept.
    pub fn flush(&mut self, out: &mut dyn Write, err: &mut dyn Write) {
        // Ends the live progress line; later events still print live (the emulator's start
        // is flushed before the scenarios run).
        if std::mem::take(&mut self.line_open) {
            println!();
        }
        for (stream, line) in self.lines.drain(..) {
            let _ = match stream {
                Stream::Out => writeln!(out, "{line}"),
                Stream::Err => writeln!(err, "{line}"),
            };
        }
    }
}

/// What the report of a finished run is made from.
pub struct Finish<'a> {
    /// The profile that was run.
    pub loaded: &'a Loaded,
    /// The target it ran for.
    pub target: &'a Target,
    /// The shard, if any.
    pub shard: Option<Shard>,
    /// Where the reports go.
    pub dir: &'a Path,
    /// The run's id and timestamp.
    pub clock: &'a RunClock,
    /// Said when the run was interrupted.
    pub interrupted: CommandError,
}

/// Writes the reports of a finished run and prints its summary; returns the exit code. An
/// interrupted or failed run writes no report: its error is returned.
pub fn finish(
    outcome: Outcome,
    proof: iamc_core::analysis::Proof,
    progress: Progress,
    f: Finish<'_>,
    out: &mut dyn Write,
) -> Result<i32, CommandError> {
    let ran = match outcome {
        Outcome::Interrupted => return Err(f.interrupted),
        Outcome::Failed(e) => return Err(e.into()),
        Outcome::Finished(ran) => ran,
    };
    let environment = progress.environment.build(f.shard).ok_or(CommandError::NoBackend)?;
    let mut findings = proof.findings.clone();
    findings.extend(ran.findings);
    let report = Report::new(
        proof,
        RunInfo::new(&f.clock.run_id, "run", &f.clock.generated_at),
        SubjectInfo {
            // The policies the backend's IAM held, as read back.
            policies: ran.deployed.policies.iter().map(|p| p.name.clone()).collect(),
            ..SubjectInfo::of(f.loaded, f.target)
        },
        Catalog::embedded().source.clone(),
    );
    let report = assemble(
        report,
        LiveRun {
            results: ran.results,
            proof_findings: findings,
            environment,
            target: f.target,
            ids: &ran.ids,
            profile: &f.loaded.profile,
            shard: f.shard,
        },
    );
    write_reports(f.dir, &report)?;
    let _ = write!(out, "{}", terminal::render(&report));
    let _ = writeln!(out, "  reports    {}", f.dir.display());
    Ok(report.exit_code)
}
