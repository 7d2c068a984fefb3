#![no_main]
//! `policy`: see `iamc_fuzz::policy` (fuzz/src/entry.rs) for what it drives.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| iamc_fuzz::policy(data));
