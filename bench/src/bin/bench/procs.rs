//! Servers under test: spawning on a free loopback port, waiting for the
//! first `200`, reading `/proc`, and stopping them (always: a dropped
//! [`Running`] is killed and reaped).

use std::fs::OpenOptions;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::Fail;
use crate::client::Client;

/// Settings that the project's functions read: cleared for every server so
/// that the caller's environment never changes what is measured.
const CLEARED_ENV: &[&str] = &[
    "REDIS_URL",
    "KV_URL",
    "REDIS_KEY_PREFIX",
    "API_TOKEN",
    "CORS_ALLOW_ORIGINS",
    "VERCEL_IPC_PATH",
    "VERCEL_DEV",
    "VERCEL_DEV_PORT",
];

/// How to start one server.
#[derive(Clone, Debug)]
pub struct Spec {
    /// Short name, used in the table and the JSON.
    pub name: &'static str,
    /// The program and its arguments.
    pub argv: Vec<String>,
    /// Extra environment.
    pub env: Vec<(String, String)>,
    /// The path measured (`/api/geo` or a users page).
    pub path: String,
}

impl Spec {
    /// A server run as `program` with no arguments.
    pub fn new(name: &'static str, program: &Path, path: &str) -> Self {
        Self {
            name,
            argv: vec![program.display().to_string()],
            env: Vec::new(),
            path: path.to_owned(),
        }
    }

    /// Adds an environment variable.
    pub fn with_env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }
}

/// A server that was spawned. Dropping it kills and reaps it.
pub struct Running {
    child: Option<Child>,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// The name of its spec.
    pub name: &'static str,
    /// Just before the `spawn` system call.
    pub spawned_at: Instant,
}

/// A free port on 127.0.0.1 (the kernel picks it; the listener is closed
/// before the server binds it).
pub fn free_port() -> Result<u16, Fail> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// Spawns `spec` on a free port, pinned with `taskset -c <cpu>` when given.
/// Standard output is dropped; standard error goes to `logs/<name>.stderr`.
pub fn spawn(spec: &Spec, cpu: Option<u32>, logs: &Path) -> Result<Running, Fail> {
    let port = free_port()?;
    let mut argv: Vec<String> = Vec::new();
    if let Some(cpu) = cpu {
        argv.extend(["taskset".into(), "-c".into(), cpu.to_string()]);
    }
    argv.extend(spec.argv.iter().cloned());
    let stderr = OpenOptions::new()
        .create(true)
        .append(true)
        .open(logs.join(format!("{}.stderr", spec.name)))?;
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    for key in CLEARED_ENV {
        cmd.env_remove(key);
    }
    cmd.env("VERCEL_DEV_PORT", port.to_string());
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    let spawned_at = Instant::now();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("{}: cannot spawn {}: {e}", spec.name, argv[0]))?;
    Ok(Running {
        child: Some(child),
        port,
        name: spec.name,
        spawned_at,
    })
}

impl Running {
    /// The process id (`taskset` execs the program, so it is the server's).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Sends `GET path` on fresh connections until one answers `200`, with a
    /// 20 µs pause between attempts; fails when the server exits, or answers
    /// no `200` before `limit`.
    pub fn until_200(&mut self, path: &str, limit: Duration) -> Result<(), Fail> {
        let deadline = Instant::now() + limit;
        let mut last;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                return Err(format!(
                    "{} exited ({status}) before answering 200 on {path}",
                    self.name
                )
                .into());
            }
            match Client::connect(self.port, Duration::from_secs(5)) {
                Ok(mut c) => match c.get(path) {
                    Ok(r) if r.status == 200 => return Ok(()),
                    Ok(r) => last = format!("status {}", r.status),
                    Err(e) => last = e.to_string(),
                },
                Err(e) => last = e.to_string(),
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} did not answer 200 on {path} within {limit:?} (last: {last})",
                    self.name
                )
                .into());
            }
            std::thread::sleep(Duration::from_micros(20));
        }
    }

    /// SIGTERM, then up to 5 s for the process to exit (SIGKILL after).
    pub fn stop(mut self) -> Result<(), Fail> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if child.try_wait()?.is_some() {
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{} did not exit within 5 s of SIGTERM", self.name).into());
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// User plus system CPU time of a process, in clock ticks (fields 14 and
/// 15 of `/proc/PID/stat`, counted after the command name's closing paren).
pub fn cpu_ticks(pid: u32) -> Result<u64, Fail> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or("malformed /proc/PID/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the paren: field 3 (state) is index 0, so utime (14) is index 11.
    let utime: u64 = fields.get(11).ok_or("no utime")?.parse()?;
    let stime: u64 = fields.get(12).ok_or("no stime")?.parse()?;
    Ok(utime + stime)
}

/// `kB` lines (`VmRSS`, `VmHWM`, `RssAnon`, ...) of `/proc/PID/status`, in
/// KiB, in the order of `keys`, all from one read of the file (so from the
/// same moment).
pub fn status_kib<const N: usize>(pid: u32, keys: [&str; N]) -> Result<[u64; N], Fail> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse_status_kib(&status, keys).map_err(|key| format!("no {key} in /proc/{pid}/status").into())
}

/// The values of `keys` in the text of a `/proc/PID/status`; the first
/// missing key as the error.
fn parse_status_kib<'k, const N: usize>(
    status: &str,
    keys: [&'k str; N],
) -> Result<[u64; N], &'k str> {
    let mut out = [0; N];
    for (slot, key) in out.iter_mut().zip(keys) {
        *slot = status
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .ok_or(key)?;
    }
    Ok(out)
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 when it cannot say).
pub fn clock_ticks_per_sec() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Finds `name` on `PATH`.
pub fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tusers\nVmHWM:\t    5040 kB\nVmRSS:\t    4200 kB\n\
RssAnon:\t     404 kB\nRssFile:\t    3796 kB\nRssShmem:\t       0 kB\n";

    #[test]
    fn reads_status_lines_in_the_order_asked() {
        assert_eq!(
            parse_status_kib(STATUS, ["VmRSS", "RssAnon", "RssFile"]),
            Ok([4200, 404, 3796])
        );
        assert_eq!(parse_status_kib(STATUS, ["VmHWM"]), Ok([5040]));
    }

    #[test]
    fn a_missing_status_line_is_named() {
        assert_eq!(parse_status_kib(STATUS, ["VmRSS", "VmSwap"]), Err("VmSwap"));
    }

    #[test]
    fn reads_its_own_status() {
        let [rss, anon, file] =
            status_kib(std::process::id(), ["VmRSS", "RssAnon", "RssFile"]).unwrap();
        assert!(rss > 0 && anon > 0 && file > 0);
        assert!(anon + file <= rss + 4, "{anon} + {file} vs {rss}");
    }
}
