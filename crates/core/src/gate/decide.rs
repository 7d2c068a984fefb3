//! The gate's decision for one request, without HTTP: who is calling (SigV4 verified,
//! [`authenticate`]), what the request is ([`ParsedRequest::read`]: the signing scope's
//! service, the operation the wire model reads, the action it names even when the body
//! cannot be read), and what to do with it ([`decide`]): pass the administrator's call
//! through, forward an allowed call, answer a denied one with the service's denial, or
//! refuse what cannot be evaluated. The live gate server only moves bytes around this.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::deny::{Denial, denial, message};
use super::derive::{Derivation, Derived, NO_AUTHORIZATION};
use super::record::{Caller, CheckDecision, GateRecord, GateVerdict, Refusal};
use super::sigv4::{self, AuthError, RequestParts};
use crate::policy::document::Element;
use crate::policy::wildcard::{Flavour, Pattern};
use crate::policy::{Context, Effect, Outcome, Policy, Request, decide as evaluate, decide_traced};
use crate::wire::{self, Protocol, ServiceModel, WireError};
use crate::xml::escape;

/// The role whose policies the gate enforces.
#[derive(Clone, Debug)]
pub struct Subject {
    /// The role's ARN, which a caller must be to be evaluated.
    pub role_arn: String,
    /// The role's policies, which decide its requests.
    pub policies: Vec<Policy>,
}

/// How a service writes its errors: the three wire protocols of the model, and S3's
/// REST-XML `<Error>` for services the gate names but has no model for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// EC2 query: `<Response><Errors><Error>`.
    Ec2,
    /// AWS query: `<ErrorResponse><Error>`.
    Query,
    /// AWS JSON: a `__type` and `message` body.
    Json,
    /// S3's REST-XML `<Error>`.
    RestXml,
}

impl From<Protocol> for Shape {
    fn from(p: Protocol) -> Shape {
        match p {
            Protocol::Ec2 => Shape::Ec2,
            Protocol::Query => Shape::Query,
            Protocol::Json => Shape::Json,
        }
    }
}

/// An error answer of `shape` with `code` and `status`.
pub fn shaped(shape: Shape, status: u16, code: &str, message: &str, request_id: &str) -> Denial {
    let (headers, body) = match shape {
        Shape::Ec2 => (
            vec![("content-type".to_string(), "text/xml;charset=UTF-8".to_string())],
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>",
                escape(message)
            ),
        ),
        Shape::Query => (
            vec![("content-type".to_string(), "text/xml".to_string())],
            format!(
                "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
                escape(message)
            ),
        ),
        Shape::Json => (
            vec![
                ("content-type".to_string(), "application/x-amz-json-1.1".to_string()),
                ("x-amzn-errortype".to_string(), format!("{code}:")),
                ("x-amzn-requestid".to_string(), request_id.to_string()),
            ],
            serde_json::json!({"__type": code, "Message": message, "message": message}).to_string(),
        ),
        Shape::RestXml => (
            vec![("content-type".to_string(), "application/xml".to_string())],
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{}</Message><RequestId>{request_id}</RequestId></Error>",
                escape(message)
            ),
        ),
    };
    Denial { status, headers, body, code: code.to_string() }
}

/// The answer to a request that is not authenticated, as each service gives it.
///
/// - Query services (IAM, STS, Auto Scaling, classic ELB, CloudFormation): 403
///   `SignatureDoesNotMatch` (a stale request too, with "Signature expired: …"), 403
///   `InvalidClientTokenId`, 403 `ExpiredToken`, 400 `IncompleteSignature`, 403
///   `MissingAuthenticationToken` (IAM API Reference and Auto Scaling API Reference,
///   "Common Errors"; the skew wording as the issue measured it on AWS).
/// - EC2: 401 `AuthFailure` for an unknown key and for a wrong signature ("AWS was not
///   able to validate the provided access credentials"), 400 `RequestExpired` for a
///   stale request and for expired session credentials (EC2 API Reference, "Error codes
///   for the Amazon EC2 API"; moto's `iam/access_control.py` answers EC2 the same way).
/// - JSON services (Secrets Manager, tagging): 400 `InvalidSignatureException`,
///   `UnrecognizedClientException`, `ExpiredTokenException`,
///   `IncompleteSignatureException`, `MissingAuthenticationTokenException` (Secrets
///   Manager API Reference, "Common Errors": the JSON protocol's `…Exception` names).
/// - S3 (REST-XML): 403 `SignatureDoesNotMatch`, `InvalidAccessKeyId`,
///   `RequestTimeTooSkewed`, 400 `ExpiredToken` (Amazon S3 API Reference, "Error codes").
pub fn auth_denial(shape: Shape, error: &AuthError, request_id: &str) -> Denial {
    use AuthError::*;
    let (status, code) = match (shape, error) {
        (Shape::Ec2, UnknownKey(_) | InvalidToken | BadSignature(_)) => (401, "AuthFailure"),
        (Shape::Ec2, Skewed(_) | TokenExpired) => (400, "RequestExpired"),
        (Shape::Ec2, Incomplete(_)) => (400, "IncompleteSignature"),
        (Shape::Ec2, Missing) => (401, "MissingAuthenticationToken"),
        (Shape::Query, UnknownKey(_) | InvalidToken) => (403, "InvalidClientTokenId"),
        (Shape::Query, BadSignature(_) | Skewed(_)) => (403, "SignatureDoesNotMatch"),
        (Shape::Query, TokenExpired) => (403, "ExpiredToken"),
        (Shape::Query, Incomplete(_)) => (400, "IncompleteSignature"),
        (Shape::Query, Missing) => (403, "MissingAuthenticationToken"),
        (Shape::Json, UnknownKey(_) | InvalidToken) => (400, "UnrecognizedClientException"),
        (Shape::Json, BadSignature(_) | Skewed(_)) => (400, "InvalidSignatureException"),
        (Shape::Json, TokenExpired) => (400, "ExpiredTokenException"),
        (Shape::Json, Incomplete(_)) => (400, "IncompleteSignatureException"),
        (Shape::Json, Missing) => (400, "MissingAuthenticationTokenException"),
        (Shape::RestXml, UnknownKey(_) | InvalidToken) => (403, "InvalidAccessKeyId"),
        (Shape::RestXml, BadSignature(_)) => (403, "SignatureDoesNotMatch"),
        (Shape::RestXml, Skewed(_)) => (403, "RequestTimeTooSkewed"),
        (Shape::RestXml, TokenExpired) => (400, "ExpiredToken"),
        (Shape::RestXml, Incomplete(_)) => (400, "AuthorizationHeaderMalformed"),
        (Shape::RestXml, Missing) => (403, "AccessDenied"),
    };
    let text = match (shape, error) {
        (Shape::Ec2, UnknownKey(_) | InvalidToken | BadSignature(_)) => {
            "AWS was not able to validate the provided access credentials".to_string()
        }
        (Shape::Ec2, TokenExpired) => "Request has expired.".to_string(),
        _ => error.message(),
    };
    shaped(shape, status, code, &text, request_id)
}

/// A body over the gate's size limit (413; "RequestEntityTooLargeException" in the
/// Common Errors pages).
pub fn too_large(shape: Shape, limit: usize, request_id: &str) -> Denial {
    let code = if shape == Shape::Json { "RequestEntityTooLargeException" } else { "RequestEntityTooLarge" };
    shaped(shape, 413, code, &format!("iam-conformance gate: the request body is over {limit} bytes"), request_id)
}

/// A key the gate can verify: its secret, its session token and expiry (for session
/// credentials), and who it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownKey {
    /// The secret access key the signature is verified with.
    pub secret: String,
    /// The session token the request must carry, for session credentials.
    pub session_token: Option<String>,
    /// Seconds since 1970 after which the credentials are expired.
    pub expires: Option<i64>,
    /// Who signs with this key.
    pub caller: Caller,
}

/// Verifies the request's SigV4 signature with the secret `lookup` gives for its key,
/// at `now` (seconds since 1970). The caller is whoever the key belongs to.
pub fn authenticate(
    parts: &RequestParts<'_>,
    lookup: &dyn Fn(&str) -> Option<KnownKey>,
    now: i64,
) -> Result<Caller, AuthError> {
    let sig = sigv4::read(parts)?.ok_or(AuthError::Missing)?;
    let key = lookup(&sig.scope.access_key).ok_or_else(|| AuthError::UnknownKey(sig.scope.access_key.clone()))?;
    if sig.security_token != key.session_token {
        return Err(AuthError::InvalidToken);
    }
    sigv4::verify(parts, &sig, &key.secret, now)?;
    if key.expires.is_some_and(|e| now > e) {
        return Err(AuthError::TokenExpired);
    }
    Ok(key.caller)
}

/// The IAM service prefix of a SigV4 signing name (they differ for a few services).
pub fn iam_prefix(signing_name: &str) -> String {
    match signing_name {
        "tagging" => "tag",
        "monitoring" => "cloudwatch",
        "email" => "ses",
        other => other,
    }
    .to_string()
}

/// Paths that reach the emulator itself (moto's `/moto-api/…`, its instance metadata
/// stand-in, LocalStack's `/_localstack/…` and `/_aws/…`), never an AWS API: for the
/// administrator only.
pub fn is_control_path(path: &str) -> bool {
    let p = path.to_ascii_lowercase();
    ["/moto-api", "/_localstack", "/_aws", "/_extension", "/latest/", "/favicon.ico"].iter().any(|c| p.starts_with(c))
}

/// The action a request names, when the gate can name it without reading the body with
/// a model: `Some(action)` exactly (query `Action`, `X-Amz-Target`, an S3 method and
/// path), or only its service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedAction {
    /// The IAM service prefix.
    pub service: String,
    /// The action (`service:Operation`), when named exactly.
    pub action: Option<String>,
}

/// One request as the gate reads it, before anything is decided.
#[derive(Clone, Debug)]
pub struct ParsedRequest {
    /// The HTTP method.
    pub method: String,
    /// The path as it came on the wire.
    pub path: String,
    /// The raw query string, without `?`.
    pub query: Option<String>,
    /// The request's headers, as received.
    pub headers: Vec<(String, String)>,
    /// The signing scope's service and region (empty when unsigned).
    pub signing_service: String,
    /// The signing scope's region (empty when unsigned).
    pub signing_region: String,
    /// The IAM prefix of the signing service.
    pub service: String,
    /// How the service writes its errors, for the gate's denials.
    pub shape: Shape,
    /// The operation and input the wire model read, or why it could not.
    pub wire: Result<(String, Value), Unread>,
    /// The action named without the model, if any (see [`NamedAction`]).
    pub named: Option<NamedAction>,
    /// The harness's scenario header, if any.
    pub scenario: Option<String>,
    /// The request id the gate answers with.
    pub request_id: String,
    /// The region the gate derives ARNs for.
    pub region: String,
}

/// Why the wire model could not read a request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unread {
    /// No model for the signing service.
    #[error("no wire model for signing service `{0}`")]
    NoModel(String),
    /// The model's reading failed.
    #[error(transparent)]
    Wire(WireError),
}

impl ParsedRequest {
    /// Reads a request. `region` is the gate's target region.
    pub fn read(parts: &RequestParts<'_>, region: &str, scenario_header: &str, request_id: &str) -> ParsedRequest {
        let scope = sigv4::read(parts).ok().flatten().map(|s| s.scope);
        let (signing_service, signing_region) = scope.map(|s| (s.service, s.region)).unwrap_or_default();
        let service = iam_prefix(&signing_service);
        let model = wire::models().service(&service);
        let form_action = form_param(parts, "Action");
        let target = parts.header("x-amz-target").map(|t| t.trim().to_string());
        let shape = match model {
            Some(m) => m.protocol.into(),
            None if target.is_some() => Shape::Json,
            None if form_action.is_some() => Shape::Query,
            None => Shape::RestXml,
        };
        let wire = match model {
            None => Err(Unread::NoModel(signing_service.clone())),
            Some(m) => parse_with_binary_blobs(m, parts.headers, parts.body).map_err(Unread::Wire),
        };
        let named = if signing_service.is_empty() {
            None
        } else if let Some(action) = form_action.filter(|_| shape != Shape::Json) {
            Some(NamedAction { service: service.clone(), action: Some(format!("{service}:{action}")) })
        } else if let Some(t) = target.filter(|_| shape == Shape::Json) {
            let op = t.rsplit('.').next().unwrap_or_default().to_string();
            Some(NamedAction { action: (!op.is_empty()).then(|| format!("{service}:{op}")), service: service.clone() })
        } else if service == "s3" {
            Some(NamedAction { service: service.clone(), action: s3_action(parts) })
        } else {
            Some(NamedAction { service: service.clone(), action: None })
        };
        ParsedRequest {
            method: parts.method.to_string(),
            path: parts.path.to_string(),
            query: parts.query.map(str::to_string),
            headers: parts.headers.to_vec(),
            signing_service,
            signing_region,
            service,
            shape,
            wire,
            named,
            scenario: parts.header(scenario_header).map(str::to_string),
            request_id: request_id.to_string(),
            region: region.to_string(),
        }
    }

    fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }

    /// The operation the wire model read (empty when it could not).
    pub fn operation(&self) -> &str {
        self.wire.as_ref().map(|(op, _)| op.as_str()).unwrap_or_default()
    }

    /// A record of this request, before it is decided.
    pub fn record(&self, seq: u64, caller: Caller) -> GateRecord {
        let operation = match (&self.wire, &self.named) {
            (Ok((op, _)), _) => op.clone(),
            (Err(_), Some(NamedAction { action: Some(a), .. })) => {
                a.split_once(':').map(|(_, o)| o.to_string()).unwrap_or_default()
            }
            _ => String::new(),
        };
        GateRecord {
            seq,
            scenario: self.scenario.clone(),
            caller,
            service: self.service.clone(),
            operation,
            checks: Vec::new(),
            verdict: GateVerdict::PassedThrough,
            reason: None,
            refusal: None,
            status: None,
            error_code: None,
            decision_us: 0,
            total_us: 0,
            received: None,
        }
    }

    /// Whether this call, once answered with success, changes what IAM says about a
    /// role (policies, attachments, versions) or may (a stack update): a followed role's
    /// policies are then read again.
    pub fn changes_iam(&self) -> bool {
        let Some(NamedAction { service, action: Some(action) }) = &self.named else { return false };
        let op = action.split_once(':').map(|(_, o)| o).unwrap_or_default();
        match service.as_str() {
            "iam" => !["Get", "List", "Generate", "Simulate"].iter().any(|p| op.starts_with(p)),
            "cloudformation" => [
                "CreateStack",
                "UpdateStack",
                "DeleteStack",
                "ExecuteChangeSet",
                "RollbackStack",
                "ContinueUpdateRollback",
            ]
            .contains(&op),
            _ => false,
        }
    }
}

/// A form parameter from the body (`application/x-www-form-urlencoded`) or the query string.
fn form_param(parts: &RequestParts<'_>, name: &str) -> Option<String> {
    let from = |text: &str| {
        text.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (wire::url_decode(k).ok()? == name).then(|| wire::url_decode(v).ok()).flatten()
        })
    };
    std::str::from_utf8(parts.body).ok().and_then(from).or_else(|| parts.query.and_then(from))
}

/// S3's action for a path-style request without sub-resources (Amazon S3 User Guide,
/// "Amazon S3 actions"; the Service Authorization Reference for S3); `None` when the
/// request has sub-resources or names its bucket in the host.
fn s3_action(parts: &RequestParts<'_>) -> Option<String> {
    if parts.query.is_some_and(|q| !q.is_empty()) || !host_is_local(parts.header("host").unwrap_or_default()) {
        return None;
    }
    let path = parts.path.trim_start_matches('/');
    let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
    let action = match (parts.method, bucket.is_empty(), key.is_empty()) {
        ("GET", true, _) => "ListAllMyBuckets",
        ("GET" | "HEAD", false, true) => "ListBucket",
        ("PUT", false, true) => "CreateBucket",
        ("DELETE", false, true) => "DeleteBucket",
        ("GET" | "HEAD", false, false) => "GetObject",
        ("PUT", false, false) => "PutObject",
        ("DELETE", false, false) => "DeleteObject",
        _ => return None,
    };
    Some(format!("s3:{action}"))
}

fn host_is_local(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) && !h.ends_with(':') => h,
        _ => host,
    };
    matches!(name, "127.0.0.1" | "localhost" | "[::1]")
}

/// Reads a request with the wire model; a JSON blob whose bytes are not UTF-8 (a
/// gzipped `SecretBinary`) is read as a placeholder text, since blobs are bytes and the
/// derivation does not read them. (The wire parser itself requires blob text.)
fn parse_with_binary_blobs(
    model: &ServiceModel,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<(String, Value), WireError> {
    let mut first = wire::parse_request(model, headers, body);
    if model.protocol != Protocol::Json {
        return first;
    }
    let mut doc: Option<Value> = None;
    for _ in 0..64 {
        let path = match &first {
            Err(WireError::Parameter { key, reason }) if reason == "blob is not UTF-8 text" => key.clone(),
            _ => return first,
        };
        if doc.is_none() {
            match serde_json::from_slice::<Value>(body) {
                Ok(v) => doc = Some(v),
                Err(_) => return first,
            }
        }
        let Some(slot) = doc.as_mut().and_then(|d| json_at(d, &path)) else { return first };
        let bytes = slot.as_str().map(base64_len).unwrap_or(0);
        *slot = Value::String(base64_text(&format!("(binary blob, {bytes} bytes)")));
        first = wire::parse_request(model, headers, doc.as_ref().map(Value::to_string).unwrap_or_default().as_bytes());
    }
    first
}

fn base64_len(s: &str) -> usize {
    let pad = s.bytes().rev().take_while(|&b| b == b'=').count();
    (s.len() / 4 * 3).saturating_sub(pad)
}

fn base64_text(text: &str) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let data = text.as_bytes();
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, &b)| acc | (b as u32) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= chunk.len() { B64[(n >> (18 - 6 * i) & 63) as usize] as char } else { '=' });
        }
    }
    out
}

/// The value at a wire error path (`A`, `A.B`, `A[0]`, `A["k"]`).
fn json_at<'a>(doc: &'a mut Value, path: &str) -> Option<&'a mut Value> {
    let mut cur = doc;
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let inner = &r[..end];
            cur = if let Ok(i) = inner.parse::<usize>() {
                cur.get_mut(i)?
            } else {
                let key: String = serde_json::from_str(inner).ok()?;
                cur.get_mut(key.as_str())?
            };
            rest = &r[end + 1..];
        } else {
            let r = rest.strip_prefix('.').unwrap_or(rest);
            let end = r.find(['.', '[']).unwrap_or(r.len());
            // Members are named by API name; JSON keys are the same for these services.
            cur = cur.get_mut(&r[..end])?;
            rest = &r[end..];
        }
    }
    Some(cur)
}

/// Whether some Allow statement of `policies` could allow `named`: one whose `Action`
/// matches the action (or, when only the service is known, names the service), or one
/// with `NotAction` (which allows almost everything). Resources and conditions are not
/// looked at: this only finds what nothing could allow.
pub fn could_allow(policies: &[Policy], named: &NamedAction) -> bool {
    policies
        .iter()
        .flat_map(|p| &p.statements)
        .filter(|s| s.effect == Effect::Allow)
        .any(|s| element_could_allow(&s.action, named))
}

fn element_could_allow(element: &Element, named: &NamedAction) -> bool {
    if element.negated {
        return match &named.action {
            Some(a) => !element.items.iter().any(|i| i.pattern.matches(a)),
            None => true,
        };
    }
    element.items.iter().any(|i| match &named.action {
        Some(a) => i.pattern.matches(a),
        None => {
            let text = i.pattern.text();
            text == "*"
                || text
                    .split_once(':')
                    .is_some_and(|(svc, _)| Pattern::new(svc, Flavour::Action, false).matches(&named.service))
        }
    })
}

/// What the derivation found, with whether a lookup it needed was not served by the
/// backend (its refusal is then the backend's gap, not the request's), and the request's
/// context beyond its parameters.
#[derive(Clone, Debug, Default)]
pub struct DerivedChecks {
    /// The checks derived, and what could not be resolved.
    pub derivation: Derivation,
    /// Whether a lookup the derivation needed was not served by the backend.
    pub unserved: bool,
    /// The request context AWS would build (who calls, when, how, the resources' tags);
    /// `None` decides with the request's own keys alone.
    pub facts: Option<RequestFacts>,
}

/// What the gate knows of a request's context beyond its parameters: the model of the
/// calling session (`crate::context`), and the tags of the resources it looked up.
#[derive(Clone, Debug)]
pub struct RequestFacts {
    /// The model of the calling session.
    pub model: crate::context::Model,
    /// Tags of the resources looked up, by ARN (those not looked up are not modelled).
    pub resource_tags: BTreeMap<String, Vec<(String, String)>>,
}

/// What the gate does with a request.
#[derive(Clone, Debug)]
pub enum GateDecision {
    /// The administrator's call: forwarded unevaluated.
    PassThrough,
    /// Allowed (every derived check, or no authorization needed): forwarded.
    Forward {
        /// The checks and their decisions.
        checks: Vec<CheckDecision>,
    },
    /// A check denied: answered with the service's denial.
    Deny {
        /// The checks and their decisions.
        checks: Vec<CheckDecision>,
        /// The answer the caller gets.
        denial: Denial,
    },
    /// Not evaluated: answered as the service denies, with why.
    Refuse {
        /// Why the gate did not evaluate it.
        refusal: Refusal,
        /// The details, for the record.
        reason: String,
        /// The answer the caller gets.
        denial: Denial,
    },
    /// The checks must be derived (with lookups); call [`decide`] again with them.
    NeedsDerivation {
        /// The IAM service prefix.
        service: String,
        /// The operation the wire model read.
        operation: String,
        /// The operation's input, as the wire model read it.
        input: Value,
    },
}

impl GateDecision {
    /// Writes the decision into the request's record.
    pub fn record_into(&self, record: &mut GateRecord) {
        match self {
            GateDecision::PassThrough => record.verdict = GateVerdict::PassedThrough,
            GateDecision::Forward { checks } => {
                record.verdict = GateVerdict::Forwarded;
                record.checks = checks.clone();
            }
            GateDecision::Deny { checks, denial } => {
                record.verdict = GateVerdict::Denied;
                record.checks = checks.clone();
                record.status = Some(denial.status);
                record.error_code = Some(denial.code.clone());
            }
            GateDecision::Refuse { refusal, reason, denial } => {
                record.verdict = GateVerdict::Rejected;
                record.refusal = Some(*refusal);
                record.reason = Some(reason.clone());
                record.status = Some(denial.status);
                record.error_code = Some(denial.code.clone());
            }
            GateDecision::NeedsDerivation { .. } => {}
        }
    }

    /// The answer to send instead of forwarding, if any.
    pub fn answer(&self) -> Option<&Denial> {
        match self {
            GateDecision::Deny { denial, .. } | GateDecision::Refuse { denial, .. } => Some(denial),
            _ => None,
        }
    }
}

fn refuse(request: &ParsedRequest, refusal: Refusal, reason: String) -> GateDecision {
    let protocol = match request.shape {
        Shape::Ec2 => Protocol::Ec2,
        Shape::Json => Protocol::Json,
        Shape::Query | Shape::RestXml => Protocol::Query,
    };
    let denial = if request.shape == Shape::RestXml {
        shaped(Shape::RestXml, 403, "AccessDenied", &format!("iam-conformance gate: {reason}"), &request.request_id)
    } else {
        denial(protocol, &format!("iam-conformance gate: {reason}"), &request.request_id, None)
    };
    GateDecision::Refuse { refusal, reason, denial }
}

/// The principal AWS names in a role's denial.
fn principal_of(role_arn: &str) -> String {
    let parts: Vec<&str> = role_arn.split(':').collect();
    let (partition, account) = (parts.get(1).copied().unwrap_or("aws"), parts.get(4).copied().unwrap_or_default());
    let session = role_arn.rsplit('/').next().unwrap_or_default();
    format!("arn:{partition}:sts::{account}:assumed-role/{session}/iam-conformance")
}

fn deny_answer(request: &ParsedRequest, role_arn: &str, action: &str, resource: &str, outcome: Outcome) -> Denial {
    let text = message(&principal_of(role_arn), action, resource, outcome);
    match request.shape {
        Shape::RestXml => shaped(Shape::RestXml, 403, "AccessDenied", &text, &request.request_id),
        Shape::Ec2 => {
            let special = (action == "iam:CreateServiceLinkedRole")
                .then_some("AuthFailure.ServiceLinkedRoleCreationNotPermitted");
            denial(Protocol::Ec2, &text, &request.request_id, special)
        }
        Shape::Query => denial(Protocol::Query, &text, &request.request_id, None),
        Shape::Json => denial(Protocol::Json, &text, &request.request_id, None),
    }
}

/// Whether the request's routing parts agree with the service it was decided as (the
/// emulator routes by them): `Err` says which does not.
fn routing_agrees(request: &ParsedRequest, model: &ServiceModel) -> Result<(), String> {
    for name in ["host", "content-type", "x-amz-target", "content-encoding", "authorization", "x-amz-date"] {
        if request.header_values(name).len() > 1 {
            return Err(format!("more than one `{name}` header"));
        }
    }
    if request.method != "POST" {
        return Err(format!("{} {} is not how {} is called (POST /)", request.method, request.path, request.service));
    }
    if request.path != "/" {
        return Err(format!("path `{}` is not `/`, where {} is served", request.path, request.service));
    }
    let host = request.header_values("host").first().copied().unwrap_or_default().to_ascii_lowercase();
    let aws_host = host.starts_with(&format!("{}.", model.endpoint_prefix)) && host.contains("amazonaws.com");
    if !host_is_local(&host) && !aws_host {
        return Err(format!("host `{host}` is neither the gate's address nor {}'s endpoint", request.service));
    }
    if !["iam", "sts"].contains(&request.service.as_str()) && request.signing_region != request.region {
        return Err(format!(
            "signed for region `{}`, but the gate decides for `{}`",
            request.signing_region, request.region
        ));
    }
    let target = request.header_values("x-amz-target").first().map(|t| t.trim().to_string());
    let content_type = request.header_values("content-type").first().map(|c| c.to_ascii_lowercase());
    match model.protocol {
        Protocol::Json => {
            let prefix = model.target_prefix.as_deref().unwrap_or_default();
            if target.as_deref().is_none_or(|t| t.split_once('.').is_none_or(|(p, _)| p != prefix)) {
                return Err(format!("x-amz-target is not {prefix}.<Operation>"));
            }
            if content_type.as_deref().is_some_and(|c| !c.starts_with("application/x-amz-json-")) {
                return Err("content-type is not application/x-amz-json-1.x".into());
            }
        }
        Protocol::Ec2 | Protocol::Query => {
            if target.is_some() {
                return Err(format!("x-amz-target on a {} request, which has none", request.service));
            }
            if content_type.as_deref().is_some_and(|c| !c.starts_with("application/x-www-form-urlencoded")) {
                return Err("content-type is not application/x-www-form-urlencoded".into());
            }
        }
    }
    if request.header_values("content-encoding").first().is_some_and(|e| !e.trim().eq_ignore_ascii_case("identity")) {
        return Err("a content-encoded body, which the gate does not read".into());
    }
    Ok(())
}

/// Whether the role ARNs name the same role (AssumeRole's input may omit the path).
fn same_role(a: &str, b: &str) -> bool {
    let name = |arn: &str| arn.rsplit('/').next().unwrap_or(arn).to_string();
    let account = |arn: &str| arn.split(':').nth(4).map(str::to_string);
    a == b || (name(a) == name(b) && account(a) == account(b))
}

/// Decides one request of an authenticated `caller` against `subject` (the role whose
/// policies are enforced, if known). Without `derivation`, a request that needs its
/// checks derived comes back as [`GateDecision::NeedsDerivation`].
pub fn decide(
    request: &ParsedRequest,
    caller: &Caller,
    subject: Option<&Subject>,
    derivation: Option<&DerivedChecks>,
) -> GateDecision {
    let role_arn = match caller {
        Caller::Admin => return GateDecision::PassThrough,
        Caller::Role(arn) => arn.as_str(),
        Caller::Unknown(k) => {
            return refuse(
                request,
                Refusal::UnknownCaller,
                format!("unknown access key `{k}` (neither the harness's nor one AssumeRole issued through the gate)"),
            );
        }
    };
    if is_control_path(&request.path) {
        return refuse(
            request,
            Refusal::ControlPath,
            format!("`{}` is the emulator's own, for the administrator only", request.path),
        );
    }
    let Some(subject) = subject.filter(|s| same_role(&s.role_arn, role_arn)) else {
        let why = match subject {
            None => format!("the policies of `{role_arn}` are not known (the role does not exist yet)"),
            Some(_) => format!("`{role_arn}` is not the role whose policies this gate holds"),
        };
        return refuse(request, Refusal::NotSubject, why);
    };
    let model = wire::models().service(&request.service);
    if let Some(m) = model
        && let Err(why) = routing_agrees(request, m)
    {
        return refuse(request, Refusal::Mismatch, why);
    }
    // What cannot be read (no model, an operation or body the model cannot read,
    // parameters in the URL) is still denied when no statement could allow its action:
    // that decision does not depend on what could not be read.
    let readable = match (&request.wire, model) {
        (_, None) => Err((
            Refusal::Unreadable,
            format!(
                "no wire model for signing service `{}`; the gate cannot evaluate this request",
                request.signing_service
            ),
        )),
        (Err(e), _) => Err((Refusal::Unreadable, format!("cannot read the request: {e}"))),
        // What is evaluated must be all the request says.
        _ if request.query.as_deref().is_some_and(|q| !q.is_empty()) => {
            Err((Refusal::QueryString, "parameters in the URL are not evaluated; send them in the body".to_string()))
        }
        (Ok(x), Some(_)) => Ok(x),
    };
    let (operation, input) = match readable {
        Ok(x) => x,
        Err((refusal, reason)) => {
            return match &request.named {
                Some(named) if !could_allow(&subject.policies, named) => {
                    let action = named.action.clone().unwrap_or_else(|| format!("{}:*", named.service));
                    let check = Derived {
                        action: action.clone(),
                        resource: "*".into(),
                        context: BTreeMap::new(),
                        implicit: false,
                        keys_read: Vec::new(),
                    };
                    let denial = deny_answer(request, &subject.role_arn, &action, "*", Outcome::ImplicitDeny);
                    GateDecision::Deny {
                        checks: vec![CheckDecision { check, outcome: Outcome::ImplicitDeny, because: Vec::new() }],
                        denial,
                    }
                }
                _ => refuse(request, refusal, reason),
            };
        }
    };
    if NO_AUTHORIZATION.contains(&(request.service.as_str(), operation.as_str())) {
        return GateDecision::Forward { checks: Vec::new() };
    }
    let Some(derived) = derivation else {
        return GateDecision::NeedsDerivation {
            service: request.service.clone(),
            operation: operation.clone(),
            input: input.clone(),
        };
    };
    let derivation = &derived.derivation;
    if derivation.checks.is_empty() && derivation.unresolved.is_empty() {
        return refuse(
            request,
            Refusal::NoChecks,
            format!("no authorization check could be derived for {}:{operation}", request.service),
        );
    }
    let policies = &subject.policies;
    let mut checks = Vec::new();
    let mut first_denied: Option<(Derived, Outcome)> = None;
    // The keys the policies read: what the request context must say for them.
    let needed = match &derived.facts {
        Some(_) => crate::context::keys_read(policies),
        None => Default::default(),
    };
    let mut undecided = Vec::new();
    for check in &derivation.checks {
        let (decision, depends_on) = decide_check(check, policies, request, input, derived.facts.as_ref(), &needed);
        if let Some(keys) = &depends_on {
            undecided.push(format!(
                "whether `{}` on `{}` is allowed depends on {keys}, which the gate's request-context model does not provide",
                check.action, check.resource
            ));
        }
        // A decision that depends on a key the gate cannot know is not taken as a denial.
        if !decision.outcome.is_allowed() && depends_on.is_none() && first_denied.is_none() {
            first_denied = Some((check.clone(), decision.outcome));
        }
        checks.push(decision);
    }
    if let Some((check, outcome)) = first_denied {
        let denial = deny_answer(request, &subject.role_arn, &check.action, &check.resource, outcome);
        return GateDecision::Deny { checks, denial };
    }
    // Every decided check allowed, but one depends on a key the gate cannot know: refuse
    // rather than guess.
    if !undecided.is_empty() {
        return refuse(request, Refusal::Unresolved, undecided.join("; "));
    }
    // Every derived check allowed, but not everything could be derived: refuse.
    if !derivation.unresolved.is_empty() {
        let kind = if derived.unserved { Refusal::UnservedLookup } else { Refusal::Unresolved };
        let mut reason = derivation.unresolved.join("; ");
        if derived.unserved {
            reason.push_str(" (the backend cannot serve the gate's lookup)");
        }
        return refuse(request, kind, reason);
    }
    GateDecision::Forward { checks }
}

/// One derived check decided against `policies`, in the request context the model
/// completes (with `facts`): the decision, and the keys it depends on that the model does
/// not provide (`None` when decided).
fn decide_check(
    check: &Derived,
    policies: &[Policy],
    request: &ParsedRequest,
    input: &Value,
    facts: Option<&RequestFacts>,
    needed: &BTreeSet<String>,
) -> (CheckDecision, Option<String>) {
    let mut ctx = Context::new();
    for (k, v) in &check.context {
        ctx.insert(k, v.clone());
    }
    let request_of = |ctx| Request { action: &check.action, resource: &check.resource, context: ctx };
    let (d, read, depends_on) = match facts {
        Some(facts) => {
            // The request's own parameters give the keys AWS takes from them.
            let at = crate::context::At {
                service: &request.service,
                action: &check.action,
                resource: &check.resource,
                input: Some(input),
            };
            facts.model.complete(&mut ctx, at, needed, crate::catalog::Catalog::embedded(), &facts.resource_tags);
            let t = decide_traced(policies, &request_of(&ctx));
            let depends_on = (!t.undecided.is_empty())
                .then(|| t.undecided.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", "));
            (t.decision, t.read, depends_on)
        }
        None => (evaluate(policies, &request_of(&ctx)), Default::default(), None),
    };
    let because = d
        .because
        .iter()
        .map(|id| {
            let p = &policies[id.policy];
            crate::policy::statement_label(&p.name, id.statement, p.statements[id.statement].sid.as_deref())
        })
        .collect();
    let mut check = check.clone();
    check.keys_read = read.into_iter().collect();
    (CheckDecision { check, outcome: d.outcome, because }, depends_on)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::sigv4::{Form, Scope, Signature, canonical_request, sign, string_to_sign};
    use crate::policy::{PolicyKind, parse_policy};
    use crate::template::yaml;
    use std::sync::Arc;

    const ROLE: &str = "arn:aws:iam::123456789012:role/under-test";
    const NOW: &str = "20261201T120000Z";

    fn subject(policy: &str) -> Subject {
        let node = yaml::parse(policy, &Arc::from("p.yaml")).unwrap();
        Subject { role_arn: ROLE.into(), policies: vec![parse_policy("p", &node, PolicyKind::Identity).unwrap()] }
    }

    fn vpcs_only() -> Subject {
        subject("Version: 2012-10-17\nStatement:\n- Effect: Allow\n  Action: ec2:DescribeVpcs\n  Resource: '*'\n")
    }

    /// A request signed as SDKs sign it.
    struct Req {
        method: &'static str,
        path: &'static str,
        query: Option<&'static str>,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    fn signed(
        service: &str,
        method: &'static str,
        path: &'static str,
        extra: &[(&str, &str)],
        body: &[u8],
        key: &str,
        secret: &str,
    ) -> Req {
        let mut headers: Vec<(String, String)> =
            vec![("host".into(), "127.0.0.1:4580".into()), ("x-amz-date".into(), NOW.into())];
        headers.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let mut names: Vec<String> = headers.iter().map(|(k, _)| k.to_ascii_lowercase()).collect();
        names.sort();
        let mut sig = Signature {
            form: Form::Header,
            scope: Scope {
                access_key: key.into(),
                date: NOW[..8].into(),
                region: "us-west-2".into(),
                service: service.into(),
            },
            signed_headers: names.clone(),
            signature: String::new(),
            amz_date: NOW.into(),
            expires: None,
            security_token: None,
        };
        let parts = RequestParts { method, path, query: None, headers: &headers, body };
        let canonical = canonical_request(&parts, &sig).unwrap();
        sig.signature = sign(secret, &sig.scope, &string_to_sign(&sig, &canonical));
        headers.push((
            "authorization".into(),
            format!(
                "AWS4-HMAC-SHA256 Credential={key}/{}/us-west-2/{service}/aws4_request, SignedHeaders={}, Signature={}",
                &NOW[..8],
                names.join(";"),
                sig.signature
            ),
        ));
        Req { method, path, query: None, headers, body: body.to_vec() }
    }

    fn form(service: &str, body: &str) -> Req {
        signed(
            service,
            "POST",
            "/",
            &[("content-type", "application/x-www-form-urlencoded; charset=utf-8")],
            body.as_bytes(),
            "AKIAROLE",
            "role-secret",
        )
    }

    impl Req {
        fn parts(&self) -> RequestParts<'_> {
            RequestParts {
                method: self.method,
                path: self.path,
                query: self.query,
                headers: &self.headers,
                body: &self.body,
            }
        }
        fn parsed(&self) -> ParsedRequest {
            ParsedRequest::read(&self.parts(), "us-west-2", "x-iam-conformance-scenario", "req-1")
        }
    }

    fn role() -> Caller {
        Caller::Role(ROLE.into())
    }

    fn keys(k: &str) -> Option<KnownKey> {
        match k {
            "AKIAADMIN" => Some(KnownKey {
                secret: "admin-secret".into(),
                session_token: None,
                expires: None,
                caller: Caller::Admin,
            }),
            "AKIAROLE" => {
                Some(KnownKey { secret: "role-secret".into(), session_token: None, expires: None, caller: role() })
            }
            _ => None,
        }
    }

    fn now() -> i64 {
        sigv4::parse_amz_date(NOW).unwrap()
    }

    #[test]
    fn signatures_decide_who_calls() {
        let ok = form("ec2", "Action=DescribeVpcs&Version=2016-11-15");
        assert_eq!(authenticate(&ok.parts(), &keys, now()), Ok(role()));
        let wrong =
            signed("sts", "POST", "/", &[], b"Action=GetCallerIdentity&Version=2011-06-15", "AKIAADMIN", "any secret");
        assert!(matches!(authenticate(&wrong.parts(), &keys, now()), Err(AuthError::BadSignature(_))));
        let admin = signed(
            "sts",
            "POST",
            "/",
            &[],
            b"Action=GetCallerIdentity&Version=2011-06-15",
            "AKIAADMIN",
            "admin-secret",
        );
        assert_eq!(authenticate(&admin.parts(), &keys, now()), Ok(Caller::Admin));
        assert!(matches!(authenticate(&admin.parts(), &keys, now() + 3600), Err(AuthError::Skewed(_))));
        let stranger = signed("sts", "POST", "/", &[], b"", "AKIASTRANGER", "x");
        assert!(matches!(authenticate(&stranger.parts(), &keys, now()), Err(AuthError::UnknownKey(_))));
        let expired = |k: &str| {
            Some(KnownKey {
                secret: "role-secret".into(),
                session_token: None,
                expires: Some(now() - 1),
                caller: role(),
            })
            .filter(|_| k == "AKIAROLE")
        };
        assert_eq!(authenticate(&ok.parts(), &expired, now()), Err(AuthError::TokenExpired));
        let with_token = |_: &str| {
            Some(KnownKey {
                secret: "role-secret".into(),
                session_token: Some("tok".into()),
                expires: None,
                caller: role(),
            })
        };
        assert_eq!(authenticate(&ok.parts(), &with_token, now()), Err(AuthError::InvalidToken));
    }

    #[test]
    fn each_protocol_answers_authentication_failures_in_its_shape() {
        let bad = AuthError::BadSignature(String::new());
        for (shape, error, status, code) in [
            (Shape::Query, &bad, 403, "SignatureDoesNotMatch"),
            (Shape::Query, &AuthError::UnknownKey("k".into()), 403, "InvalidClientTokenId"),
            (Shape::Query, &AuthError::TokenExpired, 403, "ExpiredToken"),
            (Shape::Query, &AuthError::Skewed("Signature expired: x".into()), 403, "SignatureDoesNotMatch"),
            (Shape::Ec2, &bad, 401, "AuthFailure"),
            (Shape::Ec2, &AuthError::Skewed("x".into()), 400, "RequestExpired"),
            (Shape::Json, &bad, 400, "InvalidSignatureException"),
            (Shape::Json, &AuthError::UnknownKey("k".into()), 400, "UnrecognizedClientException"),
            (Shape::Json, &AuthError::TokenExpired, 400, "ExpiredTokenException"),
        ] {
            let d = auth_denial(shape, error, "r");
            assert_eq!((d.status, d.code.as_str()), (status, code), "{shape:?} {error:?}");
            let protocol = match shape {
                Shape::Ec2 => Protocol::Ec2,
                Shape::Json => Protocol::Json,
                _ => Protocol::Query,
            };
            let (read, _) = crate::errors::service_error(protocol, d.status, &d.headers, &d.body).unwrap();
            assert_eq!(read, code);
        }
    }

    #[test]
    fn the_administrator_passes_and_control_paths_are_his_alone() {
        let s = vpcs_only();
        let r = form("ec2", "Action=DescribeVpcs&Version=2016-11-15").parsed();
        assert!(matches!(decide(&r, &Caller::Admin, Some(&s), None), GateDecision::PassThrough));
        let mut reset = signed("s3", "POST", "/moto-api/reset", &[], b"", "AKIAROLE", "role-secret").parsed();
        reset.path = "/moto-api/reset".into();
        assert!(matches!(
            decide(&reset, &role(), Some(&s), None),
            GateDecision::Refuse { refusal: Refusal::ControlPath, .. }
        ));
        assert!(matches!(decide(&reset, &Caller::Admin, Some(&s), None), GateDecision::PassThrough));
    }

    #[test]
    fn a_role_is_refused_until_its_policies_are_known() {
        let r = form("ec2", "Action=DescribeVpcs&Version=2016-11-15").parsed();
        let GateDecision::Refuse { refusal, reason, .. } = decide(&r, &role(), None, None) else { panic!() };
        assert_eq!(refusal, Refusal::NotSubject);
        assert!(reason.contains("does not exist yet"), "{reason}");
        let other = Caller::Role("arn:aws:iam::123456789012:role/other".into());
        assert!(matches!(
            decide(&r, &other, Some(&vpcs_only()), None),
            GateDecision::Refuse { refusal: Refusal::NotSubject, .. }
        ));
    }

    #[test]
    fn routing_must_agree_with_the_decided_service() {
        let s = subject("Version: 2012-10-17\nStatement:\n- Effect: Allow\n  Action: '*'\n  Resource: '*'\n");
        // Scope ec2 on PUT /bucket: S3's routing, not ec2's.
        let put =
            signed("ec2", "PUT", "/bucket", &[], b"Action=DescribeVpcs&Version=2016-11-15", "AKIAROLE", "role-secret");
        assert!(matches!(
            decide(&put.parsed(), &role(), Some(&s), None),
            GateDecision::Refuse { refusal: Refusal::Mismatch, .. }
        ));
        let targeted = signed(
            "ec2",
            "POST",
            "/",
            &[("x-amz-target", "secretsmanager.DeleteSecret")],
            b"Action=DescribeVpcs&Version=2016-11-15",
            "AKIAROLE",
            "role-secret",
        );
        assert!(matches!(
            decide(&targeted.parsed(), &role(), Some(&s), None),
            GateDecision::Refuse { refusal: Refusal::Mismatch, .. }
        ));
        let fine = form("ec2", "Action=DescribeVpcs&Version=2016-11-15");
        assert!(matches!(decide(&fine.parsed(), &role(), Some(&s), None), GateDecision::NeedsDerivation { .. }));
    }

    #[test]
    fn what_no_statement_could_allow_is_denied_unread() {
        let s = vpcs_only();
        // Outside the wire model.
        let r = form(
            "ec2",
            "Action=AssociateIamInstanceProfile&Version=2016-11-15&InstanceId=i-1&IamInstanceProfile.Name=p",
        )
        .parsed();
        assert!(r.wire.is_err());
        let GateDecision::Deny { checks, denial } = decide(&r, &role(), Some(&s), None) else { panic!() };
        assert_eq!(checks[0].check.action, "ec2:AssociateIamInstanceProfile");
        assert_eq!((denial.status, denial.code.as_str()), (403, "UnauthorizedOperation"));
        // A service without a model.
        let put = signed("s3", "PUT", "/my-bucket", &[], b"", "AKIAROLE", "role-secret").parsed();
        let GateDecision::Deny { checks, denial } = decide(&put, &role(), Some(&s), None) else { panic!() };
        assert_eq!(checks[0].check.action, "s3:CreateBucket");
        assert_eq!((denial.status, denial.code.as_str()), (403, "AccessDenied"));
        // What a statement could allow stays refused: the gate cannot evaluate it.
        let ec2_all = subject("Version: 2012-10-17\nStatement:\n- Effect: Allow\n  Action: ec2:*\n  Resource: '*'\n");
        assert!(matches!(
            decide(&r, &role(), Some(&ec2_all), None),
            GateDecision::Refuse { refusal: Refusal::Unreadable, .. }
        ));
        let s3_get = subject("Version: 2012-10-17\nStatement:\n- Effect: Allow\n  Action: s3:Get*\n  Resource: '*'\n");
        let mut sub = signed("s3", "PUT", "/b", &[], b"", "AKIAROLE", "role-secret").parsed();
        sub.named = Some(NamedAction { service: "s3".into(), action: None });
        assert!(matches!(decide(&sub, &role(), Some(&s3_get), None), GateDecision::Refuse { .. }));
        assert!(matches!(decide(&sub, &role(), Some(&s), None), GateDecision::Deny { .. }));
    }

    #[test]
    fn a_binary_blob_is_read() {
        // CAPA's SecretBinary: gzipped bytes (not UTF-8), base64 in the JSON body.
        let body = br#"{"Name":"aws.cluster.x-k8s.io/a-1","SecretBinary":"H4sIAAAAAAAA/8pIzcnJBwQAAP//hqYQNgUAAAA=","Tags":[{"Key":"k","Value":"v"}]}"#;
        let r = signed(
            "secretsmanager",
            "POST",
            "/",
            &[("x-amz-target", "secretsmanager.CreateSecret"), ("content-type", "application/x-amz-json-1.1")],
            body,
            "AKIAROLE",
            "role-secret",
        )
        .parsed();
        let (op, input) = r.wire.clone().unwrap();
        assert_eq!(op, "CreateSecret");
        assert_eq!(input["Name"], "aws.cluster.x-k8s.io/a-1");
        let s = subject(
            "Version: 2012-10-17\nStatement:\n- Effect: Allow\n  Action: secretsmanager:CreateSecret\n  Resource: '*'\n",
        );
        let GateDecision::NeedsDerivation { operation, .. } = decide(&r, &role(), Some(&s), None) else { panic!() };
        assert_eq!(operation, "CreateSecret");
    }

    #[test]
    fn derived_checks_decide() {
        let s = vpcs_only();
        let r = form("ec2", "Action=DescribeVpcs&Version=2016-11-15").parsed();
        let check = |action: &str| Derived {
            action: action.into(),
            resource: "*".into(),
            context: BTreeMap::new(),
            implicit: false,
            keys_read: Vec::new(),
        };
        let allowed = DerivedChecks {
            derivation: Derivation { checks: vec![check("ec2:DescribeVpcs")], unresolved: vec![] },
            unserved: false,
            facts: None,
        };
        assert!(matches!(decide(&r, &role(), Some(&s), Some(&allowed)), GateDecision::Forward { .. }));
        let denied = DerivedChecks {
            derivation: Derivation { checks: vec![check("ec2:CreateTags")], unresolved: vec![] },
            unserved: false,
            facts: None,
        };
        let GateDecision::Deny { checks, .. } = decide(&r, &role(), Some(&s), Some(&denied)) else { panic!() };
        assert_eq!(checks[0].outcome, Outcome::ImplicitDeny);
        let open = DerivedChecks {
            derivation: Derivation { checks: vec![check("ec2:DescribeVpcs")], unresolved: vec!["profile p".into()] },
            unserved: true,
            facts: None,
        };
        assert!(matches!(
            decide(&r, &role(), Some(&s), Some(&open)),
            GateDecision::Refuse { refusal: Refusal::UnservedLookup, .. }
        ));
    }

    /// With the request context (`crate::context`), a condition on the principal, the
    /// region or a resource's tags is decided as AWS would; one on a key the gate cannot
    /// know is refused, naming the key, never guessed.
    #[test]
    fn derived_checks_decide_in_the_request_context() {
        let s = subject(
            "Version: 2012-10-17\nStatement:\n- Effect: Allow\n  Action: ec2:*\n  Resource: '*'\n- Effect: Deny\n  Action: ec2:*\n  Resource: '*'\n  Condition:\n    ArnNotEquals:\n      aws:PrincipalArn: arn:aws:iam::123456789012:role/under-test\n- Effect: Deny\n  Action: ec2:TerminateInstances\n  Resource: '*'\n  Condition:\n    'Null':\n      ec2:ResourceTag/role: 'true'\n- Effect: Deny\n  Action: ec2:DeleteVpc\n  Resource: '*'\n  Condition:\n    StringNotLike:\n      aws:userid: 'AROA*'\n",
        );
        let target = crate::template::render::Target { account_id: "123456789012".into(), ..Default::default() };
        let model = |userid: Option<&str>| {
            let mut p = crate::context::Principal::harness_session(ROLE, Some(Vec::new()), 0);
            p.userid = userid.map(str::to_string);
            crate::context::Model::statically(&target).with_principal(p)
        };
        let r = form("ec2", "Action=DescribeVpcs&Version=2016-11-15").parsed();
        let instance = "arn:aws:ec2:us-west-2:123456789012:instance/i-1";
        let with =
            |action: &str, resource: &str, tags: Option<Vec<(String, String)>>, userid: Option<&str>| DerivedChecks {
                derivation: Derivation {
                    checks: vec![Derived {
                        action: action.into(),
                        resource: resource.into(),
                        context: BTreeMap::new(),
                        implicit: false,
                        keys_read: Vec::new(),
                    }],
                    unresolved: vec![],
                },
                unserved: false,
                facts: Some(RequestFacts {
                    model: model(userid),
                    resource_tags: tags.map(|t| BTreeMap::from([(resource.to_string(), t)])).unwrap_or_default(),
                }),
            };
        // The principal is the role under test: its Deny does not apply.
        let tagged = Some(vec![("Role".to_string(), "node".to_string())]);
        let GateDecision::Forward { checks } =
            decide(&r, &role(), Some(&s), Some(&with("ec2:TerminateInstances", instance, tagged, None)))
        else {
            panic!()
        };
        assert!(checks[0].check.keys_read.contains(&"aws:principalarn".to_string()), "{:?}", checks[0].check.keys_read);
        // An instance without the tag is denied by the tag's Deny.
        let GateDecision::Deny { checks, .. } =
            decide(&r, &role(), Some(&s), Some(&with("ec2:TerminateInstances", instance, Some(Vec::new()), None)))
        else {
            panic!()
        };
        assert_eq!(checks[0].outcome, Outcome::ExplicitDeny);
        // Tags that could not be looked up are not guessed.
        let GateDecision::Refuse { refusal, reason, .. } =
            decide(&r, &role(), Some(&s), Some(&with("ec2:TerminateInstances", instance, None, None)))
        else {
            panic!()
        };
        assert_eq!(refusal, Refusal::Unresolved);
        assert!(reason.contains("`ec2:resourcetag/role`"), "{reason}");
        // aws:userid: known from AssumeRole's answer, else not modelled.
        assert!(matches!(
            decide(&r, &role(), Some(&s), Some(&with("ec2:DeleteVpc", "*", None, Some("AROAEXAMPLE:iam-conformance")))),
            GateDecision::Forward { .. }
        ));
        assert!(matches!(
            decide(&r, &role(), Some(&s), Some(&with("ec2:DeleteVpc", "*", None, None))),
            GateDecision::Refuse { refusal: Refusal::Unresolved, .. }
        ));
    }

    #[test]
    fn iam_writes_are_recognised() {
        for (body, writes) in [
            ("Action=CreatePolicyVersion&Version=2010-05-08", true),
            ("Action=AttachRolePolicy&Version=2010-05-08", true),
            ("Action=GetRole&Version=2010-05-08", false),
        ] {
            assert_eq!(form("iam", body).parsed().changes_iam(), writes, "{body}");
        }
        assert!(form("cloudformation", "Action=UpdateStack&Version=2010-05-15").parsed().changes_iam());
    }
}
