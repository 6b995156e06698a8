//! Arenas by name, and the registry that lists them. A leaf: configs, artifacts and the CLI
//! name an arena through [`ArenaKind`] without depending on what an arena does, and
//! `arena/mod.rs` builds the modules and the lookup from the same list.

/// The registry: `Variant = "name" => module::Type`, with the arena's one-line description as
/// a doc comment (it is the CLI's help). Adding an arena is one line here and its file under
/// `arena/`. Calls `$then!` with the list.
macro_rules! registry {
    ($then:ident) => {
        $then! {
            /// Concurrent writers -> WAL (group commit) -> ingest -> KV.
            Spine = "spine" => spine::Spine,
            /// Queries while ingestion runs, with clock skew.
            Cortex = "cortex" => cortex::Cortex,
            /// Honest and troll voters, repeats, concurrent votes.
            Voting = "voting" => voting::Voting,
            /// All of the above under the full fault model with crashes and restarts.
            Chaos = "chaos" => chaos::Chaos,
            /// Bursty writers on a slow device: ingest falls far behind, segments rotate and go while it lags.
            IngestLag = "ingest-lag" => ingest_lag::IngestLag,
        }
    };
}
pub(crate) use registry;

/// Declares `ArenaKind` from the registry.
macro_rules! declare_kind {
    ($( $(#[doc = $doc:literal])* $variant:ident = $name:literal => $module:ident :: $ty:ident, )*) => {
        /// An arena by name: what configs, artifacts and the CLI carry.
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash,
            serde::Serialize, serde::Deserialize, clap::ValueEnum,
        )]
        pub enum ArenaKind {
            $(
                $(#[doc = $doc])*
                #[serde(rename = $name)]
                #[value(name = $name)]
                $variant,
            )*
        }

        impl ArenaKind {
            pub const ALL: [ArenaKind; [$($name),*].len()] = [$(ArenaKind::$variant),*];

            pub fn name(self) -> &'static str {
                match self {
                    $(ArenaKind::$variant => $name,)*
                }
            }
        }
    };
}

registry!(declare_kind);
