//! One module per command family; `main.rs` only dispatches.

pub(crate) mod audit;
pub(crate) mod bench;
pub(crate) mod governance;
pub(crate) mod sql;
pub(crate) mod status;
pub(crate) mod tables;
