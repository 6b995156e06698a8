//! The simulator (under construction).
