//! The media endpoints of both flavors, and the media the sandbox holds:
//!
//! | path                                          | flavor      | does                          |
//! |-----------------------------------------------|-------------|-------------------------------|
//! | `POST /{version}/{phone_number_id}/media`     | Cloud       | upload (multipart/form-data)  |
//! | `GET /{version}/{media_id}`                   | Cloud       | look up: `url`, type, size, SHA-256 |
//! | `DELETE /{version}/{media_id}`                | Cloud       | delete                        |
//! | `GET /whatsapp_business/attachments/?mid=…`   | Cloud       | the look-up's `url`: the bytes |
//! | `POST /v1/media`                              | On-Premises | upload (the raw bytes)        |
//! | `GET /v1/media/{media_id}`                    | On-Premises | the bytes                     |
//! | `DELETE /v1/media/{media_id}`                 | On-Premises | delete                        |
//! | `GET /sandbox/media`                          | neither     | what is held (no bytes)       |
//!
//! Media belongs to the phone number id or installation it was uploaded for. The sandbox holds at
//! most [`MEDIA_MAX_FILES`] files and [`MEDIA_MAX_BYTES`] bytes, dropping the oldest to make room
//! (media expires on the real API too). An upload is read whole before it is kept: one that breaks
//! off is never stored. Messages that name a media id of the sandbox's shape (`990…` on Cloud, a
//! UUID whose last group starts `5a4db0` on On-Premises) must name one it holds for their account;
//! other ids (the documentation's examples) are taken as media uploaded elsewhere.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::answers::{ApiError, Flavor, on_premises_meta};
use super::cloud::is_graph_version;
use super::ids;
use super::installations::{Installation, Target};
use super::state::{Account, Sandbox, header_text, lock};

/// The most files the sandbox holds.
pub const MEDIA_MAX_FILES: usize = 256;
/// The most bytes the sandbox holds, all files together: room for one 100 MiB document.
pub const MEDIA_MAX_BYTES: usize = 128 * 1024 * 1024;
/// The largest upload read: the API's largest kind (documents, 100 MiB) and the multipart framing.
pub const UPLOAD_MAX_BYTES: usize = 100 * 1024 * 1024 + 64 * 1024;

/// Whom a media belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Owner {
    Cloud(String),
    /// The installation's name; `None` for the root one.
    OnPremises(Option<String>),
}

impl Owner {
    fn of(account: Account<'_>) -> Owner {
        match account {
            Account::Cloud { phone_number_id } => Owner::Cloud(phone_number_id.to_owned()),
            Account::OnPremises(installation) => Owner::OnPremises(installation.name.clone()),
        }
    }
}

struct Stored {
    owner: Owner,
    mime_type: String,
    file_name: Option<String>,
    bytes: Bytes,
    sha256: String,
}

/// One held media, as `GET /sandbox/media` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldMedia {
    pub id: String,
    pub mime_type: String,
    pub file_name: Option<String>,
    pub size_bytes: u64,
    pub sha256: String,
    /// Cloud: the phone number id it was uploaded for.
    pub phone_number_id: Option<String>,
}

/// The media held, oldest first.
#[derive(Default)]
pub(crate) struct MediaStore {
    inner: Mutex<Held>,
}

#[derive(Default)]
struct Held {
    by_id: HashMap<String, Stored>,
    order: VecDeque<String>,
    bytes: usize,
}

impl MediaStore {
    /// Keeps a file, dropping the oldest until it fits; its new id.
    fn keep(
        &self,
        owner: Owner,
        mime_type: String,
        file_name: Option<String>,
        bytes: Bytes,
    ) -> String {
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let mut held = lock(&self.inner);
        let id = loop {
            let id = match owner {
                Owner::Cloud(_) => ids::cloud_media_id(),
                Owner::OnPremises(_) => ids::on_premises_media_id(),
            };
            if !held.by_id.contains_key(&id) {
                break id;
            }
        };
        while held.order.len() >= MEDIA_MAX_FILES || held.bytes + bytes.len() > MEDIA_MAX_BYTES {
            let Some(oldest) = held.order.pop_front() else {
                break;
            };
            if let Some(dropped) = held.by_id.remove(&oldest) {
                held.bytes -= dropped.bytes.len();
            }
        }
        held.bytes += bytes.len();
        held.order.push_back(id.clone());
        held.by_id.insert(
            id.clone(),
            Stored {
                owner,
                mime_type,
                file_name,
                bytes,
                sha256,
            },
        );
        id
    }

    /// The type, bytes and SHA-256 of `id`, if `owner` holds it.
    fn get(&self, owner: &Owner, id: &str) -> Option<(String, Bytes, String)> {
        let held = lock(&self.inner);
        held.by_id
            .get(id)
            .filter(|stored| &stored.owner == owner)
            .map(|stored| {
                (
                    stored.mime_type.clone(),
                    stored.bytes.clone(),
                    stored.sha256.clone(),
                )
            })
    }

    /// The owner of `id`, if held.
    fn owner(&self, id: &str) -> Option<Owner> {
        lock(&self.inner)
            .by_id
            .get(id)
            .map(|stored| stored.owner.clone())
    }

    /// Deletes `id` if `owner` holds it; whether it did.
    fn delete(&self, owner: &Owner, id: &str) -> bool {
        let mut held = lock(&self.inner);
        if held
            .by_id
            .get(id)
            .is_none_or(|stored| &stored.owner != owner)
        {
            return false;
        }
        if let Some(removed) = held.by_id.remove(id) {
            held.bytes -= removed.bytes.len();
        }
        held.order.retain(|kept| kept != id);
        true
    }

    /// Whether a message of `account` may name media `id`: any id not of the sandbox's shape, or
    /// one it holds for that account.
    pub(crate) fn may_send(&self, account: Account<'_>, id: &str) -> bool {
        let cloud = matches!(account, Account::Cloud { .. });
        !ids::is_sandbox_media_id(cloud, id) || self.get(&Owner::of(account), id).is_some()
    }

    fn list(&self) -> Vec<HeldMedia> {
        let held = lock(&self.inner);
        held.order
            .iter()
            .filter_map(|id| held.by_id.get(id).map(|stored| (id, stored)))
            .map(|(id, stored)| HeldMedia {
                id: id.clone(),
                mime_type: stored.mime_type.clone(),
                file_name: stored.file_name.clone(),
                size_bytes: stored.bytes.len() as u64,
                sha256: stored.sha256.clone(),
                phone_number_id: match &stored.owner {
                    Owner::Cloud(id) => Some(id.clone()),
                    Owner::OnPremises(_) => None,
                },
            })
            .collect()
    }
}

/// The media id a message body names (`image.id`, `document.id`, …), if any.
pub(crate) fn media_id_of(body: &Value) -> Option<&str> {
    let kind = body.get("type").and_then(Value::as_str)?;
    if !matches!(kind, "image" | "audio" | "video" | "document" | "sticker") {
        return None;
    }
    body.get(kind)?.get("id")?.as_str()
}

/// The answer to a message naming a media id the sandbox does not hold.
pub(crate) fn unknown_media_in_message(flavor: Flavor) -> Response {
    flavor.error(match flavor {
        Flavor::Cloud => ApiError {
            status: StatusCode::BAD_REQUEST,
            code: 100,
            title: "Invalid parameter",
            details: "Param id is not a valid whatsapp business account media attachment ID",
        },
        Flavor::OnPremises => ApiError {
            status: StatusCode::NOT_FOUND,
            code: 1006,
            title: "Resource not found",
            details: "Media not found",
        },
    })
}

fn not_found(flavor: Flavor) -> Response {
    flavor.error(match flavor {
        Flavor::Cloud => ApiError {
            status: StatusCode::BAD_REQUEST,
            code: 100,
            title: "Unsupported get request",
            details: "Object with this ID does not exist, cannot be loaded due to missing permissions, or does not support this operation",
        },
        Flavor::OnPremises => ApiError {
            status: StatusCode::NOT_FOUND,
            code: 1006,
            title: "Resource not found",
            details: "Media not found",
        },
    })
}

/// The bytes of a media, as the API serves them.
fn file(mime_type: String, bytes: Bytes) -> Response {
    let mut response = Response::new(Body::from(bytes));
    if let Ok(value) = HeaderValue::from_str(&mime_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

/// `POST /{version}/{phone_number_id}/media`: `messaging_product=whatsapp`, `type` and the
/// `file` part; answers `{"id": …}`.
pub(crate) async fn cloud_upload(
    State(sandbox): State<Arc<Sandbox>>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    let Some(phone_number_id) = path
        .ok()
        .filter(|Path((version, _))| is_graph_version(version))
        .map(|Path((_, id))| id)
    else {
        return super::not_found().await;
    };
    let account = Account::Cloud {
        phone_number_id: &phone_number_id,
    };
    upload(
        &sandbox,
        account,
        &headers,
        UploadBody::Multipart(multipart),
    )
    .await
}

/// `POST /v1/media`: the raw bytes, typed by `Content-Type`; answers 201 `{"media": [{"id"}]}`.
pub(crate) async fn on_premises_upload(
    State(sandbox): State<Arc<Sandbox>>,
    Target(installation): Target,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let account = Account::OnPremises(&installation);
    upload(&sandbox, account, &headers, UploadBody::Raw(body)).await
}

/// An upload's body, as each flavor sends it.
enum UploadBody {
    /// Cloud: multipart/form-data.
    Multipart(Result<Multipart, MultipartRejection>),
    /// On-Premises: the raw bytes.
    Raw(Result<Bytes, BytesRejection>),
}

/// An uploaded file: its type, its name if given, its bytes.
type Upload = (String, Option<String>, Bytes);

/// An upload for `account`, of either flavor: authorized, read whole, kept; answered in the
/// account's flavor (Cloud 200 `{"id": …}`, On-Premises 201 `{"media": [{"id"}], "meta"}`).
async fn upload(
    sandbox: &Sandbox,
    account: Account<'_>,
    headers: &HeaderMap,
    body: UploadBody,
) -> Response {
    let flavor = account.flavor();
    if let Some(refused) = sandbox.refuse_unauthorized(account, headers) {
        return refused;
    }
    let read = match body {
        UploadBody::Multipart(multipart) => multipart_upload(multipart).await,
        UploadBody::Raw(body) => raw_upload(headers, body),
    };
    let (mime_type, file_name, bytes) = match read {
        Ok(upload) => upload,
        Err(details) => return flavor.invalid_parameter(details),
    };
    let id = sandbox
        .media
        .keep(Owner::of(account), mime_type, file_name, bytes);
    match flavor {
        Flavor::Cloud => {
            tracing::debug!("cloud media: uploaded");
            (StatusCode::OK, Json(json!({"id": id}))).into_response()
        }
        Flavor::OnPremises => {
            tracing::debug!("on-premises media: uploaded");
            let body = json!({"media": [{"id": id}], "meta": on_premises_meta()});
            (StatusCode::CREATED, Json(body)).into_response()
        }
    }
}

/// A Cloud upload's file: `messaging_product=whatsapp`, a `type`, and a non-empty `file` part
/// (typed by its part's `Content-Type`, else by `type`); else why not, for [`invalid`].
async fn multipart_upload(
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Upload, &'static str> {
    let Ok(mut multipart) = multipart else {
        return Err("The request is not multipart/form-data");
    };
    let (mut product, mut kind, mut upload) = (None, None, None);
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            // A body that breaks off: nothing is kept.
            Err(_) => return Err("The multipart body is incomplete"),
        };
        match field.name() {
            Some("messaging_product") => product = field.text().await.ok(),
            Some("type") => kind = field.text().await.ok(),
            Some("file") => {
                let mime_type = field.content_type().map(str::to_owned);
                let file_name = field.file_name().map(str::to_owned);
                match field.bytes().await {
                    Ok(bytes) => upload = Some((mime_type, file_name, bytes)),
                    Err(_) => return Err("The multipart body is incomplete"),
                }
            }
            _ => {}
        }
    }
    if product.as_deref() != Some("whatsapp") {
        return Err("messaging_product must be whatsapp");
    }
    let Some(kind) = kind.filter(|kind| !kind.is_empty()) else {
        return Err("The parameter type is required");
    };
    let Some((part_type, file_name, bytes)) = upload.filter(|(_, _, bytes)| !bytes.is_empty())
    else {
        return Err("The parameter file is required");
    };
    Ok((part_type.unwrap_or(kind), file_name, bytes))
}

/// An On-Premises upload's file: the whole non-empty body, typed by `Content-Type` (required);
/// else why not, for [`invalid`].
fn raw_upload(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Upload, &'static str> {
    let Some(mime_type) = header_text(headers, "content-type").filter(|t| !t.is_empty()) else {
        return Err("Content-Type is required");
    };
    match body {
        Ok(bytes) if !bytes.is_empty() => Ok((mime_type.to_owned(), None, bytes)),
        // Empty, or a body that broke off or was too large: nothing is kept.
        _ => Err("The media body is empty or incomplete"),
    }
}

/// The query of a Cloud media request.
#[derive(Default, Deserialize)]
pub(crate) struct MediaQuery {
    phone_number_id: Option<String>,
    mid: Option<String>,
}

/// The owner of Cloud media `id`, if it is held and `phone_number_id` (when given) names that
/// owner; `None` is answered as the API answers an unknown object.
fn cloud_target(sandbox: &Sandbox, id: &str, query: &MediaQuery) -> Option<String> {
    let Some(Owner::Cloud(owner)) = sandbox.media.owner(id) else {
        return None;
    };
    match query.phone_number_id.as_deref() {
        Some(asked) if asked != owner => None,
        _ => Some(owner),
    }
}

/// The owner of Cloud media `id` when it is held for the `phone_number_id` asked (if any) and the
/// request carries that owner's token; else the answer to give (not found, or refused).
fn cloud_owner(
    sandbox: &Sandbox,
    id: &str,
    query: &MediaQuery,
    headers: &HeaderMap,
) -> Result<Owner, Box<Response>> {
    let Some(owner) = cloud_target(sandbox, id, query) else {
        return Err(Box::new(not_found(Flavor::Cloud)));
    };
    let account = Account::Cloud {
        phone_number_id: &owner,
    };
    match sandbox.refuse_unauthorized(account, headers) {
        Some(refused) => Err(Box::new(refused)),
        None => Ok(Owner::of(account)),
    }
}

/// The owner and media id of an On-Premises `/v1/media/{media_id}` request that carries the
/// installation's token (the id empty when the path names none); else the refusal.
fn on_premises_media(
    sandbox: &Sandbox,
    installation: &Installation,
    path: Result<Path<HashMap<String, String>>, PathRejection>,
    headers: &HeaderMap,
) -> Result<(Owner, String), Box<Response>> {
    let account = Account::OnPremises(installation);
    if let Some(refused) = sandbox.refuse_unauthorized(account, headers) {
        return Err(Box::new(refused));
    }
    let id = path
        .ok()
        .and_then(|Path(params)| params.get("media_id").cloned())
        .unwrap_or_default();
    Ok((Owner::of(account), id))
}

/// `GET /{version}/{id}`: a media's look-up when `id` is a held media or `phone_number_id` is
/// asked; otherwise the phone number probe.
pub(crate) async fn cloud_get(
    State(sandbox): State<Arc<Sandbox>>,
    path: Result<Path<(String, String)>, PathRejection>,
    query: Result<Query<MediaQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let query = query.map(|Query(query)| query).unwrap_or_default();
    let id = match &path {
        Ok(Path((version, id))) if is_graph_version(version) => id.clone(),
        _ => return super::not_found().await,
    };
    if sandbox.media.owner(&id).is_none() && query.phone_number_id.is_none() {
        return super::cloud::probe(State(sandbox), path, headers).await;
    }
    let owner = match cloud_owner(&sandbox, &id, &query, &headers) {
        Ok(owner) => owner,
        Err(answer) => return *answer,
    };
    let Some((mime_type, bytes, sha256)) = sandbox.media.get(&owner, &id) else {
        return not_found(Flavor::Cloud);
    };
    let host = header_text(&headers, "host").unwrap_or("localhost");
    let url = format!("http://{host}/whatsapp_business/attachments/?mid={id}");
    tracing::debug!("cloud media: looked up");
    let body = json!({
        "messaging_product": "whatsapp",
        "url": url,
        "mime_type": mime_type,
        "sha256": sha256,
        "file_size": bytes.len(),
        "id": id,
    });
    (StatusCode::OK, Json(body)).into_response()
}

/// `DELETE /{version}/{media_id}`.
pub(crate) async fn cloud_delete(
    State(sandbox): State<Arc<Sandbox>>,
    path: Result<Path<(String, String)>, PathRejection>,
    query: Result<Query<MediaQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let query = query.map(|Query(query)| query).unwrap_or_default();
    let id = match path {
        Ok(Path((version, id))) if is_graph_version(&version) => id,
        _ => return super::not_found().await,
    };
    let owner = match cloud_owner(&sandbox, &id, &query, &headers) {
        Ok(owner) => owner,
        Err(answer) => return *answer,
    };
    if !sandbox.media.delete(&owner, &id) {
        return not_found(Flavor::Cloud);
    }
    tracing::debug!("cloud media: deleted");
    (StatusCode::OK, Json(json!({"success": true}))).into_response()
}

/// `GET /whatsapp_business/attachments/?mid={id}`: the bytes behind a look-up's `url`, for the
/// owner's token.
pub(crate) async fn cloud_download(
    State(sandbox): State<Arc<Sandbox>>,
    Query(query): Query<MediaQuery>,
    headers: HeaderMap,
) -> Response {
    let Some(id) = query.mid.clone() else {
        return not_found(Flavor::Cloud);
    };
    let owner = match cloud_owner(&sandbox, &id, &query, &headers) {
        Ok(owner) => owner,
        Err(answer) => return *answer,
    };
    match sandbox.media.get(&owner, &id) {
        Some((mime_type, bytes, _)) => file(mime_type, bytes),
        None => not_found(Flavor::Cloud),
    }
}

/// `GET /v1/media/{media_id}`: the bytes.
pub(crate) async fn on_premises_download(
    State(sandbox): State<Arc<Sandbox>>,
    Target(installation): Target,
    path: Result<Path<HashMap<String, String>>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    let (owner, id) = match on_premises_media(&sandbox, &installation, path, &headers) {
        Ok(found) => found,
        Err(refused) => return *refused,
    };
    match sandbox.media.get(&owner, &id) {
        Some((mime_type, bytes, _)) => file(mime_type, bytes),
        None => not_found(Flavor::OnPremises),
    }
}

/// `DELETE /v1/media/{media_id}`.
pub(crate) async fn on_premises_delete(
    State(sandbox): State<Arc<Sandbox>>,
    Target(installation): Target,
    path: Result<Path<HashMap<String, String>>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    let (owner, id) = match on_premises_media(&sandbox, &installation, path, &headers) {
        Ok(found) => found,
        Err(refused) => return *refused,
    };
    if !sandbox.media.delete(&owner, &id) {
        return not_found(Flavor::OnPremises);
    }
    tracing::debug!("on-premises media: deleted");
    (StatusCode::OK, Json(json!({"meta": on_premises_meta()}))).into_response()
}

/// `GET /sandbox/media`: the media held, oldest first, without their bytes.
pub(crate) async fn held(State(sandbox): State<Arc<Sandbox>>) -> Json<Vec<HeldMedia>> {
    Json(sandbox.media.list())
}

#[cfg(test)]
mod tests {
    use axum::extract::FromRequest;

    use super::*;

    #[test]
    fn the_store_is_bounded_and_keeps_the_newest() {
        let store = MediaStore::default();
        let owner = Owner::Cloud("1".into());
        let first = store.keep(
            owner.clone(),
            "image/png".into(),
            None,
            Bytes::from_static(b"x"),
        );
        for _ in 0..MEDIA_MAX_FILES {
            store.keep(
                owner.clone(),
                "image/png".into(),
                None,
                Bytes::from_static(b"y"),
            );
        }
        assert_eq!(store.list().len(), MEDIA_MAX_FILES);
        assert!(store.get(&owner, &first).is_none());
        let big = Bytes::from(vec![0u8; MEDIA_MAX_BYTES]);
        let kept = store.keep(owner.clone(), "application/pdf".into(), None, big);
        assert_eq!(store.list().len(), 1);
        assert!(store.get(&owner, &kept).is_some());
        assert!(store.get(&Owner::Cloud("2".into()), &kept).is_none());
    }

    /// The answer's status and JSON body.
    async fn answered(response: Response) -> (StatusCode, Value) {
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a body");
        (status, serde_json::from_slice(&body).expect("JSON"))
    }

    fn authorized(content_type: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer sandbox-token"),
        );
        if let Some(content_type) = content_type {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_str(content_type).expect("a header value"),
            );
        }
        headers
    }

    /// A Cloud upload's multipart body of `parts` (name, content), and its headers.
    async fn multipart(parts: &[(&str, &str)]) -> (HeaderMap, UploadBody) {
        const BOUNDARY: &str = "x-boundary";
        let mut body = String::new();
        for (name, content) in parts {
            let disposition = match *name {
                "file" => "form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png",
                _ => &format!("form-data; name=\"{name}\""),
            };
            body.push_str(&format!(
                "--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n{content}\r\n"
            ));
        }
        body.push_str(&format!("--{BOUNDARY}--\r\n"));
        let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
        let request = axum::http::Request::builder()
            .header(header::CONTENT_TYPE, &content_type)
            .body(Body::from(body))
            .expect("a request");
        let multipart = Multipart::from_request(request, &()).await;
        (
            authorized(Some(&content_type)),
            UploadBody::Multipart(multipart),
        )
    }

    #[tokio::test]
    async fn uploads_are_kept_or_refused_in_their_flavors_shape() {
        let sandbox = Sandbox::new(super::super::SandboxConfig::default());
        let cloud = Account::Cloud {
            phone_number_id: "1",
        };
        let root = sandbox.installations.root();
        let on_premises = Account::OnPremises(&root);

        let (headers, body) = multipart(&[
            ("messaging_product", "whatsapp"),
            ("type", "image/png"),
            ("file", "png"),
        ])
        .await;
        let (status, answer) = answered(upload(&sandbox, cloud, &headers, body).await).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let id = answer["id"].as_str().expect("an id");
        assert!(sandbox.media.may_send(cloud, id));
        for (parts, details) in [
            (
                &[("type", "image/png"), ("file", "png")][..],
                "messaging_product must be whatsapp",
            ),
            (
                &[("messaging_product", "whatsapp"), ("file", "png")],
                "The parameter type is required",
            ),
            (
                &[("messaging_product", "whatsapp"), ("type", "image/png")],
                "The parameter file is required",
            ),
        ] {
            let (headers, body) = multipart(parts).await;
            let (status, answer) = answered(upload(&sandbox, cloud, &headers, body).await).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
            assert_eq!(answer["error"]["code"], 100, "{answer}");
            assert_eq!(answer["error"]["error_data"]["details"], details);
        }
        let not_multipart =
            Multipart::from_request(axum::http::Request::new(Body::from("png")), &()).await;
        let body = UploadBody::Multipart(not_multipart);
        let (status, answer) =
            answered(upload(&sandbox, cloud, &authorized(None), body).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_eq!(
            answer["error"]["error_data"]["details"],
            "The request is not multipart/form-data"
        );

        let raw = || UploadBody::Raw(Ok(Bytes::from_static(b"png")));
        let headers = authorized(Some("image/png"));
        let (status, answer) = answered(upload(&sandbox, on_premises, &headers, raw()).await).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        let id = answer["media"][0]["id"].as_str().expect("an id");
        assert!(sandbox.media.may_send(on_premises, id));
        assert!(answer["meta"].is_object(), "{answer}");
        for (headers, body, details) in [
            (authorized(None), raw(), "Content-Type is required"),
            (
                authorized(Some("image/png")),
                UploadBody::Raw(Ok(Bytes::new())),
                "The media body is empty or incomplete",
            ),
        ] {
            let (status, answer) =
                answered(upload(&sandbox, on_premises, &headers, body).await).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
            assert_eq!(answer["errors"][0]["code"], 1009, "{answer}");
            assert_eq!(answer["errors"][0]["details"], details);
        }

        // No token: refused before the body is read, in each flavor's shape.
        let mut headers = authorized(Some("image/png"));
        headers.remove(header::AUTHORIZATION);
        let (status, _) = answered(upload(&sandbox, on_premises, &headers, raw()).await).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (_, body) = multipart(&[]).await;
        let (status, _) = answered(upload(&sandbox, cloud, &headers, body).await).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(sandbox.media.list().len(), 2);
    }

    #[test]
    fn messages_may_name_held_ids_and_foreign_ones() {
        let sandbox = Sandbox::new(super::super::SandboxConfig::default());
        let account = Account::Cloud {
            phone_number_id: "1",
        };
        let id = sandbox.media.keep(
            Owner::of(account),
            "image/png".into(),
            None,
            Bytes::from_static(b"png"),
        );
        assert!(sandbox.media.may_send(account, &id));
        assert!(sandbox.media.may_send(account, "your-media-id"));
        assert!(!sandbox.media.may_send(account, "9900000000000000"));
        let other = Account::Cloud {
            phone_number_id: "2",
        };
        assert!(!sandbox.media.may_send(other, &id));

        let root = sandbox.installations.root();
        let on_premises = Account::OnPremises(&root);
        let id = sandbox.media.keep(
            Owner::of(on_premises),
            "image/png".into(),
            None,
            Bytes::from_static(b"png"),
        );
        assert!(ids::is_sandbox_media_id(false, &id), "{id}");
        assert!(sandbox.media.may_send(on_premises, &id));
        // The documentation's example id is a UUID too, not of the sandbox's.
        assert!(
            sandbox
                .media
                .may_send(on_premises, "f043afd0-f0ae-4b9c-ab3d-696fb4c8cd68")
        );
        assert!(
            !sandbox
                .media
                .may_send(on_premises, "f043afd0-f0ae-4b9c-ab3d-5a4db0c8cd68")
        );
    }
}
