//! The latency of a page of 20 users as the store grows: in-process through
//! the library's `users::handle` on the embedded store, and over HTTP
//! against the `users` binary on our own Redis.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http_body_util::Full;
use serde::Serialize;
use vercel_rust_api::store::{MemoryStore, RedisStore, User};
use vercel_rust_api::{App, Config, UserStore, users};

use crate::Fail;
use crate::client::Client;
use crate::procs::{Spec, spawn};
use crate::redis::Redis;
use crate::stats::{median, median_ratio};

/// Users per page.
pub const PAGE: usize = 20;
/// Users per `seed` call when filling Redis.
const SEED_BATCH: usize = 1000;

/// `n` generated users; ids are zero-padded, so id order is index order.
pub fn generated(n: usize) -> Vec<User> {
    (0..n)
        .map(|i| User {
            id: format!("bench{i:09}"),
            name: format!("Bench User {i}"),
            email: format!("user{i}@example.com"),
            created_at: "2025-01-01T00:00:00Z".to_owned(),
        })
        .collect()
}

/// `/api/users?limit=20&cursor=...`, the cursor on the middle user of
/// `users` (in id order), so the page is read from the middle of the range.
pub fn middle_page_path(users: &[User]) -> String {
    let mut ids: Vec<&str> = users.iter().map(|u| u.id.as_str()).collect();
    ids.sort_unstable();
    let cursor = URL_SAFE_NO_PAD.encode(ids[ids.len() / 2]);
    format!("/api/users?limit={PAGE}&cursor={cursor}")
}

/// Checks that a body is a page of exactly [`PAGE`] users.
fn check_page(what: &str, status: u16, body: &[u8]) -> Result<(), Fail> {
    let json: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("{what}: the page is not JSON: {e}"))?;
    let count = json["users"].as_array().map_or(0, Vec::len);
    if status != 200 || count != PAGE {
        return Err(
            format!("{what}: status {status} with {count} users, not 200 with {PAGE}").into(),
        );
    }
    Ok(())
}

/// Page latency per store size, with the size-largest / size-smallest ratio.
#[derive(Serialize)]
pub struct PageLatency {
    /// `memory (in-process)` or `redis (HTTP)`.
    pub store: &'static str,
    /// The number of users in the store, per series.
    pub sizes: Vec<usize>,
    /// Median latency of one page, µs, per size.
    pub median_us: Vec<f64>,
    /// Samples per size.
    pub samples: usize,
    /// Median of paired ratios: largest size / smallest size.
    pub ratio_largest_smallest: f64,
}

fn summarise(store: &'static str, sizes: &[usize], series: &[Vec<f64>]) -> PageLatency {
    let last = series.len() - 1;
    PageLatency {
        store,
        sizes: sizes.to_vec(),
        median_us: series.iter().map(|s| median(s)).collect(),
        samples: series[0].len(),
        ratio_largest_smallest: median_ratio(&series[last], &series[0]),
    }
}

/// One in-process call: a `GET` of `path` through `users::handle`.
async fn call(app: &App, path: &str) -> Result<http::Response<Bytes>, Fail> {
    let req = http::Request::get(path).body(Full::new(Bytes::new()))?;
    Ok(users::handle(app, req).await)
}

/// In-process: `users::handle` over a `MemoryStore` of each size. One sample
/// is the mean of `batch` calls; the sizes take turns, sample by sample.
pub fn in_process(sizes: &[usize], samples: usize, batch: usize) -> Result<PageLatency, Fail> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let apps: Vec<(App, String)> = sizes
        .iter()
        .map(|&n| {
            let users = generated(n);
            let path = middle_page_path(&users);
            let store: Arc<dyn UserStore> = Arc::new(MemoryStore::with_users(users));
            (App::new(Config::default(), store), path)
        })
        .collect();
    rt.block_on(async {
        for ((app, path), n) in apps.iter().zip(sizes) {
            let res = call(app, path).await?;
            check_page(
                &format!("in-process page at {n} users"),
                res.status().as_u16(),
                res.body(),
            )?;
        }
        let mut series = vec![Vec::with_capacity(samples); apps.len()];
        for _ in 0..samples {
            for ((app, path), out) in apps.iter().zip(series.iter_mut()) {
                let start = Instant::now();
                for _ in 0..batch {
                    black_box(call(app, path).await?);
                }
                out.push(start.elapsed().as_secs_f64() * 1e6 / batch as f64);
            }
        }
        Ok(summarise("memory (in-process)", sizes, &series))
    })
}

/// Puts `users` in Redis under `prefix`, through the project's own
/// `RedisStore::seed`, [`SEED_BATCH`] at a time.
pub fn seed(redis: &Redis, prefix: &str, users: &[User]) -> Result<(), Fail> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let store = RedisStore::new(&redis.url(), prefix);
        for chunk in users.chunks(SEED_BATCH) {
            store.seed(chunk).await?;
        }
        Ok(())
    })
}

/// The Redis prefix holding `n` generated users.
pub fn prefix_for(n: usize) -> String {
    format!("bench{n}")
}

/// Over HTTP: one `users` binary per size on Redis (already seeded under
/// [`prefix_for`]), sequential keep-alive requests taking turns.
pub fn over_redis(
    users_bin: &Path,
    redis: &Redis,
    sizes: &[usize],
    samples: usize,
    logs: &Path,
) -> Result<PageLatency, Fail> {
    let mut servers = Vec::new();
    for &n in sizes {
        let path = middle_page_path(&generated(n));
        let spec = Spec::new("users-redis-pages", users_bin, &path)
            .with_env("REDIS_URL", &redis.url())
            .with_env("REDIS_KEY_PREFIX", &prefix_for(n));
        let mut server = spawn(&spec, None, logs)?;
        server.until_200(&path, Duration::from_secs(10))?;
        let mut client = Client::connect(server.port, Duration::from_secs(5))?;
        let reply = client.get(&path)?;
        check_page(
            &format!("Redis page at {n} users"),
            reply.status,
            &reply.body,
        )?;
        servers.push((server, client, path));
    }
    let mut series = vec![Vec::with_capacity(samples); servers.len()];
    for _ in 0..samples {
        for ((_, client, path), out) in servers.iter_mut().zip(series.iter_mut()) {
            let start = Instant::now();
            let reply = client.get(path)?;
            out.push(start.elapsed().as_secs_f64() * 1e6);
            if reply.status != 200 {
                return Err(format!("Redis page answered {}", reply.status).into());
            }
        }
    }
    for (server, _, _) in servers {
        server.stop()?;
    }
    Ok(summarise("redis (HTTP)", sizes, &series))
}
