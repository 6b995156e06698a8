//! Per-arena outcomes and how they rank.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How one arena run (or one seed of it) ended. Exit codes are those of DESIGN.md section 7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    SafetyViolation,
    LivenessFailure,
    NonDeterminism,
    HarnessError,
}

impl Verdict {
    /// Every verdict, from least to most severe.
    pub const ALL_BY_SEVERITY: [Verdict; 5] = [
        Verdict::Pass,
        Verdict::HarnessError,
        Verdict::LivenessFailure,
        Verdict::NonDeterminism,
        Verdict::SafetyViolation,
    ];

    /// The process exit code `stemedb-sim` uses for this verdict.
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Pass => 0,
            Verdict::SafetyViolation => 1,
            Verdict::LivenessFailure => 3,
            Verdict::NonDeterminism => 4,
            Verdict::HarnessError => 5,
        }
    }

    /// Rank used to pick one verdict for a whole report. A safety violation is a found bug no
    /// matter what else happened, so it outranks everything; non-determinism undermines every
    /// other result; a liveness failure is a bug; a harness error says nothing about StemeDB.
    pub fn severity(self) -> u8 {
        match self {
            Verdict::Pass => 0,
            Verdict::HarnessError => 1,
            Verdict::LivenessFailure => 2,
            Verdict::NonDeterminism => 3,
            Verdict::SafetyViolation => 4,
        }
    }

    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::SafetyViolation => "safety_violation",
            Verdict::LivenessFailure => "liveness_failure",
            Verdict::NonDeterminism => "non_determinism",
            Verdict::HarnessError => "harness_error",
        }
    }

    /// True for anything but [`Verdict::Pass`].
    pub fn is_failure(self) -> bool {
        self != Verdict::Pass
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of one arena (optionally one seed of it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArenaOutcome {
    pub arena: String,
    /// The seed this outcome is for, when the caller reports per seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    pub verdict: Verdict,
    /// What happened, in one or a few lines (empty is fine for a pass).
    pub message: String,
    /// The one command line that reproduces this run: seed, arena, every option that shaped it,
    /// commit and build profile.
    pub reproduce: String,
}
