//! Real live runs on LocalStack, both ways the binary starts it: the open-source runtime
//! as a host process (installed into the cached venv by localstack/setup-localstack.sh),
//! and the locally built image as a container through testcontainers (the engine and image
//! set up by localstack/setup-docker.sh and build-image.sh). LocalStack serves EC2, IAM,
//! STS, Secrets Manager and CloudFormation but not classic ELB or Auto Scaling, and
//! enforces no IAM: the report must say all of that, either way.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_iam-conformance");

/// `run --target localstack --localstack <how>` into `dir`; also the run's pid.
fn run(how: &str, dir: &std::path::Path) -> (Output, String, u32) {
    let child = Command::new(BIN)
        .args(["run", "--target", "localstack", "--localstack", how, "--report-dir"])
        .arg(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let pid = child.id();
    let out = child.wait_with_output().expect("the run ends");
    let show = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out, show, pid)
}

/// Containers the harness labelled for the run with this pid, still there.
fn labelled_containers(pid: u32) -> Vec<String> {
    let out = Command::new("docker")
        .args(["ps", "-a", "-q", "--filter", &format!("label=iam-conformance.run={pid}")])
        .output()
        .expect("docker answers (the test command sets up the engine)");
    assert!(out.status.success(), "docker ps failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
}

#[test]
fn seed_profile_runs_on_the_localstack_runtime() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    let (out, show, _) = run("host", &dir);
    let report = seed_report_as_expected(&dir, &show);
    assert_eq!(out.status.code(), Some(0), "{show}");
    let env = &report["environment"];
    assert_eq!(env["emulator"]["how"], "host", "{env}");
    assert!(env["target"].as_str().unwrap().contains("open-source runtime"), "{env}");
}

#[test]
fn seed_profile_runs_in_a_localstack_container_and_leaves_none() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    let (out, show, pid) = run("container", &dir);
    let report = seed_report_as_expected(&dir, &show);
    assert_eq!(out.status.code(), Some(0), "{show}");
    let env = &report["environment"];
    assert_eq!(env["emulator"]["how"], "container", "{env}");
    assert_eq!(env["emulator"]["image"], "iam-conformance/localstack-core:2026.3.0", "{env}");
    // The version is LocalStack's own word, from its health endpoint.
    assert_eq!(env["emulator"]["version"], "2026.3.0", "{env}");
    assert!(env["target"].as_str().unwrap().contains("started through testcontainers"), "{env}");
    let after = labelled_containers(pid);
    assert!(after.is_empty(), "containers left behind: {after:?}\n{show}");
}

#[test]
fn sigterm_during_a_container_run_leaves_no_container_and_no_report() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    // At a few points: while the container starts, and after the gate is up (during the
    // deploy and the scenarios: progress lines are printed only at the end off a terminal).
    for (wait_for, then) in [("starting LocalStack as a container", 0), ("  gate ", 300), ("  gate ", 1500)] {
        let mut child = Command::new(BIN)
            .args(["run", "--target", "localstack", "--localstack", "container", "--report-dir"])
            .arg(&dir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(line) => {
                    let hit = line.contains(wait_for);
                    seen.push(line);
                    if hit {
                        break;
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(_) => break,
            }
        }
        assert!(seen.iter().any(|l| l.contains(wait_for)), "never saw `{wait_for}`: {seen:?}");
        std::thread::sleep(Duration::from_millis(then));
        let kill = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        assert!(kill.success());
        let ended = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            assert!(Instant::now() < ended, "the run did not end within 60 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        };
        assert_eq!(status.code(), Some(2), "an interrupted run cannot decide ({then} ms after `{wait_for}`)");
        assert!(!dir.join("report.json").exists(), "an interrupted run writes no report");
        let after = labelled_containers(child.id());
        assert!(after.is_empty(), "SIGTERM {then} ms after `{wait_for}` left containers {after:?}");
    }
}

/// What the seed's run on LocalStack must show, however LocalStack ran.
fn seed_report_as_expected(dir: &std::path::Path, show: &str) -> Value {
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("report.json")).unwrap_or_else(|e| panic!("{e}\n{show}")),
    )
    .unwrap();
    let env = &report["environment"];
    assert!(env["target"].as_str().unwrap().starts_with("LocalStack"), "{env}");
    assert_eq!(env["iam_decided_by"], "gate");
    assert_eq!(env["service_enforces_iam"], false, "the open-source runtime enforces no IAM: {env}");
    let rows = report["scenarios"].as_array().unwrap();
    let row = |id: &str| rows.iter().find(|r| r["id"] == id).unwrap_or_else(|| panic!("no row {id}"));
    // EC2, Secrets Manager and IAM calls are served live.
    for id in ["ec2.create-vpc", "ec2.create-subnet-public", "secretsmanager.create-secret"] {
        let r = row(id);
        assert_eq!(r["observed"], "allowed", "{r}\n{show}");
        assert_eq!(r["backend"]["status"], 200, "{r}");
    }
    // Classic ELB and Auto Scaling are not: the calls that reach LocalStack come back 501
    // and are reported skipped with its reason, never passed.
    for id in ["elb.create-load-balancer-first-in-account", "autoscaling.create-auto-scaling-group-first-in-account"] {
        let r = row(id);
        assert_eq!(r["observed"], "skipped", "{r}");
        assert_eq!(r["pass"], false, "{r}");
        assert!(r["note"].as_str().unwrap().contains("501"), "{r}");
    }
    // The gate still decides denials before anything reaches LocalStack.
    let r = row("near-miss.ec2.create-volume");
    assert_eq!((r["observed"].as_str(), r["decided_by"].as_str()), (Some("denied"), Some("gate")), "{r}");
    assert!(rows.iter().all(|r| r["pass"] == false || r["observed"] == "allowed" || r["observed"] == "denied"));
    // Its state went with it: only its log stays beside the reports.
    let leftovers: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|p| p.display().to_string())
        .collect();
    assert!(leftovers.is_empty(), "data directories left behind: {leftovers:?}");
    report
}

#[test]
fn a_container_left_by_a_killed_run_is_removed_by_the_next() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("killed");
    let mut child = Command::new(BIN)
        .args(["run", "--target", "localstack", "--localstack", "container", "--report-dir"])
        .arg(&dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(line) if line.contains("  gate ") => break,
            Ok(_) | Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(_) => panic!("the run ended before its gate was up"),
        }
    }
    // SIGKILL: no handler runs, so the container stays (Docker owns it)...
    assert!(Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap().success());
    let _ = child.wait();
    let left = labelled_containers(pid);
    assert_eq!(left.len(), 1, "SIGKILL leaves the killed run's container: {left:?}");
    // ...until the next container run, which removes it before it starts its own.
    let (out, show, _) = run("container", &tmp.path().join("next"));
    assert_eq!(out.status.code(), Some(0), "{show}");
    assert!(labelled_containers(pid).is_empty(), "the killed run's container is still there\n{show}");
    assert!(show.contains("removed 1 LocalStack container(s) an earlier, killed run left"), "{show}");
}
