//! The gate as a running HTTP proxy on 127.0.0.1. For every request it identifies the
//! caller from the SigV4 credential, derives the checks the request implies
//! ([`iamc_core::gate::derive`]), decides them with the project's evaluator against the policies
//! the emulator's IAM holds for the role, and either forwards the request or answers
//! with the service's own denial. Every decision is recorded.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use iamc_core::gate::deny::{denial, message};
use iamc_core::gate::derive::{Derived, Directory, LaunchTemplateInfo, derive};
pub use iamc_core::gate::record::{Caller, CheckDecision, GateRecord, GateVerdict, Refusal};
use iamc_core::catalog::Catalog;
use crate::client::{self, Client, Credentials};
use iamc_core::policy::{Context, Outcome, Policy, Request, decide};
use iamc_core::template::render::Target;
use iamc_core::wire::{self, Protocol};

/// The request header by which the harness tells the gate which scenario a call is for.
/// It is added after signing and removed before forwarding.
pub const SCENARIO_HEADER: &str = "x-iam-conformance-scenario";

/// The role whose policies the gate enforces.
#[derive(Clone, Debug)]
pub struct Subject {
    pub role_arn: String,
    pub policies: Vec<Policy>,
}

#[derive(Clone, Debug)]
pub struct GateOptions {
    pub upstream: String,
    pub target: Target,
    /// Calls signed with this key are the harness's own and pass unevaluated.
    pub admin: Credentials,
    pub subject: Option<Subject>,
}

struct State {
    options: Mutex<GateOptions>,
    /// Access keys AssumeRole handed out through the gate, and the role they act as.
    keys: Mutex<HashMap<String, String>>,
    records: Mutex<Vec<GateRecord>>,
    /// Lookup answers that cannot change during the gate's life (see `UpstreamDirectory`).
    lookups: Arc<Mutex<HashMap<String, String>>>,
    client: Client,
    catalog: &'static Catalog,
}

/// A running gate. Dropping it stops it.
pub struct Gate {
    pub addr: SocketAddr,
    pub url: String,
    state: Arc<State>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Gate {
    /// Starts the gate on `listen` (use port 0 for a free port).
    pub async fn start(listen: SocketAddr, options: GateOptions) -> std::io::Result<Gate> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            options: Mutex::new(options),
            keys: Mutex::new(HashMap::new()),
            records: Mutex::new(Vec::new()),
            lookups: Arc::new(Mutex::new(HashMap::new())),
            client: Client::default(),
            catalog: Catalog::embedded(),
        });
        let (tx, mut rx) = oneshot::channel();
        let served = Arc::clone(&state);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut rx => break,
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let state = Arc::clone(&served);
                        tokio::spawn(async move {
                            let service = service_fn(move |req| handle(Arc::clone(&state), req));
                            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                        });
                    }
                }
            }
        });
        Ok(Gate { url: format!("http://{addr}"), addr, state, shutdown: Some(tx) })
    }

    /// Sets (or replaces) the role whose policies are enforced.
    pub fn set_subject(&self, subject: Subject) {
        if let Ok(mut o) = self.state.options.lock() {
            o.subject = Some(subject);
        }
    }

    /// Treats `access_key` as the role under test (for clients that bring their own keys).
    pub fn add_role_key(&self, access_key: &str, role_arn: &str) {
        if let Ok(mut k) = self.state.keys.lock() {
            k.insert(access_key.to_string(), role_arn.to_string());
        }
    }

    pub fn records(&self) -> Vec<GateRecord> {
        self.state.records.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn response(status: u16, headers: &[(String, String)], body: Bytes) -> hyper::Response<Full<Bytes>> {
    let mut builder = hyper::Response::builder().status(status);
    for (k, v) in headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    builder.body(Full::new(body)).unwrap_or_else(|_| hyper::Response::new(Full::new(Bytes::new())))
}

async fn handle(state: Arc<State>, req: hyper::Request<Incoming>) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let received = std::time::Instant::now();
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return Ok(response(400, &[], Bytes::from(format!("gate: failed to read the request body: {e}")))),
    };
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    let header = |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
    let scenario = header(SCENARIO_HEADER);
    let options = state.options.lock().map(|o| o.clone()).map_err(|_| ());
    let Ok(options) = options else { return Ok(response(500, &[], Bytes::from_static(b"gate: state poisoned"))) };
    let seq = state.records.lock().map(|r| r.len() as u64).unwrap_or(0);

    let scope = header("authorization").as_deref().and_then(client::credential_scope);
    let (key, signing_service) = scope.map(|(k, _, s)| (k, s)).unwrap_or_default();
    let prefix = if signing_service == "tagging" { "tag".to_string() } else { signing_service.clone() };
    let model = wire::models().service(&prefix);
    let parsed = model.map(|m| wire::parse_request(m, &headers, &body));
    let (operation, input) = match &parsed {
        Some(Ok((op, input))) => (op.clone(), input.clone()),
        _ => (String::new(), Value::Null),
    };

    let caller = if key == options.admin.access_key_id {
        Caller::Admin
    } else if let Some(role) = state.keys.lock().ok().and_then(|k| k.get(&key).cloned()) {
        Caller::Role(role)
    } else {
        Caller::Unknown(key.clone())
    };

    let mut record = GateRecord {
        seq,
        scenario: scenario.clone(),
        caller: caller.clone(),
        service: prefix.clone(),
        operation: operation.clone(),
        checks: Vec::new(),
        verdict: GateVerdict::PassedThrough,
        reason: None,
        refusal: None,
        status: None,
        error_code: None,
        decision_us: 0,
        total_us: 0,
        received: Some(received),
    };

    if caller != Caller::Admin {
        let protocol = model.map(|m| m.protocol).unwrap_or(Protocol::Query);
        let request_id = format!("iam-conformance-gate-{seq}");
        // Refuses what the gate cannot evaluate: recorded, and answered as the service
        // denies, since what cannot be evaluated cannot be allowed.
        let refuse = |kind: Refusal, reason: String, mut record: GateRecord| {
            record.verdict = GateVerdict::Rejected;
            record.refusal = Some(kind);
            record.reason = Some(reason.clone());
            record.decision_us = micros(received);
            push(&state, record);
            let d = denial(protocol, &format!("iam-conformance gate: {reason}"), &request_id, None);
            Ok(response(d.status, &d.headers, Bytes::from(d.body)))
        };
        let role_arn = match &caller {
            Caller::Role(arn) => arn.clone(),
            _ => String::new(),
        };
        let subject = options.subject.as_ref().filter(|s| s.role_arn == role_arn);
        let outcome = match (&parsed, &caller) {
            (None, _) => Err((
                Refusal::Unreadable,
                format!("no wire model for signing service `{signing_service}`; the gate cannot evaluate this request"),
            )),
            (Some(Err(e)), _) => Err((Refusal::Unreadable, format!("cannot read the request: {e}"))),
            // What is evaluated must be all the request says.
            _ if parts.uri.query().is_some_and(|q| !q.is_empty()) => {
                Err((Refusal::QueryString, "parameters in the URL are not evaluated; send them in the body".into()))
            }
            (_, Caller::Unknown(k)) => Err((
                Refusal::UnknownCaller,
                format!("unknown access key `{k}` (neither the harness's nor one AssumeRole issued through the gate)"),
            )),
            _ if subject.is_none() => {
                Err((Refusal::NotSubject, format!("`{role_arn}` is not the role whose policies this gate holds")))
            }
            _ => Ok(()),
        };
        if let Err((kind, reason)) = outcome {
            return refuse(kind, reason, record);
        }
        // What AWS answers whatever the policies say passes as AWS would pass it.
        if iamc_core::gate::derive::NO_AUTHORIZATION.contains(&(prefix.as_str(), operation.as_str())) {
            record.verdict = GateVerdict::Forwarded;
        } else {
            let policies: Vec<Policy> = subject.map(|s| s.policies.clone()).unwrap_or_default();
            let unserved = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let directory = UpstreamDirectory {
                client: state.client.clone(),
                options: options.clone(),
                cache: Arc::clone(&state.lookups),
                unserved: Arc::clone(&unserved),
            };
            let target = options.target.clone();
            let catalog = state.catalog;
            let (svc, op, inp) = (prefix.clone(), operation.clone(), input.clone());
            let derivation = match tokio::task::spawn_blocking(move || {
                derive(catalog, &svc, &op, &inp, &target, &directory)
            })
            .await
            {
                Ok(d) => d,
                Err(e) => return refuse(Refusal::Internal, format!("derivation failed: {e}"), record),
            };
            if derivation.checks.is_empty() && derivation.unresolved.is_empty() {
                return refuse(
                    Refusal::NoChecks,
                    format!("no authorization check could be derived for {prefix}:{operation}"),
                    record,
                );
            }
            let derived = derivation.checks;
            let mut first_denied: Option<(Derived, Outcome)> = None;
            for check in derived {
                let mut ctx = Context::new();
                for (k, v) in &check.context {
                    ctx.insert(k, v.clone());
                }
                let d = decide(&policies, &Request { action: &check.action, resource: &check.resource, context: &ctx });
                if !d.outcome.is_allowed() && first_denied.is_none() {
                    first_denied = Some((check.clone(), d.outcome));
                }
                let because = d
                    .because
                    .iter()
                    .map(|id| {
                        let p = &policies[id.policy];
                        match &p.statements[id.statement].sid {
                            Some(sid) => format!("{}#{sid}", p.name),
                            None => format!("{}#{}", p.name, id.statement),
                        }
                    })
                    .collect();
                record.checks.push(CheckDecision { check, outcome: d.outcome, because });
            }
            if let Some((check, outcome)) = first_denied {
                let session = role_arn.rsplit('/').next().unwrap_or_default();
                let principal = format!(
                    "arn:{}:sts::{}:assumed-role/{session}/iam-conformance",
                    options.target.partition, options.target.account_id
                );
                let special = (protocol == Protocol::Ec2 && check.action == "iam:CreateServiceLinkedRole")
                    .then_some("AuthFailure.ServiceLinkedRoleCreationNotPermitted");
                let d = denial(
                    protocol,
                    &message(&principal, &check.action, &check.resource, outcome),
                    &request_id,
                    special,
                );
                record.verdict = GateVerdict::Denied;
                record.decision_us = micros(received);
                record.status = Some(d.status);
                record.error_code = Some(d.code.clone());
                push(&state, record);
                return Ok(response(d.status, &d.headers, Bytes::from(d.body)));
            }
            // Every derived check allowed, but not everything could be derived: refuse.
            if !derivation.unresolved.is_empty() {
                let unserved = unserved.load(std::sync::atomic::Ordering::Relaxed);
                let kind = if unserved { Refusal::UnservedLookup } else { Refusal::Unresolved };
                let mut reason = derivation.unresolved.join("; ");
                if unserved {
                    reason.push_str(" (the backend cannot serve the gate's lookup)");
                }
                return refuse(kind, reason, record);
            }
            record.verdict = GateVerdict::Forwarded;
        }
    }
    record.decision_us = micros(received);

    // Forward to the emulator, without the harness's own header.
    let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let url = format!("{}{path}", options.upstream.trim_end_matches('/'));
    let mut builder = hyper::Request::builder().method(parts.method.clone()).uri(&url);
    for (k, v) in &headers {
        if !k.eq_ignore_ascii_case(SCENARIO_HEADER)
            && !k.eq_ignore_ascii_case("host")
            && !k.eq_ignore_ascii_case("content-length")
        {
            builder = builder.header(k.as_str(), v.as_str());
        }
    }
    let forwarded = match builder.body(Full::new(body.clone())) {
        Ok(r) => r,
        Err(e) => return Ok(response(500, &[], Bytes::from(format!("gate: {e}")))),
    };
    let http: hyper_util::client::legacy::Client<_, Full<Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let answer = match http.request(forwarded).await {
        Ok(r) => r,
        Err(e) => {
            record.status = Some(502);
            record.reason = Some(format!("upstream unreachable: {e}"));
            push(&state, record);
            return Ok(response(502, &[], Bytes::from(format!("gate: upstream {url} unreachable: {e}"))));
        }
    };
    let status = answer.status().as_u16();
    let resp_headers: Vec<(String, String)> = answer
        .headers()
        .iter()
        .filter(|(k, _)| {
            !k.as_str().eq_ignore_ascii_case("content-length") && !k.as_str().eq_ignore_ascii_case("transfer-encoding")
        })
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    let resp_body = answer.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let text = String::from_utf8_lossy(&resp_body);
    record.status = Some(status);
    if let Some(m) = model {
        record.error_code = client::service_error(m.protocol, status, &resp_headers, &text).map(|(c, _)| c);
    }
    // Keys AssumeRole issues for the role under test act as that role from now on.
    if prefix == "sts"
        && operation == "AssumeRole"
        && (200..300).contains(&status)
        && let (Some(role), Some(key)) =
            (input.get("RoleArn").and_then(Value::as_str), iamc_core::xml::first(&text, "AccessKeyId"))
        && let Ok(mut k) = state.keys.lock()
    {
        k.insert(key, role.to_string());
    }
    push(&state, record);
    Ok(response(status, &resp_headers, resp_body))
}

fn push(state: &State, mut record: GateRecord) {
    if let Some(received) = record.received {
        record.total_us = micros(received);
    }
    if let Ok(mut r) = state.records.lock() {
        r.push(record);
    }
}

/// The time since `start` in microseconds.
fn micros(start: std::time::Instant) -> u64 {
    u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// Lookups the derivation needs, answered by the emulator with the harness's credentials.
struct UpstreamDirectory {
    client: Client,
    options: GateOptions,
    cache: Arc<Mutex<HashMap<String, String>>>,
    /// Set when the upstream answered a lookup with "not served" (501, moto's 500 page):
    /// a refusal that follows is the backend's gap, not the request's.
    unserved: Arc<std::sync::atomic::AtomicBool>,
}

impl UpstreamDirectory {
    /// Answers found once are kept for the gate's lifetime: an instance profile's role and
    /// a service-linked role's existence do not change within a run. Misses are not kept.
    fn cached(&self, key: String, find: impl FnOnce() -> Option<String>) -> Option<String> {
        if let Some(hit) = self.cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Some(hit);
        }
        let found = find()?;
        if let Ok(mut c) = self.cache.lock() {
            c.insert(key, found.clone());
        }
        Some(found)
    }
}

impl UpstreamDirectory {
    fn call(&self, service: &str, operation: &str, input: Value) -> Option<String> {
        let handle = tokio::runtime::Handle::current();
        let o = &self.options;
        let answer = handle
            .block_on(self.client.call(&o.upstream, &o.target.region, &o.admin, service, operation, &input, &[]))
            .ok()?;
        if answer.status == 501 || answer.status == 500 {
            self.unserved.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        answer.ok().then_some(answer.body)
    }
}

impl Directory for UpstreamDirectory {
    fn instance_profile_role(&self, profile: &str) -> Option<String> {
        // Not cached: a profile's role can change during a run (Add/RemoveRoleFromInstanceProfile).
        let name = profile.rsplit('/').next().unwrap_or(profile);
        let body = self.call("iam", "GetInstanceProfile", serde_json::json!({"InstanceProfileName": name}))?;
        iamc_core::xml::texts(&body, "Arn").into_iter().find(|a| a.contains(":role/"))
    }

    fn launch_template(&self, id_or_name: &str, version: &str) -> Result<LaunchTemplateInfo, String> {
        let key = if id_or_name.starts_with("lt-") { "LaunchTemplateId" } else { "LaunchTemplateName" };
        let body = self
            .call("ec2", "DescribeLaunchTemplateVersions", serde_json::json!({key: id_or_name, "Versions": [version]}))
            .ok_or_else(|| "the emulator did not describe it".to_string())?;
        if iamc_core::xml::first(&body, "launchTemplateId").is_none() {
            return Err("the emulator knows no such template version".into());
        }

        let data = iamc_core::xml::section(&body, "launchTemplateData").unwrap_or(&body);
        let profile = iamc_core::xml::section(data, "iamInstanceProfile")
            .and_then(|p| iamc_core::xml::first(p, "arn").or_else(|| iamc_core::xml::first(p, "name")));
        let groups =
            iamc_core::xml::section(data, "securityGroupIdSet").map(|s| iamc_core::xml::texts(s, "item")).unwrap_or_default();
        let mut tag_specifications = Vec::new();
        if let Some(specs) = iamc_core::xml::section(data, "tagSpecificationSet") {
            for item in iamc_core::xml::sections(specs, "item") {
                let rtype = iamc_core::xml::first(item, "resourceType").unwrap_or_default();
                // Instances launched from a template tag only what they create; moto also
                // lists the template's own `launch-template` tags here, which AWS does not.
                if rtype.is_empty() || rtype == "launch-template" {
                    continue;
                }
                let tags = iamc_core::xml::section(item, "tagSet")
                    .map(|set| {
                        iamc_core::xml::sections(set, "item")
                            .into_iter()
                            .filter_map(|t| {
                                Some((iamc_core::xml::first(t, "key")?, iamc_core::xml::first(t, "value").unwrap_or_default()))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                tag_specifications.push((rtype, tags));
            }
        }
        Ok(LaunchTemplateInfo {
            id: iamc_core::xml::first(&body, "launchTemplateId").unwrap_or_else(|| id_or_name.to_string()),
            image_id: iamc_core::xml::first(data, "imageId"),
            key_name: iamc_core::xml::first(data, "keyName"),
            security_group_ids: groups,
            instance_profile: profile,
            tag_specifications,
        })
    }

    fn service_linked_role_exists(&self, principal: &str) -> bool {
        let Some((_, name)) = iamc_core::gate::derive::SERVICE_LINKED_ROLES.iter().find(|(s, _)| *s == principal) else {
            return false;
        };
        self.cached(format!("service-linked-role:{name}"), || {
            self.call("iam", "GetRole", serde_json::json!({"RoleName": name})).map(|_| String::new())
        })
        .is_some()
    }

    fn association_resources(&self, association_id: &str) -> Vec<String> {
        let t = &self.options.target;
        let ec2 = format!("arn:{}:ec2:{}:{}", t.partition, t.region, t.account_id);
        if association_id.starts_with("rtbassoc-") {
            let filter = serde_json::json!({"Filters": [{"Name": "association.route-table-association-id", "Values": [association_id]}]});
            let Some(body) = self.call("ec2", "DescribeRouteTables", filter) else { return Vec::new() };
            let mut out = Vec::new();
            if let Some(rtb) = iamc_core::xml::first(&body, "routeTableId") {
                out.push(format!("{ec2}:route-table/{rtb}"));
            }
            if let Some(subnet) = iamc_core::xml::first(&body, "subnetId") {
                out.push(format!("{ec2}:subnet/{subnet}"));
            }
            out
        } else if association_id.starts_with("eipassoc-") {
            let filter = serde_json::json!({"Filters": [{"Name": "association-id", "Values": [association_id]}]});
            self.call("ec2", "DescribeAddresses", filter)
                .and_then(|b| iamc_core::xml::first(&b, "allocationId"))
                .map(|a| vec![format!("{ec2}:elastic-ip/{a}")])
                .unwrap_or_default()
        } else {
            Vec::new()
        }
    }

    fn instance_group(&self, instance_id: &str) -> Option<String> {
        let body = self.call(
            "autoscaling",
            "DescribeAutoScalingInstances",
            serde_json::json!({"InstanceIds": [instance_id]}),
        )?;
        iamc_core::xml::first(&body, "AutoScalingGroupName")
    }

    fn auto_scaling_group_arn(&self, name: &str) -> Option<String> {
        let body = self.call(
            "autoscaling",
            "DescribeAutoScalingGroups",
            serde_json::json!({"AutoScalingGroupNames": [name]}),
        )?;
        iamc_core::xml::first(&body, "AutoScalingGroupARN")
    }
}
