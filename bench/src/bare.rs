//! The ceiling of gRPC on this machine: a tonic server (tonic-prost's codec, default settings) that
//! answers `SendMessage` at once, with no validation and no upstream.

use std::net::SocketAddr;

use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};
use whatsapp_grpc::proto;

use crate::pb::messaging_service_server::{MessagingService, MessagingServiceServer};

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
    let incoming = TcpIncoming::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .map_err(|e| format!("the bare server cannot listen: {e}"))?
        .with_nodelay(Some(true));
    crate::children::announce(incoming.local_addr().map_err(|e| e.to_string())?);
    tonic::transport::Server::builder()
        .add_service(MessagingServiceServer::new(Bare))
        .serve_with_incoming(incoming)
        .await
        .map_err(|e| format!("the bare server: {e}"))
}
