//! A TLS engine endpoint, as `DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=...`
//! reaches it: socat terminates TLS in front of the local socket, with a CA
//! and certificates made by openssl here. socat does not check the client's
//! certificate (with verify=1 its OpenSSL server refuses the session
//! resumption the API client attempts: "session id context uninitialized");
//! the server's certificate is checked by nosh, which is what is proven.

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Container, Nosh, static_app_image};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is needed for the TLS test");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A key and a certificate for `subject`, signed by the CA in `dir`, with
/// the extensions in `ext`; written to the file names given.
fn issue(dir: &Path, key: &str, cert: &str, subject: &str, ext: &str) {
    let csr = format!("{cert}.csr");
    let ext_file = format!("{cert}.ext");
    std::fs::write(dir.join(&ext_file), ext).unwrap();
    openssl(
        dir,
        &[
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", &csr, "-subj", subject,
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-out",
            cert,
            "-days",
            "2",
            "-extfile",
            &ext_file,
        ],
    );
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, in
/// the file names the docker CLI expects (ca.pem, cert.pem, key.pem).
fn certificates(dir: &Path, cn: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca-key.pem",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            &format!("/CN={cn}"),
        ],
    );
    issue(
        dir,
        "server-key.pem",
        "server.pem",
        "/CN=127.0.0.1",
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    );
    issue(
        dir,
        "key.pem",
        "cert.pem",
        "/CN=client",
        "extendedKeyUsage=clientAuth\n",
    );
}

/// socat in front of the engine's socket, killed on drop.
struct TlsFront {
    child: Child,
    port: u16,
}

impl TlsFront {
    fn start(dir: &Path) -> TlsFront {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let listen = format!(
            "OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,cert={d}/server.pem,key={d}/server-key.pem,verify=0",
            d = dir.display()
        );
        // -t: after one side ends, keep the other open (a session half-closes
        // its stdin and still reads the shell's output).
        let child = Command::new("socat")
            .args(["-t", "30", &listen, "UNIX-CONNECT:/var/run/docker.sock"])
            .stdin(Stdio::null())
            .spawn()
            .expect("socat is needed for the TLS test");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "socat did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        TlsFront { child, port }
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn nosh_tls(port: u16, certs: &Path) -> Nosh {
    let mut n = Nosh::program("env");
    n.args(["-u", "DOCKER_CONTEXT", "-u", "DOCKER_CONFIG"])
        .arg(format!("DOCKER_HOST=tcp://127.0.0.1:{port}"))
        .arg("DOCKER_TLS_VERIFY=1")
        .arg(format!("DOCKER_CERT_PATH={}", certs.display()))
        .arg(common::nosh_bin().to_string_lossy().as_ref());
    n
}

#[test]
fn a_tls_engine_is_reached_with_the_client_certificate_and_checked_server() {
    let dir = tempfile::tempdir().unwrap();
    certificates(dir.path(), "nosh-test-ca");
    let front = TlsFront::start(dir.path());
    let t = Container::run(&static_app_image(), &[]);
    t.wait_running();
    nosh_tls(front.port, dir.path())
        .arg(t.name())
        .c("id; ls /app")
        .run()
        .success()
        .stdout_has("uid=65532(nonroot)")
        .stdout_has("demo-app");
    // A server signed by another CA is refused: one sentence, status 125.
    let other = tempfile::tempdir().unwrap();
    certificates(other.path(), "someone-else");
    nosh_tls(front.port, other.path())
        .arg(t.name())
        .c("id")
        .run()
        .code_is(125)
        .stderr_has("cannot connect to the Docker engine at tcp://127.0.0.1");
}
