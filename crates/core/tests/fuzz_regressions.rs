//! Inputs the fuzzer found (issue 10, item 8), replayed through the very entry points the
//! fuzz targets drive (`fuzz/src/entry.rs`, included here): each must return, with the
//! value read or a located error, and never panic. A case lives in
//! `tests/fuzz-cases/<target>/` (target: `template`, `policy`, `scenarios`,
//! `gate_request`), minimized with `cargo fuzz tmin`; `fuzz/README.md` says how to run the
//! fuzzers. The seed corpora in `fuzz/seeds/` are replayed too, as a check that the entry
//! points still read the repository's own inputs.

#[path = "../../../fuzz/src/entry.rs"]
#[allow(dead_code)]
mod entry;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

const TARGETS: &[(&str, fn(&[u8]))] = &[
    ("template", entry::template),
    ("policy", entry::policy),
    ("scenarios", entry::scenarios),
    ("gate_request", entry::gate_request),
];

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(read) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<PathBuf> = read.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file()).collect();
    out.sort();
    out
}

/// Feeds every file under `root/<target>/` to its target; returns how many ran.
fn replay(root: &Path) -> usize {
    let mut failed = Vec::new();
    let mut ran = 0;
    for (target, run) in TARGETS {
        for case in files(&root.join(target)) {
            let data = std::fs::read(&case).expect("case readable");
            ran += 1;
            if catch_unwind(AssertUnwindSafe(|| run(&data))).is_err() {
                failed.push(case.display().to_string());
            }
        }
    }
    assert!(failed.is_empty(), "these inputs panic (see the messages above): {failed:#?}");
    ran
}

#[test]
fn every_saved_fuzz_case_returns_without_panicking() {
    let ran = replay(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-cases"));
    eprintln!("{ran} fuzz cases replayed");
}

#[test]
fn the_fuzz_seeds_run_through_every_entry_point() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds");
    let ran = replay(&root);
    assert!(ran >= 4, "the seed corpora are missing from {}", root.display());
    eprintln!("{ran} seeds replayed");
}
