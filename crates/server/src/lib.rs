//! The party side of mitsu: deployment tooling ([`init`]) and the party daemon ([`party`]).

pub mod init;
pub mod party;
mod routes;
