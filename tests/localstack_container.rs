//! LocalStack in a container started through testcontainers (`iamc_live::container`), on
//! a real engine: health, an STS call through the project's client, and removal — on
//! drop, on `remove`, after `keep`, and when the process gets SIGTERM or SIGINT (a child:
//! this test binary run again with `IAMC_CONTAINER_CHILD` set, see `child`).
//!
//! No engine is a failure, not a skip: `scripts/test` starts one (`localstack/setup-docker.sh`)
//! and builds the image (`localstack/build-image.sh`).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use iamc_live::client::{Client, Credentials, error_chain};
use iamc_live::container::{self, ContainerOptions, LABEL_RUN, Networking};

const CHILD_ENV: &str = "IAMC_CONTAINER_CHILD";

async fn require_engine() -> container::EngineInfo {
    container::engine().await.unwrap_or_else(|e| {
        panic!(
            "no usable Docker engine ({}): run localstack/setup-docker.sh and localstack/build-image.sh \
             (scripts/test does both)",
            error_chain(&e)
        )
    })
}

/// Container ids with `label`, all states, by the docker CLI (not the module's client).
fn docker_ps(label: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args(["ps", "-a", "-q", "--no-trunc", "--filter", &format!("label={label}")])
        .output()
        .expect("the docker CLI runs");
    assert!(out.status.success(), "docker ps: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).filter(|l| !l.is_empty()).collect()
}

fn own_label() -> String {
    format!("{LABEL_RUN}={}", std::process::id())
}

/// `GET /_localstack/health` over a plain socket, independent of the module's parser.
fn raw_health(endpoint: &str) -> serde_json::Value {
    use std::io::{Read, Write};
    let addr = endpoint.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET /_localstack/health HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"), "{head}");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_serves_the_runs_services_and_is_removed_on_drop() {
    let engine = require_engine().await;
    let started = Instant::now();
    let ls =
        container::start(&ContainerOptions::from_env()).await.unwrap_or_else(|e| panic!("start: {}", error_chain(&e)));
    let ready = started.elapsed();
    eprintln!(
        "engine {} (API {}, networks {:?}): {} as {:?} at {} ready in {:.2} s (container created → health {:.2} s)",
        engine.version,
        engine.api_version,
        engine.networks,
        ls.image(),
        ls.networking(),
        ls.endpoint(),
        ready.as_secs_f64(),
        ls.ready_after().as_secs_f64()
    );
    assert_ne!(ls.networking(), Networking::Auto);
    assert!(ls.endpoint().starts_with("http://127.0.0.1:"), "{}", ls.endpoint());
    if std::env::var_os("LOCALSTACK_AUTH_TOKEN").is_none() {
        assert_eq!(ls.image(), "iam-conformance/localstack-core:2026.3.0");
        assert_eq!(ls.version().as_deref(), Some("2026.3.0"));
    }
    let health = raw_health(&ls.endpoint());
    assert_eq!(health["version"].as_str(), ls.version().as_deref(), "{health}");
    for service in ["ec2", "iam", "sts", "secretsmanager", "cloudformation"] {
        let state = health["services"][service].as_str().unwrap_or_default();
        assert!(matches!(state, "available" | "running"), "{service}: {state:?} in {health}");
    }

    let creds = Credentials { access_key_id: "test".into(), secret_access_key: "test".into(), session_token: None };
    let answer = Client::default()
        .call(&ls.endpoint(), "us-east-1", &creds, "sts", "GetCallerIdentity", &serde_json::json!({}), &[])
        .await
        .unwrap_or_else(|e| panic!("{}", error_chain(&e)));
    assert!(answer.ok(), "{} {}", answer.status, answer.body);
    assert!(answer.body.contains("<Account>000000000000</Account>"), "{}", answer.body);

    let id = ls.id().to_string();
    assert_eq!(docker_ps(&own_label()), vec![id.clone()]);
    let listed = container::list_labelled(Some(std::process::id())).await.unwrap();
    assert_eq!(listed.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), [id.as_str()]);
    assert_eq!(listed[0].state, "running");

    let dropped = Instant::now();
    drop(ls);
    eprintln!("removed on drop in {:.2} s", dropped.elapsed().as_secs_f64());
    assert!(docker_ps(&own_label()).is_empty(), "a container is left after drop");
}

#[tokio::test]
async fn remove_and_keep() {
    require_engine().await;
    // remove(): explicit, awaited (the pipeline's normal end).
    let ls = container::start(&ContainerOptions::from_env()).await.unwrap_or_else(|e| panic!("{}", error_chain(&e)));
    let removing = Instant::now();
    ls.remove().await.unwrap();
    eprintln!("removed by remove() in {:.2} s", removing.elapsed().as_secs_f64());
    assert!(docker_ps(&own_label()).is_empty());

    // keep(): it outlives its handle and remove_all_started leaves it; remove_ids removes it.
    let ls = container::start(&ContainerOptions::from_env()).await.unwrap_or_else(|e| panic!("{}", error_chain(&e)));
    let kept = ls.keep();
    assert!(kept.remove_command().starts_with("docker rm -f "));
    assert_eq!(container::remove_all_started().await.unwrap(), Vec::<String>::new());
    assert_eq!(docker_ps(&own_label()), vec![kept.id.clone()]);
    assert!(container::health(&kept.endpoint).await.is_ok(), "the kept container still answers");
    assert_eq!(container::remove_ids(std::slice::from_ref(&kept.id)).await.unwrap(), vec![kept.id.clone()]);
    assert!(docker_ps(&own_label()).is_empty());
}

#[tokio::test]
async fn a_missing_local_image_says_how_to_build_it() {
    require_engine().await;
    let options = ContainerOptions {
        image: Some("iam-conformance/localstack-core:0.0.0-absent".into()),
        ..ContainerOptions::default()
    };
    let err = container::start(&options).await.unwrap_err();
    assert!(matches!(err, container::ContainerError::ImageMissing { .. }), "{err:?}");
    assert!(err.to_string().contains("localstack/build-image.sh"), "{err}");
    assert!(docker_ps(&own_label()).is_empty());
}

#[tokio::test]
async fn mapped_ports_need_a_bridge_network() {
    let engine = require_engine().await;
    if engine.networks.iter().any(|n| n == "bridge") {
        // An engine with a bridge: mapped ports must simply work there.
        let ls = container::start(&ContainerOptions { networking: Networking::Mapped, ..ContainerOptions::from_env() })
            .await
            .unwrap_or_else(|e| panic!("{}", error_chain(&e)));
        assert!(ls.endpoint().starts_with("http://127.0.0.1:"), "{}", ls.endpoint());
        assert!(container::health(&ls.endpoint()).await.is_ok());
        return;
    }
    // Here (setup-docker.sh: --bridge=none) it is refused before anything is created.
    let options = ContainerOptions { networking: Networking::Mapped, ..ContainerOptions::from_env() };
    let err = container::start(&options).await.unwrap_err();
    assert!(matches!(err, container::ContainerError::NoBridge { .. }), "{err:?}");
    assert!(!err.is_no_engine());
    eprintln!("mapped ports without a bridge: {}", error_chain(&err));
    assert!(docker_ps(&own_label()).is_empty(), "a failed start left a container");
}

#[tokio::test]
async fn a_start_that_times_out_leaves_nothing() {
    require_engine().await;
    // Too short for anything: testcontainers' own timeout around the engine's start (the
    // container is created by then), or ours around the health endpoint.
    for ms in [1u64, 300] {
        let options = ContainerOptions { startup_timeout: Duration::from_millis(ms), ..ContainerOptions::from_env() };
        let err = container::start(&options).await.unwrap_err();
        assert!(
            matches!(err, container::ContainerError::Start { .. } | container::ContainerError::NotReady { .. }),
            "{err:?}"
        );
        eprintln!("{ms} ms: {}", error_chain(&err).lines().next().unwrap_or_default());
        assert!(docker_ps(&own_label()).is_empty(), "a failed start ({ms} ms) left a container");
    }
}

/// Waits (off the runtime) until a container labelled `label` exists; its id.
async fn first_container(label: String) -> String {
    tokio::task::spawn_blocking(move || {
        let since = Instant::now();
        loop {
            if let Some(id) = docker_ps(&label).into_iter().next() {
                return id;
            }
            assert!(since.elapsed() < Duration::from_secs(60), "no container labelled {label} appeared");
            std::thread::sleep(Duration::from_millis(5));
        }
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_all_started_cancels_a_start_under_way() {
    require_engine().await;
    // In-process, no signal: a start is waited on elsewhere while the removal runs (a
    // signal task, say). The start ends Cancelled, promptly, and nothing is left.
    let start = tokio::spawn(async { container::start(&ContainerOptions::from_env()).await });
    first_container(own_label()).await;
    let removing = Instant::now();
    let removed = container::remove_all_started().await.unwrap();
    let took = removing.elapsed();
    let err = start.await.unwrap().unwrap_err();
    eprintln!("remove_all_started during a start: {:.2} s, removed {removed:?}, start: {err}", took.as_secs_f64());
    assert!(matches!(err, container::ContainerError::Cancelled), "{err:?}");
    assert!(took < Duration::from_secs(20), "{took:?}");
    assert!(docker_ps(&own_label()).is_empty(), "a cancelled start left a container");
    // Later starts are not affected.
    let ls = container::start(&ContainerOptions::from_env()).await.unwrap_or_else(|e| panic!("{}", error_chain(&e)));
    ls.remove().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_removed_by_someone_else_ends_its_start() {
    require_engine().await;
    // `docker rm -f` while LocalStack starts: the start fails at once (it used to poll the
    // health endpoint of a container that no longer exists until its 90 s limit).
    let start = tokio::spawn(async { container::start(&ContainerOptions::from_env()).await });
    let id = first_container(own_label()).await;
    // Let the engine's create-and-start call return: the health wait is the case here.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let removed_at = Instant::now();
    let out = Command::new("docker").args(["rm", "-f", &id]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let err = start.await.unwrap().unwrap_err();
    let took = removed_at.elapsed();
    eprintln!("removed by someone else: the start ended {:.2} s later: {err}", took.as_secs_f64());
    assert!(
        matches!(
            err,
            container::ContainerError::Gone { .. }
                | container::ContainerError::Exited { .. }
                | container::ContainerError::Start { .. }
        ),
        "{err:?}"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert!(docker_ps(&own_label()).is_empty());
}

#[tokio::test]
async fn the_compiled_in_build_script_finds_the_built_image() {
    require_engine().await;
    // The image is there (scripts/test built it): the script, run from the cache with the
    // Dockerfile and pins the binary carries, reuses it at once.
    let started = Instant::now();
    let image = container::build_local_image().await.unwrap_or_else(|e| panic!("{}", error_chain(&e)));
    assert_eq!(image, container::local_image());
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
}

// --- child processes ------------------------------------------------------------------

/// Runs this test binary again as the `child` test with `mode`, stdout piped. Its stdin
/// is a pipe the child watches: when this process ends, so does the child (no orphan).
fn spawn_child(mode: &str, extra_env: &[(&str, &str)]) -> (std::process::Child, mpsc::Receiver<String>) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["child", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, mode)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// What follows `marker` on the first line holding it, within `limit` (libtest may print
/// `test child ... ` before it on the same line).
fn wait_for_line(rx: &mpsc::Receiver<String>, marker: &str, limit: Duration) -> String {
    let until = Instant::now() + limit;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains(marker) => {
                return line[line.find(marker).unwrap() + marker.len()..].trim().to_string();
            }
            Ok(_) => continue,
            Err(e) => panic!("the child never printed {marker:?} ({e})"),
        }
    }
}

fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill").args([&format!("-{sig}"), &pid.to_string()]).status().unwrap();
    assert!(status.success());
}

fn wait_exit(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let until = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > until {
            let _ = child.kill();
            panic!("the child did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn a_signal_removes_the_container() {
    require_engine().await;
    for (sig, code) in [("TERM", 143), ("INT", 130)] {
        let (mut child, rx) = spawn_child("handler", &[]);
        let pid = child.id();
        let label = format!("{LABEL_RUN}={pid}");
        let id = wait_for_line(&rx, "@READY ", Duration::from_secs(120));
        assert_eq!(docker_ps(&label), vec![id], "the child's container runs");
        let sent = Instant::now();
        signal(pid, sig);
        let status = wait_exit(&mut child, Duration::from_secs(30));
        eprintln!("SIG{sig}: child exited ({status}) {:.2} s after the signal", sent.elapsed().as_secs_f64());
        assert_eq!(status.code(), Some(code), "SIG{sig}");
        assert!(docker_ps(&label).is_empty(), "SIG{sig} left a container");
    }
}

#[tokio::test]
async fn a_signal_during_start_leaves_no_container() {
    require_engine().await;
    // Signals at several points of start: before the create, around it, while waiting
    // for health, and the moment the engine first lists the container (created or just
    // started, LocalStack not answering yet) — the one point a fixed delay hits only by
    // chance under load. Whatever was under way, the child must exit promptly (the start
    // is cancelled, not waited out: its health wait alone takes seconds) and nothing may be
    // left (looked at again 1 s later, for a create that would land late).
    let points = [Some(0u64), Some(150), Some(400), Some(900), None];
    for point in points {
        let (mut child, rx) = spawn_child("handler", &[]);
        let pid = child.id();
        let label = format!("{LABEL_RUN}={pid}");
        wait_for_line(&rx, "@STARTING", Duration::from_secs(60));
        let what = match point {
            Some(ms) => {
                std::thread::sleep(Duration::from_millis(ms));
                format!("{ms} ms into start")
            }
            None => {
                let since = Instant::now();
                while docker_ps(&label).is_empty() {
                    assert!(since.elapsed() < Duration::from_secs(60), "the child's container never appeared");
                    std::thread::sleep(Duration::from_millis(5));
                }
                format!("as its container appeared ({} ms into start)", since.elapsed().as_millis())
            }
        };
        let sent = Instant::now();
        signal(pid, "TERM");
        let status = wait_exit(&mut child, Duration::from_secs(30));
        let took = sent.elapsed();
        eprintln!("SIGTERM {what}: child exited ({status}) {:.2} s after the signal", took.as_secs_f64());
        assert_eq!(status.code(), Some(143), "SIGTERM {what}");
        std::thread::sleep(Duration::from_secs(1));
        let left = docker_ps(&label);
        if !left.is_empty() {
            let _ = container::remove_ids(&left).await;
        }
        assert!(left.is_empty(), "SIGTERM {what} left {left:?}");
        // Bounded by the engine's create-and-start call under way and one removal, not by
        // LocalStack's start-up (its 90 s limit) nor by the removal's own bound.
        assert!(took < Duration::from_secs(20), "SIGTERM {what}: the child took {took:?} to exit");
    }
}

#[tokio::test]
async fn without_a_handler_a_signal_leaves_a_labelled_container_that_a_later_run_finds() {
    require_engine().await;
    // No destructor runs when SIGTERM's default action ends the process: this is why the
    // pipeline must call remove_all_started on signals, and how leftovers are found.
    let (mut child, rx) = spawn_child("no-handler", &[]);
    let pid = child.id();
    let id = wait_for_line(&rx, "@READY ", Duration::from_secs(120));
    signal(pid, "TERM");
    let status = wait_exit(&mut child, Duration::from_secs(30));
    assert_eq!(status.code(), None, "killed by the signal: {status}");
    let left = container::list_labelled(Some(pid)).await.unwrap();
    assert_eq!(left.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), [id.as_str()]);
    assert_eq!(left[0].run, Some(pid));
    let all = container::list_labelled(None).await.unwrap();
    assert!(all.iter().any(|c| c.id == id));
    assert_eq!(container::remove_ids(&[id]).await.unwrap().len(), 1);
    assert!(docker_ps(&format!("{LABEL_RUN}={pid}")).is_empty());
}

#[test]
fn no_engine_is_told_apart_quickly() {
    let (mut child, rx) = spawn_child("no-engine", &[("DOCKER_HOST", "unix:///nonexistent/iamc/docker.sock")]);
    let line = wait_for_line(&rx, "@NO-ENGINE ", Duration::from_secs(30));
    let status = wait_exit(&mut child, Duration::from_secs(10));
    assert!(status.success(), "{status}: {line}");
    assert!(line.contains("no Docker engine answers at DOCKER_HOST=unix:///nonexistent"), "{line}");
}

/// The child's side (run only by the tests above, through `IAMC_CONTAINER_CHILD`):
/// - `handler`: what the pipeline does on signals — start, print `READY <id>`, wait; on
///   SIGTERM/SIGINT (also one arriving mid-start) call `remove_all_started`, exit 143/130;
/// - `no-handler`: start, print `READY <id>`, sleep (a signal kills it, no destructor runs);
/// - `no-engine`: start with an unreachable `DOCKER_HOST`, print `NO-ENGINE <error>`.
#[tokio::test]
#[ignore = "a child process of the other tests"]
async fn child() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mode) = std::env::var(CHILD_ENV) else { return };
    // The parent holds our stdin: its end (EOF) ends us as a signal would.
    let (gone_tx, mut parent_gone) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
        let _ = gone_tx.send(());
    });
    let say = |line: String| {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    };
    match mode.as_str() {
        "handler" => {
            let mut term = signal(SignalKind::terminate()).unwrap();
            let mut int = signal(SignalKind::interrupt()).unwrap();
            let run = async {
                say("@STARTING".into());
                let ls = container::start(&ContainerOptions::from_env())
                    .await
                    .unwrap_or_else(|e| panic!("{}", error_chain(&e)));
                say(format!("@READY {}", ls.id()));
                tokio::time::sleep(Duration::from_secs(120)).await;
                drop(ls);
            };
            let code = tokio::select! {
                _ = run => 0,
                _ = term.recv() => 143,
                _ = int.recv() => 130,
                _ = &mut parent_gone => 1,
            };
            // The run future (and any start under way) is dropped by now.
            let removed = container::remove_all_started().await.unwrap_or_else(|e| panic!("{}", error_chain(&e)));
            eprintln!("child: removed {removed:?}");
            std::process::exit(code);
        }
        "no-handler" => {
            let ls =
                container::start(&ContainerOptions::from_env()).await.unwrap_or_else(|e| panic!("{}", error_chain(&e)));
            say(format!("@READY {}", ls.id()));
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(120)) => {}
                _ = &mut parent_gone => {}
            }
        }
        "no-engine" => {
            let started = Instant::now();
            let err = container::start(&ContainerOptions::default()).await.unwrap_err();
            assert!(err.is_no_engine(), "{err:?}");
            eprintln!("child: no engine told in {:?}", started.elapsed());
            say(format!("@NO-ENGINE {}", error_chain(&err)));
        }
        other => panic!("unknown child mode {other}"),
    }
}
