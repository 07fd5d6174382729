//! The client API's wire: HTTP/1.1 over TLS, one request per connection, `Content-Length` bodies.
//! Deliberately small: headers are capped at 64 KiB and bodies at a limit the server chooses, and
//! anything malformed is answered with 400 and the connection closed.

use crate::mesh::NetError;
use crate::pki::{Identity, party_name};
use mitsu_mpc_core::PartyId;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection, StreamOwned};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

const MAX_HEAD: usize = 64 * 1024;

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
        413 => "Payload Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Reads one request. Errors are for the caller to answer with 400 (or drop).
pub fn read_request<R: Read>(r: R, max_body: usize) -> Result<Request, (u16, String)> {
    let mut r = BufReader::new(r);
    let mut head = Vec::new();
    loop {
        let n = r
            .by_ref()
            .take((MAX_HEAD - head.len()) as u64 + 1)
            .read_until(b'\n', &mut head)
            .map_err(|e| (400, e.to_string()))?;
        if n == 0 {
            return Err((400, "connection closed before the request was complete".into()));
        }
        if head.len() > MAX_HEAD {
            return Err((400, "request headers exceed 64 KiB".into()));
        }
        if head.ends_with(b"\r\n\r\n") || head.ends_with(b"\n\n") {
            break;
        }
    }
    let text = std::str::from_utf8(&head).map_err(|_| (400, "request headers are not UTF-8".to_string()))?;
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    let mut parts = first.split_whitespace();
    let (method, path) = match (parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(p), Some(v)) if v.starts_with("HTTP/1.") => (m.to_string(), p.to_string()),
        _ => return Err((400, format!("malformed request line {first:?}"))),
    };
    let mut headers = Vec::new();
    for l in lines {
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':').ok_or_else(|| (400, format!("malformed header {l:?}")))?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let len = match headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-length")) {
        Some((_, v)) => v.parse::<usize>().map_err(|_| (400, format!("bad Content-Length {v:?}")))?,
        None => 0,
    };
    if len > max_body {
        return Err((413, format!("request body of {len} bytes exceeds the limit of {max_body}")));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).map_err(|e| (400, format!("request body: {e}")))?;
    Ok(Request { method, path, headers, body })
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

/// Serves requests on `listener` until `stop()` is true, one thread per connection.
pub fn serve<H>(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    max_body: usize,
    stop: impl Fn() -> bool + Send + 'static,
    handler: H,
) where
    H: Fn(Request) -> Response + Send + Sync + 'static,
{
    let handler = Arc::new(handler);
    for conn in listener.incoming() {
        if stop() {
            break;
        }
        let Ok(tcp) = conn else { continue };
        let (tls, handler) = (tls.clone(), handler.clone());
        let _ = std::thread::Builder::new().name("api-conn".into()).spawn(move || {
            let _ = tcp.set_read_timeout(Some(Duration::from_secs(60)));
            let Ok(conn) = ServerConnection::new(tls) else {
                return;
            };
            let mut s = StreamOwned::new(conn, tcp);
            let resp = match read_request(&mut s, max_body) {
                Ok(req) => handler(req),
                Err((status, msg)) => Response::error(status, &msg),
            };
            let _ = write_response(&mut s, &resp);
            s.conn.send_close_notify();
            let _ = s.flush();
        });
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
        let mut s = StreamOwned::new(conn, tcp);
        let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n",
            party_name(party),
            body.len()
        );
        s.write_all(head.as_bytes()).map_err(|e| format!("{addr}: {e}"))?;
        s.write_all(body).map_err(|e| format!("{addr}: {e}"))?;
        s.flush().map_err(|e| format!("{addr}: {e}"))?;
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
