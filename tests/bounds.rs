//! The service as its own process under hostile load: bounded connections and streams, dead
//! connections closed, many calls in flight against a slow API with the API's connections capped
//! and memory flat, and the largest request full of violations answered within 8 KiB.

mod common;

use std::time::Duration;

use common::process::Service;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Waits (at most `within`) until the server closes `stream`; true if it did.
async fn closed_by_server(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buffer = [0u8; 4096];
    tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

#[tokio::test]
async fn connections_beyond_the_cap_and_silent_ones_are_closed() {
    let service = Service::start(&[
        "--sandbox",
        "--max-connections",
        "4",
        "--keepalive-interval",
        "300ms",
        "--idle-timeout",
        "2s",
    ])
    .await;
    // Four connections the server serves (it sends its HTTP/2 SETTINGS first) and that then say
    // nothing. A slot may still be held for a moment by the start-up check's connection: a
    // connection closed at once is retried.
    let mut silent = Vec::new();
    for _ in 0..20 {
        if silent.len() == 4 {
            break;
        }
        let mut stream = TcpStream::connect(&service.address).await.unwrap();
        let mut first = [0u8; 9];
        let served = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut first)).await;
        if matches!(served, Ok(Ok(n)) if n > 0) {
            silent.push(stream);
        } else {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert_eq!(silent.len(), 4, "the server serves four connections");
    let mut fifth = TcpStream::connect(&service.address).await.unwrap();
    assert!(
        closed_by_server(&mut fifth, Duration::from_millis(500)).await,
        "a connection beyond the cap is closed before any idle timeout"
    );
    for stream in &mut silent {
        assert!(
            closed_by_server(stream, Duration::from_secs(10)).await,
            "a connection that sends nothing is closed"
        );
    }
    // Their places are free again: a real client is served.
    let mut client = whatsapp_grpc::proto::messaging_service_client::MessagingServiceClient::new(
        service.channel().await,
    );
    client
        .send_message(common::request(common::text("hello")))
        .await
        .expect("served once the silent connections are gone");
}

/// Reads HTTP/2 frames until the server's SETTINGS and returns its parameters.
async fn server_settings(stream: &mut TcpStream) -> Vec<(u16, u32)> {
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    loop {
        let mut header = [0u8; 9];
        stream.read_exact(&mut header).await.unwrap();
        let length = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
        let mut payload = vec![0u8; length];
        stream.read_exact(&mut payload).await.unwrap();
        let (kind, flags) = (header[3], header[4]);
        if kind == 4 && flags & 1 == 0 {
            return payload
                .chunks_exact(6)
                .map(|p| {
                    (
                        u16::from_be_bytes([p[0], p[1]]),
                        u32::from_be_bytes([p[2], p[3], p[4], p[5]]),
                    )
                })
                .collect();
        }
    }
}

#[tokio::test]
async fn the_server_advertises_its_stream_and_header_limits() {
    let service = Service::start(&["--sandbox", "--max-concurrent-streams", "7"]).await;
    let mut stream = TcpStream::connect(&service.address).await.unwrap();
    let settings = tokio::time::timeout(Duration::from_secs(10), server_settings(&mut stream))
        .await
        .expect("the server's SETTINGS");
    // SETTINGS_MAX_CONCURRENT_STREAMS (0x3) and SETTINGS_MAX_HEADER_LIST_SIZE (0x6).
    assert!(settings.contains(&(3, 7)), "{settings:?}");
    assert!(
        settings
            .iter()
            .any(|&(id, value)| id == 6 && value <= 16 * 1024),
        "{settings:?}"
    );
}

/// The bytes a status takes in the trailers: `grpc-message` percent-encoded (at most 3 bytes a
/// byte) and `grpc-status-details-bin` in base64.
fn status_header_bytes(status: &tonic::Status) -> usize {
    status.message().len() * 3 + status.details().len().div_ceil(3) * 4
}

/// A list whose one section holds `rows` rows, each breaking rules (titles too long), with ids
/// and titles of `width` characters.
fn list_request(rows: usize, width: usize) -> whatsapp_grpc::proto::SendMessageRequest {
    use whatsapp_grpc::proto;
    let cell = "x".repeat(width);
    common::request(common::interactive(proto::interactive::Kind::List(
        proto::InteractiveList {
            body: common::body("pick one"),
            button: "Choose".into(),
            sections: vec![proto::InteractiveListSection {
                title: String::new(),
                rows: (0..rows).map(|_| common::row(&cell, &cell, "")).collect(),
            }],
            ..Default::default()
        },
    )))
}

#[tokio::test]
async fn the_largest_requests_full_of_violations_answer_in_8_kib_with_memory_flat() {
    use prost::Message as _;
    use whatsapp_grpc::validate::limits::MAX_REQUEST_BYTES;
    let service = Service::start(&["--sandbox"]).await;
    // As large as the server reads, as many fields as it decodes: 18,000 rows of 3 fields, each
    // with a title 6 characters too long, 36 bytes of id and title.
    let largest = list_request(18_000, 30);
    let size = largest.encoded_len();
    assert!(
        size > MAX_REQUEST_BYTES * 9 / 10 && size < MAX_REQUEST_BYTES,
        "{size}"
    );
    let mut calls = Vec::new();
    for _ in 0..3 {
        let mut client =
            whatsapp_grpc::proto::messaging_service_client::MessagingServiceClient::new(
                service.channel().await,
            );
        let request = largest.clone();
        calls.push(tokio::spawn(
            async move { client.send_message(request).await },
        ));
    }
    for call in calls {
        let status = call.await.unwrap().unwrap_err();
        assert_eq!(
            status.code(),
            tonic::Code::InvalidArgument,
            "{}",
            status.message()
        );
        assert!(
            status_header_bytes(&status) < 8 * 1024,
            "{}",
            status_header_bytes(&status)
        );
        let info = tonic_types::StatusExt::get_details_error_info(&status).expect("ErrorInfo");
        assert_eq!(info.metadata["outcome"], "not_sent");
        let bad = tonic_types::StatusExt::get_details_bad_request(&status).expect("BadRequest");
        assert!(
            bad.field_violations
                .iter()
                .any(|v| v.reason == "TOO_MANY_IN_ALL" && v.field == "interactive.list.sections"),
            "{bad:?}"
        );
    }
    // The 1,000,000 empty rows (1.9 MB) and 3,000,000 (5.7 MB): refused unread or unparsed.
    let mut client = whatsapp_grpc::proto::messaging_service_client::MessagingServiceClient::new(
        service.channel().await,
    );
    let status = client
        .send_message(list_request(1_000_000, 0))
        .await
        .unwrap_err();
    assert_eq!(
        status.code(),
        tonic::Code::InvalidArgument,
        "{}",
        status.message()
    );
    assert!(status_header_bytes(&status) < 8 * 1024);
    let status = client
        .send_message(list_request(3_000_000, 0))
        .await
        .unwrap_err();
    assert_eq!(
        status.code(),
        tonic::Code::OutOfRange,
        "{}",
        status.message()
    );
    // A request of many fields within the size limit is refused before it is decoded.
    let status = client
        .send_message(list_request(600_000, 0))
        .await
        .unwrap_err();
    assert_eq!(
        status.code(),
        tonic::Code::InvalidArgument,
        "{}",
        status.message()
    );
    assert!(status.message().contains("fields"), "{}", status.message());

    let peak = service.peak_memory();
    eprintln!("peak resident memory of the service: {} KiB", peak >> 10);
    assert!(peak < 64 << 20, "peak resident memory {} MiB", peak >> 20);
}

#[tokio::test]
async fn ten_thousand_calls_against_a_slow_api_keep_its_connections_capped_and_memory_flat() {
    use std::sync::atomic::Ordering;
    let upstream = common::upstream::SlowUpstream::start(Duration::from_millis(200)).await;
    // The defaults, but for the API's connections: 32; two threads serving connections (each
    // with its own pool towards the API), whatever the machine; and no send-rate limit, which
    // would otherwise pace these calls long before the connections are tested.
    let service = Service::start(&[
        "--upstream-url",
        &upstream.url,
        "--phone-number-id",
        "100000000000001",
        "--upstream-max-in-flight",
        "32",
        "--threads",
        "2",
        "--max-messages-per-second",
        "0",
    ])
    .await;
    let mut channels = Vec::new();
    for _ in 0..40 {
        channels.push(service.channel().await);
    }
    let mut calls = Vec::new();
    for i in 0..10_000 {
        let mut client =
            whatsapp_grpc::proto::messaging_service_client::MessagingServiceClient::new(
                channels[i % channels.len()].clone(),
            );
        // No deadline: a queued call waits for its slot up to --upstream-timeout (30 s).
        calls.push(tokio::spawn(async move {
            client
                .send_message(common::request(common::text("hello")))
                .await
        }));
    }
    let (mut ok, mut refused) = (0, 0);
    for call in calls {
        match call.await.unwrap() {
            Ok(_) => ok += 1,
            Err(status) => {
                let info = tonic_types::StatusExt::get_details_error_info(&status)
                    .unwrap_or_else(|| panic!("ErrorInfo on {status:?}"));
                match status.code() {
                    tonic::Code::ResourceExhausted => {
                        assert!(
                            ["OVERLOADED", "UPSTREAM_BUSY"].contains(&info.reason.as_str()),
                            "{status:?}"
                        );
                        assert_eq!(info.metadata["outcome"], "not_sent");
                        assert!(tonic_types::StatusExt::get_details_retry_info(&status).is_some());
                        refused += 1;
                    }
                    _ => panic!("unexpected {status:?}"),
                }
            }
        }
    }
    let counts = &upstream.counts;
    eprintln!(
        "ok {ok}, refused {refused}; upstream: {} connections in all, at most {} open, at most {} answering",
        counts.connections.load(Ordering::SeqCst),
        counts.most_open.load(Ordering::SeqCst),
        counts.most_answering.load(Ordering::SeqCst)
    );
    assert!(ok > 0 && refused > 0, "ok {ok}, refused {refused}");
    // Every message the API received was answered OK, and no other.
    assert_eq!(counts.messages.load(Ordering::SeqCst), ok);
    assert!(counts.most_answering.load(Ordering::SeqCst) <= 32);
    // Requests at once never exceed the cap. A connection can open a moment before a finished one
    // is back in the pool (the HTTP client returns it on its own task), so connections may pass
    // it briefly; but at most the cap are in use and each of the two threads' pools keeps at
    // most the cap idle, so they never pass three times the cap, and they are reused rather
    // than churned.
    assert!(counts.most_open.load(Ordering::SeqCst) <= 3 * 32);
    assert!(counts.connections.load(Ordering::SeqCst) <= 3 * 32);
    let peak = service.peak_memory();
    eprintln!("peak resident memory of the service: {} KiB", peak >> 10);
    assert!(peak < 64 << 20, "peak resident memory {} MiB", peak >> 20);
}
