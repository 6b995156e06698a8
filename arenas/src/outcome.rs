//! How a seed's run ends, and the process exit codes of DESIGN.md section 7.

use stemedb_reports::Verdict;

/// Exit codes of `stemedb-sim`.
pub const EXIT_PASS: i32 = 0;
pub const EXIT_SAFETY: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_LIVENESS: i32 = 3;
pub const EXIT_NONDETERMINISM: i32 = 4;
pub const EXIT_HARNESS: i32 = 5;
/// Every run passed, but a fault-handling path the runs were required to reach was never reached
/// (`--require-probes`): the test no longer tests it.
pub const EXIT_COVERAGE: i32 = 6;

/// Why a run failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// A safety invariant broke: the engine did something it must never do.
    Safety(String),
    /// The system stopped making progress after faults stopped.
    Liveness(String),
    /// The harness itself failed (a bug here, not in the engine).
    Harness(String),
}

impl Failure {
    pub fn verdict(&self) -> Verdict {
        match self {
            Failure::Safety(_) => Verdict::SafetyViolation,
            Failure::Liveness(_) => Verdict::LivenessFailure,
            Failure::Harness(_) => Verdict::HarnessError,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Failure::Safety(m) | Failure::Liveness(m) | Failure::Harness(m) => m,
        }
    }
}

/// Exit code for a verdict.
pub fn exit_code(verdict: Verdict) -> i32 {
    match verdict {
        Verdict::Pass => EXIT_PASS,
        Verdict::SafetyViolation => EXIT_SAFETY,
        Verdict::LivenessFailure => EXIT_LIVENESS,
        Verdict::NonDeterminism => EXIT_NONDETERMINISM,
        Verdict::HarnessError => EXIT_HARNESS,
    }
}
