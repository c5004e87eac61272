//! A bounded slow-client (slowloris) attacker on loopback: from each of a few source addresses
//! (127.0.0.2, 127.0.0.3, ...: all of 127/8 is loopback on Linux) it keeps `per_source`
//! connections open, each sending one byte of a TLS record header every `trickle_every`, and
//! opens a new one whenever the server closes one, until `run_for` has passed.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

/// A connection the server closed sooner than this after it was opened was refused (not
/// admitted), not cut by a deadline.
pub const REFUSED_WITHIN: Duration = Duration::from_millis(300);

/// What the attacker saw.
#[derive(Debug, Default)]
pub struct AttackReport {
    /// Connections opened.
    pub opened: usize,
    /// Connections the server closed within [`REFUSED_WITHIN`].
    pub refused: usize,
    /// How long each other connection the server closed was held.
    pub held_for: Vec<Duration>,
}

/// The first bytes of a TLS handshake record (ClientHello, 512 bytes announced).
const RECORD_HEADER: [u8; 5] = [0x16, 0x03, 0x01, 0x02, 0x00];

/// Runs the attack against 127.0.0.1:`port` on a thread of its own.
pub fn start(
    port: u16,
    sources: &[Ipv4Addr],
    per_source: usize,
    trickle_every: Duration,
    run_for: Duration,
) -> std::thread::JoinHandle<AttackReport> {
    let sources = sources.to_vec();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let end = Instant::now() + run_for;
            let server = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let mut tasks = tokio::task::JoinSet::new();
            for source in sources {
                for _ in 0..per_source {
                    tasks.spawn(slow_connections(source, server, trickle_every, end));
                }
            }
            let mut report = AttackReport::default();
            while let Some(r) = tasks.join_next().await {
                let r = r.unwrap();
                report.opened += r.opened;
                report.refused += r.refused;
                report.held_for.extend(r.held_for);
            }
            report
        })
    })
}

/// One attacker slot: a slow connection, again and again, until `end`.
async fn slow_connections(
    source: Ipv4Addr,
    server: SocketAddr,
    trickle_every: Duration,
    end: Instant,
) -> AttackReport {
    let mut report = AttackReport::default();
    while Instant::now() < end {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind(SocketAddr::from((source, 0))).unwrap();
        let Ok(stream) = sock.connect(server).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        report.opened += 1;
        let opened = Instant::now();
        let (mut rd, mut wr) = stream.into_split();
        let mut sent = 0usize;
        let mut buf = [0u8; 256];
        let mut next_byte = opened;
        let closed = loop {
            tokio::select! {
                r = rd.read(&mut buf) => match r {
                    Ok(0) | Err(_) => break true,
                    Ok(_) => {}
                },
                () = tokio::time::sleep_until(next_byte) => {
                    let byte = RECORD_HEADER[sent % RECORD_HEADER.len()];
                    if wr.write_all(&[byte]).await.is_err() {
                        break true;
                    }
                    sent += 1;
                    next_byte += trickle_every;
                }
                () = tokio::time::sleep_until(end) => break false,
            }
        };
        if closed {
            let lived = opened.elapsed();
            if lived < REFUSED_WITHIN {
                report.refused += 1;
                // A refused attacker retries, but not in a busy loop.
                tokio::time::sleep(Duration::from_millis(100)).await;
            } else {
                report.held_for.push(lived);
            }
        }
    }
    report
}
