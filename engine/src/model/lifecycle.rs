//! The lifecycle state of an assertion.

/// Where an assertion stands. Queries filter by lifecycle; a newer assertion usually points at
/// the one it supersedes through `parent_hash` instead of mutating it (records are immutable).
///
/// Four states are enough to express the workflows the lenses need: a claim can be drafted,
/// published, superseded without being wrong (deprecated), or withdrawn as wrong (retracted).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    rkyv::Archive,
    rkyv::Serialize,
    rkyv::Deserialize,
)]
pub enum Lifecycle {
    /// Proposed, not yet meant to be served as a fact.
    Draft,
    /// Published: the normal state.
    Active,
    /// Superseded but not wrong; kept for history.
    Deprecated,
    /// Withdrawn as wrong.
    Retracted,
}

impl Lifecycle {
    /// Every lifecycle, in tag order.
    pub const ALL: [Lifecycle; 4] = [
        Lifecycle::Draft,
        Lifecycle::Active,
        Lifecycle::Deprecated,
        Lifecycle::Retracted,
    ];

    /// The stable tag used in the canonical signing message. Written out explicitly (not the
    /// in-memory discriminant) so that reordering the enum can never change a signed message.
    pub const fn signing_tag(self) -> u8 {
        match self {
            Lifecycle::Draft => 1,
            Lifecycle::Active => 2,
            Lifecycle::Deprecated => 3,
            Lifecycle::Retracted => 4,
        }
    }

    /// The lifecycle whose [`Lifecycle::signing_tag`] is `tag`, if any.
    pub fn from_signing_tag(tag: u8) -> Option<Lifecycle> {
        Lifecycle::ALL.into_iter().find(|l| l.signing_tag() == tag)
    }
}
