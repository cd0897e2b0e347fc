//! The compat and impact reports as text for a terminal, Markdown for a pull request, and one HTML page.

use std::fmt::Write;

use super::{Change, Compat, Impact, Row, Verdict};

/// Every report says what it could see: both sides are played here, so both sides' alerts are real observations.
fn heading(c: &Compat) -> String {
    let (ok, fail, untried) = c.counts();
    format!(
        "{}: server {} ({}); {} of {} clients connect, {} fail, {} cannot be tried",
        c.scenario,
        c.server,
        c.server_library,
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

/// One self-contained page.
pub fn html(c: &Compat) -> String {
    let mut out = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>tlsmatrix compat: {}</title>\n<style>\
         body{{font-family:sans-serif}} td,th{{border:1px solid #ccc;padding:4px;vertical-align:top}} \
         table{{border-collapse:collapse}} .connects{{background:#e6ffe6}} .fails{{background:#ffe6e6}}\
         </style></head><body>\n<h1>{}</h1>\n<table>\n<tr><th>client</th><th>library</th><th>result</th>\
         <th>negotiated or alerts</th><th>client's error</th><th>cause</th><th>fix</th></tr>\n",
        esc(&c.scenario),
        esc(&heading(c))
    );
    for r in &c.rows {
        let class = match r.verdict {
            Verdict::Connects => "connects",
            Verdict::Fails => "fails",
            _ => "other",
        };
        let _ = writeln!(
            out,
            "<tr class=\"{class}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.client.to_string()),
            esc(&r.library),
            verdict(r.verdict),
            esc(&r.outcome()),
            esc(r.client_error.as_deref().unwrap_or("")),
            esc(r.cause.as_deref().unwrap_or("")),
            esc(r.fix.as_deref().unwrap_or("")),
        );
    }
    out.push_str("</table>\n</body></html>\n");
    out
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
