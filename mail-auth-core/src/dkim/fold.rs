//! Folding a header field to lines of at most 78 characters (RFC 5322
//! §2.1.1), for the signer's output.

/// The longest line written, CRLF not counted.
pub(crate) const LINE_WIDTH: usize = 78;

/// Builds a folded header field. Folds are CRLF followed by one space.
#[derive(Debug, Clone)]
pub(crate) struct Folder {
    out: String,
    line: usize,
}

impl Folder {
    /// Start with `start` (e.g. `DKIM-Signature:`) on the first line.
    pub(crate) fn new(start: &str) -> Self {
        Folder {
            out: start.to_string(),
            line: start.len(),
        }
    }

    fn fold(&mut self) {
        self.out.push_str("\r\n ");
        self.line = 1;
    }

    /// Append a word after a space, folding first if it would not fit.
    pub(crate) fn word(&mut self, w: &str) {
        if self.line + 1 + w.len() > LINE_WIDTH && self.line > 1 {
            self.fold();
        } else {
            self.out.push(' ');
            self.line += 1;
        }
        self.out.push_str(w);
        self.line += w.len();
    }

    /// Append a piece with no space before it, folding first if it would
    /// not fit (use only where the syntax allows FWS).
    pub(crate) fn glue(&mut self, w: &str) {
        if self.line + w.len() > LINE_WIDTH && self.line > 1 {
            self.fold();
        }
        self.out.push_str(w);
        self.line += w.len();
    }

    /// Append ASCII `text`, split anywhere to fill lines (for base64).
    pub(crate) fn split(&mut self, text: &str) {
        let mut rest = text;
        while !rest.is_empty() {
            let room = LINE_WIDTH.saturating_sub(self.line);
            if room == 0 {
                self.fold();
                continue;
            }
            let mut take = room.min(rest.len());
            while !rest.is_char_boundary(take) {
                take -= 1;
            }
            if take == 0 {
                self.fold();
                take = rest.chars().next().map_or(rest.len(), char::len_utf8);
            }
            self.out.push_str(&rest[..take]);
            self.line += take;
            rest = &rest[take..];
        }
    }

    /// Write `h=` with the signed field names (folding only between names),
    /// then `bh=` with the body hash, then the opening of an empty `b=`:
    /// the tail every DKIM-Signature and ARC-Message-Signature shares.
    pub(crate) fn signed_names_and_body_hash(&mut self, names: &[String], body_hash_b64: &str) {
        for (n, name) in names.iter().enumerate() {
            let end = if n + 1 == names.len() { ";" } else { ":" };
            if n == 0 {
                self.word(&format!("h={name}{end}"));
            } else {
                self.glue(&format!("{name}{end}"));
            }
        }
        self.word("bh=");
        self.split(&format!("{body_hash_b64};"));
        self.word("b=");
    }

    /// The text so far.
    pub(crate) fn as_str(&self) -> &str {
        &self.out
    }

    /// The finished field, with its final CRLF.
    pub(crate) fn finish(mut self) -> String {
        self.out.push_str("\r\n");
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_stay_short() {
        let mut f = Folder::new("DKIM-Signature:");
        for _ in 0..20 {
            f.word("abcdefghij;");
        }
        f.word("b=");
        f.split(&"x".repeat(500));
        let out = f.finish();
        assert!(out.ends_with("\r\n"));
        for line in out.trim_end().split("\r\n") {
            assert!(line.len() <= LINE_WIDTH, "{line:?}");
        }
    }
}
