//! How `run --target aws` reads AWS's own account of an authorization decision (pure: no
//! I/O; the calls are made by the harness):
//!
//! 1. **Encoded EC2 denials.** EC2 answers a denied call with `UnauthorizedOperation` and a
//!    message that carries an encoded blob: "You are not authorized to perform this
//!    operation. Encoded authorization failure message: <blob>" (the wording shown by AWS's
//!    knowledge-center article <https://repost.aws/knowledge-center/ec2-not-auth-launch>
//!    and in the public report aws/aws-parallelcluster#372). The harness decodes the blob
//!    with `sts:DecodeAuthorizationMessage` (administrator credentials): [`encoded_message`],
//!    [`decode_input`], [`parse_decoded`], [`DecodedAuthorization::summary`].
//! 2. **The policy simulator as a third oracle.** `iam:SimulatePrincipalPolicy` is asked
//!    about each check of a scenario (action, resource ARN, condition context) and its
//!    answer is compared with the project's evaluator and with the live call:
//!    [`simulate_input`], [`parse_simulation`], [`disagreement`].
//!
//! Known limits of the simulator, as AWS documents them (so a disagreement is a lead to
//! investigate, not a verdict):
//!
//! - "The IAM policy simulator evaluates statements in the identity-based policy and the
//!   inputs that you provide during simulation. The policy simulator results can differ
//!   from your live AWS environment" (API reference, SimulatePrincipalPolicy /
//!   SimulateCustomPolicy). It does not perform the call: the implicit checks a real
//!   request makes (e.g. `iam:PassRole` for `RunInstances` with an instance profile) are
//!   simulated only when they are passed as checks of their own.
//! - A resource-based policy is simulated "for IAM users only" (SimulatePrincipalPolicy:
//!   `ResourcePolicy` needs a `CallerArn`, which can only be an IAM user). With a role as
//!   the policy source, resource policies (a secret's policy, say) are not evaluated.
//! - Service control policies are included when the account belongs to an organization
//!   (`OrganizationsDecisionDetail`; "If an AWS Organizations SCP included in the
//!   evaluation denies access, the simulation ends", API_EvaluationResult), and the API
//!   cannot leave them out as the console can (aws/aws-sdk#102).
//! - Context keys the policies use but the request did not supply are listed in
//!   `MissingContextValues` (per resource when `ResourceArns` names resources).
//! - The EC2 scenarios of `ResourceHandlingOption` require every resource of a launch
//!   (instance, image, security group, network interface, and subnet / volume where they
//!   apply; see the `ResourceHandlingOption` parameter). This module simulates one
//!   (action, resource) check at a time, without that option, which is how the project's
//!   evaluator sees a check too.
//! - The simulator now returns one `EvaluationResult` per action, aggregated over the
//!   resources, with the per-resource decisions under `ResourceSpecificResults`
//!   (API_EvaluationResult, "Important" note). [`parse_simulation`] reads both layouts.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::aws::errors::service_error;
use crate::catalog::Catalog;
use crate::wire::{Protocol, WireError};
use crate::xml;

// ---------------------------------------------------------------------------------------
// 1. Encoded authorization messages (EC2 UnauthorizedOperation)
// ---------------------------------------------------------------------------------------

/// The marker EC2 puts before the blob, compared case-insensitively.
const ENCODED_MARKER: &str = "encoded authorization failure message:";

/// The encoded blob of an EC2 denial message, or `None` when the message carries none.
/// The blob is the run of base64/base64url characters after the marker, so text that a
/// caller appended (CloudFormation adds ` (Service: AmazonEC2; Status Code: 403; …)`) is
/// left out.
pub fn encoded_message(message: &str) -> Option<&str> {
    // ASCII lowercasing keeps byte offsets, so `at` indexes `message` too.
    let at = message.to_ascii_lowercase().find(ENCODED_MARKER)?;
    let rest = message[at + ENCODED_MARKER.len()..].trim_start();
    let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || "-_+/=".contains(c))).unwrap_or(rest.len());
    let blob = &rest[..end];
    (!blob.is_empty()).then_some(blob)
}

/// The input of `sts:DecodeAuthorizationMessage` for the harness's wire layer (API member
/// names, as in `catalog/wire-model.json`).
pub fn decode_input(encoded: &str) -> Value {
    json!({ "EncodedMessage": encoded })
}

/// What AWS says about one denied (or allowed) request, from the decoded message.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct DecodedAuthorization {
    /// Whether AWS allowed the request.
    pub allowed: bool,
    /// Whether an explicit Deny decided it, which tells a Deny from a missing Allow.
    pub explicit_deny: bool,
    /// `service:Action`. The decoded `context.action` of EC2 names the operation alone
    /// (`RunInstances`); the service prefix is then taken from the resource ARN.
    pub action: String,
    /// The resource the decision is about.
    pub resource: String,
    /// Each matched statement: its `Sid` and effect (`DenyAll (DENY)`), or for a statement
    /// without a `Sid`, its effect, actions and resources.
    pub matched_statements: Vec<String>,
    /// The request context: condition key → values, in AWS's order.
    pub conditions: Vec<(String, Vec<String>)>,
}

/// Why an `sts:DecodeAuthorizationMessage` answer gave no decoded authorization.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// STS answered with an error (its code and message).
    #[error("DecodeAuthorizationMessage failed: {0}")]
    Failed(String),
    /// The answer lacks the decoded message.
    #[error("the DecodeAuthorizationMessage answer has no DecodedMessage element")]
    NoDecodedMessage,
    /// The decoded message is not JSON.
    #[error("the DecodedMessage is not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// The decoded message is JSON but not an object.
    #[error("the DecodedMessage is not a JSON object")]
    NotAnObject,
    /// A boolean the decision needs is missing (`allowed`, `explicitDeny`).
    #[error("the DecodedMessage has no boolean `{0}`")]
    NoFlag(&'static str),
}

/// Reads the XML answer of `sts:DecodeAuthorizationMessage` by the wire model:
/// `<DecodeAuthorizationMessageResponse><DecodeAuthorizationMessageResult><DecodedMessage>`
/// holding a JSON document (XML-escaped); an error answer gives [`DecodeError::Failed`]. The document's shape, from AWS's CLI example in
/// the IAM User Guide (sts_example_sts_DecodeAuthorizationMessage_section) and the
/// knowledge-center article above:
///
/// ```text
/// {"allowed":false,"explicitDeny":true,
///  "matchedStatements":{"items":[{"statementId":"VisualEditor0","effect":"DENY",
///     "principals":{"items":[{"value":"AROA…"}]},"principalGroups":{"items":[]},
///     "actions":{"items":[{"value":"ec2:RunInstances"}]},"resources":{"items":[{"value":"*"}]},
///     "conditions":{"items":[]}}]},
///  "failures":{"items":[]},
///  "context":{"principal":{"id":"AROA…:Ana","arn":"arn:aws:sts::…:assumed-role/Developer/Ana"},
///     "action":"RunInstances","resource":"arn:aws:ec2:us-east-1:…:instance/*",
///     "conditions":{"items":[{"key":"ec2:InstanceType","values":{"items":[{"value":"t2.micro"}]}}]}}}
/// ```
pub fn parse_decoded(body: &str) -> Result<DecodedAuthorization, DecodeError> {
    let output = match read_answer("sts", "DecodeAuthorizationMessage", body) {
        Answer::Output(output) => output,
        Answer::Failed(error) => return Err(DecodeError::Failed(error)),
        // Not XML, or not this operation's answer: it has no DecodedMessage either.
        Answer::Unreadable(_) => return Err(DecodeError::NoDecodedMessage),
    };
    let text = output.get("DecodedMessage").and_then(Value::as_str).ok_or(DecodeError::NoDecodedMessage)?;
    let doc: Value = serde_json::from_str(text).map_err(DecodeError::NotJson)?;
    let doc = doc.as_object().ok_or(DecodeError::NotAnObject)?;
    let allowed = flag(doc.get("allowed")).ok_or(DecodeError::NoFlag("allowed"))?;
    let explicit_deny = flag(doc.get("explicitDeny")).ok_or(DecodeError::NoFlag("explicitDeny"))?;
    let matched_statements = items(doc.get("matchedStatements")).iter().map(describe_statement).collect();
    let context = doc.get("context");
    let text_at = |key: &str| context.and_then(|c| c.get(key)).and_then(Value::as_str).unwrap_or_default().to_string();
    let resource = text_at("resource");
    let action = qualify_action(&text_at("action"), &resource);
    let conditions = items(context.and_then(|c| c.get("conditions")))
        .iter()
        .filter_map(|item| {
            let key = item.get("key")?.as_str()?;
            Some((key.to_string(), values(item.get("values"))))
        })
        .collect();
    Ok(DecodedAuthorization { allowed, explicit_deny, action, resource, matched_statements, conditions })
}

impl DecodedAuthorization {
    /// One line for the report, e.g. `AWS decoded: ec2:RunInstances on arn:…: implicit deny
    /// (no statement matched); context: ec2:InstanceType=t3.micro, …`.
    pub fn summary(&self) -> String {
        let or_unknown = |s: &str| if s.is_empty() { "?".to_string() } else { s.to_string() };
        let matched = self.matched_statements.join(", ");
        let verdict = if self.allowed {
            if matched.is_empty() { "allowed".to_string() } else { format!("allowed (matched: {matched})") }
        } else if self.explicit_deny {
            if matched.is_empty() {
                "explicit deny (no statement named)".to_string()
            } else {
                format!("explicit deny by {matched}")
            }
        } else if matched.is_empty() {
            "implicit deny (no statement matched)".to_string()
        } else {
            format!("implicit deny (matched: {matched})")
        };
        let mut line =
            format!("AWS decoded: {} on {}: {verdict}", or_unknown(&self.action), or_unknown(&self.resource));
        if !self.conditions.is_empty() {
            let context: Vec<String> = self
                .conditions
                .iter()
                .map(|(key, values)| match values.as_slice() {
                    [one] => format!("{key}={one}"),
                    many => format!("{key}=[{}]", many.join(", ")),
                })
                .collect();
            line.push_str("; context: ");
            line.push_str(&context.join(", "));
        }
        line
    }
}

/// `true`/`false` as a JSON boolean or as the strings `"true"`/`"false"`.
fn flag(value: Option<&Value>) -> Option<bool> {
    match value? {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// The elements of a decoded-message list (`{"items": [...]}`).
fn items(value: Option<&Value>) -> &[Value] {
    value.and_then(|v| v.get("items")).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
}

/// The strings of a decoded-message value list (`{"items": [{"value": "..."}]}`).
fn values(value: Option<&Value>) -> Vec<String> {
    items(value).iter().filter_map(|i| i.get("value")?.as_str().map(str::to_string)).collect()
}

fn describe_statement(statement: &Value) -> String {
    let effect = statement.get("effect").and_then(Value::as_str).unwrap_or("?");
    match statement.get("statementId").and_then(Value::as_str).filter(|s| !s.is_empty()) {
        Some(sid) => format!("{sid} ({effect})"),
        None => format!(
            "{effect} statement without Sid on actions [{}] resources [{}]",
            values(statement.get("actions")).join(", "),
            values(statement.get("resources")).join(", ")
        ),
    }
}

/// `RunInstances` on `arn:aws:ec2:…` → `ec2:RunInstances`; an action that has its prefix
/// (`iam:PassRole`) or a resource that is not an ARN leaves the action as it is.
fn qualify_action(action: &str, resource: &str) -> String {
    if action.is_empty() || action.contains(':') {
        return action.to_string();
    }
    match resource.split(':').collect::<Vec<_>>().as_slice() {
        ["arn", _partition, service, ..] if !service.is_empty() => format!("{service}:{action}"),
        _ => action.to_string(),
    }
}

/// An answer body as this module reads it: the output of a successful answer (the wire
/// model's reading), the `Code: Message` of an error answer, or neither.
enum Answer {
    Output(Value),
    Failed(String),
    Unreadable(WireError),
}

/// Reads `body` as a successful answer of `operation` (the callers hold the bodies of
/// answers without an error, HTTP 2xx, so it is read as 200); a body the model cannot
/// read that is a query-protocol error answer
/// (`<ErrorResponse><Error><Code>…</Code><Message>…</Message></Error></ErrorResponse>`)
/// gives its code and message as `aws::errors::service_error` reads them.
fn read_answer(service: &str, operation: &str, body: &str) -> Answer {
    let unreadable = match crate::wire::output(service, operation, 200, body) {
        Ok(output) => return Answer::Output(output),
        Err(e) => e,
    };
    let is_error = xml::parse(body).is_ok_and(|root| root.name == "ErrorResponse" || root.name == "Error");
    match service_error(Protocol::Query, 400, &[], body).filter(|_| is_error) {
        Some((code, message)) if message.is_empty() => Answer::Failed(code),
        Some((code, message)) => Answer::Failed(format!("{code}: {message}")),
        None => Answer::Unreadable(unreadable),
    }
}

/// The string member `name` of a read output's structure.
fn text<'a>(value: &'a Value, name: &str) -> Option<&'a str> {
    value.get(name).and_then(Value::as_str)
}

/// The items of the list member `name` of a read output's structure (none when absent).
fn list<'a>(value: &'a Value, name: &str) -> &'a [Value] {
    value.get(name).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// 2. iam:SimulatePrincipalPolicy
// ---------------------------------------------------------------------------------------

/// One authorization check to simulate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimulatedCheck {
    /// The action to simulate.
    pub action: String,
    /// The resource ARN (or `*`) to simulate it on.
    pub resource: String,
    /// The condition keys to supply, as the scenario declares them.
    pub context: BTreeMap<String, Vec<String>>,
}

/// The input of `iam:SimulatePrincipalPolicy` for one check (API member names, as in
/// `catalog/wire-model.json`: `PolicySourceArn`, `ActionNames`, `ResourceArns`,
/// `ContextEntries` of `{ContextKeyName, ContextKeyValues, ContextKeyType}`). A context
/// key without values is left out (the simulator then lists it as missing if a policy
/// needs it). `ContextKeyType` (string | stringList | numeric | numericList | boolean |
/// booleanList | ip | ipList | binary | binaryList | date | dateList) is chosen by
/// [`context_key_type`].
pub fn simulate_input(policy_source_arn: &str, check: &SimulatedCheck) -> Value {
    let mut input = json!({
        "PolicySourceArn": policy_source_arn,
        "ActionNames": [check.action],
        "ResourceArns": [check.resource],
    });
    let entries: Vec<Value> = check
        .context
        .iter()
        .filter(|(_, values)| !values.is_empty())
        .map(|(key, values)| {
            json!({
                "ContextKeyName": key,
                "ContextKeyValues": values,
                "ContextKeyType": context_key_type(key, values),
            })
        })
        .collect();
    if !entries.is_empty() {
        input["ContextEntries"] = Value::Array(entries);
    }
    input
}

/// The simulator's `ContextKeyType` for a key: its type from the global condition keys
/// (IAM User Guide, reference_policies_condition-keys) or from the embedded catalog's
/// condition keys (`ARN` keys are strings to the simulator); for a key known to neither,
/// `ip` when every value is an IP address or CIDR block, else `string`. Multi-valued
/// keys (`ArrayOf…` in the catalog, e.g. `aws:TagKeys`) and any key given several values
/// take the list form (`stringList`, `ipList`, …).
pub fn context_key_type(key: &str, values: &[String]) -> String {
    let (base, list) = known_key_type(key).unwrap_or_else(|| {
        if !values.is_empty() && values.iter().all(|v| is_ip(v)) { ("ip", false) } else { ("string", false) }
    });
    if list || values.len() > 1 { format!("{base}List") } else { base.to_string() }
}

/// Global condition keys that no service of the catalog lists, with their documented type.
const GLOBAL_KEYS: &[(&str, &str)] = &[
    ("aws:sourceip", "IPAddress"),
    ("aws:securetransport", "Bool"),
    ("aws:multifactorauthpresent", "Bool"),
    ("aws:viaawsservice", "Bool"),
    ("aws:principalisawsservice", "Bool"),
    ("aws:multifactorauthage", "Numeric"),
    ("aws:epochtime", "Numeric"),
    ("aws:currenttime", "Date"),
    ("aws:tokenissuetime", "Date"),
    ("aws:calledvia", "ArrayOfString"),
    ("aws:principalorgpaths", "ArrayOfString"),
    ("aws:principalservicenameslist", "ArrayOfString"),
];

/// (simulator base type, multi-valued) of a known key.
fn known_key_type(key: &str) -> Option<(&'static str, bool)> {
    let lower = key.to_ascii_lowercase();
    if let Some((_, t)) = GLOBAL_KEYS.iter().find(|(k, _)| *k == lower) {
        return simulator_type(t);
    }
    let keys = || Catalog::embedded().services.values().flat_map(|s| s.condition_keys.iter());
    // An exact name first, then templates such as `aws:RequestTag/${TagKey}`.
    let exact = keys().find(|(k, _)| k.to_ascii_lowercase() == lower);
    let found = exact.or_else(|| keys().find(|(k, _)| k.contains("${") && template_matches(k, &lower)));
    found.and_then(|(_, t)| simulator_type(t))
}

/// The simulator's type for a catalog (Service Authorization Reference) type name.
fn simulator_type(catalog_type: &str) -> Option<(&'static str, bool)> {
    let (base, list) = match catalog_type.strip_prefix("ArrayOf") {
        Some(base) => (base, true),
        None => (catalog_type, false),
    };
    let simulator = match base.to_ascii_lowercase().as_str() {
        "string" | "arn" => "string",
        "numeric" | "long" | "integer" => "numeric",
        "bool" | "boolean" => "boolean",
        "date" => "date",
        "ipaddress" | "ip" => "ip",
        "binary" => "binary",
        _ => return None,
    };
    Some((simulator, list))
}

/// Whether `key` (lowercase) fits `template`, each `${…}` standing for one or more
/// characters; compared case-insensitively.
fn template_matches(template: &str, key: &str) -> bool {
    let template = template.to_ascii_lowercase();
    let mut literals = Vec::new();
    let mut rest = template.as_str();
    while let Some(start) = rest.find("${") {
        literals.push(&rest[..start]);
        match rest[start..].find('}') {
            Some(end) => rest = &rest[start + end + 1..],
            None => return false,
        }
    }
    literals.push(rest);
    let (first, last) = (literals[0], literals[literals.len() - 1]);
    if !key.starts_with(first) || !key.ends_with(last) || key.len() < first.len() + last.len() + 1 {
        return false;
    }
    // The literals in between, in order, each after at least one character.
    let mut pos = first.len();
    for literal in &literals[1..literals.len() - 1] {
        let skip = key[pos..].chars().next().map_or(1, char::len_utf8);
        let Some(rest) = key.get(pos + skip..) else { return false };
        match rest.find(literal) {
            Some(i) => pos += skip + i + literal.len(),
            None => return false,
        }
    }
    pos < key.len() - last.len()
}

fn is_ip(value: &str) -> bool {
    let (address, prefix) = match value.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (value, None),
    };
    let Ok(ip) = address.parse::<std::net::IpAddr>() else { return false };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    prefix.is_none_or(|p| p.parse::<u8>().is_ok_and(|p| p <= max))
}

/// The simulator's decision (`EvalDecision` / `EvalResourceDecision`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SimDecision {
    /// The request is allowed.
    Allowed,
    /// A Deny statement matches.
    ExplicitDeny,
    /// No statement allows it.
    ImplicitDeny,
}

impl SimDecision {
    /// AWS's spelling: `allowed`, `explicitDeny`, `implicitDeny`.
    pub fn as_str(self) -> &'static str {
        match self {
            SimDecision::Allowed => "allowed",
            SimDecision::ExplicitDeny => "explicitDeny",
            SimDecision::ImplicitDeny => "implicitDeny",
        }
    }

    fn parse(text: &str) -> Result<Self, SimulationError> {
        [SimDecision::Allowed, SimDecision::ExplicitDeny, SimDecision::ImplicitDeny]
            .into_iter()
            .find(|d| d.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| SimulationError::UnknownDecision(text.to_string()))
    }
}

/// The simulator's answer for one (action, resource).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SimResult {
    /// The action simulated.
    pub action: String,
    /// The resource simulated.
    pub resource: String,
    /// The simulator's decision.
    pub decision: SimDecision,
    /// Each matched statement: `SourcePolicyId (SourcePolicyType) line:column-line:column`
    /// (the positions in the policy document as IAM stores it); plus `denied by an AWS
    /// Organizations SCP` / `denied by the permissions boundary` when those details say so.
    pub matched: Vec<String>,
    /// Context keys the policies use that the check did not supply, which make a decision unreliable.
    pub missing_context: Vec<String>,
}

/// Why an `iam:SimulatePrincipalPolicy` answer gave no simulation results.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SimulationError {
    /// IAM answered with an error (its code and message).
    #[error("SimulatePrincipalPolicy failed: {0}")]
    Failed(String),
    /// Not the answer of this operation (or cut off before its result closes).
    #[error("not a SimulatePrincipalPolicy answer (no SimulatePrincipalPolicyResult element)")]
    NotAnAnswer,
    /// More results than one page: the harness asks for one check per call, so it never pages.
    #[error("the SimulatePrincipalPolicy answer is truncated (IsTruncated=true, Marker={marker:?})")]
    Truncated {
        /// The answer's `Marker`, empty when it has none.
        marker: String,
    },
    /// An evaluation result without its action.
    #[error("an evaluation result has no EvalActionName")]
    NoAction,
    /// An evaluation result without its decision.
    #[error("the result for {action} has no EvalDecision")]
    NoDecision {
        /// The action evaluated.
        action: String,
    },
    /// A resource-specific result without its resource.
    #[error("a resource-specific result for {action} has no EvalResourceName")]
    NoResource {
        /// The action evaluated.
        action: String,
    },
    /// A resource-specific result without its decision.
    #[error("the resource-specific result for {action} on {resource} has no EvalResourceDecision")]
    NoResourceDecision {
        /// The action evaluated.
        action: String,
        /// The resource evaluated.
        resource: String,
    },
    /// A decision other than `allowed`, `explicitDeny`, `implicitDeny`.
    #[error("unknown simulator decision `{0}`")]
    UnknownDecision(String),
    /// The answer does not fit the operation's output shape (a member of the wrong type).
    #[error("the SimulatePrincipalPolicy answer does not fit the wire model: {0}")]
    Unreadable(#[source] WireError),
}

/// Reads the XML answer of `iam:SimulatePrincipalPolicy` by the wire model. Shape (API reference:
/// SimulatePrincipalPolicy, EvaluationResult, ResourceSpecificResult, Statement, Position):
///
/// ```text
/// <SimulatePrincipalPolicyResponse><SimulatePrincipalPolicyResult>
///   <IsTruncated>false</IsTruncated>
///   <EvaluationResults><member>
///     <EvalActionName>…</EvalActionName><EvalResourceName>…</EvalResourceName>
///     <EvalDecision>allowed|explicitDeny|implicitDeny</EvalDecision>
///     <MatchedStatements><member><SourcePolicyId>…</SourcePolicyId><SourcePolicyType>…</SourcePolicyType>
///       <StartPosition><Line>…</Line><Column>…</Column></StartPosition><EndPosition>…</EndPosition>
///     </member></MatchedStatements>
///     <MissingContextValues><member>key</member></MissingContextValues>
///     <ResourceSpecificResults><member><EvalResourceName>…</EvalResourceName>
///       <EvalResourceDecision>…</EvalResourceDecision><MatchedStatements>…</MatchedStatements>
///       <MissingContextValues>…</MissingContextValues></member></ResourceSpecificResults>
///   </member></EvaluationResults>
/// </SimulatePrincipalPolicyResult></SimulatePrincipalPolicyResponse>
/// ```
///
/// One [`SimResult`] per resource-specific result when there are any, else one per
/// evaluation result. A truncated answer (`IsTruncated` true) is an error: the harness
/// asks for one check per call, so there is nothing to page through.
pub fn parse_simulation(body: &str) -> Result<Vec<SimResult>, SimulationError> {
    let output = match read_answer("iam", "SimulatePrincipalPolicy", body) {
        Answer::Output(output) => output,
        Answer::Failed(error) => return Err(SimulationError::Failed(error)),
        // Not XML, or without the result element (cut off before it closes).
        Answer::Unreadable(WireError::Malformed(_)) => return Err(SimulationError::NotAnAnswer),
        Answer::Unreadable(e) => return Err(SimulationError::Unreadable(e)),
    };
    if output.get("IsTruncated") == Some(&Value::Bool(true)) {
        let marker = text(&output, "Marker").unwrap_or_default().to_string();
        return Err(SimulationError::Truncated { marker });
    }
    let mut out = Vec::new();
    for evaluation in list(&output, "EvaluationResults") {
        let action = text(evaluation, "EvalActionName").ok_or(SimulationError::NoAction)?.to_string();
        let decision = SimDecision::parse(
            text(evaluation, "EvalDecision").ok_or_else(|| SimulationError::NoDecision { action: action.clone() })?,
        )?;
        let mut matched = matched_statements(evaluation);
        matched.extend(decision_details(evaluation));
        let missing_context = missing_keys(evaluation);
        let per_resource = list(evaluation, "ResourceSpecificResults");
        if per_resource.is_empty() {
            let resource = text(evaluation, "EvalResourceName").unwrap_or("*").to_string();
            out.push(SimResult { action, resource, decision, matched, missing_context });
            continue;
        }
        for r in per_resource {
            let resource = text(r, "EvalResourceName")
                .ok_or_else(|| SimulationError::NoResource { action: action.clone() })?
                .to_string();
            let decision = SimDecision::parse(text(r, "EvalResourceDecision").ok_or_else(|| {
                SimulationError::NoResourceDecision { action: action.clone(), resource: resource.clone() }
            })?)?;
            let mut own = matched_statements(r);
            own.extend(decision_details(r));
            if own.is_empty() {
                own = matched.clone();
            }
            let mut missing = missing_keys(r);
            for key in &missing_context {
                if !missing.contains(key) {
                    missing.push(key.clone());
                }
            }
            out.push(SimResult { action: action.clone(), resource, decision, matched: own, missing_context: missing });
        }
    }
    Ok(out)
}

/// The matched statements of an evaluation result or a resource-specific result.
fn matched_statements(result: &Value) -> Vec<String> {
    list(result, "MatchedStatements")
        .iter()
        .map(|statement| {
            let mut line = text(statement, "SourcePolicyId").unwrap_or("(unnamed policy)").to_string();
            if let Some(kind) = text(statement, "SourcePolicyType") {
                line.push_str(&format!(" ({kind})"));
            }
            // Line and Column are integers in the model.
            let position = |name: &str| {
                let p = statement.get(name)?;
                Some(format!("{}:{}", p.get("Line")?, p.get("Column")?))
            };
            match (position("StartPosition"), position("EndPosition")) {
                (Some(start), Some(end)) => line.push_str(&format!(" {start}-{end}")),
                (Some(start), None) => line.push_str(&format!(" {start}")),
                _ => {}
            }
            line
        })
        .collect()
}

/// Notes from `OrganizationsDecisionDetail` / `PermissionsBoundaryDecisionDetail` when
/// they deny (their flag is false).
fn decision_details(result: &Value) -> Vec<String> {
    let denies = |section: &str, flag: &str| result.get(section).and_then(|s| s.get(flag)) == Some(&Value::Bool(false));
    let mut notes = Vec::new();
    if denies("OrganizationsDecisionDetail", "AllowedByOrganizations") {
        notes.push("denied by an AWS Organizations SCP".to_string());
    }
    if denies("PermissionsBoundaryDecisionDetail", "AllowedByPermissionsBoundary") {
        notes.push("denied by the permissions boundary".to_string());
    }
    notes
}

fn missing_keys(result: &Value) -> Vec<String> {
    list(result, "MissingContextValues").iter().filter_map(Value::as_str).map(str::to_string).collect()
}

/// A sentence when the three answers disagree, `None` when they agree. `model_allowed`:
/// the project's evaluator; `live_allowed`: AWS's answer to the live call (`None` when the
/// call was not made live or AWS did not decide it); `simulator`: the policy simulator.
pub fn disagreement(model_allowed: bool, live_allowed: Option<bool>, simulator: SimDecision) -> Option<String> {
    let sim_allowed = simulator == SimDecision::Allowed;
    let verb = |allowed: bool| if allowed { "allows" } else { "denies" };
    let sim = simulator.as_str();
    match live_allowed {
        None if model_allowed == sim_allowed => None,
        None => Some(format!(
            "the model {} but the policy simulator says {sim} (no live answer to decide between them)",
            verb(model_allowed)
        )),
        Some(live) if live == model_allowed && live == sim_allowed => None,
        Some(live) if live == sim_allowed => Some(format!(
            "the model {} but AWS {} it, live and in the policy simulator ({sim}): the model is the odd one out",
            verb(model_allowed),
            if live { "allows" } else { "denies" }
        )),
        Some(live) if model_allowed == sim_allowed => Some(format!(
            "the live call was {} although the model and the policy simulator ({sim}) both {} it: something the \
             simulator does not see (a resource policy, an implicit check, eventual consistency, an unmodelled \
             context value)",
            if live { "allowed" } else { "denied" },
            if model_allowed { "allow" } else { "deny" }
        )),
        Some(_) => Some(format!(
            "the policy simulator says {sim} while the model and the live call both {}: likely a context value the \
             simulator was not given, or a limit of the simulator",
            if model_allowed { "allow" } else { "deny" }
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An XML answer as STS sends it (query protocol: `<Op>Response><Op>Result>…`, the
    /// JSON document XML-escaped in `DecodedMessage`).
    fn sts_answer(decoded_json: &str) -> String {
        format!(
            "<DecodeAuthorizationMessageResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\
             <DecodeAuthorizationMessageResult><DecodedMessage>{}</DecodedMessage>\
             </DecodeAuthorizationMessageResult><ResponseMetadata><RequestId>r-1</RequestId>\
             </ResponseMetadata></DecodeAuthorizationMessageResponse>",
            xml::escape(decoded_json)
        )
    }

    #[test]
    fn finds_the_encoded_blob() {
        // Wording of the knowledge-center article (repost.aws, ec2-not-auth-launch).
        let msg = "You are not authorized to perform this operation. Encoded authorization failure message: \
                   4GIOHlTkIaWHQD0Q0m6XSnuUMCm-abcdefghijklmn-abcdefghijklmn";
        assert_eq!(encoded_message(msg), Some("4GIOHlTkIaWHQD0Q0m6XSnuUMCm-abcdefghijklmn-abcdefghijklmn"));
        // CloudFormation appends the service details after the blob.
        let cfn = "API: ec2:RunInstances You are not authorized to perform this operation. Encoded authorization \
                   failure message: rHU-pVH_Msck0 (Service: AmazonEC2; Status Code: 403; Error Code: \
                   UnauthorizedOperation)";
        assert_eq!(encoded_message(cfn), Some("rHU-pVH_Msck0"));
        assert_eq!(encoded_message("You are not authorized to perform this operation."), None);
        assert_eq!(encoded_message("… Encoded authorization failure message:   "), None);
        assert_eq!(decode_input("abc"), json!({"EncodedMessage": "abc"}));
    }

    #[test]
    fn decode_input_fits_the_wire_model() {
        let sts = crate::wire::models().service("sts").unwrap();
        let req = crate::wire::serialize(sts, "DecodeAuthorizationMessage", &decode_input("a-b_c")).unwrap();
        let body = String::from_utf8(req.body).unwrap();
        assert!(body.contains("Action=DecodeAuthorizationMessage"), "{body}");
        assert!(body.contains("EncodedMessage=a-b_c"), "{body}");
    }

    #[test]
    fn reads_a_decoded_implicit_deny() {
        // Shape of AWS's examples (see parse_decoded); an EC2 action without its prefix.
        let json = r#"{"allowed":false,"explicitDeny":false,"matchedStatements":{"items":[]},
            "failures":{"items":[]},
            "context":{"principal":{"id":"AROAEXAMPLE:s","arn":"arn:aws:sts::111122223333:assumed-role/r/s"},
            "action":"RunInstances","resource":"arn:aws:ec2:us-west-2:111122223333:instance/*",
            "conditions":{"items":[
              {"key":"ec2:InstanceType","values":{"items":[{"value":"t3.micro"}]}},
              {"key":"aws:TagKeys","values":{"items":[{"value":"Name"},{"value":"owner"}]}}]}}}"#;
        let d = parse_decoded(&sts_answer(json)).unwrap();
        assert!(!d.allowed && !d.explicit_deny);
        assert_eq!(d.action, "ec2:RunInstances");
        assert_eq!(d.resource, "arn:aws:ec2:us-west-2:111122223333:instance/*");
        assert!(d.matched_statements.is_empty());
        assert_eq!(
            d.conditions,
            vec![
                ("ec2:InstanceType".to_string(), vec!["t3.micro".to_string()]),
                ("aws:TagKeys".to_string(), vec!["Name".to_string(), "owner".to_string()]),
            ]
        );
        assert_eq!(
            d.summary(),
            "AWS decoded: ec2:RunInstances on arn:aws:ec2:us-west-2:111122223333:instance/*: implicit deny \
             (no statement matched); context: ec2:InstanceType=t3.micro, aws:TagKeys=[Name, owner]"
        );
    }

    #[test]
    fn reads_a_decoded_explicit_deny() {
        // AWS's CLI example (IAM User Guide, sts_example_sts_DecodeAuthorizationMessage_section),
        // plus a second matched statement without a Sid; `iam:PassRole` keeps its prefix as in
        // the knowledge-center example.
        let json = r#"{"allowed":false,"explicitDeny":true,"matchedStatements":{"items":[
              {"statementId":"VisualEditor0","effect":"DENY","principals":{"items":[{"value":"AROA123456789EXAMPLE"}]},
               "principalGroups":{"items":[]},"actions":{"items":[{"value":"iam:PassRole"}]},
               "resources":{"items":[{"value":"*"}]},"conditions":{"items":[]}},
              {"effect":"DENY","actions":{"items":[{"value":"iam:*"}]},"resources":{"items":[{"value":"*"}]}}]},
            "failures":{"items":[]},
            "context":{"principal":{"id":"AROA123456789EXAMPLE:Ana"},"action":"iam:PassRole",
            "resource":"arn:aws:iam::111122223333:role/nodes.cluster-api-provider-aws.sigs.k8s.io",
            "conditions":{"items":[{"key":"aws:Region","values":{"items":[{"value":"us-east-2"}]}}]}}}"#;
        let d = parse_decoded(&sts_answer(json)).unwrap();
        assert!(!d.allowed && d.explicit_deny);
        assert_eq!(d.action, "iam:PassRole");
        assert_eq!(
            d.matched_statements,
            ["VisualEditor0 (DENY)", "DENY statement without Sid on actions [iam:*] resources [*]"]
        );
        assert_eq!(
            d.summary(),
            "AWS decoded: iam:PassRole on arn:aws:iam::111122223333:role/nodes.cluster-api-provider-aws.sigs.k8s.io: \
             explicit deny by VisualEditor0 (DENY), DENY statement without Sid on actions [iam:*] resources [*]; \
             context: aws:Region=us-east-2"
        );
    }

    #[test]
    fn decoded_allowed_without_context() {
        // What some emulators answer: no context at all.
        let d = parse_decoded(&sts_answer(r#"{"allowed":true,"explicitDeny":false,"matchedStatements":{"items":[]}}"#))
            .unwrap();
        assert!(d.allowed);
        assert_eq!(d.summary(), "AWS decoded: ? on ?: allowed");
    }

    #[test]
    fn decoded_errors() {
        let no_element = "<DecodeAuthorizationMessageResponse><DecodeAuthorizationMessageResult>\
                          </DecodeAuthorizationMessageResult></DecodeAuthorizationMessageResponse>";
        assert!(parse_decoded(no_element).unwrap_err().to_string().contains("no DecodedMessage"));
        let bad_json = sts_answer(r#"{"allowed":false,"explicitDeny":"#);
        assert!(parse_decoded(&bad_json).unwrap_err().to_string().contains("not JSON"));
        let not_object = sts_answer("[1, 2]");
        assert!(parse_decoded(&not_object).unwrap_err().to_string().contains("not a JSON object"));
        let no_flag = sts_answer(r#"{"explicitDeny":false}"#);
        assert!(parse_decoded(&no_flag).unwrap_err().to_string().contains("`allowed`"));
        // An STS error answer (e.g. the caller lacks sts:DecodeAuthorizationMessage).
        let error = "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAuthorizationMessageException</Code>\
                     <Message>The message is invalid</Message></Error><RequestId>r</RequestId></ErrorResponse>";
        assert_eq!(
            parse_decoded(error).unwrap_err().to_string(),
            "DecodeAuthorizationMessage failed: InvalidAuthorizationMessageException: The message is invalid"
        );
    }

    /// A SimulatePrincipalPolicy answer around `results` (the EvaluationResults members).
    fn iam_answer(results: &str, truncated: bool) -> String {
        format!(
            "<SimulatePrincipalPolicyResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\
             <SimulatePrincipalPolicyResult><IsTruncated>{truncated}</IsTruncated>\
             <EvaluationResults>{results}</EvaluationResults></SimulatePrincipalPolicyResult>\
             <ResponseMetadata><RequestId>r-2</RequestId></ResponseMetadata></SimulatePrincipalPolicyResponse>"
        )
    }

    const STATEMENT: &str = "<member><SourcePolicyId>dkp-bootstrapper-policy</SourcePolicyId>\
        <SourcePolicyType>user-managed</SourcePolicyType>\
        <StartPosition><Line>1</Line><Column>420</Column></StartPosition>\
        <EndPosition><Line>1</Line><Column>600</Column></EndPosition></member>";

    #[test]
    fn reads_simulation_decisions() {
        // Shapes from the API reference (EvaluationResult, Statement, Position): the older
        // layout, one result per (action, resource), without ResourceSpecificResults.
        let results = format!(
            "<member><EvalActionName>ec2:DescribeVpcs</EvalActionName><EvalResourceName>*</EvalResourceName>\
             <EvalDecision>allowed</EvalDecision><MatchedStatements>{STATEMENT}</MatchedStatements>\
             <MissingContextValues/><EvalDecisionDetails/></member>\
             <member><EvalActionName>ec2:CreateVpnGateway</EvalActionName><EvalResourceName>*</EvalResourceName>\
             <EvalDecision>implicitDeny</EvalDecision><MatchedStatements/><MissingContextValues/></member>\
             <member><EvalActionName>iam:CreateServiceLinkedRole</EvalActionName>\
             <EvalResourceName>arn:aws:iam::1:role/aws-service-role/x</EvalResourceName>\
             <EvalDecision>explicitDeny</EvalDecision><MatchedStatements><member>\
             <SourcePolicyId>deny-all</SourcePolicyId></member></MatchedStatements>\
             <MissingContextValues><member>iam:AWSServiceName</member><member>aws:SourceIp</member>\
             </MissingContextValues></member>"
        );
        let got = parse_simulation(&iam_answer(&results, false)).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(
            got[0],
            SimResult {
                action: "ec2:DescribeVpcs".into(),
                resource: "*".into(),
                decision: SimDecision::Allowed,
                matched: vec!["dkp-bootstrapper-policy (user-managed) 1:420-1:600".into()],
                missing_context: vec![],
            }
        );
        assert_eq!(got[1].decision, SimDecision::ImplicitDeny);
        assert!(got[1].matched.is_empty());
        assert_eq!(got[2].decision, SimDecision::ExplicitDeny);
        assert_eq!(got[2].resource, "arn:aws:iam::1:role/aws-service-role/x");
        assert_eq!(got[2].matched, ["deny-all"]);
        assert_eq!(got[2].missing_context, ["iam:AWSServiceName", "aws:SourceIp"]);
    }

    #[test]
    fn reads_resource_specific_results() {
        // The current layout (API_EvaluationResult "Important" note): one result per action,
        // per-resource decisions under ResourceSpecificResults; the SCP detail denies.
        let results = format!(
            "<member><EvalActionName>secretsmanager:CreateSecret</EvalActionName>\
             <EvalDecision>explicitDeny</EvalDecision><MatchedStatements/>\
             <MissingContextValues><member>aws:RequestTag/owner</member></MissingContextValues>\
             <OrganizationsDecisionDetail><AllowedByOrganizations>false</AllowedByOrganizations>\
             </OrganizationsDecisionDetail>\
             <ResourceSpecificResults>\
             <member><EvalResourceName>arn:aws:secretsmanager:us-west-2:1:secret:aws.cluster.x-k8s.io/a</EvalResourceName>\
             <EvalResourceDecision>allowed</EvalResourceDecision><MatchedStatements>{STATEMENT}</MatchedStatements>\
             <MissingContextValues/></member>\
             <member><EvalResourceName>arn:aws:secretsmanager:us-west-2:1:secret:other</EvalResourceName>\
             <EvalResourceDecision>implicitDeny</EvalResourceDecision><MatchedStatements/>\
             <MissingContextValues><member>aws:TagKeys</member></MissingContextValues></member>\
             </ResourceSpecificResults></member>"
        );
        let got = parse_simulation(&iam_answer(&results, false)).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].resource, "arn:aws:secretsmanager:us-west-2:1:secret:aws.cluster.x-k8s.io/a");
        assert_eq!(got[0].decision, SimDecision::Allowed);
        assert_eq!(got[0].matched, ["dkp-bootstrapper-policy (user-managed) 1:420-1:600"]);
        assert_eq!(got[0].missing_context, ["aws:RequestTag/owner"]);
        assert_eq!(got[1].decision, SimDecision::ImplicitDeny);
        assert_eq!(got[1].matched, ["denied by an AWS Organizations SCP"], "the top-level details carry over");
        assert_eq!(got[1].missing_context, ["aws:TagKeys", "aws:RequestTag/owner"]);
    }

    #[test]
    fn simulation_errors() {
        let truncated = iam_answer("", true).replace("</IsTruncated>", "</IsTruncated><Marker>m-1</Marker>");
        let err = parse_simulation(&truncated).unwrap_err().to_string();
        assert!(err.contains("truncated") && err.contains("m-1"), "{err}");
        assert_eq!(parse_simulation(&iam_answer("", false)).unwrap(), vec![]);
        let bad_decision = "<member><EvalActionName>ec2:X</EvalActionName><EvalDecision>maybe</EvalDecision></member>";
        assert!(parse_simulation(&iam_answer(bad_decision, false)).unwrap_err().to_string().contains("`maybe`"));
        let no_decision = "<member><EvalActionName>ec2:X</EvalActionName></member>";
        assert!(parse_simulation(&iam_answer(no_decision, false)).unwrap_err().to_string().contains("no EvalDecision"));
        // Cut off mid-answer: the result element never closes.
        let cut = &iam_answer("", false)[..90];
        assert!(parse_simulation(cut).unwrap_err().to_string().contains("not a SimulatePrincipalPolicy answer"));
        let error = "<ErrorResponse><Error><Code>NoSuchEntity</Code><Message>role r not found</Message></Error>\
                     </ErrorResponse>";
        assert_eq!(
            parse_simulation(error).unwrap_err().to_string(),
            "SimulatePrincipalPolicy failed: NoSuchEntity: role r not found"
        );
    }

    /// The answer of `operation` in the wire model's fixtures (`wire/fixtures/responses.json`).
    fn fixture(operation: &str) -> String {
        let fixtures: Value = serde_json::from_str(include_str!("../wire/fixtures/responses.json")).unwrap();
        let case = fixtures["cases"].as_array().unwrap().iter().find(|c| c["operation"] == operation).unwrap();
        case["body"].as_str().unwrap().to_string()
    }

    #[test]
    fn reads_the_fixture_answers() {
        let d = parse_decoded(&fixture("DecodeAuthorizationMessage")).unwrap();
        assert!(!d.allowed && !d.explicit_deny);
        assert_eq!(d.action, "RunInstances", "no resource ARN to take a prefix from");
        let got = parse_simulation(&fixture("SimulatePrincipalPolicy")).unwrap();
        assert_eq!(
            got,
            [
                SimResult {
                    action: "secretsmanager:CreateSecret".into(),
                    resource: "arn:aws:secretsmanager:us-west-2:123456789012:secret:aws.cluster.x-k8s.io/a".into(),
                    decision: SimDecision::Allowed,
                    matched: vec!["dkp-bootstrapper-policy (user-managed) 1:420-1:600".into()],
                    missing_context: vec!["aws:RequestTag/owner".into()],
                },
                SimResult {
                    action: "ec2:DescribeVpcs".into(),
                    resource: "*".into(),
                    decision: SimDecision::Allowed,
                    matched: vec![],
                    missing_context: vec![],
                },
            ]
        );
        // A member of the wrong type is named, not taken for another operation's answer.
        let bad_line =
            fixture("SimulatePrincipalPolicy").replace("<Line>1</Line><Column>420", "<Line>x</Line><Column>420");
        let err = parse_simulation(&bad_line).unwrap_err();
        assert!(matches!(err, SimulationError::Unreadable(_)), "{err}");
        assert!(err.to_string().contains("StartPosition.Line"), "{err}");
        // An error answer without a Message: its code and, as `service_error` reads any
        // such answer, the body's start for the message.
        let bare = "<ErrorResponse><Error><Code>Throttling</Code></Error></ErrorResponse>";
        assert_eq!(
            parse_simulation(bare).unwrap_err(),
            SimulationError::Failed(
                "Throttling: <ErrorResponse><Error><Code>Throttling</Code></Error></ErrorResponse>".into()
            )
        );
    }

    #[test]
    fn simulate_input_types_each_context_key() {
        let context: BTreeMap<String, Vec<String>> = [
            ("aws:SourceIp", vec!["203.0.113.7"]),
            ("ec2:ResourceTag/sigs.k8s.io/cluster-api-provider-aws/role", vec!["common", "node"]),
            ("aws:TagKeys", vec!["Name"]),
            ("ec2:AssociatePublicIpAddress", vec!["true"]),
            ("ec2:VolumeSize", vec!["8"]),
            ("ec2:InstanceType", vec!["t3.micro"]),
            ("x:Unknown", vec!["10.0.0.0/16"]),
            ("y:Unset", vec![]),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.into_iter().map(str::to_string).collect()))
        .collect();
        let check = SimulatedCheck {
            action: "ec2:RunInstances".into(),
            resource: "arn:aws:ec2:us-west-2:1:instance/*".into(),
            context,
        };
        let input = simulate_input("arn:aws:iam::1:role/dkp-bootstrapper-role", &check);
        assert_eq!(input["PolicySourceArn"], "arn:aws:iam::1:role/dkp-bootstrapper-role");
        assert_eq!(input["ActionNames"], json!(["ec2:RunInstances"]));
        assert_eq!(input["ResourceArns"], json!(["arn:aws:ec2:us-west-2:1:instance/*"]));
        let types: Vec<(&str, &str)> = input["ContextEntries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["ContextKeyName"].as_str().unwrap(), e["ContextKeyType"].as_str().unwrap()))
            .collect();
        assert_eq!(
            types,
            [
                ("aws:SourceIp", "ip"),
                ("aws:TagKeys", "stringList"),
                ("ec2:AssociatePublicIpAddress", "boolean"),
                ("ec2:InstanceType", "string"),
                ("ec2:ResourceTag/sigs.k8s.io/cluster-api-provider-aws/role", "stringList"),
                ("ec2:VolumeSize", "numeric"),
                ("x:Unknown", "ip"),
            ],
            "a key without values is left out"
        );
        let multi = &input["ContextEntries"][4];
        assert_eq!(multi["ContextKeyValues"], json!(["common", "node"]));

        // The input serializes with the embedded IAM wire model (query protocol).
        let iam = crate::wire::models().service("iam").unwrap();
        let body =
            String::from_utf8(crate::wire::serialize(iam, "SimulatePrincipalPolicy", &input).unwrap().body).unwrap();
        for part in [
            "Action=SimulatePrincipalPolicy",
            "ActionNames.member.1=ec2%3ARunInstances",
            "ContextEntries.member.1.ContextKeyName=aws%3ASourceIp",
            "ContextEntries.member.1.ContextKeyType=ip",
            "ContextEntries.member.5.ContextKeyValues.member.2=node",
            "ContextEntries.member.5.ContextKeyType=stringList",
        ] {
            assert!(body.contains(part), "{part} missing from {body}");
        }
    }

    #[test]
    fn context_key_types() {
        let one = |v: &str| vec![v.to_string()];
        assert_eq!(context_key_type("AWS:SourceIP", &one("10.1.2.3/32")), "ip", "keys are case-insensitive");
        assert_eq!(context_key_type("aws:SourceIp", &["10.0.0.1".into(), "10.0.0.2".into()]), "ipList");
        assert_eq!(context_key_type("aws:SecureTransport", &one("true")), "boolean");
        assert_eq!(context_key_type("aws:RequestTag/Name", &one("c1-vpc")), "string");
        assert_eq!(context_key_type("iam:PassedToService", &one("ec2.amazonaws.com")), "string");
        assert_eq!(context_key_type("aws:CurrentTime", &one("2024-01-01T00:00:00Z")), "date");
        assert_eq!(context_key_type("x:Other", &one("true")), "string", "unknown keys are not guessed boolean");
        assert_eq!(context_key_type("x:Other", &one("300.1.1.1")), "string");
        assert!(!template_matches("aws:RequestTag/${TagKey}", "aws:requesttag/"), "a placeholder needs a character");
        assert!(template_matches("a:${X}/b/${Y}", "a:1/b/2"));
        assert!(!template_matches("a:${X}/b/${Y}", "a:1/c/2"));
        assert!(!template_matches("a${X}b${Y}c${Z}", "a1b"), "runs out of key without panicking");
        assert!(template_matches("a${X}b${Y}c${Z}", "a1b2c3"));
    }

    #[test]
    fn disagreement_table() {
        use SimDecision::*;
        // (model, live, simulator) → disagrees?, and a word the sentence must contain.
        let table: &[(bool, Option<bool>, SimDecision, Option<&str>)] = &[
            (true, Some(true), Allowed, None),
            (false, Some(false), ImplicitDeny, None),
            (false, Some(false), ExplicitDeny, None),
            (true, None, Allowed, None),
            (false, None, ExplicitDeny, None),
            (true, None, ImplicitDeny, Some("no live answer")),
            (false, None, Allowed, Some("no live answer")),
            (true, Some(false), ImplicitDeny, Some("the model is the odd one out")),
            (false, Some(true), Allowed, Some("the model is the odd one out")),
            (true, Some(false), Allowed, Some("does not see")),
            (false, Some(true), ExplicitDeny, Some("does not see")),
            (true, Some(true), ExplicitDeny, Some("simulator says explicitDeny")),
            (false, Some(false), Allowed, Some("simulator says allowed")),
        ];
        for &(model, live, sim, expected) in table {
            let got = disagreement(model, live, sim);
            match expected {
                None => assert_eq!(got, None, "({model}, {live:?}, {sim:?})"),
                Some(word) => {
                    let sentence = got.unwrap_or_else(|| panic!("({model}, {live:?}, {sim:?}) should disagree"));
                    assert!(sentence.contains(word), "({model}, {live:?}, {sim:?}): {sentence}");
                }
            }
        }
        assert_eq!(serde_json::to_value(ExplicitDeny).unwrap(), json!("explicitDeny"));
    }
}
