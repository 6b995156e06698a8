//! The workload: a deterministic stream of operations drawn from the seed's workload stream and
//! handed out, in order, to whichever simulated task asks next.

use std::time::Duration;

use rand::Rng;
use stemedb::model::{Agent, Assertion, Hash32, Lifecycle, Record, Weight};
use stemedb_faults::rng::{self, SimRng};

use crate::config::RunConfig;

mod foreign_clock;
mod hostile;
mod topics;

pub use crate::oracle::lens::QuerySpec;
use crate::oracle::spec;
pub use foreign_clock::ForeignClock;
pub use topics::Topic;

const PREDICATES: [&str; 3] = ["color", "owner", "status"];
const OBJECTS: [&str; 6] = ["red", "green", "blue", "alice", "bob", "unknown:value"];
/// Writers sign assertions; voters are separate identities.
const WRITER_AGENTS: u64 = 8;
const HONEST_AGENT_BASE: u64 = 100;
const TROLL_AGENT_BASE: u64 = 1_000;
/// Honest weights are drawn from this range (units); troll weights are sized below them.
const HONEST_WEIGHT_UNITS_MIN: u32 = 50;
const HONEST_WEIGHT_UNITS_MAX: u32 = 100;
/// Timestamps are coarsened to this grain so equal timestamps (recency ties) really happen.
const TIMESTAMP_GRAIN_MS: u64 = 50;
/// Draws, from `rng` (its own stream, so the operations stay as they were), whether a query with
/// a predicate materialises its view first.
fn with_materialize(mut spec: QuerySpec, rng: &mut SimRng) -> QuerySpec {
    spec.materialize_first =
        spec.predicate.is_some() && rng.random_bool(MATERIALIZE_FIRST_PROBABILITY);
    spec
}

/// Share of workload submits whose client gives up after a deadline (`cancel_deadline`).
const CANCEL_PROBABILITY: f64 = 0.05;
/// The longest deadline drawn, in simulated ms: about the slowest syncs of the SSD latency
/// model, so some calls end before their batch is written, some during it, some after.
const CANCEL_DEADLINE_MS_MAX: u64 = 3;

/// Share of queries with a predicate that materialise their view explicitly first.
const MATERIALIZE_FIRST_PROBABILITY: f64 = 0.1;

/// Share of garbled records sent in malleated form instead (`adversary::malleated`).
const MALLEATED_PROBABILITY: f64 = 0.3;

/// Share of workload queries that list their own lifecycles rather than the default.
const LIFECYCLE_LIST_PROBABILITY: f64 = 0.4;
/// A listed query names at most this many lifecycles (drawn with repeats).
const LIFECYCLE_LIST_MAX: usize = 4;

/// One workload operation.
#[derive(Clone, Debug)]
pub enum Op {
    /// A valid, signed record.
    Submit(Record),
    /// Bytes that must be quarantined by ingest, never applied; `signatures` says what the
    /// harness knows of them (a field changed after signing, or nothing).
    Hostile {
        bytes: Vec<u8>,
        signatures: crate::oracle::validity::Signatures,
        /// The one rule the record breaks, when it is a catalogued rule breaker: `submit` must
        /// refuse it with the error that names this rule.
        breach: Option<crate::adversary::Breach>,
    },
    Query(QuerySpec),
    /// A valid record (`outer`) that carries well-formed WAL frames of `inner`, a signed record
    /// never submitted on its own: `inner` must never surface from the log.
    Smuggle {
        outer: Record,
        inner: Vec<u8>,
    },
}

/// The smuggler's guess of the log's growth per operation, for guessing offsets.
const SMUGGLE_BYTES_PER_OP_GUESS: u64 = 256;

pub struct Workload {
    cfg: RunConfig,
    topics_first: bool,
    rng: SimRng,
    issued: u64,
    writers: Vec<Agent>,
    honest: Vec<Agent>,
    trolls: Vec<Agent>,
    /// Assertions issued so far (votes and parents refer to them).
    assertions: Vec<Hash32>,
    pub topics: Vec<Topic>,
    /// Votes still to hand out in the voting arena, after the topics.
    vote_queue: Vec<Record>,
    /// Records at and past the validation bounds.
    adversary: crate::adversary::Adversary,
    /// Traffic shape (bursts and quiet gaps), on its own stream so it never changes the ops.
    traffic_rng: SimRng,
    burst_left: u64,
    /// Virtual time before which no writer takes an operation.
    quiet_until: Duration,
    /// Busy time (see [`Workload::busy`]): when the first and the latest operation were taken,
    /// the gap drawn last (counted once an operation follows it), and the gaps counted.
    first_op_at: Option<Duration>,
    last_op_at: Duration,
    gap_pending: Option<(Duration, Duration)>,
    gaps_total: Duration,
    /// Which records foreign clocks stamp, and how, on its own stream so the operations drawn
    /// are the same with foreign clocks on or off.
    clock_rng: SimRng,
    /// The lifecycles queries ask for, on its own stream so the operations are as before.
    lifecycle_rng: SimRng,
    /// Which garbled records go in malleated instead, on its own stream so the operations are
    /// as before.
    malleate_rng: SimRng,
    /// Which queries materialise their view first, on its own stream likewise.
    materialize_rng: SimRng,
    /// Which submits a client gives up on, and when, on its own stream likewise.
    cancel_rng: SimRng,
}

impl Workload {
    /// The workload of `cfg`; `topics_first` is the voting arena's mix (`arena::Mix::Topics`):
    /// each topic's claims, then every vote, shuffled.
    pub fn new(cfg: &RunConfig, topics_first: bool) -> Self {
        let seed = cfg.seed;
        let derive = |base: u64, n: u32| {
            (0..u64::from(n))
                .map(|i| Agent::derived(seed, base + i))
                .collect()
        };
        Self {
            cfg: cfg.clone(),
            topics_first,
            rng: rng::stream(seed, "workload"),
            issued: 0,
            writers: derive(0, WRITER_AGENTS as u32),
            honest: derive(HONEST_AGENT_BASE, cfg.honest_voters),
            trolls: derive(TROLL_AGENT_BASE, cfg.troll_voters),
            assertions: Vec::new(),
            topics: Vec::new(),
            vote_queue: Vec::new(),
            adversary: crate::adversary::Adversary::new(seed),
            traffic_rng: rng::stream(seed, "traffic"),
            burst_left: 0,
            quiet_until: Duration::ZERO,
            first_op_at: None,
            last_op_at: Duration::ZERO,
            gap_pending: None,
            gaps_total: Duration::ZERO,
            clock_rng: rng::stream(seed, "foreign-clock"),
            lifecycle_rng: rng::stream(seed, "query-lifecycles"),
            malleate_rng: rng::stream(seed, "malleated"),
            materialize_rng: rng::stream(seed, "materialize-first"),
            cancel_rng: rng::stream(seed, "cancel"),
        }
        .with_first_burst()
    }

    fn with_first_burst(mut self) -> Self {
        self.burst_left = self.draw_burst();
        self
    }

    /// Burst sizes are uniform in [1, 2 * mean]; 0 means one endless burst.
    fn draw_burst(&mut self) -> u64 {
        match self.cfg.burst_ops_mean {
            0 => u64::MAX,
            mean => self.traffic_rng.random_range(1..=2 * mean),
        }
    }

    /// Simulated time the workload was busy: from its first operation to its latest, less the
    /// quiet gaps between bursts. Operations over it are what the engine served while asked,
    /// not the arrival rate the gaps set.
    pub fn busy(&self) -> Duration {
        self.first_op_at.map_or(Duration::ZERO, |first| {
            self.last_op_at
                .saturating_sub(first)
                .saturating_sub(self.gaps_total)
        })
    }

    /// How long writers must stay quiet from virtual time `now` (zero: go ahead).
    pub fn quiet_for(&self, now: Duration) -> Duration {
        self.quiet_until.saturating_sub(now)
    }

    /// Counts one operation of the current burst; the burst's last one starts a quiet gap.
    fn count_burst(&mut self, now: Duration) {
        self.burst_left = self.burst_left.saturating_sub(1);
        if self.burst_left == 0 {
            let gap_ms = self.traffic_rng.random_range(0..=2 * self.cfg.gap_ms_mean);
            self.quiet_until = now + Duration::from_millis(gap_ms);
            self.gap_pending = Some((now, self.quiet_until));
            self.burst_left = self.draw_burst();
        }
    }

    /// How long the client waits for the next workload submit before it gives up and drops
    /// the call, wherever the call is (queued, leading a batch, mid-write, mid-sync): `None`
    /// for a client that waits for the answer. A timeout is what every real client has, and
    /// the commit queue's answers to a dropped leader or follower run only when one is dropped.
    pub fn cancel_deadline(&mut self) -> Option<Duration> {
        let r = &mut self.cancel_rng;
        r.random_bool(CANCEL_PROBABILITY)
            .then(|| Duration::from_millis(r.random_range(0..=CANCEL_DEADLINE_MS_MAX)))
    }

    pub fn issued(&self) -> u64 {
        self.issued
    }

    pub fn exhausted(&self) -> bool {
        self.issued >= self.cfg.ops
    }

    /// The next operation, stamped with the workload's view of wall time; `now` is virtual time
    /// (for the traffic shape).
    pub fn next(&mut self, wall_ms: u64, now: Duration) -> Option<Op> {
        if self.exhausted() {
            return None;
        }
        self.issued += 1;
        self.first_op_at.get_or_insert(now);
        self.last_op_at = now;
        if let Some((from, until)) = self.gap_pending.take() {
            // A gap cut short by a crash and restart counts only as far as it went.
            self.gaps_total += until.min(now).saturating_sub(from);
        }
        self.count_burst(now);
        let ts = wall_ms / TIMESTAMP_GRAIN_MS * TIMESTAMP_GRAIN_MS;
        if self.topics_first {
            return Some(self.next_voting(ts));
        }
        // Hostile records keep the engine's date: each breaks one rule, never the clock rule too.
        let engine_ts = ts;
        let ts = self.foreign_stamp(wall_ms, now).unwrap_or(ts);
        if self.rng.random_range(0..100u8) < self.cfg.query_pct {
            return Some(Op::Query(self.query()));
        }
        if self.rng.random_range(0..1000u16) < self.cfg.hostile_per_mille {
            let (bytes, signatures, breach) = self.hostile(engine_ts);
            return Some(Op::Hostile {
                bytes,
                signatures,
                breach,
            });
        }
        // No draw when off, so artifacts from before smugglers replay the same operations.
        if self.cfg.smuggle_per_mille > 0
            && self.rng.random_range(0..1000u16) < self.cfg.smuggle_per_mille
        {
            let target = self.target();
            let inner = self.vote_or_assertion(ts);
            // Where the log roughly is, from the workload alone (so the fault mix never changes
            // the operations): a few hundred bytes per operation so far.
            let hint = self.issued * SMUGGLE_BYTES_PER_OP_GUESS;
            if let Some((outer, inner)) =
                self.adversary
                    .smuggler(&mut self.rng, &inner, target, hint, ts)
            {
                return Some(Op::Smuggle { outer, inner });
            }
        }
        if self.rng.random_range(0..1000u16) < self.cfg.edge_per_mille {
            let target = self.target();
            return Some(Op::Submit(self.adversary.edge_valid(
                &mut self.rng,
                target,
                ts,
            )));
        }
        let roll = self.rng.random_range(0..100u8);
        let has_voters = !self.honest.is_empty() || !self.trolls.is_empty();
        let can_vote = !self.assertions.is_empty() && has_voters;
        if can_vote && roll < 35 {
            return Some(Op::Submit(self.vote(ts)));
        }
        if !self.assertions.is_empty() && (35..38).contains(&roll) {
            return Some(Op::Submit(self.evidence(ts)));
        }
        Some(Op::Submit(self.assertion(ts)))
    }

    /// A foreign clock's date for this operation's record, for a share of them. No draw when
    /// off, so old artifacts replay the same records.
    fn foreign_stamp(&mut self, engine_wall_ms: u64, now: Duration) -> Option<u64> {
        let per_mille = self.cfg.foreign_clock_per_mille;
        if per_mille == 0 || self.clock_rng.random_range(0..1000u16) >= per_mille {
            return None;
        }
        let clock = ForeignClock::ALL[self.clock_rng.random_range(0..ForeignClock::ALL.len())];
        let true_wall_ms = stemedb_faults::SIM_EPOCH_WALL_MS + now.as_millis() as u64;
        Some(clock.stamp(&mut self.clock_rng, engine_wall_ms, true_wall_ms))
    }

    fn subject(&mut self) -> String {
        // A subject with ':' and one with a NUL: key encodings must keep them apart.
        match self.rng.random_range(0..self.cfg.subjects.max(1)) {
            0 => "subject:0".to_owned(),
            1 => "subject\u{0}1".to_owned(),
            n => format!("subject-{n}"),
        }
    }

    fn assertion(&mut self, ts: u64) -> Record {
        let subject = self.subject();
        let predicate = PREDICATES[self.rng.random_range(0..PREDICATES.len())].to_owned();
        let object = OBJECTS[self.rng.random_range(0..OBJECTS.len())].to_owned();
        let confidence = f64::from(self.rng.random_range(0..=100u8)) / 100.0;
        let mut a = Assertion::new(subject, predicate, object, confidence, ts);
        a.lifecycle = match self.rng.random_range(0..10u8) {
            0 => Lifecycle::Draft,
            1 => Lifecycle::Deprecated,
            2 => Lifecycle::Retracted,
            _ => Lifecycle::Active,
        };
        if !self.assertions.is_empty() && self.rng.random_bool(0.2) {
            a.parent_hash = Some(self.assertions[self.rng.random_range(0..self.assertions.len())]);
        }
        let signer = self.rng.random_range(0..self.writers.len());
        self.writers[signer].sign_assertion(&mut a);
        let mut keys = vec![self.writers[signer].public_key()];
        if self.rng.random_bool(0.1) {
            // A co-signed assertion.
            let other = (signer + 1) % self.writers.len();
            self.writers[other].sign_assertion(&mut a);
            keys.push(self.writers[other].public_key());
        }
        // The signing helpers are the client's, and the record must carry what the workload
        // meant it to: a signer that drops or replaces a co-signature sends other records.
        let signed: Vec<_> = a.signatures.iter().map(|s| s.public_key).collect();
        assert_eq!(
            signed, keys,
            "sign_assertion left other signatures than asked"
        );
        self.assertions.push(spec::assertion_id(&a));
        Record::Assertion(a)
    }

    fn vote(&mut self, ts: u64) -> Record {
        // Votes favour recent assertions, so repeats (the same voter, the same assertion) occur.
        let n = self.assertions.len();
        let target = self.assertions[n - 1 - self.rng.random_range(0..n.min(6))];
        let troll =
            !self.trolls.is_empty() && (self.honest.is_empty() || self.rng.random_bool(0.5));
        let (voter, units) = if troll {
            (&self.trolls[self.rng.random_range(0..self.trolls.len())], 1)
        } else {
            let units = self
                .rng
                .random_range(HONEST_WEIGHT_UNITS_MIN..=HONEST_WEIGHT_UNITS_MAX);
            (
                &self.honest[self.rng.random_range(0..self.honest.len())],
                units,
            )
        };
        Record::Vote(voter.vote(target, Weight::from_units(units), ts))
    }

    /// A signed vote or assertion that only ever travels inside another record: its hash is not
    /// an issued assertion (votes must target real ones).
    fn vote_or_assertion(&mut self, ts: u64) -> Record {
        let can_vote = !self.assertions.is_empty() && !self.honest.is_empty();
        if can_vote && self.rng.random_bool(0.5) {
            let target = self.assertions[self.rng.random_range(0..self.assertions.len())];
            let voter = &self.honest[self.rng.random_range(0..self.honest.len())];
            return Record::Vote(voter.vote(
                target,
                Weight::from_units(HONEST_WEIGHT_UNITS_MAX),
                ts,
            ));
        }
        let a = self.assertion(ts);
        self.assertions.pop();
        a
    }

    fn evidence(&mut self, ts: u64) -> Record {
        let target = self.assertions[self.rng.random_range(0..self.assertions.len())];
        let len = self.rng.random_range(1..200usize);
        let content: Vec<u8> = (0..len).map(|_| self.rng.random()).collect();
        let writer = &self.writers[self.rng.random_range(0..self.writers.len())];
        Record::Evidence(writer.evidence(target, content, ts))
    }

    fn query(&mut self) -> QuerySpec {
        let subject = self.subject();
        let predicate = self
            .rng
            .random_bool(0.6)
            .then(|| PREDICATES[self.rng.random_range(0..PREDICATES.len())].to_owned());
        let spec = QuerySpec {
            subject,
            predicate,
            consensus: self.rng.random_bool(0.5),
            max_stale_ms: self
                .rng
                .random_bool(0.3)
                .then(|| self.rng.random_range(0..2_000)),
            lifecycles: self.lifecycles(),
            materialize_first: false,
        };
        with_materialize(spec, &mut self.materialize_rng)
    }

    fn lifecycles(&mut self) -> Vec<Lifecycle> {
        let r = &mut self.lifecycle_rng;
        if !r.random_bool(LIFECYCLE_LIST_PROBABILITY) {
            return QuerySpec::active_only();
        }
        (0..r.random_range(0..=LIFECYCLE_LIST_MAX))
            .map(|_| Lifecycle::ALL[r.random_range(0..Lifecycle::ALL.len())])
            .collect()
    }

    /// An assertion votes and evidence may refer to (an arbitrary hash before the first one).
    fn target(&mut self) -> Hash32 {
        match self.assertions.len() {
            0 => Hash32::of(b"no assertion yet"),
            n => self.assertions[self.rng.random_range(0..n)],
        }
    }
}
