//! The party side of mitsu: deployment tooling ([`init`], [`local`]) and the party daemon ([`party`]).
//!
//! Inside the daemon, dependencies point one way: [`party`] (serving) → `api` (the axum router:
//! admission, body limits, the table of routes) → `routes` (the client API, typed by
//! `mitsu_api::wire`) → `jobs` (dispatch) → one module per job kind (`sql`,
//! `stats`, [`bench`]) and `change` (two-phase commit) → `tables` (permission check and the only
//! access to shares) → `job` (failures, ids, agreement) → `state`.

mod api;
mod audit;
pub mod bench;
mod change;
mod governance;
pub mod init;
mod job;
mod jobs;
pub mod local;
pub mod party;
mod routes;
mod sql;
mod state;
mod stats;
mod tables;
mod upload_check;
