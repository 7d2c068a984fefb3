//! `run --target aws` and `sweep`: a real sandbox account, where AWS itself decides
//! every call.
//!
//! Order of events, each a guard for the next: the allow-list must be given (else nothing
//! is called); the inputs must load; the cost estimate must fit `--max-cost`; the
//! credentials' account (STS GetCallerIdentity, the first call) must be on the
//! allow-list. Only then is the backend made and the pipeline run.

use std::io::Write;
use std::time::SystemTime;

use iamc_core::aws::cost::{self, Mode};
use iamc_core::aws::guard::{ALLOWED_ACCOUNTS_ENV, AllowList, GuardError, check_region};
use iamc_core::aws::sweep::{self, Selector};
use iamc_core::template::render::Target;
use iamc_live::credentials::{chain_credentials, connect, instance_credentials, who_am_i};
use iamc_live::files::load;
use iamc_live::pipeline::{self, AwsBackend, AwsOptions, Signals};
use iamc_live::run;

use crate::args::{Principal, RunArgs, RunMode, SweepArgs};
use crate::live::{self, Finish, Progress};
use crate::shared::{CommandError, EXIT_CONFORMANT, FlagError, LiveInputs, RunClock, live_report_dir, source_of};

/// `run --target aws`.
pub async fn run(
    args: &RunArgs,
    clock: RunClock,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, CommandError> {
    // Before anything is spawned, so no signal is lost.
    let mut signals = Signals::install();
    // 1. The allow-list, before anything else.
    let allow = allow_list(&args.allow_accounts)?;
    // 2. The inputs, checked with a placeholder account (no call is needed to find them bad).
    check_region(&args.region)?;
    let shard = args.shard.as_deref().map(run::Shard::parse).transpose()?;
    let expires = expiry_tag(&args.expires_in)?;
    let max_cost = args.max_cost.as_deref().map(cost::parse_max_cost).transpose()?;
    let dir = live_report_dir(args, &clock, err)?;
    let placeholder = Target { region: args.region.clone(), ..Target::default() };
    let loaded = load(&source_of(&args.profile), args.template.as_deref(), &placeholder)?;
    if run::probes(&loaded.profile).is_none() {
        return Err(CommandError::NoProbes);
    }
    check_principal_flags(args)?;

    // 3. The cost, before any call.
    let mode = match args.mode {
        RunMode::Live => Mode::Live,
        RunMode::DryRun => Mode::DryRun,
    };
    let estimate = cost::estimate(&loaded.profile, mode, &iamc_core::aws::accepts_dry_run);
    let _ = write!(out, "{}", estimate.render());
    if let Some(max_usd) = max_cost
        && estimate.refuses(max_usd)
    {
        return Err(CommandError::OverBudget { total_usd: estimate.total_usd, max_usd, unknown: estimate.unknown });
    }

    // 4. Credentials, and the account they belong to.
    let (session, account, admin_arn) =
        connect(&allow, args.endpoint.as_deref(), &args.region, args.aws_profile.as_deref()).await?;
    let _ = writeln!(
        out,
        "iam-conformance run: account {account} as {admin_arn} ({} mode)",
        if args.mode == RunMode::DryRun { "dry-run" } else { "live" }
    );
    let (subject_creds, subject_arn) = subject_credentials(args, &session).await?;
    let target = Target {
        account_id: account.clone(),
        region: args.region.clone(),
        stack_name: args
            .stack
            .clone()
            .unwrap_or_else(|| format!("iam-conformance-{}", clock.run_id.to_ascii_lowercase())),
        ..Target::default()
    };
    let inputs = LiveInputs::prepare(args, &target, &dir)?;
    let mut progress = Progress::new();
    let options = AwsOptions {
        account,
        principal: match args.principal {
            Principal::Assume => pipeline::Principal::Assume,
            Principal::InstanceProfile => pipeline::Principal::InstanceProfile,
            Principal::User => pipeline::Principal::User,
        },
        subject: subject_creds,
        subject_arn,
        dry_run: args.mode == RunMode::DryRun,
        tags: (clock.run_id.clone(), expires),
        endpoint: args.endpoint.clone(),
        no_simulate: args.no_simulate,
        keep: args.keep,
    };
    let mut backend = AwsBackend::new(session, options, &target, &mut |e| progress.on(e));
    let plan = inputs.plan(&target, args, shard);
    let outcome = pipeline::run(&mut backend, &plan, &mut signals, &mut |e| progress.on(e)).await;
    progress.flush(out, err);
    let LiveInputs { loaded, proof, .. } = inputs;
    let finish = Finish {
        loaded: &loaded,
        target: &target,
        shard,
        dir: &dir,
        clock: &clock,
        interrupted: CommandError::InterruptedAws,
    };
    live::finish(outcome, proof, progress, finish, out)
}

/// `sweep`: finds what runs left by their tags and deletes it in dependency order.
pub async fn sweep(args: &SweepArgs, out: &mut dyn Write) -> Result<i32, CommandError> {
    let allow = allow_list(&args.allow_accounts)?;
    let selector = match (&args.run_id, &args.older_than) {
        (Some(id), _) => Selector::RunId(id.clone()),
        (None, Some(text)) => {
            Selector::OlderThan(sweep::parse_duration(text).map_err(|e| FlagError::Duration(e.to_string()))?)
        }
        (None, None) => return Err(FlagError::NoSelector.into()),
    };
    check_region(&args.region)?;
    let (session, account, arn) =
        connect(&allow, args.endpoint.as_deref(), &args.region, args.aws_profile.as_deref()).await?;
    let found = iamc_live::sweep::find(&session).await.map_err(CommandError::ListTagged)?;
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
        let _ = writeln!(out, "  {:<18} {:<50} {status}", d.kind.label(), d.id);
        for c in &d.calls {
            let _ = writeln!(out, "      {c}");
        }
    }
    if failed > 0 {
        return Err(CommandError::NotDeleted { failed, total: deletions.len() });
    }
    Ok(EXIT_CONFORMANT)
}

/// The allow-list from `--allow-account` and the environment (the core reads no environment).
fn allow_list(flags: &[String]) -> Result<AllowList, GuardError> {
    AllowList::new(flags, std::env::var(ALLOWED_ACCOUNTS_ENV).ok().as_deref())
}

/// The expiry tag of what the run creates: now plus `--expires-in`, as RFC 3339.
fn expiry_tag(expires_in: &str) -> Result<String, CommandError> {
    let after = sweep::parse_duration(expires_in)
        .map_err(|e| FlagError::Duration(e.to_string().replace("--older-than", "--expires-in")))?;
    let expiry = SystemTime::now()
        .checked_add(after)
        .filter(|t| iamc_core::calendar::rfc3339(*t).len() == 20)
        .ok_or_else(|| FlagError::ExpiresTooFar(expires_in.to_string()))?;
    Ok(iamc_core::calendar::rfc3339(expiry))
}

/// The flags each `--principal` needs, or refuses.
fn check_principal_flags(args: &RunArgs) -> Result<(), FlagError> {
    let needs_stack = args.principal != Principal::Assume;
    if !needs_stack && args.stack.is_some() {
        return Err(FlagError::StackWithAssume);
    }
    if args.account_id.is_some() {
        return Err(FlagError::AccountIdOnAws);
    }
    if needs_stack && args.stack.is_none() {
        return Err(FlagError::NoStack);
    }
    if args.principal == Principal::User && args.user_profile.is_none() {
        return Err(FlagError::NoUserProfile);
    }
    if args.principal == Principal::InstanceProfile && args.aws_profile.is_none() {
        return Err(FlagError::NoAdminProfile);
    }
    Ok(())
}

/// The principal's own credentials (none for `--principal assume`: the run assumes the
/// role) and, for a user, its ARN (the simulator simulates a user's own policies, else
/// the role's). The administrator's keys are refused as the principal's.
async fn subject_credentials(
    args: &RunArgs,
    session: &iamc_live::Session,
) -> Result<(Option<iamc_live::client::Credentials>, Option<String>), CommandError> {
    let creds = match args.principal {
        Principal::Assume => None,
        Principal::InstanceProfile => Some(instance_credentials().await?),
        Principal::User => Some(chain_credentials(args.user_profile.as_deref(), &args.region).await?),
    };
    let arn = match (&creds, args.principal) {
        (Some(c), Principal::User) => Some(who_am_i(session, c).await?.1),
        _ => None,
    };
    if creds.as_ref().is_some_and(|c| c.access_key_id == session.admin.access_key_id) {
        return Err(CommandError::AdminAsPrincipal);
    }
    Ok((creds, arn))
}
