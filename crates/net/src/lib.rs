//! Mutually authenticated TLS between the three parties: the only crate that opens peer sockets.
//!
//! * [`pki`]: a deployment's certificate authority and one certificate per party, naming the party
//!   (`party-<i>.mitsu`), so that a certificate proves which party a process is.
//! * [`http`]: the client API's transport: HTTP/1.1 over TLS, one request per connection.
//! * [`Mesh`]: the links of one party to the two others, and [`MeshTransport`], the
//!   `mitsu_mpc_core::Transport` that protocol jobs run over.
//!
//! The design decision to know: each ordered pair of parties has its own TCP+TLS connection, dialed
//! by the sender. A stream is therefore only ever written by one side and read by the other, which
//! keeps blocking IO simple (no reactor) and lets either direction reconnect on its own. Both ends
//! authenticate: the dialer checks that the server's certificate names the party it dialed; the
//! acceptor checks that the client's certificate, signed by the deployment CA, names the party the
//! dialer claims to be. Anything else is refused before a byte of protocol data is read.

pub mod http;
mod mesh;
pub mod pki;

pub use mesh::{
    ControlHandler, Frame, FrameDecoder, MAX_PARTIAL, Mesh, MeshConfig, MeshTransport, NetError, PeerHealth,
    encode_frames,
};
pub use pki::{Identity, party_name};

/// The TLS crypto provider: ring, with TLS 1.3 AES-128-GCM preferred. 128-bit security matches the
/// rest of mitsu (AES-128 PRGs) and the suite is about a third cheaper than AES-256-GCM on the
/// mesh's bulk traffic.
pub(crate) fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    let mut p = rustls::crypto::ring::default_provider();
    p.cipher_suites.sort_by_key(|s| s.suite() != rustls::CipherSuite::TLS13_AES_128_GCM_SHA256);
    std::sync::Arc::new(p)
}
