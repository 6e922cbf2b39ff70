//! Property tests: codec round trips, chunking invariance of a whole server
//! session, dot-stuffing round trips, and no panics on arbitrary input.

mod common;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use common::{Decision, Harness, accept_all, lossy};
use postel_sasl::{ClientCredentials, Mechanism};
use postel_smtp::address::PathSyntax;
use postel_smtp::client::{
    ClientAuth, ClientConfig, ClientEvent, ClientSession, Envelope, TlsPolicy,
};
use postel_smtp::command::LegacyCommand;
use postel_smtp::data::{BareLineEndings, DecodeStatus, DecoderConfig, DotDecoder, DotStuffer};
use postel_smtp::extensions::Extensions;
use postel_smtp::params::{
    AuthParam, BodyType, DeliverBy, Hold, MailParameters, Mtrk, Notify, OriginalRecipient,
    RcptParameters, Ret, Rrvs,
};
use postel_smtp::reply::{ReplyLimits, ReplyParser};
use postel_smtp::server::{Protocol, ServerConfig, ServerEvent};
use postel_smtp::{Command, EnhancedCode, ForwardPath, Mailbox, Reply, ReversePath};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

const STRICT: PathSyntax = PathSyntax { lenient: false };
const LENIENT: PathSyntax = PathSyntax { lenient: true };

// ----- generators -----

fn label() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z0-9]([a-zA-Z0-9-]{0,8}[a-zA-Z0-9])?",
        1 => "[а-я]{1,6}",
        1 => "[à-ÿ]{1,4}",
    ]
}

fn domain_name() -> impl Strategy<Value = String> {
    vec(label(), 1..4).prop_map(|labels| labels.join("."))
}

fn address_literal() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|o| format!("[{}]", Ipv4Addr::from(o))),
        any::<[u16; 8]>().prop_map(|s| format!("[IPv6:{}]", Ipv6Addr::from(s))),
        ("x-[a-z]{1,5}", "[!-Z^-~]{1,10}").prop_map(|(t, c)| format!("[{t}:{c}]")),
    ]
}

fn domain() -> impl Strategy<Value = String> {
    prop_oneof![4 => domain_name(), 1 => address_literal()]
}

fn local_part() -> impl Strategy<Value = String> {
    let atom = "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,8}|[а-яё]{1,5}";
    let dot_atom = vec(atom, 1..4).prop_map(|atoms| atoms.join("."));
    // qtext (printable ASCII but '"' and '\') or a quoted pair.
    let quoted = vec(prop_oneof![3 => "[ !#-\\[\\]-~]", 1 => "\\\\[ -~]"], 0..10)
        .prop_map(|parts| format!("\"{}\"", parts.concat()));
    prop_oneof![3 => dot_atom, 1 => quoted]
}

fn mailbox_text() -> impl Strategy<Value = String> {
    (local_part(), domain()).prop_map(|(l, d)| format!("{l}@{d}"))
}

fn mailbox() -> impl Strategy<Value = Mailbox> {
    mailbox_text().prop_map(|s| {
        Mailbox::parse(&s).unwrap_or_else(|e| panic!("generator made a bad mailbox {s:?}: {e}"))
    })
}

fn date_time() -> impl Strategy<Value = String> {
    (
        (0u32..=9999, 1u32..=12, 1u32..=28),
        (0u32..=23, 0u32..=59, 0u32..=59),
        option::of("[0-9]{1,6}"),
        prop_oneof![
            Just("Z".to_owned()),
            Just("z".to_owned()),
            ("[+-]", 0u32..=23, 0u32..=59).prop_map(|(s, h, m)| format!("{s}{h:02}:{m:02}")),
        ],
    )
        .prop_map(|((y, mo, d), (h, mi, s), frac, tz)| {
            let frac = frac.map(|f| format!(".{f}")).unwrap_or_default();
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{frac}{tz}")
        })
}

fn mail_parameters() -> impl Strategy<Value = MailParameters> {
    let first = (
        option::of(any::<u64>()),
        option::of(prop_oneof![
            Just(BodyType::SevenBit),
            Just(BodyType::EightBitMime),
            Just(BodyType::BinaryMime)
        ]),
        any::<bool>(),
        option::of(prop_oneof![Just(Ret::Full), Just(Ret::Headers)]),
        option::of(".{0,25}"),
        option::of(prop_oneof![
            Just(AuthParam::Unknown),
            mailbox_text().prop_map(AuthParam::Mailbox)
        ]),
    );
    let by = prop_oneof![
        (1i64..=999_999_999, any::<bool>()).prop_map(|(seconds, trace)| DeliverBy {
            seconds,
            return_if_late: false,
            trace
        }),
        (
            (-999_999_999i64..=999_999_999).prop_filter("BY=0 is invalid", |s| *s != 0),
            any::<bool>()
        )
            .prop_map(|(seconds, trace)| DeliverBy {
                seconds,
                return_if_late: true,
                trace
            }),
    ];
    let second = (
        any::<bool>(),
        option::of(-9i8..=9),
        option::of(prop_oneof![
            any::<u64>().prop_map(Hold::For),
            date_time().prop_map(Hold::Until)
        ]),
        option::of(by),
        option::of(".{0,20}"),
        option::of(
            ("[A-Za-z0-9+/=]{1,20}", option::of(0u32..=999_999_999))
                .prop_map(|(certifier, timeout)| Mtrk { certifier, timeout }),
        ),
    );
    (first, second).prop_map(
        |(
            (size, body, smtputf8, ret, envid, auth),
            (requiretls, mt_priority, hold, by, no_soliciting, mtrk),
        )| MailParameters {
            size,
            body,
            smtputf8,
            ret,
            envid,
            auth,
            requiretls,
            mt_priority,
            hold,
            by,
            no_soliciting,
            mtrk,
        },
    )
}

fn rcpt_parameters() -> impl Strategy<Value = RcptParameters> {
    let orcpt = prop_oneof![
        (
            "[A-Za-z0-9-]{1,10}".prop_filter("not utf-8", |t| !t.eq_ignore_ascii_case("utf-8")),
            ".{1,20}"
        ),
        (
            prop_oneof![Just("utf-8".to_owned()), Just("UTF-8".to_owned())],
            ".{1,20}"
        ),
    ]
    .prop_map(|(addr_type, address)| OriginalRecipient { addr_type, address });
    (
        option::of((any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
            |(success, failure, delay)| Notify {
                success,
                failure,
                delay,
            },
        )),
        option::of(orcpt),
        option::of(
            (date_time(), any::<bool>()).prop_map(|(since, continue_if_unsupported)| Rrvs {
                since,
                continue_if_unsupported,
            }),
        ),
    )
        .prop_map(|(notify, orcpt, rrvs)| RcptParameters {
            notify,
            orcpt,
            rrvs,
        })
}

/// Text argument of VRFY/EXPN/ETRN: no control characters, no surrounding
/// ASCII whitespace, not empty.
fn text_arg() -> impl Strategy<Value = String> {
    "[!-~\\p{L}]([ -~\\p{L}]{0,20}[!-~\\p{L}])?"
}

/// What HELO/EHLO/LHLO accept: a domain, an address literal, or a name
/// with underscores or a trailing dot as real clients send.
fn hello_domain() -> impl Strategy<Value = String> {
    prop_oneof![
        domain(),
        "[a-zA-Z0-9_-]{1,10}(\\.[a-zA-Z0-9_-]{1,10}){0,2}\\.?",
    ]
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        1 => hello_domain().prop_map(|domain| Command::Helo { domain }),
        1 => hello_domain().prop_map(|domain| Command::Ehlo { domain }),
        1 => hello_domain().prop_map(|domain| Command::Lhlo { domain }),
        4 => (
            prop_oneof![1 => Just(ReversePath::Null), 4 => mailbox().prop_map(ReversePath::Mailbox)],
            mail_parameters()
        )
            .prop_map(|(from, params)| Command::Mail {
                from,
                params: Box::new(params),
            }),
        4 => (
            prop_oneof![1 => Just(ForwardPath::Postmaster), 4 => mailbox().prop_map(ForwardPath::Mailbox)],
            rcpt_parameters()
        )
            .prop_map(|(to, params)| Command::Rcpt { to, params }),
        1 => Just(Command::Data),
        1 => (0u64..=999_999_999_999_999_999, any::<bool>())
            .prop_map(|(size, last)| Command::Bdat { size, last }),
        1 => Just(Command::Rset),
        1 => text_arg().prop_map(|arg| Command::Vrfy { arg }),
        1 => text_arg().prop_map(|arg| Command::Expn { arg }),
        1 => text_arg().prop_map(|node| Command::Etrn { node }),
        1 => option::of("[ -~\\p{L}]{1,20}").prop_map(|topic| Command::Help { topic }),
        1 => Just(Command::Noop),
        1 => Just(Command::Quit),
        1 => Just(Command::StartTls),
        1 => ("[A-Z0-9_-]{1,20}", option::of("[A-Za-z0-9+/=]{1,40}")).prop_map(
            |(mechanism, initial_response)| Command::Auth {
                mechanism,
                initial_response
            }
        ),
        1 => prop_oneof![
            Just(LegacyCommand::Send),
            Just(LegacyCommand::Soml),
            Just(LegacyCommand::Saml),
            Just(LegacyCommand::Turn)
        ]
        .prop_map(Command::Legacy),
    ]
}

/// Whether the reply parser would read `text` (after the code) as an
/// enhanced status code of the reply's class.
fn reads_as_enhanced(code: u16, text: &str) -> bool {
    EnhancedCode::parse_prefix(text.as_bytes()).is_some_and(|(e, n)| {
        u16::from(e.class) == code / 100 && (text.len() == n || text.as_bytes()[n] == b' ')
    })
}

fn reply() -> impl Strategy<Value = Reply> {
    (200u16..=599)
        .prop_flat_map(|code| {
            let class = code / 100;
            let enhanced = if matches!(class, 2 | 4 | 5) {
                option::of((0u16..=999, 0u16..=999))
                    .prop_map(move |o| o.map(|(s, d)| EnhancedCode::new(class as u8, s, d)))
                    .boxed()
            } else {
                Just(None).boxed()
            };
            let line = "[ -~\\p{L}\\p{N}\\p{P}]{0,40}";
            (Just(code), enhanced, vec(line, 1..=5))
        })
        .prop_filter(
            "text would parse as an enhanced code",
            |(code, enhanced, lines)| {
                enhanced.is_some() || !lines.iter().any(|l| reads_as_enhanced(*code, l))
            },
        )
        .prop_map(|(code, enhanced, lines)| Reply::multiline(code, enhanced, lines))
}

/// Splits `data` at the given points (taken modulo its length).
fn split_at_points<'a>(data: &'a [u8], points: &[usize]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = points.iter().map(|p| p % (data.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut pieces = Vec::new();
    let mut start = 0;
    for cut in cuts.into_iter().chain(std::iter::once(data.len())) {
        if cut > start {
            pieces.push(&data[start..cut]);
            start = cut;
        }
    }
    pieces
}

// ----- codec round trips -----

proptest! {
    #[test]
    fn command_round_trips_through_its_wire_form(cmd in command()) {
        let bytes = cmd.to_bytes();
        prop_assert!(bytes.ends_with(b"\r\n"));
        let line = &bytes[..bytes.len() - 2];
        prop_assert!(!line.contains(&b'\r') && !line.contains(&b'\n'), "{:?}", lossy(line));
        let strict = Command::parse(line, STRICT);
        prop_assert_eq!(strict.as_ref(), Ok(&cmd), "line {:?}", lossy(line));
        prop_assert_eq!(Command::parse(line, LENIENT), Ok(cmd.clone()));
        let shown = cmd.to_string();
        prop_assert_eq!(shown.as_bytes(), line);
    }

    #[test]
    fn reply_round_trips_through_reply_parser_in_any_chunks(
        replies in vec(reply(), 1..4),
        cuts in vec(any::<usize>(), 0..12),
    ) {
        let mut wire = Vec::new();
        for r in &replies {
            r.write_to(&mut wire);
        }
        let mut parser = ReplyParser::default();
        let mut parsed = Vec::new();
        for piece in split_at_points(&wire, &cuts) {
            parser.feed(piece);
            while let Some(r) = parser.next_reply().expect("our own replies parse") {
                parsed.push(r);
            }
        }
        prop_assert_eq!(parser.buffered(), 0);
        prop_assert_eq!(parsed, replies, "wire {:?}", lossy(&wire));
    }
}

// ----- chunking invariance of a whole server session -----

const RICH_TRANSCRIPT: &str = "EHLO client.example\r\n\
    MAIL FROM:<a@client.example> SIZE=300 BODY=8BITMIME\r\n\
    RCPT TO:<b@foo.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@foo.com\r\n\
    RCPT TO:<refused@foo.com>\r\n\
    RCPT TO:<c@foo.com>\r\n\
    DATA\r\n\
    Subject: dots\r\n\
    \r\n\
    ..a line that starts with a dot\r\n\
    ...\r\n\
    ..\r\n\
    . \r\n\
    end\r\n\
    .\r\n\
    NOOP\r\n\
    NOOP with text\r\n\
    MAIL FROM:<>\r\n\
    RCPT TO:<Postmaster>\r\n\
    BDAT 12\r\n\
    binary\r\n.\r\n\0\
    BDAT 6 LAST\r\n\
    \r\n.\r\n\n\
    MAIL FROM:<x@y.example>\r\n\
    RSET\r\n\
    MAIL FROM:<x@y.example>\r\n\
    RCPT TO:<d@foo.com>\r\n\
    DATA\r\n\
    bare\nLF\r\n\
    .\r\n\
    RCPT TO:<d@foo.com>\r\n\
    VRFY someone\r\n\
    HELP\r\n\
    FOO\r\n\
    MAIL FROM:<x@y.example>\r\n\
    RCPT TO:<d@foo.com>\r\n\
    DATA\r\n\
    last\r\n\
    .\r\n\
    QUIT\r\n";

fn rich_decider(event: &ServerEvent) -> Decision {
    match event {
        ServerEvent::RcptTo { to, .. } if to.to_string() == "<refused@foo.com>" => {
            Decision::Reply(Reply::with_status(550, (5, 1, 1), "No such user"))
        }
        _ => Decision::Accept,
    }
}

fn rich_reference() -> Harness<fn(&ServerEvent) -> Decision> {
    let mut h = Harness::new(
        ServerConfig::new("foo.com"),
        rich_decider as fn(&ServerEvent) -> Decision,
    );
    h.feed(RICH_TRANSCRIPT.as_bytes(), usize::MAX);
    h
}

#[test]
fn rich_transcript_reference_run_is_what_we_expect() {
    let h = rich_reference();
    let codes: Vec<u16> = common::parse_replies(&h.output)
        .iter()
        .map(Reply::code)
        .collect();
    assert_eq!(
        codes,
        [
            220, 250, 250, 250, 550, 250, 354, 250, // first message
            250, 250, // NOOPs
            250, 250, 250, 250, // MAIL <>, RCPT Postmaster, BDAT 12, BDAT 6 LAST
            250, 250, 250, 250, 354, 550, // MAIL, RSET, MAIL, RCPT, DATA, bare LF refused
            503, 252, 214, 500, // RCPT without MAIL, VRFY, HELP, FOO
            250, 250, 354, 250, 221,
        ]
    );
    assert_eq!(
        h.bodies,
        vec![
            b"Subject: dots\r\n\r\n.a line that starts with a dot\r\n..\r\n.\r\n \r\nend\r\n"
                .to_vec(),
            b"binary\r\n.\r\n\0\r\n.\r\n\n".to_vec(),
            b"bare".to_vec(),
            b"last\r\n".to_vec(),
        ]
    );
    assert!(h.session.is_closed());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn server_session_is_chunking_invariant(cuts in vec(any::<usize>(), 0..60)) {
        let reference = rich_reference();
        let mut h = Harness::new(
            ServerConfig::new("foo.com"),
            rich_decider as fn(&ServerEvent) -> Decision,
        );
        h.feed_split(RICH_TRANSCRIPT.as_bytes(), &cuts);
        prop_assert_eq!(lossy(&h.output), lossy(&reference.output));
        prop_assert_eq!(&h.events, &reference.events);
        prop_assert_eq!(&h.bodies, &reference.bodies);
    }

    #[test]
    fn server_session_is_invariant_under_fixed_chunk_sizes(chunk in 1usize..64) {
        let reference = rich_reference();
        let mut h = Harness::new(
            ServerConfig::new("foo.com"),
            rich_decider as fn(&ServerEvent) -> Decision,
        );
        h.feed(RICH_TRANSCRIPT.as_bytes(), chunk);
        prop_assert_eq!(lossy(&h.output), lossy(&reference.output));
        prop_assert_eq!(&h.events, &reference.events);
    }
}

// ----- dot-stuffing -----

/// Bare CR and bare LF become CRLF; a non-empty body gets a final CRLF.
fn normalized(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 8);
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'\r' if body.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 2;
            }
            b'\r' | b'\n' => {
                out.extend_from_slice(b"\r\n");
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn body_bytes() -> impl Strategy<Value = Vec<u8>> {
    vec(
        prop_oneof![
            2 => Just(b'\r'),
            2 => Just(b'\n'),
            2 => Just(b'.'),
            4 => any::<u8>(),
        ],
        0..400,
    )
}

fn decode_all(
    config: DecoderConfig,
    pieces: &[&[u8]],
) -> (
    Vec<u8>,
    DecodeStatus,
    Option<postel_smtp::data::DataViolation>,
    Vec<u8>,
) {
    let mut decoder = DotDecoder::new(config);
    let mut buf = BytesMut::new();
    let mut content = Vec::new();
    let mut status = DecodeStatus::NeedMore;
    for piece in pieces {
        buf.extend_from_slice(piece);
        if status == DecodeStatus::End {
            continue;
        }
        status = decoder.decode(&mut buf, &mut |b: Bytes| content.extend_from_slice(&b));
    }
    (content, status, decoder.violation(), buf.to_vec())
}

proptest! {
    #[test]
    fn dot_stuffer_then_decoder_preserves_content(
        body in body_bytes(),
        encode_cuts in vec(any::<usize>(), 0..8),
        decode_cuts in vec(any::<usize>(), 0..8),
    ) {
        let mut stuffer = DotStuffer::new();
        let mut wire = Vec::new();
        for piece in split_at_points(&body, &encode_cuts) {
            stuffer.encode(piece, &mut wire);
        }
        stuffer.finish(&mut wire);
        prop_assert!(wire.ends_with(b".\r\n"));
        let config = DecoderConfig {
            bare_line_endings: BareLineEndings::Reject,
            max_line: None,
            max_size: u64::MAX,
        };
        let (content, status, violation, rest) =
            decode_all(config, &split_at_points(&wire, &decode_cuts));
        prop_assert_eq!(status, DecodeStatus::End);
        prop_assert_eq!(violation, None, "the stuffer never writes bare line endings");
        prop_assert!(rest.is_empty());
        prop_assert_eq!(content, normalized(&body));
    }

    #[test]
    fn dot_decoder_is_chunking_invariant_on_arbitrary_bytes(
        input in vec(prop_oneof![
            2 => Just(vec![b'\r']),
            2 => Just(vec![b'\n']),
            2 => Just(vec![b'.']),
            1 => Just(b"\r\n".to_vec()),
            3 => vec(any::<u8>(), 1..4),
            1 => (1usize..150).prop_map(|n| vec![b'a'; n]),
        ], 0..40).prop_map(|parts| parts.concat()),
        cuts in vec(any::<usize>(), 0..10),
        normalize in any::<bool>(),
        max_line in option::of(1usize..200),
        max_size in 0u64..600,
    ) {
        let config = DecoderConfig {
            bare_line_endings: if normalize { BareLineEndings::Normalize } else { BareLineEndings::Reject },
            max_line,
            max_size,
        };
        let whole = decode_all(config, &[&input]);
        let split = decode_all(config, &split_at_points(&input, &cuts));
        // Where the message ends, what is left after it, and whether (and
        // why) it is refused never depend on chunking. The content of a
        // refused message may: it is a prefix handed out before the
        // violation was seen, and the receiver discards it.
        prop_assert_eq!(split.1, whole.1, "status");
        prop_assert_eq!(&split.3, &whole.3, "bytes left");
        // Whether it is refused; which violation is reported first can
        // depend on chunking (see the ignored test below).
        prop_assert_eq!(split.2.is_some(), whole.2.is_some(), "violation");
        if whole.2.is_none() {
            prop_assert_eq!(&split.0, &whole.0, "content");
        } else {
            let shorter = split.0.len().min(whole.0.len());
            prop_assert_eq!(&split.0[..shorter], &whole.0[..shorter], "refused content prefix");
        }
        let (content, status, violation, rest) = whole;
        if violation.is_none() {
            prop_assert!(content.len() as u64 <= max_size);
        }
        if normalize && violation.is_none() {
            prop_assert!(!content.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'),
                "normalized content has only CRLF line ends");
        }
        if status == DecodeStatus::NeedMore {
            prop_assert!(rest.len() <= 2, "only a possible end-of-data prefix is held back");
        }
    }
}

#[test]
fn dot_decoder_violation_kind_is_chunking_invariant() {
    // One 1500-octet line, both over the line limit and over the size limit.
    let mut input = vec![b'x'; 1500];
    input.extend_from_slice(b"\r\n.\r\n");
    let config = DecoderConfig {
        bare_line_endings: BareLineEndings::Reject,
        max_line: Some(1000),
        max_size: 1000,
    };
    let whole = decode_all(config, &[&input]);
    assert_eq!(whole.1, DecodeStatus::End);
    for step in [1, 7, 64, 999] {
        let pieces: Vec<&[u8]> = input.chunks(step).collect();
        let split = decode_all(config, &pieces);
        assert_eq!(split.2, whole.2, "step {step}");
    }
}

// ----- no panics -----

fn wire_fragments() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => vec(any::<u8>(), 0..24),
        1 => Just(b"EHLO x.example\r\n".to_vec()),
        1 => Just(b"HELO x\r\n".to_vec()),
        1 => Just(b"LHLO x\r\n".to_vec()),
        2 => Just(b"MAIL FROM:<a@b.example>\r\n".to_vec()),
        1 => Just(b"MAIL FROM:<a@b.example> BODY=BINARYMIME SIZE=10\r\n".to_vec()),
        2 => Just(b"RCPT TO:<c@d.example>\r\n".to_vec()),
        2 => Just(b"DATA\r\n".to_vec()),
        1 => Just(b"BDAT 3\r\n".to_vec()),
        1 => Just(b"BDAT 0 LAST\r\n".to_vec()),
        1 => Just(b"BDAT 999999999999 LAST\r\n".to_vec()),
        2 => Just(b".\r\n".to_vec()),
        2 => Just(b"\r\n".to_vec()),
        1 => Just(b"\n".to_vec()),
        1 => Just(b"\r".to_vec()),
        1 => Just(b".".to_vec()),
        1 => Just(b"STARTTLS\r\n".to_vec()),
        1 => Just(b"AUTH PLAIN\r\n".to_vec()),
        1 => Just(b"AUTH PLAIN AGEAYg==\r\n".to_vec()),
        1 => Just(b"AUTH LOGIN\r\n".to_vec()),
        1 => Just(b"AUTH SCRAM-SHA-256 biwsbj11LHI9YWJj\r\n".to_vec()),
        1 => Just(b"AUTH OAUTHBEARER bixhPXUsAWF1dGg9QmVhcmVyIHQBAQ==\r\n".to_vec()),
        1 => Just(b"*\r\n".to_vec()),
        1 => Just(b"dXNlcg==\r\n".to_vec()),
        1 => Just(b"ETRN @x.example\r\n".to_vec()),
        1 => Just(b"RSET\r\n".to_vec()),
        1 => Just(b"NOOP\r\n".to_vec()),
        1 => Just(vec![b'A'; 700]),
    ]
}

fn fuzz_server_config(protocol: Protocol, normalize: bool) -> ServerConfig {
    let mut c = match protocol {
        Protocol::Smtp => ServerConfig::new("fuzz.example"),
        Protocol::Lmtp => ServerConfig::lmtp("fuzz.example"),
    };
    c.extensions = Extensions {
        starttls: true,
        auth: vec![
            Mechanism::Plain,
            Mechanism::Login,
            Mechanism::XOAuth2,
            Mechanism::OAuthBearer,
            Mechanism::ScramSha256,
        ],
        requiretls: true,
        mt_priority: Some("MIXER".to_owned()),
        future_release: Some((3600, "2030-01-01T00:00:00Z".to_owned())),
        deliver_by: Some(60),
        no_soliciting: Some(String::new()),
        mtrk: true,
        rrvs: true,
        etrn: true,
        ..Extensions::recommended()
    };
    c.limits.max_message_size = 300;
    c.limits.text_line = Some(80);
    c.limits.max_recipients = 3;
    c.limits.max_errors = 1000;
    c.limits.max_buffered_input = 4096;
    c.strictness.require_tls_for_plaintext_auth = false;
    c.strictness.bare_line_endings = if normalize {
        BareLineEndings::Normalize
    } else {
        BareLineEndings::Reject
    };
    c
}

fn fuzz_client_fragments() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => vec(any::<u8>(), 0..24),
        2 => Just(b"220 x ready\r\n".to_vec()),
        1 => Just(b"250-x\r\n".to_vec()),
        1 => Just(b"250-PIPELINING\r\n".to_vec()),
        1 => Just(b"250-CHUNKING\r\n".to_vec()),
        1 => Just(b"250-STARTTLS\r\n".to_vec()),
        1 => Just(b"250-SMTPUTF8\r\n".to_vec()),
        1 => Just(b"250-SIZE 10\r\n".to_vec()),
        1 => Just(b"250-AUTH PLAIN LOGIN SCRAM-SHA-256\r\n".to_vec()),
        4 => Just(b"250 ok\r\n".to_vec()),
        1 => Just(b"250 2.1.5 ok\r\n".to_vec()),
        2 => Just(b"354 go\r\n".to_vec()),
        1 => Just(b"334 \r\n".to_vec()),
        1 => Just(b"334 VXNlcm5hbWU6\r\n".to_vec()),
        1 => Just(b"334 dj1hYmM=\r\n".to_vec()),
        1 => Just(b"235 ok\r\n".to_vec()),
        1 => Just(b"220 go ahead\r\n".to_vec()),
        2 => Just(b"550 no\r\n".to_vec()),
        1 => Just(b"451 later\r\n".to_vec()),
        1 => Just(b"421 bye\r\n".to_vec()),
        1 => Just(b"221 bye\r\n".to_vec()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn command_parse_never_panics(
        line in prop_oneof![
            vec(any::<u8>(), 0..80),
            (prop_oneof![
                Just("MAIL FROM:"), Just("RCPT TO:"), Just("EHLO "), Just("BDAT "),
                Just("AUTH "), Just("VRFY "), Just("STARTTLS"), Just("HELP "),
            ], vec(any::<u8>(), 0..60)).prop_map(|(p, rest)| [p.as_bytes(), &rest].concat()),
            (prop_oneof![Just("MAIL FROM:<"), Just("RCPT TO:<")],
             "[<>@\\[\\]\":,.a-z0-9 =;+\\\\-]{0,60}").prop_map(|(p, rest)| format!("{p}{rest}").into_bytes()),
        ],
    ) {
        for syntax in [STRICT, LENIENT] {
            if let Err(e) = Command::parse(&line, syntax) {
                let r = e.reply();
                prop_assert!((500..=555).contains(&r.code()), "{:?} -> {}", lossy(&line), r);
            }
        }
    }

    #[test]
    fn reply_parser_never_panics(
        pieces in vec(prop_oneof![
            vec(any::<u8>(), 0..40),
            Just(b"250-".to_vec()), Just(b"250 ".to_vec()), Just(b"2.0.0 ".to_vec()),
            Just(b"\r\n".to_vec()), Just(b"\n".to_vec()), Just(b"599".to_vec()), Just(b"199 x\r\n".to_vec()),
        ], 0..20),
        max_line in 1usize..64,
        max_lines in 1usize..6,
    ) {
        let mut parser = ReplyParser::new(ReplyLimits { max_line, max_lines });
        'outer: for piece in &pieces {
            parser.feed(piece);
            loop {
                match parser.next_reply() {
                    Ok(Some(r)) => prop_assert!((200..=599).contains(&r.code())),
                    Ok(None) => break,
                    Err(_) => break 'outer,
                }
            }
        }
    }

    #[test]
    fn server_session_never_panics(
        fragments in vec(wire_fragments(), 0..40),
        cuts in vec(any::<usize>(), 0..20),
        lmtp in any::<bool>(),
        normalize in any::<bool>(),
        idle in 0u64..1000,
    ) {
        let protocol = if lmtp { Protocol::Lmtp } else { Protocol::Smtp };
        let input = fragments.concat();
        let mut h = Harness::new(fuzz_server_config(protocol, normalize), accept_all);
        h.auto_tls = true;
        h.feed_split(&input, &cuts);
        h.advance(Duration::from_secs(idle));
        // Whatever happened, the output is well-formed replies.
        let replies = common::parse_replies(&h.output);
        prop_assert!(!replies.is_empty());
        prop_assert_eq!(replies[0].code(), 220);
        if idle >= 600 {
            prop_assert!(h.session.is_closed());
        }
    }

    #[test]
    fn client_session_never_panics(
        fragments in vec(fuzz_client_fragments(), 0..40),
        cuts in vec(any::<usize>(), 0..20),
        pipelining in any::<bool>(),
        chunking in any::<bool>(),
        tls in prop_oneof![Just(TlsPolicy::Disabled), Just(TlsPolicy::Opportunistic), Just(TlsPolicy::Required)],
        with_auth in any::<bool>(),
        lmtp in any::<bool>(),
        idle in 0u64..1000,
    ) {
        let now = Instant::now();
        let mut config = if lmtp { ClientConfig::lmtp("client.example") } else { ClientConfig::new("client.example") };
        config.use_pipelining = pipelining;
        config.use_chunking = chunking;
        config.tls = tls;
        if with_auth {
            config.auth = Some(ClientAuth {
                mechanism: None,
                credentials: ClientCredentials::password("user", "pencil"),
                scram_nonce: Some("fuzzNonce".to_owned()),
                allow_plaintext_without_tls: true,
            });
        }
        let mut client = ClientSession::new(config, now);
        let input = fragments.concat();
        let mut sent = 0;
        for piece in split_at_points(&input, &cuts) {
            client.enqueue_input(now, piece);
            for _ in 0..100 {
                let Some(event) = client.poll_event() else { break };
                match event {
                    ClientEvent::Ready | ClientEvent::Delivered(_) if sent < 3 => {
                        sent += 1;
                        let envelope = Envelope {
                            from: ReversePath::Mailbox(Mailbox::parse("a@client.example").unwrap()),
                            params: MailParameters { size: Some(20), ..MailParameters::default() },
                            recipients: vec![
                                (ForwardPath::Mailbox(Mailbox::parse("b@x.example").unwrap()), RcptParameters::default()),
                                (ForwardPath::Postmaster, RcptParameters::default()),
                            ],
                        };
                        let _ = client.send(now, envelope);
                    }
                    ClientEvent::Ready | ClientEvent::Delivered(_) => {
                        let _ = client.quit(now);
                    }
                    ClientEvent::SendBody => {
                        client.body_chunk(b"Subject: x\r\n\r\n.body\n").unwrap();
                        client.body_end(now).unwrap();
                    }
                    ClientEvent::StartTls => client.tls_established(now).unwrap(),
                    ClientEvent::Failed(_) | ClientEvent::Closed => {}
                }
            }
            let _ = client.poll_transmit();
        }
        client.handle_timeout(now + Duration::from_secs(idle));
        while client.poll_event().is_some() {}
        if idle >= 600 {
            // Every reply wait is at most 10 minutes.
            prop_assert!(client.is_closed() || client.poll_timeout().is_none());
        }
    }
}
