//! The smallest `vercel_runtime` function answering the geo JSON: the
//! runtime and the answer, nothing else. The size of `geo` is compared with it.

use vercel_runtime::{Error, Request, ResponseBody, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    vercel_runtime::run(service_fn(|req: Request| async move {
        let res = vercel_rust_api_bench::answer(req.method(), req.uri().path(), req.headers());
        Ok::<_, Error>(res.map(ResponseBody::from))
    }))
    .await
}
