//! Media over gRPC, end to end: uploads, look-ups, downloads and deletions through the real server
//! to the sandbox and to a recording upstream on loopback (which checks the exact requests and
//! sees aborted bodies), on both flavors; an image message sent by the returned id; the refusals
//! of oversized, wrong-type and truncated uploads; and the resident memory of the real binary
//! while it streams 100 MiB each way.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::json;
use sha2::{Digest, Sha256};
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt;
use whatsapp_grpc::Flavor;
use whatsapp_grpc::proto::media_service_client::MediaServiceClient;
use whatsapp_grpc::proto::{
    self, DeleteMediaRequest, DownloadMediaRequest, GetMediaRequest, MediaKind,
    UploadMediaMetadata, UploadMediaRequest, download_media_response, upload_media_request,
};

use common::process::Service;
use common::stack::{API_VERSION, Options, PHONE_NUMBER_ID, Stack};

const MIB: usize = 1024 * 1024;

fn metadata(mime_type: &str, file_name: &str, size: Option<u64>) -> UploadMediaRequest {
    UploadMediaRequest {
        part: Some(upload_media_request::Part::Metadata(UploadMediaMetadata {
            sender: String::new(),
            mime_type: mime_type.into(),
            file_name: file_name.into(),
            size_bytes: size,
        })),
    }
}

fn chunk(bytes: Vec<u8>) -> UploadMediaRequest {
    UploadMediaRequest {
        part: Some(upload_media_request::Part::Chunk(bytes)),
    }
}

/// An upload of `file` in chunks of `chunk_size`, declaring its size when `declare`.
async fn upload(
    client: &mut MediaServiceClient<Channel>,
    mime_type: &str,
    file_name: &str,
    file: &[u8],
    declare: bool,
) -> Result<proto::UploadMediaResponse, tonic::Status> {
    let mut messages = vec![metadata(
        mime_type,
        file_name,
        declare.then_some(file.len() as u64),
    )];
    messages.extend(file.chunks(64 * 1024).map(|part| chunk(part.to_vec())));
    client
        .upload_media(futures_util::stream::iter(messages))
        .await
        .map(tonic::Response::into_inner)
}

/// A download: its metadata and its bytes.
async fn download(
    client: &mut MediaServiceClient<Channel>,
    media_id: &str,
) -> Result<(proto::DownloadMediaMetadata, Vec<u8>), tonic::Status> {
    let mut stream = client
        .download_media(DownloadMediaRequest {
            sender: String::new(),
            media_id: media_id.into(),
        })
        .await?
        .into_inner();
    let mut metadata = None;
    let mut bytes = Vec::new();
    while let Some(message) = stream.message().await? {
        match message.part {
            Some(download_media_response::Part::Metadata(first)) => {
                assert!(metadata.is_none(), "one metadata, first");
                assert!(bytes.is_empty(), "the metadata comes first");
                metadata = Some(first);
            }
            Some(download_media_response::Part::Chunk(piece)) => {
                assert!(piece.len() <= 256 * 1024, "chunks are bounded");
                bytes.extend(piece);
            }
            None => panic!("an empty message"),
        }
    }
    Ok((metadata.expect("a metadata message"), bytes))
}

fn image_by_id(id: &str) -> proto::SendMessageRequest {
    common::request(proto::send_message_request::Content::Image(proto::Image {
        source: Some(proto::image::Source::Id(id.into())),
        caption: "by id".into(),
        provider: None,
    }))
}

/// The field paths of an `INVALID_ARGUMENT`'s `BadRequest`.
fn fields(status: &tonic::Status) -> Vec<String> {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    status
        .get_details_bad_request()
        .expect("BadRequest")
        .field_violations
        .into_iter()
        .map(|violation| violation.field)
        .collect()
}

/// A small file of each of several kinds: (MIME type, file name, bytes, kind).
fn files() -> Vec<(&'static str, &'static str, Vec<u8>, MediaKind)> {
    let mut webp = b"RIFF\x20\0\0\0WEBPVP8 \x14\0\0\0".to_vec();
    webp.resize(2_000, 1);
    vec![
        (
            "image/png",
            "photo.png",
            (0..70_000u32).map(|i| (i % 251) as u8).collect(),
            MediaKind::Image,
        ),
        (
            "application/pdf",
            "terms.pdf",
            b"%PDF-1.4 a small document".repeat(100),
            MediaKind::Document,
        ),
        (
            "audio/ogg; codecs=opus",
            "note.ogg",
            vec![3; 5_000],
            MediaKind::Audio,
        ),
        ("image/webp", "sticker.webp", webp, MediaKind::Sticker),
    ]
}

async fn sandbox_round_trip(flavor: Flavor) {
    let mut stack = Stack::start(flavor).await;
    let mut media = MediaServiceClient::new(stack.channel.clone());
    for (mime_type, file_name, file, kind) in files() {
        let uploaded = upload(&mut media, mime_type, file_name, &file, false)
            .await
            .expect("uploaded");
        assert_eq!(uploaded.kind, kind as i32, "{mime_type}");
        assert_eq!(uploaded.size_bytes, file.len() as u64);
        assert_eq!(uploaded.sender, "default");
        let info = media
            .get_media(GetMediaRequest {
                sender: String::new(),
                media_id: uploaded.media_id.clone(),
            })
            .await
            .expect("looked up")
            .into_inner();
        assert_eq!(info.mime_type, mime_type);
        assert_eq!(info.size_bytes, file.len() as u64);
        if flavor == Flavor::Cloud {
            assert_eq!(info.sha256, hex(&Sha256::digest(&file)));
            assert!(info.url.starts_with("http://"), "{}", info.url);
        }
        let (metadata, bytes) = download(&mut media, &uploaded.media_id)
            .await
            .expect("downloaded");
        assert_eq!(metadata.mime_type, mime_type);
        assert_eq!(bytes, file, "{mime_type}: the same bytes");
    }

    // An image message by the id an upload returned is sent; by an id the sandbox did not issue
    // (of its shape), or one deleted, it is refused as the API refuses it.
    let (_, _, png, _) = files().remove(0);
    let image = upload(&mut media, "image/png", "photo.png", &png, true)
        .await
        .expect("uploaded");
    let sent = stack
        .client
        .send_message(image_by_id(&image.media_id))
        .await
        .expect("an image by its uploaded id is sent")
        .into_inner();
    assert!(!sent.message_id.is_empty());
    let unknown = match flavor {
        Flavor::Cloud => "9900000000000001",
        Flavor::OnPremises => "00000000-0000-4000-a000-5a4db0000000",
    };
    stack
        .client
        .send_message(image_by_id(unknown))
        .await
        .expect_err("an id the sandbox never issued is refused");
    media
        .delete_media(DeleteMediaRequest {
            sender: String::new(),
            media_id: image.media_id.clone(),
        })
        .await
        .expect("deleted");
    let gone = media
        .get_media(GetMediaRequest {
            sender: String::new(),
            media_id: image.media_id.clone(),
        })
        .await
        .expect_err("a deleted media is not found");
    assert_ne!(gone.code(), Code::Ok);
    stack
        .client
        .send_message(image_by_id(&image.media_id))
        .await
        .expect_err("a deleted id is refused in a message");
    stack.clear_received().await;
}

#[tokio::test]
async fn cloud_media_through_the_sandbox() {
    sandbox_round_trip(Flavor::Cloud).await;
}

#[tokio::test]
async fn on_premises_media_through_the_sandbox() {
    sandbox_round_trip(Flavor::OnPremises).await;
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

// ---------------------------------------------------------------------------------------------
// A recording upstream.

/// One request the recording upstream received.
#[derive(Clone)]
struct Recorded {
    method: String,
    /// Path and query.
    target: String,
    headers: HeaderMap,
    /// The body, when it was at most [`KEEP_MAX`] bytes.
    body: Option<Vec<u8>>,
    /// How many body bytes arrived.
    bytes: u64,
    /// Whether the body arrived whole (it ended, rather than breaking off).
    complete: bool,
}

impl std::fmt::Debug for Recorded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorded")
            .field("method", &self.method)
            .field("target", &self.target)
            .field("headers", &self.headers)
            .field("bytes", &self.bytes)
            .field("complete", &self.complete)
            .finish_non_exhaustive()
    }
}

/// The most body bytes kept per request; larger ones are only counted.
const KEEP_MAX: usize = 16 * MIB;
/// The id of a 100 MiB media the recorder generates as it serves it.
const BIG: &str = "big";
const BIG_BYTES: u64 = 100 * MIB as u64;
const CLOUD_ID: &str = "4242";
const ON_PREMISES_ID: &str = "0a1b2c3d-0000-4000-a000-000000000001";

/// An uploaded file: its type and bytes.
type File = (String, Vec<u8>);

#[derive(Clone)]
struct Recorder {
    url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    /// The last whole upload: its type and bytes.
    file: Arc<Mutex<Option<File>>>,
}

impl Recorder {
    async fn start() -> Recorder {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let recorder = Recorder {
            url,
            requests: Arc::default(),
            file: Arc::default(),
        };
        let app = axum::Router::new()
            .fallback(record)
            .with_state(recorder.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        recorder
    }

    /// The requests received, without the health probes.
    fn requests(&self) -> Vec<Recorded> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| !r.target.contains("fields=id") && !r.target.ends_with("/v1/health"))
            .cloned()
            .collect()
    }

    /// Waits (at most 10 s) until `count` requests other than probes have been recorded.
    async fn wait_for(&self, count: usize) -> Vec<Recorded> {
        for _ in 0..1000 {
            let requests = self.requests();
            if requests.len() >= count {
                return requests;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the upstream saw {:?}", self.requests());
    }
}

async fn record(State(recorder): State<Recorder>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let mut stream = body.into_data_stream();
    let (mut kept, mut bytes, mut complete) = (Vec::new(), 0u64, true);
    while let Some(piece) = stream.next().await {
        match piece {
            Ok(piece) => {
                bytes += piece.len() as u64;
                if kept.len() + piece.len() <= KEEP_MAX {
                    kept.extend_from_slice(&piece);
                }
            }
            Err(_) => {
                complete = false;
                break;
            }
        }
    }
    let target = parts
        .uri
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let method = parts.method.to_string();
    recorder.requests.lock().unwrap().push(Recorded {
        method: method.clone(),
        target: target.clone(),
        headers: parts.headers.clone(),
        body: (bytes as usize <= KEEP_MAX).then(|| kept.clone()),
        bytes,
        complete,
    });
    let path = parts.uri.path();
    let cloud_item = format!("/{API_VERSION}/");
    match (method.as_str(), path) {
        ("GET", "/v1/health") => {
            axum::Json(json!({"health": {"gateway_status": "connected"}})).into_response()
        }
        ("POST", "/v1/media") | ("POST", _) if path.ends_with("/media") => {
            if !complete {
                return StatusCode::BAD_REQUEST.into_response();
            }
            let mime_type = parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let file = if bytes as usize > KEEP_MAX {
                // Counted, not kept: the 100 MiB upload.
                Some((String::new(), Vec::new()))
            } else if mime_type.starts_with("multipart/form-data") {
                multipart_parts(&mime_type, &kept)
                    .into_iter()
                    .find(|(head, _)| head.contains("name=\"file\""))
                    .map(|(head, content)| {
                        let part_type = head
                            .split("Content-Type: ")
                            .nth(1)
                            .unwrap_or_default()
                            .to_owned();
                        (part_type, content)
                    })
            } else {
                Some((mime_type, kept))
            };
            *recorder.file.lock().unwrap() = file;
            if path == "/v1/media" {
                (
                    StatusCode::CREATED,
                    axum::Json(json!({"media": [{"id": ON_PREMISES_ID}]})),
                )
                    .into_response()
            } else {
                axum::Json(json!({"id": CLOUD_ID})).into_response()
            }
        }
        ("DELETE", _) if path.starts_with("/v1/media/") => {
            axum::Json(json!({"meta": {"api_status": "stable"}})).into_response()
        }
        ("DELETE", _) => axum::Json(json!({"success": true})).into_response(),
        ("GET", _) if path.starts_with("/cdn/") || path.starts_with("/v1/media/") => {
            let id = path.rsplit('/').next().unwrap_or_default();
            serve_file(&recorder, id)
        }
        ("GET", _) if path.starts_with(&cloud_item) && !target.contains("fields=id") => {
            let id = path.trim_start_matches(&cloud_item);
            let (mime_type, size, sha) = if id == BIG {
                ("application/pdf".to_owned(), BIG_BYTES, String::new())
            } else {
                let file = recorder.file.lock().unwrap().clone().unwrap_or_default();
                (file.0, file.1.len() as u64, hex(&Sha256::digest(&file.1)))
            };
            axum::Json(json!({
                "messaging_product": "whatsapp",
                "url": format!("{}/cdn/{id}", recorder.url),
                "mime_type": mime_type,
                "sha256": sha,
                "file_size": size.to_string(),
                "id": id,
            }))
            .into_response()
        }
        _ => axum::Json(json!({"id": PHONE_NUMBER_ID})).into_response(),
    }
}

/// The bytes of media `id`: the last upload's, or 100 MiB generated as they are sent.
fn serve_file(recorder: &Recorder, id: &str) -> Response {
    if id == BIG {
        let chunks = futures_util::stream::iter(0..BIG_BYTES / MIB as u64)
            .map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![5u8; MIB])));
        return Response::builder()
            .header(header::CONTENT_TYPE, "application/pdf")
            .header(header::CONTENT_LENGTH, BIG_BYTES)
            .body(Body::from_stream(chunks))
            .unwrap();
    }
    let (mime_type, bytes) = recorder.file.lock().unwrap().clone().unwrap_or_default();
    Response::builder()
        .header(header::CONTENT_TYPE, mime_type)
        .body(Body::from(bytes))
        .unwrap()
}

/// The parts of a multipart/form-data body: (headers, content) each.
fn multipart_parts(content_type: &str, body: &[u8]) -> Vec<(String, Vec<u8>)> {
    let boundary = content_type
        .split("boundary=")
        .nth(1)
        .expect("a boundary")
        .trim_matches('"');
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut rest = body;
    let find = |haystack: &[u8], needle: &[u8]| {
        haystack
            .windows(needle.len())
            .position(|window| window == needle)
    };
    rest = &rest[find(rest, delimiter.as_bytes()).expect("a first delimiter") + delimiter.len()..];
    while !rest.starts_with(b"--") {
        rest = rest.strip_prefix(b"\r\n").expect("CRLF after a delimiter");
        let head_end = find(rest, b"\r\n\r\n").expect("a part's head");
        let head = String::from_utf8(rest[..head_end].to_vec()).expect("a text head");
        rest = &rest[head_end + 4..];
        let end = find(rest, format!("\r\n{delimiter}").as_bytes()).expect("a closing delimiter");
        parts.push((head, rest[..end].to_vec()));
        rest = &rest[end + 2 + delimiter.len()..];
    }
    parts
}

fn header_of<'a>(request: &'a Recorded, name: &str) -> &'a str {
    request
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

async fn recorded_stack(flavor: Flavor) -> (Stack, Recorder) {
    let recorder = Recorder::start().await;
    let mut options = Options::new(flavor);
    options.upstream_url = Some(recorder.url.clone());
    options.access_token = Some("recorded-token".into());
    (Stack::start_with(options).await, recorder)
}

#[tokio::test]
async fn cloud_requests_are_exactly_the_apis() {
    let (stack, recorder) = recorded_stack(Flavor::Cloud).await;
    let mut media = MediaServiceClient::new(stack.channel.clone());
    let (_, _, png, _) = files().remove(0);
    let uploaded = upload(&mut media, "image/png", "photo.png", &png, true)
        .await
        .expect("uploaded");
    assert_eq!(uploaded.media_id, CLOUD_ID);
    let requests = recorder.wait_for(1).await;
    let post = &requests[0];
    assert_eq!(post.method, "POST");
    assert_eq!(
        post.target,
        format!("/{API_VERSION}/{PHONE_NUMBER_ID}/media")
    );
    assert_eq!(header_of(post, "authorization"), "Bearer recorded-token");
    assert!(post.complete);
    let content_type = header_of(post, "content-type");
    assert!(
        content_type.starts_with("multipart/form-data; boundary="),
        "{content_type}"
    );
    let body = post.body.as_ref().expect("kept");
    // The declared size makes the whole body's length known.
    assert_eq!(header_of(post, "content-length"), body.len().to_string());
    let parts = multipart_parts(content_type, body);
    assert_eq!(parts.len(), 3, "{parts:?}");
    assert_eq!(
        parts[0].0,
        "Content-Disposition: form-data; name=\"messaging_product\""
    );
    assert_eq!(parts[0].1, b"whatsapp");
    assert_eq!(parts[1].0, "Content-Disposition: form-data; name=\"type\"");
    assert_eq!(parts[1].1, b"image/png");
    assert_eq!(
        parts[2].0,
        "Content-Disposition: form-data; name=\"file\"; filename=\"photo.png\"\r\nContent-Type: image/png"
    );
    assert_eq!(parts[2].1, png);

    let info = media
        .get_media(GetMediaRequest {
            sender: String::new(),
            media_id: CLOUD_ID.into(),
        })
        .await
        .expect("looked up")
        .into_inner();
    assert_eq!(info.url, format!("{}/cdn/{CLOUD_ID}", recorder.url));
    assert_eq!(info.size_bytes, png.len() as u64);
    assert_eq!(info.sha256, hex(&Sha256::digest(&png)));
    let (metadata, bytes) = download(&mut media, CLOUD_ID).await.expect("downloaded");
    assert_eq!(metadata.mime_type, "image/png");
    assert_eq!(bytes, png);
    media
        .delete_media(DeleteMediaRequest {
            sender: String::new(),
            media_id: CLOUD_ID.into(),
        })
        .await
        .expect("deleted");
    let requests = recorder.wait_for(5).await;
    let seen: Vec<(String, String, String)> = requests[1..]
        .iter()
        .map(|r| {
            (
                r.method.clone(),
                r.target.clone(),
                header_of(r, "authorization").to_owned(),
            )
        })
        .collect();
    let bearer = "Bearer recorded-token".to_owned();
    let item = format!("/{API_VERSION}/{CLOUD_ID}?phone_number_id={PHONE_NUMBER_ID}");
    assert_eq!(
        seen,
        vec![
            ("GET".into(), item.clone(), bearer.clone()),
            ("GET".into(), item.clone(), bearer.clone()),
            // The media URL is fetched with the same bearer token.
            ("GET".into(), format!("/cdn/{CLOUD_ID}"), bearer.clone()),
            ("DELETE".into(), item, bearer),
        ]
    );
}

#[tokio::test]
async fn on_premises_requests_are_exactly_the_apis() {
    let (stack, recorder) = recorded_stack(Flavor::OnPremises).await;
    let mut media = MediaServiceClient::new(stack.channel.clone());
    let pdf = b"%PDF-1.4 a document".repeat(1000);
    // Without a declared size, the bytes go chunked.
    let uploaded = upload(&mut media, "application/pdf", "terms.pdf", &pdf, false)
        .await
        .expect("uploaded");
    assert_eq!(uploaded.media_id, ON_PREMISES_ID);
    assert_eq!(uploaded.kind, MediaKind::Document as i32);
    let requests = recorder.wait_for(1).await;
    let post = &requests[0];
    assert_eq!(
        (post.method.as_str(), post.target.as_str()),
        ("POST", "/v1/media")
    );
    assert_eq!(header_of(post, "content-type"), "application/pdf");
    assert_eq!(header_of(post, "authorization"), "Bearer recorded-token");
    assert_eq!(header_of(post, "transfer-encoding"), "chunked");
    assert_eq!(post.body.as_deref(), Some(&pdf[..]));

    let info = media
        .get_media(GetMediaRequest {
            sender: String::new(),
            media_id: ON_PREMISES_ID.into(),
        })
        .await
        .expect("looked up")
        .into_inner();
    assert_eq!(info.mime_type, "application/pdf");
    assert_eq!(info.size_bytes, pdf.len() as u64);
    let (_, bytes) = download(&mut media, ON_PREMISES_ID)
        .await
        .expect("downloaded");
    assert_eq!(bytes, pdf);
    media
        .delete_media(DeleteMediaRequest {
            sender: String::new(),
            media_id: ON_PREMISES_ID.into(),
        })
        .await
        .expect("deleted");
    let requests = recorder.wait_for(4).await;
    let item = format!("/v1/media/{ON_PREMISES_ID}");
    let seen: Vec<(&str, &str)> = requests[1..]
        .iter()
        .map(|r| (r.method.as_str(), r.target.as_str()))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("GET", item.as_str()),
            ("GET", item.as_str()),
            ("DELETE", item.as_str())
        ]
    );
}

#[tokio::test]
async fn refused_uploads_leave_nothing_whole_upstream() {
    for flavor in [Flavor::Cloud, Flavor::OnPremises] {
        let (stack, recorder) = recorded_stack(flavor).await;
        let mut media = MediaServiceClient::new(stack.channel.clone());

        // Refused from the metadata: nothing is sent.
        let gif = upload(&mut media, "image/gif", "a.gif", b"GIF89a", true)
            .await
            .expect_err("a GIF is not a type the API takes");
        assert_eq!(fields(&gif), ["metadata.mime_type"]);
        let declared_too_big = media
            .upload_media(futures_util::stream::iter(vec![metadata(
                "image/jpeg",
                "big.jpg",
                Some(5 * MIB as u64 + 1),
            )]))
            .await
            .expect_err("an image declared over 5 MiB");
        assert_eq!(fields(&declared_too_big), ["metadata.size_bytes"]);
        let no_metadata = media
            .upload_media(futures_util::stream::iter(vec![chunk(vec![1; 10])]))
            .await
            .expect_err("the first message must be the metadata");
        assert_eq!(fields(&no_metadata), ["metadata"]);
        assert!(recorder.requests().is_empty(), "{:?}", recorder.requests());

        // Oversized as it streams: an image of more than 5 MiB, no size declared.
        let big = vec![9u8; 5 * MIB + 1];
        let oversized = upload(&mut media, "image/jpeg", "big.jpg", &big, false)
            .await
            .expect_err("over 5 MiB");
        assert_eq!(fields(&oversized), ["chunk"]);
        let violation = &oversized
            .get_details_bad_request()
            .unwrap()
            .field_violations[0];
        assert_eq!(violation.reason, "TOO_LARGE");
        let seen = recorder.wait_for(1).await;
        assert!(!seen[0].complete, "the upload was aborted mid-body");
        assert!(seen[0].bytes <= 5 * MIB as u64 + 4096, "{}", seen[0].bytes);

        // Truncated: fewer bytes than declared; the last message ends the stream early.
        let mut messages = vec![metadata("application/pdf", "t.pdf", Some(3 * MIB as u64))];
        messages.extend((0..2).map(|_| chunk(vec![1; MIB])));
        let truncated = media
            .upload_media(futures_util::stream::iter(messages))
            .await
            .expect_err("fewer bytes than declared");
        assert_eq!(fields(&truncated), ["metadata.size_bytes"]);

        // More bytes than declared, in the chunk after the declared ones, or in the same one.
        for split in [true, false] {
            let mut messages = vec![metadata("application/pdf", "t.pdf", Some(1000))];
            if split {
                messages.push(chunk(vec![1; 1000]));
                messages.push(chunk(vec![1; 1000]));
            } else {
                messages.push(chunk(vec![1; 2000]));
            }
            let longer = media
                .upload_media(futures_util::stream::iter(messages))
                .await
                .expect_err("more bytes than declared");
            assert_eq!(fields(&longer), ["metadata.size_bytes"]);
        }

        // An aborted body may reach the upstream in part, or not at all (the abort can beat the
        // request head); it never arrives whole, and nothing refused was taken.
        assert!(
            recorder.requests().iter().all(|request| !request.complete),
            "{flavor:?}: {:?}",
            recorder.requests()
        );
        assert!(recorder.file.lock().unwrap().is_none(), "{flavor:?}");
    }
}

#[tokio::test]
async fn refused_uploads_leave_nothing_in_the_sandbox() {
    let stack = Stack::start(Flavor::Cloud).await;
    let mut media = MediaServiceClient::new(stack.channel.clone());
    let big = vec![9u8; 5 * MIB + 1];
    upload(&mut media, "image/png", "big.png", &big, false)
        .await
        .expect_err("over 5 MiB");
    let body = reqwest::get(format!("{}/sandbox/media", stack.sandbox_url))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let held: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap();
    assert!(held.is_empty(), "{held:?}");
}

#[tokio::test]
async fn bad_media_ids_are_refused_before_anything_is_sent() {
    let (stack, recorder) = recorded_stack(Flavor::OnPremises).await;
    let mut media = MediaServiceClient::new(stack.channel.clone());
    for bad in ["", "..", "a/b", "a b"] {
        let status = media
            .get_media(GetMediaRequest {
                sender: String::new(),
                media_id: bad.into(),
            })
            .await
            .expect_err(bad);
        assert_eq!(fields(&status), ["media_id"]);
        let status = media
            .download_media(DownloadMediaRequest {
                sender: String::new(),
                media_id: bad.into(),
            })
            .await
            .expect_err(bad);
        assert_eq!(fields(&status), ["media_id"]);
    }
    assert!(recorder.requests().is_empty());
}

/// 100 MiB up and 100 MiB down through the real binary: its peak resident memory stays under
/// 64 MiB, so neither file is ever held whole.
#[tokio::test]
async fn a_100_mib_upload_and_download_keep_the_binary_small() {
    let recorder = Recorder::start().await;
    let service = Service::start(&[
        "--upstream-url",
        &recorder.url,
        "--phone-number-id",
        PHONE_NUMBER_ID,
        "--default-deadline",
        "120s",
    ])
    .await;
    let mut media = MediaServiceClient::new(service.channel().await);
    let before = service.peak_memory();

    let chunks = (BIG_BYTES / MIB as u64) as usize;
    let messages = std::iter::once(metadata("application/pdf", "big.pdf", Some(BIG_BYTES)))
        .chain((0..chunks).map(|_| chunk(vec![7u8; MIB])));
    let uploaded = media
        .upload_media(futures_util::stream::iter(messages))
        .await
        .expect("100 MiB uploaded")
        .into_inner();
    assert_eq!(uploaded.size_bytes, BIG_BYTES);
    let seen = recorder.wait_for(1).await;
    assert!(seen[0].complete);
    // The multipart framing adds a few hundred bytes.
    assert!(
        (BIG_BYTES..BIG_BYTES + 1024).contains(&seen[0].bytes),
        "{}",
        seen[0].bytes
    );

    let mut stream = media
        .download_media(DownloadMediaRequest {
            sender: String::new(),
            media_id: BIG.into(),
        })
        .await
        .expect("download starts")
        .into_inner();
    let mut received = 0u64;
    while let Some(message) = stream.message().await.expect("download continues") {
        if let Some(download_media_response::Part::Chunk(piece)) = message.part {
            assert!(piece.iter().all(|&b| b == 5));
            received += piece.len() as u64;
        }
    }
    assert_eq!(received, BIG_BYTES);

    let peak = service.peak_memory();
    assert!(
        peak < 64 * MIB as u64,
        "peak resident memory {} MiB (at start {} MiB)",
        peak / MIB as u64,
        before / MIB as u64
    );
    eprintln!(
        "peak resident memory: {:.1} MiB (at start {:.1} MiB)",
        peak as f64 / MIB as f64,
        before as f64 / MIB as f64
    );
}

/// `whatsapp-grpc upload FILE` prints the media id; `send --image-file FILE` uploads and sends by
/// that id; the type is guessed from the extension, or refused with the field named.
#[tokio::test]
async fn the_cli_uploads_and_sends_an_image_file() {
    let service = Service::start(&["--sandbox"]).await;
    let folder = std::env::temp_dir().join(format!("whatsapp-media-cli-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap();
    let png = folder.join("photo.png");
    std::fs::write(&png, b"\x89PNG\r\n\x1a\n0123456789").unwrap();
    let run = |args: &[&str]| {
        let output = std::process::Command::new(common::process::BINARY)
            .args(args)
            .args(["--server", &service.address])
            .output()
            .expect("the binary runs");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let png_path = png.to_str().unwrap();

    let (ok, out, err) = run(&["upload", png_path]);
    assert!(ok, "{err}");
    let id = out.split_whitespace().next().expect("an id");
    assert!(
        id.len() == 16 && id.bytes().all(|b| b.is_ascii_digit()),
        "{out}"
    );
    assert!(out.contains("18 bytes for default"), "{out}");

    let (ok, out, err) = run(&[
        "send",
        "--to",
        "15550001111",
        "--image-file",
        png_path,
        "--text",
        "receipt",
    ]);
    assert!(ok, "{err}");
    assert!(out.starts_with("wamid."), "{out}");

    let unknown = folder.join("notes.unknownext");
    std::fs::write(&unknown, b"x").unwrap();
    let (ok, _, err) = run(&["upload", unknown.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("--type"), "{err}");

    let (ok, _, err) = run(&["upload", png_path, "--type", "image/gif"]);
    assert!(!ok);
    assert!(err.contains("metadata.mime_type"), "{err}");
    let _ = std::fs::remove_dir_all(&folder);
}
