//! The certificate authority: loads a plug-in root (Istio's `cacerts`
//! layout) or keeps a self-signed one, and signs workload CSRs.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, PublicKeyData,
    SanType, SerialNumber,
};
use rustls_pki_types::{CertificateDer, CertificateSigningRequestDer};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::pem::{self, PemError};
use crate::{SpiffeId, TrustBundle};

/// How long a self-signed root lives (Istio: 10 years).
const ROOT_LIFETIME: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// Clock skew between the CA and workloads that a new certificate absorbs.
const BACKDATE: Duration = Duration::from_secs(60);
/// The longest workload certificate the CA signs, whatever is asked.
pub const MAX_WORKLOAD_TTL: Duration = Duration::from_secs(90 * 24 * 3600);

/// Where the CA's signing key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaSource {
    /// A `cacerts` directory the operator provides.
    PlugIn(PathBuf),
    /// A self-signed root the control plane created and keeps here.
    SelfSigned(PathBuf),
}

/// The CA of one trust domain.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    /// Sent after each leaf: the signing certificate, then the rest of
    /// `cert-chain.pem` (empty for a self-signed root, which workloads
    /// already hold in their bundle).
    chain: Vec<CertificateDer<'static>>,
    bundle: TrustBundle,
    trust_domain: String,
    not_before: SystemTime,
    not_after: SystemTime,
    source: CaSource,
}

/// A signed workload certificate.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The leaf first, then the intermediates up to (maybe) the root.
    pub chain: Vec<CertificateDer<'static>>,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
}

/// Why the CA cannot start.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error(transparent)]
    Pem(#[from] PemError),
    #[error(
        "{dir}: missing {file}; a plug-in CA directory holds ca-cert.pem, ca-key.pem, root-cert.pem and cert-chain.pem (Istio's cacerts layout)"
    )]
    Missing { dir: PathBuf, file: &'static str },
    #[error("{path}: {what}")]
    Invalid { path: PathBuf, what: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create the self-signed root: {0}")]
    Generate(String),
}

/// Why a CSR was refused. The text goes back to the proxy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("the CSR cannot be parsed or its signature does not verify: {0}")]
    BadCsr(String),
    #[error("the CSR asks for `{asked}`, but the caller proved only `{granted}`")]
    WrongIdentity { asked: String, granted: String },
    #[error("`{id}` is not in this CA's trust domain `{trust_domain}`")]
    TrustDomain { id: String, trust_domain: String },
    #[error("signing failed: {0}")]
    Signing(String),
}

// === impl Ca ===

impl Ca {
    /// The plug-in root in `plugin_dir` when one is given, else the
    /// self-signed root kept in `self_signed_dir`, created on first use.
    pub fn load(
        plugin_dir: Option<&Path>,
        self_signed_dir: &Path,
        trust_domain: &str,
    ) -> Result<Self, CaError> {
        match plugin_dir {
            Some(dir) => Self::plug_in(dir, trust_domain),
            None => Self::self_signed(self_signed_dir, trust_domain),
        }
    }

    /// Loads Istio's `cacerts` layout and checks it hangs together: the key
    /// matches the signing certificate, which is a CA, is in date, and
    /// chains to a root in `root-cert.pem` through `cert-chain.pem`.
    pub fn plug_in(dir: &Path, trust_domain: &str) -> Result<Self, CaError> {
        let file = |name: &'static str| -> Result<PathBuf, CaError> {
            let p = dir.join(name);
            if p.exists() {
                Ok(p)
            } else {
                Err(CaError::Missing {
                    dir: dir.to_path_buf(),
                    file: name,
                })
            }
        };
        let (cert_path, key_path) = (file("ca-cert.pem")?, file("ca-key.pem")?);
        let (root_path, chain_path) = (file("root-cert.pem")?, file("cert-chain.pem")?);
        let ca_cert = first(pem::certs(&cert_path)?);
        let key = signing_key(&key_path)?;
        let roots = pem::certs(&root_path)?;
        let chain = pem::certs(&chain_path)?;
        let bundle = TrustBundle::from_certs(roots.clone()).map_err(|what| CaError::Invalid {
            path: root_path.clone(),
            what,
        })?;

        let invalid = |what: String| CaError::Invalid {
            path: cert_path.clone(),
            what,
        };
        let (_, x509) = X509Certificate::from_der(&ca_cert)
            .map_err(|e| invalid(format!("cannot parse: {e}")))?;
        if x509.tbs_certificate.subject_pki.raw != key.subject_public_key_info().as_slice() {
            return Err(invalid(
                "does not match the key in ca-key.pem; plug in the key this certificate was issued for".into(),
            ));
        }
        if !x509.is_ca() {
            return Err(invalid(
                "is not a CA certificate (basicConstraints CA:TRUE); it cannot sign workload certificates".into(),
            ));
        }
        let (not_before, not_after) = validity(&x509);
        if not_after <= SystemTime::now() {
            return Err(invalid(
                "has expired; plug in a renewed intermediate".into(),
            ));
        }
        chains_to_root(&x509, &chain, &roots).map_err(invalid)?;

        let issuer = Issuer::from_ca_cert_der(&ca_cert, key)
            .map_err(|e| invalid(format!("cannot be used to sign: {e}")))?;
        // Istio sends cert-chain.pem after each leaf; it starts with the
        // signing certificate itself.
        let mut sent = chain;
        if sent.first() != Some(&ca_cert) {
            sent.insert(0, ca_cert);
        }
        Ok(Self {
            issuer,
            chain: sent,
            bundle,
            trust_domain: trust_domain.to_string(),
            not_before,
            not_after,
            source: CaSource::PlugIn(dir.to_path_buf()),
        })
    }

    /// The root kept in `dir` (`root-cert.pem`, and `root-key.pem` with
    /// mode 0600), created on first use.
    pub fn self_signed(dir: &Path, trust_domain: &str) -> Result<Self, CaError> {
        let dir = dir.to_path_buf();
        let cert_path = dir.join("root-cert.pem");
        let key_path = dir.join("root-key.pem");
        match (cert_path.exists(), key_path.exists()) {
            (true, true) => {}
            (false, false) => create_root(&dir, &cert_path, &key_path, trust_domain)?,
            // Never replace half a root: every workload trusts the old one.
            (has_cert, _) => {
                return Err(CaError::Missing {
                    dir: dir.clone(),
                    file: if has_cert {
                        "root-key.pem"
                    } else {
                        "root-cert.pem"
                    },
                });
            }
        }
        tighten_permissions(&key_path)?;
        let cert = first(pem::certs(&cert_path)?);
        let key = signing_key(&key_path)?;
        let invalid = |what: String| CaError::Invalid {
            path: cert_path.clone(),
            what,
        };
        let (_, x509) =
            X509Certificate::from_der(&cert).map_err(|e| invalid(format!("cannot parse: {e}")))?;
        if x509.tbs_certificate.subject_pki.raw != key.subject_public_key_info().as_slice() {
            return Err(invalid("does not match root-key.pem beside it".into()));
        }
        let (not_before, not_after) = validity(&x509);
        let bundle = TrustBundle::from_certs(vec![cert.clone()]).map_err(invalid)?;
        let issuer = Issuer::from_ca_cert_der(&cert, key)
            .map_err(|e| invalid(format!("cannot be used to sign: {e}")))?;
        Ok(Self {
            issuer,
            chain: Vec::new(),
            bundle,
            trust_domain: trust_domain.to_string(),
            not_before,
            not_after,
            source: CaSource::SelfSigned(dir),
        })
    }

    pub fn trust_domain(&self) -> &str {
        &self.trust_domain
    }

    pub fn bundle(&self) -> &TrustBundle {
        &self.bundle
    }

    /// The file holding the roots workloads must trust to reach the
    /// control plane for the first time.
    pub fn bundle_file(&self) -> PathBuf {
        match &self.source {
            CaSource::PlugIn(dir) | CaSource::SelfSigned(dir) => dir.join("root-cert.pem"),
        }
    }

    pub fn source(&self) -> &CaSource {
        &self.source
    }

    /// When the signing certificate expires; no workload certificate
    /// outlives it.
    pub fn not_after(&self) -> SystemTime {
        self.not_after
    }

    /// Signs `csr` (DER) for `id`, valid for `ttl` (capped at
    /// [`MAX_WORKLOAD_TTL`] and at the CA's own expiry). The CSR may name
    /// no SAN or exactly `id`; the certificate carries `id` only.
    pub fn sign(&self, csr: &[u8], id: &SpiffeId, ttl: Duration) -> Result<Issued, SignError> {
        if id.trust_domain() != self.trust_domain {
            return Err(SignError::TrustDomain {
                id: id.to_string(),
                trust_domain: self.trust_domain.clone(),
            });
        }
        let req =
            CertificateSigningRequestParams::from_der(&CertificateSigningRequestDer::from(csr))
                .map_err(|e| SignError::BadCsr(e.to_string()))?;
        let uri = id.to_string();
        for san in &req.params.subject_alt_names {
            let asked = match san {
                SanType::URI(u) if u.as_str() == uri => continue,
                SanType::URI(u) => u.as_str().to_string(),
                SanType::DnsName(d) => d.as_str().to_string(),
                SanType::IpAddress(ip) => ip.to_string(),
                other => format!("{other:?}"),
            };
            return Err(SignError::WrongIdentity {
                asked,
                granted: uri,
            });
        }
        self.issue(&req.public_key, id, ttl)
    }

    /// Issues a certificate for a key the caller holds (the control plane's
    /// own serving certificate).
    pub fn issue(
        &self,
        key: &impl PublicKeyData,
        id: &SpiffeId,
        ttl: Duration,
    ) -> Result<Issued, SignError> {
        let now = SystemTime::now();
        let not_before = now
            .checked_sub(BACKDATE)
            .unwrap_or(now)
            .max(self.not_before);
        let not_after = (now + ttl.min(MAX_WORKLOAD_TTL)).min(self.not_after);
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.not_before = not_before.into();
        params.not_after = not_after.into();
        params.serial_number = Some(random_serial());
        params.subject_alt_names = vec![SanType::URI(
            id.to_string()
                .try_into()
                .map_err(|e| SignError::Signing(format!("{e}")))?,
        )];
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        let cert = params
            .signed_by(key, &self.issuer)
            .map_err(|e| SignError::Signing(e.to_string()))?;
        let mut chain = Vec::with_capacity(1 + self.chain.len());
        chain.push(cert.der().clone());
        chain.extend(self.chain.iter().cloned());
        Ok(Issued {
            chain,
            not_before,
            not_after,
        })
    }
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("Ca")
            .field("trust_domain", &self.trust_domain)
            .field("source", &self.source)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

// === impl Issued ===

impl Issued {
    pub fn chain_pem(&self) -> String {
        pem::encode_certs(&self.chain)
    }
}

fn signing_key(path: &Path) -> Result<KeyPair, CaError> {
    let (key_pem, _) = pem::private_key(path)?;
    KeyPair::from_pem(&key_pem).map_err(|e| CaError::Invalid {
        path: path.to_path_buf(),
        what: format!("unusable private key: {e}"),
    })
}

fn first(mut certs: Vec<CertificateDer<'static>>) -> CertificateDer<'static> {
    // `pem::certs` never returns an empty list.
    certs.swap_remove(0)
}

pub(crate) fn validity(x509: &X509Certificate<'_>) -> (SystemTime, SystemTime) {
    let at = |t: x509_parser::time::ASN1Time| {
        let secs = t.timestamp();
        if secs >= 0 {
            SystemTime::UNIX_EPOCH + Duration::from_secs(secs as u64)
        } else {
            SystemTime::UNIX_EPOCH
        }
    };
    (
        at(x509.validity().not_before),
        at(x509.validity().not_after),
    )
}

fn parse_all<'a>(ders: &'a [CertificateDer<'_>]) -> Vec<X509Certificate<'a>> {
    ders.iter()
        .filter_map(|d| X509Certificate::from_der(d).ok().map(|(_, c)| c))
        .collect()
}

/// Walks from `cert` through `chain` to one of `roots`, checking each
/// signature.
fn chains_to_root(
    cert: &X509Certificate<'_>,
    chain: &[CertificateDer<'_>],
    roots: &[CertificateDer<'_>],
) -> Result<(), String> {
    let (chain, roots) = (parse_all(chain), parse_all(roots));
    let signed_by = |child: &X509Certificate<'_>, parent: &X509Certificate<'_>| {
        child.issuer() == parent.subject()
            && child
                .verify_signature(Some(&parent.tbs_certificate.subject_pki))
                .is_ok()
    };
    let mut current = cert.clone();
    for _ in 0..=chain.len() {
        if roots.iter().any(|r| signed_by(&current, r)) {
            return Ok(());
        }
        match chain
            .iter()
            .find(|c| c.subject() != current.subject() && signed_by(&current, c))
        {
            Some(parent) => current = parent.clone(),
            None => break,
        }
    }
    Err("does not chain to any root in root-cert.pem (through cert-chain.pem); plug in the chain this intermediate was issued under".into())
}

fn create_root(
    dir: &Path,
    cert_path: &Path,
    key_path: &Path,
    trust_domain: &str,
) -> Result<(), CaError> {
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CaError::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(write_err(dir))?;
    set_mode(dir, 0o700).map_err(write_err(dir))?;
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| CaError::Generate(e.to_string()))?;
    let now = SystemTime::now();
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, trust_domain);
    dn.push(DnType::CommonName, "weft root CA");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = now.checked_sub(BACKDATE).unwrap_or(now).into();
    params.not_after = (now + ROOT_LIFETIME).into();
    params.serial_number = Some(random_serial());
    let cert = params
        .self_signed(&key)
        .map_err(|e| CaError::Generate(e.to_string()))?;
    write_private(key_path, key.serialize_pem().as_bytes()).map_err(write_err(key_path))?;
    std::fs::write(cert_path, cert.pem()).map_err(write_err(cert_path))?;
    tracing::info!(dir = %dir.display(), trust_domain, "created a self-signed root CA");
    Ok(())
}

/// Writes a file only its owner can read, from the first byte on.
fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(data)?;
    f.sync_all()
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// A root key others can read is fixed, loudly, rather than used as is.
fn tighten_permissions(key_path: &Path) -> Result<(), CaError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(key_path).map_err(|source| PemError::Read {
        path: key_path.to_path_buf(),
        source,
    })?;
    if meta.permissions().mode() & 0o077 != 0 {
        tracing::warn!(path = %key_path.display(), "the root key was readable by others; setting its mode to 0600");
        set_mode(key_path, 0o600).map_err(|source| CaError::Write {
            path: key_path.to_path_buf(),
            source,
        })?;
    }
    Ok(())
}

/// 128 random bits, positive.
fn random_serial() -> SerialNumber {
    let mut bytes = [0u8; 16];
    crate::random(&mut bytes);
    bytes[0] &= 0x7f;
    SerialNumber::from_slice(&bytes)
}
