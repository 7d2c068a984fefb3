//! A real client through the standalone gate (issue 10, "Real clients are refused where
//! the gate could decide"): boto3 replays CAPA v1.4.1's own create/delete calls
//! (`tests/capa/calls.json`, written from CAPA's source; `tests/capa/driver.py`) through
//! `iam-conformance gate --role <dkp-bootstrapper-role>`, started before the stack that
//! makes the role is deployed. The stack is deployed through the gate with the
//! administrator's key, the role is assumed through it (so the gate learns the session
//! keys), and every call is made with the session credentials. From the gate's `--log`:
//! every call was decided (forwarded or denied, none refused as unreadable), each decision
//! is the one calls.json expects under the seed policy, and boto3 read every denial as the
//! service's own error code. Talks only to 127.0.0.1; everything is bounded in time; moto
//! and the gate are stopped by their process ids.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use iamc_live::emulator::{Emulator, cache_dir, ensure_moto, free_port};
use serde_json::Value;

const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/dkp-bootstrapper-role";
const CALLS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/capa/calls.json");
const DRIVER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/capa/driver.py");
/// The driver's own limit for the whole replay; the process is killed a little after.
const REPLAY_SECONDS: u64 = 240;

fn calls_doc() -> Value {
    serde_json::from_str(&std::fs::read_to_string(CALLS).expect("tests/capa/calls.json")).expect("calls.json is JSON")
}

/// Runs `command` to completion within `limit` (killed after it), its output in files so
/// that a full pipe cannot stall it.
fn run_bounded(mut command: Command, limit: Duration, dir: &Path, name: &str) -> Output {
    let out_path = dir.join(format!("{name}.stdout"));
    let err_path = dir.join(format!("{name}.stderr"));
    let mut child = command
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("{name} starts: {e}"));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{name} did not finish within {} s\nstderr:\n{}",
                limit.as_secs(),
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: std::fs::read(&out_path).unwrap_or_default(),
        stderr: std::fs::read(&err_path).unwrap_or_default(),
    }
}

/// The gate process, stopped by its pid when dropped (a failing test included).
struct GateProcess {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl GateProcess {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM by pid, as Ctrl-C stops it; waits (bounded) and returns what it printed then.
    fn stop(&mut self) -> Vec<String> {
        let _ = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if self.child.try_wait().ok().flatten().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let mut rest = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(500)) {
            rest.push(line);
        }
        rest
    }
}

impl Drop for GateProcess {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Starts `iam-conformance gate --role` in front of `upstream`, logging to `log`; returns
/// it, its URL and the administrator key and secret its banner names.
fn start_gate(upstream: &str, log: &Path) -> (GateProcess, String, String, String) {
    let listen = format!("127.0.0.1:{}", free_port().unwrap());
    let mut child = Command::new(env!("CARGO_BIN_EXE_iam-conformance"))
        .args(["gate", "--upstream", upstream, "--listen", &listen, "--role", ROLE_ARN])
        .args(["--account-id", "123456789012", "--region", "us-west-2"])
        .arg("--log")
        .arg(log)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut gate = GateProcess { child, lines };
    let banner = gate.lines.recv_timeout(Duration::from_secs(30)).unwrap_or_else(|_| {
        gate.stop();
        panic!("the gate printed no banner within 30 s")
    });
    let word_after = |marker: &str| {
        banner
            .split(marker)
            .nth(1)
            .and_then(|t| t.split_whitespace().next())
            .unwrap_or_else(|| panic!("the banner names `{marker}`: {banner}"))
            .to_string()
    };
    let (key, secret) = (word_after("administrator key "), word_after(" secret "));
    assert!(banner.contains(ROLE_ARN), "the banner names the role it enforces: {banner}");
    (gate, format!("http://{listen}"), key, secret)
}

/// The gate's `--log`: one JSON record per line.
fn read_log(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("a log line is JSON ({e}): {l}")))
        .collect()
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// The decision a record shows, in calls.json's words.
fn decision_of(record: &Value) -> &'static str {
    match text(&record["verdict"]) {
        "forwarded" => "allowed",
        "denied" => "denied",
        "passed_through" => "passed_through",
        "rejected" => "refused",
        _ => "unknown",
    }
}

/// The first derived check a denial names as denied, for the report.
fn denied_check(record: &Value) -> String {
    record["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["outcome"] != "allowed")
        .map(|c| format!("{} on {} ({})", text(&c["action"]), text(&c["resource"]), text(&c["outcome"])))
        .unwrap_or_default()
}

#[test]
fn calls_json_is_well_formed() {
    let doc = calls_doc();
    let codes = doc["denial_codes"].as_object().expect("denial_codes");
    let facts = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/aws-facts.md")).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for c in doc["calls"].as_array().expect("calls") {
        let id = text(&c["id"]);
        assert!(seen.insert(id.to_string()), "call ids are unique: {id}");
        let admin = c["as"] == "admin";
        let expect = text(&c["expect"]);
        match (admin, expect) {
            (true, "passed_through") | (false, "allowed" | "denied") => {}
            _ => panic!("{id}: `expect` {expect} for {}", if admin { "a fixture" } else { "the role" }),
        }
        let service = text(&c["service"]);
        assert!(!admin || c.get("source").is_none(), "{id}: fixtures are not CAPA's calls");
        if expect == "denied" {
            assert!(codes.contains_key(service), "{id}: the denial code of {service} is named");
            assert!(c.get("backend_may_fail").is_none(), "{id}: a denial never reaches the backend");
        }
        assert!(text(&c["action"]).ends_with(&format!(":{}", text(&c["operation"]))), "{id}: action and operation");
        // Every CAPA file named is one docs/aws-facts.md names, or one it does not cover
        // (S3 and SSM, which the seed grants nothing for).
        if let Some(source) = c.get("source").and_then(Value::as_str) {
            assert!(
                facts.contains(&format!("`{source}`")) || ["s3/s3.go", "ssm/secret.go"].contains(&source),
                "{id}: CAPA file {source} is one docs/aws-facts.md names"
            );
        } else {
            assert!(admin || c.get("note").is_some(), "{id}: a call without a CAPA file says why in `note`");
        }
    }
}

#[test]
fn boto3_replaying_capa_through_the_gate_gets_every_call_decided() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let venv = rt.block_on(ensure_moto(&cache_dir())).expect("moto installs");
    let python = venv.join("bin/python");
    assert!(python.is_file(), "the moto venv has python: {}", python.display());
    let mut moto = rt.block_on(Emulator::start_moto(&venv, tmp.path())).expect("moto starts");
    let moto_pid = moto.pid().expect("moto runs");

    // The gate first: the role it enforces does not exist yet.
    let log = tmp.path().join("gate.jsonl");
    let (mut gate, url, admin_key, admin_secret) = start_gate(&moto.endpoint, &log);

    // The template as a deploy sends it.
    let mut render = Command::new(env!("CARGO_BIN_EXE_iam-conformance"));
    render.args(["render", "--account-id", "123456789012", "--region", "us-west-2"]);
    let rendered = run_bounded(render, Duration::from_secs(60), tmp.path(), "render");
    assert!(rendered.status.success(), "render: {}", String::from_utf8_lossy(&rendered.stderr));
    let template = tmp.path().join("template.json");
    std::fs::write(&template, &rendered.stdout).unwrap();

    // Deploy, assume the role, replay: all through the gate.
    let results_path = tmp.path().join("results.json");
    let mut driver = Command::new(&python);
    driver
        .arg(DRIVER)
        .args(["--endpoint", &url, "--admin-key", &admin_key, "--admin-secret", &admin_secret])
        .arg("--template")
        .arg(&template)
        .args(["--calls", CALLS])
        .arg("--out")
        .arg(&results_path)
        .args(["--seconds", &REPLAY_SECONDS.to_string()])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", tmp.path())
        .env("AWS_CONFIG_FILE", tmp.path().join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", tmp.path().join("no-credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true");
    let replay = run_bounded(driver, Duration::from_secs(REPLAY_SECONDS + 30), tmp.path(), "driver");
    let replay_err = String::from_utf8_lossy(&replay.stderr).to_string();

    let summary = gate.stop();
    let records = read_log(&log);
    let gate_running = Command::new("kill").args(["-0", &gate.pid().to_string()]).status().is_ok_and(|s| s.success());
    rt.block_on(moto.terminate());
    let moto_running = Command::new("kill").args(["-0", &moto_pid.to_string()]).status().is_ok_and(|s| s.success());
    assert!(replay.status.success(), "the driver finished\n{replay_err}");
    assert!(!gate_running, "the gate (pid {}) stopped", gate.pid());
    assert!(!moto_running, "moto (pid {moto_pid}) stopped");

    let doc = calls_doc();
    let calls = doc["calls"].as_array().unwrap();
    let codes = doc["denial_codes"].as_object().unwrap();
    let results: BTreeMap<String, Value> =
        serde_json::from_str::<Value>(&std::fs::read_to_string(&results_path).unwrap()).unwrap()["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (text(&r["id"]).to_string(), r.clone()))
            .collect();
    let mut by_call: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for r in &records {
        by_call.entry(text(&r["scenario"]).to_string()).or_default().push(r);
    }

    // The gate was there before the stack: the deploy is the first thing it saw, and it
    // passed the administrator's calls (the deploy, the role's assumption) unevaluated.
    assert_eq!(records.first().map(|r| text(&r["operation"])), Some("CreateStack"), "{:#?}", records.first());
    for id in ["deploy", "assume-role"] {
        let seen = by_call.get(id).unwrap_or_else(|| panic!("the gate recorded the {id}"));
        assert!(seen.iter().all(|r| r["verdict"] == "passed_through"), "{id}: {seen:#?}");
    }

    let mut problems = Vec::new();
    let mut per_service: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let (mut allowed, mut denied) = (0, 0);
    for c in calls {
        let id = text(&c["id"]);
        let service = text(&c["service"]);
        let expect = text(&c["expect"]);
        let admin = c["as"] == "admin";
        let Some(result) = results.get(id) else {
            problems.push(format!("{id}: the driver did not report it"));
            continue;
        };
        if result["outcome"] == "skipped" {
            problems.push(format!("{id}: not sent: {}", text(&result["reason"])));
            continue;
        }
        let seen = by_call.get(id).map(Vec::as_slice).unwrap_or_default();
        let [record] = seen else {
            problems.push(format!("{id}: {} gate records (one request, no retries, is one record)", seen.len()));
            continue;
        };
        let decided = decision_of(record);
        if !admin {
            let entry =
                per_service.entry(text(&c["action"]).split(':').next().unwrap_or_default().to_string()).or_default();
            entry.0 += 1;
            if decided == expect {
                entry.1 += 1;
            }
        }
        if decided == "refused" {
            problems.push(format!(
                "{id} ({}): refused ({}): {}",
                text(&c["action"]),
                text(&record["refusal"]),
                text(&record["reason"])
            ));
            continue;
        }
        if decided != expect {
            let why = if decided == "denied" { denied_check(record) } else { String::new() };
            problems.push(format!("{id} ({}): {decided}, expected {expect} {why}", text(&c["action"])));
            continue;
        }
        // What the gate decided is the call made.
        let action = format!("{}:{}", text(&record["service"]), text(&record["operation"]));
        let expected_action = text(&c["action"]);
        let same = action == expected_action
            || (text(&record["operation"]).is_empty()
                && expected_action.starts_with(&format!("{}:", text(&record["service"]))));
        if !same {
            problems.push(format!("{id}: decided as {action}, sent as {expected_action}"));
        }
        let outcome = text(&result["outcome"]);
        let code = text(&result["error_code"]);
        match expect {
            "denied" => {
                denied += 1;
                let want = codes.get(service).and_then(Value::as_str).unwrap_or_default();
                if outcome != "error" || code != want {
                    problems.push(format!(
                        "{id}: boto3 read the denial as {outcome} `{code}` ({}), not {want}",
                        text(&result["message"])
                    ));
                }
                if text(&record["error_code"]) != want {
                    problems.push(format!("{id}: the gate answered `{}`, not {want}", text(&record["error_code"])));
                }
            }
            _ => {
                allowed += usize::from(!admin);
                let denial_code = codes.values().any(|v| v.as_str() == Some(code));
                if denial_code {
                    problems.push(format!("{id}: forwarded, yet answered with the denial `{code}`"));
                } else if outcome != "ok" && c.get("backend_may_fail").is_none() {
                    problems.push(format!(
                        "{id}: forwarded; moto answered {outcome} `{code}`: {}",
                        text(&result["message"])
                    ));
                }
            }
        }
    }
    // Nothing else the gate saw was refused either (the driver's own calls included).
    for r in records.iter().filter(|r| r["verdict"] == "rejected") {
        let id = text(&r["scenario"]);
        if !calls.iter().any(|c| c["id"] == id) {
            problems.push(format!("unlisted request {id} refused: {}", text(&r["reason"])));
        }
    }
    let table: Vec<String> = per_service.iter().map(|(s, (n, ok))| format!("{s}: {ok}/{n}")).collect();
    let total: usize = per_service.values().map(|(n, _)| n).sum();
    let right: usize = per_service.values().map(|(_, ok)| ok).sum();
    eprintln!(
        "capa trace: {right} of {total} role calls decided right ({allowed} allowed, {denied} denied); per service: {}",
        table.join(", ")
    );
    assert!(
        problems.is_empty(),
        "{} problems:\n{}\n\ndriver stderr:\n{replay_err}",
        problems.len(),
        problems.join("\n")
    );
    // The gate's own count on stopping agrees with its log.
    let gate_denied = records.iter().filter(|r| r["verdict"] == "denied").count();
    assert!(
        summary.iter().any(|l| l.contains(&format!("{} requests, {gate_denied} denied", records.len()))),
        "the gate's summary on SIGTERM: {summary:?}"
    );
}
