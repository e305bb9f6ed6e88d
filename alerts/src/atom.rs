//! The Atom feed (RFC 4287) of a recipient's alerts, served at the secret
//! URL `/feeds/{token}.atom`: one entry per alerted notice (updates are
//! entries of their own), newest first.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::email::{escape, render_item_html};
use super::Alert;

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// Entries shown in a feed.
pub const FEED_ENTRIES: usize = 100;

/// The feed document. `self_url` is the feed's own (secret) URL; the feed
/// id does not contain the token, so rotating the token keeps the id.
pub fn render(
    recipient: &str,
    title: &str,
    self_url: &str,
    alerts: &[Alert],
    now: OffsetDateTime,
) -> String {
    let updated = alerts.first().map_or(now, |a| a.created_at);
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    x.push_str("<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    x.push_str(&format!(
        "  <id>urn:sebroker:alerts:{}</id>\n  <title>{}</title>\n  <updated>{}</updated>\n  <link rel=\"self\" type=\"application/atom+xml\" href=\"{}\"/>\n  <author><name>sebroker</name></author>\n  <generator>sebroker</generator>\n",
        escape(recipient),
        escape(title),
        rfc3339(updated),
        escape(self_url)
    ));
    let mut n = 0;
    'outer: for a in alerts {
        for i in &a.items {
            if n >= FEED_ENTRIES {
                break 'outer;
            }
            n += 1;
            let mut t = String::new();
            if i.kind == "update" {
                t.push_str("Update: ");
            }
            if i.signal.is_some() {
                t.push_str("Early signal: ");
            }
            t.push_str(&i.title);
            let mut summary = vec![format!("Value {}", i.value)];
            if let Some(b) = &i.buyer {
                summary.insert(0, b.clone());
            }
            if let Some(d) = i.days_left.filter(|d| *d >= 0) {
                summary.push(format!("{d} days left"));
            }
            summary.extend(i.reasons.iter().cloned());
            x.push_str(&format!(
                "  <entry>\n    <id>urn:sebroker:alert:{}:{}</id>\n    <title>{}</title>\n    <updated>{}</updated>\n    <link rel=\"alternate\" href=\"{}\"/>\n    <category term=\"{}\"/>\n    <summary>{}</summary>\n    <content type=\"html\">{}</content>\n  </entry>\n",
                escape(&a.id),
                escape(&i.ocid),
                escape(&t),
                rfc3339(a.created_at),
                escape(&i.link),
                escape(&i.kind),
                escape(&summary.join(". ")),
                escape(&render_item_html(i))
            ));
        }
    }
    x.push_str("</feed>\n");
    x
}
