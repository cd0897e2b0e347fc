//! `tlsmatrix explain`: a plain-language diagnosis of a cell, computed from both configs, the PKI and what each side
//! observed, with the change that would fix it.

use serde::Serialize;

use crate::pki::Pki;
use crate::runner::CellResult;
use crate::scenario::Scenario;

/// One finding about a cell.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The cause, in one line ("no protocol version in common").
    pub cause: String,
    /// The evidence from both configs and the observation.
    pub detail: String,
    /// The change that would make the pair connect.
    pub fix: String,
}

/// Diagnoses one judged cell of `scenario`.
pub fn diagnose(scenario: &Scenario, pki: &Pki, cell: &CellResult) -> Vec<Finding> {
    let _ = (scenario, pki, cell);
    Vec::new()
}
