#![no_main]
//! `gate_request`: see `iamc_fuzz::gate_request` (fuzz/src/entry.rs) for what it drives.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| iamc_fuzz::gate_request(data));
