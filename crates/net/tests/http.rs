//! The client API's transport against a real server on loopback: hyper behind `serve`, real TLS,
//! and a small router that admits like a party does (a token, then a per-caller body limit).
//! What a client can send — any bytes, lying lengths, heads that never end, connections that
//! never speak — gets an answer or a close, never a panic, and the server keeps serving.
//!
//! `PROPTEST_CASES=5000 cargo test -p mitsu-net --test http` runs the fuzzing longer.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::IntoResponse;
use mitsu_mpc_core::PartyId;
use mitsu_net::http::{ApiClient, Conn, MAX_HEAD, ServeLimits, serve, server_config};
use mitsu_net::pki;
use proptest::prelude::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const LIMIT: usize = 1024;

/// A server on a free port; stopped (and its thread joined) when dropped.
struct Server {
    addr: String,
    client: ApiClient,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn admit(mut req: Request, next: Next) -> axum::response::Response {
    let good = req.headers().get("authorization").is_some_and(|v| v.as_bytes() == b"Bearer good");
    if !good {
        return (axum::http::StatusCode::UNAUTHORIZED, "missing or wrong token").into_response();
    }
    let conn = req.extensions().get::<Conn>().cloned().expect("serve adds the connection");
    conn.admitted();
    req.extensions_mut().insert(conn);
    next.run(req).await
}

async fn echo(req: Request) -> axum::response::Response {
    let conn = req.extensions().get::<Conn>().cloned().expect("admitted");
    let announced = req.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    let path = req.uri().path().to_string();
    match conn.read_body(req.into_body(), announced, LIMIT).await {
        Ok(b) => format!("{path} {}", b.len()).into_response(),
        Err(e) => (axum::http::StatusCode::from_u16(e.status).unwrap(), e.message).into_response(),
    }
}

async fn named(axum::extract::Path(name): axum::extract::Path<String>) -> String {
    name
}

fn start(limits: ServeLimits) -> Server {
    let d = pki::generate(1, &["127.0.0.1".to_string()]).unwrap();
    let id = &d.identities[0];
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let tls = server_config(id).unwrap();
    let app = axum::Router::new()
        .route("/echo", axum::routing::post(echo))
        .route("/t/{name}", axum::routing::get(named))
        .layer(axum::middleware::from_fn(admit));
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let thread =
        std::thread::spawn(move || serve(listener, tls, limits, move || s.load(Ordering::SeqCst), app).unwrap());
    let client = ApiClient::new(id.ca.clone(), Duration::from_secs(5)).unwrap();
    Server { addr, client, stop, thread: Some(thread) }
}

fn quick() -> ServeLimits {
    ServeLimits { head_timeout: Duration::from_secs(2), body_timeout: Duration::from_secs(2), ..Default::default() }
}

impl Server {
    fn request(&self, method: &str, path: &str, token: Option<&str>, body: &[u8]) -> Result<(u16, String), String> {
        self.client
            .request(PartyId::P0, &self.addr, method, path, token, body)
            .map(|(s, b)| (s, String::from_utf8_lossy(&b).into_owned()))
    }

    /// Writes raw bytes over TLS and returns what came back (possibly nothing).
    fn raw(&self, bytes: &[u8]) -> Vec<u8> {
        let mut s = self.client.with_read_timeout(Duration::from_secs(5)).connect(PartyId::P0, &self.addr).unwrap();
        let _ = s.write_all(bytes).and_then(|()| s.flush());
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        out
    }

    fn still_serves(&self) {
        assert_eq!(self.request("POST", "/echo", Some("good"), b"abc").unwrap(), (200, "/echo 3".to_string()));
    }
}

fn status_of(resp: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(resp.get(..12)?).ok()?;
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

#[test]
fn a_request_is_admitted_then_its_body_read_under_the_limit() {
    let s = start(quick());
    s.still_serves();
    let (st, body) = s.request("POST", "/echo", None, b"abc").unwrap();
    assert_eq!((st, body.as_str()), (401, "missing or wrong token"));
    let (st, body) = s.request("POST", "/echo", Some("good"), &vec![b'x'; LIMIT + 1]).unwrap();
    assert_eq!(st, 413, "{body}");
    assert!(body.contains("exceeds the limit of 1024"), "{body}");
    // a body far over the limit is refused from the head, and the client still reads the answer
    let (st, _) = s.request("POST", "/echo", Some("good"), &vec![b'x'; 8 << 20]).unwrap();
    assert_eq!(st, 413);
    // a stranger sending a large body gets its 401, not a reset
    let (st, _) = s.request("POST", "/echo", None, &vec![b'x'; 512 << 10]).unwrap();
    assert_eq!(st, 401);
    s.still_serves();
}

#[test]
fn a_chunked_body_is_limited_as_it_arrives() {
    let s = start(quick());
    let mut req =
        b"POST /echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer good\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..4 {
        req.extend_from_slice(b"200\r\n");
        req.extend(std::iter::repeat_n(b'y', 0x200));
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let resp = s.raw(&req);
    assert_eq!(status_of(&resp), Some(413), "{}", String::from_utf8_lossy(&resp));
    s.still_serves();
}

#[test]
fn path_parameters_arrive_decoded() {
    let s = start(quick());
    assert_eq!(s.request("GET", "/t/患者_2024", Some("good"), b"").unwrap(), (200, "患者_2024".to_string()));
}

#[test]
fn a_head_over_the_limit_is_refused() {
    let s = start(quick());
    let mut req = b"GET /echo HTTP/1.1\r\nHost: x\r\nX-Long: ".to_vec();
    req.extend(std::iter::repeat_n(b'a', 2 * MAX_HEAD));
    req.extend_from_slice(b"\r\n\r\n");
    let resp = s.raw(&req);
    assert_eq!(status_of(&resp), Some(431), "{}", String::from_utf8_lossy(&resp[..resp.len().min(200)]));
    s.still_serves();
}

#[test]
fn silent_connections_are_closed_at_the_head_deadline_and_capped() {
    let s = start(ServeLimits { max_unauthenticated: 4, ..quick() });
    let t0 = Instant::now();
    let mut idle: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(&s.addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(300));
    // a fifth stranger is closed at once, before any TLS
    let mut fifth = TcpStream::connect(&s.addr).unwrap();
    fifth.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    assert!(matches!(fifth.read(&mut [0u8; 8]), Ok(0) | Err(_)));
    // the four are closed at the deadline
    for c in &mut idle {
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert!(matches!(c.read(&mut [0u8; 8]), Ok(0)), "closed by the server");
    }
    let waited = t0.elapsed();
    assert!(waited >= Duration::from_millis(1500) && waited < Duration::from_secs(5), "{waited:?}");
    s.still_serves();
}

#[test]
fn a_trickled_head_is_closed_at_the_deadline() {
    let s = start(quick());
    let mut c = s.client.connect(PartyId::P0, &s.addr).unwrap();
    let t0 = Instant::now();
    let mut closed = false;
    for b in b"GET /echo HTTP/1.1\r\nHost: x\r\nX-Slow: ".iter().chain(std::iter::repeat_n(&b'z', 100)) {
        if c.write_all(&[*b]).and_then(|()| c.flush()).is_err() {
            closed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(closed || c.read(&mut [0u8; 8]).is_ok_and(|n| n == 0), "a trickling client is cut off");
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    s.still_serves();
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(48),
        ..Default::default()
    })]

    #[test]
    fn any_bytes_get_an_answer_or_a_close(bytes in prop::collection::vec(any::<u8>(), 0..3000)) {
        let s = server();
        let resp = s.raw(&bytes);
        prop_assert!(resp.is_empty() || status_of(&resp).is_some(), "{:?}", String::from_utf8_lossy(&resp));
    }

    #[test]
    fn lying_requests_get_an_answer_or_a_close(len in any::<u64>(), body in prop::collection::vec(any::<u8>(), 0..200),
                                               extra in prop::collection::vec(prop::sample::select(vec![
                                                   "Transfer-Encoding: chunked", "Content-Length: 5", "Content-Length: -1",
                                                   "Content-Length: 99999999999999999999999", "X: y", "no colon", "",
                                                   "Authorization: Bearer good", "Authorization: Bearer bad", "Content-Length: 0",
                                               ]), 0..4)) {
        let s = server();
        let mut req = format!("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {len}\r\n");
        for h in &extra {
            req.push_str(h);
            req.push_str("\r\n");
        }
        req.push_str("\r\n");
        let mut bytes = req.into_bytes();
        bytes.extend(&body);
        let resp = s.raw(&bytes);
        match status_of(&resp) {
            // a body is accepted only whole and within the limit
            Some(200) => {
                let text = String::from_utf8_lossy(&resp);
                let n: usize = text.rsplit(' ').next().unwrap().trim().parse().unwrap();
                prop_assert!(n <= LIMIT && n as u64 == len, "{}", text);
            }
            Some(st) => prop_assert!([400, 401, 408, 413, 431].contains(&st), "{}", st),
            None => prop_assert!(resp.is_empty()),
        }
    }
}

/// One server for the fuzzing cases (starting one per case would dominate the run).
fn server() -> &'static Server {
    static S: std::sync::OnceLock<Server> = std::sync::OnceLock::new();
    let s = S.get_or_init(|| start(ServeLimits { head_timeout: Duration::from_secs(1), ..quick() }));
    s.still_serves();
    s
}

#[test]
fn the_client_reports_a_server_that_is_not_there() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let d = pki::generate(1, &[]).unwrap();
    let c = ApiClient::new(d.identities[0].ca.clone(), Duration::from_secs(2)).unwrap();
    let err = c.request(PartyId::P0, &addr, "GET", "/v1/status", None, b"").unwrap_err();
    assert!(err.contains("cannot connect"), "{err}");
}
