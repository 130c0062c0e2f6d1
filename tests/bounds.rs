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
