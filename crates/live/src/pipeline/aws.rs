//! The AWS backend: a real sandbox account, where AWS itself decides every call. Built
//! only after the guards (allow-list, cost, the credentials' account) have passed.
//! Everything the run creates carries the run id and an expiry, so `iam-conformance
//! sweep` finds what a killed run left.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, SystemTime};

use iamc_core::analysis::Finding;
use iamc_core::aws::sweep::{self, EXPIRES_TAG, RUN_ID_TAG, Selector};
use iamc_core::outcome::{DecidedBy, LiveResult};
use iamc_core::report::events::{BackendInfo, RunEvent};
use iamc_core::template::render::Target;

use super::{Backend, Made, Plan, RunError};
use crate::client::Credentials;
use crate::credentials::{IdentityError, who_am_i};
use crate::oracle::{decode_denials, simulate};
use crate::run::{self, CallError, CallOptions, CredentialSource, DeployError, Deployed, RetryPolicy, Session};
use crate::session::listed;

/// How long a new role may take to behave (IAM propagation; seen up to a minute).
const PROPAGATION_PATIENCE: Duration = Duration::from_secs(180);

/// Whose credentials the scenarios run with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Principal {
    /// The administrator assumes the stack's role (the run deploys its own stack).
    Assume,
    /// The instance metadata service's credentials (of the stack's instance profile).
    InstanceProfile,
    /// An IAM user's keys, the user holding exactly the stack's managed policies.
    User,
}

impl Principal {
    /// As the report's `target` says it.
    pub fn words(self) -> &'static str {
        match self {
            Principal::Assume => "assumed role",
            Principal::InstanceProfile => "instance profile",
            Principal::User => "IAM user",
        }
    }

    /// As the check of a given principal's credentials is named in its errors.
    fn check(self) -> &'static str {
        match self {
            Principal::Assume => "assumed role",
            Principal::InstanceProfile => "instance principal",
            Principal::User => "user principal",
        }
    }
}

/// Why a given principal may not run the scenarios (`--principal user` or
/// `instance-profile`): anything but the policy under test would decide.
#[derive(Debug, thiserror::Error)]
pub enum PrincipalError {
    /// Who the credentials belong to could not be asked.
    #[error("{}: {source}", .principal.check())]
    Identity {
        principal: Principal,
        #[source]
        source: IdentityError,
    },
    /// The credentials are of an account that was not admitted.
    #[error(
        "{}: the credentials are {arn}, of account {account}, not of the admitted account {admitted}; nothing was called with them",
        .principal.check()
    )]
    OtherAccount { principal: Principal, arn: String, account: String, admitted: String },
    /// `--user-profile`'s keys are not an IAM user's.
    #[error("user principal: --user-profile's keys are {arn}, not an IAM user's")]
    NotAUser { arn: String },
    /// Listing what the user or the role holds failed.
    #[error("user principal: {0}")]
    Call(#[source] CallError),
    /// The role has inline policies, which a user cannot hold.
    #[error("user principal: the role has inline policies {0:?}, which a user cannot hold: use --principal assume")]
    RoleInline(Vec<String>),
    /// The user holds more or other than the stack's managed policies.
    #[error(
        "user principal: user `{name}` must hold exactly the stack's managed policies {expected:?}: it has attached {attached:?}, inline {inline:?}, groups {groups:?}; anything more would be granted beside the policy under test"
    )]
    UserHolds { name: String, expected: Vec<String>, attached: Vec<String>, inline: Vec<String>, groups: Vec<String> },
    /// The instance's credentials are not the deployed role's.
    #[error(
        "instance principal: the instance's credentials are {arn}, not the role `{role}`: launch it with the stack's instance profile"
    )]
    NotTheRole { arn: String, role: String },
}

/// What the AWS backend needs besides the session.
pub struct AwsOptions {
    /// The admitted account.
    pub account: String,
    /// Whose credentials run the scenarios.
    pub principal: Principal,
    /// The principal's credentials (instance profile, user); `None` to assume the role.
    pub subject: Option<Credentials>,
    /// The principal's ARN, for the simulator (`--principal user`).
    pub subject_arn: Option<String>,
    /// EC2 calls as dry runs (`--mode dry-run`).
    pub dry_run: bool,
    /// The run's id and expiry, tagged on everything it creates.
    pub tags: (String, String),
    /// An `--endpoint` stands in for AWS (an emulator: short retries).
    pub endpoint: Option<String>,
    /// Skip the policy simulator (`--no-simulate`).
    pub no_simulate: bool,
    /// Leave everything in place (`--keep`).
    pub keep: bool,
}

/// A sandbox account.
pub struct AwsBackend {
    session: Arc<Session>,
    options: AwsOptions,
}

impl AwsBackend {
    /// The backend over an admitted session; announces itself through `emit`.
    pub fn new(session: Session, options: AwsOptions, target: &Target, emit: &mut dyn FnMut(RunEvent)) -> AwsBackend {
        let mode = if options.dry_run { "dry-run" } else { "live" };
        emit(RunEvent::Backend(BackendInfo {
            target: format!(
                "AWS account {}, {} ({mode} mode, principal: {})",
                options.account,
                target.region,
                options.principal.words()
            ),
            endpoint: options.endpoint.clone().unwrap_or_else(|| "AWS regional endpoints (HTTPS)".into()),
            gate: "none: AWS decides".into(),
            decided_by: DecidedBy::Aws,
            services: Default::default(),
            emulator: None,
        }));
        AwsBackend { session: Arc::new(session), options }
    }
}

impl Backend for AwsBackend {
    fn session(&self) -> &Arc<Session> {
        &self.session
    }

    fn call_options(&self, stop: Arc<AtomicBool>) -> CallOptions {
        CallOptions {
            dry_run: self.options.dry_run,
            tags: Some(self.options.tags.clone()),
            // AWS's asynchronous deletes can take minutes; an emulator's do not.
            retry: retry_for(self.options.endpoint.is_some(), Duration::from_secs(300)),
            stop: Some(stop),
        }
    }

    async fn deploy(&mut self, plan: &Plan<'_>) -> Result<(), RunError> {
        let stack = &plan.target.stack_name;
        match self.options.principal {
            Principal::Assume => deploy_tagged(&self.session, stack, plan.deploy_json, &self.options.tags).await?,
            Principal::InstanceProfile | Principal::User => stack_exists(&self.session, stack).await?,
        }
        Ok(())
    }

    async fn deployed(&mut self, deployed: &Deployed) -> Result<(), RunError> {
        match (self.options.principal, &self.options.subject) {
            (Principal::User, Some(creds)) => Ok(user_holds_only(&self.session, creds, deployed).await?),
            (Principal::InstanceProfile, Some(creds)) => Ok(instance_is_role(&self.session, creds, deployed).await?),
            _ => Ok(()),
        }
    }

    async fn fixtures_made(&mut self, plan: &Plan<'_>, ids: &HashMap<String, String>) -> Vec<String> {
        let untagged = tag_fixtures(&self.session, plan.loaded, ids, plan.target, &self.options.tags).await;
        if untagged.is_empty() {
            Vec::new()
        } else {
            vec![format!("fixtures not tagged for sweep (teardown still undoes them): {}", untagged.join("; "))]
        }
    }

    async fn become_principal(&mut self, plan: &Plan<'_>, deployed: &Deployed) -> Result<Credentials, RunError> {
        let source = match &self.options.subject {
            None => CredentialSource::AssumeRole(deployed.role_arn.clone()),
            Some(c) => CredentialSource::Given(c.clone()),
        };
        Ok(run::become_role(&self.session, None, &source, plan.probes, plan.target, PROPAGATION_PATIENCE).await?)
    }

    /// Decoded EC2 denials into the rows' notes, then AWS's policy simulator on each
    /// declared check (the user's own policies for `--principal user`, else the role's).
    async fn oracles(&mut self, plan: &Plan<'_>, deployed: &Deployed, results: &mut [LiveResult]) -> Vec<Finding> {
        decode_denials(&self.session, results).await;
        if self.options.no_simulate {
            return Vec::new();
        }
        let arn = self.options.subject_arn.clone().unwrap_or_else(|| deployed.role_arn.clone());
        let retry = retry_for(self.options.endpoint.is_some(), Duration::from_secs(120));
        simulate(&self.session, retry, &arn, plan.proof_scenarios, results).await
    }

    /// Fixtures in reverse, what the role created (found by the run's tag), then the
    /// stack the run deployed, waited for.
    async fn teardown(&mut self, plan: &Plan<'_>, made: &Made) -> Vec<RunEvent> {
        let (run_id, expires) = &self.options.tags;
        if self.options.keep {
            return vec![RunEvent::Note(format!(
                "  kept       everything the run created, tagged {RUN_ID_TAG}={run_id} ({EXPIRES_TAG}={expires})"
            ))];
        }
        let mut left = Vec::new();
        let (fixtures, known) = made.take();
        let mut swept = HashSet::new();
        match crate::sweep::find(&self.session).await {
            Ok(found) => {
                let mut planned = sweep::plan(&found, &Selector::RunId(run_id.clone()), SystemTime::now());
                // The stack goes last, by DeleteStack below (its tag also names this run).
                planned.retain(|t| t.kind != sweep::Kind::Stack);
                for d in crate::sweep::delete(&self.session, &planned, false).await {
                    match d.result {
                        Ok(()) => {
                            swept.insert(d.id);
                        }
                        Err(e) => left.push(format!("{} {}: {e}", d.kind.label(), d.id)),
                    }
                }
            }
            Err(e) => left.push(format!("could not list what the run tagged: {e}")),
        }
        // Fixtures the sweep already removed (they carry the run's tag) are not undone twice.
        let fixtures: Vec<_> = fixtures
            .into_iter()
            .filter(|f| !f.produces.keys().any(|example| known.get(example).is_some_and(|id| swept.contains(id))))
            .collect();
        left.extend(run::undo_fixtures(&self.session, &fixtures, &known, plan.target).await);
        // Only the stack this run deployed (a given `--stack` is someone else's).
        if self.options.principal == Principal::Assume {
            let ours = sweep::Tagged {
                kind: sweep::Kind::Stack,
                id: plan.target.stack_name.clone(),
                run_id: Some(run_id.clone()),
                expires: Some(expires.clone()),
                attached_to: Vec::new(),
                name: None,
            };
            for d in crate::sweep::delete(&self.session, &[ours], false).await {
                if let Err(e) = d.result {
                    left.push(format!("{} {}: {e}", d.kind.label(), d.id));
                }
            }
        }
        if left.is_empty() {
            Vec::new()
        } else {
            vec![RunEvent::Warning(format!(
                "the teardown left: {}. `iam-conformance sweep --run-id {run_id}` retries.",
                left.join("; ")
            ))]
        }
    }
}

/// Retrying on AWS (throttling, 5xx, "not yet" answers) for up to `patience`; against an
/// `--endpoint` (an emulator) only "not yet" answers, for a short while.
fn retry_for(endpoint_given: bool, patience: Duration) -> RetryPolicy {
    if endpoint_given {
        RetryPolicy::scenario_calls_on_emulator()
    } else {
        RetryPolicy::scenario_calls_on_aws(patience)
    }
}

/// Deploys the stack with the run's tags (CloudFormation passes stack tags on to the
/// resources it creates that take tags).
async fn deploy_tagged(
    session: &Session,
    stack: &str,
    template_json: &str,
    (run_id, expires): &(String, String),
) -> Result<(), DeployError> {
    let tags = serde_json::json!([{"Key": RUN_ID_TAG, "Value": run_id}, {"Key": EXPIRES_TAG, "Value": expires}]);
    run::deploy_with(session, stack, template_json, Some(tags)).await
}

async fn stack_exists(session: &Session, stack: &str) -> Result<(), DeployError> {
    session
        .admin_ok("cloudformation", "DescribeStacks", serde_json::json!({"StackName": stack}))
        .await
        .map(|_| ())
        .map_err(|source| DeployError::GivenStack { stack: stack.to_string(), source })
}

/// Who the subject's credentials are (their ARN), refusing credentials of another account
/// than the administrator's (only that one was admitted).
async fn same_account(
    session: &Session,
    creds: &Credentials,
    deployed: &Deployed,
    principal: Principal,
) -> Result<String, PrincipalError> {
    let (account, arn) =
        who_am_i(session, creds).await.map_err(|source| PrincipalError::Identity { principal, source })?;
    let admitted = deployed.role_arn.split(':').nth(4).unwrap_or_default();
    if account != admitted {
        return Err(PrincipalError::OtherAccount { principal, arn, account, admitted: admitted.to_string() });
    }
    Ok(arn)
}

/// `--principal user`: the keys are the user's, and the user holds the template's managed
/// policy and nothing else (anything more would be granted beside the policy under test).
async fn user_holds_only(session: &Session, creds: &Credentials, deployed: &Deployed) -> Result<(), PrincipalError> {
    let arn = same_account(session, creds, deployed, Principal::User).await?;
    let Some(name) = arn.split(":user/").nth(1).map(|p| p.rsplit('/').next().unwrap_or(p).to_string()) else {
        return Err(PrincipalError::NotAUser { arn });
    };
    // Every page of each listing (IsTruncated/Marker), read by the wire model.
    let iam = |operation: &'static str, input: serde_json::Value| async move {
        session.admin_pages("iam", operation, input).await.map_err(PrincipalError::Call)
    };
    let attached = iam("ListAttachedUserPolicies", serde_json::json!({"UserName": name})).await?;
    let mut names = listed(&attached, "/AttachedPolicies", Some("PolicyArn"));
    names.sort();
    // The role's managed policies, by ARN: what the user must hold, exactly.
    let role_name = deployed.role_arn.rsplit('/').next().unwrap_or_default();
    let role_attached = iam("ListAttachedRolePolicies", serde_json::json!({"RoleName": role_name})).await?;
    let mut expected = listed(&role_attached, "/AttachedPolicies", Some("PolicyArn"));
    expected.sort();
    let role_inline =
        listed(&iam("ListRolePolicies", serde_json::json!({"RoleName": role_name})).await?, "/PolicyNames", None);
    if !role_inline.is_empty() {
        return Err(PrincipalError::RoleInline(role_inline));
    }
    let inline = listed(&iam("ListUserPolicies", serde_json::json!({"UserName": name})).await?, "/PolicyNames", None);
    let groups =
        listed(&iam("ListGroupsForUser", serde_json::json!({"UserName": name})).await?, "/Groups", Some("GroupName"));
    if names.is_empty() || names != expected || !inline.is_empty() || !groups.is_empty() {
        return Err(PrincipalError::UserHolds { name, expected, attached: names, inline, groups });
    }
    Ok(())
}

/// `--principal instance-profile`: the metadata credentials act as the deployed role.
async fn instance_is_role(session: &Session, creds: &Credentials, deployed: &Deployed) -> Result<(), PrincipalError> {
    let arn = same_account(session, creds, deployed, Principal::InstanceProfile).await?;
    let role_name = deployed.role_arn.rsplit('/').next().unwrap_or_default();
    if !arn.contains(&format!(":assumed-role/{role_name}/")) {
        return Err(PrincipalError::NotTheRole { arn, role: role_name.to_string() });
    }
    Ok(())
}

/// Tags what the fixtures produced (the administrator made them; a sweep must find them).
async fn tag_fixtures(
    session: &Session,
    loaded: &iamc_core::load::Loaded,
    ids: &HashMap<String, String>,
    target: &Target,
    (run_id, expires): &(String, String),
) -> Vec<String> {
    let mut failed = Vec::new();
    for f in &loaded.profile.fixtures {
        // EC2 ids the fixture produced, and what it made by name (roles, instance profiles).
        let mut made: Vec<(sweep::Kind, String)> = f
            .produces
            .keys()
            .filter_map(|example| ids.get(example))
            .filter_map(|id| sweep::kind_of(id).map(|k| (k, id.clone())))
            .collect();
        let input = run::concrete_input(&f.input, ids, target);
        made.extend(iamc_core::aws::created_named(&f.service, &f.operation, &input, ""));
        for (kind, id) in &made {
            if let Some((service, operation, input)) = sweep::tag_call(*kind, id, run_id, expires) {
                match session.admin(service, operation, input).await {
                    Ok(a) if a.error.is_none() => {}
                    Ok(a) => {
                        failed.push(format!("{id}: {}", a.error.map(|(c, m)| format!("{c}: {m}")).unwrap_or_default()))
                    }
                    Err(e) => failed.push(format!("{id}: {e}")),
                }
            }
        }
    }
    failed
}
