//! The client API's request and response bodies, one definition for the client that writes them
//! and the party that reads them. `openapi.json` (served by every party) describes exactly these
//! types; a test validates examples of each against it, so the document cannot drift from the code.

use crate::{Role, Schema};
use serde::{Deserialize, Serialize};

/// `GET /v1/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Status {
    pub party: usize,
    /// The party server's version.
    pub version: String,
    pub uptime_s: f64,
    /// Committed tables this party holds.
    pub tables: usize,
    pub peers: Vec<PeerStatus>,
    /// Changes this party voted for and has not yet seen decided.
    pub pending_changes: usize,
}

/// One peer link as a party sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerStatus {
    pub party: usize,
    /// An authenticated link from this peer is open.
    pub linked: bool,
    pub last_seen_ms: Option<u64>,
    pub last_error: Option<String>,
}

/// `POST /v1/accounts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    /// Job id shared by the three requests (chosen by the client, random, never 0).
    pub job: u64,
    pub name: String,
    /// Kept as text on the wire so that a party given an unknown role still takes part in the
    /// agreement (and votes no) instead of leaving its peers waiting; parsed with [`Role::parse`].
    pub role: String,
    /// Hex SHA-256 of the account's token: parties never store tokens.
    pub token_sha256: String,
}

impl NewAccount {
    pub fn new(job: u64, name: &str, role: Role, token_sha256: &str) -> NewAccount {
        NewAccount { job, name: name.into(), role: role.as_str().into(), token_sha256: token_sha256.into() }
    }
}

/// The answer to a change all three parties applied (an account, a commit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Applied {
    pub applied: String,
    pub party: usize,
}

/// `GET /v1/tables` (an array of these) and `GET /v1/tables/{name}`: a committed version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableView {
    pub name: String,
    pub version: i64,
    pub owner: String,
    pub rows: u64,
    pub schema: Schema,
    /// What jobs of other accounts may take from the table.
    pub policy: TablePolicy,
    /// The party that answered.
    pub party: usize,
}

/// A table's policy, set by its owner: what a job of another account, in a project, may take
/// from the table. A job reading several tables obeys each table's policy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TablePolicy {
    /// Row-level results (`SELECT` without aggregation, `ORDER BY … LIMIT`) in projects that allow
    /// `sql-rows`. Off by default: only aggregates leave.
    pub allow_rows: bool,
    /// K: no result cell computed from fewer rows is opened (enforced by small-cell suppression).
    #[serde(default = "default_min_group")]
    pub min_group_size: u32,
    /// Minimum, maximum, quantiles, median, mode: each opens one row's exact value.
    #[serde(default)]
    pub allow_order_statistics: bool,
    /// Total differential-privacy budget of the table's jobs in projects (none: no noise).
    #[serde(default)]
    pub dp_epsilon: Option<f64>,
    /// The δ of (ε, δ)-differential privacy (only with `dp_epsilon`).
    #[serde(default)]
    pub dp_delta: Option<f64>,
    /// How many jobs in projects may read the table, in all (none: no limit).
    #[serde(default)]
    pub max_jobs: Option<u64>,
}

fn default_min_group() -> u32 {
    TablePolicy::DEFAULT_MIN_GROUP
}

impl Default for TablePolicy {
    fn default() -> TablePolicy {
        TablePolicy {
            allow_rows: false,
            min_group_size: TablePolicy::DEFAULT_MIN_GROUP,
            allow_order_statistics: false,
            dp_epsilon: None,
            dp_delta: None,
            max_jobs: None,
        }
    }
}

impl TablePolicy {
    pub const DEFAULT_MIN_GROUP: u32 = 10;
    /// The largest K accepted: beyond it every cell of any real table would be suppressed.
    pub const MAX_MIN_GROUP: u32 = 1_000_000;
    /// The largest ε accepted: beyond it the noise protects nobody, and an ε typed wrong (1e9
    /// for 1e-9) must not pass as a budget.
    pub const MAX_EPSILON: f64 = 100.0;

    /// Why the policy cannot be stored, if it cannot. Each party checks it itself.
    pub fn check(&self) -> Result<(), String> {
        if self.min_group_size == 0 || self.min_group_size > Self::MAX_MIN_GROUP {
            return Err(format!(
                "the minimum group size must be between 1 and {}, not {}",
                Self::MAX_MIN_GROUP,
                self.min_group_size
            ));
        }
        if let Some(e) = self.dp_epsilon
            && !(e.is_finite() && e > 0.0 && e <= Self::MAX_EPSILON)
        {
            return Err(format!("ε must be a number above 0 and at most {}, not {e}", Self::MAX_EPSILON));
        }
        match (self.dp_epsilon, self.dp_delta) {
            (None, Some(_)) => return Err("δ goes with an ε budget: set --dp-epsilon too".into()),
            (Some(_), Some(d)) if !(d.is_finite() && (0.0..1.0).contains(&d)) => {
                return Err(format!("δ must be at least 0 and below 1, not {d}"));
            }
            _ => {}
        }
        Ok(())
    }

    /// The policy in words, one clause per setting.
    pub fn describe(&self) -> String {
        let mut parts = vec![
            if self.allow_rows {
                "row-level results allowed in projects with sql-rows".to_string()
            } else {
                "aggregates only: no job of another account returns its rows".to_string()
            },
            // said plainly until the output-privacy work enforces them
            format!("minimum group size {} (small-cell suppression not yet enforced)", self.min_group_size),
            if self.allow_order_statistics {
                "order statistics (min, max, quantiles, mode) allowed".to_string()
            } else {
                "order statistics (min, max, quantiles, mode) not allowed (not yet enforced)".to_string()
            },
        ];
        parts.push(match (self.dp_epsilon, self.dp_delta) {
            (None, _) => "no differential-privacy budget".to_string(),
            (Some(e), None | Some(0.0)) => format!("differential-privacy budget ε = {e}"),
            (Some(e), Some(d)) => format!("differential-privacy budget ε = {e}, δ = {d}"),
        });
        parts.push(match self.max_jobs {
            None => "no limit on jobs".to_string(),
            Some(n) => format!("at most {n} jobs in projects"),
        });
        parts.join("; ")
    }
}

/// `PUT /v1/tables/{name}/policy` (the table's owner).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetPolicy {
    /// Job id shared by the three requests (chosen by the client, random, never 0).
    pub job: u64,
    pub policy: TablePolicy,
}

/// `GET /v1/accounts` (admin): every account this party knows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountView {
    pub name: String,
    pub role: Role,
    /// Unix seconds.
    pub created: i64,
    /// A revoked account's token no longer opens anything; the name stays taken.
    pub revoked: bool,
}

/// `POST /v1/accounts/{name}/rotate` (the account itself or the admin): a new token, the old
/// one invalid from the moment all three parties applied it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateToken {
    /// Job id shared by the three requests (chosen by the client, random, never 0).
    pub job: u64,
    /// Hex SHA-256 of the new token.
    pub token_sha256: String,
}

/// What a project lets its analysts run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Function {
    /// Statistics functions (`mitsu stats`).
    Stats,
    /// SQL whose every result value is an aggregate (COUNT, SUM, AVG, … with or without GROUP BY).
    SqlAggregate,
    /// SQL returning row-level values, on tables whose policy allows rows.
    SqlRows,
}

impl Function {
    pub const ALL: [Function; 3] = [Function::Stats, Function::SqlAggregate, Function::SqlRows];

    pub fn as_str(self) -> &'static str {
        match self {
            Function::Stats => "stats",
            Function::SqlAggregate => "sql-aggregate",
            Function::SqlRows => "sql-rows",
        }
    }

    pub fn parse(s: &str) -> Option<Function> {
        Function::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

impl std::fmt::Display for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `POST /v1/projects`: an analysis project, the unit of permission. It is active once the
/// owner of every listed table approved it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewProject {
    /// Job id shared by the three requests (chosen by the client, random, never 0).
    pub job: u64,
    pub name: String,
    /// What the analysis is for, in the words that will be published.
    pub purpose: String,
    /// Analyst accounts that may run jobs in the project.
    pub analysts: Vec<String>,
    pub tables: Vec<String>,
    pub functions: Vec<Function>,
}

/// `GET /v1/projects` (an array of these) and `GET /v1/projects/{name}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectView {
    pub name: String,
    pub purpose: String,
    /// The account that proposed it.
    pub proposer: String,
    pub analysts: Vec<String>,
    pub tables: Vec<ProjectTable>,
    pub functions: Vec<Function>,
    /// `proposed` (an owner has not approved), `active` or `closed`.
    pub state: String,
    /// Unix seconds.
    pub created: i64,
    /// The party that answered.
    pub party: usize,
}

/// One table of a project and whether its owner approved the project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectTable {
    pub name: String,
    pub owner: String,
    pub approved: bool,
}

/// `POST /v1/tables/{name}/versions`: the start of an upload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BeginUpload {
    pub version: i64,
    pub schema: Schema,
    pub rows: i64,
    /// Stored columns: schema columns plus one validity column per nullable column.
    pub columns: i64,
    pub chunks_per_column: i64,
}

/// A change that carries nothing but its job id: `POST /v1/tables/{name}/versions/{version}/commit`,
/// revoking an account, approving, withdrawing or closing a project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeJob {
    /// Job id shared by the three requests (chosen by the client, random, never 0).
    pub job: u64,
}

/// The commit of an upload.
pub type CommitUpload = ChangeJob;

/// `DELETE /v1/tables/{name}/staged`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Discarded {
    /// Staged versions discarded at this party.
    pub discarded: u64,
}

/// The empty answer of a step that has nothing to report (a chunk stored, an upload begun).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accepted {}

/// Every error answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    pub error: String,
}

/// What a query allows beyond the defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryOptions {
    /// Joins whose keys repeat on both sides; they open the number of matching pairs.
    #[serde(default)]
    pub allow_many_to_many: bool,
}

/// A statistics request, as the analyst's client sends it to every party (see
/// docs/statistics.md for what each function reads).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsRequest {
    pub function: String,
    /// A table name or a SELECT.
    pub from: String,
    #[serde(default)]
    pub columns: Vec<String>,
    #[serde(default)]
    pub column: Option<String>,
    #[serde(default)]
    pub by: Option<String>,
    /// Levels of `by`, in order (the client fills them in from the data when not given).
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub q: Vec<f64>,
    #[serde(default)]
    pub mu: f64,
    #[serde(default)]
    pub welch: bool,
    #[serde(default)]
    pub paired: bool,
    #[serde(default)]
    pub y: Option<String>,
    #[serde(default)]
    pub x: Vec<String>,
    #[serde(default)]
    pub method: Option<String>,
    /// Confidence level of intervals (default 0.95).
    #[serde(default)]
    pub confidence: Option<f64>,
    /// Row and column variables of a contingency table (crosstab, chisq).
    #[serde(default)]
    pub row: Option<String>,
    #[serde(default)]
    pub col: Option<String>,
    /// Levels of `col`, in order (the client fills them in from the data when not given).
    #[serde(default)]
    pub col_groups: Vec<String>,
    /// Expected proportions (or counts) of a goodness-of-fit test, one per level.
    #[serde(default)]
    pub expected: Vec<f64>,
    /// Number of histogram bins.
    #[serde(default)]
    pub bins: Option<usize>,
    /// Weight column of a weighted mean.
    #[serde(default)]
    pub weights: Option<String>,
    /// Proportion cut from each end by a trimmed mean.
    #[serde(default)]
    pub trim: Option<f64>,
    /// PCA of the correlation rather than the covariance matrix.
    #[serde(default)]
    pub standardize: bool,
    /// `two-sided` (the default), `less` or `greater`: the alternative hypothesis of ttest, ztest,
    /// mannwhitney and wilcoxon. Applied to the opened statistic on the analyst's machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alternative: Option<String>,
}

/// The benchmark operations `mitsu bench --processes` measures between party processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BenchOp {
    MulInt,
    MulFixed,
    Lt,
    Eq,
}

impl BenchOp {
    pub const ALL: [BenchOp; 4] = [BenchOp::MulInt, BenchOp::MulFixed, BenchOp::Lt, BenchOp::Eq];

    pub fn as_str(self) -> &'static str {
        match self {
            BenchOp::MulInt => "mul_int",
            BenchOp::MulFixed => "mul_fixed",
            BenchOp::Lt => "lt",
            BenchOp::Eq => "eq",
        }
    }

    pub fn parse(s: &str) -> Option<BenchOp> {
        BenchOp::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// The public parameters of one staged benchmark operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchSpec {
    pub n: usize,
    pub frac: u32,
    pub bits: u32,
    /// 64 or 128
    pub ring: u32,
}

/// `POST /v1/jobs`: the same request to all three parties under one random id (never 0). The
/// answer is this party's result frame ([`crate::frame`]), or an [`ErrorBody`].
///
/// Read through [`RawJob`]: serde's buffering of internally tagged enums turns numbers into maps
/// under serde_json's `arbitrary_precision` (which the workspace needs for exact decimals), so
/// the tagged form is written by serde but read by hand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", try_from = "RawJob")]
pub enum JobRequest {
    /// One SELECT, planned by each party against its own stored schemas.
    Sql {
        job: u64,
        sql: String,
        #[serde(default)]
        options: QueryOptions,
        /// The project the job runs in (none: only the account's own tables).
        project: Option<String>,
    },
    /// A statistics function.
    Stats { job: u64, stats: Box<StatsRequest>, project: Option<String> },
    /// Compute + open of benchmark inputs staged under `stage` (admins only).
    Bench { job: u64, op: BenchOp, stage: u64, spec: BenchSpec },
}

/// A job request as it arrives: every field of every kind, each kind taking only its own.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJob {
    kind: String,
    job: u64,
    sql: Option<String>,
    options: Option<QueryOptions>,
    stats: Option<Box<StatsRequest>>,
    op: Option<BenchOp>,
    stage: Option<u64>,
    spec: Option<BenchSpec>,
    project: Option<String>,
}

impl TryFrom<RawJob> for JobRequest {
    type Error = String;

    fn try_from(r: RawJob) -> Result<JobRequest, String> {
        let extra = |names: &[(&str, bool)]| match names.iter().find(|(_, set)| *set) {
            Some((n, _)) => Err(format!("a {} job takes no field `{n}`", r.kind)),
            None => Ok(()),
        };
        let need = |n: &str| format!("a {} job needs the field `{n}`", r.kind);
        let job = r.job;
        match r.kind.as_str() {
            "sql" => {
                extra(&[
                    ("stats", r.stats.is_some()),
                    ("op", r.op.is_some()),
                    ("stage", r.stage.is_some()),
                    ("spec", r.spec.is_some()),
                ])?;
                Ok(JobRequest::Sql {
                    job,
                    sql: r.sql.ok_or_else(|| need("sql"))?,
                    options: r.options.unwrap_or_default(),
                    project: r.project,
                })
            }
            "stats" => {
                extra(&[
                    ("sql", r.sql.is_some()),
                    ("options", r.options.is_some()),
                    ("op", r.op.is_some()),
                    ("stage", r.stage.is_some()),
                    ("spec", r.spec.is_some()),
                ])?;
                Ok(JobRequest::Stats { job, stats: r.stats.ok_or_else(|| need("stats"))?, project: r.project })
            }
            "bench" => {
                extra(&[
                    ("sql", r.sql.is_some()),
                    ("options", r.options.is_some()),
                    ("stats", r.stats.is_some()),
                    ("project", r.project.is_some()),
                ])?;
                Ok(JobRequest::Bench {
                    job,
                    op: r.op.ok_or_else(|| need("op"))?,
                    stage: r.stage.ok_or_else(|| need("stage"))?,
                    spec: r.spec.ok_or_else(|| need("spec"))?,
                })
            }
            k => Err(format!("unknown job kind {:?} (sql, stats, bench)", k.chars().take(40).collect::<String>())),
        }
    }
}

impl JobRequest {
    /// The project a job names, if any.
    pub fn project(&self) -> Option<&str> {
        match self {
            JobRequest::Sql { project, .. } | JobRequest::Stats { project, .. } => project.as_deref(),
            JobRequest::Bench { .. } => None,
        }
    }

    pub fn job(&self) -> u64 {
        match self {
            JobRequest::Sql { job, .. } | JobRequest::Stats { job, .. } | JobRequest::Bench { job, .. } => *job,
        }
    }
}

/// How each route reads and answers, by the names of `openapi.json`'s component schemas (`None`:
/// no JSON body; `bytes`: application/octet-stream). The server dispatches exactly these routes.
pub const ROUTES: &[Route] = &[
    Route { method: "get", path: "/v1/status", request: None, response: Some("Status") },
    Route { method: "post", path: "/v1/accounts", request: Some("NewAccount"), response: Some("Applied") },
    Route { method: "get", path: "/v1/accounts", request: None, response: Some("AccountList") },
    Route { method: "post", path: "/v1/accounts/{name}/revoke", request: Some("ChangeJob"), response: Some("Applied") },
    Route {
        method: "post",
        path: "/v1/accounts/{name}/rotate",
        request: Some("RotateToken"),
        response: Some("Applied"),
    },
    Route { method: "get", path: "/v1/tables", request: None, response: Some("TableList") },
    Route { method: "put", path: "/v1/tables/{name}/policy", request: Some("SetPolicy"), response: Some("Applied") },
    Route { method: "post", path: "/v1/projects", request: Some("NewProject"), response: Some("Applied") },
    Route { method: "get", path: "/v1/projects", request: None, response: Some("ProjectList") },
    Route { method: "get", path: "/v1/projects/{name}", request: None, response: Some("Project") },
    Route {
        method: "post",
        path: "/v1/projects/{name}/approve",
        request: Some("ChangeJob"),
        response: Some("Applied"),
    },
    Route {
        method: "post",
        path: "/v1/projects/{name}/withdraw",
        request: Some("ChangeJob"),
        response: Some("Applied"),
    },
    Route { method: "post", path: "/v1/projects/{name}/close", request: Some("ChangeJob"), response: Some("Applied") },
    Route { method: "get", path: "/v1/tables/{name}", request: None, response: Some("Table") },
    Route { method: "delete", path: "/v1/tables/{name}", request: Some("ChangeJob"), response: Some("Applied") },
    Route {
        method: "post",
        path: "/v1/tables/{name}/versions",
        request: Some("BeginUpload"),
        response: Some("Accepted"),
    },
    Route {
        method: "put",
        path: "/v1/tables/{name}/versions/{version}/columns/{column}/chunks/{chunk}",
        request: Some("bytes"),
        response: Some("Accepted"),
    },
    Route {
        method: "post",
        path: "/v1/tables/{name}/versions/{version}/commit",
        request: Some("ChangeJob"),
        response: Some("Applied"),
    },
    Route { method: "delete", path: "/v1/tables/{name}/staged", request: None, response: Some("Discarded") },
    Route { method: "post", path: "/v1/jobs", request: Some("Job"), response: Some("bytes") },
    Route { method: "post", path: "/v1/bench/stage/{id}", request: Some("bytes"), response: Some("Accepted") },
    Route { method: "get", path: "/v1/audit", request: None, response: Some("AuditPage") },
    Route { method: "get", path: "/openapi.json", request: None, response: None },
];

/// One route of the client API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub request: Option<&'static str>,
    pub response: Option<&'static str>,
}

/// The OpenAPI document every party serves at `/openapi.json`.
pub const OPENAPI: &str = include_str!("openapi.json");
