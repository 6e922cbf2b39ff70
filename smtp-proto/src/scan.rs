//! Block scanning for the DATA decoder's fast path: for 64 bytes at a time,
//! bit masks of where the line-ending bytes and dots are, so that ordinary
//! text lines are skipped without per-byte work.
//!
//! On x86_64 this uses SSE2 (part of the x86_64 baseline, so no runtime
//! detection is needed); elsewhere a portable loop gives the same masks.

/// Bytes per block.
pub(crate) const BLOCK: usize = 64;

/// Bit `i` of each mask is set when byte `i` of the block is `\n`, `\r`, `.`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Masks {
    pub lf: u64,
    pub cr: u64,
    pub dot: u64,
}

/// The masks of `block`.
#[inline(always)]
pub(crate) fn masks(block: &[u8; BLOCK]) -> Masks {
    #[cfg(target_arch = "x86_64")]
    {
        sse2::masks(block)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        portable_masks(block)
    }
}

/// The portable version (also the reference the SSE2 one is tested against).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
pub(crate) fn portable_masks(block: &[u8; BLOCK]) -> Masks {
    let mut m = Masks {
        lf: 0,
        cr: 0,
        dot: 0,
    };
    for (i, &b) in block.iter().enumerate() {
        m.lf |= u64::from(b == b'\n') << i;
        m.cr |= u64::from(b == b'\r') << i;
        m.dot |= u64::from(b == b'.') << i;
    }
    m
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod sse2 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };

    use super::{BLOCK, Masks};

    #[inline(always)]
    pub(super) fn masks(block: &[u8; BLOCK]) -> Masks {
        // SAFETY: SSE2 is part of the x86_64 baseline, so these intrinsics
        // are always available. Each `_mm_loadu_si128` reads 16 bytes at
        // offset 0, 16, 32 or 48 of a 64-byte array: in bounds, and the
        // unaligned load has no alignment requirement.
        unsafe {
            let ptr = block.as_ptr().cast::<__m128i>();
            let lf = _mm_set1_epi8(b'\n' as i8);
            let cr = _mm_set1_epi8(b'\r' as i8);
            let dot = _mm_set1_epi8(b'.' as i8);
            let mut m = Masks {
                lf: 0,
                cr: 0,
                dot: 0,
            };
            for i in 0..4 {
                let v = _mm_loadu_si128(ptr.add(i));
                let shift = 16 * i;
                m.lf |= u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, lf)) as u16) << shift;
                m.cr |= u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, cr)) as u16) << shift;
                m.dot |= u64::from(_mm_movemask_epi8(_mm_cmpeq_epi8(v, dot)) as u16) << shift;
            }
            m
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simd_masks_equal_portable_masks() {
        let mut block = [b'a'; BLOCK];
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
            assert_eq!(masks(&block), portable_masks(&block));
        }
    }
}
