//! What validation plus translation plus serialization costs per message, on the hot path of every
//! send: for the request behind every conformance fixture (`tests/fixtures/{cloud,on_premises}/`
//! and `tests/fixtures_cloud_docs/`, the same requests `tests/conformance.rs` checks), each for the
//! flavor its fixture names. Run with `cargo bench --bench translate`; the target is 3 µs each.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use whatsapp_grpc::{Flavor, translate};

#[allow(dead_code, unused_imports, clippy::all)]
#[path = "../tests/common/mod.rs"]
mod common;

use common::cases::{Case, cloud_cases, on_premises_cases};
use common::doc_cases::doc_cases;

/// Every fixture's request: its folder and name, its flavor, and the request.
fn every_fixture() -> Vec<(String, Flavor, Case)> {
    let named = |dir: &str, flavor, cases: Vec<(&'static str, Case)>| {
        cases
            .into_iter()
            .map(move |(name, case)| (format!("{dir}/{name}"), flavor, case))
            .collect::<Vec<_>>()
    };
    let mut all = named("on_premises", Flavor::OnPremises, on_premises_cases());
    all.extend(named("cloud", Flavor::Cloud, cloud_cases()));
    all.extend(
        doc_cases()
            .into_iter()
            .map(|(name, flavor, case)| (format!("cloud_docs/{name}"), flavor, case)),
    );
    all
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("validate+translate+serialize");
    // Many small cases: short runs each (the figures are stable to a few percent).
    group
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20);
    let mut buffer = Vec::with_capacity(1024);
    for (name, flavor, case) in every_fixture() {
        match case {
            Case::Send(request) => group.bench_function(&name, |b| {
                b.iter(|| {
                    buffer.clear();
                    let body = translate::send_message(flavor, black_box(&request))
                        .expect("a fixture's request is valid");
                    serde_json::to_writer(&mut buffer, &body).expect("serializes");
                    black_box(buffer.len())
                })
            }),
            Case::MarkRead(request) => group.bench_function(&name, |b| {
                b.iter(|| {
                    buffer.clear();
                    let body = translate::mark_message_read(flavor, black_box(&request))
                        .expect("a fixture's request is valid");
                    serde_json::to_writer(&mut buffer, &body).expect("serializes");
                    black_box(buffer.len())
                })
            }),
        };
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
