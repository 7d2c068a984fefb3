//! `run --target aws` end to end, with the project's gate in front of moto standing in
//! for AWS: the gate answers in AWS's own denial shapes, so the AWS path (allow-list,
//! deploy with tags, AssumeRole, AWS-decided verdicts, tagging what the role creates,
//! teardown by tag, the simulator's absence) is exercised over real HTTP without an
//! account. Talks only to 127.0.0.1; stops what it starts.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use iamc_core::aws::sweep::{self, Kind};
use iamc_live::client::{Client, Credentials};
use iamc_live::emulator::{Emulator, cache_dir, ensure_moto, free_port};
use iamc_live::run::{Endpoints, Session};
use serde_json::Value;

struct Gate(Child);

/// The administrator secret each started gate printed, by its key id.
static ADMIN_SECRETS: std::sync::Mutex<std::collections::BTreeMap<String, String>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// The secret a gate verifies `key`'s signatures with (moto itself takes any).
fn admin_secret(key: &str) -> String {
    ADMIN_SECRETS.lock().unwrap().get(key).cloned().unwrap_or_else(|| "s".into())
}

impl Drop for Gate {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `iam-conformance gate` in front of `upstream`, enforcing `template` (default:
/// the seed's); returns it, its URL and the administrator key it lets pass.
fn start_gate(upstream: &str, template: Option<&std::path::Path>) -> (Gate, String, String) {
    start_gate_with(upstream, template, &[])
}

/// `start_gate` with more arguments (`--role-key AKID`…).
fn start_gate_with(upstream: &str, template: Option<&std::path::Path>, extra: &[&str]) -> (Gate, String, String) {
    let port = free_port().unwrap();
    let listen = format!("127.0.0.1:{port}");
    let mut command = Command::new(env!("CARGO_BIN_EXE_iam-conformance"));
    command
        .args(["gate", "--upstream", upstream, "--listen", &listen, "--account-id", "123456789012"])
        .args(["--region", "us-west-2"]);
    if let Some(t) = template {
        command.arg("--template").arg(t);
    }
    command.args(extra);
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let key = first
        .split("administrator key ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .unwrap_or_else(|| panic!("the gate names its administrator key: {first}"))
        .to_string();
    let secret = first
        .split(" secret ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .unwrap_or_else(|| panic!("the gate names its administrator secret: {first}"))
        .to_string();
    ADMIN_SECRETS.lock().unwrap().insert(key.clone(), secret);
    (Gate(child), format!("http://{listen}"), key)
}

/// Runs `run --target aws` with the gate at `url` standing in for AWS.
fn run_aws(
    url: &str,
    admin_key: &str,
    home: &std::path::Path,
    extra: &[&str],
) -> (std::process::Output, Value, String) {
    let dir = home.join(format!("reports-{}", extra.join("-")));
    let out = Command::new(env!("CARGO_BIN_EXE_iam-conformance"))
        .args(["run", "--target", "aws", "--endpoint", url, "--region", "us-west-2"])
        .args(["--allow-account", "123456789012", "--report-dir", dir.to_str().unwrap()])
        .args(extra)
        .env_remove("IAM_CONFORMANCE_ALLOWED_ACCOUNTS")
        .env_remove("AWS_PROFILE")
        .env("HOME", home)
        .env("AWS_CONFIG_FILE", home.join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", admin_key)
        .env("AWS_SECRET_ACCESS_KEY", admin_secret(admin_key))
        .output()
        .unwrap();
    let shown =
        format!("stdout:\n{}\nstderr:\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("report.json")).unwrap_or_else(|_| panic!("report written\n{shown}")),
    )
    .unwrap();
    (out, report, shown)
}

/// Calls to `url` with `key` as the administrator's.
fn session_at(url: &str, key: &str) -> Session {
    Session {
        client: Client::default(),
        endpoints: Endpoints::One(url.to_string()),
        region: "us-west-2".into(),
        admin: Credentials {
            access_key_id: key.to_string(),
            secret_access_key: admin_secret(key),
            session_token: None,
        },
    }
}

/// Deploys the seed's stack `dkp-bootstrapper` straight to moto, as an administrator did
/// before a run that uses a deployed stack; returns the administrator's session.
fn deploy_seed_stack(rt: &tokio::runtime::Runtime, moto: &str) -> Session {
    use iamc_core::load::ProfileSource;
    use iamc_core::template::render::{RefMode, Target, render};
    use iamc_live::files::load;
    let admin = session_at(moto, "AKIAMOTOADMIN0000001");
    let target =
        Target { account_id: "123456789012".into(), stack_name: "dkp-bootstrapper".into(), ..Target::default() };
    let loaded = load(&ProfileSource::Embedded, None, &target).unwrap();
    let json = render(&loaded.template, &target, RefMode::KeepResourceRefs).unwrap().to_json().to_string();
    rt.block_on(iamc_live::run::deploy(&admin, "dkp-bootstrapper", &json)).expect("the stack deploys");
    admin
}

/// What is still tagged in moto (the administrator's view, straight to moto).
fn tagged_left(rt: &tokio::runtime::Runtime, moto: &str) -> Vec<(Kind, String)> {
    let session = session_at(moto, "AKIAMOTOADMIN0000001");
    rt.block_on(iamc_live::sweep::find(&session))
        .expect("moto lists tagged resources")
        .into_iter()
        .map(|t| (t.kind, t.id))
        .collect()
}

#[test]
fn the_aws_path_runs_the_seed_against_an_enforcing_stand_in() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let venv = rt.block_on(ensure_moto(&cache_dir())).expect("moto installs");
    let moto = rt.block_on(Emulator::start_moto(&venv, tmp.path())).expect("moto starts");
    let (_gate, url, admin_key) = start_gate(&moto.endpoint, None);
    let (out, report, shown) = run_aws(&url, &admin_key, tmp.path(), &["--mode", "live"]);
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
    // Only the stack may be left: moto's DeleteStack answers 409 while the stack's managed
    // policy is attached (an emulator quirk; the warning names it).
    let stderr = String::from_utf8_lossy(&out.stderr);
    if let Some(left) = stderr.split("the teardown left: ").nth(1) {
        let items = left.split(". `iam-conformance sweep").next().unwrap_or_default();
        for item in items.split("; ") {
            assert!(item.starts_with("CloudFormation stack "), "the teardown left {item}\n{shown}");
        }
    }
    assert!(stdout.contains("account 123456789012"), "{shown}");
    assert_eq!(out.status.code(), Some(report["exit_code"].as_i64().unwrap() as i32), "{shown}");
    assert_eq!(report["verdict"], "conformant", "{shown}");
    // What the role and the fixtures created was tagged with the run id, and the teardown
    // removed all of it. moto never deletes the stack (DeleteStack answers 409 while its
    // managed policy is attached), so the stack alone may remain.
    let left: Vec<(Kind, String)> =
        tagged_left(&rt, &moto.endpoint).into_iter().filter(|(k, _)| *k != Kind::Stack).collect();
    assert!(left.is_empty(), "tagged resources left after the teardown: {left:?}\n{shown}");
    drop(moto);
}

#[test]
fn a_grant_the_stand_in_lacks_makes_the_run_red_and_names_the_call() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // The stand-in enforces the seed without ec2:DescribeVpcs: as if AWS denied it.
    let seed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/dkp-bootstrapper/template.yaml"))
            .unwrap();
    assert!(seed.contains("          - ec2:DescribeVpcs\n"));
    let narrower = tmp.path().join("narrower.yaml");
    std::fs::write(&narrower, seed.replace("          - ec2:DescribeVpcs\n", "")).unwrap();
    let venv = rt.block_on(ensure_moto(&cache_dir())).expect("moto installs");
    let moto = rt.block_on(Emulator::start_moto(&venv, tmp.path())).expect("moto starts");
    let (_gate, url, admin_key) = start_gate(&moto.endpoint, Some(&narrower));
    let (out, report, shown) = run_aws(&url, &admin_key, tmp.path(), &["--mode", "live", "--no-simulate"]);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    assert_eq!(report["verdict"], "nonconformant", "{shown}");
    let row = report["scenarios"].as_array().unwrap().iter().find(|r| r["id"] == "ec2.describe-vpcs").expect("row");
    assert_eq!(row["observed"], "denied", "{row}");
    assert_eq!(row["decided_by"], "aws", "{row}");
    let findings = report["findings"].as_array().unwrap();
    assert!(
        findings.iter().any(|f| f["kind"] == "live_mismatch" && f["scenario"] == "ec2.describe-vpcs"),
        "{findings:#?}"
    );
    drop(moto);
}

#[test]
fn dry_run_mode_sends_ec2_calls_with_dry_run() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let venv = rt.block_on(ensure_moto(&cache_dir())).expect("moto installs");
    let moto = rt.block_on(Emulator::start_moto(&venv, tmp.path())).expect("moto starts");
    let (_gate, url, admin_key) = start_gate(&moto.endpoint, None);
    let (out, report, shown) = run_aws(&url, &admin_key, tmp.path(), &["--no-simulate"]);
    assert!(report["environment"]["target"].as_str().unwrap().contains("dry-run mode"), "{shown}");
    let rows = report["scenarios"].as_array().unwrap();
    let row = |id: &str| rows.iter().find(|r| r["id"] == id).unwrap_or_else(|| panic!("no row {id}"));
    // An allowed create answered DryRunOperation: allowed by AWS, nothing made. (moto
    // honours DryRun on CreateInternetGateway; it ignores it on CreateVpc.)
    let igw = row("ec2.create-internet-gateway");
    assert_eq!(igw["observed"], "allowed", "{igw}\n{shown}");
    assert_eq!(igw["backend"]["code"], "DryRunOperation", "{igw}");
    assert!(igw["note"].as_str().unwrap_or_default().contains("dry run"), "{igw}");
    // A denied EC2 call is denied whether dry or not.
    for r in rows.iter().filter(|r| r["expect"] == "deny" && r["service"] == "ec2" && r["observed"] != "skipped") {
        assert_eq!(r["observed"], "denied", "{r}");
    }
    // Calls whose prerequisites were only dry runs are not passed off as decided.
    for r in rows.iter().filter(|r| r["observed"] == "skipped") {
        assert!(r["note"].as_str().is_some_and(|n| !n.is_empty()), "{r}");
    }
    assert_eq!(
        out.status.code(),
        Some(0),
        "dry-run answers make no false failure and leave nothing undecided\n{shown}"
    );
    drop(moto);
}

#[test]
fn sigterm_tears_down_and_writes_no_report() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let venv = rt.block_on(ensure_moto(&cache_dir())).expect("moto installs");
    let moto = rt.block_on(Emulator::start_moto(&venv, tmp.path())).expect("moto starts");
    let (_gate, url, admin_key) = start_gate(&moto.endpoint, None);
    let dir = tmp.path().join("reports");
    let child = Command::new(env!("CARGO_BIN_EXE_iam-conformance"))
        .args(["run", "--target", "aws", "--mode", "live", "--no-simulate", "--endpoint", &url])
        .args(["--region", "us-west-2", "--allow-account", "123456789012", "--concurrency", "1"])
        .arg("--report-dir")
        .arg(&dir)
        .env_remove("IAM_CONFORMANCE_ALLOWED_ACCOUNTS")
        .env_remove("AWS_PROFILE")
        .env("HOME", tmp.path())
        .env("AWS_CONFIG_FILE", tmp.path().join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", tmp.path().join("no-credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", &admin_key)
        .env("AWS_SECRET_ACCESS_KEY", admin_secret(&admin_key))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once the stack exists the run is under way (deploy, fixtures or scenarios).
    let session = session_at(&moto.endpoint, "AKIAMOTOADMIN0000001");
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_secs(60) {
        let vpcs = rt
            .block_on(session.admin(
                "ec2",
                "DescribeVpcs",
                serde_json::json!({"Filters": [{"Name": "tag-key", "Values": [sweep::RUN_ID_TAG]}]}),
            ))
            .map(|a| a.body.contains("<vpcId>"))
            .unwrap_or(false);
        if vpcs {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let shown =
        format!("stdout:\n{}\nstderr:\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "{shown}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"), "{shown}");
    // The signal came during the scenarios (a run-tagged VPC existed): the calls under
    // way were let finish before the teardown.
    assert!(String::from_utf8_lossy(&out.stdout).contains("letting the calls under way finish"), "{shown}");
    assert!(!dir.join("report.json").exists(), "an interrupted run writes no report\n{shown}");
    // The teardown ran: nothing the run tagged is left but moto's undeletable stack.
    let left: Vec<(Kind, String)> =
        tagged_left(&rt, &moto.endpoint).into_iter().filter(|(k, _)| *k != Kind::Stack).collect();
    assert!(left.is_empty(), "tagged resources left after SIGTERM: {left:?}\n{shown}");
    drop(moto);
}

#[test]
fn a_user_holding_the_policy_is_the_principal() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let venv = rt.block_on(ensure_moto(&cache_dir())).expect("moto installs");
    let moto = rt.block_on(Emulator::start_moto(&venv, tmp.path())).expect("moto starts");
    // What an administrator did beforehand: the stack, and a user with its managed policy.
    let admin = deploy_seed_stack(&rt, &moto.endpoint);
    let call = |service: &str, op: &str, input: Value| {
        let a = rt.block_on(admin.admin(service, op, input)).unwrap();
        assert!(a.error.is_none(), "{service}:{op}: {:?}", a.error);
        a.body
    };
    let attached = call("iam", "ListAttachedRolePolicies", serde_json::json!({"RoleName": "dkp-bootstrapper-role"}));
    let policy_arn = iamc_core::xml::first(&attached, "PolicyArn").expect("the role has its managed policy");
    call("iam", "CreateUser", serde_json::json!({"UserName": "dkp-bootstrapper"}));
    call("iam", "AttachUserPolicy", serde_json::json!({"UserName": "dkp-bootstrapper", "PolicyArn": policy_arn}));
    let keys = call("iam", "CreateAccessKey", serde_json::json!({"UserName": "dkp-bootstrapper"}));
    let key_id = iamc_core::xml::first(&keys, "AccessKeyId").unwrap();
    let secret = iamc_core::xml::first(&keys, "SecretAccessKey").unwrap();
    std::fs::write(
        tmp.path().join("credentials"),
        format!("[dkp-user]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n"),
    )
    .unwrap();
    // The stand-in enforces the policy on the user's keys.
    let (_gate, url, admin_key) = start_gate_with(&moto.endpoint, None, &["--role-key", &format!("{key_id}:{secret}")]);
    let (out, report, shown) = run_aws(
        &url,
        &admin_key,
        tmp.path(),
        &["--mode", "live", "--principal", "user", "--stack", "dkp-bootstrapper", "--user-profile", "dkp-user"],
    );
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(report["environment"]["target"].as_str().unwrap().contains("principal: IAM user"), "{shown}");
    let rows = report["scenarios"].as_array().unwrap();
    assert!(rows.iter().filter(|r| r["decided_by"] == "aws").count() > 100, "{shown}");
    // The run neither deployed nor deleted the stack it was given.
    let stacks = call("cloudformation", "DescribeStacks", serde_json::json!({"StackName": "dkp-bootstrapper"}));
    assert!(stacks.contains("CREATE_COMPLETE"), "{stacks}");

    // A user holding anything more than the stack's policy is refused: it would be
    // granted beside the policy under test.
    let extra = call(
        "iam",
        "CreatePolicy",
        serde_json::json!({"PolicyName": "ExtraReadOnly", "PolicyDocument": r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}]}"#}),
    );
    let extra_arn = iamc_core::xml::first(&extra, "Arn").unwrap();
    call("iam", "AttachUserPolicy", serde_json::json!({"UserName": "dkp-bootstrapper", "PolicyArn": extra_arn}));
    let (out, _, shown) = run_aws_refused(
        &url,
        &admin_key,
        tmp.path(),
        &["--mode", "live", "--principal", "user", "--stack", "dkp-bootstrapper", "--user-profile", "dkp-user"],
    );
    assert_eq!(out.status.code(), Some(2), "{shown}");
    assert!(
        shown.contains("must hold exactly the stack's managed policies") && shown.contains("ExtraReadOnly"),
        "{shown}"
    );
    drop(moto);
}

/// `run_aws` for a run expected to stop before writing a report.
fn run_aws_refused(
    url: &str,
    admin_key: &str,
    home: &std::path::Path,
    extra: &[&str],
) -> (std::process::Output, (), String) {
    let out = Command::new(env!("CARGO_BIN_EXE_iam-conformance"))
        .args(["run", "--target", "aws", "--endpoint", url, "--region", "us-west-2"])
        .args(["--allow-account", "123456789012", "--report-dir"])
        .arg(home.join("refused"))
        .args(extra)
        .env_remove("IAM_CONFORMANCE_ALLOWED_ACCOUNTS")
        .env_remove("AWS_PROFILE")
        .env("HOME", home)
        .env("AWS_CONFIG_FILE", home.join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", admin_key)
        .env("AWS_SECRET_ACCESS_KEY", admin_secret(admin_key))
        .output()
        .unwrap();
    let shown =
        format!("stdout:\n{}\nstderr:\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out, (), shown)
}

/// An instance metadata service (IMDSv2) on 127.0.0.1 handing out `creds` as the
/// instance profile's role credentials.
const IMDS: &str = r#"
import http.server, json, sys
key, secret, token = sys.argv[1], sys.argv[2], sys.argv[3]
CREDS = json.dumps({"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": key, "SecretAccessKey": secret,
                    "Token": token, "Expiration": "2099-01-01T00:00:00Z", "LastUpdated": "2026-11-28T00:00:00Z"}).encode()
class H(http.server.BaseHTTPRequestHandler):
    def reply(self, body, status=200):
        self.send_response(status)
        self.send_header("content-length", str(len(body)))
        if self.command == "PUT":
            self.send_header("x-aws-ec2-metadata-token-ttl-seconds", "21600")
        self.end_headers()
        self.wfile.write(body)
    def do_PUT(self):
        self.reply(b"imds-token" if self.path == "/latest/api/token" else b"", 200 if self.path == "/latest/api/token" else 404)
    def do_GET(self):
        if self.path == "/latest/meta-data/iam/security-credentials/":
            self.reply(b"DKPBootstrapInstanceProfile")
        elif self.path == "/latest/meta-data/iam/security-credentials/DKPBootstrapInstanceProfile":
            self.reply(CREDS)
        else:
            self.reply(b"", 404)
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#;

#[test]
fn an_instance_with_the_profile_is_the_principal() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let venv = rt.block_on(ensure_moto(&cache_dir())).expect("moto installs");
    let moto = rt.block_on(Emulator::start_moto(&venv, tmp.path())).expect("moto starts");
    deploy_seed_stack(&rt, &moto.endpoint);
    let (_gate, url, admin_key) = start_gate(&moto.endpoint, None);
    // The instance's credentials: the role assumed through the stand-in, as EC2 does for
    // an instance profile (so the stand-in knows the keys act as the role).
    let via_gate = session_at(&url, &admin_key);
    let assumed = rt
        .block_on(via_gate.admin(
            "sts",
            "AssumeRole",
            serde_json::json!({"RoleArn": "arn:aws:iam::123456789012:role/dkp-bootstrapper-role", "RoleSessionName": "i-0123456789abcdef0"}),
        ))
        .unwrap();
    let get = |n: &str| iamc_core::xml::first(&assumed.body, n).unwrap();
    let mut imds = Command::new("python3")
        .arg("-c")
        .arg(IMDS)
        .args([get("AccessKeyId"), get("SecretAccessKey"), get("SessionToken")])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut port = String::new();
    BufReader::new(imds.stdout.take().unwrap()).read_line(&mut port).unwrap();
    let _imds = Gate(imds);
    // The administrator's calls come from a named profile (on an instance the standard
    // chain would give the instance's role).
    std::fs::write(
        tmp.path().join("credentials"),
        format!("[admin]\naws_access_key_id = {admin_key}\naws_secret_access_key = {}\n", admin_secret(&admin_key)),
    )
    .unwrap();
    let dir = tmp.path().join("reports");
    let out = Command::new(env!("CARGO_BIN_EXE_iam-conformance"))
        .args(["run", "--target", "aws", "--mode", "live", "--endpoint", &url, "--region", "us-west-2"])
        .args(["--allow-account", "123456789012", "--principal", "instance-profile", "--stack", "dkp-bootstrapper"])
        .args(["--aws-profile", "admin", "--report-dir", dir.to_str().unwrap()])
        .env_remove("IAM_CONFORMANCE_ALLOWED_ACCOUNTS")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_EC2_METADATA_DISABLED")
        .env("HOME", tmp.path())
        .env("AWS_CONFIG_FILE", tmp.path().join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", tmp.path().join("credentials"))
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", format!("http://127.0.0.1:{}", port.trim()))
        .output()
        .unwrap();
    let shown =
        format!("stdout:\n{}\nstderr:\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{shown}");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    assert!(report["environment"]["target"].as_str().unwrap().contains("principal: instance profile"), "{shown}");
    assert!(
        report["scenarios"].as_array().unwrap().iter().filter(|r| r["decided_by"] == "aws").count() > 100,
        "{shown}"
    );
    drop(moto);
}
