//! Real-system tests of the coverage report (docs/coverage.md): what the programs a container ran
//! can reach, read from its image, against what the exercise made them do.

use std::path::Path;

use serde_json::Value;
use trace_tests::{TestImage, ensure_image, system_tier, trace_run};

/// The calls of nginx's reload path that serving and stopping do not make: the signal
/// `nginx -s reload` sends to the master (`kill`), and the master's pause between starting the
/// new workers and stopping the old ones (`usleep`, which glibc makes as `clock_nanosleep`).
/// Both are reachable through nginx's own imports.
const RELOAD_CALLS: [(&str, &str); 2] = [("kill", "kill"), ("clock_nanosleep", "usleep")];

fn read_json(dir: &Path, name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
}

fn observed(recording: &Value, call: &str) -> bool {
    recording["syscalls"]["x86_64"].get(call).is_some()
}

fn unseen<'a>(coverage: &'a Value, call: &str) -> Option<&'a Value> {
    coverage["unseen"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["syscall"] == call)
}

/// nginx exercised by trace run's crawl, without a reload: coverage lists the reload's calls as
/// reachable from /usr/sbin/nginx and never observed; after the exercise adds `nginx -s reload`,
/// as a step it marks with `trace mark`, they are observed, no longer listed, and first made in
/// that step, while binding the port stays the startup's alone.
#[test]
fn nginx_reload_calls_are_listed_until_the_exercise_reloads() {
    let Some(system) = system_tier("nginx_reload_calls_are_listed_until_the_exercise_reloads")
    else {
        return;
    };
    let image = ensure_image(TestImage::Nginx).unwrap();

    let served = tempfile::tempdir().unwrap();
    let recording = trace_run(&system.trace_bin(), served.path(), &[&image]);
    let coverage = read_json(served.path(), "coverage.json");
    let reach = &recording["reach"]["binaries"];
    assert_eq!(reach["/usr/sbin/nginx"]["linking"], "dynamic", "{reach}");
    assert_eq!(
        reach["/usr/lib/x86_64-linux-gnu/libc.so.6"]["linking"], "libc",
        "{reach}"
    );
    let markdown = std::fs::read_to_string(served.path().join("coverage.md")).unwrap();
    for (call, function) in RELOAD_CALLS {
        assert!(
            !observed(&recording, call),
            "{call} observed without a reload"
        );
        let entry = unseen(&coverage, call).unwrap_or_else(|| panic!("{call}: {coverage}"));
        assert_eq!(entry["profile"], "refused", "{entry}");
        let from_nginx = entry["reached_from"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["path"] == "/usr/sbin/nginx")
            .unwrap_or_else(|| panic!("{call} not from nginx: {entry}"));
        assert!(
            from_nginx["via"]
                .as_array()
                .unwrap()
                .contains(&function.into()),
            "{entry}"
        );
        assert!(
            markdown.contains(&format!("| `{call}` | refused | ")),
            "{markdown}"
        );
    }

    // The reload, as a step the exercise marks: what it does first is attributed to it.
    let reloaded = tempfile::tempdir().unwrap();
    let exercise = format!(
        "{} mark reload && docker exec \"$TRACE_CONTAINER\" nginx -s reload && sleep 1",
        system.trace_bin().display()
    );
    let recording = trace_run(
        &system.trace_bin(),
        reloaded.path(),
        &[&image, "--", "sh", "-c", &exercise],
    );
    let coverage = read_json(reloaded.path(), "coverage.json");
    let steps = &coverage["steps"];
    assert_eq!(steps["names"], serde_json::json!(["reload"]), "{coverage}");
    let first_made = steps["first_made_after_startup"].as_array().unwrap();
    for (call, _) in RELOAD_CALLS {
        assert!(
            observed(&recording, call),
            "{call} not observed with a reload"
        );
        assert!(unseen(&coverage, call).is_none(), "{call} still listed");
        let entry = serde_json::json!({"item": format!("x86_64/{call}"), "step": "reload"});
        assert!(first_made.contains(&entry), "{call}: {steps}");
    }
    // Binding the port is the startup's alone.
    let startup_only = steps["startup_only"].as_array().unwrap();
    for call in ["bind", "listen"] {
        let item = format!("x86_64/{call}");
        assert!(startup_only.contains(&item.into()), "{call}: {steps}");
    }
}
