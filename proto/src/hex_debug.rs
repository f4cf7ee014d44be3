//! `Debug` helpers that print binary fields as hex instead of byte-array noise.

use std::fmt;

/// Longest run of bytes printed in full; longer fields show their start and length.
const PREVIEW_BYTES: usize = 32;

/// Formats bytes as lowercase hex, abbreviated past [`PREVIEW_BYTES`].
pub(crate) struct Hex<'a>(pub(crate) &'a [u8]);

impl fmt::Debug for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = self.0.get(..PREVIEW_BYTES).unwrap_or(self.0);
        for b in shown {
            write!(f, "{b:02x}")?;
        }
        if shown.len() < self.0.len() {
            write!(f, "… ({} bytes)", self.0.len())?;
        }
        Ok(())
    }
}
