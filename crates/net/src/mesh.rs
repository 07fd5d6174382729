//! The links of one party to the two others.
//!
//! Wire format on every link, after the TLS handshake: the dialer sends a hello
//! (`MITSU/2\0` + its party id + its incarnation, 8 random bytes drawn when the process
//! started, so a restarted peer is told from a reconnecting one); then frames `[job u64][flags u8][len u32][bytes]`, little-endian.
//! A message is a header frame (flag FIRST: element type and total length) followed by data frames
//! of at most 1 MiB (the last with flag LAST), so there is no size cliff and the receiver reads
//! straight into a vector of the announced size; frames of different jobs go to separate queues.

use crate::pki::{Identity, party_name};
use mitsu_mpc_core::{MpcError, PartyId, Payload, Transport};
use rustls::pki_types::ServerName;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection, StreamOwned};
use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

const HELLO: &[u8; 8] = b"MITSU/2\0";
/// Job id of heartbeats; protocol jobs use ids from 1.
const HEARTBEAT_JOB: u64 = 0;
const CHUNK: usize = 1 << 20;
/// Frame flags.
const LAST: u8 = 1;
const FIRST: u8 = 2;
/// The sender abandoned the job; the frame's bytes say why.
const ABORT: u8 = 4;
/// On a message's first frame: a control request, answered by the party's control handler (not
/// queued for a job); the answer comes back under the same job id.
const CONTROL: u8 = 8;
/// Largest message a peer may announce (a bound on what it can make us allocate).
const MAX_MESSAGE: u64 = 1 << 34;
/// Most bytes reserved for a message before its data arrives.
const RESERVE: u64 = 64 << 20;
/// Largest frame accepted from a peer: a bound on what a misbehaving peer can make us allocate.
const MAX_FRAME: usize = CHUNK;

/// Network and configuration errors.
#[derive(Debug, Clone, thiserror::Error)]
pub enum NetError {
    #[error("TLS configuration: {0}")]
    Config(String),
    #[error("cannot listen: {0}")]
    Listen(String),
}

/// Where one party finds the others.
#[derive(Debug, Clone)]
pub struct MeshConfig {
    pub identity: Identity,
    /// Address (host:port) of every other party.
    pub peers: Vec<(PartyId, String)>,
    /// How long to wait for a peer before reporting it unreachable.
    pub timeout: Duration,
}

type Out = StreamOwned<ClientConnection, TcpStream>;

/// What a party knows about the link from one peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerHealth {
    pub party: PartyId,
    /// An authenticated link from the peer is open.
    pub linked: bool,
    /// Milliseconds since the peer's last frame (heartbeat or data), if any.
    pub last_seen_ms: Option<u64>,
    /// Why the last link from the peer ended, if one did.
    pub last_error: Option<String>,
}

/// Answers a control request of a peer (see [`Mesh::set_control_handler`]).
pub type ControlHandler = Arc<dyn Fn(PartyId, Payload) -> Payload + Send + Sync>;

#[derive(Default)]
struct Inbox {
    /// jobs a peer abandoned, with its reason
    aborted: HashMap<(PartyId, u64), (Instant, String)>,
    last_seen: [Option<Instant>; 3],
    /// messages per (sender, job), and when the queue was created
    queues: HashMap<(PartyId, u64), (Instant, VecDeque<Payload>)>,
    /// jobs with a live transport at this party (count of transports)
    active: HashMap<u64, usize>,
    /// incoming connections currently open, per peer
    open: [u32; 3],
    /// how many incoming connections from each peer have closed so far
    closed: [u64; 3],
    why: [Option<String>; 3],
    /// the incarnation each peer's last link announced, and how often it changed: a peer that
    /// restarted has lost the state of every job it was in
    incarnation: [Option<u64>; 3],
    restarts: [u64; 3],
}

struct Inner {
    me: PartyId,
    client_cfg: Arc<ClientConfig>,
    server_cfg: Arc<ServerConfig>,
    peers: HashMap<PartyId, String>,
    out: [Mutex<Option<Out>>; 3],
    inbox: Mutex<Inbox>,
    cv: Condvar,
    timeout: Duration,
    stop: AtomicBool,
    local: SocketAddr,
    control: Mutex<Option<ControlHandler>>,
    incarnation: u64,
}

/// One party's view of the mesh. Cheap to clone; all clones share the links.
#[derive(Clone)]
pub struct Mesh {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Mesh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mesh({}, {})", self.inner.me, self.inner.local)
    }
}

fn configs(id: &Identity) -> Result<(Arc<ClientConfig>, Arc<ServerConfig>), NetError> {
    let cfg = |e: &dyn std::fmt::Display| NetError::Config(e.to_string());
    let provider = crate::provider();
    let mut roots = RootCertStore::empty();
    roots.add(id.ca.clone()).map_err(|e| cfg(&e))?;
    let roots = Arc::new(roots);
    let client = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| cfg(&e))?
        .with_root_certificates(roots.clone())
        .with_client_auth_cert(id.chain.clone(), id.key.clone_key())
        .map_err(|e| cfg(&e))?;
    let verifier = WebPkiClientVerifier::builder_with_provider(roots, provider.clone()).build().map_err(|e| cfg(&e))?;
    let server = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| cfg(&e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(id.chain.clone(), id.key.clone_key())
        .map_err(|e| cfg(&e))?;
    Ok((Arc::new(client), Arc::new(server)))
}

impl Mesh {
    /// Starts accepting peer connections on `listener`; outgoing links are dialed on first use.
    pub fn start(cfg: MeshConfig, listener: TcpListener) -> Result<Mesh, NetError> {
        let (client_cfg, server_cfg) = configs(&cfg.identity)?;
        let local = listener.local_addr().map_err(|e| NetError::Listen(e.to_string()))?;
        let mut inc = [0u8; 8];
        crate::provider().secure_random.fill(&mut inc).map_err(|_| NetError::Config("no randomness".into()))?;
        let inner = Arc::new(Inner {
            me: cfg.identity.me,
            client_cfg,
            server_cfg,
            peers: cfg.peers.into_iter().collect(),
            out: [Mutex::new(None), Mutex::new(None), Mutex::new(None)],
            inbox: Mutex::new(Inbox::default()),
            cv: Condvar::new(),
            timeout: cfg.timeout,
            stop: AtomicBool::new(false),
            local,
            control: Mutex::new(None),
            incarnation: u64::from_le_bytes(inc),
        });
        let acc = inner.clone();
        std::thread::Builder::new()
            .name(format!("mesh-accept-{}", inner.me.index()))
            .spawn(move || accept_loop(acc, listener))
            .map_err(|e| NetError::Listen(e.to_string()))?;
        Ok(Mesh { inner })
    }

    pub fn me(&self) -> PartyId {
        self.inner.me
    }
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local
    }

    /// A transport for one job: messages of other jobs never mix with it.
    /// A transport for one job (ids from 1): messages of other jobs never mix with it.
    pub fn transport(&self, job: u64) -> MeshTransport {
        assert_ne!(job, HEARTBEAT_JOB, "job 0 is reserved for heartbeats");
        let mut ib = self.inner.inbox.lock().unwrap();
        *ib.active.entry(job).or_default() += 1;
        // links that go down from now on end this job (see `recv`)
        let (closed_at_start, restarts_at_start) = (ib.closed, ib.restarts);
        MeshTransport { inner: self.inner.clone(), job, closed_at_start, restarts_at_start }
    }

    /// Sets what answers peers' control requests ([`Mesh::call`]). Each request is answered on a
    /// thread of its own.
    pub fn set_control_handler(&self, h: ControlHandler) {
        *self.inner.control.lock().unwrap() = Some(h);
    }

    /// Sends a control request to `to` under a fresh `job` id and waits at most `wait` for its
    /// answer. A peer whose link to this party is down is not tried.
    pub fn call(&self, to: PartyId, job: u64, msg: &Payload, wait: Duration) -> mitsu_mpc_core::Result<Payload> {
        if !self.health().iter().any(|h| h.party == to && h.linked) {
            return Err(MpcError::PeerUnreachable { party: to, what: "its link is down".into() });
        }
        let mut t = self.transport(job);
        let res = self
            .inner
            .send_flagged(to, job, msg, CONTROL)
            .map_err(|what| MpcError::PeerUnreachable { party: to, what })
            .and_then(|()| t.recv_within(to, wait));
        drop(t);
        self.finish_job(job);
        res
    }

    /// Drops messages queued for jobs that no transport at this party is running and that
    /// arrived more than `max_age` ago: peers ran a job this party never joined (its client
    /// request never came). Bounds the memory such jobs take.
    pub fn reap(&self, max_age: Duration) -> usize {
        let mut ib = self.inner.inbox.lock().unwrap();
        let now = Instant::now();
        let before = ib.queues.len();
        let active = std::mem::take(&mut ib.active);
        ib.queues.retain(|(_, j), (born, _)| active.contains_key(j) || now.duration_since(*born) < max_age);
        ib.aborted.retain(|(_, j), (born, _)| active.contains_key(j) || now.duration_since(*born) < max_age);
        ib.active = active;
        before - ib.queues.len()
    }

    /// Sends a heartbeat to every peer (dialing if needed); returns the peers that could not be
    /// reached, with the reason. Keeps links warm and lets peers see this party is alive.
    pub fn heartbeat(&self) -> Vec<(PartyId, String)> {
        let mut failed = Vec::new();
        let mut peers: Vec<PartyId> = self.inner.peers.keys().copied().collect();
        peers.sort();
        for p in peers {
            if let Err(e) = self.inner.send(p, HEARTBEAT_JOB, &Payload::U64(vec![])) {
                failed.push((p, e));
            }
        }
        failed
    }

    /// Health of the links from each peer.
    pub fn health(&self) -> Vec<PeerHealth> {
        let ib = self.inner.inbox.lock().unwrap();
        let mut peers: Vec<PartyId> = self.inner.peers.keys().copied().collect();
        peers.sort();
        peers
            .into_iter()
            .map(|p| PeerHealth {
                party: p,
                linked: ib.open[p.index()] > 0,
                last_seen_ms: ib.last_seen[p.index()].map(|t| t.elapsed().as_millis() as u64),
                last_error: ib.why[p.index()].clone(),
            })
            .collect()
    }

    /// Forgets the queued messages of a finished job.
    pub fn finish_job(&self, job: u64) {
        let mut ib = self.inner.inbox.lock().unwrap();
        ib.queues.retain(|(_, j), _| *j != job);
        ib.aborted.retain(|(_, j), _| *j != job);
    }

    /// Tells the peers that this party abandoned `job` (best effort), so that they stop waiting for
    /// it instead of running into their timeout.
    pub fn abort_job(&self, job: u64, why: &str) {
        let why = &why.as_bytes()[..why.len().min(4096)];
        for p in self.inner.peers.keys() {
            let mut slot = self.inner.out[p.index()].lock().unwrap();
            if let Some(s) = slot.as_mut()
                && (write_frame(s, job, ABORT, why).is_err() || s.flush().is_err())
            {
                *slot = None;
            }
        }
    }

    /// Closes all links and stops accepting (the accept loop ends at its next connection).
    pub fn shutdown(&self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        for o in &self.inner.out {
            if let Some(mut s) = o.lock().unwrap().take() {
                s.conn.send_close_notify();
                let _ = s.flush();
                let _ = s.sock.shutdown(std::net::Shutdown::Both);
            }
        }
        // wake the accept loop so it sees the flag
        let _ = TcpStream::connect_timeout(&self.inner.local, Duration::from_millis(200));
    }
}

fn accept_loop(inner: Arc<Inner>, listener: TcpListener) {
    for conn in listener.incoming() {
        if inner.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(tcp) = conn else { continue };
        let inner = inner.clone();
        // each connection on its own thread: a slow or hostile client cannot block the others
        let _ = std::thread::Builder::new().name("mesh-link".into()).spawn(move || {
            if let Err(e) = serve_link(&inner, tcp)
                && !inner.stop.load(Ordering::SeqCst)
            {
                eprintln!("{}: refused or lost an incoming peer link: {e}", inner.me);
            }
        });
    }
}

fn serve_link(inner: &Arc<Inner>, tcp: TcpStream) -> Result<(), String> {
    tcp.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
    let _ = tcp.set_nodelay(true);
    let conn = ServerConnection::new(inner.server_cfg.clone()).map_err(|e| e.to_string())?;
    let mut tls = StreamOwned::new(conn, tcp);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock).map_err(|e| format!("TLS handshake failed: {e}"))?;
    }
    let mut hello = [0u8; 17];
    tls.read_exact(&mut hello).map_err(|e| format!("no hello: {e}"))?;
    if &hello[..8] != HELLO {
        return Err("not a mitsu peer (bad hello)".into());
    }
    let from = PartyId::new(hello[8] as usize).ok_or("hello names no party")?;
    if from == inner.me || !inner.peers.contains_key(&from) {
        return Err(format!("{from} is not a peer of {}", inner.me));
    }
    let cert = tls.conn.peer_certificates().and_then(|c| c.first()).ok_or("no client certificate")?.clone();
    let ee = webpki::EndEntityCert::try_from(&cert).map_err(|e| format!("unreadable client certificate: {e:?}"))?;
    let name = ServerName::try_from(party_name(from)).map_err(|e| e.to_string())?;
    ee.verify_is_valid_for_subject_name(&name).map_err(|_| {
        format!("a client claiming to be {from} presented a certificate that does not name {}", party_name(from))
    })?;
    tls.sock.set_read_timeout(None).map_err(|e| e.to_string())?;
    {
        let inc = u64::from_le_bytes(hello[9..17].try_into().expect("8 bytes"));
        let mut ib = inner.inbox.lock().unwrap();
        ib.open[from.index()] += 1;
        if ib.incarnation[from.index()].is_some_and(|old| old != inc) {
            ib.restarts[from.index()] += 1;
            inner.cv.notify_all();
        }
        ib.incarnation[from.index()] = Some(inc);
    }
    let res = read_frames(inner, &mut tls, from);
    let mut ib = inner.inbox.lock().unwrap();
    ib.open[from.index()] -= 1;
    ib.closed[from.index()] += 1;
    ib.why[from.index()] = Some(match &res {
        Ok(()) => "it closed the connection".into(),
        Err(e) => format!("the connection failed: {e}"),
    });
    inner.cv.notify_all();
    res
}

/// A message being received: its element type and length were announced by its first frame, so
/// the frames' bytes are read straight into the final vector (no intermediate copy).
enum Partial {
    U64(Vec<u64>, usize),
    U128(Vec<u128>, usize),
}

impl Partial {
    /// The buffer grown to hold `want` more bytes (allocation follows the bytes that arrive, not
    /// the size a header announced); `None` when that is more than announced.
    fn room(&mut self, want: usize, total: usize) -> Option<&mut [u8]> {
        let (buf, filled) = match self {
            Partial::U64(v, f) => {
                if *f + want > total {
                    return None;
                }
                v.resize((*f + want).div_ceil(8), 0);
                (bytemuck::cast_slice_mut::<u64, u8>(v), f)
            }
            Partial::U128(v, f) => {
                if *f + want > total {
                    return None;
                }
                v.resize((*f + want).div_ceil(16), 0);
                (bytemuck::cast_slice_mut::<u128, u8>(v), f)
            }
        };
        let at = *filled;
        *filled += want;
        Some(&mut buf[at..at + want])
    }

    fn finish(self, total: usize) -> Option<Payload> {
        match self {
            Partial::U64(v, f) if f == total && v.len() * 8 == total => Some(Payload::U64(v)),
            Partial::U128(v, f) if f == total && v.len() * 16 == total => Some(Payload::U128(v)),
            _ => None,
        }
    }
}

/// What a link's byte stream decodes to, frame by frame.
#[derive(Debug, PartialEq)]
pub enum Frame {
    /// A whole message of a job (`control`: a control request, see [`Mesh::call`]).
    Message { job: u64, payload: Payload, control: bool },
    /// The sender abandoned the job, for this reason.
    Abort { job: u64, why: String },
    /// Part of a message arrived; nothing to deliver yet.
    Partial,
}

/// Decodes the frames of one link. Holds at most [`MAX_PARTIAL`] unfinished messages, each with
/// at most 64 MiB reserved before its bytes arrive (then it grows only with bytes received), and
/// reads at most one frame of [`MAX_FRAME`] bytes at a time: what a peer can make a party
/// allocate is bounded by what it actually sends.
#[derive(Default)]
pub struct FrameDecoder {
    // per job: the message being received, its announced size, and whether it is a control request
    partial: HashMap<u64, (Partial, usize, bool)>,
}

impl std::fmt::Debug for FrameDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FrameDecoder({} unfinished)", self.partial.len())
    }
}

/// Most unfinished messages one link may have at once (a sender writes each message whole, so
/// one is normal).
pub const MAX_PARTIAL: usize = 4;

impl FrameDecoder {
    /// Reads the next frame from `r`; `Ok(None)` at a clean end of the stream.
    pub fn next<R: Read>(&mut self, r: &mut R, from: PartyId) -> Result<Option<Frame>, String> {
        let mut head = [0u8; 13];
        match r.read_exact(&mut head) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e.to_string()),
        }
        let job = u64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
        let (last, first) = (head[8] & LAST != 0, head[8] & FIRST != 0);
        let len = u32::from_le_bytes(head[9..13].try_into().expect("4 bytes")) as usize;
        if len > MAX_FRAME {
            return Err(format!("{from} sent a frame of {len} bytes (limit {MAX_FRAME})"));
        }
        if head[8] & ABORT != 0 {
            let mut why = vec![0u8; len];
            r.read_exact(&mut why).map_err(|e| e.to_string())?;
            self.partial.remove(&job);
            return Ok(Some(Frame::Abort { job, why: String::from_utf8_lossy(&why).into_owned() }));
        }
        if first {
            let mut meta = [0u8; 9];
            if len != meta.len() {
                return Err(format!("{from} sent a malformed message header"));
            }
            r.read_exact(&mut meta).map_err(|e| e.to_string())?;
            let total = u64::from_le_bytes(meta[1..].try_into().expect("8 bytes"));
            if total > MAX_MESSAGE {
                return Err(format!("{from} announced a message of {total} bytes (limit {MAX_MESSAGE})"));
            }
            if self.partial.len() >= MAX_PARTIAL && !self.partial.contains_key(&job) {
                return Err(format!("{from} began more than {MAX_PARTIAL} messages without finishing them"));
            }
            let p = match meta[0] {
                // reserve up to 64 MiB at once; beyond that the buffer grows as bytes arrive
                0 if total % 8 == 0 => Partial::U64(Vec::with_capacity(total.min(RESERVE) as usize / 8), 0),
                1 if total % 16 == 0 => Partial::U128(Vec::with_capacity(total.min(RESERVE) as usize / 16), 0),
                _ => return Err(format!("{from} sent a message of an unknown type or size")),
            };
            self.partial.insert(job, (p, total as usize, head[8] & CONTROL != 0));
        } else {
            let (p, total, _) =
                self.partial.get_mut(&job).ok_or_else(|| format!("{from} sent data for job {job} without a header"))?;
            let buf = p.room(len, *total).ok_or_else(|| format!("{from} sent more data than it announced"))?;
            r.read_exact(buf).map_err(|e| e.to_string())?;
        }
        if !last {
            return Ok(Some(Frame::Partial));
        }
        let Some((p, total, control)) = self.partial.remove(&job) else {
            return Err(format!("{from} ended a message it never began"));
        };
        let Some(payload) = p.finish(total) else {
            return Err(format!("{from} ended a message before sending all of it"));
        };
        Ok(Some(Frame::Message { job, payload, control }))
    }
}

fn read_frames(
    inner: &Arc<Inner>,
    tls: &mut StreamOwned<ServerConnection, TcpStream>,
    from: PartyId,
) -> Result<(), String> {
    let mut dec = FrameDecoder::default();
    while let Some(frame) = dec.next(tls, from)? {
        inner.inbox.lock().unwrap().last_seen[from.index()] = Some(Instant::now());
        match frame {
            Frame::Partial => {}
            Frame::Abort { job, why } => {
                let mut ib = inner.inbox.lock().unwrap();
                ib.aborted.insert((from, job), (Instant::now(), why));
                inner.cv.notify_all();
            }
            Frame::Message { job, payload, control: true } => {
                let handler = inner.control.lock().unwrap().clone();
                if let Some(h) = handler {
                    let inner = inner.clone();
                    let _ = std::thread::Builder::new().name("mesh-control".into()).spawn(move || {
                        let answer = h(from, payload);
                        let _ = inner.send(from, job, &answer);
                    });
                }
            }
            Frame::Message { job, payload, control: false } => {
                if job != HEARTBEAT_JOB {
                    let mut ib = inner.inbox.lock().unwrap();
                    ib.queues
                        .entry((from, job))
                        .or_insert_with(|| (Instant::now(), VecDeque::new()))
                        .1
                        .push_back(payload);
                    inner.cv.notify_all();
                }
            }
        }
    }
    Ok(())
}

/// Encodes one message as the frames [`FrameDecoder`] reads (what a sender writes to a link).
pub fn encode_frames(job: u64, msg: &Payload, control: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = write_message_to(&mut out, job, msg, if control { CONTROL } else { 0 });
    out
}

impl Inner {
    fn dial(&self, to: PartyId) -> Result<Out, String> {
        let addr = self.peers.get(&to).ok_or_else(|| format!("{to} is not configured"))?;
        let deadline = Instant::now() + self.timeout;
        let mut last_err = String::new();
        let mut wait = Duration::from_millis(20);
        while Instant::now() < deadline {
            match self.try_dial(to, addr) {
                Ok(s) => return Ok(s),
                Err(e) => last_err = e,
            }
            std::thread::sleep(wait);
            wait = (wait * 2).min(Duration::from_millis(500));
        }
        Err(format!("cannot connect to {addr} within {:?}: {last_err}", self.timeout))
    }

    fn try_dial(&self, to: PartyId, addr: &str) -> Result<Out, String> {
        let sa: Vec<SocketAddr> = addr.to_socket_addrs().map_err(|e| e.to_string())?.collect();
        let sa = sa.first().ok_or("address resolves to nothing")?;
        let tcp = TcpStream::connect_timeout(sa, Duration::from_secs(5)).map_err(|e| e.to_string())?;
        let _ = tcp.set_nodelay(true);
        tcp.set_write_timeout(Some(self.timeout)).map_err(|e| e.to_string())?;
        let name = ServerName::try_from(party_name(to)).map_err(|e| e.to_string())?;
        let conn = ClientConnection::new(self.client_cfg.clone(), name).map_err(|e| e.to_string())?;
        let mut tls = StreamOwned::new(conn, tcp);
        while tls.conn.is_handshaking() {
            tls.conn.complete_io(&mut tls.sock).map_err(|e| format!("TLS handshake failed: {e}"))?;
        }
        let mut hello = HELLO.to_vec();
        hello.push(self.me.index() as u8);
        hello.extend_from_slice(&self.incarnation.to_le_bytes());
        tls.write_all(&hello).map_err(|e| e.to_string())?;
        Ok(tls)
    }

    fn send(&self, to: PartyId, job: u64, msg: &Payload) -> Result<(), String> {
        self.send_flagged(to, job, msg, 0)
    }

    fn send_flagged(&self, to: PartyId, job: u64, msg: &Payload, flags: u8) -> Result<(), String> {
        let mut slot = self.out[to.index()].lock().unwrap();
        // one retry on a fresh connection: the receiver drops partial messages of a lost link
        for attempt in 0..2 {
            if slot.is_none() {
                *slot = Some(self.dial(to)?);
            }
            let s = slot.as_mut().unwrap();
            match write_message(s, job, msg, flags) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    *slot = None;
                    if attempt == 1 {
                        return Err(e);
                    }
                }
            }
        }
        unreachable!()
    }
}

/// A header frame (element type, total bytes), then the elements' bytes straight from the vector.
fn write_message(s: &mut Out, job: u64, msg: &Payload, flags: u8) -> Result<(), String> {
    write_message_to(s, job, msg, flags)
}

fn write_message_to<W: Write>(s: &mut W, job: u64, msg: &Payload, flags: u8) -> Result<(), String> {
    let (tag, bytes): (u8, &[u8]) = match msg {
        Payload::U64(v) => (0, bytemuck::cast_slice(v)),
        Payload::U128(v) => (1, bytemuck::cast_slice(v)),
    };
    let mut meta = [0u8; 9];
    meta[0] = tag;
    meta[1..].copy_from_slice(&(bytes.len() as u64).to_le_bytes());
    write_frame(s, job, flags | FIRST | if bytes.is_empty() { LAST } else { 0 }, &meta)?;
    let mut chunks = bytes.chunks(CHUNK).peekable();
    while let Some(c) = chunks.next() {
        write_frame(s, job, if chunks.peek().is_none() { LAST } else { 0 }, c)?;
    }
    s.flush().map_err(|e| e.to_string())
}

fn write_frame<W: Write>(s: &mut W, job: u64, flags: u8, c: &[u8]) -> Result<(), String> {
    let mut head = [0u8; 13];
    head[..8].copy_from_slice(&job.to_le_bytes());
    head[8] = flags;
    head[9..13].copy_from_slice(&(c.len() as u32).to_le_bytes());
    s.write_all(&head).map_err(|e| e.to_string())?;
    s.write_all(c).map_err(|e| e.to_string())
}

/// The transport of one job over the mesh.
pub struct MeshTransport {
    inner: Arc<Inner>,
    job: u64,
    closed_at_start: [u64; 3],
    restarts_at_start: [u64; 3],
}

impl std::fmt::Debug for MeshTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MeshTransport({}, job {})", self.inner.me, self.job)
    }
}

impl Drop for MeshTransport {
    fn drop(&mut self) {
        let mut ib = self.inner.inbox.lock().unwrap();
        if let Some(n) = ib.active.get_mut(&self.job) {
            *n -= 1;
            if *n == 0 {
                ib.active.remove(&self.job);
            }
        }
    }
}

impl Transport for MeshTransport {
    fn send(&mut self, to: PartyId, msg: Payload) -> mitsu_mpc_core::Result<()> {
        // a peer whose link dropped during this job has lost the job's state: fail now rather
        // than reconnect and wait for an answer that cannot come
        {
            let ib = self.inner.inbox.lock().unwrap();
            if ib.closed[to.index()] > self.closed_at_start[to.index()]
                || ib.restarts[to.index()] > self.restarts_at_start[to.index()]
            {
                let why = ib.why[to.index()].clone().unwrap_or_else(|| "its link went down".into());
                return Err(MpcError::PeerUnreachable { party: to, what: format!("during this job: {why}") });
            }
        }
        self.inner.send(to, self.job, &msg).map_err(|what| MpcError::PeerUnreachable { party: to, what })
    }

    fn recv(&mut self, from: PartyId) -> mitsu_mpc_core::Result<Payload> {
        self.recv_within(from, self.inner.timeout)
    }
}

impl MeshTransport {
    fn recv_within(&mut self, from: PartyId, wait: Duration) -> mitsu_mpc_core::Result<Payload> {
        let deadline = Instant::now() + wait;
        let mut ib = self.inner.inbox.lock().unwrap();
        let closed_at_start = self.closed_at_start[from.index()];
        loop {
            if let Some(m) = ib.queues.get_mut(&(from, self.job)).and_then(|q| q.1.pop_front()) {
                return Ok(m);
            }
            if let Some((_, why)) = ib.aborted.get(&(from, self.job)) {
                return Err(MpcError::PeerUnreachable { party: from, what: format!("it abandoned the job: {why}") });
            }
            // the peer restarted during this job (its new link may already be up): it lost the job
            if ib.restarts[from.index()] > self.restarts_at_start[from.index()] {
                return Err(MpcError::PeerUnreachable { party: from, what: "it restarted during this job".into() });
            }
            // the peer's link went down during this job: it will not answer
            if ib.closed[from.index()] > closed_at_start && ib.open[from.index()] == 0 {
                let why = ib.why[from.index()].clone().unwrap_or_default();
                return Err(MpcError::PeerUnreachable { party: from, what: why });
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(MpcError::PeerUnreachable { party: from, what: format!("no message within {wait:?}") });
            }
            ib = self.inner.cv.wait_timeout(ib, deadline - now).unwrap().0;
        }
    }
}
