//! A whole `check` of the seed profile: load and render the template, parse the
//! scenarios, evaluate them, run every mutant and the full catalog probe, and render
//! every report. Target: at most 0.25 s per check on the project's 2-core machine.
//! Also: reading templates of 10,000 and 100,000 keys, whose times should stand near
//! 1:10 (linear; the readers' tests check only what is read, not how fast).

use criterion::{Criterion, criterion_group, criterion_main};

use iamc_core::catalog::Catalog;
use iamc_core::load::ProfileSource;
use iamc_core::report::{Report, RunInfo, SubjectInfo, junit, markdown};
use iamc_core::template::render::Target;
use iamc_core::template::{json, yaml};
use iamc_live::files::load;

fn whole_check() -> usize {
    let target = Target::default();
    let loaded = load(&ProfileSource::Embedded, None, &target).expect("seed profile loads");
    let catalog = Catalog::embedded();
    let proof = loaded.prove(&target);
    let report = Report::new(
        proof,
        RunInfo {
            run_id: "bench".into(),
            command: "check".into(),
            generated_at: "now".into(),
            tool_version: "bench".into(),
        },
        SubjectInfo::of(&loaded, &target),
        catalog.source.clone(),
    );
    report.to_json().len() + junit::render(&report).len() + markdown::render(&report).len()
}

fn bench(c: &mut Criterion) {
    // The catalog is parsed once per process, as in the CLI; include that first parse
    // in a separate measurement so the steady state is not flattered.
    let mut group = c.benchmark_group("check");
    group.sample_size(20);
    group.bench_function("seed profile, all mutants, full catalog", |b| b.iter(whole_check));
    group.finish();

    let mut group = c.benchmark_group("template reading");
    group.sample_size(10);
    let file: std::sync::Arc<str> = std::sync::Arc::from("bench");
    for keys in [10_000, 100_000] {
        let text: String = (0..keys).map(|i| format!("k{i}: {i}\n")).collect();
        group.bench_function(format!("yaml, {keys} keys"), |b| b.iter(|| yaml::parse(&text, &file).is_ok()));
        let body: Vec<String> = (0..keys).map(|i| format!("\"k{i}\": {i}")).collect();
        let text = format!("{{{}}}", body.join(",\n"));
        group.bench_function(format!("json, {keys} keys"), |b| b.iter(|| json::parse(&text, &file).is_ok()));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
