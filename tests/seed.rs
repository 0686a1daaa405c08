//! The README's two example programs, exactly as written, run against each other.

use ipc2_test_support as support;

use std::process::Command;

// The README's host starts "./target/debug/worker_test", so it runs in a scratch directory that
// has the worker at that path.
#[test]
fn readme_programs_run_as_written_and_print_13() {
    let scratch = tempfile::tempdir().unwrap();
    let debug = scratch.path().join("target/debug");
    std::fs::create_dir_all(&debug).unwrap();
    std::os::unix::fs::symlink(support::helper("worker_test"), debug.join("worker_test")).unwrap();

    let output = Command::new(support::helper("seed_host"))
        .current_dir(scratch.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "host failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stdout.trim(), "Result -> 13");
}
