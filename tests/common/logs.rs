//! The log lines of a test binary, captured as JSON, to check what they say and what they never say.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

/// Every line the binary's subscriber wrote.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// The lines so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs, once for the test binary, a JSON subscriber with `filter` that writes into the
/// returned buffer; later calls get the same buffer (and the first call's filter).
pub fn capture(filter: &str) -> Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .json()
            .with_writer(move || writer.clone())
            .init();
        captured
    })
    .clone()
}
