//! COMPRESS=DEFLATE (RFC 4978): raw deflate in both directions, with a sync
//! flush after every write so that the peer can read each reply at once.

use std::io;

use flate2::{Compress, Decompress, FlushCompress, FlushDecompress, Status};

/// Both halves of a deflate layer.
pub(crate) struct Deflate {
    out: Compress,
    inp: Decompress,
}

impl Deflate {
    pub(crate) fn new() -> Self {
        Self {
            out: Compress::new(flate2::Compression::default(), false),
            inp: Decompress::new(false),
        }
    }

    /// Compresses `data` and flushes.
    pub(crate) fn compress(&mut self, data: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(data.len() / 2 + 64);
        let mut pos = 0;
        loop {
            out.reserve(4096);
            let before = self.out.total_in();
            self.out
                .compress_vec(&data[pos..], &mut out, FlushCompress::Sync)
                .map_err(io::Error::other)?;
            pos += (self.out.total_in() - before) as usize;
            if pos >= data.len() && out.len() < out.capacity() {
                return Ok(out);
            }
        }
    }

    /// Decompresses what arrived. What comes out is bounded by the input
    /// and the inflater's window; the session bounds what it buffers.
    pub(crate) fn decompress(&mut self, data: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(data.len() * 4 + 64);
        let mut pos = 0;
        loop {
            out.reserve(16 * 1024);
            let before = self.inp.total_in();
            let status = self
                .inp
                .decompress_vec(&data[pos..], &mut out, FlushDecompress::Sync)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            pos += (self.inp.total_in() - before) as usize;
            if status == Status::StreamEnd {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the peer ended the deflate stream",
                ));
            }
            if pos >= data.len() && out.len() < out.capacity() {
                return Ok(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deflate_round_trip_in_pieces() {
        let mut server = Deflate::new();
        let mut client = Deflate::new();
        let text: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut got = Vec::new();
        for piece in text.chunks(10_000) {
            let packed = server.compress(piece).unwrap();
            // Each flush is readable on its own.
            got.extend(client.decompress(&packed).unwrap());
            assert_eq!(got.len() % 10_000, 0);
        }
        assert_eq!(got, text);
    }
}
