//! The request context AWS builds for each authorization check, beyond what the request
//! itself says: who calls (the principal and its session), how (transport, address,
//! client), when, where to (the region called), and what the resource already is (its
//! account and tags). The static proof, the mutants, the catalog probe, `diff` and the
//! gate all take their contexts from here, so every decision reads the same keys.
//!
//! Every key the model knows is, for a check, one of three things, each with the page it
//! comes from ([`Resolved::source`]): **provided** (present, with its values), **absent**
//! (AWS documents that this request lacks it), or **not modelled** (present or not, the
//! model cannot say: a role id assigned at creation, the account's organization, a
//! resource the model has not seen). A decision that depends on a not-modelled key is
//! reported undecided, never guessed (`policy::decide_traced`).
//!
//! The principal modelled is the one every run uses: a session of the profile's role
//! assumed by the harness (`AssumeRole` with the session name [`SESSION_NAME`], no MFA, no
//! source identity, no session tags; `crates/live/src/run.rs`), calling each service's
//! public HTTPS endpoint directly (`aws::endpoint`). Keys a scenario declares itself win
//! over the model ("unusual" contexts).
//!
//! | key | for a harness session | source |
//! |---|---|---|
//! | `aws:PrincipalArn` | the role's ARN (not the session's) | IAM User Guide, "AWS global condition context keys" |
//! | `aws:PrincipalAccount` | the role's account | same |
//! | `aws:PrincipalType` | `AssumedRole` | IAM User Guide, "IAM policy elements: Variables and tags", "Principal key values" |
//! | `aws:userid` | `ROLEID:iam-conformance`: live, AssumeRole's `AssumedRoleId`; statically not modelled (the role id is assigned at creation) | same; STS API Reference, "AssumedRoleUser" |
//! | `aws:username` | absent ("requests made using … IAM roles do not include this key") | global keys page |
//! | `aws:PrincipalTag/*` | the role's tags: the template's `Tags`; live, IAM's `GetRole` (when read) | same |
//! | `aws:PrincipalOrgID`, `…OrgPaths`, `aws:ResourceOrgID`, `…OrgPaths` | not modelled (only for members of an organization) | same |
//! | `aws:PrincipalIsAWSService` | `false`; `aws:PrincipalServiceName(sList)` absent | same |
//! | `aws:FederatedProvider`, `aws:SourceIdentity` | absent (AssumeRole without either) | same |
//! | `aws:TokenIssueTime` | the session's issue time (statically [`STATIC_INSTANT`]) | same |
//! | `aws:MultiFactorAuthPresent` | `false` (temporary credentials, no MFA device); `…Age` absent | same |
//! | `aws:CurrentTime`, `aws:EpochTime` | the request's time (statically [`STATIC_INSTANT`]) | same |
//! | `aws:RequestedRegion` | the target region; `us-east-1` for IAM ("IAM calls are always made to the us-east-1 Region"); STS is called at its regional endpoint | same; `aws::endpoint` |
//! | `aws:SecureTransport` | `true`: HTTPS endpoints on AWS; the gate assumes the same on emulators | same; `aws::endpoint` |
//! | `aws:SourceIp` | [`DEFAULT_SOURCE_IP`] or the profile's `[request_context] source_ip` | same |
//! | `aws:SourceVpc`, `aws:SourceVpce`, `aws:VpcSourceIp` | absent (no VPC endpoint) | same |
//! | `aws:SourceArn`, `aws:SourceAccount`, `aws:SourceOrgID`, `…OrgPaths`, `aws:referer`, `aws:CalledVia*` | absent (a direct, programmatic call) | same |
//! | `aws:ViaAWSService` | `false` ("when the principal makes the call directly") | same |
//! | `aws:UserAgent` | live, the request's header; statically not modelled | same |
//! | `aws:ResourceAccount` | the account in the resource's ARN; absent for `ec2:CreateVolume` and the page's other exceptions; not modelled for an ARN without one | same |
//! | `aws:ResourceTag/*`, `<service>:ResourceTag/*` | the resource's tags from the world model ([`world`]); on a resource being created, the request's tags; else not modelled | same |
//! | `aws:RequestTag/*`, `aws:TagKeys`, `ec2:CreateAction`, `elasticloadbalancing:CreateAction`, `iam:AWSServiceName`, `iam:PassedToService` | the request's own: present when the check states them, absent otherwise | docs/aws-facts.md, "Condition keys" |
//! | `ec2:Region` | the target region, on every EC2 action | Service Authorization Reference, Amazon EC2 (catalog/actions.json) |
//! | keys of the request's own parameters (`ec2:InstanceType`, `ec2:Subnet`, `secretsmanager:Name`, `autoscaling:MaxSize`…) | the call's member (a scenario's `input`, the gate's parsed request); not modelled when the call leaves it out (AWS may fill it from a default) | catalog/request-keys.toml, each row with its page |
//! | other service keys | absent when the catalog does not list them for the action; else not modelled | Service Authorization Reference (catalog/actions.json) |

pub mod links;
pub(crate) mod request_keys;
pub mod world;

use std::collections::BTreeSet;

use serde::Serialize;

use crate::catalog::Catalog;
use crate::policy::{Context, Policy};
use crate::template::render::Target;

/// The instant the static proof evaluates at (2026-12-01T12:00:00Z): `aws:CurrentTime`,
/// `aws:EpochTime` and the session's `aws:TokenIssueTime` (the session starts at the run's
/// start). Fixed so that a proof is reproducible; reports name it.
pub const STATIC_INSTANT: i64 = 1_796_126_400;

/// The source address the model gives requests unless the profile sets
/// `[request_context] source_ip`: 192.0.2.10, from TEST-NET-1, a block reserved for
/// documentation (RFC 5737), so that no real allow-list contains it. AWS includes
/// `aws:SourceIp` in every request not made through a VPC endpoint.
pub const DEFAULT_SOURCE_IP: &str = "192.0.2.10";

/// The role session name the harness asks `AssumeRole` for (`crates/live/src/run.rs`).
pub const SESSION_NAME: &str = "iam-conformance";

/// IAM User Guide, "AWS global condition context keys": the availability of every
/// `aws:` key below, as that page gives it.
const GLOBAL: &str = "IAM User Guide, \"AWS global condition context keys\"";
/// IAM User Guide, "IAM policy elements: Variables and tags", "Principal key values".
const PRINCIPAL_VALUES: &str = "IAM User Guide, \"IAM policy elements: Variables and tags\", \"Principal key values\"";
/// Where a request key comes from: the request itself, as the scenario declares it and
/// the gate derives it.
const REQUEST_KEY: &str = "docs/aws-facts.md, \"Condition keys\": a key of the request's own parameters, present when the scenario (or the gate's derivation) states it and absent otherwise";
/// The Service Authorization Reference's condition-key columns, embedded as
/// `catalog/actions.json`.
const SAR_UNLISTED: &str = "Service Authorization Reference (catalog/actions.json): the action does not take this key";
const SAR_LISTED: &str = "Service Authorization Reference (catalog/actions.json) lists this key for the action; the model does not provide its value";
const SAR_EC2_REGION: &str = "Service Authorization Reference, \"Actions, resources, and condition keys for Amazon EC2\": ec2:Region, the Region of the request, listed for every EC2 action (catalog/actions.json); IAM User Guide example \"Amazon EC2: Allows full EC2 access within a specific Region\"";

/// A resource's own tags, from the world model.
const WORLD_TAGS: &str = "IAM User Guide, \"AWS global condition context keys\" (aws:ResourceTag: the tags the resource already has), the tags as the world model has them (context/world.rs: the profile's calls that created and tagged it; live, the emulator's answer)";

/// What a report says of the request context its decisions were made in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Summary {
    /// `aws:PrincipalArn`, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_arn: Option<String>,
    /// The region calls go to (IAM's go to us-east-1).
    pub region: String,
    /// `aws:CurrentTime`.
    pub current_time: String,
    /// `fixed` (the static proof's instant) or `live` (the gate's clock).
    pub clock: String,
    /// `aws:SecureTransport`, and why.
    pub secure_transport: bool,
    /// Why `secure_transport` has its value.
    pub transport: String,
    /// `aws:SourceIp`, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    /// Where the facts are written down.
    pub facts: String,
}

/// Who calls: the role and the session the harness assumed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Principal {
    /// The role's ARN (with its path): `aws:PrincipalArn`.
    pub role_arn: String,
    /// The role's account: `aws:PrincipalAccount`.
    pub account: String,
    /// The session name given to `AssumeRole`.
    pub session_name: String,
    /// `aws:userid` as AWS gives it for the session (`AssumedRoleId` of AssumeRole's
    /// answer, `ROLEID:session`); `None` when not known (statically: the role id is
    /// assigned when the role is created).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub userid: Option<String>,
    /// The role's tags as IAM holds them (`aws:PrincipalTag/*`); `None` when not known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<(String, String)>>,
    /// When the session's credentials were issued (`aws:TokenIssueTime`), epoch seconds;
    /// `None` when not known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued: Option<i64>,
    /// Whether MFA validated the session (`aws:MultiFactorAuthPresent`); `None` when not
    /// known. The harness's AssumeRole passes no MFA device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfa: Option<bool>,
    /// Whether the session is known to be the harness's own AssumeRole (no source
    /// identity set), so `aws:SourceIdentity` is absent.
    pub harness_session: bool,
}

impl Principal {
    /// A session of `role_arn` assumed by the harness, as the static proof models it: the
    /// role id unknown, issued at `issued`, without MFA.
    pub fn harness_session(role_arn: &str, tags: Option<Vec<(String, String)>>, issued: i64) -> Principal {
        Principal {
            role_arn: role_arn.to_string(),
            account: role_arn.split(':').nth(4).unwrap_or_default().to_string(),
            session_name: SESSION_NAME.to_string(),
            userid: None,
            tags,
            issued: Some(issued),
            mfa: Some(false),
            harness_session: true,
        }
    }
}

/// Where the clock of a model comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Clock {
    /// The static proof's [`STATIC_INSTANT`].
    Fixed,
    /// The gate's clock when it decided.
    Live,
}

/// Everything the model needs to build a check's context.
#[derive(Clone, Debug, Serialize)]
pub struct Model {
    /// Who calls; `None` when not known (every principal key is then not modelled).
    pub principal: Option<Principal>,
    /// The partition of the target.
    pub partition: String,
    /// The account the resources live in.
    pub account: String,
    /// The region the calls go to (IAM aside).
    pub region: String,
    /// The instant of the request, epoch seconds.
    pub now: i64,
    /// Whether `now` is fixed or the gate's clock.
    pub clock: Clock,
    /// `aws:SecureTransport`.
    pub secure_transport: bool,
    /// Why `secure_transport` has its value.
    pub transport_note: String,
    /// `aws:SourceIp`; `None` when not known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    /// `aws:UserAgent`; `None` when not known (statically: the client is CAPA's, not ours).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// A probe of the context space: every resource taken to carry no tags.
    #[serde(skip)]
    pub untagged_resources: bool,
}

impl Model {
    /// The static model for `target`, before the principal is known: every principal key
    /// is not modelled. [`Model::with_principal`] adds the role.
    pub fn statically(target: &Target) -> Model {
        Model {
            principal: None,
            partition: target.partition.clone(),
            account: target.account_id.clone(),
            region: target.region.clone(),
            now: STATIC_INSTANT,
            clock: Clock::Fixed,
            secure_transport: true,
            transport_note: "the harness calls each service's HTTPS endpoint (aws::endpoint); on emulators the gate assumes the same, standing in for AWS".into(),
            source_ip: Some(DEFAULT_SOURCE_IP.to_string()),
            user_agent: None,
            untagged_resources: false,
        }
    }

    /// The model with `principal` calling.
    pub fn with_principal(mut self, principal: Principal) -> Model {
        self.principal = Some(principal);
        self
    }

    /// What a report says of this model.
    pub fn summary(&self) -> Summary {
        Summary {
            principal_arn: self.principal.as_ref().map(|p| p.role_arn.clone()),
            region: self.region.clone(),
            current_time: self.current_time(),
            clock: match self.clock {
                Clock::Fixed => "fixed".into(),
                Clock::Live => "live".into(),
            },
            secure_transport: self.secure_transport,
            transport: self.transport_note.clone(),
            source_ip: self.source_ip.clone(),
            facts: "crates/core/src/context/mod.rs (module documentation: each key with its page)".into(),
        }
    }

    /// The instant as `aws:CurrentTime` gives it (ISO 8601, UTC, to the second).
    pub fn current_time(&self) -> String {
        iso8601(self.now)
    }

    /// What one key is for one check. Keys the check itself states are not asked here
    /// (they win); `key` is compared case-insensitively.
    pub fn resolve(&self, key: &str, site: &Site<'_>, catalog: &Catalog, world: &dyn ResourceTags) -> Resolved {
        let k = key.to_ascii_lowercase();
        let (prefix, name) = k.split_once(':').unwrap_or(("", k.as_str()));
        if prefix == "aws" {
            return self.global(name, site, world);
        }
        let action_service = site.action.split(':').next().unwrap_or_default().to_ascii_lowercase();
        // Keys of the request's own parameters: stated by the check when the request has them.
        if REQUEST_KEYS.contains(&k.as_str()) {
            return Resolved::absent(REQUEST_KEY);
        }
        if !listed(catalog, site.action, &k) {
            return Resolved::absent(SAR_UNLISTED);
        }
        if k == "ec2:region" && action_service == "ec2" {
            return Resolved::provided(vec![self.region.clone()], SAR_EC2_REGION);
        }
        if let Some(tag) = name.strip_prefix("resourcetag/") {
            return self.resource_tag(tag, site, world);
        }
        // Keys of the request's own parameters (catalog/request-keys.toml): the call's
        // member when it has it; without the member the key is left not modelled, since AWS
        // may fill it from a default, a launch template or the account's settings.
        if let Some(input) = site.input {
            let target = Target {
                account_id: self.account.clone(),
                region: self.region.clone(),
                partition: self.partition.clone(),
                stack_name: String::new(),
            };
            if let Some((values, source)) =
                request_keys::values(catalog, &target, site.action, site.resource, &k, input)
                && !values.is_empty()
            {
                return Resolved::provided(values, source);
            }
        }
        Resolved::not_modelled(SAR_LISTED)
    }

    /// The `aws:` keys, by their availability for a harness session calling directly.
    fn global(&self, name: &str, site: &Site<'_>, world: &dyn ResourceTags) -> Resolved {
        let principal = self.principal.as_ref();
        let unknown_principal = || Resolved::not_modelled("the model does not know the calling principal");
        match name {
            // "For IAM roles, the request context returns the ARN of the role, not the ARN
            // of the user that assumed the role." Included for all signed requests.
            "principalarn" => {
                principal.map_or_else(unknown_principal, |p| Resolved::provided(vec![p.role_arn.clone()], GLOBAL))
            }
            "principalaccount" => {
                principal.map_or_else(unknown_principal, |p| Resolved::provided(vec![p.account.clone()], GLOBAL))
            }
            // The principal key values for a role session: `AssumedRole`.
            "principaltype" => principal
                .map_or_else(unknown_principal, |_| Resolved::provided(vec!["AssumedRole".into()], PRINCIPAL_VALUES)),
            // `role-id:caller-specified-role-name` for a role session; the role id is
            // assigned when the role is created (STS API Reference, "AssumedRoleUser":
            // AssumedRoleId "contains the role ID and the role session name").
            "userid" => match principal.and_then(|p| p.userid.clone()) {
                Some(id) => Resolved::provided(
                    vec![id],
                    "STS API Reference, \"AssumedRoleUser\": AssumedRoleId, the role id and the session name, as AssumeRole answered",
                ),
                None => Resolved::not_modelled(
                    "IAM User Guide, \"IAM policy elements: Variables and tags\": `role-id:caller-specified-role-name`; the role id is assigned when the role is created, so it is not known before the run",
                ),
            },
            // "Anonymous requests and requests that are made using the AWS account root
            // user or IAM roles do not include this key."
            "username" => Resolved::absent(GLOBAL),
            // Present for all signed requests; false when an IAM principal calls.
            "principalisawsservice" => Resolved::provided(vec!["false".into()], GLOBAL),
            // Present only when a service principal makes the call.
            "principalservicename" | "principalservicenameslist" => Resolved::absent(GLOBAL),
            // Present only if the account is a member of an organization: not known.
            "principalorgid" | "principalorgpaths" | "resourceorgid" | "resourceorgpaths" => Resolved::not_modelled(
                "IAM User Guide, \"AWS global condition context keys\": present only if the account is a member of an organization, which the model does not know",
            ),
            // Present only for sessions issued through a third-party identity provider.
            "federatedprovider" => match principal {
                Some(p) if p.harness_session => Resolved::absent(GLOBAL),
                _ => unknown_principal(),
            },
            // Present only after a source identity was set when the role was assumed.
            "sourceidentity" => match principal {
                Some(p) if p.harness_session => Resolved::absent(GLOBAL),
                _ => unknown_principal(),
            },
            // Present only when the principal uses temporary credentials (a role session).
            "tokenissuetime" => match principal.and_then(|p| p.issued) {
                Some(t) => Resolved::provided(vec![iso8601(t)], GLOBAL),
                None => Resolved::not_modelled("the session's issue time is not known"),
            },
            // Present for temporary credentials; false without MFA.
            "multifactorauthpresent" => match principal.and_then(|p| p.mfa) {
                Some(m) => Resolved::provided(vec![m.to_string()], GLOBAL),
                None => Resolved::not_modelled("whether MFA validated the session is not known"),
            },
            // "included in the request context only if the principal making the call was
            // authenticated using MFA"
            "multifactorauthage" => match principal.and_then(|p| p.mfa) {
                Some(false) => Resolved::absent(GLOBAL),
                _ => Resolved::not_modelled("whether MFA validated the session is not known"),
            },
            "currenttime" => Resolved::provided(vec![iso8601(self.now)], GLOBAL),
            "epochtime" => Resolved::provided(vec![self.now.to_string()], GLOBAL),
            // Always included. "IAM calls are always made to the us-east-1 Region" (IAM's
            // single endpoint); every other service the harness calls is regional.
            "requestedregion" => {
                if site.service.eq_ignore_ascii_case("iam") {
                    if self.partition == "aws" {
                        Resolved::provided(vec!["us-east-1".into()], GLOBAL)
                    } else {
                        Resolved::not_modelled("IAM's single endpoint outside the aws partition")
                    }
                } else {
                    Resolved::provided(vec![self.region.clone()], GLOBAL)
                }
            }
            "securetransport" => Resolved::provided(vec![self.secure_transport.to_string()], GLOBAL),
            // Included except through a VPC endpoint, which the harness does not use.
            "sourceip" => match &self.source_ip {
                Some(ip) => Resolved::provided(vec![ip.clone()], GLOBAL),
                None => Resolved::not_modelled("the caller's address is not known"),
            },
            "sourcevpc" | "sourcevpce" | "vpcsourceip" => Resolved::absent(GLOBAL),
            // Only when a service calls another on behalf of a resource owner.
            "sourcearn" | "sourceaccount" | "sourceorgid" | "sourceorgpaths" => Resolved::absent(GLOBAL),
            // Not included for programmatic requests.
            "referer" => Resolved::absent(GLOBAL),
            "useragent" => match &self.user_agent {
                Some(ua) => Resolved::provided(vec![ua.clone()], GLOBAL),
                None => {
                    Resolved::not_modelled("the client application (CAPA's, not the harness's) is not known statically")
                }
            },
            // "also returns false when the principal makes the call directly"
            "viaawsservice" => Resolved::provided(vec!["false".into()], GLOBAL),
            // "not present when the principal makes the call directly"
            "calledvia" | "calledviafirst" | "calledvialast" => Resolved::absent(GLOBAL),
            "resourceaccount" => resource_account(site),
            _ if name.starts_with("requesttag/") || name == "tagkeys" => Resolved::absent(REQUEST_KEY),
            _ => {
                if let Some(tag) = name.strip_prefix("principaltag/") {
                    return match principal.and_then(|p| p.tags.as_ref()) {
                        Some(tags) => match tags.iter().find(|(k, _)| k.eq_ignore_ascii_case(tag)) {
                            Some((_, v)) => Resolved::provided(vec![v.clone()], GLOBAL),
                            None => Resolved::absent(GLOBAL),
                        },
                        None => Resolved::not_modelled("the role's tags are not known"),
                    };
                }
                if let Some(tag) = name.strip_prefix("resourcetag/") {
                    return self.resource_tag(tag, site, world);
                }
                Resolved::not_modelled("a global key the model does not cover")
            }
        }
    }

    /// `aws:ResourceTag/<tag>` and each service's own ResourceTag keys: the tags the
    /// resource already has (from the world model), or, on a resource being created, the
    /// tags the request gives it ("included in the request context when the requested
    /// resource already has attached tags or in requests that create a resource with an
    /// attached tag").
    fn resource_tag(&self, tag: &str, site: &Site<'_>, world: &dyn ResourceTags) -> Resolved {
        if self.untagged_resources {
            return Resolved::absent("a probe of the context space: the resource without tags");
        }
        if let Some(tags) = world.tags(site.resource) {
            return match tags.iter().find(|(k, _)| k.eq_ignore_ascii_case(tag)) {
                Some((_, v)) => Resolved::provided(vec![v.clone()], WORLD_TAGS),
                None => Resolved::absent(WORLD_TAGS),
            };
        }
        let created = site.resource.ends_with('*');
        let request_tags: Vec<(&String, &Vec<String>)> =
            site.declared.iter().filter(|(k, _)| k.starts_with("aws:requesttag/")).collect();
        if created && !request_tags.is_empty() {
            let wanted = format!("aws:requesttag/{tag}");
            return match request_tags.iter().find(|(k, _)| **k == wanted) {
                Some((_, v)) => Resolved::provided((*v).clone(), GLOBAL),
                None => Resolved::absent(GLOBAL),
            };
        }
        Resolved::not_modelled("the resource's tags are not known to the world model")
    }

    /// Adds to `ctx` (the check's own keys, which win) every key of `needed` the model
    /// provides, and marks the not-modelled ones.
    pub fn complete(
        &self,
        ctx: &mut Context,
        at: At<'_>,
        needed: &BTreeSet<String>,
        catalog: &Catalog,
        world: &dyn ResourceTags,
    ) {
        if needed.is_empty() {
            return;
        }
        let declared = ctx.clone();
        let site = Site {
            service: at.service,
            action: at.action,
            resource: at.resource,
            declared: &declared,
            input: at.input,
        };
        for key in needed {
            if declared.get(key).is_some() {
                continue;
            }
            match self.resolve(key, &site, catalog, world).value {
                Value::Provided(v) => ctx.insert(key, v),
                Value::Absent => {}
                Value::NotModelled => ctx.mark_unknown(key),
            }
        }
    }

    /// A model of one probe of the context space (see [`Variant`]).
    pub fn variant(&self, v: Variant) -> Model {
        let mut m = self.clone();
        match v {
            Variant::OtherRegion => {
                m.region = if self.region == "eu-central-1" { "ap-southeast-2".into() } else { "eu-central-1".into() };
            }
            Variant::OtherPrincipal => {
                let account = if self.account == "111122223333" { "444455556666" } else { "111122223333" };
                m.principal = Some(Principal {
                    role_arn: format!("arn:{}:iam::{account}:role/iam-conformance-other-principal", self.partition),
                    account: account.to_string(),
                    session_name: SESSION_NAME.to_string(),
                    userid: Some(format!("AROAOTHERPRINCIPAL:{SESSION_NAME}")),
                    tags: Some(Vec::new()),
                    issued: Some(self.now),
                    mfa: Some(false),
                    harness_session: true,
                });
            }
            Variant::NoTls => m.secure_transport = false,
            Variant::OtherSourceIp => {
                let other =
                    if self.source_ip.as_deref() == Some("198.51.100.7") { "203.0.113.7" } else { "198.51.100.7" };
                m.source_ip = Some(other.into());
            }
            Variant::UntaggedResources => m.untagged_resources = true,
        }
        m
    }
}

/// Request keys: present when the check states them (the request has them), absent
/// otherwise (docs/aws-facts.md, "Condition keys").
const REQUEST_KEYS: &[&str] =
    &["ec2:createaction", "elasticloadbalancing:createaction", "iam:awsservicename", "iam:passedtoservice"];

/// EC2 actions that do not take `aws:ResourceAccount` (IAM User Guide, "AWS global
/// condition context keys", aws:ResourceAccount, Availability).
const NO_RESOURCE_ACCOUNT: &[&str] = &[
    "ec2:copyfpgaimage",
    "ec2:copyimage",
    "ec2:copysnapshot",
    "ec2:createtransitgatewaypeeringattachment",
    "ec2:createvolume",
    "ec2:createvpcpeeringconnection",
];

/// `aws:ResourceAccount`: "always included in the request context for most service
/// actions" (not for EBS and a few EC2 actions), the account that owns the resource, which
/// for the resources here is the account in their ARN. An ARN without one (an image) or a
/// `*` resource does not say whose it is.
fn resource_account(site: &Site<'_>) -> Resolved {
    let action = site.action.to_ascii_lowercase();
    if action.starts_with("ebs:") || NO_RESOURCE_ACCOUNT.contains(&action.as_str()) {
        return Resolved::absent(GLOBAL);
    }
    match site.resource.split(':').nth(4) {
        Some(account) if !account.is_empty() && !account.contains(['*', '?']) => {
            Resolved::provided(vec![account.to_string()], GLOBAL)
        }
        _ => Resolved::not_modelled("the resource's ARN does not name its owner's account"),
    }
}

/// Whether the catalog lists `key` (lowercased) for `action`: on the action, on one of its
/// resource types, or on those types themselves (`${TagKey}`-style names match any suffix).
fn listed(catalog: &Catalog, action: &str, key: &str) -> bool {
    let Some(a) = catalog.action(action) else { return true };
    let matches = |listed: &String| {
        let l = listed.to_ascii_lowercase();
        // The Service Authorization Reference writes most tag keys `…/${TagKey}`, Secrets
        // Manager's `secretsmanager:ResourceTag/tag-key`: both stand for any tag.
        match l.find("${").or_else(|| l.strip_suffix("/tag-key").map(|p| p.len() + 1)) {
            Some(at) => key.starts_with(&l[..at]),
            None => l == key,
        }
    };
    a.action.condition_keys.iter().any(matches)
        || a.action.resources.iter().any(|r| {
            r.condition_keys.iter().any(matches)
                || catalog
                    .resource_type(a.service, &r.resource_type)
                    .is_some_and(|t| t.condition_keys.iter().any(matches))
        })
}

/// Where a check is made: the service called, the action checked, the resource.
#[derive(Clone, Copy, Debug)]
pub struct At<'a> {
    /// The service the request goes to.
    pub service: &'a str,
    /// The action checked.
    pub action: &'a str,
    /// The resource checked.
    pub resource: &'a str,
    /// The call's input (a scenario's `input`, the gate's parsed request), when known.
    pub input: Option<&'a serde_json::Value>,
}

/// One authorization check as the model sees it.
pub struct Site<'a> {
    /// The service the request goes to (the scenario's, or the gate's request's).
    pub service: &'a str,
    /// The action checked.
    pub action: &'a str,
    /// The resource checked.
    pub resource: &'a str,
    /// The keys the check states itself.
    pub declared: &'a Context,
    /// The call's input, for the keys AWS takes from the request's parameters.
    pub input: Option<&'a serde_json::Value>,
}

/// What a key is for a check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// Present, with these values.
    Provided(Vec<String>),
    /// Not in the request context, as AWS documents.
    Absent,
    /// The model cannot say.
    NotModelled,
}

/// A key's value for a check, with where that comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// The key's value.
    pub value: Value,
    /// The page (or reason) the value comes from.
    pub source: &'static str,
}

impl Resolved {
    fn provided(values: Vec<String>, source: &'static str) -> Resolved {
        Resolved { value: Value::Provided(values), source }
    }
    fn absent(source: &'static str) -> Resolved {
        Resolved { value: Value::Absent, source }
    }
    fn not_modelled(source: &'static str) -> Resolved {
        Resolved { value: Value::NotModelled, source }
    }
}

/// What the world model knows of a resource's tags.
pub trait ResourceTags {
    /// The tags `resource` (an ARN) has, or `None` when the model does not know it.
    fn tags(&self, resource: &str) -> Option<Vec<(String, String)>>;
}

/// A world that knows no resource.
pub struct NoWorld;

impl ResourceTags for NoWorld {
    fn tags(&self, _: &str) -> Option<Vec<(String, String)>> {
        None
    }
}

impl ResourceTags for std::collections::BTreeMap<String, Vec<(String, String)>> {
    fn tags(&self, resource: &str) -> Option<Vec<(String, String)>> {
        self.get(resource).cloned()
    }
}

/// A probe of the context space outside the contract's: the same check as another
/// request could make it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Variant {
    /// The same call to another region (IAM's calls stay in us-east-1).
    OtherRegion,
    /// The same call by another principal of another account.
    OtherPrincipal,
    /// The same call over plain HTTP.
    NoTls,
    /// The same call from another address.
    OtherSourceIp,
    /// The same call on resources that carry no tags.
    UntaggedResources,
}

impl Variant {
    /// Every probe, in order.
    pub const ALL: [Variant; 5] = [
        Variant::OtherRegion,
        Variant::OtherPrincipal,
        Variant::NoTls,
        Variant::OtherSourceIp,
        Variant::UntaggedResources,
    ];

    /// How reports name it.
    pub fn label(self) -> &'static str {
        match self {
            Variant::OtherRegion => "another region",
            Variant::OtherPrincipal => "another principal and account",
            Variant::NoTls => "no TLS",
            Variant::OtherSourceIp => "another source address",
            Variant::UntaggedResources => "resources without tags",
        }
    }

    /// Whether the probe changes `key` (lowercased).
    fn varies(self, key: &str) -> bool {
        match self {
            Variant::OtherRegion => key == "aws:requestedregion" || key == "ec2:region",
            Variant::OtherPrincipal => {
                matches!(key, "aws:principalarn" | "aws:principalaccount" | "aws:userid")
                    || key.starts_with("aws:principaltag/")
            }
            Variant::NoTls => key == "aws:securetransport",
            Variant::OtherSourceIp => key == "aws:sourceip",
            Variant::UntaggedResources => key.split_once(':').is_some_and(|(_, n)| n.starts_with("resourcetag/")),
        }
    }

    /// The probes that change a key some policy reads (the others change no decision).
    pub fn relevant(needed: &BTreeSet<String>) -> Vec<Variant> {
        Variant::ALL.into_iter().filter(|v| needed.iter().any(|k| v.varies(k))).collect()
    }
}

/// Every condition key and policy variable the policies read, lowercased: what a context
/// must hold for them. (Mutants read a subset: they only drop or negate.)
pub fn keys_read(policies: &[Policy]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for s in policies.iter().flat_map(|p| &p.statements) {
        for c in &s.conditions {
            out.insert(c.key.to_ascii_lowercase());
            for v in &c.values {
                out.extend(v.variables().into_iter().map(|k| k.to_ascii_lowercase()));
            }
        }
        if let Some(r) = &s.resource {
            for i in &r.items {
                out.extend(i.pattern.variables().into_iter().map(str::to_ascii_lowercase));
            }
        }
    }
    out
}

/// ISO 8601 in UTC to the second (`2026-12-01T12:00:00Z`), as `aws:CurrentTime` reads.
pub fn iso8601(epoch: i64) -> String {
    let (y, mo, d) = crate::calendar::civil_from_days(epoch.div_euclid(86_400));
    let s = epoch.rem_euclid(86_400);
    format!("{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z", s / 3600, s % 3600 / 60, s % 60)
}

/// The role tags a template gives the role `logical_id` (`Properties.Tags`), when every
/// key and value is plain text; `None` when one is computed (an intrinsic) and so not
/// known before rendering, and an empty list when the role has none.
pub fn template_role_tags(template: &crate::template::Template, logical_id: &str) -> Option<Vec<(String, String)>> {
    let role = template.root.get("Resources")?.get(logical_id)?;
    let Some(tags) = role.get("Properties").and_then(|p| p.get("Tags")) else { return Some(Vec::new()) };
    let mut out = Vec::new();
    for t in tags.as_seq()? {
        out.push((t.get("Key")?.as_str()?.to_string(), t.get("Value")?.as_str()?.to_string()));
    }
    Some(out)
}

#[cfg(test)]
mod tests;
