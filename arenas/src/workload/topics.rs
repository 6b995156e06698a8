//! The voting arena's mix: contested topics, each topic's two claims first, then every vote,
//! shuffled.

use super::*;

/// A contested topic of the voting arena: the honest claim and the trolls' claim.
#[derive(Clone, Debug)]
pub struct Topic {
    pub subject: String,
    pub predicate: String,
    pub honest: Hash32,
    pub troll: Hash32,
}

impl Workload {
    /// The voting arena: first each topic's two claims, then the votes, shuffled.
    pub(super) fn next_voting(&mut self, ts: u64) -> Op {
        if self.topics.len() < self.cfg.subjects as usize {
            return Op::Submit(self.topic_claim(ts));
        }
        if self.vote_queue.is_empty() {
            self.fill_vote_queue(ts);
        }
        match self.vote_queue.pop() {
            Some(vote) => Op::Submit(vote),
            None => Op::Query(with_materialize(
                QuerySpec {
                    subject: self.topics[self.rng.random_range(0..self.topics.len())]
                        .subject
                        .clone(),
                    predicate: Some(PREDICATES[0].to_owned()),
                    consensus: true,
                    max_stale_ms: None,
                    lifecycles: QuerySpec::active_only(),
                    materialize_first: false,
                },
                &mut self.materialize_rng,
            )),
        }
    }

    /// One record of a topic: the honest claim first, then the troll claim (with a later
    /// timestamp, so recency alone would pick the trolls).
    pub(super) fn topic_claim(&mut self, ts: u64) -> Record {
        let index = self.topics.len();
        let subject = format!("topic-{index}");
        let writer = &self.writers[index % self.writers.len()];
        let mut honest = Assertion::new(
            subject.clone(),
            PREDICATES[0].to_owned(),
            "true".to_owned(),
            0.9,
            ts,
        );
        writer.sign_assertion(&mut honest);
        let mut troll = Assertion::new(
            subject.clone(),
            PREDICATES[0].to_owned(),
            "false".to_owned(),
            0.9,
            ts + 1_000,
        );
        writer.sign_assertion(&mut troll);
        self.topics.push(Topic {
            subject,
            predicate: PREDICATES[0].to_owned(),
            honest: spec::assertion_id(&honest),
            troll: spec::assertion_id(&troll),
        });
        // Hand out the honest claim now and the troll claim at the front of the votes.
        self.vote_queue.push(Record::Assertion(troll));
        Record::Assertion(honest)
    }

    /// Every honest voter votes once (some twice) for the honest claim; every troll votes for
    /// the troll claim with a weight sized so the trolls' total stays below the honest minimum,
    /// and repeats itself many times (repeats must not count).
    pub(super) fn fill_vote_queue(&mut self, ts: u64) {
        let honest_min_units = HONEST_WEIGHT_UNITS_MIN * self.honest.len() as u32;
        let troll_units =
            (honest_min_units.saturating_sub(1) / (self.trolls.len().max(1) as u32)).max(1);
        let mut votes = Vec::new();
        for topic in self.topics.clone() {
            for voter in &self.honest {
                let units = self
                    .rng
                    .random_range(HONEST_WEIGHT_UNITS_MIN..=HONEST_WEIGHT_UNITS_MAX);
                votes.push(Record::Vote(voter.vote(
                    topic.honest,
                    Weight::from_units(units),
                    ts,
                )));
                if self.rng.random_bool(0.2) {
                    votes.push(Record::Vote(voter.vote(
                        topic.honest,
                        Weight::from_units(units + 1),
                        ts + 1,
                    )));
                }
            }
            if honest_min_units > 0 {
                for voter in &self.trolls {
                    for repeat in 0..self.rng.random_range(1..=4u64) {
                        votes.push(Record::Vote(voter.vote(
                            topic.troll,
                            Weight::from_units(troll_units),
                            ts + repeat,
                        )));
                    }
                }
            }
        }
        // Shuffle so honest and troll votes arrive interleaved and concurrently.
        for i in (1..votes.len()).rev() {
            votes.swap(i, self.rng.random_range(0..=i));
        }
        self.vote_queue.extend(votes);
    }
}
