//! demo-app: a small service to point nosh at.
//!
//! It behaves like the apps that trip people up when they move to hardened
//! images: it runs as a non-root user, tries to write its log to a root-owned
//! directory (and says so on stderr, then logs to stdout instead), keeps a
//! data file open, can start a child process and can hold a UDP socket next to
//! its TCP listener. `make demo` and the integration tests run it as PID 1 of
//! a FROM-scratch container.
//!
//! Flags (each also read from the environment variable in brackets):
//!   --port N       TCP port to serve "ok" over HTTP on [DEMO_PORT], default 8443
//!   --log PATH     log file to append to [DEMO_LOG], default /var/log/demo/app.log;
//!                  - logs to stdout
//!   --data PATH    a file to keep open for reading and writing [DEMO_DATA]
//!   --child        start one child process that only sleeps [DEMO_CHILD=1]
//!   --udp          also bind a UDP socket on the same port [DEMO_UDP=1]
//!   --retry PATH   keep trying to open PATH for appending, every 100 ms, in
//!                  a thread of its own, as apps that retry their log file do
//!                  [DEMO_RETRY]
//!
//! Standard library and `libc` only, so the example builds into the same kind
//! of static binary as nosh.

use std::env;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command, ExitCode};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

const DEFAULT_PORT: u16 = 8443;
const DEFAULT_LOG: &str = "/var/log/demo/app.log";
/// The argument that turns a copy of this program into the sleeping child.
const CHILD_FLAG: &str = "--sleep-forever";
const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";

struct Config {
    port: u16,
    log: String,
    data: Option<String>,
    child: bool,
    udp: bool,
    retry: Option<String>,
}

/// Where log lines go: the log file if it could be opened, stdout otherwise.
type Log = Arc<Mutex<Box<dyn Write + Send>>>;

fn main() -> ExitCode {
    install_exit_on_signals();
    let args: Vec<String> = env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(CHILD_FLAG) {
        sleep_forever();
    }
    let config = match parse(&args) {
        Ok(config) => config,
        Err(msg) => {
            eprintln!("demo-app: {msg}");
            eprintln!(
                "usage: demo-app [--port N] [--log PATH] [--data PATH] [--child] [--udp] [--retry PATH]"
            );
            return ExitCode::from(2);
        }
    };
    match serve(&config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("demo-app: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn parse(args: &[String]) -> Result<Config, String> {
    let flag_env = |name: &str| env::var(name).is_ok_and(|v| v == "1" || v == "true");
    let mut config = Config {
        port: match env::var("DEMO_PORT") {
            Ok(p) => parse_port(&p)?,
            Err(_) => DEFAULT_PORT,
        },
        log: env::var("DEMO_LOG").unwrap_or_else(|_| DEFAULT_LOG.to_owned()),
        data: env::var("DEMO_DATA").ok(),
        child: flag_env("DEMO_CHILD"),
        udp: flag_env("DEMO_UDP"),
        retry: env::var("DEMO_RETRY").ok(),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match arg.as_str() {
            "--port" => config.port = parse_port(&value("--port")?)?,
            "--log" => config.log = value("--log")?,
            "--data" => config.data = Some(value("--data")?),
            "--child" => config.child = true,
            "--udp" => config.udp = true,
            "--retry" => config.retry = Some(value("--retry")?),
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    Ok(config)
}

fn parse_port(s: &str) -> Result<u16, String> {
    s.parse().map_err(|_| format!("invalid port '{s}'"))
}

fn serve(config: &Config) -> Result<(), String> {
    // 1. The log file. A root-owned /var/log/demo makes this fail for uid
    //    65532, which is the point: report it the way real apps do and go on.
    let opened = if config.log == "-" {
        Err(None)
    } else {
        OpenOptions::new()
            .append(true)
            .create(true)
            .open(&config.log)
            .map_err(Some)
    };
    let log: Log = match opened {
        Ok(file) => Arc::new(Mutex::new(Box::new(file))),
        Err(Some(e)) => {
            eprintln!(
                "demo-app: cannot open log file {}: {e}; logging to stdout",
                config.log
            );
            Arc::new(Mutex::new(Box::new(io::stdout())))
        }
        Err(None) => Arc::new(Mutex::new(Box::new(io::stdout()))),
    };

    // 2. A data file held open for the life of the process, so that it shows
    //    up among the process's descriptors. Read-only if writing is refused.
    let _data: Option<File> = config.data.as_deref().and_then(|path| {
        OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .or_else(|_| File::open(path))
            .map_err(|e| eprintln!("demo-app: cannot open data file {path}: {e}"))
            .ok()
    });

    // 3. The listeners. Failing to bind is fatal, as for any server.
    let listener = TcpListener::bind(("0.0.0.0", config.port))
        .map_err(|e| format!("cannot listen on tcp port {}: {e}", config.port))?;
    if config.udp {
        let socket = UdpSocket::bind(("0.0.0.0", config.port))
            .map_err(|e| format!("cannot bind udp port {}: {e}", config.port))?;
        thread::spawn(move || answer_udp(&socket));
    }

    // 4. The child, kept in a variable so that it is not reaped early and
    //    stays in the process tree.
    let _child: Option<Child> = if config.child {
        match env::current_exe().and_then(|exe| Command::new(exe).arg(CHILD_FLAG).spawn()) {
            Ok(child) => Some(child),
            Err(e) => {
                eprintln!("demo-app: cannot start child process: {e}");
                None
            }
        }
    } else {
        None
    };

    // 5. The retry loop: a failing open on demand, for tracing.
    if let Some(path) = config.retry.clone() {
        thread::spawn(move || {
            loop {
                let _ = OpenOptions::new().append(true).create(true).open(&path);
                thread::sleep(Duration::from_millis(100));
            }
        });
    }

    log_line(&log, &format!("listening on port {}", config.port));
    for conn in listener.incoming() {
        match conn {
            Ok(stream) => {
                let log = Arc::clone(&log);
                thread::spawn(move || answer_http(stream, &log));
            }
            Err(e) => log_line(&log, &format!("accept failed: {e}")),
        }
    }
    Ok(())
}

fn answer_http(mut stream: TcpStream, log: &Log) {
    let peer = stream
        .peer_addr()
        .map_or_else(|_| "unknown".to_owned(), |a| a.to_string());
    // Read whatever request arrives (up to the end of its headers, or a
    // short timeout for clients that send nothing); the answer is the same.
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while request.len() < 16 * 1024 && !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    match stream.write_all(RESPONSE) {
        Ok(()) => log_line(log, &format!("200 to {peer}")),
        Err(e) => log_line(log, &format!("write to {peer} failed: {e}")),
    }
}

fn answer_udp(socket: &UdpSocket) {
    let mut buf = [0u8; 1500];
    while let Ok((_, from)) = socket.recv_from(&mut buf) {
        let _ = socket.send_to(b"ok\n", from);
    }
}

fn log_line(log: &Log, line: &str) {
    if let Ok(mut out) = log.lock() {
        let _ = writeln!(out, "demo-app: {line}");
        let _ = out.flush();
    }
}

fn sleep_forever() -> ! {
    // Outside a container nothing else would end the child with its parent.
    // SAFETY: PR_SET_PDEATHSIG takes a signal number and touches no memory.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) };
    loop {
        thread::sleep(Duration::from_secs(3600));
    }
}

extern "C" fn exit_now(_signal: libc::c_int) {
    // SAFETY: _exit is async-signal-safe (signal-safety(7)); nothing needs
    // flushing because log lines are flushed as they are written.
    unsafe { libc::_exit(0) }
}

/// As PID 1 of a container, a process gets no default action for signals it
/// has no handler for: `docker stop` would wait ten seconds and then kill it.
/// Exit at once on SIGTERM and SIGINT instead.
fn install_exit_on_signals() {
    let handler: extern "C" fn(libc::c_int) = exit_now;
    for signal in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: the handler only calls the async-signal-safe _exit; the
        // previous handler is not needed.
        unsafe { libc::signal(signal, handler as libc::sighandler_t) };
    }
}
