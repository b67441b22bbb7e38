//! The generated documentation is current: the configuration JSON schema, the rule pages, the
//! CLI reference and the man pages in docs/ are exactly what the code generates now.
//! (`cargo xtask docs` regenerates them.)

use std::path::Path;
use std::process::Command;

#[test]
fn generated_docs_and_the_config_schema_are_current() {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
    let out = Command::new(env!("CARGO_BIN_EXE_imagegate"))
        .arg("__generate-docs")
        .arg(&docs)
        .arg("--check")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\nrun `cargo xtask docs` and commit the result",
        String::from_utf8_lossy(&out.stderr)
    );
}
