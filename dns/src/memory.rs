//! An in-memory table of answers, for tests, benchmarks and zone files.

use std::collections::{HashMap, HashSet};
use std::future::{Future, ready};

use crate::types::{Answer, Query, Record, RecordType, Resolver, normalize_name};

/// How many CNAME links a lookup follows by default before it gives up with
/// [`Answer::TempFail`]. BIND and Unbound stop at a similar depth.
pub const DEFAULT_MAX_CNAME_HOPS: usize = 8;

/// What the table holds for one owner name.
#[derive(Debug, Clone, Default)]
struct Node {
    /// The answer for each record type asked at this name.
    answers: HashMap<RecordType, Answer>,
    /// The CNAME target (normal form), if the name is an alias.
    alias: Option<String>,
}

/// An in-memory DNS table: a [`Resolver`] that answers from a `HashMap`,
/// without I/O.
///
/// Names are compared in the normal form of [`Query`] (ASCII lower case, no
/// trailing dot), whatever spelling they were added with.
///
/// A lookup of `(name, type)` answers:
///
/// * the answer stored for that pair, if there is one — records added with
///   [`add`](Self::add), or any [`Answer`] set with
///   [`insert`](Self::insert), `TempFail` included;
/// * else, when the name is an alias ([`alias`](Self::alias), a CNAME), the
///   lookup of the target, following at most
///   [`max_cname_hops`](Self::set_max_cname_hops) links; a longer chain or a
///   loop answers `TempFail`;
/// * else [`Answer::NoData`] when the name exists: it has some answer or
///   alias, or a name below it does (an "empty non-terminal", RFC 8020);
/// * else, when a wildcard `*.parent` exists at the closest existing ancestor
///   (RFC 4592), the wildcard's answer, as above;
/// * else [`Answer::NxDomain`].
///
/// Cloning copies the table; share one table between tasks with an
/// [`Arc`](std::sync::Arc) (which is a [`Resolver`] too) instead.
///
/// ```
/// use postel_dns::{Answer, MemoryResolver, Query, Record, RecordType};
///
/// let mut dns = MemoryResolver::new();
/// dns.add_txt("example.com", "v=spf1 mx -all")
///     .add("Mail.Example.com.", Record::A("192.0.2.25".parse().unwrap()))
///     .alias("smtp.example.com", "mail.example.com")
///     .insert("flaky.example.com", RecordType::Txt, Answer::TempFail("SERVFAIL".into()));
///
/// let a = dns.answer(&Query::new("SMTP.example.com", RecordType::A));
/// assert_eq!(a.ips().count(), 1);
/// assert_eq!(dns.answer(&Query::new("example.com", RecordType::Mx)), Answer::NoData);
/// assert_eq!(dns.answer(&Query::new("nope.example.com", RecordType::A)), Answer::NxDomain);
/// assert!(dns.answer(&Query::new("flaky.example.com", RecordType::Txt)).is_temp_fail());
/// ```
#[derive(Debug, Clone)]
pub struct MemoryResolver {
    nodes: HashMap<String, Node>,
    /// Proper ancestors of the owner names, which exist without data.
    empty_non_terminals: HashSet<String>,
    max_cname_hops: usize,
}

impl Default for MemoryResolver {
    fn default() -> Self {
        MemoryResolver {
            nodes: HashMap::new(),
            empty_non_terminals: HashSet::new(),
            max_cname_hops: DEFAULT_MAX_CNAME_HOPS,
        }
    }
}

static EMPTY_NODE: std::sync::LazyLock<Node> = std::sync::LazyLock::new(Node::default);

impl MemoryResolver {
    /// An empty table: every name is NXDOMAIN.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `record` to the answer for `name` and the record's type.
    ///
    /// The record's host names are normalized ([`Record::normalized`]). A
    /// record equal to one already there is not added twice (an RRset is a
    /// set). If the pair held an answer other than records (say
    /// `TempFail`), the record replaces it.
    pub fn add(&mut self, name: &str, record: Record) -> &mut Self {
        let record = record.normalized();
        let node = self.node_mut(name);
        let slot = node
            .answers
            .entry(record.record_type())
            .or_insert(Answer::NoData);
        match slot {
            Answer::Records(records) => {
                if !records.contains(&record) {
                    records.push(record);
                }
            }
            other => *other = Answer::Records(vec![record]),
        }
        self
    }

    /// Appends a TXT record made of `text` (the character-strings already
    /// joined, as [`Record::Txt`] holds them).
    pub fn add_txt(&mut self, name: &str, text: impl AsRef<[u8]>) -> &mut Self {
        self.add(name, Record::Txt(text.as_ref().to_vec()))
    }

    /// Sets the answer for `(name, rtype)`, replacing what was there, and
    /// returns the previous one.
    ///
    /// Any answer may be set: `TempFail` to simulate a broken server,
    /// `NxDomain` to make this one type answer NXDOMAIN (the name still
    /// exists for other types). `Records` with an empty list is stored as
    /// `NoData`; records are stored as given, even of another type.
    pub fn insert(&mut self, name: &str, rtype: RecordType, answer: Answer) -> Option<Answer> {
        let answer = match answer {
            Answer::Records(records) => Answer::from_records(records),
            other => other,
        };
        self.node_mut(name).answers.insert(rtype, answer)
    }

    /// Makes `name` an alias (CNAME) of `target`: queries for `name` of a
    /// type that has no answer of its own at `name` are answered for
    /// `target`. Replaces an earlier alias of `name`.
    pub fn alias(&mut self, name: &str, target: &str) -> &mut Self {
        let target = normalize_name(target);
        self.node_mut(name).alias = Some(target);
        self
    }

    /// Makes `name` exist without records: it answers NODATA for every type
    /// (unless answers are added later).
    pub fn touch(&mut self, name: &str) -> &mut Self {
        self.node_mut(name);
        self
    }

    /// Removes the answer set for `(name, rtype)` and returns it. The name
    /// keeps existing (it answers NODATA for that type).
    pub fn remove(&mut self, name: &str, rtype: RecordType) -> Option<Answer> {
        self.nodes
            .get_mut(&normalize_name(name))
            .and_then(|node| node.answers.remove(&rtype))
    }

    /// Sets how many CNAME links a lookup follows before it answers
    /// `TempFail` ([`DEFAULT_MAX_CNAME_HOPS`] unless set).
    pub fn set_max_cname_hops(&mut self, hops: usize) -> &mut Self {
        self.max_cname_hops = hops;
        self
    }

    /// The number of owner names in the table (not counting empty
    /// non-terminals).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True when no name has been added.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Merges `other` into this table: its answers replace this table's
    /// answers for the same `(name, type)` pairs, except that records are
    /// appended to records; its aliases replace this table's.
    pub fn merge(&mut self, other: MemoryResolver) -> &mut Self {
        for (name, node) in other.nodes {
            let mine = self.node_mut(&name);
            if node.alias.is_some() {
                mine.alias = node.alias;
            }
            for (rtype, answer) in node.answers {
                match (mine.answers.get_mut(&rtype), answer) {
                    (Some(Answer::Records(have)), Answer::Records(more)) => {
                        for r in more {
                            if !have.contains(&r) {
                                have.push(r);
                            }
                        }
                    }
                    (_, answer) => {
                        mine.answers.insert(rtype, answer);
                    }
                }
            }
        }
        self
    }

    /// Answers `query` at once: the synchronous form of
    /// [`Resolver::lookup`], for benchmarks and test servers.
    pub fn answer(&self, query: &Query) -> Answer {
        let rtype = query.record_type();
        let mut name = query.name();
        for _ in 0..=self.max_cname_hops {
            let Some(node) = self.find(name) else {
                return Answer::NxDomain;
            };
            if let Some(answer) = node.answers.get(&rtype) {
                return answer.clone();
            }
            match &node.alias {
                Some(target) => name = target,
                None => return Answer::NoData,
            }
        }
        Answer::TempFail(format!(
            "CNAME chain from {} longer than {} links (or a loop)",
            query.name(),
            self.max_cname_hops
        ))
    }

    /// The node for `name` (normal form): its own, the empty node of an
    /// empty non-terminal, or a wildcard's.
    fn find(&self, name: &str) -> Option<&Node> {
        if let Some(node) = self.nodes.get(name) {
            return Some(node);
        }
        if self.empty_non_terminals.contains(name) {
            return Some(&EMPTY_NODE);
        }
        // RFC 4592: find the closest encloser, then look for `*.` under it.
        let mut rest = name;
        while let Some((_, parent)) = rest.split_once('.') {
            rest = parent;
            if self.nodes.contains_key(parent) || self.empty_non_terminals.contains(parent) {
                return self.nodes.get(&format!("*.{parent}"));
            }
        }
        None
    }

    fn node_mut(&mut self, name: &str) -> &mut Node {
        let name = normalize_name(name);
        if !self.nodes.contains_key(&name) {
            let mut rest = name.as_str();
            while let Some((_, parent)) = rest.split_once('.') {
                rest = parent;
                if !self.empty_non_terminals.insert(parent.to_owned()) {
                    break; // its ancestors are there already
                }
            }
        }
        self.nodes.entry(name).or_default()
    }
}

impl Resolver for MemoryResolver {
    fn lookup(&self, query: &Query) -> impl Future<Output = Answer> + Send {
        ready(self.answer(query))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(name: &str, t: RecordType) -> Query {
        Query::new(name, t)
    }

    fn a(s: &str) -> Record {
        Record::A(s.parse().unwrap())
    }

    #[test]
    fn absent_is_nxdomain_other_type_is_nodata() {
        let mut dns = MemoryResolver::new();
        assert!(dns.is_empty());
        dns.add("www.example.com", a("192.0.2.1"));
        assert_eq!(dns.len(), 1);
        assert_eq!(
            dns.answer(&q("WWW.example.COM.", RecordType::A)),
            Answer::Records(vec![a("192.0.2.1")])
        );
        assert_eq!(
            dns.answer(&q("www.example.com", RecordType::Txt)),
            Answer::NoData
        );
        assert_eq!(
            dns.answer(&q("ftp.example.com", RecordType::A)),
            Answer::NxDomain
        );
        assert_eq!(
            dns.answer(&q("example.org", RecordType::A)),
            Answer::NxDomain
        );
    }

    #[test]
    fn add_appends_and_deduplicates() {
        let mut dns = MemoryResolver::new();
        dns.add("h", a("192.0.2.1"))
            .add("h", a("192.0.2.2"))
            .add("H.", a("192.0.2.1"));
        assert_eq!(
            dns.answer(&q("h", RecordType::A)).records(),
            &[a("192.0.2.1"), a("192.0.2.2")]
        );
    }

    #[test]
    fn add_normalizes_host_names() {
        let mut dns = MemoryResolver::new();
        dns.add(
            "example.com",
            Record::Mx {
                preference: 5,
                exchange: "MX.Example.com.".into(),
            },
        );
        assert_eq!(
            dns.answer(&q("example.com", RecordType::Mx)).records(),
            &[Record::Mx {
                preference: 5,
                exchange: "mx.example.com".into()
            }]
        );
    }

    #[test]
    fn explicit_answers_replace_and_records_replace_them() {
        let mut dns = MemoryResolver::new();
        assert_eq!(
            dns.insert("t", RecordType::Txt, Answer::TempFail("SERVFAIL".into())),
            None
        );
        assert_eq!(
            dns.answer(&q("t", RecordType::Txt)),
            Answer::TempFail("SERVFAIL".into())
        );
        // Other types of the same name: it exists, so NODATA.
        assert_eq!(dns.answer(&q("t", RecordType::A)), Answer::NoData);
        dns.insert("t", RecordType::A, Answer::NxDomain);
        assert_eq!(dns.answer(&q("t", RecordType::A)), Answer::NxDomain);
        dns.add_txt("t", "hello");
        assert_eq!(
            dns.answer(&q("t", RecordType::Txt)).txt().next(),
            Some(&b"hello"[..])
        );
        assert_eq!(
            dns.insert("t", RecordType::Mx, Answer::Records(vec![])),
            None
        );
        assert_eq!(dns.answer(&q("t", RecordType::Mx)), Answer::NoData);
        assert!(dns.remove("t", RecordType::Txt).is_some());
        assert_eq!(dns.answer(&q("t", RecordType::Txt)), Answer::NoData);
        dns.touch("empty");
        assert_eq!(dns.answer(&q("empty", RecordType::A)), Answer::NoData);
    }

    #[test]
    fn cname_chains_are_followed() {
        let mut dns = MemoryResolver::new();
        dns.alias("a.example", "B.example.")
            .alias("b.example", "c.example")
            .add("c.example", a("192.0.2.3"))
            .alias("dangling.example", "missing.example");
        assert_eq!(
            dns.answer(&q("a.example", RecordType::A)).records(),
            &[a("192.0.2.3")]
        );
        assert_eq!(dns.answer(&q("a.example", RecordType::Mx)), Answer::NoData);
        assert_eq!(
            dns.answer(&q("dangling.example", RecordType::A)),
            Answer::NxDomain
        );
        // An answer of the alias's own wins over the alias.
        dns.insert("a.example", RecordType::Txt, Answer::TempFail("x".into()));
        assert!(dns.answer(&q("a.example", RecordType::Txt)).is_temp_fail());
    }

    #[test]
    fn cname_loops_and_long_chains_are_tempfail() {
        let mut dns = MemoryResolver::new();
        dns.alias("x", "y").alias("y", "x");
        let answer = dns.answer(&q("x", RecordType::A));
        assert!(answer.is_temp_fail(), "{answer:?}");

        let mut chain = MemoryResolver::new();
        for i in 0..5 {
            chain.alias(&format!("n{i}"), &format!("n{}", i + 1));
        }
        chain.add("n5", a("192.0.2.5"));
        assert_eq!(chain.answer(&q("n0", RecordType::A)).records().len(), 1);
        chain.set_max_cname_hops(4);
        assert!(chain.answer(&q("n0", RecordType::A)).is_temp_fail());
        chain.set_max_cname_hops(5);
        assert_eq!(chain.answer(&q("n0", RecordType::A)).records().len(), 1);
    }

    #[test]
    fn empty_non_terminals_are_nodata() {
        let mut dns = MemoryResolver::new();
        dns.add_txt("sel._domainkey.example.com", "v=DKIM1; p=");
        assert_eq!(
            dns.answer(&q("_domainkey.example.com", RecordType::Txt)),
            Answer::NoData
        );
        assert_eq!(
            dns.answer(&q("example.com", RecordType::Txt)),
            Answer::NoData
        );
        assert_eq!(
            dns.answer(&q("other._domainkey.example.com", RecordType::Txt)),
            Answer::NxDomain
        );
    }

    #[test]
    fn wildcards_answer_below_the_closest_encloser() {
        let mut dns = MemoryResolver::new();
        dns.add_txt("*.example.com", "wild")
            .add("host.example.com", a("192.0.2.9"))
            .add_txt("sub.example.com", "sub");
        let wild = Answer::Records(vec![Record::Txt(b"wild".to_vec())]);
        assert_eq!(
            dns.answer(&q("anything.example.com", RecordType::Txt)),
            wild
        );
        assert_eq!(dns.answer(&q("a.b.example.com", RecordType::Txt)), wild);
        assert_eq!(
            dns.answer(&q("anything.example.com", RecordType::A)),
            Answer::NoData
        );
        // Existing names are not covered by the wildcard.
        assert_eq!(
            dns.answer(&q("host.example.com", RecordType::Txt)),
            Answer::NoData
        );
        // Below an existing name without its own wildcard: NXDOMAIN.
        assert_eq!(
            dns.answer(&q("x.sub.example.com", RecordType::Txt)),
            Answer::NxDomain
        );
    }

    #[test]
    fn merge_appends_records_and_replaces_the_rest() {
        let mut one = MemoryResolver::new();
        one.add("h", a("192.0.2.1"))
            .insert("h", RecordType::Txt, Answer::TempFail("x".into()));
        let mut two = MemoryResolver::new();
        two.add("h", a("192.0.2.2"))
            .add_txt("h", "t")
            .alias("k", "h");
        one.merge(two);
        assert_eq!(one.answer(&q("h", RecordType::A)).records().len(), 2);
        assert_eq!(one.answer(&q("k", RecordType::Txt)).txt().count(), 1);
    }

    #[test]
    fn is_a_send_sync_clone_resolver() {
        fn check<R: Resolver + Clone + Send + Sync + 'static>(_: &R) {}
        let mut dns = MemoryResolver::new();
        dns.add("h", a("192.0.2.1"));
        check(&dns);
        let copy = dns.clone();
        let query = q("h", RecordType::A);
        let fut = copy.lookup(&query);
        // The future is ready at once; poll it without a runtime.
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut fut = std::pin::pin!(fut);
        match fut.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(answer) => assert_eq!(answer.records().len(), 1),
            std::task::Poll::Pending => panic!("memory lookups are ready at once"),
        }
    }
}
