//! How the bench's own gRPC servers (the bare server, the facade, the floor) serve: `SendMessage`
//! only, on a loopback port the OS picks, announced to the bench, with tonic's default server
//! settings and `TCP_NODELAY`.

use std::future::Future;
use std::net::SocketAddr;

use crate::proto;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};

use crate::proto::messaging_service_server::{MessagingService, MessagingServiceServer};

/// A reference server's one call.
pub trait SendOnly: Send + Sync + 'static {
    fn send(
        &self,
        request: proto::SendMessageRequest,
    ) -> impl Future<Output = Result<proto::SendMessageResponse, Status>> + Send;
}

/// A [`SendOnly`] as a `MessagingService`: its other calls, which the bench never makes, answer
/// UNIMPLEMENTED.
struct Messaging<S>(S);

#[tonic::async_trait]
impl<S: SendOnly> MessagingService for Messaging<S> {
    async fn send_message(
        &self,
        request: Request<proto::SendMessageRequest>,
    ) -> Result<Response<proto::SendMessageResponse>, Status> {
        self.0.send(request.into_inner()).await.map(Response::new)
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

/// Serves `service` until the process ends; `name` ("the facade") says who in an error.
pub async fn messaging<S: SendOnly>(name: &str, service: S) -> Result<(), String> {
    let incoming = TcpIncoming::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .map_err(|e| format!("{name} cannot listen: {e}"))?
        .with_nodelay(Some(true));
    crate::children::announce(incoming.local_addr().map_err(|e| e.to_string())?);
    tonic::transport::Server::builder()
        .add_service(MessagingServiceServer::new(Messaging(service)))
        .serve_with_incoming(incoming)
        .await
        .map_err(|e| format!("{name}: {e}"))
}
