//! Serves a folder of generated trip files at the public release paths until Ctrl-C:
//! `cargo run -p weir-taxi --example taxi_mirror -- DIR [PORT]`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;

use weir_taxi::Mirror;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: taxi_mirror DIR [PORT]");
        std::process::exit(2);
    };
    let port = args.next().map(|p| p.parse()).transpose()?.unwrap_or(0);
    let mirror = Mirror::start(PathBuf::from(dir), port).await?;
    println!("{}", mirror.base_url());
    tokio::signal::ctrl_c().await?;
    mirror.stop().await;
    Ok(())
}
