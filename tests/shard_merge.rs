//! A run split in shards (`run --shard K/N`) and joined with `merge` gives the rows of
//! the whole run; a missing shard, a duplicate, or a report of another kind is refused.

use std::path::Path;
use std::process::Command;

fn bin(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_iam-conformance")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
    )
}

fn report(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

#[test]
fn two_shards_merge_into_the_whole_run() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, m) = (tmp.path().join("a"), tmp.path().join("b"), tmp.path().join("m"));
    let (code, out) = bin(&["run", "--shard", "1/2", "--report-dir", a.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = bin(&["run", "--shard", "2/2", "--report-dir", b.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    // Each shard reports the other's scenarios as belonging to it, not as passed.
    let ra = report(&a);
    let rows = ra["scenarios"].as_array().unwrap();
    assert_eq!(rows[1]["observed"], "skipped");
    assert_eq!(rows[1]["pass"], false);
    assert_eq!(rows[1]["note"], "belongs to shard 2/2");
    assert_eq!(ra["environment"]["shard"]["index"], 1);

    let (code, out) = bin(&[
        "merge",
        a.join("report.json").to_str().unwrap(),
        b.join("report.json").to_str().unwrap(),
        "--report-dir",
        m.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    let merged = report(&m);
    let rows = merged["scenarios"].as_array().unwrap();
    assert!(
        rows.iter().all(|r| !r["note"].as_str().unwrap_or_default().starts_with("belongs to shard")),
        "every row comes from its owner"
    );
    assert_eq!(merged["run"]["command"], "merge");
    assert!(merged["environment"].get("shard").is_none());
    let passed = rows.iter().filter(|r| r["pass"] == true).count();
    assert_eq!(merged["counts"]["scenarios_passed"], passed);
    assert!(passed > 140, "{passed} rows passed");
    assert!(m.join("report.html").is_file() && m.join("junit.xml").is_file());

    // Refusals: a shard missing, a shard twice, an unsharded report.
    let (code, out) = bin(&[
        "merge",
        a.join("report.json").to_str().unwrap(),
        "--report-dir",
        tmp.path().join("x").to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(out.contains("shards missing: 2/2"), "{out}");
    let (code, out) = bin(&[
        "merge",
        a.join("report.json").to_str().unwrap(),
        a.join("report.json").to_str().unwrap(),
        "--report-dir",
        tmp.path().join("y").to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(out.contains("given twice"), "{out}");
    let (code, out) = bin(&[
        "merge",
        m.join("report.json").to_str().unwrap(),
        "--report-dir",
        tmp.path().join("z").to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(out.contains("not the report of a sharded run"), "{out}");
    let (code, out) = bin(&["run", "--shard", "3/2", "--report-dir", tmp.path().join("w").to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(out.contains("--shard `3/2`"), "{out}");
}
