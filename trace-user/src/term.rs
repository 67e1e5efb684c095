//! Writing to the terminal without ever failing. trace's messages go to stderr and its reports to
//! stdout, and either may be closed under it (`trace ... 2>&1 | head`): a line that cannot be shown
//! is dropped, so trace still writes its outputs, removes its containers and exits with its own
//! status. (`println!` and `eprintln!` panic on a closed stream.)

/// Like `eprintln!`, ignoring a closed or broken stderr.
macro_rules! say {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let _ = ::std::writeln!(::std::io::stderr().lock(), $($arg)*);
    }};
}

/// Like `print!` to stdout, ignoring a closed or broken stdout.
macro_rules! show {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let mut out = ::std::io::stdout().lock();
        let _ = ::std::write!(out, $($arg)*);
        let _ = out.flush();
    }};
}

/// Like `println!`, ignoring a closed or broken stdout.
macro_rules! showln {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let _ = ::std::writeln!(::std::io::stdout().lock(), $($arg)*);
    }};
}
