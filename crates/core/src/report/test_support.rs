//! Reports the renderers' tests share: the golden fixture's, bare of witnesses and proofs,
//! and with them.

use super::Report;
use crate::analysis::MutantStatus;

/// The golden fixture's report, as the report tests read it back.
pub(super) fn golden() -> Report {
    serde_json::from_str(include_str!("../../../../tests/golden/report.json")).expect("golden report reads")
}

/// The golden report without any witness or proof (whatever the golden files hold).
pub(super) fn bare() -> Report {
    let mut r = golden();
    r.findings.iter_mut().for_each(|f| f.witness = None);
    r.minimality.catalog.unexpected.iter_mut().for_each(|g| g.witness = None);
    r.minimality.mutants.iter_mut().for_each(|m| (m.witness, m.proof) = (None, None));
    r
}

/// [`bare`] with a witness on its first surviving-mutant finding and mutant, and every
/// equivalent mutant proven.
pub(super) fn with_witness_and_proof() -> Report {
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
