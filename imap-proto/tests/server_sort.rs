//! SORT and THREAD (RFC 5256): base subjects, sort keys, ORDEREDSUBJECT and
//! REFERENCES threads.

use bytes::Bytes;
use postel_imap::server::message::MessageView;
use postel_imap::server::sort::{SortItem, base_subject, sort, thread};
use postel_imap::*;

#[test]
fn base_subjects() {
    for (subject, want) in [
        ("Re: [fwd: Re: Hello]", "HELLO"),
        ("Fwd: Re:  foo (fwd)", "FOO"),
        ("Re: Re: re: RE:  x", "X"),
        ("Re:x", "X"),
        ("Fw: x", "X"),
        ("FWD: x", "X"),
        ("Re [list]: y", "Y"),
        ("[PATCH] Re: hello", "HELLO"),
        ("[PATCH 1/2] add feature", "ADD FEATURE"),
        ("[only-blob]", "[ONLY-BLOB]"),
        ("Fwd: [list] Re: topic", "TOPIC"),
        ("x (fwd) (FWD)", "X"),
        ("[fwd: [fwd: x]]", "X"),
        ("[Fwd: Re: [list] news]", "NEWS"),
        ("\tHello\t  world  ", "HELLO WORLD"),
        ("Hello\r\n world", "HELLO WORLD"),
        ("=?utf-8?q?Re=3A_caf=C3=A9?=", "CAFÉ"),
        ("Re: (fwd)", ""),
        ("", ""),
        ("Reply to this", "REPLY TO THIS"),
        ("Fwd:", ""),
        ("[a][b] c", "C"),
    ] {
        assert_eq!(base_subject(subject), want, "{subject:?}");
    }
}

fn view(headers: &[&str]) -> MessageView {
    let mut raw = headers.join("\r\n");
    raw.push_str("\r\n\r\nbody\r\n");
    MessageView::new(Bytes::from(raw))
}

fn at(day: u8, hour: u8) -> DateTime {
    DateTime::new(Date::new(2024, 3, day).unwrap(), hour, 0, 0, 0).unwrap()
}

fn items<'a>(views: &'a [MessageView], dates: &[DateTime], sizes: &[u64]) -> Vec<SortItem<'a>> {
    views
        .iter()
        .enumerate()
        .map(|(i, message)| SortItem {
            id: i as u32 + 1,
            seq: i as u32 + 1,
            internal_date: dates[i],
            size: sizes[i],
            message,
        })
        .collect()
}

fn criteria(text: &str) -> Vec<SortCriterion> {
    let cmd = Command::parse(format!("a SORT ({text}) UTF-8 ALL\r\n").as_bytes()).unwrap();
    let CommandBody::Sort { criteria, .. } = cmd.body else {
        panic!()
    };
    criteria
}

#[test]
fn sort_keys() {
    let views = [
        view(&[
            "From: Zed <zed@a.test>",
            "To: \"Bob\" <bob@b.test>",
            "Cc: carol@c.test",
            "Subject: Re: beta",
            "Date: Fri, 1 Mar 2024 12:00:00 +0000",
        ]),
        view(&[
            "From: =?utf-8?q?=C3=84rger?= <ALICE@a.test>",
            "To: dave@d.test",
            "Subject: alpha",
            "Date: Fri, 1 Mar 2024 12:00:00 +0200",
        ]),
        view(&[
            "From: mike@m.test",
            "To: Group: amy@e.test;",
            "Cc: Bert <bert@c.test>",
            "Subject: [list] Gamma",
        ]),
        view(&[
            "From: \"Bea\" <zz@a.test>",
            "Subject: Fwd: beta",
            "Date: garbage",
        ]),
    ];
    let dates = [at(2, 0), at(1, 0), at(1, 11), at(1, 11)];
    let list = items(&views, &dates, &[300, 100, 200, 100]);
    for (text, want) in [
        ("ARRIVAL", vec![2, 3, 4, 1]),
        ("REVERSE ARRIVAL", vec![1, 3, 4, 2]),
        // Sent dates in UTC: 12:00, 10:00; 3 and 4 fall back to 11:00.
        ("DATE", vec![2, 3, 4, 1]),
        ("REVERSE DATE", vec![1, 3, 4, 2]),
        ("SIZE", vec![2, 4, 3, 1]),
        ("REVERSE SIZE", vec![1, 3, 2, 4]),
        ("SIZE REVERSE ARRIVAL", vec![4, 2, 3, 1]),
        // Mailboxes: zed, ALICE, mike, zz.
        ("FROM", vec![2, 3, 1, 4]),
        ("REVERSE FROM", vec![4, 1, 3, 2]),
        // To: bob, dave, amy (a group member), none.
        ("TO", vec![4, 3, 1, 2]),
        // Cc: carol, none, bert, none.
        ("CC", vec![2, 4, 3, 1]),
        // Base subjects: BETA, ALPHA, GAMMA, BETA.
        ("SUBJECT", vec![2, 1, 4, 3]),
        ("SUBJECT REVERSE SIZE", vec![2, 1, 4, 3]),
        ("SUBJECT SIZE", vec![2, 4, 1, 3]),
        // Display names: Zed, Ärger, mike@m.test, Bea.
        ("DISPLAYFROM", vec![4, 3, 1, 2]),
        // Bob, dave@d.test, amy@e.test, none.
        ("DISPLAYTO", vec![4, 3, 1, 2]),
    ] {
        assert_eq!(sort(&criteria(text), &list), want, "{text}");
    }
    // The ids returned are the items' ids (UIDs here), in sorted order.
    let mut by_uid = list.clone();
    for (i, item) in by_uid.iter_mut().enumerate() {
        item.id = 100 + i as u32;
    }
    assert_eq!(sort(&criteria("SIZE"), &by_uid), vec![101, 103, 102, 100]);
    assert!(sort(&criteria("SIZE"), &[]).is_empty());
}

fn encoded(threads: Vec<ThreadNode>) -> String {
    let r = Response::Data(Data::Thread(threads));
    let bytes = r.encode();
    assert_eq!(
        Response::parse(&bytes),
        Ok(r),
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    String::from_utf8(bytes).unwrap()
}

fn check_invariants(nodes: &[ThreadNode], top: bool) {
    for n in nodes {
        assert!(n.children.is_empty() || n.children.len() >= 2, "{n:?}");
        if n.chain.is_empty() {
            assert!(top && n.children.len() >= 2, "{n:?}");
        }
        check_invariants(&n.children, false);
    }
}

#[test]
fn ordered_subject() {
    let views = [
        view(&["Subject: hello", "Date: Fri, 1 Mar 2024 10:00:00 +0000"]),
        view(&["Subject: Re: hello", "Date: Fri, 1 Mar 2024 11:00:00 +0000"]),
        view(&["Subject: other", "Date: Fri, 1 Mar 2024 09:00:00 +0000"]),
        view(&["Subject: RE: Hello", "Date: Fri, 1 Mar 2024 12:00:00 +0000"]),
        view(&["Subject: other", "Date: Fri, 1 Mar 2024 13:00:00 +0000"]),
        view(&["Subject: alone", "Date: Fri, 1 Mar 2024 08:00:00 +0000"]),
    ];
    let dates = [at(5, 0); 6];
    let list = items(&views, &dates, &[1; 6]);
    let threads = thread(&ThreadAlgorithm::OrderedSubject, &list).unwrap();
    check_invariants(&threads, true);
    assert_eq!(encoded(threads), "* THREAD (6)(3 5)(1 (2)(4))\r\n");
    assert_eq!(
        thread(&ThreadAlgorithm::OrderedSubject, &[]),
        Some(Vec::new())
    );
    assert_eq!(
        thread(&ThreadAlgorithm::Other("X-MINE".into()), &list),
        None
    );
}

#[test]
fn references() {
    let views = [
        view(&[
            "Message-ID: <1@x>",
            "Subject: root",
            "Date: Fri, 1 Mar 2024 10:00:00 +0000",
        ]),
        view(&[
            "Message-ID: <2@x>",
            "References: <1@x>",
            "Subject: Re: root",
            "Date: Fri, 1 Mar 2024 11:00:00 +0000",
        ]),
        view(&[
            "Message-ID: <3@x>",
            "References: <1@x>",
            " <2@x>",
            "Subject: Re: root",
            "Date: Fri, 1 Mar 2024 12:00:00 +0000",
        ]),
        view(&[
            "Message-ID: <4@x>",
            "In-Reply-To: <1@x>",
            "Subject: Re: root",
            "Date: Fri, 1 Mar 2024 10:30:00 +0000",
        ]),
        view(&[
            "Message-ID: <5@x>",
            "References: <missing@x>",
            "Subject: Re: lost",
            "Date: Fri, 1 Mar 2024 09:00:00 +0000",
        ]),
        view(&[
            "Message-ID: <6@x>",
            "References: <missing@x>",
            "Subject: Re: lost",
            "Date: Fri, 1 Mar 2024 09:30:00 +0000",
        ]),
        view(&[
            "Message-ID: <7@x>",
            "Subject: unrelated",
            "Date: Fri, 1 Mar 2024 08:00:00 +0000",
        ]),
        view(&[
            "Message-ID: <8@x>",
            "Subject: Re: unrelated",
            "Date: Fri, 1 Mar 2024 13:00:00 +0000",
        ]),
        view(&[
            "Message-ID: <1@x>",
            "Subject: dup",
            "Date: Fri, 1 Mar 2024 14:00:00 +0000",
        ]),
        // Alone below a dummy: promoted to the top.
        view(&[
            "Message-ID: <10@x>",
            "References: <gone@x>",
            "Subject: orphan",
            "Date: Fri, 1 Mar 2024 15:00:00 +0000",
        ]),
        // Two threads without replies and the same subject: a dummy joins them.
        view(&[
            "Message-ID: <11@x>",
            "Subject: same",
            "Date: Fri, 1 Mar 2024 16:00:00 +0000",
        ]),
        view(&[
            "Message-ID: <12@x>",
            "Subject: same",
            "Date: Fri, 1 Mar 2024 17:00:00 +0000",
        ]),
    ];
    let dates = [at(5, 0); 12];
    let list = items(&views, &dates, &[1; 12]);
    let threads = thread(&ThreadAlgorithm::References, &list).unwrap();
    check_invariants(&threads, true);
    assert_eq!(
        encoded(threads),
        "* THREAD (7 8)((5)(6))(1 (4)(2 3))(9)(10)((11)(12))\r\n"
    );
}

#[test]
fn references_without_loops() {
    let views = [
        view(&["Message-ID: <a@y>", "References: <b@y>", "Subject: a"]),
        view(&["Message-ID: <b@y>", "References: <a@y>", "Subject: b"]),
        view(&[
            "Message-ID: <c@y>",
            "References: <c@y> <a@y> <c@y>",
            "Subject: c",
        ]),
        view(&["Subject: no id"]),
        view(&["Subject: no id"]),
    ];
    let dates = [at(1, 1), at(1, 2), at(1, 3), at(1, 4), at(1, 5)];
    let list = items(&views, &dates, &[1; 5]);
    let threads = thread(&ThreadAlgorithm::References, &list).unwrap();
    check_invariants(&threads, true);
    let line = encoded(threads);
    for id in 1..=5 {
        assert_eq!(
            line.matches(&format!("{id}")).count(),
            1,
            "{id} appears once in {line}"
        );
    }
    assert_eq!(line, "* THREAD (2 1)(3)((4)(5))\r\n");
}

fn all_ids(nodes: &[ThreadNode], out: &mut Vec<u32>) {
    for n in nodes {
        out.extend(&n.chain);
        all_ids(&n.children, out);
    }
}

mod props {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;

    /// A message: its Message-ID, References, In-Reply-To (indexes into a
    /// small pool, so that they collide), subject and hour.
    type Spec = (Option<u8>, Vec<u8>, Option<u8>, u8, u8);

    fn message() -> impl Strategy<Value = Spec> {
        (
            proptest::option::of(0u8..8),
            vec(0u8..8, 0..4),
            proptest::option::of(0u8..8),
            0u8..4,
            0u8..24,
        )
    }

    fn build(spec: &[Spec]) -> Vec<MessageView> {
        let subjects = ["a", "Re: a", "b", "Fwd: b (fwd)"];
        spec.iter()
            .map(|(id, refs, irt, subject, hour)| {
                let mut h = vec![
                    format!("Subject: {}", subjects[*subject as usize]),
                    format!("Date: Fri, 1 Mar 2024 {hour:02}:00:00 +0000"),
                ];
                if let Some(id) = id {
                    h.push(format!("Message-ID: <{id}@p>"));
                }
                if !refs.is_empty() {
                    let r: Vec<String> = refs.iter().map(|r| format!("<{r}@p>")).collect();
                    h.push(format!("References: {}", r.join(" ")));
                }
                if let Some(i) = irt {
                    h.push(format!("In-Reply-To: <{i}@p>"));
                }
                let h: Vec<&str> = h.iter().map(String::as_str).collect();
                view(&h)
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256),
            ..ProptestConfig::default()
        })]

        #[test]
        fn threads_hold_every_message_once(spec in vec(message(), 0..14)) {
            let views = build(&spec);
            let dates = vec![at(1, 0); views.len()];
            let sizes = vec![1; views.len()];
            let list = items(&views, &dates, &sizes);
            for algorithm in [ThreadAlgorithm::References, ThreadAlgorithm::OrderedSubject] {
                let threads = thread(&algorithm, &list).unwrap();
                check_invariants(&threads, true);
                let mut ids = Vec::new();
                all_ids(&threads, &mut ids);
                ids.sort_unstable();
                let want: Vec<u32> = (1..=views.len() as u32).collect();
                prop_assert_eq!(ids, want);
                if !threads.is_empty() {
                    encoded(threads);
                }
            }
        }

        #[test]
        fn sort_is_a_permutation(spec in vec(message(), 0..10), sizes in vec(0u64..4, 10)) {
            let views = build(&spec);
            let dates = vec![at(1, 0); views.len()];
            let list = items(&views, &dates, &sizes[..views.len()]);
            for text in ["SUBJECT REVERSE DATE", "REVERSE SIZE FROM", "ARRIVAL CC DISPLAYTO"] {
                let mut got = sort(&criteria(text), &list);
                got.sort_unstable();
                let want: Vec<u32> = (1..=views.len() as u32).collect();
                prop_assert_eq!(got, want);
            }
        }

        #[test]
        fn base_subject_never_panics(s in "\\PC{0,40}", t in "[\\[\\]:( )fwdFWDrRe\\t]{0,30}") {
            let _ = base_subject(&s);
            let b = base_subject(&t);
            prop_assert_eq!(base_subject(&b), b.clone(), "{:?}", t);
        }
    }
}
