//! The party side of mitsu: deployment tooling today ([`init`]); the party daemon (peer mesh, client
//! API, storage, jobs) builds on it.

pub mod init;
