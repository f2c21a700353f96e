//! The `users` function: `/api/users` and `/api/users/ID`. All logic lives in
//! the library; the store client is made here once and reused while warm.

use vercel_runtime::{Error, Request, ResponseBody, service_fn};
use vercel_rust_api::{App, catch_panics, users};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let app = App::from_env();
    vercel_runtime::run(service_fn(move |req: Request| {
        let app = app.clone();
        async move {
            let res = catch_panics(async move { users::handle(&app, req).await }).await;
            Ok::<_, Error>(res.map(ResponseBody::from))
        }
    }))
    .await
}
