//! Query audit records as the design states them.

use super::*;

// ---- audit records (query/audit.rs): [magic "SDBA"][version 1][wall_ms:u64][lens tag:u8]
// [lifecycle bits:u8][max_stale_ms: opt u64][used_view:u8][rule: opt tag][candidates:u64]
// [winner: opt 32 bytes][subject: str][predicate: opt str][error: opt str]; integers
// big-endian, a str a u32 length and UTF-8, an opt a 0 or a 1 and the value; lens tags
// recency 1, consensus 2; rule tags no-candidates 1, only-candidate 2, weight 3, recency 4,
// hash tie-break 5; lifecycle bit 1 << (signing tag - 1) ----

/// One stored audit record as the design lays it out; the filter as its set of members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Audit {
    pub wall_ms: u64,
    pub lens: LensKind,
    /// The filter's members, in `Lifecycle::ALL` order.
    pub lifecycles: Vec<Lifecycle>,
    pub max_stale_ms: Option<u64>,
    pub used_view: bool,
    pub rule: Option<Rule>,
    pub candidates: u64,
    pub winner: Option<Hash32>,
    pub subject: String,
    pub predicate: Option<String>,
    pub error: Option<String>,
}

struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let (head, rest) = self
            .0
            .split_first_chunk::<N>()
            .ok_or("the record ends inside a field")?;
        self.0 = rest;
        Ok(*head)
    }

    fn byte(&mut self) -> Result<u8, String> {
        self.take::<1>().map(|[b]| b)
    }

    fn u64(&mut self) -> Result<u64, String> {
        self.take::<8>().map(u64::from_be_bytes)
    }

    fn str(&mut self) -> Result<String, String> {
        let len = u32::from_be_bytes(self.take::<4>()?) as usize;
        let (text, rest) = self
            .0
            .split_at_checked(len)
            .ok_or("a string runs past the record")?;
        self.0 = rest;
        String::from_utf8(text.to_vec()).map_err(|_| "a string is not UTF-8".to_owned())
    }

    fn opt<T>(
        &mut self,
        get: impl FnOnce(&mut Self) -> Result<T, String>,
    ) -> Result<Option<T>, String> {
        match self.byte()? {
            0 => Ok(None),
            1 => get(self).map(Some),
            b => Err(format!("presence byte {b}")),
        }
    }
}

pub(super) fn lens_of(tag: u8) -> Result<LensKind, String> {
    match tag {
        1 => Ok(LensKind::Recency),
        2 => Ok(LensKind::VoteAwareConsensus),
        _ => Err(format!("lens tag {tag}")),
    }
}

pub(super) fn rule_of(tag: u8) -> Result<Rule, String> {
    match tag {
        1 => Ok(Rule::NoCandidates),
        2 => Ok(Rule::OnlyCandidate),
        3 => Ok(Rule::Weight),
        4 => Ok(Rule::Recency),
        5 => Ok(Rule::HashTieBreak),
        _ => Err(format!("rule tag {tag}")),
    }
}

/// The audit record `bytes` hold, or why they are not one.
pub fn audit(bytes: &[u8]) -> Result<Audit, String> {
    let mut f = Fields(bytes);
    if f.take::<4>()? != *b"SDBA" || f.byte()? != 1 {
        return Err("not an audit record of format 1".to_owned());
    }
    let wall_ms = f.u64()?;
    let lens = lens_of(f.byte()?)?;
    let bits = f.byte()?;
    let lifecycles: Vec<Lifecycle> = Lifecycle::ALL
        .into_iter()
        .filter(|&l| bits & (1 << (lifecycle_tag(l) - 1)) != 0)
        .collect();
    if bits >> Lifecycle::ALL.len() != 0 {
        return Err(format!("lifecycle bits {bits:#010b} name no lifecycle"));
    }
    let max_stale_ms = f.opt(Fields::u64)?;
    let used_view = match f.byte()? {
        0 => false,
        1 => true,
        b => return Err(format!("view flag {b}")),
    };
    let rule = f.opt(|f| rule_of(f.byte()?))?;
    let candidates = f.u64()?;
    let winner = f.opt(|f| f.take::<32>().map(Hash32))?;
    let subject = f.str()?;
    let predicate = f.opt(Fields::str)?;
    let error = f.opt(Fields::str)?;
    if !f.0.is_empty() {
        return Err(format!("{} bytes after the last field", f.0.len()));
    }
    Ok(Audit {
        wall_ms,
        lens,
        lifecycles,
        max_stale_ms,
        used_view,
        rule,
        candidates,
        winner,
        subject,
        predicate,
        error,
    })
}
