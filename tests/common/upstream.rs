//! A stand-in for the API on loopback that answers every request with a success after a delay
//! and counts the TCP connections made to it: how many in all, and the most open at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the slow upstream saw.
#[derive(Debug, Default)]
pub struct Counts {
    pub connections: AtomicUsize,
    pub open: AtomicUsize,
    pub most_open: AtomicUsize,
    pub requests: AtomicUsize,
    /// `POST` requests: the messages sent.
    pub messages: AtomicUsize,
    /// Requests being answered now, and the most at once.
    pub answering: AtomicUsize,
    pub most_answering: AtomicUsize,
}

/// A slow upstream on loopback; it stops with the test's runtime.
pub struct SlowUpstream {
    pub url: String,
    pub counts: Arc<Counts>,
}

const ANSWER: &str = r#"{"messaging_product":"whatsapp","contacts":[{"input":"x","wa_id":"x"}],"messages":[{"id":"wamid.slow"}]}"#;

impl SlowUpstream {
    pub async fn start(delay: Duration) -> SlowUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let counts = Arc::new(Counts::default());
        let shared = counts.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let counts = shared.clone();
                counts.connections.fetch_add(1, Ordering::SeqCst);
                let open = counts.open.fetch_add(1, Ordering::SeqCst) + 1;
                counts.most_open.fetch_max(open, Ordering::SeqCst);
                tokio::spawn(async move {
                    let _ = serve(stream, delay, &counts).await;
                    counts.open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        SlowUpstream { url, counts }
    }
}

/// Reads the next HTTP/1.1 request on a keep-alive connection (its head and `Content-Length`
/// body, `buffer` keeping what came after it) and returns its head in lowercase, or `None` when the
/// peer closed the connection.
pub async fn read_request(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
) -> std::io::Result<Option<String>> {
    Ok(read_request_and_body(stream, buffer)
        .await?
        .map(|(head, _)| head))
}

/// As [`read_request`], with the request's body.
pub async fn read_request_and_body(
    stream: &mut TcpStream,
    buffer: &mut Vec<u8>,
) -> std::io::Result<Option<(String, Vec<u8>)>> {
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
    let body = buffer[head_end..head_end + length].to_vec();
    buffer.drain(..head_end + length);
    Ok(Some((head, body)))
}

/// HTTP/1.1 with keep-alive: each request, then the answer after `delay`.
async fn serve(mut stream: TcpStream, delay: Duration, counts: &Counts) -> std::io::Result<()> {
    let mut buffer = Vec::new();
    while let Some(head) = read_request(&mut stream, &mut buffer).await? {
        counts.requests.fetch_add(1, Ordering::SeqCst);
        if head.starts_with("post ") {
            counts.messages.fetch_add(1, Ordering::SeqCst);
        }
        let answering = counts.answering.fetch_add(1, Ordering::SeqCst) + 1;
        counts.most_answering.fetch_max(answering, Ordering::SeqCst);
        tokio::time::sleep(delay).await;
        counts.answering.fetch_sub(1, Ordering::SeqCst);
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{ANSWER}",
            ANSWER.len()
        );
        stream.write_all(answer.as_bytes()).await?;
    }
    Ok(())
}
