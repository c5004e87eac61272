//! Several processes write one CA database at once, each opening it afresh (a running `serve`
//! issuing and reloading, `pki revoke`, `pki crl`): every transaction that writes must take the
//! write lock before it reads. A deferred one that read first and then wrote while another
//! connection wrote got SQLITE_BUSY, which SQLite returns at once, without the busy timeout:
//! `pki revoke` failed under concurrent enrollment (seen once in `est_reload`'s concurrent test;
//! this test failed 4 runs in 4 that way before the fix).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use iotsec_pki::store::{CertStore, IssuedRecord, SqliteStore};

fn record(serial: u32) -> IssuedRecord {
    IssuedRecord {
        serial: serial.to_be_bytes().to_vec(),
        subject_der: vec![0x30, 0x00],
        cert_der: vec![0x30, 0x00],
        not_after: i64::MAX,
    }
}

#[test]
fn revocations_and_crl_numbers_succeed_while_other_connections_issue() {
    let dir = std::env::temp_dir().join(format!("iotsec-store-concurrency-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("pki.sqlite");
    drop(SqliteStore::open(&db).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let writing = Arc::new(AtomicU32::new(0));
    let writers: Vec<_> = (0..4u32)
        .map(|w| {
            let (db, stop, writing) = (db.clone(), stop.clone(), writing.clone());
            std::thread::spawn(move || {
                let mut n = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    // Each write on a fresh connection, as `pki` commands and a reloading
                    // server open the database.
                    let mut store = SqliteStore::open(&db).unwrap();
                    store.record_issued(&record((w + 1) << 24 | n)).unwrap();
                    if n == 1 {
                        writing.fetch_add(1, Ordering::SeqCst);
                    }
                    // An issuing server does some work (CSR check, signature) between writes.
                    std::thread::sleep(std::time::Duration::from_micros(300));
                }
                n
            })
        })
        .collect();
    // Every writer is writing before the revocations start.
    let started = std::time::Instant::now();
    while writing.load(Ordering::SeqCst) < 4 {
        assert!(started.elapsed().as_secs() < 30, "writers did not start");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let mut last_crl = 0;
    for i in 0..1000u32 {
        let mut store = SqliteStore::open(&db).unwrap();
        store.record_issued(&record(i)).unwrap();
        match store.revoke(&i.to_be_bytes(), 1, 1_700_000_000) {
            Ok(true) => {}
            other => panic!("revocation {i}: {other:?}"),
        }
        let crl = store.next_crl_number().unwrap();
        assert!(crl > last_crl);
        last_crl = crl;
    }
    stop.store(true, Ordering::Relaxed);
    let store = SqliteStore::open(&db).unwrap();
    let issued_by_others: u32 = writers.into_iter().map(|w| w.join().unwrap()).sum();
    assert!(issued_by_others >= 4);
    assert_eq!(
        store.issued_count().unwrap(),
        1000 + u64::from(issued_by_others)
    );
    assert_eq!(store.revocations(0).unwrap().len(), 1000);
    let _ = std::fs::remove_dir_all(&dir);
}
