//! Joining the reports of a sharded run (`run --shard K/N`) into one: each scenario's
//! row and findings come from the shard that owns it; the static proof, identical in
//! every shard, from the first. The verdict is recomputed from the joined findings.

use super::Report;
use crate::analysis::{Severity, verdict_of};
use crate::outcome::Observed;

/// Why shard reports do not join: each variant names the report that does not fit.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    /// Nothing was given.
    #[error("no reports to merge")]
    NoReports,
    /// A report of a run that was not split.
    #[error("`{label}` is not the report of a sharded run (`run --shard K/N`)")]
    NotSharded {
        /// The report, as given.
        label: String,
    },
    /// A report written by another version of the report format.
    #[error("`{label}` has schema_version {version} where `{first}` has {first_version}")]
    SchemaVersion {
        /// The report that differs.
        label: String,
        /// Its schema version.
        version: u32,
        /// The first report given.
        first: String,
        /// The first report's schema version.
        first_version: u32,
    },
    /// A shard of a run split another way.
    #[error("`{label}` is shard {index}/{count} but `{first}` is of {first_count} shards")]
    ShardCount {
        /// The report that differs.
        label: String,
        /// Its shard's position.
        index: usize,
        /// How many shards its run had.
        count: usize,
        /// The first report given.
        first: String,
        /// How many shards the first report's run had.
        first_count: usize,
    },
    /// A shard of a run of another profile, template, role or target.
    #[error("`{label}` checks another profile, template, role or target than `{first}`")]
    OtherSubject {
        /// The report that differs.
        label: String,
        /// The first report given.
        first: String,
    },
    /// A shard of a run with other scenarios.
    #[error("`{label}` has other scenarios than `{first}`")]
    OtherScenarios {
        /// The report that differs.
        label: String,
        /// The first report given.
        first: String,
    },
    /// The same shard twice.
    #[error("shard {index}/{count} is given twice (again in `{label}`)")]
    Duplicate {
        /// The shard's position.
        index: usize,
        /// How many shards the run had.
        count: usize,
        /// The second report of that shard.
        label: String,
    },
    /// Shards not given.
    #[error("shards missing: {}", .missing.iter().map(|i| format!("{i}/{count}")).collect::<Vec<_>>().join(", "))]
    Missing {
        /// The missing shards' positions.
        missing: Vec<usize>,
        /// How many shards the run had.
        count: usize,
    },
}

/// Joins shard reports; `Err` names the report that does not fit.
pub fn merge(reports: Vec<(String, Report)>) -> Result<Report, MergeError> {
    let Some((first_label, first)) = reports.first() else { return Err(MergeError::NoReports) };
    let shard_of = |label: &str, r: &Report| {
        r.environment.as_ref().and_then(|e| e.shard).ok_or_else(|| MergeError::NotSharded { label: label.to_string() })
    };
    let count = shard_of(first_label, first)?.count;
    let mut by_index: Vec<Option<&Report>> = vec![None; count];
    for (label, r) in &reports {
        let sh = shard_of(label, r)?;
        let (label, first_label) = (label.clone(), first_label.clone());
        if r.schema_version != first.schema_version {
            return Err(MergeError::SchemaVersion {
                label,
                version: r.schema_version,
                first: first_label,
                first_version: first.schema_version,
            });
        }
        if sh.count != count {
            return Err(MergeError::ShardCount {
                label,
                index: sh.index,
                count: sh.count,
                first: first_label,
                first_count: count,
            });
        }
        let (a, b) = (&r.subject, &first.subject);
        if (&a.profile, &a.template, &a.template_digest, &a.role, &a.account_id, &a.region)
            != (&b.profile, &b.template, &b.template_digest, &b.role, &b.account_id, &b.region)
        {
            return Err(MergeError::OtherSubject { label, first: first_label });
        }
        let ids = |x: &Report| x.scenarios.iter().map(|s| s.id.clone()).collect::<Vec<_>>();
        if ids(r) != ids(first) {
            return Err(MergeError::OtherScenarios { label, first: first_label });
        }
        let slot = &mut by_index[sh.index - 1];
        if slot.is_some() {
            return Err(MergeError::Duplicate { index: sh.index, count, label });
        }
        *slot = Some(r);
    }
    let missing: Vec<usize> = by_index.iter().enumerate().filter(|(_, r)| r.is_none()).map(|(i, _)| i + 1).collect();
    if !missing.is_empty() {
        return Err(MergeError::Missing { missing, count });
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
    merged.counts.scenarios_failed =
        merged.scenarios.iter().filter(|s| !s.pass && s.observed != Observed::Skipped).count();
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
