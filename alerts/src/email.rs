//! Email delivery: a multipart message (plain text and HTML) with an
//! unsubscribe link (also as `List-Unsubscribe` with one-click POST), sent
//! by SMTP (lettre, rustls) when `smtp_url` is configured, otherwise
//! written as `<delivery id>.eml` into the outbox folder. The Message-ID is
//! derived from the delivery id, so a repeated send is recognisably the
//! same message.

use std::path::Path;
use std::time::Duration;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::schedule::uk_day;
use super::webhook::Attempt;
use super::{Alert, AlertItem, AlertKind};
use crate::error::Error;

/// Subject, plain text and HTML of an alert.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

fn heading(alert: &Alert) -> String {
    let n = alert.items.len();
    let updates = alert.items.iter().filter(|i| i.kind == "update").count();
    let what = match alert.kind {
        AlertKind::Instant => "New opportunity alert",
        AlertKind::Daily => "Your daily digest",
        AlertKind::Weekly => "Your weekly digest",
        AlertKind::Broker => "Notices that need brokering",
    };
    let mut s = format!("{what}: {} notice{}", n, if n == 1 { "" } else { "s" });
    if updates > 0 {
        s.push_str(&format!(
            " ({updates} update{})",
            if updates == 1 { "" } else { "s" }
        ));
    }
    s
}

fn facts(i: &AlertItem) -> Vec<String> {
    let mut f = Vec::new();
    if let Some(b) = &i.buyer {
        f.push(format!("Buyer: {b}"));
    }
    f.push(format!("Value: {}", i.value));
    match (i.deadline, i.days_left) {
        (Some(d), Some(days)) if days >= 0 => {
            f.push(format!("Deadline: {} ({days} days left)", uk_day(d)))
        }
        (Some(d), _) => f.push(format!("Deadline: {} (passed)", uk_day(d))),
        _ => {}
    }
    if let Some(s) = i.score {
        f.push(format!("Match score: {s:.2}"));
    }
    f
}

fn label(i: &AlertItem) -> String {
    let mut l = String::new();
    if i.kind == "update" {
        l.push_str("[Update] ");
    }
    if i.signal.is_some() {
        l.push_str("[Early signal] ");
    }
    if let Some(b) = &i.broker {
        l.push_str(&format!("[{}] ", b.kind.replace('_', " ")));
    }
    l
}

fn why(i: &AlertItem) -> &'static str {
    if i.kind == "update" {
        "What changed"
    } else {
        "Why it fits"
    }
}

/// One item as HTML (email body and feed entry content).
pub fn render_item_html(i: &AlertItem) -> String {
    let mut html = format!(
        "<h2 style=\"font-size:1.1em\">{}<a href=\"{}\">{}</a></h2>\n<ul>\n",
        escape(&label(i)),
        escape(&i.link),
        escape(&i.title)
    );
    if let Some(sig) = &i.signal {
        html.push_str(&format!(
            "<li><strong>{}</strong></li>\n",
            escape(&sig.label)
        ));
    }
    for f in facts(i) {
        html.push_str(&format!("<li>{}</li>\n", escape(&f)));
    }
    if !i.reasons.is_empty() {
        html.push_str(&format!(
            "<li>{}: {}</li>\n",
            why(i),
            escape(&i.reasons.join("; "))
        ));
    }
    html.push_str("</ul>\n");
    html
}

/// Renders an alert for email.
pub fn render(alert: &Alert, unsubscribe: Option<&str>) -> Rendered {
    let subject = heading(alert);
    let mut text = format!("{subject}\n\n");
    let mut html = format!(
        "<!DOCTYPE html><html><body style=\"font-family:sans-serif\"><h1 style=\"font-size:1.3em\">{}</h1>\n",
        escape(&subject)
    );
    for (k, i) in alert.items.iter().enumerate() {
        text.push_str(&format!("{}. {}{}\n", k + 1, label(i), i.title));
        if let Some(sig) = &i.signal {
            text.push_str(&format!("   {}\n", sig.label));
        }
        for f in facts(i) {
            text.push_str(&format!("   {f}\n"));
        }
        if !i.reasons.is_empty() {
            text.push_str(&format!("   {}: {}\n", why(i), i.reasons.join("; ")));
        }
        text.push_str(&format!("   {}\n\n", i.link));
        html.push_str(&render_item_html(i));
    }
    if let Some(u) = unsubscribe {
        text.push_str(&format!(
            "--\nYou receive this because your organisation asked for sebroker alerts.\nUnsubscribe: {u}\n"
        ));
        html.push_str(&format!(
            "<hr><p style=\"font-size:0.85em\">You receive this because your organisation asked for sebroker alerts. <a href=\"{}\">Unsubscribe</a></p>\n",
            escape(u)
        ));
    }
    html.push_str("</body></html>\n");
    Rendered {
        subject,
        text,
        html,
    }
}

/// Builds the message.
pub fn message(
    from: &str,
    to: &str,
    r: &Rendered,
    delivery_id: &str,
    unsubscribe: Option<&str>,
) -> Result<Message, String> {
    let from: Mailbox = from
        .parse()
        .map_err(|e| format!("email_from {from:?}: {e}"))?;
    let to: Mailbox = to.parse().map_err(|e| format!("to {to:?}: {e}"))?;
    let mut msg = Message::builder()
        .from(from)
        .to(to)
        .subject(r.subject.clone())
        .message_id(Some(format!("<{delivery_id}@sebroker>")))
        .multipart(MultiPart::alternative_plain_html(
            r.text.clone(),
            r.html.clone(),
        ))
        .map_err(|e| format!("cannot build the message: {e}"))?;
    if let Some(u) = unsubscribe {
        let name = |n: &str| HeaderName::new_from_ascii(n.to_owned()).map_err(|e| e.to_string());
        msg.headers_mut().insert_raw(HeaderValue::new(
            name("List-Unsubscribe")?,
            format!("<{u}>"),
        ));
        msg.headers_mut().insert_raw(HeaderValue::new(
            name("List-Unsubscribe-Post")?,
            "List-Unsubscribe=One-Click".into(),
        ));
    }
    Ok(msg)
}

/// Writes the message as `<outbox>/<delivery id>.eml` (atomically: a
/// temporary file renamed into place).
pub fn write_outbox(outbox: &Path, delivery_id: &str, msg: &Message) -> Attempt {
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(outbox)?;
        let tmp = outbox.join(format!(".{delivery_id}.eml.tmp"));
        std::fs::write(&tmp, msg.formatted())?;
        std::fs::rename(&tmp, outbox.join(format!("{delivery_id}.eml")))
    };
    match write() {
        Ok(()) => Attempt::Sent,
        Err(e) => Attempt::Retry(format!(
            "cannot write to the outbox {}: {e}",
            outbox.display()
        )),
    }
}

/// Sends by SMTP (`smtp://`, `smtps://` or `smtp://...?tls=required` URL).
pub async fn send_smtp(smtp_url: &str, timeout: Duration, msg: Message) -> Attempt {
    let transport = match AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url) {
        Ok(b) => b.timeout(Some(timeout)).build(),
        // The URL is a secret: do not repeat it.
        Err(e) => return Attempt::Permanent(format!("smtp_url is not usable: {e}")),
    };
    match transport.send(msg).await {
        Ok(_) => Attempt::Sent,
        Err(e) if e.is_permanent() => Attempt::Permanent(format!("SMTP refused: {e}")),
        Err(e) => Attempt::Retry(format!("SMTP: {e}")),
    }
}

/// Escapes text for XML and HTML.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Characters XML 1.0 forbids are dropped.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// Checks an email address (one mailbox, no display tricks).
pub fn parse_email(s: &str) -> crate::Result<String> {
    let s = s.trim();
    let ok = s.len() <= 254
        && s.parse::<lettre::Address>().is_ok()
        && !s.contains(['<', '>', ',', ' ', '\r', '\n']);
    if ok {
        Ok(s.to_owned())
    } else {
        Err(Error::Invalid(format!(
            "email: {s:?} is not an email address"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn messages_have_text_html_and_unsubscribe() {
        let alert = Alert {
            id: "al-1".into(),
            recipient: "m-1".into(),
            kind: AlertKind::Daily,
            created_at: datetime!(2026-11-30 08:00 UTC),
            items: vec![AlertItem {
                ocid: "o-1".into(),
                kind: "new".into(),
                changes: vec![],
                title: "Meals <& more>".into(),
                buyer: Some("Walsall Council".into()),
                value_pence: Some(100),
                value: "£1.00".into(),
                deadline: Some(datetime!(2027-02-12 12:00 UTC)),
                days_left: Some(74),
                status: sebroker_model::Status::Open,
                score: Some(0.71),
                reasons: vec!["CPV matches".into()],
                signal: None,
                broker: None,
                link: "https://x.example/api/v1/notices/o-1".into(),
                source_url: None,
            }],
        };
        let r = render(&alert, Some("https://x.example/unsubscribe/t"));
        assert!(r.html.contains("Meals &lt;&amp; more&gt;"));
        assert!(r.text.contains("74 days left"));
        let m = message(
            "sebroker <alerts@x.example>",
            "a@example.org",
            &r,
            "dl-1",
            Some("https://x.example/unsubscribe/t"),
        )
        .expect("builds");
        let raw = String::from_utf8_lossy(&m.formatted()).into_owned();
        assert!(raw.contains("multipart/alternative"));
        assert!(raw.contains("List-Unsubscribe: <https://x.example/unsubscribe/t>"));
        assert!(raw.contains("Message-ID: <dl-1@sebroker>"));
    }
}
