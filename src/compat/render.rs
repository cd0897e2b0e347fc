//! The compat and impact reports as text for a terminal, Markdown for a pull request, and one HTML page.

use std::fmt::Write;

use super::{Change, Compat, Impact, Row, Verdict};

/// Every report says what it could see: both sides are played here, so both sides' alerts are real observations.
fn heading(c: &Compat) -> String {
    let (ok, fail, untried) = c.counts();
    let server = if c.live {
        format!(
            "live target {} (only the client side is observed; the server's alerts are read from the wire)",
            c.server
        )
    } else {
        format!("server {} ({})", c.server, c.server_library)
    };
    format!(
        "{}: {}; {} of {} clients connect, {} fail, {} cannot be tried",
        c.scenario,
        server,
        ok,
        c.rows.len(),
        fail,
        untried
    )
}

fn verdict(v: Verdict) -> &'static str {
    match v {
        Verdict::Connects => "connects",
        Verdict::Fails => "FAILS",
        Verdict::Unsupported => "n/a",
        Verdict::Error => "error",
    }
}

/// A line per client, then for a failure the client's own error, the cause and the fix, indented.
pub fn table(c: &Compat) -> String {
    let mut out = heading(c) + "\n\n";
    let width = c.rows.iter().map(|r| r.client.to_string().len()).max().unwrap_or(6).max(6);
    for r in &c.rows {
        let _ = writeln!(out, "{:<width$}  {:<8}  {}", r.client.to_string(), verdict(r.verdict), r.outcome());
        details(&mut out, r, "          ");
    }
    out
}

fn details(out: &mut String, r: &Row, indent: &str) {
    if r.verdict == Verdict::Connects
        && let Some(note) = &r.reason
    {
        let _ = writeln!(out, "{indent}note: {note}");
    }
    if r.verdict != Verdict::Fails {
        return;
    }
    if let Some(e) = &r.client_error {
        let _ = writeln!(out, "{indent}client says: {e}");
    }
    if let Some(cause) = &r.cause {
        let _ = writeln!(out, "{indent}cause: {cause}");
    }
    if let Some(fix) = &r.fix {
        let _ = writeln!(out, "{indent}fix: {fix}");
    }
}

fn md(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// One table row per client.
pub fn markdown(c: &Compat) -> String {
    let mut out = format!("## {}\n\n", md(&heading(c)));
    out.push_str("| client | library | result | negotiated or alerts | client's error | cause | fix |\n");
    out.push_str("|---|---|---|---|---|---|---|\n");
    for r in &c.rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            r.client,
            md(&r.library),
            verdict(r.verdict),
            md(&r.outcome()),
            md(r.client_error.as_deref().unwrap_or("")),
            md(r.cause.as_deref().unwrap_or("")),
            md(r.fix.as_deref().unwrap_or("")),
        );
    }
    out
}

fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A self-contained page: a title, headings, and one table.
fn page(title: &str, headings: &[String], columns: &[&str], rows: &[(&str, Vec<String>)]) -> String {
    let mut out = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>tlsmatrix {}</title>\n<style>\
         body{{font-family:sans-serif}} td,th{{border:1px solid #ccc;padding:4px;vertical-align:top}} \
         table{{border-collapse:collapse}} .connects,.fixes{{background:#e6ffe6}} .fails,.breaks{{background:#ffe6e6}} \
         .changed{{background:#fff6d6}}</style></head><body>\n",
        esc(title)
    );
    for h in headings {
        let _ = writeln!(out, "<h2>{}</h2>", esc(h));
    }
    out.push_str("<table>\n<tr>");
    for c in columns {
        let _ = write!(out, "<th>{}</th>", esc(c));
    }
    out.push_str("</tr>\n");
    for (class, cells) in rows {
        let _ = write!(out, "<tr class=\"{class}\">");
        for c in cells {
            let _ = write!(out, "<td>{}</td>", esc(c));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n</body></html>\n");
    out
}

/// One self-contained page.
pub fn html(c: &Compat) -> String {
    let rows: Vec<(&str, Vec<String>)> = c
        .rows
        .iter()
        .map(|r| {
            let class = match r.verdict {
                Verdict::Connects => "connects",
                Verdict::Fails => "fails",
                _ => "other",
            };
            let cells = vec![
                r.client.to_string(),
                r.library.clone(),
                verdict(r.verdict).to_string(),
                r.outcome(),
                r.client_error.clone().or_else(|| r.reason.clone()).unwrap_or_default(),
                r.cause.clone().unwrap_or_default(),
                r.fix.clone().unwrap_or_default(),
            ];
            (class, cells)
        })
        .collect();
    let columns = ["client", "library", "result", "negotiated or alerts", "client's error or note", "cause", "fix"];
    page(&format!("compat: {}", c.scenario), &[heading(c)], &columns, &rows)
}

fn change(c: Change) -> &'static str {
    match c {
        Change::Breaks => "BREAKS",
        Change::Fixes => "fixed",
        Change::Renegotiates => "renegotiates",
        Change::FailsDifferently => "fails differently",
        Change::Untested => "untested",
        Change::Same => "same",
    }
}

/// The impact of a change, changed clients first, each with both observations.
pub fn impact_table(i: &Impact) -> String {
    let mut out = format!("before: {}\nafter:  {}\n\n", heading(&i.old), heading(&i.new));
    let width = i.clients.iter().map(|m| m.client.to_string().len()).max().unwrap_or(6).max(6);
    for m in &i.clients {
        let _ =
            writeln!(out, "{:<width$}  {:<17}  before: {}", m.client.to_string(), change(m.change), m.old.outcome());
        let _ = writeln!(out, "{:<width$}  {:<17}  after:  {}", "", "", m.new.outcome());
        if m.change != Change::Same {
            details(&mut out, &m.new, "                     ");
        }
    }
    let breaks = i.clients.iter().filter(|m| m.change == Change::Breaks).count();
    let fixes = i.clients.iter().filter(|m| m.change == Change::Fixes).count();
    let _ = writeln!(out, "\n{breaks} of {} clients break, {fixes} are fixed", i.clients.len());
    out
}

/// The impact as one self-contained page, changed clients first.
pub fn impact_html(i: &Impact) -> String {
    let rows: Vec<(&str, Vec<String>)> = i
        .clients
        .iter()
        .map(|m| {
            let class = match m.change {
                Change::Breaks => "breaks",
                Change::Fixes => "fixes",
                Change::Same | Change::Untested => "other",
                Change::Renegotiates | Change::FailsDifferently => "changed",
            };
            let cells = vec![
                m.client.to_string(),
                m.new.library.clone(),
                change(m.change).to_string(),
                m.old.outcome(),
                m.new.outcome(),
                m.new.client_error.clone().unwrap_or_default(),
                m.new.cause.clone().unwrap_or_default(),
                m.new.fix.clone().unwrap_or_default(),
            ];
            (class, cells)
        })
        .collect();
    let breaks = i.clients.iter().filter(|m| m.change == Change::Breaks).count();
    let fixes = i.clients.iter().filter(|m| m.change == Change::Fixes).count();
    let headings = [
        format!("before: {}", heading(&i.old)),
        format!("after: {}", heading(&i.new)),
        format!("{breaks} of {} clients break, {fixes} are fixed", i.clients.len()),
    ];
    let columns = ["client", "library", "change", "before", "after", "client's error now", "cause now", "fix"];
    page(&format!("impact: {} -> {}", i.old.scenario, i.new.scenario), &headings, &columns, &rows)
}

/// The same as a Markdown table.
pub fn impact_markdown(i: &Impact) -> String {
    let mut out = format!("## before: {}\n## after: {}\n\n", md(&heading(&i.old)), md(&heading(&i.new)));
    out.push_str("| client | change | before | after | cause now | fix |\n|---|---|---|---|---|---|\n");
    for m in &i.clients {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            m.client,
            change(m.change),
            md(&m.old.outcome()),
            md(&m.new.outcome()),
            md(m.new.cause.as_deref().unwrap_or("")),
            md(m.new.fix.as_deref().unwrap_or("")),
        );
    }
    out
}
