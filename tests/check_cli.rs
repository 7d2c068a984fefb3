//! End-to-end tests of `iam-conformance check`: the real binary, run in temporary
//! directories, judged by its exit code, its stderr/stdout and the report it writes.
//!
//! * the seed profile is conformant (embedded, on disk, copied, and as JSON);
//! * mutated seed templates are nonconformant (or undecided) with findings that name
//!   the right kind, action and location;
//! * malformed inputs exit 2 with `error: <file>:<line>: <phrase>` and write no report.
//!
//! Every expected line number is computed from the edit (the first line where the
//! edited file differs from the seed) or from a unique text of a seed file, so the
//! tables stay valid when unrelated lines of the seed profile move.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_iam-conformance");

// ---------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------

fn seed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/dkp-bootstrapper")
}

fn seed_text(name: &str) -> String {
    let path = seed_dir().join(name);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// What one run of the binary produced.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn show(&self) -> String {
        format!("exit code {}\n--- stdout\n{}--- stderr\n{}---", self.code, self.stdout, self.stderr)
    }
}

/// Runs the binary in `cwd` (a temp dir, so a missing `--report-dir` never writes
/// into the repository).
fn run<I, S>(cwd: &Path, args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let out = Command::new(BIN).args(&args).current_dir(cwd).output().expect("failed to start iam-conformance");
    Run {
        code: out.status.code().unwrap_or_else(|| panic!("iam-conformance {args:?} was killed by a signal")),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `check --report-dir <dir>` plus `(flag, path)` options.
fn check(cwd: &Path, report_dir: &Path, options: &[(&str, &Path)]) -> Run {
    let mut args: Vec<OsString> = vec!["check".into(), "--report-dir".into(), report_dir.into()];
    for (flag, value) in options {
        args.push(flag.into());
        args.push(value.into());
    }
    run(cwd, args)
}

fn read_report(dir: &Path) -> Value {
    let path = dir.join("report.json");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Copies the seed profile (a flat directory) to `<dest>/profile` and returns that path.
fn copy_seed_profile(dest: &Path) -> PathBuf {
    let dir = dest.join("profile");
    fs::create_dir_all(&dir).unwrap();
    for entry in fs::read_dir(seed_dir()).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
        }
    }
    dir
}

/// 1-based line on which `needle` (which must occur exactly once) starts in `text`.
fn line_of(text: &str, needle: &str, what: &str) -> usize {
    let n = text.matches(needle).count();
    assert_eq!(n, 1, "expected exactly one `{needle}` in {what}, found {n}");
    text[..text.find(needle).unwrap()].matches('\n').count() + 1
}

/// Replaces the one occurrence of `old` in `text`; returns the new text and the first
/// line (1-based) where it differs from the old one.
fn replace_once(text: &str, old: &str, new: &str, what: &str) -> (String, usize) {
    line_of(text, old, what);
    let edited = text.replacen(old, new, 1);
    let changed = text.lines().zip(edited.lines()).take_while(|(a, b)| a == b).count() + 1;
    (edited, changed)
}

/// Writes the seed template with one replacement to `<tmp>/<name>.yaml` and runs
/// `check --template <that file> --report-dir <tmp>/r-<name>` (embedded profile).
struct Mutated {
    template: PathBuf,
    text: String,
    changed_line: usize,
    report_dir: PathBuf,
    run: Run,
}

fn check_modified_template(tmp: &Path, name: &str, old: &str, new: &str) -> Mutated {
    let (text, changed_line) = replace_once(&seed_text("template.yaml"), old, new, "the seed template.yaml");
    let template = tmp.join(format!("{name}.yaml"));
    fs::write(&template, &text).unwrap();
    let report_dir = tmp.join(format!("r-{name}"));
    let run = check(tmp, &report_dir, &[("--template", &template)]);
    Mutated { template, text, changed_line, report_dir, run }
}

/// The seed rendered to JSON by `iam-conformance render`.
fn rendered_seed_json(cwd: &Path) -> String {
    let r = run(cwd, ["render"]);
    assert_eq!(r.code, 0, "render failed:\n{}", r.show());
    let parsed: Value =
        serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("render printed no JSON ({e}):\n{}", r.show()));
    assert!(parsed["Resources"]["DKPBootstrapRole"].is_object(), "rendered template lacks the role:\n{}", r.stdout);
    r.stdout
}

/// 1-based column of the node that starts line `line` of a YAML text: past the
/// indentation and, for a sequence entry, past its `- `.
fn node_column(text: &str, line: usize) -> usize {
    let l = text.lines().nth(line - 1).unwrap_or_else(|| panic!("no line {line}"));
    let rest = l.trim_start();
    let rest = rest.strip_prefix("- ").unwrap_or(rest);
    l.len() - rest.len() + 1
}

fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("`{key}` is not a string in {v}"))
}

fn report_files_absent(dir: &Path) -> Result<(), String> {
    for name in ["report.json", "junit.xml", "summary.md", ".report.json.partial"] {
        if dir.join(name).exists() {
            return Err(format!("{} was written", dir.join(name).display()));
        }
    }
    Ok(())
}

/// (id, observed, pass) of every scenario row, and (id, status) of every mutant.
fn outcome_table(report: &Value) -> (Vec<(String, String, bool)>, Vec<(String, String)>) {
    let rows = report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (str_field(s, "id").to_string(), str_field(s, "observed").to_string(), s["pass"].as_bool().unwrap()))
        .collect();
    let mutants = report["minimality"]["mutants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (str_field(m, "id").to_string(), str_field(m, "status").to_string()))
        .collect();
    (rows, mutants)
}

// ---------------------------------------------------------------------------------
// A. The seed is conformant, however it is given
// ---------------------------------------------------------------------------------

#[test]
fn seed_profile_is_conformant_and_writes_all_reports() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("reports-here");
    let r = check(tmp.path(), &dir, &[]);
    assert_eq!(r.code, 0, "the seed must be conformant:\n{}", r.show());
    assert!(r.stderr.is_empty(), "a conformant run prints nothing on stderr:\n{}", r.show());
    assert!(r.stdout.starts_with("iam-conformance check: conformant"), "summary:\n{}", r.show());
    assert!(r.stdout.contains(&format!("reports    {}", dir.display())), "summary names the report dir:\n{}", r.show());

    for name in ["report.json", "junit.xml", "summary.md"] {
        let len = fs::metadata(dir.join(name)).map(|m| m.len()).unwrap_or(0);
        assert!(len > 0, "{name} missing or empty in {}", dir.display());
    }
    let leftovers: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "temporary report files left behind: {leftovers:?}");

    let report = read_report(&dir);
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["verdict"], "conformant");
    assert_eq!(report["exit_code"], 0);
    assert_eq!(report["run"]["command"], "check");
    assert_eq!(report["subject"]["account_id"], "000000000000");
    assert_eq!(report["subject"]["region"], "us-west-2");

    let counts = &report["counts"];
    let rows = report["scenarios"].as_array().expect("scenarios is an array");
    assert!(!rows.is_empty(), "no scenario rows");
    assert_eq!(counts["scenarios"], rows.len());
    assert_eq!(counts["scenarios_failed"], 0);
    assert_eq!(counts["mutants_survived"], 0);
    assert_eq!(counts["failing_findings"], 0);
    assert!(counts["mutants_killed"].as_u64().unwrap() > 0, "no mutant was killed: {counts}");
    for f in report["findings"].as_array().unwrap() {
        assert_eq!(f["severity"], "info", "a conformant report has only informational findings: {f}");
    }
    for s in rows {
        let id = str_field(s, "id");
        let observed = str_field(s, "observed");
        assert!(observed == "allowed" || observed == "denied", "scenario {id}: observed `{observed}`");
        assert_eq!(s["decided_by"], "model", "scenario {id}");
        assert_eq!(s["pass"], true, "scenario {id} fails: {s}");
        let want = if s["expect"] == "allow" { "allowed" } else { "denied" };
        assert_eq!(observed, want, "scenario {id}: expect {} but observed {observed}", s["expect"]);
    }

    let junit = fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert!(junit.contains("<testsuites") && junit.contains("failures=\"0\""), "junit.xml:\n{junit}");
    assert!(!junit.contains("<failure"), "junit.xml reports a failure:\n{junit}");
    let summary = fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(summary.lines().next().unwrap_or("").contains("conformant"), "summary.md:\n{summary}");
}

#[test]
fn seed_profile_on_disk_and_copied_gives_the_same_verdict() {
    let tmp = TempDir::new().unwrap();
    let embedded = check(tmp.path(), &tmp.path().join("r-embedded"), &[]);
    assert_eq!(embedded.code, 0, "{}", embedded.show());
    let embedded = read_report(&tmp.path().join("r-embedded"));

    let copy = copy_seed_profile(tmp.path());
    for (label, profile) in [("on-disk seed", seed_dir()), ("copied seed", copy)] {
        let dir = tmp.path().join(format!("r-{}", label.replace(' ', "-")));
        let r = check(tmp.path(), &dir, &[("--profile", &profile)]);
        assert_eq!(r.code, 0, "{label} profile must be conformant:\n{}", r.show());
        let report = read_report(&dir);
        assert_eq!(report["verdict"], "conformant", "{label}");
        assert_eq!(report["subject"]["profile"], profile.display().to_string(), "{label}: profile label");
        assert_eq!(report["counts"], embedded["counts"], "{label}: counts differ from the embedded profile");
        assert_eq!(outcome_table(&report), outcome_table(&embedded), "{label}: scenario/mutant outcomes differ");
    }
}

#[test]
fn seed_template_as_json_is_equally_conformant() {
    let tmp = TempDir::new().unwrap();
    let json = rendered_seed_json(tmp.path());
    assert!(!json.contains("MYAWSACCOUNT"), "render substitutes the account placeholder");
    let template = tmp.path().join("seed.json");
    fs::write(&template, &json).unwrap();

    let yaml_dir = tmp.path().join("r-yaml");
    let yaml = check(tmp.path(), &yaml_dir, &[]);
    assert_eq!(yaml.code, 0, "{}", yaml.show());
    let json_dir = tmp.path().join("r-json");
    let r = check(tmp.path(), &json_dir, &[("--template", &template)]);
    assert_eq!(r.code, 0, "the seed template as JSON must be conformant:\n{}", r.show());

    let (yaml, json) = (read_report(&yaml_dir), read_report(&json_dir));
    assert_eq!(json["verdict"], "conformant");
    assert_eq!(json["subject"]["template"], template.display().to_string());
    assert_eq!(json["counts"], yaml["counts"], "JSON and YAML counts differ");
    assert_eq!(outcome_table(&json), outcome_table(&yaml), "JSON and YAML scenario/mutant outcomes differ");
    // Locations point into the file that was read.
    let loc = &json["minimality"]["mutants"][0]["loc"];
    assert!(str_field(loc, "file").ends_with("seed.json"), "mutant location is not in the JSON file: {loc}");
}

#[test]
fn default_report_dir_is_reports_run_id_under_the_working_directory() {
    let tmp = TempDir::new().unwrap();
    let r = run(tmp.path(), ["check"]);
    assert_eq!(r.code, 0, "{}", r.show());
    let runs: Vec<PathBuf> = fs::read_dir(tmp.path().join("reports"))
        .unwrap_or_else(|e| panic!("no reports/ in the working directory ({e}):\n{}", r.show()))
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "one run directory expected: {runs:?}");
    let report = read_report(&runs[0]);
    let run_id = runs[0].file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(report["run"]["run_id"], run_id.as_str(), "the directory is named after the run id");
    assert!(r.stdout.contains(&format!("reports/{run_id}")), "summary names the directory:\n{}", r.show());
}

// ---------------------------------------------------------------------------------
// B. Mutated templates are caught, at the right place
// ---------------------------------------------------------------------------------

/// Which line a finding must point at.
#[derive(Clone, Copy, Debug)]
enum At {
    /// The first line where the mutated template differs from the seed.
    Edit,
    /// The line where this (unique) text starts, in the file the finding points into.
    Text(&'static str),
}

/// Which file a finding must point into.
#[derive(Clone, Copy, Debug)]
enum In {
    /// The mutated template.
    Template,
    /// A file of the (embedded) seed profile.
    Seed(&'static str),
}

#[derive(Debug)]
struct Want {
    kind: &'static str,
    action: Option<&'static str>,
    file: In,
    at: At,
}

fn want(kind: &'static str, action: &'static str, file: In, at: At) -> Want {
    Want { kind, action: Some(action), file, at }
}

struct Mutation {
    name: &'static str,
    old: &'static str,
    new: &'static str,
    exit: i32,
    verdict: &'static str,
    findings: Vec<Want>,
    /// Scenario ids (or prefixes ending in `*`) that must fail; no other scenario may.
    failing: &'static [&'static str],
}

/// The `- Action:` line of a statement, given its first action.
const PASSROLE_STATEMENT: &str = "        - Action:\n          - iam:PassRole";
/// The one Resource entry (`'*'`) of the first statement: the line after it starts the
/// second statement.
const FIRST_STATEMENT_RESOURCE: &str =
    "          - '*'\n        - Action:\n          - autoscaling:CreateAutoScalingGroup";
const LAST_FIRST_STATEMENT_ACTION: &str = "          - ec2:DescribeKeyPairs\n";
const SECRETS_RESOURCE: &str = "          - arn:*:secretsmanager:*:*:secret:aws.cluster.x-k8s.io/*\n";

fn mutations() -> Vec<Mutation> {
    vec![
        Mutation {
            name: "widen-passrole",
            old: "arn:*:iam::*:role/*.cluster-api-provider-aws.sigs.k8s.io",
            new: "arn:*:iam::*:role/*",
            exit: 1,
            verdict: "nonconformant",
            findings: vec![
                // An excess grant points at the Resource entry of the allowing statement
                // that matches the request: here the widened entry itself.
                want("excess_grant", "iam:PassRole", In::Template, At::Edit),
                // Beyond the profile's [[scope]] for PassRole, at the widened entry. (Its
                // mutants are all proven equivalent or killed: widening `role/*` further
                // admits no other role.)
                want("widened_scope", "iam:PassRole", In::Template, At::Edit),
            ],
            failing: &["deny.passrole.*"],
        },
        Mutation {
            name: "passrole-not-resource",
            old: "          Resource:\n          - arn:*:iam::*:role/*.cluster-api-provider-aws.sigs.k8s.io\n",
            new: "          NotResource:\n          - arn:*:iam::*:role/nothing-matches-this\n",
            exit: 1,
            verdict: "nonconformant",
            findings: vec![
                // No Resource entry matches (a NotResource allows by not matching): the
                // excess grant falls back to the statement's `- Action:` line.
                want("excess_grant", "iam:PassRole", In::Template, At::Text(PASSROLE_STATEMENT)),
            ],
            failing: &["deny.passrole.*"],
        },
        Mutation {
            name: "drop-create-vpc",
            old: "          - ec2:CreateVpc\n",
            new: "",
            exit: 1,
            verdict: "nonconformant",
            findings: vec![want(
                "missing_grant",
                "ec2:CreateVpc",
                In::Seed("ec2-network.toml"),
                At::Text("action = \"ec2:CreateVpc\""),
            )],
            failing: &["ec2.create-vpc"],
        },
        Mutation {
            name: "add-create-volume",
            old: LAST_FIRST_STATEMENT_ACTION,
            new: "          - ec2:DescribeKeyPairs\n          - ec2:CreateVolume\n",
            exit: 1,
            verdict: "nonconformant",
            findings: vec![
                want("excess_grant", "ec2:CreateVolume", In::Template, At::Text(FIRST_STATEMENT_RESOURCE)),
                want("unexpected_grant", "ec2:CreateVolume", In::Template, At::Edit),
                want("unexercised_action", "ec2:CreateVolume", In::Template, At::Edit),
            ],
            failing: &["near-miss.ec2.create-volume"],
        },
        Mutation {
            name: "add-describe-star",
            old: LAST_FIRST_STATEMENT_ACTION,
            new: "          - ec2:DescribeKeyPairs\n          - ec2:Describe*\n",
            exit: 1,
            verdict: "nonconformant",
            findings: vec![
                want("unexpected_grant", "ec2:DescribeFlowLogs", In::Template, At::Edit),
                want("unexpected_grant", "ec2:DescribeVpcEndpoints", In::Template, At::Edit),
                want("excess_grant", "ec2:DescribeInstanceTypes", In::Template, At::Text(FIRST_STATEMENT_RESOURCE)),
            ],
            failing: &["near-miss.ec2.describe-*"],
        },
        Mutation {
            name: "secrets-prefix-without-slash",
            old: "secret:aws.cluster.x-k8s.io/*",
            new: "secret:aws.cluster.x-k8s.io*",
            exit: 1,
            verdict: "nonconformant",
            // The edited line is the statement's only Resource entry.
            findings: vec![
                want("excess_grant", "secretsmanager:CreateSecret", In::Template, At::Edit),
                want("excess_grant", "secretsmanager:DeleteSecret", In::Template, At::Edit),
                want("excess_grant", "secretsmanager:TagResource", In::Template, At::Edit),
            ],
            failing: &[
                "deny.secrets.create-shared-prefix-no-slash",
                "deny.secrets.create-longer-label",
                "deny.secrets.create-bare-prefix",
                "deny.secrets.delete-shared-prefix-no-slash",
            ],
        },
        Mutation {
            name: "deny-terminate-instances",
            old: SECRETS_RESOURCE,
            new: "          - arn:*:secretsmanager:*:*:secret:aws.cluster.x-k8s.io/*\n        - Action:\n          - ec2:TerminateInstances\n          Effect: Deny\n          Resource:\n          - '*'\n",
            exit: 1,
            verdict: "nonconformant",
            findings: vec![want(
                "missing_grant",
                "ec2:TerminateInstances",
                In::Seed("ec2-instances.toml"),
                At::Text(
                    "action = \"ec2:TerminateInstances\"\nresource = \"arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:instance/i-0a1b2c3d4e5f60012\"",
                ),
            )],
            failing: &[
                "ec2.terminate-instances",
                "ec2.terminate-instances-control-plane",
                "ec2.terminate-instances-spot-node",
                "ec2.terminate-instances-bastion",
                "ec2.terminate-instances-passrole-path-role",
            ],
        },
        Mutation {
            name: "managed-policy-attached",
            old: "      RoleName: dkp-bootstrapper-role\n",
            new: "      RoleName: dkp-bootstrapper-role\n      ManagedPolicyArns: [arn:aws:iam::aws:policy/ReadOnlyAccess]\n",
            exit: 2,
            verdict: "inconclusive",
            findings: vec![Want { kind: "external_policy", action: None, file: In::Template, at: At::Edit }],
            failing: &[],
        },
    ]
}

fn id_matches(pattern: &str, id: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => id.starts_with(prefix),
        None => id == pattern,
    }
}

/// Checks one mutation's run; returns a description of every mismatch.
fn judge_mutation(m: &Mutation, got: &Mutated) -> Vec<String> {
    let mut problems = Vec::new();
    if got.run.code != m.exit {
        problems.push(format!("exit code {} instead of {}", got.run.code, m.exit));
    }
    if !got.report_dir.join("report.json").exists() {
        problems.push("no report.json written".into());
        return problems;
    }
    let report = read_report(&got.report_dir);
    if report["verdict"] != m.verdict {
        problems.push(format!("verdict {} instead of {}", report["verdict"], m.verdict));
    }
    if report["exit_code"] != m.exit {
        problems.push(format!("report.json exit_code {} instead of {}", report["exit_code"], m.exit));
    }
    let findings = report["findings"].as_array().unwrap();
    for w in &m.findings {
        let (file_name, text) = match w.file {
            In::Template => (got.template.file_name().unwrap().to_string_lossy().into_owned(), got.text.clone()),
            In::Seed(name) => (name.to_string(), seed_text(name)),
        };
        let line = match w.at {
            At::Edit => got.changed_line,
            At::Text(t) => line_of(&text, t, &file_name),
        };
        // An excess grant in the template points at a Resource entry (past its `- `)
        // or, failing one, at the statement (its `Action` key): check the column too.
        let column = (w.kind == "excess_grant" && matches!(w.file, In::Template)).then(|| node_column(&text, line));
        let hit = findings.iter().any(|f| {
            f["kind"] == w.kind
                && w.action.is_none_or(|a| f["action"] == a)
                && f["loc"]["file"].as_str().is_some_and(|file| file.ends_with(&file_name))
                && f["loc"]["line"] == line
                && column.is_none_or(|c| f["loc"]["column"] == c)
        });
        if !hit {
            let same_kind: Vec<String> = findings
                .iter()
                .filter(|f| f["kind"] == w.kind)
                .take(8)
                .map(|f| {
                    format!(
                        "{} {} at {}:{}:{}",
                        f["kind"], f["action"], f["loc"]["file"], f["loc"]["line"], f["loc"]["column"]
                    )
                })
                .collect();
            let at = column.map_or(format!("{file_name}:{line}"), |c| format!("{file_name}:{line}:{c}"));
            problems.push(format!(
                "no `{}` finding for {:?} at {at} (first findings of that kind: {same_kind:#?})",
                w.kind, w.action
            ));
        }
    }
    for s in report["scenarios"].as_array().unwrap() {
        let id = str_field(s, "id");
        let should_fail = m.failing.iter().any(|p| id_matches(p, id));
        if s["pass"] != !should_fail {
            problems.push(format!("scenario {id}: pass = {} but expected {}", s["pass"], !should_fail));
        }
    }
    for p in m.failing {
        if !report["scenarios"].as_array().unwrap().iter().any(|s| id_matches(p, str_field(s, "id"))) {
            problems.push(format!("no scenario matches `{p}`"));
        }
    }
    problems
}

#[test]
fn mutated_templates_are_caught_with_located_findings() {
    let tmp = TempDir::new().unwrap();
    let mut failures = Vec::new();
    for m in mutations() {
        let got = check_modified_template(tmp.path(), m.name, m.old, m.new);
        let problems = judge_mutation(&m, &got);
        if !problems.is_empty() {
            failures.push(format!(
                "mutation `{}` (template line {}):\n  - {}\n{}",
                m.name,
                got.changed_line,
                problems.join("\n  - "),
                got.run.show()
            ));
        }
    }
    assert!(failures.is_empty(), "{} mutation(s) not caught as expected:\n\n{}", failures.len(), failures.join("\n\n"));
}

#[test]
fn explicit_deny_is_named_as_the_statement_that_denies() {
    // The missing_grant finding points at the scenario; the check's `matched` names the
    // added Deny statement, at its `- Action:` line.
    let tmp = TempDir::new().unwrap();
    let m = mutations().into_iter().find(|m| m.name == "deny-terminate-instances").unwrap();
    let got = check_modified_template(tmp.path(), m.name, m.old, m.new);
    assert_eq!(got.run.code, 1, "{}", got.run.show());
    let report = read_report(&got.report_dir);
    let row = report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "ec2.terminate-instances")
        .expect("scenario row");
    let check =
        row["checks"].as_array().unwrap().iter().find(|c| c["action"] == "ec2:TerminateInstances").expect("check");
    assert_eq!(check["outcome"], "explicit_deny", "{check}");
    let matched = &check["matched"][0];
    assert!(str_field(&matched["loc"], "file").ends_with("deny-terminate-instances.yaml"), "{matched}");
    assert_eq!(
        matched["loc"]["line"], got.changed_line,
        "the Deny statement starts on the first added line: {matched}"
    );
    // The Allow entry is now dead: dropping it changes no request's decision, and the
    // exact procedure proves it (it no longer survives as it did when sampled).
    let dead = report["minimality"]["mutants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| {
            str_field(m, "id").starts_with("drop-action:") && str_field(m, "id").ends_with(":ec2:TerminateInstances")
        })
        .expect("the dead entry's mutant");
    assert_eq!(dead["status"], "equivalent", "{dead}");
    assert!(dead["proof"]["summary"].as_str().is_some_and(|s| s.contains("ec2:TerminateInstances")), "{dead}");
}

/// `(kind:label, fingerprint, rest)` of a mutant id such as
/// `drop-condition:dkp-bootstrapper-policy@257940ca:StringLike:iam:AWSServiceName`.
fn split_mutant_id(id: &str) -> (&str, &str, &str) {
    let at = id.find('@').unwrap_or_else(|| panic!("mutant id `{id}` has no `@<fingerprint>`"));
    let fingerprint = id.get(at + 1..at + 9).unwrap_or_else(|| panic!("mutant id `{id}`: short fingerprint"));
    assert!(
        fingerprint.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
        "mutant id `{id}`: fingerprint `{fingerprint}` is not 8 lower-case hex digits"
    );
    (&id[..at], fingerprint, &id[at + 9..])
}

/// The mutant id named in backquotes by a finding's message.
fn mutant_in_message(f: &Value) -> String {
    let message = str_field(f, "message");
    let start = message
        .find("mutant")
        .and_then(|i| message[i..].find('`').map(|j| i + j + 1))
        .unwrap_or_else(|| panic!("no mutant id in {f}"));
    let end = start + message[start..].find('`').unwrap_or_else(|| panic!("unclosed mutant id in {f}"));
    message[start..end].to_string()
}

#[test]
fn editing_a_statement_voids_its_accepted_mutants() {
    // `iam:AWSServiceName: '*'` behaves like dropping the condition, whose mutant the
    // seed profile accepts as equivalent. But mutant ids carry a fingerprint of the
    // statement's content, so the edit gives every mutant of the statement a new id:
    // the accepted entries no longer apply (stale, info) and the statement's mutants
    // that no scenario kills survive until someone reviews them again.
    let tmp = TempDir::new().unwrap();
    let old = "iam:AWSServiceName: autoscaling.amazonaws.com";
    let new = "iam:AWSServiceName: '*'";
    // Mutant ids name a statement by policy and fingerprint; this statement is the one
    // whose Resource names the Auto Scaling service-linked role.
    let statement = "dkp-bootstrapper-policy";
    let marker = "resource[2]=autoscaling.amazonaws.com";

    // The seed profile's accepted mutants, and where each is written.
    let seed_profile = seed_text("profile.toml");
    let accepted: Vec<(String, usize)> = seed_profile
        .lines()
        .filter_map(|l| l.strip_prefix("id = \"").and_then(|r| r.strip_suffix('"')))
        // Fixtures have ids too; mutant ids carry a statement fingerprint.
        .filter(|id| id.contains('@'))
        .map(|id| (id.to_string(), line_of(&seed_profile, &format!("id = \"{id}\""), "the seed profile.toml")))
        .collect();
    let marked = accepted.iter().find(|(id, _)| id.contains(marker)).expect("the seed accepts the marker mutant");
    let seed_fingerprint = split_mutant_id(&marked.0).1.to_string();
    let (of_statement, of_others): (Vec<_>, Vec<_>) =
        accepted.iter().partition(|(id, _)| split_mutant_id(id).1 == seed_fingerprint);
    assert!(
        !of_statement.is_empty() && !of_others.is_empty(),
        "the seed accepts mutants of {statement} and of other statements: {accepted:#?}"
    );
    for (id, _) in &of_statement {
        assert_eq!(
            split_mutant_id(id).1,
            seed_fingerprint,
            "the seed's entries for {statement} share one fingerprint: {id}"
        );
    }

    let got = check_modified_template(tmp.path(), "slr-condition-star", old, new);
    assert_eq!(got.run.code, 1, "{}", got.run.show());
    let report = read_report(&got.report_dir);
    assert_eq!(report["verdict"], "nonconformant");
    assert_eq!(report["exit_code"], 1);
    // No scenario notices the edit: only the mutants make it nonconformant.
    assert_eq!(report["counts"]["scenarios_failed"], 0, "{}", report["counts"]);

    let mutants = report["minimality"]["mutants"].as_array().unwrap();
    let status_of = |id: &str| mutants.iter().find(|m| m["id"] == id).map(|m| str_field(m, "status").to_string());
    // The edited statement's mutants all carry one new fingerprint.
    let new_fingerprint = mutants
        .iter()
        .map(|m| str_field(m, "id"))
        .find(|id| id.contains(marker))
        .map(|id| split_mutant_id(id).1.to_string())
        .expect("the edited statement still has the marker mutant");
    let edited: Vec<&Value> =
        mutants.iter().filter(|m| split_mutant_id(str_field(m, "id")).1 == new_fingerprint).collect();
    assert!(!edited.is_empty(), "no mutant of {statement}");
    assert_ne!(new_fingerprint, seed_fingerprint, "editing {statement} must change its fingerprint");
    for m in &edited {
        assert_eq!(split_mutant_id(str_field(m, "id")).1, new_fingerprint, "{m}");
    }

    // Surviving mutants: all of the edited statement, failing, located in the edited
    // template; exactly the ones the seed had accepted under the old fingerprint.
    let findings = report["findings"].as_array().unwrap();
    let survivors: Vec<&Value> = findings.iter().filter(|f| f["kind"] == "surviving_mutant").collect();
    assert!(!survivors.is_empty(), "the edited statement's unkilled mutants must survive:\n{}", got.run.show());
    assert_eq!(report["counts"]["mutants_survived"], survivors.len(), "{}", report["counts"]);
    let edit_line = got.changed_line;
    let resource_line = line_of(&got.text, "role/aws-service-role/autoscaling.amazonaws.com/", "the edited template");
    let mut survived = Vec::new();
    for f in &survivors {
        let id = mutant_in_message(f);
        let (label, fingerprint, rest) = split_mutant_id(&id);
        assert!(
            label.ends_with(&format!(":{statement}")) && fingerprint == new_fingerprint.as_str(),
            "survivor `{id}` is not a mutant of the edited {statement}: {f}"
        );
        assert_eq!(f["severity"], "fail", "{f}");
        assert_eq!(status_of(&id).as_deref(), Some("survived"), "{id}");
        assert!(str_field(&f["loc"], "file").ends_with("slr-condition-star.yaml"), "{f}");
        // The condition's mutant is at its operator, one line above the edited value;
        // the ARN mutants are at the statement's Resource entry.
        let line = if id.starts_with("drop-condition:") { edit_line - 1 } else { resource_line };
        assert_eq!(f["loc"]["line"], line, "{f}");
        survived.push(format!("{label}@{rest}"));
    }
    let mut were_accepted: Vec<String> = of_statement
        .iter()
        .map(|(id, _)| {
            let (label, _, rest) = split_mutant_id(id);
            format!("{label}@{rest}")
        })
        .collect();
    // The others are decided by the exact procedure: proven equivalent, with no written
    // reason (the old entries no longer name them).
    let mut proven = Vec::new();
    for m in &edited {
        let id = str_field(m, "id");
        if m["status"] == "equivalent" {
            assert!(m["proof"].is_object() && m.get("reason").is_none(), "{m}");
            let (label, _, rest) = split_mutant_id(id);
            proven.push(format!("{label}@{rest}"));
        }
    }
    let proven_count = proven.len();
    let mut decided = [survived.clone(), proven].concat();
    decided.sort();
    were_accepted.sort();
    assert_eq!(
        decided, were_accepted,
        "the statement's formerly accepted mutants, under the new fingerprint, are decided again: survivors or proven"
    );
    // `autoscaling*` in the condition lets another service's name through the widened path.
    assert_eq!(survived, ["widen-arn-segment:dkp-bootstrapper-policy@:0:resource[2]=autoscaling.amazonaws.com"]);

    // The seed's entries for the statement are stale: info, at their `id` line.
    let stale: Vec<&Value> = findings.iter().filter(|f| f["kind"] == "stale_equivalent_mutant").collect();
    assert_eq!(stale.len(), of_statement.len(), "one stale entry per accepted mutant of {statement}: {stale:#?}");
    for (id, line) in &of_statement {
        let f = stale
            .iter()
            .find(|f| str_field(f, "message").contains(&format!("`{id}`")))
            .unwrap_or_else(|| panic!("no stale_equivalent_mutant for `{id}`: {stale:#?}"));
        assert_eq!(f["severity"], "info", "{f}");
        assert!(str_field(&f["loc"], "file").ends_with("profile.toml"), "{f}");
        assert_eq!(f["loc"]["line"], *line, "{f}");
        assert_eq!(status_of(id), None, "no mutant has the old id `{id}`");
    }

    // The other statements are unchanged: their accepted mutants still apply.
    for (id, _) in &of_others {
        assert_eq!(status_of(id).as_deref(), Some("equivalent"), "mutant {id}");
    }
    assert_eq!(report["counts"]["mutants_equivalent"], of_others.len() + proven_count, "{}", report["counts"]);

    // Accepting the same mutants again under the new fingerprint (the review the
    // edit asks for) makes the edited template conformant.
    let profile = copy_seed_profile(tmp.path());
    let toml_path = profile.join("profile.toml");
    let reviewed =
        seed_profile.replace(&format!("{statement}@{seed_fingerprint}:"), &format!("{statement}@{new_fingerprint}:"));
    assert_ne!(reviewed, seed_profile);
    fs::write(&toml_path, reviewed).unwrap();
    let dir = tmp.path().join("r-reviewed");
    let r = check(tmp.path(), &dir, &[("--profile", &profile), ("--template", &got.template)]);
    // No longer conformant: the survivor has a witness request, which refutes the written
    // reason given for it again; the entries of the proven ones apply (no stale finding).
    assert_eq!(r.code, 1, "{}", r.show());
    let report = read_report(&dir);
    assert_eq!(report["verdict"], "nonconformant");
    let findings = report["findings"].as_array().unwrap();
    assert!(
        findings.iter().any(|f| f["kind"] == "surviving_mutant"
            && str_field(f, "message").contains("equivalent-mutant entry for it is refuted")
            && f["witness"].is_object()),
        "{}",
        r.show()
    );
    assert!(!findings.iter().any(|f| f["kind"] == "stale_equivalent_mutant"), "{}", r.show());
}

#[test]
fn mutated_json_template_is_located_in_the_json_file() {
    let tmp = TempDir::new().unwrap();
    let json = rendered_seed_json(tmp.path());
    let old = "\"arn:*:iam::*:role/*.cluster-api-provider-aws.sigs.k8s.io\"";
    let (text, changed) = replace_once(&json, old, "\"arn:*:iam::*:role/*\"", "rendered seed JSON");
    let template = tmp.path().join("widened.json");
    fs::write(&template, &text).unwrap();
    // The widened Resource string: its line, and the column of its opening quote.
    let column = text
        .lines()
        .nth(changed - 1)
        .unwrap()
        .find("\"arn:*:iam::*:role/*\"")
        .expect("the widened string is on the changed line")
        + 1;

    let dir = tmp.path().join("r");
    let r = check(tmp.path(), &dir, &[("--template", &template)]);
    assert_eq!(r.code, 1, "{}", r.show());
    let report = read_report(&dir);
    let findings = report["findings"].as_array().unwrap();
    let in_json = |f: &Value| f["loc"]["file"].as_str().is_some_and(|p| p.ends_with("widened.json"));
    // Every excess grant (one per PassRole scenario the widening lets through) points at
    // the widened Resource string, not at the statement.
    let excess: Vec<&Value> = findings.iter().filter(|f| f["kind"] == "excess_grant").collect();
    assert!(!excess.is_empty(), "no excess_grant: {findings:#?}");
    for f in &excess {
        assert_eq!(f["action"], "iam:PassRole", "{f}");
        assert!(
            in_json(f) && f["loc"]["line"] == changed && f["loc"]["column"] == column,
            "excess_grant not at widened.json:{changed}:{column}: {f}"
        );
    }
    assert!(
        findings.iter().any(|f| f["kind"] == "widened_scope" && in_json(f) && f["loc"]["line"] == changed),
        "widened_scope at widened.json:{changed}: {findings:#?}"
    );
}

// ---------------------------------------------------------------------------------
// C. Malformed inputs: exit 2, `error: <file>:<line>: …`, no report
// ---------------------------------------------------------------------------------

/// Where a malformed input's error must point.
#[derive(Clone, Copy, Debug)]
enum Line {
    /// The first edited line, plus this many lines.
    Edit(usize),
    /// The first edited line, at the column of its first string (its opening `"`).
    EditString,
    /// This line.
    Fixed(usize),
}

struct Malformed {
    name: &'static str,
    /// File of the profile copy to edit, and the file the error must name;
    /// `template.json` is the rendered seed, passed with `--template`.
    file: &'static str,
    old: &'static str,
    new: &'static str,
    /// Where in `file` the error must point.
    line: Line,
    /// Text the error must contain; `{profile}` stands for the profile directory.
    phrase: &'static str,
}

const fn bad(
    name: &'static str,
    file: &'static str,
    old: &'static str,
    new: &'static str,
    line: Line,
    phrase: &'static str,
) -> Malformed {
    Malformed { name, file, old, new, line, phrase }
}

fn malformed_inputs() -> Vec<Malformed> {
    use Line::*;
    vec![
        // --- template (YAML)
        // An unclosed `[` is only detected where the next line breaks the indentation.
        bad(
            "yaml unclosed bracket",
            "template.yaml",
            "          Resource:\n          - '*'\n",
            "          Resource: ['*'\n",
            Edit(1),
            "invalid indentation",
        ),
        bad(
            "yaml mismatched bracket",
            "template.yaml",
            "      - Ref: DKPBootstrapRole\n    Type: AWS::IAM::InstanceProfile",
            "      - [DKPBootstrapRole}\n    Type: AWS::IAM::InstanceProfile",
            Edit(0),
            "while parsing a flow sequence, expected ',' or ']'",
        ),
        bad(
            "unknown short tag",
            "template.yaml",
            "      - Ref: DKPBootstrapRole\n    Type: AWS::IAM::InstanceProfile",
            "      - !Reff DKPBootstrapRole\n    Type: AWS::IAM::InstanceProfile",
            Edit(0),
            "unknown tag `!Reff`",
        ),
        bad(
            "duplicate key",
            "template.yaml",
            "          Effect: Allow\n          Resource:\n          - arn:*:iam::*:role/*.cluster",
            "          Effect: Allow\n          Effect: Deny\n          Resource:\n          - arn:*:iam::*:role/*.cluster",
            Edit(0),
            "duplicate key `Effect`",
        ),
        bad(
            "unknown statement element",
            "template.yaml",
            "          Effect: Allow\n          Resource:\n          - arn:*:iam::*:role/*.cluster",
            "          Efect: Allow\n          Resource:\n          - arn:*:iam::*:role/*.cluster",
            Edit(0),
            "unknown statement element `Efect`",
        ),
        bad(
            "lowercase effect",
            "template.yaml",
            "          Effect: Allow\n          Resource:\n          - arn:*:iam::*:role/*.cluster",
            "          Effect: allow\n          Resource:\n          - arn:*:iam::*:role/*.cluster",
            Edit(0),
            "`Effect` must be \"Allow\" or \"Deny\", found \"allow\"",
        ),
        bad(
            "truncated ARN resource",
            "template.yaml",
            "          - arn:*:iam::*:role/*.cluster-api-provider-aws.sigs.k8s.io\n",
            "          - arn:aws:iam\n",
            Edit(0),
            "resource `arn:aws:iam` is not `*` or an ARN",
        ),
        bad(
            "action without service prefix",
            "template.yaml",
            "          - ec2:CreateVpc\n",
            "          - CreateVpc\n",
            Edit(0),
            "action `CreateVpc` must have the form service:Action",
        ),
        bad(
            "unknown condition operator",
            "template.yaml",
            "            StringLike:\n              iam:AWSServiceName: spot",
            "            StringLikes:\n              iam:AWSServiceName: spot",
            Edit(0),
            "unknown condition operator `StringLikes`",
        ),
        bad(
            "unknown policy version",
            "template.yaml",
            "        Version: 2012-10-17\n      Roles:",
            "        Version: 2012-10-18\n      Roles:",
            Edit(0),
            "`Version` must be \"2012-10-17\" or \"2008-10-17\", found \"2012-10-18\"",
        ),
        bad(
            "Ref to an unknown name",
            "template.yaml",
            "      - Ref: DKPBootstrapRole\n    Type: AWS::IAM::InstanceProfile",
            "      - Ref: DKPBootstrapRol\n    Type: AWS::IAM::InstanceProfile",
            Edit(0),
            "`Ref` to `DKPBootstrapRol`",
        ),
        // --- template (JSON)
        // The trailing comma is only detected at the `]` on the next line.
        bad(
            "JSON trailing comma",
            "template.json",
            "\"ec2:DescribeKeyPairs\"\n",
            "\"ec2:DescribeKeyPairs\",\n",
            Edit(1),
            "expected a JSON value, found `]`",
        ),
        // --- scenario files
        bad(
            "scenario unknown key",
            "ec2-network.toml",
            "service = \"ec2\"\noperation = \"CreateVpc\"",
            "service = \"ec2\"\noperaton = \"CreateVpc\"",
            Edit(0),
            "unknown field `operaton`",
        ),
        bad(
            "scenario bad expect",
            "ec2-network.toml",
            "operation = \"CreateVpc\"\nexpect = \"allow\"",
            "operation = \"CreateVpc\"\nexpect = \"allowed\"",
            Edit(0),
            "unknown variant `allowed`, expected `allow` or `deny`",
        ),
        bad(
            "scenario action not in catalog",
            "ec2-network.toml",
            "action = \"ec2:CreateVpc\"",
            "action = \"ec2:CreateVpcs\"",
            Edit(0),
            "action `ec2:CreateVpcs` is not in the action catalog",
        ),
        bad(
            "scenario needs unknown id",
            "ec2-network.toml",
            "needs = [\"ec2.create-vpc\"]\ninput = { VpcId = \"vpc-0a1b2c3d4e5f60001\", Attribute = \"enableDnsSupport\" }",
            "needs = [\"ec2.create-vpcx\"]\ninput = { VpcId = \"vpc-0a1b2c3d4e5f60001\", Attribute = \"enableDnsSupport\" }",
            Edit(0),
            "needs `ec2.create-vpcx`, which is no scenario of this profile",
        ),
        bad(
            "duplicate scenario id across files",
            "elb.toml",
            "id = \"elb.describe-load-balancers\"",
            "id = \"ec2.create-vpc\"",
            Edit(0),
            "duplicate scenario id `ec2.create-vpc` (first at ",
        ),
        bad(
            "scenario unknown service",
            "ec2-network.toml",
            "service = \"ec2\"\noperation = \"CreateVpc\"",
            "service = \"ec3\"\noperation = \"CreateVpc\"",
            Edit(0),
            "unknown service `ec3`",
        ),
        bad(
            "scenario unknown variable",
            "ec2-network.toml",
            "action = \"ec2:CreateVpc\"\nresource = \"arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:vpc/*\"",
            "action = \"ec2:CreateVpc\"\nresource = \"arn:${AWS::Partition}:ec2:${AWS::Region}:${Foo}:vpc/*\"",
            Edit(0),
            "unknown variable `${Foo}`",
        ),
        bad(
            "scenario TOML syntax",
            "ec2-network.toml",
            "operation = \"CreateVpc\"",
            "operation = \"CreateVpc",
            Edit(0),
            "invalid basic string",
        ),
        // --- profile.toml
        bad(
            "profile missing role",
            "profile.toml",
            "role = \"DKPBootstrapRole\"\n",
            "",
            Fixed(1),
            "missing field `role`",
        ),
        bad(
            "profile unknown key",
            "profile.toml",
            "role = \"DKPBootstrapRole\"\n",
            "role = \"DKPBootstrapRole\"\nroles = [\"x\"]\n",
            Edit(0),
            "unknown field `roles`",
        ),
        // Errors about what profile.toml names point at the line that names it.
        bad(
            "profile names a role the template lacks",
            "profile.toml",
            "role = \"DKPBootstrapRole\"",
            "role = \"NoSuchRole\"",
            EditString,
            "role `NoSuchRole` is not an AWS::IAM::Role of `{profile}/template.yaml` (its roles: DKPBootstrapRole)",
        ),
        bad(
            "profile names a missing scenario file",
            "profile.toml",
            "  \"ec2-instances.toml\",\n",
            "  \"ec2-instancs.toml\",\n",
            EditString,
            "failed to read `{profile}/ec2-instancs.toml`, named here: ",
        ),
        bad(
            "profile names a missing template",
            "profile.toml",
            "template = \"template.yaml\"",
            "template = \"no-such-template.yaml\"",
            EditString,
            "failed to read `{profile}/no-such-template.yaml`, named here: ",
        ),
    ]
}

/// Runs one malformed case; returns a description of every mismatch.
fn judge_malformed(tmp: &Path, index: usize, m: &Malformed, json: &str) -> Vec<String> {
    let case_dir = tmp.join(format!("case-{index}"));
    fs::create_dir_all(&case_dir).unwrap();
    let profile = copy_seed_profile(&case_dir);
    let path = profile.join(m.file);
    if m.file == "template.json" {
        fs::write(&path, json).unwrap();
    }
    let original = fs::read_to_string(&path).unwrap();
    let (edited, changed) = replace_once(&original, m.old, m.new, &path.display().to_string());
    fs::write(&path, &edited).unwrap();

    let report_dir = case_dir.join("r");
    let mut options: Vec<(&str, &Path)> = vec![("--profile", &profile)];
    if m.file == "template.json" {
        options.push(("--template", &path));
    }
    let r = check(&case_dir, &report_dir, &options);

    let mut problems = Vec::new();
    if r.code != 2 {
        problems.push(format!("exit code {} instead of 2", r.code));
    }
    if let Err(e) = report_files_absent(&report_dir) {
        problems.push(e);
    }
    if !r.stdout.is_empty() {
        problems.push("stdout is not empty".into());
    }
    if !r.stderr.starts_with("error: ") {
        problems.push("stderr does not start with `error: `".into());
    }
    let reported = path.display().to_string();
    let prefix = match m.line {
        Line::Edit(n) => format!("error: {reported}:{}:", changed + n),
        Line::EditString => {
            let column =
                edited.lines().nth(changed - 1).and_then(|l| l.find('"')).expect("the edited line has a string") + 1;
            format!("error: {reported}:{changed}:{column}: ")
        }
        Line::Fixed(n) => format!("error: {reported}:{n}:"),
    };
    if !r.stderr.starts_with(&prefix) {
        problems.push(format!("stderr does not start with `{prefix}` (edited line {changed})"));
    }
    let phrase = m.phrase.replace("{profile}", &profile.display().to_string());
    if !r.stderr.contains(&phrase) {
        problems.push(format!("stderr lacks `{phrase}`"));
    }
    if r.stderr.lines().count() != 1 {
        problems.push("the error is not a single line".into());
    }
    if !problems.is_empty() {
        let last = problems.len() - 1;
        problems[last] = format!("{}\n{}", problems[last], r.show());
    }
    problems
}

#[test]
fn malformed_inputs_exit_2_naming_file_and_line() {
    let tmp = TempDir::new().unwrap();
    let json = rendered_seed_json(tmp.path());
    let cases = malformed_inputs();
    assert!(cases.len() >= 15, "at least 15 malformed inputs");
    let mut failures = Vec::new();
    for (i, m) in cases.iter().enumerate() {
        let problems = judge_malformed(tmp.path(), i, m, &json);
        if !problems.is_empty() {
            failures.push(format!("case `{}` ({}):\n  - {}", m.name, m.file, problems.join("\n  - ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} malformed input(s) not rejected as expected:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn duplicate_scenario_id_names_the_first_definition() {
    // Beyond the table: the message points at both definitions.
    let tmp = TempDir::new().unwrap();
    let profile = copy_seed_profile(tmp.path());
    let path = profile.join("elb.toml");
    let (edited, _) = replace_once(
        &fs::read_to_string(&path).unwrap(),
        "id = \"elb.describe-load-balancers\"",
        "id = \"ec2.create-vpc\"",
        "elb.toml",
    );
    fs::write(&path, edited).unwrap();
    let first = line_of(&seed_text("ec2-network.toml"), "id = \"ec2.create-vpc\"", "ec2-network.toml");
    let r = check(tmp.path(), &tmp.path().join("r"), &[("--profile", &profile)]);
    assert_eq!(r.code, 2, "{}", r.show());
    let want = format!("(first at {}:{first}:", profile.join("ec2-network.toml").display());
    assert!(r.stderr.contains(&want), "expected `{want}`:\n{}", r.show());
}

#[test]
fn bad_command_line_and_missing_files_exit_2_without_report() {
    let tmp = TempDir::new().unwrap();
    let cases: &[(&str, &[&str], &str)] = &[
        ("short account id", &["--account-id", "123"], "error: --account-id `123` must be 12 digits"),
        (
            "non-digit account id",
            &["--account-id", "00000000000x"],
            "error: --account-id `00000000000x` must be 12 digits",
        ),
        ("upper-case region", &["--region", "US"], "error: --region `US` is not a region name"),
        ("unknown flag", &["--bogus"], "error: unexpected argument '--bogus'"),
        ("missing template", &["--template", "does-not-exist.yaml"], "error: failed to read `does-not-exist.yaml`"),
        ("missing profile", &["--profile", "no-such-profile"], "error: failed to read `no-such-profile/profile.toml`"),
    ];
    let mut failures = Vec::new();
    for (i, (name, args, prefix)) in cases.iter().enumerate() {
        let dir = tmp.path().join(format!("r-{i}"));
        let mut all: Vec<OsString> = vec!["check".into(), "--report-dir".into(), dir.clone().into()];
        all.extend(args.iter().map(OsString::from));
        let r = run(tmp.path(), all);
        let mut problems = Vec::new();
        if r.code != 2 {
            problems.push(format!("exit code {} instead of 2", r.code));
        }
        if !r.stderr.starts_with(prefix) {
            problems.push(format!("stderr does not start with `{prefix}`"));
        }
        if dir.exists() {
            problems.push("the report directory was created".into());
        }
        if !problems.is_empty() {
            failures.push(format!("case `{name}`:\n  - {}\n{}", problems.join("\n  - "), r.show()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn unwritable_report_dir_exits_2() {
    let tmp = TempDir::new().unwrap();
    let blocker = tmp.path().join("not-a-dir");
    fs::write(&blocker, "a file where the report directory should go").unwrap();
    let r = check(tmp.path(), &blocker, &[]);
    assert_eq!(r.code, 2, "{}", r.show());
    assert!(r.stderr.starts_with("error: failed to create report directory"), "{}", r.show());
    assert!(r.stdout.is_empty(), "no summary when the reports cannot be written:\n{}", r.show());
}

#[test]
fn a_failed_check_leaves_no_earlier_report_looking_current() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("reports");
    let first = check(tmp.path(), &dir, &[]);
    assert_eq!(first.code, 0, "{}", first.show());
    assert!(dir.join("report.json").exists());
    // Same directory, bad input: the conformant report of the first check must not stay.
    let bad = tmp.path().join("bad.yaml");
    fs::write(&bad, "Resources: [").unwrap();
    let second = check(tmp.path(), &dir, &[("--template", &bad)]);
    assert_eq!(second.code, 2, "{}", second.show());
    for name in ["report.json", "junit.xml", "summary.md", "report.html"] {
        assert!(!dir.join(name).exists(), "{name} of the earlier check is still there:\n{}", second.show());
    }
    assert!(second.stderr.contains("removed the earlier report.json"), "{}", second.show());
}

#[test]
fn output_that_cannot_be_written_and_zero_concurrency_exit_2() {
    // A full disk under `render` and `diff` is an error, not a silent success.
    let tmp = TempDir::new().unwrap();
    let template = seed_dir().join("template.yaml");
    for args in [
        vec!["render".to_string()],
        vec!["diff".to_string(), template.display().to_string(), template.display().to_string()],
    ] {
        let full = fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full exists on Linux");
        let out = Command::new(BIN).args(&args).current_dir(tmp.path()).stdout(full).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("failed to write to standard output"), "{args:?}: {stderr}");
    }
    // No run can make progress with no call at a time.
    let r = run(tmp.path(), ["run", "--concurrency", "0"]);
    assert_eq!(r.code, 2, "{}", r.show());
    assert!(r.stderr.contains("--concurrency") && r.stderr.contains("at least 1"), "{}", r.show());
}
