//! `run --target aws` end to end, with the project's gate in front of moto standing in
//! for AWS: the gate answers in AWS's own denial shapes, so the AWS path (allow-list,
//! deploy with tags, AssumeRole, AWS-decided verdicts, tagging what the role creates,
//! teardown by tag, the simulator's absence) is exercised over real HTTP without an
//! account. Talks only to 127.0.0.1; stops what it starts.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use iam_conformance::emulator::{Emulator, cache_dir, ensure_moto, free_port};
use serde_json::Value;

struct Gate(Child);

impl Drop for Gate {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `iam-conformance gate` in front of `upstream`; returns it, its URL and the
/// administrator key it lets pass.
fn start_gate(upstream: &str) -> (Gate, String, String) {
    let port = free_port().unwrap();
    let listen = format!("127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_iam-conformance"))
        .args(["gate", "--upstream", upstream, "--listen", &listen, "--account-id", "123456789012"])
        .args(["--region", "us-west-2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let key = first
        .split("administrator key ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .unwrap_or_else(|| panic!("the gate names its administrator key: {first}"))
        .to_string();
    (Gate(child), format!("http://{listen}"), key)
}

#[test]
fn the_aws_path_runs_the_seed_against_an_enforcing_stand_in() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let venv = rt.block_on(ensure_moto(&cache_dir())).expect("moto installs");
    let moto = rt.block_on(Emulator::start_moto(&venv, tmp.path())).expect("moto starts");
    let (_gate, url, admin_key) = start_gate(&moto.endpoint);
    let dir = tmp.path().join("reports");
    let out = Command::new(env!("CARGO_BIN_EXE_iam-conformance"))
        .args(["run", "--target", "aws", "--mode", "live", "--endpoint", &url, "--region", "us-west-2"])
        .args(["--allow-account", "123456789012", "--report-dir", dir.to_str().unwrap()])
        .env_remove("IAM_CONFORMANCE_ALLOWED_ACCOUNTS")
        .env_remove("AWS_PROFILE")
        .env("HOME", tmp.path())
        .env("AWS_CONFIG_FILE", tmp.path().join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", tmp.path().join("no-credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", &admin_key)
        .env("AWS_SECRET_ACCESS_KEY", "any")
        .output()
        .unwrap();
    let shown =
        format!("stdout:\n{}\nstderr:\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("report.json")).unwrap_or_else(|_| panic!("report written\n{shown}")),
    )
    .unwrap();
    let env = &report["environment"];
    assert_eq!(env["iam_decided_by"], "aws", "{shown}");
    assert!(env["target"].as_str().unwrap().contains("AWS account 123456789012"), "{env}");
    let rows = report["scenarios"].as_array().unwrap();
    let decided: Vec<&Value> =
        rows.iter().filter(|r| r["observed"] == "allowed" || r["observed"] == "denied").collect();
    assert!(decided.len() > 100, "most scenarios are decided by the stand-in: {}\n{shown}", decided.len());
    for r in &decided {
        assert_eq!(r["decided_by"], "aws", "{r}");
    }
    // Every deny scenario the stand-in answered was denied, in AWS's words.
    for r in rows.iter().filter(|r| r["expect"] == "deny" && r["observed"] != "skipped") {
        assert_eq!(r["observed"], "denied", "{r}\n{shown}");
        assert!(
            r["backend"]["code"].as_str().is_some_and(|c| c.contains("Unauthorized")
                || c.contains("AccessDenied")
                || c.contains("NotPermitted")),
            "{r}"
        );
    }
    // No row errored: every call the harness made was answered and read.
    let errors: Vec<&Value> = rows.iter().filter(|r| r["observed"] == "error").collect();
    assert!(errors.is_empty(), "{errors:#?}\n{shown}");
    // moto has no policy simulator: the report says the oracle was not consulted.
    let findings = report["findings"].as_array().unwrap();
    assert!(
        findings
            .iter()
            .any(|f| f["message"].as_str().unwrap_or_default().contains("policy simulator was not consulted")),
        "{shown}"
    );
    // The teardown found what the role created by its tag: no VPC with the run's tag is left.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("the teardown left"), "{shown}");
    assert!(stdout.contains("account 123456789012"), "{shown}");
    assert_eq!(out.status.code(), Some(report["exit_code"].as_i64().unwrap() as i32), "{shown}");
    drop(moto);
}
