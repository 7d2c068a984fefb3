//! Golden-file tests for every reporter, on a small fixture profile whose proof has a
//! missing grant, surviving mutants, an accepted mutant and drift. The run id and
//! timestamp are fixed, so nothing needs redacting. Set UPDATE_GOLDEN=1 to rewrite the
//! golden files after an intended change, and review the diff.

use std::path::{Path, PathBuf};

use iamc_core::catalog::Catalog;
use iamc_core::load::ProfileSource;
use iamc_core::report::{Report, RunInfo, SubjectInfo, junit, markdown, terminal};
use iamc_core::template::render::Target;
use iamc_live::files::load;

fn fixture_report() -> Report {
    let target = Target::default();
    let loaded = load(&ProfileSource::Dir(PathBuf::from("tests/fixtures/mini")), None, &target).expect("fixture loads");
    let catalog = Catalog::embedded();
    let proof = loaded.prove(&target);
    Report::new(
        proof,
        RunInfo {
            run_id: "RUN-ID".into(),
            command: "check".into(),
            generated_at: "TIMESTAMP".into(),
            tool_version: "VERSION".into(),
        },
        SubjectInfo::of(&loaded, &target),
        catalog.source.clone(),
    )
}

fn compare(name: &str, actual: &str) {
    let path = Path::new("tests/golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", path.display()));
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{} differs from the golden file at line {}:\n  golden: {:?}\n  actual: {:?}\n(rerun with UPDATE_GOLDEN=1 if the change is intended)",
            path.display(),
            first + 1,
            expected.lines().nth(first),
            actual.lines().nth(first)
        );
    }
}

#[test]
fn the_fixture_proof_is_what_the_golden_files_show() {
    let report = fixture_report();
    // The facts the golden files encode, asserted directly so a regenerated golden
    // file cannot silently bless a wrong verdict.
    assert_eq!(report.exit_code, 1);
    assert_eq!(report.counts.scenarios_failed, 1);
    assert!(report.findings.iter().any(|f| f.action.as_deref() == Some("ec2:CreateSubnet")));
    // Widening the partition survives (another partition's secret tells it apart); widening
    // the service or the `secret` part is proven equivalent by the exact procedure, one of
    // them also carrying the profile's written reason.
    assert_eq!(report.counts.mutants_survived, 1);
    assert_eq!(report.counts.mutants_equivalent, 2);
    let survivor = report.findings.iter().find(|f| f.kind.as_str() == "surviving_mutant").expect("a survivor");
    let witness = survivor.witness.as_ref().expect("with a witness request");
    assert!(!witness.resource.starts_with("arn:aws:"), "another partition: {witness:?}");
}

#[test]
fn report_json_matches_golden() {
    compare("report.json", &fixture_report().to_json());
}

#[test]
fn junit_matches_golden() {
    compare("junit.xml", &junit::render(&fixture_report()));
}

#[test]
fn summary_md_matches_golden() {
    compare("summary.md", &markdown::render(&fixture_report()));
}

#[test]
fn html_matches_golden() {
    compare("report.html", &iamc_core::report::html::render(&fixture_report()));
}

#[test]
fn terminal_summary_matches_golden() {
    compare("terminal.txt", &terminal::render(&fixture_report()));
}

#[test]
fn report_json_reads_back_as_written() {
    // `merge` reads shard reports back: what report.json says must be all of the report.
    let report = fixture_report();
    let text = report.to_json();
    let read: Report = serde_json::from_str(&text).expect("report.json reads back");
    assert_eq!(read.to_json(), text);
}

#[test]
fn live_notes_reach_every_human_report() {
    // A live row AWS denied (with its decoded reason) and one it could not serve.
    let mut report = fixture_report();
    let decoded = "AWS decoded: ec2:CreateSubnet on arn:aws:ec2:us-west-2:000000000000:subnet/*: implicit deny (no statement matched)";
    {
        let row = report.scenarios.iter_mut().find(|r| r.id == "ec2.create-subnet").unwrap();
        row.observed = iamc_core::outcome::Observed::Denied;
        row.decided_by = iamc_core::outcome::DecidedBy::Aws;
        row.note = Some(decoded.into());
    }
    {
        let row = report.scenarios.iter_mut().find(|r| r.id == "ec2.describe-vpcs").unwrap();
        row.observed = iamc_core::outcome::Observed::Skipped;
        row.pass = false;
        row.note = Some("backend answered HTTP 501 (not served)".into());
    }
    let md = markdown::render(&report);
    assert!(md.contains(decoded), "{md}");
    let html = iamc_core::report::html::render(&report);
    assert!(html.contains("Why, per scenario") && html.contains("implicit deny (no statement matched)"), "{html}");
    // The AWS-decided cell shows AWS's decision for the call, not the model's.
    assert!(html.contains("ec2.create-subnet — denied · aws"), "{html}");
    let xml = junit::render(&report);
    assert!(xml.contains("implicit deny (no statement matched)"), "{xml}");
    assert!(xml.contains("<skipped message=\"backend answered HTTP 501 (not served)\""), "{xml}");
}

#[test]
fn summary_keeps_skipped_rows_apart_and_names_the_live_decider() {
    let mut report = fixture_report();
    {
        let row = report.scenarios.iter_mut().find(|r| r.id == "ec2.describe-vpcs").unwrap();
        row.observed = iamc_core::outcome::Observed::Skipped;
        row.pass = false;
        row.note = Some("backend answered HTTP 501 (not served)".into());
    }
    let static_md = markdown::render(&report);
    assert!(static_md.contains("| decided by | the policy model (static proof) |"), "{static_md}");
    let skipped = static_md.split("## Skipped scenarios").nth(1).expect("a skipped table");
    assert!(skipped.contains("`ec2.describe-vpcs`"), "{static_md}");
    let failed = static_md.split("## Failed scenarios").nth(1).map(|t| t.split("## ").next().unwrap_or(t));
    assert!(
        !failed.unwrap_or_default().contains("`ec2.describe-vpcs`"),
        "a skipped row is not a failed one:\n{static_md}"
    );
    // A live run says who decided: the gate (or AWS), not the policy model.
    let environment: iamc_core::report::Environment = serde_json::from_value(serde_json::json!({
        "target": "moto 5.2.5", "endpoint": "http://127.0.0.1:1", "gate": "iam-conformance gate (127.0.0.1)",
        "iam_decided_by": "gate", "service_enforces_iam": false, "stack": "s", "role_arn": "arn:aws:iam::1:role/r",
        "skipped": 1, "errors": 0, "gate_requests": 0, "gate_decision_ms": 0.0, "gate_request_ms": 0.0,
        "scenario_seconds": 0.0, "run_seconds": 0.0, "phase_seconds": []
    }))
    .unwrap();
    report.environment = Some(environment);
    let live_md = markdown::render(&report);
    assert!(live_md.contains("| decided by | the gate (live, moto 5.2.5)"), "{live_md}");
    assert!(live_md.contains("| skipped / undecided | 1 skipped, 0 errors |"), "{live_md}");
}
