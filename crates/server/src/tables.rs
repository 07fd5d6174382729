//! The tables a job reads, and the only way to their shares. A job names tables in its text; each
//! is looked up and checked against the account here ([`Readable::authorize`]), and only the
//! [`Readable`] value that check returns opens a column's shares ([`Readable::column`]): code
//! that loads shares cannot skip the permission check, because it cannot get a `Readable` any
//! other way.

use crate::job::{Fail, agree};
use crate::state::State;
use mitsu_algebra::Ring;
use mitsu_api::Schema;
use mitsu_mpc_core::{Channel, Engine, Payload};
use mitsu_mpc_rep3::{AShare, Rep3};
use mitsu_query::{Catalog, QueryError, Source, TableMeta, as_ring};
use mitsu_store::{Account, TableInfo};
use std::cell::RefCell;
use std::collections::BTreeMap;

/// A committed table version that an account may analyse, with its schema.
#[derive(Debug, Clone)]
pub(crate) struct Readable {
    info: TableInfo,
    schema: Schema,
}

impl Readable {
    /// The permission check: the committed version of `name`, if `who` may analyse it. Until
    /// per-table policies exist: admins, analysts and the table's owner may.
    pub(crate) fn authorize(state: &State, who: &Account, name: &str) -> Result<Readable, QueryError> {
        let info = state.store.table(name).map_err(|e| QueryError::Invalid(e.to_string()))?;
        if !(who.role.reads_all_tables() || who.name == info.owner) {
            return Err(QueryError::Forbidden(format!("account {:?} may not analyse table {name:?}", who.name)));
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
    used: RefCell<BTreeMap<String, Readable>>,
}

impl<'a> Tables<'a> {
    pub(crate) fn new(state: &'a State, who: &'a Account) -> Tables<'a> {
        Tables { state, who, used: RefCell::new(BTreeMap::new()) }
    }

    /// The tables authorized so far.
    pub(crate) fn used(&self) -> BTreeMap<String, Readable> {
        self.used.borrow().clone()
    }
}

impl Catalog for Tables<'_> {
    fn table(&self, name: &str) -> Result<TableMeta, QueryError> {
        let t = Readable::authorize(self.state, self.who, name)?;
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
        let v = load_as::<R>(e, &read(col)?, rows, c.ring_bits(), c.bits)?;
        let nn = if c.nullable {
            let k = t.schema.columns[..col].iter().filter(|c| c.nullable).count();
            Some(load_as::<R>(e, &read(t.schema.columns.len() + k)?, rows, 64, 1)?)
        } else {
            None
        };
        Ok((v, nn))
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
/// same versions of its tables, and set up the protocol; shares are loaded only after.
pub(crate) fn start<'a>(
    state: &'a State,
    job: u64,
    d: &[u8; 32],
    tables: BTreeMap<String, Readable>,
) -> Result<(Rep3, StoreSource<'a>), Fail> {
    let mut ch = Channel::new(state.me, Box::new(state.mesh.transport(job)));
    agree(state, &mut ch, d)?;
    for t in tables.values() {
        same_version(state, &mut ch, &t.info)?;
    }
    Ok((Rep3::setup(ch)?, StoreSource { state, tables }))
}
