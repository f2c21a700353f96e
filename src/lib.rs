//! A JSON API in Rust on Vercel.
//!
//! Every file under `api/` is one Vercel function: a thin `main` that builds
//! what lives for the process once ([`Config`], the store) and hands each
//! request to a handler of this library. The handlers work on plain `http`
//! types, so tests call them in-process, and the local dev server
//! ([`dev`], `cargo run`) routes to the very same handlers.
//!
//! - [`geo`]: `GET /api/geo`, the visitor's country from the platform headers.
//! - [`users`]: `/api/users`, a page of users, one user, writes with a token.
//! - [`store`]: the `UserStore` trait, the embedded store and Redis.
//! - [`error`]: the one error type and the one place it becomes a response.
//! - [`respond`]: JSON bodies, common headers, `OPTIONS`/CORS/`HEAD`, body limits.
//!
//! The HTTP contract is written down in `README.md`.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use http::Response;

pub mod config;
pub mod dev;
pub mod error;
pub mod geo;
pub mod respond;
pub mod store;
pub mod users;

pub use config::Config;
pub use store::UserStore;

/// What a users process holds for its lifetime: settings and the store
/// client, made once and shared (cheaply cloned) by every request.
#[derive(Clone)]
pub struct App {
    /// Settings read at start-up.
    pub config: Arc<Config>,
    /// The store the configuration selected.
    pub store: Arc<dyn UserStore>,
}

impl App {
    /// Builds the process state from the environment: called once in `main`.
    pub fn from_env() -> Self {
        let config = Config::from_env();
        let store = store::from_config(&config);
        Self::new(config, store)
    }

    /// State over a given store (tests use this).
    pub fn new(config: Config, store: Arc<dyn UserStore>) -> Self {
        Self {
            config: Arc::new(config),
            store,
        }
    }
}

/// Runs a handler so that a panic (a bug) becomes a logged `500` JSON answer
/// instead of a dropped connection, and the process lives on.
///
/// Where panics unwind (debug builds: the dev server, tests) the handler runs
/// on a task of its own, which catches the panic. The release profile aborts
/// on panic instead (smaller, faster binaries), so there is nothing to catch:
/// the handler runs in place, without a task per request, and after an abort
/// Vercel starts a fresh instance.
pub async fn catch_panics<F>(handler: F) -> Response<Bytes>
where
    F: Future<Output = Response<Bytes>> + Send + 'static,
{
    #[cfg(panic = "unwind")]
    {
        match tokio::spawn(handler).await {
            Ok(res) => res,
            Err(e) => {
                eprintln!("handler failed: {e}");
                respond::json_error(
                    http::StatusCode::INTERNAL_SERVER_ERROR,
                    "Internal server error",
                )
            }
        }
    }
    #[cfg(not(panic = "unwind"))]
    {
        handler.await
    }
}
