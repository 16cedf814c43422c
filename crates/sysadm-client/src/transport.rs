//! Where a server is and how to trust it: URLs, TLS with a pinned
//! certificate fingerprint, a CA file or the system's roots, and the raw
//! byte stream both the WebSocket and the REST transport run on.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::error::{Error, Result};

/// A byte stream to the server, TLS or not.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A boxed [`Io`].
pub(crate) type Stream = Box<dyn Io>;

/// How to decide that the server is the one meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// Accept exactly the certificate with this SHA-256 fingerprint (what
    /// sysadmd prints at start-up for its self-signed certificate).
    Fingerprint(Fingerprint),
    /// Accept certificates signed by the CAs in this PEM file.
    CaFile(PathBuf),
    /// Accept certificates signed by a CA the operating system trusts.
    SystemRoots,
}

/// A SHA-256 certificate fingerprint.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER certificate.
    pub fn of_der(der: &[u8]) -> Fingerprint {
        Fingerprint(Sha256::digest(der).into())
    }
}

impl std::str::FromStr for Fingerprint {
    type Err = Error;

    /// Reads `AA:BB:...` (as sysadmd prints it), plain hex, or either after `SHA256:`.
    fn from_str(text: &str) -> Result<Fingerprint> {
        let trimmed = text.trim();
        let body = trimmed
            .strip_prefix("SHA256:")
            .or_else(|| trimmed.strip_prefix("sha256:"))
            .unwrap_or(trimmed);
        let hex: String = body.chars().filter(|c| *c != ':').collect();
        let invalid = || Error::InvalidFingerprint(text.chars().take(120).collect());
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid());
        }
        let mut bytes = [0u8; 32];
        for (index, byte) in bytes.iter_mut().enumerate() {
            *byte =
                u8::from_str_radix(&hex[index * 2..index * 2 + 2], 16).map_err(|_| invalid())?;
        }
        Ok(Fingerprint(bytes))
    }
}

impl std::fmt::Display for Fingerprint {
    /// `AA:BB:...`, as sysadmd prints it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text: Vec<String> = self.0.iter().map(|byte| format!("{byte:02X}")).collect();
        f.write_str(&text.join(":"))
    }
}

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// A parsed server address: `wss://host:port/` (also `https://`), or
/// plaintext `ws://` (also `http://`) for tests on loopback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Whether TLS is used.
    pub tls: bool,
    /// The host name or address (IPv6 without brackets).
    pub host: String,
    /// The port.
    pub port: u16,
}

/// sysadmd's default port (the reference server's WebSocket port).
pub const DEFAULT_PORT: u16 = 12150;

impl Endpoint {
    /// Parses a server URL. The port defaults to [`DEFAULT_PORT`].
    pub fn parse(url: &str) -> Result<Endpoint> {
        let invalid = |reason: &str| Error::InvalidUrl {
            url: url.chars().take(200).collect(),
            reason: reason.to_owned(),
        };
        let (scheme, rest) = url.split_once("://").ok_or_else(|| {
            invalid("expected wss://HOST[:PORT]/ (or ws:// for a plaintext server)")
        })?;
        let tls = match scheme.to_ascii_lowercase().as_str() {
            "wss" | "https" => true,
            "ws" | "http" => false,
            _ => return Err(invalid("the scheme must be wss, https, ws or http")),
        };
        let authority = rest.split('/').next().unwrap_or("");
        if rest.len() > authority.len() + 1 {
            return Err(invalid(
                "sysadmd serves the WebSocket at '/': give no path after the host",
            ));
        }
        let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or_else(|| invalid("an IPv6 address needs a closing ']'"))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(invalid("no host"));
        }
        let port = match port {
            None => DEFAULT_PORT,
            Some(port) => port
                .parse::<u16>()
                .ok()
                .filter(|port| *port != 0)
                .ok_or_else(|| invalid("the port must be a number from 1 to 65535"))?,
        };
        Ok(Endpoint {
            tls,
            host: host.to_owned(),
            port,
        })
    }

    /// `host:port`, with brackets around an IPv6 address.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The WebSocket URL.
    pub fn ws_url(&self) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        format!("{scheme}://{}/", self.authority())
    }

    /// Connects and, for TLS, completes the handshake under `trust`.
    pub(crate) async fn open(&self, trust: &Trust, timeout: Duration) -> Result<Stream> {
        let connect = async {
            let tcp = TcpStream::connect((self.host.as_str(), self.port))
                .await
                .map_err(|error| self.connect_error(error))?;
            let _ = tcp.set_nodelay(true);
            if !self.tls {
                return Ok(Box::new(tcp) as Stream);
            }
            let (config, seen) = client_config(trust)?;
            let name = ServerName::try_from(self.host.clone())
                .map_err(|error| Error::Tls(format!("server name '{}': {error}", self.host)))?;
            let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
            match connector.connect(name, tcp).await {
                Ok(tls) => Ok(Box::new(tls) as Stream),
                Err(error) => {
                    if let (Trust::Fingerprint(expected), Some(found)) =
                        (trust, *seen.lock().expect("seen lock"))
                        && found != *expected
                    {
                        return Err(Error::FingerprintMismatch {
                            expected: expected.to_string(),
                            found: found.to_string(),
                        });
                    }
                    Err(Error::Tls(format!(
                        "handshake with {}: {error}",
                        self.authority()
                    )))
                }
            }
        };
        tokio::time::timeout(timeout, connect)
            .await
            .map_err(|_| Error::Timeout(timeout.as_secs()))?
    }

    /// The fingerprint of the certificate the server presents, without
    /// trusting it: what `sysadmctl remote add` shows before asking.
    pub async fn probe_fingerprint(&self, timeout: Duration) -> Result<Fingerprint> {
        if !self.tls {
            return Err(Error::Tls(format!(
                "{} is plaintext: there is no certificate to pin",
                self.ws_url()
            )));
        }
        let probe = async {
            let tcp = TcpStream::connect((self.host.as_str(), self.port))
                .await
                .map_err(|error| self.connect_error(error))?;
            let seen = Arc::new(Mutex::new(None));
            let verifier = Arc::new(Pinned {
                expected: None,
                seen: seen.clone(),
                schemes: provider().signature_verification_algorithms,
            });
            let config = builder()?
                .dangerous()
                .with_custom_certificate_verifier(verifier)
                .with_no_client_auth();
            let name = ServerName::try_from(self.host.clone())
                .map_err(|error| Error::Tls(format!("server name '{}': {error}", self.host)))?;
            // The handshake is refused on purpose once the certificate is seen.
            let _ = tokio_rustls::TlsConnector::from(Arc::new(config))
                .connect(name, tcp)
                .await;
            let found = *seen.lock().expect("seen lock");
            found.ok_or_else(|| Error::Tls(format!("{} sent no certificate", self.authority())))
        };
        tokio::time::timeout(timeout, probe)
            .await
            .map_err(|_| Error::Timeout(timeout.as_secs()))?
    }

    fn connect_error(&self, error: std::io::Error) -> Error {
        Error::Connect {
            url: self.ws_url(),
            reason: error.to_string(),
        }
    }
}

fn provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

fn builder() -> Result<rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier>> {
    ClientConfig::builder_with_provider(Arc::new(provider()))
        .with_safe_default_protocol_versions()
        .map_err(|error| Error::Tls(error.to_string()))
}

type Seen = Arc<Mutex<Option<Fingerprint>>>;

fn client_config(trust: &Trust) -> Result<(ClientConfig, Seen)> {
    let seen: Seen = Arc::new(Mutex::new(None));
    let mut config = match trust {
        Trust::Fingerprint(expected) => builder()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinned {
                expected: Some(*expected),
                seen: seen.clone(),
                schemes: provider().signature_verification_algorithms,
            }))
            .with_no_client_auth(),
        Trust::CaFile(path) => {
            let mut roots = RootCertStore::empty();
            let text = std::fs::read(path)
                .map_err(|error| Error::Tls(format!("CA file {}: {error}", path.display())))?;
            let certs = rustls::pki_types::pem::PemObject::pem_slice_iter(&text)
                .collect::<std::result::Result<Vec<CertificateDer<'static>>, _>>()
                .map_err(|error| Error::Tls(format!("CA file {}: {error}", path.display())))?;
            if certs.is_empty() {
                return Err(Error::Tls(format!(
                    "CA file {} holds no PEM certificate",
                    path.display()
                )));
            }
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|error| Error::Tls(format!("CA file {}: {error}", path.display())))?;
            }
            builder()?
                .with_root_certificates(roots)
                .with_no_client_auth()
        }
        Trust::SystemRoots => {
            let mut roots = RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(Error::Tls(
                    "no trusted root certificates found on this system; pin the server's fingerprint or give a CA file"
                        .to_owned(),
                ));
            }
            builder()?
                .with_root_certificates(roots)
                .with_no_client_auth()
        }
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((config, seen))
}

/// Accepts one certificate by its SHA-256 (or, with no `expected`, records
/// it and refuses: a probe). Signatures are still verified, so the peer must
/// hold the certificate's private key.
#[derive(Debug)]
struct Pinned {
    expected: Option<Fingerprint>,
    seen: Seen,
    schemes: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let found = Fingerprint::of_der(end_entity.as_ref());
        *self.seen.lock().expect("seen lock") = Some(found);
        match self.expected {
            Some(expected) if expected == found => Ok(ServerCertVerified::assertion()),
            _ => Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.schemes)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.schemes)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_read_as_sysadmd_prints_them_and_as_plain_hex() {
        let printed = "AB:".repeat(31) + "CD";
        let fingerprint: Fingerprint = printed.parse().unwrap();
        assert_eq!(fingerprint.to_string(), printed);
        let plain: Fingerprint = format!("SHA256:{}", "ab".repeat(31) + "cd")
            .parse()
            .unwrap();
        assert_eq!(plain, fingerprint);
        let error = "AB:CD".parse::<Fingerprint>().unwrap_err();
        assert!(error.to_string().contains("64 hex digits"), "{error}");
    }

    #[test]
    fn urls_name_scheme_host_and_port() {
        let check = |url: &str, tls: bool, host: &str, port: u16| {
            assert_eq!(
                Endpoint::parse(url).unwrap(),
                Endpoint {
                    tls,
                    host: host.to_owned(),
                    port
                },
                "{url}"
            );
        };
        check("wss://jails.example:8443/", true, "jails.example", 8443);
        check("https://jails.example", true, "jails.example", DEFAULT_PORT);
        check("ws://127.0.0.1:9/", false, "127.0.0.1", 9);
        check("wss://[::1]:7", true, "::1", 7);
        for bad in [
            "jails.example",
            "ftp://x/",
            "wss://x:0/",
            "wss://x/api",
            "wss://:5",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }
}
