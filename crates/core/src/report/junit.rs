//! `junit.xml`: one test suite per service with a test case per scenario, and a
//! `minimality` suite with one case per kind of finding, so CI shows both.

use quick_junit::{NonSuccessKind, Report as JunitReport, TestCase, TestCaseStatus, TestSuite};

use super::Report;
use crate::analysis::{FindingKind, Severity};

const FINDING_CASES: &[(FindingKind, &str)] = &[
    (FindingKind::UnexpectedGrant, "catalog: no unexpected grants"),
    (FindingKind::UnexercisedAction, "coverage: every granted action exercised"),
    (FindingKind::UncrossedStatement, "coverage: every scoped statement crossed"),
    (FindingKind::SurvivingMutant, "mutants: none survives"),
    (FindingKind::ExternalPolicy, "model: no policies from outside the template"),
];

/// `report` as JUnit XML, so CI systems show each scenario as a test case.
pub fn render(report: &Report) -> String {
    let mut junit = JunitReport::new(format!("iam-conformance {}", report.run.command));
    let mut services: Vec<&str> = report.scenarios.iter().map(|s| s.service.as_str()).collect();
    services.sort_unstable();
    services.dedup();
    for service in services {
        let mut suite = TestSuite::new(service);
        for s in report.scenarios.iter().filter(|s| s.service == service) {
            let status = if s.pass {
                TestCaseStatus::success()
            } else if s.observed == crate::outcome::Observed::Skipped {
                // Not run live: neither passed nor failed; its verdict rests on the static proof.
                let mut st = TestCaseStatus::skipped();
                st.set_message(s.note.clone().unwrap_or_default());
                st
            } else {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                let failing: Vec<String> = s
                    .checks
                    .iter()
                    .filter(|c| !c.pass)
                    .map(|c| {
                        format!("{} on {}: expected {}, got {:?}", c.action, c.resource, c.expect.as_str(), c.outcome)
                    })
                    .collect();
                st.set_message(format!(
                    "expected {}, observed {} (decided by {})",
                    s.expect.as_str(),
                    s.observed,
                    s.decided_by
                ));
                let mut description = failing.join("\n");
                if let Some(note) = &s.note {
                    description.push_str(&format!("\n{note}"));
                }
                st.set_description(description.trim().to_string());
                st
            };
            let mut case = TestCase::new(format!("{} {}", s.id, s.operation), status);
            case.set_classname(format!("{}.{}", report.subject.profile, s.service));
            suite.add_test_case(case);
        }
        junit.add_test_suite(suite);
    }
    let mut minimality = TestSuite::new("minimality");
    for (kind, name) in FINDING_CASES {
        let found: Vec<String> = report
            .findings
            .iter()
            .filter(|f| f.kind == *kind && f.severity != Severity::Info)
            .map(|f| match &f.loc {
                Some(loc) => format!("{loc}: {}", f.message),
                None => f.message.clone(),
            })
            .collect();
        let status = if found.is_empty() {
            TestCaseStatus::success()
        } else {
            let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
            st.set_message(format!("{} finding(s)", found.len()));
            st.set_description(found.join("\n"));
            st
        };
        minimality.add_test_case(TestCase::new(*name, status));
    }
    junit.add_test_suite(minimality);
    junit.to_string().unwrap_or_default()
}
