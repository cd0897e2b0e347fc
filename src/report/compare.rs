//! `tlsmatrix compare`: for each scenario, where the backends disagree, as client and as server, side by side.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{Behaviour, Report};
use crate::runner::CellResult;
use crate::vocab::BackendId;

/// Groups the backends on one axis by what they observed (a value one of them cannot report matches anything);
/// more than one group is a disagreement.
fn disagreement<'a>(cells: impl Iterator<Item = (BackendId, &'a CellResult)>) -> Option<String> {
    let mut groups: Vec<(Behaviour, Vec<String>)> = Vec::new();
    for (b, c) in cells {
        let Some(behaviour) = Behaviour::of(c) else { continue };
        match groups.iter_mut().find(|(g, _)| g.agrees(&behaviour)) {
            Some((_, members)) => members.push(b.to_string()),
            None => groups.push((behaviour, vec![b.to_string()])),
        }
    }
    (groups.len() > 1).then(|| {
        groups.iter().map(|(o, bs)| format!("{} -> {}", bs.join(", "), o.describe())).collect::<Vec<_>>().join("; ")
    })
}

/// The families with more than one release among these cells (jsse with jsse@11, ...).
fn families(cells: &[&CellResult]) -> Vec<BackendId> {
    let ids: std::collections::BTreeSet<BackendId> = cells.iter().flat_map(|c| [c.client, c.server]).collect();
    let mut out: Vec<BackendId> = ids.iter().map(|b| b.family()).collect();
    out.dedup();
    out.retain(|f| ids.iter().filter(|b| b.family() == *f).count() > 1);
    out
}

/// Renders every scenario whose backends do not all behave alike, and where a family's releases differ.
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
                lines.push(format!("  clients against {server} servers: {d}"));
            }
        }
        for client in BackendId::ALL {
            let same_client = cells.iter().filter(|c| c.client == client).map(|c| (c.server, *c));
            if let Some(d) = disagreement(same_client) {
                lines.push(format!("  servers facing {client} clients: {d}"));
            }
        }
        // The version view: a family's releases against the same peer (Java 11 and 25 against one openssl server).
        for family in families(cells) {
            // Only where other backends share the axis: otherwise the line above already is this one.
            let others = |on: fn(&CellResult) -> BackendId| cells.iter().any(|c| on(c).family() != family);
            for peer in BackendId::ALL.into_iter().filter(|p| p.family() != family) {
                let as_clients = cells.iter().filter(|c| c.server == peer && c.client.family() == family);
                match disagreement(as_clients.map(|c| (c.client, *c))) {
                    Some(d) if others(|c| c.client) => {
                        lines.push(format!("  {family} releases as clients against {peer}: {d}"))
                    }
                    _ => {}
                }
                let as_servers = cells.iter().filter(|c| c.client == peer && c.server.family() == family);
                match disagreement(as_servers.map(|c| (c.server, *c))) {
                    Some(d) if others(|c| c.server) => {
                        lines.push(format!("  {family} releases as servers facing {peer}: {d}"))
                    }
                    _ => {}
                }
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
