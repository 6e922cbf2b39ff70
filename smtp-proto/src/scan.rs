//! Block scanning for the DATA decoder's fast path: for 64 bytes at a time,
//! a bit mask of the bytes that need attention (bare CR, bare LF, a dot at
//! a line start) and one of the line ends, so that ordinary text lines are
//! skipped without per-byte or per-line work. Each byte is compared with its
//! neighbours inside the vector registers (loads shifted by one byte).
//!
//! On x86_64 this uses SSE2 (part of the x86_64 baseline, so no runtime
//! detection is needed); elsewhere a portable loop gives the same masks.

/// Bytes per block.
pub(crate) const BLOCK: usize = 64;

/// A block with the byte before it and the byte after it.
pub(crate) const WINDOW: usize = BLOCK + 2;

/// What one block holds, as bit masks (bit `i` is byte `i` of the block).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scan {
    /// Bytes that need the careful path: an LF not preceded by CR, a CR not
    /// followed by LF, or a dot right after an LF (a line that may need
    /// unstuffing or may end the data).
    pub events: u64,
    /// Every LF.
    pub lf: u64,
}

/// Scans the 64-byte block in the middle of `window` (whose first byte is
/// the one before the block and whose last byte is the one after it), one
/// byte at a time: the version for other targets, and the reference the
/// vector versions are tested against.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
pub(crate) fn portable_scan(window: &[u8; WINDOW]) -> Scan {
    let mut s = Scan { events: 0, lf: 0 };
    for i in 0..BLOCK {
        let (prev, b, next) = (window[i], window[i + 1], window[i + 2]);
        let event = (b == b'\n' && prev != b'\r')
            || (b == b'\r' && next != b'\n')
            || (b == b'.' && prev == b'\n');
        s.events |= u64::from(event) << i;
        s.lf |= u64::from(b == b'\n') << i;
    }
    s
}

/// Where [`skip_blocks`] stopped, and the length of the line in progress
/// there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Skipped {
    pub pos: usize,
    pub line_len: usize,
}

/// Skips whole blocks of ordinary text starting at `pos` (which must be at
/// least 1: the byte before is part of each scan): blocks with no event, no
/// CR in their last byte and no line longer than `max`. `line_len` is the
/// length of the line in progress at `pos`.
pub(crate) fn skip_blocks(input: &[u8], pos: usize, line_len: usize, max: usize) -> Skipped {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            #[allow(unsafe_code)]
            return unsafe { avx2::skip(input, pos, line_len, max) };
        }
        skip_with(input, pos, line_len, max, sse2::scan)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        skip_with(input, pos, line_len, max, portable_scan)
    }
}

/// The block loop, generic over the scanner so that each instruction set
/// gets its own inlined copy.
#[inline(always)]
fn skip_with(
    input: &[u8],
    mut pos: usize,
    mut line_len: usize,
    max: usize,
    scan: impl Fn(&[u8; WINDOW]) -> Scan,
) -> Skipped {
    // Below this, no line ending in the next block (and the LF after it)
    // can exceed `max`.
    let short = max.saturating_sub(BLOCK + 1);
    while let Some(window) = input
        .get(pos.wrapping_sub(1)..pos + BLOCK + 1)
        .and_then(|w| w.first_chunk::<WINDOW>())
    {
        let s = scan(window);
        if s.events != 0 || (line_len > short && !lines_within(s.lf, line_len, max)) {
            break;
        }
        // No bare LF or CR in the block: every LF ends a CRLF line, and a CR
        // in the last byte is followed by the LF just past the block, which
        // is taken too so that the caller never lands between CR and LF.
        let tail = if s.lf == 0 {
            line_len + BLOCK
        } else {
            s.lf.leading_zeros() as usize
        };
        if window[BLOCK] == b'\r' {
            if tail + 1 > max {
                break;
            }
            line_len = 0;
            pos += BLOCK + 1;
        } else {
            line_len = tail;
            pos += BLOCK;
        }
    }
    Skipped { pos, line_len }
}

/// Whether every line ending in a block (LF bits in `lf`) is within `max`
/// bytes, CRLF included, given `carried` bytes of the first line before it.
fn lines_within(mut lf: u64, carried: usize, max: usize) -> bool {
    let mut start = 0;
    let mut len = carried;
    while lf != 0 {
        let k = lf.trailing_zeros() as usize;
        if len + k + 1 - start > max {
            return false;
        }
        len = 0;
        start = k + 1;
        lf &= lf - 1;
    }
    true
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod sse2 {
    use std::arch::x86_64::{
        __m128i, _mm_and_si128, _mm_andnot_si128, _mm_cmpeq_epi8, _mm_loadu_si128,
        _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };

    use super::{Scan, WINDOW};

    #[inline(always)]
    pub(super) fn scan(window: &[u8; WINDOW]) -> Scan {
        // SAFETY: SSE2 is part of the x86_64 baseline, so these intrinsics
        // are always available. For lane i (0..4) the loads read 16 bytes at
        // offsets 16i, 16i + 1 and 16i + 2 of a 66-byte array; the last one
        // ends at 16 * 3 + 2 + 16 = 66, in bounds. Unaligned loads have no
        // alignment requirement.
        unsafe {
            let base = window.as_ptr();
            let lf = _mm_set1_epi8(b'\n' as i8);
            let cr = _mm_set1_epi8(b'\r' as i8);
            let dot = _mm_set1_epi8(b'.' as i8);
            let mut s = Scan { events: 0, lf: 0 };
            for i in 0..4 {
                let prev = _mm_loadu_si128(base.add(16 * i).cast::<__m128i>());
                let cur = _mm_loadu_si128(base.add(16 * i + 1).cast::<__m128i>());
                let next = _mm_loadu_si128(base.add(16 * i + 2).cast::<__m128i>());
                let is_lf = _mm_cmpeq_epi8(cur, lf);
                let bare_lf = _mm_andnot_si128(_mm_cmpeq_epi8(prev, cr), is_lf);
                let bare_cr = _mm_andnot_si128(_mm_cmpeq_epi8(next, lf), _mm_cmpeq_epi8(cur, cr));
                let dot_start = _mm_and_si128(_mm_cmpeq_epi8(cur, dot), _mm_cmpeq_epi8(prev, lf));
                let events = _mm_or_si128(_mm_or_si128(bare_lf, bare_cr), dot_start);
                let shift = 16 * i;
                s.events |= u64::from(_mm_movemask_epi8(events) as u16) << shift;
                s.lf |= u64::from(_mm_movemask_epi8(is_lf) as u16) << shift;
            }
            s
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod avx2 {
    use std::arch::x86_64::{
        __m256i, _mm256_and_si256, _mm256_andnot_si256, _mm256_cmpeq_epi8, _mm256_loadu_si256,
        _mm256_movemask_epi8, _mm256_or_si256, _mm256_set1_epi8,
    };

    use super::{Scan, Skipped, WINDOW, skip_with};

    /// The block loop compiled for AVX2.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn skip(input: &[u8], pos: usize, line_len: usize, max: usize) -> Skipped {
        // SAFETY (for the closure): this function only runs where AVX2 is
        // available, which is all `scan` needs.
        skip_with(input, pos, line_len, max, |w| unsafe { scan(w) })
    }

    /// Two 32-byte lanes per block; see the SSE2 version.
    #[target_feature(enable = "avx2")]
    unsafe fn scan(window: &[u8; WINDOW]) -> Scan {
        // SAFETY: for lane i (0..2) the loads read 32 bytes at offsets 32i,
        // 32i + 1 and 32i + 2 of a 66-byte array; the last ends at
        // 32 + 2 + 32 = 66, in bounds. Unaligned loads need no alignment.
        unsafe {
            let base = window.as_ptr();
            let lf = _mm256_set1_epi8(b'\n' as i8);
            let cr = _mm256_set1_epi8(b'\r' as i8);
            let dot = _mm256_set1_epi8(b'.' as i8);
            let mut s = Scan { events: 0, lf: 0 };
            for i in 0..2 {
                let prev = _mm256_loadu_si256(base.add(32 * i).cast::<__m256i>());
                let cur = _mm256_loadu_si256(base.add(32 * i + 1).cast::<__m256i>());
                let next = _mm256_loadu_si256(base.add(32 * i + 2).cast::<__m256i>());
                let is_lf = _mm256_cmpeq_epi8(cur, lf);
                let bare_lf = _mm256_andnot_si256(_mm256_cmpeq_epi8(prev, cr), is_lf);
                let bare_cr =
                    _mm256_andnot_si256(_mm256_cmpeq_epi8(next, lf), _mm256_cmpeq_epi8(cur, cr));
                let dot_start =
                    _mm256_and_si256(_mm256_cmpeq_epi8(cur, dot), _mm256_cmpeq_epi8(prev, lf));
                let events = _mm256_or_si256(_mm256_or_si256(bare_lf, bare_cr), dot_start);
                let shift = 32 * i;
                s.events |= u64::from(_mm256_movemask_epi8(events) as u32) << shift;
                s.lf |= u64::from(_mm256_movemask_epi8(is_lf) as u32) << shift;
            }
            s
        }
    }

    #[cfg(test)]
    pub(super) fn scan_checked(window: &[u8; WINDOW]) -> Option<Scan> {
        // SAFETY: only called after checking the CPU supports AVX2.
        std::arch::is_x86_feature_detected!("avx2").then(|| unsafe { scan(window) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simd_scan_equals_portable_scan() {
        let mut block = [b'a'; WINDOW];
        let mut seed = 0x1234_5678_9abc_def0u64;
        for _ in 0..2000 {
            for b in block.iter_mut() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                *b = match seed % 8 {
                    0 => b'\n',
                    1 => b'\r',
                    2 => b'.',
                    _ => (seed >> 8) as u8,
                };
            }
            #[cfg(target_arch = "x86_64")]
            assert_eq!(sse2::scan(&block), portable_scan(&block));
            #[cfg(target_arch = "x86_64")]
            if let Some(wide) = avx2::scan_checked(&block) {
                assert_eq!(wide, portable_scan(&block));
            }
        }
    }
}
