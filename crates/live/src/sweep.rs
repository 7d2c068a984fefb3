//! `sweep`'s effectful half: lists what a run left behind ([`find`]) and deletes it in
//! order ([`delete`]); what to list, what to pick and which calls delete it are the core's
//! `aws::sweep`. Answers are read by the wire model (`wire::parse_response`), listings
//! paged by botocore's paginators (`wire::next_input`), asynchronous deletions followed
//! with botocore's waiters (`wire::waiter_state`) where it has one.

use std::collections::HashSet;
use std::time::Instant;

use iamc_core::aws::errors::{ErrorClass, classify};
use iamc_core::aws::kinds::Listing;
use iamc_core::aws::retry::RetryPolicy;
use iamc_core::aws::sweep::*;
use iamc_core::wire::{self, WaitState, WireError};
use serde_json::{Value, json};

use crate::client::{Answer, ExecError};
use crate::session::{Endpoints, Session};

/// Pages are bounded so that a service repeating a token cannot loop forever.
const MAX_PAGES: usize = 1000;

/// Why a listing, a deletion or the wait for one failed; each message names the call.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// A call got no answer.
    #[error("{call}: {source}")]
    Call {
        /// The call, as `service:Operation` or its label.
        call: String,
        /// Why there was no answer (boxed: the error is large and rare).
        #[source]
        source: Box<ExecError>,
    },
    /// A call was answered with an error that is not retried, or was retried too long.
    #[error("{call} answered {status} {code}: {message}")]
    Answered {
        /// The call, as `service:Operation` or its label.
        call: String,
        /// The HTTP status of the answer.
        status: u16,
        /// The error code of the answer.
        code: String,
        /// The error message of the answer.
        message: String,
    },
    /// A successful answer the wire model cannot read.
    #[error("{service}:{operation} answered what the wire model cannot read: {source}")]
    Unreadable {
        /// The service called.
        service: String,
        /// The operation called.
        operation: String,
        /// What the wire model could not read (boxed, as above).
        #[source]
        source: Box<WireError>,
    },
    /// A service-linked role's deletion task ended failed.
    #[error("{}", task_failed(.task, .why))]
    TaskFailed {
        /// The deletion task's id.
        task: String,
        /// Why it failed, in IAM's words.
        why: String,
    },
    /// A service-linked role's deletion task did not end in time.
    #[error("deletion task {task} still {status} after {seconds} s")]
    TaskTimedOut {
        /// The deletion task's id.
        task: String,
        /// Its last status.
        status: String,
        /// How long it was waited for.
        seconds: u64,
    },
    /// The wire model lacks the waiter a stack's deletion is followed with.
    #[error("the wire model has no StackDeleteComplete waiter")]
    NoStackWaiter,
    /// A stack's deletion ended in a state the waiter calls a failure.
    #[error("stack {stack} {status}: {reason}")]
    StackFailed {
        /// The stack's name.
        stack: String,
        /// Its status.
        status: String,
        /// Its status reason.
        reason: String,
    },
    /// A stack's deletion did not end in time.
    #[error("stack {stack} still {status} after {seconds} s")]
    StackTimedOut {
        /// The stack's name.
        stack: String,
        /// Its last status.
        status: String,
        /// How long it was waited for.
        seconds: u64,
    },
}

/// The message of a failed deletion task, with no trailing space when IAM gave no reason.
fn task_failed(task: &str, why: &str) -> String {
    format!("deletion task {task} failed: {why}").trim_end().to_string()
}

/// A successful answer's output, read by the wire model; the error names the call.
fn read(service: &str, operation: &str, a: &Answer) -> Result<Value, SweepError> {
    wire::output(service, operation, a.status, &a.body).map_err(|source| SweepError::Unreadable {
        service: service.to_string(),
        operation: operation.to_string(),
        source: Box::new(source),
    })
}

/// One listing call, its answer read; `Ok(None)` when `gone_ok` and its subject is gone
/// (a role deleted since ListRoles listed it, a stack since DescribeStacks). Throttling
/// is waited out ([`RetryPolicy::sweep_listing`]); any other error fails, naming the call.
async fn listing(
    session: &Session,
    service: &str,
    operation: &str,
    input: Value,
    gone_ok: bool,
) -> Result<Option<Value>, SweepError> {
    let policy = RetryPolicy::sweep_listing();
    let started = Instant::now();
    let mut retries = 0;
    loop {
        let a = session
            .admin(service, operation, input.clone())
            .await
            .map_err(|source| SweepError::Call { call: format!("{service}:{operation}"), source: Box::new(source) })?;
        let Some((code, message)) = &a.error else { return read(service, operation, &a).map(Some) };
        let class = classify(code, message);
        if let Some(wait) = policy.next_wait(retries, started.elapsed(), class) {
            tokio::time::sleep(wait).await;
            retries += 1;
            continue;
        }
        if gone_ok && class == ErrorClass::Gone {
            return Ok(None);
        }
        return Err(SweepError::Answered {
            call: format!("{service}:{operation}"),
            status: a.status,
            code: code.clone(),
            message: message.clone(),
        });
    }
}

/// Every page of a listing, each read, following the operation's botocore paginator
/// (one page when it has none); `Ok(None)` when `gone_ok` and the subject is gone.
async fn pages(
    session: &Session,
    service: &str,
    operation: &str,
    input: Value,
    gone_ok: bool,
) -> Result<Option<Vec<Value>>, SweepError> {
    let paginator = wire::models().service(service).and_then(|m| m.paginator(operation));
    let mut input = input;
    let mut out = Vec::new();
    for _ in 0..MAX_PAGES {
        let Some(output) = listing(session, service, operation, input.clone(), gone_ok).await? else {
            return Ok(None);
        };
        let next = paginator.and_then(|p| wire::next_input(p, &input, &output));
        out.push(output);
        match next {
            Some(n) => input = n,
            None => break,
        }
    }
    Ok(Some(out))
}

/// Every page of a listing whose subject cannot be gone.
async fn all_pages(session: &Session, service: &str, operation: &str, input: Value) -> Result<Vec<Value>, SweepError> {
    Ok(pages(session, service, operation, input, false).await?.unwrap_or_default())
}

/// Whether an error says the service does not implement a filter (moto's answer for
/// filters it lacks; AWS implements every documented one).
fn filter_unsupported(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    lower.contains("filter") && (lower.contains("not been implemented") || lower.contains("notimplemented"))
}

/// The pages of a listing with a `tag-key` filter on [`RUN_ID_TAG`] in `member`, and
/// whether the service applied it; without the filter when the service does not
/// implement it (every item is then listed and must show the tag itself).
async fn tag_filtered(
    session: &Session,
    service: &str,
    operation: &str,
    member: &str,
) -> Result<(Vec<Value>, bool), SweepError> {
    let filtered = json!({member: [{"Name": "tag-key", "Values": [RUN_ID_TAG]}]});
    match all_pages(session, service, operation, filtered).await {
        Ok(pages) => Ok((pages, true)),
        Err(e) if filter_unsupported(&e.to_string()) => {
            Ok((all_pages(session, service, operation, json!({})).await?, false))
        }
        Err(e) => Err(e),
    }
}

async fn find_ec2(session: &Session, listing: &Ec2Listing) -> Result<Vec<Tagged>, SweepError> {
    let (pages, vouched) = tag_filtered(session, "ec2", listing.operation, listing.filter_member).await?;
    Ok(pages.iter().flat_map(|page| read_ec2(listing.kind, page, vouched)).collect())
}

/// The facts of a kind's listing: its service, operation, `tag-key` filter member and tag
/// listing (its row of `catalog/resource-kinds.toml`).
fn listing_of(kind: Kind) -> (&'static str, &'static Listing) {
    (kind.service(), &kind.row().listing)
}

/// A listing field every row of that kind has (the kinds' tests check it).
fn field(f: &'static Option<String>) -> &'static str {
    f.as_deref().unwrap_or_default()
}

async fn find_load_balancers(session: &Session) -> Result<Vec<Tagged>, SweepError> {
    let (service, listing) = listing_of(Kind::LoadBalancer);
    let names: Vec<String> = all_pages(session, service, &listing.operation, json!({}))
        .await?
        .iter()
        .flat_map(read_load_balancers)
        .collect();
    let mut out = Vec::new();
    // DescribeTags takes at most 20 load balancers.
    for chunk in names.chunks(20) {
        let input = json!({field(&listing.tags_member): chunk});
        for page in all_pages(session, service, field(&listing.tags), input).await? {
            out.extend(read_load_balancer_tags(&page));
        }
    }
    Ok(out)
}

async fn find_auto_scaling_groups(session: &Session) -> Result<Vec<Tagged>, SweepError> {
    let (service, listing) = listing_of(Kind::AutoScalingGroup);
    let (pages, _) = tag_filtered(session, service, &listing.operation, field(&listing.filter)).await?;
    Ok(pages.iter().flat_map(read_auto_scaling_groups).collect())
}

async fn find_secrets(session: &Session) -> Result<Vec<Tagged>, SweepError> {
    // The tag-key filter matches by prefix: `read_secrets` keeps exact keys only.
    let (service, listing) = listing_of(Kind::Secret);
    let input = json!({field(&listing.filter): [{"Key": "tag-key", "Values": [RUN_ID_TAG]}]});
    Ok(all_pages(session, service, &listing.operation, input).await?.iter().flat_map(read_secrets).collect())
}

/// Every role or every instance profile in the account (all paths).
async fn list_iam(session: &Session, kind: IamListing) -> Result<Vec<Listed>, SweepError> {
    let pages = all_pages(session, "iam", kind.operation(), json!({})).await?;
    Ok(pages.iter().flat_map(|page| read_iam_listing(kind, page)).collect())
}

/// Our tags on a role or an instance profile: those its listing showed, else its own
/// tag listing (ListRoleTags, ListInstanceProfileTags). `None` when it is gone since it
/// was listed.
async fn iam_tags(session: &Session, kind: IamListing, entity: &Listed) -> Result<Option<TagValues>, SweepError> {
    if let Some(tags) = &entity.tags {
        return Ok(Some(tags.clone()));
    }
    let (operation, member) = kind.tag_listing();
    let Some(pages) = pages(session, "iam", operation, json!({member: entity.name}), true).await? else {
        return Ok(None);
    };
    let (mut run_id, mut expires) = (None, None);
    for page in &pages {
        let (r, e) = read_entity_tags(page);
        run_id = run_id.or(r);
        expires = expires.or(e);
    }
    Ok(Some((run_id, expires)))
}

/// The tagged roles: service-linked ones (under `/aws-service-role/`, by ARN) and others
/// (by name), except those a stack manages.
async fn find_roles(session: &Session, stack_managed: &HashSet<(Kind, String)>) -> Result<Vec<Tagged>, SweepError> {
    let mut out = Vec::new();
    for role in list_iam(session, IamListing::Roles).await? {
        let service_linked = role.path.starts_with("/aws-service-role/");
        if !service_linked && stack_managed.contains(&(Kind::Role, role.name.clone())) {
            continue;
        }
        let Some((Some(run_id), expires)) = iam_tags(session, IamListing::Roles, &role).await? else { continue };
        let (kind, id) = if service_linked { (Kind::ServiceLinkedRole, role.arn) } else { (Kind::Role, role.name) };
        out.push(Tagged { kind, id, run_id: Some(run_id), expires, attached_to: Vec::new(), name: None });
    }
    Ok(out)
}

/// The tagged instance profiles (by name, with their roles), except those a stack manages.
async fn find_instance_profiles(
    session: &Session,
    stack_managed: &HashSet<(Kind, String)>,
) -> Result<Vec<Tagged>, SweepError> {
    let mut out = Vec::new();
    for profile in list_iam(session, IamListing::InstanceProfiles).await? {
        if stack_managed.contains(&(Kind::InstanceProfile, profile.name.clone())) {
            continue;
        }
        let Some((Some(run_id), expires)) = iam_tags(session, IamListing::InstanceProfiles, &profile).await? else {
            continue;
        };
        out.push(Tagged {
            kind: Kind::InstanceProfile,
            id: profile.name,
            run_id: Some(run_id),
            expires,
            attached_to: profile.roles,
            name: None,
        });
    }
    Ok(out)
}

/// The roles and instance profiles the stacks manage (ListStackResources). They go with
/// their stack: DeleteStack deletes them, and a sweep must not delete them behind
/// CloudFormation's back (a stack's tags, the run's among them, may be propagated to
/// the resources it creates).
async fn stack_managed(session: &Session, stacks: &[Tagged]) -> Result<HashSet<(Kind, String)>, SweepError> {
    let mut out = HashSet::new();
    for stack in stacks {
        // A stack deleted since DescribeStacks manages nothing any more.
        let input = json!({"StackName": stack.id});
        let Some(pages) = pages(session, "cloudformation", "ListStackResources", input, true).await? else { continue };
        out.extend(pages.iter().flat_map(read_stack_resources));
    }
    Ok(out)
}

async fn find_stacks(session: &Session) -> Result<Vec<Tagged>, SweepError> {
    let (service, listing) = listing_of(Kind::Stack);
    Ok(all_pages(session, service, &listing.operation, json!({})).await?.iter().flat_map(read_stacks).collect())
}

/// Effectful: every resource carrying [`RUN_ID_TAG`] in the session's region (and IAM's
/// roles and instance profiles, which are global), listed per service: EC2 Describe* with
/// a `tag-key` filter (instances that are terminated, NAT gateways and volumes that are
/// deleted, main route tables and default security groups are left out: they are gone
/// or go with their VPC), classic ELB DescribeLoadBalancers + DescribeTags, Auto Scaling
/// DescribeAutoScalingGroups with a `tag-key` filter, ListSecrets with a `tag-key`
/// filter, CloudFormation DescribeStacks, IAM ListInstanceProfiles +
/// ListInstanceProfileTags and ListRoles (all paths; a role under `/aws-service-role/`
/// is service-linked) + ListRoleTags. The roles and instance profiles a tagged stack
/// manages (ListStackResources) are left to the stack. The first listing that fails
/// fails the whole search (a sweep must not act on a partial picture); the error names
/// the call. A role, instance profile or stack deleted while being listed is left out.
pub async fn find(session: &Session) -> Result<Vec<Tagged>, SweepError> {
    let mut out = find_auto_scaling_groups(session).await?;
    out.extend(find_load_balancers(session).await?);
    for listing in ec2_listings() {
        out.extend(find_ec2(session, listing).await?);
    }
    out.extend(find_secrets(session).await?);
    let stacks = find_stacks(session).await?;
    let managed = stack_managed(session, &stacks).await?;
    out.extend(find_instance_profiles(session, &managed).await?);
    out.extend(find_roles(session, &managed).await?);
    out.extend(stacks);
    Ok(out)
}

/// How a sweep retries its deletions and waits for what AWS deletes asynchronously:
/// [`RetryPolicy::sweep_deletes_on_aws`] (every 10 s for five minutes, retrying "not yet"
/// answers: a deleted load balancer's or instance's network interfaces linger for minutes)
/// or, on an emulator, which deletes synchronously,
/// [`RetryPolicy::sweep_deletes_on_emulator`] (every 200 ms for 30 s, throttling only).
pub fn deletion_policy(session: &Session) -> RetryPolicy {
    match session.endpoints {
        Endpoints::Aws => RetryPolicy::sweep_deletes_on_aws(),
        Endpoints::One(_) => RetryPolicy::sweep_deletes_on_emulator(),
    }
}

/// Makes one call, retrying what `policy` retries (throttling, and on AWS "not yet")
/// within its patience. `Ok(())` also when the work was already done.
async fn make(session: &Session, c: &Call, policy: &RetryPolicy) -> Result<(), SweepError> {
    attempt(session, c, policy).await.map(|_| ())
}

/// [`make`], telling "already done" (the answer's class is `Gone`) apart: `Ok(None)`;
/// else the answer.
async fn attempt(session: &Session, c: &Call, policy: &RetryPolicy) -> Result<Option<Answer>, SweepError> {
    let started = Instant::now();
    let mut retries = 0;
    loop {
        let a = session
            .admin(c.service, c.operation, c.input.clone())
            .await
            .map_err(|source| SweepError::Call { call: c.label.clone(), source: Box::new(source) })?;
        let Some((code, message)) = &a.error else { return Ok(Some(a)) };
        let class = classify(code, message);
        if class == ErrorClass::Gone {
            return Ok(None);
        }
        let Some(wait) = policy.next_wait(retries, started.elapsed(), class) else {
            return Err(SweepError::Answered {
                call: c.label.clone(),
                status: a.status,
                code: code.clone(),
                message: message.clone(),
            });
        };
        tokio::time::sleep(wait).await;
        retries += 1;
    }
}

/// [`attempt`], with the answer read by the wire model.
async fn attempt_reading(session: &Session, c: &Call, policy: &RetryPolicy) -> Result<Option<Value>, SweepError> {
    match attempt(session, c, policy).await? {
        Some(a) => read(c.service, c.operation, &a).map(Some),
        None => Ok(None),
    }
}

/// Undoes what holds a role: each of [`role_listings`], then the calls that undo what
/// it lists ([`role_undo_calls`]); a truncated listing is made again from its start
/// once its first page is undone. Records each call in `calls`.
async fn undo_role_attachments(
    session: &Session,
    role: &str,
    policy: &RetryPolicy,
    calls: &mut Vec<String>,
) -> Result<(), SweepError> {
    for (listing, _) in role_listings(role) {
        for _ in 0..MAX_PAGES {
            calls.push(listing.label.clone());
            // A role already gone lists nothing.
            let Some(output) = attempt_reading(session, &listing, policy).await? else { break };
            let (undo, truncated) = role_undo_calls(role, &listing, &output);
            let progress = !undo.is_empty();
            for c in &undo {
                calls.push(c.label.clone());
                make(session, c, policy).await?;
            }
            if !truncated || !progress {
                break;
            }
        }
    }
    Ok(())
}

/// Unlinks the plan's security groups before any is deleted: each of
/// [`group_rule_listings`], then the revokes of what it lists
/// ([`group_reference_revokes`]). A listing answered "not found" (a group deleted since
/// [`find`]) is made again for each of its groups alone; a group gone has no rules left.
/// A revoke answered "not found" (the group or the rule is gone) counts as done. Records
/// each call in `calls`; returns the failures (the sweep goes on: deleting a group also
/// removes its own rules, so a failed revoke only matters if a deletion then fails).
async fn revoke_group_references(
    session: &Session,
    groups: &[&str],
    policy: &RetryPolicy,
    calls: &mut Vec<String>,
) -> Vec<SweepError> {
    let mut failures = Vec::new();
    for chunk in groups.chunks(GROUPS_PER_LISTING) {
        let listing = describe_groups(chunk);
        calls.push(listing.label.clone());
        let outputs = match attempt_reading(session, &listing, policy).await {
            Ok(Some(output)) => vec![output],
            Ok(None) => {
                let mut outputs = Vec::new();
                for group in chunk {
                    let alone = describe_groups(&[group]);
                    calls.push(alone.label.clone());
                    match attempt_reading(session, &alone, policy).await {
                        Ok(Some(output)) => outputs.push(output),
                        Ok(None) => {}
                        Err(e) => failures.push(e),
                    }
                }
                outputs
            }
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        for output in outputs {
            for c in group_reference_revokes(&output) {
                calls.push(c.label.clone());
                if let Err(e) = make(session, &c, policy).await {
                    failures.push(e);
                }
            }
        }
    }
    failures
}

/// Deletes one resource (and, for a service-linked role and a stack, waits for the
/// asynchronous deletion to finish, since its outcome is only known then).
async fn delete_one(session: &Session, t: &Tagged, dry_run: bool, policy: &RetryPolicy) -> Deletion {
    let planned = deletion_calls(t);
    let mut done = Deletion { kind: t.kind, id: t.id.clone(), calls: Vec::new(), result: Ok(()) };
    if dry_run {
        if t.kind == Kind::Role {
            done.calls.extend(
                role_listings(&t.id)
                    .into_iter()
                    .map(|(c, undo)| format!("{} (then {}:{undo} for each it lists)", c.label, c.service)),
            );
        }
        done.calls.extend(planned.into_iter().map(|c| c.label));
        return done;
    }
    if t.kind == Kind::Role
        && let Err(e) = undo_role_attachments(session, &t.id, policy, &mut done.calls).await
    {
        done.result = Err(DeletionError::Call(e.to_string()));
        return done;
    }
    // The last call's answer (`None`: what it deletes was already gone).
    let mut last = None;
    for c in &planned {
        done.calls.push(c.label.clone());
        match attempt(session, c, policy).await {
            Ok(answer) => last = answer.map(|a| (c, a)),
            Err(e) => {
                done.result = Err(DeletionError::Call(e.to_string()));
                return done;
            }
        }
    }
    done.result = match t.kind {
        Kind::ServiceLinkedRole => match last.map(|(c, a)| read(c.service, c.operation, &a)).transpose() {
            Ok(Some(output)) => match deletion_task_id(&output) {
                Some(task) => wait_role_deleted(session, &task, policy).await,
                None => Ok(()),
            },
            Ok(None) => Ok(()), // already gone
            Err(e) => Err(e),
        },
        Kind::Stack => wait_stack_deleted(session, &t.id, policy).await,
        _ => Ok(()),
    }
    .map_err(|e| DeletionError::Call(e.to_string()));
    done
}

/// Follows a service-linked role's deletion task to its end, polling on `policy`'s
/// schedule ([`RetryPolicy::wait_after`]) until that is spent. (botocore has no waiter
/// for it.)
async fn wait_role_deleted(session: &Session, task: &str, policy: &RetryPolicy) -> Result<(), SweepError> {
    let started = Instant::now();
    let mut status = String::new();
    for polls in 0.. {
        let input = json!({"DeletionTaskId": task});
        let output = listing(session, "iam", "GetServiceLinkedRoleDeletionStatus", input, false).await?;
        let (now, failure) = deletion_task_status(&output.unwrap_or_default());
        status = now;
        if let Some(why) = failure {
            return Err(SweepError::TaskFailed { task: task.to_string(), why });
        }
        if status == "SUCCEEDED" {
            return Ok(());
        }
        match policy.wait_after(polls, started.elapsed()) {
            Some(wait) => tokio::time::sleep(wait).await,
            None => break,
        }
    }
    Err(SweepError::TaskTimedOut { task: task.to_string(), status, seconds: policy.limit.as_secs() })
}

/// Follows a stack's deletion with botocore's `StackDeleteComplete` waiter, polling on
/// `policy`'s schedule. An answer that the stack is gone (`ValidationError` … does not
/// exist, which the waiter also accepts) or that no longer lists it ends the wait.
async fn wait_stack_deleted(session: &Session, stack: &str, policy: &RetryPolicy) -> Result<(), SweepError> {
    let waiter = wire::models()
        .service("cloudformation")
        .and_then(|m| m.waiter("StackDeleteComplete"))
        .ok_or(SweepError::NoStackWaiter)?;
    let started = Instant::now();
    let mut status = String::new();
    for polls in 0.. {
        let a = session.admin("cloudformation", &waiter.operation, json!({"StackName": stack})).await.map_err(
            |source| SweepError::Call {
                call: format!("cloudformation:DescribeStacks {stack}"),
                source: Box::new(source),
            },
        )?;
        if let Some((code, message)) = &a.error {
            if classify(code, message) == ErrorClass::Gone {
                return Ok(());
            }
            return match wire::waiter_state(waiter, a.status, Err(code)) {
                WaitState::Success => Ok(()),
                _ => Err(SweepError::Answered {
                    call: format!("cloudformation:DescribeStacks {stack}"),
                    status: a.status,
                    code: code.clone(),
                    message: message.clone(),
                }),
            };
        }
        let output = read("cloudformation", &waiter.operation, &a)?;
        let Some((now, reason)) = stack_status(&output) else { return Ok(()) };
        status = now;
        match wire::waiter_state(waiter, a.status, Ok(&output)) {
            WaitState::Success => return Ok(()),
            WaitState::Failure { .. } => {
                return Err(SweepError::StackFailed { stack: stack.to_string(), status, reason });
            }
            WaitState::Retry => match policy.wait_after(polls, started.elapsed()) {
                Some(wait) => tokio::time::sleep(wait).await,
                None => break,
            },
        }
    }
    Err(SweepError::StackTimedOut { stack: stack.to_string(), status, seconds: policy.limit.as_secs() })
}

/// What one look at an asynchronous deletion of `ids` says ([`deletion_listing`]):
/// finished, failed (why), or not yet (what is left, with its state).
enum Progress {
    Finished,
    Failed(String),
    Pending(Vec<(String, String)>),
}

async fn progress(session: &Session, kind: Kind, ids: &[String]) -> Result<Progress, SweepError> {
    let Some((c, waiter)) = deletion_listing(kind, ids) else { return Ok(Progress::Finished) };
    let waiter = waiter.and_then(|w| wire::models().service(c.service).and_then(|m| m.waiter(w)));
    let a = session
        .admin(c.service, c.operation, c.input.clone())
        .await
        .map_err(|source| SweepError::Call { call: c.label.clone(), source: Box::new(source) })?;
    if let Some((code, message)) = &a.error {
        // EC2 answers NotFound when every id is gone.
        if classify(code, message) == ErrorClass::Gone {
            return Ok(Progress::Finished);
        }
        return Err(SweepError::Answered {
            call: c.label.clone(),
            status: a.status,
            code: code.clone(),
            message: message.clone(),
        });
    }
    let output = read(c.service, c.operation, &a)?;
    let left = left_after_deletion(kind, ids, &output);
    Ok(match waiter.map(|w| wire::waiter_state(w, a.status, Ok(&output))) {
        Some(WaitState::Success) => Progress::Finished,
        Some(WaitState::Failure { reason }) => Progress::Failed(reason),
        // Still waiting, or no botocore waiter (Auto Scaling groups): done once the
        // answer lists none of them unfinished (as when it lists none at all).
        _ if left.is_empty() => Progress::Finished,
        _ => Progress::Pending(left),
    })
}

/// Waits until the deletions of `group` (one kind) are finished where AWS deletes
/// asynchronously; a resource still there at the limit, or in a state the kind's waiter
/// calls a failure, gets an error.
async fn wait_group(session: &Session, group: &mut [Deletion], policy: &RetryPolicy) {
    let Some(kind) = group.first().map(|d| d.kind) else { return };
    let ids: Vec<String> = group.iter().filter(|d| d.result.is_ok()).map(|d| d.id.clone()).collect();
    if ids.is_empty() || deletion_listing(kind, &ids).is_none() {
        return;
    }
    let started = Instant::now();
    for polls in 0.. {
        let pending = match progress(session, kind, &ids).await {
            Ok(Progress::Finished) => return,
            Ok(Progress::Pending(left)) => left,
            Ok(Progress::Failed(reason)) => {
                for d in group.iter_mut().filter(|d| d.result.is_ok()) {
                    d.result = Err(DeletionError::DidNotGo { kind, id: d.id.clone(), reason: reason.clone() });
                }
                return;
            }
            Err(e) => {
                for d in group.iter_mut().filter(|d| d.result.is_ok()) {
                    d.result = Err(DeletionError::Unconfirmed(e.to_string()));
                }
                return;
            }
        };
        let Some(wait) = policy.wait_after(polls, started.elapsed()) else {
            for (id, state) in pending {
                if let Some(d) = group.iter_mut().find(|d| d.id == id && d.result.is_ok()) {
                    d.result = Err(DeletionError::StillThere { kind, id, state, seconds: policy.limit.as_secs() });
                }
            }
            return;
        };
        tokio::time::sleep(wait).await;
    }
}

/// Effectful: deletes the plan in its order (see [`plan`]) with [`deletion_calls`],
/// retrying and waiting with [`deletion_policy`]; see [`delete_with`].
pub async fn delete(session: &Session, plan: &[Tagged], dry_run: bool) -> Vec<Deletion> {
    delete_with(session, plan, dry_run, &deletion_policy(session)).await
}

/// Deletes the plan in its order, one [`Deletion`] per resource. After each run of one
/// kind, waits (bounded by `policy`) where AWS deletes asynchronously before
/// dependants: Auto Scaling groups gone, instances terminated, NAT gateways deleted; a
/// service-linked role's deletion task and a stack's deletion are followed to their end.
/// What holds a role (instance profiles, managed and inline policies) is listed and
/// undone just before its DeleteRole. Before the first security group is deleted, every
/// rule by which one of the plan's groups references another group is revoked (groups
/// that reference each other could not be deleted otherwise: see
/// [`group_rule_listings`]); a failure there is added to the error of each group whose
/// deletion then fails. A call whose resource is already gone counts as done. A failure
/// is recorded and the sweep goes on. With `dry_run` no call at all is made, and each
/// deletion lists the calls it would make.
pub async fn delete_with(session: &Session, plan: &[Tagged], dry_run: bool, policy: &RetryPolicy) -> Vec<Deletion> {
    let mut out: Vec<Deletion> = Vec::with_capacity(plan.len());
    let groups: Vec<&str> = plan.iter().filter(|t| t.kind == Kind::SecurityGroup).map(|t| t.id.as_str()).collect();
    let mut groups_unlinked = false;
    let mut start = 0;
    while start < plan.len() {
        let kind = plan[start].kind;
        let end = start + plan[start..].iter().take_while(|t| t.kind == kind).count();
        let first = out.len();
        // Before the first security group goes: the rules by which any of the plan's
        // groups references another group are revoked.
        let mut unlinking = Vec::new();
        let mut unlink_failures = Vec::new();
        if kind == Kind::SecurityGroup && !groups_unlinked {
            groups_unlinked = true;
            if dry_run {
                let undo = GROUP_REVOKES.map(|op| format!("ec2:{op}")).join(" or ");
                unlinking.extend(group_rule_listings(&groups).into_iter().map(|c| {
                    format!("{} (then {undo} for each rule it lists that references another group)", c.label)
                }));
            } else {
                unlink_failures = revoke_group_references(session, &groups, policy, &mut unlinking).await;
            }
        }
        for t in &plan[start..end] {
            out.push(delete_one(session, t, dry_run, policy).await);
        }
        // The unlinking is recorded with the first group, where it happened.
        out[first].calls.splice(0..0, unlinking);
        if !unlink_failures.is_empty() {
            let why = unlink_failures.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
            for d in &mut out[first..] {
                if let Err(e) = &mut d.result {
                    let error = Box::new(e.clone());
                    *e = DeletionError::AfterUnlinking { error, unlinking: why.clone() };
                }
            }
        }
        if !dry_run {
            wait_group(session, &mut out[first..], policy).await;
        }
        start = end;
    }
    out
}
