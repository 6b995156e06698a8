//! The write-ahead log (under construction).
