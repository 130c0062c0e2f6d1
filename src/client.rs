//! `whatsapp-grpc send`, `whatsapp-grpc senders` and `whatsapp-grpc upload`: a small client of the
//! service, for trying it out and for scripts.

use std::fmt::Write as _;

use prost_reflect::{DescriptorPool, DynamicMessage};
use tonic::Status;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic_types::StatusExt;

use crate::config::{ConnectArgs, SendArgs, SendersArgs, UploadArgs};
use crate::proto::media_service_client::MediaServiceClient;
use crate::proto::messaging_service_client::MessagingServiceClient;
use crate::proto::send_message_request::Content;
use crate::proto::{
    FILE_DESCRIPTOR_SET, ListSendersRequest, MessageStatus, SendMessageRequest, SenderFlavor,
    SenderHealth, Text, UploadMediaMetadata, UploadMediaRequest, upload_media_request,
};

/// Sends the message `args` describes and returns the line to print: the message id on success, the
/// status and its details otherwise.
pub async fn send(args: SendArgs) -> Result<String, String> {
    let mut request = match (&args.json, &args.to, &args.text) {
        (Some(path), _, _) => {
            let text = if path.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())
                    .map_err(|e| format!("cannot read standard input: {e}"))?
            } else {
                std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?
            };
            request_from_json(&text)?
        }
        (None, Some(to), caption) if args.image_file.is_some() => {
            let path = args
                .image_file
                .as_deref()
                .unwrap_or(std::path::Path::new(""));
            let channel = connect_service(&args.connect, args.timeout).await?;
            let media_id = upload_file(channel, path, None, args.from.clone())
                .await?
                .media_id;
            SendMessageRequest {
                to: to.clone(),
                content: Some(Content::Image(crate::proto::Image {
                    source: Some(crate::proto::image::Source::Id(media_id)),
                    caption: caption.clone().unwrap_or_default(),
                    provider: None,
                })),
                ..Default::default()
            }
        }
        (None, Some(to), Some(text)) => SendMessageRequest {
            to: to.clone(),
            content: Some(Content::Text(Text {
                body: text.clone(),
                preview_url: false,
            })),
            ..Default::default()
        },
        _ => return Err("give --to and --text (or --image-file), or --json FILE".into()),
    };
    if let Some(request_id) = args.request_id {
        request.request_id = request_id;
    }
    if let Some(from) = args.from {
        request.sender = from;
    }

    let mut client = connect(&args.connect, args.timeout).await?;
    match client.send_message(request).await {
        Ok(response) => {
            let response = response.into_inner();
            let mut line = response.message_id;
            let status = MessageStatus::try_from(response.message_status)
                .unwrap_or(MessageStatus::Unspecified);
            if status != MessageStatus::Unspecified {
                let _ = write!(line, " {}", status.as_str_name());
            }
            if !response.sender.is_empty() {
                let _ = write!(line, " from {}", response.sender);
            }
            Ok(line)
        }
        Err(status) => Err(describe(&status)),
    }
}

/// The senders of the service, one line each: name, flavor, phone number id (or `-`), health and
/// display number.
pub async fn senders(args: SendersArgs) -> Result<String, String> {
    let mut client = connect(&args.connect, args.timeout).await?;
    let senders = client
        .list_senders(ListSendersRequest {})
        .await
        .map_err(|status| describe(&status))?
        .into_inner()
        .senders;
    let mut lines = String::new();
    for sender in senders {
        let flavor = match SenderFlavor::try_from(sender.flavor) {
            Ok(SenderFlavor::Cloud) => "cloud",
            Ok(SenderFlavor::OnPremises) => "on-premises",
            Ok(SenderFlavor::Unspecified) | Err(_) => "unknown",
        };
        let health = match SenderHealth::try_from(sender.health) {
            Ok(SenderHealth::Serving) => "SERVING",
            Ok(SenderHealth::NotServing) => "NOT_SERVING",
            Ok(SenderHealth::Unspecified) | Err(_) => "UNKNOWN",
        };
        let id = if sender.phone_number_id.is_empty() {
            "-"
        } else {
            &sender.phone_number_id
        };
        let _ = write!(lines, "{} {flavor} {id} {health}", sender.name);
        if !sender.display_phone_number.is_empty() {
            let _ = write!(lines, " {}", sender.display_phone_number);
        }
        lines.push('\n');
    }
    Ok(lines.trim_end().to_owned())
}

/// Uploads the file `args` names and returns the line to print: its media id.
pub async fn upload(args: UploadArgs) -> Result<String, String> {
    let channel = connect_service(&args.connect, args.timeout).await?;
    let uploaded = upload_file(channel, &args.file, args.mime_type, args.from).await?;
    Ok(format!(
        "{} {} bytes for {}",
        uploaded.media_id, uploaded.size_bytes, uploaded.sender
    ))
}

/// The most bytes read from a file at once, and sent as one chunk.
const UPLOAD_CHUNK: usize = 256 * 1024;

/// Uploads the file at `path` (its type `mime_type`, or guessed from its extension), read and sent
/// a chunk at a time.
async fn upload_file(
    channel: Service,
    path: &std::path::Path,
    mime_type: Option<String>,
    sender: Option<String>,
) -> Result<crate::proto::UploadMediaResponse, String> {
    use std::io::Read as _;
    let mime_type = match mime_type {
        Some(mime_type) => mime_type,
        None => mime_guess::from_path(path)
            .first_raw()
            .map(str::to_owned)
            .ok_or_else(|| {
                format!(
                    "cannot guess the type of {} from its extension: give --type, such as --type image/jpeg",
                    path.display()
                )
            })?,
    };
    let mut file =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let size = file
        .metadata()
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .len();
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let metadata = UploadMediaRequest {
        part: Some(upload_media_request::Part::Metadata(UploadMediaMetadata {
            sender: sender.unwrap_or_default(),
            mime_type,
            file_name,
            size_bytes: Some(size),
        })),
    };
    // The file is read on a blocking thread, a few chunks ahead of the network at most.
    let (chunks, next) = tokio::sync::mpsc::channel::<UploadMediaRequest>(4);
    let display = path.display().to_string();
    let reader = tokio::task::spawn_blocking(move || -> Result<(), String> {
        loop {
            let mut buffer = vec![0u8; UPLOAD_CHUNK];
            let read = file
                .read(&mut buffer)
                .map_err(|e| format!("cannot read {display}: {e}"))?;
            if read == 0 {
                return Ok(());
            }
            buffer.truncate(read);
            let chunk = UploadMediaRequest {
                part: Some(upload_media_request::Part::Chunk(buffer)),
            };
            if chunks.blocking_send(chunk).is_err() {
                return Ok(());
            }
        }
    });
    let rest = futures_util::stream::unfold(next, |mut next| async move {
        next.recv().await.map(|chunk| (chunk, next))
    });
    let messages = futures_util::StreamExt::chain(futures_util::stream::iter([metadata]), rest);
    let answer = MediaServiceClient::new(channel)
        .upload_media(messages)
        .await;
    reader
        .await
        .map_err(|e| format!("the file reader failed: {e}"))??;
    answer
        .map(tonic::Response::into_inner)
        .map_err(|status| describe(&status))
}

/// A connection to the service: over TLS for an `https` address, with the API key on every call.
type Service = InterceptedService<Channel, ApiKey>;

/// A client of the messaging service.
type Client = MessagingServiceClient<Service>;

async fn connect(args: &ConnectArgs, timeout: std::time::Duration) -> Result<Client, String> {
    Ok(MessagingServiceClient::new(
        connect_service(args, timeout).await?,
    ))
}

async fn connect_service(
    args: &ConnectArgs,
    timeout: std::time::Duration,
) -> Result<Service, String> {
    // `host:port` as well as a URL.
    let server = &if args.server.contains("://") {
        args.server.clone()
    } else {
        format!("http://{}", args.server)
    };
    let mut endpoint = Endpoint::from_shared(server.clone())
        .map_err(|e| format!("--server {server:?} is not a URL: {e}"))?
        .timeout(timeout);
    if server.starts_with("https://") {
        let mut tls = ClientTlsConfig::new().with_native_roots();
        if let Some(path) = &args.server_ca {
            tls = tls.ca_certificate(Certificate::from_pem(read(path, "--server-ca")?));
        }
        if let (Some(cert), Some(key)) = (&args.client_cert, &args.client_key) {
            tls = tls.identity(Identity::from_pem(
                read(cert, "--client-cert")?,
                read(key, "--client-key")?,
            ));
        }
        endpoint = endpoint
            .tls_config(tls)
            .map_err(|e| format!("--server {server}: {e}"))?;
    } else if args.server_ca.is_some() || args.client_cert.is_some() {
        return Err(format!(
            "--server-ca and --client-cert are for TLS: write --server as https://… (not {server})"
        ));
    }
    let api_key = match &args.api_key {
        // Never echoed: the key is a secret.
        Some(key) => Some(
            MetadataValue::try_from(format!("Bearer {key}"))
                .map_err(|_| "--api-key (WHATSAPP_GRPC_API_KEY) must be printable ASCII")?,
        ),
        None => None,
    };
    // Connected now, so that "no service there" is told apart from what a service answers.
    let channel = endpoint.connect().await.map_err(|e| {
        let cause = std::error::Error::source(&e).map_or(e.to_string(), |cause| cause.to_string());
        format!(
            "no service at {server} ({cause}): is it running? start one with: cargo run --release -- serve --sandbox"
        )
    })?;
    Ok(InterceptedService::new(channel, ApiKey(api_key)))
}

/// The contents of `path`, named by `flag` if it cannot be read.
fn read(path: &std::path::Path, flag: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{flag} {}: cannot be read ({e})", path.display()))
}

/// Puts `authorization: Bearer <key>` on every call, when there is a key.
#[derive(Clone)]
struct ApiKey(Option<MetadataValue<Ascii>>);

impl Interceptor for ApiKey {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// A `SendMessageRequest` written in Protobuf JSON.
pub fn request_from_json(text: &str) -> Result<SendMessageRequest, String> {
    let pool = DescriptorPool::decode(FILE_DESCRIPTOR_SET)
        .map_err(|e| format!("the built-in descriptors are unreadable: {e}"))?;
    let descriptor = pool
        .get_message_by_name("whatsapp.v1.SendMessageRequest")
        .ok_or("the built-in descriptors lack whatsapp.v1.SendMessageRequest")?;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let message = DynamicMessage::deserialize(descriptor, &mut deserializer)
        .map_err(|e| format!("not a SendMessageRequest in Protobuf JSON: {e}"))?;
    deserializer
        .end()
        .map_err(|e| format!("not a SendMessageRequest in Protobuf JSON: {e}"))?;
    message
        .transcode_to::<SendMessageRequest>()
        .map_err(|e| format!("cannot convert the request: {e}"))
}

/// A status as lines a person can act on: code, message, and each detail.
pub fn describe(status: &tonic::Status) -> String {
    let mut text = format!("{:?}: {}", status.code(), status.message());
    let details = status.get_error_details();
    if let Some(bad_request) = details.bad_request() {
        for violation in &bad_request.field_violations {
            let _ = write!(
                text,
                "\n  {}: {} ({})",
                violation.field, violation.description, violation.reason
            );
        }
    }
    if let Some(info) = details.error_info() {
        let _ = write!(text, "\n  reason {} in {}", info.reason, info.domain);
        let mut metadata: Vec<_> = info.metadata.iter().collect();
        metadata.sort();
        for (key, value) in metadata {
            let _ = write!(text, "\n  {key}: {value}");
        }
    }
    if let Some(retry) = details.retry_info()
        && let Some(delay) = retry.retry_delay
    {
        let _ = write!(text, "\n  retry after {delay:?}");
    }
    text
}
