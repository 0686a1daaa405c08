//! Compile tests of `#[ipc2::service]` and `ipc2::combine!`: every accepted form compiles, and
//! every misuse fails with the error pinned in its `.stderr` snapshot (regenerate with
//! `TRYBUILD=overwrite`).

#[test]
fn service_macro_ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("ui-tests/pass/*.rs");
    cases.compile_fail("ui-tests/fail/*.rs");
}
