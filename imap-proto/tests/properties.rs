//! Property tests: parse(encode(cmd)) == cmd over generated commands, the
//! reader's chunking invariance, and no panics on arbitrary input.

mod common;

use std::num::NonZeroU32;

use bytes::Bytes;
use postel_imap::*;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

const MAX64: u64 = i64::MAX as u64;

fn bytes_no_nul() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "[a-zA-Z0-9]{1,8}".prop_map(String::into_bytes),
        "[ -~]{0,10}".prop_map(String::into_bytes),
        vec(1u8..=255, 0..12),
    ]
}

fn atom() -> impl Strategy<Value = String> {
    "[a-zA-Z$][a-zA-Z0-9_.-]{0,6}"
}

fn tag() -> impl Strategy<Value = Tag> {
    "[A-Za-z0-9.]{1,6}".prop_map(|t| Tag::new(&t).unwrap())
}

fn mailbox() -> impl Strategy<Value = Mailbox> {
    prop_oneof![
        Just(Mailbox::inbox()),
        bytes_no_nul().prop_map(Mailbox::from_wire)
    ]
}

fn seq_number() -> impl Strategy<Value = SeqNumber> {
    prop_oneof![
        Just(SeqNumber::Largest),
        (1u32..=u32::MAX).prop_map(|n| SeqNumber::Value(NonZeroU32::new(n).unwrap())),
    ]
}

fn seq_set() -> impl Strategy<Value = SequenceSet> {
    let item = prop_oneof![
        seq_number().prop_map(SeqItem::Single),
        (seq_number(), seq_number()).prop_map(|(a, b)| SeqItem::Range(a, b)),
    ];
    prop_oneof![1 => Just(SequenceSet::Saved), 6 => vec(item, 1..4).prop_map(SequenceSet::Items)]
}

fn flag() -> impl Strategy<Value = Flag> {
    prop_oneof![
        Just(Flag::Seen),
        Just(Flag::Answered),
        Just(Flag::Flagged),
        Just(Flag::Deleted),
        Just(Flag::Draft),
        Just(Flag::Recent),
        "X[a-zA-Z]{0,5}".prop_map(Flag::Extension),
        atom().prop_map(Flag::Keyword),
    ]
}

fn date() -> impl Strategy<Value = Date> {
    (0u16..=9999, 1u8..=12, 1u8..=28).prop_map(|(y, m, d)| Date::new(y, m, d).unwrap())
}

fn date_time() -> impl Strategy<Value = DateTime> {
    (date(), 0u8..24, 0u8..60, 0u8..61, -5999i16..=5999)
        .prop_map(|(d, h, m, s, z)| DateTime::new(d, h, m, s, z).unwrap())
}

fn search_key() -> impl Strategy<Value = SearchKey> {
    use SearchKey as K;
    let leaf = prop_oneof![
        Just(K::All),
        Just(K::Answered),
        Just(K::Deleted),
        Just(K::Draft),
        Just(K::Flagged),
        Just(K::New),
        Just(K::Old),
        Just(K::Recent),
        Just(K::Seen),
        Just(K::Unanswered),
        Just(K::Undeleted),
        Just(K::Undraft),
        Just(K::Unflagged),
        Just(K::Unseen),
        bytes_no_nul().prop_map(K::Bcc),
        bytes_no_nul().prop_map(K::Body),
        bytes_no_nul().prop_map(K::Cc),
        bytes_no_nul().prop_map(K::From),
        bytes_no_nul().prop_map(K::Subject),
        bytes_no_nul().prop_map(K::Text),
        bytes_no_nul().prop_map(K::To),
        (bytes_no_nul(), bytes_no_nul()).prop_map(|(a, b)| K::Header(a, b)),
        date().prop_map(K::Before),
        date().prop_map(K::On),
        date().prop_map(K::Since),
        date().prop_map(K::SentBefore),
        date().prop_map(K::SentOn),
        date().prop_map(K::SentSince),
        atom().prop_map(K::Keyword),
        atom().prop_map(K::Unkeyword),
        (0..=MAX64).prop_map(K::Larger),
        (0..=MAX64).prop_map(K::Smaller),
        (1u32..=u32::MAX).prop_map(K::Older),
        (1u32..=u32::MAX).prop_map(K::Younger),
        seq_set().prop_map(K::Uid),
        seq_set().prop_map(K::SequenceSet),
        (
            option::of((
                flag(),
                prop_oneof![
                    Just(EntryType::Private),
                    Just(EntryType::Shared),
                    Just(EntryType::All)
                ]
            )),
            0..=MAX64
        )
            .prop_map(|(entry, modseq)| K::ModSeq { entry, modseq }),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|k| K::Not(Box::new(k))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| K::Or(Box::new(a), Box::new(b))),
            vec(inner, 1..4).prop_map(K::And),
        ]
    })
}

fn charset() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("UTF-8".to_owned()),
        Just("US-ASCII".to_owned()),
        Just("x y".to_owned())
    ]
}

fn partial() -> impl Strategy<Value = Option<Partial>> {
    option::of((0..=MAX64, 1..=MAX64).prop_map(|(offset, length)| Partial { offset, length }))
}

fn part() -> impl Strategy<Value = Vec<u32>> {
    vec(1u32..=u32::MAX, 0..3)
}

fn section() -> impl Strategy<Value = Section> {
    let names = || vec(bytes_no_nul(), 1..3);
    (
        part(),
        option::of(prop_oneof![
            Just(SectionText::Header),
            Just(SectionText::Text),
            Just(SectionText::Mime),
            names().prop_map(SectionText::HeaderFields),
            names().prop_map(SectionText::HeaderFieldsNot),
        ]),
    )
        .prop_map(|(part, text)| {
            let text = match text {
                Some(SectionText::Mime) if part.is_empty() => None,
                t => t,
            };
            Section { part, text }
        })
}

fn fetch_attribute() -> impl Strategy<Value = FetchAttribute> {
    use FetchAttribute as A;
    prop_oneof![
        Just(A::Envelope),
        Just(A::Flags),
        Just(A::InternalDate),
        Just(A::Rfc822),
        Just(A::Rfc822Header),
        Just(A::Rfc822Size),
        Just(A::Rfc822Text),
        Just(A::Body),
        Just(A::BodyStructure),
        Just(A::Uid),
        Just(A::ModSeq),
        (any::<bool>(), section(), partial()).prop_map(|(peek, section, partial)| A::BodySection {
            peek,
            section,
            partial
        }),
        (any::<bool>(), part(), partial()).prop_map(|(peek, part, partial)| A::Binary {
            peek,
            part,
            partial
        }),
        part().prop_map(|part| A::BinarySize { part }),
    ]
}

fn status_atts() -> impl Strategy<Value = Vec<StatusAttribute>> {
    use StatusAttribute as S;
    vec(
        prop_oneof![
            Just(S::Messages),
            Just(S::Recent),
            Just(S::UidNext),
            Just(S::UidValidity),
            Just(S::Unseen),
            Just(S::Deleted),
            Just(S::Size),
            Just(S::HighestModSeq),
            Just(S::AppendLimit),
        ],
        1..4,
    )
}

fn select_params() -> impl Strategy<Value = SelectParams> {
    let qresync = (
        1u32..=u32::MAX,
        1..=MAX64,
        option::of(seq_set()),
        option::of((seq_set(), seq_set())),
    )
        .prop_map(|(uid_validity, modseq, known_uids, seq_match)| QResync {
            uid_validity,
            modseq,
            known_uids,
            seq_match,
        });
    (any::<bool>(), option::of(qresync))
        .prop_map(|(condstore, qresync)| SelectParams { condstore, qresync })
}

fn append_message() -> impl Strategy<Value = AppendMessage> {
    prop_oneof![
        vec(1u8..=255, 0..40).prop_map(|d| AppendMessage {
            data: d.into(),
            binary: false,
            utf8: false
        }),
        (vec(any::<u8>(), 0..40), any::<bool>()).prop_map(|(d, utf8)| AppendMessage {
            data: d.into(),
            binary: true,
            utf8
        }),
    ]
}

fn body() -> impl Strategy<Value = CommandBody> {
    use CommandBody as C;
    let program = (option::of(charset()), vec(search_key(), 1..4))
        .prop_map(|(charset, criteria)| SearchProgram { charset, criteria });
    let program_cs = || {
        (charset(), vec(search_key(), 1..3)).prop_map(|(c, criteria)| SearchProgram {
            charset: Some(c),
            criteria,
        })
    };
    let search_return = prop_oneof![
        Just(SearchReturn::Min),
        Just(SearchReturn::Max),
        Just(SearchReturn::All),
        Just(SearchReturn::Count),
        Just(SearchReturn::Save),
    ];
    let list_select = prop_oneof![
        Just(ListSelect::Subscribed),
        Just(ListSelect::Remote),
        Just(ListSelect::RecursiveMatch),
        Just(ListSelect::SpecialUse),
    ];
    let list_return = prop_oneof![
        Just(ListReturn::Subscribed),
        Just(ListReturn::Children),
        Just(ListReturn::SpecialUse),
        status_atts().prop_map(ListReturn::Status),
    ];
    let sort_key = prop_oneof![
        Just(SortKey::Arrival),
        Just(SortKey::Cc),
        Just(SortKey::Date),
        Just(SortKey::From),
        Just(SortKey::Size),
        Just(SortKey::Subject),
        Just(SortKey::To),
        Just(SortKey::DisplayFrom),
        Just(SortKey::DisplayTo),
    ];
    let fetch_items = prop_oneof![
        Just(FetchItems::All),
        Just(FetchItems::Fast),
        Just(FetchItems::Full),
        vec(fetch_attribute(), 1..4).prop_map(FetchItems::Attributes),
    ];
    let store_mode = prop_oneof![
        Just(StoreMode::Replace),
        Just(StoreMode::Add),
        Just(StoreMode::Remove)
    ];
    prop_oneof![
        Just(C::Capability),
        Just(C::Noop),
        Just(C::Logout),
        Just(C::StartTls),
        Just(C::Namespace),
        Just(C::Idle),
        Just(C::Close),
        Just(C::Unselect),
        Just(C::Expunge),
        ("[A-Z0-9-]{1,10}", option::of(vec(any::<u8>(), 0..20))).prop_map(|(mechanism, ir)| {
            C::Authenticate {
                mechanism,
                initial_response: ir.map(Secret::new),
            }
        }),
        (bytes_no_nul(), bytes_no_nul()).prop_map(|(u, p)| C::Login {
            username: u,
            password: Secret::new(p)
        }),
        vec(atom(), 1..3).prop_map(|capabilities| C::Enable { capabilities }),
        (mailbox(), select_params()).prop_map(|(mailbox, params)| C::Select { mailbox, params }),
        (mailbox(), select_params()).prop_map(|(mailbox, params)| C::Examine { mailbox, params }),
        (mailbox(), vec(atom(), 0..3)).prop_map(|(mailbox, special_use)| C::Create {
            mailbox,
            special_use
        }),
        mailbox().prop_map(|mailbox| C::Delete { mailbox }),
        (mailbox(), mailbox()).prop_map(|(from, to)| C::Rename { from, to }),
        mailbox().prop_map(|mailbox| C::Subscribe { mailbox }),
        mailbox().prop_map(|mailbox| C::Unsubscribe { mailbox }),
        (
            vec(list_select, 0..3),
            mailbox(),
            vec(bytes_no_nul(), 1..3),
            vec(list_return, 0..3)
        )
            .prop_map(|(selection, reference, patterns, returns)| C::List {
                selection,
                reference,
                patterns,
                returns
            }),
        (mailbox(), bytes_no_nul()).prop_map(|(reference, pattern)| C::Lsub { reference, pattern }),
        (mailbox(), status_atts()).prop_map(|(mailbox, attributes)| C::Status {
            mailbox,
            attributes
        }),
        (
            mailbox(),
            vec(flag(), 0..3),
            option::of(date_time()),
            append_message()
        )
            .prop_map(|(mailbox, flags, date, message)| C::Append {
                mailbox,
                flags,
                date,
                message
            }),
        seq_set().prop_map(|set| C::UidExpunge { set }),
        (any::<bool>(), option::of(vec(search_return, 0..3)), program).prop_map(
            |(uid, returns, program)| C::Search {
                uid,
                returns,
                program
            }
        ),
        (
            any::<bool>(),
            seq_set(),
            fetch_items,
            option::of(1..=MAX64),
            any::<bool>()
        )
            .prop_map(|(uid, set, items, changed_since, vanished)| C::Fetch {
                uid,
                set,
                items,
                modifiers: FetchModifiers {
                    changed_since,
                    vanished
                },
            }),
        (
            any::<bool>(),
            seq_set(),
            option::of(0..=MAX64),
            store_mode,
            any::<bool>(),
            vec(flag(), 0..3)
        )
            .prop_map(
                |(uid, set, unchanged_since, mode, silent, flags)| C::Store {
                    uid,
                    set,
                    unchanged_since,
                    mode,
                    silent,
                    flags
                }
            ),
        (any::<bool>(), seq_set(), mailbox()).prop_map(|(uid, set, mailbox)| C::Copy {
            uid,
            set,
            mailbox
        }),
        (any::<bool>(), seq_set(), mailbox()).prop_map(|(uid, set, mailbox)| C::Move {
            uid,
            set,
            mailbox
        }),
        option::of(vec((bytes_no_nul(), option::of(bytes_no_nul())), 0..3))
            .prop_map(|fields| C::Id { fields }),
        bytes_no_nul().prop_map(|root| C::GetQuota { root }),
        mailbox().prop_map(|mailbox| C::GetQuotaRoot { mailbox }),
        (bytes_no_nul(), vec((atom(), 0..=MAX64), 0..3))
            .prop_map(|(root, limits)| C::SetQuota { root, limits }),
        (
            any::<bool>(),
            vec((any::<bool>(), sort_key), 1..3),
            program_cs()
        )
            .prop_map(|(uid, c, program)| C::Sort {
                uid,
                criteria: c
                    .into_iter()
                    .map(|(reverse, key)| SortCriterion { reverse, key })
                    .collect(),
                program,
            }),
        (
            any::<bool>(),
            prop_oneof![
                Just(ThreadAlgorithm::OrderedSubject),
                Just(ThreadAlgorithm::References),
                "X[A-Z]{1,5}".prop_map(ThreadAlgorithm::Other),
            ],
            program_cs()
        )
            .prop_map(|(uid, algorithm, program)| C::Thread {
                uid,
                algorithm,
                program
            }),
        "[A-Z]{1,8}".prop_map(|algorithm| C::Compress { algorithm }),
    ]
}

fn command() -> impl Strategy<Value = Command> {
    (tag(), body()).prop_map(|(t, b)| Command::new(t, b))
}

fn write_opts() -> impl Strategy<Value = WriteOptions> {
    prop_oneof![
        Just(NonSyncLiterals::Refused),
        Just(NonSyncLiterals::Plus),
        Just(NonSyncLiterals::Minus)
    ]
    .prop_map(|non_sync| WriteOptions { non_sync })
}

/// Feeds `input` in the given chunk sizes (cycled), accepting every
/// literal, with AppendData merged.
fn run_chunks(limits: ReaderLimits, input: &[u8], sizes: &[usize]) -> Vec<ReaderEvent> {
    run_decided(limits, input, sizes, &[true])
}

/// As [`run_chunks`], the n-th decision being `decisions[n % len]`
/// (true: accept).
fn run_decided(
    limits: ReaderLimits,
    input: &[u8],
    sizes: &[usize],
    decisions: &[bool],
) -> Vec<ReaderEvent> {
    let mut reader = CommandReader::new(limits);
    let mut decided = 0;
    let mut events: Vec<ReaderEvent> = Vec::new();
    let mut pos = 0;
    let mut i = 0;
    while pos < input.len() {
        let n = sizes[i % sizes.len()].max(1).min(input.len() - pos);
        i += 1;
        reader.enqueue_input(&input[pos..pos + n]);
        pos += n;
        while let Some(ev) = reader.next_event() {
            if ev.needs_decision() {
                if decisions[decided % decisions.len()] {
                    reader.accept_literal();
                } else {
                    reader.reject_literal();
                }
                decided += 1;
            }
            match (events.last_mut(), ev) {
                (Some(ReaderEvent::AppendData(prev)), ReaderEvent::AppendData(more)) => {
                    let mut joined = prev.to_vec();
                    joined.extend_from_slice(&more);
                    *prev = joined.into();
                }
                (_, ev) => events.push(ev),
            }
        }
    }
    events
}

/// Rebuilds the commands from the reader's events.
fn commands_from(events: &[ReaderEvent]) -> Vec<Command> {
    let mut out = Vec::new();
    let mut pending: Option<(LiteralRequest, Bytes)> = None;
    for ev in events {
        match ev {
            ReaderEvent::Command(c) => out.push(Command::parse(c).unwrap()),
            ReaderEvent::Literal(req) if req.append.is_some() => {
                pending = Some((req.clone(), Bytes::new()))
            }
            ReaderEvent::Literal(_) => {}
            ReaderEvent::AppendData(d) => {
                if let Some((_, data)) = &mut pending {
                    *data = d.clone();
                }
            }
            ReaderEvent::AppendEnd => {
                let (req, data) = pending.take().unwrap();
                let h = req.append.unwrap();
                out.push(Command::new(
                    h.tag,
                    CommandBody::Append {
                        mailbox: h.mailbox,
                        flags: h.flags,
                        date: h.date,
                        message: AppendMessage {
                            data,
                            binary: req.binary,
                            utf8: h.utf8,
                        },
                    },
                ));
            }
            ReaderEvent::Refused { .. } => panic!("refused: {ev:?}"),
        }
    }
    out
}

proptest! {
    // 512 cases unless PROPTEST_CASES says otherwise.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512),
        ..ProptestConfig::default()
    })]

    #[test]
    fn parse_inverts_encode(cmd in command(), opts in write_opts()) {
        let enc = cmd.encode(opts);
        let parsed = Command::parse(&enc.bytes);
        prop_assert_eq!(parsed.as_ref(), Ok(&cmd), "{:?}", String::from_utf8_lossy(&enc.bytes));
    }

    #[test]
    fn reader_delivers_encoded_commands_in_any_chunking(
        cmds in vec(command(), 1..5),
        opts in write_opts(),
        sizes in vec(1usize..40, 1..6),
    ) {
        let mut input = Vec::new();
        for c in &cmds {
            input.extend_from_slice(&c.encode(opts).bytes);
        }
        let limits = ReaderLimits { non_sync: opts.non_sync, ..Default::default() };
        let whole = run_chunks(limits, &input, &[input.len()]);
        prop_assert_eq!(&run_chunks(limits, &input, &sizes), &whole);
        prop_assert_eq!(&run_chunks(limits, &input, &[1]), &whole);
        prop_assert_eq!(commands_from(&whole), cmds);
    }

    #[test]
    fn reader_is_chunking_invariant_on_noise(
        input in vec(prop_oneof![
            Just(b"A1 NOOP\r\n".to_vec()),
            Just(b"{3}\r\n".to_vec()),
            Just(b"{5+}\r\n".to_vec()),
            Just(b"~{2}\r\n".to_vec()),
            Just(b"A2 APPEND INBOX ".to_vec()),
            Just(b"UTF8 (".to_vec()),
            Just(b"((((".to_vec()),
            Just(b"\"".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(b"\n".to_vec()),
            vec(any::<u8>(), 0..30),
        ], 0..20).prop_map(|v| v.concat()),
        sizes in vec(1usize..50, 1..6),
        decisions in vec(any::<bool>(), 1..4),
        max_line in 8usize..200,
        non_sync in prop_oneof![Just(NonSyncLiterals::Refused), Just(NonSyncLiterals::Plus), Just(NonSyncLiterals::Minus)],
    ) {
        let limits = ReaderLimits {
            max_line,
            max_literal: 64,
            max_append: 128,
            max_literals: 3,
            max_command: 256,
            max_depth: 3,
            non_sync,
        };
        let whole = run_decided(limits, &input, &[input.len().max(1)], &decisions);
        prop_assert_eq!(&run_decided(limits, &input, &sizes, &decisions), &whole);
        prop_assert_eq!(&run_decided(limits, &input, &[1], &decisions), &whole);
        for ev in &whole {
            if let ReaderEvent::Command(c) = ev {
                prop_assert!(c.len() <= 256 + max_line);
                let _ = Command::parse(c);
            }
        }
    }

    #[test]
    fn parser_never_panics(input in vec(any::<u8>(), 0..200)) {
        let _ = Command::parse(&input);
        let _ = Command::parse_with_depth(&input, 2);
        let _ = SequenceSet::parse(&input);
        let _ = utf7::decode(&input);
        let _ = command::parse_sasl_response(&input);
    }

    #[test]
    fn parser_never_panics_on_mutated_commands(cmd in command(), edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4), cut in any::<prop::sample::Index>()) {
        let mut bytes = cmd.encode(WriteOptions::default()).bytes;
        for (i, b) in edits {
            let at = i.index(bytes.len());
            bytes[at] = b;
        }
        let _ = Command::parse(&bytes);
        let keep = cut.index(bytes.len() + 1);
        let _ = Command::parse(&bytes[..keep]);
    }

    #[test]
    fn utf7_round_trips(name in "\\PC{0,12}") {
        let wire = utf7::encode(&name);
        prop_assert!(wire.bytes().all(|b| (0x20..0x7f).contains(&b)));
        prop_assert_eq!(utf7::decode(wire.as_bytes()), Ok(name));
    }

    #[test]
    fn sequence_set_display_round_trips(set in seq_set()) {
        prop_assert_eq!(SequenceSet::parse(set.to_string().as_bytes()), Ok(set.clone()));
        let n = set.normalized();
        prop_assert_eq!(n.normalized(), n);
    }
}
