//! Three meshes over real TLS on loopback, in one test process.

use mitsu_algebra::FixedPoint;
use mitsu_mpc_core::{Channel, MpcError, PartyId, Payload, Transport};
use mitsu_mpc_ops::{Num, sort_by_key};
use mitsu_mpc_rep3::Rep3;
use mitsu_net::pki::{self, Identity};
use mitsu_net::{Mesh, MeshConfig};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

struct Net {
    meshes: Vec<Mesh>,
}

impl Drop for Net {
    fn drop(&mut self) {
        for m in &self.meshes {
            m.shutdown();
        }
    }
}

fn listeners() -> (Vec<TcpListener>, Vec<String>) {
    let ls: Vec<TcpListener> = (0..3).map(|_| TcpListener::bind("127.0.0.1:0").unwrap()).collect();
    let addrs = ls.iter().map(|l| l.local_addr().unwrap().to_string()).collect();
    (ls, addrs)
}

fn peers_of(me: usize, addrs: &[String]) -> Vec<(PartyId, String)> {
    (0..3).filter(|&j| j != me).map(|j| (PartyId::new(j).unwrap(), addrs[j].clone())).collect()
}

fn start(ids: Vec<Identity>, timeout: Duration) -> (Net, Vec<String>) {
    let (ls, addrs) = listeners();
    let meshes = ids
        .into_iter()
        .zip(ls)
        .enumerate()
        .map(|(i, (id, l))| Mesh::start(MeshConfig { identity: id, peers: peers_of(i, &addrs), timeout }, l).unwrap())
        .collect();
    (Net { meshes }, addrs)
}

fn localhost() -> Vec<String> {
    vec!["127.0.0.1".into()]
}

/// Runs `f` on the three parties over the meshes, one thread each.
fn on_mesh<T: Send>(
    net: &Net,
    job: u64,
    f: impl Fn(&mut Rep3) -> mitsu_mpc_core::Result<T> + Sync,
) -> Vec<mitsu_mpc_core::Result<T>> {
    std::thread::scope(|s| {
        let hs: Vec<_> = net
            .meshes
            .iter()
            .map(|m| {
                let f = &f;
                s.spawn(move || {
                    let ch = Channel::new(m.me(), Box::new(m.transport(job)));
                    let mut p = Rep3::setup(ch)?;
                    f(&mut p)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

#[test]
fn parties_compute_over_mutual_tls() {
    let dep = pki::generate(3, &localhost()).unwrap();
    let (net, _) = start(dep.identities, Duration::from_secs(20));
    // a multiplication large enough to need many 1 MiB frames, and a sort, in two concurrent jobs
    let n = 300_000;
    let x: Vec<u64> = (0..n as u64).map(|i| i * 7 + 3).collect();
    let y: Vec<u64> = (0..n as u64).map(|i| i ^ 0x55).collect();
    let keys: Vec<u64> = (0..500u64).map(|i| (i * 7919) % 503).collect();
    let (mul, sort) = std::thread::scope(|s| {
        let a = s.spawn(|| {
            on_mesh(&net, 1, |p| {
                let a = p.input(PartyId::P0, Some(&x), n)?;
                let b = p.input(PartyId::P1, Some(&y), n)?;
                let c = p.mul(&a, &b)?;
                p.open(&c, mitsu_mpc_core::Reveal::Check)
            })
        });
        let b = s.spawn(|| {
            on_mesh(&net, 2, |p| {
                let k = p.input(PartyId::P2, Some(&keys), keys.len())?;
                let key = Num::<Rep3, u64>::from_share(k, FixedPoint::int(10), "k")?;
                let (sk, _) = sort_by_key(p, &key, &[])?;
                p.open(&sk.share, mitsu_mpc_core::Reveal::Check)
            })
        });
        (a.join().unwrap(), b.join().unwrap())
    });
    for r in mul {
        let v = r.unwrap();
        assert!(v.iter().enumerate().all(|(i, v)| *v == x[i].wrapping_mul(y[i])));
    }
    let mut want = keys.clone();
    want.sort();
    for r in sort {
        assert_eq!(r.unwrap(), want);
    }
}

#[test]
fn a_certificate_from_another_deployment_is_refused() {
    let dep = pki::generate(3, &localhost()).unwrap();
    let other = pki::generate(3, &localhost()).unwrap();
    let (net, addrs) = start(dep.identities, Duration::from_secs(5));
    // a party of another deployment dials each real party: its certificate chains to the wrong CA
    // (and it does not trust theirs either), so every handshake fails
    for target in 0..3usize {
        let claim = (target + 1) % 3;
        let mut stranger = other.identities[claim].clone();
        stranger.me = PartyId::new(claim).unwrap();
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let m = Mesh::start(
            MeshConfig { identity: stranger, peers: peers_of(claim, &addrs), timeout: Duration::from_secs(2) },
            l,
        )
        .unwrap();
        let err = m.transport(9).send(PartyId::new(target).unwrap(), Payload::U64(vec![1, 2, 3])).unwrap_err();
        m.shutdown();
        assert!(matches!(err, MpcError::PeerUnreachable { party, .. } if party.index() == target), "{err}");
        assert!(err.to_string().contains("TLS handshake failed"), "{err}");
    }
    // and party 0 still serves its real peers
    let r = on_mesh(&net, 3, |p| {
        let a = p.input(PartyId::P0, Some(&[5u64]), 1)?;
        p.open(&a, mitsu_mpc_core::Reveal::Check)
    });
    assert!(r.into_iter().all(|v| v.unwrap() == vec![5]));
}

#[test]
fn a_party_claiming_another_partys_identity_is_refused() {
    let dep = pki::generate(3, &localhost()).unwrap();
    let mut liar = dep.identities[2].clone();
    let (net, addrs) = start(dep.identities, Duration::from_secs(2));
    // a process holding party 2's genuine certificate claims to be party 1
    liar.me = PartyId::P1;
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let m = Mesh::start(MeshConfig { identity: liar, peers: peers_of(1, &addrs), timeout: Duration::from_secs(2) }, l)
        .unwrap();
    let _ = m.transport(77).send(PartyId::P0, Payload::U64(vec![42]));
    // party 0 drops the link after the hello: the message is never delivered
    let err = net.meshes[0].transport(77).recv(PartyId::P1).unwrap_err();
    m.shutdown();
    assert!(err.to_string().contains("no message within"), "{err}");
}

#[test]
fn random_bytes_do_not_disturb_a_party() {
    let dep = pki::generate(3, &localhost()).unwrap();
    let (net, addrs) = start(dep.identities, Duration::from_secs(5));
    for k in 0..5u8 {
        let mut s = TcpStream::connect(&addrs[0]).unwrap();
        let junk: Vec<u8> = (0..4096u32).map(|i| (i as u8).wrapping_mul(31).wrapping_add(k)).collect();
        let _ = s.write_all(&junk);
    }
    let r = on_mesh(&net, 4, |p| {
        let a = p.input(PartyId::P1, Some(&[1u64, 2, 3]), 3)?;
        let b = p.mul(&a, &a)?;
        p.open(&b, mitsu_mpc_core::Reveal::Check)
    });
    assert!(r.into_iter().all(|v| v.unwrap() == vec![1, 4, 9]));
}

#[test]
fn a_party_that_stops_is_named() {
    let dep = pki::generate(3, &localhost()).unwrap();
    let (net, _) = start(dep.identities, Duration::from_secs(3));
    // establish links, then party 2 goes away
    let r = on_mesh(&net, 5, |p| {
        let a = p.input(PartyId::P0, Some(&[3u64]), 1)?;
        p.open(&a, mitsu_mpc_core::Reveal::Check)
    });
    assert!(r.into_iter().all(|v| v.is_ok()));
    net.meshes[2].shutdown();
    let mut t = net.meshes[0].transport(6);
    let err = t.recv(PartyId::P2).unwrap_err();
    assert!(matches!(err, MpcError::PeerUnreachable { party, .. } if party == PartyId::P2), "{err}");
}

#[test]
fn a_party_that_abandons_a_job_releases_its_peers_at_once() {
    let dep = pki::generate(3, &localhost()).unwrap();
    let (net, _) = start(dep.identities, Duration::from_secs(30));
    // links exist once something was sent
    let r = on_mesh(&net, 10, |p| {
        let a = p.input(PartyId::P0, Some(&[1u64]), 1)?;
        p.open(&a, mitsu_mpc_core::Reveal::Check)
    });
    assert!(r.into_iter().all(|v| v.is_ok()));
    net.meshes[0].abort_job(11, "its input was malformed");
    let t = std::time::Instant::now();
    let err = net.meshes[1].transport(11).recv(PartyId::P0).unwrap_err().to_string();
    assert!(t.elapsed() < Duration::from_secs(5), "waited {:?}", t.elapsed());
    assert!(err.contains("party 0") && err.contains("abandoned the job: its input was malformed"), "{err}");
}

// A client that sends its job to two parties only makes them exchange messages the third never
// reads: those queues are dropped once no transport runs their job and they are old enough.
#[test]
fn messages_of_jobs_a_party_never_joins_are_dropped() {
    let dep = pki::generate(3, &localhost()).unwrap();
    let (net, _) = start(dep.identities, Duration::from_secs(30));
    let mut t0 = net.meshes[0].transport(77);
    t0.send(PartyId::P1, Payload::U64(vec![1; 1000])).unwrap();
    t0.send(PartyId::P1, Payload::U64(vec![2; 1000])).unwrap();
    // a job that party 1 runs keeps its messages, however old
    let mut t1 = net.meshes[1].transport(78);
    t0 = net.meshes[0].transport(78);
    t0.send(PartyId::P1, Payload::U64(vec![3])).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(net.meshes[1].reap(Duration::from_secs(60)), 0, "young queues stay");
    assert_eq!(net.meshes[1].reap(Duration::from_millis(100)), 1, "job 77's queue goes, job 78's stays");
    assert_eq!(t1.recv(PartyId::P0).unwrap(), Payload::U64(vec![3]));
}

// A control request is answered by the peer's handler under the same job id; a peer whose link
// is down is not waited for.
#[test]
fn control_calls_are_answered_by_the_peers_handler() {
    let dep = pki::generate(3, &localhost()).unwrap();
    let (net, _) = start(dep.identities, Duration::from_secs(30));
    net.meshes[1].set_control_handler(std::sync::Arc::new(|from, msg| match msg {
        Payload::U64(v) => Payload::U64(v.iter().map(|x| x + from.index() as u64).collect()),
        other => other,
    }));
    for m in &net.meshes {
        let _ = m.heartbeat();
    }
    std::thread::sleep(Duration::from_millis(300));
    let got = net.meshes[0].call(PartyId::P1, 991, &Payload::U64(vec![10, 20]), Duration::from_secs(5)).unwrap();
    assert_eq!(got, Payload::U64(vec![10, 20]));
    let got = net.meshes[2].call(PartyId::P1, 992, &Payload::U64(vec![10]), Duration::from_secs(5)).unwrap();
    assert_eq!(got, Payload::U64(vec![12]));
    // party 2 has no handler: the call times out instead of hanging
    let t = std::time::Instant::now();
    assert!(net.meshes[0].call(PartyId::P2, 993, &Payload::U64(vec![1]), Duration::from_millis(500)).is_err());
    assert!(t.elapsed() < Duration::from_secs(3));
}

// Regression: a peer that restarted and reconnected before a waiting job noticed its old link
// close left the job waiting for the whole timeout (30 s): the new link was open, so the job
// did not see that the peer had lost it. The hello's incarnation tells the two apart.
#[test]
fn a_peer_that_restarted_ends_the_jobs_it_was_in_at_once() {
    let dep = pki::generate(3, &localhost()).unwrap();
    let p1 = dep.identities[1].clone();
    let (mut net, addrs) = start(dep.identities, Duration::from_secs(30));
    net.meshes[1].transport(9).send(PartyId::P0, Payload::U64(vec![1])).unwrap();
    assert_eq!(net.meshes[0].transport(9).recv(PartyId::P1).unwrap(), Payload::U64(vec![1]));
    let mut job = net.meshes[0].transport(5);
    // party 1 restarts and talks to party 0 again before the job asks it anything
    net.meshes[1].shutdown();
    // the same address (the accept loop lets go of it within moments)
    let l = (0..50)
        .find_map(|_| {
            TcpListener::bind(&addrs[1]).ok().or_else(|| {
                std::thread::sleep(Duration::from_millis(100));
                None
            })
        })
        .expect("party 1's address is free again");
    let again =
        Mesh::start(MeshConfig { identity: p1, peers: peers_of(1, &addrs), timeout: Duration::from_secs(30) }, l)
            .unwrap();
    // a job party 0 starts while it has not yet seen the new link's hello ends as "restarted" too
    // (it began with the old process); one started once the hello arrived gets through
    let through = (10..60).any(|j| {
        again.transport(j).send(PartyId::P0, Payload::U64(vec![2])).unwrap();
        match net.meshes[0].transport(j).recv(PartyId::P1) {
            Ok(m) => m == Payload::U64(vec![2]),
            Err(e) if e.to_string().contains("restarted") => {
                std::thread::sleep(Duration::from_millis(50));
                false
            }
            Err(e) => panic!("{e}"),
        }
    });
    assert!(through, "no job got through after the restart");
    net.meshes[1] = again;
    let t = std::time::Instant::now();
    let err = job.recv(PartyId::P1).unwrap_err();
    assert!(err.to_string().contains("restarted"), "{err}");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    // a job begun after the restart works
    let r = on_mesh(&net, 61, |p| {
        let a = p.input(PartyId::P2, Some(&[3u64]), 1)?;
        p.open(&a, mitsu_mpc_core::Reveal::Check)
    });
    assert!(r.into_iter().all(|v| v.unwrap() == vec![3]));
}
