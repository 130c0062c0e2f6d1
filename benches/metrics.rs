//! What recording one call's metrics costs on the hot path: the RPC layer's start and finish, and
//! one answered upstream request of a sender. Run with `cargo bench --bench metrics`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use whatsapp_grpc::metrics::Metrics;
use whatsapp_grpc::metrics::labels::{GrpcCode, MessageType, Method};
use whatsapp_grpc::upstream::{Observer, RequestOutcome};

fn record(c: &mut Criterion) {
    let metrics = Metrics::new();
    let sender = metrics.sender("default");
    c.bench_function("one call recorded (layer + upstream answer)", |b| {
        b.iter(|| {
            metrics.call_started(black_box(Method::SendMessage));
            sender.request_finished(
                black_box(Duration::from_millis(120)),
                RequestOutcome::Answered {
                    http_status: black_box(200),
                    api_code: None,
                },
            );
            metrics.call_finished(
                Method::SendMessage,
                black_box(MessageType::Text),
                GrpcCode(tonic::Code::Ok),
                black_box(Duration::from_millis(125)),
            );
        })
    });
    let disabled = Metrics::disabled();
    let disabled_sender = disabled.sender("default");
    c.bench_function("one call with metrics disabled", |b| {
        b.iter(|| {
            disabled.call_started(black_box(Method::SendMessage));
            disabled_sender.request_finished(
                black_box(Duration::from_millis(120)),
                RequestOutcome::Answered {
                    http_status: black_box(200),
                    api_code: None,
                },
            );
            disabled.call_finished(
                Method::SendMessage,
                black_box(MessageType::Text),
                GrpcCode(tonic::Code::Ok),
                black_box(Duration::from_millis(125)),
            );
        })
    });
}

criterion_group!(benches, record);
criterion_main!(benches);
