//! One file per suite. A suite exposes `TESTS` (its TAP lines, in order, so
//! the plan can be printed up front) and an async `run`.

pub mod churn;
pub mod common;
pub mod foundation;
pub mod fuzz;
pub mod fuzz_faults;
pub mod fuzz_races;
pub mod hostile;
pub mod parity;
pub mod parity_review;
pub mod selftest;
pub mod transcript;
pub mod vrrp;
