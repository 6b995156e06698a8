//! Failures grouped by signature, so a sweep with many failures of a few kinds reads as a few
//! rows. The grouping is derived from the outcomes whenever it is shown or written, never
//! stored, so merged shards and read-back reports group exactly as the unsharded sweep would.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::outcome::{ArenaOutcome, Verdict};
use crate::report::Report;

/// First seeds listed per group: enough to pick a small one to replay.
pub const GROUP_SEEDS_SHOWN_MAX: usize = 5;

/// A failure message with its run-specific parts masked: a double-quoted string (a subject, a
/// path: data the run drew) becomes `"#"`, a value printed whole in braces or brackets (a query
/// spec, a key, a list) becomes `{#}` or `[#]`, and every other token (a maximal run of ASCII letters
/// and digits) that contains a digit becomes `#`. So "boot 3 lost seq 16 of \"subject-11\"" and
/// "boot 2 lost seq 9 of \"subject:4\"" share "boot # lost seq # of \"#\"", while words, error
/// kinds and punctuation stay. Failures with one signature are taken for one bug.
pub fn signature(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut token = String::new();
    let flush = |token: &mut String, out: &mut String| {
        if token.bytes().any(|b| b.is_ascii_digit()) {
            out.push('#');
        } else {
            out.push_str(token);
        }
        token.clear();
    };
    let mut chars = message.chars();
    while let Some(c) = chars.next() {
        if c.is_ascii_alphanumeric() {
            token.push(c);
            continue;
        }
        flush(&mut token, &mut out);
        if let Some(close) = match c {
            '{' => Some('}'),
            '[' => Some(']'),
            _ => None,
        } {
            // A value printed whole (a struct, a list): its fields are the run's data.
            let mut depth = 1usize;
            for q in chars.by_ref() {
                if q == c {
                    depth += 1;
                } else if q == close {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
            }
            out.push(c);
            out.push('#');
            out.push(close);
        } else if c == '"' {
            // Skip to the closing quote, honouring backslash escapes; an unclosed quote masks
            // the rest.
            let mut escaped = false;
            for q in chars.by_ref() {
                match (escaped, q) {
                    (false, '\\') => escaped = true,
                    (false, '"') => break,
                    _ => escaped = false,
                }
            }
            out.push_str("\"#\"");
        } else {
            out.push(c);
        }
    }
    flush(&mut token, &mut out);
    out
}

/// The failures that share one verdict and one signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureGroup {
    pub verdict: Verdict,
    /// The first line of the messages, masked by [`signature`].
    pub signature: String,
    pub count: u64,
    pub arenas: BTreeSet<String>,
    /// The lowest seeds of the group (at most [`GROUP_SEEDS_SHOWN_MAX`]).
    pub first_seeds: Vec<u64>,
    /// The reproduce line of the group's lowest seed (or its first outcome without one).
    pub reproduce: String,
}

impl Report {
    /// The failing outcomes by (verdict, signature of the message's first line), most frequent
    /// first, ties by verdict and signature.
    pub fn failure_groups(&self) -> Vec<FailureGroup> {
        group_failures(self.failures())
    }
}

/// A group while its outcomes are counted.
struct Gathering {
    group: FailureGroup,
    seeds: BTreeSet<u64>,
    /// The seed whose reproduce line the group carries.
    reproduce_seed: Option<u64>,
}

fn group_failures<'a>(failures: impl Iterator<Item = &'a ArenaOutcome>) -> Vec<FailureGroup> {
    let mut groups: BTreeMap<(Verdict, String), Gathering> = BTreeMap::new();
    for outcome in failures {
        let first_line = outcome.message.lines().next().unwrap_or_default();
        let key = (outcome.verdict, signature(first_line));
        let g = groups.entry(key.clone()).or_insert_with(|| Gathering {
            group: FailureGroup {
                verdict: key.0,
                signature: key.1,
                count: 0,
                arenas: BTreeSet::new(),
                first_seeds: Vec::new(),
                reproduce: outcome.reproduce.clone(),
            },
            seeds: BTreeSet::new(),
            reproduce_seed: outcome.seed,
        });
        g.group.count += 1;
        g.group.arenas.insert(outcome.arena.clone());
        if let Some(seed) = outcome.seed {
            g.seeds.insert(seed);
            if g.reproduce_seed.is_none_or(|s| seed < s) {
                g.reproduce_seed = Some(seed);
                g.group.reproduce = outcome.reproduce.clone();
            }
        }
    }
    let mut out: Vec<FailureGroup> = groups
        .into_values()
        .map(|g| FailureGroup {
            first_seeds: g.seeds.into_iter().take(GROUP_SEEDS_SHOWN_MAX).collect(),
            ..g.group
        })
        .collect();
    // Stable: equal counts keep the map's order (verdict, then signature).
    out.sort_by_key(|g| std::cmp::Reverse(g.count));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failing(arena: &str, seed: u64, verdict: Verdict, message: &str) -> ArenaOutcome {
        ArenaOutcome {
            arena: arena.into(),
            seed: Some(seed),
            verdict,
            message: message.into(),
            reproduce: format!("replay --arena {arena} --seed {seed}"),
        }
    }

    #[test]
    fn signatures_mask_what_varies_between_runs_and_keep_the_words() {
        assert_eq!(
            signature(r#"boot 3 audited two queries under number 16 ("subject-11" and "s\"x")"#),
            r##"boot # audited two queries under number # ("#" and "#")"##
        );
        assert_eq!(signature(r#"unclosed "quote 12"#), r##"unclosed "#""##);
        assert_eq!(
            signature("query Q { s: Some(3), l: [Active, Draft], m: { a: 1 } } (view false)"),
            "query Q {#} (view false)"
        );
        assert_eq!(
            signature("key VoteCount { x: 7 } count 2 [a, [b]] end"),
            "key VoteCount {#} count # [#] end"
        );
        assert_eq!(signature("at 7,102,055us crc 0x5a3f"), "at #,#,# crc #");
        assert_eq!(signature("deadline exceeded"), "deadline exceeded");
        assert_eq!(signature(""), "");
    }

    #[test]
    fn eleven_failures_of_three_kinds_read_as_three_rows() {
        let mut report = Report::new("t", "0", "c", "release");
        for seed in [40, 7, 12, 3, 99] {
            report.add_outcome(failing(
                "chaos",
                seed,
                Verdict::SafetyViolation,
                &format!("boot {} lost record at offset {}", seed % 4, seed * 100),
            ));
        }
        for seed in [5, 8, 13, 21] {
            report.add_outcome(failing(
                "spine",
                seed,
                Verdict::SafetyViolation,
                &format!("ack {seed} never synced\nsecond line {seed}"),
            ));
        }
        report.add_outcome(failing("cortex", 2, Verdict::LivenessFailure, "stuck 3 s"));
        report.add_outcome(failing("chaos", 1, Verdict::LivenessFailure, "stuck 9 s"));
        report.add_outcome(ArenaOutcome {
            arena: "voting".into(),
            seed: Some(4),
            verdict: Verdict::Pass,
            message: String::new(),
            reproduce: String::new(),
        });
        let groups = report.failure_groups();
        assert_eq!(groups.len(), 3, "{groups:#?}");
        assert_eq!(groups.iter().map(|g| g.count).sum::<u64>(), 11);
        let lost = &groups[0];
        assert_eq!(lost.count, 5);
        assert_eq!(lost.signature, "boot # lost record at offset #");
        assert_eq!(lost.first_seeds, vec![3, 7, 12, 40, 99]);
        assert_eq!(lost.reproduce, "replay --arena chaos --seed 3");
        let stuck = groups
            .iter()
            .find(|g| g.verdict == Verdict::LivenessFailure);
        let stuck = stuck.expect("the liveness group");
        assert_eq!(
            stuck.arenas,
            BTreeSet::from(["chaos".to_owned(), "cortex".to_owned()])
        );
        assert_eq!(stuck.first_seeds, vec![1, 2]);
        assert!(groups.iter().all(|g| g.verdict.is_failure()));
    }
}
