//! The guards of `--target aws` and `sweep`, proved against a replay server on
//! 127.0.0.1 that records every call: no allow-list → nothing called; an account not on
//! the list → only GetCallerIdentity called; a run above `--max-cost` → nothing called.
//! Nothing here can reach AWS: every command gets `--endpoint` and fake keys.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::replay::{Replay, caller};

/// The binary with a clean AWS environment: fake static keys, no shared config, no
/// instance metadata, no allow-list from the caller's environment.
fn binary(args: &[&str], home: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_iam-conformance"))
        .args(args)
        .env_remove("IAM_CONFORMANCE_ALLOWED_ACCOUNTS")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_WEB_IDENTITY_TOKEN_FILE")
        .env_remove("AWS_ROLE_ARN")
        .env("HOME", home)
        .env("AWS_CONFIG_FILE", home.join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("no-credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", "AKIAREPLAYADMIN00001")
        .env("AWS_SECRET_ACCESS_KEY", "replay-secret")
        .output()
        .expect("the binary runs")
}

fn text(o: &Output) -> String {
    format!("stdout:\n{}\nstderr:\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn without_an_allow_list_nothing_is_called() {
    let home = tempfile::tempdir().unwrap();
    let replay = Replay::start(vec![("GetCallerIdentity", vec![caller("123456789012")])]);
    for args in [
        vec!["run", "--target", "aws", "--endpoint", replay.url.as_str()],
        vec!["sweep", "--run-id", "20261128T000000Z-1", "--endpoint", replay.url.as_str()],
    ] {
        let o = binary(&args, home.path());
        assert_eq!(o.status.code(), Some(2), "{args:?}\n{}", text(&o));
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(stderr.contains("--allow-account") && stderr.contains("IAM_CONFORMANCE_ALLOWED_ACCOUNTS"), "{stderr}");
    }
    assert_eq!(replay.actions(), Vec::<String>::new(), "no call may be made without an allow-list");
}

#[test]
fn an_account_off_the_list_gets_only_get_caller_identity() {
    let home = tempfile::tempdir().unwrap();
    let replay = Replay::start(vec![("GetCallerIdentity", vec![caller("123456789012")])]);
    let reports = home.path().join("reports");
    let o = binary(
        &[
            "run",
            "--target",
            "aws",
            "--endpoint",
            &replay.url,
            "--allow-account",
            "111122223333",
            "--report-dir",
            reports.to_str().unwrap(),
        ],
        home.path(),
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("123456789012") && stderr.contains("not on the allow-list"), "{stderr}");
    assert_eq!(replay.actions(), vec!["GetCallerIdentity".to_string()]);
    assert!(!reports.join("report.json").exists(), "a refused run writes no report");

    // The same for sweep, with the list from the environment variable.
    let o = Command::new(env!("CARGO_BIN_EXE_iam-conformance"))
        .args(["sweep", "--older-than", "6h", "--endpoint", &replay.url])
        .env("IAM_CONFORMANCE_ALLOWED_ACCOUNTS", "111122223333,444455556666")
        .env("HOME", home.path())
        .env("AWS_CONFIG_FILE", home.path().join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.path().join("no-credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", "AKIAREPLAYADMIN00001")
        .env("AWS_SECRET_ACCESS_KEY", "replay-secret")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert_eq!(replay.actions(), vec!["GetCallerIdentity".to_string(), "GetCallerIdentity".to_string()]);
}

#[test]
fn a_run_above_max_cost_is_refused_before_any_call() {
    let home = tempfile::tempdir().unwrap();
    let replay = Replay::start(vec![("GetCallerIdentity", vec![caller("123456789012")])]);
    let o = binary(
        &[
            "run",
            "--target",
            "aws",
            "--mode",
            "live",
            "--max-cost",
            "0.01",
            "--endpoint",
            &replay.url,
            "--allow-account",
            "123456789012",
        ],
        home.path(),
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stdout.contains("NAT gateway"), "the estimate is printed first: {stdout}");
    assert!(stderr.contains("--max-cost"), "{stderr}");
    assert_eq!(replay.actions(), Vec::<String>::new());
}

#[test]
fn bad_aws_options_are_refused_with_exit_2() {
    let home = tempfile::tempdir().unwrap();
    let replay = Replay::start(vec![("GetCallerIdentity", vec![caller("123456789012")])]);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--max-cost=-3"], "--max-cost"),
        (vec!["--expires-in", "soon"], "--expires-in"),
        (vec!["--principal", "user"], "--stack"),
        (vec!["--principal", "user", "--stack", "s"], "--user-profile"),
        (vec!["--principal", "instance-profile", "--stack", "s"], "--aws-profile"),
        // A run that assumes deploys and deletes its own stack: never one named by hand.
        (vec!["--stack", "someone-elses-stack"], "--stack"),
        (vec!["--account-id", "123456789012"], "--account-id"),
        (vec!["--region", "us-west-2.evil.example"], "--region"),
        (vec!["--region", "cn-north-1"], "aws partition"),
        (vec!["--expires-in", "99999999999999999s"], "--expires-in"),
        // A named profile that does not exist fails; it does not fall back to the
        // environment's keys (which would be someone else).
        (vec!["--aws-profile", "no-such-profile"], "no-such-profile"),
    ];
    for (extra, says) in cases {
        let mut args =
            vec!["run", "--target", "aws", "--endpoint", replay.url.as_str(), "--allow-account", "123456789012"];
        args.extend(extra.iter());
        let o = binary(&args, home.path());
        assert_eq!(o.status.code(), Some(2), "{args:?}\n{}", text(&o));
        assert!(String::from_utf8_lossy(&o.stderr).contains(says), "{args:?} names {says}\n{}", text(&o));
    }
    // An emulator run refuses options that only mean something on AWS.
    let o = binary(&["run", "--target", "moto", "--allow-account", "123456789012"], home.path());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--allow-account applies to --target aws only"));
    assert_eq!(replay.actions(), Vec::<String>::new());
}
