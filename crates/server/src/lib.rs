//! The party side of mitsu: deployment tooling ([`init`], [`local`]) and the party daemon ([`party`]).

pub mod init;
mod jobs;
pub mod local;
pub mod party;
mod routes;
mod sql;
