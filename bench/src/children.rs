//! The processes a run starts (the stub, the servers under test), each on a port the OS picks and
//! reports, each killed when its handle is dropped: at the end of its measurements, or on any error
//! or panic of the bench.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a process gets to report the address it listens on.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// The last lines of a process's output kept for an error message.
const LOG_LINES: usize = 40;

/// A running process under measurement, killed on drop.
pub struct Process {
    pub name: String,
    pub address: SocketAddr,
    child: Child,
    /// Held open: the bench's own helpers exit when it closes (the bench died without dropping).
    _stdin: Option<ChildStdin>,
    log: Arc<Mutex<Vec<String>>>,
}

/// Which stream carries the address, and how it is written.
enum Announce {
    /// `listening 127.0.0.1:PORT` on stdout: the bench's own helpers.
    Stdout,
    /// The service's JSON log on stderr: `{"message":"whatsapp-grpc serving","listen":"…"}`.
    ServiceLog,
}

impl Process {
    /// Starts this bench binary again in a helper role (`stub`, `bare`, `facade …`).
    pub fn helper(name: &str, args: &[&str]) -> Result<Process, String> {
        let exe = std::env::current_exe().map_err(|e| format!("the bench's own path: {e}"))?;
        let mut command = Command::new(exe);
        command.args(args);
        Process::start(name, command, Announce::Stdout)
    }

    /// Starts `whatsapp-grpc serve` with `args`, its environment cleared of `WHATSAPP_*` settings
    /// the caller may have, plus `env`.
    pub fn service(
        binary: &Path,
        args: &[String],
        env: &[(&str, &str)],
    ) -> Result<Process, String> {
        let mut command = Command::new(binary);
        command.arg("serve").args(args);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("WHATSAPP_") {
                command.env_remove(key);
            }
        }
        command.env_remove("RUST_LOG");
        command.envs(env.iter().copied());
        Process::start("service", command, Announce::ServiceLog)
    }

    fn start(name: &str, mut command: Command, announce: Announce) -> Result<Process, String> {
        let (stdout, stderr) = match announce {
            Announce::Stdout => (Stdio::piped(), Stdio::inherit()),
            Announce::ServiceLog => (Stdio::null(), Stdio::piped()),
        };
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("{name} does not start: {e}"))?;
        let stdin = child.stdin.take();
        let output: Box<dyn Read + Send> = match announce {
            Announce::Stdout => Box::new(child.stdout.take().ok_or("stdout is piped")?),
            Announce::ServiceLog => Box::new(child.stderr.take().ok_or("stderr is piped")?),
        };
        let log = Arc::new(Mutex::new(Vec::new()));
        let (found, listening) = mpsc::channel();
        // Reads the output to its end, so the process never blocks on a full pipe.
        std::thread::spawn({
            let log = log.clone();
            move || {
                let mut found = Some(found);
                for line in BufReader::new(output).lines().map_while(Result::ok) {
                    let address = match announce {
                        Announce::Stdout => line.strip_prefix("listening ").map(str::to_string),
                        Announce::ServiceLog => serving_address(&line),
                    };
                    if let (Some(address), Some(found)) = (address, found.take()) {
                        let _ = found.send(address);
                    }
                    if let Ok(mut log) = log.lock() {
                        if log.len() == LOG_LINES {
                            log.remove(0);
                        }
                        log.push(line);
                    }
                }
            }
        });
        let mut process = Process {
            name: name.to_string(),
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
            child,
            _stdin: stdin,
            log,
        };
        let address = listening.recv_timeout(START_TIMEOUT).map_err(|error| {
            let closed = error == mpsc::RecvTimeoutError::Disconnected;
            // Its output closed: it is exiting; give it a moment to be reaped.
            for _ in 0..if closed { 100 } else { 0 } {
                if let Ok(Some(_)) = process.child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let exited = match process.child.try_wait() {
                Ok(Some(status)) => format!("it exited ({status})"),
                _ if closed => "it closed its output without listening".to_string(),
                _ => format!("it did not listen within {START_TIMEOUT:?}"),
            };
            format!(
                "{name} did not start: {exited}; its output:\n{}",
                process.log()
            )
        })?;
        process.address = address
            .parse()
            .map_err(|e| format!("{name} reported the address {address:?}: {e}"))?;
        Ok(process)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Fails if the process has exited.
    pub fn check_alive(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!(
                "{} exited during the run ({status}); its output:\n{}",
                self.name,
                self.log()
            )),
            Err(e) => Err(format!("{}: {e}", self.name)),
        }
    }

    fn log(&self) -> String {
        self.log
            .lock()
            .map(|log| log.join("\n"))
            .unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `listen` of the service's "whatsapp-grpc serving" JSON log line.
fn serving_address(line: &str) -> Option<String> {
    let event: serde_json::Value = serde_json::from_str(line).ok()?;
    let fields = event.get("fields").unwrap_or(&event);
    (fields.get("message")?.as_str()? == "whatsapp-grpc serving")
        .then(|| fields.get("listen")?.as_str().map(str::to_string))
        .flatten()
}

/// In a helper: prints the address for the bench, and exits when the bench closes standard input
/// (it ended, or died without killing its helpers).
pub fn announce(address: SocketAddr) {
    println!("listening {address}");
    std::thread::spawn(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
        std::process::exit(0);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_services_serving_line_gives_its_address() {
        let line = r#"{"timestamp":"t","level":"INFO","fields":{"message":"whatsapp-grpc serving","listen":"127.0.0.1:40123","senders":8}}"#;
        assert_eq!(serving_address(line).as_deref(), Some("127.0.0.1:40123"));
        let flat = r#"{"message":"whatsapp-grpc serving","listen":"127.0.0.1:1"}"#;
        assert_eq!(serving_address(flat).as_deref(), Some("127.0.0.1:1"));
        assert_eq!(
            serving_address(r#"{"fields":{"message":"sending from"}}"#),
            None
        );
        assert_eq!(serving_address("not json"), None);
    }
}
