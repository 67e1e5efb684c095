//! The same image under Docker with runc and with crun (`docker run --runtime crun`, which
//! `cargo xtask setup` configures): each recorded from its first instruction names its runtime,
//! and each profile allows that runtime's own calls after its filter and is proven by starting
//! the container under it with the same runtime, several times, with and without
//! no-new-privileges, while a call the exercise never made is refused.

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use trace_tests::{
    Container, TestImage, cannot_run, describe, docker, docker_ok, ensure_image, run_once,
    start_under_profile, system_tier,
};

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Records `docker run --runtime RUNTIME IMAGE sh /exercise.sh` from its first instruction into
/// `out`; returns the recording.
fn record(trace: &Path, image: &str, runtime: &str, out: &Path) -> Value {
    let name = Container::unique_name(&format!("crun-test-{runtime}"));
    let output = Command::new(trace)
        .args(["--container", &name, "--out"])
        .arg(out)
        .args(["--", "docker", "run", "--name", &name, "--runtime", runtime])
        .args([image, "sh", "/exercise.sh"])
        .output()
        .unwrap();
    let _ = docker(&["rm", "-f", &name]);
    assert!(output.status.success(), "{}", describe(&output));
    read_json(&out.join("recording.json"))
}

#[test]
fn the_same_image_under_runc_and_crun_each_proven() {
    let Some(system) = system_tier("the_same_image_under_runc_and_crun_each_proven") else {
        return;
    };
    let runtimes = docker_ok(&["info", "--format", "{{json .Runtimes}}"]).unwrap();
    if !runtimes.contains("\"crun\"") {
        return cannot_run(
            "the_same_image_under_runc_and_crun_each_proven",
            "Docker has no crun runtime (`cargo xtask setup` adds it to /etc/docker/daemon.json)",
        );
    }
    let image = ensure_image(TestImage::Busybox).unwrap();
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    for (runtime, dir) in ["runc", "crun"].into_iter().zip(&dirs) {
        let recording = record(&system.trace_bin(), &image, runtime, dir.path());
        assert_eq!(recording["startup_seen"], true);
        let started_by = &recording["container"]["runtimes"][0];
        assert_eq!(started_by["engine"], "docker", "{started_by}");
        assert_eq!(started_by["name"], runtime, "{started_by}");
        // Each runtime's own calls after its filter: runc's setuid, crun's setresuid.
        let after = &recording["startup"]["runc_after_filter"]["x86_64"];
        let own = if runtime == "runc" {
            "setuid"
        } else {
            "setresuid"
        };
        assert!(after.get(own).is_some(), "{runtime}: {after}");
        let seccomp = read_json(&dir.path().join("seccomp.json"));
        let comments = trace_tests::rule_comments(&seccomp);
        assert!(
            comments
                .iter()
                .any(|c| c.starts_with(&format!("{runtime}, observed at startup"))),
            "{runtime}: {comments:?}"
        );

        let profile = dir.path().join("seccomp.json");
        start_under_profile(&profile, 3, |extra, start| {
            let mut options = vec!["--runtime", runtime];
            options.extend_from_slice(extra);
            let run = run_once(&image, &options, &["sh", "/exercise.sh"]).unwrap();
            assert!(
                run.status.success()
                    && String::from_utf8_lossy(&run.stdout).contains("exercise-ok"),
                "{runtime}, start {start} with {extra:?}: {}",
                describe(&run)
            );
        });
        let security = format!("seccomp={}", profile.display());
        let denied = run_once(
            &image,
            &["--runtime", runtime, "--security-opt", &security],
            &["mkdir", "/tmp/x"],
        )
        .unwrap();
        assert!(
            !denied.status.success()
                && String::from_utf8_lossy(&denied.stderr).contains("Operation not permitted"),
            "{runtime}: {}",
            describe(&denied)
        );
    }
    // The baselines differ where it matters: crun cannot start the container under the profile
    // recorded with runc (it drops privileges with setresuid, which runc never called).
    let runc_profile = format!("seccomp={}", dirs[0].path().join("seccomp.json").display());
    let crossed = run_once(
        &image,
        &["--runtime", "crun", "--security-opt", &runc_profile],
        &["sh", "/exercise.sh"],
    )
    .unwrap();
    assert!(!crossed.status.success(), "{}", describe(&crossed));
}
