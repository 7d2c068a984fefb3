//! `sweep`: finds what runs on a real account left behind and deletes it in dependency
//! order. Everything a run creates carries two tags, [`RUN_ID_TAG`] (the run id,
//! `YYYYMMDDTHHMMSSZ-<hex pid>`) and [`EXPIRES_TAG`] (RFC 3339 UTC); a run killed before
//! its teardown leaves tagged resources, and `sweep` selects them by run id or by age.
//!
//! The pure parts — which resources a selector picks and in which order they go
//! ([`plan`]), how a run tags what it creates ([`tag_call`]), which calls delete a
//! resource ([`deletion_calls`], [`role_listings`], [`group_rule_listings`] and
//! [`group_reference_revokes`]), how each service's listing is read (from answers
//! parsed by `wire::parse_response`, paged by `wire::next_input`), how the end of an
//! asynchronous deletion is seen ([`deletion_listing`], with botocore's waiters) — are
//! separate from the two effectful ones, `find` and `delete` (in `iamc-live`'s
//! `sweep`). Which answers mean "already gone" or "try again" is
//! [`super::errors::classify`]; how long to keep trying, [`super::retry::RetryPolicy`].
//! Each kind's facts (label, service, id prefix, listing, tag call, deletion calls) are
//! data, `catalog/resource-kinds.toml` read by [`super::kinds`]; the functions here are
//! the rules that use them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::kinds::{self, CallTemplate, KindRow};

/// The tag whose value is the id of the run that created the resource.
pub const RUN_ID_TAG: &str = "iam-conformance:run-id";
/// The tag whose value is the RFC 3339 UTC time after which the resource may be swept.
pub const EXPIRES_TAG: &str = "iam-conformance:expires";

/// What a run creates. The declaration order is the deletion order: each kind goes
/// before everything it depends on. Each kind's facts (label, service, listing, tag
/// and deletion calls) are its row of `catalog/resource-kinds.toml` ([`Kind::row`]),
/// which lists the kinds in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Kind {
    /// An Auto Scaling group.
    AutoScalingGroup,
    /// A classic Elastic Load Balancing load balancer.
    LoadBalancer,
    /// An EC2 instance.
    Instance,
    /// A NAT gateway.
    NatGateway,
    /// An Elastic IP address.
    Address,
    /// A VPC route table.
    RouteTable,
    /// An internet gateway.
    InternetGateway,
    /// A VPC subnet.
    Subnet,
    /// An EC2 security group.
    SecurityGroup,
    /// A VPC.
    Vpc,
    /// An EC2 launch template.
    LaunchTemplate,
    /// An EC2 key pair.
    KeyPair,
    /// An EC2 volume.
    Volume,
    /// A Secrets Manager secret.
    Secret,
    /// After the instances that use it; before its roles.
    InstanceProfile,
    /// An IAM role that is not service-linked (the fixtures' roles).
    Role,
    /// A service-linked IAM role, deleted with DeleteServiceLinkedRole.
    ServiceLinkedRole,
    /// A CloudFormation stack.
    Stack,
}

impl Kind {
    /// Every kind, in deletion order.
    pub const ALL: [Kind; 18] = [
        Kind::AutoScalingGroup,
        Kind::LoadBalancer,
        Kind::Instance,
        Kind::NatGateway,
        Kind::Address,
        Kind::RouteTable,
        Kind::InternetGateway,
        Kind::Subnet,
        Kind::SecurityGroup,
        Kind::Vpc,
        Kind::LaunchTemplate,
        Kind::KeyPair,
        Kind::Volume,
        Kind::Secret,
        Kind::InstanceProfile,
        Kind::Role,
        Kind::ServiceLinkedRole,
        Kind::Stack,
    ];

    /// A name for reports ("internet gateway"), from `catalog/resource-kinds.toml`.
    pub fn label(self) -> &'static str {
        &kinds::row(self).label
    }

    /// The service whose API creates, tags and deletes this kind.
    pub fn service(self) -> &'static str {
        &kinds::row(self).service
    }

    /// The kind's facts: its row of `catalog/resource-kinds.toml`.
    pub fn row(self) -> &'static KindRow {
        kinds::row(self)
    }
}

/// A resource carrying [`RUN_ID_TAG`], as `find` (in `iamc-live`'s `sweep`) listed it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Tagged {
    /// What the resource is.
    pub kind: Kind,
    /// The id deletion takes: the EC2 id (`vpc-…`, `eipalloc-…`), the load balancer's or
    /// Auto Scaling group's name, the secret's ARN, the instance profile's name, the
    /// role's name, the service-linked role's ARN, the stack's name.
    pub id: String,
    /// The value of [`RUN_ID_TAG`]; `None` when the service matched the tag key but did
    /// not show its value (moto's launch templates tagged after creation).
    pub run_id: Option<String>,
    /// The value of [`EXPIRES_TAG`], if present.
    pub expires: Option<String>,
    /// What must be undone before the delete: an internet gateway's VPCs, a route table's
    /// association ids, an Elastic IP address's association id, an instance profile's
    /// roles (a role's attachments are listed when it is deleted: see [`role_listings`]).
    pub attached_to: Vec<String>,
    /// A key pair's name: it is deleted by name (moto ignores `KeyPairId` in
    /// DeleteKeyPair and answers success; names are unique per region on AWS too).
    pub name: Option<String>,
}

/// Which tagged resources a sweep deletes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    /// Those of one run.
    RunId(String),
    /// Those of runs started longer ago than this, or whose expiry has passed.
    OlderThan(Duration),
}

/// A `--older-than` value that is not a duration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("--older-than `{text}`: {problem} (expected a duration such as 90s, 30m, 6h or 2d)")]
pub struct DurationError {
    /// The value as given.
    pub text: String,
    /// What is wrong with it.
    pub problem: DurationProblem,
}

/// What is wrong with a duration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationProblem {
    /// Nothing was given.
    #[error("empty value")]
    Empty,
    /// A unit without a number before it.
    #[error("a number must come before each unit")]
    NoNumber,
    /// A number that does not fit 64 bits.
    #[error("number too large")]
    NumberTooLarge,
    /// A number without a unit after it.
    #[error("missing unit")]
    MissingUnit,
    /// A unit other than `s`, `m`, `h`, `d`.
    #[error("unknown unit `{0}`")]
    UnknownUnit(char),
    /// More seconds than 64 bits hold.
    #[error("too long")]
    TooLong,
}

/// Reads a `--older-than` value: whole numbers with a unit, `s`, `m`, `h` or `d`,
/// optionally combined (`90s`, `30m`, `6h`, `2d`, `1h30m`).
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let bad = |problem: DurationProblem| DurationError { text: text.to_string(), problem };
    if text.is_empty() {
        return Err(bad(DurationProblem::Empty));
    }
    let mut total: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(bad(DurationProblem::NoNumber));
        }
        let number: u64 = rest[..digits].parse().map_err(|_| bad(DurationProblem::NumberTooLarge))?;
        rest = &rest[digits..];
        let unit = rest.chars().next().ok_or_else(|| bad(DurationProblem::MissingUnit))?;
        let seconds = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(bad(DurationProblem::UnknownUnit(unit))),
        };
        rest = &rest[unit.len_utf8()..];
        total = number
            .checked_mul(seconds)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(|| bad(DurationProblem::TooLong))?;
    }
    Ok(Duration::from_secs(total))
}

/// When a run started, from its id (`20261128T193150Z-1a2b`).
pub fn run_started(run_id: &str) -> Option<SystemTime> {
    let (stamp, pid) = run_id.split_once('-')?;
    if pid.is_empty() || !pid.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let b = stamp.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let n = |range: std::ops::Range<usize>| -> Option<u32> {
        let s = stamp.get(range)?;
        if s.chars().all(|c| c.is_ascii_digit()) { s.parse().ok() } else { None }
    };
    to_system_time(n(0..4)?, n(4..6)?, n(6..8)?, n(9..11)?, n(11..13)?, n(13..15)?, 0)
}

/// Reads an RFC 3339 time (`2026-11-28T23:31:50Z`, fractional seconds and `±HH:MM`
/// offsets accepted).
pub fn parse_timestamp(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let n = |range: std::ops::Range<usize>| -> Option<u32> {
        let s = text.get(range)?;
        if s.chars().all(|c| c.is_ascii_digit()) { s.parse().ok() } else { None }
    };
    let mut rest = text.get(19..)?;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.find(|c: char| !c.is_ascii_digit()).unwrap_or(frac.len());
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset: i64 = match rest {
        "Z" | "z" => 0,
        _ => {
            let rb = rest.as_bytes();
            if rb.len() != 6 || !matches!(rb[0], b'+' | b'-') || rb[3] != b':' {
                return None;
            }
            let part =
                |s: &str| -> Option<i64> { if s.chars().all(|c| c.is_ascii_digit()) { s.parse().ok() } else { None } };
            let (h, m) = (part(&rest[1..3])?, part(&rest[4..6])?);
            if h > 23 || m > 59 {
                return None;
            }
            let sign = if rb[0] == b'-' { -1 } else { 1 };
            sign * (h * 3600 + m * 60)
        }
    };
    // A time at +02:00 is two hours earlier in UTC.
    to_system_time(n(0..4)?, n(5..7)?, n(8..10)?, n(11..13)?, n(14..16)?, n(17..19)?, -offset)
}

/// An RFC 3339 UTC time to the second (`2026-11-28T23:31:50Z`), as [`EXPIRES_TAG`] holds.
pub fn format_timestamp(time: SystemTime) -> String {
    crate::calendar::rfc3339(time)
}

/// The UTC calendar time `y-mo-d h:mi:s` plus `shift` seconds, or `None` when a field is out of range.
pub fn to_system_time(y: u32, mo: u32, d: u32, h: u32, mi: u32, s: u32, shift: i64) -> Option<SystemTime> {
    let leap = (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&mo) || d == 0 || d > month_days[mo as usize - 1] || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let secs = crate::calendar::days_from_civil(i64::from(y), mo, d) * 86_400
        + i64::from(h) * 3600
        + i64::from(mi) * 60
        + i64::from(s)
        + shift;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

/// Whether `OlderThan` can date a resource at all: its run id or its expiry parses.
pub fn dated(t: &Tagged) -> bool {
    t.run_id.as_deref().and_then(run_started).is_some() || t.expires.as_deref().and_then(parse_timestamp).is_some()
}

/// The resources `OlderThan` can never select: neither their run id nor their expiry
/// parses (the caller reports them instead of deleting them).
pub fn undated(found: &[Tagged]) -> Vec<&Tagged> {
    found.iter().filter(|t| !dated(t)).collect()
}

/// Whether `selector` picks `t` at `now` (the filter of [`plan`]).
pub fn selected(t: &Tagged, selector: &Selector, now: SystemTime) -> bool {
    match selector {
        Selector::RunId(id) => t.run_id.as_deref() == Some(id.as_str()),
        Selector::OlderThan(age) => {
            let expired = t.expires.as_deref().and_then(parse_timestamp).is_some_and(|e| e <= now);
            let old = match (t.run_id.as_deref().and_then(run_started), now.checked_sub(*age)) {
                (Some(started), Some(cutoff)) => started < cutoff,
                _ => false,
            };
            expired || old
        }
    }
}

/// Pure: what to delete and in which order. `OlderThan` selects a resource whose run
/// id's timestamp is older than `now - d`, or whose expiry has passed; a resource with
/// neither parseable is left alone (see [`undated`]). The result is in deletion order
/// (the order of [`Kind`], then by id), each resource once.
pub fn plan(found: &[Tagged], selector: &Selector, now: SystemTime) -> Vec<Tagged> {
    let mut out: Vec<Tagged> = found.iter().filter(|t| selected(t, selector, now)).cloned().collect();
    out.sort_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));
    out.dedup_by(|a, b| a.kind == b.kind && a.id == b.id);
    out
}

/// The `Tags` list a run puts on what it creates: [`RUN_ID_TAG`] and [`EXPIRES_TAG`].
pub fn tag_list(run_id: &str, expires: &str) -> Value {
    json!([{"Key": RUN_ID_TAG, "Value": run_id}, {"Key": EXPIRES_TAG, "Value": expires}])
}

/// The name of an IAM role or instance profile from its ARN
/// (`…:role/aws-service-role/<service>/<name>`, `…:instance-profile/<path>/<name>`), or the
/// text itself when it is a name already.
pub fn iam_name(id: &str) -> &str {
    if id.starts_with("arn:") { id.rsplit('/').next().unwrap_or(id) } else { id }
}

/// The values a row's templates fill their placeholders from (see
/// `catalog/resource-kinds.toml`): `{id}`, `{iam_name}`, and `extra`.
fn vars<'a>(id: &str, extra: impl IntoIterator<Item = (&'a str, Value)>) -> Vec<(&'a str, Value)> {
    let mut out = vec![("id", Value::from(id)), ("iam_name", Value::from(iam_name(id)))];
    out.extend(extra);
    out
}

/// A row's call template, filled.
fn filled(kind: Kind, template: &'static CallTemplate, vars: &kinds::Vars) -> Call {
    call(
        kind.service(),
        &template.operation,
        &kinds::fill_text(&template.what, vars),
        kinds::fill(&template.input, vars),
    )
}

/// Pure: how to tag a resource the run just created: (service, operation, input), the
/// kind's `tag` in `catalog/resource-kinds.toml`. EC2 `CreateTags` on the id; classic ELB
/// `AddTags`; Auto Scaling `CreateOrUpdateTags` (propagated to the instances the group
/// launches); Secrets Manager `TagResource`; IAM `TagInstanceProfile` for an instance
/// profile, `TagRole` for a role or a service-linked role. A stack is tagged by
/// `CreateStack`: `None`.
pub fn tag_call(kind: Kind, id: &str, run_id: &str, expires: &str) -> Option<(&'static str, &'static str, Value)> {
    let tag = kind.row().tag.as_ref()?;
    let plain = || serde_json::Map::from_iter([("Key".into(), json!("{key}")), ("Value".into(), json!("{value}"))]);
    let each = tag.each_tag.clone().unwrap_or_else(plain);
    let tags: Vec<Value> = [(RUN_ID_TAG, run_id), (EXPIRES_TAG, expires)]
        .into_iter()
        .map(|(key, value)| kinds::fill(&each, &vars(id, [("key", json!(key)), ("value", json!(value))])))
        .collect();
    let input = kinds::fill(&tag.input, &vars(id, [("tags", Value::Array(tags))]));
    Some((kind.service(), tag.operation.as_str(), input))
}

/// Pure: the kind of an id or ARN a create call produced (`vpc-`, `subnet-`, `igw-`,
/// `nat-`, `eipalloc-`, `rtb-`, `sg-`, `i-`, `lt-`, `vol-`, `key-`, a secret's ARN, a
/// service-linked role's ARN); `None` for anything else (names, other ids and ARNs).
pub fn kind_of(id: &str) -> Option<Kind> {
    let rows = kinds::rows();
    if let Some(rest) = id.strip_prefix("arn:") {
        // arn:partition:service:region:account:resource
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        let [_, service, _, _, resource] = parts.as_slice() else { return None };
        return rows.iter().find_map(|r| {
            let after = resource.strip_prefix(r.arn_resource_prefix.as_deref()?)?;
            // A service-linked role's path names its service: `<service>/<name>`.
            let complete = if r.kind == Kind::ServiceLinkedRole { after.contains('/') } else { !after.is_empty() };
            (r.service == *service && complete).then_some(r.kind)
        });
    }
    rows.iter().find_map(|r| {
        let suffix = id.strip_prefix(r.id_prefix.as_deref()?)?;
        (!suffix.is_empty() && suffix.chars().all(|c| c.is_ascii_alphanumeric())).then_some(r.kind)
    })
}

// ---------------------------------------------------------------------------------------
// Reading the services' listings (pure), from their answers as `wire::parse_response`
// reads them: API member names, lists as arrays, booleans typed. Which pages follow is
// the operation's paginator's business (`wire::next_input`), not the readers'.

/// The text of member `name` of `v` (an object of a parsed answer), if it is text.
fn text<'a>(v: &'a Value, name: &str) -> Option<&'a str> {
    v.get(name).and_then(Value::as_str)
}

/// The items of list member `name` of `v` (none when it is absent).
fn items<'a>(v: &'a Value, name: &str) -> &'a [Value] {
    v.get(name).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// Member `name` of `v` as owned text, when it is non-empty text.
fn some_text(v: &Value, name: &str) -> Option<String> {
    text(v, name).filter(|t| !t.is_empty()).map(str::to_string)
}

/// The values of [`RUN_ID_TAG`] and [`EXPIRES_TAG`] in a tag list, each if present.
pub type TagValues = (Option<String>, Option<String>);

/// The values of our two tags in a tag list (`[{"Key", "Value"}]`, the `Tags` member of
/// EC2, Auto Scaling, ELB, CloudFormation, Secrets Manager and IAM answers alike).
pub fn tag_values(tags: &[Value]) -> TagValues {
    let mut run_id = None;
    let mut expires = None;
    for tag in tags {
        let value = text(tag, "Value").unwrap_or_default().to_string();
        match text(tag, "Key") {
            Some(RUN_ID_TAG) => run_id = Some(value),
            Some(EXPIRES_TAG) => expires = Some(value),
            _ => {}
        }
    }
    (run_id, expires)
}

/// The values of our two tags in the `Tags` of `item`: `None` when they do not hold
/// [`RUN_ID_TAG`].
pub fn our_tags(item: &Value) -> Option<(String, Option<String>)> {
    let (run_id, expires) = tag_values(items(item, "Tags"));
    Some((run_id?, expires))
}

/// How one EC2 kind is listed.
pub struct Ec2Listing {
    /// The kind listed.
    pub kind: Kind,
    /// The Describe operation that lists it.
    pub operation: &'static str,
    /// `Filters`, except `Filter` for DescribeNatGateways.
    pub filter_member: &'static str,
    /// Where the resources are in the answer (a `wire::search` path).
    pub items: &'static str,
    /// The member holding the id deletion takes.
    pub id: &'static str,
}

/// The listing of every EC2 kind a run creates, in deletion order: the `listing` of
/// each `ec2` row of `catalog/resource-kinds.toml`.
pub fn ec2_listings() -> &'static [Ec2Listing] {
    static LISTINGS: std::sync::OnceLock<Vec<Ec2Listing>> = std::sync::OnceLock::new();
    LISTINGS.get_or_init(|| {
        let field =
            |f: &'static Option<String>| f.as_deref().expect("an EC2 listing has every field (checked at load)");
        kinds::rows()
            .iter()
            .filter(|r| r.service == "ec2")
            .map(|r| Ec2Listing {
                kind: r.kind,
                operation: &r.listing.operation,
                filter_member: field(&r.listing.filter),
                items: field(&r.listing.items),
                id: field(&r.listing.id),
            })
            .collect()
    })
}

/// Reads one page of an EC2 listing (its parsed answer): the tagged resources.
///
/// `vouched`: the service applied the `tag-key` filter, so every item carries the tag
/// even when its tag set does not show it (moto lists a launch template with the tags
/// it was created with only); such an item is kept with no run id. Otherwise an item
/// must show the tag.
pub fn read_ec2(kind: Kind, output: &Value, vouched: bool) -> Vec<Tagged> {
    let listing = ec2_listings().iter().find(|l| l.kind == kind).expect("every EC2 kind has a listing");
    let listed = crate::wire::search(listing.items, output).expect("the listing paths are in the subset (tested)");
    let mut out = Vec::new();
    for item in listed.as_array().map_or(&[][..], Vec::as_slice) {
        let Some(id) = some_text(item, listing.id) else { continue };
        let (run_id, expires) = match our_tags(item) {
            Some((run_id, expires)) => (Some(run_id), expires),
            None if vouched => (None, None),
            None => continue,
        };
        let state = |v: &Value| text(v, "State").map(str::to_string);
        let mut attached_to = Vec::new();
        match kind {
            Kind::Instance if item.get("State").and_then(|s| text(s, "Name")) == Some("terminated") => continue,
            Kind::NatGateway | Kind::Volume if state(item).as_deref() == Some("deleted") => continue,
            Kind::Address => attached_to.extend(some_text(item, "AssociationId")),
            Kind::InternetGateway => {
                attached_to.extend(items(item, "Attachments").iter().filter_map(|a| some_text(a, "VpcId")));
            }
            Kind::RouteTable => {
                let associations = items(item, "Associations");
                // The main route table goes with its VPC; it cannot be deleted itself.
                if associations.iter().any(|a| a.get("Main") == Some(&Value::Bool(true))) {
                    continue;
                }
                for a in associations {
                    let state = a.get("AssociationState").and_then(|s| text(s, "State"));
                    if matches!(state, Some("disassociated" | "disassociating")) {
                        continue;
                    }
                    attached_to.extend(some_text(a, "RouteTableAssociationId"));
                }
            }
            // A VPC's default group goes with its VPC.
            Kind::SecurityGroup if text(item, "GroupName") == Some("default") => continue,
            _ => {}
        }
        let name = if kind == Kind::KeyPair { some_text(item, "KeyName") } else { None };
        out.push(Tagged { kind, id, run_id, expires, attached_to, name });
    }
    out
}

/// Reads one page of DescribeLoadBalancers: the names.
pub fn read_load_balancers(output: &Value) -> Vec<String> {
    let (list, id) = listed_by(Kind::LoadBalancer);
    items(output, list).iter().filter_map(|m| some_text(m, id)).collect()
}

/// Where a (non-EC2) listing of `kind` holds its resources, and the member of each that
/// holds its id: its row's `listing.items` and `listing.id`.
fn listed_by(kind: Kind) -> (&'static str, &'static str) {
    let listing = &kind.row().listing;
    let field = |f: &'static Option<String>| f.as_deref().unwrap_or_default();
    (field(&listing.items), field(&listing.id))
}

/// Reads classic ELB DescribeTags: the load balancers carrying [`RUN_ID_TAG`].
pub fn read_load_balancer_tags(output: &Value) -> Vec<Tagged> {
    read_tagged(output, "TagDescriptions", "LoadBalancerName", Kind::LoadBalancer)
}

/// Reads one page of DescribeAutoScalingGroups: the tagged groups.
pub fn read_auto_scaling_groups(output: &Value) -> Vec<Tagged> {
    let (list, id) = listed_by(Kind::AutoScalingGroup);
    read_tagged(output, list, id, Kind::AutoScalingGroup)
}

/// The items of `list` that carry our tags, each named by its `id` member.
fn read_tagged(output: &Value, list: &str, id: &str, kind: Kind) -> Vec<Tagged> {
    items(output, list)
        .iter()
        .filter_map(|m| {
            let (run_id, expires) = our_tags(m)?;
            Some(Tagged {
                kind,
                id: some_text(m, id)?,
                run_id: Some(run_id),
                expires,
                attached_to: Vec::new(),
                name: None,
            })
        })
        .collect()
}

/// Reads one page of ListSecrets: the secrets whose tags hold [`RUN_ID_TAG`] exactly
/// (the service's `tag-key` filter matches by prefix).
pub fn read_secrets(output: &Value) -> Vec<Tagged> {
    let (list, id) = listed_by(Kind::Secret);
    items(output, list)
        .iter()
        .filter_map(|secret| {
            let id = some_text(secret, id)?;
            let (run_id, expires) = our_tags(secret)?;
            Some(Tagged { kind: Kind::Secret, id, run_id: Some(run_id), expires, attached_to: Vec::new(), name: None })
        })
        .collect()
}

/// A role or an instance profile as an IAM listing shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    /// The role's or instance profile's name.
    pub name: String,
    /// Its ARN (empty when the listing omits it).
    pub arn: String,
    /// Its IAM path (empty when the listing omits it).
    pub path: String,
    /// An instance profile's roles, by name.
    pub roles: Vec<String>,
    /// Our tags, when the listing shows the entity's tags at all (`Some((None, None))`:
    /// it shows tags, none of ours). AWS's ListRoles and ListInstanceProfiles do not —
    /// ListRoleTags and ListInstanceProfileTags do —; moto's ListInstanceProfiles does.
    pub tags: Option<TagValues>,
}

/// Which IAM listing: ListRoles or ListInstanceProfiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IamListing {
    /// ListRoles.
    Roles,
    /// ListInstanceProfiles.
    InstanceProfiles,
}

impl IamListing {
    /// The kind whose row describes the listing (ListRoles also lists the service-linked
    /// roles).
    fn kind(self) -> Kind {
        match self {
            IamListing::Roles => Kind::Role,
            IamListing::InstanceProfiles => Kind::InstanceProfile,
        }
    }

    /// The listing's operation name.
    pub fn operation(self) -> &'static str {
        &self.kind().row().listing.operation
    }

    /// The listing of one entity's tags, and the input member that names the entity.
    pub fn tag_listing(self) -> (&'static str, &'static str) {
        let listing = &self.kind().row().listing;
        let field = |f: &'static Option<String>| f.as_deref().expect("an IAM listing names its tag listing (tested)");
        (field(&listing.tags), field(&listing.tags_member))
    }
}

/// Reads one page of IAM ListRoles or ListInstanceProfiles.
pub fn read_iam_listing(listing: IamListing, output: &Value) -> Vec<Listed> {
    let (list, name) = listed_by(listing.kind());
    items(output, list)
        .iter()
        .filter_map(|m| {
            let roles = match listing {
                IamListing::Roles => Vec::new(),
                IamListing::InstanceProfiles => {
                    items(m, "Roles").iter().filter_map(|r| text(r, "RoleName").map(str::to_string)).collect()
                }
            };
            Some(Listed {
                name: some_text(m, name)?,
                arn: text(m, "Arn").unwrap_or_default().to_string(),
                path: text(m, "Path").unwrap_or_default().to_string(),
                roles,
                tags: m.get("Tags").map(|_| tag_values(items(m, "Tags"))),
            })
        })
        .collect()
}

/// Reads one page of ListRoleTags or ListInstanceProfileTags: our tags.
pub fn read_entity_tags(output: &Value) -> TagValues {
    tag_values(items(output, "Tags"))
}

/// Reads one page of ListStackResources: the roles and instance profiles the stack
/// manages (the kinds with a `stack_resource_type`), by physical id (their names).
pub fn read_stack_resources(output: &Value) -> Vec<(Kind, String)> {
    items(output, "StackResourceSummaries")
        .iter()
        .filter_map(|m| {
            if text(m, "ResourceStatus") == Some("DELETE_COMPLETE") {
                return None;
            }
            let resource_type = text(m, "ResourceType")?;
            let kind = kinds::rows()
                .iter()
                .find(|r| r.stack_resource_type.as_deref() == Some(resource_type))
                .map(|r| r.kind)?;
            Some((kind, some_text(m, "PhysicalResourceId")?))
        })
        .collect()
}

/// Reads one page of DescribeStacks: the tagged stacks that still exist.
pub fn read_stacks(output: &Value) -> Vec<Tagged> {
    let (list, id) = listed_by(Kind::Stack);
    items(output, list)
        .iter()
        .filter_map(|m| {
            if text(m, "StackStatus") == Some("DELETE_COMPLETE") {
                return None;
            }
            let id = some_text(m, id)?;
            let (run_id, expires) = our_tags(m)?;
            Some(Tagged { kind: Kind::Stack, id, run_id: Some(run_id), expires, attached_to: Vec::new(), name: None })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// delete.

/// One API call of a deletion.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    /// The service prefix (`ec2`, `iam`, ...).
    pub service: &'static str,
    /// The operation name.
    pub operation: &'static str,
    /// The operation's input, as `wire::serialize` takes it.
    pub input: Value,
    /// `ec2:DetachInternetGateway igw-…/vpc-…`: what reports and dry runs show.
    pub label: String,
}

/// A [`Call`] labelled `service:operation what`.
pub fn call(service: &'static str, operation: &'static str, what: &str, input: Value) -> Call {
    Call { service, operation, input, label: format!("{service}:{operation} {what}") }
}

/// Pure: the calls that delete one resource, in order, from its row of
/// `catalog/resource-kinds.toml`: the `detach` call for each entry of `attached_to`
/// first (an internet gateway from each VPC, a route table's associations, an address's
/// association, an instance profile's roles), then the `delete` itself (an Auto Scaling
/// group with `ForceDelete`, a secret with `ForceDeleteWithoutRecovery`), or
/// `delete_by_name` when the listing showed the name (a key pair). What holds a
/// role is listed when it is deleted, before these calls: see [`role_listings`]; the
/// rules by which security groups reference each other are listed and revoked before
/// the plan's first group is deleted: see [`group_rule_listings`].
pub fn deletion_calls(t: &Tagged) -> Vec<Call> {
    let row = t.kind.row();
    let mut calls: Vec<Call> = match &row.detach {
        Some(detach) => {
            t.attached_to.iter().map(|a| filled(t.kind, detach, &vars(&t.id, [("attached", json!(a))]))).collect()
        }
        None => Vec::new(),
    };
    calls.push(match (&row.delete_by_name, &t.name) {
        (Some(by_name), Some(name)) => filled(t.kind, by_name, &vars(&t.id, [("name", json!(name))])),
        _ => filled(t.kind, &row.delete, &vars(&t.id, [])),
    });
    calls
}

/// Pure: the listings that find, when a role is deleted, what holds it — the instance
/// profiles it is in, its attached managed policies, its inline policies —, in the order
/// they are undone, each with the operation that undoes what it lists (see
/// [`role_undo_calls`]). A dry run shows them as such.
pub fn role_listings(role: &str) -> [(Call, &'static str); 3] {
    let name = iam_name(role);
    let input = json!({"RoleName": name});
    [
        (call("iam", "ListInstanceProfilesForRole", name, input.clone()), "RemoveRoleFromInstanceProfile"),
        (call("iam", "ListAttachedRolePolicies", name, input.clone()), "DetachRolePolicy"),
        (call("iam", "ListRolePolicies", name, input), "DeleteRolePolicy"),
    ]
}

/// Pure: from one page of `listing` (one of the [`role_listings`] of `role`, its answer
/// parsed), the calls that undo what it lists, and whether more pages follow (the
/// listing's paginator: `IsTruncated`).
pub fn role_undo_calls(role: &str, listing: &Call, output: &Value) -> (Vec<Call>, bool) {
    let name = iam_name(role);
    let calls = match listing.operation {
        "ListInstanceProfilesForRole" => items(output, "InstanceProfiles")
            .iter()
            .filter_map(|m| some_text(m, "InstanceProfileName"))
            .map(|profile| {
                call(
                    "iam",
                    "RemoveRoleFromInstanceProfile",
                    &format!("{name}/{profile}"),
                    json!({"InstanceProfileName": profile, "RoleName": name}),
                )
            })
            .collect(),
        "ListAttachedRolePolicies" => items(output, "AttachedPolicies")
            .iter()
            .filter_map(|m| some_text(m, "PolicyArn"))
            .map(|arn| {
                call("iam", "DetachRolePolicy", &format!("{name}/{arn}"), json!({"RoleName": name, "PolicyArn": arn}))
            })
            .collect(),
        "ListRolePolicies" => items(output, "PolicyNames")
            .iter()
            .filter_map(Value::as_str)
            .filter(|policy| !policy.is_empty())
            .map(|policy| {
                call(
                    "iam",
                    "DeleteRolePolicy",
                    &format!("{name}/{policy}"),
                    json!({"RoleName": name, "PolicyName": policy}),
                )
            })
            .collect(),
        _ => Vec::new(),
    };
    let truncated = crate::wire::models()
        .service(listing.service)
        .and_then(|m| m.paginator(listing.operation))
        .and_then(|p| crate::wire::next_input(p, &listing.input, output))
        .is_some();
    (calls, truncated)
}

/// Security groups one DescribeSecurityGroups call of [`group_rule_listings`] names.
pub const GROUPS_PER_LISTING: usize = 100;

/// The operations that revoke the rules [`group_rule_listings`] find: ingress, egress.
pub const GROUP_REVOKES: [&str; 2] = ["RevokeSecurityGroupIngress", "RevokeSecurityGroupEgress"];

/// The DescribeSecurityGroups call that lists `groups` by id.
pub fn describe_groups(groups: &[&str]) -> Call {
    call("ec2", "DescribeSecurityGroups", &groups.join(","), json!({"GroupIds": groups}))
}

/// Pure: the listings that find, before the plan's security groups are deleted, the rules
/// by which they reference other groups: DescribeSecurityGroups of the groups by id (at
/// most [`GROUPS_PER_LISTING`] a call). A group that another group's rule references
/// cannot be deleted (`DependencyViolation`), so two groups that reference each other
/// could never go one after the other; each rule the listings show is revoked first (see
/// [`group_reference_revokes`]). A dry run shows them as such.
pub fn group_rule_listings(groups: &[&str]) -> Vec<Call> {
    groups.chunks(GROUPS_PER_LISTING).map(describe_groups).collect()
}

/// Pure: from a DescribeSecurityGroups answer (parsed), the calls that revoke each rule
/// by which a group references another group: for each group (by id), its ingress rules
/// (`IpPermissions`, RevokeSecurityGroupIngress) then its egress rules
/// (`IpPermissionsEgress`, RevokeSecurityGroupEgress), one call per referenced group of
/// each permission, with exactly that permission: its protocol, its ports (when it has
/// any: not for protocol `-1`) and the one `UserIdGroupPairs` member as listed (group id,
/// and the account, description and peered VPC when shown). CIDR and prefix-list sources
/// of the same permission are left (they block nothing), and so is a group's reference
/// to itself (it does not block the group's deletion).
pub fn group_reference_revokes(output: &Value) -> Vec<Call> {
    let mut groups: Vec<(String, &Value)> =
        items(output, "SecurityGroups").iter().filter_map(|g| Some((some_text(g, "GroupId")?, g))).collect();
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = Vec::new();
    for (id, group) in groups {
        for (list, operation) in [("IpPermissions", GROUP_REVOKES[0]), ("IpPermissionsEgress", GROUP_REVOKES[1])] {
            for permission in items(group, list) {
                let protocol = text(permission, "IpProtocol").unwrap_or_default();
                let port = |name: &str| permission.get(name).and_then(Value::as_i64);
                let ports = match (port("FromPort"), port("ToPort")) {
                    (Some(from), Some(to)) if protocol != "-1" => Some((from, to)),
                    _ => None,
                };
                for pair in items(permission, "UserIdGroupPairs") {
                    let Some(source) = some_text(pair, "GroupId").filter(|g| *g != id) else { continue };
                    let mut member = serde_json::Map::new();
                    member.insert("GroupId".into(), Value::String(source.clone()));
                    for name in ["UserId", "Description", "VpcId", "VpcPeeringConnectionId"] {
                        if let Some(v) = some_text(pair, name) {
                            member.insert(name.into(), Value::String(v));
                        }
                    }
                    let mut rule = json!({"IpProtocol": protocol});
                    let mut what = format!("{id}/{source} {protocol}");
                    if let Some((from, to)) = ports {
                        rule["FromPort"] = json!(from);
                        rule["ToPort"] = json!(to);
                        what.push_str(&format!(" {from}-{to}"));
                    }
                    rule["UserIdGroupPairs"] = json!([Value::Object(member)]);
                    out.push(call("ec2", operation, &what, json!({"GroupId": id, "IpPermissions": [rule]})));
                }
            }
        }
    }
    out
}

/// Pure: how the end of AWS's asynchronous deletion of `ids` (all of `kind`) is seen
/// (the row's `confirm`): the listing that shows what is left of them, and the botocore
/// waiter that reads its answers (`wire::waiter_state`), where botocore has one: Auto Scaling groups
/// (DescribeAutoScalingGroups: gone when no longer listed), instances (DescribeInstances,
/// `InstanceTerminated`), NAT gateways (DescribeNatGateways, `NatGatewayDeleted`). `None`
/// for the kinds deleted at once.
pub fn deletion_listing(kind: Kind, ids: &[String]) -> Option<(Call, Option<&'static str>)> {
    let confirm = kind.row().confirm.as_ref()?;
    let vars = [("ids", json!(ids))];
    let c = call(kind.service(), &confirm.operation, &ids.join(","), kinds::fill(&confirm.input, &vars));
    Some((c, confirm.waiter.as_deref()))
}

/// Pure: from an answer of [`deletion_listing`], those of `ids` not deleted yet, each with
/// its state (the row's `confirm`): an Auto Scaling group still listed (its `Status`,
/// else `present`), an instance not `terminated`, a NAT gateway not `deleted`.
pub fn left_after_deletion(kind: Kind, ids: &[String], output: &Value) -> Vec<(String, String)> {
    let Some(confirm) = kind.row().confirm.as_ref() else { return Vec::new() };
    let listed = crate::wire::search(&confirm.items, output).unwrap_or(Value::Null);
    let state = |item: &Value| {
        let mut at = Some(item);
        for part in confirm.state.split('.') {
            at = at.and_then(|v| v.get(part));
        }
        at.and_then(Value::as_str).unwrap_or(&confirm.state_if_absent).to_string()
    };
    let mut out: Vec<(String, String)> = listed
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .map(|item| (text(item, &confirm.id).unwrap_or_default().to_string(), state(item)))
        .filter(|(_, state)| confirm.gone.as_deref() != Some(state.as_str()))
        .collect();
    out.retain(|(id, _)| ids.contains(id));
    out
}

/// Pure: the status and status reason of the first stack in a DescribeStacks answer
/// (`None`: no stack is listed).
pub fn stack_status(output: &Value) -> Option<(String, String)> {
    let stack = items(output, "Stacks").first()?;
    Some((
        text(stack, "StackStatus").unwrap_or_default().to_string(),
        text(stack, "StackStatusReason").unwrap_or_default().to_string(),
    ))
}

/// The deletion task of a DeleteServiceLinkedRole answer.
pub fn deletion_task_id(output: &Value) -> Option<String> {
    some_text(output, "DeletionTaskId")
}

/// Pure: a GetServiceLinkedRoleDeletionStatus answer: its `Status` (`SUCCEEDED`,
/// `IN_PROGRESS`, `FAILED`, …) and, when it failed, why: the reason and the resources
/// that still use the role.
pub fn deletion_task_status(output: &Value) -> (String, Option<String>) {
    let status = text(output, "Status").unwrap_or_default().to_string();
    if status != "FAILED" {
        return (status, None);
    }
    let reason = output.get("Reason");
    let why = reason.and_then(|r| text(r, "Reason")).unwrap_or_default();
    let users = reason
        .map(|r| crate::wire::search("RoleUsageList[].Resources[]", r).expect("in the subset"))
        .and_then(|v| v.as_array().map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")))
        .unwrap_or_default();
    (status, Some(format!("{why} {users}").trim().to_string()))
}

/// How one resource's deletion went.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Deletion {
    /// What the resource is.
    pub kind: Kind,
    /// Its id, as in [`Tagged::id`].
    pub id: String,
    /// The calls made (or, in a dry run, that would be made), in order, as
    /// `ec2:DetachInternetGateway igw-…/vpc-…`. For a role, the listings of what holds it
    /// come first, each followed by the calls that undo what it listed; a dry run shows
    /// each listing as `iam:ListRolePolicies r (then iam:DeleteRolePolicy for each it
    /// lists)`. The first security group's calls begin with the unlinking of all the
    /// plan's groups, made before any of them is deleted: `ec2:DescribeSecurityGroups
    /// sg-a,sg-b`, then `ec2:RevokeSecurityGroupIngress sg-a/sg-b tcp 443-443` and the like
    /// (see [`group_reference_revokes`]); a dry run shows the listing as
    /// `ec2:DescribeSecurityGroups sg-a,sg-b (then ec2:RevokeSecurityGroupIngress or
    /// ec2:RevokeSecurityGroupEgress for each rule it lists that references another
    /// group)`. So the calls of all the deletions, in order, are the calls made, in order.
    pub calls: Vec<String>,
    /// `Ok` when the resource went (or, in a dry run, would go); why not otherwise.
    pub result: Result<(), DeletionError>,
}

/// Why a resource did not go. Serialized as its message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeletionError {
    /// A call of the deletion (or a listing or wait it needs) failed; the message is the
    /// effectful side's error, which names the call.
    #[error("{0}")]
    Call(String),
    /// The kind's waiter calls the state the deletion reached a failure.
    #[error("{} {id} did not go: {reason}", .kind.label())]
    DidNotGo {
        /// The resource's kind.
        kind: Kind,
        /// Its id.
        id: String,
        /// The waiter's reason.
        reason: String,
    },
    /// The listing that follows an asynchronous deletion failed.
    #[error("could not confirm the deletion: {0}")]
    Unconfirmed(String),
    /// The resource was still there when the wait for it ended.
    #[error("{} {id} still {state} after {seconds} s", .kind.label())]
    StillThere {
        /// The resource's kind.
        kind: Kind,
        /// Its id.
        id: String,
        /// Its last state.
        state: String,
        /// How long it was waited for.
        seconds: u64,
    },
    /// The deletion failed, and unlinking the plan's security groups before it did too.
    #[error("{error} (unlinking the groups first failed: {unlinking})")]
    AfterUnlinking {
        /// Why the deletion failed.
        error: Box<DeletionError>,
        /// Why the unlinking failed.
        unlinking: String,
    },
}

impl serde::Serialize for DeletionError {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn tagged(kind: Kind, id: &str, run_id: Option<&str>, expires: Option<&str>) -> Tagged {
        Tagged {
            kind,
            id: id.into(),
            run_id: run_id.map(str::to_string),
            expires: expires.map(str::to_string),
            attached_to: Vec::new(),
            name: None,
        }
    }

    /// An answer as `wire::parse_response` reads it.
    fn parsed(service: &str, operation: &str, body: &str) -> Value {
        crate::wire::output(service, operation, 200, body).unwrap_or_else(|e| panic!("{service}:{operation}: {e}"))
    }

    /// The input of the page after `output` (asked for with `{}`), by the operation's paginator.
    fn next_page(service: &str, operation: &str, output: &Value) -> Option<Value> {
        let p = crate::wire::models().service(service).unwrap().paginator(operation).expect("pages");
        crate::wire::next_input(p, &json!({}), output)
    }

    fn at(text: &str) -> SystemTime {
        parse_timestamp(text).unwrap()
    }

    const RUN: &str = "20261128T193150Z-1a2b";
    const OTHER: &str = "20261127T080000Z-ff";

    #[test]
    fn plan_orders_by_dependency_whatever_order_find_returns() {
        // Every kind, listed in reverse and interleaved with a second resource of each.
        let mut found = Vec::new();
        for (i, kind) in Kind::ALL.iter().rev().enumerate() {
            found.push(tagged(*kind, &format!("b-{i}"), Some(RUN), None));
            found.insert(0, tagged(*kind, &format!("a-{i}"), Some(RUN), None));
        }
        let planned = plan(&found, &Selector::RunId(RUN.into()), at("2026-11-28T20:00:00Z"));
        assert_eq!(planned.len(), 36);
        let kinds: Vec<Kind> = planned.iter().map(|t| t.kind).collect();
        let mut sorted = kinds.clone();
        sorted.sort();
        assert_eq!(kinds, sorted);
        assert_eq!(kinds.first(), Some(&Kind::AutoScalingGroup));
        assert_eq!(kinds.last(), Some(&Kind::Stack));
        // The dependency facts the order encodes.
        let pos = |k: Kind| kinds.iter().position(|x| *x == k).unwrap();
        assert!(pos(Kind::AutoScalingGroup) < pos(Kind::Instance));
        assert!(pos(Kind::LaunchTemplate) > pos(Kind::AutoScalingGroup));
        assert!(pos(Kind::NatGateway) < pos(Kind::Address));
        assert!(pos(Kind::InternetGateway) < pos(Kind::Vpc));
        assert!(pos(Kind::RouteTable) < pos(Kind::Subnet));
        assert!(pos(Kind::Subnet) < pos(Kind::SecurityGroup));
        assert!(pos(Kind::SecurityGroup) < pos(Kind::Vpc));
        assert!(pos(Kind::Instance) < pos(Kind::Volume));
        // An instance using a profile goes first; a profile lets go of its roles before
        // they go; the IAM kinds follow everything EC2, ELB, Auto Scaling, Secrets Manager.
        assert!(pos(Kind::Instance) < pos(Kind::InstanceProfile));
        assert!(pos(Kind::InstanceProfile) < pos(Kind::Role));
        assert!(pos(Kind::Role) < pos(Kind::ServiceLinkedRole));
        assert!(pos(Kind::Secret) < pos(Kind::InstanceProfile));
        assert!(pos(Kind::Volume) < pos(Kind::InstanceProfile));
        assert!(pos(Kind::ServiceLinkedRole) < pos(Kind::Stack));
        assert_eq!(Kind::ALL.to_vec(), {
            let mut all = Kind::ALL.to_vec();
            all.sort();
            all
        });
    }

    #[test]
    fn plan_lists_each_resource_once() {
        let t = tagged(Kind::Vpc, "vpc-1", Some(RUN), None);
        let planned = plan(&[t.clone(), t.clone()], &Selector::RunId(RUN.into()), SystemTime::now());
        assert_eq!(planned, [t]);
    }

    #[test]
    fn run_id_selects_only_that_run() {
        let found = [
            tagged(Kind::Vpc, "vpc-mine", Some(RUN), Some("2020-01-01T00:00:00Z")),
            tagged(Kind::Vpc, "vpc-other", Some(OTHER), Some("2020-01-01T00:00:00Z")),
            tagged(Kind::Subnet, "subnet-prefix", Some("20261128T193150Z-1a2"), None),
            tagged(Kind::Secret, "arn:unknown", None, None),
            tagged(Kind::Subnet, "subnet-mine", Some(RUN), None),
        ];
        let planned = plan(&found, &Selector::RunId(RUN.into()), at("2026-11-28T20:00:00Z"));
        let ids: Vec<&str> = planned.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["subnet-mine", "vpc-mine"]);
    }

    #[test]
    fn older_than_selects_by_expiry_or_run_start() {
        let now = at("2026-11-28T20:00:00Z");
        let six_hours = Selector::OlderThan(Duration::from_secs(6 * 3600));
        let cases = [
            // (run id, expires, selected, why)
            (Some("20261128T190000Z-1"), Some("2026-11-28T19:59:59Z"), true, "expiry passed, run young"),
            (Some("20261128T190000Z-1"), Some("2026-11-28T20:00:00Z"), true, "expiry is now"),
            (Some("20261128T130000Z-1"), Some("2026-11-29T00:00:00Z"), true, "run older than 6 h, expiry ahead"),
            (Some("20261128T130000Z-1"), None, true, "run older than 6 h, no expiry"),
            (Some("20261128T140000Z-1"), None, false, "run exactly 6 h old is not older"),
            (Some("20261128T190000Z-1"), Some("2026-11-28T23:00:00Z"), false, "young and not expired"),
            (Some("garbage"), Some("2026-11-29T00:00:00Z"), false, "run id unparseable, expiry ahead"),
            (Some("garbage"), Some("2026-11-28T12:00:00+02:00"), true, "run id unparseable, expiry passed"),
            (Some("garbage"), Some("tomorrow"), false, "neither parseable"),
            (None, None, false, "no tags readable"),
            (Some("20261128T130000Z-1"), Some("never"), true, "expiry unparseable, run old"),
            (Some("20261128T190000Z-1"), Some("never"), false, "expiry unparseable, run young"),
        ];
        for (run_id, expires, want, why) in cases {
            let t = tagged(Kind::Vpc, "vpc-1", run_id, expires);
            assert_eq!(!plan(&[t], &six_hours, now).is_empty(), want, "{why}");
        }
        let found: Vec<Tagged> =
            cases.iter().map(|(r, e, _, why)| tagged(Kind::Vpc, why, r.as_deref(), e.as_deref())).collect();
        let undated: Vec<&str> = undated(&found).iter().map(|t| t.id.as_str()).collect();
        assert_eq!(undated, ["neither parseable", "no tags readable"]);
    }

    #[test]
    fn durations() {
        let ok = [
            ("6h", 6 * 3600),
            ("30m", 1800),
            ("2d", 2 * 86_400),
            ("90s", 90),
            ("1h30m", 5400),
            ("0s", 0),
            ("1d12h", 129_600),
        ];
        for (text, secs) in ok {
            assert_eq!(parse_duration(text), Ok(Duration::from_secs(secs)), "{text}");
        }
        for text in ["", "6", "h", "6x", "-1h", "6 h", "1.5h", "6H", "99999999999999999999s", "h6"] {
            let e = parse_duration(text).unwrap_err().to_string();
            assert!(e.contains("--older-than") && e.contains(&format!("`{text}`")), "{text}: {e}");
        }
        // The messages, word for word (they reach the command's error).
        let message = |text: &str| parse_duration(text).unwrap_err().to_string();
        let tail = "(expected a duration such as 90s, 30m, 6h or 2d)";
        for (text, why) in [
            ("", "empty value"),
            ("h6", "a number must come before each unit"),
            ("99999999999999999999s", "number too large"),
            ("6", "missing unit"),
            ("6x", "unknown unit `x`"),
            ("9999999999999999999d", "too long"),
        ] {
            assert_eq!(message(text), format!("--older-than `{text}`: {why} {tail}"));
        }
    }

    #[test]
    fn kinds_of_ids() {
        let cases = [
            ("vpc-0a1b2c3d4e5f67890", Some(Kind::Vpc)),
            ("subnet-0123abcd", Some(Kind::Subnet)),
            ("igw-0123abcd", Some(Kind::InternetGateway)),
            ("nat-0123abcd", Some(Kind::NatGateway)),
            ("eipalloc-0123abcd", Some(Kind::Address)),
            ("rtb-0123abcd", Some(Kind::RouteTable)),
            ("sg-0123abcd", Some(Kind::SecurityGroup)),
            ("i-0123abcd", Some(Kind::Instance)),
            ("lt-0123abcd", Some(Kind::LaunchTemplate)),
            ("vol-0123abcd", Some(Kind::Volume)),
            ("key-0123abcd", Some(Kind::KeyPair)),
            (
                "arn:aws:secretsmanager:us-west-2:123456789012:secret:aws.cluster.x-k8s.io/abc-1-AbCdEf",
                Some(Kind::Secret),
            ),
            (
                "arn:aws:iam::1:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling",
                Some(Kind::ServiceLinkedRole),
            ),
            ("arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:x-AbCdEf", Some(Kind::Secret)),
            // Not ours.
            ("vpce-0123abcd", None),
            ("eipassoc-0123abcd", None),
            ("rtbassoc-0123abcd", None),
            ("eni-0123abcd", None),
            ("ami-0123abcd", None),
            ("sg-", None),
            ("key-pair-name", None),
            ("my-cluster-apiserver", None),
            ("vpc", None),
            ("", None),
            ("arn:aws:iam::123456789012:role/controllers.cluster-api-provider-aws.sigs.k8s.io", None),
            ("arn:aws:iam::123456789012:role/aws-service-role/", None),
            ("arn:aws:secretsmanager:us-west-2:123456789012:secret:", None),
            ("arn:aws:cloudformation:us-west-2:123456789012:stack/s/1", None),
            ("arn:aws:ec2:us-west-2:123456789012:vpc/vpc-0123abcd", None),
        ];
        for (id, want) in cases {
            assert_eq!(kind_of(id), want, "{id}");
        }
    }

    /// The input serializes against the wire model (member names and types are right).
    fn serializes(service: &str, operation: &str, input: &Value) {
        let model = crate::wire::models().service(service).unwrap_or_else(|| panic!("no model for {service}"));
        crate::wire::serialize(model, operation, input)
            .unwrap_or_else(|e| panic!("{service}:{operation} {input}: {e}"));
    }

    #[test]
    fn tag_calls_have_each_services_shape() {
        let expires = "2026-11-28T23:31:50Z";
        let tags = json!([{"Key": RUN_ID_TAG, "Value": RUN}, {"Key": EXPIRES_TAG, "Value": expires}]);
        for kind in Kind::ALL {
            let Some((service, operation, input)) = tag_call(kind, "x-1", RUN, expires) else {
                assert_eq!(kind, Kind::Stack);
                continue;
            };
            assert_eq!(service, kind.service(), "{kind:?}");
            serializes(service, operation, &input);
        }
        assert_eq!(
            tag_call(Kind::Vpc, "vpc-1", RUN, expires),
            Some(("ec2", "CreateTags", json!({"Resources": ["vpc-1"], "Tags": tags})))
        );
        assert_eq!(
            tag_call(Kind::LoadBalancer, "lb", RUN, expires),
            Some(("elasticloadbalancing", "AddTags", json!({"LoadBalancerNames": ["lb"], "Tags": tags})))
        );
        let arn = "arn:aws:secretsmanager:us-west-2:1:secret:s-AbCdEf";
        assert_eq!(
            tag_call(Kind::Secret, arn, RUN, expires),
            Some(("secretsmanager", "TagResource", json!({"SecretId": arn, "Tags": tags})))
        );
        let role = "arn:aws:iam::1:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling";
        assert_eq!(
            tag_call(Kind::ServiceLinkedRole, role, RUN, expires),
            Some(("iam", "TagRole", json!({"RoleName": "AWSServiceRoleForAutoScaling", "Tags": tags})))
        );
        let role = "nodes.cluster-api-provider-aws.sigs.k8s.io";
        assert_eq!(
            tag_call(Kind::Role, role, RUN, expires),
            Some(("iam", "TagRole", json!({"RoleName": role, "Tags": tags})))
        );
        let profile = "pool-a.cluster-api-provider-aws.sigs.k8s.io";
        assert_eq!(
            tag_call(Kind::InstanceProfile, profile, RUN, expires),
            Some(("iam", "TagInstanceProfile", json!({"InstanceProfileName": profile, "Tags": tags})))
        );
        assert_eq!(
            tag_call(Kind::InstanceProfile, &format!("arn:aws:iam::1:instance-profile/team-a/{profile}"), RUN, expires),
            Some(("iam", "TagInstanceProfile", json!({"InstanceProfileName": profile, "Tags": tags})))
        );
        let (_, op, input) = tag_call(Kind::AutoScalingGroup, "g", RUN, expires).unwrap();
        assert_eq!(op, "CreateOrUpdateTags");
        assert_eq!(
            input["Tags"][0],
            json!({"ResourceId": "g", "ResourceType": "auto-scaling-group", "Key": RUN_ID_TAG, "Value": RUN,
                   "PropagateAtLaunch": true})
        );
        assert_eq!(input["Tags"][1]["Key"], EXPIRES_TAG);
        assert_eq!(tag_call(Kind::Stack, "s", RUN, expires), None);
    }

    #[test]
    fn deletion_calls_detach_first_and_serialize() {
        for kind in Kind::ALL {
            let mut t = tagged(kind, "x-1", Some(RUN), None);
            t.attached_to = vec!["a-1".into(), "a-2".into()];
            let calls = deletion_calls(&t);
            assert!(!calls.is_empty());
            for c in &calls {
                assert_eq!(c.service, kind.service(), "{kind:?}");
                assert!(c.label.starts_with(&format!("{}:{} ", c.service, c.operation)), "{}", c.label);
                serializes(c.service, c.operation, &c.input);
            }
        }
        let mut igw = tagged(Kind::InternetGateway, "igw-1", Some(RUN), None);
        igw.attached_to = vec!["vpc-1".into()];
        let labels: Vec<String> = deletion_calls(&igw).into_iter().map(|c| c.label).collect();
        assert_eq!(labels, ["ec2:DetachInternetGateway igw-1/vpc-1", "ec2:DeleteInternetGateway igw-1"]);
        let mut rtb = tagged(Kind::RouteTable, "rtb-1", Some(RUN), None);
        rtb.attached_to = vec!["rtbassoc-1".into(), "rtbassoc-2".into()];
        let labels: Vec<String> = deletion_calls(&rtb).into_iter().map(|c| c.label).collect();
        assert_eq!(
            labels,
            [
                "ec2:DisassociateRouteTable rtb-1/rtbassoc-1",
                "ec2:DisassociateRouteTable rtb-1/rtbassoc-2",
                "ec2:DeleteRouteTable rtb-1"
            ]
        );
        let mut eip = tagged(Kind::Address, "eipalloc-1", Some(RUN), None);
        eip.attached_to = vec!["eipassoc-1".into()];
        let calls = deletion_calls(&eip);
        assert_eq!(calls[0].input, json!({"AssociationId": "eipassoc-1"}));
        assert_eq!(calls[1].input, json!({"AllocationId": "eipalloc-1"}));
        let mut key = tagged(Kind::KeyPair, "key-1", Some(RUN), None);
        assert_eq!(deletion_calls(&key)[0].input, json!({"KeyPairId": "key-1"}));
        key.name = Some("sweep-key".into());
        let calls = deletion_calls(&key);
        assert_eq!(
            (calls[0].label.as_str(), &calls[0].input),
            ("ec2:DeleteKeyPair sweep-key", &json!({"KeyName": "sweep-key"}))
        );
        serializes("ec2", "DeleteKeyPair", &calls[0].input);
        let asg = deletion_calls(&tagged(Kind::AutoScalingGroup, "g", None, None));
        assert_eq!(asg[0].input, json!({"AutoScalingGroupName": "g", "ForceDelete": true}));
        let secret = deletion_calls(&tagged(Kind::Secret, "arn:s", None, None));
        assert_eq!(secret[0].input, json!({"SecretId": "arn:s", "ForceDeleteWithoutRecovery": true}));
        let role = "arn:aws:iam::1:role/aws-service-role/elasticloadbalancing.amazonaws.com/AWSServiceRoleForELB";
        let slr = deletion_calls(&tagged(Kind::ServiceLinkedRole, role, None, None));
        assert_eq!(slr[0].input, json!({"RoleName": "AWSServiceRoleForELB"}));

        let mut profile = tagged(Kind::InstanceProfile, "p", None, None);
        profile.attached_to = vec!["r".into()];
        let calls = deletion_calls(&profile);
        assert_eq!(
            calls.iter().map(|c| c.label.as_str()).collect::<Vec<_>>(),
            ["iam:RemoveRoleFromInstanceProfile p/r", "iam:DeleteInstanceProfile p"]
        );
        assert_eq!(calls[0].input, json!({"InstanceProfileName": "p", "RoleName": "r"}));
        assert_eq!(calls[1].input, json!({"InstanceProfileName": "p"}));
        // What holds a role is listed at delete time; the pure part is the delete.
        let calls = deletion_calls(&tagged(Kind::Role, "r", None, None));
        assert_eq!((calls[0].label.as_str(), &calls[0].input), ("iam:DeleteRole r", &json!({"RoleName": "r"})));
        assert_eq!(calls.len(), 1);
    }

    #[test]
    fn role_attachments_are_listed_then_undone() {
        let listings = role_listings("r");
        assert_eq!(
            listings.iter().map(|(c, undo)| (c.label.as_str(), *undo)).collect::<Vec<_>>(),
            [
                ("iam:ListInstanceProfilesForRole r", "RemoveRoleFromInstanceProfile"),
                ("iam:ListAttachedRolePolicies r", "DetachRolePolicy"),
                ("iam:ListRolePolicies r", "DeleteRolePolicy"),
            ]
        );
        for (c, _) in &listings {
            assert_eq!(c.input, json!({"RoleName": "r"}));
            serializes(c.service, c.operation, &c.input);
        }

        let profiles = r#"<ListInstanceProfilesForRoleResponse><ListInstanceProfilesForRoleResult><InstanceProfiles>
<member><Path>/team-a/</Path><InstanceProfileName>p1</InstanceProfileName><Roles><member><RoleName>r</RoleName></member></Roles></member>
<member><InstanceProfileName>p2</InstanceProfileName></member></InstanceProfiles><IsTruncated>true</IsTruncated><Marker>m</Marker>
</ListInstanceProfilesForRoleResult></ListInstanceProfilesForRoleResponse>"#;
        let [(for_role, _), (attached_policies, _), (inline_policies, _)] = &listings;
        let (calls, truncated) =
            role_undo_calls("r", for_role, &parsed("iam", "ListInstanceProfilesForRole", profiles));
        assert!(truncated);
        assert_eq!(
            calls.iter().map(|c| c.label.as_str()).collect::<Vec<_>>(),
            ["iam:RemoveRoleFromInstanceProfile r/p1", "iam:RemoveRoleFromInstanceProfile r/p2"]
        );
        assert_eq!(calls[0].input, json!({"InstanceProfileName": "p1", "RoleName": "r"}));

        let attached = r#"<ListAttachedRolePoliciesResponse><ListAttachedRolePoliciesResult><AttachedPolicies>
<member><PolicyName>a</PolicyName><PolicyArn>arn:aws:iam::1:policy/a</PolicyArn></member></AttachedPolicies>
<IsTruncated>false</IsTruncated></ListAttachedRolePoliciesResult></ListAttachedRolePoliciesResponse>"#;
        let (calls, truncated) =
            role_undo_calls("r", attached_policies, &parsed("iam", "ListAttachedRolePolicies", attached));
        assert!(!truncated);
        assert_eq!(calls[0].label, "iam:DetachRolePolicy r/arn:aws:iam::1:policy/a");
        assert_eq!(calls[0].input, json!({"RoleName": "r", "PolicyArn": "arn:aws:iam::1:policy/a"}));

        let inline = r#"<ListRolePoliciesResponse><ListRolePoliciesResult><PolicyNames><member>in&amp;line</member>
<member>second</member></PolicyNames><IsTruncated>false</IsTruncated></ListRolePoliciesResult></ListRolePoliciesResponse>"#;
        let (calls, _) = role_undo_calls("r", inline_policies, &parsed("iam", "ListRolePolicies", inline));
        assert_eq!(
            calls.iter().map(|c| c.input.clone()).collect::<Vec<_>>(),
            [json!({"RoleName": "r", "PolicyName": "in&line"}), json!({"RoleName": "r", "PolicyName": "second"})]
        );
        for ((listing, _), body) in listings.iter().zip([profiles, attached, inline]) {
            for c in role_undo_calls("r", listing, &parsed("iam", listing.operation, body)).0 {
                serializes(c.service, c.operation, &c.input);
            }
        }
        // An answer listing nothing undoes nothing.
        assert_eq!(role_undo_calls("r", inline_policies, &json!({})), (Vec::new(), false));
    }

    #[test]
    fn group_references_are_listed_then_revoked() {
        let listings = group_rule_listings(&["sg-a", "sg-b"]);
        assert_eq!(listings.len(), 1);
        assert_eq!(listings[0].label, "ec2:DescribeSecurityGroups sg-a,sg-b");
        assert_eq!(listings[0].input, json!({"GroupIds": ["sg-a", "sg-b"]}));
        serializes("ec2", "DescribeSecurityGroups", &listings[0].input);
        let many: Vec<String> = (0..150).map(|i| format!("sg-{i:03}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let listings = group_rule_listings(&many);
        assert_eq!(
            listings.iter().map(|c| c.input["GroupIds"].as_array().unwrap().len()).collect::<Vec<_>>(),
            [100, 50]
        );
        assert!(group_rule_listings(&[]).is_empty());

        // EC2's shape: sg-b listed first; sg-a lets in sg-b on 6443 (and a CIDR in the
        // same permission), itself on everything, a CIDR on 22; sg-b lets in sg-a on
        // everything, sends to sg-a on 443 and to everywhere.
        let body = r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeSecurityGroupsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId>
<securityGroupInfo>
 <item><ownerId>123456789012</ownerId><groupId>sg-b</groupId><groupName>lb</groupName><groupDescription>d</groupDescription><vpcId>vpc-1</vpcId>
  <ipPermissions><item><ipProtocol>-1</ipProtocol>
   <groups><item><securityGroupRuleId>sgr-3</securityGroupRuleId><userId>123456789012</userId><groupId>sg-a</groupId></item></groups>
   <ipRanges/><ipv6Ranges/><prefixListIds/></item></ipPermissions>
  <ipPermissionsEgress>
   <item><ipProtocol>tcp</ipProtocol><fromPort>443</fromPort><toPort>443</toPort>
    <groups><item><userId>123456789012</userId><groupId>sg-a</groupId><description>to &amp; from</description></item></groups><ipRanges/></item>
   <item><ipProtocol>-1</ipProtocol><groups/><ipRanges><item><cidrIp>0.0.0.0/0</cidrIp></item></ipRanges></item>
  </ipPermissionsEgress>
  <tagSet><item><key>iam-conformance:run-id</key><value>R</value></item></tagSet></item>
 <item><ownerId>123456789012</ownerId><groupId>sg-a</groupId><groupName>nodes</groupName><vpcId>vpc-1</vpcId>
  <ipPermissions>
   <item><ipProtocol>tcp</ipProtocol><fromPort>6443</fromPort><toPort>6443</toPort>
    <groups><item><userId>123456789012</userId><groupId>sg-b</groupId><description>Kubernetes API</description></item>
     <item><userId>210987654321</userId><groupId>sg-peer</groupId><vpcId>vpc-9</vpcId><vpcPeeringConnectionId>pcx-1</vpcPeeringConnectionId><peeringStatus>active</peeringStatus></item></groups>
    <ipRanges><item><cidrIp>10.0.0.0/16</cidrIp></item></ipRanges></item>
   <item><ipProtocol>-1</ipProtocol><groups><item><userId>123456789012</userId><groupId>sg-a</groupId></item></groups></item>
   <item><ipProtocol>tcp</ipProtocol><fromPort>22</fromPort><toPort>22</toPort><groups/><ipRanges><item><cidrIp>10.0.0.0/8</cidrIp></item></ipRanges></item>
  </ipPermissions>
  <ipPermissionsEgress/></item>
</securityGroupInfo></DescribeSecurityGroupsResponse>"#;
        let calls = group_reference_revokes(&parsed("ec2", "DescribeSecurityGroups", body));
        assert_eq!(
            calls.iter().map(|c| c.label.as_str()).collect::<Vec<_>>(),
            [
                "ec2:RevokeSecurityGroupIngress sg-a/sg-b tcp 6443-6443",
                "ec2:RevokeSecurityGroupIngress sg-a/sg-peer tcp 6443-6443",
                "ec2:RevokeSecurityGroupIngress sg-b/sg-a -1",
                "ec2:RevokeSecurityGroupEgress sg-b/sg-a tcp 443-443",
            ]
        );
        assert_eq!(
            calls.iter().map(|c| c.input.clone()).collect::<Vec<_>>(),
            [
                json!({"GroupId": "sg-a", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 6443, "ToPort": 6443,
                    "UserIdGroupPairs": [{"GroupId": "sg-b", "UserId": "123456789012", "Description": "Kubernetes API"}]}]}),
                json!({"GroupId": "sg-a", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 6443, "ToPort": 6443,
                    "UserIdGroupPairs": [{"GroupId": "sg-peer", "UserId": "210987654321", "VpcId": "vpc-9",
                                          "VpcPeeringConnectionId": "pcx-1"}]}]}),
                json!({"GroupId": "sg-b", "IpPermissions": [{"IpProtocol": "-1",
                    "UserIdGroupPairs": [{"GroupId": "sg-a", "UserId": "123456789012"}]}]}),
                json!({"GroupId": "sg-b", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                    "UserIdGroupPairs": [{"GroupId": "sg-a", "UserId": "123456789012", "Description": "to & from"}]}]}),
            ]
        );
        for c in &calls {
            assert!(GROUP_REVOKES.contains(&c.operation));
            serializes(c.service, c.operation, &c.input);
        }
        // Protocol -1 (every protocol) has no ports: none are sent, even if some are listed.
        let all = body.replace(
            "<item><ipProtocol>-1</ipProtocol>\n   <groups>",
            "<item><ipProtocol>-1</ipProtocol><fromPort>-1</fromPort><toPort>-1</toPort>\n   <groups>",
        );
        assert_ne!(all, body);
        assert_eq!(group_reference_revokes(&parsed("ec2", "DescribeSecurityGroups", &all)), calls);
        // Nothing listed: nothing to revoke.
        assert!(group_reference_revokes(&json!({})).is_empty());
    }

    #[test]
    fn timestamps() {
        assert_eq!(run_started(RUN), parse_timestamp("2026-11-28T19:31:50Z"));
        assert!(run_started(RUN).is_some());
        for bad in ["20261128T193150Z", "20261128T193150Z-", "20261128T193150Z-xyz", "20261328T193150Z-1", "x-1"] {
            assert_eq!(run_started(bad), None, "{bad}");
        }
        let t = at("2026-11-28T23:31:50Z");
        assert_eq!(format_timestamp(t), "2026-11-28T23:31:50Z");
        assert_eq!(t.duration_since(UNIX_EPOCH).unwrap().as_secs(), 1_795_908_710);
        assert_eq!(parse_timestamp("2026-11-29T01:31:50.123+02:00"), Some(t));
        assert_eq!(parse_timestamp("2026-11-28T20:31:50-03:00"), Some(t));
        assert_eq!(format_timestamp(at("2024-02-29T00:00:00Z")), "2024-02-29T00:00:00Z");
        for bad in ["2026-11-28", "2026-11-28T23:31:50", "2026-02-30T00:00:00Z", "2026-11-28T24:00:00Z", "soon"] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn reads_ec2_listings() {
        let body = r#"<?xml version="1.0"?><DescribeRouteTablesResponse xmlns="x"><requestId>r</requestId>
<routeTableSet>
 <item><routeTableId>rtb-main</routeTableId><associationSet><item><routeTableAssociationId>rtbassoc-m</routeTableAssociationId><routeTableId>rtb-main</routeTableId><main>true</main></item></associationSet>
  <tagSet><item><key>iam-conformance:run-id</key><value>R</value></item></tagSet></item>
 <item><routeTableId>rtb-1</routeTableId><vpcId>vpc-1</vpcId>
  <associationSet><item><routeTableAssociationId>rtbassoc-1</routeTableAssociationId><routeTableId>rtb-1</routeTableId><subnetId>subnet-1</subnetId><main>false</main><associationState><state>associated</state></associationState></item>
   <item><routeTableAssociationId>rtbassoc-2</routeTableAssociationId><main>false</main><associationState><state>disassociated</state></associationState></item></associationSet>
  <tagSet><item><key>Name</key><value>n</value></item><item><key>iam-conformance:expires</key><value>E</value></item><item><key>iam-conformance:run-id</key><value>R</value></item></tagSet></item>
 <item><routeTableId>rtb-untagged</routeTableId><tagSet/></item>
</routeTableSet><nextToken>tok</nextToken></DescribeRouteTablesResponse>"#;
        let routes = parsed("ec2", "DescribeRouteTables", body);
        let items = read_ec2(Kind::RouteTable, &routes, false);
        assert_eq!(
            items,
            [Tagged {
                kind: Kind::RouteTable,
                id: "rtb-1".into(),
                run_id: Some("R".into()),
                expires: Some("E".into()),
                attached_to: vec!["rtbassoc-1".into()],
                name: None,
            }]
        );
        assert_eq!(next_page("ec2", "DescribeRouteTables", &routes), Some(json!({"NextToken": "tok"})));
        // Vouched for by the service's filter: the untagged-looking item is kept, undated.
        let items = read_ec2(Kind::RouteTable, &routes, true);
        assert_eq!(
            items.iter().map(|t| (t.id.as_str(), t.run_id.is_some())).collect::<Vec<_>>(),
            [("rtb-1", true), ("rtb-untagged", false)]
        );

        let igw = r#"<DescribeInternetGatewaysResponse><internetGatewaySet><item><internetGatewayId>igw-1</internetGatewayId>
<attachmentSet><item><vpcId>vpc-1</vpcId><state>available</state></item></attachmentSet>
<tagSet><item><key>iam-conformance:run-id</key><value>R</value></item></tagSet></item></internetGatewaySet></DescribeInternetGatewaysResponse>"#;
        let igw = parsed("ec2", "DescribeInternetGateways", igw);
        assert_eq!(read_ec2(Kind::InternetGateway, &igw, true)[0].attached_to, ["vpc-1"]);
        assert_eq!(next_page("ec2", "DescribeInternetGateways", &igw), None);

        let instances = r#"<DescribeInstancesResponse><reservationSet><item><reservationId>r-1</reservationId><instancesSet>
<item><instanceId>i-1</instanceId><instanceState><code>16</code><name>running</name></instanceState>
 <networkInterfaceSet><item><networkInterfaceId>eni-1</networkInterfaceId><tagSet/></item></networkInterfaceSet>
 <tagSet><item><key>iam-conformance:run-id</key><value>R</value></item></tagSet></item>
<item><instanceId>i-2</instanceId><instanceState><code>48</code><name>terminated</name></instanceState>
 <tagSet><item><key>iam-conformance:run-id</key><value>R</value></item></tagSet></item>
</instancesSet></item></reservationSet></DescribeInstancesResponse>"#;
        let items = read_ec2(Kind::Instance, &parsed("ec2", "DescribeInstances", instances), true);
        assert_eq!(items.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["i-1"]);

        let addresses = r#"<DescribeAddressesResponse><addressesSet><item><publicIp>1.2.3.4</publicIp><allocationId>eipalloc-1</allocationId>
<associationId>eipassoc-1</associationId><tagSet><item><key>iam-conformance:run-id</key><value>R</value></item></tagSet></item>
<item><allocationId>eipalloc-2</allocationId><associationId/><tagSet><item><key>iam-conformance:run-id</key><value>R</value></item></tagSet></item>
</addressesSet></DescribeAddressesResponse>"#;
        let items = read_ec2(Kind::Address, &parsed("ec2", "DescribeAddresses", addresses), true);
        assert_eq!(items[0].attached_to, ["eipassoc-1"]);
        assert!(items[1].attached_to.is_empty());

        let groups = r#"<DescribeSecurityGroupsResponse><securityGroupInfo>
<item><groupId>sg-d</groupId><groupName>default</groupName><tagSet><item><key>iam-conformance:run-id</key><value>R</value></item></tagSet></item>
<item><groupId>sg-1</groupId><groupName>g</groupName><ipPermissions><item><groups><item><groupId>sg-2</groupId></item></groups></item></ipPermissions><tagSet><item><key>iam-conformance:run-id</key><value>R</value></item></tagSet></item>
</securityGroupInfo></DescribeSecurityGroupsResponse>"#;
        let items = read_ec2(Kind::SecurityGroup, &parsed("ec2", "DescribeSecurityGroups", groups), true);
        assert_eq!(items.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["sg-1"]);
    }

    /// The readers on moto's own answers (the wire model's fixtures, tagged as a run tags),
    /// parsed as the sweep parses them.
    #[test]
    fn reads_moto_answers() {
        let fixtures: Value = serde_json::from_str(include_str!("../wire/fixtures/responses.json")).unwrap();
        let answer = |operation: &str, note: &str| -> Value {
            let case = fixtures["cases"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["operation"] == operation && c["note"].as_str().unwrap().starts_with(note))
                .unwrap_or_else(|| panic!("no fixture {operation} {note}"));
            parsed(case["service"].as_str().unwrap(), operation, case["body"].as_str().unwrap())
        };
        let expires = Some("2026-11-28T23:31:50Z");
        for listing in ec2_listings() {
            let found = read_ec2(listing.kind, &answer(listing.operation, "tag-key filter"), false);
            assert_eq!(found.len(), 1, "{:?}: {found:?}", listing.kind);
            assert_eq!(
                (found[0].run_id.as_deref(), found[0].expires.as_deref()),
                (Some(RUN), expires),
                "{:?}",
                listing.kind
            );
            assert_eq!(kind_of(&found[0].id), Some(listing.kind), "{:?}", found[0]);
            let attached = match listing.kind {
                Kind::InternetGateway => Some("vpc-"),
                Kind::RouteTable => Some("rtbassoc-"),
                _ => None,
            };
            match attached {
                Some(prefix) => {
                    assert!(found[0].attached_to.len() == 1 && found[0].attached_to[0].starts_with(prefix), "{found:?}")
                }
                None => assert!(found[0].attached_to.is_empty(), "{found:?}"),
            }
            assert_eq!(found[0].name.is_some(), listing.kind == Kind::KeyPair);
        }
        assert_eq!(read_ec2(Kind::Instance, &answer("DescribeInstances", "terminated"), true), []);
        assert_eq!(read_ec2(Kind::NatGateway, &answer("DescribeNatGateways", "deleted"), true), []);

        assert_eq!(read_load_balancers(&answer("DescribeLoadBalancers", "")), ["lb"]);
        assert_eq!(
            read_load_balancer_tags(&answer("DescribeTags", "")),
            [tagged(Kind::LoadBalancer, "lb", Some(RUN), expires)]
        );
        assert_eq!(
            read_auto_scaling_groups(&answer("DescribeAutoScalingGroups", "")),
            [tagged(Kind::AutoScalingGroup, "g", Some(RUN), expires)]
        );
        let secrets = read_secrets(&answer("ListSecrets", ""));
        assert_eq!((secrets.len(), secrets[0].run_id.as_deref()), (1, Some(RUN)));
        assert_eq!(
            next_page("secretsmanager", "ListSecrets", &answer("ListSecrets", "all, a page of one")),
            Some(json!({"NextToken": "1"}))
        );

        let roles = read_iam_listing(IamListing::Roles, &answer("ListRoles", ""));
        assert!(roles.iter().any(|r| r.name == "nodes" && r.path == "/team-a/"), "{roles:?}");
        assert_eq!(next_page("iam", "ListRoles", &answer("ListRoles", "a page of one")), Some(json!({"Marker": "1"})));
        let profiles = read_iam_listing(IamListing::InstanceProfiles, &answer("ListInstanceProfiles", ""));
        let p = profiles.iter().find(|p| p.name == "p").unwrap();
        assert_eq!(
            (p.roles.as_slice(), &p.tags),
            (&["nodes".to_string()][..], &Some((Some(RUN.into()), expires.map(str::to_string))))
        );
        assert_eq!(read_entity_tags(&answer("ListRoleTags", "")), (Some(RUN.into()), expires.map(str::to_string)));
        assert_eq!(read_entity_tags(&answer("ListInstanceProfileTags", "written")), (Some(RUN.into()), None));
        assert_eq!(read_stacks(&answer("DescribeStacks", "")), [tagged(Kind::Stack, "s", Some(RUN), expires)]);
        assert!(read_stack_resources(&answer("ListStackResources", "")).contains(&(Kind::Role, "stack-role".into())));

        let [(for_role, _), (attached, _), (inline, _)] = role_listings("nodes");
        let labels = |(calls, truncated): (Vec<Call>, bool)| {
            assert!(!truncated);
            calls.into_iter().map(|c| c.label).collect::<Vec<_>>()
        };
        assert_eq!(
            labels(role_undo_calls("nodes", &for_role, &answer("ListInstanceProfilesForRole", ""))),
            ["iam:RemoveRoleFromInstanceProfile nodes/p"]
        );
        assert_eq!(
            labels(role_undo_calls("nodes", &attached, &answer("ListAttachedRolePolicies", ""))),
            ["iam:DetachRolePolicy nodes/arn:aws:iam::123456789012:policy/p"]
        );
        assert_eq!(
            labels(role_undo_calls("nodes", &inline, &answer("ListRolePolicies", ""))),
            ["iam:DeleteRolePolicy nodes/inline & more"]
        );
        let revokes = group_reference_revokes(&answer("DescribeSecurityGroups", "two groups"));
        assert_eq!(
            revokes.iter().map(|c| c.operation).collect::<BTreeSet<_>>(),
            GROUP_REVOKES.into_iter().collect(),
            "{revokes:?}"
        );
        assert_eq!(revokes.len(), 2, "the group's reference to itself is left: {revokes:?}");
        assert!(
            revokes
                .iter()
                .any(|c| c.input["IpPermissions"][0]["UserIdGroupPairs"][0]["Description"] == "Kubernetes API & more")
        );

        let task = deletion_task_id(&answer("DeleteServiceLinkedRole", "")).unwrap();
        assert!(!task.is_empty());
        assert_eq!(deletion_task_status(&answer("GetServiceLinkedRoleDeletionStatus", "")), ("SUCCEEDED".into(), None));
        assert_eq!(
            deletion_task_status(&answer("GetServiceLinkedRoleDeletionStatus", "written")),
            (
                "FAILED".into(),
                Some(
                    "The role is in use arn:aws:autoscaling:us-west-2:123456789012:autoScalingGroup:1:autoScalingGroupName/g, \
                     arn:aws:autoscaling:us-west-2:123456789012:autoScalingGroup:2:autoScalingGroupName/h"
                        .into()
                )
            )
        );
    }

    #[test]
    fn asynchronous_deletions_are_followed_by_listing_and_waiter() {
        let ids = vec!["a".to_string(), "b".to_string()];
        for kind in Kind::ALL {
            let Some((c, waiter)) = deletion_listing(kind, &ids) else {
                assert!(!matches!(kind, Kind::AutoScalingGroup | Kind::Instance | Kind::NatGateway));
                continue;
            };
            serializes(c.service, c.operation, &c.input);
            assert_eq!(c.service, kind.service());
            if let Some(w) = waiter {
                let model = crate::wire::models().service(c.service).unwrap();
                assert_eq!(model.waiter(w).map(|w| w.operation.as_str()), Some(c.operation), "{w}");
            }
        }
        assert_eq!(deletion_listing(Kind::Instance, &ids).unwrap().1, Some("InstanceTerminated"));
        let groups = json!({"AutoScalingGroups": [{"AutoScalingGroupName": "a", "Status": "Delete in progress"},
                                                  {"AutoScalingGroupName": "b"}, {"AutoScalingGroupName": "c"}]});
        assert_eq!(
            left_after_deletion(Kind::AutoScalingGroup, &ids, &groups),
            [("a".to_string(), "Delete in progress".to_string()), ("b".to_string(), "present".to_string())]
        );
        let instances = json!({"Reservations": [{"Instances": [{"InstanceId": "a", "State": {"Name": "terminated"}}]},
                                                {"Instances": [{"InstanceId": "b", "State": {"Name": "shutting-down"}}]}]});
        assert_eq!(
            left_after_deletion(Kind::Instance, &ids, &instances),
            [("b".to_string(), "shutting-down".to_string())]
        );
        let nats = json!({"NatGateways": [{"NatGatewayId": "a", "State": "deleting"}, {"NatGatewayId": "b", "State": "deleted"}]});
        assert_eq!(left_after_deletion(Kind::NatGateway, &ids, &nats), [("a".to_string(), "deleting".to_string())]);
        assert!(left_after_deletion(Kind::NatGateway, &ids, &json!({})).is_empty());
    }

    #[test]
    fn reads_query_and_json_listings() {
        let lbs = r#"<DescribeLoadBalancersResponse><DescribeLoadBalancersResult><LoadBalancerDescriptions>
<member><LoadBalancerName>a</LoadBalancerName><ListenerDescriptions><member><Listener><Protocol>TCP</Protocol></Listener></member></ListenerDescriptions></member>
<member><LoadBalancerName>b</LoadBalancerName></member></LoadBalancerDescriptions><NextMarker>m</NextMarker>
</DescribeLoadBalancersResult></DescribeLoadBalancersResponse>"#;
        let lbs = parsed("elasticloadbalancing", "DescribeLoadBalancers", lbs);
        assert_eq!(read_load_balancers(&lbs), ["a", "b"]);
        assert_eq!(next_page("elasticloadbalancing", "DescribeLoadBalancers", &lbs), Some(json!({"Marker": "m"})));

        let tags = r#"<DescribeTagsResponse><DescribeTagsResult><TagDescriptions>
<member><LoadBalancerName>a</LoadBalancerName><Tags><member><Key>iam-conformance:run-id</Key><Value>R</Value></member></Tags></member>
<member><LoadBalancerName>b</LoadBalancerName><Tags><member><Key>other</Key><Value>R</Value></member></Tags></member>
</TagDescriptions></DescribeTagsResult></DescribeTagsResponse>"#;
        let tags = parsed("elasticloadbalancing", "DescribeTags", tags);
        assert_eq!(read_load_balancer_tags(&tags), [tagged(Kind::LoadBalancer, "a", Some("R"), None)]);

        let asgs = r#"<DescribeAutoScalingGroupsResponse><DescribeAutoScalingGroupsResult><AutoScalingGroups>
<member><AutoScalingGroupName>g</AutoScalingGroupName><Instances><member><InstanceId>i-1</InstanceId></member></Instances>
<Tags><member><ResourceId>g</ResourceId><Key>iam-conformance:run-id</Key><Value>R</Value></member><member><Key>iam-conformance:expires</Key><Value>E</Value></member></Tags></member>
</AutoScalingGroups></DescribeAutoScalingGroupsResult></DescribeAutoScalingGroupsResponse>"#;
        let asgs = parsed("autoscaling", "DescribeAutoScalingGroups", asgs);
        assert_eq!(read_auto_scaling_groups(&asgs), [tagged(Kind::AutoScalingGroup, "g", Some("R"), Some("E"))]);
        assert_eq!(next_page("autoscaling", "DescribeAutoScalingGroups", &asgs), None);

        let secrets = json!({"SecretList": [
            {"ARN": "arn:s1", "Tags": [{"Key": RUN_ID_TAG, "Value": "R"}, {"Key": EXPIRES_TAG, "Value": "E"}]},
            {"ARN": "arn:s2", "Tags": [{"Key": "iam-conformance:run-id-not", "Value": "R"}]},
            {"ARN": "arn:s3"}
        ], "NextToken": "n"});
        let secrets = parsed("secretsmanager", "ListSecrets", &secrets.to_string());
        assert_eq!(read_secrets(&secrets), [tagged(Kind::Secret, "arn:s1", Some("R"), Some("E"))]);
        assert_eq!(next_page("secretsmanager", "ListSecrets", &secrets), Some(json!({"NextToken": "n"})));
        assert!(crate::wire::output("secretsmanager", "ListSecrets", 200, "<html>").is_err());

        let roles = r#"<ListRolesResponse><ListRolesResult><IsTruncated>true</IsTruncated><Marker>m</Marker><Roles>
<member><Path>/aws-service-role/autoscaling.amazonaws.com/</Path><RoleName>AWSServiceRoleForAutoScaling</RoleName><Arn>arn:r</Arn></member>
<member><Path>/</Path><RoleName>nodes</RoleName><Arn>arn:aws:iam::1:role/nodes</Arn><AssumeRolePolicyDocument>%7B%7D</AssumeRolePolicyDocument></member>
</Roles></ListRolesResult></ListRolesResponse>"#;
        let listed = |name: &str, arn: &str, path: &str, roles: &[&str], tags: Option<TagValues>| Listed {
            name: name.into(),
            arn: arn.into(),
            path: path.into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            tags,
        };
        let page = parsed("iam", "ListRoles", roles);
        assert_eq!(
            read_iam_listing(IamListing::Roles, &page),
            [
                listed(
                    "AWSServiceRoleForAutoScaling",
                    "arn:r",
                    "/aws-service-role/autoscaling.amazonaws.com/",
                    &[],
                    None
                ),
                listed("nodes", "arn:aws:iam::1:role/nodes", "/", &[], None),
            ]
        );
        assert_eq!(next_page("iam", "ListRoles", &page), Some(json!({"Marker": "m"})));
        // A marker without IsTruncated true is no next page.
        let last = roles.replace("<IsTruncated>true</IsTruncated>", "<IsTruncated>false</IsTruncated>");
        assert_eq!(next_page("iam", "ListRoles", &parsed("iam", "ListRoles", &last)), None);

        // moto shows each profile's tags (and its roles' tags, which are not the
        // profile's); AWS shows none.
        let profiles = r#"<ListInstanceProfilesResponse><ListInstanceProfilesResult><InstanceProfiles>
<member><Path>/team-a/</Path><InstanceProfileName>p1</InstanceProfileName><Arn>arn:p1</Arn>
 <Roles><member><RoleName>r1</RoleName><Tags><member><Key>iam-conformance:run-id</Key><Value>ROLE</Value></member></Tags></member></Roles>
 <Tags><member><Key>iam-conformance:run-id</Key><Value>R</Value></member><member><Key>iam-conformance:expires</Key><Value>E</Value></member></Tags></member>
<member><Path>/</Path><InstanceProfileName>p2</InstanceProfileName><Arn>arn:p2</Arn><Roles/><Tags/></member>
<member><Path>/</Path><InstanceProfileName>p3</InstanceProfileName><Arn>arn:p3</Arn><Roles><member><RoleName>r3</RoleName></member></Roles></member>
</InstanceProfiles><IsTruncated>false</IsTruncated></ListInstanceProfilesResult></ListInstanceProfilesResponse>"#;
        let profiles = parsed("iam", "ListInstanceProfiles", profiles);
        assert_eq!(
            read_iam_listing(IamListing::InstanceProfiles, &profiles),
            [
                listed("p1", "arn:p1", "/team-a/", &["r1"], Some((Some("R".into()), Some("E".into())))),
                listed("p2", "arn:p2", "/", &[], Some((None, None))),
                listed("p3", "arn:p3", "/", &["r3"], None),
            ]
        );
        assert_eq!(next_page("iam", "ListInstanceProfiles", &profiles), None);

        let role_tags = r#"<ListRoleTagsResponse><ListRoleTagsResult><Tags>
<member><Key>iam-conformance:expires</Key><Value>E</Value></member><member><Key>iam-conformance:run-id-x</Key><Value>X</Value></member>
</Tags><IsTruncated>true</IsTruncated><Marker>t</Marker></ListRoleTagsResult></ListRoleTagsResponse>"#;
        let role_tags = parsed("iam", "ListRoleTags", role_tags);
        assert_eq!(read_entity_tags(&role_tags), (None, Some("E".into())));
        assert_eq!(next_page("iam", "ListRoleTags", &role_tags), Some(json!({"Marker": "t"})));
        let profile_tags = r#"<ListInstanceProfileTagsResponse><ListInstanceProfileTagsResult><Tags>
<member><Key>iam-conformance:run-id</Key><Value>R</Value></member></Tags><IsTruncated>false</IsTruncated>
</ListInstanceProfileTagsResult></ListInstanceProfileTagsResponse>"#;
        let profile_tags = parsed("iam", "ListInstanceProfileTags", profile_tags);
        assert_eq!(read_entity_tags(&profile_tags), (Some("R".into()), None));
        assert_eq!(next_page("iam", "ListInstanceProfileTags", &profile_tags), None);

        let resources = r#"<ListStackResourcesResponse><ListStackResourcesResult><StackResourceSummaries>
<member><LogicalResourceId>Role</LogicalResourceId><PhysicalResourceId>dkp-bootstrapper-role</PhysicalResourceId><ResourceType>AWS::IAM::Role</ResourceType><ResourceStatus>CREATE_COMPLETE</ResourceStatus></member>
<member><PhysicalResourceId>DKPBootstrapInstanceProfile</PhysicalResourceId><ResourceType>AWS::IAM::InstanceProfile</ResourceType><ResourceStatus>CREATE_COMPLETE</ResourceStatus></member>
<member><PhysicalResourceId>arn:aws:iam::1:policy/dkp-bootstrapper-policy</PhysicalResourceId><ResourceType>AWS::IAM::ManagedPolicy</ResourceType></member>
<member><PhysicalResourceId>old-role</PhysicalResourceId><ResourceType>AWS::IAM::Role</ResourceType><ResourceStatus>DELETE_COMPLETE</ResourceStatus></member>
<member><PhysicalResourceId></PhysicalResourceId><ResourceType>AWS::IAM::Role</ResourceType><ResourceStatus>CREATE_IN_PROGRESS</ResourceStatus></member>
</StackResourceSummaries><NextToken>n</NextToken></ListStackResourcesResult></ListStackResourcesResponse>"#;
        let resources = parsed("cloudformation", "ListStackResources", resources);
        assert_eq!(
            read_stack_resources(&resources),
            [
                (Kind::Role, "dkp-bootstrapper-role".to_string()),
                (Kind::InstanceProfile, "DKPBootstrapInstanceProfile".to_string())
            ]
        );
        assert_eq!(next_page("cloudformation", "ListStackResources", &resources), Some(json!({"NextToken": "n"})));

        let stacks = r#"<DescribeStacksResponse><DescribeStacksResult><Stacks>
<member><StackName>s1</StackName><StackStatus>CREATE_COMPLETE</StackStatus><Parameters><member><ParameterKey>iam-conformance:run-id</ParameterKey></member></Parameters>
<Tags><member><Key>iam-conformance:run-id</Key><Value>R</Value></member></Tags></member>
<member><StackName>s2</StackName><StackStatus>DELETE_COMPLETE</StackStatus><Tags><member><Key>iam-conformance:run-id</Key><Value>R</Value></member></Tags></member>
<member><StackName>s3</StackName><StackStatus>CREATE_COMPLETE</StackStatus></member>
</Stacks></DescribeStacksResult></DescribeStacksResponse>"#;
        let stacks = parsed("cloudformation", "DescribeStacks", stacks);
        assert_eq!(read_stacks(&stacks), [tagged(Kind::Stack, "s1", Some("R"), None)]);
        assert_eq!(next_page("cloudformation", "DescribeStacks", &stacks), None);
        assert_eq!(stack_status(&stacks), Some(("CREATE_COMPLETE".into(), String::new())));
        assert_eq!(stack_status(&json!({"Stacks": []})), None);
    }
}
