//! The journal's record format.
//!
//! Every record is a frame:
//!
//! ```text
//! u32 LE   length of the body
//! u32 LE   CRC-32 (IEEE) of the body
//! body:    u8 kind, u64 LE queue ID (milliseconds << 16 | sequence), then
//!   'M'    u32 LE header length, u32 LE state length, the message header
//!          (the spool's text format), the state text (empty: the initial
//!          state), the message data
//!   'S'    the state text
//!   'D'    nothing: the message is gone
//! ```
//!
//! A frame whose length runs past the end of the file, whose length is too
//! small for a body, or whose CRC does not match ends the readable part of
//! a segment: a write torn by a crash.

use crate::id::QueueId;
use crate::time::Timestamp;

/// Frame header: length and CRC.
pub(crate) const FRAME: usize = 8;
/// Kind and ID.
const BODY_HEAD: usize = 9;
/// Header and state lengths of an `M` body.
const MESSAGE_HEAD: usize = 8;
/// The largest body read back (1 GiB): a length above it is corruption.
pub(crate) const MAX_BODY: usize = 1 << 30;

/// The record kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Message,
    State,
    Delete,
}

impl Kind {
    fn byte(self) -> u8 {
        match self {
            Kind::Message => b'M',
            Kind::State => b'S',
            Kind::Delete => b'D',
        }
    }

    fn from_byte(b: u8) -> Option<Self> {
        match b {
            b'M' => Some(Kind::Message),
            b'S' => Some(Kind::State),
            b'D' => Some(Kind::Delete),
            _ => None,
        }
    }
}

fn id_bits(id: QueueId) -> u64 {
    (id.time().unix_millis() << 16) | u64::from(id.seq())
}

fn id_from_bits(bits: u64) -> QueueId {
    QueueId::from_parts(Timestamp::from_unix_millis(bits >> 16), bits as u16)
}

/// One encoded record: the frame and body head, then the parts that follow
/// them (kept apart so that message data is not copied).
#[derive(Debug)]
pub(crate) struct Encoded {
    pub head: Vec<u8>,
    pub parts: Vec<bytes::Bytes>,
}

impl Encoded {
    /// The whole record's length.
    pub(crate) fn len(&self) -> u64 {
        (self.head.len() + self.parts.iter().map(|p| p.len()).sum::<usize>()) as u64
    }
}

fn frame(kind: Kind, id: QueueId, extra_head: &[u8], parts: Vec<bytes::Bytes>) -> Encoded {
    let mut crc = crc32fast::Hasher::new();
    let mut body_head = Vec::with_capacity(BODY_HEAD + extra_head.len());
    body_head.push(kind.byte());
    body_head.extend_from_slice(&id_bits(id).to_le_bytes());
    body_head.extend_from_slice(extra_head);
    crc.update(&body_head);
    let mut body_len = body_head.len();
    for p in &parts {
        crc.update(p);
        body_len += p.len();
    }
    let mut head = Vec::with_capacity(FRAME + body_head.len());
    // Bodies are bounded by the message size limit, far below 4 GiB; a
    // larger one is refused before it gets here (see `Journal::submit`).
    head.extend_from_slice(&u32::try_from(body_len).unwrap_or(u32::MAX).to_le_bytes());
    head.extend_from_slice(&crc.finalize().to_le_bytes());
    head.extend_from_slice(&body_head);
    Encoded { head, parts }
}

/// An `M` record. The data starts [`message_data_offset`] bytes into it.
pub(crate) fn message(id: QueueId, header: &[u8], state: &[u8], data: bytes::Bytes) -> Encoded {
    let mut lens = [0u8; MESSAGE_HEAD];
    lens[..4].copy_from_slice(&(header.len() as u32).to_le_bytes());
    lens[4..].copy_from_slice(&(state.len() as u32).to_le_bytes());
    let mut meta = Vec::with_capacity(header.len() + state.len());
    meta.extend_from_slice(header);
    meta.extend_from_slice(state);
    frame(Kind::Message, id, &lens, vec![meta.into(), data])
}

/// Where an `M` record's data starts, from the record's start.
pub(crate) fn message_data_offset(header_len: usize, state_len: usize) -> u64 {
    (FRAME + BODY_HEAD + MESSAGE_HEAD + header_len + state_len) as u64
}

/// An `S` record.
pub(crate) fn state(id: QueueId, text: &str) -> Encoded {
    frame(
        Kind::State,
        id,
        &[],
        vec![bytes::Bytes::copy_from_slice(text.as_bytes())],
    )
}

/// A `D` record.
pub(crate) fn delete(id: QueueId) -> Encoded {
    frame(Kind::Delete, id, &[], Vec::new())
}

/// A record read back.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Record<'a> {
    Message {
        id: QueueId,
        header: &'a [u8],
        state: &'a [u8],
        /// The data's offset from the record's start.
        data_offset: u64,
        data_len: u64,
    },
    State {
        id: QueueId,
        text: &'a [u8],
    },
    Delete {
        id: QueueId,
    },
}

/// Why the bytes at some offset are not a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Bad {
    /// The frame runs past the end: a torn write (or nothing at all).
    Truncated,
    /// The frame is complete but wrong: length, CRC, kind or lengths.
    Invalid(&'static str),
}

/// Reads the record at the start of `buf`; returns it and its length.
pub(crate) fn read(buf: &[u8]) -> Result<(Record<'_>, usize), Bad> {
    let Some(frame_head) = buf.get(..FRAME) else {
        return Err(Bad::Truncated);
    };
    let len = u32::from_le_bytes([frame_head[0], frame_head[1], frame_head[2], frame_head[3]]);
    let crc = u32::from_le_bytes([frame_head[4], frame_head[5], frame_head[6], frame_head[7]]);
    let len = len as usize;
    if !(BODY_HEAD..=MAX_BODY).contains(&len) {
        return Err(Bad::Invalid("record length out of range"));
    }
    let Some(body) = buf.get(FRAME..FRAME + len) else {
        return Err(Bad::Truncated);
    };
    if crc32fast::hash(body) != crc {
        return Err(Bad::Invalid("checksum mismatch"));
    }
    let kind = Kind::from_byte(body[0]).ok_or(Bad::Invalid("unknown record kind"))?;
    let mut bits = [0u8; 8];
    bits.copy_from_slice(&body[1..BODY_HEAD]);
    let id = id_from_bits(u64::from_le_bytes(bits));
    let rest = &body[BODY_HEAD..];
    let record = match kind {
        Kind::State => Record::State { id, text: rest },
        Kind::Delete if rest.is_empty() => Record::Delete { id },
        Kind::Delete => return Err(Bad::Invalid("delete record with a body")),
        Kind::Message => {
            let lens = rest
                .get(..MESSAGE_HEAD)
                .ok_or(Bad::Invalid("message record too short"))?;
            let header_len = u32::from_le_bytes([lens[0], lens[1], lens[2], lens[3]]) as usize;
            let state_len = u32::from_le_bytes([lens[4], lens[5], lens[6], lens[7]]) as usize;
            let meta = &rest[MESSAGE_HEAD..];
            let header = meta
                .get(..header_len)
                .ok_or(Bad::Invalid("message header length out of range"))?;
            let state = meta
                .get(header_len..header_len + state_len)
                .ok_or(Bad::Invalid("message state length out of range"))?;
            let data_len = (meta.len() - header_len - state_len) as u64;
            Record::Message {
                id,
                header,
                state,
                data_offset: message_data_offset(header_len, state_len),
                data_len,
            }
        }
    };
    Ok((record, FRAME + len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(e: &Encoded) -> Vec<u8> {
        let mut v = e.head.clone();
        for p in &e.parts {
            v.extend_from_slice(p);
        }
        assert_eq!(v.len() as u64, e.len());
        v
    }

    #[test]
    fn records_read_back() {
        let id = QueueId::from_parts(Timestamp::from_unix_millis(1_700_000_000_123), 7);
        let m = flat(&message(
            id,
            b"HEADER",
            b"STATE",
            bytes::Bytes::from_static(b"DATA!"),
        ));
        let (r, used) = read(&m).unwrap();
        assert_eq!(used, m.len());
        match r {
            Record::Message {
                id: got,
                header,
                state,
                data_offset,
                data_len,
            } => {
                assert_eq!((got, header, state), (id, &b"HEADER"[..], &b"STATE"[..]));
                let start = data_offset as usize;
                assert_eq!(&m[start..start + data_len as usize], b"DATA!");
            }
            other => panic!("{other:?}"),
        }
        let s = flat(&state(id, "some state"));
        assert_eq!(
            read(&s).unwrap().0,
            Record::State {
                id,
                text: b"some state"
            }
        );
        let d = flat(&delete(id));
        assert_eq!(read(&d).unwrap(), (Record::Delete { id }, d.len()));
    }

    #[test]
    fn every_cut_and_every_flipped_byte_is_refused() {
        let id = QueueId::from_parts(Timestamp::from_unix_millis(42), 1);
        let m = flat(&message(id, b"H", b"", bytes::Bytes::from_static(b"xyz")));
        for cut in 0..m.len() {
            assert!(read(&m[..cut]).is_err(), "cut at {cut}");
        }
        for i in 0..m.len() {
            let mut bad = m.clone();
            bad[i] ^= 0x40;
            assert!(read(&bad).is_err(), "flipped byte {i}");
        }
        assert_eq!(
            read(&[0; 64]),
            Err(Bad::Invalid("record length out of range"))
        );
    }
}
