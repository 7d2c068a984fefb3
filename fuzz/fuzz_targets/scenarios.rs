#![no_main]
//! `scenarios`: see `iamc_fuzz::scenarios` (fuzz/src/entry.rs) for what it drives.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| iamc_fuzz::scenarios(data));
