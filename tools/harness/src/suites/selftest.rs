//! `selftest-fail`: one deliberately failing test, to prove that the VM
//! runner propagates a failing exit status and the count line.

use std::io::Write;

use crate::tap::Tap;

pub const TESTS: &[&str] = &["selftest_fail"];

pub fn run<W: Write>(tap: &mut Tap<W>) {
    let expected = 1;
    let got = 0;
    tap.diag("this test fails on purpose");
    if got == expected {
        tap.pass("selftest_fail");
    } else {
        tap.fail(
            "selftest_fail",
            format!("deliberate failure: expected {expected}, got {got}"),
        );
    }
}
