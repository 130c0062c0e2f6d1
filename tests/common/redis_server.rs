//! A real `redis-server` on a free loopback port, without persistence, stopped when dropped. A
//! missing `redis-server` fails the test: `.ci/run` installs it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    child: Child,
    pub port: u16,
}

impl RedisServer {
    /// Starts one and waits (at most 10 s) until it answers PING. The port is picked free and
    /// then handed to Redis; if another socket took it meanwhile, Redis exits and another port is
    /// tried.
    pub fn start() -> RedisServer {
        for _ in 0..5 {
            let port = {
                let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
                listener.local_addr().expect("address").port()
            };
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|error| {
                    panic!("redis-server cannot start ({error}): install it (apt-get install -y redis-server)")
                });
            let mut server = RedisServer { child, port };
            let started = Instant::now();
            loop {
                if server.answers() {
                    return server;
                }
                if let Ok(Some(_)) = server.child.try_wait() {
                    break; // the port was taken: try another
                }
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "redis-server on port {port} never answered PING"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("redis-server could not listen on a free port in 5 tries");
    }

    /// The store URL of database 0.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// A connection of the test's own, to inspect what the service did.
    pub async fn admin(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .expect("a client")
            .get_multiplexed_async_connection()
            .await
            .expect("an admin connection")
    }

    fn answers(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let mut answer = [0u8; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut answer).is_ok()
            && &answer == b"+PONG\r\n"
    }

    /// Kills it and waits until it is gone.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
