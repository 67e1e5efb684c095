use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Output};

use serde_json::{Value, json};

use super::outcome::without_addresses;
use super::report::utc;
use super::strace::inject_args;
use super::*;

fn output(code: i32, stderr: &str) -> Output {
    Output {
        status: ExitStatus::from_raw(code << 8),
        stdout: Vec::new(),
        stderr: stderr.as_bytes().to_vec(),
    }
}

#[test]
fn failures_are_put_down_to_the_runtime_or_the_payload() {
    let runc = output(
        125,
        "docker: Error response from daemon: failed to create shim task: OCI runtime create \
         failed: runc create failed: unable to start container process: unable to apply caps: \
         operation not permitted: unknown.\n\nRun 'docker run --help' for more information\n",
    );
    let alone = Ok(Some(Exit {
        code: 127,
        line: String::new(),
    }));
    assert_eq!(
        Failure::of(&runc, &alone),
        Failure {
            culprit: Culprit::Runtime,
            text: "unable to apply caps: operation not permitted".into()
        }
    );
    let payload = Failure::of(&output(127, ""), &alone);
    assert_eq!(payload.culprit, Culprit::Payload);
    assert_eq!(payload.text, "exit 127");
    // runc's init process reports on the container's stderr once the start has begun.
    let init = output(1, "exec /bin/true: operation not permitted\n");
    let failure = Failure::of(&init, &Ok(None));
    assert_eq!(failure.culprit, Culprit::Runtime);
    assert_eq!(
        failure.text,
        "exit 1: exec /bin/true: operation not permitted"
    );
    assert_eq!(
        Failure::of(&init, &Err("no strace".into())).culprit,
        Culprit::Unattributed
    );
    let daemon = Failure::of(
        &output(
            125,
            "docker: Error response from daemon: cannot start a stopped process: unknown.\n",
        ),
        &alone,
    );
    assert_eq!(daemon.culprit, Culprit::Runtime);
    assert_eq!(
        daemon.text,
        "daemon: cannot start a stopped process: unknown."
    );
}

#[test]
fn addresses_are_masked() {
    assert_eq!(
        without_addresses("futexwakeup addr=0xc5dd38 returned -1"),
        "futexwakeup addr=0x… returned -1"
    );
    assert_eq!(without_addresses("at 0x"), "at 0x");
    assert_eq!(without_addresses("0xff"), "0x…");
}

#[test]
fn signals_count_as_128_plus() {
    let killed = Output {
        status: ExitStatus::from_raw(11),
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    assert_eq!(Exit::of(&killed).describe(), "exit 139 (signal 11)");
}

fn profile() -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            { "names": [], "action": "SCMP_ACT_ALLOW", "comment": "Observed ..." },
            { "names": ["close", "read"], "action": "SCMP_ACT_ALLOW",
              "comment": "runc baseline: ..." },
            { "names": ["statx"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38 },
        ],
    })
}

#[test]
fn leave_one_out_edits_only_the_baseline_rule() {
    let p = profile();
    assert_eq!(baseline_names(&p).unwrap(), ["close", "read"]);
    let w = without(&p, "read").unwrap();
    assert_eq!(baseline_names(&w).unwrap(), ["close"]);
    assert_eq!(w["syscalls"][2], p["syscalls"][2]);
    assert!(without(&p, "statx").is_err());
}

#[test]
fn strace_injects_what_the_filter_refuses() {
    assert_eq!(
        inject_args(&profile()).unwrap(),
        [
            "-e",
            "inject=!?close,?read,?statx:error=1",
            "-e",
            "inject=?statx:error=38"
        ]
    );
}

#[test]
fn utc_formats_dates() {
    assert_eq!(utc(0), "1970-01-01T00:00:00Z");
    assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(utc(1_795_910_399), "2026-11-28T23:59:59Z");
}

#[test]
fn the_baseline_rule_is_found_for_every_runtime() {
    let mut p = profile();
    p["syscalls"][1]["comment"] = json!("crun baseline: called by crun after it installs ...");
    assert_eq!(baseline_names(&p).unwrap(), ["close", "read"]);
    p["syscalls"][0]["comment"] = json!("Observed while tracing x: not a baseline: ...");
    assert_eq!(baseline_names(&p).unwrap(), ["close", "read"]);
    p["syscalls"][1]["comment"] = json!("runc and crun baseline: called by runc and crun ...");
    assert!(baseline_names(&p).is_err());
}

#[test]
fn crun_s_json_log_lines_read_as_their_message() {
    let line = r#"{"msg":"exec container process `/bin/true`: Operation not permitted","level":"error","time":"2026-12-06T01:17:28.359763Z"}"#;
    let exit = Exit::of(&output(1, line));
    assert_eq!(
        exit.line,
        "exec container process `/bin/true`: Operation not permitted"
    );
    assert_eq!(super::outcome::message_of("plain text"), "plain text");
}
