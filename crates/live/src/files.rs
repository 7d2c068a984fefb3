//! Reading the files a user names: a profile, its scenario files, a template.

use std::path::Path;

use iamc_core::load::{LoadError, Loaded, ProfileSource};
use iamc_core::template::render::Target;

/// Reads a file the user named as text.
pub fn read_text(path: &Path) -> std::io::Result<String> {
    std::fs::read_to_string(path)
}

/// Loads a profile and its template from disk (or the embedded seed): the core's
/// [`iamc_core::load::load`] over [`read_text`].
pub fn load(source: &ProfileSource, template_override: Option<&Path>, target: &Target) -> Result<Loaded, LoadError> {
    iamc_core::load::load(source, template_override, target, &read_text)
}
