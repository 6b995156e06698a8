//! `stemedb-sim`: see `stemedb_arenas::cli`.

fn main() {
    std::process::exit(stemedb_arenas::cli::main());
}
