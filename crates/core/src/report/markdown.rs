//! `summary.md`: a page fit for a CI step summary or a pull-request comment.

use std::fmt::Write;

use super::Report;
use crate::analysis::{MutantStatus, Severity};
use crate::outcome::Observed;

/// `report` as `summary.md`, short enough for a CI step summary or a pull-request comment.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let c = &report.counts;
    let icon = match report.exit_code {
        0 => "✅",
        1 => "❌",
        _ => "⚠️",
    };
    let _ = writeln!(out, "# {icon} IAM conformance: {}\n", report.verdict_word());
    let _ = writeln!(
        out,
        "Profile `{}`, template `{}`, role `{}` (policies: {}), account `{}`, region `{}`.\n",
        report.subject.profile,
        report.subject.template,
        report.subject.role,
        report.subject.policies.join(", "),
        report.subject.account_id,
        report.subject.region
    );
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(
        out,
        "| scenarios | {} passed, {} failed ({} allow, {} deny) |",
        c.scenarios_passed, c.scenarios_failed, c.allow_scenarios, c.deny_scenarios
    );
    let _ = writeln!(
        out,
        "| mutants | {} killed, {} equivalent, {} survived (of {}) |",
        c.mutants_killed, c.mutants_equivalent, c.mutants_survived, c.mutants
    );
    let cov = &report.minimality.coverage;
    let _ = writeln!(out, "| granted actions exercised | {} of {} |", cov.exercised_actions, cov.granted_actions);
    let _ = writeln!(
        out,
        "| scoped statements crossed | {} of {} |",
        cov.scoped_statements - cov.uncrossed_statements.len(),
        cov.scoped_statements
    );
    let cat = &report.minimality.catalog;
    let _ = writeln!(
        out,
        "| catalog probe | {} actions, {} probes, {} allowed, {} unexpected |",
        cat.actions_in_catalog,
        cat.probes,
        cat.allowed_actions,
        cat.unexpected.len()
    );
    // A live run is decided by the gate or the service (AWS); `check` by the model alone.
    let decided_by = match &report.environment {
        Some(e) => format!("{} (live, {}); the static proof by the policy model", e.iam_decided_by.words(), e.target),
        None => "the policy model (static proof)".to_string(),
    };
    if let Some(e) = &report.environment {
        let _ = writeln!(out, "| skipped / undecided | {} skipped, {} errors |", e.skipped, e.errors);
    }
    let _ = writeln!(out, "| decided by | {decided_by} |\n");

    let failing: Vec<_> = report.findings.iter().filter(|f| f.severity != Severity::Info).collect();
    if !failing.is_empty() {
        let _ = writeln!(out, "## Findings\n");
        for f in failing {
            let at = f.loc.as_ref().map(|l| format!(" — `{l}`")).unwrap_or_default();
            let _ = writeln!(out, "- **{}**: {}{at}", f.kind.as_str(), f.message);
            // Only when the message does not already spell the request out.
            if let Some(w) = f.witness.as_ref().filter(|w| !f.message.contains(&w.describe())) {
                let _ = writeln!(out, "  - request: {}", w.describe());
            }
        }
        out.push('\n');
    }
    // Skipped rows neither passed nor failed: they get their own table.
    let failed: Vec<_> = report.scenarios.iter().filter(|s| !s.pass && s.observed != Observed::Skipped).collect();
    let skipped: Vec<_> = report.scenarios.iter().filter(|s| s.observed == Observed::Skipped).collect();
    for (title, rows) in [("Failed scenarios", failed), ("Skipped scenarios", skipped)] {
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "## {title}\n\n| scenario | call | expected | observed | decided by | why |\n|---|---|---|---|---|---|"
        );
        for s in rows {
            // The backend's or the harness's words (a decoded AWS denial, why it was skipped).
            let why = s.note.as_deref().unwrap_or("").replace('|', "\\|").replace('\n', " ");
            let _ = writeln!(
                out,
                "| `{}` | {}:{} | {} | {} | {} | {why} |",
                s.id,
                s.service,
                s.operation,
                s.expect.as_str(),
                s.observed,
                s.decided_by
            );
        }
        out.push('\n');
    }
    equivalent_mutants(&mut out, report);
    let drift = &report.minimality.drift;
    if !drift.no_known_caller.is_empty() || !drift.upstream_missing.is_empty() {
        let _ = writeln!(out, "## Upstream drift (informational)\n");
        for d in &drift.no_known_caller {
            let _ = writeln!(out, "- granted, no known caller: `{}`", d.action);
        }
        for d in &drift.upstream_missing {
            let state = if d.granted { "now granted" } else { "not granted" };
            let _ = writeln!(out, "- upstream calls `{}` ({}): {state}", d.action, d.source);
        }
        out.push('\n');
    }
    let notes: Vec<_> = report.findings.iter().filter(|f| f.severity == Severity::Info).collect();
    if !notes.is_empty() {
        let _ = writeln!(out, "## Notes\n");
        for f in notes {
            let _ = writeln!(out, "- {}", f.message);
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "<sub>run `{}`, iam-conformance {}, catalog {} {}</sub>",
        report.run.run_id, report.run.tool_version, report.catalog_source.package, report.catalog_source.version
    );
    out
}

/// The equivalent mutants: those the exact procedure proved, with its summary, then
/// those accepted on the profile's written reason alone.
fn equivalent_mutants(out: &mut String, report: &Report) {
    let equivalent = report.minimality.mutants.iter().filter(|m| m.status == MutantStatus::Equivalent);
    let (proven, accepted): (Vec<_>, Vec<_>) = equivalent.partition(|m| m.proof.is_some());
    if !proven.is_empty() {
        let _ = writeln!(out, "## Proven equivalent mutants\n");
        for m in proven {
            let summary = m.proof.as_ref().map(|p| p.summary.as_str()).unwrap_or_default();
            let _ = writeln!(out, "- `{}` ({}): proven: {summary}", m.id, m.loc);
            if let Some(reason) = &m.reason {
                let _ = writeln!(out, "  - the profile's reason: {reason}");
            }
        }
        out.push('\n');
    }
    if !accepted.is_empty() {
        // Without any proof in the report this is the section reports always had.
        let title = if report.minimality.mutants.iter().any(|m| m.proof.is_some()) {
            "Equivalent mutants accepted by written reason"
        } else {
            "Accepted equivalent mutants"
        };
        let _ = writeln!(out, "## {title}\n");
        for m in accepted {
            let _ = writeln!(out, "- `{}` ({}): {}", m.id, m.loc, m.reason.as_deref().unwrap_or(""));
        }
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::test_support::{bare, golden, with_witness_and_proof};

    #[test]
    fn the_golden_report_renders_as_its_golden_file() {
        // The renderer and the golden file agree (tests/reporters.rs regenerates it).
        assert_eq!(render(&golden()), include_str!("../../../../tests/golden/summary.md"));
    }

    #[test]
    fn without_witnesses_or_proofs_the_sections_are_as_before() {
        let text = render(&bare());
        assert!(text.contains("## Accepted equivalent mutants\n"), "{text}");
        assert!(!text.contains("request:") && !text.contains("Proven"), "{text}");
    }

    #[test]
    fn witnesses_are_requests_and_proven_mutants_are_apart() {
        let text = render(&with_witness_and_proof());
        assert!(
            text.contains("\n  - request: `secretsmanager:CreateSecret` on `arn:aws:secretsmanager:us-west-2:000000000000:secret:app/x<y` with aws:RequestedRegion=eu-west-1\n"),
            "{text}"
        );
        assert!(text.contains("## Proven equivalent mutants\n\n- `widen-arn-segment:"), "{text}");
        assert!(text.contains("): proven: the two allow the same requests\n"), "{text}");
        assert!(!text.contains("Accepted equivalent mutants"), "every equivalent mutant is proven: {text}");
    }

    #[test]
    fn unproven_equivalents_say_they_rest_on_the_written_reason_once_proofs_exist() {
        let mut r = with_witness_and_proof();
        let mut second = r.minimality.mutants.iter().find(|m| m.status == MutantStatus::Equivalent).cloned().unwrap();
        second.id = "another".into();
        second.proof = None;
        r.minimality.mutants.push(second);
        let text = render(&r);
        assert!(text.contains("## Equivalent mutants accepted by written reason\n\n- `another`"), "{text}");
    }
}
