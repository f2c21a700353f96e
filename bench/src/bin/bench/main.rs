//! The benchmark runner: builds nothing itself (`bench/run.sh` builds), then
//! measures the project's `geo` and `users` binaries against the baselines
//! in one run, prints a table with the targets, and writes the same figures
//! to `target/bench/results.json` at the repository root.
//!
//! Exit status: 0 when every measurement ran (targets missed or not, unless
//! `--check`), 1 with `--check` when a target is missed, 2 when a
//! measurement is broken (a server that does not start, wrk missing, ...).

mod client;
mod cold;
mod load;
mod pages;
mod procs;
mod redis;
mod report;
mod stats;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use vercel_rust_api::store::seed_users;

use crate::load::LoadParams;
use crate::procs::{Spec, which};

/// Every error of the runner: a broken measurement.
pub type Fail = Box<dyn std::error::Error + Send + Sync>;

/// How much to measure.
#[derive(Clone, Copy, serde::Serialize)]
pub struct Params {
    /// `full` or `quick`.
    pub mode: &'static str,
    /// Paired cold starts per server.
    pub cold_rounds: usize,
    /// Warm rounds (every server once per round).
    pub warm_rounds: usize,
    /// Length of one load, s.
    pub load_secs: u64,
    /// Connections of the load.
    pub connections: u32,
    /// In-process page samples per store size.
    pub page_samples: usize,
    /// Calls per in-process sample.
    pub page_batch: usize,
    /// Sequential HTTP requests per store size on Redis.
    pub redis_samples: usize,
}

impl Params {
    fn new(quick: bool) -> Self {
        if quick {
            Self {
                mode: "quick",
                cold_rounds: 10,
                warm_rounds: 1,
                load_secs: 2,
                connections: 64,
                page_samples: 300,
                page_batch: 10,
                redis_samples: 300,
            }
        } else {
            Self {
                mode: "full",
                cold_rounds: 30,
                warm_rounds: 3,
                load_secs: 10,
                connections: 64,
                page_samples: 2000,
                page_batch: 10,
                redis_samples: 2000,
            }
        }
    }
}

/// Store sizes for the page latency.
pub const SIZES: [usize; 3] = [100, 10_000, 100_000];
/// The Redis prefix holding the bundled seed users (the load on Redis).
const SEED_PREFIX: &str = "seed";

struct Args {
    quick: bool,
    check: bool,
    root: PathBuf,
    /// `--only a,b`: the sections to run (all when empty).
    only: Vec<String>,
}

/// The sections of a run, for `--only`.
const SECTIONS: [&str; 4] = ["sizes", "cold", "pages", "warm"];

fn args() -> Result<Args, Fail> {
    let mut quick = false;
    let mut check = false;
    let mut root = None;
    let mut only = Vec::new();
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => quick = true,
            "--check" => check = true,
            "--only" => {
                let list = it.next().ok_or("--only needs a list")?;
                for s in list.split(',') {
                    if !SECTIONS.contains(&s) {
                        return Err(format!("--only: {s:?} is not one of {SECTIONS:?}").into());
                    }
                    only.push(s.to_owned());
                }
            }
            "--root" => root = Some(PathBuf::from(it.next().ok_or("--root needs a folder")?)),
            "-h" | "--help" => {
                println!(
                    "usage: bench [--quick] [--check] [--root REPO] [--only {}]",
                    SECTIONS.join(",")
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    let root = match root {
        Some(r) => r,
        None => std::env::current_dir()?
            .ancestors()
            .find(|d| d.join("api/geo.rs").is_file() && d.join("bench/Cargo.toml").is_file())
            .ok_or("run from the repository (or pass --root)")?
            .to_path_buf(),
    };
    Ok(Args {
        quick,
        check,
        root,
        only,
    })
}

fn need(path: &Path) -> Result<&Path, Fail> {
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} is missing: run bench/run.sh (it builds first)",
            path.display()
        )
        .into())
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("benchmark broken: {e}");
            ExitCode::from(2)
        }
    }
}

/// Runs everything; `Ok(false)` when `--check` and a target is missed.
fn run() -> Result<bool, Fail> {
    let started = Instant::now();
    let args = args()?;
    let p = Params::new(args.quick);
    let out_dir = args.root.join("target/bench");
    let logs = out_dir.join("logs");
    std::fs::create_dir_all(&logs)?;
    for tool in ["wrk", "taskset", "strip"] {
        which(tool)
            .ok_or_else(|| format!("`{tool}` is not installed (bench/run.sh installs it)"))?;
    }
    let release = args.root.join("target/release");
    let bench_release = args.root.join("bench/target/release");
    let geo_bin = need(&release.join("geo"))?.to_path_buf();
    let users_bin = need(&release.join("users"))?.to_path_buf();
    let hyper_bin = need(&bench_release.join("baseline-hyper"))?.to_path_buf();
    let vercel_bin = need(&bench_release.join("baseline-vercel"))?.to_path_buf();
    let node_script = need(&args.root.join("bench/baseline-node.mjs"))?.to_path_buf();
    let node = which("node");
    let redis_server = which("redis-server");
    let mut notes = Vec::new();
    let want = |section: &str| args.only.is_empty() || args.only.iter().any(|s| s == section);
    if !args.only.is_empty() {
        notes.push(format!(
            "only {}: the other figures are left out",
            args.only.join(",")
        ));
    }

    let seed = seed_users();
    let seed_page = pages::middle_page_path(&seed);
    let hyper = Spec::new("baseline-hyper", &hyper_bin, "/api/geo");
    let geo = Spec::new("geo", &geo_bin, "/api/geo");
    let vercel = Spec::new("baseline-vercel", &vercel_bin, "/api/geo");
    let users_mem = Spec::new("users", &users_bin, &seed_page);
    let node_spec = node.as_ref().map(|n| Spec {
        name: "baseline-node",
        argv: vec![n.display().to_string(), node_script.display().to_string()],
        env: Vec::new(),
        path: "/api/geo".into(),
    });
    if node_spec.is_none() {
        notes.push("node not found: the Node baseline is left out".to_owned());
    }

    eprintln!("[bench] {} mode", p.mode);
    let mut sizes = Vec::new();
    if want("sizes") {
        sizes = report::sizes(
            &[
                ("geo", &geo_bin),
                ("users", &users_bin),
                ("baseline-hyper", &hyper_bin),
                ("baseline-vercel", &vercel_bin),
            ],
            &out_dir.join("stripped"),
        )?;
    }

    let mut cold = Vec::new();
    if want("cold") {
        eprintln!("[bench] cold starts: {} paired rounds", p.cold_rounds);
        let mut subjects = vec![
            geo.clone(),
            Spec::new("users", &users_bin, "/api/users?limit=20"),
            vercel.clone(),
        ];
        subjects.extend(node_spec.clone());
        cold = cold::run(&subjects, &hyper, p.cold_rounds, &logs)?;
    }

    let mut page_latency = Vec::new();
    if want("pages") {
        eprintln!("[bench] page latency in-process: {SIZES:?} users");
        page_latency.push(pages::in_process(&SIZES, p.page_samples, p.page_batch)?);
    }

    let redis = match &redis_server {
        Some(program) if want("pages") || want("warm") => {
            let redis = redis::Redis::start(program)?;
            pages::seed(&redis, SEED_PREFIX, &seed)?;
            if want("pages") {
                eprintln!("[bench] own redis-server; seeding {SIZES:?} users");
                for n in SIZES {
                    pages::seed(&redis, &pages::prefix_for(n), &pages::generated(n))?;
                }
                eprintln!("[bench] page latency on Redis over HTTP");
                page_latency.push(pages::over_redis(
                    &users_bin,
                    &redis,
                    &SIZES,
                    p.redis_samples,
                    &logs,
                )?);
            }
            Some(redis)
        }
        Some(_) => None,
        None => {
            notes.push("redis-server not found: the Redis figures are left out".to_owned());
            None
        }
    };

    let mut warm_specs = vec![hyper.clone(), geo, vercel, users_mem];
    if let Some(redis) = &redis {
        warm_specs.push(
            Spec::new("users-redis", &users_bin, &seed_page)
                .with_env("REDIS_URL", &redis.url())
                .with_env("REDIS_KEY_PREFIX", SEED_PREFIX),
        );
    }
    warm_specs.extend(node_spec);
    let params = LoadParams {
        connections: p.connections,
        duration: Duration::from_secs(p.load_secs),
    };
    let mut warm_rounds = Vec::new();
    for round in 0..p.warm_rounds {
        if !want("warm") {
            break;
        }
        eprintln!(
            "[bench] warm round {}/{}: {} servers x {} s",
            round + 1,
            p.warm_rounds,
            warm_specs.len(),
            p.load_secs
        );
        let mut order: Vec<&Spec> = warm_specs.iter().collect();
        if !round.is_multiple_of(2) {
            order.reverse();
        }
        let mut results = Vec::new();
        for spec in order {
            results.push(load::run(spec, params, &logs)?);
        }
        warm_rounds.push(results);
    }
    drop(redis);

    let results = report::Results::new(
        p,
        sizes,
        cold,
        warm_rounds,
        page_latency,
        notes,
        started.elapsed().as_secs_f64(),
    );
    report::print(&results);
    let json_path = out_dir.join("results.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&results)?)?;
    println!("\nJSON: {}", json_path.display());
    let all_ok = report::all_met(&results.targets);
    Ok(all_ok || !args.check)
}
