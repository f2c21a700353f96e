//! The local dev server: `cargo run` serves `public/` and `/api/*` on
//! `http://127.0.0.1:3000` (or `$PORT`), on the store the environment selects.
//! `cargo run -- seed` loads the bundled seed data into that store.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use vercel_rust_api::dev::{self, DevServer};
use vercel_rust_api::{App, store};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => serve().await,
        ["seed"] => seed().await,
        _ => {
            eprintln!("usage: cargo run [-- seed]");
            ExitCode::from(2)
        }
    }
}

/// Loads the seed data into the configured store; running it again leaves
/// the same data.
async fn seed() -> ExitCode {
    let app = App::from_env();
    let users = store::seed_users();
    match app.store.seed(&users).await {
        Ok(()) => {
            println!(
                "Seeded {} users into the {} store.",
                users.len(),
                app.store.kind()
            );
            if app.store.kind() == "memory" {
                println!(
                    "(Without REDIS_URL the embedded store is seeded at every start; this changed nothing that lasts.)"
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: seeding failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve() -> ExitCode {
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
