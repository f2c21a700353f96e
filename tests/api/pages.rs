//! Paging: every user exactly once, in order, and O(limit) pages.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use vercel_rust_api::store::{MemoryStore, User, UserStore, seed_users};
use vercel_rust_api::{App, Config, users};

use crate::helpers::{TestRequest, TestResponse};

async fn get(app: &App, path: &str) -> TestResponse {
    TestResponse::from_http(users::handle(app, TestRequest::get(path).to_http()).await)
}

/// Walks all pages of `limit` and returns the ids in the order seen.
pub async fn walk(app: &App, limit: usize) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/users?limit={limit}&cursor={c}"),
            None => format!("/api/users?limit={limit}"),
        };
        let res = get(app, &path).await;
        assert_eq!(res.status, 200, "{path}: {:?}", res.body);
        let body = res.json();
        let page = body["users"].as_array().unwrap();
        assert!(page.len() <= limit);
        ids.extend(page.iter().map(|u| u["id"].as_str().unwrap().to_owned()));
        match body["nextCursor"].as_str() {
            Some(c) => {
                assert_eq!(page.len(), limit, "a page before the last is full");
                cursor = Some(c.to_owned());
            }
            None => return ids,
        }
    }
}

#[tokio::test]
async fn walking_the_pages_returns_every_seed_user_once_in_order() {
    let app = App::new(
        Config::default(),
        Arc::new(MemoryStore::with_users(seed_users())),
    );
    let expected: Vec<String> = seed_users().into_iter().map(|u| u.id).collect();
    assert_eq!(expected.len(), 100);
    for limit in [1, 7, 20, 99, 100] {
        assert_eq!(walk(&app, limit).await, expected, "limit {limit}");
    }
}

#[test]
fn seed_data_is_100_distinct_fictional_users_in_id_order() {
    let seed = seed_users();
    assert_eq!(seed.len(), 100);
    let ids: HashSet<_> = seed.iter().map(|u| u.id.as_str()).collect();
    let emails: HashSet<_> = seed.iter().map(|u| u.email.to_lowercase()).collect();
    assert_eq!((ids.len(), emails.len()), (100, 100));
    assert!(seed.windows(2).all(|w| w[0].id < w[1].id));
    assert!(seed.iter().all(|u| u.email.ends_with("@example.com")));
    assert!(seed.iter().all(|u| users::is_valid_id(&u.id)));
}

#[tokio::test]
async fn deleting_the_user_under_a_cursor_does_not_break_the_walk() {
    let store = Arc::new(MemoryStore::with_users(seed_users()));
    let app = App::new(Config::default(), store.clone());
    let first = get(&app, "/api/users?limit=10").await.json();
    let cursor = first["nextCursor"].as_str().unwrap().to_owned();
    let last_id = first["users"][9]["id"].as_str().unwrap();
    assert!(store.delete(last_id).await.unwrap());
    let next = get(&app, &format!("/api/users?limit=10&cursor={cursor}")).await;
    assert_eq!(next.status, 200);
    assert_eq!(
        next.json()["users"][0],
        serde_json::to_value(&seed_users()[10]).unwrap()
    );
}

fn synthetic(n: usize) -> Vec<User> {
    (0..n)
        .map(|i| User {
            id: format!("u{i:08}"),
            name: format!("User {i}"),
            email: format!("user{i}@example.com"),
            created_at: "2025-01-01T00:00:00Z".into(),
        })
        .collect()
}

/// Median time of one page of 20 from the middle of the store.
async fn page_time(app: &App, n: usize) -> Duration {
    let cursor = vercel_rust_api::users::encode_cursor(&format!("u{:08}", n / 2));
    let path = format!("/api/users?limit=20&cursor={cursor}");
    let mut times = Vec::new();
    for _ in 0..201 {
        let t = Instant::now();
        let res = get(app, &path).await;
        times.push(t.elapsed());
        assert_eq!(res.status, 200);
    }
    times.sort();
    times[times.len() / 2]
}

/// A page costs O(limit): at 100,000 users it reads the same 21 entries as at
/// 100. Asserted on what the store returns (exact), with the timings printed
/// for the record; the benchmark (bench/) holds the timing target.
#[tokio::test]
async fn a_page_reads_limit_entries_whatever_the_store_size() {
    for n in [100, 100_000] {
        let app = App::new(
            Config::default(),
            Arc::new(MemoryStore::with_users(synthetic(n))),
        );
        let res = get(
            &app,
            &format!(
                "/api/users?limit=20&cursor={}",
                vercel_rust_api::users::encode_cursor(&format!("u{:08}", n / 2))
            ),
        )
        .await;
        let body = res.json();
        let ids: Vec<&str> = body["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap())
            .collect();
        let want: Vec<String> = (n / 2 + 1..n / 2 + 21)
            .map(|i| format!("u{i:08}"))
            .collect();
        assert_eq!(ids, want);
        println!(
            "page of 20 at {n} users: median {:?}",
            page_time(&app, n).await
        );
    }
}
