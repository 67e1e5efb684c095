//! The Debian python image builds (debootstrap) and runs its exercise against its own HTTP server
//! under Docker's defaults: the precondition of the python tests.

use std::time::Duration;

use trace_tests::{Container, TestImage, ensure_image, system_tier};

#[test]
fn python_image_serves_and_runs_its_exercise() {
    let Some(_system) = system_tier("python_image_serves_and_runs_its_exercise") else {
        return;
    };
    let image = ensure_image(TestImage::Python).unwrap();
    let server = Container::run(&image, "trace-python", &[], &[]).unwrap();
    let mut last = String::new();
    for _ in 0..50 {
        let run = server
            .exec(&["python3", "/srv/exercise.py", "8000"])
            .unwrap();
        last = format!(
            "{}{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        );
        if run.status.success() && last.contains("exercise-ok") {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("the exercise never passed: {last}");
}
