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
    let equivalent: Vec<_> =
        report.minimality.mutants.iter().filter(|m| m.status == MutantStatus::Equivalent).collect();
    if !equivalent.is_empty() {
        let _ = writeln!(out, "## Accepted equivalent mutants\n");
        for m in equivalent {
            let _ = writeln!(out, "- `{}` ({}): {}", m.id, m.loc, m.reason.as_deref().unwrap_or(""));
        }
        out.push('\n');
    }
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
