//! The party side of mitsu: deployment tooling ([`init`]) and the party daemon ([`party`]).

pub mod init;
mod jobs;
pub mod party;
mod routes;
