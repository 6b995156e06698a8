//! Signed assertions, votes and evidence (under construction).
