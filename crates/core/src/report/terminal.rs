//! The short summary printed to the terminal.

use std::fmt::Write;

use super::Report;
use crate::analysis::{MutantStatus, Severity};

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
        "  mutants    {} killed, {} equivalent{}, {} survived",
        c.mutants_killed,
        c.mutants_equivalent,
        equivalence_split(report),
        c.mutants_survived
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
        // Only when the message does not already spell the request out.
        if let Some(w) = f.witness.as_ref().filter(|w| !f.message.contains(&w.describe())) {
            let _ = writeln!(out, "    request: {}", w.describe());
        }
    }
    if shown.len() > MAX_FINDINGS {
        let _ = writeln!(out, "  … and {} more findings in the report", shown.len() - MAX_FINDINGS);
    }
    out
}

/// ` (P proven, A accepted by written reason)` once the exact procedure has proven some
/// mutant equivalent; empty before, so a report without proofs reads as it always did.
fn equivalence_split(report: &Report) -> String {
    let equivalent = report.minimality.mutants.iter().filter(|m| m.status == MutantStatus::Equivalent);
    let (proven, accepted): (Vec<_>, Vec<_>) = equivalent.partition(|m| m.proof.is_some());
    if proven.is_empty() {
        return String::new();
    }
    format!(" ({} proven, {} accepted by written reason)", proven.len(), accepted.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::test_support::{bare, golden, with_witness_and_proof};

    #[test]
    fn the_golden_report_renders_as_its_golden_file() {
        // The renderer and the golden file agree (tests/reporters.rs regenerates it).
        assert_eq!(render(&golden()), include_str!("../../../../tests/golden/terminal.txt"));
    }

    #[test]
    fn without_witnesses_or_proofs_nothing_is_added() {
        let text = render(&bare());
        assert!(!text.contains("request:") && !text.contains("proven"), "{text}");
    }

    #[test]
    fn a_findings_witness_is_a_request_and_proofs_are_counted() {
        let report = with_witness_and_proof();
        let text = render(&report);
        assert!(
            text.contains("\n    request: `secretsmanager:CreateSecret` on `arn:aws:secretsmanager:us-west-2:000000000000:secret:app/x<y` with aws:RequestedRegion=eu-west-1\n"),
            "{text}"
        );
        let n = report.counts.mutants_equivalent;
        assert!(text.contains(&format!("{n} equivalent ({n} proven, 0 accepted by written reason)")), "{text}");
    }
}
