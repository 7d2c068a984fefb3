//! `sweep`'s effectful half: lists what a run left behind ([`find`]) and deletes it in
//! order ([`delete`]); what to list, what to pick and which calls delete it are the core's
//! `aws::sweep`.

use std::collections::HashSet;
use std::time::Instant;

use iamc_core::aws::errors::{ErrorClass, classify};
use iamc_core::aws::retry::RetryPolicy;
use iamc_core::aws::sweep::*;
use iamc_core::xml;
use serde_json::{Value, json};

use crate::run::{Endpoints, Session};

/// Pages are bounded so that a service repeating a token cannot loop forever.
const MAX_PAGES: usize = 1000;

/// One listing call; `Ok(None)` when `gone_ok` and its subject is gone (a role deleted
/// since ListRoles listed it, a stack since DescribeStacks). Throttling is waited out
/// ([`RetryPolicy::sweep_listing`]); any other error fails, naming the call.
async fn listing(
    session: &Session,
    service: &str,
    operation: &str,
    input: Value,
    gone_ok: bool,
) -> Result<Option<String>, String> {
    let policy = RetryPolicy::sweep_listing();
    let started = Instant::now();
    let mut retries = 0;
    loop {
        let a = session
            .admin(service, operation, input.clone())
            .await
            .map_err(|e| format!("{service}:{operation}: {e}"))?;
        let Some((code, message)) = a.error else { return Ok(Some(a.body)) };
        let class = classify(&code, &message);
        if let Some(wait) = policy.next_wait(retries, started.elapsed(), class) {
            tokio::time::sleep(wait).await;
            retries += 1;
            continue;
        }
        if gone_ok && class == ErrorClass::Gone {
            return Ok(None);
        }
        return Err(format!("{service}:{operation} answered {} {code}: {message}", a.status));
    }
}

/// One call that must succeed (throttling waited out); the error names the call.
async fn answer(session: &Session, service: &str, operation: &str, input: Value) -> Result<String, String> {
    Ok(listing(session, service, operation, input, false).await?.unwrap_or_default())
}

/// Whether an error says the service does not implement a filter (moto's answer for
/// filters it lacks; AWS implements every documented one).
fn filter_unsupported(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    lower.contains("filter") && (lower.contains("not been implemented") || lower.contains("notimplemented"))
}

async fn find_ec2(session: &Session, listing: &Ec2Listing) -> Result<Vec<Tagged>, String> {
    let filter = json!([{"Name": "tag-key", "Values": [RUN_ID_TAG]}]);
    let mut vouched = true;
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut input = serde_json::Map::new();
        if vouched {
            input.insert(listing.filter_member.into(), filter.clone());
        }
        if let Some(t) = &token {
            input.insert("NextToken".into(), Value::String(t.clone()));
        }
        let body = match answer(session, "ec2", listing.operation, Value::Object(input)).await {
            Ok(body) => body,
            // Without the filter, every item is listed and must show the tag itself.
            Err(e) if vouched && token.is_none() && filter_unsupported(&e) => {
                vouched = false;
                continue;
            }
            Err(e) => return Err(e),
        };
        let (items, next) = read_ec2(listing.kind, &body, vouched);
        out.extend(items);
        match next {
            Some(n) if token.as_ref() != Some(&n) => token = Some(n),
            _ => return Ok(out),
        }
    }
    Ok(out)
}

async fn find_load_balancers(session: &Session) -> Result<Vec<Tagged>, String> {
    let mut names = Vec::new();
    let mut marker: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let input = match &marker {
            Some(m) => json!({"Marker": m}),
            None => json!({}),
        };
        let (page, next) =
            read_load_balancers(&answer(session, "elasticloadbalancing", "DescribeLoadBalancers", input).await?);
        names.extend(page);
        match next {
            Some(n) if marker.as_ref() != Some(&n) => marker = Some(n),
            _ => break,
        }
    }
    let mut out = Vec::new();
    for chunk in names.chunks(20) {
        let body = answer(session, "elasticloadbalancing", "DescribeTags", json!({"LoadBalancerNames": chunk})).await?;
        out.extend(read_load_balancer_tags(&body));
    }
    Ok(out)
}

async fn find_auto_scaling_groups(session: &Session) -> Result<Vec<Tagged>, String> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    let mut filtered = true;
    for _ in 0..MAX_PAGES {
        let mut input = serde_json::Map::new();
        if filtered {
            input.insert("Filters".into(), json!([{"Name": "tag-key", "Values": [RUN_ID_TAG]}]));
        }
        if let Some(t) = &token {
            input.insert("NextToken".into(), Value::String(t.clone()));
        }
        let body = match answer(session, "autoscaling", "DescribeAutoScalingGroups", Value::Object(input)).await {
            Ok(body) => body,
            Err(e) if filtered && token.is_none() && filter_unsupported(&e) => {
                filtered = false;
                continue;
            }
            Err(e) => return Err(e),
        };
        let (groups, next) = read_auto_scaling_groups(&body);
        out.extend(groups);
        match next {
            Some(n) if token.as_ref() != Some(&n) => token = Some(n),
            _ => break,
        }
    }
    Ok(out)
}

async fn find_secrets(session: &Session) -> Result<Vec<Tagged>, String> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        // The tag-key filter matches by prefix: `read_secrets` keeps exact keys only.
        let mut input = json!({"Filters": [{"Key": "tag-key", "Values": [RUN_ID_TAG]}]});
        if let Some(t) = &token {
            input["NextToken"] = Value::String(t.clone());
        }
        let (secrets, next) = read_secrets(&answer(session, "secretsmanager", "ListSecrets", input).await?)?;
        out.extend(secrets);
        match next {
            Some(n) if token.as_ref() != Some(&n) => token = Some(n),
            _ => break,
        }
    }
    Ok(out)
}

/// Every role or every instance profile in the account (all paths).
async fn list_iam(session: &Session, kind: IamListing) -> Result<Vec<Listed>, String> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let input = match &marker {
            Some(m) => json!({"Marker": m}),
            None => json!({}),
        };
        let (page, next) = read_iam_listing(kind, &answer(session, "iam", kind.operation(), input).await?);
        out.extend(page);
        match next {
            Some(n) if marker.as_ref() != Some(&n) => marker = Some(n),
            _ => break,
        }
    }
    Ok(out)
}

/// Our tags on a role or an instance profile: those its listing showed, else its own
/// tag listing (ListRoleTags, ListInstanceProfileTags). `None` when it is gone since it
/// was listed.
async fn iam_tags(session: &Session, kind: IamListing, entity: &Listed) -> Result<Option<TagValues>, String> {
    if let Some(tags) = &entity.tags {
        return Ok(Some(tags.clone()));
    }
    let (operation, member) = kind.tag_listing();
    let (mut run_id, mut expires) = (None, None);
    let mut marker: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut input = json!({});
        input[member] = Value::String(entity.name.clone());
        if let Some(m) = &marker {
            input["Marker"] = Value::String(m.clone());
        }
        let Some(body) = listing(session, "iam", operation, input, true).await? else { return Ok(None) };
        let ((r, e), next) = read_entity_tags(operation, &body);
        run_id = run_id.or(r);
        expires = expires.or(e);
        match next {
            Some(n) if marker.as_ref() != Some(&n) => marker = Some(n),
            _ => break,
        }
    }
    Ok(Some((run_id, expires)))
}

/// The tagged roles: service-linked ones (under `/aws-service-role/`, by ARN) and others
/// (by name), except those a stack manages.
async fn find_roles(session: &Session, stack_managed: &HashSet<(Kind, String)>) -> Result<Vec<Tagged>, String> {
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
) -> Result<Vec<Tagged>, String> {
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
async fn stack_managed(session: &Session, stacks: &[Tagged]) -> Result<HashSet<(Kind, String)>, String> {
    let mut out = HashSet::new();
    for stack in stacks {
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut input = json!({"StackName": stack.id});
            if let Some(t) = &token {
                input["NextToken"] = Value::String(t.clone());
            }
            // A stack deleted since DescribeStacks manages nothing any more.
            let Some(body) = listing(session, "cloudformation", "ListStackResources", input, true).await? else {
                break;
            };
            let (managed, next) = read_stack_resources(&body);
            out.extend(managed);
            match next {
                Some(n) if token.as_ref() != Some(&n) => token = Some(n),
                _ => break,
            }
        }
    }
    Ok(out)
}

async fn find_stacks(session: &Session) -> Result<Vec<Tagged>, String> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let input = match &token {
            Some(t) => json!({"NextToken": t}),
            None => json!({}),
        };
        let (stacks, next) = read_stacks(&answer(session, "cloudformation", "DescribeStacks", input).await?);
        out.extend(stacks);
        match next {
            Some(n) if token.as_ref() != Some(&n) => token = Some(n),
            _ => break,
        }
    }
    Ok(out)
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
pub async fn find(session: &Session) -> Result<Vec<Tagged>, String> {
    let mut out = find_auto_scaling_groups(session).await?;
    out.extend(find_load_balancers(session).await?);
    for listing in EC2_LISTINGS {
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
/// within its patience. `Ok(body)` also when the work was already done.
async fn make(session: &Session, c: &Call, policy: &RetryPolicy) -> Result<String, String> {
    Ok(attempt(session, c, policy).await?.unwrap_or_default())
}

/// [`make`], telling "already done" (the answer's class is `Gone`) apart: `Ok(None)`.
async fn attempt(session: &Session, c: &Call, policy: &RetryPolicy) -> Result<Option<String>, String> {
    let started = Instant::now();
    let mut retries = 0;
    loop {
        let a =
            session.admin(c.service, c.operation, c.input.clone()).await.map_err(|e| format!("{}: {e}", c.label))?;
        let Some((code, message)) = a.error else { return Ok(Some(a.body)) };
        let class = classify(&code, &message);
        if class == ErrorClass::Gone {
            return Ok(None);
        }
        let Some(wait) = policy.next_wait(retries, started.elapsed(), class) else {
            return Err(format!("{} answered {} {code}: {message}", c.label, a.status));
        };
        tokio::time::sleep(wait).await;
        retries += 1;
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
) -> Result<(), String> {
    for (listing, _) in role_listings(role) {
        for _ in 0..MAX_PAGES {
            calls.push(listing.label.clone());
            // A role already gone lists nothing (`make` answers an empty body).
            let body = make(session, &listing, policy).await?;
            let (undo, truncated) = role_undo_calls(role, listing.operation, &body);
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
) -> Vec<String> {
    let mut failures = Vec::new();
    for chunk in groups.chunks(GROUPS_PER_LISTING) {
        let listing = describe_groups(chunk);
        calls.push(listing.label.clone());
        let bodies = match attempt(session, &listing, policy).await {
            Ok(Some(body)) => vec![body],
            Ok(None) => {
                let mut bodies = Vec::new();
                for group in chunk {
                    let alone = describe_groups(&[group]);
                    calls.push(alone.label.clone());
                    match attempt(session, &alone, policy).await {
                        Ok(Some(body)) => bodies.push(body),
                        Ok(None) => {}
                        Err(e) => failures.push(e),
                    }
                }
                bodies
            }
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        for body in bodies {
            for c in group_reference_revokes(&body) {
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
        done.result = Err(e);
        return done;
    }
    let mut last_body = String::new();
    for c in &planned {
        done.calls.push(c.label.clone());
        match make(session, c, policy).await {
            Ok(body) => last_body = body,
            Err(e) => {
                done.result = Err(e);
                return done;
            }
        }
    }
    done.result = match t.kind {
        Kind::ServiceLinkedRole => match xml::first(&last_body, "DeletionTaskId") {
            Some(task) => wait_role_deleted(session, &task, policy).await,
            None => Ok(()), // already gone
        },
        Kind::Stack => wait_stack_deleted(session, &t.id, policy).await,
        _ => Ok(()),
    };
    done
}

/// Follows a service-linked role's deletion task to its end, polling on `policy`'s
/// schedule ([`RetryPolicy::wait_after`]) until that is spent.
async fn wait_role_deleted(session: &Session, task: &str, policy: &RetryPolicy) -> Result<(), String> {
    let started = Instant::now();
    let mut status = String::new();
    for polls in 0.. {
        let body =
            answer(session, "iam", "GetServiceLinkedRoleDeletionStatus", json!({"DeletionTaskId": task})).await?;
        status = xml::first(&body, "Status").unwrap_or_default();
        match status.as_str() {
            "SUCCEEDED" => return Ok(()),
            "FAILED" => {
                let reason = xml::first(&body, "Reason").unwrap_or_default();
                let users = xml::texts(&body, "Resource").join(", ");
                return Err(format!("deletion task {task} failed: {reason} {users}").trim_end().to_string());
            }
            _ => match policy.wait_after(polls, started.elapsed()) {
                Some(wait) => tokio::time::sleep(wait).await,
                None => break,
            },
        }
    }
    Err(format!("deletion task {task} still {status} after {} s", policy.limit.as_secs()))
}

async fn wait_stack_deleted(session: &Session, stack: &str, policy: &RetryPolicy) -> Result<(), String> {
    let started = Instant::now();
    let mut status = String::new();
    for polls in 0.. {
        let a = session
            .admin("cloudformation", "DescribeStacks", json!({"StackName": stack}))
            .await
            .map_err(|e| format!("cloudformation:DescribeStacks {stack}: {e}"))?;
        if let Some((code, message)) = &a.error {
            if classify(code, message) == ErrorClass::Gone {
                return Ok(());
            }
            return Err(format!("cloudformation:DescribeStacks {stack} answered {} {code}: {message}", a.status));
        }
        status = xml::first(&a.body, "StackStatus").unwrap_or_default();
        match status.as_str() {
            "" | "DELETE_COMPLETE" => return Ok(()),
            "DELETE_FAILED" => {
                let reason = xml::first(&a.body, "StackStatusReason").unwrap_or_default();
                return Err(format!("stack {stack} DELETE_FAILED: {reason}"));
            }
            _ => match policy.wait_after(polls, started.elapsed()) {
                Some(wait) => tokio::time::sleep(wait).await,
                None => break,
            },
        }
    }
    Err(format!("stack {stack} still {status} after {} s", policy.limit.as_secs()))
}

/// The ids among `ids` that are still there (with their state), for the kinds AWS
/// deletes asynchronously and whose dependants must wait: Auto Scaling groups (gone),
/// instances (terminated), NAT gateways (deleted).
async fn still_there(session: &Session, kind: Kind, ids: &[String]) -> Result<Vec<(String, String)>, String> {
    let (service, operation, input) = match kind {
        Kind::AutoScalingGroup => ("autoscaling", "DescribeAutoScalingGroups", json!({"AutoScalingGroupNames": ids})),
        Kind::Instance => ("ec2", "DescribeInstances", json!({"InstanceIds": ids})),
        Kind::NatGateway => ("ec2", "DescribeNatGateways", json!({"NatGatewayIds": ids})),
        _ => return Ok(Vec::new()),
    };
    let a = session.admin(service, operation, input).await.map_err(|e| format!("{service}:{operation}: {e}"))?;
    if let Some((code, message)) = &a.error {
        // EC2 answers NotFound when every id is gone.
        if classify(code, message) == ErrorClass::Gone {
            return Ok(Vec::new());
        }
        return Err(format!("{service}:{operation} answered {} {code}: {message}", a.status));
    }
    let root = result_of(&a.body, operation);
    let mut out = Vec::new();
    match kind {
        Kind::AutoScalingGroup => {
            for g in list_at(root, &["AutoScalingGroups"]) {
                let name = child_text(g, "AutoScalingGroupName").unwrap_or_default();
                let status = child_text(g, "Status").unwrap_or_else(|| "present".into());
                out.push((name, status));
            }
        }
        Kind::Instance => {
            for r in list_at(root, &["reservationSet"]) {
                for i in list_at(r, &["instancesSet"]) {
                    let id = child_text(i, "instanceId").unwrap_or_default();
                    let state = child(i, "instanceState").and_then(|s| child_text(s, "name")).unwrap_or_default();
                    if state != "terminated" {
                        out.push((id, state));
                    }
                }
            }
        }
        _ => {
            for n in list_at(root, &["natGatewaySet"]) {
                let id = child_text(n, "natGatewayId").unwrap_or_default();
                let state = child_text(n, "state").unwrap_or_default();
                if state != "deleted" && state != "failed" {
                    out.push((id, state));
                }
            }
        }
    }
    out.retain(|(id, _)| ids.contains(id));
    Ok(out)
}

/// Waits until the deletions of `group` (one kind) are finished where AWS deletes
/// asynchronously; a resource still there at the limit gets an error.
async fn wait_group(session: &Session, group: &mut [Deletion], policy: &RetryPolicy) {
    let Some(kind) = group.first().map(|d| d.kind) else { return };
    if !matches!(kind, Kind::AutoScalingGroup | Kind::Instance | Kind::NatGateway) {
        return;
    }
    let ids: Vec<String> = group.iter().filter(|d| d.result.is_ok()).map(|d| d.id.clone()).collect();
    if ids.is_empty() {
        return;
    }
    let started = Instant::now();
    for polls in 0.. {
        let pending = match still_there(session, kind, &ids).await {
            Ok(p) => p,
            Err(e) => {
                for d in group.iter_mut().filter(|d| d.result.is_ok()) {
                    d.result = Err(format!("could not confirm the deletion: {e}"));
                }
                return;
            }
        };
        if pending.is_empty() {
            return;
        }
        let Some(wait) = policy.wait_after(polls, started.elapsed()) else {
            for (id, state) in pending {
                if let Some(d) = group.iter_mut().find(|d| d.id == id && d.result.is_ok()) {
                    d.result = Err(format!("{} {id} still {state} after {} s", kind.label(), policy.limit.as_secs()));
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
            let why = unlink_failures.join("; ");
            for d in &mut out[first..] {
                if let Err(e) = &mut d.result {
                    e.push_str(&format!(" (unlinking the groups first failed: {why})"));
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
