//! The command line: every command and its arguments (clap).

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "mitsu", version, about = "Secure computation on secret-shared tables among three parties")]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
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
    /// Accounts: create, list, revoke (admin); rotate a token.
    Account {
        #[command(subcommand)]
        cmd: AccountCmd,
    },
    /// Analysis projects, the unit of permission: who may analyse which tables, how, and why.
    Project {
        #[command(subcommand)]
        cmd: ProjectCmd,
    },
    /// The parties' audit logs: every job and change with its outcome and what it opened.
    Audit {
        #[arg(long, env = "MITSU_CLIENT")]
        client: PathBuf,
        /// Only this project's records.
        #[arg(long)]
        project: Option<String>,
        /// Check each party's hash chain and that the three parties recorded the same jobs with
        /// the same outcomes (the admin or an auditor).
        #[arg(long)]
        verify: bool,
        #[arg(long)]
        json: bool,
    },
    /// Table policies: what may leave a table (aggregates only by default).
    Policy {
        #[command(subcommand)]
        cmd: PolicyCmd,
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
        #[arg(long, value_name = "TABLE", conflicts_with_all = ["csv", "table", "schema", "key", "text"])]
        abort: Option<String>,
        /// Schema file (JSON, as written by `mitsu schema infer`); inferred when absent.
        #[arg(long)]
        schema: Option<PathBuf>,
        /// Columns holding join keys, comma-separated (hashed on this machine, never printable).
        #[arg(long)]
        key: Option<String>,
        /// Columns to store as text whatever their labels' length, comma-separated (labels longer
        /// than 12 bytes are text anyway): so that they join another table's text column.
        #[arg(long)]
        text: Option<String>,
        /// The table's policy, set once the upload is committed (as `mitsu policy set` does).
        #[command(flatten)]
        policy: PolicyArgs,
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
        /// The SELECT statement; `-` or nothing reads it from standard input.
        query: Option<String>,
        /// Read the SELECT statement from FILE.
        #[arg(short = 'f', long = "file", value_name = "FILE", conflicts_with = "query")]
        file: Option<PathBuf>,
        /// table, json or csv.
        #[arg(long, default_value = "table")]
        format: String,
        /// Print the plan, estimated rounds and bytes per party, and what each step reveals; run nothing.
        #[arg(long)]
        explain: bool,
        /// Allow joins whose keys repeat on both sides; they open the number of matching pairs.
        #[arg(long = "allow-many-to-many")]
        allow_many_to_many: bool,
        /// The project the query runs in (default: the client file's `project`); not needed for
        /// your own tables.
        #[arg(long, env = "MITSU_PROJECT")]
        project: Option<String>,
    },
    /// Statistics computed jointly by the three parties; only the results are opened, to you.
    /// `mitsu stats --help` lists the functions, `mitsu stats FUNCTION --help` their options and
    /// what each opens.
    Stats(Box<crate::stats::StatsArgs>),
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
        /// Verify the audit logs of a local deployment whose parties hold RECORDS records each
        /// (fetched over the client API, rehashed, compared), as `mitsu audit --verify` does.
        #[arg(long)]
        audit: bool,
        /// Records per party for --audit.
        #[arg(long, default_value_t = 100_000)]
        records: usize,
    },
}

#[derive(Subcommand)]
pub(crate) enum AccountCmd {
    /// Create an account at every party and write its client file (admin).
    Create {
        #[arg(long, env = "MITSU_CLIENT")]
        client: PathBuf,
        #[arg(long)]
        name: String,
        /// provider (uploads its own tables), analyst (runs analyses in projects), auditor (reads
        /// records, runs nothing) or admin.
        #[arg(long)]
        role: String,
        /// Where to write the new account's client file.
        #[arg(long)]
        out: PathBuf,
    },
    /// List the accounts (admin).
    List {
        #[arg(long, env = "MITSU_CLIENT")]
        client: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Revoke an account at every party: its token opens nothing from then on (admin).
    Revoke {
        #[arg(long, env = "MITSU_CLIENT")]
        client: PathBuf,
        #[arg(long)]
        name: String,
    },
    /// Issue a new token for an account (yours by default) and invalidate the old one.
    Rotate {
        #[arg(long, env = "MITSU_CLIENT")]
        client: PathBuf,
        /// The account (the admin may rotate any; others only their own).
        #[arg(long)]
        name: Option<String>,
        /// Where to write the client file with the new token (may be the client file itself).
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
pub(crate) enum ProjectCmd {
    /// Propose an analysis project: who analyses which tables with which functions, and why. It is
    /// active once the owner of every listed table approved it.
    Create {
        #[arg(long, env = "MITSU_CLIENT")]
        client: PathBuf,
        name: String,
        /// What the analysis is for, in the words that will be published.
        #[arg(long)]
        purpose: String,
        /// Analyst accounts (comma separated).
        #[arg(long, value_delimiter = ',', required = true)]
        analysts: Vec<String>,
        /// Tables (comma separated).
        #[arg(long, value_delimiter = ',', required = true)]
        tables: Vec<String>,
        /// stats, sql-aggregate, sql-rows (comma separated).
        #[arg(long, value_delimiter = ',', default_value = "stats,sql-aggregate")]
        functions: Vec<String>,
    },
    /// Approve a project for your tables (each owner of a listed table must).
    Approve {
        #[arg(long, env = "MITSU_CLIENT")]
        client: PathBuf,
        name: String,
    },
    /// Withdraw your approval: the project stops being active at once.
    Withdraw {
        #[arg(long, env = "MITSU_CLIENT")]
        client: PathBuf,
        name: String,
    },
    /// Close a project for good (its proposer or the admin).
    Close {
        #[arg(long, env = "MITSU_CLIENT")]
        client: PathBuf,
        name: String,
    },
    /// One project: purpose, analysts, tables with their approvals, functions, state.
    Show {
        #[arg(long, env = "MITSU_CLIENT")]
        client: PathBuf,
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// The transparency report (公表) of a project: providers, recipients, purpose, tables,
    /// policies, and every job run under it with what it opened, checked against all three
    /// parties' audit logs.
    Report {
        #[arg(long, env = "MITSU_CLIENT")]
        client: PathBuf,
        name: String,
        /// md or json.
        #[arg(long, default_value = "md")]
        format: String,
    },
    /// Every project.
    List {
        #[arg(long, env = "MITSU_CLIENT")]
        client: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

/// What a table's owner lets jobs of other accounts take from it; settings not given keep their
/// current value.
#[derive(clap::Args, Debug, Clone, Default)]
pub(crate) struct PolicyArgs {
    /// Only aggregates leave (the default).
    #[arg(long = "aggregate-only", conflicts_with = "allow_rows")]
    pub(crate) aggregate_only: bool,
    /// Row-level results in projects that allow sql-rows.
    #[arg(long = "allow-rows")]
    pub(crate) allow_rows: bool,
    /// K for small-cell suppression, default 10 (stored and shown; suppression itself is not in
    /// this version yet).
    #[arg(long = "min-group-size", value_name = "K")]
    pub(crate) min_group_size: Option<u32>,
    /// Allow minimum, maximum, quantiles, median and mode, each one row's exact value (stored and
    /// shown; not yet enforced in this version).
    #[arg(long = "allow-order-statistics", conflicts_with = "no_order_statistics")]
    pub(crate) allow_order_statistics: bool,
    /// Forbid order statistics again (the default).
    #[arg(long = "no-order-statistics")]
    pub(crate) no_order_statistics: bool,
    /// Differential-privacy budget of all jobs in projects, or `none`. While set, no job in a
    /// project reads the table: this version cannot add noise yet.
    #[arg(long = "dp-epsilon", value_name = "E|none")]
    pub(crate) dp_epsilon: Option<String>,
    /// The δ of (ε, δ)-differential privacy (with --dp-epsilon).
    #[arg(long = "dp-delta", value_name = "D")]
    pub(crate) dp_delta: Option<f64>,
    /// Jobs in projects that may read the table, in all, or `none` for no limit.
    #[arg(long = "max-jobs", value_name = "N|none")]
    pub(crate) max_jobs: Option<String>,
}

#[derive(Subcommand)]
pub(crate) enum PolicyCmd {
    /// Set what jobs of other accounts may take from your table. Settings not given keep their
    /// current value.
    Set {
        #[arg(long, env = "MITSU_CLIENT")]
        client: PathBuf,
        table: String,
        #[command(flatten)]
        policy: PolicyArgs,
    },
    /// Show a table's policy.
    Show {
        #[arg(long, env = "MITSU_CLIENT")]
        client: PathBuf,
        table: String,
    },
}

#[derive(Subcommand)]
pub(crate) enum SchemaCmd {
    /// Print (or write) the schema inferred from a CSV file.
    Infer {
        #[arg(long)]
        csv: PathBuf,
        /// Columns holding join keys, comma-separated.
        #[arg(long)]
        key: Option<String>,
        /// Columns to store as text whatever their labels' length, comma-separated.
        #[arg(long)]
        text: Option<String>,
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub(crate) enum TableCmd {
    /// Show one table.
    Show {
        name: String,
        #[arg(long, env = "MITSU_CLIENT")]
        client: PathBuf,
    },
    /// Remove one of your tables (every version and its shares) at every party.
    Drop {
        name: String,
        #[arg(long, env = "MITSU_CLIENT")]
        client: PathBuf,
    },
}
