//! The gate as a running HTTP proxy on 127.0.0.1: a thin adapter around
//! [`iamc_core::gate::decide`]. For every request it reads the body (bounded in size and
//! time), verifies the SigV4 signature with the secret it knows for the key (the
//! administrator's, or session credentials it saw AssumeRole issue), lets the core decide,
//! and then forwards the request with one shared HTTP client or answers with the
//! service's own denial. Every decision is recorded (and, with [`Gate::log_to`], written
//! as it is made). The server bounds its connections, backs off when `accept` fails
//! (file descriptors exhausted), and times out slow headers and bodies.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};

use crate::client::{self, Client, Credentials};
use iamc_core::catalog::Catalog;
use iamc_core::context::links::Refresh;
use iamc_core::context::world::Observed;
pub use iamc_core::gate::decide::Subject;
use iamc_core::gate::decide::{
    DerivedChecks, GateDecision, KnownKey, ParsedRequest, RequestFacts, Shape, auth_denial, authenticate, decide,
    too_large,
};
use iamc_core::gate::deny::Denial;
use iamc_core::gate::derive::{Directory, LaunchTemplateInfo, TemplateUnread, derive};
pub use iamc_core::gate::record::{Caller, CheckDecision, GateRecord, GateVerdict, Refusal};
use iamc_core::gate::sigv4::{self, RequestParts};
use iamc_core::template::render::Target;
use iamc_core::wire;

/// The request header by which the harness tells the gate which scenario a call is for.
/// It is added after signing and removed before forwarding.
pub const SCENARIO_HEADER: &str = "x-iam-conformance-scenario";

#[derive(Clone, Debug)]
pub struct GateOptions {
    pub upstream: String,
    pub target: Target,
    /// Calls signed with this key (and its secret) are the harness's own and pass unevaluated.
    pub admin: Credentials,
    pub subject: Option<Subject>,
}

/// What the gate bounds, so a hostile or broken client cannot take it down.
#[derive(Clone, Debug)]
pub struct GateLimits {
    /// Largest request body; a larger one is answered 413 without being read.
    pub max_body: usize,
    /// Time a client has to send a request's headers (also how long an idle keep-alive
    /// connection is kept).
    pub header_timeout: Duration,
    /// Time a client has to send a request's body.
    pub body_timeout: Duration,
    /// Connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// Time the upstream has to answer a forwarded request.
    pub upstream_timeout: Duration,
    /// How old a followed role's policies may be before they are read again.
    pub policy_max_age: Duration,
}

impl Default for GateLimits {
    fn default() -> Self {
        GateLimits {
            // CloudFormation templates go up to 1 MB (TemplateBody 51,200 bytes, but
            // the administrator may send more); 16 MiB leaves room and bounds memory.
            max_body: 16 * 1024 * 1024,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_connections: default_max_connections(),
            upstream_timeout: Duration::from_secs(120),
            policy_max_age: Duration::from_secs(2),
        }
    }
}

/// Half of what the open-file limit leaves after 64 for everything else (each served
/// connection may hold one upstream connection too), between 16 and 1024.
fn default_max_connections() -> usize {
    let soft = std::fs::read_to_string("/proc/self/limits").ok().and_then(|text| {
        text.lines()
            .find(|l| l.starts_with("Max open files"))
            .and_then(|l| l.split_whitespace().nth(3))
            .and_then(|v| v.parse::<usize>().ok())
    });
    soft.map(|s| (s.saturating_sub(64) / 2).clamp(16, 1024)).unwrap_or(256)
}

/// A session AssumeRole issued through the gate, as the request context needs it.
#[derive(Clone, Debug)]
struct SessionFacts {
    /// `AssumedRoleUser.AssumedRoleId` of the answer: `aws:userid` (STS API Reference,
    /// "AssumedRoleUser").
    userid: Option<String>,
    /// When the gate saw the credentials issued (epoch seconds): `aws:TokenIssueTime`.
    issued: i64,
    /// Whether the request named an MFA device (`SerialNumber`).
    mfa: bool,
    /// The session name asked for.
    session_name: String,
    /// Whether the request set no source identity and no session tags, so the role's own
    /// tags are the principal's.
    plain: bool,
}

/// (read at, IAM generation then, the subject or `None` when the role does not exist).
type CachedSubject = Option<(Instant, u64, Option<Arc<Subject>>)>;

/// A role whose policies are read from the upstream's IAM when deciding.
struct Followed {
    name: String,
    cached: Mutex<CachedSubject>,
    refresh: tokio::sync::Mutex<()>,
}

struct State {
    upstream: String,
    target: Target,
    admin: Credentials,
    subject: RwLock<Option<Arc<Subject>>>,
    followed: RwLock<Option<Arc<Followed>>>,
    /// Keys the gate can verify: the administrator's and those AssumeRole issued.
    keys: Mutex<HashMap<String, KnownKey>>,
    records: Mutex<Vec<GateRecord>>,
    seq: AtomicU64,
    log: Mutex<Option<std::fs::File>>,
    /// Bumped by every IAM write that passes through: followed policies are read again.
    iam_generation: AtomicU64,
    /// What the calls that passed through established (`iamc_core::context::world::Observed`):
    /// lookups it knows are answered from it instead of the emulator.
    world: Arc<Mutex<Observed>>,
    /// Lookups made in the emulator so far (see [`Gate::upstream_lookups`]).
    upstream_lookups: Arc<AtomicU64>,
    /// Facts read again in the background (see [`read_again`]).
    upstream_refreshes: AtomicU64,
    /// The readings under way, each told when it is done.
    refreshing: Arc<Mutex<HashMap<Refresh, tokio::sync::watch::Receiver<bool>>>>,
    /// What the gate saw of each session AssumeRole issued through it, by access key: the
    /// request context's principal keys (`aws:userid`, `aws:TokenIssueTime`, MFA).
    sessions: Mutex<HashMap<String, SessionFacts>>,
    /// The gate's lookups (signed calls of the administrator).
    client: Client,
    /// The one client every forwarded request goes through (pooled connections).
    forward: HyperClient<HttpConnector, Full<Bytes>>,
    catalog: &'static Catalog,
    limits: GateLimits,
}

/// A running gate. Dropping it stops it.
pub struct Gate {
    pub addr: SocketAddr,
    pub url: String,
    state: Arc<State>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Gate {
    /// Starts the gate on `listen` (use port 0 for a free port) with the default limits.
    pub async fn start(listen: SocketAddr, options: GateOptions) -> std::io::Result<Gate> {
        Gate::start_with(listen, options, GateLimits::default()).await
    }

    /// Starts the gate with explicit limits.
    pub async fn start_with(listen: SocketAddr, options: GateOptions, limits: GateLimits) -> std::io::Result<Gate> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let mut keys = HashMap::new();
        keys.insert(
            options.admin.access_key_id.clone(),
            KnownKey {
                secret: options.admin.secret_access_key.clone(),
                session_token: options.admin.session_token.clone(),
                expires: None,
                caller: Caller::Admin,
            },
        );
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let forward = HyperClient::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(64)
            .build(connector);
        let state = Arc::new(State {
            upstream: options.upstream.clone(),
            target: options.target.clone(),
            admin: options.admin.clone(),
            subject: RwLock::new(options.subject.map(Arc::new)),
            followed: RwLock::new(None),
            keys: Mutex::new(keys),
            records: Mutex::new(Vec::new()),
            seq: AtomicU64::new(0),
            log: Mutex::new(None),
            iam_generation: AtomicU64::new(0),
            sessions: Mutex::new(HashMap::new()),
            world: Arc::new(Mutex::new(Observed::default())),
            upstream_lookups: Arc::new(AtomicU64::new(0)),
            upstream_refreshes: AtomicU64::new(0),
            refreshing: Arc::new(Mutex::new(HashMap::new())),
            client: Client::new(limits.upstream_timeout),
            forward,
            catalog: Catalog::embedded(),
            limits,
        });
        let (tx, rx) = oneshot::channel();
        tokio::spawn(serve(listener, Arc::clone(&state), rx));
        Ok(Gate { url: format!("http://{addr}"), addr, state, shutdown: Some(tx) })
    }

    /// Sets (or replaces) the role whose policies are enforced, with fixed policies (a
    /// template's); stops following a role.
    pub fn set_subject(&self, subject: Subject) {
        if let Ok(mut s) = self.state.subject.write() {
            *s = Some(Arc::new(subject));
        }
        if let Ok(mut f) = self.state.followed.write() {
            *f = None;
        }
    }

    /// Enforces `role` (a name or an ARN) with the policies the upstream's IAM holds for
    /// it, read when a call of the role is decided: kept at most
    /// [`GateLimits::policy_max_age`], read again after any IAM write that passes
    /// through the gate. Until the role exists its calls are refused. Nothing is read
    /// here, so the gate may start before the role exists. Returns the role's ARN as
    /// named (IAM's own ARN, with its path, is used once read).
    pub fn follow_role(&self, role: &str) -> String {
        let name = role.rsplit('/').next().unwrap_or(role).to_string();
        let arn = if role.starts_with("arn:") {
            role.to_string()
        } else {
            format!("arn:{}:iam::{}:role/{name}", self.state.target.partition, self.state.target.account_id)
        };
        if let Ok(mut f) = self.state.followed.write() {
            *f = Some(Arc::new(Followed { name, cached: Mutex::new(None), refresh: tokio::sync::Mutex::new(()) }));
        }
        arn
    }

    /// The role currently enforced and its policies as last read (`None` while a
    /// followed role does not exist, or nothing is enforced yet).
    pub async fn subject(&self) -> Option<Subject> {
        current_subject(&self.state).await.map(|s| (*s).clone())
    }

    /// Treats `access_key` as the role under test, verified with `secret` (for clients
    /// that bring their own keys). `session_token` must then come with every request.
    pub fn add_role_credentials(&self, access_key: &str, secret: &str, session_token: Option<&str>, role_arn: &str) {
        if let Ok(mut k) = self.state.keys.lock() {
            k.insert(
                access_key.to_string(),
                KnownKey {
                    secret: secret.to_string(),
                    session_token: session_token.map(str::to_string),
                    expires: None,
                    caller: Caller::Role(role_arn.to_string()),
                },
            );
        }
    }

    /// How many lookups the gate has made in the upstream so far (those its record of
    /// what passed through could not answer).
    pub fn upstream_lookups(&self) -> u64 {
        self.state.upstream_lookups.load(Ordering::Relaxed)
    }

    /// How many facts the gate has read again in the background after a call that may
    /// have changed them.
    pub fn upstream_refreshes(&self) -> u64 {
        self.state.upstream_refreshes.load(Ordering::Relaxed)
    }

    pub fn records(&self) -> Vec<GateRecord> {
        self.state.records.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Writes every record made so far to `path` as JSON lines, and from now on each new
    /// record as it is made (one write per line), so the log survives any way out of the
    /// process, SIGTERM and SIGKILL included.
    pub fn log_to(&self, path: &Path) -> std::io::Result<()> {
        let mut file = std::fs::File::create(path)?;
        let mut log = self.state.log.lock().map_err(|_| std::io::Error::other("gate state poisoned"))?;
        let records = self.state.records.lock().map(|r| r.clone()).unwrap_or_default();
        for r in &records {
            file.write_all(record_line(r).as_bytes())?;
        }
        *log = Some(file);
        Ok(())
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn record_line(r: &GateRecord) -> String {
    serde_json::to_string(r).unwrap_or_default() + "\n"
}

/// Accepts connections until `shutdown`: at most `max_connections` at once, backing off
/// when `accept` fails (EMFILE and the like) instead of spinning.
async fn serve(listener: TcpListener, state: Arc<State>, mut shutdown: oneshot::Receiver<()>) {
    let permits = Arc::new(Semaphore::new(state.limits.max_connections));
    // Told to every connection when all permits are taken: idle ones (keep-alive, or
    // opened and never used) close, so a flood of idle connections cannot starve callers.
    let pressure = Arc::new(tokio::sync::Notify::new());
    let mut backoff = Duration::from_millis(5);
    loop {
        if permits.available_permits() == 0 {
            pressure.notify_waiters();
        }
        let permit = tokio::select! {
            _ = &mut shutdown => return,
            p = Arc::clone(&permits).acquire_owned() => match p { Ok(p) => p, Err(_) => return },
        };
        let accepted = tokio::select! {
            _ = &mut shutdown => return,
            a = listener.accept() => a,
        };
        let stream = match accepted {
            Ok((stream, _)) => {
                backoff = Duration::from_millis(5);
                stream
            }
            Err(_) => {
                // Out of file descriptors (or another transient failure): wait instead of
                // spinning, and ask idle connections to give theirs back.
                drop(permit);
                pressure.notify_waiters();
                tokio::select! {
                    _ = &mut shutdown => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let state = Arc::clone(&state);
        let header_timeout = state.limits.header_timeout;
        let pressure = Arc::clone(&pressure);
        tokio::spawn(async move {
            let _permit = permit;
            let service = service_fn(move |req| handle(Arc::clone(&state), req));
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .keep_alive(true)
                .max_buf_size(64 * 1024)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            let mut closing = false;
            loop {
                tokio::select! {
                    _ = conn.as_mut() => break,
                    _ = pressure.notified(), if !closing => {
                        // Finishes a request under way, then closes; an idle one closes now.
                        conn.as_mut().graceful_shutdown();
                        closing = true;
                    }
                }
            }
        });
    }
}

fn response(status: u16, headers: &[(String, String)], body: Bytes) -> hyper::Response<Full<Bytes>> {
    let mut builder = hyper::Response::builder().status(status);
    for (k, v) in headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    builder.body(Full::new(body)).unwrap_or_else(|_| hyper::Response::new(Full::new(Bytes::new())))
}

fn answer(d: &Denial) -> hyper::Response<Full<Bytes>> {
    response(d.status, &d.headers, Bytes::from(d.body.clone()))
}

/// Headers that belong to one connection, not to the request or answer (RFC 9110,
/// section 7.6.1): never passed on. (moto answers `Connection: close`; passed on, it
/// closed the client's keep-alive connection and dropped its pipelined requests.)
fn hop_by_hop(name: &str) -> bool {
    [
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    ]
    .iter()
    .any(|h| name.eq_ignore_ascii_case(h))
}

/// The error shape for an answer given before the body is read: the signing scope's
/// service's protocol.
fn early_shape(headers: &[(String, String)]) -> (Shape, String) {
    let auth = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("authorization")).map(|(_, v)| v.as_str());
    let (key, service) = auth.and_then(client::credential_scope).map(|(k, _, s)| (k, s)).unwrap_or_default();
    let prefix = iamc_core::gate::decide::iam_prefix(&service);
    let shape = match wire::models().service(&prefix) {
        Some(m) => m.protocol.into(),
        None if headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("x-amz-target")) => Shape::Json,
        None => Shape::Query,
    };
    (shape, key)
}

fn now_unix() -> i64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// The time since `start` in microseconds.
fn micros(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX)
}

fn bare_record(seq: u64, key: String, refusal: Refusal, reason: String, d: &Denial, received: Instant) -> GateRecord {
    GateRecord {
        seq,
        scenario: None,
        caller: Caller::Unknown(key),
        service: String::new(),
        operation: String::new(),
        checks: Vec::new(),
        verdict: GateVerdict::Rejected,
        reason: Some(reason),
        refusal: Some(refusal),
        status: Some(d.status),
        error_code: Some(d.code.clone()),
        decision_us: 0,
        total_us: 0,
        received: Some(received),
    }
}

type Response = hyper::Response<Full<Bytes>>;

/// One request through the gate: read its body, authenticate and decide it (the decision
/// is `iamc_core::gate::decide`'s), forward what is allowed, learn from the answer. Each
/// phase that ends the request early has recorded why.
async fn handle(state: Arc<State>, req: hyper::Request<Incoming>) -> Result<Response, Infallible> {
    let received = Instant::now();
    let seq = state.seq.fetch_add(1, Ordering::Relaxed);
    let request_id = format!("iam-conformance-gate-{seq}");
    let (parts, body) = req.into_parts();
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let arrival = Arrival { seq, received, request_id: &request_id, headers: &headers };
    let body = match read_body(&state, &arrival, &parts, body).await {
        Ok(b) => b,
        Err(r) => return Ok(r),
    };
    let deciding = Instant::now();
    let rp = RequestParts {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query(),
        headers: &headers,
        body: &body,
    };
    let parsed = ParsedRequest::read(&rp, &state.target.region, SCENARIO_HEADER, &request_id);

    // Who is calling: the signature verified with the secret the gate knows for the key.
    let key_id = sigv4::read(&rp).ok().flatten().map(|s| s.scope.access_key).unwrap_or_default();
    let lookup = |k: &str| state.keys.lock().ok().and_then(|keys| keys.get(k).cloned());
    let caller = match authenticate(&rp, &lookup, now_unix()) {
        Ok(c) => c,
        Err(e) => {
            let d = auth_denial(parsed.shape, &e, &request_id);
            let mut record = parsed.record(seq, Caller::Unknown(key_id));
            record.verdict = GateVerdict::Rejected;
            record.refusal = Some(Refusal::Unauthenticated);
            record.reason = Some(format!("{:?}", e));
            record.status = Some(d.status);
            record.error_code = Some(d.code.clone());
            record.decision_us = micros(deciding);
            record.received = Some(received);
            push(&state, record);
            return Ok(answer(&d));
        }
    };
    let mut record = parsed.record(seq, caller.clone());
    record.received = Some(received);
    let decision = decide_with_derivation(&state, &parsed, &caller, &key_id, &headers, &request_id).await;
    decision.record_into(&mut record);
    record.decision_us = micros(deciding);
    if let Some(d) = decision.answer() {
        push(&state, record);
        return Ok(answer(d));
    }

    // What the record knew before the call left: an answer read after something ended
    // (a concurrent call's effect) is not learnt from.
    let epoch_before = state.world.lock().map(|w| w.epoch()).unwrap_or_default();
    let (status, resp_headers, resp_body) = match forward(&state, &parts, &headers, body).await {
        Ok(a) => a,
        Err((failure, r)) => {
            (record.status, record.reason) = (Some(r.status().as_u16()), Some(failure));
            push(&state, record);
            return Ok(r);
        }
    };
    let text = String::from_utf8_lossy(&resp_body);
    record.status = Some(status);
    if let Some(m) = wire::models().service(&parsed.service) {
        record.error_code = client::service_error(m.protocol, status, &resp_headers, &text).map(|(c, _)| c);
    }
    if (200..300).contains(&status) {
        learn(&state, &parsed, status, &text, epoch_before);
    }
    push(&state, record);
    Ok(response(status, &resp_headers, resp_body))
}

/// What is known of a request before its body is read.
struct Arrival<'a> {
    seq: u64,
    received: Instant,
    request_id: &'a str,
    headers: &'a [(String, String)],
}

/// The body, bounded in size and in time; a refusal (recorded) when it is too large or
/// too slow.
async fn read_body(
    state: &State,
    arrival: &Arrival<'_>,
    parts: &http::request::Parts,
    body: Incoming,
) -> Result<Bytes, Response> {
    let max = state.limits.max_body;
    let refuse = |refusal: Refusal, reason: String, d: Denial| {
        let (_, key) = early_shape(arrival.headers);
        push(state, bare_record(arrival.seq, key, refusal, reason, &d, arrival.received));
        let mut r = answer(&d);
        r.headers_mut().insert(hyper::header::CONNECTION, hyper::header::HeaderValue::from_static("close"));
        r
    };
    let too_big = || {
        let d = too_large(early_shape(arrival.headers).0, max, arrival.request_id);
        refuse(Refusal::TooLarge, format!("body over {max} bytes"), d)
    };
    let declared = parts.headers.get(hyper::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_big());
    }
    match tokio::time::timeout(state.limits.body_timeout, Limited::new(body, max).collect()).await {
        Ok(Ok(b)) => Ok(b.to_bytes()),
        Ok(Err(e)) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => Err(too_big()),
        Ok(Err(e)) => Err(response(400, &[], Bytes::from(format!("gate: failed to read the request body: {e}")))),
        Err(_) => {
            let d = iamc_core::gate::decide::shaped(
                early_shape(arrival.headers).0,
                408,
                "RequestTimeout",
                "iam-conformance gate: the request body did not arrive in time",
                arrival.request_id,
            );
            Err(refuse(Refusal::Timeout, "body read timed out".into(), d))
        }
    }
}

/// The gate's decision, with the checks derived (off the async threads: the derivation
/// may look things up in the emulator) when the decision needs them.
async fn decide_with_derivation(
    state: &State,
    parsed: &ParsedRequest,
    caller: &Caller,
    key_id: &str,
    headers: &[(String, String)],
    request_id: &str,
) -> GateDecision {
    let subject = match caller {
        Caller::Role(_) => current_subject(state).await,
        _ => None,
    };
    let decision = decide(parsed, caller, subject.as_deref(), None);
    let GateDecision::NeedsDerivation { service, operation, input } = &decision else { return decision };
    let unserved = Arc::new(AtomicBool::new(false));
    let directory = UpstreamDirectory {
        client: state.client.clone(),
        upstream: state.upstream.clone(),
        target: state.target.clone(),
        admin: state.admin.clone(),
        world: Arc::clone(&state.world),
        lookups: Arc::clone(&state.upstream_lookups),
        unserved: Arc::clone(&unserved),
        refreshing: Arc::clone(&state.refreshing),
        wait: state.limits.upstream_timeout,
    };
    let (catalog, target) = (state.catalog, state.target.clone());
    let (svc, op, inp) = (service.clone(), operation.clone(), input.clone());
    let session = state.sessions.lock().ok().and_then(|s| s.get(key_id).cloned());
    let user_agent = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("user-agent")).map(|(_, v)| v.clone());
    let policies = subject.clone();
    let derived = tokio::task::spawn_blocking(move || {
        let derivation = derive(catalog, &svc, &op, &inp, &target, &directory);
        let facts = policies.map(|s| request_facts(&s, &derivation, session, user_agent, &target, &directory));
        (derivation, facts)
    })
    .await;
    match derived {
        Ok((d, facts)) => {
            let derived = DerivedChecks { derivation: d, unserved: unserved.load(Ordering::Relaxed), facts };
            decide(parsed, caller, subject.as_deref(), Some(&derived))
        }
        Err(e) => GateDecision::Refuse {
            refusal: Refusal::Internal,
            reason: format!("derivation failed: {e}"),
            denial: iamc_core::gate::deny::denial(
                iamc_core::wire::Protocol::Query,
                &format!("iam-conformance gate: derivation failed: {e}"),
                request_id,
                None,
            ),
        },
    }
}

/// Sends the request to the emulator, without the harness's own header and hop-by-hop
/// headers; its answer, or what went wrong (for the record) and the gate's own answer.
async fn forward(
    state: &State,
    parts: &http::request::Parts,
    headers: &[(String, String)],
    body: Bytes,
) -> Result<(u16, Vec<(String, String)>, Bytes), (String, Response)> {
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let url = format!("{}{path}", state.upstream.trim_end_matches('/'));
    let mut builder = hyper::Request::builder().method(parts.method.clone()).uri(&url);
    for (k, v) in headers {
        if !k.eq_ignore_ascii_case(SCENARIO_HEADER) && !k.eq_ignore_ascii_case("host") && !hop_by_hop(k) {
            builder = builder.header(k.as_str(), v.as_str());
        }
    }
    let forwarded = builder
        .body(Full::new(body))
        .map_err(|e| (format!("not forwarded: {e}"), response(500, &[], Bytes::from(format!("gate: {e}")))))?;
    let sent = tokio::time::timeout(state.limits.upstream_timeout, state.forward.request(forwarded)).await;
    let upstream_answer = match sent {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            return Err((
                format!("upstream unreachable: {}", client::error_chain(&e)),
                response(502, &[], Bytes::from(format!("gate: upstream {url} unreachable: {e}"))),
            ));
        }
        Err(_) => {
            return Err((
                "upstream did not answer in time".into(),
                response(504, &[], Bytes::from(format!("gate: upstream {url} did not answer in time"))),
            ));
        }
    };
    let status = upstream_answer.status().as_u16();
    let resp_headers: Vec<(String, String)> = upstream_answer
        .headers()
        .iter()
        .filter(|(k, _)| !hop_by_hop(k.as_str()))
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    match tokio::time::timeout(state.limits.upstream_timeout, upstream_answer.into_body().collect()).await {
        Ok(Ok(b)) => Ok((status, resp_headers, b.to_bytes())),
        _ => Err((
            "upstream answer broke off".into(),
            response(502, &[], Bytes::from_static(b"gate: the upstream's answer broke off")),
        )),
    }
}

/// What a successful call teaches the gate, before its caller has the answer (so a call
/// that follows sees its effect): the keys AssumeRole issued, that IAM changed, what the
/// call established in the world (docs/gate.md).
fn learn(state: &Arc<State>, parsed: &ParsedRequest, status: u16, text: &str, epoch_before: u64) {
    if parsed.service == "sts" && parsed.operation() == "AssumeRole" {
        remember_session(state, parsed, status, text);
    }
    // An IAM write (or a stack change) may change a followed role's policies.
    if parsed.changes_iam() {
        state.iam_generation.fetch_add(1, Ordering::SeqCst);
    }
    let Ok((operation, input)) = &parsed.wire else { return };
    let Ok(mut world) = state.world.lock() else { return };
    if Observed::learns_from(&parsed.service, operation)
        && let Ok(output) = wire::output(&parsed.service, operation, status, text)
    {
        world.learn_read(&parsed.service, operation, &output, epoch_before);
    }
    for refresh in world.observe(&parsed.service, operation, input, text) {
        // Marked under way before the caller has the answer, so that a decision that
        // follows waits for it rather than asking again.
        let (done, under_way) = tokio::sync::watch::channel(false);
        if let Ok(mut r) = state.refreshing.lock() {
            r.insert(refresh.clone(), under_way);
        }
        tokio::spawn(read_again(Arc::clone(state), refresh, done));
    }
}

/// Keys AssumeRole issues act as the assumed role from now on, verified with their
/// secret and session token until they expire.
fn remember_session(state: &State, parsed: &ParsedRequest, status: u16, text: &str) {
    let Ok((_, input)) = &parsed.wire else { return };
    let Ok(output) = wire::output("sts", "AssumeRole", status, text) else { return };
    let Some(credentials) = output.get("Credentials") else { return };
    let (Some(role), Some(key), Some(secret)) = (
        input.get("RoleArn").and_then(Value::as_str),
        text_of(credentials, "AccessKeyId"),
        text_of(credentials, "SecretAccessKey"),
    ) else {
        return;
    };
    let Ok(mut k) = state.keys.lock() else { return };
    let expires = text_of(credentials, "Expiration").and_then(|e| sigv4::parse_rfc3339(&e));
    if let Ok(mut sessions) = state.sessions.lock() {
        sessions.insert(
            key.clone(),
            SessionFacts {
                userid: output.get("AssumedRoleUser").and_then(|u| text_of(u, "AssumedRoleId")),
                issued: now_unix(),
                mfa: input.get("SerialNumber").is_some(),
                session_name: input.get("RoleSessionName").and_then(Value::as_str).unwrap_or_default().to_string(),
                plain: input.get("SourceIdentity").is_none()
                    && input.get("Tags").is_none()
                    && input.get("TransitiveTagKeys").is_none(),
            },
        );
    }
    k.insert(
        key,
        KnownKey {
            secret,
            session_token: text_of(credentials, "SessionToken"),
            expires,
            caller: Caller::Role(role.to_string()),
        },
    );
}

/// Reads a fact again in the emulator, in the background, right after a call that may
/// have changed it (`context::links::Refresh`): the next decision needing it finds it known
/// instead of asking in its own time. Kept only when nothing ended meanwhile.
async fn read_again(state: Arc<State>, refresh: Refresh, done: tokio::sync::watch::Sender<bool>) {
    // A concurrent call that ends something drops the answer: read once more.
    for _ in 0..3 {
        if read_once(&state, &refresh).await != Some(false) {
            break;
        }
    }
    if let Ok(mut r) = state.refreshing.lock()
        && r.get(&refresh).is_some_and(|rx| rx.same_channel(&done.subscribe()))
    {
        r.remove(&refresh);
    }
    let _ = done.send(true);
}

/// One reading of [`read_again`]: whether it was kept (`None`: no usable answer).
async fn read_once(state: &State, refresh: &Refresh) -> Option<bool> {
    let epoch = state.world.lock().map(|w| w.epoch()).ok()?;
    state.upstream_refreshes.fetch_add(1, Ordering::Relaxed);
    let (service, operation, input) = match refresh {
        Refresh::ServiceLinkedRole(name) => ("iam", "GetRole", serde_json::json!({"RoleName": name})),
        Refresh::Group(name) => {
            ("autoscaling", "DescribeAutoScalingGroups", serde_json::json!({"AutoScalingGroupNames": [name]}))
        }
    };
    let t = &state.target;
    let answer =
        state.client.call(&state.upstream, &t.region, &state.admin, service, operation, &input, &[]).await.ok()?;
    let mut world = state.world.lock().ok()?;
    match refresh {
        Refresh::ServiceLinkedRole(name) => {
            let missing = answer.error.as_ref().is_some_and(|(code, _)| code == "NoSuchEntity");
            (answer.ok() || missing).then(|| world.learn_service_linked_role_state(name, answer.ok(), epoch))
        }
        Refresh::Group(_) => {
            let output = wire::output(service, operation, answer.status, &answer.body).ok()?;
            Some(world.learn_read(service, operation, &output, epoch))
        }
    }
}

/// A string member of a model-read answer.
fn text_of(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn push(state: &State, mut record: GateRecord) {
    if let Some(received) = record.received {
        record.total_us = micros(received);
    }
    if let Ok(mut log) = state.log.lock()
        && let Some(file) = log.as_mut()
    {
        let _ = file.write_all(record_line(&record).as_bytes());
    }
    if let Ok(mut r) = state.records.lock() {
        r.push(record);
    }
}

/// The subject to decide a role's call against: the fixed one, or the followed role's
/// policies as IAM holds them now (read again when stale or after an IAM write).
async fn current_subject(state: &State) -> Option<Arc<Subject>> {
    let followed = state.followed.read().ok().and_then(|f| f.clone());
    let Some(f) = followed else { return state.subject.read().ok().and_then(|s| s.clone()) };
    let max_age = state.limits.policy_max_age;
    let fresh = |f: &Followed| {
        let generation = state.iam_generation.load(Ordering::SeqCst);
        f.cached.lock().ok().and_then(|c| {
            c.as_ref().filter(|(at, g, _)| at.elapsed() < max_age && *g == generation).map(|(_, _, s)| s.clone())
        })
    };
    if let Some(s) = fresh(&f) {
        return s;
    }
    let _one_reader = f.refresh.lock().await;
    if let Some(s) = fresh(&f) {
        return s;
    }
    let generation = state.iam_generation.load(Ordering::SeqCst);
    let read = read_role(state, &f).await;
    let previous = f.cached.lock().ok().and_then(|c| c.as_ref().and_then(|(_, _, s)| s.clone()));
    // An unreachable IAM keeps what was last read (for another `max_age`).
    let value = read.unwrap_or(previous);
    if let Ok(mut c) = f.cached.lock() {
        *c = Some((Instant::now(), generation, value.clone()));
    }
    value
}

/// Why the followed role could not be read (the gate then keeps what it last read).
#[derive(Debug, thiserror::Error)]
enum RoleUnread {
    #[error("iam:GetRole could not be called")]
    Call(#[source] client::ExecError),
    #[error("iam:GetRole answered HTTP {0}")]
    Status(u16),
    #[error("the role's policies could not be read back")]
    ReadBack(#[source] crate::session::ReadBackError),
}

/// Reads the followed role: `Ok(None)` when IAM says it does not exist.
async fn read_role(state: &State, f: &Followed) -> Result<Option<Arc<Subject>>, RoleUnread> {
    let input = serde_json::json!({"RoleName": f.name});
    let got = state
        .client
        .call(&state.upstream, &state.target.region, &state.admin, "iam", "GetRole", &input, &[])
        .await
        .map_err(RoleUnread::Call)?;
    if got.status == 404 || got.error.as_ref().is_some_and(|(c, _)| c == "NoSuchEntity") {
        return Ok(None);
    }
    if !got.ok() {
        return Err(RoleUnread::Status(got.status));
    }
    let session = crate::session::Session {
        client: state.client.clone(),
        endpoints: crate::session::Endpoints::One(state.upstream.clone()),
        region: state.target.region.clone(),
        admin: state.admin.clone(),
    };
    let (arn, policies) = crate::session::read_back(&session, &f.name).await.map_err(RoleUnread::ReadBack)?;
    Ok(Some(Arc::new(Subject { role_arn: arn, policies })))
}

/// The request context of a role's request, as AWS would build it
/// (`iamc_core::context`): the calling session as the gate saw AssumeRole issue it, the
/// gate's clock, and — only when a policy reads them — the role's tags and the tags of the
/// resources the checks are on, looked up in the emulator.
///
/// Transport: the harness and its clients reach the gate over plain HTTP on 127.0.0.1,
/// standing in for the HTTPS endpoints they call on AWS (`iamc_core::aws::endpoint`); the
/// gate decides `aws:SecureTransport` as `true`, as AWS would for those calls. The source
/// address is the model's documented default (`context::DEFAULT_SOURCE_IP`), as in the
/// static proof: 127.0.0.1 is not an address AWS could see.
fn request_facts(
    subject: &Subject,
    derivation: &iamc_core::gate::derive::Derivation,
    session: Option<SessionFacts>,
    user_agent: Option<String>,
    target: &Target,
    directory: &dyn Directory,
) -> RequestFacts {
    use iamc_core::context::{Clock, Model, Principal};
    let needed = iamc_core::context::keys_read(&subject.policies);
    let role_name = subject.role_arn.rsplit('/').next().unwrap_or_default();
    let tags = if needed.iter().any(|k| k.starts_with("aws:principaltag/")) && session.as_ref().is_some_and(|s| s.plain)
    {
        directory.role_tags(role_name)
    } else {
        None
    };
    let principal = Principal {
        role_arn: subject.role_arn.clone(),
        account: subject.role_arn.split(':').nth(4).unwrap_or_default().to_string(),
        session_name: session.as_ref().map(|s| s.session_name.clone()).unwrap_or_default(),
        userid: session.as_ref().and_then(|s| s.userid.clone()),
        tags,
        issued: session.as_ref().map(|s| s.issued),
        mfa: session.as_ref().map(|s| s.mfa),
        harness_session: session.as_ref().is_some_and(|s| s.plain),
    };
    let mut model = Model::statically(target).with_principal(principal);
    model.now = now_unix();
    model.clock = Clock::Live;
    model.user_agent = user_agent;
    model.transport_note =
        "the gate is reached over HTTP on 127.0.0.1, standing in for AWS's HTTPS endpoints: decided as `true`".into();
    let mut resource_tags = std::collections::BTreeMap::new();
    if needed.iter().any(|k| k.split_once(':').is_some_and(|(_, n)| n.starts_with("resourcetag/"))) {
        for c in &derivation.checks {
            if c.resource.contains('*') || resource_tags.contains_key(&c.resource) {
                continue;
            }
            if let Some(tags) = directory.resource_tags(&c.resource) {
                resource_tags.insert(c.resource.clone(), tags);
            }
        }
    }
    RequestFacts { model, resource_tags }
}

/// Lookups the derivation needs: from the gate's record of what passed through it where
/// that knows, else answered by the emulator with the harness's credentials.
struct UpstreamDirectory {
    client: Client,
    upstream: String,
    target: Target,
    admin: Credentials,
    world: Arc<Mutex<Observed>>,
    /// Counts the lookups made in the emulator.
    lookups: Arc<AtomicU64>,
    /// Set when the upstream answered a lookup with "not served" (501, moto's 500 page):
    /// a refusal that follows is the backend's gap, not the request's.
    unserved: Arc<std::sync::atomic::AtomicBool>,
    /// The gate's readings under way ([`read_again`]), and how long to wait for one.
    refreshing: Arc<Mutex<HashMap<Refresh, tokio::sync::watch::Receiver<bool>>>>,
    wait: Duration,
}

impl UpstreamDirectory {
    /// Reads the record (`None` when it is unavailable).
    fn known<T>(&self, read: impl FnOnce(&Observed) -> T) -> Option<T> {
        self.world.lock().ok().map(|w| read(&w))
    }

    /// Waits for the readings under way that `about` picks to finish: what they learn
    /// answers sooner than a lookup of one's own.
    fn settle(&self, about: impl Fn(&Refresh) -> bool) {
        let under_way: Vec<_> = self
            .refreshing
            .lock()
            .map(|r| r.iter().filter(|(k, _)| about(k)).map(|(_, rx)| rx.clone()).collect())
            .unwrap_or_default();
        if under_way.is_empty() {
            return;
        }
        let handle = tokio::runtime::Handle::current();
        for mut rx in under_way {
            let _ = handle.block_on(tokio::time::timeout(self.wait, rx.wait_for(|done| *done)));
        }
    }

    fn learn(&self, write: impl FnOnce(&mut Observed)) {
        if let Ok(mut w) = self.world.lock() {
            write(&mut w);
        }
    }
}

impl UpstreamDirectory {
    /// One lookup in the emulator with the harness's credentials: the answer, `None` when
    /// the emulator could not be reached.
    fn ask(&self, service: &str, operation: &str, input: Value) -> Option<client::Answer> {
        self.lookups.fetch_add(1, Ordering::Relaxed);
        let handle = tokio::runtime::Handle::current();
        let answer = handle
            .block_on(self.client.call(
                &self.upstream,
                &self.target.region,
                &self.admin,
                service,
                operation,
                &input,
                &[],
            ))
            .ok()?;
        if answer.status == 501 || answer.status == 500 {
            self.unserved.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        Some(answer)
    }

    /// A successful lookup's body.
    fn call(&self, service: &str, operation: &str, input: Value) -> Option<String> {
        self.ask(service, operation, input).filter(client::Answer::ok).map(|a| a.body)
    }

    /// A successful lookup's output, read by the wire model.
    fn read(&self, service: &str, operation: &str, input: Value) -> Option<Value> {
        let body = self.call(service, operation, input)?;
        wire::output(service, operation, 200, &body).ok()
    }

    /// [`Self::read`], learnt by the record when nothing ended while it was under way.
    fn read_and_learn(&self, service: &str, operation: &str, input: Value) -> Option<Value> {
        let epoch = self.known(Observed::epoch)?;
        let output = self.read(service, operation, input)?;
        self.learn(|w| {
            w.learn_read(service, operation, &output, epoch);
        });
        Some(output)
    }

    /// Every service-linked role's state from one listing of `/aws-service-role/`;
    /// `None` when the listing did not complete.
    fn list_service_linked(&self) -> Option<HashSet<String>> {
        let epoch = self.known(Observed::epoch)?;
        let paginator = wire::models().service("iam").and_then(|m| m.paginator("ListRoles"));
        let mut input = serde_json::json!({"PathPrefix": "/aws-service-role/"});
        let mut names = HashSet::new();
        for _ in 0..20 {
            let output = self.read("iam", "ListRoles", input.clone())?;
            let roles = output.get("Roles").and_then(Value::as_array).into_iter().flatten();
            names.extend(roles.filter_map(|r| r.get("RoleName").and_then(Value::as_str).map(str::to_string)));
            match paginator.and_then(|p| wire::next_input(p, &input, &output)) {
                Some(next) => input = next,
                None => {
                    self.learn(|w| {
                        for (_, name) in iamc_core::gate::derive::SERVICE_LINKED_ROLES {
                            w.learn_service_linked_role_state(name, names.contains(*name), epoch);
                        }
                    });
                    return Some(names);
                }
            }
        }
        None
    }
}

fn text<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key).and_then(Value::as_str)
}

fn first<'v>(v: &'v Value, key: &str) -> Option<&'v Value> {
    v.get(key).and_then(Value::as_array).and_then(|a| a.first())
}

/// `[{Key, Value}]` as pairs (a missing value is empty).
fn tag_pairs(v: Option<&Value>) -> Vec<(String, String)> {
    let tags = v.and_then(Value::as_array).into_iter().flatten();
    tags.filter_map(|t| Some((text(t, "Key")?.to_string(), text(t, "Value").unwrap_or_default().to_string()))).collect()
}

impl UpstreamDirectory {
    /// The tags of the item of a listing's `list` whose `name_member` is `name` (a classic
    /// load balancer's by DescribeTags, a group's by DescribeAutoScalingGroups, a secret's
    /// by ListSecrets).
    fn listed_tags(
        &self,
        service: &str,
        operation: &str,
        input: Value,
        list: &str,
        name_member: &str,
        name: &str,
    ) -> Option<Vec<(String, String)>> {
        let output = self.read(service, operation, input)?;
        let listed = output.get(list).and_then(Value::as_array).into_iter().flatten();
        let found = listed.into_iter().find(|item| text(item, name_member) == Some(name))?;
        Some(tag_pairs(found.get("Tags")))
    }
}

impl Directory for UpstreamDirectory {
    fn instance_profile_role(&self, profile: &str) -> Option<String> {
        // From the record of the profile's creation and Add/RemoveRoleFromInstanceProfile.
        if let Some(known) = self.known(|w| w.instance_profile_role(profile)).flatten() {
            return known;
        }
        let name = profile.rsplit('/').next().unwrap_or(profile);
        let output = self.read("iam", "GetInstanceProfile", serde_json::json!({"InstanceProfileName": name}))?;
        let roles = output.get("InstanceProfile").and_then(|p| p.get("Roles")).and_then(Value::as_array);
        roles.into_iter().flatten().filter_map(|r| text(r, "Arn")).find(|a| a.contains(":role/")).map(str::to_string)
    }

    fn launch_template(&self, id_or_name: &str, version: &str) -> Result<LaunchTemplateInfo, TemplateUnread> {
        if let Some(known) = self.known(|w| w.launch_template(id_or_name, version)).flatten() {
            return Ok(known);
        }
        let key = if id_or_name.starts_with("lt-") { "LaunchTemplateId" } else { "LaunchTemplateName" };
        let output = self
            .read("ec2", "DescribeLaunchTemplateVersions", serde_json::json!({key: id_or_name, "Versions": [version]}))
            .ok_or(TemplateUnread::NotDescribed)?;
        let found = first(&output, "LaunchTemplateVersions").filter(|v| text(v, "LaunchTemplateId").is_some());
        let Some(found) = found else { return Err(TemplateUnread::NoSuchVersion) };
        let data = found.get("LaunchTemplateData").unwrap_or(&Value::Null);
        let profile = data.get("IamInstanceProfile").and_then(|p| text(p, "Arn").or_else(|| text(p, "Name")));
        let groups = data.get("SecurityGroupIds").and_then(Value::as_array).into_iter().flatten();
        let mut tag_specifications = Vec::new();
        for spec in data.get("TagSpecifications").and_then(Value::as_array).into_iter().flatten() {
            let rtype = text(spec, "ResourceType").unwrap_or_default();
            // Instances launched from a template tag only what they create; moto also
            // lists the template's own `launch-template` tags here, which AWS does not.
            if rtype.is_empty() || rtype == "launch-template" {
                continue;
            }
            tag_specifications.push((rtype.to_string(), tag_pairs(spec.get("Tags"))));
        }
        Ok(LaunchTemplateInfo {
            id: text(found, "LaunchTemplateId").unwrap_or(id_or_name).to_string(),
            image_id: text(data, "ImageId").map(str::to_string),
            key_name: text(data, "KeyName").map(str::to_string),
            security_group_ids: groups.filter_map(Value::as_str).map(str::to_string).collect(),
            instance_profile: profile.map(str::to_string),
            tag_specifications,
        })
    }

    fn service_linked_role_exists(&self, principal: &str) -> bool {
        let Some((_, name)) = iamc_core::gate::derive::SERVICE_LINKED_ROLES.iter().find(|(s, _)| *s == principal)
        else {
            return false;
        };
        // Known once created or seen, or absent until a call that may create it; else one
        // listing answers for every service-linked role (docs/gate.md, "The record").
        self.settle(|r| matches!(r, Refresh::ServiceLinkedRole(n) if n == name));
        if let Some(known) = self.known(|w| w.service_linked_role(name)).flatten() {
            return known;
        }
        if let Some(listed) = self.list_service_linked() {
            return listed.contains(*name);
        }
        let epoch = self.known(Observed::epoch);
        let answer = self.ask("iam", "GetRole", serde_json::json!({"RoleName": name}));
        let exists = answer.as_ref().is_some_and(client::Answer::ok);
        if let Some(epoch) = epoch.filter(|_| exists) {
            self.learn(|w| {
                w.learn_service_linked_role_state(name, true, epoch);
            });
        }
        exists
    }

    fn association_resources(&self, association_id: &str) -> Vec<String> {
        use iamc_core::context::links::Association;
        let t = &self.target;
        let ec2 = format!("arn:{}:ec2:{}:{}", t.partition, t.region, t.account_id);
        let known = self.known(|w| w.association(association_id)).flatten();
        let (table, subnet, allocation) = match known {
            Some(Association::RouteTable { table, subnet }) => (Some(table), subnet, None),
            Some(Association::Address { allocation }) => (None, None, Some(allocation)),
            None if association_id.starts_with("rtbassoc-") => {
                let filter = serde_json::json!({"Filters": [{"Name": "association.route-table-association-id", "Values": [association_id]}]});
                let Some(output) = self.read("ec2", "DescribeRouteTables", filter) else { return Vec::new() };
                let table = first(&output, "RouteTables");
                let association = table
                    .and_then(|t| t.get("Associations"))
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .find(|a| text(a, "RouteTableAssociationId") == Some(association_id));
                (
                    table.and_then(|t| text(t, "RouteTableId")).map(str::to_string),
                    association.and_then(|a| text(a, "SubnetId")).map(str::to_string),
                    None,
                )
            }
            None if association_id.starts_with("eipassoc-") => {
                let filter = serde_json::json!({"Filters": [{"Name": "association-id", "Values": [association_id]}]});
                let output = self.read("ec2", "DescribeAddresses", filter);
                let allocation =
                    output.as_ref().and_then(|o| first(o, "Addresses")).and_then(|a| text(a, "AllocationId"));
                (None, None, allocation.map(str::to_string))
            }
            None => (None, None, None),
        };
        let mut out = Vec::new();
        out.extend(table.map(|rtb| format!("{ec2}:route-table/{rtb}")));
        out.extend(subnet.map(|subnet| format!("{ec2}:subnet/{subnet}")));
        out.extend(allocation.map(|a| format!("{ec2}:elastic-ip/{a}")));
        out
    }

    fn instance_group(&self, instance_id: &str) -> Option<String> {
        self.settle(|r| matches!(r, Refresh::Group(_)));
        if let Some(known) = self.known(|w| w.instance_group(instance_id)).flatten() {
            return Some(known);
        }
        let input = serde_json::json!({"InstanceIds": [instance_id]});
        let output = self.read_and_learn("autoscaling", "DescribeAutoScalingInstances", input)?;
        first(&output, "AutoScalingInstances").and_then(|i| text(i, "AutoScalingGroupName")).map(str::to_string)
    }

    fn resource_tags(&self, resource: &str) -> Option<Vec<(String, String)>> {
        // EC2 resources, each by its own Describe call filtered to its id (the wire model
        // has no DescribeTags), read by the model: the listed item with the id, and its tags.
        const DESCRIBE: &[(&str, &str, &str, &[&str], &str)] = &[
            ("instance", "DescribeInstances", "InstanceIds", &["Reservations", "Instances"], "InstanceId"),
            ("vpc", "DescribeVpcs", "VpcIds", &["Vpcs"], "VpcId"),
            ("subnet", "DescribeSubnets", "SubnetIds", &["Subnets"], "SubnetId"),
            ("security-group", "DescribeSecurityGroups", "GroupIds", &["SecurityGroups"], "GroupId"),
            (
                "internet-gateway",
                "DescribeInternetGateways",
                "InternetGatewayIds",
                &["InternetGateways"],
                "InternetGatewayId",
            ),
            ("route-table", "DescribeRouteTables", "RouteTableIds", &["RouteTables"], "RouteTableId"),
            ("natgateway", "DescribeNatGateways", "NatGatewayIds", &["NatGateways"], "NatGatewayId"),
            ("elastic-ip", "DescribeAddresses", "AllocationIds", &["Addresses"], "AllocationId"),
            (
                "network-interface",
                "DescribeNetworkInterfaces",
                "NetworkInterfaceIds",
                &["NetworkInterfaces"],
                "NetworkInterfaceId",
            ),
            (
                "launch-template",
                "DescribeLaunchTemplates",
                "LaunchTemplateIds",
                &["LaunchTemplates"],
                "LaunchTemplateId",
            ),
            ("volume", "DescribeVolumes", "VolumeIds", &["Volumes"], "VolumeId"),
        ];
        use iamc_core::context::world::NamedResource;
        use serde_json::json;
        match NamedResource::of_arn(resource) {
            Some(NamedResource::LoadBalancer(n)) => {
                let input = json!({"LoadBalancerNames": [n]});
                return self.listed_tags(
                    "elasticloadbalancing",
                    "DescribeTags",
                    input,
                    "TagDescriptions",
                    "LoadBalancerName",
                    &n,
                );
            }
            Some(NamedResource::Group(n)) => {
                let input = json!({"AutoScalingGroupNames": [n]});
                return self.listed_tags(
                    "autoscaling",
                    "DescribeAutoScalingGroups",
                    input,
                    "AutoScalingGroups",
                    "AutoScalingGroupName",
                    &n,
                );
            }
            // The gate derives a secret's ARN with placeholder random characters: the name finds it.
            Some(NamedResource::Secret(n)) => {
                let input = json!({"Filters": [{"Key": "name", "Values": [n]}]});
                return self.listed_tags("secretsmanager", "ListSecrets", input, "SecretList", "Name", &n);
            }
            Some(NamedResource::Role(n)) => return self.role_tags(&n),
            None => {}
        }
        let parts: Vec<&str> = resource.splitn(6, ':').collect();
        if parts.len() < 6 || parts[2] != "ec2" {
            return None;
        }
        let (rtype, id) = parts[5].split_once('/')?;
        let (_, operation, member, path, id_member) = DESCRIBE.iter().find(|(t, ..)| *t == rtype)?;
        let output = self.read("ec2", operation, serde_json::json!({*member: [id]}))?;
        let mut items: Vec<&Value> = vec![&output];
        for step in *path {
            items = items.into_iter().filter_map(|v| v.get(*step)?.as_array()).flatten().collect();
        }
        let item = items.into_iter().find(|v| text(v, id_member) == Some(id))?;
        // A network interface's tags are its `TagSet` (botocore's member name), others' `Tags`.
        Some(tag_pairs(item.get("Tags").or_else(|| item.get("TagSet"))))
    }

    fn role_tags(&self, role_name: &str) -> Option<Vec<(String, String)>> {
        let output = self.read("iam", "GetRole", serde_json::json!({"RoleName": role_name}))?;
        Some(tag_pairs(output.get("Role").and_then(|r| r.get("Tags"))))
    }

    fn auto_scaling_group_arn(&self, name: &str) -> Option<String> {
        // A group's ARN holds an id given at creation: it stays until the group is deleted.
        self.settle(|r| matches!(r, Refresh::Group(g) if g == name));
        if let Some(arn) = self.known(|w| w.auto_scaling_group_arn(name)).flatten() {
            return Some(arn);
        }
        let input = serde_json::json!({"AutoScalingGroupNames": [name]});
        let output = self.read_and_learn("autoscaling", "DescribeAutoScalingGroups", input)?;
        let groups = output.get("AutoScalingGroups").and_then(Value::as_array).into_iter().flatten();
        groups
            .filter(|g| text(g, "AutoScalingGroupName") == Some(name))
            .find_map(|g| text(g, "AutoScalingGroupARN"))
            .map(str::to_string)
    }
}
