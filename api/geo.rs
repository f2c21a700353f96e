//! The `geo` function: `GET /api/geo`. All logic lives in the library.

use std::sync::Arc;

use vercel_runtime::{Error, Request, ResponseBody, service_fn};
use vercel_rust_api::{Config, catch_panics, geo};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = Arc::new(Config::from_env());
    vercel_runtime::run(service_fn(move |req: Request| {
        let config = Arc::clone(&config);
        async move {
            let res = catch_panics(async move { geo::handle(&config, req).await }).await;
            Ok::<_, Error>(res.map(ResponseBody::from))
        }
    }))
    .await
}
