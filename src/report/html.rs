//! One self-contained HTML file: the matrix, filters by category and backend, each cell's details on click.
//!
//! The page is meant to be attached to a CI run or mailed around, so it must open from disk, offline, years later:
//! everything (style, script, data) is inline, and a Content-Security-Policy forbids fetching anything else.
//!
//! Only the parts that need no interaction are rendered here (summary, legend, environment, load errors). The matrix
//! itself is built by a small inline script from the report embedded as JSON, exactly as `--format json` writes it:
//! one copy of the data serves the matrix, the filters and the details panel, and the page doubles as a JSON report
//! (`<script id="report-data">`). The script only ever inserts text with `textContent`, never markup, so the
//! libraries' error messages cannot inject anything.

use std::fmt::Write;

use super::Report;

/// Text escaped for HTML element content and double-quoted attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

/// JSON safe to place inside `<script type="application/json">`.
///
/// The HTML parser ends a script element at the first `</script` whatever the script's type, and `<!--` followed by
/// `<script` switches it into a mode where `</script>` no longer ends it; a library message can contain either. In
/// JSON text `<` only occurs inside strings, where `\u003c` means the same character, so escaping every `<` closes
/// both holes without changing what `JSON.parse` returns.
fn script_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("the report is plain data").replace('<', "\\u003c")
}

/// Status classes and their legend text, in display order. The classes are what the script puts on the cells.
const LEGEND: [(&str, &str, &str); 4] = [
    ("s-pass", "pass", "observed exactly what was expected; the cell shows the version or the alert seen"),
    ("s-fail", "fail", "observed something else; the details list each mismatch"),
    ("s-unsupported", "unsupported", "not run: a backend cannot express the scenario (never a pass)"),
    ("s-error", "error", "the harness itself failed (socket, configuration refused, panic)"),
];

/// Renders the report as a standalone HTML page (no external resources).
pub fn render(report: &Report) -> String {
    let s = report.summary;
    let counts = [s.pass, s.fail, s.unsupported, s.error];
    let mut out = String::with_capacity(report.cells.len() * 800 + STYLE.len() + SCRIPT.len() + 4096);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; \
         script-src 'unsafe-inline'\">\n<title>tlsmatrix: {} cells, {} failed, {} errors</title>\n<style>{STYLE}</style>\n\
         </head>\n<body>\n<header>\n<h1>tlsmatrix report</h1>\n",
        report.cells.len(),
        s.fail,
        s.error
    );
    let _ = write!(out, "<p class=\"summary\"><strong>{} cells</strong>", report.cells.len());
    for ((class, name, _), n) in LEGEND.iter().zip(counts) {
        let _ = write!(out, " <span class=\"count {class}\">{n} {name}</span>");
    }
    out.push_str("</p>\n<div class=\"meta\">\n<table class=\"env\">\n<caption>Environment</caption>\n");
    let _ = writeln!(
        out,
        "<tr><th>tlsmatrix</th><td>{} (report format {})</td></tr>",
        esc(&report.environment.tlsmatrix),
        report.version
    );
    for b in &report.environment.backends {
        let _ = writeln!(out, "<tr><th>{}</th><td>{}</td></tr>", esc(&b.name), esc(&b.library));
    }
    out.push_str("</table>\n<dl class=\"legend\">\n");
    for (class, name, meaning) in LEGEND {
        let _ = writeln!(out, "<dt><span class=\"swatch {class}\">{name}</span></dt><dd>{meaning}</dd>");
    }
    out.push_str(
        "<dt><span class=\"swatch s-pass\">tls1.3 *</span></dt><dd>an override applies: this pair legitimately \
         differs, the reason is in the details</dd>\n<dt><span class=\"swatch s-pass\">C→S alert</span></dt>\
         <dd>the client sent that alert to the server (S→C: the other way)</dd>\n</dl>\n</div>\n",
    );
    if !report.load_errors.is_empty() {
        out.push_str("<section class=\"load-errors\">\n<h2>Scenario files that failed to load</h2>\n<ul>\n");
        for e in &report.load_errors {
            let _ = writeln!(out, "<li><code>{}</code></li>", esc(e));
        }
        out.push_str("</ul>\n</section>\n");
    }
    out.push_str("</header>\n<form id=\"filters\" hidden></form>\n");
    let _ = writeln!(
        out,
        "<main id=\"app\" data-expected-cells=\"{}\"><noscript>The matrix needs JavaScript; the data is in the \
         report-data element of this file.</noscript></main>",
        report.cells.len()
    );
    out.push_str("<aside id=\"details\" hidden></aside>\n");
    let outcomes: Vec<String> = report.cells.iter().map(super::outcome).collect();
    let _ = writeln!(out, "<script type=\"application/json\" id=\"report-data\">{}</script>", script_json(report));
    let _ = writeln!(out, "<script type=\"application/json\" id=\"cell-text\">{}</script>", script_json(&outcomes));
    let _ = write!(out, "<script>{SCRIPT}</script>\n</body>\n</html>\n");
    out
}

/// The page's style. Unsupported cells are hatched grey so they never read as a (green) pass, even in greyscale.
const STYLE: &str = r##"
:root { --pass: #d7f3de; --pass-fg: #14532d; --fail: #c81e1e; --error: #7e22ce; --line: #d4d4d8; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: #18181b; background: #fff; }
header { padding: 12px 16px 4px; }
h1 { font-size: 20px; margin: 0 0 6px; }
.summary .count { display: inline-block; padding: 1px 8px; margin-left: 6px; border-radius: 10px; }
.meta { display: flex; gap: 32px; flex-wrap: wrap; align-items: flex-start; }
.env caption { text-align: left; font-weight: 600; }
.env th { text-align: left; padding-right: 12px; font-weight: 500; }
.legend { display: grid; grid-template-columns: max-content 1fr; gap: 3px 10px; margin: 0; }
.legend dd { margin: 0; color: #52525b; }
.swatch { display: inline-block; min-width: 7em; padding: 0 6px; border: 1px solid var(--line); font-size: 12px; }
.s-pass { background: var(--pass); color: var(--pass-fg); }
.s-fail { background: var(--fail); color: #fff; font-weight: 700; }
.s-unsupported { background: repeating-linear-gradient(135deg, #e4e4e7 0 3px, #fafafa 3px 7px); color: #71717a;
  font-style: italic; }
.s-error { background: var(--error); color: #fff; font-weight: 700; }
.load-errors { border-left: 4px solid var(--fail); padding: 0 12px; margin: 8px 0; }
#filters { padding: 8px 16px; position: sticky; top: 0; background: #f4f4f5; border-block: 1px solid var(--line);
  z-index: 3; display: flex; gap: 16px; flex-wrap: wrap; align-items: center; }
#filters[hidden] { display: none; }
#filters .shown { color: #52525b; margin-left: auto; }
main { padding: 8px 16px 40px; }
table.matrix { border-collapse: separate; border-spacing: 0; }
.matrix th, .matrix td { border-right: 1px solid #fff; border-bottom: 1px solid #fff; }
.matrix thead th { position: sticky; top: var(--filters-height, 0); background: #fff; z-index: 2; font-size: 12px; font-weight: 500;
  padding: 2px 4px; vertical-align: bottom; border-bottom: 1px solid var(--line); }
.matrix thead th .to { color: #71717a; }
.matrix th.scenario { text-align: left; font-weight: 400; font-family: ui-monospace, monospace; font-size: 12px;
  padding: 1px 10px 1px 0; white-space: nowrap; }
.matrix tr.category th { text-align: left; padding: 10px 0 2px; font-size: 14px; border-bottom: 1px solid var(--line); }
.matrix tr.category .sub { font-weight: 400; color: #71717a; font-size: 12px; margin-left: 8px; }
td.cell { font-size: 12px; padding: 1px 5px; width: 8.5em; max-width: 8.5em; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; cursor: pointer; }
td.cell:hover, td.cell:focus { outline: 2px solid #93c5fd; outline-offset: -2px; }
td.cell.selected { outline: 2px solid #1d4ed8; outline-offset: -2px; }
#details { position: fixed; top: 0; right: 0; bottom: 0; width: min(520px, 100vw); overflow: auto; z-index: 4;
  background: #fff; border-left: 1px solid var(--line); box-shadow: -4px 0 16px rgb(0 0 0 / 0.12); padding: 12px 16px; }
#details h2 { font-size: 15px; margin: 0 24px 8px 0; font-family: ui-monospace, monospace; word-break: break-all; }
#details h3 { font-size: 13px; margin: 14px 0 4px; text-transform: uppercase; letter-spacing: 0.04em; color: #52525b; }
#details .close { position: absolute; top: 8px; right: 10px; border: 0; background: none; font-size: 20px;
  cursor: pointer; }
#details dl { display: grid; grid-template-columns: max-content 1fr; gap: 1px 10px; margin: 0; font-size: 13px; }
#details dt { color: #52525b; }
#details dd { margin: 0; font-family: ui-monospace, monospace; word-break: break-word; }
#details .text { white-space: pre-wrap; font-size: 13px; margin: 0; }
#details ul { margin: 0; padding-left: 18px; font-size: 13px; }
#details .mismatches li { color: var(--fail); }
[data-js-error] { color: var(--fail); font-weight: 700; }
"##;

/// The page's behaviour: builds the matrix, the filters and the details panel from the embedded report.
///
/// Untrusted text (messages, reasons, ids) only goes through `textContent`/`createTextNode`. When done it sets
/// `data-cells` on the matrix to the number of cells drawn, which `scripts/html-check.sh` compares with
/// `data-expected-cells` in a headless browser; a script error is shown on the page and put in `data-js-error`.
const SCRIPT: &str = r##"
"use strict";
(function () {
  const app = document.getElementById("app");
  try {
    main();
  } catch (e) {
    app.setAttribute("data-js-error", String(e));
    app.textContent = "The report could not be displayed: " + e;
  }

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== null && v !== undefined && v !== false) e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) {
      if (c !== null && c !== undefined) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function main() {
    const report = JSON.parse(document.getElementById("report-data").textContent);
    const texts = JSON.parse(document.getElementById("cell-text").textContent);
    const cells = report.cells;
    const order = report.environment.backends.map((b) => b.name);
    const rank = (b) => (order.indexOf(b) < 0 ? order.length : order.indexOf(b));
    const byBackend = (a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0);
    const categoryOf = (id) => id.split("::")[0];
    const nameOf = (c) => c.scenario + "::" + c.client + "->" + c.server;

    // Columns: every client->server pair present, in the environment's backend order.
    const pairs = [];
    const rows = new Map();
    cells.forEach((c, i) => {
      if (!pairs.some((p) => p.client === c.client && p.server === c.server)) pairs.push({ client: c.client, server: c.server });
      if (!rows.has(c.scenario)) rows.set(c.scenario, new Map());
      rows.get(c.scenario).set(c.client + ">" + c.server, i);
    });
    pairs.sort((a, b) => byBackend(a.client, b.client) || byBackend(a.server, b.server));
    const ids = [...rows.keys()].sort();
    const categories = [...new Set(ids.map(categoryOf))];
    const clients = [...new Set(pairs.map((p) => p.client))].sort(byBackend);
    const servers = [...new Set(pairs.map((p) => p.server))].sort(byBackend);

    // The matrix: one tbody per category, a heading row, then one row per scenario.
    const table = el("table", { class: "matrix" });
    const head = el("tr", {}, el("th", { class: "scenario" }, "scenario"));
    pairs.forEach((p) => head.append(el("th", { "data-client": p.client, "data-server": p.server },
      p.client, el("br"), el("span", { class: "to" }, "→ "), p.server)));
    table.append(el("thead", {}, head));
    const rowEls = [];
    const cellEls = [];
    for (const cat of categories) {
      const catIds = ids.filter((id) => categoryOf(id) === cat);
      const tbody = el("tbody", { "data-category": cat });
      const count = {};
      catIds.forEach((id) => rows.get(id).forEach((i) => { count[cells[i].status] = (count[cells[i].status] || 0) + 1; }));
      const sub = Object.entries(count).map(([k, n]) => n + " " + k).join(", ");
      tbody.append(el("tr", { class: "category" }, el("th", { colspan: pairs.length + 1 }, cat,
        el("span", { class: "sub" }, catIds.length + " scenarios: " + sub))));
      for (const id of catIds) {
        const tr = el("tr", { "data-scenario": id }, el("th", { class: "scenario", scope: "row" }, id));
        for (const p of pairs) {
          const i = rows.get(id).get(p.client + ">" + p.server);
          if (i === undefined) {
            tr.append(el("td", { "data-client": p.client, "data-server": p.server }));
            continue;
          }
          const c = cells[i];
          const overridden = c.reason && (c.status === "pass" || c.status === "fail");
          const text = (c.status === "unsupported" ? "n/a" : texts[i]) + (overridden ? " *" : "");
          const td = el("td", { class: "cell s-" + c.status, "data-i": i,
            "data-name": nameOf(c), "data-client": p.client,
            "data-server": p.server, tabindex: 0, title: nameOf(c) + "\n" + c.status + ": " + text }, text);
          cellEls[i] = td;
          tr.append(td);
        }
        rowEls.push(tr);
        tbody.append(tr);
      }
      table.append(tbody);
    }
    app.replaceChildren(cells.length ? table : el("p", {}, "This report has no cells."));

    // Filters: category, client, server, and which rows to show.
    const filters = document.getElementById("filters");
    const select = (label, name, options) => {
      const s = el("select", { name: name }, el("option", { value: "" }, "all"));
      options.forEach(([value, text]) => s.append(el("option", { value: value }, text)));
      filters.append(el("label", {}, label + " ", s));
      return s;
    };
    const fCat = select("category", "category", categories.map((c) => [c, c]));
    const fClient = select("client", "client", clients.map((c) => [c, c]));
    const fServer = select("server", "server", servers.map((c) => [c, c]));
    const fRows = select("rows", "rows", [["fail error", "with a fail or error"], ["unsupported", "with an unsupported cell"],
      ["override", "with an override"]]);
    const shown = el("span", { class: "shown" });
    filters.append(shown);
    filters.hidden = false;
    // The column headings stick just below the (sticky, possibly wrapping) filter bar.
    const stick = () => document.documentElement.style.setProperty("--filters-height", filters.offsetHeight + "px");
    window.addEventListener("resize", stick);
    stick();

    function apply() {
      const colOk = (e) => (!fClient.value || e.dataset.client === fClient.value) && (!fServer.value || e.dataset.server === fServer.value);
      table.querySelectorAll("[data-client]").forEach((e) => { e.hidden = !colOk(e); });
      const want = fRows.value;
      let nRows = 0;
      let nCells = 0;
      for (const tr of rowEls) {
        const visible = [...tr.querySelectorAll("td.cell")].filter((td) => !td.hidden).map((td) => cells[+td.dataset.i]);
        const match = !want || visible.some((c) => want === "override" ? c.reason && c.status !== "unsupported" && c.status !== "error"
          : want.split(" ").includes(c.status));
        tr.hidden = !match || (fCat.value !== "" && categoryOf(tr.dataset.scenario) !== fCat.value);
        if (!tr.hidden) { nRows += 1; nCells += visible.length; }
      }
      table.querySelectorAll("tbody").forEach((tb) => { tb.hidden = !tb.querySelector("tr[data-scenario]:not([hidden])"); });
      shown.textContent = "showing " + nRows + " of " + ids.length + " scenarios, " + nCells + " of " + cells.length + " cells";
    }
    filters.addEventListener("change", apply);
    filters.addEventListener("submit", (e) => e.preventDefault());
    apply();

    // Details: a side panel for the clicked cell; the URL fragment names it so a link can point at one cell.
    const panel = document.getElementById("details");
    let selected = null;
    function flatten(value, prefix, out) {
      if (value !== null && typeof value === "object" && !Array.isArray(value)) {
        for (const [k, v] of Object.entries(value)) flatten(v, prefix ? prefix + "." + k : k, out);
      } else {
        out.push([prefix, Array.isArray(value) ? value.join(", ") : value === null ? "none" : String(value)]);
      }
      return out;
    }
    const fields = (obj) => el("dl", {}, ...flatten(obj, "", []).flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
    const list = (items, cls) => el("ul", { class: cls }, ...items.map((m) => el("li", {}, m)));
    function side(name, o) {
      const rest = Object.assign({}, o);
      delete rest.message;
      return [el("h3", {}, "observed: " + name), fields(rest), o.message ? el("p", { class: "text" }, o.message) : null];
    }
    function show(i) {
      const c = cells[i];
      if (selected) selected.classList.remove("selected");
      selected = cellEls[i];
      if (selected) selected.classList.add("selected");
      const reasonTitle = { unsupported: "why unsupported", error: "harness fault" }[c.status] || "override reason";
      const parts = [
        el("button", { class: "close", type: "button", title: "close (Esc)" }, "×"),
        el("h2", {}, nameOf(c)),
        el("p", {}, el("span", { class: "swatch s-" + c.status }, c.status), " ", texts[i],
          " (" + (c.duration_ms || 0).toFixed(1) + " ms)"),
        c.mismatches && c.mismatches.length ? el("h3", {}, "mismatches") : null,
        c.mismatches && c.mismatches.length ? list(c.mismatches.map((m) => m.text || m), "mismatches") : null,
        c.reason ? el("h3", {}, reasonTitle) : null,
        c.reason ? el("p", { class: "text" }, c.reason) : null,
        c.expected ? el("h3", {}, "expected") : null,
        c.expected ? fields(c.expected) : null,
        ...(c.observed ? [...side("client (" + c.client + ")", c.observed.client), ...side("server (" + c.server + ")", c.observed.server)] : []),
        c.notes && c.notes.length ? el("h3", {}, "notes") : null,
        c.notes && c.notes.length ? list(c.notes, "notes") : null,
      ];
      panel.replaceChildren(...parts.filter((p) => p !== null));
      panel.hidden = false;
      panel.querySelector(".close").addEventListener("click", hide);
      history.replaceState(null, "", "#" + encodeURIComponent(nameOf(c)).replace(/%3A/g, ":"));
    }
    function hide() {
      panel.hidden = true;
      if (selected) selected.classList.remove("selected");
      selected = null;
      history.replaceState(null, "", location.pathname + location.search);
    }
    table.addEventListener("click", (e) => {
      const td = e.target.closest("td.cell");
      if (td) show(+td.dataset.i);
    });
    table.addEventListener("keydown", (e) => {
      const td = e.target.closest("td.cell");
      if (td && (e.key === "Enter" || e.key === " ")) { e.preventDefault(); show(+td.dataset.i); }
    });
    document.addEventListener("keydown", (e) => { if (e.key === "Escape" && !panel.hidden) hide(); });
    const wanted = decodeURIComponent(location.hash.slice(1));
    const linked = wanted ? cells.findIndex((c) => nameOf(c) === wanted) : -1;
    if (linked >= 0) {
      show(linked);
      if (selected) selected.scrollIntoView({ block: "nearest" });
    }

    table.setAttribute("data-cells", String(cellEls.filter(Boolean).length));
    app.setAttribute("data-rendered", "yes");
  }
})();
"##;

#[cfg(test)]
mod tests {
    use super::*;

    /// A report with one cell of each status, hostile text in the places a library or a scenario author controls.
    fn sample() -> Report {
        serde_json::from_value(serde_json::json!({
            "version": 1,
            "environment": {
                "tlsmatrix": "0.1.0",
                "backends": [
                    { "name": "openssl", "library": "OpenSSL <3.0> & \"friends\"" },
                    { "name": "rustls", "library": "rustls 0.23" }
                ]
            },
            "cells": [
                {
                    "scenario": "seed::untrusted_ca", "client": "rustls", "server": "openssl", "status": "pass",
                    "reason": null,
                    "expected": { "result": "failure", "client": { "sent_alert": "unknown_ca" },
                                  "server": { "received_alert": "unknown_ca" } },
                    "observed": {
                        "client": { "result": "failed", "phase": "handshake", "sent_alert": "unknown_ca",
                                    "received_alert": null, "error": "local",
                                    "message": "bad </script><b>bold</b> <!-- <script> & \"quoted\"" },
                        "server": { "result": "failed", "phase": "handshake", "sent_alert": null,
                                    "received_alert": "unknown_ca", "error": "peer_alert", "message": "alert 48" }
                    },
                    "duration_ms": 1.5
                },
                {
                    "scenario": "versions::pinned", "client": "openssl", "server": "rustls", "status": "fail",
                    "reason": "an override's reason with <i>markup</i>",
                    "expected": { "result": "success", "version": "tls1.3" },
                    "observed": {
                        "client": { "result": "established", "version": "tls1.2", "cipher": null, "alpn": null,
                                    "resumed": false },
                        "server": { "result": "established", "version": "tls1.2", "cipher": null, "alpn": null,
                                    "resumed": false }
                    },
                    "mismatches": ["client.version: expected tls1.3, observed tls1.2"],
                    "notes": ["client.cipher not checked"],
                    "duration_ms": 2.0
                },
                {
                    "scenario": "versions::pinned", "client": "rustls", "server": "rustls", "status": "unsupported",
                    "reason": "rustls has no TLS 1.0", "expected": null, "observed": null, "duration_ms": 0.0
                },
                {
                    "scenario": "seed::untrusted_ca", "client": "openssl", "server": "openssl", "status": "error",
                    "reason": "bind 127.0.0.1:0: refused", "expected": { "result": "success" }, "observed": null,
                    "duration_ms": 0.0
                }
            ],
            "summary": { "pass": 1, "fail": 1, "unsupported": 1, "error": 1 },
            "load_errors": ["scenarios/x/<bad>.yaml:1:2: unknown field `&x`"]
        }))
        .expect("a valid report")
    }

    /// The text of `<script type="application/json" id="{id}">`.
    fn embedded<'a>(html: &'a str, id: &str) -> &'a str {
        let open = format!("<script type=\"application/json\" id=\"{id}\">");
        let start = html.find(&open).expect("the data element") + open.len();
        let len = html[start..].find("</script>").expect("its end");
        &html[start..start + len]
    }

    #[test]
    fn standalone() {
        let html = render(&sample());
        let lower = html.to_ascii_lowercase();
        assert!(lower.starts_with("<!doctype html>"));
        for banned in ["http://", "https://", "<link", "<img", "<iframe", " src=", "@import", "url(", "//cdn"] {
            assert!(!lower.contains(banned), "{banned} in the page");
        }
        assert!(html.contains("Content-Security-Policy"), "fetching anything is forbidden, not just avoided");
    }

    #[test]
    fn hostile_text_is_escaped() {
        let html = render(&sample());
        // Only our three script elements open and close; the message's `</script>` stayed inside its JSON string.
        assert_eq!(html.matches("<script").count(), 3);
        assert_eq!(html.matches("</script>").count(), 3);
        assert!(!html.contains("<b>") && !html.contains("<i>") && !html.contains("<!--"));
        let data = embedded(&html, "report-data");
        assert!(!data.contains('<'), "every < in the JSON is \\u003c");
        // Lossless: the embedded JSON reads back to the same message.
        let back: Report = serde_json::from_str(data).unwrap();
        let client = serde_json::to_value(&back.cells[0].observed.as_ref().unwrap().client).unwrap();
        assert_eq!(client["message"], "bad </script><b>bold</b> <!-- <script> & \"quoted\"");
        // Server-rendered text is entity-escaped.
        assert!(html.contains("OpenSSL &lt;3.0&gt; &amp; &quot;friends&quot;"));
        assert!(html.contains("<code>scenarios/x/&lt;bad&gt;.yaml:1:2: unknown field `&amp;x`</code>"));
    }

    #[test]
    fn every_cell_is_embedded() {
        let report = sample();
        let html = render(&report);
        assert!(html.contains(&format!("data-expected-cells=\"{}\"", report.cells.len())));
        let back: Report = serde_json::from_str(embedded(&html, "report-data")).unwrap();
        let names = |r: &Report| r.cells.iter().map(|c| c.name()).collect::<Vec<_>>();
        assert_eq!(names(&back), names(&report));
        assert_eq!(back.summary, report.summary);
        let texts: Vec<String> = serde_json::from_str(embedded(&html, "cell-text")).unwrap();
        assert_eq!(texts, report.cells.iter().map(super::super::outcome).collect::<Vec<_>>());
    }

    #[test]
    fn summary_and_legend() {
        let html = render(&sample());
        for needle in [
            "<strong>4 cells</strong>",
            "1 pass</span>",
            "1 fail</span>",
            "1 unsupported</span>",
            "1 error</span>",
            "class=\"swatch s-unsupported\"",
            "<th>rustls</th><td>rustls 0.23</td>",
        ] {
            assert!(html.contains(needle), "{needle} missing");
        }
    }

    #[test]
    fn empty_report() {
        let mut report = sample();
        report.cells.clear();
        report.summary = super::super::Summary::default();
        report.load_errors.clear();
        let html = render(&report);
        assert!(html.contains("data-expected-cells=\"0\""));
        assert!(!html.contains("<section class=\"load-errors\">"));
        assert_eq!(embedded(&html, "cell-text"), "[]");
    }
}
