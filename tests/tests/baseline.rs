//! The runc baseline alone lets a container start: a profile rendered from a recording with no
//! system calls at all still starts busybox `true`, 20 times in a row, with and without
//! no-new-privileges (where runc installs the filter at a different point).

use std::process::Command;

use trace_tests::{
    TestImage, ensure_image, run_once, start_under_profile, system_tier, workspace_root,
};

#[test]
fn runc_baseline_alone_starts_a_container() {
    let Some(system) = system_tier("runc_baseline_alone_starts_a_container") else {
        return;
    };
    let image = ensure_image(TestImage::Busybox).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let fixture =
        std::fs::read_to_string(workspace_root().join("trace-user/tests/data/recording-v1.json"))
            .unwrap();
    let mut recording: serde_json::Value = serde_json::from_str(&fixture).unwrap();
    recording["syscalls"] = serde_json::json!({});
    recording["unknown_syscalls"] = serde_json::json!([]);
    let path = dir.path().join("recording.json");
    std::fs::write(&path, serde_json::to_string_pretty(&recording).unwrap()).unwrap();
    let render = Command::new(system.trace_bin())
        .arg("render")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        render.status.success(),
        "{}",
        String::from_utf8_lossy(&render.stderr)
    );
    let profile = format!("seccomp={}", dir.path().join("seccomp.json").display());

    start_under_profile(&dir.path().join("seccomp.json"), 20, |extra, attempt| {
        let run = run_once(&image, extra, &["true"]).unwrap();
        assert!(
            run.status.success(),
            "start {attempt} with {extra:?} failed: {}",
            String::from_utf8_lossy(&run.stderr)
        );
    });
    // And the profile really is in force: a call outside the baseline is refused.
    let denied = run_once(&image, &["--security-opt", &profile], &["mkdir", "/tmp/x"]).unwrap();
    assert!(
        !denied.status.success(),
        "mkdir ran under a baseline-only profile"
    );
}
