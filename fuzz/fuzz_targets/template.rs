#![no_main]
//! `template`: see `iamc_fuzz::template` (fuzz/src/entry.rs) for what it drives.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| iamc_fuzz::template(data));
