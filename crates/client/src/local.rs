//! Encoded tables held in memory as a query catalog and source: the plaintext twin and the
//! in-process protocol run SQL and statistics over them exactly as the parties do over their
//! stores (used by tests and in-process benchmarks; party 0 plays the data owner).

use crate::table::Table;
use mitsu_algebra::Ring;
use mitsu_mpc_core::{Engine, PartyId};
use mitsu_query::{Catalog, QueryError, Source, TableMeta};
use std::collections::BTreeMap;

/// Tables by name.
#[derive(Debug, Clone, Default)]
pub struct Tables(pub BTreeMap<String, Table>);

impl Catalog for Tables {
    fn table(&self, name: &str) -> Result<TableMeta, QueryError> {
        let t = self.0.get(name).ok_or_else(|| QueryError::Invalid(format!("no table {name:?}")))?;
        Ok(TableMeta { schema: t.schema.clone(), rows: t.rows as u64 })
    }
}

impl<E: Engine> Source<E> for &Tables {
    fn column<R: Ring>(
        &mut self,
        e: &mut E,
        table: &str,
        col: usize,
    ) -> Result<(E::A<R>, Option<E::A<R>>), QueryError> {
        let t = self.0.get(table).ok_or_else(|| QueryError::Invalid(format!("no table {table:?}")))?;
        let c = &t.columns[col];
        let owner = PartyId::P0;
        let mine = e.id() == owner;
        let vals: Vec<R> = c.values.iter().map(|v| R::from_i128(*v)).collect();
        let v = e.input(owner, mine.then_some(vals.as_slice()), t.rows)?;
        let nn = match &c.valid {
            None => None,
            Some(ok) => {
                let b: Vec<R> = ok.iter().map(|x| R::from_u64(*x as u64)).collect();
                Some(e.input(owner, mine.then_some(b.as_slice()), t.rows)?)
            }
        };
        Ok((v, nn))
    }

    fn payload<R: Ring>(&mut self, e: &mut E, table: &str, col: usize) -> Result<Vec<E::A<R>>, QueryError> {
        let t = self.0.get(table).ok_or_else(|| QueryError::Invalid(format!("no table {table:?}")))?;
        let mine = e.id() == PartyId::P0;
        t.columns[col]
            .payload
            .iter()
            .map(|p| {
                let vals: Vec<R> = p.iter().map(|v| R::from_i128(*v)).collect();
                Ok(e.input(PartyId::P0, mine.then_some(vals.as_slice()), t.rows)?)
            })
            .collect()
    }
}
