//! Tests of the listener's protections over real TCP on 127.0.0.1: slow
//! headers, idle connections, the connection cap, the body limit, the
//! request timeout, and HTTPS with a certificate made for the test.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use super::*;
use crate::respond::{
    Allowlist, Blocklist, BlocklistConfig, Board, Command, ResponseHandles, Silences,
};

/// The one API token the tests' listeners accept, with the admin role.
const TOKEN: &str = "test-admin-token";

/// How long a test waits for something that should happen much sooner.
const BOUND: Duration = Duration::from_secs(15);

/// Limits far from every test's concern; each test tightens the one it
/// checks.
fn generous() -> Limits {
    Limits {
        header_timeout: Duration::from_secs(30),
        request_timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_mins(1),
        max_connections: 16,
        max_body_bytes: 64 * 1024,
    }
}

/// A listener serving on a free port.
struct Running {
    addr: SocketAddr,
    metrics: Metrics,
    /// The pipeline's end of manual resolutions; held and never answered,
    /// so a resolution waits as when the pipeline is stalled.
    _commands: crossbeam_channel::Receiver<Command>,
}

fn start(limits: Limits, tls: Option<ServerTls>) -> Running {
    let metrics = Metrics::new();
    let (commands, pending) = crossbeam_channel::unbounded();
    let allow = Allowlist::new(Vec::new(), Vec::new());
    let response = ResponseHandles {
        board: Board::default(),
        blocklist: Blocklist::open(BlocklistConfig::default(), allow, None).unwrap(),
        silences: Silences::open(None).unwrap(),
        audit: None,
        commands,
    };
    let state = HttpState {
        metrics: metrics.clone(),
        ready: Arc::new(AtomicBool::new(true)),
        refresh: Arc::new(|_: &Metrics| {}),
        api: Some(ApiState {
            response,
            tokens: Tokens::new(vec![(Role::Admin, TOKEN.to_owned())]),
        }),
    };
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = serve(addr, limits, tls, state).unwrap();
    Running {
        addr: server.local_addr,
        metrics,
        _commands: pending,
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(BOUND)).unwrap();
    stream
}

/// A response's status and body.
struct Reply {
    status: u16,
    body: String,
}

/// Reads one response with a `Content-Length` body, leaving the
/// connection open.
fn read_reply(stream: &mut TcpStream) -> Reply {
    let mut received = Vec::new();
    let mut chunk = [0_u8; 4096];
    loop {
        if let Some(reply) = parse_reply(&received) {
            return reply;
        }
        let read = stream
            .read(&mut chunk)
            .expect("a response within the bound");
        assert!(read > 0, "closed before a whole response: {received:?}");
        received.extend_from_slice(&chunk[..read]);
    }
}

/// The response in `received`, once all of it is there.
fn parse_reply(received: &[u8]) -> Option<Reply> {
    let text = String::from_utf8_lossy(received);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    (body.len() >= length).then(|| Reply {
        status,
        body: body[..length].to_owned(),
    })
}

/// Reads until the server closes the connection; what it sent, or `None`
/// when it was still open after the bound.
fn read_until_closed(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut received = Vec::new();
    let mut chunk = [0_u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return Some(received),
            Ok(read) => received.extend_from_slice(&chunk[..read]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Some(received),
            Err(_) => return None,
        }
    }
}

fn health_request() -> &'static [u8] {
    b"GET /healthz HTTP/1.1\r\nHost: vigil.test\r\n\r\n"
}

/// A counter's value as `/metrics` renders it.
fn counter(metrics: &Metrics, name: &str) -> f64 {
    metrics
        .render()
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

/// Waits, up to the bound, for `name` to reach `value`.
fn counter_reaches(metrics: &Metrics, name: &str, value: f64) -> bool {
    let waited = Instant::now();
    while waited.elapsed() < BOUND {
        if (counter(metrics, name) - value).abs() < f64::EPSILON {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn a_client_that_stalls_in_its_headers_is_disconnected() {
    let running = start(
        Limits {
            header_timeout: Duration::from_millis(200),
            ..generous()
        },
        None,
    );
    let mut stream = connect(running.addr);

    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: vigil.test\r\n")
        .unwrap();
    let received = read_until_closed(&mut stream);

    assert_eq!(received, Some(Vec::new()), "closed without an answer");
    assert!(counter_reaches(
        &running.metrics,
        "vigil_http_header_timeouts_total",
        1.0
    ));
}

#[test]
fn a_client_that_connects_and_sends_nothing_is_disconnected() {
    let running = start(
        Limits {
            header_timeout: Duration::from_millis(200),
            ..generous()
        },
        None,
    );
    let mut stream = connect(running.addr);

    let received = read_until_closed(&mut stream);

    assert_eq!(received, Some(Vec::new()));
}

#[test]
fn a_kept_alive_connection_may_idle_past_the_header_timeout() {
    let running = start(
        Limits {
            header_timeout: Duration::from_millis(200),
            idle_timeout: Duration::from_secs(10),
            ..generous()
        },
        None,
    );
    let mut stream = connect(running.addr);
    stream.write_all(health_request()).unwrap();
    assert_eq!(read_reply(&mut stream).status, 200);

    std::thread::sleep(Duration::from_secs(1));
    stream.write_all(health_request()).unwrap();

    assert_eq!(read_reply(&mut stream).status, 200);
}

#[test]
fn an_idle_kept_alive_connection_is_closed() {
    let running = start(
        Limits {
            idle_timeout: Duration::from_millis(300),
            ..generous()
        },
        None,
    );
    let mut stream = connect(running.addr);
    stream.write_all(health_request()).unwrap();
    assert_eq!(read_reply(&mut stream).status, 200);

    let received = read_until_closed(&mut stream);

    assert_eq!(received, Some(Vec::new()));
}

#[test]
fn connections_over_the_cap_are_refused() {
    let running = start(
        Limits {
            max_connections: 1,
            ..generous()
        },
        None,
    );
    let mut first = connect(running.addr);
    first.write_all(health_request()).unwrap();
    assert_eq!(read_reply(&mut first).status, 200);

    let mut second = connect(running.addr);
    let refused = read_until_closed(&mut second);

    assert_eq!(refused, Some(Vec::new()));
    assert!(counter_reaches(
        &running.metrics,
        "vigil_http_connections_refused_total",
        1.0
    ));
    first.write_all(health_request()).unwrap();
    assert_eq!(
        read_reply(&mut first).status,
        200,
        "the first is still served"
    );
}

/// A `POST /v1/blocklist` head announcing `content_length` bytes.
fn block_head(content_length: usize) -> String {
    format!(
        "POST /v1/blocklist HTTP/1.1\r\nHost: vigil.test\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: {content_length}\r\n\r\n"
    )
}

#[test]
fn a_body_announced_over_the_limit_gets_413_before_it_is_sent() {
    let running = start(
        Limits {
            max_body_bytes: 64,
            ..generous()
        },
        None,
    );
    let mut stream = connect(running.addr);

    stream.write_all(block_head(65).as_bytes()).unwrap();

    assert_eq!(read_reply(&mut stream).status, 413);
}

#[test]
fn a_chunked_body_over_the_limit_gets_413() {
    let running = start(
        Limits {
            max_body_bytes: 64,
            ..generous()
        },
        None,
    );
    let padding = " ".repeat(80);
    let body = format!("{{\"ip\": \"203.0.113.9\"{padding}}}");
    let request = format!(
        "POST /v1/blocklist HTTP/1.1\r\nHost: vigil.test\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n\
         {:x}\r\n{body}\r\n0\r\n\r\n",
        body.len()
    );
    let mut stream = connect(running.addr);

    stream.write_all(request.as_bytes()).unwrap();

    assert_eq!(read_reply(&mut stream).status, 413);
}

#[test]
fn a_body_within_the_limit_is_accepted() {
    let running = start(
        Limits {
            max_body_bytes: 64,
            ..generous()
        },
        None,
    );
    let body = r#"{"ip": "203.0.113.9"}"#;
    let mut stream = connect(running.addr);

    stream
        .write_all(format!("{}{body}", block_head(body.len())).as_bytes())
        .unwrap();

    assert_eq!(read_reply(&mut stream).status, 201);
}

/// The resolution waits up to ten seconds for a pipeline that never
/// answers here; the request timeout answers first, with an empty body
/// where the handler's own give-up would explain itself.
#[test]
fn a_request_that_outlasts_the_request_timeout_gets_503() {
    let running = start(
        Limits {
            request_timeout: Duration::from_millis(300),
            ..generous()
        },
        None,
    );
    let mut stream = connect(running.addr);

    stream
        .write_all(
            format!(
                "POST /v1/incidents/INC-1/resolve HTTP/1.1\r\nHost: vigil.test\r\n\
                 Authorization: Bearer {TOKEN}\r\nContent-Length: 0\r\n\r\n"
            )
            .as_bytes(),
        )
        .unwrap();
    let reply = read_reply(&mut stream);

    assert_eq!(reply.status, 503);
    assert_eq!(reply.body, "", "the handler's own answer came instead");
}

mod https {
    //! HTTPS with a self-signed certificate made for each test.

    use super::*;

    /// The name the test certificate is issued to.
    const HOST: &str = "vigil.test";

    /// A certificate for [`HOST`] and its key, written to `dir`.
    fn certificate(dir: &std::path::Path) -> (String, std::path::PathBuf, std::path::PathBuf) {
        let issued = rcgen::generate_simple_self_signed(vec![HOST.to_owned()]).unwrap();
        let pem = issued.cert.pem();
        let cert_file = dir.join("cert.pem");
        let key_file = dir.join("key.pem");
        std::fs::write(&cert_file, &pem).unwrap();
        std::fs::write(&key_file, issued.signing_key.serialize_pem()).unwrap();
        (pem, cert_file, key_file)
    }

    /// TLS settings as `vigil run` builds them, with the key's file named
    /// by `VIGIL_HTTP_TLS_KEY_FILE`.
    fn tls(cert_file: &std::path::Path, key_file: &std::path::Path) -> ServerTls {
        let key_file = key_file.display().to_string();
        let env = move |name: &str| (name == "VIGIL_HTTP_TLS_KEY_FILE").then(|| key_file.clone());
        ServerTls::from_lookup(&cert_file.display().to_string(), env)
            .unwrap()
            .expect("both parts are set")
    }

    #[tokio::test]
    async fn healthz_answers_over_tls_with_the_configured_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let (pem, cert_file, key_file) = certificate(dir.path());
        let running = start(generous(), Some(tls(&cert_file, &key_file)));
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
            .resolve(HOST, running.addr)
            .timeout(BOUND)
            .build()
            .unwrap();

        let url = format!("https://{HOST}:{}/healthz", running.addr.port());
        let response = client.get(url).send().await.unwrap();

        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), "ok\n");
    }

    #[test]
    fn plain_http_to_the_tls_port_gets_no_http_answer() {
        let dir = tempfile::tempdir().unwrap();
        let (_, cert_file, key_file) = certificate(dir.path());
        let running = start(generous(), Some(tls(&cert_file, &key_file)));
        let mut stream = connect(running.addr);

        stream.write_all(health_request()).unwrap();
        let received = read_until_closed(&mut stream).expect("closed within the bound");

        assert!(
            !received.starts_with(b"HTTP/"),
            "answered in plain HTTP: {:?}",
            String::from_utf8_lossy(&received)
        );
    }

    #[test]
    fn a_stalled_tls_handshake_counts_against_the_header_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let (_, cert_file, key_file) = certificate(dir.path());
        let limits = Limits {
            header_timeout: Duration::from_millis(200),
            ..generous()
        };
        let running = start(limits, Some(tls(&cert_file, &key_file)));
        let mut stream = connect(running.addr);

        stream.write_all(&[0x16, 0x03, 0x01]).unwrap();
        let received = read_until_closed(&mut stream);

        assert_eq!(received, Some(Vec::new()));
        assert!(counter_reaches(
            &running.metrics,
            "vigil_http_header_timeouts_total",
            1.0
        ));
    }
}
