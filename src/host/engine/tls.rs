//! TLS to a remote engine, as `DOCKER_TLS_VERIFY` with `DOCKER_CERT_PATH`
//! (or a context's TLS material) asks: the server's certificate checked
//! against `ca.pem`, and `cert.pem`/`key.pem` as the client's identity.
//! bollard speaks it for the API calls; this is the same for the attach and
//! wait connections nosh opens itself, and for the watchdog.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};

/// Where the PEM files of a TLS endpoint are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsFiles {
    /// `ca.pem`, `cert.pem` and `key.pem` in `dir`, as the docker CLI names them.
    pub fn in_dir(dir: &Path) -> TlsFiles {
        TlsFiles {
            ca: dir.join("ca.pem"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        }
    }
}

fn bad(path: &Path, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: {what}", path.display()),
    )
}

/// The client configuration for `files`.
pub fn client_config(files: &TlsFiles) -> io::Result<Arc<ClientConfig>> {
    let mut roots = RootCertStore::empty();
    for cert in
        CertificateDer::pem_file_iter(&files.ca).map_err(|_| bad(&files.ca, "unreadable"))?
    {
        let cert = cert.map_err(|_| bad(&files.ca, "not a PEM certificate"))?;
        roots
            .add(cert)
            .map_err(|e| bad(&files.ca, &e.to_string()))?;
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|_| bad(&files.cert, "unreadable"))?
        .collect::<Result<_, _>>()
        .map_err(|_| bad(&files.cert, "not a PEM certificate"))?;
    let key =
        PrivateKeyDer::from_pem_file(&files.key).map_err(|_| bad(&files.key, "no private key"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(io::Error::other)?;
    Ok(Arc::new(config))
}

/// The name the server's certificate must carry: the host part of `addr`.
pub fn server_name(addr: &str) -> io::Result<ServerName<'static>> {
    let host = addr
        .rsplit_once(':')
        .map_or(addr, |(h, _)| h)
        .trim_start_matches('[')
        .trim_end_matches(']');
    ServerName::try_from(host.to_string())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, format!("bad host name {host}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_come_from_the_address() {
        assert!(matches!(
            server_name("127.0.0.1:2376").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("docker.example:2376").unwrap(),
            ServerName::DnsName(_)
        ));
        assert!(matches!(
            server_name("[::1]:2376").unwrap(),
            ServerName::IpAddress(_)
        ));
    }

    #[test]
    fn missing_files_are_an_error_naming_the_file() {
        let files = TlsFiles::in_dir(Path::new("/nonexistent"));
        let err = client_config(&files).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/ca.pem"), "{err}");
    }
}
