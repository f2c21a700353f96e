//! Our own `redis-server`: a free loopback port, a temporary folder, no
//! persistence, pinned with the servers under test to CPU 0. Never the
//! machine's own Redis. Stopped (and its folder removed) on drop.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::Fail;
use crate::procs::free_port;

/// A running `redis-server`.
pub struct Redis {
    child: Option<Child>,
    _dir: tempfile::TempDir,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl Redis {
    /// Starts `redis-server` and waits (at most 10 s) until it answers `PING`.
    pub fn start(program: &Path) -> Result<Self, Fail> {
        let dir = tempfile::Builder::new().prefix("bench-redis-").tempdir()?;
        let port = free_port()?;
        let child = Command::new("taskset")
            .args(["-c", "0"])
            .arg(program)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start redis-server: {e}"))?;
        let mut redis = Self {
            child: Some(child),
            _dir: dir,
            port,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if redis.ping() {
                return Ok(redis);
            }
            if let Some(child) = redis.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                return Err(format!("redis-server exited at start ({status})").into());
            }
            if Instant::now() > deadline {
                return Err("redis-server did not answer PING within 10 s".into());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The URL the store and the functions use.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn ping(&self) -> bool {
        let Ok(mut s) = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
        let mut buf = [0u8; 16];
        s.write_all(b"PING\r\n").is_ok()
            && s.read(&mut buf)
                .is_ok_and(|n| buf[..n].starts_with(b"+PONG"))
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(3);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
