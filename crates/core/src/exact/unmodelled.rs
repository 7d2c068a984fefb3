//! Why the exact procedure leaves an action undecided: a part of the policies it does not
//! model, or a budget it would exceed. Each is said to the user as the reason
//! (docs/exact.md).

/// What stopped the procedure for one action.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Unmodelled {
    /// A `Resource` (or a contract scope) is written with a policy variable.
    #[error("the {what} `{text}` holds a policy variable")]
    ResourceVariable {
        /// `Resource` or `scope`.
        what: &'static str,
        /// The pattern as written.
        text: String,
    },
    /// A condition value is written with a policy variable.
    #[error("the value `{value}` of {key} holds a policy variable")]
    ValueVariable {
        /// The key compared.
        key: String,
        /// The value as written.
        value: String,
    },
    /// A key that names the resource is compared other than as a string.
    #[error("`{operator}` on {key} is not a string comparison")]
    LinkNotString {
        /// The operator as written.
        operator: String,
        /// The key.
        key: String,
    },
    /// One key compared by operators of more than one family (string, number, date, IP).
    #[error("{key} is compared both as {families}")]
    MixedFamilies {
        /// The key.
        key: String,
        /// The families, as listed.
        families: String,
    },
    /// A multivalued key whose classes of value are too many to enumerate the sets of.
    #[error("the multivalued key {key} has {classes} classes of value (at most 10)")]
    TooManyClasses {
        /// The key.
        key: String,
        /// How many classes its comparisons make.
        classes: usize,
    },
    /// An instant the date operators would not read back as itself.
    #[error("cannot write the instant {instant} as a date value of {key}")]
    UnwritableDate {
        /// The key.
        key: String,
        /// Seconds since the epoch.
        instant: f64,
    },
    /// A pattern with characters outside printable ASCII (the walk is over ASCII bytes).
    #[error("the pattern `{0}` holds characters outside printable ASCII")]
    NonAscii(String),
    /// A pattern the automaton library refused.
    #[error("cannot {stage} `{regex}`: {message}")]
    Pattern {
        /// `compile` or `start`.
        stage: &'static str,
        /// The regular expression.
        regex: String,
        /// The library's message.
        message: String,
    },
    /// The product walk would need more states than its budget.
    #[error("the product of the patterns' automata exceeds {0} states")]
    WalkBudget(usize),
    /// Only bytes outside printable ASCII could separate the patterns.
    #[error("only characters outside printable ASCII could tell the patterns apart")]
    Alphabet,
    /// More representative requests than the request budget.
    #[error("{size} representative requests exceed the budget of {budget}")]
    RequestBudget {
        /// Requests the space would hold.
        size: usize,
        /// The budget.
        budget: usize,
    },
}
