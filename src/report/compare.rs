//! `tlsmatrix compare`: for each scenario, where the backends disagree, as client and as server, side by side.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{Report, outcome};
use crate::expect::Status;
use crate::runner::CellResult;
use crate::vocab::BackendId;

/// Groups the backends on one axis by what they observed; more than one group is a disagreement.
fn disagreement<'a>(cells: impl Iterator<Item = (BackendId, &'a CellResult)>) -> Option<String> {
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (b, c) in cells.filter(|(_, c)| c.status != Status::Unsupported) {
        groups.entry(outcome(c)).or_default().push(b.to_string());
    }
    (groups.len() > 1)
        .then(|| groups.iter().map(|(o, bs)| format!("{} -> {o}", bs.join(", "))).collect::<Vec<_>>().join("; "))
}

/// Renders every scenario whose backends do not all behave alike.
pub fn render(report: &Report) -> String {
    let mut by_scenario: BTreeMap<&str, Vec<&CellResult>> = BTreeMap::new();
    for c in &report.cells {
        by_scenario.entry(c.scenario.as_str()).or_default().push(c);
    }
    let mut out = String::new();
    let mut agreeing = 0;
    for (id, cells) in &by_scenario {
        let mut lines = Vec::new();
        for server in BackendId::ALL {
            let same_server = cells.iter().filter(|c| c.server == server).map(|c| (c.client, *c));
            if let Some(d) = disagreement(same_server) {
                lines.push(format!("  clients against a {server} server: {d}"));
            }
        }
        for client in BackendId::ALL {
            let same_client = cells.iter().filter(|c| c.client == client).map(|c| (c.server, *c));
            if let Some(d) = disagreement(same_client) {
                lines.push(format!("  servers facing a {client} client: {d}"));
            }
        }
        if lines.is_empty() {
            agreeing += 1;
            continue;
        }
        let _ = writeln!(out, "{id}");
        for l in lines {
            let _ = writeln!(out, "{l}");
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(
        out,
        "{} scenarios: {} with differences between backends, {agreeing} where every runnable pair behaves alike",
        by_scenario.len(),
        by_scenario.len() - agreeing
    );
    out
}
