//! The figures: summaries, ratios against the baseline, the targets, the
//! printed table and the JSON.

use std::path::Path;
use std::process::Command;

use serde::Serialize;

use crate::cold::ColdPair;
use crate::load::Warm;
use crate::pages::PageLatency;
use crate::stats::{median, median_ratio};
use crate::{Fail, Params};

const MIB: f64 = 1024.0 * 1024.0;

/// The size of one stripped binary.
#[derive(Serialize)]
pub struct Size {
    /// The binary.
    pub name: &'static str,
    /// Bytes after `strip --strip-all` (of a copy).
    pub bytes: u64,
}

/// Strips a copy of each binary into `dir` and measures it.
pub fn sizes(bins: &[(&'static str, &Path)], dir: &Path) -> Result<Vec<Size>, Fail> {
    std::fs::create_dir_all(dir)?;
    bins.iter()
        .map(|(name, path)| {
            let copy = dir.join(name);
            std::fs::copy(path, &copy)?;
            let status = Command::new("strip")
                .arg("--strip-all")
                .arg(&copy)
                .status()?;
            if !status.success() {
                return Err(format!("strip failed on {name}").into());
            }
            Ok(Size {
                name,
                bytes: std::fs::metadata(&copy)?.len(),
            })
        })
        .collect()
}

/// One server's warm figures: medians over rounds, and medians of the
/// per-round ratios against `baseline-hyper` (its geo answer).
#[derive(Serialize)]
pub struct WarmSummary {
    /// The server.
    pub name: &'static str,
    /// Requests per second.
    pub rps: f64,
    /// Median latency, µs.
    pub p50_us: f64,
    /// 99th percentile latency, µs.
    pub p99_us: f64,
    /// CPU time per request, µs.
    pub cpu_us_per_req: f64,
    /// `VmRSS` after the first request, KiB.
    pub rss_first_kib: f64,
    /// `RssAnon` at the same moment (private anonymous memory), KiB.
    pub anon_first_kib: f64,
    /// `RssFile` at the same moment (file-backed: the binary's and the
    /// libraries' resident pages), KiB.
    pub file_first_kib: f64,
    /// `VmHWM` after the load, KiB.
    pub hwm_kib: f64,
    /// Ratios to the baseline, paired by round.
    pub vs_baseline: Ratios,
}

/// Paired ratios of one server to another.
#[derive(Serialize, Default)]
pub struct Ratios {
    /// Requests per second.
    pub rps: f64,
    /// Median latency.
    pub p50: f64,
    /// 99th percentile latency.
    pub p99: f64,
    /// CPU per request.
    pub cpu_per_req: f64,
    /// `VmRSS` after the first request.
    pub rss_first: f64,
    /// `RssAnon` after the first request.
    pub anon_first: f64,
    /// `RssFile` after the first request.
    pub file_first: f64,
    /// `VmHWM` after the load.
    pub hwm: f64,
}

/// One target: the measured figure, the limit, and whether it holds; or an
/// informational figure printed with the targets (`info`: no limit, always
/// `ok`, never a miss, never fails `--check`).
#[derive(Serialize)]
pub struct Target {
    /// What is compared.
    pub name: String,
    /// The measured ratio (or value).
    pub value: f64,
    /// The limit (`value <= limit`, or `<` for `strict`); `None` for `info`.
    pub limit: Option<f64>,
    /// Whether the limit is exclusive.
    pub strict: bool,
    /// The measured values behind the ratio, for humans.
    pub detail: String,
    /// Whether it holds (always for `info`).
    pub ok: bool,
    /// Informational only: not a target.
    pub info: bool,
}

/// Whether every target holds (`info` lines do not count).
pub fn all_met(targets: &[Target]) -> bool {
    targets.iter().all(|t| t.info || t.ok)
}

/// The machine the run was on.
#[derive(Serialize)]
pub struct Machine {
    /// CPUs the runner sees.
    pub cpus: usize,
    /// `model name` from `/proc/cpuinfo`.
    pub cpu_model: String,
    /// The kernel release.
    pub kernel: String,
    /// `/proc/loadavg` when the run ended: other work on the machine makes
    /// every figure noisier.
    pub loadavg_at_end: String,
}

/// Everything one run measured.
#[derive(Serialize)]
pub struct Results {
    /// The machine.
    pub machine: Machine,
    /// How much was measured.
    pub params: Params,
    /// Stripped binary sizes.
    pub sizes: Vec<Size>,
    /// Cold starts, each paired with the bare baseline.
    pub cold_start: Vec<ColdPair>,
    /// Warm figures per server.
    pub warm: Vec<WarmSummary>,
    /// `users` on Redis against `users` on the embedded store, both under
    /// the same load on the same page, paired by round.
    pub redis_vs_memory_under_load: Option<Ratios>,
    /// Every warm run, round by round.
    pub warm_rounds: Vec<Vec<Warm>>,
    /// Page latency by store size.
    pub page_latency: Vec<PageLatency>,
    /// The targets.
    pub targets: Vec<Target>,
    /// What was left out, and why.
    pub notes: Vec<String>,
    /// Wall time of the run, s.
    pub elapsed_s: f64,
}

fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    Machine {
        cpus: std::thread::available_parallelism().map_or(0, usize::from),
        cpu_model: cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
            .map_or_else(|| "unknown".to_owned(), |(_, v)| v.trim().to_owned()),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_or_else(|_| "unknown".to_owned(), |s| s.trim().to_owned()),
        loadavg_at_end: std::fs::read_to_string("/proc/loadavg")
            .map_or_else(|_| "unknown".to_owned(), |s| s.trim().to_owned()),
    }
}

fn series(rounds: &[Vec<Warm>], name: &str, f: fn(&Warm) -> f64) -> Vec<f64> {
    rounds
        .iter()
        .filter_map(|r| r.iter().find(|w| w.name == name).map(f))
        .collect()
}

fn ratios(rounds: &[Vec<Warm>], a: &str, b: &str) -> Ratios {
    let r = |f: fn(&Warm) -> f64| median_ratio(&series(rounds, a, f), &series(rounds, b, f));
    Ratios {
        rps: r(|w| w.rps),
        p50: r(|w| w.p50_us),
        p99: r(|w| w.p99_us),
        cpu_per_req: r(|w| w.cpu_us_per_req),
        rss_first: r(|w| w.rss_first_kib as f64),
        anon_first: r(|w| w.anon_first_kib as f64),
        file_first: r(|w| w.file_first_kib as f64),
        hwm: r(|w| w.hwm_kib as f64),
    }
}

const BASELINE: &str = "baseline-hyper";

impl Results {
    /// Summarises the raw figures and evaluates the targets.
    pub fn new(
        params: Params,
        sizes: Vec<Size>,
        cold_start: Vec<ColdPair>,
        warm_rounds: Vec<Vec<Warm>>,
        page_latency: Vec<PageLatency>,
        notes: Vec<String>,
        elapsed_s: f64,
    ) -> Self {
        let names: Vec<&'static str> = warm_rounds
            .first()
            .map(|r| {
                let mut n: Vec<_> = r.iter().map(|w| w.name).collect();
                n.sort_by_key(|name| order(name));
                n
            })
            .unwrap_or_default();
        let warm: Vec<WarmSummary> = names
            .iter()
            .map(|&name| {
                let m = |f: fn(&Warm) -> f64| median(&series(&warm_rounds, name, f));
                WarmSummary {
                    name,
                    rps: m(|w| w.rps),
                    p50_us: m(|w| w.p50_us),
                    p99_us: m(|w| w.p99_us),
                    cpu_us_per_req: m(|w| w.cpu_us_per_req),
                    rss_first_kib: m(|w| w.rss_first_kib as f64),
                    anon_first_kib: m(|w| w.anon_first_kib as f64),
                    file_first_kib: m(|w| w.file_first_kib as f64),
                    hwm_kib: m(|w| w.hwm_kib as f64),
                    vs_baseline: ratios(&warm_rounds, name, BASELINE),
                }
            })
            .collect();
        let redis_vs_memory_under_load = names
            .contains(&"users-redis")
            .then(|| ratios(&warm_rounds, "users-redis", "users"));
        let mut results = Self {
            machine: machine(),
            params,
            sizes,
            cold_start,
            warm,
            redis_vs_memory_under_load,
            warm_rounds,
            page_latency,
            targets: Vec::new(),
            notes,
            elapsed_s,
        };
        results.targets = targets(&results);
        results
    }
}

fn order(name: &str) -> usize {
    [
        BASELINE,
        "geo",
        "baseline-vercel",
        "users",
        "users-redis",
        "baseline-node",
    ]
    .iter()
    .position(|n| *n == name)
    .unwrap_or(usize::MAX)
}

fn target(name: &str, value: f64, limit: f64, strict: bool, detail: String) -> Target {
    let ok = if strict {
        value < limit
    } else {
        value <= limit
    };
    Target {
        name: name.to_owned(),
        value,
        limit: Some(limit),
        strict,
        detail,
        ok,
        info: false,
    }
}

/// An informational line among the targets: no limit, never a miss.
fn info(name: &str, value: f64, detail: String) -> Target {
    Target {
        name: name.to_owned(),
        value,
        limit: None,
        strict: false,
        detail,
        ok: true,
        info: true,
    }
}

fn targets(r: &Results) -> Vec<Target> {
    let mut t = Vec::new();
    for name in ["geo", "users"] {
        if let Some(c) = r.cold_start.iter().find(|c| c.name == name) {
            t.push(target(
                &format!("cold start {name} / baseline-hyper"),
                c.ratio,
                1.10,
                false,
                format!("{:.2} ms vs {:.2} ms", c.a_median_ms, c.b_median_ms),
            ));
        }
    }
    let warm = |name: &str| r.warm.iter().find(|w| w.name == name);
    if let (Some(geo), Some(base)) = (warm("geo"), warm(BASELINE)) {
        t.push(target(
            "CPU/request geo / baseline-hyper",
            geo.vs_baseline.cpu_per_req,
            1.10,
            false,
            format!(
                "{:.2} µs vs {:.2} µs",
                geo.cpu_us_per_req, base.cpu_us_per_req
            ),
        ));
    }
    if let (Some(users), Some(base)) = (warm("users"), warm(BASELINE)) {
        t.push(target(
            "CPU/request users page of 20 / baseline-hyper geo",
            users.vs_baseline.cpu_per_req,
            2.0,
            false,
            format!(
                "{:.2} µs vs {:.2} µs",
                users.cpu_us_per_req, base.cpu_us_per_req
            ),
        ));
    }
    if let Some(base) = warm(BASELINE) {
        for name in ["geo", "users"] {
            if let Some(w) = warm(name) {
                t.push(target(
                    &format!("RSS after first request {name} / baseline-hyper"),
                    w.vs_baseline.rss_first,
                    1.3,
                    false,
                    format!(
                        "{:.0} KiB vs {:.0} KiB",
                        w.rss_first_kib, base.rss_first_kib
                    ),
                ));
                t.push(target(
                    &format!("peak RSS under load {name} / baseline-hyper"),
                    w.vs_baseline.hwm,
                    1.3,
                    false,
                    format!("{:.0} KiB vs {:.0} KiB", w.hwm_kib, base.hwm_kib),
                ));
            }
        }
        // Where an RSS difference lies: private anonymous memory (heap,
        // stacks, written data) or the binary's file-backed pages.
        for name in ["geo", "users"] {
            if let Some(w) = warm(name) {
                t.push(info(
                    &format!("private anon memory after first request {name} / baseline-hyper"),
                    w.vs_baseline.anon_first,
                    format!(
                        "{:.0} KiB vs {:.0} KiB, {:+.0} KiB; file-backed {:.0} vs {:.0} KiB, {:+.0} KiB",
                        w.anon_first_kib,
                        base.anon_first_kib,
                        w.anon_first_kib - base.anon_first_kib,
                        w.file_first_kib,
                        base.file_first_kib,
                        w.file_first_kib - base.file_first_kib
                    ),
                ));
            }
        }
    }
    let size = |name: &str| r.sizes.iter().find(|s| s.name == name).map(|s| s.bytes);
    if let (Some(geo), Some(min)) = (size("geo"), size("baseline-vercel")) {
        t.push(target(
            "stripped geo / baseline-vercel",
            geo as f64 / min as f64,
            1.25,
            false,
            format!("{geo} B vs {min} B"),
        ));
    }
    if let Some(users) = size("users") {
        t.push(target(
            "stripped users (MiB)",
            users as f64 / MIB,
            3.5,
            true,
            format!("{users} B"),
        ));
    }
    for p in &r.page_latency {
        let (Some(first), Some(last)) = (p.median_us.first(), p.median_us.last()) else {
            continue;
        };
        t.push(target(
            &format!(
                "page of 20 at {} / at {} users, {}",
                p.sizes.last().copied().unwrap_or(0),
                p.sizes.first().copied().unwrap_or(0),
                p.store
            ),
            p.ratio_largest_smallest,
            1.2,
            false,
            format!("{last:.1} µs vs {first:.1} µs"),
        ));
    }
    t
}

fn kib(v: f64) -> String {
    if v >= 10.0 * 1024.0 {
        format!("{:.1} MiB", v / 1024.0)
    } else {
        format!("{v:.0} KiB")
    }
}

fn us(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.2} ms", v / 1000.0)
    } else {
        format!("{v:.1} µs")
    }
}

/// Prints the table.
pub fn print(r: &Results) {
    let p = &r.params;
    println!(
        "\nBenchmark ({} mode) on {} CPUs ({}), kernel {}, in {:.0} s; load average at the end: {}",
        p.mode,
        r.machine.cpus,
        r.machine.cpu_model,
        r.machine.kernel,
        r.elapsed_s,
        r.machine.loadavg_at_end
    );

    if !r.cold_start.is_empty() {
        print_cold(r);
    }
    if !r.warm.is_empty() {
        print_warm(r);
    }
    if !r.sizes.is_empty() {
        print_sizes(r);
    }
    if !r.page_latency.is_empty() {
        print_pages(r);
    }
    print_targets(r);
}

fn print_cold(r: &Results) {
    let p = &r.params;
    println!(
        "\nCold start: spawn to first 200, median of {} pairs with {BASELINE} (A B, then B A)",
        p.cold_rounds
    );
    println!(
        "  {:<16} {:>10} {:>16} {:>12}",
        "server", "median", BASELINE, "paired ratio"
    );
    for c in &r.cold_start {
        println!(
            "  {:<16} {:>7.2} ms {:>13.2} ms {:>11.2}x",
            c.name, c.a_median_ms, c.b_median_ms, c.ratio
        );
    }
}

fn print_warm(r: &Results) {
    let p = &r.params;
    println!(
        "\nWarm: {} connections, {} s per load, server on CPU 0, wrk on CPU 1; medians of {} round(s)",
        p.connections, p.load_secs, p.warm_rounds
    );
    println!(
        "  {:<16} {:>9} {:>9} {:>9} {:>10} {:>10} {:>10} {:>10} {:>10}   ratios to {BASELINE}: req/s p50 p99 CPU RSS anon file peak",
        "server",
        "req/s",
        "p50",
        "p99",
        "CPU/req",
        "RSS first",
        "anon first",
        "file first",
        "peak RSS",
    );
    for w in &r.warm {
        let v = &w.vs_baseline;
        println!(
            "  {:<16} {:>9.0} {:>9} {:>9} {:>10} {:>10} {:>10} {:>10} {:>10}   {:.2} {:.2} {:.2} {:.2} {:.2} {:.2} {:.2} {:.2}",
            w.name,
            w.rps,
            us(w.p50_us),
            us(w.p99_us),
            us(w.cpu_us_per_req),
            kib(w.rss_first_kib),
            kib(w.anon_first_kib),
            kib(w.file_first_kib),
            kib(w.hwm_kib),
            v.rps,
            v.p50,
            v.p99,
            v.cpu_per_req,
            v.rss_first,
            v.anon_first,
            v.file_first,
            v.hwm
        );
    }
    if let Some(rm) = &r.redis_vs_memory_under_load {
        println!(
            "  users on Redis / users on the embedded store, same page under the same load: p50 {:.2}x, p99 {:.2}x, req/s {:.2}x, CPU/req {:.2}x",
            rm.p50, rm.p99, rm.rps, rm.cpu_per_req
        );
    }
}

fn print_sizes(r: &Results) {
    println!("\nStripped binary sizes");
    for s in &r.sizes {
        println!(
            "  {:<16} {:>10} B {:>8.2} MiB",
            s.name,
            s.bytes,
            s.bytes as f64 / MIB
        );
    }
}

fn print_pages(r: &Results) {
    println!("\nA page of 20 users, cursor in the middle of the range (median)");
    for pl in &r.page_latency {
        let cells: Vec<String> = pl
            .sizes
            .iter()
            .zip(&pl.median_us)
            .map(|(n, v)| format!("{n} users: {}", us(*v)))
            .collect();
        println!(
            "  {:<20} {}   ({} samples each; largest/smallest paired {:.2}x)",
            pl.store,
            cells.join(", "),
            pl.samples,
            pl.ratio_largest_smallest
        );
    }
}

fn print_targets(r: &Results) {
    println!("\nTargets (medians of paired ratios)");
    for t in &r.targets {
        let (op, limit) = match t.limit {
            Some(l) => (if t.strict { "< " } else { "<=" }, l.to_string()),
            None => ("  ", String::new()),
        };
        println!(
            "  {:<62} {:>7.3} {} {:<5} {:<30} {}",
            t.name,
            t.value,
            op,
            limit,
            format!("({})", t.detail),
            if t.info {
                "info"
            } else if t.ok {
                "ok"
            } else {
                "MISS"
            }
        );
    }
    for n in &r.notes {
        println!("  note: {n}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_info_line_is_never_a_miss() {
        let line = info("anon", 9.0, String::new());
        assert!(line.ok && line.info && line.limit.is_none());
        let met = target("cpu", 1.0, 1.1, false, String::new());
        assert!(all_met(&[line, met]));
        let missed = target("cpu", 1.2, 1.1, false, String::new());
        assert!(!all_met(&[info("anon", 9.0, String::new()), missed]));
    }

    #[test]
    fn strict_limits_exclude_the_limit() {
        assert!(!target("size", 3.5, 3.5, true, String::new()).ok);
        assert!(target("size", 3.5, 3.5, false, String::new()).ok);
    }
}
