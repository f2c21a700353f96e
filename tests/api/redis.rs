//! The Redis store against a real `redis-server`: the same contract as the
//! embedded store, idempotent seeding, bounded round trips, and faults.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::AsyncCommands;
use serde_json::json;
use vercel_rust_api::App;
use vercel_rust_api::store::{RedisStore, UserStore, seed_users};

use crate::contract::{ENV, contract_config, run_in_process, run_on_functions, run_on_server};
use crate::helpers::{Spawned, TestRedis, TestRequest, TestResponse, send, unique_prefix};

/// A Redis store under its own prefix, seeded.
async fn seeded(redis: &TestRedis, test: &str) -> (RedisStore, String) {
    let prefix = unique_prefix(test);
    let store = RedisStore::new(&redis.url, &prefix);
    store.seed(&seed_users()).await.unwrap();
    (store, prefix)
}

fn env_with<'a>(url: &'a str, prefix: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut env = ENV.to_vec();
    env.push(("REDIS_URL", url));
    env.push(("REDIS_KEY_PREFIX", prefix));
    env
}

#[tokio::test]
async fn contract_holds_on_redis_in_process() {
    let Some(redis) = TestRedis::any().await else {
        return;
    };
    let (store, _) = seeded(&redis, "contract-in-process").await;
    run_in_process(
        "in-process on redis",
        App::new(contract_config(), Arc::new(store)),
    )
    .await;
}

#[tokio::test]
async fn contract_holds_on_redis_for_the_binaries_and_the_dev_server() {
    let Some(redis) = TestRedis::any().await else {
        return;
    };
    let (_, prefix) = seeded(&redis, "contract-binaries").await;
    let env = env_with(&redis.url, &prefix);
    let geo = Spawned::function("geo", &env).await;
    let users = Spawned::function("users", &env).await;
    run_on_functions("function binaries on redis", &geo, &users).await;
    let dev = Spawned::dev_server(&env).await;
    run_on_server("dev server on redis", dev.addr).await;
}

#[tokio::test]
async fn walking_the_pages_on_redis_matches_the_embedded_store() {
    let Some(redis) = TestRedis::any().await else {
        return;
    };
    let (store, _) = seeded(&redis, "walk").await;
    let app = App::new(contract_config(), Arc::new(store));
    let expected: Vec<String> = seed_users().into_iter().map(|u| u.id).collect();
    for limit in [1, 20, 100] {
        assert_eq!(
            crate::pages::walk(&app, limit).await,
            expected,
            "limit {limit}"
        );
    }
}

#[tokio::test]
async fn an_empty_redis_answers_an_empty_page_and_is_never_seeded_by_the_functions() {
    let Some(redis) = TestRedis::any().await else {
        return;
    };
    let prefix = unique_prefix("empty");
    let users = Spawned::function("users", &env_with(&redis.url, &prefix)).await;
    let res = users.send(&TestRequest::get("/api/users")).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.json(), json!({"users": [], "nextCursor": null}));
    let mut c = redis.client().await;
    let keys: Vec<String> = c.keys(format!("{prefix}:*")).await.unwrap();
    assert!(keys.is_empty(), "{keys:?}");
}

/// Everything under a prefix, as plain data.
async fn dump(redis: &TestRedis, prefix: &str) -> BTreeMap<String, String> {
    let mut c = redis.client().await;
    let mut out = BTreeMap::new();
    let ids: Vec<(String, f64)> = c
        .zrange_withscores(format!("{prefix}:ids"), 0, -1)
        .await
        .unwrap();
    out.insert("ids".into(), format!("{ids:?}"));
    for h in ["data", "emails"] {
        let map: BTreeMap<String, String> = c.hgetall(format!("{prefix}:{h}")).await.unwrap();
        out.insert(h.into(), format!("{map:?}"));
    }
    out
}

#[tokio::test]
async fn seeding_through_cargo_run_seed_is_idempotent_and_names_a_taken_email() {
    let Some(redis) = TestRedis::any().await else {
        return;
    };
    let prefix = unique_prefix("seed");
    let run_seed = || {
        std::process::Command::new(crate::helpers::bin_path("dev"))
            .arg("seed")
            .env("REDIS_URL", &redis.url)
            .env("REDIS_KEY_PREFIX", &prefix)
            .output()
            .unwrap()
    };
    let seed = || {
        let out = run_seed();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(seed(), "Seeded 100 users into the redis store.\n");
    let first = dump(&redis, &prefix).await;
    // A seeded user whose email was changed gets the seed's email back,
    // and the old email is released.
    let store = RedisStore::new(&redis.url, &prefix);
    let user0 = &seed_users()[0];
    let patch = vercel_rust_api::store::UserPatch {
        email: Some("changed@example.net".into()),
        ..Default::default()
    };
    store.update(&user0.id, patch).await.unwrap().unwrap();
    assert_ne!(dump(&redis, &prefix).await, first);
    seed();
    assert_eq!(dump(&redis, &prefix).await, first);
    let mut c = redis.client().await;
    assert_eq!(
        c.zcard::<_, usize>(format!("{prefix}:ids")).await.unwrap(),
        100
    );
    assert_eq!(
        c.hlen::<_, usize>(format!("{prefix}:data")).await.unwrap(),
        100
    );
    assert_eq!(
        c.hlen::<_, usize>(format!("{prefix}:emails"))
            .await
            .unwrap(),
        100
    );
    // Someone else now has a seed user's email: seeding refuses, names it,
    // and writes nothing.
    let user1 = &seed_users()[1];
    let moved = vercel_rust_api::store::UserPatch {
        email: Some("moved@example.net".into()),
        ..Default::default()
    };
    store.update(&user1.id, moved).await.unwrap().unwrap();
    let taker = vercel_rust_api::store::User {
        id: "taker".into(),
        name: "Taker".into(),
        email: user1.email.to_uppercase(),
        created_at: "2026-01-01T00:00:00Z".into(),
    };
    store.create(taker).await.unwrap();
    let before = dump(&redis, &prefix).await;
    let out = run_seed();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "error: seeding failed: seed user {}'s email {} now belongs to another user; change or delete that user, then seed again\n",
            user1.id, user1.email
        )
    );
    assert_eq!(dump(&redis, &prefix).await, before);
}

/// Calls per command since the server started (`INFO commandstats`).
async fn command_counts(redis: &TestRedis) -> BTreeMap<String, u64> {
    let mut c = redis.client().await;
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut c)
        .await
        .unwrap();
    info.lines()
        .filter_map(|l| {
            let (name, rest) = l.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = rest.split(',').find_map(|kv| kv.strip_prefix("calls="))?;
            Some((name.to_owned(), calls.parse().ok()?))
        })
        .collect()
}

async fn delta_of(redis: &TestRedis, f: impl AsyncFnOnce()) -> BTreeMap<String, u64> {
    let before = command_counts(redis).await;
    f().await;
    let after = command_counts(redis).await;
    after
        .into_iter()
        .filter_map(|(k, v)| {
            let d = v - before.get(&k).copied().unwrap_or(0);
            // The INFO call of the measurement itself is not the request's.
            (d > 0 && k != "info").then_some((k, d))
        })
        .collect()
}

#[tokio::test]
async fn a_page_is_one_round_trip_and_a_user_is_one() {
    // Our own server: the counts must see this test's commands only.
    let Some(redis) = TestRedis::own().await else {
        return;
    };
    let (_, prefix) = seeded(&redis, "round-trips").await;
    let users = Spawned::function("users", &env_with(&redis.url, &prefix)).await;
    // Warm up: the first call loads the script (NOSCRIPT, SCRIPT LOAD).
    assert_eq!(
        users
            .send(&TestRequest::get("/api/users?limit=1"))
            .await
            .status,
        200
    );
    for limit in [20, 100] {
        let d = delta_of(&redis, async || {
            let res = users
                .send(&TestRequest::get(format!("/api/users?limit={limit}")))
                .await;
            assert_eq!(res.json()["users"].as_array().unwrap().len(), limit);
        })
        .await;
        // One EVALSHA from the client; ZRANGEBYLEX and HMGET run inside it.
        let want: BTreeMap<String, u64> = [
            ("evalsha".into(), 1),
            ("zrangebylex".into(), 1),
            ("hmget".into(), 1),
        ]
        .into();
        assert_eq!(d, want, "page of {limit}");
    }
    let id = &seed_users()[5].id;
    let d = delta_of(&redis, async || {
        assert_eq!(
            users
                .send(&TestRequest::get(format!("/api/users/{id}")))
                .await
                .status,
            200
        );
    })
    .await;
    assert_eq!(d, [("hget".to_owned(), 1)].into());
}

fn assert_503(res: &TestResponse) {
    assert_eq!(res.status, 503, "{:?}", String::from_utf8_lossy(&res.body));
    assert_eq!(res.header("retry-after"), Some("2"));
    assert_eq!(res.header("content-type"), Some("application/json"));
    assert_eq!(
        res.json(),
        json!({"error": "Service temporarily unavailable"})
    );
}

#[tokio::test]
async fn redis_down_is_a_prompt_503_and_the_next_request_after_it_returns_succeeds() {
    let Some(mut redis) = TestRedis::own().await else {
        return;
    };
    let (_, prefix) = seeded(&redis, "fault-down").await;
    let users = Spawned::function("users", &env_with(&redis.url, &prefix)).await;
    let page = TestRequest::get("/api/users?limit=1");
    assert_eq!(users.send(&page).await.status, 200);

    redis.stop();
    for _ in 0..3 {
        let started = Instant::now();
        let res = users.send(&page).await;
        assert!(
            started.elapsed() < Duration::from_millis(2500),
            "{:?}",
            started.elapsed()
        );
        assert_503(&res);
    }

    redis.start().await;
    // The very next request succeeds, a write as well as a read. The
    // restarted server is empty (no persistence): the new user is the page.
    let create = TestRequest::new(http::Method::POST, "/api/users")
        .bearer(crate::contract::TOKEN)
        .json(&json!({"name": "Back", "email": "back@example.com"}));
    let created = users.send(&create).await;
    assert_eq!(
        created.status,
        201,
        "{:?}",
        String::from_utf8_lossy(&created.body)
    );
    let res = users.send(&page).await;
    assert_eq!(res.status, 200, "{:?}", String::from_utf8_lossy(&res.body));
    assert_eq!(
        res.json(),
        json!({"users": [created.json()], "nextCursor": null})
    );

    // And after a restart with no request in between, the next read succeeds.
    redis.stop();
    redis.start().await;
    let res = users.send(&page).await;
    assert_eq!(res.status, 200, "{:?}", String::from_utf8_lossy(&res.body));
    assert_eq!(res.json(), json!({"users": [], "nextCursor": null}));
}

#[tokio::test]
async fn a_hung_redis_is_a_503_within_the_bound_then_recovers() {
    let Some(redis) = TestRedis::own().await else {
        return;
    };
    let (_, prefix) = seeded(&redis, "fault-hang").await;
    let users = Spawned::function("users", &env_with(&redis.url, &prefix)).await;
    let page = TestRequest::get("/api/users?limit=1");
    assert_eq!(users.send(&page).await.status, 200);

    redis.freeze(true);
    let started = Instant::now();
    let res = users.send(&page).await;
    let waited = started.elapsed();
    redis.freeze(false);
    assert_503(&res);
    assert!(
        waited >= Duration::from_millis(1000) && waited < Duration::from_millis(2600),
        "waited {waited:?}"
    );

    let deadline = Instant::now() + Duration::from_secs(5);
    let mut res = users.send(&page).await;
    while res.status != 200 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        res = users.send(&page).await;
    }
    assert_eq!(res.status, 200);
    assert_eq!(
        res.json()["users"][0],
        serde_json::to_value(&seed_users()[0]).unwrap()
    );
}

#[tokio::test]
async fn a_malformed_redis_url_is_one_log_line_and_503_json_per_request() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stderr");
    let port = crate::helpers::free_port();
    let mut child = std::process::Command::new(crate::helpers::bin_path("users"))
        .env("VERCEL_DEV_PORT", port.to_string())
        .env("REDIS_URL", "http://user:hunter2@nowhere")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut res = None;
    for _ in 0..500 {
        if let Ok(r) = send(addr, &TestRequest::get("/api/users")).await {
            res = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let res = res.expect("users answered");
    assert_503(&res);
    let second = send(addr, &TestRequest::get("/api/users/abc"))
        .await
        .unwrap();
    assert_503(&second);
    let _ = child.kill();
    let _ = child.wait();
    let stderr = std::fs::read_to_string(&log).unwrap();
    let first_line = stderr.lines().next().unwrap_or_default();
    assert!(
        first_line.starts_with("error: REDIS_URL is not a valid redis:// or rediss:// URL"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "the password leaked: {stderr}");
}
