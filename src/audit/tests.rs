//! Tests of the audit log's chain.

use std::io::Cursor;

use serde_json::json;

use super::*;

fn log_with(records: usize) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let mut log = AuditLog::open(&path).unwrap();
    for n in 0..records {
        log.append(
            AuditKind::ActionAttempt,
            &json!({"n": n, "action": "block_ip"}),
        )
        .unwrap();
    }
    (dir, path)
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn verify_lines(lines: &[String]) -> Result<u64, ChainBreak> {
    verify_chain(Cursor::new(lines.join("\n"))).unwrap()
}

#[test]
fn an_untouched_log_verifies() {
    let (_dir, path) = log_with(5);
    assert_eq!(verify_file(&path).unwrap(), 5);
}

#[test]
fn reopening_continues_the_chain() {
    let (_dir, path) = log_with(3);
    let mut log = AuditLog::open(&path).unwrap();
    assert_eq!(log.records(), 3);
    log.append(AuditKind::Retention, &json!({"removed": 2}))
        .unwrap();
    assert_eq!(verify_file(&path).unwrap(), 4);
}

#[test]
fn an_altered_record_is_reported_at_its_line() {
    let (_dir, path) = log_with(5);
    let mut lines = lines(&path);
    lines[2] = lines[2].replace("\"n\":2", "\"n\":9");
    let brk = verify_lines(&lines).unwrap_err();
    assert_eq!(brk.line, 3);
    assert!(brk.reason.contains("altered"), "{}", brk.reason);
}

#[test]
fn a_removed_record_is_reported_where_the_chain_breaks() {
    let (_dir, path) = log_with(5);
    let mut lines = lines(&path);
    lines.remove(1);
    let brk = verify_lines(&lines).unwrap_err();
    assert_eq!(brk.line, 2);
    assert!(brk.reason.contains("does not follow"), "{}", brk.reason);
}

#[test]
fn a_rehashed_forgery_still_breaks_the_link_to_the_next_record() {
    let (_dir, path) = log_with(4);
    let mut lines = lines(&path);
    let forged = lines[1].replace("\"n\":1", "\"n\":7");
    let marker = forged.rfind(",\"hash\":").unwrap();
    let hash = hex::encode(Sha256::digest(&forged.as_bytes()[..marker]));
    lines[1] = format!("{},\"hash\":\"{hash}\"}}", &forged[..marker]);
    let brk = verify_lines(&lines).unwrap_err();
    assert_eq!(brk.line, 3);
}

#[test]
fn a_line_that_is_not_a_record_is_reported() {
    let (_dir, path) = log_with(2);
    let mut lines = lines(&path);
    lines.push("not json".to_owned());
    let brk = verify_lines(&lines).unwrap_err();
    assert_eq!(brk.line, 3);
}

#[test]
fn a_log_whose_last_line_is_garbage_is_not_extended() {
    let (_dir, path) = log_with(1);
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("garbage\n");
    std::fs::write(&path, text).unwrap();
    assert!(matches!(
        AuditLog::open(&path),
        Err(AuditError::Unreadable { .. })
    ));
}

#[test]
fn the_tail_reader_finds_the_last_line_of_a_long_file() {
    let (_dir, path) = log_with(2_000);
    let log = AuditLog::open(&path).unwrap();
    assert_eq!(log.records(), 2_000);
}

#[test]
fn two_writers_on_one_file_keep_one_chain() {
    let (_dir, path) = log_with(1);
    let mut running = AuditLog::open(&path).unwrap();
    let mut other = AuditLog::open(&path).unwrap();
    other
        .append(AuditKind::Erasure, &json!({"rows": 3}))
        .unwrap();
    running
        .append(AuditKind::ActionAttempt, &json!({"n": 1}))
        .unwrap();
    other
        .append(AuditKind::Retention, &json!({"removed": 1}))
        .unwrap();
    assert_eq!(verify_file(&path).unwrap(), 4);
}
