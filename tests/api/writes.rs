//! Writes over HTTP against the spawned `users` binary (embedded store).

use serde_json::json;

use crate::contract::{ENV, TOKEN};
use crate::helpers::{Spawned, TestRequest};
use http::Method;

#[tokio::test]
async fn writes_are_403_when_no_token_is_configured() {
    let users = Spawned::function("users", &[]).await;
    for req in [
        TestRequest::new(Method::POST, "/api/users")
            .json(&json!({"name": "A", "email": "a@example.com"})),
        TestRequest::new(Method::PATCH, "/api/users/x").json(&json!({"name": "A"})),
        TestRequest::new(Method::DELETE, "/api/users/x").bearer("anything"),
    ] {
        let res = users.send(&req).await;
        assert_eq!(res.status, 403, "{} {}", req.method, req.path);
        assert_eq!(res.json(), json!({"error": "Writes are disabled"}));
    }
}

#[tokio::test]
async fn a_body_over_64_kib_is_413_even_without_content_length_trust() {
    let users = Spawned::function("users", ENV).await;
    let big = "x".repeat(64 * 1024 + 1);
    let mut req = TestRequest::new(Method::POST, "/api/users").bearer(TOKEN);
    req = req.header("content-type", "application/json");
    req.body = big.into();
    let res = users.send(&req).await;
    assert_eq!(res.status, 413);
    assert_eq!(res.json(), json!({"error": "Request body too large"}));
}

#[tokio::test]
async fn create_read_patch_delete_round_trip() {
    let users = Spawned::function("users", ENV).await;
    let created = users
        .send(
            &TestRequest::new(Method::POST, "/api/users")
                .bearer(TOKEN)
                .json(&json!({"name": "  Grace Hopper ", "email": "grace@example.org"})),
        )
        .await;
    assert_eq!(created.status, 201);
    let user = created.json();
    let id = user["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created.header("location"),
        Some(format!("/api/users/{id}").as_str())
    );
    assert_eq!(user["name"], "Grace Hopper");
    assert_eq!(user["email"], "grace@example.org");
    assert_eq!(id.len(), 26);
    let fetched = users
        .send(&TestRequest::get(format!("/api/users/{id}")))
        .await;
    assert_eq!(
        (fetched.status.as_u16(), fetched.json()),
        (200, user.clone())
    );

    let patched = users
        .send(
            &TestRequest::new(Method::PATCH, format!("/api/users/{id}"))
                .bearer(TOKEN)
                .json(&json!({"name": "Rear Admiral Hopper"})),
        )
        .await;
    assert_eq!(patched.status, 200);
    let mut want = user.clone();
    want["name"] = json!("Rear Admiral Hopper");
    assert_eq!(patched.json(), want);

    let deleted = users
        .send(&TestRequest::new(Method::DELETE, format!("/api/users/{id}")).bearer(TOKEN))
        .await;
    assert_eq!(deleted.status, 204);
    assert!(deleted.body.is_empty());
    let gone = users
        .send(&TestRequest::get(format!("/api/users?id={id}")))
        .await;
    assert_eq!(
        (gone.status.as_u16(), gone.json()),
        (404, json!({"error": "Not found"}))
    );
}
