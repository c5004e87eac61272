//! A minimal blocking MQTT 5.0 client for tests (CONNECT, SUBSCRIBE, PUBLISH QoS 0/1, PUBACK
//! and SUBACK reason codes, incoming PUBLISH). Hand-written rather than `rumqttc`: the tests
//! need hundreds of short-lived connections with one exact reason code each, which a blocking
//! socket gives in a few lines without an async runtime. Every read has a deadline.
//!
//! Packet layouts: MQTT 5.0 §3.1 (CONNECT), §3.2 (CONNACK), §3.3 (PUBLISH), §3.4 (PUBACK),
//! §3.8 (SUBSCRIBE), §3.9 (SUBACK); variable byte integers §1.5.5.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Longest packet accepted from the broker.
const MAX_PACKET: usize = 1 << 20;

/// A received application message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub topic: String,
    pub payload: Vec<u8>,
}

/// One connection.
pub struct Client {
    stream: TcpStream,
    next_id: u16,
    /// Messages that arrived while waiting for an acknowledgement.
    pending: std::collections::VecDeque<Message>,
}

fn varint(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let mut b = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            b |= 0x80;
        }
        out.push(b);
        if n == 0 {
            break;
        }
    }
}

fn string(s: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s);
}

fn packet(first: u8, body: &[u8]) -> Vec<u8> {
    let mut p = vec![first];
    varint(body.len(), &mut p);
    p.extend_from_slice(body);
    p
}

impl Client {
    /// Connects (clean start, keep-alive 60 s) and returns the CONNACK reason code with the
    /// client, or an error when the TCP connection fails.
    pub fn connect(
        port: u16,
        client_id: &str,
        username: Option<&str>,
    ) -> std::io::Result<(Client, u8)> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_nodelay(true)?;
        let mut c = Client {
            stream,
            next_id: 1,
            pending: Default::default(),
        };
        let mut body = Vec::new();
        string(b"MQTT", &mut body);
        body.push(5);
        body.push(0x02 | if username.is_some() { 0x80 } else { 0 });
        body.extend_from_slice(&60u16.to_be_bytes());
        body.push(0); // properties
        string(client_id.as_bytes(), &mut body);
        if let Some(u) = username {
            string(u.as_bytes(), &mut body);
        }
        c.stream.write_all(&packet(0x10, &body))?;
        let (kind, body) = c.read_packet(Instant::now() + super::STEP)?;
        assert_eq!(kind >> 4, 2, "expected CONNACK");
        let rc = *body.get(1).expect("CONNACK reason code");
        Ok((c, rc))
    }

    /// Subscribes to one filter at QoS 0 and returns the SUBACK reason code.
    pub fn subscribe(&mut self, filter: &str) -> u8 {
        self.subscribe_qos(filter, 0)
    }

    /// Subscribes to one filter at `qos` and returns the SUBACK reason code.
    pub fn subscribe_qos(&mut self, filter: &str, qos: u8) -> u8 {
        let id = self.id();
        let mut body = id.to_be_bytes().to_vec();
        body.push(0);
        string(filter.as_bytes(), &mut body);
        body.push(qos & 3); // no other options
        self.stream
            .write_all(&packet(0x82, &body))
            .expect("send SUBSCRIBE");
        let body = self.wait_for(9, id);
        // packet id, property length (varint; empty here), then one reason code per filter
        let props = usize::from(*body.get(2).expect("SUBACK properties"));
        *body.get(3 + props).expect("SUBACK reason code")
    }

    /// Publishes at QoS 1 and returns the PUBACK reason code (0x00 when omitted).
    pub fn publish_qos1(&mut self, topic: &str, payload: &[u8]) -> u8 {
        let id = self.send_qos1(topic, payload);
        let body = self.wait_for(4, id);
        body.get(2).copied().unwrap_or(0)
    }

    /// Sends a QoS 1 PUBLISH without waiting; returns its packet id (see [`Client::next_ack`]).
    pub fn send_qos1(&mut self, topic: &str, payload: &[u8]) -> u16 {
        let id = self.id();
        let mut body = Vec::new();
        string(topic.as_bytes(), &mut body);
        body.extend_from_slice(&id.to_be_bytes());
        body.push(0);
        body.extend_from_slice(payload);
        self.stream
            .write_all(&packet(0x32, &body))
            .expect("send PUBLISH");
        id
    }

    /// Waits for the next PUBACK: (packet id, reason code).
    pub fn next_ack(&mut self) -> (u16, u8) {
        let deadline = Instant::now() + super::STEP;
        loop {
            let (k, body) = self.read_packet(deadline).expect("PUBACK");
            if k >> 4 == 4 && body.len() >= 2 {
                return (
                    u16::from_be_bytes([body[0], body[1]]),
                    body.get(2).copied().unwrap_or(0),
                );
            }
        }
    }

    /// Publishes at QoS 0 (no acknowledgement).
    pub fn publish_qos0(&mut self, topic: &str, payload: &[u8]) {
        let mut body = Vec::new();
        string(topic.as_bytes(), &mut body);
        body.push(0);
        body.extend_from_slice(payload);
        self.stream
            .write_all(&packet(0x30, &body))
            .expect("send PUBLISH");
    }

    /// The next application message, or `None` at the deadline.
    pub fn next_message(&mut self, deadline: Instant) -> Option<Message> {
        if let Some(m) = self.pending.pop_front() {
            return Some(m);
        }
        loop {
            let (kind, body) = self.read_packet(deadline).ok()?;
            if kind >> 4 == 3 {
                return Some(self.decode_publish(kind, &body));
            }
        }
    }

    fn id(&mut self) -> u16 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        id
    }

    /// Reads packets until the acknowledgement of `kind` (4 PUBACK, 9 SUBACK) for `id`;
    /// application messages met on the way are kept.
    fn wait_for(&mut self, kind: u8, id: u16) -> Vec<u8> {
        let deadline = Instant::now() + super::STEP;
        loop {
            let (k, body) = self
                .read_packet(deadline)
                .unwrap_or_else(|e| panic!("no acknowledgement {kind} for {id}: {e}"));
            if k >> 4 == 3 {
                let m = self.decode_publish(k, &body);
                self.pending.push_back(m);
            } else if k >> 4 == kind && body.get(..2) == Some(&id.to_be_bytes()[..]) {
                return body;
            }
        }
    }

    fn decode_publish(&mut self, first: u8, body: &[u8]) -> Message {
        let qos = (first >> 1) & 3;
        let len = usize::from(u16::from_be_bytes([body[0], body[1]]));
        let topic = String::from_utf8_lossy(&body[2..2 + len]).into_owned();
        let mut at = 2 + len;
        if qos > 0 {
            let id = [body[at], body[at + 1]];
            at += 2;
            // acknowledge, so the broker does not resend
            let ack = if qos == 1 { 0x40 } else { 0x50 };
            let _ = self.stream.write_all(&packet(ack, &id));
        }
        let (props, used) = read_varint(&body[at..]);
        at += used + props;
        Message {
            topic,
            payload: body[at..].to_vec(),
        }
    }

    fn read_packet(&mut self, deadline: Instant) -> std::io::Result<(u8, Vec<u8>)> {
        let mut first = [0u8];
        self.read_exact_by(&mut first, deadline)?;
        let mut len = 0usize;
        let mut shift = 0;
        loop {
            let mut b = [0u8];
            self.read_exact_by(&mut b, deadline)?;
            len |= usize::from(b[0] & 0x7f) << shift;
            shift += 7;
            if b[0] & 0x80 == 0 {
                break;
            }
            if shift > 21 {
                return Err(std::io::Error::other("bad remaining length"));
            }
        }
        if len > MAX_PACKET {
            return Err(std::io::Error::other("packet too large"));
        }
        let mut body = vec![0u8; len];
        self.read_exact_by(&mut body, deadline)?;
        Ok((first[0], body))
    }

    fn read_exact_by(&mut self, buf: &mut [u8], deadline: Instant) -> std::io::Result<()> {
        let mut filled = 0;
        while filled < buf.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(std::io::ErrorKind::TimedOut.into());
            }
            self.stream
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
            match self.stream.read(&mut buf[filled..]) {
                Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => filled += n,
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    return Err(std::io::ErrorKind::TimedOut.into());
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

fn read_varint(b: &[u8]) -> (usize, usize) {
    let mut n = 0usize;
    for (i, byte) in b.iter().take(4).enumerate() {
        n |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return (n, i + 1);
        }
    }
    (n, b.len().min(4))
}

impl Drop for Client {
    fn drop(&mut self) {
        // DISCONNECT, normal
        let _ = self.stream.write_all(&[0xe0, 0x00]);
    }
}
