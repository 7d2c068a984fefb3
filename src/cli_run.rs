//! The effectful shell of `run` and `gate`: emulator, gate, deploy, scenarios,
//! teardown, reports. Split from `cli.rs` because it is async.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use iamc_core::catalog::Catalog;
use crate::cli::{
    EXIT_CONFORMANT, GateArgs, RunArgs, RunClock, TargetArgs, TargetKind, fail, source_of, target_of, write_reports,
};
use iamc_live::emulator::{Emulator, cache_dir, ensure_localstack, ensure_moto};
use iamc_live::client::Client;
use iamc_live::gate_server::{Gate, GateOptions, Subject};
use iamc_live::files::load;
use iamc_core::report::{Environment, Report, RunInfo, SubjectInfo, terminal};
use iamc_live::run::{self, Deployed, LiveResult, Session, admin_credentials};
use iamc_core::template::render::{RefMode, render};

/// `run`. Everything the run starts is stopped on every path out, Ctrl-C included.
pub async fn run(args: &RunArgs, clock: &RunClock, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let default_account = match args.target {
        TargetKind::Moto => "123456789012",
        TargetKind::Localstack => "000000000000",
        TargetKind::Aws => return crate::cli_aws::run(args, clock, out, err).await,
    };
    if let Some(flag) = aws_only_flag(args) {
        return fail(err, &format!("{flag} applies to --target aws only"));
    }
    let account_id = args.account_id.clone().unwrap_or_else(|| default_account.to_string());
    let target = match target_of(&TargetArgs { account_id, region: args.region.clone() }) {
        Ok(t) => iamc_core::template::render::Target {
            stack_name: format!("iam-conformance-{}", clock.run_id.to_ascii_lowercase().replace(['t', 'z'], "")),
            ..t
        },
        Err(e) => return fail(err, &e),
    };
    let shard = match args.shard.as_deref().map(run::Shard::parse).transpose() {
        Ok(s) => s,
        Err(e) => return fail(err, &e),
    };
    let loaded = match load(&source_of(&args.profile), args.template.as_deref(), &target) {
        Ok(l) => l,
        Err(e) => return fail(err, &e.to_string()),
    };
    let dir = args.report_dir.clone().unwrap_or_else(|| Path::new("reports").join(&clock.run_id));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return fail(err, &format!("failed to create report directory `{}`: {e}", dir.display()));
    }
    let catalog = Catalog::embedded();
    let proof = loaded.prove(&target);
    let Some(probes) = run::probes(&loaded.profile) else {
        return fail(
            err,
            "the profile needs an allowed and a denied Describe scenario without prerequisites to prove the role is ready",
        );
    };
    let deploy_json = match render(&loaded.template, &target, RefMode::KeepResourceRefs) {
        Ok(n) => n.to_json().to_string(),
        Err(e) => return fail(err, &e.to_string()),
    };

    // The emulator.
    let mut emulator = None;
    let endpoint = match &args.endpoint {
        Some(url) => url.clone(),
        None => {
            let cache = cache_dir();
            let started = match args.target {
                TargetKind::Moto => {
                    let _ = writeln!(out, "iam-conformance run: preparing moto (cached in {})", cache.display());
                    match ensure_moto(&cache).await {
                        Ok(venv) => Emulator::start_moto(&venv, &dir).await,
                        Err(e) => Err(e),
                    }
                }
                TargetKind::Localstack | TargetKind::Aws => {
                    // The LocalStack image (with LOCALSTACK_AUTH_TOKEN) through Docker is
                    // not implemented: say so when an engine answers, rather than use it silently.
                    if std::os::unix::net::UnixStream::connect("/var/run/docker.sock").is_ok() {
                        let _ = writeln!(
                            out,
                            "iam-conformance run: a Docker engine answers, but starting the LocalStack image through it is not implemented; using the open-source runtime on the host"
                        );
                    }
                    let _ = writeln!(
                        out,
                        "iam-conformance run: preparing the LocalStack runtime (cached in {})",
                        cache.display()
                    );
                    match ensure_localstack(&cache).await {
                        Ok(venv) => Emulator::start_localstack(&venv, &dir).await,
                        Err(e) => Err(e),
                    }
                }
            };
            match started {
                Ok(e) => {
                    let url = e.endpoint.clone();
                    let _ = writeln!(out, "  emulator   {} at {url} (pid {})", e.name, e.pid().unwrap_or(0));
                    emulator = Some(e);
                    url
                }
                Err(e) => return fail(err, &e.to_string()),
            }
        }
    };
    let emulator_services = match args.target {
        TargetKind::Localstack => iamc_live::emulator::localstack_services(&endpoint).await,
        TargetKind::Moto | TargetKind::Aws => Default::default(),
    };
    let gate = match run::start_gate(&endpoint, &target).await {
        Ok(g) => g,
        Err(e) => return fail(err, &e.to_string()),
    };
    let _ = writeln!(out, "  gate       {} → {endpoint}", gate.url);
    let session = Arc::new(Session {
        client: Client::default(),
        endpoints: run::Endpoints::One(gate.url.clone()),
        region: target.region.clone(),
        admin: admin_credentials(),
    });

    let terminal_out = std::io::stdout().is_terminal();
    let lines: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let progress_lines = Arc::clone(&lines);
    let progress = move |done: usize, total: usize, r: &LiveResult| {
        let line = format!("  [{done:>3}/{total}] {:<60} {} ({})", r.id, r.observed, r.decided_by);
        if terminal_out {
            print!("\r{line:<100}");
            let _ = std::io::stdout().flush();
        } else if let Ok(mut l) = progress_lines.lock() {
            l.push(line);
        }
    };

    let stack = target.stack_name.clone();
    let run_started = std::time::Instant::now();
    // Wall time of each phase, for the report and the benchmark.
    let phases: Arc<Mutex<Vec<(String, f64)>>> = Arc::new(Mutex::new(Vec::new()));
    let timed = Arc::clone(&phases);
    let mark = move |name: &str, since: &mut std::time::Instant| {
        if let Ok(mut p) = timed.lock() {
            p.push((name.to_string(), since.elapsed().as_secs_f64()));
        }
        *since = std::time::Instant::now();
    };
    let mark_work = mark.clone();
    // Fixtures created so far and the ids they produced, for teardown on every path out.
    let created: Mutex<Vec<iamc_core::scenario::Fixture>> = Mutex::new(Vec::new());
    let fixture_ids: Mutex<HashMap<String, String>> = Mutex::new(HashMap::new());
    let work = async {
        let mut since = std::time::Instant::now();
        run::deploy(&session, &stack, &deploy_json).await?;
        mark_work("deploy", &mut since);
        let (role_arn, policies) = run::read_back(&session, &loaded.role.role.name).await?;
        let deployed = Deployed { stack: stack.clone(), role_arn, policies };
        run::enforce(&gate, &deployed);
        mark_work("read back", &mut since);
        let mut ids = HashMap::new();
        run::run_fixtures(&session, &loaded.profile.fixtures, &mut ids, &target, &created, &fixture_ids).await?;
        mark_work("fixtures", &mut since);
        let creds =
            run::assume(&session, Some(&gate), &deployed.role_arn, probes, &target, std::time::Duration::from_secs(90))
                .await?;
        let enforces = run::service_enforces_iam(&session.client, &endpoint, &target, &creds, probes.1).await;
        mark_work("assume", &mut since);
        let (results, ids) = run::run_scenarios(
            Arc::clone(&session),
            creds,
            &loaded.profile,
            ids,
            &target,
            args.concurrency,
            Some(&gate),
            shard,
            &run::CallOptions::default(),
            &progress,
        )
        .await;
        mark_work("scenarios", &mut since);
        Ok::<_, run::RunError>((deployed, results, ids, enforces))
    };
    let outcome = tokio::select! {
        r = work => Some(r),
        _ = tokio::signal::ctrl_c() => None,
        _ = run::sigterm() => None,
    };
    if terminal_out {
        println!();
    }
    for l in lines.lock().map(|l| l.clone()).unwrap_or_default() {
        let _ = writeln!(out, "{l}");
    }

    // Teardown, whatever happened: the stack, then the emulator's whole state.
    let mut since = std::time::Instant::now();
    if !args.keep {
        // The fixtures first (in reverse), then the stack: on an emulator the run did not
        // start, nothing else would remove them.
        let made = created.lock().map(|c| c.clone()).unwrap_or_default();
        let known = fixture_ids.lock().map(|k| k.clone()).unwrap_or_default();
        let left = run::undo_fixtures(&session, &made, &known, &target).await;
        if !left.is_empty() && emulator.is_none() {
            let _ = writeln!(err, "warning: could not remove these fixtures from {endpoint}: {}", left.join(", "));
        }
        let _ = session.admin("cloudformation", "DeleteStack", serde_json::json!({"StackName": stack})).await;
    }
    if let Some(e) = emulator.as_mut() {
        if args.keep {
            let pid = e.detach();
            let _ = writeln!(
                out,
                "  kept       {} at {} (pid {}); stop it with `kill {}`",
                e.name,
                e.endpoint,
                pid.unwrap_or(0),
                pid.unwrap_or(0)
            );
        } else {
            // moto never detaches the stack's managed policy (DeleteStack answers 409), so
            // clear everything explicitly.
            e.reset().await;
            // LocalStack shuts down on SIGTERM; moto holds nothing worth a graceful stop.
            if e.name.starts_with("LocalStack") {
                e.terminate().await;
            } else {
                e.stop().await;
            }
            // LocalStack keeps its state under the report directory; it goes with the run.
            if e.name.starts_with("LocalStack")
                && let Some(port) = e.endpoint.rsplit(':').next()
            {
                let _ = std::fs::remove_dir_all(dir.join(format!("localstack-{port}")));
            }
        }
    }
    mark("teardown", &mut since);
    let gate_records = gate.records();
    drop(gate);
    let run_seconds = run_started.elapsed().as_secs_f64();

    let (deployed, results, ids, enforces) = match outcome {
        None => return fail(err, "interrupted: the emulator was stopped and no report was written"),
        Some(Err(e)) => return fail(err, &e.to_string()),
        Some(Ok(r)) => r,
    };
    let skipped = results
        .iter()
        .filter(|r| r.observed == run::Observed::Skipped && r.skip != Some(run::SkipReason::OtherShard))
        .count();
    let errors = results.iter().filter(|r| r.observed == run::Observed::Error).count();
    let findings = proof.findings.clone();
    let report = Report::new(
        proof,
        RunInfo::new(&clock.run_id, "run", &clock.generated_at),
        SubjectInfo {
            // The policies the emulator's IAM held, as read back.
            policies: deployed.policies.iter().map(|p| p.name.clone()).collect(),
            ..SubjectInfo::of(&loaded, &target)
        },
        catalog.source.clone(),
    );
    let environment = Environment {
        target: match (&args.endpoint, args.target) {
            (Some(_), TargetKind::Moto) => "moto (external endpoint)".into(),
            (Some(_), TargetKind::Localstack) => "LocalStack (external endpoint)".into(),
            (_, TargetKind::Aws) => "AWS".into(),
            (None, TargetKind::Moto) => format!("moto {}", iamc_live::emulator::MOTO_VERSION),
            (None, TargetKind::Localstack) => {
                format!("LocalStack {} (open-source runtime)", iamc_live::emulator::LOCALSTACK_VERSION)
            }
        },
        service_enforces_iam: enforces,
        emulator_services,
        endpoint,
        gate: "iam-conformance gate (127.0.0.1)".into(),
        iam_decided_by: iamc_core::outcome::DecidedBy::Gate,
        stack: deployed.stack.clone(),
        role_arn: deployed.role_arn.clone(),
        skipped,
        errors,
        shard,
        gate_requests: gate_records.len(),
        gate_decision_ms: gate_records.iter().map(|r| r.decision_us as f64 / 1000.0).sum(),
        gate_request_ms: gate_records.iter().map(|r| r.total_us as f64 / 1000.0).sum(),
        scenario_seconds: phases
            .lock()
            .ok()
            .and_then(|p| p.iter().find(|(n, _)| n == "scenarios").map(|(_, t)| *t))
            .unwrap_or(0.0),
        phase_seconds: phases.lock().map(|p| p.clone()).unwrap_or_default(),
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

/// The first `--target aws` option given to an emulator run, if any (they would be ignored).
fn aws_only_flag(args: &RunArgs) -> Option<&'static str> {
    use crate::cli::{Principal, RunMode};
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
    let subject = match &args.role {
        Some(arn) => {
            let session = Session {
                client: Client::default(),
                endpoints: run::Endpoints::One(gate.url.clone()),
                region: target.region.clone(),
                admin: admin_credentials(),
            };
            let name = arn.rsplit('/').next().unwrap_or(arn);
            match run::read_back(&session, name).await {
                Ok((role_arn, policies)) => Subject { role_arn, policies },
                Err(e) => return fail(err, &e.to_string()),
            }
        }
        None => {
            let loaded = match load(&source_of(&args.profile), args.template.as_deref(), &target) {
                Ok(l) => l,
                Err(e) => return fail(err, &e.to_string()),
            };
            Subject { role_arn: loaded.role.role.arn.clone(), policies: loaded.role.policies.clone() }
        }
    };
    for key in &args.role_keys {
        gate.add_role_key(key, &subject.role_arn);
    }
    let _ = writeln!(
        out,
        "iam-conformance gate: {} → {} enforcing {} ({} policies); administrator key {} passes unevaluated. Ctrl-C stops.",
        gate.url,
        args.upstream,
        subject.role_arn,
        subject.policies.len(),
        admin_credentials().access_key_id
    );
    gate.set_subject(subject);
    let _ = tokio::signal::ctrl_c().await;
    let records = gate.records();
    if let Some(path) = &args.log {
        let text: String = records.iter().map(|r| serde_json::to_string(r).unwrap_or_default() + "\n").collect();
        if let Err(e) = std::fs::write(path, text) {
            return fail(err, &format!("failed to write `{}`: {e}", path.display()));
        }
    }
    let denied = records.iter().filter(|r| r.verdict == iamc_live::gate_server::GateVerdict::Denied).count();
    let _ = writeln!(out, "iam-conformance gate: {} requests, {denied} denied", records.len());
    EXIT_CONFORMANT
}
