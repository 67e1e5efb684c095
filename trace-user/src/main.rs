//! The `trace` binary: everything lives in the library (`trace_user::cli`).

fn main() {
    std::process::exit(trace_user::cli::main());
}
