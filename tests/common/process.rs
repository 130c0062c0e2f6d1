//! The service as its own process, the way it runs in production: on a port the OS picks, its log
//! read as it is written, its memory read from `/proc` while tests load it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tonic::transport::Channel;

pub const BINARY: &str = env!("CARGO_BIN_EXE_whatsapp-grpc");

/// A running `whatsapp-grpc serve`, killed when dropped.
pub struct Service {
    child: Child,
    pub address: String,
    log: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Service {
    /// Starts `serve` with `args` and an access token; see [`Service::launch`].
    pub async fn start(args: &[&str]) -> Service {
        let mut command = Command::new(BINARY);
        command
            .arg("serve")
            .args(args)
            .env("WHATSAPP_GRPC_ACCESS_TOKEN", "test-token")
            .env_remove("WHATSAPP_GRPC_USERNAME")
            .env_remove("WHATSAPP_GRPC_PASSWORD")
            .env_remove("WHATSAPP_ACCESS_TOKEN")
            .env_remove("WHATSAPP_USERNAME")
            .env_remove("WHATSAPP_PASSWORD");
        Service::launch(command).await
    }

    /// Runs `command` (the binary with `serve` and its flags) listening on `127.0.0.1:0`, and waits
    /// for the log line that names the port the OS chose. Asking the OS, rather than guessing a free
    /// port beforehand, cannot race with other tests' connections taking that port meanwhile.
    /// The service logs at `info` (nothing per message), as in production.
    pub async fn launch(mut command: Command) -> Service {
        let mut child = command
            .args(["--listen", "127.0.0.1:0", "--log-format", "json"])
            .env("RUST_LOG", "whatsapp_grpc=info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(String::new()));
        let (found, listening) = std::sync::mpsc::channel();
        // Reads the log to its end, so the service never blocks on a full pipe.
        let reader = std::thread::spawn({
            let log = log.clone();
            move || {
                let mut found = Some(found);
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) else {
                        log.lock().unwrap().push_str(&format!("{line}\n"));
                        continue;
                    };
                    // Logged first, so that the serving line is in the log once `launch` returns.
                    log.lock()
                        .unwrap()
                        .push_str(&format!("{}\n", readable(&event)));
                    if event["message"] == "whatsapp-grpc serving"
                        && let (Some(found), Some(address)) =
                            (found.take(), event["listen"].as_str())
                    {
                        let _ = found.send(address.to_string());
                    }
                }
            }
        });
        let address =
            tokio::task::spawn_blocking(move || listening.recv_timeout(Duration::from_secs(30)))
                .await
                .expect("the log reader");
        let mut service = Service {
            child,
            address: String::new(),
            log,
            reader: Some(reader),
        };
        match address {
            Ok(address) => service.address = address,
            Err(_) => panic!("the service never listened; its log:\n{}", service.log()),
        }
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

    /// What the service logged so far, one event per line, each as its values (strings unquoted)
    /// so tests can look for the words an operator would read.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits (at most `limit`) until the log holds a line with every one of `words`, and returns
    /// that line; panics with the whole log if none comes.
    pub async fn wait_for_log_line(&self, words: &[&str], limit: Duration) -> String {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let log = self.log();
            if let Some(line) = log
                .lines()
                .find(|line| words.iter().all(|word| line.contains(word)))
            {
                return line.to_owned();
            }
            if tokio::time::Instant::now() > deadline {
                panic!("no log line with {words:?} within {limit:?}; the log:\n{log}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends `signal` (`TERM`, `HUP`) to the process.
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -{signal}");
    }

    /// Sends SIGTERM and waits (at most 30 s) for the process to exit; returns how it exited and
    /// its whole log.
    pub async fn terminate(mut self) -> (ExitStatus, String) {
        self.signal("TERM");
        self.exit_within(Duration::from_secs(30)).await
    }

    /// Waits for the process to exit by itself; returns how it exited and its whole log. Panics
    /// with the log if it has not exited within `limit`.
    pub async fn exit_within(&mut self, limit: Duration) -> (ExitStatus, String) {
        let deadline = tokio::time::Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("waits") {
                break status;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "the service did not exit within {limit:?}; its log:\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        // The pipe closed with the process: the reader has the whole log.
        if let Some(reader) = self.reader.take() {
            let _ = tokio::task::spawn_blocking(move || reader.join()).await;
        }
        (status, self.log())
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

/// One JSON log event as `key=value` pairs, strings unquoted.
fn readable(event: &serde_json::Value) -> String {
    let Some(fields) = event.as_object() else {
        return event.to_string();
    };
    fields
        .iter()
        .map(|(key, value)| match value.as_str() {
            Some(text) => format!("{key}={text}"),
            None => format!("{key}={value}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
