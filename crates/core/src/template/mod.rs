//! CloudFormation templates: reading (YAML or JSON, every node located), rendering for
//! a target account, and extracting the IAM model (roles, policies, instance profiles).

pub mod json;
pub mod model;
pub mod render;
pub mod yaml;

use std::sync::Arc;

use crate::loc::Loc;
/// The located tree under its former path, `template::node` (it lives in [`crate::tree`]).
pub use crate::tree as node;
pub use crate::tree::{Entry, Node, Value};

/// Largest template file read, in bytes: CloudFormation takes at most 1 MB from S3 (51,200 bytes in a request body), "Understand CloudFormation quotas", read as 1 MiB so that no template it takes is refused.
pub const MAX_TEMPLATE_BYTES: usize = 1 << 20;

/// Deepest nesting the readers and the renderer accept (values inside more collections are refused): CloudFormation documents no limit, templates are shallow (the seed nests 9 levels), and 128 keeps every recursive walk far from the end of the stack.
pub const MAX_DEPTH: usize = 128;

/// What went wrong reading or rendering a template. Every variant names a location.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The text is not YAML or JSON.
    #[error("{loc}: {message}")]
    Syntax {
        /// Where the reader stopped.
        loc: Loc,
        /// What it expected.
        message: String,
    },
    /// The document is not a template the tool can render (a bad intrinsic, a missing
    /// reference, a resource without its required properties).
    #[error("{loc}: {message}")]
    Structure {
        /// The node to fix.
        loc: Loc,
        /// What is wrong and what was expected.
        message: String,
    },
}

impl TemplateError {
    /// A structure error at `loc`: the shape checks of templates, policies and rendering use it.
    pub fn structure(loc: &Loc, message: impl Into<String>) -> Self {
        TemplateError::Structure { loc: loc.clone(), message: message.into() }
    }

    /// Where the error is.
    pub fn loc(&self) -> &Loc {
        match self {
            TemplateError::Syntax { loc, .. } | TemplateError::Structure { loc, .. } => loc,
        }
    }
}

/// A template as read from its file, before rendering.
#[derive(Clone, Debug)]
pub struct Template {
    /// The file, as locations name it.
    pub file: Arc<str>,
    /// The document's root, every node located.
    pub root: Node,
}

impl Template {
    /// Parses template text. JSON is recognised by the file extension or a leading `{`;
    /// everything else is read as YAML. The file name is only used in locations.
    pub fn parse(text: &str, file: &str) -> Result<Template, TemplateError> {
        let file: Arc<str> = Arc::from(file);
        let is_json = file.ends_with(".json") || text.trim_start().starts_with('{');
        let root = if is_json { json::parse(text, &file)? } else { yaml::parse(text, &file)? };
        if root.as_map().is_none() {
            return Err(TemplateError::structure(&root.loc, format!("a template is a mapping, found {}", root.kind())));
        }
        match root.get("Resources") {
            Some(r) if r.as_map().is_some_and(|m| !m.is_empty()) => {}
            Some(r) => {
                return Err(TemplateError::structure(
                    &r.loc,
                    "`Resources` must be a non-empty mapping of logical ids to resources",
                ));
            }
            None => {
                return Err(TemplateError::structure(&root.loc, "the template has no `Resources` section"));
            }
        }
        Ok(Template { file, root })
    }
}
