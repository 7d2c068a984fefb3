//! Hostile input through the real binary: `iam-conformance check` on generated files that
//! once crashed, hung or were misjudged (issue 10, "Bad input that crashes or hangs").
//!
//! Every case must exit 2 within a bounded time (the child is killed after 20 s and the
//! test fails), print `error: ` and name the file — with the line (and column) where the
//! reader knows one — and write no report.json.
//!
//! * a YAML alias bomb (9^9 nodes) is refused at the alias that crosses the budget;
//! * 10^4 and 10^5 nested block sequences, flow lists and JSON arrays are refused at the
//!   line where the nesting limit is crossed;
//! * a 5 MB action name is refused by the file bound, a 100 KB one by the managed policy bound;
//! * /dev/zero and a FIFO with no writer are refused without being read;
//! * invalid UTF-8 is refused at its line and column;
//! * a circular `Ref` between the role and its policy is refused naming both references;
//! * profile and scenario files get the same bounds.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_iam-conformance");

/// The child is killed and the test fails after this long.
const TIMEOUT: Duration = Duration::from_secs(20);

/// What one run of the binary produced.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Run {
    fn show(&self) -> String {
        let stderr: String = self.stderr.chars().take(2_000).collect();
        format!("exit code {} after {:?}\n--- stdout\n{}--- stderr\n{stderr}---", self.code, self.elapsed, self.stdout)
    }
}

/// Runs `iam-conformance <args>` in `cwd`, killing it after [`TIMEOUT`].
fn run(cwd: &Path, args: &[&std::ffi::OsStr]) -> Run {
    let start = Instant::now();
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("failed to start iam-conformance");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for iam-conformance") {
            break status;
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("iam-conformance {args:?} ran longer than {TIMEOUT:?} and was killed");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let elapsed = start.elapsed();
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    let code = status.code().unwrap_or_else(|| panic!("iam-conformance was killed by a signal ({status}):\n{stderr}"));
    Run { code, stdout, stderr, elapsed }
}

/// A temporary working directory with a report directory inside it.
struct Work {
    dir: TempDir,
}

impl Work {
    fn new() -> Self {
        Work { dir: tempfile::tempdir().expect("temp dir") }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, bytes).expect("write a hostile file");
        path
    }

    fn reports(&self) -> PathBuf {
        self.path("reports")
    }

    /// `check --template <template> --report-dir <reports>`.
    fn check_template(&self, template: &Path) -> Run {
        let reports = self.reports();
        run(
            self.dir.path(),
            &[
                "check".as_ref(),
                "--template".as_ref(),
                template.as_os_str(),
                "--report-dir".as_ref(),
                reports.as_os_str(),
            ],
        )
    }

    /// `check --profile <profile> --report-dir <reports>`.
    fn check_profile(&self, profile: &Path) -> Run {
        let reports = self.reports();
        run(
            self.dir.path(),
            &[
                "check".as_ref(),
                "--profile".as_ref(),
                profile.as_os_str(),
                "--report-dir".as_ref(),
                reports.as_os_str(),
            ],
        )
    }
}

/// Exit 2, `error: <prefix>…` with `phrase` in it, bounded time, no report.
fn assert_refused(work: &Work, r: &Run, prefix: &str, phrase: &str) {
    assert_eq!(r.code, 2, "{}", r.show());
    assert!(r.stderr.starts_with(&format!("error: {prefix}")), "expected `error: {prefix}…`:\n{}", r.show());
    assert!(r.stderr.contains(phrase), "expected `{phrase}`:\n{}", r.show());
    assert!(r.stderr.lines().count() <= 3, "a short message, not a dump:\n{}", r.show());
    assert!(!r.stderr.contains("panicked"), "{}", r.show());
    assert!(!work.reports().join("report.json").exists(), "a report.json was written:\n{}", r.show());
    assert!(r.elapsed < TIMEOUT, "{}", r.show());
}

/// 1-based line of the first line of `text` that starts with `start` (after indentation).
fn line_of(text: &str, start: &str) -> usize {
    text.lines()
        .position(|l| l.trim_start().starts_with(start))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("no line `{start}`"))
}

/// A template whose `R` resource holds `body` (indented by six spaces) under `Properties`.
fn template_with(body: &str) -> String {
    format!("Resources:\n  R:\n    Type: AWS::S3::Bucket\n    Properties:\n{body}")
}

#[test]
fn yaml_alias_bomb_is_refused_at_the_alias() {
    let work = Work::new();
    let mut body = String::from("      a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..=9 {
        let refs = vec![format!("*a{}", i - 1); 9].join(", ");
        body.push_str(&format!("      a{i}: &a{i} [{refs}]\n"));
    }
    let text = template_with(&body);
    let path = work.write("bomb.yaml", &text);
    let r = work.check_template(&path);
    // a4 copies 177,147 bytes of "lol"; the fifth copy of it in a5 passes 1 MiB of text.
    let line = line_of(&text, "a5:");
    assert_refused(&work, &r, &format!("{}:{line}:", path.display()), "alias expansion exceeds");
    eprintln!("alias bomb refused in {:?}: {}", r.elapsed, r.stderr.trim());
}

#[test]
fn yaml_alias_bomb_of_small_nodes_is_refused_by_the_node_budget() {
    let work = Work::new();
    let mut body = String::from("      a0: &a0 [a, a, a, a, a, a, a, a, a]\n");
    for i in 1..=9 {
        let refs = vec![format!("*a{}", i - 1); 9].join(", ");
        body.push_str(&format!("      a{i}: &a{i} [{refs}]\n"));
    }
    let text = template_with(&body);
    let path = work.write("bomb.yaml", &text);
    let r = work.check_template(&path);
    let line = line_of(&text, "a5:");
    assert_refused(&work, &r, &format!("{}:{line}:", path.display()), "alias expansion exceeds 524288 nodes");
}

#[test]
fn deeply_nested_block_sequences_are_refused_where_the_limit_is_crossed() {
    for levels in [10_000, 100_000] {
        let work = Work::new();
        // Compact nested sequences on one line: `- - - … x`.
        let text = template_with(&format!("      Deep:\n      {}x\n", "- ".repeat(levels)));
        let path = work.write("deep.yaml", &text);
        let r = work.check_template(&path);
        // Properties is 3 levels deep: its `Deep` list is level 4, and the 126th `- ` is
        // level 129, one past 128, at column 7 + 2 * 125.
        let line = line_of(&text, "- - ");
        assert_refused(&work, &r, &format!("{}:{line}:257: ", path.display()), "nesting deeper than 128 levels");
    }
    // One sequence per line: the limit is crossed on the 126th of them.
    let work = Work::new();
    let nested: String = (0..1_000).map(|i| format!("{}-\n", " ".repeat(6 + i))).collect();
    let text = template_with(&format!("      Deep:\n{nested}{}x\n", " ".repeat(1_006)));
    let path = work.write("deep.yaml", &text);
    let r = work.check_template(&path);
    let line = line_of(&text, "-") + 125;
    assert_refused(&work, &r, &format!("{}:{line}:", path.display()), "nesting deeper than 128 levels");
}

#[test]
fn deeply_nested_flow_lists_are_refused() {
    for levels in [10_000, 100_000] {
        let work = Work::new();
        let text = template_with(&format!("      Deep: {}{}\n", "[".repeat(levels), "]".repeat(levels)));
        let path = work.write("deep.yaml", &text);
        let r = work.check_template(&path);
        let line = line_of(&text, "Deep:");
        assert_refused(&work, &r, &format!("{}:{line}:", path.display()), "nesting deeper than 128 levels");
    }
}

#[test]
fn deeply_nested_json_arrays_are_refused_where_the_limit_is_crossed() {
    for levels in [10_000, 100_000] {
        let work = Work::new();
        // One `[` per line after `"Deep": `, which is 4 levels deep.
        let text = format!(
            "{{\"Resources\": {{\"R\": {{\"Type\": \"AWS::S3::Bucket\", \"Properties\": {{\"Deep\":\n{}{}}}}}}}}}\n",
            "[\n".repeat(levels),
            "]".repeat(levels)
        );
        let path = work.write("deep.json", &text);
        let r = work.check_template(&path);
        // The array on line k is at level k + 2: level 129 is on line 127.
        assert_refused(&work, &r, &format!("{}:127:1: ", path.display()), "nesting deeper than 128 levels");
    }
}

/// A template with one managed policy whose only action is `action`.
fn managed_policy_with_action(action: &str) -> String {
    format!(
        "Resources:\n  Role:\n    Type: AWS::IAM::Role\n    Properties:\n      AssumeRolePolicyDocument:\n        Version: '2012-10-17'\n        Statement:\n        - Effect: Allow\n          Principal: {{Service: ec2.amazonaws.com}}\n          Action: sts:AssumeRole\n  Policy:\n    Type: AWS::IAM::ManagedPolicy\n    Properties:\n      Roles: [!Ref Role]\n      PolicyDocument:\n        Version: '2012-10-17'\n        Statement:\n        - Effect: Allow\n          Action: {action}\n          Resource: '*'\n"
    )
}

#[test]
fn a_5mb_action_name_is_refused_by_the_file_bound() {
    let work = Work::new();
    let action = format!("ec2:{}", "A".repeat(5_000_000));
    let text = managed_policy_with_action(&action);
    let path = work.write("huge.yaml", &text);
    let r = work.check_template(&path);
    // The 1,048,577th byte falls inside the action, on its line.
    let line = line_of(&text, "Action: ec2:");
    let start = text.find("Action: ec2:").unwrap();
    let line_start = text[..start].rfind('\n').unwrap() + 1;
    let column = (1 << 20) - line_start + 1;
    assert_refused(&work, &r, &format!("{}:{line}:{column}: ", path.display()), "larger than 1048576 bytes");
}

#[test]
fn a_policy_larger_than_iam_takes_is_refused_at_its_document() {
    let work = Work::new();
    let action = format!("ec2:{}", "A".repeat(100_000));
    let text = managed_policy_with_action(&action);
    let path = work.write("big-policy.yaml", &text);
    let r = work.check_template(&path);
    // The document is the mapping on the line after `PolicyDocument:`.
    let document = line_of(&text, "PolicyDocument:") + 1;
    assert_refused(
        &work,
        &r,
        &format!("{}:{document}:", path.display()),
        "IAM allows at most 6144 in a managed policy",
    );
}

#[test]
fn dev_zero_is_refused_without_reading_it() {
    let work = Work::new();
    let r = work.check_template(Path::new("/dev/zero"));
    assert_refused(&work, &r, "failed to read `/dev/zero`: ", "not a regular file (a character device)");
    // Through a symbolic link, too.
    let link = work.path("link.yaml");
    std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
    let r = work.check_template(&link);
    assert_refused(
        &work,
        &r,
        &format!("failed to read `{}`: ", link.display()),
        "not a regular file (a character device)",
    );
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("run mkfifo");
    assert!(status.success(), "mkfifo {} failed", path.display());
}

#[test]
fn a_fifo_with_no_writer_is_refused_without_opening_it() {
    let work = Work::new();
    let fifo = work.path("fifo.yaml");
    mkfifo(&fifo);
    let r = work.check_template(&fifo);
    assert_refused(&work, &r, &format!("failed to read `{}`: ", fifo.display()), "not a regular file (a FIFO)");
}

#[test]
fn invalid_utf8_is_refused_at_its_line_and_column() {
    let work = Work::new();
    let mut bytes = template_with("      BucketName: caf\u{e9}-").into_bytes();
    bytes.extend_from_slice(b"\xff\xfe\n");
    let path = work.write("latin1.yaml", &bytes);
    let r = work.check_template(&path);
    // Line 5, after the twenty-three characters `      BucketName: café-`.
    assert_refused(&work, &r, &format!("{}:5:24: ", path.display()), "invalid UTF-8 (byte 0xFF)");
}

#[test]
fn a_circular_ref_between_role_and_policy_is_refused_naming_both() {
    let work = Work::new();
    let text = "Resources:\n  Role:\n    Type: AWS::IAM::Role\n    Properties:\n      ManagedPolicyArns:\n      - !Ref Policy\n      AssumeRolePolicyDocument:\n        Version: '2012-10-17'\n        Statement:\n        - Effect: Allow\n          Principal: {Service: ec2.amazonaws.com}\n          Action: sts:AssumeRole\n  Policy:\n    Type: AWS::IAM::ManagedPolicy\n    Properties:\n      Roles:\n      - !Ref Role\n      PolicyDocument:\n        Version: '2012-10-17'\n        Statement:\n        - Effect: Allow\n          Action: ec2:DescribeVpcs\n          Resource: '*'\n";
    let path = work.write("cycle.yaml", text);
    let r = work.check_template(&path);
    let file = path.display();
    assert_refused(
        &work,
        &r,
        &format!("{file}:6:9: circular dependency between resources `Role`, `Policy`"),
        "CloudFormation refuses",
    );
    assert!(r.stderr.contains(&format!("`Role` refers to `Policy` at {file}:6:9")), "{}", r.show());
    assert!(r.stderr.contains(&format!("`Policy` refers to `Role` at {file}:17:9")), "{}", r.show());
}

/// A copy of the small profile in tests/fixtures/mini, in the work directory.
fn mini_profile(work: &Work) -> PathBuf {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mini");
    let to = work.path("profile");
    std::fs::create_dir(&to).unwrap();
    for entry in std::fs::read_dir(&from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
    to
}

#[test]
fn profile_and_scenario_files_have_the_same_bounds() {
    // The copy itself is fine.
    let work = Work::new();
    let profile = mini_profile(&work);
    let r = work.check_profile(&profile);
    assert!(r.code == 0 || r.code == 1, "the copied profile loads:\n{}", r.show());

    // A scenario file that is a FIFO: refused where the profile names it.
    let work = Work::new();
    let profile = mini_profile(&work);
    let scenarios = profile.join("scenarios.toml");
    std::fs::remove_file(&scenarios).unwrap();
    mkfifo(&scenarios);
    let r = work.check_profile(&profile);
    let named = profile.join("profile.toml");
    assert_refused(&work, &r, &format!("{}:", named.display()), "not a regular file (a FIFO)");
    assert!(r.stderr.contains(&format!("`{}`", scenarios.display())), "{}", r.show());

    // A profile.toml that is /dev/zero.
    let work = Work::new();
    let profile = mini_profile(&work);
    let toml = profile.join("profile.toml");
    std::fs::remove_file(&toml).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &toml).unwrap();
    let r = work.check_profile(&profile);
    assert_refused(&work, &r, &format!("failed to read `{}`: ", toml.display()), "not a regular file");

    // A scenario file over the bound: refused in that file, where the bound is crossed.
    let work = Work::new();
    let profile = mini_profile(&work);
    let scenarios = profile.join("scenarios.toml");
    let mut text = std::fs::read_to_string(&scenarios).unwrap();
    let lines = text.lines().count();
    text.push_str(&format!("# {}\n", "x".repeat(2 << 20)));
    std::fs::write(&scenarios, &text).unwrap();
    let r = work.check_profile(&profile);
    assert_refused(&work, &r, &format!("{}:{}:", scenarios.display(), lines + 1), "larger than 1048576 bytes");

    // Invalid UTF-8 in profile.toml.
    let work = Work::new();
    let profile = mini_profile(&work);
    let toml = profile.join("profile.toml");
    let mut bytes = std::fs::read(&toml).unwrap();
    bytes.extend_from_slice(b"# \xc0\n");
    let lines = bytes.iter().filter(|b| **b == b'\n').count();
    std::fs::write(&toml, &bytes).unwrap();
    let r = work.check_profile(&profile);
    assert_refused(&work, &r, &format!("{}:{lines}:3: ", toml.display()), "invalid UTF-8 (byte 0xC0)");
}
