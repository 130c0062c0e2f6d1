//! What validation plus translation plus serialization costs per message, on the hot path of every
//! send. Run with `cargo bench --bench translate`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use whatsapp_grpc::proto::{self, interactive::Kind, send_message_request::Content};
use whatsapp_grpc::{Flavor, translate};

fn request(content: Content) -> proto::SendMessageRequest {
    proto::SendMessageRequest {
        to: "15550001111".into(),
        request_id: "4f0b6d1e-8c3a-4e7b-9a1d-2c5e6f7a8b9c".into(),
        content: Some(content),
        ..Default::default()
    }
}

fn text() -> proto::SendMessageRequest {
    request(Content::Text(proto::Text {
        body: "Your order #12345 has shipped and will arrive on Thursday. Track it at https://example.com/t/12345".into(),
        preview_url: true,
    }))
}

fn template() -> proto::SendMessageRequest {
    use proto::{template_component::Component, template_parameter::Parameter};
    let text = |t: &str| proto::TemplateParameter {
        parameter: Some(Parameter::Text(t.into())),
        ..Default::default()
    };
    request(Content::Template(proto::Template {
        name: "order_shipped".into(),
        language: Some(proto::TemplateLanguage {
            policy: 1,
            code: "en_US".into(),
        }),
        components: vec![
            proto::TemplateComponent {
                component: Some(Component::Header(proto::TemplateHeader {
                    parameters: vec![proto::TemplateParameter {
                        parameter: Some(Parameter::Image(proto::Image {
                            source: Some(proto::image::Source::Link(
                                "https://example.com/img/parcel.png".into(),
                            )),
                            ..Default::default()
                        })),
                        ..Default::default()
                    }],
                })),
            },
            proto::TemplateComponent {
                component: Some(Component::Body(proto::TemplateBody {
                    parameters: vec![text("Ana"), text("#12345"), text("Thursday")],
                })),
            },
            proto::TemplateComponent {
                component: Some(Component::Button(proto::TemplateButton {
                    index: 0,
                    sub_type: Some(proto::template_button::SubType::QuickReply(
                        proto::TemplateQuickReplyButton {
                            payload: "track-12345".into(),
                        },
                    )),
                })),
            },
        ],
        ..Default::default()
    }))
}

fn reply_buttons() -> proto::SendMessageRequest {
    let reply = |id: &str, title: &str| proto::InteractiveReplyButton {
        button: Some(proto::interactive_reply_button::Button::Reply(
            proto::InteractiveReply {
                id: id.into(),
                title: title.into(),
            },
        )),
    };
    request(Content::Interactive(proto::Interactive {
        kind: Some(Kind::Button(proto::InteractiveButton {
            header: Some(proto::InteractiveMediaHeader {
                kind: Some(proto::interactive_media_header::Kind::Text(
                    "Delivery window".into(),
                )),
            }),
            body: Some(proto::InteractiveBody {
                text: "When should we deliver your order? 🚚".into(),
            }),
            footer: Some(proto::InteractiveFooter {
                text: "You can change this later".into(),
            }),
            buttons: vec![
                reply("slot-am", "Morning"),
                reply("slot-pm", "Afternoon"),
                reply("slot-eve", "Evening"),
            ],
        })),
    }))
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("validate+translate+serialize");
    for (name, request) in [
        ("text", text()),
        ("template", template()),
        ("reply_buttons", reply_buttons()),
    ] {
        let mut buffer = Vec::with_capacity(1024);
        group.bench_function(name, |b| {
            b.iter(|| {
                buffer.clear();
                let body = translate::send_message(Flavor::Cloud, black_box(&request))
                    .expect("valid request");
                serde_json::to_writer(&mut buffer, &body).expect("serializes");
                black_box(buffer.len())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
