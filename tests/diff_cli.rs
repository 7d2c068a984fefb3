//! `diff OLD NEW` through the real binary: the same template in YAML and JSON is equal
//! (exit 0), a widened grant is named with both locations (exit 1), bad input exits 2.

use std::path::Path;
use std::process::Command;

fn bin(args: &[&str], cwd: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_iam-conformance")).args(args).current_dir(cwd).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn seed() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/dkp-bootstrapper/template.yaml"))
        .unwrap()
}

#[test]
fn yaml_and_json_of_the_same_template_are_equal() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("seed.yaml"), seed()).unwrap();
    let (code, json, err) = bin(&["render", "--template", "seed.yaml"], tmp.path());
    assert_eq!(code, 0, "{err}");
    std::fs::write(tmp.path().join("seed.json"), json).unwrap();
    let (code, out, err) = bin(&["diff", "seed.yaml", "seed.json"], tmp.path());
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("unchanged"), "{out}");
}

#[test]
fn a_widened_grant_is_named_with_both_locations() {
    let tmp = tempfile::tempdir().unwrap();
    let old = seed();
    let new = old.replace("arn:*:iam::*:role/*.cluster-api-provider-aws.sigs.k8s.io", "arn:*:iam::*:role/*");
    assert_ne!(old, new);
    std::fs::write(tmp.path().join("old.yaml"), &old).unwrap();
    std::fs::write(tmp.path().join("new.yaml"), &new).unwrap();
    let (code, out, err) = bin(&["diff", "old.yaml", "new.yaml", "--format", "json"], tmp.path());
    assert_eq!(code, 1, "{out}{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let changes = doc["diff"]["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "only PassRole changed: {changes:#?}");
    let c = &changes[0];
    assert_eq!(c["action"], "iam:PassRole");
    assert_eq!(c["kind"], "widened");
    assert!(c["only_new"].as_array().unwrap().iter().any(|r| r == "arn:aws:iam::000000000000:role/example"), "{c}");
    assert!(c["old_statements"][0]["loc"]["file"].as_str().unwrap().ends_with("old.yaml"));
    assert!(c["new_statements"][0]["loc"]["file"].as_str().unwrap().ends_with("new.yaml"));
    let changed: Vec<&str> =
        doc["diff"]["scenario_changes"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert!(changed.contains(&"deny.passrole.bootstrapper-role"), "{changed:?}");
}

#[test]
fn bad_input_exits_2_with_its_location() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("old.yaml"), seed()).unwrap();
    std::fs::write(tmp.path().join("bad.yaml"), seed().replace("Effect: Allow", "Effect: allow")).unwrap();
    let (code, _, err) = bin(&["diff", "old.yaml", "bad.yaml"], tmp.path());
    assert_eq!(code, 2);
    assert!(err.starts_with("error: bad.yaml:"), "{err}");
    let (code, _, err) = bin(&["diff", "old.yaml", "missing.yaml"], tmp.path());
    assert_eq!(code, 2);
    assert!(err.contains("missing.yaml"), "{err}");
}
