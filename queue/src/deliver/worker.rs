//! The worker: leases due work from a [`QueueStore`], routes each pending
//! recipient, delivers per destination (connections carrying many
//! messages each; a destination with much work gets several, up to its
//! concurrency limit), applies the [`Scheduler`] (verdicts, destination
//! concurrency, rate and backoff, retry or expiry), records every outcome
//! and removes what is finished.
//!
//! Deliveries are recorded as soon as each message is through, so a crash
//! repeats at most the messages in flight; each recording runs in a task
//! of its own while the connections go on, so that the store's group
//! commit makes many of them durable in one flush, and a message whose
//! last recipients these were is removed in the same step
//! ([`QueueStore::complete`]). Deferrals, failures and the report hook
//! come at the end of the pass, when every destination of the message has
//! answered; the messages of a pass end concurrently too.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use postel_dns::Resolver;
use tokio::task::JoinSet;

use super::lmtp::{LmtpAgent, LmtpPolicy};
use super::route::{
    RandomSource, ResolveOptions, Route, RouteError, SplitMix64, Target, TransportTable,
    resolve_smtp,
};
use super::session::{Connection, OutboundMessage, RecipientResult, Status};
use super::smtp::{SmtpAgent, SmtpPolicy};
use super::tls::TlsSetupError;
use crate::dsn::DsnKind;
use crate::envelope::Envelope;
use crate::error::{MisuseError, QueueError};
use crate::id::QueueId;
use crate::schedule::{
    Admission, DestinationResult, ExpireReason, Permit, Plan, Scheduler, Verdict, destination_of,
};
use crate::state::{Deferral, Lease, LeaseRequest, MessageInfo, RecipientStatus};
use crate::store::QueueStore;
use crate::time::{SystemClock, Timestamp};

/// Where the worker gets the time. The worker reads it when it leases and
/// again when it records, so a slow delivery is recorded at its end.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> Timestamp;
}

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        SystemClock::now()
    }
}

impl<F: Fn() -> Timestamp + Send + Sync> Clock for F {
    fn now(&self) -> Timestamp {
        self()
    }
}

/// A recipient in a delivery status report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportedRecipient {
    /// The index in the envelope.
    pub index: usize,
    /// The address.
    pub address: String,
    /// The reply recorded: `550 5.1.1 text`, `451 4.4.1 ...`, `250 2.0.0 ok`.
    pub reply: String,
    /// The server that said so (`host[addr]:port`), if one did.
    pub remote: Option<String>,
    /// For a failure: the message expired (queue lifetime, or a DELIVERBY
    /// `R` deadline) while the recipient was still deferred, rather than
    /// being rejected. `None` for every other report.
    pub expired: Option<ExpireReason>,
}

/// What a [`ReportHook`] returns.
pub type HookFuture<'a> = Pin<Box<dyn Future<Output = Result<(), HookError>> + Send + 'a>>;

/// The hook failed (e.g. the report could not be queued). For a failure
/// report the recipients are kept as deferred and reported again at the
/// next attempt; a delay report is tried again at the next attempt; a
/// success report is not tried again (the delivery is recorded all the
/// same, so that the recipient does not get the message twice).
#[derive(Debug, thiserror::Error)]
#[error("report hook: {0}")]
pub struct HookError(pub Box<dyn std::error::Error + Send + Sync>);

/// HOOK for delivery status reports (RFC 3464): the worker decides when a
/// report is due, the hook writes and queues it (the relay example builds
/// it with [`build_dsn`](crate::dsn::build_dsn)).
///
/// - [`DsnKind::Failure`]: recipients that failed for good in this attempt
///   (rejected, or expired), all of them whatever their NOTIFY (the report
///   builder leaves out those that asked for none); called before the
///   failures are recorded and before the message can be removed, so the
///   hook may still read the message data. A crash after the hook and
///   before the record means the hook runs again for the same recipients
///   (a report twice, never none).
/// - [`DsnKind::Delay`]: once per message, when `delay_warning_time` has
///   passed (or a DELIVERBY `N` deadline) and recipients that want delay
///   reports (NOTIFY=DELAY, or no NOTIFY) are still deferred.
/// - [`DsnKind::Delivered`] and [`DsnKind::Relayed`]: recipients with
///   NOTIFY=SUCCESS, delivered by LMTP (final delivery), or relayed by SMTP
///   to a next hop that does not offer DSN (one that does gets NOTIFY
///   passed along and reports itself); called before the delivery is
///   recorded.
///
/// `message` shows each recipient's status as it will be recorded.
pub trait ReportHook: Send + Sync {
    /// A report of `kind` is due for `recipients` of `message`.
    fn on_report<'a>(
        &'a self,
        message: &'a MessageInfo,
        kind: DsnKind,
        recipients: &'a [ReportedRecipient],
    ) -> HookFuture<'a>;
}

/// A plain function is a hook that cannot fail.
impl<F> ReportHook for F
where
    F: Fn(&MessageInfo, DsnKind, &[ReportedRecipient]) + Send + Sync,
{
    fn on_report<'a>(
        &'a self,
        message: &'a MessageInfo,
        kind: DsnKind,
        recipients: &'a [ReportedRecipient],
    ) -> HookFuture<'a> {
        self(message, kind, recipients);
        Box::pin(std::future::ready(Ok(())))
    }
}

/// Everything the worker needs besides the store, resolver, clock and
/// scheduler.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// How much to lease per pass, and for how long.
    pub lease: LeaseRequest,
    /// The SMTP client.
    pub smtp: SmtpPolicy,
    /// The LMTP client.
    pub lmtp: LmtpPolicy,
    /// MX resolution limits.
    pub resolve: ResolveOptions,
    /// Seed of the generator that orders MX hosts of equal preference.
    pub seed: u64,
    /// A destination with many leased messages gets one connection per
    /// this many, up to its concurrency limit (Postfix's
    /// `default_destination_concurrency_limit`, 20 by default) and never
    /// more than one while it is being probed after failures.
    pub messages_per_connection: usize,
    /// How long [`Worker::run`] waits when there was nothing to do.
    pub poll_interval: Duration,
    /// How often [`Worker::run`] calls [`Worker::sweep_finished`] (it
    /// also does at start).
    pub sweep_interval: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            lease: LeaseRequest {
                max_messages: 256,
                ttl: Duration::from_secs(600),
            },
            smtp: SmtpPolicy::default(),
            lmtp: LmtpPolicy::default(),
            resolve: ResolveOptions::default(),
            seed: 0,
            messages_per_connection: 8,
            poll_interval: Duration::from_secs(1),
            sweep_interval: Duration::from_secs(300),
        }
    }
}

/// A pass of the worker failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The store failed to lease.
    #[error("queue: {0}")]
    Queue(#[from] QueueError),
    /// The TLS configuration could not be built.
    #[error("TLS setup: {0}")]
    Tls(#[from] TlsSetupError),
}

/// One recorded outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryEvent {
    /// The message.
    pub id: QueueId,
    /// The recipient.
    pub address: String,
    /// Delivered, deferred or failed.
    pub status: Status,
    /// The reply recorded.
    pub reply: String,
    /// The destination (route key), if it got that far.
    pub destination: Option<String>,
}

/// What one pass did.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    /// Messages leased.
    pub leased: usize,
    /// One per recipient outcome recorded.
    pub events: Vec<DeliveryEvent>,
    /// Messages finished and deleted.
    pub deleted: usize,
    /// Messages deferred.
    pub deferred: usize,
    /// Connections attempted.
    pub connections: usize,
    /// Problems with single messages (store errors, hook errors); the pass
    /// went on.
    pub errors: Vec<String>,
    /// Finished messages deleted by [`Worker::sweep_finished`].
    pub swept: usize,
}

impl RunReport {
    /// How many recipients ended with `status`.
    pub fn count(&self, status: Status) -> usize {
        self.events.iter().filter(|e| e.status == status).count()
    }
}

/// The per-message work of one pass.
struct MessageWork {
    lease: Lease,
    data: Bytes,
    left: Option<Duration>,
    results: Vec<RecipientResult>,
    destinations: HashMap<usize, String>,
    /// Recipients whose outcome is already recorded (deliveries).
    recorded: HashSet<usize>,
    /// Completed and removed from the store during the pass.
    removed: bool,
    /// Retry no earlier than this (a backed-off or rate-limited destination).
    not_before: Option<Timestamp>,
    /// Failed as a whole before delivery (DELIVERBY `R` passed).
    failed_by_verdict: Option<ExpireReason>,
}

/// A message (index into the pass's work) and its recipients for one
/// destination.
type GroupItem = (usize, Vec<usize>);

/// One message for one destination.
struct Job {
    msg: usize,
    envelope: Arc<Envelope>,
    data: Bytes,
    recipients: Vec<usize>,
    left: Option<Duration>,
}

struct GroupOutcome {
    failure: Option<String>,
    connections: usize,
}

/// How the next hop took the recipients it accepted, for success reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Handoff {
    /// LMTP: delivered to the mailbox.
    Final,
    /// SMTP: relayed; `dsn` if the next hop offered DSN (and so got NOTIFY
    /// and reports itself).
    Relayed { dsn: bool },
}

/// One message's results from one connection (or decided locally, with no
/// handoff), sent as soon as the message is through so that deliveries
/// are recorded at once (a crash later in the pass then repeats at most
/// the messages in flight).
struct Batch {
    msg: usize,
    results: Vec<RecipientResult>,
    handoff: Option<Handoff>,
}

type ResultSender = tokio::sync::mpsc::UnboundedSender<Batch>;

/// What a store task did for one message.
#[derive(Default)]
struct Settled {
    msg: usize,
    /// Recipients whose outcomes are now recorded.
    recorded: Vec<usize>,
    /// The message was removed (finished).
    removed: bool,
    /// The message was deferred.
    deferred: bool,
    events: Vec<DeliveryEvent>,
    errors: Vec<String>,
}

/// The end of one message's pass, decided by the worker and carried out by
/// [`settle`] concurrently with the other messages'.
struct Finish {
    msg: usize,
    lease: Lease,
    destinations: HashMap<usize, String>,
    /// One result per pending recipient.
    results: Vec<RecipientResult>,
    recorded: HashSet<usize>,
    failed: Vec<ReportedRecipient>,
    /// Deferred recipients to warn about, and until when the queue tries.
    delayed: Vec<ReportedRecipient>,
    /// A delay report is due (whether or not a recipient wants one).
    delay_due: bool,
    retry_until: Timestamp,
    retry_at: Option<Timestamp>,
    minimal_backoff: Duration,
    now: Timestamp,
}

struct Agents<R> {
    resolver: Arc<R>,
    smtp: SmtpAgent,
    lmtp: LmtpAgent,
    resolve: ResolveOptions,
}

/// Drains a queue: see the [module docs](self).
pub struct Worker<S, R, C> {
    store: Arc<S>,
    clock: C,
    table: TransportTable,
    agents: Arc<Agents<R>>,
    scheduler: Scheduler,
    rng: SplitMix64,
    lease: LeaseRequest,
    messages_per_connection: usize,
    poll_interval: Duration,
    sweep_interval: Duration,
    hook: Option<Arc<dyn ReportHook>>,
    last_failure: HashMap<String, String>,
}

impl<S, R, C> std::fmt::Debug for Worker<S, R, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("table", &self.table)
            .field("scheduler", &self.scheduler)
            .finish_non_exhaustive()
    }
}

fn fill(results: &ResultSender, job: &Job, reply: &str) {
    let r = job
        .recipients
        .iter()
        .map(|&i| RecipientResult::local(i, reply, None))
        .collect();
    // The receiver outlives every task.
    let _ = results.send(Batch {
        msg: job.msg,
        results: r,
        handoff: None,
    });
}

async fn deliver_group<R: Resolver>(
    agents: Arc<Agents<R>>,
    route: Route,
    jobs: Vec<Job>,
    seed: u64,
    results: ResultSender,
) -> GroupOutcome {
    let mut out = GroupOutcome {
        failure: None,
        connections: 0,
    };
    let mut targets: Vec<Target> = Vec::new();
    let max_per_connection = match &route {
        Route::Smtp(nexthop) => {
            let mut rng = SplitMix64::new(seed);
            match resolve_smtp(&*agents.resolver, nexthop, &mut rng, &agents.resolve).await {
                Ok(t) => targets = t,
                Err(e) => {
                    let reply = e.reply();
                    for job in &jobs {
                        fill(&results, job, &reply);
                    }
                    if !e.is_permanent() {
                        out.failure = Some(e.to_string());
                    }
                    return out;
                }
            }
            agents.smtp.policy().max_messages_per_connection
        }
        Route::Lmtp(_) => agents.lmtp.policy().max_messages_per_connection,
    }
    .max(1);
    let mut conn: Option<Connection> = None;
    let mut reconnects = 1;
    let mut dead: Option<String> = None;
    for job in &jobs {
        if let Some(reply) = &dead {
            fill(&results, job, reply);
            continue;
        }
        if conn
            .as_ref()
            .is_some_and(|c| !c.is_usable() || c.messages() >= max_per_connection)
            && let Some(c) = conn.take()
        {
            c.quit().await;
        }
        if conn.is_none() {
            out.connections += 1;
            let attempt = match &route {
                Route::Smtp(_) => agents.smtp.connect(&targets).await,
                Route::Lmtp(t) => agents.lmtp.connect(&*agents.resolver, t).await,
            };
            match attempt {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    let reply = e.reply();
                    out.failure = Some(e.to_string());
                    fill(&results, job, &reply);
                    dead = Some(reply);
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        let message = OutboundMessage {
            envelope: &job.envelope,
            recipients: &job.recipients,
            data: &job.data,
            deliver_by_left: job.left,
        };
        let delivery = c.deliver(&message).await;
        let handoff = match &route {
            Route::Lmtp(_) => Handoff::Final,
            Route::Smtp(_) => Handoff::Relayed {
                dsn: c.capabilities().dsn,
            },
        };
        if let Some(error) = delivery.connection_error {
            out.failure = Some(error.to_string());
            if let Some(c) = conn.take() {
                c.quit().await;
            }
            if reconnects == 0 {
                dead = Some(error.reply());
            }
            reconnects -= 1;
        }
        let _ = results.send(Batch {
            msg: job.msg,
            results: delivery.results,
            handoff: Some(handoff),
        });
    }
    if let Some(c) = conn {
        c.quit().await;
    }
    out
}

fn event(
    lease: &Lease,
    destinations: &HashMap<usize, String>,
    r: &RecipientResult,
) -> DeliveryEvent {
    DeliveryEvent {
        id: lease.id,
        address: address_of(lease, r.index),
        status: r.status,
        reply: r.reply(),
        destination: destinations.get(&r.index).cloned(),
    }
}

fn address_of(lease: &Lease, index: usize) -> String {
    lease
        .envelope
        .recipients
        .get(index)
        .map(|x| x.address.clone())
        .unwrap_or_default()
}

fn reported(
    lease: &Lease,
    r: &RecipientResult,
    expired: Option<ExpireReason>,
) -> ReportedRecipient {
    ReportedRecipient {
        index: r.index,
        address: address_of(lease, r.index),
        reply: r.reply(),
        remote: r.remote.clone(),
        expired,
    }
}

fn expired_reply(reason: ExpireReason, last: &str) -> String {
    let why = match reason {
        ExpireReason::Lifetime => "queue lifetime exceeded",
        ExpireReason::DeliverBy => "DELIVERBY deadline passed",
    };
    if last.is_empty() {
        format!("554 5.4.7 Message expired: {why}")
    } else {
        format!("554 5.4.7 Message expired: {why}; last reply: {last}")
    }
}

/// Calls the hook with the message as it will be after `results` are
/// recorded.
async fn call_hook<S: QueueStore>(
    store: &S,
    hook: &dyn ReportHook,
    lease: &Lease,
    results: &[RecipientResult],
    kind: DsnKind,
    recipients: &[ReportedRecipient],
    now: Timestamp,
) -> Result<(), String> {
    let mut info = store
        .inspect(lease.id, now)
        .await
        .map_err(|e| e.to_string())?;
    for r in results {
        if let Some(state) = info.state.recipients.get_mut(r.index) {
            state.status = match r.status {
                Status::Delivered => RecipientStatus::Delivered,
                Status::Failed => RecipientStatus::Failed,
                Status::Deferred => RecipientStatus::Pending,
            };
            state.updated = Some(now);
            state.last_reply = Some(r.reply());
        }
    }
    hook.on_report(&info, kind, recipients)
        .await
        .map_err(|e| e.to_string())
}

/// Records one message's deliveries from one connection (after the success
/// report they call for), removing the message when they were its last
/// pending recipients.
#[allow(clippy::too_many_arguments)]
async fn record_deliveries<S: QueueStore>(
    store: Arc<S>,
    hook: Option<Arc<dyn ReportHook>>,
    msg: usize,
    lease: Lease,
    delivered: Vec<RecipientResult>,
    success: Option<(DsnKind, Vec<ReportedRecipient>)>,
    events: Vec<DeliveryEvent>,
    last: bool,
    now: Timestamp,
) -> Settled {
    let mut out = Settled {
        msg,
        ..Settled::default()
    };
    if let (Some(hook), Some((kind, recipients))) = (&hook, &success)
        && let Err(e) =
            call_hook(&*store, &**hook, &lease, &delivered, *kind, recipients, now).await
    {
        out.errors
            .push(format!("{}: success report: {e}", lease.id));
    }
    let outcomes: Vec<_> = delivered.iter().map(RecipientResult::to_outcome).collect();
    let recorded = if last {
        store.complete(&lease, &outcomes, now).await
    } else {
        store.record(&lease, &outcomes, now).await
    };
    match recorded {
        Ok(pending) => {
            out.recorded = delivered.iter().map(|r| r.index).collect();
            out.removed = last && pending == 0;
            out.events = events;
        }
        Err(e) => out
            .errors
            .push(format!("{}: recording deliveries: {e}", lease.id)),
    }
    out
}

/// Carries out the end of one message's pass: failure and delay reports,
/// the outcomes not yet recorded, then removal (nothing pending) or the
/// deferral.
async fn settle<S: QueueStore>(
    store: Arc<S>,
    hook: Option<Arc<dyn ReportHook>>,
    mut f: Finish,
) -> Settled {
    let id = f.lease.id;
    let mut out = Settled {
        msg: f.msg,
        ..Settled::default()
    };
    if let Some(hook) = &hook
        && !f.failed.is_empty()
        && let Err(e) = call_hook(
            &*store,
            &**hook,
            &f.lease,
            &f.results,
            DsnKind::Failure,
            &f.failed,
            f.now,
        )
        .await
    {
        out.errors.push(format!("{id}: {e}"));
        for r in f.results.iter_mut().filter(|r| r.status == Status::Failed) {
            r.status = Status::Deferred;
        }
        f.retry_at
            .get_or_insert(f.now.saturating_add(f.minimal_backoff));
    }
    // Due but wanted by nobody (every deferred recipient's NOTIFY leaves
    // delays out): nothing to send, and nothing to ask again next time.
    let mut warned =
        f.lease.delay_warned || (f.delay_due && f.delayed.is_empty() && hook.is_some());
    if let Some(hook) = &hook
        && !f.delayed.is_empty()
    {
        let kind = DsnKind::Delay {
            retry_until: f.retry_until,
        };
        match call_hook(
            &*store, &**hook, &f.lease, &f.results, kind, &f.delayed, f.now,
        )
        .await
        {
            Ok(()) => warned = true,
            Err(e) => out.errors.push(format!("{id}: delay report: {e}")),
        }
    }

    let unrecorded: Vec<&RecipientResult> = f
        .results
        .iter()
        .filter(|r| !f.recorded.contains(&r.index))
        .collect();
    let outcomes: Vec<_> = unrecorded.iter().map(|r| r.to_outcome()).collect();
    let pending = match store.complete(&f.lease, &outcomes, f.now).await {
        Ok(p) => p,
        Err(e) => {
            out.errors.push(format!("{id}: recording outcomes: {e}"));
            return out;
        }
    };
    out.recorded = unrecorded.iter().map(|r| r.index).collect();
    out.events = unrecorded
        .iter()
        .map(|r| event(&f.lease, &f.destinations, r))
        .collect();
    if pending == 0 {
        out.removed = true;
        return out;
    }
    let deferral = Deferral {
        next_attempt: f
            .retry_at
            .unwrap_or_else(|| f.now.saturating_add(f.minimal_backoff)),
        delay_warning_sent: warned,
    };
    match store.defer(&f.lease, deferral, f.now).await {
        Ok(()) => out.deferred = true,
        Err(e) => out.errors.push(format!("{id}: defer: {e}")),
    }
    out
}

impl<S, R, C> Worker<S, R, C>
where
    S: QueueStore + 'static,
    R: Resolver + 'static,
    C: Clock,
{
    /// A worker over `store` that routes through `table`, resolves through
    /// `resolver`, reads the time from `clock`, and schedules with
    /// `scheduler`.
    pub fn new(
        store: Arc<S>,
        resolver: Arc<R>,
        clock: C,
        table: TransportTable,
        scheduler: Scheduler,
        options: WorkerOptions,
    ) -> Result<Self, WorkerError> {
        let agents = Agents {
            resolver,
            smtp: SmtpAgent::new(options.smtp)?,
            lmtp: LmtpAgent::new(options.lmtp),
            resolve: options.resolve,
        };
        Ok(Worker {
            store,
            clock,
            table,
            agents: Arc::new(agents),
            scheduler,
            rng: SplitMix64::new(options.seed),
            lease: options.lease,
            messages_per_connection: options.messages_per_connection.max(1),
            poll_interval: options.poll_interval,
            sweep_interval: options.sweep_interval,
            hook: None,
            last_failure: HashMap::new(),
        })
    }

    /// Sets the HOOK called when a delivery status report is due (where
    /// failure, delay and success reports are to be generated).
    pub fn with_report_hook(mut self, hook: Arc<dyn ReportHook>) -> Self {
        self.hook = Some(hook);
        self
    }

    /// The scheduler (for its destination state).
    pub fn scheduler(&self) -> &Scheduler {
        &self.scheduler
    }

    /// The store.
    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    /// One pass: lease what is due, deliver it, record the outcomes, and
    /// defer, expire or remove each message. Errors with single messages
    /// are reported in [`RunReport::errors`]; only a failed lease fails the
    /// pass.
    pub async fn run_once(&mut self) -> Result<RunReport, WorkerError> {
        let now = self.clock.now();
        let leases = self.store.lease(self.lease, now).await?;
        let mut report = RunReport {
            leased: leases.len(),
            ..RunReport::default()
        };
        let mut msgs: Vec<MessageWork> = Vec::new();
        let mut groups: BTreeMap<String, (Route, Vec<GroupItem>)> = BTreeMap::new();
        for lease in leases {
            let mut work = MessageWork {
                lease,
                data: Bytes::new(),
                left: None,
                results: Vec::new(),
                destinations: HashMap::new(),
                recorded: HashSet::new(),
                removed: false,
                not_before: None,
                failed_by_verdict: None,
            };
            match self.scheduler.verdict(&work.lease.envelope, now) {
                Verdict::Wait(t) => {
                    let deferral = Deferral {
                        next_attempt: t,
                        delay_warning_sent: work.lease.delay_warned,
                    };
                    if let Err(e) = self.store.defer(&work.lease, deferral, now).await {
                        report.errors.push(format!("{}: {e}", work.lease.id));
                    }
                    continue;
                }
                Verdict::Fail(reason) => {
                    work.failed_by_verdict = Some(reason);
                    let reply = expired_reply(reason, "");
                    work.results = work
                        .lease
                        .pending
                        .iter()
                        .map(|&i| RecipientResult::local(i, &reply, None))
                        .collect();
                    msgs.push(work);
                    continue;
                }
                Verdict::Deliver { deliver_by_left } => work.left = deliver_by_left,
                // The delay report is due after the attempt, if recipients
                // are still deferred (`Plan::Retry::warn_delay`).
                Verdict::DeliverLate { .. } => {}
            }
            match self.store.read_data(work.lease.id).await {
                Ok(data) => work.data = data,
                Err(e) => {
                    report.errors.push(format!("{}: {e}", work.lease.id));
                    let at = now.saturating_add(self.scheduler.retry_policy().minimal_backoff_time);
                    let deferral = Deferral {
                        next_attempt: at,
                        delay_warning_sent: work.lease.delay_warned,
                    };
                    let _ = self.store.defer(&work.lease, deferral, now).await;
                    continue;
                }
            }
            let m = msgs.len();
            let mut routed: BTreeMap<String, (Route, Vec<usize>)> = BTreeMap::new();
            for &i in &work.lease.pending {
                let Some(r) = work.lease.envelope.recipients.get(i) else {
                    continue;
                };
                let domain = destination_of(&r.address);
                match self.table.route(&domain) {
                    Some(route) => {
                        let key = route.key();
                        work.destinations.insert(i, key.clone());
                        routed.entry(key).or_insert((route, Vec::new())).1.push(i);
                    }
                    None => {
                        let reply = RouteError::BadDomain { domain }.reply();
                        work.results.push(RecipientResult::local(i, &reply, None));
                    }
                }
            }
            for (key, (route, rcpts)) in routed {
                groups
                    .entry(key)
                    .or_insert((route, Vec::new()))
                    .1
                    .push((m, rcpts));
            }
            msgs.push(work);
        }

        let mut tasks = JoinSet::new();
        let mut running: HashMap<tokio::task::Id, (String, Permit)> = HashMap::new();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for (key, (route, items)) in groups {
            let deferred = |reply: String, msgs: &mut Vec<MessageWork>, until| {
                for (m, rcpts) in &items {
                    if let Some(w) = msgs.get_mut(*m) {
                        w.results.extend(
                            rcpts
                                .iter()
                                .map(|&i| RecipientResult::local(i, &reply, None)),
                        );
                        if let Some(t) = until {
                            w.not_before = Some(w.not_before.map_or(t, |n: Timestamp| n.max(t)));
                        }
                    }
                }
            };
            match self.scheduler.try_start(&key, now) {
                Admission::Granted(permit) => {
                    // More connections for a destination with much work,
                    // as far as its concurrency limit lets.
                    let mut permits = vec![permit];
                    let wanted = items.len().div_ceil(self.messages_per_connection);
                    while permits.len() < wanted {
                        match self.scheduler.try_start(&key, now) {
                            Admission::Granted(p) => permits.push(p),
                            _ => break,
                        }
                    }
                    // Round robin, so that every connection starts with the
                    // most urgent of its share.
                    let mut shares: Vec<Vec<Job>> = permits.iter().map(|_| Vec::new()).collect();
                    let n = shares.len();
                    for (k, (m, rcpts)) in items.iter().enumerate() {
                        let (Some(w), Some(share)) = (msgs.get(*m), shares.get_mut(k % n)) else {
                            continue;
                        };
                        share.push(Job {
                            msg: *m,
                            envelope: Arc::clone(&w.lease.envelope),
                            data: w.data.clone(),
                            recipients: rcpts.clone(),
                            left: w.left,
                        });
                    }
                    for (jobs, permit) in shares.into_iter().zip(permits) {
                        let seed = self.rng.next_u64();
                        let handle = tasks.spawn(deliver_group(
                            Arc::clone(&self.agents),
                            route.clone(),
                            jobs,
                            seed,
                            tx.clone(),
                        ));
                        running.insert(handle.id(), (key.clone(), permit));
                    }
                }
                Admission::Busy => deferred(
                    format!("451 4.4.5 Too many deliveries to {key} in progress"),
                    &mut msgs,
                    None,
                ),
                Admission::RateLimited { until } => deferred(
                    format!("451 4.4.5 Delivery rate limit for {key} reached"),
                    &mut msgs,
                    Some(until),
                ),
                Admission::BackedOff { until } => {
                    let last = self
                        .last_failure
                        .get(&key)
                        .map_or("it failed repeatedly", String::as_str);
                    deferred(
                        format!(
                            "451 4.4.1 Delivery to {key} temporarily suspended until {until}: {last}"
                        ),
                        &mut msgs,
                        Some(until),
                    );
                }
            }
        }
        drop(tx);

        // Deliveries are recorded while the connections go on, each in a
        // task of its own, so that the store's group commit takes many of
        // them in one flush.
        let mut recording: JoinSet<Settled> = JoinSet::new();
        let (mut channel_open, mut tasks_left) = (true, !tasks.is_empty());
        while channel_open || tasks_left || !recording.is_empty() {
            tokio::select! {
                batch = rx.recv(), if channel_open => match batch {
                    Some(batch) => {
                        if let Some(task) = self.absorb(&mut msgs, batch) {
                            recording.spawn(task);
                        }
                    }
                    None => channel_open = false,
                },
                joined = tasks.join_next_with_id(), if tasks_left => {
                    let Some(joined) = joined else {
                        tasks_left = false;
                        continue;
                    };
                    self.task_done(joined, &mut running, &mut report);
                }
                settled = recording.join_next(), if !recording.is_empty() => {
                    if let Some(settled) = settled {
                        merge(settled, &mut msgs, &mut report);
                    }
                }
            }
        }

        let now = self.clock.now();
        let mut finishing: JoinSet<Settled> = JoinSet::new();
        for (m, work) in msgs.iter_mut().enumerate() {
            if work.removed {
                continue;
            }
            let finish = self.plan_finish(m, work, now);
            finishing.spawn(settle(Arc::clone(&self.store), self.hook.clone(), finish));
        }
        while let Some(settled) = finishing.join_next().await {
            merge(settled, &mut msgs, &mut report);
        }
        self.scheduler.forget_idle(self.clock.now());
        Ok(report)
    }

    /// Takes one message's results from a destination: deliveries are
    /// recorded at once (in the returned task), removing the message if
    /// they were the last of it; the rest waits for the end of the pass.
    fn absorb(
        &self,
        msgs: &mut [MessageWork],
        batch: Batch,
    ) -> Option<impl Future<Output = Settled> + Send + 'static> {
        let work = msgs.get_mut(batch.msg)?;
        let delivered: Vec<RecipientResult> = batch
            .results
            .iter()
            .filter(|r| r.status == Status::Delivered)
            .cloned()
            .collect();
        work.results.extend(batch.results);
        if delivered.is_empty() {
            return None;
        }
        let last = work.lease.pending.iter().all(|i| {
            work.results
                .iter()
                .any(|r| r.index == *i && r.status == Status::Delivered)
        });
        let kind = match batch.handoff {
            Some(Handoff::Final) => Some(DsnKind::Delivered),
            Some(Handoff::Relayed { dsn: false }) => Some(DsnKind::Relayed),
            Some(Handoff::Relayed { dsn: true }) | None => None,
        };
        let success = kind.and_then(|kind| {
            let wanting: Vec<ReportedRecipient> = delivered
                .iter()
                .filter(|r| {
                    work.lease
                        .envelope
                        .recipients
                        .get(r.index)
                        .is_some_and(|x| x.notify.is_some_and(|n| n.success))
                })
                .map(|r| reported(&work.lease, r, None))
                .collect();
            (!wanting.is_empty()).then_some((kind, wanting))
        });
        let events = delivered
            .iter()
            .map(|r| event(&work.lease, &work.destinations, r))
            .collect();
        Some(record_deliveries(
            Arc::clone(&self.store),
            self.hook.clone(),
            batch.msg,
            work.lease.clone(),
            delivered,
            success,
            events,
            last,
            self.clock.now(),
        ))
    }

    fn task_done(
        &mut self,
        joined: Result<(tokio::task::Id, GroupOutcome), tokio::task::JoinError>,
        running: &mut HashMap<tokio::task::Id, (String, Permit)>,
        report: &mut RunReport,
    ) {
        let (id, outcome) = match joined {
            Ok((id, outcome)) => (id, Ok(outcome)),
            Err(e) => (e.id(), Err(e.to_string())),
        };
        let Some((key, permit)) = running.remove(&id) else {
            return;
        };
        let finished = self.clock.now();
        match outcome {
            Ok(outcome) => {
                report.connections += outcome.connections;
                let result = match outcome.failure {
                    Some(f) => {
                        self.last_failure.insert(key, f);
                        DestinationResult::Failure
                    }
                    None => {
                        self.last_failure.remove(&key);
                        DestinationResult::Success
                    }
                };
                self.scheduler.finish(permit, result, finished);
            }
            Err(e) => {
                // The task died (a bug): its recipients without a result
                // wait ("not attempted").
                self.scheduler
                    .finish(permit, DestinationResult::Failure, finished);
                report.errors.push(format!("delivery to {key}: {e}"));
            }
        }
    }

    /// Decides the end of a message's pass: a result for every pending
    /// recipient, expiry or the retry time, and which reports are due.
    fn plan_finish(&self, m: usize, work: &mut MessageWork, now: Timestamp) -> Finish {
        // Every pending recipient gets a result; one without (should not
        // happen) waits.
        let missing: Vec<usize> = work
            .lease
            .pending
            .iter()
            .copied()
            .filter(|i| !work.results.iter().any(|r| r.index == *i))
            .collect();
        let mut results = std::mem::take(&mut work.results);
        for i in missing {
            results.push(RecipientResult::local(i, "451 4.3.0 Not attempted", None));
        }
        results.sort_by_key(|r| r.index);
        results.dedup_by_key(|r| r.index);

        let mut expired: HashMap<usize, ExpireReason> = HashMap::new();
        if let Some(reason) = work.failed_by_verdict {
            for r in &results {
                expired.insert(r.index, reason);
            }
        }
        let policy = self.scheduler.retry_policy();
        let mut retry_at = None;
        let mut warn_delay = false;
        if results.iter().any(|r| r.status == Status::Deferred) {
            match self
                .scheduler
                .after_failure(&work.lease, now, work.not_before)
            {
                Plan::Retry { at, warn_delay: w } => {
                    retry_at = Some(at);
                    warn_delay = w;
                }
                Plan::Expire(reason) => {
                    for r in results.iter_mut().filter(|r| r.status == Status::Deferred) {
                        let reply = expired_reply(reason, &r.reply());
                        *r = RecipientResult {
                            remote: r.remote.take(),
                            ..RecipientResult::local(r.index, &reply, None)
                        };
                        expired.insert(r.index, reason);
                    }
                }
            }
        }
        let failed = results
            .iter()
            .filter(|r| r.status == Status::Failed)
            .map(|r| reported(&work.lease, r, expired.get(&r.index).copied()))
            .collect();
        let retry_until = work
            .lease
            .queued
            .saturating_add(policy.lifetime(work.lease.envelope.is_null_sender()));
        let delay = DsnKind::Delay { retry_until };
        let delayed = if warn_delay {
            results
                .iter()
                .filter(|r| r.status == Status::Deferred)
                .filter(|r| {
                    work.lease
                        .envelope
                        .recipients
                        .get(r.index)
                        .is_some_and(|x| delay.wanted_by(x.notify))
                })
                .map(|r| reported(&work.lease, r, None))
                .collect()
        } else {
            Vec::new()
        };
        Finish {
            msg: m,
            lease: work.lease.clone(),
            destinations: std::mem::take(&mut work.destinations),
            results,
            recorded: std::mem::take(&mut work.recorded),
            failed,
            delayed,
            delay_due: warn_delay,
            retry_until,
            retry_at,
            minimal_backoff: policy.minimal_backoff_time,
            now,
        }
    }

    /// Deletes messages with no pending recipient and no live lease: those
    /// left when the process died between recording the last outcome and
    /// deleting the message (leasing never hands them out). Returns how
    /// many were deleted.
    pub async fn sweep_finished(&mut self) -> Result<usize, WorkerError> {
        let now = self.clock.now();
        let mut deleted = 0;
        for info in self.store.list(now).await? {
            if info.leased_until.is_some() || info.state.pending().next().is_some() {
                continue;
            }
            match self.store.delete(info.id).await {
                Ok(()) => deleted += 1,
                Err(QueueError::Misuse(MisuseError::UnknownMessage(_))) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(deleted)
    }

    /// Runs passes until `shutdown` completes: a new pass at once after one
    /// that found work, otherwise after the poll interval or when `wake` is
    /// notified (after an enqueue, say). Each pass's report or error goes
    /// to `observe`. A pass interrupted by shutdown leaves its leases to
    /// expire (or to vanish with the process).
    pub async fn run<F>(
        &mut self,
        wake: &tokio::sync::Notify,
        shutdown: F,
        mut observe: impl FnMut(Result<&RunReport, &WorkerError>),
    ) where
        F: Future<Output = ()>,
    {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut last_sweep: Option<tokio::time::Instant> = None;
        loop {
            if last_sweep.is_none_or(|t| t.elapsed() >= self.sweep_interval) {
                last_sweep = Some(tokio::time::Instant::now());
                match self.sweep_finished().await {
                    Ok(0) => {}
                    Ok(swept) => observe(Ok(&RunReport {
                        swept,
                        ..RunReport::default()
                    })),
                    Err(e) => observe(Err(&e)),
                }
            }
            let result = tokio::select! {
                r = self.run_once() => r,
                () = &mut shutdown => return,
            };
            observe(result.as_ref());
            let busy = matches!(&result, Ok(r) if r.leased > 0);
            if !busy {
                tokio::select! {
                    () = tokio::time::sleep(self.poll_interval) => {}
                    () = wake.notified() => {}
                    () = &mut shutdown => return,
                }
            }
        }
    }
}

/// Takes a store task's result into the pass.
fn merge(
    settled: Result<Settled, tokio::task::JoinError>,
    msgs: &mut [MessageWork],
    report: &mut RunReport,
) {
    let settled = match settled {
        Ok(s) => s,
        Err(e) => {
            report.errors.push(format!("store task: {e}"));
            return;
        }
    };
    if let Some(work) = msgs.get_mut(settled.msg) {
        work.recorded.extend(settled.recorded);
        work.removed |= settled.removed;
    }
    report.deleted += usize::from(settled.removed);
    report.deferred += usize::from(settled.deferred);
    report.events.extend(settled.events);
    report.errors.extend(settled.errors);
}
