//! Storage: key codec and KV stores (under construction).
