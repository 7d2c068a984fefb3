//! `run` on an emulator and the standalone `gate`.

use std::io::Write;

use iamc_core::outcome::Shard;
use iamc_core::template::render::Target;
use iamc_live::files::load;
use iamc_live::gate_server::{Gate, GateOptions, Subject};
use iamc_live::pipeline::{self, EmulatorBackend, EmulatorKind, EmulatorOptions, LocalStackMode, Signals};
use iamc_live::run::admin_credentials;

use crate::args::{GateArgs, LocalStackArg, RunArgs, TargetArgs, TargetKind};
use crate::live::{self, Finish, Progress};
use crate::shared::{
    CommandError, EXIT_CONFORMANT, FlagError, LiveInputs, OutputError, RunClock, live_report_dir, source_of, target_of,
};

/// `run` on an emulator. Everything the run starts is stopped on every path out, Ctrl-C
/// and SIGTERM included.
pub async fn run(
    args: &RunArgs,
    clock: RunClock,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, CommandError> {
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
        TargetKind::Aws => return Err(CommandError::Misrouted),
    };
    if let Some(flag) = aws_only_flag(args) {
        return Err(FlagError::AwsOnly(flag).into());
    }
    if args.localstack != LocalStackArg::Auto && args.target != TargetKind::Localstack {
        return Err(FlagError::LocalStackOnly.into());
    }
    let account_id = args.account_id.clone().unwrap_or_else(|| default_account.to_string());
    let target = target_of(&TargetArgs { account_id, region: args.region.clone() })?;
    let stack_name = format!("iam-conformance-{}", clock.run_id.to_ascii_lowercase().replace(['t', 'z'], ""));
    let target = Target { stack_name, ..target };
    let shard = args.shard.as_deref().map(Shard::parse).transpose()?;
    let dir = live_report_dir(args, &clock, err)?;
    let inputs = LiveInputs::prepare(args, &target, &dir)?;

    let mut progress = Progress::new();
    let options = EmulatorOptions { kind, endpoint: args.endpoint.clone(), state_dir: dir.clone(), keep: args.keep };
    let mut emit = |e| progress.on(e);
    let started = tokio::select! {
        b = EmulatorBackend::start(options, &target, &mut emit) => Some(b),
        _ = signals.next() => None,
    };
    progress.flush(out, err);
    let Some(started) = started else {
        // The start was cut off: a container it had asked for goes too.
        let _ = iamc_live::container::remove_all_started().await;
        return Err(CommandError::InterruptedStarting);
    };
    let mut backend = started?;
    let plan = inputs.plan(&target, args, shard);
    let outcome = pipeline::run(&mut backend, &plan, &mut signals, &mut |e| progress.on(e)).await;
    drop(backend);
    progress.flush(out, err);
    let LiveInputs { loaded, proof, .. } = inputs;
    let finish = Finish {
        loaded: &loaded,
        target: &target,
        shard,
        dir: &dir,
        clock: &clock,
        interrupted: CommandError::InterruptedEmulator,
    };
    live::finish(outcome, proof, progress, finish, out)
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
pub async fn gate(args: &GateArgs, out: &mut dyn Write) -> Result<i32, CommandError> {
    // SIGTERM stops the gate as Ctrl-C does, `--log` written either way.
    let mut signals = Signals::install();
    let target = target_of(&TargetArgs { account_id: args.account_id.clone(), region: args.region.clone() })?;
    let listen: std::net::SocketAddr = args.listen.parse().map_err(|_| FlagError::Listen(args.listen.clone()))?;
    if !listen.ip().is_loopback() {
        return Err(FlagError::NotLoopback(args.listen.clone()).into());
    }
    let gate = Gate::start(
        listen,
        GateOptions {
            upstream: args.upstream.clone(),
            target: target.clone(),
            admin: admin_credentials(),
            subject: None,
        },
    )
    .await
    .map_err(|source| CommandError::Listen { addr: listen, source })?;
    let admin = admin_credentials();
    // With --role the policies are read from the upstream's IAM when deciding, so the
    // gate may start before the role exists (its calls are refused until it does).
    let (role_arn, enforced) = match &args.role {
        Some(role) => (gate.follow_role(role), "policies read from the upstream's IAM when deciding".to_string()),
        None => {
            let loaded = load(&source_of(&args.profile), args.template.as_deref(), &target)?;
            let subject = Subject { role_arn: loaded.role.role.arn.clone(), policies: loaded.role.policies.clone() };
            let shown = (subject.role_arn.clone(), format!("{} policies", subject.policies.len()));
            gate.set_subject(subject);
            shown
        }
    };
    for spec in &args.role_keys {
        let mut parts = spec.splitn(3, ':');
        let (Some(key), Some(secret)) = (parts.next(), parts.next()) else {
            return Err(FlagError::RoleKey(spec.clone()).into());
        };
        gate.add_role_credentials(key, secret, parts.next(), &role_arn);
    }
    // Each record is written as it is made: nothing is lost however the gate stops.
    if let Some(path) = &args.log {
        gate.log_to(path).map_err(|source| OutputError::Write { path: path.clone(), source })?;
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
    Ok(EXIT_CONFORMANT)
}
