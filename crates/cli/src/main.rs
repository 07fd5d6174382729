//! `mitsu`: parse the command line, validate, dispatch. All logic lives in the library crates.

mod args;
mod commands;
mod demo;
mod render;
mod stats;

use args::{Cli, Command, SchemaCmd, TableCmd};
use commands::tables::{table_show, tables, upload};
use commands::{bench::bench_processes, sql::sql, status::status};
use render::{Align, human_bytes};

// Secret-shared vectors are allocated and freed batch after batch; glibc's allocator hands such
// blocks back to the kernel and pays page faults on every reuse (about 1 GB/s here), mimalloc
// keeps them. Measured: sharing a million Z_2^128 values 2-3x faster.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Result;
use clap::Parser;

fn main() {
    // `mitsu sql ... | head -1`: a reader that stops early closes the pipe, and printing then
    // fails; that ends the command quietly, as it does for other Unix tools, instead of a panic.
    // The panic still unwinds, so that what the command started (the demo's party processes,
    // temporary files) is stopped and removed on the way out.
    static BROKEN_PIPE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            BROKEN_PIPE.store(true, std::sync::atomic::Ordering::SeqCst);
            return;
        }
        default_hook(info)
    }));
    let cli = Cli::parse();
    // the client plans every query too: give it the stack the planner's limits are sized for
    let worker = std::thread::Builder::new()
        .name("mitsu".into())
        .stack_size(mitsu_query::limits::STACK_BYTES)
        .spawn(move || run(cli))
        .expect("starting the main thread");
    let res = worker.join();
    if BROKEN_PIPE.load(std::sync::atomic::Ordering::SeqCst) {
        std::process::exit(141); // 128 + SIGPIPE, what a shell reports for a closed pipe
    }
    let res = res.unwrap_or_else(|_| Err(anyhow::anyhow!("internal error (a bug); see the message above")));
    if let Err(e) = res {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

/// The query from the command line, a file (`-f`), or standard input (`-`, or nothing when
/// something is piped in). Reading stops past the planner's size limit, which then refuses it.
fn sql_text(query: Option<String>, file: Option<&std::path::Path>) -> Result<String> {
    use std::io::{IsTerminal, Read};
    let limit = mitsu_query::limits::MAX_SQL_BYTES as u64 + 1;
    let mut text = String::new();
    match (query.as_deref(), file) {
        (Some(q), None) if q != "-" => return Ok(q.to_string()),
        (_, Some(f)) => {
            let h = std::fs::File::open(f).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
            h.take(limit).read_to_string(&mut text).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
        }
        (None, None) if std::io::stdin().is_terminal() => {
            anyhow::bail!("give the SELECT statement, `-f FILE`, or pipe it on standard input")
        }
        _ => {
            std::io::stdin()
                .take(limit)
                .read_to_string(&mut text)
                .map_err(|e| anyhow::anyhow!("standard input: {e}"))?;
        }
    }
    let text = text.trim().trim_end_matches(';').trim().to_string();
    if text.is_empty() {
        anyhow::bail!("the SELECT statement is empty");
    }
    Ok(text)
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Demo { data, in_process } => {
            if in_process {
                demo::run_in_process(data)
            } else {
                demo::run(data)
            }
        }
        Command::Up { dir } => {
            let pids = mitsu_server::local::up(&dir, &std::env::current_exe()?)?;
            mitsu_server::local::wait_ready(&dir, std::time::Duration::from_secs(30))?;
            println!("parties running (pids {pids:?}); logs in {}/party-<i>/party.log", dir.display());
            Ok(())
        }
        Command::Down { dir } => {
            let n = mitsu_server::local::down(&dir)?;
            println!("stopped {n} parties");
            Ok(())
        }
        Command::Init { dir, parties, host, base_port } => {
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
            println!("  admin client: {} (holds the bootstrap token: keep it private)", w.admin.display());
            println!("  ca.key signs replacement certificates: move it offline");
            Ok(())
        }
        Command::Party { config } => {
            let cfg = mitsu_api::PartyConfig::load(&config)?;
            // the party's log: one line per event on stderr (party.log under `mitsu up`)
            tracing_subscriber::fmt()
                .with_writer(std::io::stderr)
                .with_ansi(false)
                .with_target(false)
                .with_max_level(tracing::Level::INFO)
                .init();
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            mitsu_server::party::run(cfg, stop)?;
            Ok(())
        }
        Command::Status { client, json } => status(&client, json),
        Command::Account { cmd } => commands::governance::account(cmd),
        Command::Project { cmd } => commands::governance::project(cmd),
        Command::Policy { cmd } => commands::governance::policy(cmd),
        Command::Audit { client, project, verify, json } => commands::audit::audit(&client, project, verify, json),
        Command::Schema { cmd: SchemaCmd::Infer { csv, key, text, out } } => {
            let t = mitsu_client::table::read_csv_as(&csv, None, key.as_deref(), text.as_deref())?;
            let text = serde_json::to_string_pretty(&t.schema)?;
            match out {
                Some(p) => std::fs::write(&p, text + "\n")?,
                None => println!("{text}"),
            }
            // on stderr, so that the schema on stdout stays a file
            for n in &t.notes {
                eprintln!("note: {n}");
            }
            Ok(())
        }
        Command::Upload { client, table, csv, abort, schema, key, text, policy } => match (abort, table, csv) {
            (Some(t), _, _) => {
                let n = mitsu_client::Client::load(&client)?.abort_upload(&t)?;
                match n {
                    0 => println!("no unfinished upload of {t:?} by you was found at any party"),
                    _ => println!("discarded your unfinished upload of {t:?} at every party"),
                }
                Ok(())
            }
            (None, Some(table), Some(csv)) => {
                upload(&client, &table, &csv, schema.as_deref(), (key.as_deref(), text.as_deref()), &policy)
            }
            _ => Err(anyhow::anyhow!("mitsu upload needs --table NAME --csv FILE (or --abort TABLE)")),
        },
        Command::Tables { client } => tables(&client),
        Command::Stats(a) => stats::run(*a),
        Command::Table { cmd: TableCmd::Show { name, client } } => table_show(&client, &name),
        Command::Table { cmd: TableCmd::Drop { name, client } } => {
            mitsu_client::Client::load(&client)?.drop_table(&name)?;
            println!("removed table {name:?} and its shares at all three parties");
            Ok(())
        }
        Command::Sql { client, query, file, format, explain, allow_many_to_many, project } => {
            let query = sql_text(query, file.as_deref())?;
            sql(&client, &query, &format, explain, mitsu_query::Options { allow_many_to_many }, project)
        }
        Command::Bench {
            n,
            sort_n,
            only,
            repeat,
            batch,
            json,
            processes,
            relational,
            rows,
            groups,
            stats,
            logit_rows,
            audit,
            records,
        } => {
            if audit {
                let r = mitsu_bench::audit::run(records, &std::env::current_exe()?).map_err(anyhow::Error::msg)?;
                if json {
                    println!("{}", serde_json::to_string(&r)?);
                } else {
                    print!("{}", mitsu_bench::audit::format(&r));
                }
                return Ok(());
            }
            if stats {
                let cfg = mitsu_bench::stats::StatsConfig { rows, logit_rows, repeat };
                let r = mitsu_bench::stats::run_all(&cfg)?;
                if json {
                    println!("{}", serde_json::to_string(&r)?);
                } else {
                    print!("{}", mitsu_bench::stats::format(&r));
                }
                return Ok(());
            }
            if relational {
                let r = mitsu_bench::relational::run(&mitsu_bench::relational::RelConfig { rows, groups, repeat })?;
                if json {
                    println!("{}", serde_json::to_string(&r)?);
                } else {
                    print!("{}", mitsu_bench::relational::format(&r));
                }
                return Ok(());
            }
            if processes {
                return bench_processes(n, &only, repeat, json);
            }
            let cfg = mitsu_bench::BenchConfig { n, sort_n, only, repeat, batch };
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
