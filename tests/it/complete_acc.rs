//! `examples/complete` — the whole mission's stack — through `terraform test`
//! (its own `.tftest.hcl` assertions: apply, then a plan with nothing to
//! repair, then destroy) against the emulator.

use crate::harness::{repo_root, Emulator, Workspace};

#[test]
fn complete_example_passes_terraform_test() {
    let emulator = Emulator::start();
    let ws = Workspace::new(&emulator);
    let example = repo_root().join("examples/complete");
    for entry in std::fs::read_dir(&example).unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "tf") {
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            ws.write_file(&name, &std::fs::read_to_string(&path).unwrap());
        }
    }
    std::fs::create_dir_all(ws.path().join("tests")).unwrap();
    ws.write_file(
        "tests/complete.tftest.hcl",
        &std::fs::read_to_string(example.join("tests/complete.tftest.hcl")).unwrap(),
    );
    ws.init();
    let endpoint = format!("endpoint_url={}", emulator.endpoint);
    let out = ws.tf(&["test", "-no-color", "-var", &endpoint]);
    assert!(out.success(), "terraform test failed: {out}");
    assert!(out.stdout.contains("2 passed, 0 failed"), "{out}");
}
