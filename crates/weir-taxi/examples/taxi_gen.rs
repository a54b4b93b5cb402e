//! Generates trip files from the command line and prints what was written and how long it took:
//! `cargo run -p weir-taxi --release --example taxi_gen -- DIR yellow 2021 1 [SCALE] [SEED]`.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::time::Instant;

use weir_taxi::{MonthSpec, Taxi, generate};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 4 {
        eprintln!("usage: taxi_gen DIR yellow|green YEAR MONTH [SCALE] [SEED]");
        std::process::exit(2);
    }
    let spec = MonthSpec {
        taxi: args[1].parse::<Taxi>()?,
        year: args[2].parse()?,
        month: args[3].parse()?,
        scale: args.get(4).map(|s| s.parse()).transpose()?.unwrap_or(1.0),
        seed: args.get(5).map(|s| s.parse()).transpose()?.unwrap_or(0),
    };
    let started = Instant::now();
    let stats = generate(&spec, &PathBuf::from(&args[0]))?;
    println!("{stats:#?}");
    println!("took {:.2?}", started.elapsed());
    Ok(())
}
