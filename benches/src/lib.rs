//! Criterion benches live under `benches/`; this library is intentionally empty.
