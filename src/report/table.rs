//! The terminal view. By default (`--view summary`) one line per scenario: its verdict over every pair and the pairs
//! that deviate from the scenario's base expectation, with what they do instead; then the unsupported cells grouped
//! by cause, each cause once with its count; then every cell that did not pass, in full; the summary line first and
//! last. A run of one scenario shows its client x server grid instead. `--view grid` is the full matrix, scenarios
//! by pairs, split into blocks of columns that fit the width.
//!
//! Everything is fitted to a width (the terminal's, or [`DEFAULT_WIDTH`] when the output is not a terminal): a line
//! that would be longer is cut with `…`, and the full data stays in `--view grid`, `compare` and the JSON report.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use super::Report;
use crate::expect::Status;
use crate::runner::CellResult;
use crate::vocab::BackendId;

/// The width when the output is not a terminal (a file, a pipe, CI's log).
pub const DEFAULT_WIDTH: usize = 100;

/// Which table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum View {
    /// One line per scenario (a grid for a single scenario).
    #[default]
    Summary,
    /// Scenarios by client>server pairs.
    Grid,
}

/// How a table is drawn.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// ANSI colours (the CLI sets it for a terminal without `NO_COLOR`).
    pub colour: bool,
    /// Every cell that ran also shows what went over the wire (failing cells always do).
    pub transcripts: bool,
    /// Which table.
    pub view: View,
    /// The width to fit, in columns.
    pub width: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options { colour: false, transcripts: false, view: View::Summary, width: DEFAULT_WIDTH }
    }
}

/// The width of the terminal on stdout, or [`DEFAULT_WIDTH`] when stdout is not one.
pub fn terminal_width() -> usize {
    console::Term::stdout().size_checked().map_or(DEFAULT_WIDTH, |(_, cols)| usize::from(cols).max(40))
}

fn short(b: BackendId) -> &'static str {
    match b {
        BackendId::Openssl => "O",
        BackendId::NativeTls => "N",
        BackendId::Rustls => "R",
        BackendId::Jsse => "J",
        BackendId::OpensslCli => "C",
        BackendId::Gnutls => "G",
        BackendId::Python => "P",
    }
}

fn mark(s: Status) -> &'static str {
    match s {
        Status::Pass => "ok",
        Status::Fail => "FAIL",
        Status::Unsupported => "-",
        Status::Error => "ERR",
    }
}

/// ANSI colour codes by status: green pass, red failure, yellow unsupported, magenta harness error.
fn code(status: Status) -> &'static str {
    match status {
        Status::Pass => "32",
        Status::Fail => "1;31",
        Status::Unsupported => "33",
        Status::Error => "1;35",
    }
}

fn paint(text: &str, status: Status, colour: bool) -> String {
    if colour { format!("\x1b[{}m{text}\x1b[0m", code(status)) } else { text.to_string() }
}

/// Cuts `s` to `width` characters, ending in `…` when something was cut.
fn fit(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    let mut out: String = s.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Splits `s` at spaces into lines of at most `width` characters (a longer word gets a line of its own).
fn wrap(s: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in s.split_whitespace() {
        match lines.last_mut() {
            Some(l) if l.chars().count() + 1 + word.chars().count() <= width => {
                l.push(' ');
                l.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

/// Renders the default table as plain text.
pub fn render(report: &Report) -> String {
    render_opts(report, &Options::default())
}

/// Like [`render`], with ANSI colours when `colour` is set.
pub fn render_styled(report: &Report, colour: bool) -> String {
    render_opts(report, &Options { colour, ..Options::default() })
}

/// Like [`render_styled`]; with `transcripts`, every cell that ran also shows what went over the wire.
pub fn render_with(report: &Report, colour: bool, transcripts: bool) -> String {
    render_opts(report, &Options { colour, transcripts, ..Options::default() })
}

/// Renders the table as `options` say.
pub fn render_opts(report: &Report, options: &Options) -> String {
    let width = options.width.max(40);
    let mut out = String::new();
    let _ = writeln!(out, "{}", report.summary);
    let scenarios: BTreeSet<&str> = report.cells.iter().map(|c| c.scenario.as_str()).collect();
    if !report.cells.is_empty() {
        out.push('\n');
        match (options.view, scenarios.len()) {
            (View::Summary, 1) => scenario_grid(&mut out, report, options.colour, width),
            (View::Summary, _) => summary(&mut out, report, options.colour, width),
            (View::Grid, _) => pair_grid(&mut out, report, options.colour, width),
        }
    }
    unsupported_causes(&mut out, report, width);
    details(&mut out, report, options.transcripts);
    if !report.load_errors.is_empty() {
        let _ = writeln!(out, "\nScenario files that failed to load:");
        for e in &report.load_errors {
            let _ = writeln!(out, "  {e}");
        }
    }
    let _ = writeln!(out, "\n{}", report.summary);
    out
}

/// One line per scenario: `id  ok differs n/a  pairs: what they do instead`, the counts in columns (`.` for none)
/// so the rows where the stacks disagree stand out.
fn summary(out: &mut String, report: &Report, colour: bool, width: usize) {
    let mut by_scenario: BTreeMap<&str, Vec<&CellResult>> = BTreeMap::new();
    for c in &report.cells {
        by_scenario.entry(c.scenario.as_str()).or_default().push(c);
    }
    // Ids are never cut (they are what `explain` and `--filter` take): the few longer than the column push their
    // line to the right instead.
    let id_width = by_scenario.keys().map(|k| k.chars().count()).max().unwrap_or(8).clamp(8, 40);
    let counts: Vec<[usize; 5]> = by_scenario.values().map(|cells| verdict(cells)).collect();
    let shown: Vec<usize> = (0..COLUMNS.len()).filter(|&i| counts.iter().any(|c| c[i] > 0)).collect();
    let mut header = format!("{:id_width$}", "scenario");
    for &i in &shown {
        let _ = write!(header, " {:>w$}", COLUMNS[i].0, w = COLUMNS[i].0.len().max(3));
    }
    let _ = writeln!(out, "{}", fit(&format!("{header}  deviating pairs: what they do instead"), width));
    let mut disagree = 0;
    for ((id, cells), counts) in by_scenario.iter().zip(&counts) {
        let mut plain = format!("{id:id_width$}");
        let mut painted = plain.clone();
        for &i in &shown {
            let (word, status) = COLUMNS[i];
            let n = if counts[i] == 0 { ".".to_string() } else { counts[i].to_string() };
            let text = format!(" {n:>w$}", w = word.len().max(3));
            plain.push_str(&text);
            painted.push_str(&if counts[i] == 0 { text } else { paint(&text, status, colour) });
        }
        let deviating = deviations(cells);
        if !deviating.is_empty() {
            disagree += 1;
            let room = width.saturating_sub(plain.chars().count() + 2);
            let _ = write!(painted, "  {}", fit(&deviating, room));
        }
        let _ = writeln!(out, "{}", painted.trim_end());
    }
    let _ = writeln!(
        out,
        "\n{disagree} of {} scenarios have pairs that deviate, each by an override with its reason",
        by_scenario.len()
    );
    let _ = writeln!(
        out,
        "{}",
        fit("(the reasons: `tlsmatrix explain ID`, `run FILE`, `run --view grid`, docs/catalog.md)", width)
    );
}

/// The summary's count columns: a pass as the scenario expects, a pass under an override (the pair behaves
/// otherwise than the base expectation, for the reason the override gives), failures, harness errors, unsupported.
const COLUMNS: [(&str, Status); 5] = [
    ("ok", Status::Pass),
    ("differs", Status::Pass),
    ("FAIL", Status::Fail),
    ("err", Status::Error),
    ("n/a", Status::Unsupported),
];

/// The counts of [`COLUMNS`] for one scenario's cells.
fn verdict(cells: &[&CellResult]) -> [usize; 5] {
    let mut n = [0; 5];
    for c in cells {
        let i = match c.status {
            Status::Pass if c.reason.is_none() => 0,
            Status::Pass => 1,
            Status::Fail => 2,
            Status::Error => 3,
            Status::Unsupported => 4,
        };
        n[i] += 1;
    }
    n
}

/// The passing cells that an override decided, grouped by what they did (`tls1.2`, `C→S bad_certificate`), each
/// group's pairs in short form: `*->gnutls` when every runnable client of that server is in it, `jsse->*` likewise.
fn deviations(cells: &[&CellResult]) -> String {
    let runnable: BTreeSet<(BackendId, BackendId)> =
        cells.iter().filter(|c| c.status != Status::Unsupported).map(|c| (c.client, c.server)).collect();
    let mut groups: BTreeMap<String, BTreeSet<(BackendId, BackendId)>> = BTreeMap::new();
    for c in cells.iter().filter(|c| c.status == Status::Pass && c.reason.is_some()) {
        groups.entry(super::outcome(c)).or_default().insert((c.client, c.server));
    }
    let mut parts: Vec<(usize, String)> = groups
        .into_iter()
        .map(|(what, pairs)| (pairs.len(), format!("{}: {what}", pair_names(&pairs, &runnable))))
        .collect();
    // The largest groups first: they are what a reader sees first when the line is cut.
    parts.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    parts.into_iter().map(|(_, p)| p).collect::<Vec<_>>().join("; ")
}

/// `*->gnutls,jsse->openssl`: the pairs, with a whole column or row of the runnable pairs as one `*`.
fn pair_names(pairs: &BTreeSet<(BackendId, BackendId)>, runnable: &BTreeSet<(BackendId, BackendId)>) -> String {
    let mut left = pairs.clone();
    let mut names = Vec::new();
    let servers: BTreeSet<BackendId> = pairs.iter().map(|p| p.1).collect();
    for s in servers {
        let column: BTreeSet<_> = runnable.iter().filter(|p| p.1 == s).copied().collect();
        if column.len() > 1 && column.is_subset(&left) {
            names.push(format!("*->{s}"));
            left.retain(|p| p.1 != s);
        }
    }
    let clients: BTreeSet<BackendId> = left.iter().map(|p| p.0).collect();
    for c in clients {
        // The whole row: every runnable pair of this client deviates this way (some may be named by a `*->s`).
        let row: BTreeSet<_> = runnable.iter().filter(|p| p.0 == c).copied().collect();
        let mine = left.iter().filter(|p| p.0 == c).count();
        if mine > 1 && row.is_subset(pairs) {
            names.push(format!("{c}->*"));
            left.retain(|p| p.0 != c);
        }
    }
    names.extend(left.iter().map(|(c, s)| format!("{c}->{s}")));
    names.join(",")
}

/// One scenario as a client x server grid of outcomes (`tls1.3`, `S→C protocol_version`, `n/a`), with the status
/// where it is not a pass. Columns that do not fit the width go into a further block.
fn scenario_grid(out: &mut String, report: &Report, colour: bool, width: usize) {
    let backends = backends(report);
    let by: BTreeMap<(BackendId, BackendId), &CellResult> =
        report.cells.iter().map(|c| ((c.client, c.server), c)).collect();
    let text = |c: &CellResult| match c.status {
        Status::Pass => super::outcome(c),
        Status::Unsupported => "n/a".into(),
        s => format!("{} {}", mark(s), super::outcome(c)),
    };
    let id = report.cells.first().map_or("", |c| c.scenario.as_str());
    let _ = writeln!(out, "{id}: rows are clients, columns servers");
    let label = backends.iter().map(|b| b.to_string().len()).max().unwrap_or(6).max("client\\server".len());
    let col = |s: BackendId| {
        let w = by.iter().filter(|((_, v), _)| *v == s).map(|(_, c)| text(c).chars().count()).max().unwrap_or(0);
        w.max(s.to_string().len()).min(44)
    };
    let widths: Vec<(BackendId, usize)> = backends.iter().map(|s| (*s, col(*s))).collect();
    for block in blocks(&widths, width.saturating_sub(label + 1)) {
        let mut header = format!("{:label$}", "client\\server");
        for (s, w) in &block {
            let _ = write!(header, " {:w$}", s.to_string());
        }
        let _ = writeln!(out, "{}", header.trim_end());
        for c in &backends {
            let mut line = format!("{:label$}", c.to_string());
            for (s, w) in &block {
                match by.get(&(*c, *s)) {
                    Some(cell) => {
                        let t = fit(&text(cell), *w);
                        let pad = w.saturating_sub(t.chars().count());
                        let _ = write!(line, " {}{}", paint(&t, cell.status, colour), " ".repeat(pad));
                    }
                    None => {
                        let _ = write!(line, " {:w$}", "");
                    }
                }
            }
            let _ = writeln!(out, "{}", line.trim_end());
        }
        out.push('\n');
    }
}

/// Splits columns (name, width) into blocks whose widths (plus a separating space each) fit `room`.
fn blocks<T: Copy>(columns: &[(T, usize)], room: usize) -> Vec<Vec<(T, usize)>> {
    let mut out: Vec<Vec<(T, usize)>> = Vec::new();
    let mut used = usize::MAX;
    for &(c, w) in columns {
        if used.saturating_add(w + 1) > room {
            out.push(Vec::new());
            used = 0;
        }
        used += w + 1;
        if let Some(last) = out.last_mut() {
            last.push((c, w));
        }
    }
    out
}

/// Every backend in the report, in report order.
fn backends(report: &Report) -> Vec<BackendId> {
    let set: BTreeSet<BackendId> = report.cells.iter().flat_map(|c| [c.client, c.server]).collect();
    BackendId::ALL.into_iter().filter(|b| set.contains(b)).collect()
}

/// Scenarios as rows, client>server pairs as columns (`O>R`), in blocks of columns that fit the width.
fn pair_grid(out: &mut String, report: &Report, colour: bool, width: usize) {
    let mut pairs: Vec<(BackendId, BackendId)> = Vec::new();
    let mut rows: BTreeMap<&str, BTreeMap<(BackendId, BackendId), Status>> = BTreeMap::new();
    for c in &report.cells {
        if !pairs.contains(&(c.client, c.server)) {
            pairs.push((c.client, c.server));
        }
        rows.entry(c.scenario.as_str()).or_default().insert((c.client, c.server), c.status);
    }
    pairs.sort();
    const HEADER: &str = "scenario (client>server)";
    let id_width = rows.keys().map(|k| k.len()).max().unwrap_or(0).max(HEADER.len()).min(width / 2);
    let columns: Vec<((BackendId, BackendId), usize)> = pairs.iter().map(|p| (*p, 4)).collect();
    for block in blocks(&columns, width.saturating_sub(id_width)) {
        let _ = write!(out, "{HEADER:id_width$}");
        for ((c, s), _) in &block {
            let _ = write!(out, " {:>4}", format!("{}>{}", short(*c), short(*s)));
        }
        out.push('\n');
        for (id, cells) in &rows {
            let _ = write!(out, "{:id_width$}", fit(id, id_width));
            for (p, _) in &block {
                let text = cells.get(p).map_or(String::new(), |s| paint(&format!("{:>4}", mark(*s)), *s, colour));
                let _ = write!(out, " {text:>4}");
            }
            out.push('\n');
        }
        out.push('\n');
    }
    let legend: Vec<String> = backends(report).iter().map(|b| format!("{}={b}", short(*b))).collect();
    let _ = writeln!(out, "{}; ok=pass FAIL=mismatch -=unsupported ERR=harness error", legend.join(" "));
}

/// The unsupported cells, one line per distinct cause (its first line), the most frequent first.
fn unsupported_causes(out: &mut String, report: &Report, width: usize) {
    let reasons =
        report.cells.iter().filter(|c| c.status == Status::Unsupported).map(|c| c.reason.as_deref().unwrap_or(""));
    let causes = super::group_reasons(reasons);
    if causes.is_empty() {
        return;
    }
    let total: usize = causes.iter().map(|(_, n)| n).sum();
    let cells = if total == 1 { "1 cell".to_string() } else { format!("{total} cells") };
    let _ = writeln!(out, "\nUnsupported, never a pass ({cells}), by cause:");
    let n_width = causes.first().map_or(1, |(_, n)| n.to_string().len());
    let room = width.saturating_sub(n_width + 4);
    // A few causes are shown whole (wrapped): a small run's reader wants the whole reason. Many are cut to a line
    // each, so the list stays a list; `--format json` and docs/catalog.md carry every reason in full.
    let whole = causes.len() <= 8;
    for (why, n) in &causes {
        if whole {
            let mut lines = wrap(why, room).into_iter();
            let _ = writeln!(out, "  {n:>n_width$}  {}", lines.next().unwrap_or_default());
            for l in lines {
                let _ = writeln!(out, "  {:n_width$}  {l}", "");
            }
        } else {
            let _ = writeln!(out, "  {n:>n_width$}  {}", fit(why, room));
        }
    }
}

/// Every cell that did not pass, in full; with `transcripts`, every recorded cell's wire too.
fn details(out: &mut String, report: &Report, transcripts: bool) {
    let failing: Vec<_> = report.cells.iter().filter(|c| matches!(c.status, Status::Fail | Status::Error)).collect();
    if !failing.is_empty() {
        let _ = writeln!(out, "\nCells that did not pass:");
        for c in failing {
            let _ = writeln!(out, "\n  {} [{}]", c.name(), c.status);
            if let Some(r) = &c.reason {
                let _ = writeln!(out, "    because: {r}");
            }
            for m in &c.mismatches {
                let _ = writeln!(out, "    mismatch: {m}");
            }
            if let Some(o) = &c.observed {
                let _ = writeln!(out, "    observed client: {}", o.client);
                let _ = writeln!(out, "    observed server: {}", o.server);
            }
            for line in super::transcript(c) {
                let _ = writeln!(out, "    | {line}");
            }
        }
    }
    if transcripts {
        let _ = writeln!(out, "\nTranscripts (what the relay saw):");
        for c in report.cells.iter().filter(|c| !c.wire.is_empty()) {
            let _ = writeln!(out, "\n  {} [{}]", c.name(), c.status);
            for line in super::transcript(c) {
                let _ = writeln!(out, "    {line}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whole_column_or_row_is_a_star() {
        use BackendId::{Gnutls as G, Jsse as J, Openssl as O, Rustls as R};
        let runnable: BTreeSet<_> = [(O, O), (O, G), (R, O), (R, G), (J, O), (J, G)].into_iter().collect();
        let col: BTreeSet<_> = [(O, G), (R, G), (J, G)].into_iter().collect();
        assert_eq!(pair_names(&col, &runnable), "*->gnutls");
        let row: BTreeSet<_> = [(J, O), (J, G)].into_iter().collect();
        assert_eq!(pair_names(&row, &runnable), "jsse->*");
        let some: BTreeSet<_> = [(O, G), (J, O)].into_iter().collect();
        assert_eq!(pair_names(&some, &runnable), "openssl->gnutls,jsse->openssl");
    }

    #[test]
    fn blocks_fit_the_room() {
        let cols: Vec<(u8, usize)> = (0..10).map(|i| (i, 9)).collect();
        let b = blocks(&cols, 35);
        assert!(b.iter().all(|block| block.iter().map(|(_, w)| w + 1).sum::<usize>() <= 35));
        assert_eq!(b.iter().map(Vec::len).sum::<usize>(), 10);
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("abc", 4), "abc");
        assert_eq!(wrap("a bb ccc dddd", 6), ["a bb", "ccc", "dddd"]);
    }
}
