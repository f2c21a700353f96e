//! The local dev server: `cargo run` serves `public/` and `/api/*` on
//! `http://127.0.0.1:3000` (or `$PORT`), on the store the environment selects.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use vercel_rust_api::App;
use vercel_rust_api::dev::{self, DevServer};

#[tokio::main]
async fn main() -> ExitCode {
    let port = match std::env::var("PORT") {
        Err(_) => 3000,
        Ok(p) => match p.trim().parse::<u16>() {
            Ok(p) => p,
            Err(_) => {
                eprintln!("error: PORT must be a number from 0 to 65535, not {p:?}");
                return ExitCode::FAILURE;
            }
        },
    };
    let app = App::from_env();
    let server = match DevServer::new(app, &dev::project_root()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match dev::serve(server, SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
