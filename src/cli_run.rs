//! `run` on an emulator and the standalone `gate`.

use std::io::Write;
use std::path::Path;

use iamc_core::outcome::Shard;
use iamc_core::template::render::{RefMode, Target, render};
use iamc_live::files::load;
use iamc_live::gate_server::{Gate, GateOptions, Subject};
use iamc_live::pipeline::{self, EmulatorBackend, EmulatorKind, EmulatorOptions, LocalStackMode, Plan, Signals};
use iamc_live::run::{self, admin_credentials};

use crate::args::{GateArgs, LocalStackArg, RunArgs, TargetArgs, TargetKind};
use crate::live::{self, Finish, Progress};
use crate::shared::{create_report_dir, prepare_report_dir, EXIT_CONFORMANT, NO_PROBES, RunClock, fail, source_of, target_of};

/// `run` on an emulator. Everything the run starts is stopped on every path out, Ctrl-C
/// and SIGTERM included.
pub async fn run(args: &RunArgs, clock: RunClock, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    // Before anything is spawned, so a signal during the emulator's start is not lost.
    let mut signals = Signals::install();
    let (kind, default_account) = match args.target {
        TargetKind::Moto => (EmulatorKind::Moto, "123456789012"),
        TargetKind::Localstack => (
            EmulatorKind::LocalStack(match args.localstack {
                LocalStackArg::Auto => LocalStackMode::Auto,
                LocalStackArg::Container => LocalStackMode::Container,
                LocalStackArg::Host => LocalStackMode::Host,
            }),
            "000000000000",
        ),
        TargetKind::Aws => return fail(err, "--target aws is run by cli_aws (a bug in the dispatcher)"),
    };
    if let Some(flag) = aws_only_flag(args) {
        return fail(err, &format!("{flag} applies to --target aws only"));
    }
    if args.localstack != LocalStackArg::Auto && args.target != TargetKind::Localstack {
        return fail(err, "--localstack applies to --target localstack only");
    }
    let account_id = args.account_id.clone().unwrap_or_else(|| default_account.to_string());
    let target = match target_of(&TargetArgs { account_id, region: args.region.clone() }) {
        Ok(t) => Target { stack_name: format!("iam-conformance-{}", clock.run_id.to_ascii_lowercase().replace(['t', 'z'], "")), ..t },
        Err(e) => return fail(err, &e),
    };
    let shard = match args.shard.as_deref().map(Shard::parse).transpose() {
        Ok(s) => s,
        Err(e) => return fail(err, &e),
    };
    // Flags are checked; earlier reports go before anything else can fail, so none is
    // left looking current.
    let dir = args.report_dir.clone().unwrap_or_else(|| Path::new("reports").join(&clock.run_id));
    if let Err(e) = prepare_report_dir(&dir, err) {
        return fail(err, &e);
    }
    let loaded = match load(&source_of(&args.profile), args.template.as_deref(), &target) {
        Ok(l) => l,
        Err(e) => return fail(err, &e.to_string()),
    };
    if let Err(e) = create_report_dir(&dir) {
        return fail(err, &e);
    }
    let proof = loaded.prove(&target);
    let Some(probes) = run::probes(&loaded.profile) else {
        return fail(err, NO_PROBES);
    };
    let deploy_json = match render(&loaded.template, &target, RefMode::KeepResourceRefs) {
        Ok(n) => n.to_json().to_string(),
        Err(e) => return fail(err, &e.to_string()),
    };

    let mut progress = Progress::new();
    let options = EmulatorOptions { kind, endpoint: args.endpoint.clone(), state_dir: dir.clone(), keep: args.keep };
    let mut emit = |e| progress.on(e);
    let started = tokio::select! {
        b = EmulatorBackend::start(options, &target, &mut emit) => Some(b),
        _ = signals.next() => None,
    };
    progress.flush(out, err);
    let mut backend = match started {
        None => {
            // The start was cut off: a container it had asked for goes too.
            let _ = iamc_live::container::remove_all_started().await;
            return fail(err, "interrupted while the emulator started; nothing was run");
        }
        Some(Err(e)) => return fail(err, &e.to_string()),
        Some(Ok(b)) => b,
    };
    let plan = Plan {
        loaded: &loaded,
        target: &target,
        deploy_json: &deploy_json,
        probes,
        proof_scenarios: &proof.scenarios,
        concurrency: args.concurrency,
        shard,
        keep: args.keep,
    };
    let outcome = pipeline::run(&mut backend, &plan, &mut signals, &mut |e| progress.on(e)).await;
    drop(backend);
    progress.flush(out, err);
    let finish = Finish {
        loaded: &loaded,
        target: &target,
        shard,
        dir: &dir,
        clock: &clock,
        interrupted: "interrupted: the emulator was stopped and no report was written",
    };
    live::finish(outcome, proof, progress, finish, out, err)
}

/// The first `--target aws` option given to an emulator run, if any (they would be ignored).
fn aws_only_flag(args: &RunArgs) -> Option<&'static str> {
    use crate::args::{Principal, RunMode};
    [
        (!args.allow_accounts.is_empty(), "--allow-account"),
        (args.mode != RunMode::DryRun, "--mode"),
        (args.max_cost.is_some(), "--max-cost"),
        (args.principal != Principal::Assume, "--principal"),
        (args.aws_profile.is_some(), "--aws-profile"),
        (args.user_profile.is_some(), "--user-profile"),
        (args.stack.is_some(), "--stack"),
        (args.no_simulate, "--no-simulate"),
    ]
    .into_iter()
    .find(|(given, _)| *given)
    .map(|(_, flag)| flag)
}

/// `gate`: serve until Ctrl-C.
pub async fn gate(args: &GateArgs, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    // SIGTERM stops the gate as Ctrl-C does, `--log` written either way.
    let mut signals = Signals::install();
    let target = match target_of(&TargetArgs { account_id: args.account_id.clone(), region: args.region.clone() }) {
        Ok(t) => t,
        Err(e) => return fail(err, &e),
    };
    let listen: std::net::SocketAddr = match args.listen.parse() {
        Ok(a) => a,
        Err(_) => return fail(err, &format!("--listen `{}` is not an address such as 127.0.0.1:4580", args.listen)),
    };
    if !listen.ip().is_loopback() {
        return fail(err, &format!("--listen `{}`: the gate only listens on the loopback interface", args.listen));
    }
    let gate = match Gate::start(
        listen,
        GateOptions {
            upstream: args.upstream.clone(),
            target: target.clone(),
            admin: admin_credentials(),
            subject: None,
        },
    )
    .await
    {
        Ok(g) => g,
        Err(e) => return fail(err, &format!("failed to listen on {listen}: {e}")),
    };
    let admin = admin_credentials();
    // With --role the policies are read from the upstream's IAM when deciding, so the
    // gate may start before the role exists (its calls are refused until it does).
    let (role_arn, enforced) = match &args.role {
        Some(role) => (gate.follow_role(role), "policies read from the upstream's IAM when deciding".to_string()),
        None => {
            let loaded = match load(&source_of(&args.profile), args.template.as_deref(), &target) {
                Ok(l) => l,
                Err(e) => return fail(err, &e.to_string()),
            };
            let subject = Subject { role_arn: loaded.role.role.arn.clone(), policies: loaded.role.policies.clone() };
            let shown = (subject.role_arn.clone(), format!("{} policies", subject.policies.len()));
            gate.set_subject(subject);
            shown
        }
    };
    for spec in &args.role_keys {
        let mut parts = spec.splitn(3, ':');
        let (Some(key), Some(secret)) = (parts.next(), parts.next()) else {
            return fail(err, &format!("--role-key `{spec}` is not KEY:SECRET[:SESSION_TOKEN]: the gate verifies every signature"));
        };
        gate.add_role_credentials(key, secret, parts.next(), &role_arn);
    }
    // Each record is written as it is made: nothing is lost however the gate stops.
    if let Some(path) = &args.log
        && let Err(e) = gate.log_to(path)
    {
        return fail(err, &format!("failed to write `{}`: {e}", path.display()));
    }
    let _ = writeln!(
        out,
        "iam-conformance gate: {} → {} enforcing {role_arn} ({enforced}); administrator key {} secret {} passes unevaluated. Ctrl-C stops.",
        gate.url, args.upstream, admin.access_key_id, admin.secret_access_key
    );
    signals.next().await;
    let records = gate.records();
    let denied = records.iter().filter(|r| r.verdict == iamc_live::gate_server::GateVerdict::Denied).count();
    let _ = writeln!(out, "iam-conformance gate: {} requests, {denied} denied", records.len());
    EXIT_CONFORMANT
}
