//! The one error type of the scoring layer.
//!
//! Every refusal names the field it is about (a path in the scenario's JSON
//! shape, such as `distribution.buckets[1].percent_ppm`) and the rule that
//! field broke, so a treasurer can fix a scenario or a policy without reading
//! the code. The service maps these to gRPC statuses in one place.

/// Why a scenario, a policy or a scoring input was refused, or why a report
/// could not be produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScoringError {
    /// The bytes are not JSON at all (or not UTF-8). Carries serde_json's
    /// message, which names the line and column.
    #[error("not valid JSON: {message}")]
    Syntax {
        /// What the JSON parser reported, with line and column.
        message: String,
    },
    /// A field breaks a rule of the spec: out of range, unknown enum value,
    /// dangling reference, duplicate id, bad time...
    #[error("{field}: {rule}")]
    Invalid {
        /// Where the offending value is, in the scenario's JSON shape
        /// (for example `contributions[3].kind`).
        field: String,
        /// The rule it breaks, with the offending value where useful.
        rule: String,
    },
    /// A check that must hold on every report (Σ payouts + reserve = income,
    /// 0 ≤ paid ≤ amount...) failed. This is a bug in the scoring core, never
    /// the user's fault; it is returned instead of a wrong report.
    #[error("scoring invariant violated: {rule}")]
    Invariant {
        /// The invariant and the numbers that broke it.
        rule: String,
    },
}

impl ScoringError {
    /// Builds an [`ScoringError::Invalid`] from anything printable as a field
    /// path and a rule.
    pub fn invalid(field: impl std::fmt::Display, rule: impl Into<String>) -> Self {
        ScoringError::Invalid {
            field: field.to_string(),
            rule: rule.into(),
        }
    }

    /// Builds an [`ScoringError::Invariant`].
    pub(crate) fn invariant(rule: impl Into<String>) -> Self {
        ScoringError::Invariant { rule: rule.into() }
    }

    /// The field a refusal names, if it names one.
    pub fn field(&self) -> Option<&str> {
        match self {
            ScoringError::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }
}

/// The scoring layer's result type.
pub type Result<T, E = ScoringError> = std::result::Result<T, E>;
