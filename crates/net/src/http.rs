//! The client API's transport: HTTP/1.1 over TLS, one request per connection, served by hyper
//! (the routes are an axum `Router`, built by `mitsu-server`) and called with hyper's client.
//!
//! This module owns what is about connections: TLS, how many may be open and how many of those
//! may belong to callers not yet known, how long the handshake and head may take, how large a
//! head may be, and what happens to a body nobody reads. What is about callers — who they are and
//! how large a body each may send — is the router's, decided from the head before the body is
//! read; it reports back through the [`Conn`] every request carries as an extension.

use crate::mesh::NetError;
use crate::pki::{Identity, party_name};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::{TokioIo, TokioTimer};
use mitsu_mpc_core::PartyId;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, StreamOwned};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// Longest request head (request line and headers); a longer one is answered 431.
pub const MAX_HEAD: usize = 64 * 1024;
/// Most headers in one request.
pub const MAX_HEADERS: usize = 100;

/// TLS configuration of a party's API: its party certificate, no client certificate (clients
/// authenticate with bearer tokens).
pub fn server_config(id: &Identity) -> Result<Arc<ServerConfig>, NetError> {
    let provider = crate::provider();
    let cfg = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| NetError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(id.chain.clone(), id.key.clone_key())
        .map_err(|e| NetError::Config(e.to_string()))?;
    Ok(Arc::new(cfg))
}

/// What the API server lets one connection do, before and after its caller is known.
#[derive(Debug, Clone)]
pub struct ServeLimits {
    /// Connections open at once; more are closed as they arrive.
    pub max_connections: usize,
    /// Of those, connections whose caller is not yet known (handshake and head not done).
    pub max_unauthenticated: usize,
    /// Time for the TLS handshake and the request head together: a client that trickles bytes
    /// is closed when it runs out.
    pub head_timeout: Duration,
    /// Time for the whole body, once the caller is admitted.
    pub body_timeout: Duration,
    /// Stack of the threads handlers run on (they plan and run jobs there).
    pub stack_bytes: usize,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            max_connections: 256,
            max_unauthenticated: 64,
            head_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(300),
            stack_bytes: 8 << 20,
        }
    }
}

/// One connection's standing, shared between the connection and the router handling its request
/// (every request carries it as an extension).
#[derive(Clone, Debug)]
pub struct Conn(Arc<ConnState>);

#[derive(Debug)]
struct ConnState {
    /// Held while the caller is unknown: counts against `max_unauthenticated`.
    stranger: Mutex<Option<OwnedSemaphorePermit>>,
    known: AtomicBool,
    body_read: AtomicBool,
    body_timeout: Duration,
}

/// Why a body could not be read: the status to answer and a message for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyError {
    pub status: u16,
    pub message: String,
}

impl Conn {
    fn new(stranger: OwnedSemaphorePermit, body_timeout: Duration) -> Conn {
        Conn(Arc::new(ConnState {
            stranger: Mutex::new(Some(stranger)),
            known: AtomicBool::new(false),
            body_read: AtomicBool::new(false),
            body_timeout,
        }))
    }

    /// The router checked the caller's token: the connection no longer counts as
    /// unauthenticated, and more of a body left unread is discarded after the answer (a chunk's
    /// worth rather than a stranger's megabyte), so that the caller reads the answer.
    pub fn admitted(&self) {
        self.0.known.store(true, Ordering::SeqCst);
        self.0.stranger.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    /// Reads the request body, refusing more than `max` bytes (413, before reading any when the
    /// announced length is larger) and a body slower than the connection's body timeout (408).
    pub async fn read_body(
        &self,
        body: axum::body::Body,
        announced: Option<u64>,
        max: usize,
    ) -> Result<Bytes, BodyError> {
        let too_large = |n: String| BodyError {
            status: 413,
            message: format!("request body of {n} bytes exceeds the limit of {max}"),
        };
        if let Some(n) = announced
            && n > max as u64
        {
            return Err(too_large(n.to_string()));
        }
        let read = tokio::time::timeout(self.0.body_timeout, Limited::new(body, max).collect()).await;
        let bytes = match read {
            Err(_) => {
                return Err(BodyError {
                    status: 408,
                    message: format!("request body not received within {:?}", self.0.body_timeout),
                });
            }
            Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => return Err(too_large("more than".into())),
            Ok(Err(e)) => return Err(BodyError { status: 400, message: format!("request body: {e}") }),
            Ok(Ok(c)) => c.to_bytes(),
        };
        self.0.body_read.store(true, Ordering::SeqCst);
        Ok(bytes)
    }
}

/// Serves the router `app` on `listener` until `stop()` is true (checked a few times a second).
///
/// Connections over `max_connections`, or over `max_unauthenticated` of callers not yet known, are
/// closed as they arrive. The TLS handshake and the head share `head_timeout`; a head over
/// [`MAX_HEAD`] is answered 431 by hyper. A router answers from the head (401, 413) without reading
/// the body; the connection then discards what the caller still sends, bounded in bytes and time,
/// so that the caller sees the answer rather than a reset.
pub fn serve(
    listener: std::net::TcpListener,
    tls: Arc<ServerConfig>,
    limits: ServeLimits,
    stop: impl Fn() -> bool + Send + 'static,
    app: axum::Router,
) -> std::io::Result<()> {
    // handlers run on the blocking pool (jobs block on the mesh), so its threads get the stack
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("api")
        .thread_stack_size(limits.stack_bytes)
        .max_blocking_threads(limits.max_connections.max(1))
        .enable_io()
        .enable_time()
        .build()?;
    listener.set_nonblocking(true)?;
    let result = rt.block_on(accept(listener, tls, limits, stop, app));
    rt.shutdown_timeout(Duration::from_secs(2));
    result
}

async fn accept(
    listener: std::net::TcpListener,
    tls: Arc<ServerConfig>,
    limits: ServeLimits,
    stop: impl Fn() -> bool,
    app: axum::Router,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let strangers = Arc::new(Semaphore::new(limits.max_unauthenticated));
    while !stop() {
        let tcp = match tokio::time::timeout(Duration::from_millis(200), listener.accept()).await {
            Err(_) => continue,
            Ok(Ok((tcp, _))) => tcp,
            Ok(Err(_)) => {
                // out of file descriptors and the like: wait rather than spin
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let (Ok(slot), Ok(stranger)) = (open.clone().try_acquire_owned(), strangers.clone().try_acquire_owned()) else {
            drop(tcp); // over the limit: closed before any work or memory is spent on it
            continue;
        };
        tokio::spawn(connection(tcp, acceptor.clone(), app.clone(), limits.clone(), slot, stranger));
    }
    Ok(())
}

async fn connection(
    tcp: tokio::net::TcpStream,
    acceptor: tokio_rustls::TlsAcceptor,
    app: axum::Router,
    limits: ServeLimits,
    _slot: OwnedSemaphorePermit,
    stranger: OwnedSemaphorePermit,
) {
    let deadline = Instant::now() + limits.head_timeout;
    // a second handle on the socket outlives hyper's, which is gone when a head is refused (431):
    // through it the connection discards what the client still sends after the answer
    let Some((tcp, keep)) = tcp.into_std().ok().and_then(|t| Some((t.try_clone().ok()?, t))) else { return };
    let Ok(tcp) = tokio::net::TcpStream::from_std(tcp) else { return };
    let Ok(Ok(tls)) = tokio::time::timeout_at(deadline, acceptor.accept(tcp)).await else { return };
    let conn = Conn::new(stranger, limits.body_timeout);
    let for_requests = conn.clone();
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(for_requests.clone());
        let mut app = app.clone();
        async move { tower_service::Service::call(&mut app, req.map(axum::body::Body::new)).await }
    });
    let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
    let served = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(left)
        .keep_alive(false)
        .max_buf_size(MAX_HEAD)
        .max_headers(MAX_HEADERS)
        .serve_connection(TokioIo::new(tls), svc)
        .without_shutdown()
        .await;
    conn.0.stranger.lock().unwrap_or_else(|p| p.into_inner()).take();
    match served {
        Ok(parts) => {
            // close_notify: the answer is complete
            let mut tls = parts.io.into_inner();
            let _ = tokio::time::timeout(Duration::from_secs(3), tls.shutdown()).await;
        }
        // hyper answered a malformed or oversized head (400, 431) before closing
        Err(e) if e.is_parse() => {}
        // a head too slow, a client gone: nothing was answered, nothing to wait for
        Err(_) => return,
    }
    if conn.0.body_read.load(Ordering::SeqCst) {
        return;
    }
    // the body was not read (401, 413, 431, …): discard what the caller is still sending, up to a
    // budget, so that it reads the answer instead of a connection reset; nothing is kept
    let mut budget: usize = if conn.0.known.load(Ordering::SeqCst) { 16 << 20 } else { 1 << 20 };
    let Ok(mut tcp) = tokio::net::TcpStream::from_std(keep) else { return };
    let _ = tcp.shutdown().await;
    let _ = tokio::time::timeout(Duration::from_secs(3), async {
        let mut buf = vec![0u8; 16 << 10];
        while budget > 0 {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => budget = budget.saturating_sub(n),
            }
        }
    })
    .await;
}

/// The runtime the client's requests run on: one small runtime per process, driven from whatever
/// thread calls (the client and the CLI are blocking code).
fn client_runtime() -> Result<&'static tokio::runtime::Runtime, String> {
    static RT: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("api-client")
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| format!("cannot start the HTTP client: {e}"))
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// A path as it goes on the wire: bytes outside the URI's unreserved and delimiter set (Japanese
/// table names, spaces) percent-encoded; the router decodes path parameters.
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in path.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/?=&%:@!$'()*+,;".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn resolve(addr: &str) -> Result<std::net::SocketAddr, String> {
    addr.to_socket_addrs().map_err(|e| format!("{addr}: {e}"))?.next().ok_or(format!("{addr} resolves to nothing"))
}

/// A client of the parties' APIs, trusting the deployment CA.
#[derive(Clone)]
pub struct ApiClient {
    cfg: Arc<ClientConfig>,
    /// connecting and sending
    timeout: Duration,
    /// waiting for the answer
    read_timeout: Duration,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiClient")
    }
}

impl ApiClient {
    pub fn new(ca: CertificateDer<'static>, timeout: Duration) -> Result<ApiClient, NetError> {
        let mut roots = RootCertStore::empty();
        roots.add(ca).map_err(|e| NetError::Config(e.to_string()))?;
        let provider = crate::provider();
        let cfg = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| NetError::Config(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(ApiClient { cfg: Arc::new(cfg), timeout, read_timeout: timeout })
    }

    /// A client whose requests may wait `read` for an answer (jobs run for as long as they need).
    pub fn with_read_timeout(&self, read: Duration) -> ApiClient {
        ApiClient { cfg: self.cfg.clone(), timeout: self.timeout, read_timeout: read }
    }

    /// An open TLS connection to party `party`'s API at `addr` (its certificate checked), for
    /// callers that write the request bytes themselves (tests of hostile input do).
    pub fn connect(&self, party: PartyId, addr: &str) -> Result<StreamOwned<ClientConnection, TcpStream>, String> {
        let sa = resolve(addr)?;
        let tcp =
            TcpStream::connect_timeout(&sa, self.timeout).map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        tcp.set_read_timeout(Some(self.read_timeout)).map_err(|e| e.to_string())?;
        tcp.set_write_timeout(Some(self.timeout)).map_err(|e| e.to_string())?;
        let name = ServerName::try_from(party_name(party)).map_err(|e| e.to_string())?;
        let conn = ClientConnection::new(self.cfg.clone(), name).map_err(|e| e.to_string())?;
        Ok(StreamOwned::new(conn, tcp))
    }

    /// One request to party `party` at `addr`; the server must present that party's certificate.
    /// Returns (status, body); transport failures are `Err` with a readable reason.
    pub fn request(
        &self,
        party: PartyId,
        addr: &str,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: &[u8],
    ) -> Result<(u16, Vec<u8>), String> {
        let rt = client_runtime()?;
        let body = Bytes::copy_from_slice(body);
        rt.block_on(self.send(party, addr, method, path, token, body))
    }

    async fn send(
        &self,
        party: PartyId,
        addr: &str,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Bytes,
    ) -> Result<(u16, Vec<u8>), String> {
        let sa = resolve(addr)?;
        let late = |what: &str, d: Duration| format!("{addr}: {what} within {d:?}");
        let tcp = tokio::time::timeout(self.timeout, tokio::net::TcpStream::connect(sa))
            .await
            .map_err(|_| late("cannot connect", self.timeout))?
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let name = ServerName::try_from(party_name(party)).map_err(|e| e.to_string())?;
        let tls =
            tokio::time::timeout(self.timeout, tokio_rustls::TlsConnector::from(self.cfg.clone()).connect(name, tcp))
                .await
                .map_err(|_| late("no TLS handshake", self.timeout))?
                .map_err(|e| format!("{addr}: {e}"))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(tls))
            .await
            .map_err(|e| format!("{addr}: {e}"))?;
        let driver = tokio::spawn(connection);
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(encode_path(path))
            .header(hyper::header::HOST, party_name(party))
            .header(hyper::header::CONNECTION, "close");
        if let Some(t) = token {
            req = req.header(hyper::header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = req.body(Full::new(body)).map_err(|e| format!("{addr}: {method} {path}: {e}"))?;
        let wait = self.timeout + self.read_timeout;
        let answer = async {
            let resp = sender.send_request(req).await.map_err(|e| {
                if e.is_incomplete_message() || e.is_canceled() {
                    format!("{addr}: the party closed the connection without answering (did it stop?)")
                } else {
                    format!("{addr}: {e}")
                }
            })?;
            let status = resp.status().as_u16();
            let body = resp.into_body().collect().await.map_err(|e| format!("{addr}: reading the answer: {e}"))?;
            Ok((status, body.to_bytes().to_vec()))
        };
        let out = tokio::time::timeout(wait, answer)
            .await
            .map_err(|_| format!("{addr}: no answer within {:?}", self.read_timeout))?;
        driver.abort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::encode_path;

    #[test]
    fn paths_are_percent_encoded_outside_ascii() {
        assert_eq!(encode_path("/v1/tables/患者"), "/v1/tables/%E6%82%A3%E8%80%85");
        assert_eq!(encode_path("/v1/tables/a b/versions"), "/v1/tables/a%20b/versions");
        assert_eq!(encode_path("/v1/jobs"), "/v1/jobs");
    }
}
