//! The AWS path speaks HTTPS, verified against the system's trust store: a local TLS
//! server on 127.0.0.1 (certificate from a throw-away authority made with openssl)
//! answers GetCallerIdentity, and the call reaches it only when the authority is trusted
//! (`SSL_CERT_FILE`, which the client's root store honours). No AWS endpoint is used.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").current_dir(dir).args(args).output().expect("openssl runs");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A certificate authority and a server certificate for 127.0.0.1, signed by it.
fn certificates(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=iam-conformance test CA",
        ],
    );
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n").unwrap();
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
}

/// A TLS server answering every POST with GetCallerIdentity for account 999999999999.
const SERVER: &str = r#"
import http.server, ssl, sys
BODY = b'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:iam::999999999999:user/tls</Arn><UserId>AIDATLS</UserId><Account>999999999999</Account></GetCallerIdentityResult></GetCallerIdentityResponse>'
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get('content-length', 0)))
        self.send_response(200)
        self.send_header('content-type', 'text/xml')
        self.send_header('content-length', str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer(('127.0.0.1', 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#;

fn sweep(url: &str, home: &Path, ca: Option<&Path>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_iam-conformance"));
    c.args(["sweep", "--run-id", "20261128T000000Z-1", "--endpoint", url, "--allow-account", "111122223333"])
        .env_remove("IAM_CONFORMANCE_ALLOWED_ACCOUNTS")
        .env_remove("AWS_PROFILE")
        .env_remove("SSL_CERT_DIR")
        .env("HOME", home)
        .env("AWS_CONFIG_FILE", home.join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("no-credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", "AKIATLSTEST000000001")
        .env("AWS_SECRET_ACCESS_KEY", "s");
    match ca {
        Some(file) => c.env("SSL_CERT_FILE", file),
        None => c.env_remove("SSL_CERT_FILE"),
    };
    c.output().unwrap()
}

#[test]
fn calls_go_over_verified_tls() {
    let tmp = tempfile::tempdir().unwrap();
    certificates(tmp.path());
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(SERVER)
        .arg(tmp.path().join("server.pem"))
        .arg(tmp.path().join("server.key"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut port = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut port).unwrap();
    let _server = Server(child);
    let url = format!("https://127.0.0.1:{}/", port.trim());

    // Trusted: the call is made, answered and read — the account is then refused.
    let o = sweep(&url, tmp.path(), Some(&tmp.path().join("ca.pem")));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("999999999999") && stderr.contains("not on the allow-list"), "{stderr}");

    // Not trusted: the handshake fails and nothing is read.
    let o = sweep(&url, tmp.path(), None);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains("999999999999"), "{stderr}");
    assert!(stderr.to_ascii_lowercase().contains("certificate"), "the error names the certificate problem: {stderr}");
}
