//! An API address no connection is ever made to: a listener whose one-connection backlog is full
//! and which accepts nothing, so the kernel drops further SYNs and each attempt to connect lasts
//! until its timeout. Also compiled into the library's unit tests (`#[path]`).

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket, TcpStream};

/// Keeps the address unconnectable while alive.
pub struct Unconnectable {
    pub address: SocketAddr,
    _listener: TcpListener,
    _queued: TcpStream,
}

/// A new unconnectable address on loopback.
pub async fn unconnectable() -> Unconnectable {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.1:0".parse().expect("address"))
        .expect("bind");
    let listener = socket.listen(0).expect("listen");
    let address = listener.local_addr().expect("address");
    let queued = TcpStream::connect(address).await.expect("queued");
    Unconnectable {
        address,
        _listener: listener,
        _queued: queued,
    }
}
