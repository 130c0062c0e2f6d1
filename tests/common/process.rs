//! The service as its own process, the way it runs in production, so its memory can be read from
//! `/proc` while tests load it.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tonic::transport::Channel;

const BINARY: &str = env!("CARGO_BIN_EXE_whatsapp-grpc");

/// A running `whatsapp-grpc serve`, killed when dropped.
pub struct Service {
    pub child: Child,
    pub address: String,
}

impl Service {
    /// Starts `serve` with `args` (and an access token) and waits until it accepts connections.
    pub async fn start(args: &[&str]) -> Service {
        let address = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().to_string()
        };
        let child = Command::new(BINARY)
            .arg("serve")
            .args(["--listen", &address])
            .args(args)
            .env("WHATSAPP_ACCESS_TOKEN", "test-token")
            .env_remove("WHATSAPP_USERNAME")
            .env_remove("WHATSAPP_PASSWORD")
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the binary starts");
        let service = Service { child, address };
        let up = tokio::time::timeout(Duration::from_secs(30), async {
            while tokio::net::TcpStream::connect(&service.address)
                .await
                .is_err()
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        assert!(up.is_ok(), "the service never listened");
        service
    }

    /// A new gRPC connection to the service.
    pub async fn channel(&self) -> Channel {
        tonic::transport::Endpoint::from_shared(format!("http://{}", self.address))
            .unwrap()
            .connect()
            .await
            .expect("connects")
    }

    /// The peak resident memory of the process so far (`VmHWM`), in bytes.
    pub fn peak_memory(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("/proc/PID/status");
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM");
        kib * 1024
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
