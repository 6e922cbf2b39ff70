//! Writing an aggregate report as XML (RFC 7489 Appendix C).

use std::fmt::Write as _;

use super::{AggregateReport, ReportRecord};

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

struct Xml {
    out: String,
    depth: usize,
}

impl Xml {
    fn open(&mut self, name: &str) {
        self.indent();
        let _ = writeln!(self.out, "<{name}>");
        self.depth += 1;
    }

    fn close(&mut self, name: &str) {
        self.depth -= 1;
        self.indent();
        let _ = writeln!(self.out, "</{name}>");
    }

    fn leaf(&mut self, name: &str, value: &str) {
        self.indent();
        let _ = writeln!(self.out, "<{name}>{}</{name}>", escape(value));
    }

    fn opt(&mut self, name: &str, value: Option<&str>) {
        if let Some(v) = value {
            self.leaf(name, v);
        }
    }

    fn indent(&mut self) {
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
    }
}

impl AggregateReport {
    /// The report as an XML document.
    pub fn to_xml(&self) -> String {
        let mut x = Xml {
            out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
            depth: 0,
        };
        x.open("feedback");
        x.opt("version", self.version.as_deref());
        let m = &self.metadata;
        x.open("report_metadata");
        x.leaf("org_name", &m.org_name);
        x.leaf("email", &m.email);
        x.opt("extra_contact_info", m.extra_contact_info.as_deref());
        x.leaf("report_id", &m.report_id);
        x.open("date_range");
        x.leaf("begin", &m.begin.to_string());
        x.leaf("end", &m.end.to_string());
        x.close("date_range");
        for e in &m.errors {
            x.leaf("error", e);
        }
        x.close("report_metadata");

        let p = &self.policy_published;
        x.open("policy_published");
        x.leaf("domain", &p.domain);
        x.opt("adkim", p.adkim.map(|a| a.as_str()));
        x.opt("aspf", p.aspf.map(|a| a.as_str()));
        x.leaf("p", p.p.as_str());
        x.opt("sp", p.sp.map(|s| s.as_str()));
        x.opt("np", p.np.map(|s| s.as_str()));
        x.opt("pct", p.pct.map(|n| n.to_string()).as_deref());
        x.opt("fo", p.fo.as_deref());
        x.close("policy_published");

        for r in &self.records {
            write_record(&mut x, r);
        }
        x.close("feedback");
        x.out
    }
}

fn write_record(x: &mut Xml, r: &ReportRecord) {
    x.open("record");
    x.open("row");
    x.leaf("source_ip", &r.row.source_ip.to_string());
    x.leaf("count", &r.row.count.to_string());
    let pe = &r.row.policy_evaluated;
    x.open("policy_evaluated");
    x.leaf("disposition", pe.disposition.as_str());
    x.leaf("dkim", pe.dkim.as_str());
    x.leaf("spf", pe.spf.as_str());
    for reason in &pe.reasons {
        x.open("reason");
        x.leaf("type", reason.kind.as_str());
        x.opt("comment", reason.comment.as_deref());
        x.close("reason");
    }
    x.close("policy_evaluated");
    x.close("row");
    x.open("identifiers");
    x.opt("envelope_to", r.identifiers.envelope_to.as_deref());
    x.opt("envelope_from", r.identifiers.envelope_from.as_deref());
    x.leaf("header_from", &r.identifiers.header_from);
    x.close("identifiers");
    x.open("auth_results");
    for d in &r.dkim {
        x.open("dkim");
        x.leaf("domain", &d.domain);
        x.opt("selector", d.selector.as_deref());
        x.leaf("result", &d.result.0);
        x.opt("human_result", d.human_result.as_deref());
        x.close("dkim");
    }
    for s in &r.spf {
        x.open("spf");
        x.leaf("domain", &s.domain);
        x.opt("scope", s.scope.as_deref());
        x.leaf("result", &s.result.0);
        x.close("spf");
    }
    x.close("auth_results");
    x.close("record");
}
