//! `mitsu`: parse the command line, validate, dispatch. All logic lives in the library crates.

mod demo;
mod render;
mod stats;
use render::Align;

// Secret-shared vectors are allocated and freed batch after batch; glibc's allocator hands such
// blocks back to the kernel and pays page faults on every reuse (about 1 GB/s here), mimalloc
// keeps them. Measured: sharing a million Z_2^128 values 2-3x faster.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "mitsu", version, about = "Secure computation on secret-shared tables among three parties")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole story on this machine: secret-share sample data, compute jointly, open results.
    Demo {
        /// Directory with clinic_patients.csv and lab_results.csv (defaults to the bundled examples/).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Show the engine alone: three parties as threads of this process.
        #[arg(long = "in-process")]
        in_process: bool,
    },
    /// Start a local deployment's parties in the background (pid files and logs under DIR).
    Up {
        #[arg(long)]
        dir: PathBuf,
    },
    /// Stop a local deployment's parties.
    Down {
        #[arg(long)]
        dir: PathBuf,
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
    /// Accounts (admin only).
    Account {
        #[command(subcommand)]
        cmd: AccountCmd,
    },
    /// Infer a table schema from a CSV file (edit it, then pass it to `upload --schema`).
    Schema {
        #[command(subcommand)]
        cmd: SchemaCmd,
    },
    /// Secret-share a CSV file on this machine and upload the shares to the three parties.
    Upload {
        #[arg(long, env = "MITSU_CLIENT")]
        client: PathBuf,
        /// Table name.
        #[arg(long)]
        table: Option<String>,
        #[arg(long, required_unless_present = "abort")]
        csv: Option<PathBuf>,
        /// Discard your unfinished upload of TABLE at every party instead (uploads left
        /// unfinished are also discarded after the parties' upload timeout).
        #[arg(long, value_name = "TABLE", conflicts_with_all = ["csv", "table", "schema", "key"])]
        abort: Option<String>,
        /// Schema file (JSON, as written by `mitsu schema infer`); inferred when absent.
        #[arg(long)]
        schema: Option<PathBuf>,
        /// Column holding a join key (hashed on this machine, never printable).
        #[arg(long)]
        key: Option<String>,
    },
    /// List the tables the parties hold.
    Tables {
        #[arg(long, env = "MITSU_CLIENT")]
        client: PathBuf,
    },
    /// Details of one table: schema, owner, rows, version, which parties hold it.
    Table {
        #[command(subcommand)]
        cmd: TableCmd,
    },
    /// Run a SQL query jointly: joins, unions, filters, group-by. Only the result is opened, to you;
    /// the leakage list says what else the parties learned (e.g. the number of result rows).
    Sql {
        #[arg(long, env = "MITSU_CLIENT")]
        client: PathBuf,
        /// The SELECT statement.
        query: String,
        /// table, json or csv.
        #[arg(long, default_value = "table")]
        format: String,
        /// Print the plan, estimated rounds and bytes per party, and what each step reveals; run nothing.
        #[arg(long)]
        explain: bool,
        /// Allow joins whose keys repeat on both sides; they open the number of matching pairs.
        #[arg(long = "allow-many-to-many")]
        allow_many_to_many: bool,
    },
    /// Statistics computed jointly by the three parties; only the results are opened, to you.
    /// `mitsu stats --help` lists the functions, `mitsu stats FUNCTION --help` their options and
    /// what each opens.
    Stats(Box<stats::StatsArgs>),
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
        /// Run across three party processes over TLS on loopback (compute + open, next to the same
        /// work in process): mul_int, mul_fixed, lt, eq; default mul_fixed and lt.
        #[arg(long)]
        processes: bool,
        /// SQL benchmarks in process: a join of ROWS x ROWS rows and a GROUP BY of ROWS rows into
        /// GROUPS groups, checked against plain Rust.
        #[arg(long)]
        relational: bool,
        /// Rows per table for --relational.
        #[arg(long, default_value_t = 1_000_000)]
        rows: usize,
        /// Groups for --relational.
        #[arg(long, default_value_t = 1000)]
        groups: usize,
        /// Statistics benchmarks in process: describe of one column and OLS with 10 regressors on
        /// ROWS rows, logistic regression with 5 regressors on LOGIT_ROWS rows, each checked
        /// against plain Rust.
        #[arg(long)]
        stats: bool,
        /// Rows for the logistic regression of --stats.
        #[arg(long = "logit-rows", default_value_t = 100_000)]
        logit_rows: usize,
    },
}

#[derive(Subcommand)]
enum AccountCmd {
    /// Create an account at every party and write its client file.
    Create {
        #[arg(long, env = "MITSU_CLIENT")]
        client: PathBuf,
        #[arg(long)]
        name: String,
        /// provider (uploads its own tables), analyst (runs analyses) or admin.
        #[arg(long)]
        role: String,
        /// Where to write the new account's client file.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum SchemaCmd {
    /// Print (or write) the schema inferred from a CSV file.
    Infer {
        #[arg(long)]
        csv: PathBuf,
        #[arg(long)]
        key: Option<String>,
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum TableCmd {
    /// Show one table.
    Show {
        name: String,
        #[arg(long, env = "MITSU_CLIENT")]
        client: PathBuf,
    },
}

fn main() {
    let cli = Cli::parse();
    // the client plans every query too: give it the stack the planner's limits are sized for
    let worker = std::thread::Builder::new()
        .name("mitsu".into())
        .stack_size(mitsu_query::limits::STACK_BYTES)
        .spawn(move || run(cli))
        .expect("starting the main thread");
    let res = worker.join().unwrap_or_else(|_| Err(anyhow::anyhow!("internal error (a bug); see the message above")));
    if let Err(e) = res {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
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
            wait_ready(&dir.join("admin.toml"), std::time::Duration::from_secs(30))?;
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
        Command::Account { cmd: AccountCmd::Create { client, name, role, out } } => {
            let c = mitsu_client::Client::load(&client)?;
            let cfg = c.create_account(&name, &role)?;
            write_private(&out, &cfg.to_toml())?;
            println!(
                "created {role} account {name:?} at all three parties; its client file is {} (keep it private)",
                out.display()
            );
            Ok(())
        }
        Command::Schema { cmd: SchemaCmd::Infer { csv, key, out } } => {
            let t = mitsu_client::table::read_csv(&csv, None, key.as_deref())?;
            let text = serde_json::to_string_pretty(&t.schema)?;
            match out {
                Some(p) => std::fs::write(&p, text + "\n")?,
                None => println!("{text}"),
            }
            Ok(())
        }
        Command::Upload { client, table, csv, abort, schema, key } => match (abort, table, csv) {
            (Some(t), _, _) => {
                let n = mitsu_client::Client::load(&client)?.abort_upload(&t)?;
                match n {
                    0 => println!("no unfinished upload of {t:?} by you was found at any party"),
                    _ => println!("discarded your unfinished upload of {t:?} at every party"),
                }
                Ok(())
            }
            (None, Some(table), Some(csv)) => upload(&client, &table, &csv, schema.as_deref(), key.as_deref()),
            _ => Err(anyhow::anyhow!("mitsu upload needs --table NAME --csv FILE (or --abort TABLE)")),
        },
        Command::Tables { client } => tables(&client),
        Command::Stats(a) => stats::run(*a),
        Command::Table { cmd: TableCmd::Show { name, client } } => table_show(&client, &name),
        Command::Sql { client, query, format, explain, allow_many_to_many } => {
            sql(&client, &query, &format, explain, mitsu_query::Options { allow_many_to_many })
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
        } => {
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

fn status(client: &std::path::Path, json: bool) -> Result<()> {
    let c = mitsu_client::Client::load(client)?;
    let res = c.status();
    let mut down = Vec::new();
    if json {
        let arr: Vec<serde_json::Value> = res
            .iter()
            .enumerate()
            .map(|(i, r)| match r {
                Ok(v) => serde_json::to_value(v).expect("serializes"),
                Err(e) => serde_json::json!({"party": i, "error": e.to_string()}),
            })
            .collect();
        println!("{}", serde_json::Value::Array(arr));
    }
    for (i, r) in res.iter().enumerate() {
        match r {
            Ok(v) => {
                if !json {
                    let linked: Vec<String> = v
                        .peers
                        .iter()
                        .map(|p| format!("{}:{}", p.party, if p.linked { "linked" } else { "not linked" }))
                        .collect();
                    let pending = match v.pending_changes {
                        0 => String::new(),
                        n => format!(
                            "; {n} interrupted change(s) waiting for the other parties (completed automatically)"
                        ),
                    };
                    println!(
                        "party {i}: up, version {}, uptime {:.0} s, peers {}{pending}",
                        v.version,
                        v.uptime_s,
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

fn print_schema(s: &mitsu_api::Schema) {
    let mut rows = Vec::new();
    for c in &s.columns {
        let ty = match &c.kind {
            mitsu_api::Kind::Decimal { scale } => format!("decimal({scale})"),
            k => format!("{k:?}").to_lowercase(),
        };
        let range = match c.kind {
            mitsu_api::Kind::Key | mitsu_api::Kind::Category => "-".to_string(),
            _ => format!("|encoded| < 2^{}", c.bits),
        };
        rows.push(vec![c.name.clone(), ty, if c.nullable { "yes" } else { "no" }.to_string(), range]);
    }
    let l = Align::Left;
    println!("{}", render::table(&["column", "type", "nullable", "range"], &[l, l, l, l], &rows, 1));
}

/// Writes a file only its owner can read (0600): client files hold bearer tokens.
fn write_private(path: &std::path::Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        o.mode(0o600);
        let mut f = o.open(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        // an existing file keeps its mode on open: make it private too
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        f.write_all(text.as_bytes())?;
    }
    #[cfg(not(unix))]
    o.open(path)?.write_all(text.as_bytes())?;
    Ok(())
}

fn upload(
    client: &std::path::Path,
    table: &str,
    csv: &std::path::Path,
    schema: Option<&std::path::Path>,
    key: Option<&str>,
) -> Result<()> {
    let c = mitsu_client::Client::load(client)?;
    let schema: Option<mitsu_api::Schema> = match schema {
        Some(p) => Some(
            serde_json::from_str(&std::fs::read_to_string(p)?).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?,
        ),
        None => None,
    };
    let t = mitsu_client::table::read_csv(csv, schema.as_ref(), key)?;
    println!("{}: {} rows, schema{}:", csv.display(), t.rows, if schema.is_some() { "" } else { " (inferred)" });
    print_schema(&t.schema);
    // a bar on stderr for uploads that take a while; hidden when stderr is not a terminal
    let bar = if t.rows >= 100_000 {
        indicatif::ProgressBar::new(0).with_style(
            indicatif::ProgressStyle::with_template(
                "  uploading [{bar:30}] {pos}/{len} chunks, {elapsed} elapsed, ~{eta} left",
            )
            .expect("a valid template")
            .progress_chars("#>-"),
        )
    } else {
        indicatif::ProgressBar::hidden()
    };
    let progress = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    let r = c.upload(table, &t, &progress);
    bar.finish_and_clear();
    let r = r?;
    let size = match r.bytes_per_party {
        b if b < 1 << 20 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{:.1} MiB", b as f64 / (1 << 20) as f64),
    };
    println!(
        "uploaded {:?} version {}: {} rows secret-shared on this machine; each party received {size} of shares, \
         checked by the three parties together before the commit",
        r.table, r.version, r.rows
    );
    Ok(())
}

fn tables(client: &std::path::Path) -> Result<()> {
    let c = mitsu_client::Client::load(client)?;
    let mut all: std::collections::BTreeMap<String, Vec<(usize, i64, u64, String)>> = Default::default();
    for i in 0..3 {
        for t in c.tables_at(i)? {
            all.entry(t.name).or_default().push((i, t.version, t.rows, t.owner));
        }
    }
    if all.is_empty() {
        println!("no tables yet (upload one with `mitsu upload`)");
    }
    let rows: Vec<Vec<String>> = all
        .into_iter()
        .map(|(name, v)| {
            let parties: Vec<String> = v.iter().map(|x| x.0.to_string()).collect();
            vec![name, v[0].1.to_string(), v[0].2.to_string(), v[0].3.clone(), parties.join(",")]
        })
        .collect();
    let (l, r) = (Align::Left, Align::Right);
    println!(
        "{}",
        render::table(&["table", "version", "rows", "owner", "held by parties"], &[l, r, r, l, l], &rows, 0)
    );
    Ok(())
}

fn table_show(client: &std::path::Path, name: &str) -> Result<()> {
    let c = mitsu_client::Client::load(client)?;
    let mut first = None;
    let mut held = Vec::new();
    for i in 0..3 {
        match c.table_at(i, name) {
            Ok(Some(t)) => {
                held.push(format!("{i} (version {})", t.version));
                first.get_or_insert(t);
            }
            Ok(None) => held.push(format!("{i}: not held")),
            Err(e) => held.push(format!("{i}: {e}")),
        }
    }
    let Some(t) = first else { anyhow::bail!("no party holds a table named {name:?}") };
    println!("table {name}: version {}, {} rows, owner {}", t.version, t.rows, t.owner);
    println!("held by parties: {}", held.join("; "));
    print_schema(&t.schema);
    Ok(())
}

fn sql(client: &std::path::Path, query: &str, format: &str, explain: bool, opts: mitsu_query::Options) -> Result<()> {
    if !["table", "json", "csv"].contains(&format) {
        anyhow::bail!("--format must be table, json or csv, not {format:?}");
    }
    let c = mitsu_client::Client::load(client)?;
    if explain {
        let x = c.explain_sql(query, opts)?;
        if format == "json" {
            println!("{}", serde_json::to_string_pretty(&x)?);
            return Ok(());
        }
        println!("plan (ring Z_2^{}; rounds and bytes per party are estimates):", x.ring);
        for st in &x.steps {
            println!(
                "{:indent$}{}  [rows {}, rounds ~{}, bytes ~{}]\n{:indent$}  reveals: {}",
                "",
                st.op,
                st.rows,
                st.rounds,
                human_bytes(st.bytes),
                "",
                st.reveals,
                indent = 2 * st.depth
            );
        }
        println!("total: ~{} rounds, ~{} per party", x.rounds, human_bytes(x.bytes));
        return Ok(());
    }
    let t = std::time::Instant::now();
    let r = c.sql_with(query, opts)?;
    match format {
        "json" => println!("{}", r.to_json()),
        "csv" => {
            let mut w = csv::Writer::from_writer(std::io::stdout());
            w.write_record(&r.columns)?;
            for row in &r.rows {
                w.write_record(
                    row.iter().map(|v| if *v == mitsu_query::Value::Null { String::new() } else { v.to_string() }),
                )?;
            }
            w.flush()?;
        }
        _ => {
            let cells: Vec<Vec<String>> =
                r.rows.iter().map(|row| row.iter().map(|v| v.to_string()).collect()).collect();
            // numbers right-aligned, labels left
            let align: Vec<Align> = (0..r.columns.len())
                .map(|i| {
                    if r.rows.iter().all(|row| row[i].as_f64().is_some() || row[i] == mitsu_query::Value::Null) {
                        Align::Right
                    } else {
                        Align::Left
                    }
                })
                .collect();
            let header: Vec<&str> = r.columns.iter().map(String::as_str).collect();
            println!("{}", render::table(&header, &align, &cells, 0));
            println!(
                "({} rows, {:.2} s; {} rounds, {} sent by the busiest party)",
                r.rows.len(),
                t.elapsed().as_secs_f64(),
                r.rounds,
                human_bytes(r.bytes_per_party)
            );
            println!("revealed besides the result:");
            for l in &r.leakage {
                println!("  - {l}");
            }
            // measured, beside the promise: what the engines opened among the parties
            let o = if r.parties_opened.is_empty() { "nothing".to_string() } else { r.parties_opened.join("; ") };
            println!("opened among the parties (their engines' record): {o}");
        }
    }
    Ok(())
}

pub(crate) fn human_bytes(b: u64) -> String {
    match b {
        0..1_000 => format!("{b} B"),
        1_000..1_000_000 => format!("{:.1} kB", b as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", b as f64 / 1e6),
        _ => format!("{:.2} GB", b as f64 / 1e9),
    }
}

/// Waits until every party answers and is linked to both peers.
pub(crate) fn wait_ready(admin: &std::path::Path, timeout: std::time::Duration) -> Result<()> {
    let c = mitsu_client::Client::load(admin)?;
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let st = c.status();
        let ready = st.iter().all(|r| r.as_ref().is_ok_and(|v| v.peers.iter().all(|p| p.linked)));
        if ready {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            let why: Vec<String> = st.iter().filter_map(|r| r.as_ref().err().map(|e| e.to_string())).collect();
            anyhow::bail!("the parties did not come up within {timeout:?}: {}", why.join("; "));
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// A base port with `n` consecutive free ports on 127.0.0.1.
pub(crate) fn free_ports(n: u16) -> Result<u16> {
    let seed = std::process::id() as u64
        ^ std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.subsec_nanos() as u64;
    for k in 0..200u64 {
        let base = 20000 + ((seed.wrapping_mul(2654435761).wrapping_add(k * 7919)) % 40000) as u16;
        let ok = (0..n).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok());
        if ok {
            return Ok(base);
        }
    }
    anyhow::bail!("no {n} consecutive free ports found on 127.0.0.1")
}

fn bench_processes(n: usize, only: &[String], repeat: usize, json: bool) -> Result<()> {
    use mitsu_bench::processes::PROCESS_OPS;
    let ops: Vec<String> = if only.is_empty() { vec!["mul_fixed".into(), "lt".into()] } else { only.to_vec() };
    if let Some(o) = ops.iter().find(|o| !PROCESS_OPS.contains(&o.as_str())) {
        anyhow::bail!("--processes measures {}, not {o:?}", PROCESS_OPS.join(", "));
    }
    let dep = TempDeployment::start("bench")?;
    let dir = dep.dir.clone();
    let c = mitsu_client::Client::load(&dir.join("admin.toml"))?;
    let mut res = std::collections::BTreeMap::new();
    for op in &ops {
        res.insert(op.clone(), mitsu_bench::processes::measure(&c, op, n, repeat)?);
    }
    if json {
        println!("{}", serde_json::json!({ "n": n, "processes": res }));
    } else {
        println!("mitsu bench --processes: n = {n}, three party processes, mutual TLS on loopback (compute + open)");
        println!(
            "{:<10} {:>12} {:>12} {:>8} {:>16} {:>14}",
            "op", "processes", "in-process", "ratio", "with sharing", "bytes/party"
        );
        for (op, r) in &res {
            println!(
                "{:<10} {:>12.4} {:>12.4} {:>8.2} {:>16.4} {:>14}",
                op, r.processes, r.in_process, r.ratio, r.with_sharing, r.bytes_per_party
            );
        }
    }
    Ok(())
}

/// A local deployment in a temporary directory, started and linked; stopped and removed on drop,
/// also when the command fails.
pub(crate) struct TempDeployment {
    pub dir: std::path::PathBuf,
    pub base_port: u16,
}

impl TempDeployment {
    pub fn start(name: &str) -> Result<TempDeployment> {
        let dir = std::env::temp_dir().join(format!("mitsu-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let base_port = free_ports(6)?;
        let opts =
            mitsu_server::init::InitOptions { dir: dir.clone(), parties: 3, host: "127.0.0.1".into(), base_port };
        mitsu_server::init::init(&opts)?;
        let dep = TempDeployment { dir, base_port };
        mitsu_server::local::up(&dep.dir, &std::env::current_exe()?)?;
        wait_ready(&dep.dir.join("admin.toml"), std::time::Duration::from_secs(30))?;
        Ok(dep)
    }
}

impl Drop for TempDeployment {
    fn drop(&mut self) {
        let _ = mitsu_server::local::down(&self.dir);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
