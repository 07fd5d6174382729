//! The client API's wire: HTTP/1.1 over TLS, one request per connection, `Content-Length` bodies.
//! Deliberately small: headers are capped at 64 KiB and bodies at a limit the server chooses, and
//! anything malformed is answered with 400 and the connection closed.

use crate::mesh::NetError;
use crate::pki::{Identity, party_name};
use mitsu_mpc_core::PartyId;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection, StreamOwned};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Longest request head (request line and headers).
pub const MAX_HEAD: usize = 64 * 1024;
/// Most headers in one request.
pub const MAX_HEADERS: usize = 100;

/// A parsed request.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    /// The bearer token, if any.
    pub fn bearer(&self) -> Option<&str> {
        self.header("authorization").and_then(|v| v.strip_prefix("Bearer ")).map(str::trim)
    }
}

/// A response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Response {
        Response { status, content_type: "application/json", body: body.into() }
    }
    pub fn bytes(body: Vec<u8>) -> Response {
        Response { status: 200, content_type: "application/octet-stream", body }
    }
    /// `{"error": msg}` with `status`.
    pub fn error(status: u16, msg: &str) -> Response {
        let esc = msg.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', " ");
        Response::json(status, format!("{{\"error\":\"{esc}\"}}"))
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// A request's line and headers: what the server sees before it decides whether to read a body.
#[derive(Debug, Clone)]
pub struct Head {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    /// The announced body length (`Content-Length`, 0 without one).
    pub content_length: usize,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    /// The bearer token, if any.
    pub fn bearer(&self) -> Option<&str> {
        self.header("authorization").and_then(|v| v.strip_prefix("Bearer ")).map(str::trim)
    }
}

/// Parses a request head (everything before the blank line, which `text` includes or not).
pub fn parse_head(text: &[u8]) -> Result<Head, (u16, String)> {
    let text = std::str::from_utf8(text).map_err(|_| (400, "request headers are not UTF-8".to_string()))?;
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    let mut parts = first.split_whitespace();
    let (method, path) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(p), Some(v), None) if v.starts_with("HTTP/1.") => (m.to_string(), p.to_string()),
        _ => return Err((400, format!("malformed request line {:?}", truncate(first, 200)))),
    };
    let mut headers = Vec::new();
    for l in lines {
        if l.is_empty() {
            break;
        }
        if headers.len() >= MAX_HEADERS {
            return Err((400, format!("more than {MAX_HEADERS} headers")));
        }
        let (k, v) = l.split_once(':').ok_or_else(|| (400, format!("malformed header {:?}", truncate(l, 200))))?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let mut content_length = None;
    for (k, v) in &headers {
        if k.eq_ignore_ascii_case("transfer-encoding") {
            return Err((400, "Transfer-Encoding is not supported; send a Content-Length".into()));
        }
        if k.eq_ignore_ascii_case("content-length") {
            let n = v.parse::<usize>().map_err(|_| (400, format!("bad Content-Length {:?}", truncate(v, 40))))?;
            if content_length.is_some_and(|m| m != n) {
                return Err((400, "conflicting Content-Length headers".into()));
            }
            content_length = Some(n);
        }
    }
    Ok(Head { method, path, headers, content_length: content_length.unwrap_or(0) })
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Reads a request head from `r`, calling `before_read` before every read (the server sets the
/// socket's timeout to what is left of its deadline there). Returns the head and the bytes read
/// past it (the start of the body). Reads at most [`MAX_HEAD`] bytes of head.
pub fn read_head<R: Read>(
    r: &mut R,
    before_read: &mut dyn FnMut() -> std::io::Result<()>,
) -> Result<(Head, Vec<u8>), (u16, String)> {
    let mut buf = Vec::with_capacity(1024);
    let mut tmp = [0u8; 4096];
    loop {
        before_read().map_err(|e| (408, format!("request head: {e}")))?;
        let n = match r.read(&mut tmp) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err((400, format!("request head: {e}"))),
        };
        if n == 0 {
            return Err((400, "connection closed before the request was complete".into()));
        }
        let old = buf.len();
        buf.extend_from_slice(&tmp[..n]);
        // the head ends at the first blank line (CRLF CRLF, or LF LF from lenient clients)
        let find = |from: usize, pat: &[u8]| {
            buf[from..].windows(pat.len()).position(|w| w == pat).map(|i| from + i + pat.len())
        };
        let end = match (find(old.saturating_sub(3), b"\r\n\r\n"), find(old.saturating_sub(1), b"\n\n")) {
            (Some(x), Some(y)) => Some(x.min(y)),
            (x, y) => x.or(y),
        };
        if let Some(end) = end {
            if end > MAX_HEAD {
                return Err((431, "request headers exceed 64 KiB".into()));
            }
            let head = parse_head(&buf[..end])?;
            return Ok((head, buf[end..].to_vec()));
        }
        if buf.len() > MAX_HEAD {
            return Err((431, "request headers exceed 64 KiB".into()));
        }
    }
}

/// Reads the body announced by `head` (`already`: bytes read with the head), refusing more than
/// `max_body` bytes before reading any.
pub fn read_body<R: Read>(
    r: &mut R,
    head: &Head,
    already: Vec<u8>,
    max_body: usize,
    before_read: &mut dyn FnMut() -> std::io::Result<()>,
) -> Result<Vec<u8>, (u16, String)> {
    let len = head.content_length;
    if len > max_body {
        return Err((413, format!("request body of {len} bytes exceeds the limit of {max_body}")));
    }
    if already.len() > len {
        return Err((400, "more bytes than Content-Length announced".into()));
    }
    let mut body = already;
    let have = body.len();
    body.resize(len, 0);
    let mut filled = have;
    while filled < len {
        before_read().map_err(|e| (408, format!("request body: {e}")))?;
        match r.read(&mut body[filled..]) {
            Ok(0) => return Err((400, format!("request body: the connection closed after {filled} of {len} bytes"))),
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err((400, format!("request body: {e}"))),
        }
    }
    Ok(body)
}

/// Reads one whole request without deadlines (tests and tools; the server reads in two steps).
pub fn read_request<R: Read>(mut r: R, max_body: usize) -> Result<Request, (u16, String)> {
    let (head, rest) = read_head(&mut r, &mut || Ok(()))?;
    let body = read_body(&mut r, &head, rest, max_body, &mut || Ok(()))?;
    Ok(Request { method: head.method, path: head.path, headers: head.headers, body })
}

/// Writes one response and flushes.
pub fn write_response<W: Write>(mut w: W, resp: &Response) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        resp.status,
        reason(resp.status),
        resp.content_type,
        resp.body.len()
    );
    w.write_all(head.as_bytes())?;
    w.write_all(&resp.body)?;
    w.flush()
}

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
    /// Stack of each connection's thread (the handler plans and runs jobs on it).
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

/// Decrements a counter when dropped.
struct Slot<'a>(&'a AtomicUsize);
impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// After answering a request whose body was not read (401, 413, …): stop sending and discard
/// what the client is still sending, up to `budget` bytes or 3 seconds, so that it reads the
/// answer instead of a connection reset. Bounded, and nothing is kept.
fn linger(sock: &TcpStream, budget: usize) {
    let _ = sock.shutdown(std::net::Shutdown::Write);
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut left = budget;
    let mut buf = [0u8; 16 << 10];
    let mut r = sock;
    while left > 0 && until(sock, deadline).is_ok() {
        match r.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
}

/// Sets the socket's read timeout to what is left until `deadline`, or fails when nothing is.
fn until(sock: &TcpStream, deadline: Instant) -> std::io::Result<()> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "the client was too slow"));
    }
    sock.set_read_timeout(Some(left))
}

/// Serves requests on `listener` until `stop()` is true, one thread per connection.
///
/// Each request is read in two steps: the head, then `admit(&head)` decides who the caller is and
/// how large a body it may send (or answers at once, e.g. 401); only then is the body read. So a
/// caller without a token can make the server hold no more than a head per connection, and at
/// most `limits.max_unauthenticated` of those. A handler that panics answers 500.
pub fn serve<C, A, H>(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    limits: ServeLimits,
    stop: impl Fn() -> bool + Send + 'static,
    admit: A,
    handler: H,
) where
    C: Send + 'static,
    A: Fn(&Head) -> Result<(C, usize), Response> + Send + Sync + 'static,
    H: Fn(C, Request) -> Response + Send + Sync + 'static,
{
    let shared = Arc::new((admit, handler, limits, AtomicUsize::new(0), AtomicUsize::new(0)));
    for conn in listener.incoming() {
        if stop() {
            break;
        }
        let Ok(tcp) = conn else { continue };
        let (limits, open, unauth) = (&shared.2, &shared.3, &shared.4);
        if open.load(Ordering::SeqCst) >= limits.max_connections
            || unauth.load(Ordering::SeqCst) >= limits.max_unauthenticated
        {
            drop(tcp); // over the limit: closed before any work or memory is spent on it
            continue;
        }
        open.fetch_add(1, Ordering::SeqCst);
        unauth.fetch_add(1, Ordering::SeqCst);
        let (tls, sh) = (tls.clone(), shared.clone());
        let spawned =
            std::thread::Builder::new().name("api-conn".into()).stack_size(limits.stack_bytes).spawn(move || {
                let (admit, handler, limits, open, unauth) = (&sh.0, &sh.1, &sh.2, &sh.3, &sh.4);
                let _open = Slot(open);
                let mut unauth_slot = Some(Slot(unauth));
                let deadline = Instant::now() + limits.head_timeout;
                let Ok(conn) = ServerConnection::new(tls) else { return };
                let mut s = StreamOwned::new(conn, tcp);
                while s.conn.is_handshaking() {
                    if until(&s.sock, deadline).is_err() || s.conn.complete_io(&mut s.sock).is_err() {
                        return;
                    }
                }
                let mut body_read = false;
                // what is discarded of an unread body: little for a stranger, a chunk's worth for a caller
                let mut linger_budget = 1usize << 20;
                let resp = (|| {
                    let sock = s.sock.try_clone().map_err(|e| Response::error(500, &e.to_string()))?;
                    let (head, rest) =
                        read_head(&mut s, &mut || until(&sock, deadline)).map_err(|(c, m)| Response::error(c, &m))?;
                    let (who, max_body) = admit(&head)?;
                    unauth_slot = None; // the caller is known: it no longer counts as unauthenticated
                    linger_budget = 16 << 20;
                    let body_deadline = Instant::now() + limits.body_timeout;
                    let body = read_body(&mut s, &head, rest, max_body, &mut || until(&sock, body_deadline))
                        .map_err(|(c, m)| Response::error(c, &m))?;
                    body_read = true;
                    let req = Request { method: head.method, path: head.path, headers: head.headers, body };
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(who, req))).map_err(|_| {
                        Response::error(500, "internal error: the party hit a bug; its log has the details")
                    })
                })()
                .unwrap_or_else(|r| r);
                drop(unauth_slot);
                let _ = s.sock.set_write_timeout(Some(limits.body_timeout));
                let _ = write_response(&mut s, &resp);
                s.conn.send_close_notify();
                let _ = s.flush();
                if !body_read {
                    linger(&s.sock, linger_budget);
                }
            });
        if spawned.is_err() {
            // the thread never ran: give its slots back
            shared.3.fetch_sub(1, Ordering::SeqCst);
            shared.4.fetch_sub(1, Ordering::SeqCst);
        }
    }
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
    /// callers that write the request themselves (tests of hostile input do).
    pub fn connect(&self, party: PartyId, addr: &str) -> Result<StreamOwned<ClientConnection, TcpStream>, String> {
        let sa = addr
            .to_socket_addrs()
            .map_err(|e| format!("{addr}: {e}"))?
            .next()
            .ok_or(format!("{addr} resolves to nothing"))?;
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
        let mut s = self.connect(party, addr)?;
        let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n",
            party_name(party),
            body.len()
        );
        s.write_all(head.as_bytes()).map_err(|e| format!("{addr}: {e}"))?;
        // a party may answer before reading the body (401, 413) and stop reading: its answer is
        // what the caller needs, so read it even when sending the rest failed
        let sent = s.write_all(body).and_then(|()| s.flush());
        let mut resp = Vec::new();
        match s.read_to_end(&mut resp) {
            Ok(_) => {}
            // some servers close without close_notify; what arrived is complete if it parses
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut => {
                return Err(format!("{addr}: no answer within {:?}", self.read_timeout));
            }
            Err(e) => return Err(format!("{addr}: {e}")),
        }
        if let Err(e) = sent
            && resp.is_empty()
        {
            return Err(format!("{addr}: {e}"));
        }
        if resp.is_empty() {
            return Err(format!("{addr}: the party closed the connection without answering (did it stop?)"));
        }
        let split = resp.windows(4).position(|w| w == b"\r\n\r\n").ok_or(format!("{addr}: malformed response"))?;
        let head = String::from_utf8_lossy(&resp[..split]);
        let status: u16 = head
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .ok_or(format!("{addr}: malformed status line"))?;
        Ok((status, resp[split + 4..].to_vec()))
    }
}
