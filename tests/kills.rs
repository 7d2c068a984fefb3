//! Kills leave nothing behind (issue 10, item 6): `iam-conformance run` on the default
//! moto target is sent SIGTERM or SIGKILL at several points — fixed times after it starts
//! and the phases it goes through (the emulator starting, the deploy, the scenarios, a venv
//! install) — and within a few seconds no process it started may be left: none whose
//! parent chain led to it, none carrying the run's marker in its environment, none naming
//! its report directory (or cache) on its command line or holding a file open there. No
//! report may be in its report directory afterwards, an earlier run's included. A new run
//! reaps what a killed one left when the watchdog could not.
//!
//! Everything is bounded: each wait has a deadline, and a process found left behind is
//! killed before the test fails.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a phase may take to come (moto's start is ~1-2 s; under load, more).
const PHASE_LIMIT: Duration = Duration::from_secs(90);
/// How long the harness may take to exit after the signal (SIGTERM tears down first).
const EXIT_LIMIT: Duration = Duration::from_secs(30);
/// How soon after the harness is gone nothing of it may be left.
const CLEAN_LIMIT: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug)]
enum Sig {
    Term,
    Kill,
}

/// When to send the signal.
#[derive(Clone, Copy, Debug)]
enum Point {
    /// This long after the harness was started.
    After(Duration),
    /// The emulator has logged this many requests (1: the readiness probe; 2 and on: the
    /// deploy; some dozens: the scenarios).
    Requests(usize),
    /// A process started for the run has this on its command line (`moto_server`: the
    /// emulator is spawned, not yet ready; `pip install`: moto is being installed).
    Descendant(&'static str),
}

/// The fields of `/proc/PID/stat` the checks use: state, parent, start time.
fn stat(pid: u32) -> Option<(char, u32, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some((f.first()?.chars().next()?, f.get(1)?.parse().ok()?, f.get(19)?.parse().ok()?))
}

fn pids() -> Vec<u32> {
    std::fs::read_dir("/proc")
        .map(|d| d.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).collect())
        .unwrap_or_default()
}

fn cmdline(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

fn environ_has(pid: u32, entry: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|b| b.split(|c| *c == 0).any(|e| e == entry.as_bytes()))
}

fn holds_file_under(pid: u32, dirs: &[&Path]) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { return false };
    fds.flatten().filter_map(|fd| std::fs::read_link(fd.path()).ok()).any(|t| dirs.iter().any(|d| t.starts_with(d)))
}

/// Every live process below `root`, with its start time and command line.
fn descendants(root: u32) -> BTreeMap<u32, (u64, String)> {
    let all: Vec<(u32, u32, u64)> =
        pids().into_iter().filter_map(|p| stat(p).filter(|s| s.0 != 'Z').map(|s| (p, s.1, s.2))).collect();
    let mut found = BTreeMap::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for &(pid, ppid, start) in &all {
            if ppid == parent && !found.contains_key(&pid) {
                found.insert(pid, (start, cmdline(pid)));
                frontier.push(pid);
            }
        }
    }
    found
}

fn send(pid: u32, sig: Sig) {
    let flag = match sig {
        Sig::Term => "-TERM",
        Sig::Kill => "-KILL",
    };
    let _ = Command::new("kill").arg(flag).arg(pid.to_string()).stderr(Stdio::null()).status();
}

/// One `iam-conformance run`, watched.
struct Run {
    child: Child,
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    cache: Option<PathBuf>,
    marker: String,
    output: Arc<Mutex<String>>,
    started: Instant,
    /// Every process seen below the harness before the signal: pid → (start, command).
    seen: BTreeMap<u32, (u64, String)>,
}

impl Run {
    /// Starts `run --report-dir <tmp>/r` on moto; with `fresh_cache`, in an empty cache
    /// (so moto is installed first). `seed` files are put into the report directory.
    fn start(fresh_cache: bool, seed: &[(&str, &str)]) -> Run {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("r");
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text) in seed {
            std::fs::write(dir.join(name), text).unwrap();
        }
        let marker = format!("IAMC_KILL_TEST={}", tmp.path().display());
        let mut command = Command::new(env!("CARGO_BIN_EXE_iam-conformance"));
        command
            .arg("run")
            .arg("--report-dir")
            .arg(&dir)
            .env("IAMC_KILL_TEST", tmp.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let cache = fresh_cache.then(|| tmp.path().join("cache"));
        if let Some(cache) = &cache {
            command.env("IAM_CONFORMANCE_CACHE", cache);
        }
        let mut child = command.spawn().expect("the binary starts");
        let output = Arc::new(Mutex::new(String::new()));
        for stream in [
            child.stdout.take().map(|s| Box::new(s) as Box<dyn Read + Send>),
            child.stderr.take().map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let output = Arc::clone(&output);
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    output.lock().unwrap().push_str(&(line + "\n"));
                }
            });
        }
        Run { child, _tmp: tmp, dir, cache, marker, output, started: Instant::now(), seen: BTreeMap::new() }
    }

    fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// The emulator's request lines so far.
    fn requests(&self) -> usize {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return 0 };
        entries
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("moto-"))
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .map(|t| t.lines().filter(|l| l.contains(" HTTP/1.1\"")).count())
            .sum()
    }

    fn reached(&self, point: Point) -> bool {
        match point {
            Point::After(d) => self.started.elapsed() >= d,
            Point::Requests(n) => self.requests() >= n,
            Point::Descendant(word) => self.seen.values().any(|(_, cmd)| cmd.contains(word)),
        }
    }

    /// Waits until `point`, noting the harness's processes as they come. Panics if the
    /// run ends first (the point was never reached: the test would prove nothing).
    fn wait_for(&mut self, point: Point) {
        let deadline = Instant::now() + PHASE_LIMIT;
        loop {
            self.seen.extend(descendants(self.child.id()));
            if self.reached(point) {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                self.cleanup();
                panic!("the run ended ({status}) before {point:?}:\n{}", self.output());
            }
            if Instant::now() > deadline {
                self.cleanup();
                panic!("{point:?} not reached within {PHASE_LIMIT:?}:\n{}", self.output());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `sig` and waits (bounded) for the harness to exit.
    fn signal(&mut self, sig: Sig) -> ExitStatus {
        self.seen.extend(descendants(self.child.id()));
        send(self.child.id(), sig);
        let deadline = Instant::now() + EXIT_LIMIT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            if Instant::now() > deadline {
                self.cleanup();
                panic!("the harness did not exit within {EXIT_LIMIT:?} of SIG{sig:?}:\n{}", self.output());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What is still running for this run: pid → command line.
    fn left(&self) -> BTreeMap<u32, String> {
        let dir = self.dir.to_string_lossy().into_owned();
        let cache = self.cache.as_ref().map(|c| c.to_string_lossy().into_owned());
        let mut under: Vec<&Path> = vec![&self.dir];
        if let Some(c) = &self.cache {
            under.push(c);
        }
        let me = std::process::id();
        pids()
            .into_iter()
            .filter(|&p| p != me && p != self.child.id())
            .filter_map(|p| stat(p).filter(|s| s.0 != 'Z').map(|s| (p, s.2)))
            .filter(|&(p, start)| {
                let cmd = cmdline(p);
                self.seen.get(&p).is_some_and(|(s, _)| *s == start)
                    || environ_has(p, &self.marker)
                    || cmd.contains(&dir)
                    || cache.as_ref().is_some_and(|c| cmd.contains(c.as_str()))
                    || holds_file_under(p, &under)
            })
            .map(|(p, _)| (p, cmdline(p)))
            .collect()
    }

    /// Kills whatever is left (so a failing test leaves nothing either) and the harness.
    fn cleanup(&mut self) {
        for pid in self.left().keys() {
            send(*pid, Sig::Kill);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Within [`CLEAN_LIMIT`], nothing of the run may be left.
    fn assert_nothing_left(&mut self, what: &str) {
        let deadline = Instant::now() + CLEAN_LIMIT;
        let mut left = self.left();
        while !left.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            left = self.left();
        }
        if !left.is_empty() {
            self.cleanup();
            panic!(
                "{what}: left running {CLEAN_LIMIT:?} after the harness exited:\n{}\nharness output:\n{}",
                left.iter().map(|(p, c)| format!("  {p} {c}")).collect::<Vec<_>>().join("\n"),
                self.output()
            );
        }
    }

    fn assert_no_report(&self, what: &str) {
        for name in ["report.json", "junit.xml", "summary.md", "report.html"] {
            assert!(!self.dir.join(name).exists(), "{what}: {name} is in the report directory:\n{}", self.output());
        }
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.cleanup();
        }
    }
}

/// Runs `run`, sends `sig` at `point`, and checks nothing is left.
fn kill_at(point: Point, sig: Sig, fresh_cache: bool) {
    let mut run = Run::start(fresh_cache, &[]);
    run.wait_for(point);
    let at = run.started.elapsed();
    let status = run.signal(sig);
    let what = format!("SIG{sig:?} at {point:?} ({:.2} s)", at.as_secs_f64());
    match sig {
        // Interrupted: exit 2, after stopping what it started.
        Sig::Term => assert_eq!(status.code(), Some(2), "{what}: {status}\n{}", run.output()),
        Sig::Kill => assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9), "{what}: {status}"),
    }
    run.assert_nothing_left(&what);
    run.assert_no_report(&what);
}

#[test]
fn sigterm_at_0_3_s() {
    kill_at(Point::After(Duration::from_millis(300)), Sig::Term, false);
}

#[test]
fn sigkill_at_0_3_s() {
    kill_at(Point::After(Duration::from_millis(300)), Sig::Kill, false);
}

#[test]
fn sigterm_at_1_5_s() {
    kill_at(Point::After(Duration::from_millis(1500)), Sig::Term, false);
}

#[test]
fn sigkill_at_1_5_s() {
    kill_at(Point::After(Duration::from_millis(1500)), Sig::Kill, false);
}

#[test]
fn sigterm_at_3_s() {
    kill_at(Point::After(Duration::from_secs(3)), Sig::Term, false);
}

#[test]
fn sigkill_at_3_s() {
    kill_at(Point::After(Duration::from_secs(3)), Sig::Kill, false);
}

#[test]
fn sigterm_while_the_emulator_starts() {
    kill_at(Point::Descendant("moto_server"), Sig::Term, false);
}

#[test]
fn sigkill_while_the_emulator_starts() {
    kill_at(Point::Descendant("moto_server"), Sig::Kill, false);
}

#[test]
fn sigterm_during_the_deploy() {
    kill_at(Point::Requests(2), Sig::Term, false);
}

#[test]
fn sigkill_during_the_deploy() {
    kill_at(Point::Requests(2), Sig::Kill, false);
}

#[test]
fn sigterm_during_the_scenarios() {
    kill_at(Point::Requests(60), Sig::Term, false);
}

#[test]
fn sigkill_during_the_scenarios() {
    kill_at(Point::Requests(60), Sig::Kill, false);
}

/// In an empty cache the run installs moto first (bash, venv, pip): none of it may
/// outlive the harness, or a later install would race it for the same venv.
#[test]
fn sigterm_during_the_venv_install() {
    kill_at(Point::Descendant("pip install"), Sig::Term, true);
}

#[test]
fn sigkill_during_the_venv_install() {
    kill_at(Point::Descendant("pip install"), Sig::Kill, true);
}

/// An interrupted run must not leave an earlier run's report saying "conformant" in the
/// report directory it was given.
#[test]
fn an_earlier_report_does_not_survive_an_interrupted_run() {
    for sig in [Sig::Term, Sig::Kill] {
        let earlier = r#"{"verdict":"conformant","exit_code":0}"#;
        let mut run = Run::start(false, &[("report.json", earlier), ("summary.md", "conformant")]);
        run.wait_for(Point::Requests(2));
        run.signal(sig);
        let what = format!("SIG{sig:?} during the deploy, with an earlier report");
        run.assert_nothing_left(&what);
        run.assert_no_report(&what);
    }
}

/// When the watchdog itself is killed with the harness, the emulator survives: the next
/// run finds its pid file, verifies the process by its start time, and kills it.
#[test]
fn a_new_run_reaps_an_emulator_a_killed_run_left() {
    let still = |pid: u32, start: u64| stat(pid).is_some_and(|s| s.0 != 'Z' && s.2 == start);
    // moto sometimes dies with the harness by itself (a write to the harness's closed
    // pipe): then there is nothing to reap, and the set-up is tried again.
    let mut survivor = None;
    for _attempt in 0..3 {
        let mut first = Run::start(false, &[]);
        first.wait_for(Point::Requests(2));
        let tree = descendants(first.child.id());
        let find = |word: &str| tree.iter().find(|(_, (_, cmd))| cmd.contains(word)).map(|(p, (s, _))| (*p, *s));
        let watchdog = find("iam-conformance-watchdog");
        let moto = find("moto_server");
        let (Some((watchdog, _)), Some((moto, moto_start))) = (watchdog, moto) else {
            first.cleanup();
            panic!("no watchdog or moto below the harness: {tree:?}");
        };
        send(watchdog, Sig::Kill);
        send(first.child.id(), Sig::Kill);
        let _ = first.child.wait();
        std::thread::sleep(Duration::from_millis(500));
        if still(moto, moto_start) {
            survivor = Some((first, moto, moto_start));
            break;
        }
        first.cleanup();
    }
    let Some((mut first, moto, moto_start)) = survivor else {
        panic!("with its watchdog killed, moto never outlived the harness in 3 tries: nothing to reap");
    };
    let record = iamc_live::reaper::pids_dir().join(format!("{moto}-{moto_start}.json"));
    let recorded = record.is_file();
    assert!(recorded || !still(moto, moto_start), "no pid file {} for the emulator left running", record.display());

    let mut second = Run::start(false, &[]);
    let deadline = Instant::now() + PHASE_LIMIT;
    while still(moto, moto_start) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let reaped = !still(moto, moto_start);
    if !reaped {
        send(moto, Sig::Kill);
    }
    // The note comes before the new emulator starts.
    second.wait_for(Point::Descendant("moto_server"));
    let output = second.output();
    second.signal(Sig::Term);
    second.assert_nothing_left("the second run");
    assert!(reaped, "the second run did not stop the earlier run's moto (pid {moto}):\n{output}");
    // Another run on this machine may have reaped it first; if this one did, it said so.
    if recorded && !output.contains(&format!("pid {moto}")) {
        assert!(!record.exists(), "the pid file outlived the reaping");
        eprintln!("note: moto (pid {moto}) was reaped, not by this run (another run on the machine?)");
    }
    assert!(!record.exists(), "the pid file {} was not removed", record.display());
    first.assert_nothing_left("the first run, after the second reaped it");
}

/// The reaper kills a recorded process only when its harness is gone and the pid still
/// names the process recorded (same start time), and kills its whole group.
#[test]
fn the_reaper_trusts_a_pid_only_with_its_start_time() {
    use std::os::unix::process::CommandExt;

    use iamc_live::reaper::{Record, proc_stat, reap, write};
    let tmp = tempfile::tempdir().unwrap();
    let sleeper = || {
        let mut c = Command::new("sleep");
        c.arg("300").process_group(0);
        c.spawn().unwrap()
    };
    // A harness that is gone: a process that ran and was waited for.
    let mut gone = Command::new("true").spawn().unwrap();
    let gone_pid = gone.id();
    gone.wait().unwrap();
    let record = |child: &Child, start: u64, harness: (u32, u64)| Record {
        what: "sleep".into(),
        pid: child.id(),
        start,
        pgid: child.id(),
        harness_pid: harness.0,
        harness_start: harness.1,
    };
    let me = iamc_live::reaper::harness();

    let mut left = sleeper();
    let mut reused = sleeper();
    let mut live = sleeper();
    let start = |c: &Child| proc_stat(c.id()).unwrap().start;
    write(tmp.path(), &record(&left, start(&left), (gone_pid, 1))).unwrap();
    // The same pid, but another process than the one recorded (the pid was reused).
    write(tmp.path(), &record(&reused, start(&reused) + 1, (gone_pid, 1))).unwrap();
    // Its harness (this test) is alive: not the reaper's.
    let live_file = write(tmp.path(), &record(&live, start(&live), me)).unwrap();

    let notes = reap(tmp.path());
    let dead = |c: &mut Child| {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            if let Ok(Some(_)) = c.try_wait() {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    let left_dead = dead(&mut left);
    let reused_alive = matches!(reused.try_wait(), Ok(None));
    let live_alive = matches!(live.try_wait(), Ok(None));
    for c in [&mut left, &mut reused, &mut live] {
        let _ = c.kill();
        let _ = c.wait();
    }
    assert!(left_dead, "the leftover was not killed; notes: {notes:?}");
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].contains(&format!("pid {}", left.id())), "{notes:?}");
    assert!(reused_alive, "a process whose start time differs from the record was killed");
    assert!(live_alive, "a process of a live harness was killed");
    assert!(live_file.exists(), "a live harness's pid file was removed");
    let remaining: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().flatten().map(|e| e.path()).collect();
    assert_eq!(remaining, [live_file], "the stale records are removed");
}
