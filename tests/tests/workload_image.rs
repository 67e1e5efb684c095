//! The workload image builds and its program runs to the end under Docker's defaults (a
//! precondition of the file-recording tests: a failure here is the image's fault, not trace's).

use trace_tests::{TestImage, ensure_image, run_once, system_tier};

#[test]
fn workload_runs_in_its_image() {
    let Some(_system) = system_tier("workload_runs_in_its_image") else {
        return;
    };
    let image = ensure_image(TestImage::Workload).unwrap();
    let run = run_once(&image, &[], &["/usr/local/bin/workload"]).unwrap();
    assert!(
        String::from_utf8_lossy(&run.stdout).contains("workload-ok"),
        "status {}: {}{}",
        run.status,
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let libc = run_once(
        &image,
        &[],
        &["ls", "-l", "/lib", "/usr/lib/x86_64-linux-gnu/libc.so.6"],
    )
    .unwrap();
    let listing = String::from_utf8_lossy(&libc.stdout);
    assert!(listing.contains("/lib -> usr/lib"), "{listing}");
}
