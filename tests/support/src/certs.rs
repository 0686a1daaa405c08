//! Certificates for the TLS tests: a CA of the test's own and the certificates it signs, written
//! as PEM files into a temporary directory, as a deployment's would be.

use std::path::PathBuf;

use ipc2::transport::TlsConfig;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

/// A CA, and the directory its files go to (removed on drop).
pub struct Pki {
    dir: tempfile::TempDir,
    ca: CertifiedIssuer<'static, KeyPair>,
    ca_path: PathBuf,
}

/// One side's three PEM files.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
}

impl Pki {
    /// A fresh CA named `name`.
    pub fn new(name: &str) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("a CA key");
        let ca = CertifiedIssuer::self_signed(params, key).expect("a self-signed CA");
        let ca_path = dir.path().join(format!("{name}.crt"));
        std::fs::write(&ca_path, ca.pem()).expect("the CA certificate is written");
        Self { dir, ca, ca_path }
    }

    /// Issues the host's certificate, for `names` (host names or IP addresses), and writes it
    /// and its key as `{file}.crt` and `{file}.key`, beside this CA's certificate.
    pub fn issue_host(&self, file: &str, names: &[&str]) -> Credentials {
        self.issue(file, names, ExtendedKeyUsagePurpose::ServerAuth)
    }

    /// Issues a worker's certificate, good only as a client's (so it cannot stand in for the
    /// host's), as [`issue_host`](Self::issue_host) does.
    pub fn issue_worker(&self, file: &str, names: &[&str]) -> Credentials {
        self.issue(file, names, ExtendedKeyUsagePurpose::ClientAuth)
    }

    fn issue(&self, file: &str, names: &[&str], usage: ExtendedKeyUsagePurpose) -> Credentials {
        let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
        let mut params = CertificateParams::new(names).expect("certificate parameters");
        params.distinguished_name.push(DnType::CommonName, file);
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().expect("a key");
        let cert = params
            .signed_by(&key, &self.ca)
            .expect("a signed certificate");
        let credentials = Credentials {
            cert: self.dir.path().join(format!("{file}.crt")),
            key: self.dir.path().join(format!("{file}.key")),
            ca: self.ca_path.clone(),
        };
        std::fs::write(&credentials.cert, cert.pem()).expect("the certificate is written");
        std::fs::write(&credentials.key, key.serialize_pem()).expect("the key is written");
        credentials
    }
}

impl Credentials {
    /// The configuration these files make.
    pub fn config(&self) -> TlsConfig {
        TlsConfig::from_pem_files(&self.cert, &self.key, &self.ca).expect("a usable TLS config")
    }

    /// The environment variables a worker finds them by.
    pub fn env(&self) -> [(&'static str, PathBuf); 3] {
        use ipc2::transport::env::{ENV_CA, ENV_CERT, ENV_KEY};
        [
            (ENV_CERT, self.cert.clone()),
            (ENV_KEY, self.key.clone()),
            (ENV_CA, self.ca.clone()),
        ]
    }
}
