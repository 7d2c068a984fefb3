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

    /// The golden fixture's report, as the report tests read it back.
    fn golden() -> Report {
        serde_json::from_str(include_str!("../../../../tests/golden/report.json")).expect("golden report reads")
    }

    /// The golden report without any witness or proof (whatever the golden files hold).
    fn bare() -> Report {
        let mut r = golden();
        r.findings.iter_mut().for_each(|f| f.witness = None);
        r.minimality.catalog.unexpected.iter_mut().for_each(|g| g.witness = None);
        r.minimality.mutants.iter_mut().for_each(|m| (m.witness, m.proof) = (None, None));
        r
    }

    /// [`bare`] with a witness on its first surviving-mutant finding and mutant, and every
    /// equivalent mutant proven.
    fn with_witness_and_proof() -> Report {
        let mut r = bare();
        let w = crate::exact::Witness {
            action: "secretsmanager:CreateSecret".into(),
            resource: "arn:aws:secretsmanager:us-west-2:000000000000:secret:app/x<y".into(),
            context: [("aws:RequestedRegion".to_string(), vec!["eu-west-1".to_string()])].into(),
        };
        let f = r.findings.iter_mut().find(|f| f.kind == crate::analysis::FindingKind::SurvivingMutant);
        f.expect("the fixture has a surviving mutant").witness = Some(w.clone());
        let m = r.minimality.mutants.iter_mut().find(|m| m.status == MutantStatus::Survived);
        m.expect("the fixture has a surviving mutant").witness = Some(w);
        for e in r.minimality.mutants.iter_mut().filter(|m| m.status == MutantStatus::Equivalent) {
            let summary = "the two allow the same requests".into();
            e.proof = Some(crate::analysis::EquivalenceProof { summary, compared: vec![] });
        }
        r
    }

    #[test]
    fn the_golden_report_renders_as_its_golden_file() {
        // The golden files hold no witness or proof, so what this renderer adds for them
        // must leave the page as it was.
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
