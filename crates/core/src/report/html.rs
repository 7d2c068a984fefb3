//! `report.html`: one self-contained page (no scripts, no network) for a human sign-off:
//! the verdict first, then the findings, the action × scenario matrix with each decision
//! and who made it, the mutants, the drift and the environment. Readable when printed.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::Report;
use crate::analysis::{MutantStatus, Severity};
use crate::outcome::{DecidedBy, Observed};
use crate::xml::escape;

const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:72rem;color:#1b1f24;padding:0 1rem}
h1{font-size:1.6rem;margin:.2rem 0} h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d0d7de;padding-bottom:.2rem}
.verdict{padding:1rem 1.2rem;border-radius:.5rem;border:2px solid}
.conformant{background:#e6f4ea;border-color:#1a7f37} .nonconformant{background:#fdecea;border-color:#cf222e} .inconclusive{background:#fff8e1;border-color:#9a6700}
table{border-collapse:collapse;width:100%;margin:.5rem 0} th,td{border:1px solid #d0d7de;padding:.25rem .45rem;vertical-align:top;text-align:left;overflow-wrap:anywhere}
th{background:#f6f8fa} code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;overflow-wrap:anywhere}
table.matrix td:first-child{width:22rem;white-space:nowrap}
.chip{display:inline-block;margin:1px 2px;padding:0 .35rem;border-radius:.3rem;font-size:12px;border:1px solid #d0d7de;overflow-wrap:anywhere}
.allowed{background:#e6f4ea} .denied{background:#eef1f5} .fail{background:#fdecea;border-color:#cf222e;font-weight:600} .skipped{background:#fff8e1}
.muted{color:#57606a} .small{font-size:12px}
@media print{body{margin:0;max-width:none;font-size:11px} h2{break-after:avoid} tr{break-inside:avoid} .verdict{break-inside:avoid}}
";

/// The page for `report`, self-contained so it can be archived and printed as is.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let verdict = report.verdict_word();
    let c = &report.counts;
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>IAM conformance: {verdict}</title><style>{STYLE}</style></head><body>\n"
    );
    let decided = match &report.environment {
        Some(e) => format!(
            "live on {} (allow/deny decided by {}), with the static proof",
            escape(&e.target),
            escape(e.iam_decided_by.words())
        ),
        None => "static proof from the template (decided by the policy model)".into(),
    };
    let _ = writeln!(
        out,
        "<div class=\"verdict {verdict}\"><h1>IAM conformance: {verdict} (exit {})</h1><div>{} scenarios passed, {} failed ({} allow, {} deny); {} mutants killed, {} accepted as equivalent, {} survived; {} failing findings. {decided}.</div></div>",
        report.exit_code,
        c.scenarios_passed,
        c.scenarios_failed,
        c.allow_scenarios,
        c.deny_scenarios,
        c.mutants_killed,
        c.mutants_equivalent,
        c.mutants_survived,
        c.failing_findings
    );
    let s = &report.subject;
    let _ = writeln!(
        out,
        "<p class=\"muted\">Profile <code>{}</code>, template <code>{}</code>, role <code>{}</code> (policies: {}), account <code>{}</code>, region <code>{}</code>. Run <code>{}</code> of {}, iam-conformance {}, action catalog {} {}.</p>",
        escape(&s.profile),
        escape(&s.template),
        escape(&s.role),
        escape(&s.policies.join(", ")),
        escape(&s.account_id),
        escape(&s.region),
        escape(&report.run.run_id),
        escape(&report.run.generated_at),
        escape(&report.run.tool_version),
        escape(&report.catalog_source.package),
        escape(&report.catalog_source.version)
    );

    let _ = writeln!(out, "<h2>Findings</h2>");
    let findings: Vec<_> = report.findings.iter().filter(|f| f.severity != Severity::Info).collect();
    if findings.is_empty() {
        let _ = writeln!(out, "<p>None that fail or leave the verdict open.</p>");
    } else {
        let _ = writeln!(out, "<table><tr><th>kind</th><th>severity</th><th>what</th><th>where</th></tr>");
        for f in findings {
            let at = f.loc.as_ref().map(|l| escape(&l.to_string())).unwrap_or_default();
            let request = f.witness.as_ref().map(|w| format!("<br>{}", request_html(w))).unwrap_or_default();
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{:?}</td><td>{}{request}</td><td><code>{at}</code></td></tr>",
                f.kind.as_str(),
                f.severity,
                escape(&f.message)
            );
        }
        let _ = writeln!(out, "</table>");
    }

    // Action × scenario: for each action a scenario checks, every scenario that checks
    // it with the decision it got and who decided.
    let mut matrix: BTreeMap<&str, Vec<(&str, String, &str, &str)>> = BTreeMap::new();
    let words = |o: crate::policy::Outcome| match o {
        crate::policy::Outcome::Allowed => "allowed",
        crate::policy::Outcome::ExplicitDeny => "explicit deny",
        crate::policy::Outcome::ImplicitDeny => "implicit deny",
    };
    for row in &report.scenarios {
        for check in &row.checks {
            // Live rows show what the gate decided for the action, static rows the model.
            let live = row.gate_checks.iter().find(|g| g.check.action == check.action).map(|g| g.outcome);
            let decision = match (row.observed, live) {
                (Observed::Skipped | Observed::Error, _) => row.observed.to_string(),
                (_, Some(outcome)) => words(outcome).to_string(),
                // Decided by a backend without the gate's per-check record (AWS): the call's
                // decision, which is all AWS says.
                (observed, None) if matches!(row.decided_by, DecidedBy::Aws | DecidedBy::Service) => {
                    observed.to_string()
                }
                (_, None) => words(check.outcome).to_string(),
            };
            let class = match row.observed {
                Observed::Skipped => "skipped",
                _ if !row.pass => "fail",
                _ if decision == "allowed" => "allowed",
                _ => "denied",
            };
            let cell =
                (row.id.as_str(), format!("{decision} · {}", row.decided_by), class, row.note.as_deref().unwrap_or(""));
            let cells = matrix.entry(check.action.as_str()).or_default();
            if !cells.iter().any(|(id, _, _, _)| *id == cell.0) {
                cells.push(cell);
            }
        }
    }
    let _ = writeln!(
        out,
        "<h2>Actions × scenarios</h2><p class=\"small muted\">Each cell: scenario, its decision for that action, who decided (model = static proof, gate = the project's IAM gate, service = the emulator, aws = AWS itself). Red cells are failing scenarios, yellow ones were not run live (the report says why).</p>"
    );
    let _ = writeln!(out, "<table class=\"matrix\"><tr><th>action</th><th>scenarios</th></tr>");
    for (action, cells) in &matrix {
        let chips: String = cells
            .iter()
            .map(|(id, d, class, note)| {
                let title = if note.is_empty() { String::new() } else { format!(" title=\"{}\"", escape(note)) };
                format!("<span class=\"chip {class}\"{title}>{} — {}</span>", escape(id), escape(d))
            })
            .collect();
        let _ = writeln!(out, "<tr><td><code>{}</code></td><td>{chips}</td></tr>", escape(action));
    }
    let _ = writeln!(out, "</table>");
    // Why each scenario that did not pass ended as it did, in the backend's or the
    // harness's words (printed, unlike the chips' tooltips).
    let why: Vec<_> = report.scenarios.iter().filter(|r| !r.pass && r.note.is_some()).collect();
    if !why.is_empty() {
        let _ =
            writeln!(out, "<h2>Why, per scenario</h2><table><tr><th>scenario</th><th>observed</th><th>why</th></tr>");
        for r in why {
            let _ = writeln!(
                out,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                escape(&r.id),
                escape(r.observed.as_str()),
                escape(r.note.as_deref().unwrap_or(""))
            );
        }
        let _ = writeln!(out, "</table>");
    }

    let m = &report.minimality;
    let _ = writeln!(
        out,
        "<h2>Minimality</h2><p>{} of {} granted actions exercised; {} of {} scoped statements crossed by a denied scenario; catalog probe: {} actions, {} probes, {} allowed, {} unexpected.</p>",
        m.coverage.exercised_actions,
        m.coverage.granted_actions,
        m.coverage.scoped_statements - m.coverage.uncrossed_statements.len(),
        m.coverage.scoped_statements,
        m.catalog.actions_in_catalog,
        m.catalog.probes,
        m.catalog.allowed_actions,
        m.catalog.unexpected.len()
    );
    let _ = writeln!(out, "<table><tr><th>mutant</th><th>status</th><th>where</th><th>noticed by / reason</th></tr>");
    let any_proof = m.mutants.iter().any(|mu| mu.proof.is_some());
    for mu in &m.mutants {
        let (status, why) = match mu.status {
            MutantStatus::Killed => ("killed", escape(&mu.killed_by.join(", "))),
            MutantStatus::Equivalent => ("equivalent", equivalence_html(mu, any_proof)),
            MutantStatus::Survived => {
                ("<strong>survived</strong>", mu.witness.as_ref().map(request_html).unwrap_or_default())
            }
        };
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code><br><span class=\"small\">{}</span></td><td>{status}</td><td><code>{}</code></td><td class=\"small\">{why}</td></tr>",
            escape(&mu.id),
            escape(&mu.description),
            escape(&mu.loc.to_string()),
        );
    }
    let _ = writeln!(out, "</table>");

    let _ = writeln!(out, "<h2>Upstream drift (informational)</h2><ul>");
    for d in &m.drift.no_known_caller {
        let _ = writeln!(
            out,
            "<li>granted, no known caller: <code>{}</code> ({})</li>",
            escape(&d.action),
            escape(&d.scenarios.join(", "))
        );
    }
    for d in &m.drift.upstream_missing {
        let _ = writeln!(
            out,
            "<li>upstream calls <code>{}</code> ({}): {}</li>",
            escape(&d.action),
            escape(&d.source),
            if d.granted { "now granted" } else { "not granted" }
        );
    }
    let _ = writeln!(out, "</ul>");

    if let Some(e) = &report.environment {
        let _ = writeln!(out, "<h2>Environment</h2><table>");
        let rows = [
            ("target", e.target.clone()),
            ("endpoint", e.endpoint.clone()),
            ("allow/deny decided by", e.iam_decided_by.to_string()),
            (
                "the emulator enforces IAM itself (deny canary)",
                e.service_enforces_iam.map(|b| b.to_string()).unwrap_or_else(|| "unknown (no answer)".into()),
            ),
            ("stack", e.stack.clone()),
            ("role", e.role_arn.clone()),
            ("skipped / errors", format!("{} / {}", e.skipped, e.errors)),
            ("phases", e.phase_seconds.iter().map(|(n, t)| format!("{n} {t:.2} s")).collect::<Vec<_>>().join(", ")),
        ];
        for (k, v) in rows {
            let _ = writeln!(out, "<tr><th>{k}</th><td><code>{}</code></td></tr>", escape(&v));
        }
        let _ = writeln!(out, "</table>");
    }
    let notes: Vec<_> = report.findings.iter().filter(|f| f.severity == Severity::Info).collect();
    if !notes.is_empty() {
        let _ = writeln!(out, "<h2>Notes</h2><ul>");
        for f in notes {
            let _ = writeln!(out, "<li class=\"small\">{}</li>", escape(&f.message));
        }
        let _ = writeln!(out, "</ul>");
    }
    let _ = writeln!(out, "</body></html>");
    out
}

/// A witness as a request a reader can try: action, resource and context keys.
fn request_html(w: &crate::exact::Witness) -> String {
    let mut text = format!("request: <code>{}</code> on <code>{}</code>", escape(&w.action), escape(&w.resource));
    let keys: Vec<String> =
        w.context.iter().map(|(k, v)| format!("<code>{}={}</code>", escape(k), escape(&v.join(",")))).collect();
    if !keys.is_empty() {
        text.push_str(&format!(" with {}", keys.join(", ")));
    }
    format!("<span class=\"small\">{text}</span>")
}

/// Why a mutant is equivalent: the exact procedure's proof, or the profile's reason
/// alone (said as such once some proof exists, else as reports always showed it).
fn equivalence_html(mu: &crate::analysis::MutantResult, any_proof: bool) -> String {
    let reason = escape(mu.reason.as_deref().unwrap_or_default());
    match &mu.proof {
        Some(p) if reason.is_empty() => format!("<strong>proven</strong>: {}", escape(&p.summary)),
        Some(p) => format!("<strong>proven</strong>: {}<br>the profile's reason: {reason}", escape(&p.summary)),
        None if any_proof => format!("accepted by written reason: {reason}"),
        None => reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::test_support::{bare, golden, with_witness_and_proof};

    #[test]
    fn the_golden_report_renders_as_its_golden_file() {
        // The renderer and the golden file agree (tests/reporters.rs regenerates it).
        assert_eq!(render(&golden()), include_str!("../../../../tests/golden/report.html"));
    }

    #[test]
    fn without_witnesses_or_proofs_nothing_is_added() {
        let text = render(&bare());
        assert!(!text.contains("request:") && !text.contains("proven") && !text.contains("written reason"), "{text}");
    }

    #[test]
    fn witnesses_are_escaped_requests_and_proofs_are_marked() {
        let text = render(&with_witness_and_proof());
        let request = "request: <code>secretsmanager:CreateSecret</code> on <code>arn:aws:secretsmanager:us-west-2:000000000000:secret:app/x&lt;y</code> with <code>aws:RequestedRegion=eu-west-1</code>";
        assert_eq!(text.matches(request).count(), 2, "in the finding and the mutant's row: {text}");
        assert!(
            text.contains("<strong>proven</strong>: the two allow the same requests<br>the profile's reason: "),
            "{text}"
        );
    }

    #[test]
    fn an_unproven_equivalent_is_marked_accepted_once_proofs_exist() {
        let mut r = with_witness_and_proof();
        let mut second = r.minimality.mutants.iter().find(|m| m.status == MutantStatus::Equivalent).cloned().unwrap();
        (second.proof, second.reason) = (None, Some("no request tells them apart".into()));
        r.minimality.mutants.push(second);
        assert!(render(&r).contains("accepted by written reason: no request tells them apart"));
    }
}
