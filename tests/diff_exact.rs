//! `diff OLD NEW` is exact through the real binary: a secret prefix that lost its trailing
//! slash (a widening a sample can miss) exits 1 and names a witness only the new template
//! allows, in JSON and in Markdown.

use std::path::{Path, PathBuf};
use std::process::Command;

fn bin(args: &[&str], cwd: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_iam-conformance")).args(args).current_dir(cwd).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The fixtures: the seed template, and the same with one secret Resource widened.
fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/diff")
}

const OLD_SECRET: &str = "secret:aws.cluster.x-k8s.io/";
const NEW_SECRET: &str = "secret:aws.cluster.x-k8s.io";

#[test]
fn a_prefix_without_its_slash_is_widened_with_a_witness() {
    let (code, out, err) = bin(&["diff", "old.yaml", "new.yaml", "--format", "json"], &fixtures());
    assert_eq!(code, 1, "differs: {out}{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let diff = &doc["diff"];
    assert_eq!(diff["equal"], false);
    assert!(diff.get("undecided").is_none(), "everything decided: {diff:#}");
    let changes = diff["changes"].as_array().unwrap();
    let actions: Vec<&str> = changes.iter().map(|c| c["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["secretsmanager:CreateSecret", "secretsmanager:DeleteSecret", "secretsmanager:TagResource"]);
    let mut resources = Vec::new();
    for c in changes {
        assert_eq!(c["kind"], "widened", "{c:#}");
        assert!(c.get("removed_witness").is_none(), "{c:#}");
        let w = &c["added_witness"];
        assert_eq!(w["action"], c["action"]);
        let resource = w["resource"].as_str().unwrap();
        assert!(resource.contains(NEW_SECRET) && !resource.contains(OLD_SECRET), "only the new allows it: {w}");
        resources.push(resource.to_string());
    }

    let (code, md, err) = bin(&["diff", "old.yaml", "new.yaml"], &fixtures());
    assert_eq!(code, 1, "{md}{err}");
    assert!(md.contains("### Requests to try"), "{md}");
    for r in &resources {
        assert!(md.contains(&format!("on `{r}`")), "the witness {r} is named: {md}");
    }
}

#[test]
fn the_fixtures_differ_from_each_other_only_by_that_line_and_the_old_equals_itself() {
    let read = |f: &str| std::fs::read_to_string(fixtures().join(f)).unwrap();
    let (old, new) = (read("old.yaml"), read("new.yaml"));
    let changed: Vec<(&str, &str)> = old.lines().zip(new.lines()).filter(|(a, b)| a != b).collect();
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert!(changed[0].0.ends_with("aws.cluster.x-k8s.io/*") && changed[0].1.ends_with("aws.cluster.x-k8s.io*"));
    let (code, out, err) = bin(&["diff", "old.yaml", "old.yaml"], &fixtures());
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("unchanged"), "{out}");
}

#[test]
fn a_policy_variable_leaves_diff_undecided_exit_2_not_equal() {
    // The same template twice, with a PassRole statement whose Resource reads
    // ${aws:username}: no difference exists, but the procedure cannot show it for
    // iam:PassRole, so diff cannot say "equal" (exit 2, the action listed).
    let tmp = tempfile::tempdir().unwrap();
    let seed = std::fs::read_to_string(fixtures().join("old.yaml")).unwrap();
    let statement = "        - Action:\n          - iam:PassRole\n          Effect: Allow\n          Resource:\n          - arn:*:iam::*:role/${aws:username}\n        Version: 2012-10-17";
    let text = seed.replacen("        Version: 2012-10-17", statement, 1);
    assert_ne!(text, seed, "the statement is added");
    std::fs::write(tmp.path().join("a.yaml"), &text).unwrap();
    std::fs::write(tmp.path().join("b.yaml"), &text).unwrap();
    let (code, out, err) = bin(&["diff", "a.yaml", "b.yaml", "--format", "json"], tmp.path());
    assert_eq!(code, 2, "{out}{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["diff"]["equal"], false);
    let undecided: Vec<&str> =
        doc["diff"]["undecided"].as_array().unwrap().iter().map(|u| u["action"].as_str().unwrap()).collect();
    assert_eq!(undecided, ["iam:PassRole"], "{doc:#}");
}
