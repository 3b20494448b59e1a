//! TLS for [`Provider::serve`](crate::Provider::serve): the certificate chain and private
//! key from PEM files (`tls_cert`, `tls_key`), served with rustls (ring, the crypto provider
//! the rest of the build already uses), HTTP/2 and HTTP/1.1 offered by ALPN, and reloaded
//! while connections go on: [`Tls::reload`] at once (the `idp` binary calls it on SIGHUP),
//! [`Tls::reload_if_changed`] when either file's modification time or size changed (the
//! server polls it). A certificate that does not load keeps the one in use and is logged.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::SystemTime;

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::Error;

/// The largest PEM file read (a certificate chain is a few KiB).
const MAX_PEM_BYTES: u64 = 1024 * 1024;

/// What the files looked like when last read: modification time and length of each.
type Stamp = [(Option<SystemTime>, u64); 2];

/// The certificate in use, swapped whole on reload.
#[derive(Debug)]
struct Current(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for Current {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(
            &self.0.read().unwrap_or_else(PoisonError::into_inner),
        ))
    }
}

/// A TLS server configuration whose certificate can be replaced while it serves.
pub(crate) struct Tls {
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<CryptoProvider>,
    current: Arc<Current>,
    /// The files as last read, whether they loaded or not (a bad pair is not retried
    /// until one of the files changes again).
    seen: Mutex<Option<Stamp>>,
    config: Arc<ServerConfig>,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// Loads the pair; the error names the key (`tls_cert`, `tls_key`), the file and what
    /// is wrong with it.
    pub(crate) fn load(cert: &Path, key: &Path) -> Result<Self, Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let seen = stamp(cert, key);
        let certified = load_pair(cert, key, &provider).map_err(Error::Config)?;
        let current = Arc::new(Current(RwLock::new(Arc::new(certified))));
        let mut config = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Config(format!("TLS: {e}")))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(&current) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Self {
            cert: cert.to_owned(),
            key: key.to_owned(),
            provider,
            current,
            seen: Mutex::new(Some(seen)),
            config: Arc::new(config),
        })
    }

    /// The rustls configuration: the current certificate, ALPN `h2` and `http/1.1`.
    pub(crate) fn server_config(&self) -> Arc<ServerConfig> {
        Arc::clone(&self.config)
    }

    /// Reads the files again and serves the new pair to the next handshakes; on an error
    /// the pair in use stays, and the error says why.
    pub(crate) fn reload(&self) -> Result<(), Error> {
        let now = stamp(&self.cert, &self.key);
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner) = Some(now);
        let certified = load_pair(&self.cert, &self.key, &self.provider).map_err(Error::Config)?;
        *self
            .current
            .0
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(certified);
        tracing::info!(cert = %self.cert.display(), "TLS certificate loaded");
        Ok(())
    }

    /// Reloads if either file changed since it was last read (modification time or
    /// length); `None` when neither did. An error is logged, and the pair in use stays.
    pub(crate) fn reload_if_changed(&self) -> Option<Result<(), Error>> {
        let now = stamp(&self.cert, &self.key);
        if *self.seen.lock().unwrap_or_else(PoisonError::into_inner) == Some(now) {
            return None;
        }
        let result = self.reload();
        if let Err(e) = &result {
            tracing::error!(error = %e, "the changed TLS certificate did not load; still serving the previous one");
        }
        Some(result)
    }
}

fn stamp(cert: &Path, key: &Path) -> Stamp {
    [cert, key].map(|p| match std::fs::metadata(p) {
        Ok(m) => (m.modified().ok(), m.len()),
        Err(_) => (None, 0),
    })
}

fn read(what: &str, path: &Path) -> Result<Vec<u8>, String> {
    let file = std::fs::metadata(path).map_err(|e| format!("{what} {}: {e}", path.display()))?;
    if !file.is_file() {
        return Err(format!("{what} {}: not a file", path.display()));
    }
    if file.len() > MAX_PEM_BYTES {
        return Err(format!(
            "{what} {}: larger than {MAX_PEM_BYTES} bytes; not a PEM file",
            path.display()
        ));
    }
    std::fs::read(path).map_err(|e| format!("{what} {}: {e}", path.display()))
}

/// The certificate chain of `cert` (PEM `CERTIFICATE` blocks, the server's first) with the
/// private key of `key` (PKCS#8, PKCS#1 or SEC1 PEM), checked to belong together.
fn load_pair(cert: &Path, key: &Path, provider: &CryptoProvider) -> Result<CertifiedKey, String> {
    let cert_pem = read("tls_cert", cert)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            format!(
                "tls_cert {}: not a PEM certificate chain: {e}",
                cert.display()
            )
        })?;
    if chain.is_empty() {
        return Err(format!(
            "tls_cert {}: no PEM CERTIFICATE block in the file",
            cert.display()
        ));
    }
    let key_pem = read("tls_key", key)?;
    let private = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        format!(
            "tls_key {}: no PEM private key (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY): {e}",
            key.display()
        )
    })?;
    CertifiedKey::from_der(chain, private, provider).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => format!(
            "tls_key {} does not match the certificate in tls_cert {}",
            key.display(),
            cert.display()
        ),
        other => format!(
            "tls_cert {} / tls_key {}: {other}",
            cert.display(),
            key.display()
        ),
    })
}
