//! The shared test suite of the `QueueStore` trait: the cases every backend
//! must pass, and `backend_suite!`, which runs all of them against one
//! backend. `tests/suite.rs` runs them against `MemoryStore` and
//! `SpoolStore`, `tests/postgres.rs` against `PgStore`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use crate::common::{T0, at, envelope, request};
use bytes::Bytes;
use postel_queue::envelope::{ByMode, DeliverBy, Notify, OriginalRecipient, Recipient, Ret};
use postel_queue::schedule::{DestinationPolicy, Plan, RetryPolicy, Scheduler};
use postel_queue::{
    Deferral, MisuseError, Outcome, QueueError, QueueName, QueueStore, RecipientOutcome,
    RecipientStatus,
};

/// `backend_suite!(name, make)` defines `mod name` with one test per case.
/// `make(case_name)` is an async fn returning `Option<(guard, store)>`: the
/// guard lives as long as the test (a temporary directory, say), and `None`
/// skips the test (a backend that needs a server nobody configured).
macro_rules! backend_suite {
    ($backend:ident, $make:path) => {
        backend_suite!(@cases $backend, $make, [
            enqueue_lease_record_delete,
            envelope_survives_as_given,
            caller_misuse_is_reported,
            two_leasers_never_share_a_recipient,
            concurrent_workers_deliver_each_recipient_once,
            lease_expiry_returns_work,
            defer_and_force_retry,
            hold_and_release,
            priority_then_age_order,
            future_release_waits,
            unlease_returns_work_without_an_attempt,
            delete_while_leased,
            complete_removes_a_finished_message,
            five_day_lifetime_through_the_store,
            concurrent_enqueues,
            lease_hands_out_exactly_the_due_work_in_order,
        ]);
    };
    (@cases $backend:ident, $make:path, [$($case:ident),* $(,)?]) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some((_guard, store)) = $make(stringify!($case)).await else {
                        return;
                    };
                    $crate::backend::cases::$case(std::sync::Arc::new(store)).await;
                }
            )*
        }
    };
}

pub(crate) fn delivered(index: usize) -> RecipientOutcome {
    RecipientOutcome {
        index,
        outcome: Outcome::Delivered {
            reply: "250 2.0.0 ok".into(),
        },
    }
}

pub(crate) fn failed(index: usize) -> RecipientOutcome {
    RecipientOutcome {
        index,
        outcome: Outcome::Failed {
            reply: "550 5.1.1 no such user".into(),
        },
    }
}

pub(crate) fn deferred(index: usize) -> RecipientOutcome {
    RecipientOutcome {
        index,
        outcome: Outcome::Deferred {
            reply: "451 4.3.0 try later".into(),
        },
    }
}

pub(crate) fn misuse(e: QueueError) -> MisuseError {
    match e {
        QueueError::Misuse(m) => m,
        other => panic!("expected misuse, got {other:?}"),
    }
}

pub(crate) fn defer_to(t: postel_queue::Timestamp) -> Deferral {
    Deferral {
        next_attempt: t,
        delay_warning_sent: false,
    }
}

pub(crate) mod cases {
    use super::*;

    pub async fn enqueue_lease_record_delete<S: QueueStore>(s: Arc<S>) {
        let data = Bytes::from_static(b"Subject: test\r\n\r\nbody\r\n.\r\n");
        let id = s
            .enqueue(
                envelope(&["a@x.example", "b@y.example", "c@x.example"]),
                data.clone(),
                T0,
            )
            .await
            .unwrap();
        let info = s.inspect(id, T0).await.unwrap();
        assert_eq!(
            (info.queue(), info.size, info.queued),
            (QueueName::Incoming, data.len() as u64, T0)
        );
        assert_eq!(s.read_data(id).await.unwrap(), data);

        let leases = s.lease(request(10, 60), T0).await.unwrap();
        assert_eq!(leases.len(), 1);
        let l = &leases[0];
        assert_eq!(
            (l.id, l.pending.clone(), l.attempts, l.expires),
            (id, vec![0, 1, 2], 0, at(60))
        );
        assert_eq!(s.inspect(id, T0).await.unwrap().queue(), QueueName::Active);
        assert!(
            s.lease(request(10, 60), T0).await.unwrap().is_empty(),
            "leased work is not handed out twice"
        );

        assert_eq!(
            s.record(l, &[delivered(0), deferred(2)], at(1))
                .await
                .unwrap(),
            2
        );
        assert_eq!(
            s.record(l, &[failed(1), delivered(2)], at(2))
                .await
                .unwrap(),
            0
        );
        let info = s.inspect(id, at(2)).await.unwrap();
        let statuses: Vec<_> = info.state.recipients.iter().map(|r| r.status).collect();
        assert_eq!(
            statuses,
            [
                RecipientStatus::Delivered,
                RecipientStatus::Failed,
                RecipientStatus::Delivered
            ]
        );
        assert_eq!(
            info.state.recipients[1].last_reply.as_deref(),
            Some("550 5.1.1 no such user")
        );
        assert_eq!(info.state.recipients[2].updated, Some(at(2)));
        // Nothing pending: never leased again, even when its lease is gone.
        s.unlease(l).await.unwrap();
        assert!(s.lease(request(10, 60), at(100)).await.unwrap().is_empty());

        s.delete(id).await.unwrap();
        assert!(s.list(at(3)).await.unwrap().is_empty());
        assert_eq!(
            misuse(s.inspect(id, at(3)).await.unwrap_err()),
            MisuseError::UnknownMessage(id)
        );
        assert_eq!(
            misuse(s.read_data(id).await.unwrap_err()),
            MisuseError::UnknownMessage(id)
        );
        assert_eq!(
            misuse(s.delete(id).await.unwrap_err()),
            MisuseError::UnknownMessage(id)
        );
    }

    pub async fn envelope_survives_as_given<S: QueueStore>(s: Arc<S>) {
        let mut e = envelope(&["a@x.example"]);
        e.sender = String::new();
        e.recipients.push(Recipient {
            address: "ü@bücher.example".into(),
            notify: Some(Notify {
                success: true,
                failure: false,
                delay: true,
            }),
            orcpt: Some(OriginalRecipient {
                addr_type: "utf-8".into(),
                address: "ü@bücher.example".into(),
            }),
        });
        e.envid = Some("QQ 314159".into());
        e.ret = Some(Ret::Headers);
        e.auth = Some("alice".into());
        e.smtputf8 = true;
        e.priority = -4;
        e.trace.client_addr = Some("192.0.2.7".parse().unwrap());
        e.trace.helo = Some("client.example".into());
        let id = s.enqueue(e.clone(), Bytes::new(), T0).await.unwrap();
        assert_eq!(*s.inspect(id, T0).await.unwrap().envelope, e);
        assert_eq!(s.read_data(id).await.unwrap(), Bytes::new());
    }

    pub async fn caller_misuse_is_reported<S: QueueStore>(s: Arc<S>) {
        let none = envelope(&[]);
        assert_eq!(
            misuse(s.enqueue(none, Bytes::new(), T0).await.unwrap_err()),
            MisuseError::NoRecipients
        );
        let mut loud = envelope(&["a@x.example"]);
        loud.priority = 10;
        assert_eq!(
            misuse(s.enqueue(loud, Bytes::new(), T0).await.unwrap_err()),
            MisuseError::BadPriority(10)
        );
        assert_eq!(
            misuse(s.lease(request(0, 60), T0).await.unwrap_err()),
            MisuseError::EmptyLeaseRequest
        );
        assert_eq!(
            misuse(s.lease(request(1, 0), T0).await.unwrap_err()),
            MisuseError::EmptyLeaseRequest
        );

        let id = s
            .enqueue(envelope(&["a@x.example", "b@x.example"]), Bytes::new(), T0)
            .await
            .unwrap();
        let l = s.lease(request(1, 60), T0).await.unwrap().remove(0);
        assert_eq!(
            misuse(s.record(&l, &[delivered(5)], T0).await.unwrap_err()),
            MisuseError::NotLeased { id, index: 5 }
        );
        s.record(&l, &[delivered(0)], T0).await.unwrap();
        // Final is final; and a bad outcome in a list records nothing.
        assert_eq!(
            misuse(
                s.record(&l, &[delivered(1), failed(0)], T0)
                    .await
                    .unwrap_err()
            ),
            MisuseError::NotLeased { id, index: 0 }
        );
        assert_eq!(
            s.inspect(id, T0).await.unwrap().state.recipients[1].status,
            RecipientStatus::Pending
        );
        s.defer(&l, defer_to(at(10)), T0).await.unwrap();
        // The lease ended with the deferral.
        assert_eq!(
            misuse(s.record(&l, &[delivered(1)], T0).await.unwrap_err()),
            MisuseError::LeaseLost(id)
        );
        assert_eq!(
            misuse(s.defer(&l, defer_to(at(10)), T0).await.unwrap_err()),
            MisuseError::LeaseLost(id)
        );
        assert_eq!(
            misuse(s.renew(&l, Duration::from_secs(5), T0).await.unwrap_err()),
            MisuseError::LeaseLost(id)
        );
        assert_eq!(
            misuse(s.unlease(&l).await.unwrap_err()),
            MisuseError::LeaseLost(id)
        );
        let l2 = s.lease(request(1, 60), at(10)).await.unwrap().remove(0);
        assert_eq!(l2.pending, [1], "only the recipient still pending");
        assert_eq!(
            misuse(s.record(&l2, &[delivered(0)], at(10)).await.unwrap_err()),
            MisuseError::NotLeased { id, index: 0 }
        );
        let ghost = postel_queue::QueueId::from_parts(T0, 999);
        assert_eq!(
            misuse(s.hold(ghost).await.unwrap_err()),
            MisuseError::UnknownMessage(ghost)
        );
        assert_eq!(
            misuse(s.force_retry(ghost, T0).await.unwrap_err()),
            MisuseError::UnknownMessage(ghost)
        );
    }

    pub async fn two_leasers_never_share_a_recipient<S: QueueStore + 'static>(s: Arc<S>) {
        for i in 0..40 {
            s.enqueue(envelope(&[&format!("r{i}@x.example")]), Bytes::new(), T0)
                .await
                .unwrap();
        }
        let (a, b) = tokio::join!(
            tokio::spawn({
                let s = Arc::clone(&s);
                async move { s.lease(request(25, 60), at(1)).await.unwrap() }
            }),
            tokio::spawn({
                let s = Arc::clone(&s);
                async move { s.lease(request(25, 60), at(1)).await.unwrap() }
            }),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.len() + b.len(), 40);
        let ids_a: HashSet<_> = a.iter().map(|l| l.id).collect();
        assert!(b.iter().all(|l| !ids_a.contains(&l.id)));
        assert!(s.lease(request(25, 60), at(2)).await.unwrap().is_empty());
    }

    pub async fn concurrent_workers_deliver_each_recipient_once<S: QueueStore + 'static>(
        s: Arc<S>,
    ) {
        for i in 0..30 {
            let rcpts: Vec<String> = (0..3).map(|j| format!("r{i}.{j}@x.example")).collect();
            let refs: Vec<&str> = rcpts.iter().map(String::as_str).collect();
            s.enqueue(envelope(&refs), Bytes::new(), T0).await.unwrap();
        }
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..4 {
            let s = Arc::clone(&s);
            workers.spawn(async move {
                let mut done = Vec::new();
                loop {
                    let leases = s.lease(request(2, 60), at(1)).await.unwrap();
                    if leases.is_empty() {
                        break done;
                    }
                    for l in leases {
                        for &i in &l.pending {
                            done.push((l.id, i));
                            s.record(&l, &[delivered(i)], at(1)).await.unwrap();
                            tokio::task::yield_now().await;
                        }
                        s.delete(l.id).await.unwrap();
                    }
                }
            });
        }
        let mut all = Vec::new();
        while let Some(done) = workers.join_next().await {
            all.extend(done.unwrap());
        }
        let unique: HashSet<_> = all.iter().copied().collect();
        assert_eq!((all.len(), unique.len()), (90, 90));
        assert!(s.list(at(1)).await.unwrap().is_empty());
    }

    pub async fn lease_expiry_returns_work<S: QueueStore>(s: Arc<S>) {
        let id = s
            .enqueue(envelope(&["a@x.example"]), Bytes::new(), T0)
            .await
            .unwrap();
        let first = s.lease(request(1, 10), T0).await.unwrap().remove(0);
        assert!(s.lease(request(1, 10), at(9)).await.unwrap().is_empty());
        // An expired lease nobody took over still works, and can be renewed.
        assert_eq!(
            s.renew(&first, Duration::from_secs(10), at(11))
                .await
                .unwrap(),
            at(21)
        );
        assert!(s.lease(request(1, 10), at(20)).await.unwrap().is_empty());
        assert_eq!(
            s.inspect(id, at(20)).await.unwrap().leased_until,
            Some(at(21))
        );
        // The worker died: after the expiry the work goes to someone else.
        let second = s.lease(request(1, 10), at(21)).await.unwrap().remove(0);
        assert_eq!((second.id, second.pending.clone()), (id, vec![0]));
        assert_eq!(
            misuse(s.record(&first, &[delivered(0)], at(22)).await.unwrap_err()),
            MisuseError::LeaseLost(id)
        );
        assert_eq!(s.record(&second, &[delivered(0)], at(22)).await.unwrap(), 0);
    }

    pub async fn defer_and_force_retry<S: QueueStore>(s: Arc<S>) {
        let id = s
            .enqueue(envelope(&["a@x.example", "b@x.example"]), Bytes::new(), T0)
            .await
            .unwrap();
        let other = s
            .enqueue(envelope(&["c@x.example"]), Bytes::new(), T0)
            .await
            .unwrap();
        for l in s.lease(request(10, 60), T0).await.unwrap() {
            s.record(&l, &[deferred(0)], T0).await.unwrap();
            s.defer(
                &l,
                Deferral {
                    next_attempt: at(300),
                    delay_warning_sent: l.id == id,
                },
                at(1),
            )
            .await
            .unwrap();
        }
        let info = s.inspect(id, at(1)).await.unwrap();
        assert_eq!(
            (info.queue(), info.state.attempts, info.state.next_attempt),
            (QueueName::Deferred, 1, at(300))
        );
        assert!(info.state.delay_warned);
        assert!(!s.inspect(other, at(1)).await.unwrap().state.delay_warned);
        assert_eq!(
            info.state.recipients[0].last_reply.as_deref(),
            Some("451 4.3.0 try later")
        );
        assert!(s.lease(request(10, 60), at(299)).await.unwrap().is_empty());
        let again = s.lease(request(10, 60), at(300)).await.unwrap();
        assert_eq!(again.len(), 2);
        assert_eq!((again[0].attempts, again[0].delay_warned), (1, true));
        for l in &again {
            s.defer(l, defer_to(at(5000)), at(301)).await.unwrap();
        }
        s.force_retry(id, at(302)).await.unwrap();
        let now_due = s.lease(request(10, 60), at(302)).await.unwrap();
        assert_eq!(now_due.iter().map(|l| l.id).collect::<Vec<_>>(), [id]);
        assert_eq!(
            s.force_retry_all(at(303)).await.unwrap(),
            1,
            "only the message not already due"
        );
        assert_eq!(s.lease(request(10, 60), at(303)).await.unwrap().len(), 1);
        assert_eq!(s.inspect(other, at(303)).await.unwrap().state.attempts, 2);
    }

    pub async fn hold_and_release<S: QueueStore>(s: Arc<S>) {
        let id = s
            .enqueue(envelope(&["a@x.example", "b@x.example"]), Bytes::new(), T0)
            .await
            .unwrap();
        s.hold(id).await.unwrap();
        s.hold(id).await.unwrap();
        assert_eq!(s.inspect(id, T0).await.unwrap().queue(), QueueName::Hold);
        assert!(s.lease(request(10, 60), at(1)).await.unwrap().is_empty());
        s.force_retry_all(at(1)).await.unwrap();
        assert!(
            s.lease(request(10, 60), at(1)).await.unwrap().is_empty(),
            "a flush does not release held mail"
        );
        s.release(id).await.unwrap();
        let l = s.lease(request(10, 60), at(2)).await.unwrap().remove(0);
        // Held while leased: the worker finishes, nobody else gets it.
        s.hold(id).await.unwrap();
        s.record(&l, &[delivered(0)], at(3)).await.unwrap();
        s.unlease(&l).await.unwrap();
        assert!(s.lease(request(10, 60), at(4)).await.unwrap().is_empty());
        s.release(id).await.unwrap();
        assert_eq!(
            s.lease(request(10, 60), at(4)).await.unwrap()[0].pending,
            [1]
        );
    }

    pub async fn priority_then_age_order<S: QueueStore>(s: Arc<S>) {
        let mut ids = Vec::new();
        for (i, priority) in [0i8, 0, 5, -9, 9, 5].into_iter().enumerate() {
            let mut e = envelope(&["a@x.example"]);
            e.priority = priority;
            ids.push(s.enqueue(e, Bytes::new(), at(i as u64)).await.unwrap());
        }
        let order: Vec<_> = s
            .lease(request(3, 60), at(10))
            .await
            .unwrap()
            .iter()
            .map(|l| l.id)
            .collect();
        assert_eq!(order, [ids[4], ids[2], ids[5]]);
        let order: Vec<_> = s
            .lease(request(10, 60), at(10))
            .await
            .unwrap()
            .iter()
            .map(|l| l.id)
            .collect();
        assert_eq!(order, [ids[0], ids[1], ids[3]]);
    }

    pub async fn future_release_waits<S: QueueStore>(s: Arc<S>) {
        let mut e = envelope(&["a@x.example"]);
        e.hold_until = Some(at(3600));
        e.deliver_by = Some(DeliverBy {
            deadline: at(7200),
            mode: ByMode::Return,
            trace: false,
        });
        let id = s.enqueue(e, Bytes::new(), T0).await.unwrap();
        assert_eq!(
            s.inspect(id, T0).await.unwrap().state.next_attempt,
            at(3600)
        );
        s.force_retry(id, at(1)).await.unwrap();
        assert!(
            s.lease(request(1, 60), at(1)).await.unwrap().is_empty(),
            "FUTURERELEASE outranks a forced retry"
        );
        let l = s.lease(request(1, 60), at(3600)).await.unwrap().remove(0);
        // Past the DELIVERBY deadline the scheduler fails it instead.
        let scheduler =
            Scheduler::new(RetryPolicy::default(), DestinationPolicy::default()).unwrap();
        assert!(matches!(
            scheduler.verdict(&l.envelope, at(3600)),
            postel_queue::schedule::Verdict::Deliver { .. }
        ));
        assert_eq!(
            scheduler.verdict(&l.envelope, at(7200)),
            postel_queue::schedule::Verdict::Fail(postel_queue::schedule::ExpireReason::DeliverBy)
        );
    }

    pub async fn unlease_returns_work_without_an_attempt<S: QueueStore>(s: Arc<S>) {
        let id = s
            .enqueue(envelope(&["a@x.example"]), Bytes::new(), T0)
            .await
            .unwrap();
        let l = s.lease(request(1, 600), T0).await.unwrap().remove(0);
        s.unlease(&l).await.unwrap();
        let l2 = s.lease(request(1, 600), T0).await.unwrap().remove(0);
        assert_eq!((l2.id, l2.attempts), (id, 0));
        assert_eq!(s.inspect(id, T0).await.unwrap().queue(), QueueName::Active);
    }

    pub async fn delete_while_leased<S: QueueStore>(s: Arc<S>) {
        let id = s
            .enqueue(envelope(&["a@x.example"]), Bytes::new(), T0)
            .await
            .unwrap();
        let l = s.lease(request(1, 600), T0).await.unwrap().remove(0);
        s.delete(id).await.unwrap();
        assert_eq!(
            misuse(s.record(&l, &[delivered(0)], T0).await.unwrap_err()),
            MisuseError::UnknownMessage(id)
        );
    }

    /// `complete` records like `record`, and removes the message in the
    /// same step once nothing is pending; it checks the lease and the
    /// outcomes first, like `record`.
    pub async fn complete_removes_a_finished_message<S: QueueStore>(s: Arc<S>) {
        let id = s
            .enqueue(
                envelope(&["a@x.example", "b@y.example", "c@x.example"]),
                Bytes::from_static(b"x"),
                T0,
            )
            .await
            .unwrap();
        let l = s.lease(request(1, 600), T0).await.unwrap().remove(0);
        // Something still pending: an ordinary record.
        assert_eq!(s.complete(&l, &[delivered(0)], at(1)).await.unwrap(), 2);
        let info = s.inspect(id, at(1)).await.unwrap();
        assert_eq!(info.state.recipients[0].status, RecipientStatus::Delivered);
        // An invalid outcome changes nothing and removes nothing.
        assert_eq!(
            misuse(
                s.complete(&l, &[delivered(1), delivered(0)], at(2))
                    .await
                    .unwrap_err()
            ),
            MisuseError::NotLeased { id, index: 0 }
        );
        assert_eq!(
            s.inspect(id, at(2)).await.unwrap().state.recipients[1].status,
            RecipientStatus::Pending
        );
        // The last outcomes: the message is gone.
        assert_eq!(
            s.complete(&l, &[failed(1), delivered(2)], at(3))
                .await
                .unwrap(),
            0
        );
        assert!(s.list(at(3)).await.unwrap().is_empty());
        assert_eq!(
            misuse(s.read_data(id).await.unwrap_err()),
            MisuseError::UnknownMessage(id)
        );
        assert_eq!(
            misuse(s.complete(&l, &[], at(4)).await.unwrap_err()),
            MisuseError::UnknownMessage(id)
        );

        // Nothing to record and nothing pending (the process died between
        // the last record and the delete): `complete` with no outcomes
        // removes it.
        let id = s
            .enqueue(envelope(&["a@x.example"]), Bytes::new(), at(5))
            .await
            .unwrap();
        let l = s.lease(request(1, 600), at(5)).await.unwrap().remove(0);
        assert_eq!(s.record(&l, &[delivered(0)], at(5)).await.unwrap(), 0);
        assert_eq!(s.complete(&l, &[], at(6)).await.unwrap(), 0);
        assert_eq!(
            misuse(s.inspect(id, at(6)).await.unwrap_err()),
            MisuseError::UnknownMessage(id)
        );

        // A lost lease cannot complete.
        let id = s
            .enqueue(envelope(&["a@x.example"]), Bytes::new(), at(7))
            .await
            .unwrap();
        let stale = s.lease(request(1, 1), at(7)).await.unwrap().remove(0);
        let _fresh = s.lease(request(1, 600), at(9)).await.unwrap().remove(0);
        assert_eq!(
            misuse(
                s.complete(&stale, &[delivered(0)], at(9))
                    .await
                    .unwrap_err()
            ),
            MisuseError::LeaseLost(id)
        );
        assert_eq!(s.list(at(9)).await.unwrap().len(), 1);
    }

    /// A message whose destination never answers, driven through the store
    /// and the scheduler on a simulated clock until it expires after 5 days.
    pub async fn five_day_lifetime_through_the_store<S: QueueStore>(s: Arc<S>) {
        let scheduler =
            Scheduler::new(RetryPolicy::default(), DestinationPolicy::default()).unwrap();
        let id = s
            .enqueue(envelope(&["a@dead.example"]), Bytes::from_static(b"x"), T0)
            .await
            .unwrap();
        let mut now = T0;
        let mut attempts = 0;
        loop {
            let mut leases = s.lease(request(1, 60), now).await.unwrap();
            assert_eq!(leases.len(), 1, "due at {now}");
            let l = leases.remove(0);
            assert_eq!(l.attempts, attempts);
            attempts += 1;
            // Nothing is due until the next attempt.
            s.record(&l, &[deferred(0)], now).await.unwrap();
            match scheduler.after_failure(&l, now, None) {
                Plan::Retry { at, warn_delay } => {
                    assert!(!warn_delay);
                    s.defer(&l, defer_to(at), now).await.unwrap();
                    let just_before = at.saturating_sub(Duration::from_millis(1));
                    assert!(
                        s.lease(request(1, 60), just_before)
                            .await
                            .unwrap()
                            .is_empty()
                    );
                    now = at;
                }
                Plan::Expire(reason) => {
                    assert_eq!(reason, postel_queue::schedule::ExpireReason::Lifetime);
                    s.record(&l, &[failed(0)], now).await.unwrap();
                    break;
                }
            }
        }
        assert_eq!(now, at(5 * 86_400));
        assert_eq!(attempts, 112);
        let info = s.inspect(id, now).await.unwrap();
        assert_eq!(
            (info.state.attempts, info.state.recipients[0].status),
            (111, RecipientStatus::Failed)
        );
        s.delete(id).await.unwrap();
    }

    /// Several hundred seeded random steps (enqueues with priorities and
    /// FUTURERELEASE, leases of random size and time to live, completions,
    /// deferrals, unleases, renewals, leases left to expire, holds, time
    /// going forward and sometimes back): every lease hands out exactly the
    /// due work a scan of `list` finds, in MT-PRIORITY then age order.
    pub async fn lease_hands_out_exactly_the_due_work_in_order<S: QueueStore>(s: Arc<S>) {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut now_s = 0u64;
        let mut leases: Vec<postel_queue::Lease> = Vec::new();
        let mut n = 0;
        for _ in 0..400 {
            let now = at(now_s);
            match next(10) {
                0..=2 => {
                    let mut e = envelope(&["a@x.example", "b@y.example"][..1 + next(2) as usize]);
                    e.sender = format!("s{n}@o.example");
                    n += 1;
                    e.priority = next(7) as i8 - 3;
                    if next(4) == 0 {
                        e.hold_until = Some(at(now_s + next(60)));
                    }
                    s.enqueue(e, Bytes::new(), now).await.unwrap();
                }
                3..=5 => {
                    let max = 1 + next(5) as usize;
                    let mut due: Vec<_> = s
                        .list(now)
                        .await
                        .unwrap()
                        .into_iter()
                        .filter(|m| {
                            let start = m
                                .envelope
                                .hold_until
                                .map_or(m.state.next_attempt, |t| t.max(m.state.next_attempt));
                            !m.state.held
                                && m.leased_until.is_none()
                                && start <= now
                                && m.state.pending().next().is_some()
                        })
                        .map(|m| (-m.envelope.priority, m.queued, m.id))
                        .collect();
                    due.sort();
                    due.truncate(max);
                    let expected: Vec<_> = due.into_iter().map(|d| d.2).collect();
                    let got = s.lease(request(max, 1 + next(100)), now).await.unwrap();
                    assert_eq!(
                        got.iter().map(|l| l.id).collect::<Vec<_>>(),
                        expected,
                        "at {now_s} s"
                    );
                    leases.extend(got);
                }
                6 if !leases.is_empty() => {
                    let l = leases.swap_remove(next(leases.len() as u64) as usize);
                    let result = match next(5) {
                        0 => {
                            let all: Vec<_> = l.pending.iter().map(|&i| delivered(i)).collect();
                            s.complete(&l, &all, now).await.map(|_| ())
                        }
                        1 => {
                            let deferral = Deferral {
                                next_attempt: at(now_s + next(80)),
                                delay_warning_sent: false,
                            };
                            s.defer(&l, deferral, now).await
                        }
                        2 => s.unlease(&l).await,
                        3 => s
                            .renew(&l, Duration::from_secs(1 + next(50)), now)
                            .await
                            .map(|_| ()),
                        // Left to expire.
                        _ => Ok(()),
                    };
                    // A lease that expired and was handed out again is lost.
                    if let Err(e) = result {
                        assert!(
                            matches!(
                                e,
                                QueueError::Misuse(MisuseError::LeaseLost(_))
                                    | QueueError::Misuse(MisuseError::UnknownMessage(_))
                            ),
                            "{e:?}"
                        );
                    }
                }
                7 => {
                    let all = s.list(now).await.unwrap();
                    if !all.is_empty() {
                        let m = &all[next(all.len() as u64) as usize];
                        if m.state.held {
                            s.release(m.id).await.unwrap();
                        } else {
                            s.hold(m.id).await.unwrap();
                        }
                    }
                }
                8 if now_s > 20 && next(4) == 0 => now_s -= next(20),
                _ => now_s += next(40),
            }
        }
    }

    pub async fn concurrent_enqueues<S: QueueStore + 'static>(s: Arc<S>) {
        let mut producers = tokio::task::JoinSet::new();
        for i in 0..64u64 {
            let s = Arc::clone(&s);
            producers.spawn(async move {
                let data = Bytes::from(format!("Subject: {i}\r\n\r\nmessage {i}\r\n"));
                let id = s
                    .enqueue(envelope(&["a@x.example"]), data.clone(), at(i % 3))
                    .await
                    .unwrap();
                (id, data)
            });
        }
        let mut ids = HashSet::new();
        while let Some(done) = producers.join_next().await {
            let (id, data) = done.unwrap();
            assert_eq!(s.read_data(id).await.unwrap(), data);
            ids.insert(id);
        }
        assert_eq!(ids.len(), 64);
        assert_eq!(s.list(at(3)).await.unwrap().len(), 64);
    }
}
