//! Tests of delivery: the outbox, message building, and how SMTP failures
//! are classified (against scripted servers on loopback).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

use mailparse::MailHeaderMap;

use super::*;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn email() -> RenderedEmail {
    RenderedEmail {
        subject: "[vigil] HIGH api_key_compromise for user alice (INC-1)".to_owned(),
        text: "Plain body: create a new API key.\n".to_owned(),
        html: "<p>HTML body: create a new API key.</p>\n".to_owned(),
    }
}

fn outbox_config(dir: &std::path::Path) -> EmailConfig {
    EmailConfig {
        outbox_dir: dir.display().to_string(),
        ..EmailConfig::default()
    }
}

fn smtp_config(port: u16) -> EmailConfig {
    EmailConfig {
        smtp_host: "127.0.0.1".to_owned(),
        smtp_port: port,
        tls: TlsMode::None,
        timeout_secs: 5,
        ..EmailConfig::default()
    }
}

fn send(mailer: &Mailer, to: &[&str]) -> Result<(), DeliveryError> {
    let to: Vec<String> = to.iter().map(|s| (*s).to_owned()).collect();
    runtime().block_on(mailer.send(&to, &email(), "INC-1.email_team"))
}

#[test]
fn without_smtp_host_a_message_file_appears_in_the_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox");
    let mailer = Mailer::from_config(&outbox_config(&outbox)).unwrap();
    assert!(!mailer.uses_smtp());

    send(&mailer, &["soc@example.com", "alice@example.com"]).unwrap();

    let path = outbox.join("INC-1.email_team.eml");
    let bytes = std::fs::read(&path).unwrap();
    let parsed = mailparse::parse_mail(&bytes).unwrap();
    let header = |name: &str| parsed.headers.get_first_value(name).unwrap();
    assert_eq!(header("Message-ID"), "<INC-1.email_team@localhost>");
    assert_eq!(header("From"), "vigil@localhost");
    assert_eq!(header("To"), "soc@example.com, alice@example.com");
    assert_eq!(header("Subject"), email().subject);
    assert_eq!(header("Auto-Submitted"), "auto-generated");

    assert_eq!(parsed.ctype.mimetype, "multipart/alternative");
    let parts: Vec<(String, String)> = parsed
        .subparts
        .iter()
        .map(|part| (part.ctype.mimetype.clone(), part.get_body().unwrap()))
        .collect();
    assert_eq!(parts.len(), 2, "{parts:?}");
    assert_eq!(parts[0].0, "text/plain");
    assert!(parts[0].1.contains("Plain body"), "{parts:?}");
    assert_eq!(parts[1].0, "text/html");
    assert!(parts[1].1.contains("<p>HTML body"), "{parts:?}");
}

#[test]
fn the_message_id_is_derived_from_the_key_and_the_senders_domain() {
    let config = EmailConfig {
        from: "vigil alerts <alerts@corp.example>".to_owned(),
        ..EmailConfig::default()
    };
    let mailer = Mailer::from_config(&config).unwrap();
    assert_eq!(
        mailer.message_id_for("INC-20261203-00a1b2c3d4.email_user"),
        "<INC-20261203-00a1b2c3d4.email_user@corp.example>"
    );
    let odd = mailer.message_id_for("INC 1/email");
    assert!(
        odd.starts_with("<INC_1_email-") && odd.ends_with("@corp.example>"),
        "{odd}"
    );
}

#[test]
fn a_message_needs_a_recipient_and_valid_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let mailer = Mailer::from_config(&outbox_config(dir.path())).unwrap();

    let none = send(&mailer, &[]).unwrap_err();
    assert!(matches!(none, DeliveryError::NoRecipients { .. }), "{none}");
    assert!(!none.is_transient());

    let bad = send(&mailer, &["soc@example.com", "not an address"]).unwrap_err();
    assert!(matches!(bad, DeliveryError::BadAddress { .. }), "{bad}");
    assert!(!bad.is_transient());
}

#[test]
fn a_bad_sender_is_a_setup_error_naming_the_key() {
    let config = EmailConfig {
        from: "nobody".to_owned(),
        ..EmailConfig::default()
    };
    let error = Mailer::from_config(&config).unwrap_err();
    assert!(
        error.to_string().starts_with("email.from: \"nobody\""),
        "{error}"
    );
}

#[test]
fn a_password_is_never_sent_unencrypted_to_another_host() {
    let credentials = || Some(Credentials::new("user".to_owned(), "pw".to_owned()));
    let remote = EmailConfig {
        smtp_host: "mail.example.com".to_owned(),
        tls: TlsMode::None,
        ..EmailConfig::default()
    };
    let error = Mailer::with_credentials(&remote, credentials()).unwrap_err();
    assert!(
        matches!(error, EmailSetupError::PlaintextCredentials { .. }),
        "{error}"
    );
    assert!(!error.to_string().contains("pw"), "{error}");

    let local = smtp_config(2525);
    assert!(Mailer::with_credentials(&local, credentials()).is_ok());
}

#[test]
fn tls_modes_build_without_contacting_the_server() {
    for tls in [TlsMode::StartTls, TlsMode::Tls] {
        let config = EmailConfig {
            smtp_host: "mail.example.com".to_owned(),
            tls,
            ..EmailConfig::default()
        };
        let mailer = Mailer::from_config(&config).unwrap();
        assert!(mailer.uses_smtp());
        assert!(!format!("{mailer:?}").contains("Credentials"));
    }
}

#[test]
fn a_refused_connection_is_transient() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mailer = Mailer::from_config(&smtp_config(port)).unwrap();
    let error = send(&mailer, &["soc@example.com"]).unwrap_err();
    assert!(
        matches!(error, DeliveryError::Unreachable { .. }),
        "{error:?}"
    );
    assert!(error.is_transient());
}

#[test]
fn a_4xx_reply_is_transient_and_a_5xx_reply_is_permanent() {
    let deferred = send_to_scripted("451 4.3.0 try again later");
    assert!(
        matches!(deferred, DeliveryError::Deferred { code: 451, .. }),
        "{deferred:?}"
    );
    assert!(deferred.is_transient());

    let rejected = send_to_scripted("550 5.1.1 <soc@example.com> no such user");
    assert!(
        matches!(rejected, DeliveryError::Rejected { code: 550, .. }),
        "{rejected:?}"
    );
    assert!(!rejected.is_transient());
    assert!(!rejected.to_string().contains("soc@"), "{rejected}");
}

#[test]
fn a_server_closing_mid_conversation_is_transient() {
    let error = send_to_scripted("");
    assert!(error.is_transient(), "{error:?}");
}

/// Sends one message to a server that greets, accepts EHLO and then gives
/// `mail_reply` to `MAIL FROM` (closing the connection when it is empty).
fn send_to_scripted(mail_reply: &str) -> DeliveryError {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let reply = mail_reply.to_owned();
    let server = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        converse(&stream, &reply);
    });
    let mailer = Mailer::from_config(&smtp_config(port)).unwrap();
    let error = send(&mailer, &["soc@example.com"]).unwrap_err();
    server.join().unwrap();
    error
}

fn converse(stream: &TcpStream, mail_reply: &str) {
    let mut writer = stream;
    let mut reader = BufReader::new(stream);
    writer.write_all(b"220 scripted ESMTP\r\n").unwrap();
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap_or(0) > 0 {
        let command = line.to_ascii_uppercase();
        let answer = if command.starts_with("EHLO") || command.starts_with("HELO") {
            "250 scripted".to_owned()
        } else if command.starts_with("MAIL") {
            if mail_reply.is_empty() {
                return;
            }
            mail_reply.to_owned()
        } else if command.starts_with("QUIT") {
            let _ = writer.write_all(b"221 bye\r\n");
            return;
        } else {
            "250 ok".to_owned()
        };
        if writer
            .write_all(format!("{answer}\r\n").as_bytes())
            .is_err()
        {
            return;
        }
        line.clear();
    }
}
