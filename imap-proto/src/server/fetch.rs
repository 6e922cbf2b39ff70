//! FETCH as a resumable job: a FETCH of many messages is answered a few
//! messages at a time, so the output buffer stays near the configured
//! high-water mark however large the mailbox or the bodies.

use super::message::{BinaryError, MessageView, apply_partial};
use super::session::ServerSession;
use super::store::{FlagChange, MailboxStore, MessageMeta, MessageRecord, StoreError};
use crate::fetch::{FetchAttribute, FetchItems, FetchModifiers, Section, SectionText};
use crate::flag::Flag;
use crate::response::{Code, Data, FetchData};
use crate::sequence::SequenceSet;
use crate::tag::Tag;

/// A FETCH in progress.
#[derive(Debug)]
pub(crate) struct FetchJob {
    tag: Tag,
    uid: bool,
    /// (message number, UID), ascending.
    targets: Vec<(u32, u32)>,
    next: usize,
    attrs: Vec<FetchAttribute>,
    changed_since: Option<u64>,
    /// Some message could not be fetched because it was expunged.
    expunged: bool,
    /// A BINARY fetch failed this way.
    failure: Option<(Code, String)>,
}

fn expand(items: FetchItems) -> Vec<FetchAttribute> {
    use FetchAttribute as A;
    match items {
        FetchItems::All => vec![A::Flags, A::InternalDate, A::Rfc822Size, A::Envelope],
        FetchItems::Fast => vec![A::Flags, A::InternalDate, A::Rfc822Size],
        FetchItems::Full => vec![
            A::Flags,
            A::InternalDate,
            A::Rfc822Size,
            A::Envelope,
            A::Body,
        ],
        FetchItems::Attributes(a) => a,
    }
}

/// Whether the attribute needs the message itself.
fn needs_record(a: &FetchAttribute) -> bool {
    !matches!(
        a,
        FetchAttribute::Flags | FetchAttribute::Uid | FetchAttribute::ModSeq
    )
}

/// Whether the attribute needs the MIME structure.
fn needs_view(a: &FetchAttribute) -> bool {
    needs_record(a)
        && !matches!(
            a,
            FetchAttribute::InternalDate | FetchAttribute::Rfc822Size | FetchAttribute::Rfc822
        )
        && !is_whole_message(a)
}

/// `BODY[]` / `BODY.PEEK[]` (and `BINARY[]`, the message unchanged): the
/// stored bytes as they are, no MIME parse.
fn is_whole_message(a: &FetchAttribute) -> bool {
    match a {
        FetchAttribute::BodySection { section, .. } => {
            section.part.is_empty() && section.text.is_none()
        }
        FetchAttribute::Binary { part, .. } => part.is_empty(),
        _ => false,
    }
}

/// Whether the attribute needs only the message's header (ENVELOPE, the
/// header sections): then only the header is parsed.
fn header_only(a: &FetchAttribute) -> bool {
    match a {
        FetchAttribute::Envelope | FetchAttribute::Rfc822Header => true,
        FetchAttribute::BodySection { section, .. } => {
            section.part.is_empty()
                && matches!(
                    section.text,
                    Some(
                        SectionText::Header
                            | SectionText::HeaderFields(_)
                            | SectionText::HeaderFieldsNot(_)
                    )
                )
        }
        _ => !needs_view(a),
    }
}

/// The header of a message, blank line included (the whole message when it
/// has no body).
fn header_prefix(raw: &bytes::Bytes) -> bytes::Bytes {
    let crlf = memchr::memmem::find(raw, b"\r\n\r\n").map(|i| i + 4);
    let lf = memchr::memmem::find(raw, b"\n\n").map(|i| i + 2);
    let end = match (crlf, lf) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => raw.len(),
    };
    raw.slice(..end)
}

/// Whether fetching the attribute sets `\Seen` (RFC 9051 §6.4.5).
fn sets_seen(a: &FetchAttribute) -> bool {
    match a {
        FetchAttribute::BodySection { peek, .. } | FetchAttribute::Binary { peek, .. } => !peek,
        FetchAttribute::Rfc822 | FetchAttribute::Rfc822Text => true,
        _ => false,
    }
}

impl<S: MailboxStore> ServerSession<S> {
    /// Starts `[UID] FETCH`.
    pub(crate) fn fetch(
        &mut self,
        store: &mut S,
        tag: Tag,
        uid: bool,
        set: &SequenceSet,
        items: FetchItems,
        modifiers: FetchModifiers,
    ) {
        let Some(view) = &self.selected else {
            return;
        };
        if !uid && view.seq_set_out_of_range(set) {
            self.bad(Some(tag), "Invalid message number");
            return;
        }
        if modifiers.vanished && !(uid && self.enabled.qresync && modifiers.changed_since.is_some())
        {
            self.bad(
                Some(tag),
                "VANISHED needs UID FETCH, CHANGEDSINCE and QRESYNC enabled",
            );
            return;
        }
        let targets = view.resolve(set, uid, &self.saved);
        let mut attrs = expand(items);
        if modifiers.changed_since.is_some() || attrs.contains(&FetchAttribute::ModSeq) {
            if !self.config.extensions.condstore {
                self.bad(Some(tag), "CONDSTORE is not supported");
                return;
            }
            self.enabled.condstore = true;
        }
        if self.enabled.condstore
            && !attrs.contains(&FetchAttribute::ModSeq)
            && (modifiers.changed_since.is_some() || attrs.contains(&FetchAttribute::Flags))
        {
            attrs.push(FetchAttribute::ModSeq);
        }
        if uid && !attrs.contains(&FetchAttribute::Uid) {
            attrs.insert(0, FetchAttribute::Uid);
        }
        if modifiers.vanished
            && let Some(since) = modifiers.changed_since
        {
            let name = view.name.clone();
            let largest = view.max_uid().max(view.uid_next.saturating_sub(1));
            if let Ok(changes) = store.changes(self.user_name(), &name, since) {
                let gone: Vec<u32> = changes
                    .expunged
                    .into_iter()
                    .filter(|u| set.contains(*u, largest))
                    .collect();
                if let Some(uids) = super::session::uid_set(&gone) {
                    self.data(Data::Vanished {
                        earlier: true,
                        uids,
                    });
                }
            }
        }
        self.job = Some(FetchJob {
            tag,
            uid,
            targets,
            next: 0,
            attrs,
            changed_since: modifiers.changed_since,
            expunged: false,
            failure: None,
        });
    }

    /// Answers more of the FETCH in progress, until the output reaches the
    /// high-water mark or the FETCH is complete.
    pub(crate) fn run_fetch_job(&mut self, store: &mut S) {
        let Some(mut job) = self.job.take() else {
            return;
        };
        while job.next < job.targets.len() {
            if self.output.len() >= self.config.limits.output_high_water {
                self.job = Some(job);
                return;
            }
            let (seq, uid) = job.targets[job.next];
            job.next += 1;
            self.fetch_one(store, &mut job, seq, uid);
        }
        let allow_expunge = job.uid;
        self.catch_up(store, allow_expunge);
        if let Some((code, text)) = job.failure {
            self.no(job.tag, Some(code), &text);
        } else if job.expunged {
            self.no(
                job.tag,
                Some(Code::ExpungeIssued),
                "Some messages were expunged meanwhile",
            );
        } else {
            self.ok(job.tag, None, "FETCH completed");
        }
    }

    fn fetch_one(&mut self, store: &mut S, job: &mut FetchJob, seq: u32, uid: u32) {
        let Some(view) = &self.selected else {
            return;
        };
        if view.pending_expunges.contains(&uid) {
            job.expunged = true;
            return;
        }
        let Some(mut meta) = view.meta(seq).cloned() else {
            return;
        };
        if job.changed_since.is_some_and(|cs| meta.modseq <= cs) {
            return;
        }
        let name = view.name.clone();
        let writable = !view.read_only;
        let record = if job.attrs.iter().any(needs_record) {
            match store.fetch(self.user_name(), &name, uid) {
                Ok(r) => Some(r),
                Err(StoreError::NonExistent) => {
                    job.expunged = true;
                    return;
                }
                Err(e) => {
                    job.failure = Some((e.code(), e.to_string()));
                    return;
                }
            }
        } else {
            None
        };
        let mut flags_changed = false;
        if writable
            && job.attrs.iter().any(sets_seen)
            && !meta.flags.contains(&Flag::Seen)
            && let Ok(done) = store.store_flags(
                self.user_name(),
                &name,
                &[uid],
                FlagChange::Add,
                &[Flag::Seen],
                None,
            )
            && let Some(updated) = done.updated.into_iter().next()
        {
            meta = updated;
            flags_changed = true;
            if let Some(v) = &mut self.selected {
                v.set_meta(&meta);
            }
        }
        let message = match &record {
            Some(r) if job.attrs.iter().any(needs_view) => {
                Some(if job.attrs.iter().all(header_only) {
                    MessageView::new(header_prefix(&r.raw))
                } else {
                    MessageView::new(r.raw.clone())
                })
            }
            _ => None,
        };
        let mut items = Vec::with_capacity(job.attrs.len() + 1);
        for attr in &job.attrs {
            match build_item(attr, &meta, record.as_ref(), message.as_ref()) {
                Ok(item) => items.push(item),
                Err((code, text)) => {
                    job.failure.get_or_insert((code, text));
                }
            }
        }
        if flags_changed && !job.attrs.contains(&FetchAttribute::Flags) {
            items.push(FetchData::Flags(meta.flags.clone()));
            if self.enabled.condstore && !job.attrs.contains(&FetchAttribute::ModSeq) {
                items.push(FetchData::ModSeq(meta.modseq));
            }
        }
        if !items.is_empty() {
            self.data(Data::Fetch { seq, items });
        }
    }
}

fn section_of(text: SectionText) -> Section {
    Section {
        part: Vec::new(),
        text: Some(text),
    }
}

fn build_item(
    attr: &FetchAttribute,
    meta: &MessageMeta,
    record: Option<&MessageRecord>,
    message: Option<&MessageView>,
) -> Result<FetchData, (Code, String)> {
    let missing = || (Code::ServerBug, "message data unavailable".to_owned());
    let raw = || record.map(|r| r.raw.clone()).ok_or_else(missing);
    let view = || message.ok_or_else(missing);
    Ok(match attr {
        FetchAttribute::Flags => FetchData::Flags(meta.flags.clone()),
        FetchAttribute::Uid => FetchData::Uid(meta.uid),
        FetchAttribute::ModSeq => FetchData::ModSeq(meta.modseq),
        FetchAttribute::InternalDate => {
            FetchData::InternalDate(record.ok_or_else(missing)?.internal_date)
        }
        FetchAttribute::Rfc822Size => FetchData::Rfc822Size(raw()?.len() as u64),
        FetchAttribute::Rfc822 => FetchData::Rfc822(Some(raw()?)),
        FetchAttribute::Rfc822Header => FetchData::Rfc822Header(Some(
            view()?
                .section(&section_of(SectionText::Header))
                .unwrap_or_default(),
        )),
        FetchAttribute::Rfc822Text => FetchData::Rfc822Text(Some(
            view()?
                .section(&section_of(SectionText::Text))
                .unwrap_or_default(),
        )),
        FetchAttribute::Envelope => FetchData::Envelope(Box::new(view()?.envelope())),
        FetchAttribute::Body => FetchData::Body(Box::new(view()?.body_structure(false))),
        FetchAttribute::BodyStructure => {
            FetchData::BodyStructure(Box::new(view()?.body_structure(true)))
        }
        FetchAttribute::BodySection {
            section, partial, ..
        } if is_whole_message(attr) => FetchData::BodySection {
            section: section.clone(),
            origin: partial.map(|p| p.offset),
            data: Some(apply_partial(raw()?, *partial)),
        },
        FetchAttribute::Binary { part, partial, .. } if is_whole_message(attr) => {
            FetchData::Binary {
                part: part.clone(),
                origin: partial.map(|p| p.offset),
                data: Some(apply_partial(raw()?, *partial)),
            }
        }
        FetchAttribute::BodySection {
            section, partial, ..
        } => {
            // A part that does not exist is NIL.
            let data = view()?.section(section);
            FetchData::BodySection {
                section: section.clone(),
                origin: partial.map(|p| p.offset),
                data: data.map(|d| apply_partial(d, *partial)),
            }
        }
        FetchAttribute::Binary { part, partial, .. } => {
            let data = view()?.binary(part).map_err(binary_failure)?;
            FetchData::Binary {
                part: part.clone(),
                origin: partial.map(|p| p.offset),
                data: Some(apply_partial(data, *partial)),
            }
        }
        FetchAttribute::BinarySize { part } => FetchData::BinarySize {
            part: part.clone(),
            size: view()?.binary_size(part).map_err(binary_failure)?,
        },
    })
}

fn binary_failure(e: BinaryError) -> (Code, String) {
    match e {
        BinaryError::UnknownCte(_) => (Code::UnknownCte, e.to_string()),
        other => (Code::Cannot, other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn header_only_view_gives_the_same_header_items() {
        let messages: [&[u8]; 5] = [
            b"From: A <a@example.org>\r\nTo: b@example.org, c@example.org\r\nSubject: x\r\n\r\nbody\r\n\r\nmore\r\n",
            b"From: a@example.org\nSubject: bare lf\n\nbody\n",
            b"Subject: no body\r\n",
            b"Subject: empty body\r\n\r\n",
            b"From: a@example.org\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--\r\n",
        ];
        let sections = [
            Section {
                part: vec![],
                text: Some(SectionText::Header),
            },
            Section {
                part: vec![],
                text: Some(SectionText::HeaderFields(vec![b"SUBJECT".to_vec()])),
            },
            Section {
                part: vec![],
                text: Some(SectionText::HeaderFieldsNot(vec![b"FROM".to_vec()])),
            },
        ];
        for raw in messages {
            let raw = Bytes::from_static(raw);
            let full = MessageView::new(raw.clone());
            let head = MessageView::new(header_prefix(&raw));
            assert_eq!(full.envelope(), head.envelope(), "{raw:?}");
            for s in &sections {
                assert_eq!(full.section(s), head.section(s), "{raw:?} {s:?}");
            }
            // BODY[] and BINARY[] are served from the raw bytes, unparsed:
            // the same as the parsed view gives.
            assert_eq!(full.section(&Section::default()), Some(raw.clone()));
            assert_eq!(full.binary(&[]).ok(), Some(raw.clone()));
        }
    }
}
