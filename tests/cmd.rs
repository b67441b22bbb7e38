//! Command-line cases: each `tests/cmd/<case>.toml` (with its `<case>.in/` folder, its expected
//! `<case>.stdout` and `<case>.stderr`) is one run of the binary. Adding a case is adding files.
//! Regenerate the expected output with `TRYCMD=overwrite cargo test -p imagegate --test cmd`.

#[test]
fn cli_cases() {
    trycmd::TestCases::new()
        .env("NO_COLOR", "1")
        .env("IMAGEGATE_TODAY", "2026-11-23")
        .case("tests/cmd/*.toml");
}
