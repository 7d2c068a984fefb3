//! Source locations. Every template node, policy element and scenario carries one so
//! that errors and findings point at the file, line and column a user must edit.

use std::fmt;
use std::sync::Arc;

/// A position in a source file: 1-based line and column.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Loc {
    /// The file, as the user named it (shared by every location in it).
    pub file: Arc<str>,
    /// The 1-based line.
    pub line: u32,
    /// The 1-based column.
    pub column: u32,
}

impl Loc {
    /// A location in `file`, from the parsers' 1-based positions.
    pub fn new(file: &Arc<str>, line: usize, column: usize) -> Self {
        Loc { file: Arc::clone(file), line: line as u32, column: column as u32 }
    }

    /// A location for values that did not come from a file (built-in defaults).
    pub fn builtin(what: &str) -> Self {
        Loc { file: Arc::from(format!("<{what}>")), line: 0, column: 0 }
    }
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}
