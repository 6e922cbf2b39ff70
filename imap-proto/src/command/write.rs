//! Writing a command on the client.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::{Command, CommandBody, StoreMode};
use crate::datetime::write_date_time;
use crate::fetch;
use crate::flag;
use crate::list;
use crate::mailbox;
use crate::search::{self, SearchProgram};
use crate::select;
use crate::sequence;
use crate::sort;
use crate::status;
use crate::writer::Writer;

fn sp_mailbox(w: &mut Writer, m: &mailbox::Mailbox) {
    w.sp();
    mailbox::write(w, m);
}

fn uid(w: &mut Writer, uid: bool) {
    if uid {
        w.str("UID ");
    }
}

fn charset_program(w: &mut Writer, p: &SearchProgram) {
    w.sp();
    let charset = p.charset.as_deref().unwrap_or("UTF-8");
    if crate::lex::is_atom(charset.as_bytes()) {
        w.str(charset);
    } else {
        w.quoted(charset.as_bytes());
    }
    search::write_keys(w, &p.criteria);
}

pub(crate) fn write_command(w: &mut Writer, cmd: &Command) {
    use CommandBody as C;
    w.str(cmd.tag.as_str());
    w.sp();
    match &cmd.body {
        C::Capability => w.str("CAPABILITY"),
        C::Noop => w.str("NOOP"),
        C::Logout => w.str("LOGOUT"),
        C::StartTls => w.str("STARTTLS"),
        C::Namespace => w.str("NAMESPACE"),
        C::Idle => w.str("IDLE"),
        C::Close => w.str("CLOSE"),
        C::Unselect => w.str("UNSELECT"),
        C::Expunge => w.str("EXPUNGE"),
        C::Authenticate {
            mechanism,
            initial_response,
        } => {
            w.str("AUTHENTICATE ");
            w.str(mechanism);
            if let Some(ir) = initial_response {
                w.sp();
                if ir.0.is_empty() {
                    w.byte(b'=');
                } else {
                    w.str(&STANDARD.encode(&ir.0));
                }
            }
        }
        C::Login { username, password } => {
            w.str("LOGIN ");
            w.astring(username);
            w.sp();
            w.astring(&password.0);
        }
        C::Enable { capabilities } => {
            w.str("ENABLE");
            for c in capabilities {
                w.sp();
                w.str(c);
            }
        }
        C::Select { mailbox, params } | C::Examine { mailbox, params } => {
            w.str(if matches!(cmd.body, C::Select { .. }) {
                "SELECT"
            } else {
                "EXAMINE"
            });
            sp_mailbox(w, mailbox);
            select::write(w, params);
        }
        C::Create {
            mailbox,
            special_use,
        } => {
            w.str("CREATE");
            sp_mailbox(w, mailbox);
            if !special_use.is_empty() {
                w.str(" (USE ");
                w.paren_list(special_use, |w, a| {
                    w.byte(b'\\');
                    w.str(a);
                });
                w.byte(b')');
            }
        }
        C::Delete { mailbox } => {
            w.str("DELETE");
            sp_mailbox(w, mailbox);
        }
        C::Rename { from, to } => {
            w.str("RENAME");
            sp_mailbox(w, from);
            sp_mailbox(w, to);
        }
        C::Subscribe { mailbox } => {
            w.str("SUBSCRIBE");
            sp_mailbox(w, mailbox);
        }
        C::Unsubscribe { mailbox } => {
            w.str("UNSUBSCRIBE");
            sp_mailbox(w, mailbox);
        }
        C::List {
            selection,
            reference,
            patterns,
            returns,
        } => {
            w.str("LIST ");
            if !selection.is_empty() {
                w.paren_list(selection, list::write_select);
                w.sp();
            }
            mailbox::write(w, reference);
            w.sp();
            list::write_patterns(w, patterns);
            if !returns.is_empty() {
                w.str(" RETURN ");
                w.paren_list(returns, list::write_return);
            }
        }
        C::Lsub { reference, pattern } => {
            w.str("LSUB");
            sp_mailbox(w, reference);
            w.sp();
            list::write_pattern(w, pattern);
        }
        C::Status {
            mailbox,
            attributes,
        } => {
            w.str("STATUS");
            sp_mailbox(w, mailbox);
            w.sp();
            status::write_list(w, attributes);
        }
        C::Append {
            mailbox,
            flags,
            date,
            message,
        } => {
            w.str("APPEND");
            sp_mailbox(w, mailbox);
            w.sp();
            if !flags.is_empty() {
                flag::write_list(w, flags);
                w.sp();
            }
            if let Some(d) = date {
                write_date_time(w, d);
                w.sp();
            }
            if message.utf8 {
                w.str("UTF8 (");
                w.literal(&message.data, true);
                w.byte(b')');
            } else {
                w.literal(&message.data, message.binary);
            }
        }
        C::UidExpunge { set } => {
            w.str("UID EXPUNGE ");
            sequence::write(w, set);
        }
        C::Search {
            uid: u,
            returns,
            program,
        } => {
            uid(w, *u);
            w.str("SEARCH");
            if let Some(r) = returns {
                w.str(" RETURN ");
                w.paren_list(r, search::write_return);
            }
            if let Some(c) = &program.charset {
                w.str(" CHARSET ");
                if crate::lex::is_atom(c.as_bytes()) {
                    w.str(c);
                } else {
                    w.quoted(c.as_bytes());
                }
            }
            search::write_keys(w, &program.criteria);
        }
        C::Fetch {
            uid: u,
            set,
            items,
            modifiers,
        } => {
            uid(w, *u);
            w.str("FETCH ");
            sequence::write(w, set);
            w.sp();
            fetch::write_items(w, items);
            fetch::write_modifiers(w, modifiers);
        }
        C::Store {
            uid: u,
            set,
            unchanged_since,
            mode,
            silent,
            flags,
        } => {
            uid(w, *u);
            w.str("STORE ");
            sequence::write(w, set);
            w.sp();
            if let Some(n) = unchanged_since {
                w.str("(UNCHANGEDSINCE ");
                w.num(n);
                w.str(") ");
            }
            w.str(match mode {
                StoreMode::Replace => "FLAGS",
                StoreMode::Add => "+FLAGS",
                StoreMode::Remove => "-FLAGS",
            });
            if *silent {
                w.str(".SILENT");
            }
            w.sp();
            flag::write_list(w, flags);
        }
        C::Copy {
            uid: u,
            set,
            mailbox,
        }
        | C::Move {
            uid: u,
            set,
            mailbox,
        } => {
            uid(w, *u);
            w.str(if matches!(cmd.body, C::Copy { .. }) {
                "COPY "
            } else {
                "MOVE "
            });
            sequence::write(w, set);
            sp_mailbox(w, mailbox);
        }
        C::Id { fields } => {
            w.str("ID ");
            match fields {
                None => w.str("NIL"),
                Some(fields) => w.paren_list(fields, |w, (k, v)| {
                    w.string(k);
                    w.sp();
                    w.nstring(v.as_deref());
                }),
            }
        }
        C::GetQuota { root } => {
            w.str("GETQUOTA ");
            w.astring(root);
        }
        C::GetQuotaRoot { mailbox } => {
            w.str("GETQUOTAROOT");
            sp_mailbox(w, mailbox);
        }
        C::SetQuota { root, limits } => {
            w.str("SETQUOTA ");
            w.astring(root);
            w.sp();
            w.paren_list(limits, |w, (r, n)| {
                w.str(r);
                w.sp();
                w.num(n);
            });
        }
        C::Sort {
            uid: u,
            criteria,
            program,
        } => {
            uid(w, *u);
            w.str("SORT ");
            sort::write_criteria(w, criteria);
            charset_program(w, program);
        }
        C::Thread {
            uid: u,
            algorithm,
            program,
        } => {
            uid(w, *u);
            w.str("THREAD ");
            sort::write_algorithm(w, algorithm);
            charset_program(w, program);
        }
        C::Compress { algorithm } => {
            w.str("COMPRESS ");
            w.str(algorithm);
        }
    }
}
