//! `mitsu`: parse the command line, validate, dispatch. All logic lives in the library crates.

mod demo;

// Secret-shared vectors are allocated and freed batch after batch; glibc's allocator hands such
// blocks back to the kernel and pays page faults on every reuse (about 1 GB/s here), mimalloc
// keeps them. Measured: sharing a million Z_2^128 values 2-3x faster.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "mitsu",
    version,
    about = "Secure computation on secret-shared tables among three parties"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole story on this machine: secret-share sample data, compute jointly, open results.
    Demo {
        /// Directory with clinic_patients.csv (defaults to the bundled examples/).
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Write a local three-party deployment: CA, party certificates, party and admin configs.
    Init {
        /// Directory to create (must be new or empty).
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 3)]
        parties: usize,
        /// Host the parties listen on and are reached at.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// First port: peers listen on base..base+2, client APIs on base+3..base+5.
        #[arg(long = "base-port", default_value_t = 7300)]
        base_port: u16,
    },
    /// Run one party server.
    Party {
        /// The party's configuration file (written by `mitsu init`).
        #[arg(long)]
        config: PathBuf,
    },
    /// Health and version of each party.
    Status {
        /// Client file (for example admin.toml); or set MITSU_CLIENT.
        #[arg(long, env = "MITSU_CLIENT")]
        client: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Measure the engine: each operation over share, compute and open, next to plain computation.
    Bench {
        /// Elements for the element-wise operations.
        #[arg(long, default_value_t = 1_000_000)]
        n: usize,
        /// Elements to sort.
        #[arg(long = "sort-n", default_value_t = 100_000)]
        sort_n: usize,
        /// Only these operations (comma separated): mul_int, mul_fixed, lt, eq, sum, mean_var, sort.
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Runs per operation; the best is reported.
        #[arg(long, default_value_t = 3)]
        repeat: usize,
        /// Elements per batch (bounds memory for large n).
        #[arg(long, default_value_t = 1 << 15)]
        batch: usize,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Demo { data } => demo::run(data),
        Command::Init {
            dir,
            parties,
            host,
            base_port,
        } => {
            let w = mitsu_server::init::init(&mitsu_server::init::InitOptions {
                dir: dir.clone(),
                parties,
                host,
                base_port,
            })?;
            println!("wrote a {parties}-party deployment in {}", dir.display());
            for p in &w.party_configs {
                println!("  party config: {}", p.display());
            }
            println!(
                "  admin client: {} (holds the bootstrap token: keep it private)",
                w.admin.display()
            );
            println!("  ca.key signs replacement certificates: move it offline");
            Ok(())
        }
        Command::Party { config } => {
            let cfg = mitsu_api::PartyConfig::load(&config)?;
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            mitsu_server::party::run(cfg, stop)?;
            Ok(())
        }
        Command::Status { client, json } => status(&client, json),
        Command::Bench {
            n,
            sort_n,
            only,
            repeat,
            batch,
            json,
        } => {
            let cfg = mitsu_bench::BenchConfig {
                n,
                sort_n,
                only,
                repeat,
                batch,
            };
            let report = mitsu_bench::run(&cfg)?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                print!("{}", mitsu_bench::format_table(&report));
            }
            Ok(())
        }
    }
}

fn status(client: &std::path::Path, json: bool) -> Result<()> {
    let c = mitsu_client::Client::load(client)?;
    let res = c.status();
    let mut down = Vec::new();
    if json {
        let arr: Vec<serde_json::Value> = res
            .iter()
            .enumerate()
            .map(|(i, r)| match r {
                Ok(v) => v.clone(),
                Err(e) => serde_json::json!({"party": i, "error": e.to_string()}),
            })
            .collect();
        println!("{}", serde_json::Value::Array(arr));
    }
    for (i, r) in res.iter().enumerate() {
        match r {
            Ok(v) => {
                if !json {
                    let linked: Vec<String> = v["peers"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .map(|p| {
                                    format!(
                                        "{}:{}",
                                        p["party"],
                                        if p["linked"] == true {
                                            "linked"
                                        } else {
                                            "not linked"
                                        }
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    println!(
                        "party {i}: up, version {}, uptime {:.0} s, peers {}",
                        v["version"].as_str().unwrap_or("?"),
                        v["uptime_s"].as_f64().unwrap_or(0.0),
                        linked.join(", ")
                    );
                }
            }
            Err(e) => {
                if !json {
                    println!("party {i}: NOT OK: {e}");
                }
                down.push(i);
            }
        }
    }
    if !down.is_empty() {
        anyhow::bail!("parties {down:?} did not answer the status request");
    }
    Ok(())
}
