//! The gate stays up under abuse (issue 10, "The standalone gate lets callers in…", the
//! limits): a huge body is answered 413 without being held in memory, slow headers time
//! out, a flood of idle connections at a low open-file limit neither spins a core nor
//! stops it serving, three pipelined requests on one connection get three answers, and
//! `--log` is written on SIGTERM (and, with `Gate::log_to`, as records are made). Real
//! HTTP on 127.0.0.1 only.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use iamc_core::gate::sigv4::{Form, Scope, Signature, canonical_request, sign, string_to_sign};
use iamc_core::template::render::Target;
use iamc_live::client::Credentials;
use iamc_live::gate_server::{Gate, GateLimits, GateOptions, GateVerdict};

fn admin() -> Credentials {
    Credentials { access_key_id: "AKIAADMINTEST".into(), secret_access_key: "admin-secret".into(), session_token: None }
}

/// An upstream that answers every request 200, with `Connection: close` as moto does.
async fn upstream() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_req: hyper::Request<hyper::body::Incoming>| async {
                    Ok::<_, std::convert::Infallible>(
                        hyper::Response::builder()
                            .status(200)
                            .header("connection", "close")
                            .header("content-type", "text/xml")
                            .body(Full::new(Bytes::from_static(b"<GetCallerIdentityResponse/>")))
                            .unwrap(),
                    )
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    url
}

async fn gate(upstream: &str, limits: GateLimits) -> Gate {
    let options = GateOptions {
        upstream: upstream.to_string(),
        target: Target { account_id: "123456789012".into(), ..Target::default() },
        admin: admin(),
        subject: None,
    };
    Gate::start_with("127.0.0.1:0".parse().unwrap(), options, limits).await.unwrap()
}

fn amz_now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let (y, m, d) = iamc_core::calendar::civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z", s / 3600, s / 60 % 60, s % 60)
}

/// An administrator's GetCallerIdentity, signed now, for a keep-alive connection.
fn signed_request(host: &str) -> String {
    let body = "Action=GetCallerIdentity&Version=2011-06-15";
    let date = amz_now();
    let headers: Vec<(String, String)> = vec![
        ("content-type".into(), "application/x-www-form-urlencoded; charset=utf-8".into()),
        ("host".into(), host.into()),
        ("x-amz-date".into(), date.clone()),
    ];
    let names: Vec<String> = headers.iter().map(|(k, _)| k.clone()).collect();
    let mut sig = Signature {
        form: Form::Header,
        scope: Scope {
            access_key: "AKIAADMINTEST".into(),
            date: date[..8].into(),
            region: "us-west-2".into(),
            service: "sts".into(),
        },
        signed_headers: names.clone(),
        signature: String::new(),
        amz_date: date.clone(),
        expires: None,
        security_token: None,
    };
    let parts = iamc_core::gate::sigv4::RequestParts {
        method: "POST",
        path: "/",
        query: None,
        headers: &headers,
        body: body.as_bytes(),
    };
    sig.signature = sign("admin-secret", &sig.scope, &string_to_sign(&sig, &canonical_request(&parts, &sig).unwrap()));
    let mut text = "POST / HTTP/1.1\r\n".to_string();
    for (k, v) in &headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    text.push_str(&format!(
        "authorization: AWS4-HMAC-SHA256 Credential=AKIAADMINTEST/{}/us-west-2/sts/aws4_request, SignedHeaders={}, Signature={}\r\n",
        &date[..8],
        names.join(";"),
        sig.signature
    ));
    text.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
    text
}

/// Reads from `s` until `done` says the text is complete, or `limit` passes.
fn read_until(s: &mut TcpStream, limit: Duration, done: impl Fn(&str) -> bool) -> (String, bool) {
    s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let started = Instant::now();
    let mut text = String::new();
    let mut buf = [0u8; 65536];
    let mut closed = false;
    while started.elapsed() < limit && !done(&text) {
        match s.read(&mut buf) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(n) => text.push_str(&String::from_utf8_lossy(&buf[..n])),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
    }
    (text, closed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_pipelined_requests_get_three_answers() {
    let url = upstream().await;
    let gate = gate(&url, GateLimits::default()).await;
    let addr = gate.addr;
    let (text, _) = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        let one = signed_request(&addr.to_string());
        s.write_all(format!("{one}{one}{one}").as_bytes()).unwrap();
        read_until(&mut s, Duration::from_secs(10), |t| t.matches("HTTP/1.1 200").count() >= 3)
    })
    .await
    .unwrap();
    assert_eq!(text.matches("HTTP/1.1 200").count(), 3, "{text}");
    assert!(
        !text.to_ascii_lowercase().contains("connection: close"),
        "the upstream's Connection header is its own: {text}"
    );
    assert_eq!(gate.records().iter().filter(|r| r.verdict == GateVerdict::PassedThrough).count(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_is_413_without_being_read() {
    let gate = gate("http://127.0.0.1:9", GateLimits { max_body: 1024 * 1024, ..GateLimits::default() }).await;
    let addr = gate.addr;
    let (declared, streamed) = tokio::task::spawn_blocking(move || {
        // Declared too large: answered before a byte of the body is sent.
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"POST / HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 209715200\r\n\r\n").unwrap();
        let (declared, _) = read_until(&mut s, Duration::from_secs(5), |t| t.contains("\r\n\r\n"));
        // Chunked, without a length: cut off once over the limit.
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"POST / HTTP/1.1\r\nhost: 127.0.0.1\r\ntransfer-encoding: chunked\r\n\r\n").unwrap();
        let chunk = vec![b'a'; 64 * 1024];
        for _ in 0..40 {
            if s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).is_err()
                || s.write_all(&chunk).is_err()
                || s.write_all(b"\r\n").is_err()
            {
                break;
            }
        }
        let (streamed, _) = read_until(&mut s, Duration::from_secs(5), |t| t.contains("\r\n\r\n"));
        (declared, streamed)
    })
    .await
    .unwrap();
    assert!(declared.starts_with("HTTP/1.1 413"), "{declared}");
    assert!(streamed.starts_with("HTTP/1.1 413"), "{streamed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_time_out() {
    let gate =
        gate("http://127.0.0.1:9", GateLimits { header_timeout: Duration::from_millis(500), ..GateLimits::default() })
            .await;
    let addr = gate.addr;
    let (closed, took) = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"POST / HTTP/1.1\r\nhost: 127.0.0.1\r\n").unwrap();
        let started = Instant::now();
        let (_, closed) = read_until(&mut s, Duration::from_secs(10), |_| false);
        (closed, started.elapsed())
    })
    .await
    .unwrap();
    assert!(closed && took < Duration::from_secs(5), "closed {closed} after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_is_written_as_records_are_made() {
    let url = upstream().await;
    let gate = gate(&url, GateLimits::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gate.jsonl");
    gate.log_to(&path).unwrap();
    let addr = gate.addr;
    tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(signed_request(&addr.to_string()).as_bytes()).unwrap();
        read_until(&mut s, Duration::from_secs(5), |t| t.contains("HTTP/1.1 200"));
    })
    .await
    .unwrap();
    // Before the gate stops: a SIGKILL now would keep it.
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains("\"passed_through\"") && text.contains("decision_us"), "{text}");
}

/// The `gate` command, killed on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts `iam-conformance gate` (the seed's policies, a closed upstream) under an
/// open-file limit; returns it and its address once it prints its banner.
fn start_command(nofile: u32, extra: &[&str]) -> (Running, SocketAddr) {
    let port = free_port();
    let bin = env!("CARGO_BIN_EXE_iam-conformance");
    let mut args = vec!["gate", "--upstream", "http://127.0.0.1:9", "--listen"];
    let listen = format!("127.0.0.1:{port}");
    args.push(&listen);
    args.extend_from_slice(extra);
    let script = format!("ulimit -n {nofile} && exec \"$0\" \"$@\"");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(bin)
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut banner = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut banner).unwrap();
    assert!(banner.contains("iam-conformance gate"), "{banner}");
    (Running(child), listen.parse().unwrap())
}

/// CPU seconds (user + system) the process has used.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_flood_of_idle_connections_at_the_file_limit_neither_spins_nor_stops_it() {
    let (gate, addr) = start_command(256, &[]);
    let pid = gate.0.id();
    // More idle connections than the process may hold files.
    let idle: Vec<TcpStream> = (0..400).filter_map(|_| TcpStream::connect(addr).ok()).collect();
    assert!(idle.len() >= 300, "{} connections", idle.len());
    std::thread::sleep(Duration::from_millis(500));
    let before = cpu_seconds(pid);
    std::thread::sleep(Duration::from_secs(2));
    let spent = cpu_seconds(pid) - before;
    assert!(spent < 0.5, "the gate used {spent} s of CPU in 2 s with idle connections");
    // A new caller is still answered (an unsigned request: MissingAuthenticationToken).
    let started = Instant::now();
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"POST / HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 0\r\n\r\n").unwrap();
    let (text, _) = read_until(&mut s, Duration::from_secs(15), |t| t.contains("\r\n\r\n"));
    assert!(text.starts_with("HTTP/1.1 403"), "after {:?}: {text:?}", started.elapsed());
    drop(idle);
}

#[test]
fn a_200_mib_body_does_not_grow_the_gate() {
    let (gate, addr) = start_command(1024, &[]);
    let pid = gate.0.id();
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"POST / HTTP/1.1\r\nhost: 127.0.0.1\r\ntransfer-encoding: chunked\r\n\r\n").unwrap();
    let chunk = Arc::new(vec![b'a'; 1024 * 1024]);
    for _ in 0..200 {
        if s.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).is_err()
            || s.write_all(&chunk).is_err()
            || s.write_all(b"\r\n").is_err()
        {
            break;
        }
    }
    let (text, _) = read_until(&mut s, Duration::from_secs(10), |t| t.contains("\r\n\r\n"));
    assert!(text.starts_with("HTTP/1.1 413"), "{text:?}");
    let peak = peak_rss_kib(pid);
    assert!(peak < 120 * 1024, "peak RSS {peak} KiB");
}

#[test]
fn the_log_is_written_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("gate.jsonl");
    let (mut gate, addr) = start_command(1024, &["--log", log.to_str().unwrap()]);
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"POST / HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").unwrap();
    read_until(&mut s, Duration::from_secs(5), |t| t.contains("\r\n\r\n"));
    let status = Command::new("kill").args(["-TERM", &gate.0.id().to_string()]).status().unwrap();
    assert!(status.success());
    let started = Instant::now();
    while gate.0.try_wait().unwrap().is_none() && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = &mut gate;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(text.lines().count(), 1, "{text:?}");
}
