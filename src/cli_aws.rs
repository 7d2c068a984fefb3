//! `run --target aws`: a real sandbox account, where AWS itself decides every call.
//!
//! Order of events, each a guard for the next: the allow-list must be given (else nothing
//! is called); the inputs must load; the cost estimate must fit `--max-cost`; the
//! credentials' account (STS GetCallerIdentity, the first call) must be on the
//! allow-list. Only then is anything created, and everything created carries the run id
//! and an expiry so `iam-conformance sweep` finds what a killed run left.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use iamc_core::aws::guard::check_region;
use iamc_live::credentials::{chain_credentials, connect, instance_credentials, who_am_i};
use iamc_live::oracle::{decode_denials, simulate};
use iamc_core::aws::cost::{self, Mode};
use iamc_core::aws::guard::AllowList;
use iamc_core::aws::sweep::{self, EXPIRES_TAG, RUN_ID_TAG, Selector};
use iamc_core::catalog::Catalog;
use crate::cli::{Principal, RunArgs, RunClock, RunMode, fail, source_of, write_reports};
use iamc_live::client::Credentials;
use iamc_core::load::Loaded;
use iamc_live::files::load;
use iamc_core::report::{Environment, Report, RunInfo, SubjectInfo, terminal};
use iamc_live::run::{self, Deployed, LiveResult, Session};
use iamc_core::template::render::{RefMode, Target, render};

/// How long a new role may take to behave (IAM propagation; seen up to a minute).
const PROPAGATION_PATIENCE: Duration = Duration::from_secs(180);







/// `run --target aws`.
pub async fn run(args: &RunArgs, clock: &RunClock, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    // 1. The allow-list, before anything else.
    let allow = match AllowList::from_env(&args.allow_accounts) {
        Ok(a) => a,
        Err(e) => return fail(err, &e.to_string()),
    };
    // 2. The inputs, checked with a placeholder account (no call is needed to find them bad).
    if let Err(e) = check_region(&args.region) {
        return fail(err, &e);
    }
    let shard = match args.shard.as_deref().map(run::Shard::parse).transpose() {
        Ok(s) => s,
        Err(e) => return fail(err, &e),
    };
    let expires_in = match sweep::parse_duration(&args.expires_in) {
        Ok(d) => d,
        Err(e) => return fail(err, &e.replace("--older-than", "--expires-in")),
    };
    let Some(expiry) = SystemTime::now().checked_add(expires_in).filter(|t| iamc_core::calendar::rfc3339(*t).len() == 20)
    else {
        return fail(err, &format!("--expires-in `{}` is too far in the future", args.expires_in));
    };
    let expires = iamc_core::calendar::rfc3339(expiry);
    let max_cost = match args.max_cost.as_deref().map(cost::parse_max_cost).transpose() {
        Ok(m) => m,
        Err(e) => return fail(err, &e),
    };
    let placeholder = Target { region: args.region.clone(), ..Target::default() };
    let loaded = match load(&source_of(&args.profile), args.template.as_deref(), &placeholder) {
        Ok(l) => l,
        Err(e) => return fail(err, &e.to_string()),
    };
    if run::probes(&loaded.profile).is_none() {
        return fail(
            err,
            "the profile needs an allowed and a denied Describe scenario without prerequisites to prove the role is ready",
        );
    }
    let needs_stack = args.principal != Principal::Assume;
    if !needs_stack && args.stack.is_some() {
        return fail(
            err,
            "--stack names a deployed stack for --principal instance-profile or user; with --principal assume the run deploys (and deletes) its own",
        );
    }
    if args.account_id.is_some() {
        return fail(
            err,
            "--account-id does not apply to --target aws: the account is the credentials' (and must be allowed)",
        );
    }
    if needs_stack && args.stack.is_none() {
        return fail(err, "--principal instance-profile and user run against a deployed stack: pass --stack NAME");
    }
    if args.principal == Principal::User && args.user_profile.is_none() {
        return fail(err, "--principal user needs --user-profile NAME: the profile holding the user's access keys");
    }
    if args.principal == Principal::InstanceProfile && args.aws_profile.is_none() {
        return fail(
            err,
            "--principal instance-profile needs --aws-profile NAME for the administrator's calls (read back, fixtures, teardown): on the instance the standard chain would give the role itself",
        );
    }

    // 3. The cost, before any call.
    let mode = match args.mode {
        RunMode::Live => Mode::Live,
        RunMode::DryRun => Mode::DryRun,
    };
    let estimate = cost::estimate(&loaded.profile, mode, &iamc_core::aws::accepts_dry_run);
    let _ = write!(out, "{}", estimate.render());
    if let Some(max) = max_cost
        && estimate.refuses(max)
    {
        let unknown = if estimate.unknown.is_empty() {
            String::new()
        } else {
            format!(" (prices unknown for: {})", estimate.unknown.join(", "))
        };
        return fail(
            err,
            &format!(
                "the estimated cost, up to ${:.2}{unknown}, is above --max-cost ${max:.2}; nothing was called",
                estimate.total_usd
            ),
        );
    }

    // 4. Credentials, and the account they belong to.
    let (session, account, admin_arn) =
        match connect(&allow, args.endpoint.as_deref(), &args.region, args.aws_profile.as_deref()).await {
            Ok(c) => c,
            Err(e) => return fail(err, &e),
        };
    let _ = writeln!(out, "iam-conformance run: account {account} as {admin_arn} ({} mode)", mode_name(args.mode));
    let subject_creds = match args.principal {
        Principal::Assume => None,
        Principal::InstanceProfile => match instance_credentials().await {
            Ok(c) => Some(c),
            Err(e) => return fail(err, &e),
        },
        Principal::User => match chain_credentials(args.user_profile.as_deref(), &args.region).await {
            Ok(c) => Some(c),
            Err(e) => return fail(err, &e),
        },
    };
    // The simulator simulates a user's own policies (`--principal user`), else the role's.
    let subject_arn = match (&subject_creds, args.principal) {
        (Some(creds), Principal::User) => match who_am_i(&session, creds).await {
            Ok((_, arn)) => Some(arn),
            Err(e) => return fail(err, &e),
        },
        _ => None,
    };
    if let Some(creds) = &subject_creds
        && creds.access_key_id == session.admin.access_key_id
    {
        return fail(
            err,
            "the principal's credentials are the administrator's: the policy under test would not be what decides",
        );
    }
    let target = Target {
        account_id: account.clone(),
        region: args.region.clone(),
        stack_name: args
            .stack
            .clone()
            .unwrap_or_else(|| format!("iam-conformance-{}", clock.run_id.to_ascii_lowercase())),
        ..Target::default()
    };
    let loaded = match load(&source_of(&args.profile), args.template.as_deref(), &target) {
        Ok(l) => l,
        Err(e) => return fail(err, &e.to_string()),
    };
    let probes = run::probes(&loaded.profile).expect("checked above with the same profile");
    let dir = args.report_dir.clone().unwrap_or_else(|| Path::new("reports").join(&clock.run_id));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return fail(err, &format!("failed to create report directory `{}`: {e}", dir.display()));
    }
    let deploy_json = match render(&loaded.template, &target, RefMode::KeepResourceRefs) {
        Ok(n) => n.to_json().to_string(),
        Err(e) => return fail(err, &e.to_string()),
    };
    let proof = loaded.prove(&target);
    let tags = (clock.run_id.clone(), expires.clone());
    let session = Arc::new(session);

    let run_started = Instant::now();
    let created: Mutex<Vec<iamc_core::scenario::Fixture>> = Mutex::new(Vec::new());
    let fixture_ids: Mutex<HashMap<String, String>> = Mutex::new(HashMap::new());
    let lines: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let progress_lines = Arc::clone(&lines);
    let progress = move |done: usize, total: usize, r: &LiveResult| {
        if let Ok(mut l) = progress_lines.lock() {
            l.push(format!("  [{done:>3}/{total}] {:<60} {} ({})", r.id, r.observed, r.decided_by));
        }
    };
    let stack = target.stack_name.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let scenarios_started = AtomicBool::new(false);
    let work = async {
        if args.principal == Principal::Assume {
            deploy_tagged(&session, &stack, &deploy_json, &tags).await?;
        } else {
            stack_exists(&session, &stack).await?;
        }
        let (role_arn, policies) = run::read_back(&session, &loaded.role.role.name).await?;
        let deployed = Deployed { stack: stack.clone(), role_arn, policies };
        if let (Principal::User, Some(creds)) = (args.principal, &subject_creds) {
            user_holds_only(&session, creds, &deployed).await?;
        }
        if let (Principal::InstanceProfile, Some(creds)) = (args.principal, &subject_creds) {
            instance_is_role(&session, creds, &deployed).await?;
        }
        let mut ids = HashMap::new();
        run::run_fixtures(&session, &loaded.profile.fixtures, &mut ids, &target, &created, &fixture_ids).await?;
        let untagged = tag_fixtures(&session, &loaded, &ids, &target, &tags).await;
        if !untagged.is_empty()
            && let Ok(mut l) = lines.lock()
        {
            l.push(format!(
                "  warning: fixtures not tagged for sweep (teardown still undoes them): {}",
                untagged.join("; ")
            ));
        }
        let source = match &subject_creds {
            None => run::CredentialSource::AssumeRole(deployed.role_arn.clone()),
            Some(c) => run::CredentialSource::Given(c.clone()),
        };
        let creds = run::become_role(&session, None, &source, probes, &target, PROPAGATION_PATIENCE).await?;
        let options = run::CallOptions {
            dry_run: args.mode == RunMode::DryRun,
            tags: Some(tags.clone()),
            // AWS's asynchronous deletes can take minutes; an emulator's do not.
            retry: retry_for(args.endpoint.is_some(), Duration::from_secs(300)),
            stop: Some(Arc::clone(&stop)),
        };
        scenarios_started.store(true, Ordering::SeqCst);
        let (results, ids) = run::run_scenarios(
            Arc::clone(&session),
            creds,
            &loaded.profile,
            ids,
            &target,
            args.concurrency,
            None,
            shard,
            &options,
            &progress,
        )
        .await;
        Ok::<_, run::RunError>((deployed, results, ids))
    };
    // A signal before the scenarios start drops the work at once (what it made is tracked
    // or tagged); during the scenarios, no new call starts and the calls under way finish,
    // so nothing is created without its tag; a second signal drops them too.
    tokio::pin!(work);
    let mut interrupted = false;
    let outcome = tokio::select! {
        r = &mut work => Some(r),
        _ = signal() => {
            interrupted = true;
            if scenarios_started.load(Ordering::SeqCst) {
                stop.store(true, Ordering::SeqCst);
                let _ = writeln!(out, "iam-conformance run: interrupted; letting the calls under way finish, then tearing down");
                tokio::select! {
                    r = &mut work => Some(r),
                    _ = signal() => None,
                }
            } else {
                None
            }
        }
    };
    for l in lines.lock().map(|l| l.clone()).unwrap_or_default() {
        let _ = writeln!(out, "{l}");
    }

    // Oracles and decoding need the results and the role; teardown comes after them.
    let mut extra = Vec::new();
    let mut outcome = outcome;
    if !interrupted && let Some(Ok((deployed, results, _))) = outcome.as_mut() {
        let source_arn = subject_arn.clone().unwrap_or_else(|| deployed.role_arn.clone());
        let oracles = async {
            decode_denials(&session, results).await;
            if !args.no_simulate {
                let retry = retry_for(args.endpoint.is_some(), Duration::from_secs(120));
                extra = simulate(&session, retry, &source_arn, &proof.scenarios, results).await;
            }
        };
        tokio::select! {
            _ = oracles => {}
            _ = signal() => interrupted = true,
        }
    }

    // Teardown on every path out: fixtures in reverse, what the role created (found by
    // the run's tag), then the stack the run deployed.
    let mut left = Vec::new();
    if !args.keep {
        let made = created.lock().map(|c| c.clone()).unwrap_or_default();
        let known = fixture_ids.lock().map(|k| k.clone()).unwrap_or_default();
        let mut swept = std::collections::HashSet::new();
        match iamc_live::sweep::find(&session).await {
            Ok(found) => {
                let mut plan = sweep::plan(&found, &Selector::RunId(clock.run_id.clone()), SystemTime::now());
                // The stack goes last, by DeleteStack below (its tag also names this run).
                plan.retain(|t| t.kind != sweep::Kind::Stack);
                for d in iamc_live::sweep::delete(&session, &plan, false).await {
                    match d.result {
                        Ok(()) => {
                            swept.insert(d.id);
                        }
                        Err(e) => left.push(format!("{} {}: {e}", kind_name(d.kind), d.id)),
                    }
                }
            }
            Err(e) => left.push(format!("could not list what the run tagged: {e}")),
        }
        // Fixtures the sweep already removed (they carry the run's tag) are not undone twice.
        let made: Vec<_> = made
            .into_iter()
            .filter(|f| !f.produces.keys().any(|example| known.get(example).is_some_and(|id| swept.contains(id))))
            .collect();
        left.extend(run::undo_fixtures(&session, &made, &known, &target).await);
        // Only the stack this run deployed (`--stack` is refused with `--principal assume`),
        // waiting until AWS has deleted it.
        if args.principal == Principal::Assume {
            let ours = sweep::Tagged {
                kind: sweep::Kind::Stack,
                id: stack.clone(),
                run_id: Some(clock.run_id.clone()),
                expires: Some(expires.clone()),
                attached_to: Vec::new(),
                name: None,
            };
            for d in iamc_live::sweep::delete(&session, &[ours], false).await {
                if let Err(e) = d.result {
                    left.push(format!("{} {}: {e}", kind_name(d.kind), d.id));
                }
            }
        }
        if !left.is_empty() {
            let _ = writeln!(
                err,
                "warning: the teardown left: {}. `iam-conformance sweep --run-id {}` retries.",
                left.join("; "),
                clock.run_id
            );
        }
    } else {
        let _ = writeln!(
            out,
            "  kept       everything the run created, tagged {RUN_ID_TAG}={} ({EXPIRES_TAG}={expires})",
            clock.run_id
        );
    }
    let run_seconds = run_started.elapsed().as_secs_f64();

    if interrupted {
        return fail(err, "interrupted: the run's resources were torn down and no report was written");
    }
    let (deployed, results, ids) = match outcome {
        None => return fail(err, "interrupted: the run's resources were torn down and no report was written"),
        Some(Err(e)) => return fail(err, &e.to_string()),
        Some(Ok(r)) => r,
    };
    let mut findings = proof.findings.clone();
    findings.extend(extra);
    let catalog = Catalog::embedded();
    let report = Report::new(
        proof,
        RunInfo::new(&clock.run_id, "run", &clock.generated_at),
        SubjectInfo {
            policies: deployed.policies.iter().map(|p| p.name.clone()).collect(),
            ..SubjectInfo::of(&loaded, &target)
        },
        catalog.source.clone(),
    );
    let environment = Environment {
        target: format!(
            "AWS account {account}, {} ({} mode, principal: {})",
            target.region,
            mode_name(args.mode),
            principal_name(args.principal)
        ),
        service_enforces_iam: Some(true),
        emulator_services: Default::default(),
        endpoint: args.endpoint.clone().unwrap_or_else(|| "AWS regional endpoints (HTTPS)".into()),
        gate: "none: AWS decides".into(),
        iam_decided_by: iamc_core::outcome::DecidedBy::Aws,
        stack: deployed.stack.clone(),
        role_arn: deployed.role_arn.clone(),
        skipped: 0,
        errors: 0,
        shard,
        gate_requests: 0,
        gate_decision_ms: 0.0,
        gate_request_ms: 0.0,
        scenario_seconds: 0.0,
        phase_seconds: Vec::new(),
        run_seconds,
    };
    let report = iamc_core::report::assemble::assemble(
        report,
        iamc_core::report::assemble::LiveRun {
            results,
            proof_findings: findings,
            environment,
            target: &target,
            ids: &ids,
            profile: &loaded.profile,
            shard,
        },
    );
    if let Err(e) = write_reports(&dir, &report) {
        return fail(err, &e);
    }
    let _ = write!(out, "{}", terminal::render(&report));
    let _ = writeln!(out, "  reports    {}", dir.display());
    report.exit_code
}

fn mode_name(mode: RunMode) -> &'static str {
    match mode {
        RunMode::Live => "live",
        RunMode::DryRun => "dry-run",
    }
}

fn principal_name(p: Principal) -> &'static str {
    match p {
        Principal::Assume => "assumed role",
        Principal::InstanceProfile => "instance profile",
        Principal::User => "IAM user",
    }
}

pub fn kind_name(kind: sweep::Kind) -> String {
    kind.label().to_string()
}

/// Retrying on AWS (throttling, 5xx, "not yet" answers) for up to `patience`; against an
/// `--endpoint` (an emulator) only "not yet" answers, for a short while.
fn retry_for(endpoint_given: bool, patience: Duration) -> run::Retry {
    if endpoint_given {
        run::Retry { patience: Duration::from_secs(10), first_wait: Duration::from_millis(500), server_errors: false }
    } else {
        run::Retry { patience, first_wait: Duration::from_secs(2), server_errors: true }
    }
}

/// Ctrl-C or SIGTERM.
async fn signal() {
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = run::sigterm() => {}
    }
}

/// Deploys the stack with the run's tags (CloudFormation passes stack tags on to the
/// resources it creates that take tags).
async fn deploy_tagged(
    session: &Session,
    stack: &str,
    template_json: &str,
    (run_id, expires): &(String, String),
) -> Result<(), run::RunError> {
    let tags = serde_json::json!([{"Key": RUN_ID_TAG, "Value": run_id}, {"Key": EXPIRES_TAG, "Value": expires}]);
    run::deploy_with(session, stack, template_json, Some(tags)).await
}

async fn stack_exists(session: &Session, stack: &str) -> Result<(), run::RunError> {
    session
        .admin_ok(
            &format!("stack `{stack}` (--stack)"),
            "cloudformation",
            "DescribeStacks",
            serde_json::json!({"StackName": stack}),
        )
        .await
        .map(|_| ())
}

/// Who the subject's credentials are (their ARN), refusing credentials of another account
/// than the administrator's (only that one was admitted).
async fn same_account(
    session: &Session,
    creds: &Credentials,
    deployed: &Deployed,
    what: &str,
) -> Result<String, run::RunError> {
    let fail = |message: String| run::RunError::Step { step: what.into(), message };
    let (account, arn) = who_am_i(session, creds).await.map_err(fail)?;
    let admitted = deployed.role_arn.split(':').nth(4).unwrap_or_default();
    if account != admitted {
        return Err(fail(format!(
            "the credentials are {arn}, of account {account}, not of the admitted account {admitted}; nothing was called with them"
        )));
    }
    Ok(arn)
}

/// `--principal user`: the keys are the user's, and the user holds the template's managed
/// policy and nothing else (anything more would be granted beside the policy under test).
async fn user_holds_only(session: &Session, creds: &Credentials, deployed: &Deployed) -> Result<(), run::RunError> {
    let what = "user principal";
    let arn = same_account(session, creds, deployed, what).await?;
    let Some(name) = arn.split(":user/").nth(1).map(|p| p.rsplit('/').next().unwrap_or(p).to_string()) else {
        return Err(run::RunError::Step {
            step: what.into(),
            message: format!("--user-profile's keys are {arn}, not an IAM user's"),
        });
    };
    let attached =
        session.admin_ok(what, "iam", "ListAttachedUserPolicies", serde_json::json!({"UserName": name})).await?;
    let mut names = iamc_core::xml::texts(&attached, "PolicyArn");
    names.sort();
    // The role's managed policies, by ARN: what the user must hold, exactly.
    let role_name = deployed.role_arn.rsplit('/').next().unwrap_or_default();
    let role_attached =
        session.admin_ok(what, "iam", "ListAttachedRolePolicies", serde_json::json!({"RoleName": role_name})).await?;
    let mut expected = iamc_core::xml::texts(&role_attached, "PolicyArn");
    expected.sort();
    let role_inline = iamc_core::xml::texts(
        &session.admin_ok(what, "iam", "ListRolePolicies", serde_json::json!({"RoleName": role_name})).await?,
        "member",
    );
    if !role_inline.is_empty() {
        return Err(run::RunError::Step {
            step: what.into(),
            message: format!(
                "the role has inline policies {role_inline:?}, which a user cannot hold: use --principal assume"
            ),
        });
    }
    let inline = iamc_core::xml::texts(
        &session.admin_ok(what, "iam", "ListUserPolicies", serde_json::json!({"UserName": name})).await?,
        "member",
    );
    let groups = iamc_core::xml::texts(
        &session.admin_ok(what, "iam", "ListGroupsForUser", serde_json::json!({"UserName": name})).await?,
        "GroupName",
    );
    if names.is_empty() || names != expected || !inline.is_empty() || !groups.is_empty() {
        return Err(run::RunError::Step {
            step: what.into(),
            message: format!(
                "user `{name}` must hold exactly the stack's managed policies {expected:?}: it has attached {names:?}, inline {inline:?}, groups {groups:?}; anything more would be granted beside the policy under test"
            ),
        });
    }
    Ok(())
}

/// `--principal instance-profile`: the metadata credentials act as the deployed role.
async fn instance_is_role(session: &Session, creds: &Credentials, deployed: &Deployed) -> Result<(), run::RunError> {
    let arn = same_account(session, creds, deployed, "instance principal").await?;
    let role_name = deployed.role_arn.rsplit('/').next().unwrap_or_default();
    if !arn.contains(&format!(":assumed-role/{role_name}/")) {
        return Err(run::RunError::Step {
            step: "instance principal".into(),
            message: format!(
                "the instance's credentials are {arn}, not the role `{role_name}`: launch it with the stack's instance profile"
            ),
        });
    }
    Ok(())
}

/// Tags what the fixtures produced (the administrator made them; a sweep must find them).
async fn tag_fixtures(
    session: &Session,
    loaded: &Loaded,
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



/// `sweep`: finds what runs left by their tags and deletes it in dependency order.
pub async fn sweep(args: &crate::cli::SweepArgs, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let allow = match AllowList::from_env(&args.allow_accounts) {
        Ok(a) => a,
        Err(e) => return fail(err, &e.to_string()),
    };
    let selector = match (&args.run_id, &args.older_than) {
        (Some(id), _) => Selector::RunId(id.clone()),
        (None, Some(text)) => match sweep::parse_duration(text) {
            Ok(d) => Selector::OlderThan(d),
            Err(e) => return fail(err, &e),
        },
        (None, None) => return fail(err, "sweep needs --run-id ID or --older-than DURATION"),
    };
    if let Err(e) = check_region(&args.region) {
        return fail(err, &e);
    }
    let (session, account, arn) =
        match connect(&allow, args.endpoint.as_deref(), &args.region, args.aws_profile.as_deref()).await {
            Ok(c) => c,
            Err(e) => return fail(err, &e),
        };
    let found = match iamc_live::sweep::find(&session).await {
        Ok(f) => f,
        Err(e) => return fail(err, &format!("could not list tagged resources: {e}")),
    };
    let plan = sweep::plan(&found, &selector, SystemTime::now());
    let _ = writeln!(
        out,
        "iam-conformance sweep: account {account} ({}) as {arn}: {} tagged, {} selected{}",
        args.region,
        found.len(),
        plan.len(),
        if args.dry_run { " (dry run: nothing is deleted)" } else { "" }
    );
    if matches!(selector, Selector::OlderThan(_)) {
        for t in sweep::undated(&found) {
            let _ = writeln!(
                out,
                "  {:<18} {:<50} left alone: neither its run id nor its expiry can be read",
                t.kind.label(),
                t.id
            );
        }
    }
    let deletions = iamc_live::sweep::delete(&session, &plan, args.dry_run).await;
    let mut failed = 0;
    for d in &deletions {
        let status = match &d.result {
            Ok(()) if args.dry_run => "would delete".to_string(),
            Ok(()) => "deleted".to_string(),
            Err(e) => {
                failed += 1;
                format!("FAILED: {e}")
            }
        };
        let _ = writeln!(out, "  {:<18} {:<50} {status}", kind_name(d.kind), d.id);
        for c in &d.calls {
            let _ = writeln!(out, "      {c}");
        }
    }
    if failed > 0 {
        return fail(err, &format!("{failed} of {} resources could not be deleted", deletions.len()));
    }
    crate::cli::EXIT_CONFORMANT
}
