//! The party side of mitsu: deployment tooling ([`init`], [`local`]) and the party daemon ([`party`]).

mod change;
pub mod init;
mod jobs;
pub mod local;
pub mod party;
mod routes;
mod sql;
mod upload_check;
