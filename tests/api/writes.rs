//! Writes over HTTP against the spawned `users` binary, on the embedded store
//! and on Redis: every rule of the contract, and the concurrency guarantees.

use std::collections::HashSet;
use std::sync::Arc;

use http::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vercel_rust_api::UserStore;

use crate::contract::{ENV, TOKEN};
use crate::helpers::{Spawned, TestRedis, TestRequest, TestResponse, unique_prefix};

/// The users function on the embedded store, or on Redis (its own prefix).
/// `None` when Redis was asked for and is not available (reported loudly).
async fn users_fn(on_redis: bool, test: &str) -> Option<(Spawned, Option<TestRedis>)> {
    let mut env: Vec<(String, String)> = ENV
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    let redis = if on_redis {
        let redis = TestRedis::any().await?;
        let prefix = unique_prefix(test);
        vercel_rust_api::store::RedisStore::new(&redis.url, &prefix)
            .seed(&vercel_rust_api::store::seed_users())
            .await
            .unwrap();
        env.push(("REDIS_URL".into(), redis.url.clone()));
        env.push(("REDIS_KEY_PREFIX".into(), prefix));
        Some(redis)
    } else {
        None
    };
    let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Some((Spawned::function("users", &env_ref).await, redis))
}

fn post(body: Value) -> TestRequest {
    TestRequest::new(Method::POST, "/api/users")
        .bearer(TOKEN)
        .json(&body)
}

fn patch(id: &str, body: Value) -> TestRequest {
    TestRequest::new(Method::PATCH, format!("/api/users/{id}"))
        .bearer(TOKEN)
        .json(&body)
}

fn delete(id: &str) -> TestRequest {
    TestRequest::new(Method::DELETE, format!("/api/users/{id}")).bearer(TOKEN)
}

fn error(res: &TestResponse) -> Value {
    res.json()
}

/// Runs a test body on both stores.
macro_rules! on_both_stores {
    ($($name:ident => $body:expr;)*) => {
        mod memory {
            $(#[tokio::test] async fn $name() { if let Some(s) = super::users_fn(false, stringify!($name)).await { ($body)(s.0).await } })*
        }
        mod redis {
            $(#[tokio::test] async fn $name() { if let Some(s) = super::users_fn(true, stringify!($name)).await { ($body)(s.0).await } })*
        }
    };
}

on_both_stores! {
    create_read_patch_delete_round_trip => super::round_trip;
    field_rules_are_422_naming_the_field => super::field_rules;
    emails_are_unique_regardless_of_case => super::unique_emails;
    two_concurrent_creates_with_one_email_give_one_201_and_one_409 => super::racing_creates;
    fifty_concurrent_creates_are_fifty_users_each_listed_once => super::fifty_creates;
    a_delete_racing_a_patch_never_brings_the_user_back => super::delete_vs_patch;
    a_ten_megabyte_body_is_refused_without_being_held_in_memory => super::huge_body;
    an_early_401_lets_the_client_send_its_whole_body => super::early_answer;
    one_email_in_other_unicode_forms_is_409 => super::unicode_forms_of_one_email;
    repeated_authorization_or_content_type_headers_are_refused => super::repeated_headers;
    a_stalled_body_is_408_after_ten_seconds => super::stalled_body;
}

async fn round_trip(users: Spawned) {
    let created = users
        .send(&post(
            json!({"name": "  Grace Hopper ", "email": "grace@example.org"}),
        ))
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let user = created.json();
    let id = user["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created.header("location"),
        Some(format!("/api/users/{id}").as_str())
    );
    assert_eq!(created.header("content-type"), Some("application/json"));
    assert_eq!(id.len(), 26, "a ULID");
    let created_at = user["createdAt"].as_str().unwrap();
    assert!(
        created_at.len() == 20 && created_at.ends_with('Z'),
        "{created_at}"
    );
    assert_eq!(
        user,
        json!({"id": id, "name": "Grace Hopper", "email": "grace@example.org", "createdAt": created_at})
    );
    let fetched = users
        .send(&TestRequest::get(format!("/api/users/{id}")))
        .await;
    assert_eq!(
        (fetched.status.as_u16(), fetched.json()),
        (200, user.clone())
    );
    // New ids sort after the seed users: the new user is on the last page.
    let last = users
        .send(&TestRequest::get(format!(
            "/api/users?limit=1&cursor={}",
            vercel_rust_api::users::encode_cursor(&vercel_rust_api::store::seed_users()[99].id)
        )))
        .await;
    assert_eq!(
        last.json(),
        json!({"users": [user.clone()], "nextCursor": null})
    );

    let patched = users
        .send(&patch(&id, json!({"name": "Rear Admiral Hopper"})))
        .await;
    assert_eq!(patched.status, 200);
    let mut want = user.clone();
    want["name"] = json!("Rear Admiral Hopper");
    assert_eq!(patched.json(), want);
    // Own email in another case: not a conflict.
    let recased = users
        .send(&patch(&id, json!({"email": "Grace@Example.org"})))
        .await;
    assert_eq!(recased.status, 200);
    want["email"] = json!("Grace@Example.org");
    assert_eq!(recased.json(), want);
    // An empty patch changes nothing.
    let noop = users.send(&patch(&id, json!({}))).await;
    assert_eq!((noop.status.as_u16(), noop.json()), (200, want.clone()));
    let listed = users
        .send(&TestRequest::get(format!("/api/users?id={id}")))
        .await;
    assert_eq!(listed.json(), want);

    let deleted = users.send(&delete(&id)).await;
    assert_eq!(deleted.status, 204);
    assert!(deleted.body.is_empty());
    let gone = users
        .send(&TestRequest::get(format!("/api/users/{id}")))
        .await;
    assert_eq!(
        (gone.status.as_u16(), error(&gone)),
        (404, json!({"error": "Not found"}))
    );
    let again = users.send(&delete(&id)).await;
    assert_eq!(again.status, 404);
    let patch_gone = users.send(&patch(&id, json!({"name": "X"}))).await;
    assert_eq!(patch_gone.status, 404);
    // The email is free again.
    let reuse = users
        .send(&post(
            json!({"name": "Grace", "email": "GRACE@example.org"}),
        ))
        .await;
    assert_eq!(reuse.status, 201);
}

async fn field_rules(users: Spawned) {
    let name_msg = "Invalid name: must be a string of 1 to 100 characters";
    let email_msg = "Invalid email: must be an email address of at most 254 characters";
    let long_email = format!("{}@{}.com", "a".repeat(64), "b".repeat(186));
    for (body, want) in [
        (
            json!({"name": "", "email": "a@example.com"}),
            json!({"error": name_msg, "field": "name"}),
        ),
        (
            json!({"name": "x".repeat(101), "email": "a@example.com"}),
            json!({"error": name_msg, "field": "name"}),
        ),
        (
            json!({"name": 42, "email": "a@example.com"}),
            json!({"error": name_msg, "field": "name"}),
        ),
        (
            json!({"name": null, "email": "a@example.com"}),
            json!({"error": name_msg, "field": "name"}),
        ),
        (
            json!({"name": "A\u{0}B", "email": "a@example.com"}),
            json!({"error": name_msg, "field": "name"}),
        ),
        (
            json!({"name": "A", "email": long_email}),
            json!({"error": email_msg, "field": "email"}),
        ),
        (
            json!({"name": "A", "email": "a@b"}),
            json!({"error": email_msg, "field": "email"}),
        ),
        (
            json!({"name": "A", "email": ["a@example.com"]}),
            json!({"error": email_msg, "field": "email"}),
        ),
        (
            json!({"name": "A"}),
            json!({"error": "Invalid email: is required", "field": "email"}),
        ),
        (
            json!({"name": "A", "email": "a@example.com", "id": "mine"}),
            json!({"error": "Invalid id: unknown or read-only field", "field": "id"}),
        ),
        (
            json!("just a string"),
            json!({"error": "Invalid body: must be a JSON object", "field": "body"}),
        ),
    ] {
        let res = users.send(&post(body.clone())).await;
        assert_eq!((res.status.as_u16(), res.json()), (422, want), "{body}");
    }
    // 100 characters (not bytes) is fine, and so is a 254-character email.
    let ok = users
        .send(&post(
            json!({"name": "é".repeat(100), "email": &long_email[1..]}),
        ))
        .await;
    assert_eq!(ok.status, 201, "{:?}", ok.body);
    let seed_id = &vercel_rust_api::store::seed_users()[3].id;
    let bad_patch = users.send(&patch(seed_id, json!({"email": "nope"}))).await;
    assert_eq!(
        (bad_patch.status.as_u16(), bad_patch.json()),
        (422, json!({"error": email_msg, "field": "email"}))
    );
    let mut not_json = TestRequest::new(Method::PATCH, format!("/api/users/{seed_id}"))
        .bearer(TOKEN)
        .header("content-type", "application/json");
    not_json.body = "{\"name\": \"x\"".into();
    let res = users.send(&not_json).await;
    assert_eq!(
        (res.status.as_u16(), res.json()),
        (400, json!({"error": "Invalid JSON"}))
    );
    let mut bad_utf8 = not_json.clone();
    bad_utf8.body = b"{\"name\": \"\xff\"}".to_vec().into();
    let res = users.send(&bad_utf8).await;
    assert_eq!(
        (res.status.as_u16(), res.json()),
        (400, json!({"error": "Invalid JSON"}))
    );
    let no_type = TestRequest::new(Method::POST, "/api/users").bearer(TOKEN);
    let res = users.send(&no_type).await;
    assert_eq!(res.status, 415);
    // The seed user was not changed by any of this.
    let seed = users
        .send(&TestRequest::get(format!("/api/users/{seed_id}")))
        .await;
    assert_eq!(
        seed.json(),
        serde_json::to_value(&vercel_rust_api::store::seed_users()[3]).unwrap()
    );
}

async fn unique_emails(users: Spawned) {
    let a = users
        .send(&post(json!({"name": "A", "email": "Same@Example.com"})))
        .await;
    assert_eq!(a.status, 201);
    let b = users
        .send(&post(json!({"name": "B", "email": "same@example.COM"})))
        .await;
    assert_eq!(
        (b.status.as_u16(), b.json()),
        (409, json!({"error": "Email already taken"}))
    );
    let c = users
        .send(&post(json!({"name": "C", "email": "other@example.com"})))
        .await;
    let c_id = c.json()["id"].as_str().unwrap().to_owned();
    let steal = users
        .send(&patch(&c_id, json!({"email": "SAME@example.com"})))
        .await;
    assert_eq!(
        (steal.status.as_u16(), steal.json()),
        (409, json!({"error": "Email already taken"}))
    );
    let unchanged = users
        .send(&TestRequest::get(format!("/api/users/{c_id}")))
        .await;
    assert_eq!(unchanged.json()["email"], "other@example.com");
}

/// One address written in another Unicode form (decomposed accent,
/// full-width letters) is the same address: `409`.
async fn unicode_forms_of_one_email(users: Spawned) {
    let first = users
        .send(&post(
            json!({"name": "Jürgen", "email": "jürgen@example.de"}),
        ))
        .await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    for other in [
        "ju\u{308}rgen@example.de",
        "JU\u{308}RGEN@EXAMPLE.DE",
        "\u{FF4A}\u{FC}rgen@example.de",
    ] {
        let res = users
            .send(&post(json!({"name": "Copy", "email": other})))
            .await;
        assert_eq!(
            (res.status.as_u16(), res.json()),
            (409, json!({"error": "Email already taken"})),
            "{other:?}"
        );
    }
    // Case folding beyond lower case: ß and ss, final and medial sigma.
    for (first, other) in [
        ("straße@example.de", "STRASSE@example.de"),
        ("οδος@example.gr", "ΟΔΟΣ@example.gr"),
    ] {
        let made = users
            .send(&post(json!({"name": "Fold", "email": first})))
            .await;
        assert_eq!(made.status, 201, "{first}: {:?}", made.body);
        let again = users
            .send(&post(json!({"name": "Fold", "email": other})))
            .await;
        assert_eq!(
            (again.status.as_u16(), again.json()),
            (409, json!({"error": "Email already taken"})),
            "{first} then {other}"
        );
    }
    // The address is kept as it was typed.
    let id = first.json()["id"].as_str().unwrap().to_owned();
    let stored = users
        .send(&TestRequest::get(format!("/api/users/{id}")))
        .await;
    assert_eq!(stored.json()["email"], "jürgen@example.de");
}

/// Two `Authorization` or two `Content-Type` headers are refused, whatever
/// their order, instead of the first one deciding.
async fn repeated_headers(users: Spawned) {
    let body = json!({"name": "Twice", "email": "twice@example.com"});
    for (first, second) in [(TOKEN, "wrong"), ("wrong", TOKEN)] {
        let res = users
            .send(
                &TestRequest::new(Method::POST, "/api/users")
                    .bearer(first)
                    .bearer(second)
                    .json(&body),
            )
            .await;
        assert_eq!(
            (res.status.as_u16(), res.json()),
            (401, json!({"error": "Missing or invalid bearer token"})),
            "{first} then {second}"
        );
    }
    let res = users
        .send(&post(body).header("content-type", "text/plain"))
        .await;
    assert_eq!(
        (res.status.as_u16(), res.json()),
        (
            415,
            json!({"error": "Content-Type must be application/json"})
        )
    );
}

/// A body that stops arriving gets `408` after 10 s, not a hang.
async fn stalled_body(users: Spawned) {
    let mut s = tokio::net::TcpStream::connect(users.addr).await.unwrap();
    let head = format!(
        "POST /api/users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"name\":"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let started = std::time::Instant::now();
    let mut reply = vec![0; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(20), s.read(&mut reply))
        .await
        .expect("an answer within 20 s")
        .unwrap();
    let reply = String::from_utf8_lossy(&reply[..n]);
    let waited = started.elapsed();
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply:?}");
    assert!(
        reply.ends_with(r#"{"error":"Request body timed out"}"#),
        "{reply:?}"
    );
    assert!(waited >= std::time::Duration::from_secs(9), "{waited:?}");
}

async fn racing_creates(users: Spawned) {
    let users = Arc::new(users);
    for round in 0..10 {
        let email = format!("race{round}@example.com");
        let (ra, rb) = (
            post(json!({"name": "A", "email": email})),
            post(json!({"name": "B", "email": email.to_uppercase()})),
        );
        let (a, b) = tokio::join!(users.send(&ra), users.send(&rb));
        let mut statuses = [a.status.as_u16(), b.status.as_u16()];
        statuses.sort();
        assert_eq!(statuses, [201, 409], "round {round}");
    }
}

async fn fifty_creates(users: Spawned) {
    let users = Arc::new(users);
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let users = Arc::clone(&users);
            tokio::spawn(async move {
                users.send(&post(json!({"name": format!("Bulk {i}"), "email": format!("bulk{i}@example.com")}))).await
            })
        })
        .collect();
    let mut created = HashSet::new();
    for t in tasks {
        let res = t.await.unwrap();
        assert_eq!(res.status, 201);
        created.insert(res.json()["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(created.len(), 50);
    // Walk every page: seed + 50, each exactly once.
    let mut seen = Vec::new();
    let mut path = "/api/users?limit=7".to_owned();
    loop {
        let page = users.send(&TestRequest::get(&path)).await.json();
        seen.extend(
            page["users"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["id"].as_str().unwrap().to_owned()),
        );
        match page["nextCursor"].as_str() {
            Some(c) => path = format!("/api/users?limit=7&cursor={c}"),
            None => break,
        }
    }
    let unique: HashSet<_> = seen.iter().cloned().collect();
    assert_eq!(seen.len(), 150);
    assert_eq!(unique.len(), 150);
    assert!(created.is_subset(&unique));
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "stable id order");
}

async fn delete_vs_patch(users: Spawned) {
    let users = Arc::new(users);
    for round in 0..20 {
        let email = format!("victim{round}@example.com");
        let created = users
            .send(&post(json!({"name": "Victim", "email": email})))
            .await;
        let id = created.json()["id"].as_str().unwrap().to_owned();
        let (rd, rp) = (
            delete(&id),
            patch(
                &id,
                json!({"name": "Revived", "email": format!("revived{round}@example.com")}),
            ),
        );
        let (d, p) = tokio::join!(users.send(&rd), users.send(&rp));
        assert_eq!(d.status, 204, "round {round}");
        assert!(
            p.status == 200 || p.status == 404,
            "round {round}: {}",
            p.status
        );
        let get = users
            .send(&TestRequest::get(format!("/api/users/{id}")))
            .await;
        assert_eq!(get.status, 404, "round {round}: the user came back");
        // Neither email is held by a ghost.
        for e in [email.clone(), format!("revived{round}@example.com")] {
            let again = users.send(&post(json!({"name": "Next", "email": e}))).await;
            assert_eq!(again.status, 201, "round {round}: {e} still taken");
        }
    }
}

/// Peak resident memory of a process, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Sends a raw `POST /api/users` head (with the token when `token`), then
/// `body_len` bytes of body in 64 KiB chunks (chunked encoding when
/// `chunked`), then reads the raw reply. Also says whether the whole body
/// could be written: a server that answers early and closes without reading
/// the rest makes the client's writes fail with a reset.
async fn raw_post(users: &Spawned, body_len: usize, chunked: bool, token: bool) -> (bool, String) {
    let mut s = tokio::net::TcpStream::connect(users.addr).await.unwrap();
    let framing = if chunked {
        "Transfer-Encoding: chunked".to_owned()
    } else {
        format!("Content-Length: {body_len}")
    };
    let auth = if token {
        format!("Authorization: Bearer {TOKEN}\r\n")
    } else {
        String::new()
    };
    let head = format!(
        "POST /api/users HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\n{framing}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b' '; 64 * 1024];
    let mut written_all = true;
    for _ in 0..body_len / chunk.len() {
        let frame = if chunked {
            [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat()
        } else {
            chunk.clone()
        };
        if s.write_all(&frame).await.is_err() {
            written_all = false;
            break;
        }
    }
    if chunked && written_all {
        written_all = s.write_all(b"0\r\n\r\n").await.is_ok();
    }
    let mut reply = Vec::new();
    let _ =
        tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut reply)).await;
    (written_all, String::from_utf8_lossy(&reply).into_owned())
}

async fn huge_body(users: Spawned) {
    let before = peak_rss_kib(users.pid());
    for chunked in [false, true] {
        let (written_all, reply) = raw_post(&users, 10 * 1024 * 1024, chunked, true).await;
        assert!(
            reply.starts_with("HTTP/1.1 413"),
            "chunked={chunked}: {reply:?}"
        );
        assert!(written_all, "chunked={chunked}: the connection was reset");
        assert!(
            reply.ends_with(r#"{"error":"Request body too large"}"#),
            "{reply:?}"
        );
    }
    let grown = peak_rss_kib(users.pid()).saturating_sub(before);
    assert!(
        grown < 4 * 1024,
        "peak memory grew by {grown} KiB for a 10 MB body"
    );
}

/// A `401` (or any answer given before the body is read) still lets the
/// client send its whole body and read the answer, instead of a reset that a
/// proxy in front of the function would turn into a `500`.
async fn early_answer(users: Spawned) {
    for round in 0..5 {
        let (written_all, reply) = raw_post(&users, 4 * 1024 * 1024, false, false).await;
        assert!(
            reply.starts_with("HTTP/1.1 401"),
            "round {round}: {reply:?}"
        );
        assert!(
            reply.ends_with(r#"{"error":"Missing or invalid bearer token"}"#),
            "round {round}: {reply:?}"
        );
        assert!(written_all, "round {round}: the connection was reset");
    }
}
