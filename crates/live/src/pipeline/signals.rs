//! Ctrl-C and SIGTERM, listened for from the moment a command starts: a signal that
//! arrives while an emulator is being started is not lost (docs/architecture.md).

use tokio::signal::unix::{Signal, SignalKind, signal};

/// The run's signal listeners, installed once, before anything is spawned.
pub struct Signals {
    interrupt: Option<Signal>,
    terminate: Option<Signal>,
}

impl Signals {
    /// Installs the listeners (inside a tokio runtime). A listener that cannot be
    /// installed is left out; the other still works.
    pub fn install() -> Signals {
        Signals { interrupt: signal(SignalKind::interrupt()).ok(), terminate: signal(SignalKind::terminate()).ok() }
    }

    /// Waits for the next Ctrl-C or SIGTERM.
    pub async fn next(&mut self) {
        async fn wait(s: &mut Option<Signal>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        tokio::select! {
            _ = wait(&mut self.interrupt) => {}
            _ = wait(&mut self.terminate) => {}
        }
    }
}
