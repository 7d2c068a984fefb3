//! The emulator backend: moto or LocalStack (started here, or at a given endpoint) with
//! the project's gate in front, which decides every scenario call.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use iamc_core::outcome::DecidedBy;
use iamc_core::report::EmulatorRun;
use iamc_core::report::events::{BackendInfo, RunEvent};

use super::{Backend, Made, Plan, RunError};
use crate::cache::cache_dir;
use crate::client::{Client, Credentials};
use crate::container::{self, ContainerError, ContainerOptions, LocalStackContainer};
use crate::emulator::{self, Emulator, EmulatorError, ensure_localstack, ensure_moto};
use crate::gate_server::Gate;
use crate::run::{self, CallOptions, Deployed, Endpoints, GateStartError, Session, admin_credentials};

/// Which emulator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmulatorKind {
    /// moto's server.
    Moto,
    /// LocalStack, run as it says.
    LocalStack(LocalStackMode),
}

/// How LocalStack runs (docs/emulators.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocalStackMode {
    /// A container when a Docker engine answers, else the runtime on the host.
    Auto,
    /// A container started through testcontainers (the official image with
    /// `LOCALSTACK_AUTH_TOKEN`, else the locally built one).
    Container,
    /// The open-source runtime as a process on the host.
    Host,
}

/// How to reach the emulator.
pub struct EmulatorOptions {
    /// Which one.
    pub kind: EmulatorKind,
    /// An emulator already running there (`--endpoint`), instead of starting one.
    pub endpoint: Option<String>,
    /// Where a started emulator keeps its log and state (the report directory).
    pub state_dir: PathBuf,
    /// Leave the emulator running at the end (`--keep`).
    pub keep: bool,
}

/// An emulator behind the gate.
pub struct EmulatorBackend {
    emulator: Option<Emulator>,
    container: Option<LocalStackContainer>,
    endpoint: String,
    gate: Gate,
    session: Arc<Session>,
    state_dir: PathBuf,
    keep: bool,
    external: bool,
}

/// Why the emulator backend could not be made.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The emulator would not install or start.
    #[error(transparent)]
    Emulator(#[from] EmulatorError),
    /// The gate would not listen.
    #[error(transparent)]
    Gate(#[from] GateStartError),
    /// The LocalStack container would not start.
    #[error("LocalStack as a container: {0}")]
    Container(#[source] ContainerError),
}

impl EmulatorBackend {
    /// Starts the emulator (unless given an endpoint) and the gate in front of it.
    pub async fn start(
        options: EmulatorOptions,
        target: &iamc_core::template::render::Target,
        emit: &mut dyn FnMut(RunEvent),
    ) -> Result<EmulatorBackend, StartError> {
        let external = options.endpoint.is_some();
        let (mut started, mut container) = (None, None);
        let endpoint = match &options.endpoint {
            Some(url) => url.clone(),
            None => match start_container(options.kind, emit).await? {
                Some(c) => {
                    let url = c.endpoint();
                    emit(RunEvent::Note(format!("  emulator   LocalStack container {} at {url}", short(c.id()))));
                    container = Some(c);
                    url
                }
                None => {
                    let e = start_emulator(options.kind, &options.state_dir, emit).await?;
                    let url = e.endpoint.clone();
                    emit(RunEvent::Note(format!("  emulator   {} at {url} (pid {})", e.name, e.pid().unwrap_or(0))));
                    started = Some(e);
                    url
                }
            },
        };
        let services = match options.kind {
            EmulatorKind::LocalStack(_) => emulator::localstack_services(&endpoint).await,
            EmulatorKind::Moto => Default::default(),
        };
        let how = emulator_run(options.kind, external, container.as_ref());
        let gate = run::start_gate(&endpoint, target).await?;
        emit(RunEvent::Note(format!("  gate       {} → {endpoint}", gate.url)));
        let session = Arc::new(Session {
            client: Client::default(),
            endpoints: Endpoints::One(gate.url.clone()),
            region: target.region.clone(),
            admin: admin_credentials(),
        });
        emit(RunEvent::Backend(BackendInfo {
            target: describe(options.kind, &how),
            endpoint: endpoint.clone(),
            gate: "iam-conformance gate (127.0.0.1)".into(),
            decided_by: DecidedBy::Gate,
            services,
            emulator: Some(how),
        }));
        Ok(EmulatorBackend {
            emulator: started,
            container,
            endpoint,
            gate,
            session,
            state_dir: options.state_dir,
            keep: options.keep,
            external,
        })
    }
}

/// Installs (cached) and starts the emulator.
async fn start_emulator(
    kind: EmulatorKind,
    state_dir: &Path,
    emit: &mut dyn FnMut(RunEvent),
) -> Result<Emulator, EmulatorError> {
    let cache = cache_dir();
    match kind {
        EmulatorKind::Moto => {
            emit(RunEvent::Note(format!("iam-conformance run: preparing moto (cached in {})", cache.display())));
            Emulator::start_moto(&ensure_moto(&cache).await?, state_dir).await
        }
        EmulatorKind::LocalStack(_) => {
            emit(RunEvent::Note(format!(
                "iam-conformance run: preparing the LocalStack runtime (cached in {})",
                cache.display()
            )));
            Emulator::start_localstack(&ensure_localstack(&cache).await?, state_dir).await
        }
    }
}

/// LocalStack as a container, when asked or (`Auto`) when a Docker engine answers;
/// `None` to start a host process instead.
async fn start_container(
    kind: EmulatorKind,
    emit: &mut dyn FnMut(RunEvent),
) -> Result<Option<LocalStackContainer>, StartError> {
    let EmulatorKind::LocalStack(mode @ (LocalStackMode::Auto | LocalStackMode::Container)) = kind else {
        return Ok(None);
    };
    for note in reap_containers().await {
        emit(RunEvent::Note(note));
    }
    // Built on first use (a few minutes, with progress lines) when the local image is missing.
    let options = ContainerOptions { build_image: true, ..ContainerOptions::from_env() };
    emit(RunEvent::Note("iam-conformance run: starting LocalStack as a container (testcontainers)".into()));
    match container::start(&options).await {
        Ok(c) => Ok(Some(c)),
        Err(e) if mode == LocalStackMode::Auto && e.is_no_engine() => {
            emit(RunEvent::Note(format!(
                "iam-conformance run: no Docker engine answers ({}); using the LocalStack runtime on the host",
                crate::client::error_chain(&e)
            )));
            Ok(None)
        }
        Err(e) => Err(StartError::Container(e)),
    }
}

/// Where the ids of containers kept on purpose (`--keep`) are listed, so that no later run
/// takes them for what a killed run left.
fn kept_list() -> PathBuf {
    cache_dir().join("containers-kept.txt")
}

/// Removes the containers of earlier runs whose harness is gone (killed outright: no
/// destructor and no signal handler ran) unless they were kept on purpose. Docker owns
/// them, so the process-group watchdog cannot; their label names the harness's pid.
async fn reap_containers() -> Vec<String> {
    let Ok(labelled) = container::list_labelled(None).await else { return Vec::new() };
    let kept = std::fs::read_to_string(kept_list()).unwrap_or_default();
    let gone: Vec<String> = labelled
        .into_iter()
        .filter(|c| c.run.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()))
        .filter(|c| !kept.lines().any(|k| k.trim() == c.id))
        .map(|c| c.id)
        .collect();
    if gone.is_empty() {
        return Vec::new();
    }
    match container::remove_ids(&gone).await {
        Ok(removed) if !removed.is_empty() => vec![format!(
            "iam-conformance run: removed {} LocalStack container(s) an earlier, killed run left: {}",
            removed.len(),
            removed.iter().map(|id| short(id)).collect::<Vec<_>>().join(", ")
        )],
        _ => Vec::new(),
    }
}

/// How the emulator runs, for the report.
fn emulator_run(kind: EmulatorKind, external: bool, container: Option<&LocalStackContainer>) -> EmulatorRun {
    match (kind, external, container) {
        (_, true, _) => EmulatorRun { how: "endpoint".into(), image: None, version: None },
        (_, false, Some(c)) => EmulatorRun { how: "container".into(), image: Some(c.image()), version: c.version() },
        (EmulatorKind::Moto, false, None) => {
            EmulatorRun { how: "host".into(), image: None, version: Some(emulator::MOTO_VERSION.into()) }
        }
        (EmulatorKind::LocalStack(_), false, None) => {
            EmulatorRun { how: "host".into(), image: None, version: Some(emulator::LOCALSTACK_VERSION.into()) }
        }
    }
}

/// The report's `target` for this emulator.
fn describe(kind: EmulatorKind, how: &EmulatorRun) -> String {
    let version = how.version.as_deref().unwrap_or("?");
    match (kind, how.how.as_str()) {
        (EmulatorKind::Moto, "endpoint") => "moto (external endpoint)".into(),
        (EmulatorKind::LocalStack(_), "endpoint") => "LocalStack (external endpoint)".into(),
        (EmulatorKind::Moto, _) => format!("moto {version}"),
        (EmulatorKind::LocalStack(_), "container") => format!(
            "LocalStack {version} (container {}, started through testcontainers)",
            how.image.as_deref().unwrap_or("?")
        ),
        (EmulatorKind::LocalStack(_), _) => format!("LocalStack {version} (open-source runtime)"),
    }
}

/// The first 12 characters of a container id, as `docker ps` shows it.
fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

impl Backend for EmulatorBackend {
    fn session(&self) -> &Arc<Session> {
        &self.session
    }

    fn gate(&self) -> Option<&Gate> {
        Some(&self.gate)
    }

    fn call_options(&self, stop: Arc<AtomicBool>) -> CallOptions {
        CallOptions { stop: Some(stop), ..CallOptions::default() }
    }

    async fn deploy(&mut self, plan: &Plan<'_>) -> Result<(), RunError> {
        Ok(run::deploy(&self.session, &plan.target.stack_name, plan.deploy_json).await?)
    }

    async fn deployed(&mut self, deployed: &Deployed) -> Result<(), RunError> {
        run::enforce(&self.gate, deployed);
        Ok(())
    }

    async fn become_principal(&mut self, plan: &Plan<'_>, deployed: &Deployed) -> Result<Credentials, RunError> {
        let patience = Duration::from_secs(90);
        Ok(run::assume(&self.session, Some(&self.gate), &deployed.role_arn, plan.probes, plan.target, patience).await?)
    }

    async fn canary(&mut self, plan: &Plan<'_>, creds: &Credentials) -> Option<bool> {
        run::service_enforces_iam(&self.session.client, &self.endpoint, plan.target, creds, plan.probes.1).await
    }

    /// The fixtures (in reverse), then the stack; then the emulator's whole state.
    async fn teardown(&mut self, plan: &Plan<'_>, made: &Made) -> Vec<RunEvent> {
        let mut events = Vec::new();
        if !self.keep {
            let (fixtures, ids) = made.take();
            let left = run::undo_fixtures(&self.session, &fixtures, &ids, plan.target).await;
            // On an emulator the run started, the reset below removes whatever is left.
            if !left.is_empty() && self.external {
                events.push(RunEvent::Warning(format!(
                    "could not remove these fixtures from {}: {}",
                    self.endpoint,
                    left.join(", ")
                )));
            }
            let input = serde_json::json!({"StackName": plan.target.stack_name});
            let _ = self.session.admin("cloudformation", "DeleteStack", input).await;
        }
        if let Some(c) = self.container.take() {
            if self.keep {
                let kept = c.keep();
                // Listed so that a later run does not take it for a killed run's leftover.
                let listed = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(kept_list())
                    .and_then(|mut f| std::io::Write::write_all(&mut f, format!("{}\n", kept.id).as_bytes()));
                if let Err(e) = listed {
                    events.push(RunEvent::Warning(format!(
                        "could not list the kept container in `{}` ({e}): a later run may remove it",
                        kept_list().display()
                    )));
                }
                events.push(RunEvent::Note(format!(
                    "  kept       LocalStack container {} at {}; remove it with `{}`",
                    short(&kept.id),
                    kept.endpoint,
                    kept.remove_command()
                )));
            } else if let Err(e) = c.remove().await {
                events.push(RunEvent::Warning(format!(
                    "the LocalStack container was not removed: {}",
                    crate::client::error_chain(&e)
                )));
            }
        }
        if let Some(e) = self.emulator.as_mut() {
            if self.keep {
                let pid = e.detach().unwrap_or(0);
                events.push(RunEvent::Note(format!(
                    "  kept       {} at {} (pid {pid}); stop it with `kill {pid}`",
                    e.name, e.endpoint
                )));
            } else {
                // moto never detaches the stack's managed policy (DeleteStack answers 409),
                // so clear everything explicitly.
                e.reset().await;
                // LocalStack shuts down on SIGTERM; moto holds nothing worth a graceful stop.
                let localstack = e.name.starts_with("LocalStack");
                if localstack {
                    e.terminate().await;
                } else {
                    e.stop().await;
                }
                // LocalStack keeps its state under the report directory; it goes with the run.
                if localstack && let Some(port) = e.endpoint.rsplit(':').next() {
                    let _ = std::fs::remove_dir_all(self.state_dir.join(format!("localstack-{port}")));
                }
            }
        }
        events
    }
}
