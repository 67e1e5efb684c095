//! Attaches trace-ebpf's empty `floor` program to `sys_enter` until stdin closes (or a line is
//! read): the baseline of `cargo xtask bench`. Prints `armed` on stdout once attached. Needs root.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use trace_user::probe::Floor;

fn main() -> ExitCode {
    let floor = match Floor::attach() {
        Ok(floor) => floor,
        Err(e) => {
            eprintln!("floor: error: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("armed");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    drop(floor);
    ExitCode::SUCCESS
}
