//! The short summary printed to the terminal.

use std::fmt::Write;

use super::Report;
use crate::analysis::Severity;

/// At most this many findings are printed; the rest are in the report files.
const MAX_FINDINGS: usize = 20;

/// The verdict and the first findings for a terminal, pointing at the report files for the rest.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let c = &report.counts;
    let _ = writeln!(
        out,
        "iam-conformance {}: {} ({} / {})",
        report.run.command,
        report.verdict_word(),
        report.subject.profile,
        report.subject.template
    );
    match &report.environment {
        None => {
            let _ = writeln!(
                out,
                "  scenarios  {} passed, {} failed ({} allow, {} deny), decided by the policy model",
                c.scenarios_passed, c.scenarios_failed, c.allow_scenarios, c.deny_scenarios
            );
        }
        Some(env) => {
            let _ = writeln!(
                out,
                "  scenarios  {} passed, {} failed, {} skipped, {} errors ({} allow, {} deny) on {}, allow/deny decided by {}",
                c.scenarios_passed,
                c.scenarios_failed,
                env.skipped,
                env.errors,
                c.allow_scenarios,
                c.deny_scenarios,
                env.target,
                env.iam_decided_by.words()
            );
        }
    }
    let _ = writeln!(
        out,
        "  mutants    {} killed, {} equivalent, {} survived",
        c.mutants_killed, c.mutants_equivalent, c.mutants_survived
    );
    let cat = &report.minimality.catalog;
    let _ = writeln!(
        out,
        "  catalog    {} probes over {} actions, {} unexpected grants",
        cat.probes,
        cat.actions_in_catalog,
        cat.unexpected.len()
    );
    let shown: Vec<_> = report.findings.iter().filter(|f| f.severity != Severity::Info).collect();
    for f in shown.iter().take(MAX_FINDINGS) {
        let at = f.loc.as_ref().map(|l| format!("{l}: ")).unwrap_or_default();
        let _ = writeln!(out, "  - {at}{}", f.message);
    }
    if shown.len() > MAX_FINDINGS {
        let _ = writeln!(out, "  … and {} more findings in the report", shown.len() - MAX_FINDINGS);
    }
    out
}
