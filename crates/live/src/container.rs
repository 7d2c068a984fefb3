//! LocalStack as a container, started through testcontainers (the LocalStack module of
//! `testcontainers-modules`, docs/build.md "testcontainers"), for an engine with mapped
//! ports (laptops, CI runners) or with host networking only (this project's machines:
//! `localstack/setup-docker.sh`, docs/emulators.md "A Docker engine on this machine kind").
//!
//! - Image: with `LOCALSTACK_AUTH_TOKEN` the official `localstack/localstack` (the token is
//!   passed through; pulling it is the user's registry's business); otherwise the locally
//!   built `iam-conformance/localstack-core:VERSION` (`localstack/build-image.sh`). A missing
//!   local image is [`ContainerError::ImageMissing`] unless [`ContainerOptions::build_image`]
//!   is set, which runs the compiled-in build script with its progress lines on stderr.
//! - Networking: [`Networking::Auto`] asks the engine for its networks: with a `bridge`
//!   network the container's 4566 is mapped to a free host port on 127.0.0.1; without one
//!   the container runs with `--network host` on a free 127.0.0.1 port given as
//!   `GATEWAY_LISTEN` ([`choose_networking`] is that decision, pure).
//! - Ready: when `/_localstack/health` answers 200; its `version` is kept ([`LocalStackContainer::version`]).
//! - Removal: every container carries the labels [`LABEL_RUN`]`=<pid>` and
//!   [`LABEL_SESSION`]`=<pid>.<start time>`. It is removed (`rm -f`, with its anonymous
//!   volumes) by [`LocalStackContainer::remove`], on drop, on a failed start, and by
//!   [`remove_all_started`], which a signal path must call: on SIGINT/SIGTERM no destructor
//!   runs unless the program makes it (the default action kills the process). [`LocalStackContainer::keep`]
//!   leaves it running. [`list_labelled`] and [`remove_ids`] find and remove what an earlier,
//!   killed process left.
//! - A start is never cut off half-way, only cancelled (by its caller giving up, or by
//!   [`remove_all_started`]): it stops at its next safe point and removes what it made,
//!   and `remove_all_started` waits for that before it looks (see [`start`]). So a signal
//!   at any point of a start leaves nothing, and the signal path takes about as long as
//!   the engine's create-and-start call under way (measured here: 0.05-0.6 s, 0.9 s with
//!   the two cores busy), not LocalStack's start-up.
//!
//! The signal path, as `tests/localstack_container.rs` (`child`) does it: install the
//! handlers before starting, race the run against them, and remove after the run's future
//! is gone (dropping it drops the handle, which removes the container, or cancels a start
//! under way; `remove_all_started` also waits for such a start and catches handles held by
//! spawned tasks):
//!
//! ```ignore
//! let mut term = tokio::signal::unix::signal(SignalKind::terminate())?;
//! let code = tokio::select! {
//!     r = run_with_container(opts) => r.map_or(1, |_| 0),   // calls container::start inside
//!     _ = tokio::signal::ctrl_c() => 130,
//!     _ = term.recv() => 143,
//! };
//! let _ = container::remove_all_started().await;
//! std::process::exit(code);
//! ```
//!
//! The engine API: testcontainers 0.27's client (bollard 0.20) asks for API 1.52 but its
//! request paths carry no version prefix, so an engine older than that (Debian bookworm's
//! 20.10, API 1.41) serves them at its own version (measured: see the tests and
//! `localstack/setup-docker.sh`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use testcontainers_modules::localstack::LocalStack;
use testcontainers_modules::testcontainers::bollard::Docker;
use testcontainers_modules::testcontainers::bollard::errors::Error as BollardError;
use testcontainers_modules::testcontainers::bollard::models::PortBinding;
use testcontainers_modules::testcontainers::bollard::query_parameters::{
    ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
};
use testcontainers_modules::testcontainers::core::IntoContainerPort;
use testcontainers_modules::testcontainers::core::client::docker_client_instance;
use testcontainers_modules::testcontainers::core::error::TestcontainersError;
use testcontainers_modules::testcontainers::runners::AsyncRunner;
use testcontainers_modules::testcontainers::{ContainerAsync, ImageExt};

use crate::cache::cache_dir;
use crate::emulator::{LOCALSTACK_VERSION, free_port};

/// The locally built image (`localstack/build-image.sh`), named for what it is.
pub const LOCAL_IMAGE_NAME: &str = "iam-conformance/localstack-core";
/// The official image, used when `LOCALSTACK_AUTH_TOKEN` is set.
pub const OFFICIAL_IMAGE: &str = "localstack/localstack:latest";
/// Label on every container: the starting process's PID (`docker ps -a --filter label=iam-conformance.run=PID`).
pub const LABEL_RUN: &str = "iam-conformance.run";
/// Label on every container: `<pid>.<process start, ns since the epoch>`, unique to the
/// process even when PIDs are reused; [`remove_all_started`] removes by it.
pub const LABEL_SESSION: &str = "iam-conformance.session";
/// Label on every container: `<session>.<n>`, unique to one [`start`] call.
pub const LABEL_INSTANCE: &str = "iam-conformance.instance";

/// The port LocalStack's gateway listens on inside the container (mapped ports).
const GATEWAY_PORT: u16 = 4566;

const BUILD_IMAGE: &str = include_str!("../../../localstack/build-image.sh");
const DOCKERFILE: &str = include_str!("../../../localstack/Dockerfile");
const SETUP_LOCALSTACK: &str = include_str!("../../../localstack/setup-localstack.sh");
const SETUP_DOCKER: &str = include_str!("../../../localstack/setup-docker.sh");

/// The local image's full name: `iam-conformance/localstack-core:2026.3.0`.
pub fn local_image() -> String {
    format!("{LOCAL_IMAGE_NAME}:{LOCALSTACK_VERSION}")
}

#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    /// No Docker engine could be reached (socket missing, connection refused, unusable
    /// `DOCKER_HOST`): the caller may fall back to the host runtime, saying this.
    #[error("no Docker engine answers at {host}")]
    NoEngine {
        host: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The engine answered but refused or failed a request.
    #[error("the Docker engine at {host} failed to {action}")]
    Engine {
        host: String,
        action: String,
        #[source]
        source: BollardError,
    },
    /// Mapped ports were asked for, but the engine has no `bridge` network to map from.
    #[error("mapped ports need the engine's bridge network; it has only {networks:?} (use host networking)")]
    NoBridge { networks: Vec<String> },
    #[error("image {image} is not present: build it with localstack/build-image.sh (scripts/test does)")]
    ImageMissing { image: String },
    #[error("building image {image} with localstack/build-image.sh failed: {message}")]
    Build { image: String, message: String },
    #[error("failed to start a container from {image}")]
    Start {
        image: String,
        #[source]
        source: TestcontainersError,
    },
    #[error("container {id} ({image}) exited with {exit_code:?} before LocalStack answered; its last output:\n{log}")]
    Exited { id: String, image: String, exit_code: Option<i64>, log: String },
    #[error("LocalStack in container {id} ({image}) did not answer {url} within {limit:?}; its last output:\n{log}")]
    NotReady { id: String, image: String, url: String, limit: Duration, log: String },
    /// Removed by someone else (`docker rm -f`, a sweep) while LocalStack was starting.
    #[error("container {id} ({image}) was removed by someone else before LocalStack answered")]
    Gone { id: String, image: String },
    /// The start was cancelled — [`remove_all_started`] ran, or its caller stopped waiting —
    /// and left nothing: what it had made is removed.
    #[error(
        "the container's start was cancelled (remove_all_started ran, or its caller stopped waiting); nothing is left"
    )]
    Cancelled,
    #[error("failed to remove container {id}")]
    Remove {
        id: String,
        #[source]
        source: TestcontainersError,
    },
    #[error("{0}")]
    Io(String),
}

impl ContainerError {
    /// True when no engine answers: the one case where falling back to the host runtime
    /// is the expected behaviour rather than hiding a fault.
    pub fn is_no_engine(&self) -> bool {
        matches!(self, ContainerError::NoEngine { .. })
    }
}

/// How the container's gateway is reached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Networking {
    /// Ask the engine: mapped ports when it has a `bridge` network, else host networking.
    #[default]
    Auto,
    /// `--network host`, the gateway on a free 127.0.0.1 port (`GATEWAY_LISTEN`).
    Host,
    /// The default bridge network, container port 4566 published on a free host port.
    Mapped,
}

impl Networking {
    /// `host`, `mapped` or `auto` (as in `IAM_CONFORMANCE_DOCKER_NETWORK`).
    pub fn parse(s: &str) -> Option<Networking> {
        match s.trim() {
            "auto" | "" => Some(Networking::Auto),
            "host" => Some(Networking::Host),
            "mapped" => Some(Networking::Mapped),
            _ => None,
        }
    }
}

/// The networking a start uses: `requested` unless it is `Auto`; then mapped ports when
/// the engine has a `bridge` network (an engine started with `--bridge=none` has only
/// `host` and `none`), else host networking.
pub fn choose_networking(requested: Networking, engine_networks: &[String]) -> Networking {
    match requested {
        Networking::Auto if engine_networks.iter().any(|n| n == "bridge") => Networking::Mapped,
        Networking::Auto => Networking::Host,
        other => other,
    }
}

/// What to start.
#[derive(Clone, Debug)]
pub struct ContainerOptions {
    /// `LOCALSTACK_AUTH_TOKEN`: with one, the official image and the token passed in.
    pub auth_token: Option<String>,
    /// An image (`name:tag`) instead of the one the token chooses.
    pub image: Option<String>,
    pub networking: Networking,
    /// Build the local image when it is missing (the compiled-in `localstack/build-image.sh`,
    /// a few minutes once, progress on stderr) instead of failing with `ImageMissing`.
    pub build_image: bool,
    /// From the container's start to `/_localstack/health` answering.
    pub startup_timeout: Duration,
    /// More environment for LocalStack (e.g. `SERVICES`).
    pub env: Vec<(String, String)>,
}

impl Default for ContainerOptions {
    fn default() -> Self {
        ContainerOptions {
            auth_token: None,
            image: None,
            networking: Networking::Auto,
            build_image: false,
            startup_timeout: Duration::from_secs(90),
            env: Vec::new(),
        }
    }
}

impl ContainerOptions {
    /// Defaults, with `LOCALSTACK_AUTH_TOKEN` (when set and not empty) and
    /// `IAM_CONFORMANCE_DOCKER_NETWORK` (`auto`, `host`, `mapped`; others are ignored).
    pub fn from_env() -> ContainerOptions {
        let auth_token = std::env::var("LOCALSTACK_AUTH_TOKEN").ok().filter(|t| !t.trim().is_empty());
        let networking = std::env::var("IAM_CONFORMANCE_DOCKER_NETWORK")
            .ok()
            .and_then(|s| Networking::parse(&s))
            .unwrap_or_default();
        ContainerOptions { auth_token, networking, ..ContainerOptions::default() }
    }

    /// The image this start uses.
    pub fn chosen_image(&self) -> String {
        match (&self.image, &self.auth_token) {
            (Some(image), _) => image.clone(),
            (None, Some(_)) => OFFICIAL_IMAGE.to_string(),
            (None, None) => local_image(),
        }
    }
}

/// The engine, as it answers.
#[derive(Clone, Debug)]
pub struct EngineInfo {
    /// Where it was reached: `DOCKER_HOST` or the default socket.
    pub host: String,
    /// e.g. `20.10.24+dfsg1`.
    pub version: String,
    /// e.g. `1.41`.
    pub api_version: String,
    /// Network names (`bridge`, `host`, `none`, ...).
    pub networks: Vec<String>,
}

/// What `/_localstack/health` says.
#[derive(Clone, Debug, Default)]
pub struct Health {
    pub version: Option<String>,
    pub edition: Option<String>,
    /// Service name → state (`available`, `running`, ...).
    pub services: BTreeMap<String, String>,
}

/// A running LocalStack container. Removed on drop unless [`keep`](Self::keep) was called;
/// see the module's documentation for signals.
pub struct LocalStackContainer {
    inner: Option<ContainerAsync<LocalStack>>,
    id: String,
    image: String,
    endpoint: String,
    networking: Networking,
    health: Health,
    ready_after: Duration,
}

/// A container left running by [`LocalStackContainer::keep`].
#[derive(Clone, Debug)]
pub struct KeptContainer {
    pub id: String,
    pub image: String,
    pub endpoint: String,
}

impl KeptContainer {
    /// How a person removes it later.
    pub fn remove_command(&self) -> String {
        format!("docker rm -f {}", self.id)
    }
}

/// Starts LocalStack in a container and waits until its health endpoint answers. On any
/// failure after the container was created, the container is removed before returning.
///
/// The start runs in a task of its own, so that nothing cuts it off half-way: a caller
/// that gives up (a signal's `select!` drops this future) or [`remove_all_started`]
/// *cancels* it instead, and it stops at its next safe point — before the create (nothing
/// is made), after the engine's create-and-start call returned (the container is removed),
/// or while waiting for health (the wait ends at once; the container is removed). The
/// create-and-start call itself is never cut: cut, the engine may still make the
/// container after anyone looked. A cancelled start returns [`ContainerError::Cancelled`].
/// (An image build, [`ContainerOptions::build_image`], is not cut either; it makes no
/// container, so nobody waits for it: a start cancelled meanwhile stops after it.)
pub async fn start(options: &ContainerOptions) -> Result<LocalStackContainer, ContainerError> {
    let options = options.clone();
    let cancel = Cancel::new();
    let abandon = AbandonOnDrop(Some(cancel.abandoned.clone()));
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut creating = None;
        let result = start_inner(&options, &cancel, &mut creating).await;
        if let Err(Ok(unwanted)) = tx.send(result) {
            // The caller went away after the last check: nobody will remove it but us.
            let _ = unwanted.remove().await;
        }
        // Only now (delivered or removed) may `remove_all_started` take its one look.
        drop(creating);
    });
    let answer = rx.await;
    abandon.disarm();
    answer.unwrap_or_else(|_| Err(ContainerError::Io("the container's start task ended without an answer".into())))
}

async fn start_inner(
    options: &ContainerOptions,
    cancel: &Cancel,
    creating: &mut Option<Creating>,
) -> Result<LocalStackContainer, ContainerError> {
    cancel.check()?;
    let engine = engine().await?;
    let docker = client().await?;
    let image = options.chosen_image();
    ensure_image(&docker, &engine.host, &image, options).await?;

    let networking = choose_networking(options.networking, &engine.networks);
    if networking == Networking::Mapped && !engine.networks.iter().any(|n| n == "bridge") {
        return Err(ContainerError::NoBridge { networks: engine.networks });
    }
    let (name, tag) = split_image(&image);
    let session = session();
    let instance = format!("{session}.{}", NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed));
    let mut request = LocalStack::default()
        .with_name(name)
        .with_tag(tag)
        .with_label(LABEL_RUN, std::process::id().to_string())
        .with_label(LABEL_SESSION, session)
        .with_label(LABEL_INSTANCE, instance.clone())
        // Readiness is ours (the health endpoint, below), not the module's "Ready." line
        // followed by a fixed 3 s.
        .with_ready_conditions(Vec::new())
        .with_startup_timeout(options.startup_timeout)
        // The same settings as the host runtime (docs/emulators.md); the local image has
        // them already, the official image needs at least the DNS one on a host network.
        .with_env_var("PERSISTENCE", "0")
        .with_env_var("SKIP_SSL_CERT_DOWNLOAD", "1")
        .with_env_var("DISABLE_EVENTS", "1")
        .with_env_var("DNS_ADDRESS", "0");
    if let Some(token) = &options.auth_token {
        request = request.with_env_var("LOCALSTACK_AUTH_TOKEN", token.clone());
    }
    let host_port = match networking {
        Networking::Host => {
            let port = free_port().map_err(|e| ContainerError::Io(e.to_string()))?;
            request = request.with_network("host").with_env_var("GATEWAY_LISTEN", format!("127.0.0.1:{port}"));
            Some(port)
        }
        _ => {
            // Publish 4566 alone, on 127.0.0.1 when the engine is local (not every port the
            // image exposes, on every interface, as testcontainers would by default).
            let host_ip = local_engine(&engine.host).then(|| "127.0.0.1".to_string());
            request = request
                .with_env_var("GATEWAY_LISTEN", format!("0.0.0.0:{GATEWAY_PORT}"))
                .with_mapped_port(0, GATEWAY_PORT.tcp())
                .with_host_config_modifier(move |hc| {
                    hc.publish_all_ports = Some(false);
                    hc.port_bindings = Some(HashMap::from([(
                        format!("{GATEWAY_PORT}/tcp"),
                        Some(vec![PortBinding { host_ip: host_ip.clone(), host_port: Some(String::new()) }]),
                    )]));
                });
            None
        }
    };
    for (k, v) in &options.env {
        request = request.with_env_var(k.clone(), v.clone());
    }

    // The last safe point before the create; from here the start counts as one that
    // `remove_all_started` waits for, until its container is handed over or removed.
    *creating = Some(cancel.enter_create()?);
    let started = Instant::now();
    // Never cut off (see `start`): create, start, inspect.
    let container = match request.start().await {
        Ok(c) => c,
        Err(source) => {
            // A create that succeeded before a failed start (or a timeout) leaves a container.
            let _ = remove_matching(&docker, &format!("{LABEL_INSTANCE}={instance}")).await;
            return Err(ContainerError::Start { image, source });
        }
    };
    let id = container.id().to_string();
    register(&id);
    if cancel.is_cancelled() {
        unregister(&id);
        let _ = container.rm().await;
        return Err(ContainerError::Cancelled);
    }
    let endpoint = match host_port {
        Some(port) => format!("http://127.0.0.1:{port}"),
        None => {
            let mapped = async {
                let host = container.get_host().await?.to_string();
                let port = container.get_host_port_ipv4(GATEWAY_PORT).await?;
                Ok::<_, TestcontainersError>((host, port))
            };
            match mapped.await {
                Ok((host, port)) => {
                    let host = if host == "localhost" { "127.0.0.1".to_string() } else { host };
                    format!("http://{host}:{port}")
                }
                Err(source) => {
                    unregister(&id);
                    let _ = container.rm().await;
                    return Err(ContainerError::Start { image, source });
                }
            }
        }
    };
    let mut this = LocalStackContainer {
        inner: Some(container),
        id,
        image,
        endpoint,
        networking,
        health: Health::default(),
        ready_after: Duration::ZERO,
    };
    // The wait only reads (health, the container's state), so it may be cut; the removal
    // after it is not.
    let ready = tokio::select! {
        ready = this.wait_ready(started, options.startup_timeout) => ready,
        () = cancel.cancelled() => Err(ContainerError::Cancelled),
    };
    match ready {
        Ok(h) if !cancel.is_cancelled() => {
            this.health = h;
            this.ready_after = started.elapsed();
            Ok(this)
        }
        Ok(_) => {
            let _ = this.remove().await;
            Err(ContainerError::Cancelled)
        }
        Err(e) => {
            let _ = this.remove().await;
            Err(e)
        }
    }
}

impl LocalStackContainer {
    /// `http://127.0.0.1:PORT`: LocalStack's gateway.
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// The image it runs, `name:tag`.
    pub fn image(&self) -> String {
        self.image.clone()
    }

    /// LocalStack's version from its health endpoint (e.g. `2026.3.0`).
    pub fn version(&self) -> Option<String> {
        self.health.version.clone()
    }

    /// The health endpoint's answer when it first answered.
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// The container's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// How it is reached (`Host` or `Mapped`, never `Auto`).
    pub fn networking(&self) -> Networking {
        self.networking
    }

    /// From the container's creation to its health endpoint answering.
    pub fn ready_after(&self) -> Duration {
        self.ready_after
    }

    /// Removes the container (killed, with its anonymous volumes). Also done on drop.
    pub async fn remove(mut self) -> Result<(), ContainerError> {
        let Some(container) = self.inner.take() else { return Ok(()) };
        unregister(&self.id);
        let id = self.id.clone();
        container.rm().await.map_err(|source| ContainerError::Remove { id, source })
    }

    /// Leaves the container running (for `--keep`): it is not removed on drop nor by
    /// [`remove_all_started`].
    pub fn keep(mut self) -> KeptContainer {
        unregister(&self.id);
        KEPT.lock().unwrap_or_else(|e| e.into_inner()).insert(self.id.clone());
        if let Some(container) = self.inner.take() {
            // Its drop would remove it; testcontainers has no detach.
            std::mem::forget(container);
        }
        KeptContainer { id: self.id.clone(), image: self.image.clone(), endpoint: self.endpoint.clone() }
    }

    async fn wait_ready(&self, started: Instant, limit: Duration) -> Result<Health, ContainerError> {
        let url = format!("{}/_localstack/health", self.endpoint);
        let mut polls = 0u32;
        while started.elapsed() < limit {
            if let Ok(h) = health(&self.endpoint).await {
                return Ok(h);
            }
            polls += 1;
            if polls.is_multiple_of(5) {
                match self.state().await {
                    ContainerState::Running | ContainerState::Unknown => {}
                    ContainerState::Exited(exit_code) => {
                        return Err(ContainerError::Exited {
                            id: self.id.clone(),
                            image: self.image.clone(),
                            exit_code,
                            log: self.last_output().await,
                        });
                    }
                    // Removed by someone else (`docker rm -f`, a sweep): it will never answer.
                    ContainerState::Gone => {
                        return Err(ContainerError::Gone { id: self.id.clone(), image: self.image.clone() });
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(ContainerError::NotReady {
            id: self.id.clone(),
            image: self.image.clone(),
            url,
            limit,
            log: self.last_output().await,
        })
    }

    /// What the engine says of the container now.
    async fn state(&self) -> ContainerState {
        let Ok(docker) = client().await else { return ContainerState::Unknown };
        match docker.inspect_container(&self.id, None).await {
            Ok(c) => match c.state {
                Some(st) if st.running == Some(false) => ContainerState::Exited(st.exit_code),
                _ => ContainerState::Running,
            },
            Err(BollardError::DockerResponseServerError { status_code: 404, .. }) => ContainerState::Gone,
            Err(_) => ContainerState::Unknown,
        }
    }

    /// The last lines the container wrote (stdout, then stderr).
    async fn last_output(&self) -> String {
        let Some(c) = &self.inner else { return String::new() };
        let mut out = String::new();
        for bytes in [c.stdout_to_vec().await.unwrap_or_default(), c.stderr_to_vec().await.unwrap_or_default()] {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            for line in &lines[lines.len().saturating_sub(20)..] {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }
}

impl Drop for LocalStackContainer {
    fn drop(&mut self) {
        let Some(container) = self.inner.take() else { return };
        unregister(&self.id);
        // testcontainers removes it in its own drop, which needs a tokio runtime; give it one
        // when the handle outlives the program's runtime.
        if tokio::runtime::Handle::try_current().is_ok() {
            drop(container);
        } else {
            let _ = std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    let _guard = rt.enter();
                    drop(container);
                }
            })
            .join();
        }
    }
}

impl std::fmt::Debug for LocalStackContainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalStackContainer")
            .field("id", &self.id)
            .field("image", &self.image)
            .field("endpoint", &self.endpoint)
            .field("networking", &self.networking)
            .field("version", &self.health.version)
            .finish()
    }
}

/// Asks the engine for its version and networks. `NoEngine` when none answers.
pub async fn engine() -> Result<EngineInfo, ContainerError> {
    let host = engine_host();
    let docker = client().await?;
    let version = match docker.version().await {
        Ok(v) => v,
        // An answer with an error status: the engine is there.
        Err(source @ BollardError::DockerResponseServerError { .. }) => {
            let action = if source.to_string().contains("too new") {
                // bollard 0.20.2 sends no version prefix, so an older engine answers at its
                // own version; a bollard that sends one fails here (localstack/setup-docker.sh).
                "say its version: the client's API version is newer than the engine's and was sent \
                 in the path (bollard 0.20.2, pinned by Cargo.lock, does not send it)"
            } else {
                "say its version"
            };
            return Err(ContainerError::Engine { host, action: action.into(), source });
        }
        Err(source) => return Err(ContainerError::NoEngine { host, source: Box::new(source) }),
    };
    let networks = docker
        .list_networks(None)
        .await
        .map_err(|source| ContainerError::Engine { host: host.clone(), action: "list its networks".into(), source })?
        .into_iter()
        .filter_map(|n| n.name)
        .collect();
    Ok(EngineInfo {
        host,
        version: version.version.unwrap_or_default(),
        api_version: version.api_version.unwrap_or_default(),
        networks,
    })
}

/// One container that carries [`LABEL_RUN`].
#[derive(Clone, Debug)]
pub struct Labelled {
    pub id: String,
    /// The PID that started it.
    pub run: Option<u32>,
    pub session: Option<String>,
    pub image: String,
    /// `running`, `exited`, `created`, ...
    pub state: String,
}

/// Containers labelled by this project (every run's, or one PID's), running or not: what a
/// later run or a test finds of an earlier, killed one.
pub async fn list_labelled(run: Option<u32>) -> Result<Vec<Labelled>, ContainerError> {
    let docker = client().await?;
    let filter = match run {
        Some(pid) => format!("{LABEL_RUN}={pid}"),
        None => LABEL_RUN.to_string(),
    };
    list_matching(&docker, &filter).await
}

/// Removes these containers (killed, with anonymous volumes); an id already gone is not
/// an error. Returns the ids removed.
pub async fn remove_ids(ids: &[String]) -> Result<Vec<String>, ContainerError> {
    let docker = client().await?;
    let mut removed = Vec::new();
    for id in ids {
        if remove_one(&docker, id).await? {
            removed.push(id.clone());
        }
        unregister(id);
    }
    Ok(removed)
}

/// Removes every container this process started and has not removed or kept, found by
/// its session label, and cancels every start under way (see [`start`]): while it runs no
/// start creates anything, and it waits for the starts already past their last safe point
/// to remove what they made (or hand it over) before it takes its one look — so a create
/// cannot land after it looked, and it never removes a container from under a start. That
/// wait is bounded by the engine's create-and-start call under way (seconds), not by
/// LocalStack's start-up; [`WAIT_FOR_STARTS`] bounds it should the engine hang.
///
/// For the signal path: on SIGINT/SIGTERM call this, then exit; see the module's
/// documentation. Starts begun after it returned are not affected. Returns the ids removed.
pub async fn remove_all_started() -> Result<Vec<String>, ContainerError> {
    let _removing = Removing::enter();
    let docker = client().await;
    let deadline = tokio::time::Instant::now() + WAIT_FOR_STARTS;
    loop {
        let idle = CHANGED.notified();
        tokio::pin!(idle);
        idle.as_mut().enable();
        if CREATING.load(Ordering::SeqCst) == 0 {
            break;
        }
        if tokio::time::timeout_at(deadline, idle).await.is_err() {
            break;
        }
    }
    let docker = docker?;
    let filter = format!("{LABEL_SESSION}={}", session());
    let kept = KEPT.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut ids: BTreeSet<String> =
        list_matching(&docker, &filter).await?.into_iter().map(|c| c.id).filter(|id| !kept.contains(id)).collect();
    ids.extend(STARTED.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned());
    let mut removed = Vec::new();
    for id in ids {
        if remove_one(&docker, &id).await? {
            removed.push(id.clone());
        }
        unregister(&id);
    }
    Ok(removed)
}

/// How long [`remove_all_started`] waits at most for the starts under way to finish their
/// create-and-start call and remove what they made (they take seconds; this is for an
/// engine that hangs).
pub const WAIT_FOR_STARTS: Duration = Duration::from_secs(60);

/// [`remove_all_started`] from code without a tokio runtime (a panic hook, a plain
/// signal thread): runs it on a runtime of its own, in a thread of its own.
pub fn remove_all_started_blocking() -> Result<Vec<String>, ContainerError> {
    std::thread::spawn(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ContainerError::Io(e.to_string()))?
            .block_on(remove_all_started())
    })
    .join()
    .unwrap_or_else(|_| Err(ContainerError::Io("the removal thread panicked".into())))
}

/// Why LocalStack's health endpoint gave no health (the messages are those of the
/// underlying errors, as before the type).
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    /// The request could not be built from the endpoint.
    #[error("{0}")]
    Request(#[from] http::Error),
    /// No answer within 2 s.
    #[error("no answer within 2 s")]
    NoAnswer,
    /// The connection failed (the error and its causes).
    #[error("{0}")]
    Connection(String),
    /// An answer other than 200.
    #[error("HTTP {0}")]
    Status(http::StatusCode),
    /// No complete body within 5 s.
    #[error("no body within 5 s")]
    NoBody,
    /// The body could not be read.
    #[error("{0}")]
    Body(#[source] hyper::Error),
    /// The body is not JSON.
    #[error("{0}")]
    Json(#[from] serde_json::Error),
}

/// Asks LocalStack's health endpoint once.
pub async fn health(endpoint: &str) -> Result<Health, HealthError> {
    use http_body_util::{BodyExt, Full};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let client: Client<_, Full<bytes::Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let req =
        http::Request::builder().uri(format!("{endpoint}/_localstack/health")).body(Full::new(bytes::Bytes::new()))?;
    let resp = tokio::time::timeout(Duration::from_secs(2), client.request(req))
        .await
        .map_err(|_| HealthError::NoAnswer)?
        .map_err(|e| HealthError::Connection(crate::client::error_chain(&e)))?;
    if resp.status() != 200 {
        return Err(HealthError::Status(resp.status()));
    }
    let body = tokio::time::timeout(Duration::from_secs(5), resp.into_body().collect())
        .await
        .map_err(|_| HealthError::NoBody)?
        .map_err(HealthError::Body)?
        .to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&body)?;
    let text = |k: &str| json.get(k).and_then(|v| v.as_str()).map(str::to_string);
    Ok(Health {
        version: text("version"),
        edition: text("edition"),
        services: json
            .get("services")
            .and_then(|s| s.as_object())
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
            .unwrap_or_default(),
    })
}

// --- internals ---------------------------------------------------------------------

/// Containers this process started and still owns.
static STARTED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
/// Containers kept running on purpose.
static KEPT: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
static NEXT_INSTANCE: AtomicU64 = AtomicU64::new(0);

// How starts and `remove_all_started` meet. A start past its last safe point (`CREATING`)
// is waited for; `REMOVING` and `EPOCH` cancel it. The order makes it race-free: a start
// adds itself to `CREATING` and then looks at `REMOVING`/`EPOCH`; the removal raises
// `REMOVING` and `EPOCH` and then looks at `CREATING` (all `SeqCst`). Either the start sees
// the removal (and creates nothing), or the removal sees the start (and waits for it,
// which, cancelled, removes what it made at its next safe point).

/// Starts past their last safe point: from just before the create until their container
/// is handed to the caller or removed.
static CREATING: AtomicUsize = AtomicUsize::new(0);
/// `remove_all_started` calls running: no start creates anything meanwhile.
static REMOVING: AtomicUsize = AtomicUsize::new(0);
/// Raised by each `remove_all_started`: the starts begun before it are cancelled.
static EPOCH: AtomicU64 = AtomicU64::new(0);
/// Woken on every change of the three above and on every abandoned start.
static CHANGED: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// One start's cancellation: its caller stopped waiting, or a removal began after it did.
struct Cancel {
    epoch: u64,
    abandoned: Arc<AtomicBool>,
}

impl Cancel {
    fn new() -> Cancel {
        Cancel { epoch: EPOCH.load(Ordering::SeqCst), abandoned: Arc::new(AtomicBool::new(false)) }
    }

    fn is_cancelled(&self) -> bool {
        self.abandoned.load(Ordering::SeqCst)
            || REMOVING.load(Ordering::SeqCst) > 0
            || EPOCH.load(Ordering::SeqCst) != self.epoch
    }

    fn check(&self) -> Result<(), ContainerError> {
        if self.is_cancelled() { Err(ContainerError::Cancelled) } else { Ok(()) }
    }

    /// The last safe point: counted first, then checked (see above).
    fn enter_create(&self) -> Result<Creating, ContainerError> {
        CREATING.fetch_add(1, Ordering::SeqCst);
        let creating = Creating;
        self.check()?;
        Ok(creating)
    }

    /// Resolves once the start is cancelled.
    async fn cancelled(&self) {
        loop {
            let changed = CHANGED.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.is_cancelled() {
                return;
            }
            changed.await;
        }
    }
}

/// Counted in `CREATING` while alive.
struct Creating;

impl Drop for Creating {
    fn drop(&mut self) {
        CREATING.fetch_sub(1, Ordering::SeqCst);
        CHANGED.notify_waiters();
    }
}

/// Held by `start`'s future: dropped before the answer came (the caller gave up), it
/// cancels the start.
struct AbandonOnDrop(Option<Arc<AtomicBool>>);

impl AbandonOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        if let Some(abandoned) = self.0.take() {
            abandoned.store(true, Ordering::SeqCst);
            CHANGED.notify_waiters();
        }
    }
}

/// A `remove_all_started` under way (see above).
struct Removing;

impl Removing {
    fn enter() -> Removing {
        REMOVING.fetch_add(1, Ordering::SeqCst);
        EPOCH.fetch_add(1, Ordering::SeqCst);
        CHANGED.notify_waiters();
        Removing
    }
}

impl Drop for Removing {
    fn drop(&mut self) {
        REMOVING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A container's state as the engine reports it.
enum ContainerState {
    Running,
    Exited(Option<i64>),
    Gone,
    /// The engine did not say.
    Unknown,
}

fn register(id: &str) {
    STARTED.lock().unwrap_or_else(|e| e.into_inner()).insert(id.to_string());
}

fn unregister(id: &str) {
    STARTED.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
}

/// `<pid>.<first call, ns since the epoch>`: fixed for the process.
fn session() -> String {
    static SESSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SESSION
        .get_or_init(|| {
            let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
            format!("{}.{nanos}", std::process::id())
        })
        .clone()
}

/// Where testcontainers looks for the engine, for messages.
fn engine_host() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .filter(|h| !h.is_empty())
        .map(|h| format!("DOCKER_HOST={h}"))
        .unwrap_or_else(|| "the default socket (unix:///var/run/docker.sock)".to_string())
}

/// Whether published ports can be bound to 127.0.0.1 (the engine runs on this machine).
fn local_engine(host: &str) -> bool {
    !host.starts_with("DOCKER_HOST=")
        || host.starts_with("DOCKER_HOST=unix://")
        || host.starts_with("DOCKER_HOST=npipe:")
}

/// testcontainers' own client (same `DOCKER_HOST` / properties resolution).
async fn client() -> Result<Docker, ContainerError> {
    docker_client_instance().await.map_err(|e| ContainerError::NoEngine { host: engine_host(), source: Box::new(e) })
}

fn split_image(image: &str) -> (String, String) {
    let slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[slash..].rfind(':') {
        Some(i) => (image[..slash + i].to_string(), image[slash + i + 1..].to_string()),
        None => (image.to_string(), "latest".to_string()),
    }
}

/// The local image must be there (or be built); any other image is pulled by
/// testcontainers when absent.
async fn ensure_image(
    docker: &Docker,
    host: &str,
    image: &str,
    options: &ContainerOptions,
) -> Result<(), ContainerError> {
    match docker.inspect_image(image).await {
        Ok(_) => return Ok(()),
        Err(BollardError::DockerResponseServerError { status_code: 404, .. }) => {}
        Err(source) => {
            return Err(ContainerError::Engine {
                host: host.to_string(),
                action: format!("inspect image {image}"),
                source,
            });
        }
    }
    if !image.starts_with(&format!("{LOCAL_IMAGE_NAME}:")) {
        eprintln!("localstack container: pulling {image} (not present locally)");
        return Ok(());
    }
    if !options.build_image || image != local_image() {
        return Err(ContainerError::ImageMissing { image: image.to_string() });
    }
    eprintln!("localstack container: building {image} (once; about 2-3 min: debootstrap, then pip)");
    build_local_image().await.map(|_| ())
}

/// Builds the local image unless present (the compiled-in `localstack/build-image.sh`, with
/// the Dockerfile and pins beside it, run in the cache directory; its progress lines go to
/// stderr) and returns its name. Starts an engine with `setup-docker.sh` if none answers.
pub async fn build_local_image() -> Result<String, ContainerError> {
    let image = local_image();
    let failed = |message: String| ContainerError::Build { image: image.clone(), message };
    let cache = cache_dir();
    let dir = cache.join("localstack-image");
    std::fs::create_dir_all(&dir).map_err(|e| failed(format!("cannot create {}: {e}", dir.display())))?;
    for (name, text) in [
        ("build-image.sh", BUILD_IMAGE),
        ("Dockerfile", DOCKERFILE),
        ("setup-localstack.sh", SETUP_LOCALSTACK),
        ("setup-docker.sh", SETUP_DOCKER),
    ] {
        write_script(&dir.join(name), text).map_err(|e| failed(e.to_string()))?;
    }
    let out = tokio::process::Command::new("bash")
        .arg(dir.join("build-image.sh"))
        .arg(&cache)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .await
        .map_err(|e| failed(e.to_string()))?;
    if !out.status.success() {
        return Err(failed(format!("exited with {}", out.status)));
    }
    Ok(image)
}

fn write_script(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}

async fn list_matching(docker: &Docker, label_filter: &str) -> Result<Vec<Labelled>, ContainerError> {
    let filters = HashMap::from([("label".to_string(), vec![label_filter.to_string()])]);
    let options = ListContainersOptionsBuilder::new().all(true).filters(&filters).build();
    let list = docker.list_containers(Some(options)).await.map_err(|source| ContainerError::Engine {
        host: engine_host(),
        action: format!("list containers labelled {label_filter}"),
        source,
    })?;
    Ok(list
        .into_iter()
        .filter_map(|c| {
            let labels = c.labels.unwrap_or_default();
            Some(Labelled {
                id: c.id?,
                run: labels.get(LABEL_RUN).and_then(|p| p.parse().ok()),
                session: labels.get(LABEL_SESSION).cloned(),
                image: c.image.unwrap_or_default(),
                state: c.state.map(|s| s.to_string()).unwrap_or_default(),
            })
        })
        .collect())
}

async fn remove_matching(docker: &Docker, label_filter: &str) -> Result<Vec<String>, ContainerError> {
    let mut removed = Vec::new();
    for c in list_matching(docker, label_filter).await? {
        if remove_one(docker, &c.id).await? {
            removed.push(c.id);
        }
    }
    Ok(removed)
}

/// `rm -f -v`; false when it was already gone.
async fn remove_one(docker: &Docker, id: &str) -> Result<bool, ContainerError> {
    let options = RemoveContainerOptionsBuilder::new().force(true).v(true).build();
    match docker.remove_container(id, Some(options)).await {
        Ok(()) => Ok(true),
        Err(BollardError::DockerResponseServerError { status_code: 404, .. }) => Ok(false),
        // 409: removal already in progress (another path got there first).
        Err(BollardError::DockerResponseServerError { status_code: 409, .. }) => Ok(false),
        Err(source) => {
            Err(ContainerError::Engine { host: engine_host(), action: format!("remove container {id}"), source })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn auto_networking_follows_the_engines_networks() {
        // Debian's engine started by setup-docker.sh (--bridge=none): host and none only.
        assert_eq!(choose_networking(Networking::Auto, &names(&["host", "none"])), Networking::Host);
        // A usual engine (laptop, CI runner).
        assert_eq!(choose_networking(Networking::Auto, &names(&["bridge", "host", "none"])), Networking::Mapped);
        // An explicit choice wins.
        assert_eq!(choose_networking(Networking::Host, &names(&["bridge", "host"])), Networking::Host);
        assert_eq!(choose_networking(Networking::Mapped, &names(&["host"])), Networking::Mapped);
        assert_eq!(Networking::parse("host"), Some(Networking::Host));
        assert_eq!(Networking::parse("bridge"), None);
    }

    #[test]
    fn the_token_chooses_the_official_image() {
        let local = ContainerOptions::default();
        assert_eq!(local.chosen_image(), "iam-conformance/localstack-core:2026.3.0");
        let token = ContainerOptions { auth_token: Some("ls-x".into()), ..ContainerOptions::default() };
        assert_eq!(token.chosen_image(), OFFICIAL_IMAGE);
        let chosen = ContainerOptions { image: Some("my/ls:1".into()), ..token };
        assert_eq!(chosen.chosen_image(), "my/ls:1");
    }

    #[test]
    fn image_names_split_at_the_tag() {
        assert_eq!(
            split_image("iam-conformance/localstack-core:2026.3.0"),
            ("iam-conformance/localstack-core".into(), "2026.3.0".into())
        );
        assert_eq!(split_image("localhost:5000/ls"), ("localhost:5000/ls".into(), "latest".into()));
        assert_eq!(split_image("localhost:5000/ls:4"), ("localhost:5000/ls".into(), "4".into()));
    }

    #[test]
    fn published_ports_stay_on_loopback_for_a_local_engine() {
        assert!(local_engine("the default socket (unix:///var/run/docker.sock)"));
        assert!(local_engine("DOCKER_HOST=unix:///run/user/1000/docker.sock"));
        assert!(!local_engine("DOCKER_HOST=tcp://10.1.2.3:2376"));
    }
}
