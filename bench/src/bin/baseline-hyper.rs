//! The bare baseline: hyper 1 + tokio, HTTP/1, answering the geo JSON. It
//! does what a `vercel_runtime` 2.x function does on start (bind
//! `127.0.0.1:$VERCEL_DEV_PORT`, print `Dev server listening: <port>`, answer
//! `/_vercel/ping`, exit on SIGTERM) and nothing more.

use std::convert::Infallible;
use std::net::Ipv4Addr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let port: u16 = std::env::var("VERCEL_DEV_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
    println!("Dev server listening: {port}");
    let mut sigterm = signal(SignalKind::terminate())?;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = accepted?;
                tokio::spawn(async move {
                    let _ = http1::Builder::new()
                        .keep_alive(true)
                        .half_close(true)
                        .serve_connection(TokioIo::new(stream), service_fn(serve))
                        .await;
                });
            }
            _ = sigterm.recv() => return Ok(()),
        }
    }
}

async fn serve(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let res = if req.uri().path() == "/_vercel/ping" {
        Response::new(Bytes::from_static(b"OK"))
    } else {
        vercel_rust_api_bench::answer(req.method(), req.uri().path(), req.headers())
    };
    Ok(res.map(Full::new))
}
