//! Warm load: the server pinned to CPU 0, `wrk` (64 connections, one
//! thread) pinned to CPU 1; throughput, p50/p99, CPU time per request from
//! `/proc/PID/stat`, `VmRSS` (with its `RssAnon` and `RssFile` parts) after
//! the first request and `VmHWM` after the load.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::Fail;
use crate::procs::{Spec, clock_ticks_per_sec, cpu_ticks, spawn, status_kib};

/// How a load is run.
#[derive(Clone, Copy)]
pub struct LoadParams {
    /// Open connections.
    pub connections: u32,
    /// Length of the load.
    pub duration: Duration,
}

/// What one warm run measured.
#[derive(Serialize, Clone)]
pub struct Warm {
    /// The server.
    pub name: &'static str,
    /// Requests answered during the load (wrk's count).
    pub requests: u64,
    /// Requests per second.
    pub rps: f64,
    /// Median latency, µs.
    pub p50_us: f64,
    /// 99th percentile latency, µs.
    pub p99_us: f64,
    /// Server CPU time (user + system) per request, µs.
    pub cpu_us_per_req: f64,
    /// `VmRSS` right after the first `200`, KiB.
    pub rss_first_kib: u64,
    /// `RssAnon` at the same moment (heap, stacks, the binary's written
    /// data: private anonymous memory), KiB.
    pub anon_first_kib: u64,
    /// `RssFile` at the same moment (resident pages of the binary and of
    /// the shared libraries, mostly code and read-only data), KiB.
    pub file_first_kib: u64,
    /// `VmHWM` after the load, KiB.
    pub hwm_kib: u64,
}

/// What is read from wrk's report.
#[derive(Debug, PartialEq)]
pub struct WrkReport {
    /// `N requests in ...`.
    pub requests: u64,
    /// `Requests/sec:`.
    pub rps: f64,
    /// The `50%` line, µs.
    pub p50_us: f64,
    /// The `99%` line, µs.
    pub p99_us: f64,
    /// `Non-2xx or 3xx responses:` (0 when absent).
    pub non_2xx: u64,
    /// The sum of `Socket errors:` (0 when absent).
    pub socket_errors: u64,
}

/// A wrk duration (`512.00us`, `1.20ms`, `2.00s`, `1.00m`) in µs.
fn wrk_time_us(s: &str) -> Option<f64> {
    let split = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (n, unit) = s.split_at(split);
    let n: f64 = n.parse().ok()?;
    let scale = match unit {
        "ns" => 1e-3,
        "us" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" => 60e6,
        "h" => 3600e6,
        _ => return None,
    };
    Some(n * scale)
}

/// Reads wrk's `--latency` report.
pub fn parse_wrk(out: &str) -> Result<WrkReport, Fail> {
    let mut requests = None;
    let mut rps = None;
    let mut p50 = None;
    let mut p99 = None;
    let mut non_2xx = 0;
    let mut socket_errors = 0;
    for line in out.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["50%", t] => p50 = wrk_time_us(t),
            ["99%", t] => p99 = wrk_time_us(t),
            ["Requests/sec:", n] => rps = n.parse().ok(),
            [n, "requests", "in", ..] => requests = n.parse().ok(),
            ["Non-2xx", "or", "3xx", "responses:", n] => non_2xx = n.parse()?,
            ["Socket", "errors:", rest @ ..] => {
                socket_errors = rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum();
            }
            _ => {}
        }
    }
    match (requests, rps, p50, p99) {
        (Some(requests), Some(rps), Some(p50_us), Some(p99_us)) => Ok(WrkReport {
            requests,
            rps,
            p50_us,
            p99_us,
            non_2xx,
            socket_errors,
        }),
        _ => Err(format!("cannot read wrk's report:\n{out}").into()),
    }
}

/// Runs wrk against `127.0.0.1:port path`, bounded by the load plus 30 s.
fn wrk(port: u16, path: &str, p: LoadParams) -> Result<WrkReport, Fail> {
    let secs = p.duration.as_secs().max(1);
    let mut child = Command::new("taskset")
        .args(["-c", "1", "wrk", "-t1"])
        .arg(format!("-c{}", p.connections))
        .arg(format!("-d{secs}s"))
        .args(["--timeout", "5s", "--latency"])
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run wrk: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(secs + 30);
    while child.try_wait()?.is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err("wrk did not finish in time".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "wrk failed ({}): {}{}",
            out.status,
            text,
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    parse_wrk(&text)
}

/// One warm run of `spec`: spawn pinned, first request, load, stop.
pub fn run(spec: &Spec, p: LoadParams, logs: &Path) -> Result<Warm, Fail> {
    let mut server = spawn(spec, Some(0), logs)?;
    server.until_200(&spec.path, Duration::from_secs(10))?;
    let pid = server.pid();
    let [rss_first_kib, anon_first_kib, file_first_kib] =
        status_kib(pid, ["VmRSS", "RssAnon", "RssFile"])?;
    let before = cpu_ticks(pid)?;
    let report = wrk(server.port, &spec.path, p)?;
    let after = cpu_ticks(pid)?;
    let [hwm_kib] = status_kib(pid, ["VmHWM"])?;
    server.stop()?;
    if report.non_2xx > 0 {
        return Err(format!(
            "{}: {} of {} responses were not 2xx",
            spec.name, report.non_2xx, report.requests
        )
        .into());
    }
    if report.requests == 0 || report.socket_errors * 100 > report.requests {
        return Err(format!(
            "{}: {} socket errors for {} requests",
            spec.name, report.socket_errors, report.requests
        )
        .into());
    }
    let cpu_s = (after - before) as f64 / clock_ticks_per_sec();
    Ok(Warm {
        name: spec.name,
        requests: report.requests,
        rps: report.rps,
        p50_us: report.p50_us,
        p99_us: report.p99_us,
        cpu_us_per_req: cpu_s * 1e6 / report.requests as f64,
        rss_first_kib,
        anon_first_kib,
        file_first_kib,
        hwm_kib,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Running 2s test @ http://127.0.0.1:1/api/geo
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   512.00us  100.00us   3.00ms   90.00%
    Req/Sec   120.00k     5.00k  130.00k    80.00%
  Latency Distribution
     50%  480.00us
     75%  520.00us
     90%  600.00us
     99%    1.20ms
  240000 requests in 2.00s, 40.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
Requests/sec: 120000.50
Transfer/sec:     20.00MB
";

    #[test]
    fn reads_wrk_report() {
        let r = parse_wrk(SAMPLE).unwrap();
        assert_eq!(r.requests, 240_000);
        assert_eq!(r.rps, 120_000.5);
        assert_eq!(r.p50_us, 480.0);
        assert_eq!(r.p99_us, 1200.0);
        assert_eq!(r.socket_errors, 3);
        assert_eq!(r.non_2xx, 0);
    }

    #[test]
    fn a_report_without_latency_is_an_error() {
        assert!(parse_wrk("1 requests in 1s\nRequests/sec: 1\n").is_err());
    }
}
