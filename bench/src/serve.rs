//! How the bench's own gRPC servers (the bare server, the facade) serve: on a loopback port the OS
//! picks, announced to the bench, with tonic's default server settings and `TCP_NODELAY`.

use std::net::SocketAddr;

use tonic::transport::server::TcpIncoming;

use crate::pb::messaging_service_server::{MessagingService, MessagingServiceServer};

/// Serves `service` until the process ends; `name` ("the facade") says who in an error.
pub async fn messaging<S: MessagingService>(name: &str, service: S) -> Result<(), String> {
    let incoming = TcpIncoming::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .map_err(|e| format!("{name} cannot listen: {e}"))?
        .with_nodelay(Some(true));
    crate::children::announce(incoming.local_addr().map_err(|e| e.to_string())?);
    tonic::transport::Server::builder()
        .add_service(MessagingServiceServer::new(service))
        .serve_with_incoming(incoming)
        .await
        .map_err(|e| format!("{name}: {e}"))
}
