//! Joining the reports of a sharded run (`run --shard K/N`) into one: each scenario's
//! row and findings come from the shard that owns it; the static proof, identical in
//! every shard, from the first. The verdict is recomputed from the joined findings.

use super::Report;
use crate::analysis::{Severity, verdict_of};
use crate::outcome::Observed;

/// Joins shard reports; `Err` names the report that does not fit.
pub fn merge(reports: Vec<(String, Report)>) -> Result<Report, String> {
    let Some((first_label, first)) = reports.first() else { return Err("no reports to merge".into()) };
    let shard_of = |label: &str, r: &Report| {
        r.environment
            .as_ref()
            .and_then(|e| e.shard)
            .ok_or_else(|| format!("`{label}` is not the report of a sharded run (`run --shard K/N`)"))
    };
    let count = shard_of(first_label, first)?.count;
    let mut by_index: Vec<Option<&Report>> = vec![None; count];
    for (label, r) in &reports {
        let sh = shard_of(label, r)?;
        if r.schema_version != first.schema_version {
            return Err(format!(
                "`{label}` has schema_version {} where `{first_label}` has {}",
                r.schema_version, first.schema_version
            ));
        }
        if sh.count != count {
            return Err(format!(
                "`{label}` is shard {}/{} but `{first_label}` is of {count} shards",
                sh.index, sh.count
            ));
        }
        let (a, b) = (&r.subject, &first.subject);
        if (&a.profile, &a.template, &a.template_digest, &a.role, &a.account_id, &a.region)
            != (&b.profile, &b.template, &b.template_digest, &b.role, &b.account_id, &b.region)
        {
            return Err(format!("`{label}` checks another profile, template, role or target than `{first_label}`"));
        }
        let ids = |x: &Report| x.scenarios.iter().map(|s| s.id.clone()).collect::<Vec<_>>();
        if ids(r) != ids(first) {
            return Err(format!("`{label}` has other scenarios than `{first_label}`"));
        }
        let slot = &mut by_index[sh.index - 1];
        if slot.is_some() {
            return Err(format!("shard {}/{count} is given twice (again in `{label}`)", sh.index));
        }
        *slot = Some(r);
    }
    let missing: Vec<String> =
        by_index.iter().enumerate().filter(|(_, r)| r.is_none()).map(|(i, _)| format!("{}/{count}", i + 1)).collect();
    if !missing.is_empty() {
        return Err(format!("shards missing: {}", missing.join(", ")));
    }
    let shards: Vec<&Report> = by_index.into_iter().flatten().collect();

    let mut merged = first.clone();
    // Findings about no single scenario (the static proof's) are the same in every shard.
    let mut findings: Vec<_> = first.findings.iter().filter(|f| f.scenario.is_none()).cloned().collect();
    let (mut skipped, mut errors, mut requests, mut decision_ms, mut request_ms) = (0, 0, 0, 0.0, 0.0);
    for (position, row) in merged.scenarios.iter_mut().enumerate() {
        let owner = shards[position % count];
        *row = owner.scenarios[position].clone();
        findings.extend(owner.findings.iter().filter(|f| f.scenario.as_deref() == Some(row.id.as_str())).cloned());
        skipped += usize::from(row.observed == Observed::Skipped);
        errors += usize::from(row.observed == Observed::Error);
    }
    for r in &shards {
        if let Some(e) = &r.environment {
            requests += e.gate_requests;
            decision_ms += e.gate_decision_ms;
            request_ms += e.gate_request_ms;
        }
    }
    findings.sort_by_key(|f| (f.severity, f.kind));
    merged.verdict = verdict_of(&findings);
    merged.exit_code = merged.verdict.exit_code();
    merged.counts.scenarios_passed = merged.scenarios.iter().filter(|s| s.pass).count();
    merged.counts.scenarios_failed = merged.scenarios.iter().filter(|s| !s.pass && s.observed != Observed::Skipped).count();
    merged.counts.failing_findings = findings.iter().filter(|f| f.severity == Severity::Fail).count();
    merged.findings = findings;
    merged.run.command = "merge".into();
    if let Some(e) = merged.environment.as_mut() {
        e.shard = None;
        e.skipped = skipped;
        e.errors = errors;
        e.gate_requests = requests;
        e.gate_decision_ms = decision_ms;
        e.gate_request_ms = request_ms;
        // Phases ran once per shard, in parallel: the slowest shard is the wall time.
        e.run_seconds = shards.iter().filter_map(|r| r.environment.as_ref().map(|e| e.run_seconds)).fold(0.0, f64::max);
        e.scenario_seconds =
            shards.iter().filter_map(|r| r.environment.as_ref().map(|e| e.scenario_seconds)).fold(0.0, f64::max);
        e.phase_seconds.clear();
    }
    Ok(merged)
}
