//! The helm the engine's real-helm tests run: `IMAGEGATE_TEST_HELM`, else the Helm 3 of
//! `cargo xtask helm`. A missing helm fails the test, never skips it.
#![allow(dead_code)]

use imagegate_render::Helm;
use std::path::{Path, PathBuf};

/// The path of the helm under test.
pub fn helm_path() -> PathBuf {
    let p = std::env::var_os("IMAGEGATE_TEST_HELM")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/tools/helm-3.17.3/helm")
        });
    assert!(
        p.is_file(),
        "no helm at {}: set IMAGEGATE_TEST_HELM or run `cargo xtask helm`",
        p.display()
    );
    p
}

/// The helm under test, located and its version read.
pub fn helm() -> Helm {
    Helm::at(&helm_path()).expect("helm works")
}
