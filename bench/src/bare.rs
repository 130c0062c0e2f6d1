//! The ceiling of gRPC on this machine: a tonic server (tonic-prost's codec, default settings) that
//! answers `SendMessage` at once, with no validation and no upstream.

use crate::proto;
use tonic::Status;

use crate::serve::SendOnly;

struct Bare;

impl SendOnly for Bare {
    async fn send(
        &self,
        _request: proto::SendMessageRequest,
    ) -> Result<proto::SendMessageResponse, Status> {
        Ok(proto::SendMessageResponse {
            message_id: "wamid.BARE".into(),
            message_status: proto::MessageStatus::Accepted as i32,
            ..Default::default()
        })
    }
}

pub async fn run() -> Result<(), String> {
    crate::serve::messaging("the bare server", Bare).await
}
