//! The harness's cache directory: the emulators' venvs, the reaper's pid files and the
//! list of kept containers live under it. Its own module so the emulators and the reaper
//! share it without importing each other.

use std::path::PathBuf;

/// Where the harness's cache lives (venvs, pid files, kept containers):
/// `$IAM_CONFORMANCE_CACHE`, else `$XDG_CACHE_HOME/iam-conformance`, else
/// `~/.cache/iam-conformance`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("IAM_CONFORMANCE_CACHE") {
        return PathBuf::from(dir);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into())).join(".cache"));
    base.join("iam-conformance")
}
