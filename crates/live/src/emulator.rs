//! Local AWS emulators the harness provisions and runs itself. moto server (pinned,
//! installed by the project's script into a cached venv) is the default target. The
//! process is started on a free 127.0.0.1 port, waited for, and stopped with its whole
//! process group when the handle is dropped — also when a run fails or is interrupted,
//! and, through a lifeline watchdog ([`Group`]), when the harness itself is killed.

use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

/// Re-exported from `cache`, which the reaper shares (its pid files live there too).
pub use crate::cache::cache_dir;
use crate::reaper;

/// The install script, compiled in so the binary works from any directory.
const SETUP_MOTO: &str = include_str!("../../../localstack/setup-moto.sh");

/// The moto version the script pins.
pub const MOTO_VERSION: &str = "5.2.5";

const SETUP_LOCALSTACK: &str = include_str!("../../../localstack/setup-localstack.sh");

/// The open-source LocalStack runtime the script pins.
pub const LOCALSTACK_VERSION: &str = "2026.3.0";

#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("failed to install an emulator ({0})")]
    Install(String),
    #[error("failed to start `{program}`: {message}")]
    Start { program: String, message: String },
    #[error("{name} did not become ready on {endpoint} within {seconds} s (log: {log})")]
    NotReady { name: String, endpoint: String, seconds: u64, log: String },
    #[error("{0}")]
    Io(String),
}

/// The watchdog's script: it holds the read end of the lifeline on its stdin. The harness
/// holds the only write end; when the harness dies — however, SIGKILL included — the
/// kernel closes it, `read` meets end-of-file and the watchdog kills its process group,
/// the emulator and everything it started with it. `keep` (for `--keep`) releases it.
const WATCHDOG: &str = r#"read -r word; [ "$word" = keep ] || kill -KILL 0"#;

/// A process group watched by a lifeline (see [`WATCHDOG`]), recorded in a pid file for
/// the reaper once its main process is spawned. Dropping it kills the group.
pub struct Group {
    /// The watchdog: the group's leader, so its pid is the group id. It is never waited
    /// for before the group is killed, so the id cannot be reused while we may signal it.
    watchdog: Option<std::process::Child>,
    lifeline: Option<std::io::PipeWriter>,
    pgid: u32,
    record: Option<PathBuf>,
}

impl Group {
    /// Starts the watchdog of a new process group; `what` names it in `ps`.
    pub fn new(what: &str) -> std::io::Result<Group> {
        let (reader, lifeline) = std::io::pipe()?;
        let watchdog = std::process::Command::new("bash")
            .arg("-c")
            .arg(WATCHDOG)
            .arg(format!("iam-conformance-watchdog[{what}]"))
            .stdin(reader)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()?;
        let pgid = watchdog.id();
        Ok(Group { watchdog: Some(watchdog), lifeline: Some(lifeline), pgid, record: None })
    }

    /// Puts `command`'s process into the group. The child checks, once in the group, that
    /// the harness is still its parent: if the harness died in between, the watchdog may
    /// already have killed the group, so the child gives up instead of running unwatched.
    pub fn enroll(&self, command: &mut Command) {
        let harness = std::process::id();
        let std = command.as_std_mut();
        std.process_group(self.pgid as i32);
        // SAFETY: the closure runs between fork and exec and calls only getppid(2), which
        // is async-signal-safe; the error is made from a raw code, without allocating.
        unsafe {
            std.pre_exec(move || {
                if std::os::unix::process::parent_id() == harness {
                    Ok(())
                } else {
                    Err(std::io::Error::from_raw_os_error(libc::ESRCH))
                }
            });
        }
    }

    /// Records the group's main process (`pid`) for the reaper of a later run.
    pub fn record(&mut self, what: &str, pid: u32) {
        let Some(stat) = reaper::proc_stat(pid) else { return };
        let (harness_pid, harness_start) = reaper::harness();
        let record = reaper::Record {
            what: what.to_string(),
            pid,
            start: stat.start,
            pgid: self.pgid,
            harness_pid,
            harness_start,
        };
        self.record = reaper::write(&reaper::pids_dir(), &record).ok();
    }

    /// Kills every process in the group (the watchdog too) and forgets the record.
    pub fn kill(&mut self) {
        if let Some(mut watchdog) = self.watchdog.take() {
            reaper::signal(-(self.pgid as i32), libc::SIGKILL);
            // Reaped once it is dead (at once, normally); a watchdog not yet reaped here is
            // reaped when the harness exits.
            for _ in 0..50 {
                if !matches!(watchdog.try_wait(), Ok(None)) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        self.lifeline = None;
        self.forget();
    }

    /// Lets the group outlive the harness (`--keep`): the watchdog is told to exit without
    /// killing, and the pid file is removed so no later run reaps it.
    pub fn release(&mut self) {
        if let Some(mut lifeline) = self.lifeline.take() {
            let _ = lifeline.write_all(b"keep\n");
        }
        // Its zombie, once it has read the word and exited, is reaped when the harness exits.
        drop(self.watchdog.take());
        self.forget();
    }

    fn forget(&mut self) {
        if let Some(path) = self.record.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Installs moto into the cache if needed (reusing a complete earlier install) and
/// returns the venv directory.
pub async fn ensure_moto(cache: &Path) -> Result<PathBuf, EmulatorError> {
    ensure_venv(cache, &format!("moto-{MOTO_VERSION}"), "setup-moto.sh", SETUP_MOTO).await
}

/// Installs the LocalStack runtime into the cache if needed and returns the venv.
pub async fn ensure_localstack(cache: &Path) -> Result<PathBuf, EmulatorError> {
    ensure_venv(cache, &format!("localstack-{LOCALSTACK_VERSION}"), "setup-localstack.sh", SETUP_LOCALSTACK).await
}

/// Runs one of the project's install scripts (compiled in) unless its venv is complete
/// (the script writes `.installed` last).
async fn ensure_venv(
    cache: &Path,
    venv_name: &str,
    script_name: &str,
    script_text: &str,
) -> Result<PathBuf, EmulatorError> {
    // What an earlier, killed run left running is stopped before anything new starts.
    // The pipeline may call `reaper::reap` itself first, to report the notes as events;
    // this call then finds nothing.
    for note in reaper::reap(&reaper::pids_dir()) {
        eprintln!("{note}");
    }
    let venv = cache.join(venv_name);
    if venv.join(".installed").is_file() {
        return Ok(venv);
    }
    let failed = |e: String| EmulatorError::Install(format!("localstack/{script_name}: {e}"));
    std::fs::create_dir_all(cache).map_err(|e| failed(format!("cannot create {}: {e}", cache.display())))?;
    let script = cache.join(script_name);
    std::fs::write(&script, script_text).map_err(|e| failed(e.to_string()))?;
    // The script, venv and pip (and pip's own children) run in a watched group: killed
    // when this future is dropped (a signal during the install) or the harness dies.
    let what = format!("install of {venv_name}");
    let mut group = Group::new(&what).map_err(|e| failed(format!("cannot start its watchdog: {e}")))?;
    let mut command = Command::new("bash");
    command.arg(&script).arg(cache).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    group.enroll(&mut command);
    let child = command.spawn().map_err(|e| failed(e.to_string()))?;
    if let Some(pid) = child.id() {
        group.record(&what, pid);
    }
    let out = child.wait_with_output().await.map_err(|e| failed(e.to_string()))?;
    // Whatever the script left in its group goes with it.
    group.kill();
    if !out.status.success() {
        return Err(failed(String::from_utf8_lossy(&out.stderr).trim().to_string()));
    }
    Ok(venv)
}

/// A free TCP port on 127.0.0.1 (bound and released; a race with another process is
/// possible but harmless: the emulator then fails to start and says so).
pub fn free_port() -> Result<u16, EmulatorError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| EmulatorError::Io(e.to_string()))?;
    Ok(listener.local_addr().map_err(|e| EmulatorError::Io(e.to_string()))?.port())
}

/// A running emulator process, in a watched process group of its own.
pub struct Emulator {
    pub name: String,
    pub endpoint: String,
    pub log: PathBuf,
    child: Option<Child>,
    group: Option<Group>,
}

impl Emulator {
    /// Starts moto server from `venv` on a free port and waits until it answers.
    pub async fn start_moto(venv: &Path, log_dir: &Path) -> Result<Emulator, EmulatorError> {
        let port = free_port()?;
        std::fs::create_dir_all(log_dir).map_err(|e| EmulatorError::Io(e.to_string()))?;
        let mut command = Command::new(venv.join("bin/moto_server"));
        command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        let log = log_dir.join(format!("moto-{port}.log"));
        Emulator::launch(command, format!("moto {MOTO_VERSION}"), port, log, "/moto-api/", Duration::from_secs(30))
            .await
    }

    /// Starts the open-source LocalStack runtime on the host (no Docker), confined to a
    /// data directory of its own, and waits for its health endpoint.
    pub async fn start_localstack(venv: &Path, data_dir: &Path) -> Result<Emulator, EmulatorError> {
        let port = free_port()?;
        let root = data_dir.join(format!("localstack-{port}"));
        std::fs::create_dir_all(&root).map_err(|e| EmulatorError::Io(e.to_string()))?;
        // Settings from docs/emulators.md, "LocalStack (open-source runtime)": without
        // OVERRIDE_IN_DOCKER=0 it writes under /var/lib, /etc and /tmp.
        let mut command = Command::new(venv.join("bin/python"));
        command
            .args(["-m", "localstack.runtime.main"])
            .env("OVERRIDE_IN_DOCKER", "0")
            .env("FILESYSTEM_ROOT", &root)
            .env("CONFIG_DIR", root.join("config"))
            .env("GATEWAY_LISTEN", format!("127.0.0.1:{port}"))
            .env("PERSISTENCE", "0")
            .env("SKIP_SSL_CERT_DOWNLOAD", "1")
            .env("DISABLE_EVENTS", "1")
            .env("DNS_ADDRESS", "0");
        let log = data_dir.join(format!("localstack-{port}.log"));
        let name = format!("LocalStack {LOCALSTACK_VERSION} (open-source runtime)");
        Emulator::launch(command, name, port, log, "/_localstack/health", Duration::from_secs(90)).await
    }

    /// Spawns an emulator's process with its output in `log`, on `port`, and waits until
    /// `health` answers 200. Its process group is killed if the handle is dropped, and by
    /// the group's watchdog if the harness dies.
    async fn launch(
        mut command: Command,
        name: String,
        port: u16,
        log: PathBuf,
        health: &str,
        limit: Duration,
    ) -> Result<Emulator, EmulatorError> {
        let log_file = std::fs::File::create(&log).map_err(|e| EmulatorError::Io(e.to_string()))?;
        let err_file = log_file.try_clone().map_err(|e| EmulatorError::Io(e.to_string()))?;
        let program = command.as_std().get_program().to_string_lossy().into_owned();
        let start_error = |e: std::io::Error| EmulatorError::Start { program: program.clone(), message: e.to_string() };
        let mut group = Group::new(&format!("{name} on port {port}")).map_err(&start_error)?;
        group.enroll(&mut command);
        let child = command
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(err_file)
            .kill_on_drop(true)
            .spawn()
            .map_err(&start_error)?;
        if let Some(pid) = child.id() {
            group.record(&name, pid);
        }
        let mut emulator = Emulator {
            name,
            endpoint: format!("http://127.0.0.1:{port}"),
            log,
            child: Some(child),
            group: Some(group),
        };
        emulator.wait_ready(health, limit).await?;
        Ok(emulator)
    }

    /// The process id, for logs and `--keep`.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    async fn wait_ready(&mut self, path: &str, limit: Duration) -> Result<(), EmulatorError> {
        let started = Instant::now();
        let url = format!("{}{path}", self.endpoint);
        while started.elapsed() < limit {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(EmulatorError::Start {
                    program: self.name.clone(),
                    message: format!("exited with {status}; see {}", self.log.display()),
                });
            }
            if http_get_status(&url).await == Some(200) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(EmulatorError::NotReady {
            name: self.name.clone(),
            endpoint: self.endpoint.clone(),
            seconds: limit.as_secs(),
            log: self.log.display().to_string(),
        })
    }

    /// Clears all of moto's state (every resource the run created). LocalStack has no
    /// such endpoint; its state goes with its process and data directory.
    pub async fn reset(&self) -> bool {
        if !self.name.starts_with("moto") {
            return false;
        }
        http_post_status(&format!("{}/moto-api/reset", self.endpoint)).await == Some(200)
    }

    /// Stops the process gracefully (SIGTERM, as LocalStack expects), then for good.
    pub async fn terminate(&mut self) {
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status().await;
            if let Some(child) = self.child.as_mut() {
                let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
            }
        }
        self.stop().await;
    }

    /// Stops the process and everything in its group, and waits for it.
    pub async fn stop(&mut self) {
        if let Some(mut group) = self.group.take() {
            group.kill();
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
        }
    }

    /// Leaves the process running (for `--keep`): it is no longer stopped on drop, nor
    /// when the harness exits, and no later run reaps it.
    pub fn detach(&mut self) -> Option<u32> {
        let pid = self.pid();
        if let Some(mut group) = self.group.take() {
            group.release();
        }
        if let Some(child) = self.child.take() {
            std::mem::forget(child);
        }
        pid
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        // The group first (the emulator and whatever it started), then the handle.
        drop(self.group.take());
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
    }
}

/// What a LocalStack says of its services (`/_localstack/health`): name → state.
pub async fn localstack_services(endpoint: &str) -> std::collections::BTreeMap<String, String> {
    use http_body_util::{BodyExt, Full};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let client: Client<_, Full<bytes::Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let Ok(req) =
        http::Request::builder().uri(format!("{endpoint}/_localstack/health")).body(Full::new(bytes::Bytes::new()))
    else {
        return Default::default();
    };
    let Ok(Ok(resp)) = tokio::time::timeout(Duration::from_secs(5), client.request(req)).await else {
        return Default::default();
    };
    let Ok(body) = resp.into_body().collect().await else { return Default::default() };
    let json: serde_json::Value = serde_json::from_slice(&body.to_bytes()).unwrap_or_default();
    json.get("services")
        .and_then(|s| s.as_object())
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
        .unwrap_or_default()
}

async fn http_get_status(url: &str) -> Option<u16> {
    http_status("GET", url).await
}

async fn http_post_status(url: &str) -> Option<u16> {
    http_status("POST", url).await
}

async fn http_status(method: &str, url: &str) -> Option<u16> {
    use http_body_util::Full;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let client: Client<_, Full<bytes::Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let req = http::Request::builder().method(method).uri(url).body(Full::new(bytes::Bytes::new())).ok()?;
    let resp = tokio::time::timeout(Duration::from_secs(2), client.request(req)).await.ok()?.ok()?;
    Some(resp.status().as_u16())
}
