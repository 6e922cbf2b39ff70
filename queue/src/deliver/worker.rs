//! The worker: leases due work from a [`QueueStore`], routes each pending
//! recipient, delivers per destination (one connection carrying every
//! message for it), applies the [`Scheduler`] (verdicts, destination
//! concurrency, rate and backoff, retry or expiry), records every outcome
//! and deletes what is finished.
//!
//! Deliveries are recorded as soon as each message is through (so a crash
//! repeats at most the message in flight); deferrals, failures and the
//! failure hook come at the end of the pass, when every destination of the
//! message has answered.

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

/// Why a recipient failed for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureReason {
    /// A permanent reply (5yz) or a permanent routing error (null MX,
    /// no such domain, bad address).
    Rejected,
    /// The message expired (queue lifetime, or a DELIVERBY `R` deadline)
    /// while the recipient was still deferred.
    Expired(ExpireReason),
}

/// A recipient that failed for good, for the failure report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedRecipient {
    /// The index in the envelope.
    pub index: usize,
    /// The address.
    pub address: String,
    /// The reply line recorded: `550 5.1.1 text`.
    pub reply: String,
    /// The server that said so (`host[addr]:port`), if one did.
    pub remote: Option<String>,
    /// Rejected, or expired.
    pub reason: FailureReason,
}

/// What a [`FinalFailureHook`] returns.
pub type HookFuture<'a> = Pin<Box<dyn Future<Output = Result<(), HookError>> + Send + 'a>>;

/// The hook failed (e.g. the failure report could not be queued): the
/// recipients are kept as deferred and reported again at the next attempt.
#[derive(Debug, thiserror::Error)]
#[error("final-failure hook: {0}")]
pub struct HookError(pub Box<dyn std::error::Error + Send + Sync>);

/// HOOK for failure reports (DSN, RFC 3464): called with the message and
/// the recipients that failed for good in this attempt, before the
/// failures are recorded and before the message can be deleted, so the
/// hook may still read the message data from the store. A crash after the
/// hook and before the record means the hook runs again for the same
/// recipients (a report twice, never none).
///
/// The worker writes no report text itself; the relay example only logs.
pub trait FinalFailureHook: Send + Sync {
    /// The failure hook.
    fn on_final_failure<'a>(
        &'a self,
        message: &'a MessageInfo,
        failed: &'a [FailedRecipient],
    ) -> HookFuture<'a>;
}

/// A plain function is a hook that cannot fail.
impl<F> FinalFailureHook for F
where
    F: Fn(&MessageInfo, &[FailedRecipient]) + Send + Sync,
{
    fn on_final_failure<'a>(
        &'a self,
        message: &'a MessageInfo,
        failed: &'a [FailedRecipient],
    ) -> HookFuture<'a> {
        self(message, failed);
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
                max_messages: 64,
                ttl: Duration::from_secs(600),
            },
            smtp: SmtpPolicy::default(),
            lmtp: LmtpPolicy::default(),
            resolve: ResolveOptions::default(),
            seed: 0,
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

/// Per-message results, sent as soon as each message is done so that
/// deliveries are recorded at once (a crash later in the pass then
/// repeats at most the message in flight).
type ResultSender = tokio::sync::mpsc::UnboundedSender<(usize, Vec<RecipientResult>)>;

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
    poll_interval: Duration,
    sweep_interval: Duration,
    hook: Option<Arc<dyn FinalFailureHook>>,
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
    let _ = results.send((job.msg, r));
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
        let _ = results.send((job.msg, delivery.results));
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
        address: lease
            .envelope
            .recipients
            .get(r.index)
            .map(|x| x.address.clone())
            .unwrap_or_default(),
        status: r.status,
        reply: r.reply(),
        destination: destinations.get(&r.index).cloned(),
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
            poll_interval: options.poll_interval,
            sweep_interval: options.sweep_interval,
            hook: None,
            last_failure: HashMap::new(),
        })
    }

    /// Sets the HOOK called with recipients that failed for good (where
    /// failure reports are to be generated).
    pub fn with_final_failure_hook(mut self, hook: Arc<dyn FinalFailureHook>) -> Self {
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
    /// defer, expire or delete each message. Errors with single messages
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
                // The delay report of DELIVERBY N is the report generator's.
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
        let mut running: HashMap<tokio::task::Id, (String, _)> = HashMap::new();
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
                    let jobs: Vec<Job> = items
                        .iter()
                        .filter_map(|(m, rcpts)| {
                            let w = msgs.get(*m)?;
                            Some(Job {
                                msg: *m,
                                envelope: Arc::clone(&w.lease.envelope),
                                data: w.data.clone(),
                                recipients: rcpts.clone(),
                                left: w.left,
                            })
                        })
                        .collect();
                    let seed = self.rng.next_u64();
                    let handle = tasks.spawn(deliver_group(
                        Arc::clone(&self.agents),
                        route,
                        jobs,
                        seed,
                        tx.clone(),
                    ));
                    running.insert(handle.id(), (key, permit));
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
        let (mut channel_open, mut tasks_left) = (true, !tasks.is_empty());
        while channel_open || tasks_left {
            tokio::select! {
                message = rx.recv(), if channel_open => match message {
                    Some((m, results)) => {
                        if let Some(w) = msgs.get_mut(m) {
                            self.absorb(w, results, &mut report).await;
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
            }
        }
        for work in msgs {
            self.finish_message(work, &mut report).await;
        }
        self.scheduler.forget_idle(self.clock.now());
        Ok(report)
    }

    /// Takes one message's results from a destination: deliveries are
    /// recorded at once; the rest waits for the end of the pass.
    async fn absorb(
        &mut self,
        work: &mut MessageWork,
        results: Vec<RecipientResult>,
        report: &mut RunReport,
    ) {
        let delivered: Vec<_> = results
            .iter()
            .filter(|r| r.status == Status::Delivered)
            .map(RecipientResult::to_outcome)
            .collect();
        if !delivered.is_empty() {
            let now = self.clock.now();
            match self.store.record(&work.lease, &delivered, now).await {
                Ok(_) => {
                    for r in results.iter().filter(|r| r.status == Status::Delivered) {
                        work.recorded.insert(r.index);
                        report
                            .events
                            .push(event(&work.lease, &work.destinations, r));
                    }
                }
                Err(e) => report
                    .errors
                    .push(format!("{}: recording deliveries: {e}", work.lease.id)),
            }
        }
        work.results.extend(results);
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

    async fn finish_message(&mut self, mut work: MessageWork, report: &mut RunReport) {
        let now = self.clock.now();
        let id = work.lease.id;
        // Every pending recipient gets a result; one without (should not
        // happen) waits.
        let missing: Vec<usize> = work
            .lease
            .pending
            .iter()
            .copied()
            .filter(|i| !work.results.iter().any(|r| r.index == *i))
            .collect();
        for i in missing {
            work.results
                .push(RecipientResult::local(i, "451 4.3.0 Not attempted", None));
        }
        work.results.sort_by_key(|r| r.index);
        work.results.dedup_by_key(|r| r.index);

        let mut reasons: HashMap<usize, FailureReason> = HashMap::new();
        if let Some(reason) = work.failed_by_verdict {
            for r in &work.results {
                reasons.insert(r.index, FailureReason::Expired(reason));
            }
        }
        let mut retry_at = None;
        if work.results.iter().any(|r| r.status == Status::Deferred) {
            match self
                .scheduler
                .after_failure(&work.lease, now, work.not_before)
            {
                Plan::Retry { at, .. } => retry_at = Some(at),
                Plan::Expire(reason) => {
                    for r in work
                        .results
                        .iter_mut()
                        .filter(|r| r.status == Status::Deferred)
                    {
                        let reply = expired_reply(reason, &r.reply());
                        *r = RecipientResult {
                            remote: r.remote.take(),
                            ..RecipientResult::local(r.index, &reply, None)
                        };
                        reasons.insert(r.index, FailureReason::Expired(reason));
                    }
                }
            }
        }

        let failed: Vec<FailedRecipient> = work
            .results
            .iter()
            .filter(|r| r.status == Status::Failed)
            .map(|r| FailedRecipient {
                index: r.index,
                address: work
                    .lease
                    .envelope
                    .recipients
                    .get(r.index)
                    .map(|x| x.address.clone())
                    .unwrap_or_default(),
                reply: r.reply(),
                remote: r.remote.clone(),
                reason: reasons
                    .get(&r.index)
                    .copied()
                    .unwrap_or(FailureReason::Rejected),
            })
            .collect();
        if !failed.is_empty()
            && let Some(hook) = self.hook.clone()
        {
            let hooked = match self.store.inspect(id, now).await {
                Ok(mut info) => {
                    for r in &work.results {
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
                    hook.on_final_failure(&info, &failed)
                        .await
                        .map_err(|e| e.to_string())
                }
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = hooked {
                report.errors.push(format!("{id}: {e}"));
                for r in work
                    .results
                    .iter_mut()
                    .filter(|r| r.status == Status::Failed)
                {
                    r.status = Status::Deferred;
                }
                retry_at.get_or_insert(
                    now.saturating_add(self.scheduler.retry_policy().minimal_backoff_time),
                );
            }
        }

        let unrecorded: Vec<&RecipientResult> = work
            .results
            .iter()
            .filter(|r| !work.recorded.contains(&r.index))
            .collect();
        let outcomes: Vec<_> = unrecorded.iter().map(|r| r.to_outcome()).collect();
        let pending = match self.store.record(&work.lease, &outcomes, now).await {
            Ok(p) => p,
            Err(e) => {
                report.errors.push(format!("{id}: recording outcomes: {e}"));
                return;
            }
        };
        for r in unrecorded {
            report
                .events
                .push(event(&work.lease, &work.destinations, r));
        }
        if pending == 0 {
            match self.store.delete(id).await {
                Ok(()) => report.deleted += 1,
                Err(e) => report.errors.push(format!("{id}: delete: {e}")),
            }
            return;
        }
        let at = retry_at.unwrap_or_else(|| {
            now.saturating_add(self.scheduler.retry_policy().minimal_backoff_time)
        });
        let deferral = Deferral {
            next_attempt: at,
            delay_warning_sent: work.lease.delay_warned,
        };
        match self.store.defer(&work.lease, deferral, now).await {
            Ok(()) => report.deferred += 1,
            Err(e) => report.errors.push(format!("{id}: defer: {e}")),
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
