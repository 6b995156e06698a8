//! Reports: plain data, no dependency on the engine.
