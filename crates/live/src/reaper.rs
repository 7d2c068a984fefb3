//! What a killed harness leaves behind, and how the next run finds it. Every process
//! group the harness starts (an emulator, a venv install) is watched by a lifeline
//! watchdog that kills it when the harness dies, even by SIGKILL (see
//! `emulator::Group`). As a second line, each group is recorded in a pid file under
//! `<cache>/pids/` with the process's and the harness's start times; a later run kills
//! what is still running for a harness that is gone, and only that: a pid is trusted
//! only with the start time it was recorded with (`/proc/PID/stat` field 22), so a
//! reused pid is never killed.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// What `/proc/PID/stat` says of a process, the fields the reaper trusts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcStat {
    /// Field 4: the parent's pid.
    pub ppid: u32,
    /// Field 5: the process group.
    pub pgid: u32,
    /// Field 22: the start time, in clock ticks after boot. With the pid, it names one
    /// process for the machine's uptime.
    pub start: u64,
}

/// Reads `/proc/PID/stat` (None if the process is gone or is a zombie).
pub fn proc_stat(pid: u32) -> Option<ProcStat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Parses a `/proc/PID/stat` line. The command name (field 2) is in parentheses and may
/// itself hold spaces and parentheses, so fields are counted after its last `)`.
pub fn parse_stat(text: &str) -> Option<ProcStat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (the state).
    if matches!(fields.first(), Some(&"Z") | Some(&"X") | None) {
        return None;
    }
    Some(ProcStat {
        ppid: fields.get(1)?.parse().ok()?,
        pgid: fields.get(2)?.parse().ok()?,
        start: fields.get(19)?.parse().ok()?,
    })
}

/// Whether the process `pid` is the one that started at `start`.
pub fn is_running(pid: u32, start: u64) -> bool {
    proc_stat(pid).is_some_and(|s| s.start == start)
}

/// One started process group, as its pid file holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// What it is, for the note (`moto 5.2.5`, `install of moto-5.2.5`).
    pub what: String,
    /// The group's main process (the emulator, the install script) and its start time.
    pub pid: u32,
    pub start: u64,
    /// Its process group (the watchdog's pid), killed whole.
    pub pgid: u32,
    /// The harness that started it, and its start time.
    pub harness_pid: u32,
    pub harness_start: u64,
}

/// Where pid files live: `<cache>/pids`.
pub fn pids_dir() -> PathBuf {
    crate::cache::cache_dir().join("pids")
}

/// This process's pid and start time.
pub fn harness() -> (u32, u64) {
    let pid = std::process::id();
    (pid, proc_stat(pid).map_or(0, |s| s.start))
}

/// Writes `record` into `dir` (atomically: a reader never sees half a file) and returns
/// the file's path, to remove when the group is stopped or handed over.
pub fn write(dir: &Path, record: &Record) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{}-{}.json", record.pid, record.start));
    let tmp = dir.join(format!(".{}-{}.json.tmp", record.pid, record.start));
    std::fs::write(&tmp, serde_json::to_vec(record).map_err(std::io::Error::other)?)?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

/// Kills what earlier, killed harnesses left running in `dir` and removes their pid
/// files; records of live harnesses are left alone. Returns one note per group killed.
pub fn reap(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut notes = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let Some(record) = std::fs::read(&path).ok().and_then(|b| serde_json::from_slice::<Record>(&b).ok()) else {
            // Not ours, or written by another version: left for a person to read.
            continue;
        };
        if is_running(record.harness_pid, record.harness_start) {
            continue;
        }
        if let Some(note) = kill_left(&record) {
            notes.push(note);
        }
        let _ = std::fs::remove_file(&path);
    }
    notes
}

/// Kills a recorded group whose harness is gone, if its process is still the recorded
/// one; waits (at most 3 s) until it is gone. Returns the note to report.
fn kill_left(record: &Record) -> Option<String> {
    let stat = proc_stat(record.pid).filter(|s| s.start == record.start)?;
    // The group id is trusted only while the verified process is in it: a member keeps
    // the id from being reused.
    let group = stat.pgid == record.pgid && record.pgid > 1;
    if group {
        signal(-(record.pgid as i32), libc::SIGKILL);
    }
    signal(record.pid as i32, libc::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(3);
    while is_running(record.pid, record.start) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let outcome = if is_running(record.pid, record.start) { "still running after SIGKILL" } else { "stopped it" };
    Some(format!(
        "iam-conformance: {} (pid {}{}) was left running by an earlier run (pid {}) that is gone; {outcome}",
        record.what,
        record.pid,
        if group { format!(", process group {}", record.pgid) } else { String::new() },
        record.harness_pid,
    ))
}

/// Sends `sig` to `pid` (a negative pid is a process group).
pub(crate) fn signal(pid: i32, sig: i32) -> bool {
    if pid == 0 || pid == -1 {
        return false;
    }
    // SAFETY: kill(2) has no memory effects; the pid was verified by the caller.
    unsafe { libc::kill(pid, sig) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_name() {
        let line = "4242 (a) b (c)) S 1 4200 4200 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 0 0";
        assert_eq!(parse_stat(line), Some(ProcStat { ppid: 1, pgid: 4200, start: 987654 }));
        assert_eq!(parse_stat("1 (x) Z 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0"), None);
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn this_process_is_running_and_a_wrong_start_is_not() {
        let (pid, start) = harness();
        assert!(start > 0);
        assert!(is_running(pid, start));
        assert!(!is_running(pid, start + 1));
    }
}
