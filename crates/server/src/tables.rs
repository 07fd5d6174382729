//! The tables a job reads, and the only way to their shares. A job names tables in its text; each
//! is looked up and checked against the account here ([`Readable::authorize`]), and only the
//! [`Readable`] value that check returns opens a column's shares ([`Readable::column`]): code
//! that loads shares cannot skip the permission check, because it cannot get a `Readable` any
//! other way.

use crate::job::{Fail, agree};
use crate::state::State;
use mitsu_algebra::Ring;
use mitsu_api::Schema;
use mitsu_api::wire::Function;
use mitsu_mpc_core::{Channel, Engine, Payload};
use mitsu_mpc_rep3::{AShare, Rep3};
use mitsu_query::{Catalog, QueryError, Source, TableMeta, as_ring};
use mitsu_store::{Account, Project, ProjectState, TableInfo};
use std::cell::RefCell;
use std::collections::BTreeMap;

/// A committed table version that an account may analyse, with its schema.
#[derive(Debug, Clone)]
pub(crate) struct Readable {
    info: TableInfo,
    schema: Schema,
}

/// What a job may read: the account's own tables always; other accounts' tables only through an
/// active project that names the account as an analyst, lists the table and allows the function.
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    project: Option<Project>,
}

impl Scope {
    /// Checks the project a job names (if any) for `who` and `function`, at this party, before
    /// anything is planned. A refusal says what is missing and who can fix it.
    pub(crate) fn resolve(
        state: &State,
        who: &Account,
        project: Option<&str>,
        function: Function,
    ) -> Result<Scope, Fail> {
        if !who.role.runs_jobs() {
            return Err(Fail(403, format!("account {:?} is an auditor: it reads records and runs no jobs", who.name)));
        }
        let Some(name) = project else { return Ok(Scope { project: None }) };
        mitsu_api::names::check_name("project", name).map_err(|e| Fail(400, e))?;
        let db = |e: mitsu_store::StoreError| Fail(500, e.to_string());
        if state.store.change_pending(&format!("project:{name}")).map_err(db)? {
            return Err(Fail(
                503,
                format!("a change to project {name:?} is being decided at {}; try again in a few seconds", state.me),
            ));
        }
        let p = state.store.project(name).map_err(db)?.ok_or_else(|| {
            Fail(404, format!("no project {name:?} at {} (`mitsu project list` shows the projects)", state.me))
        })?;
        match p.state() {
            ProjectState::Active => {}
            ProjectState::Closed => return Err(Fail(403, format!("project {name:?} is closed"))),
            ProjectState::Proposed => {
                return Err(Fail(
                    403,
                    format!(
                        "project {name:?} is not active at {}: waiting for the approval of {} (`mitsu project approve {name}`)",
                        state.me,
                        p.waiting_for().join(", ")
                    ),
                ));
            }
        }
        if !p.analysts.contains(&who.name) {
            return Err(Fail(
                403,
                format!(
                    "account {:?} is not an analyst of project {name:?}; its analysts are {} (a new project is needed to add one)",
                    who.name,
                    p.analysts.join(", ")
                ),
            ));
        }
        let allowed = match function {
            Function::SqlAggregate => {
                p.functions.contains(&Function::SqlAggregate) || p.functions.contains(&Function::SqlRows)
            }
            f => p.functions.contains(&f),
        };
        if !allowed {
            let list: Vec<&str> = p.functions.iter().map(|f| f.as_str()).collect();
            return Err(Fail(
                403,
                format!("project {name:?} does not allow {function} (it allows {})", list.join(", ")),
            ));
        }
        Ok(Scope { project: Some(p) })
    }

    pub(crate) fn project(&self) -> Option<&Project> {
        self.project.as_ref()
    }
}

impl Readable {
    /// The permission check: the committed version of `name`, if `who` may analyse it within
    /// `scope` (its own table, or one its project lists).
    pub(crate) fn authorize(state: &State, who: &Account, scope: &Scope, name: &str) -> Result<Readable, QueryError> {
        let info = state.store.table(name).map_err(|e| QueryError::Invalid(e.to_string()))?;
        if info.owner != who.name {
            match &scope.project {
                None => {
                    return Err(QueryError::Forbidden(format!(
                        "table {name:?} belongs to {:?}: account {:?} analyses other accounts' tables only inside a \
                         project that lists them (`--project`; `mitsu project create` proposes one)",
                        info.owner, who.name
                    )));
                }
                Some(p) if !p.tables.iter().any(|t| t.name == name) => {
                    return Err(QueryError::Forbidden(format!(
                        "project {:?} does not list table {name:?} (it lists {})",
                        p.name,
                        p.tables.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ")
                    )));
                }
                Some(_) => {}
            }
        }
        let schema = serde_json::from_str(&info.schema)
            .map_err(|e| QueryError::internal(format!("stored schema of {name:?} unreadable: {e}")))?;
        Ok(Readable { info, schema })
    }

    /// A staged upload being committed, read by the parties' check of its shares: the uploader's
    /// own data, authorized by the commit route ([`crate::routes`]) finding `who` began it.
    pub(crate) fn own_upload(info: TableInfo, who: &Account) -> Result<Readable, Fail> {
        if info.owner != who.name {
            return Err(Fail(403, format!("{:?} is being uploaded by another account", info.name)));
        }
        let schema = serde_json::from_str(&info.schema)
            .map_err(|_| Fail(500, format!("the stored schema of {:?} is unreadable", info.name)))?;
        Ok(Readable { info, schema })
    }

    pub(crate) fn info(&self) -> &TableInfo {
        &self.info
    }

    pub(crate) fn schema(&self) -> &Schema {
        &self.schema
    }

    /// This party's stored shares of stored column `i` (schema columns, then the validity
    /// columns of the nullable ones).
    pub(crate) fn column(&self, state: &State, i: usize) -> Result<Vec<u8>, String> {
        state.store.read_column(&self.info.name, self.info.version, i as i64).map_err(|e| e.to_string())
    }
}

/// The catalog a job plans against: every table it names is authorized, and kept for loading.
pub(crate) struct Tables<'a> {
    state: &'a State,
    who: &'a Account,
    scope: Scope,
    used: RefCell<BTreeMap<String, Readable>>,
}

impl<'a> Tables<'a> {
    pub(crate) fn new(state: &'a State, who: &'a Account, scope: Scope) -> Tables<'a> {
        Tables { state, who, scope, used: RefCell::new(BTreeMap::new()) }
    }

    /// A plan whose results are row-level values (not every output an aggregate) may read other
    /// accounts' tables only in a project allowing `sql-rows`, on tables whose policy allows rows.
    pub(crate) fn check_rows(&self) -> Result<(), Fail> {
        for (name, t) in self.used.borrow().iter() {
            if t.info.owner == self.who.name {
                continue;
            }
            let p =
                self.scope.project().ok_or_else(|| Fail(500, "a table of another account without a project".into()))?;
            if !p.functions.contains(&Function::SqlRows) {
                return Err(Fail(
                    403,
                    format!(
                        "the query returns row-level values of table {name:?}, and project {:?} allows aggregates only: \
                         every result column must be an aggregate (COUNT, SUM, AVG, …, with or without GROUP BY)",
                        p.name
                    ),
                ));
            }
            let policy = self.state.store.policy(name).map_err(|e| Fail(500, e.to_string()))?;
            if !policy.allow_rows {
                return Err(Fail(
                    403,
                    format!(
                        "the query returns row-level values of table {name:?}, whose policy allows aggregates only; \
                         use aggregates (COUNT, SUM, AVG, … with or without GROUP BY), or ask its owner {:?} to allow \
                         rows (`mitsu policy set {name} --allow-rows`)",
                        t.info.owner
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Admits the job against the policies of the other accounts' tables it reads, once the
    /// parties agreed on the request: counts it against each table's job limit, or refuses it.
    /// A job counts when admitted, whatever its outcome, like a privacy budget spent.
    pub(crate) fn admit(&self) -> Result<(), Fail> {
        let used = self.used.borrow();
        let db = |e: mitsu_store::StoreError| Fail(500, e.to_string());
        let mut others = Vec::new();
        for (name, t) in used.iter().filter(|(_, t)| t.info.owner != self.who.name) {
            let policy = self.state.store.policy(name).map_err(db)?;
            if policy.dp_epsilon.is_some() {
                // no noise can be added yet, and an exact answer would break the budget's promise
                return Err(Fail(
                    403,
                    format!(
                        "table {name:?} has a differential-privacy budget in its policy, and this version of mitsu \
                         cannot add noise to results yet: no job in a project reads it until its owner {:?} \
                         removes the budget (`mitsu policy set {name} --dp-epsilon none`)",
                        t.info.owner
                    ),
                ));
            }
            others.push(name.clone());
        }
        if others.is_empty() {
            return Ok(());
        }
        if let Err((name, limit)) = self.state.store.take_jobs(&others).map_err(db)? {
            let owner = &used[&name].info.owner;
            return Err(Fail(
                403,
                format!(
                    "table {name:?} allows {limit} jobs in projects (its policy's job limit), and all have run; \
                     its owner {owner:?} can raise the limit (`mitsu policy set {name} --max-jobs N`)"
                ),
            ));
        }
        Ok(())
    }

    /// The tables authorized so far, with the versions read.
    pub(crate) fn versions(&self) -> Vec<(String, i64)> {
        self.used.borrow().iter().map(|(n, t)| (n.clone(), t.info.version)).collect()
    }

    /// The tables authorized so far.
    pub(crate) fn used(&self) -> BTreeMap<String, Readable> {
        self.used.borrow().clone()
    }
}

impl Catalog for Tables<'_> {
    fn table(&self, name: &str) -> Result<TableMeta, QueryError> {
        let t = Readable::authorize(self.state, self.who, &self.scope, name)?;
        let meta = TableMeta { schema: t.schema.clone(), rows: t.info.rows as u64 };
        self.used.borrow_mut().insert(name.to_string(), t);
        Ok(meta)
    }
}

/// Shares stored chunk by chunk, each in the upload layout (`mitsu_mpc_rep3::client::share_bytes`).
pub(crate) fn shares<R: Ring>(bytes: &[u8], rows: usize) -> Result<AShare<R>, String> {
    let size = std::mem::size_of::<R>();
    if bytes.len() != 2 * rows * size {
        return Err(format!("stored shares have {} bytes, expected {}", bytes.len(), 2 * rows * size));
    }
    let (mut a, mut b) = (Vec::with_capacity(rows), Vec::with_capacity(rows));
    let (mut off, mut row) = (0, 0);
    while row < rows {
        let n = (rows - row).min(mitsu_api::CHUNK_ROWS);
        let chunk = mitsu_mpc_rep3::client::share_from_bytes::<R>(&bytes[off..off + 2 * n * size], n)
            .map_err(|e| e.to_string())?;
        let (ca, cb) = chunk.components();
        a.extend_from_slice(ca);
        b.extend_from_slice(cb);
        off += 2 * n * size;
        row += n;
    }
    AShare::from_components(a, b).map_err(|e| e.to_string())
}

/// The columns of authorized tables, as the engine reads them.
pub(crate) struct StoreSource<'a> {
    state: &'a State,
    tables: BTreeMap<String, Readable>,
}

/// Stored shares (Z_2^64 or Z_2^128) in the plan's ring: lifted by the extension protocol, or
/// reduced mod 2^64 locally (valid when the plan proved the values fit).
fn load_as<R: Ring>(p: &mut Rep3, bytes: &[u8], rows: usize, stored: u32, bits: u32) -> Result<AShare<R>, QueryError> {
    if stored == 64 {
        let s = shares::<u64>(bytes, rows).map_err(QueryError::internal)?;
        if R::BITS == 64 { as_ring(s) } else { as_ring(p.extend(&s, bits)?) }
    } else {
        let s = shares::<u128>(bytes, rows).map_err(QueryError::internal)?;
        if R::BITS == 128 { as_ring(s) } else { as_ring(p.reduce64(&s)) }
    }
}

impl Source<Rep3> for StoreSource<'_> {
    fn column<R: Ring>(
        &mut self,
        e: &mut Rep3,
        table: &str,
        col: usize,
    ) -> Result<(AShare<R>, Option<AShare<R>>), QueryError> {
        let t = self.tables.get(table).ok_or_else(|| QueryError::internal(format!("table {table:?} not loaded")))?;
        let c = &t.schema.columns[col];
        let rows = t.info.rows as usize;
        let read = |i: usize| t.column(self.state, i).map_err(|e| QueryError::internal(format!("reading shares: {e}")));
        let v = load_as::<R>(e, &read(col)?, rows, c.ring_bits(), c.value_bits())?;
        let nn = match t.schema.not_null_column(col) {
            Some(k) => Some(load_as::<R>(e, &read(k)?, rows, 64, 1)?),
            None => None,
        };
        Ok((v, nn))
    }

    fn payload<R: Ring>(&mut self, e: &mut Rep3, table: &str, col: usize) -> Result<Vec<AShare<R>>, QueryError> {
        let t = self.tables.get(table).ok_or_else(|| QueryError::internal(format!("table {table:?} not loaded")))?;
        let rows = t.info.rows as usize;
        let bits = t.schema.stored_bits(t.schema.payload_columns(col).start).unwrap_or(120);
        t.schema
            .payload_columns(col)
            .map(|i| {
                let bytes =
                    t.column(self.state, i).map_err(|e| QueryError::internal(format!("reading shares: {e}")))?;
                load_as::<R>(e, &bytes, rows, 128, bits)
            })
            .collect()
    }
}

/// The parties must compute on shares of one and the same table version: shares of different
/// versions would reconstruct to a wrong number, silently. One round: each party tells the others
/// its (version, rows) and all refuse on any difference.
pub(crate) fn same_version(state: &State, ch: &mut Channel, t: &TableInfo) -> Result<(), Fail> {
    let me = state.me;
    let peers = [me.next(), me.prev()];
    let mine = Payload::U64(vec![t.version as u64, t.rows as u64]);
    let got = ch.round(peers.iter().map(|&p| (p, mine.clone())).collect(), &peers)?;
    let mut seen = vec![(me.index(), t.version, t.rows)];
    for (p, msg) in peers.iter().zip(got) {
        let v: Vec<u64> = msg.into_ring(*p, 2)?;
        seen.push((p.index(), v[0] as i64, v[1] as i64));
    }
    seen.sort();
    if seen.iter().any(|s| (s.1, s.2) != (t.version, t.rows)) {
        let list: Vec<String> = seen.iter().map(|(p, v, r)| format!("party {p}: version {v} ({r} rows)")).collect();
        return Err(Fail(
            409,
            format!(
                "the parties hold different versions of table {:?} ({}); upload it again, or wait until the \
                 parties finish the interrupted commit",
                t.name,
                list.join(", ")
            ),
        ));
    }
    Ok(())
}

/// The start every job shares: the three parties agree on the request, confirm they hold the
/// same versions of its tables, admit it against the tables' policies, and set up the protocol;
/// shares are loaded only after.
pub(crate) fn start<'a>(
    state: &'a State,
    job: u64,
    d: &[u8; 32],
    tables: &Tables<'_>,
) -> Result<(Rep3, StoreSource<'a>), Fail> {
    let mut ch = Channel::new(state.me, Box::new(state.mesh.transport(job)));
    agree(state, &mut ch, d)?;
    let used = tables.used();
    for t in used.values() {
        same_version(state, &mut ch, &t.info)?;
    }
    tables.admit()?;
    Ok((Rep3::setup(ch)?, StoreSource { state, tables: used }))
}
