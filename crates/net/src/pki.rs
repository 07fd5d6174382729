//! Certificates for a deployment: a CA and per-party certificates whose DNS name is
//! `party-<i>.mitsu`. Real organizations bring their own certificates: configurations take paths,
//! and any CA works as long as each party's certificate carries its party name.

use crate::mesh::NetError;
use mitsu_mpc_core::PartyId;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;

/// The DNS name a party's certificate must carry.
pub fn party_name(p: PartyId) -> String {
    format!("party-{}.mitsu", p.index())
}

/// A party's TLS identity: the deployment CA, its certificate chain and private key.
#[derive(Debug)]
pub struct Identity {
    pub me: PartyId,
    pub ca: CertificateDer<'static>,
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Identity { me: self.me, ca: self.ca.clone(), chain: self.chain.clone(), key: self.key.clone_key() }
    }
}

impl Identity {
    /// Loads PEM files.
    pub fn load(me: PartyId, ca: &Path, cert: &Path, key: &Path) -> Result<Identity, NetError> {
        let bad = |p: &Path, e: &dyn std::fmt::Display| NetError::Config(format!("{}: {e}", p.display()));
        let ca_der = CertificateDer::from_pem_file(ca).map_err(|e| bad(ca, &e))?;
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .map_err(|e| bad(cert, &e))?
            .collect::<Result<_, _>>()
            .map_err(|e| bad(cert, &e))?;
        if chain.is_empty() {
            return Err(NetError::Config(format!("{}: no certificate in the file", cert.display())));
        }
        let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(key, &e))?;
        Ok(Identity { me, ca: ca_der, chain, key: key_der })
    }
}

/// A freshly generated deployment: CA and per-party identities, with their PEM texts.
#[derive(Debug)]
pub struct Deployment {
    pub ca_pem: String,
    pub ca_key_pem: String,
    /// (certificate PEM, key PEM) per party.
    pub parties: Vec<(String, String)>,
    pub identities: Vec<Identity>,
}

fn this_year() -> i32 {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    1970 + (secs / 31_556_952) as i32
}

fn rc(e: rcgen::Error) -> NetError {
    NetError::Config(format!("certificate generation failed: {e}"))
}

/// Generates a CA and `n` party certificates (valid from last year for five years), each naming
/// its party and valid for `hosts` (IP addresses or DNS names) too.
pub fn generate(n: usize, hosts: &[String]) -> Result<Deployment, NetError> {
    let year = this_year();
    let ca_key = KeyPair::generate().map_err(rc)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(rc)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "mitsu deployment CA");
    ca_params.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    ca_params.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    ca_params.not_after = rcgen::date_time_ymd(year + 5, 1, 1);
    let ca_cert = ca_params.self_signed(&ca_key).map_err(rc)?;
    let issuer = Issuer::new(ca_params, &ca_key);
    let mut parties = Vec::new();
    let mut identities = Vec::new();
    for i in 0..n {
        let me = PartyId::new(i).ok_or_else(|| NetError::Config(format!("party {i} out of range")))?;
        let key = KeyPair::generate().map_err(rc)?;
        let mut p = CertificateParams::new(vec![party_name(me)]).map_err(rc)?;
        for h in hosts {
            match h.parse::<std::net::IpAddr>() {
                Ok(ip) => p.subject_alt_names.push(SanType::IpAddress(ip)),
                Err(_) => p.subject_alt_names.push(SanType::DnsName(h.as_str().try_into().map_err(rc)?)),
            }
        }
        p.distinguished_name.push(DnType::CommonName, format!("mitsu party {i}"));
        p.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
        p.not_after = rcgen::date_time_ymd(year + 5, 1, 1);
        let cert = p.signed_by(&key, &issuer).map_err(rc)?;
        identities.push(Identity {
            me,
            ca: ca_cert.der().clone(),
            chain: vec![cert.der().clone()],
            key: PrivateKeyDer::try_from(key.serialize_der()).map_err(|e| NetError::Config(e.to_string()))?,
        });
        parties.push((cert.pem(), key.serialize_pem()));
    }
    Ok(Deployment { ca_pem: ca_cert.pem(), ca_key_pem: ca_key.serialize_pem(), parties, identities })
}
