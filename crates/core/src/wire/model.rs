//! The embedded wire model: per service, the wire protocol, the input shapes of the
//! operations this project sends, the output shapes, paginators and waiters of those
//! whose answers it reads, extracted from botocore by `catalog/wire_model.py` (see
//! `catalog/WIRE-MODEL.md`).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

const EMBEDDED: &str = include_str!("../../../../catalog/wire-model.json");

/// The wire protocol of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// EC2 query: form-encoded, lists always `Name.N`, locationNames capitalised.
    Ec2,
    /// AWS query: form-encoded, lists `Name.member.N`, maps `Name.entry.N.key`.
    Query,
    /// AWS JSON 1.0/1.1: JSON body, operation in `x-amz-target`.
    Json,
}

/// The whole wire model: where it came from and every service's model.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireModels {
    /// Where it was extracted from, and by what.
    pub source: Source,
    pub(crate) services: BTreeMap<String, ServiceModel>,
}

/// The provenance of the wire model.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// The package the model was read from (`botocore`).
    pub package: String,
    /// That package's version.
    pub version: String,
    /// That package's license.
    pub license: String,
    /// Per service prefix, the botocore file the service was read from.
    pub files: BTreeMap<String, String>,
    /// Per service prefix, the botocore `paginators-1.json` its paginators come from.
    pub paginators: BTreeMap<String, String>,
    /// Per service prefix, the botocore `waiters-2.json` its waiters come from.
    pub waiters: BTreeMap<String, String>,
    /// The script that extracted it (`catalog/wire_model.py`).
    pub generator: String,
}

/// One service's wire model: its protocol, endpoint and signing names, operations and shapes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceModel {
    /// Our service prefix (the IAM prefix: `ec2`, `elasticloadbalancing`, `tag`, ...).
    #[serde(skip)]
    pub prefix: String,
    /// botocore's service name (`elb`, `resourcegroupstaggingapi`, ...).
    #[serde(rename = "botocore")]
    pub botocore_name: String,
    /// How its requests and answers are encoded.
    pub protocol: Protocol,
    /// The API version query requests carry in `Version`.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// json services: the `x-amz-target` prefix before `.Operation`.
    #[serde(rename = "targetPrefix")]
    pub target_prefix: Option<String>,
    /// json services: the JSON version of the content type (`1.1` in `application/x-amz-json-1.1`).
    #[serde(rename = "jsonVersion")]
    pub json_version: Option<String>,
    /// The service name in the SigV4 credential scope.
    #[serde(rename = "signingName")]
    pub signing_name: String,
    /// The first label of the service's endpoint host.
    #[serde(rename = "endpointPrefix")]
    pub endpoint_prefix: String,
    pub(crate) operations: BTreeMap<String, Operation>,
    pub(crate) shapes: BTreeMap<String, Shape>,
    /// botocore's waiters kept for this service, by name (`StackDeleteComplete`).
    #[serde(default)]
    pub(crate) waiters: BTreeMap<String, Waiter>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Operation {
    pub input: Option<String>,
    /// The output shape's name; its shapes are kept only when `read`.
    pub output: Option<String>,
    /// Whether the project reads this operation's answer: its output shapes, result
    /// wrapper and paginator are in the model.
    #[serde(default)]
    pub read: bool,
    /// query protocol: the element under the root that holds the output (`DescribeStacksResult`).
    #[serde(rename = "resultWrapper")]
    pub result_wrapper: Option<String>,
    pub paginator: Option<Paginator>,
}

/// How an operation's answers page (botocore's `paginators-1.json`): the input members
/// that take the next page's tokens, the output members that carry them, the output
/// lists that hold the page's results. See [`super::next_input`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Paginator {
    /// Input members the tokens go into (`NextToken`, `Marker`), in step with `output_token`.
    pub input_token: Vec<String>,
    /// Output members the next page's tokens come from (`NextToken`, `NextMarker`, `Marker`).
    pub output_token: Vec<String>,
    /// Output members holding the page's results; the first is the primary one.
    pub result_key: Vec<String>,
    /// The input member that bounds a page's size (`MaxResults`, `MaxItems`).
    pub limit_key: Option<String>,
    /// An output member that must be true for another page to follow (IAM's `IsTruncated`).
    pub more_results: Option<String>,
}

/// A botocore waiter (`waiters-2.json`): which operation to poll, how often, and the
/// acceptors that read each answer. See [`super::waiter_state`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Waiter {
    /// The operation polled (`DescribeStacks`).
    pub operation: String,
    /// botocore's delay between polls, in seconds.
    pub delay: u64,
    /// botocore's number of polls before it gives up.
    #[serde(rename = "maxAttempts")]
    pub max_attempts: u32,
    /// Tried in order; the first that matches an answer decides its state.
    pub acceptors: Vec<Acceptor>,
}

/// One acceptor of a [`Waiter`]: when `matcher` finds `expected`, the wait is in `state`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Acceptor {
    /// The state the wait is in when it matches.
    pub state: AcceptorState,
    /// What it looks at.
    pub matcher: Matcher,
    /// The JMESPath expression of a `path*` matcher (`Stacks[].StackStatus`).
    pub argument: Option<String>,
    /// The value matched: a status code, an error code, or what the argument must give.
    pub expected: serde_json::Value,
    /// `argument`, compiled when the model loads.
    #[serde(skip)]
    pub(crate) compiled: Option<super::search::Expression>,
}

/// The state an acceptor puts the wait in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AcceptorState {
    /// The wait is over: what was waited for happened.
    Success,
    /// The wait is over: it will not happen.
    Failure,
    /// Poll again.
    Retry,
}

/// What an acceptor looks at (botocore's five matchers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Matcher {
    /// The argument's value equals `expected`.
    #[serde(rename = "path")]
    Path,
    /// The argument gives a non-empty list whose every element equals `expected`.
    #[serde(rename = "pathAll")]
    PathAll,
    /// The argument gives a non-empty list with an element equal to `expected`.
    #[serde(rename = "pathAny")]
    PathAny,
    /// The HTTP status equals `expected`.
    #[serde(rename = "status")]
    Status,
    /// The error code equals `expected` (`true`: any error; `false`: no error).
    #[serde(rename = "error")]
    Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ShapeType {
    Structure,
    List,
    Map,
    String,
    Integer,
    Long,
    Boolean,
    Float,
    Double,
    Timestamp,
    Blob,
}

impl ShapeType {
    pub fn name(self) -> &'static str {
        match self {
            ShapeType::Structure => "structure",
            ShapeType::List => "list",
            ShapeType::Map => "map",
            ShapeType::String => "string",
            ShapeType::Integer => "integer",
            ShapeType::Long => "long",
            ShapeType::Boolean => "boolean",
            ShapeType::Float => "float",
            ShapeType::Double => "double",
            ShapeType::Timestamp => "timestamp",
            ShapeType::Blob => "blob",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Shape {
    #[serde(rename = "type")]
    pub kind: ShapeType,
    /// Structure members, by API member name.
    #[serde(default)]
    pub members: BTreeMap<String, MemberRef>,
    /// List element.
    pub member: Option<MemberRef>,
    /// Map key and value.
    pub key: Option<MemberRef>,
    pub value: Option<MemberRef>,
}

/// A reference to a shape with the serialization traits in effect at that place
/// (the reference's own, else the target shape's; the generator merges them).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MemberRef {
    pub shape: String,
    #[serde(rename = "locationName")]
    pub location_name: Option<String>,
    #[serde(rename = "queryName")]
    pub query_name: Option<String>,
    #[serde(default)]
    pub flattened: bool,
    /// A token SDKs generate when the caller gives none (`ClientRequestToken`…).
    #[serde(default, rename = "idempotencyToken")]
    pub idempotency_token: bool,
}

/// The wire models of all services, parsed once from the embedded JSON.
pub fn models() -> &'static WireModels {
    static MODELS: OnceLock<WireModels> = OnceLock::new();
    MODELS.get_or_init(|| {
        let mut m: WireModels = serde_json::from_str(EMBEDDED).expect("embedded catalog/wire-model.json is valid");
        for (prefix, svc) in &mut m.services {
            svc.prefix = prefix.clone();
        }
        if let Err(problems) = m.check() {
            panic!("embedded catalog/wire-model.json is inconsistent:\n{}", problems.join("\n"));
        }
        m.compile().unwrap_or_else(|problems| {
            panic!("embedded catalog/wire-model.json has unreadable waiters:\n{}", problems.join("\n"))
        });
        m
    })
}

impl WireModels {
    /// The model of a service, by our service prefix (`ec2`, `elasticloadbalancing`, `tag`, ...).
    pub fn service(&self, prefix: &str) -> Option<&ServiceModel> {
        self.services.get(prefix)
    }

    /// All services, sorted by prefix.
    pub fn services(&self) -> impl Iterator<Item = &ServiceModel> {
        self.services.values()
    }

    /// Structural checks: every reference resolves, containers have their parts,
    /// json services have a target prefix.
    pub(crate) fn check(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        for svc in self.services.values() {
            let p = &svc.prefix;
            if svc.protocol == Protocol::Json && (svc.target_prefix.is_none() || svc.json_version.is_none()) {
                problems.push(format!("{p}: json protocol needs targetPrefix and jsonVersion"));
            }
            for (name, op) in &svc.operations {
                if let Some(input) = &op.input {
                    match svc.shapes.get(input) {
                        Some(s) if s.kind == ShapeType::Structure => {}
                        _ => problems.push(format!("{p}:{name}: input {input} is not a structure shape")),
                    }
                }
                if op.read
                    && let Some(output) = &op.output
                {
                    match svc.shapes.get(output) {
                        Some(s) if s.kind == ShapeType::Structure => {}
                        _ => problems.push(format!("{p}:{name}: output {output} is not a structure shape")),
                    }
                }
                if !op.read && (op.paginator.is_some() || op.result_wrapper.is_some()) {
                    problems.push(format!("{p}:{name}: a paginator or result wrapper on an operation not read"));
                }
                if let Some(pag) = &op.paginator {
                    let members = |shape: &Option<String>| -> Vec<&String> {
                        shape
                            .as_ref()
                            .and_then(|s| svc.shapes.get(s))
                            .map(|s| s.members.keys().collect())
                            .unwrap_or_default()
                    };
                    let (input, output) = (members(&op.input), members(&op.output));
                    if pag.input_token.len() != pag.output_token.len() || pag.result_key.is_empty() {
                        problems.push(format!("{p}:{name}: paginator tokens or result keys do not pair up"));
                    }
                    for t in pag.input_token.iter().chain(pag.limit_key.iter()) {
                        if !input.contains(&t) {
                            problems.push(format!("{p}:{name}: paginator input member {t} is not in the input"));
                        }
                    }
                    for t in pag.output_token.iter().chain(&pag.result_key).chain(pag.more_results.iter()) {
                        if !output.contains(&t) {
                            problems.push(format!("{p}:{name}: paginator output member {t} is not in the output"));
                        }
                    }
                }
            }
            for (name, w) in &svc.waiters {
                if !svc.operations.get(&w.operation).is_some_and(|op| op.read) {
                    problems.push(format!("{p}: waiter {name} polls {}, which is not a read operation", w.operation));
                }
                for a in &w.acceptors {
                    let path = matches!(a.matcher, Matcher::Path | Matcher::PathAll | Matcher::PathAny);
                    if path != a.argument.is_some() {
                        problems.push(format!(
                            "{p}: waiter {name}: a {:?} acceptor with argument {:?}",
                            a.matcher, a.argument
                        ));
                    }
                }
            }
            for (name, shape) in &svc.shapes {
                let need = |part: &Option<MemberRef>, what: &str, problems: &mut Vec<String>| {
                    if part.is_none() {
                        problems.push(format!("{p}: {} shape {name} has no {what}", shape.kind.name()));
                    }
                };
                match shape.kind {
                    ShapeType::List => need(&shape.member, "member", &mut problems),
                    ShapeType::Map => {
                        need(&shape.key, "key", &mut problems);
                        need(&shape.value, "value", &mut problems);
                    }
                    _ => {}
                }
                let refs =
                    shape.members.values().chain(shape.member.iter()).chain(shape.key.iter()).chain(shape.value.iter());
                for r in refs {
                    if !svc.shapes.contains_key(&r.shape) {
                        problems.push(format!("{p}: shape {name} refers to missing shape {}", r.shape));
                    }
                }
            }
        }
        if problems.is_empty() { Ok(()) } else { Err(problems) }
    }

    /// Compiles every waiter acceptor's argument.
    pub(crate) fn compile(&mut self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        for svc in self.services.values_mut() {
            for (name, w) in &mut svc.waiters {
                for a in &mut w.acceptors {
                    if let Some(text) = &a.argument {
                        match super::search::Expression::parse(text) {
                            Ok(e) => a.compiled = Some(e),
                            Err(e) => problems.push(format!("{}: waiter {name}: {e}", svc.prefix)),
                        }
                    }
                }
            }
        }
        if problems.is_empty() { Ok(()) } else { Err(problems) }
    }
}

impl ServiceModel {
    /// Whether the model has this operation (only the operations this project sends are kept).
    pub fn has_operation(&self, operation: &str) -> bool {
        self.operations.contains_key(operation)
    }

    /// Whether the operation's input has a top-level member of this name (`DryRun`…).
    pub fn input_has_member(&self, operation: &str, member: &str) -> bool {
        self.operations
            .get(operation)
            .and_then(|op| op.input.as_ref())
            .is_some_and(|input| self.shape(input).members.contains_key(member))
    }

    /// The operation names in the model, sorted.
    pub fn operations(&self) -> impl Iterator<Item = &str> {
        self.operations.keys().map(String::as_str)
    }

    /// Whether the model holds the output shapes of this operation (its answer is read).
    pub fn reads(&self, operation: &str) -> bool {
        self.operations.get(operation).is_some_and(|op| op.read)
    }

    /// The operations whose answers the model can read, sorted.
    pub fn read_operations(&self) -> impl Iterator<Item = &str> {
        self.operations.iter().filter(|(_, op)| op.read).map(|(name, _)| name.as_str())
    }

    /// How the operation's answers page, if botocore says they do.
    pub fn paginator(&self, operation: &str) -> Option<&Paginator> {
        self.operations.get(operation).and_then(|op| op.paginator.as_ref())
    }

    /// A waiter by botocore's name (`StackDeleteComplete`).
    pub fn waiter(&self, name: &str) -> Option<&Waiter> {
        self.waiters.get(name)
    }

    /// The waiters kept for this service, by name.
    pub fn waiters(&self) -> impl Iterator<Item = (&str, &Waiter)> {
        self.waiters.iter().map(|(name, w)| (name.as_str(), w))
    }

    pub(crate) fn shape(&self, name: &str) -> &Shape {
        // `WireModels::check` guarantees every reference resolves.
        &self.shapes[name]
    }

    /// The `content-type` header value of this service's requests.
    pub fn content_type(&self) -> String {
        match self.protocol {
            Protocol::Ec2 | Protocol::Query => "application/x-www-form-urlencoded; charset=utf-8".to_string(),
            Protocol::Json => {
                format!("application/x-amz-json-{}", self.json_version.as_deref().unwrap_or("1.0"))
            }
        }
    }

    /// The wire name of a structure member (the first key segment on ec2/query, the
    /// JSON key on json): ec2 uses queryName, else the locationName capitalised, else
    /// the member name; query and json use the locationName, else the member name.
    pub(crate) fn member_wire_name<'a>(&self, member: &'a str, r: &'a MemberRef) -> std::borrow::Cow<'a, str> {
        use std::borrow::Cow;
        match self.protocol {
            Protocol::Ec2 => {
                if let Some(q) = &r.query_name {
                    Cow::Borrowed(q)
                } else if let Some(l) = &r.location_name {
                    let mut c = l.chars();
                    match c.next() {
                        Some(f) => Cow::Owned(f.to_uppercase().chain(c).collect()),
                        None => Cow::Borrowed(l),
                    }
                } else {
                    Cow::Borrowed(member)
                }
            }
            Protocol::Query | Protocol::Json => match &r.location_name {
                Some(l) => Cow::Borrowed(l),
                None => Cow::Borrowed(member),
            },
        }
    }

    /// The key segment a structure member occupies on ec2/query. Same as
    /// [`Self::member_wire_name`] except for a flattened query list whose element has a
    /// locationName: botocore then replaces the member's segment with that name.
    pub(crate) fn member_segment<'a>(&'a self, member: &'a str, r: &'a MemberRef) -> std::borrow::Cow<'a, str> {
        if self.protocol == Protocol::Query && r.flattened {
            let target = self.shape(&r.shape);
            if target.kind == ShapeType::List
                && let Some(name) = target.member.as_ref().and_then(|m| m.location_name.as_deref())
            {
                return std::borrow::Cow::Borrowed(name);
            }
        }
        self.member_wire_name(member, r)
    }
}
