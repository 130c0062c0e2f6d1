//! The ceiling of gRPC on this machine: a tonic server (tonic-prost's codec, default settings) that
//! answers `SendMessage` at once, with no validation and no upstream.

use tonic::{Request, Response, Status};
use whatsapp_grpc::proto;

use crate::pb::messaging_service_server::MessagingService;

struct Bare;

#[tonic::async_trait]
impl MessagingService for Bare {
    async fn send_message(
        &self,
        _request: Request<proto::SendMessageRequest>,
    ) -> Result<Response<proto::SendMessageResponse>, Status> {
        Ok(Response::new(proto::SendMessageResponse {
            message_id: "wamid.BARE".into(),
            message_status: proto::MessageStatus::Accepted as i32,
            ..Default::default()
        }))
    }

    async fn mark_message_read(
        &self,
        _request: Request<proto::MarkMessageReadRequest>,
    ) -> Result<Response<proto::MarkMessageReadResponse>, Status> {
        Err(Status::unimplemented("not in the bench"))
    }

    async fn list_senders(
        &self,
        _request: Request<proto::ListSendersRequest>,
    ) -> Result<Response<proto::ListSendersResponse>, Status> {
        Err(Status::unimplemented("not in the bench"))
    }
}

pub async fn run() -> Result<(), String> {
    crate::serve::messaging("the bare server", Bare).await
}
