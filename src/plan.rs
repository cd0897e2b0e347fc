//! Expanding scenarios into cells (scenario x client backend x server backend) and deciding, before anything runs,
//! what each cell should do: run against an expectation, or stay unsupported with the reason.

use std::sync::Arc;

use crate::backend::Registry;
use crate::observation::ErrorClass;
use crate::scenario::{
    AlertExpect, CloseExpect, Expectation, ExpectedResult, Knob, Mode, Resolved, Scenario, SideExpect,
};
use crate::vocab::{Alert, BackendId, ProtocolVersion, Role};

/// One client backend against one server backend on one scenario.
#[derive(Clone, Debug)]
pub struct Cell {
    /// The scenario.
    pub scenario: Arc<Scenario>,
    /// The client backend.
    pub client: BackendId,
    /// The server backend.
    pub server: BackendId,
}

impl Cell {
    /// The cell's test name: `seed::legacy_tls10_server::openssl->rustls`.
    pub fn name(&self) -> String {
        format!("{}::{}->{}", self.scenario.id, self.client, self.server)
    }

    /// Whether both sides are linked-in libraries (no external peer: no tool process, no JVM).
    pub fn linked_in(&self) -> bool {
        [self.client, self.server].iter().all(|b| BackendId::IN_PROCESS.contains(b))
    }

    /// What to do with the cell: the capability model first (a backend that cannot express a setting), then the
    /// scenario's overrides.
    pub fn decide(&self, registry: &Registry) -> Decision {
        for (role, id) in [(Role::Client, self.client), (Role::Server, self.server)] {
            let Some(backend) = registry.get(id) else {
                return Decision::Unsupported(format!("{id} is not compiled into this build"));
            };
            let caps = backend.capabilities(role);
            let extra: &[Knob] = if self.scenario.mode == Mode::Resume { &[Knob::Resumption] } else { &[] };
            let checked = match role {
                Role::Client => caps.check(&self.scenario.client, extra),
                Role::Server => caps.check(&self.scenario.server, extra),
            };
            if let Err(why) = checked.and_then(|()| backend.expressible(role, &self.scenario)) {
                return Decision::Unsupported(format!("{id} as {role}: {why}"));
            }
        }
        match self.scenario.resolve(self.client, self.server) {
            Resolved::Unsupported(why) => Decision::Unsupported(why),
            Resolved::Expect { mut expectation, because } if let Some(q) = self.quirk(&expectation) => {
                expectation.close = Some((q.close)());
                let because = Some(match because {
                    Some(b) => format!("{b} {}", q.reason),
                    None => q.reason.to_string(),
                });
                Decision::Run { expectation, because }
            }
            Resolved::Expect { expectation, because } => Decision::Run { expectation, because },
        }
    }

    /// The close quirk of this pair, if one applies to this expectation (a success that says nothing of the close).
    fn quirk(&self, expectation: &Expectation) -> Option<&'static CloseQuirk> {
        let may_tls13 =
            |v: &Option<Vec<ProtocolVersion>>| v.as_ref().is_none_or(|v| v.contains(&ProtocolVersion::Tls13));
        CLOSE_QUIRKS.iter().find(|q| {
            q.clients.contains(&self.client)
                && q.servers.contains(&self.server)
                && expectation.result == ExpectedResult::Success
                && expectation.close.is_none()
                && (!q.tls13
                    || (may_tls13(&self.scenario.client.versions) && may_tls13(&self.scenario.server.versions)))
        })
    }
}

/// A pair of stacks whose connections succeed and then fail at close, as data: wherever the quirk shows, in every
/// scenario (a user's own included), a success expectation gains the quirk's `close` block, and the cell is judged
/// with it, the reason shown beside the cell (`because`). Written once here rather than in every scenario, since it
/// belongs to the pair, not to a scenario.
pub struct CloseQuirk {
    /// The client backends (releases named one by one: a family's releases close differently).
    pub clients: &'static [BackendId],
    /// The server backends.
    pub servers: &'static [BackendId],
    /// Only where TLS 1.3 may be negotiated (both sides enable it, or leave versions to the library).
    pub tls13: bool,
    /// How the close goes wrong.
    pub close: fn() -> CloseExpect,
    /// What happens, as the bytes show it.
    pub reason: &'static str,
}

/// nginx 1.22.1 does not answer a client's close_notify (the clients below insist on one).
const NGINX_NO_CLOSE_NOTIFY: &str = "nginx 1.22.1 does not answer the client's close_notify: ngx_ssl_handle_recv \
     (src/event/ngx_event_openssl.c) sets no_wait_shutdown and no_send_shutdown when SSL_read returns \
     SSL_ERROR_ZERO_RETURN, so ngx_ssl_shutdown marks the session SSL_SENT_SHUTDOWN with a quiet shutdown and closes the \
     socket without its own close_notify (wire: C->S Alert(warning, close_notify), then the server's FIN). This client \
     reports the missing close_notify as an error after the exchange; the server saw a clean session.";

/// Node 8.17.0's server does not answer a client's close_notify either (the clients below insist on one).
const NODE8_NO_CLOSE_NOTIFY: &str = "Node 8.17.0's TLS server does not answer the client's close_notify: it closes \
     the TCP connection without its own (wire: C->S Alert(warning, close_notify), then the server's FIN; measured \
     without the adapter too: a plain tls.createServer echo on Node 8.17 gives a Python client with \
     suppress_ragged_eofs=False UNEXPECTED_EOF_WHILE_READING, while Node 16 answers with close_notify). This client \
     reports the missing close_notify as an error after the exchange; the server saw a clean session.";

/// The clients that report a server's missing close_notify after the exchange as an error (the others take the end
/// of the stream for the end of the session), as measured against nginx and Node 8's server.
const INSIST_ON_CLOSE_NOTIFY: &[BackendId] = &[
    BackendId::Rustls,
    BackendId::Python,
    BackendId::Boringssl,
    BackendId::Nss,
    BackendId::Node,
    BackendId::Node8,
    BackendId::Node16,
    BackendId::Node24,
];

/// A client that fails at close with end of file and no alert: what a peer that closes without close_notify gets.
fn eof_at_close() -> CloseExpect {
    CloseExpect { client: Some(SideExpect { error: Some(ErrorClass::Eof), ..SideExpect::default() }), server: None }
}

/// Every such pair. Only cells expected to succeed are affected: a failure in the handshake is judged as usual.
pub const CLOSE_QUIRKS: &[CloseQuirk] = &[
    CloseQuirk {
        clients: INSIST_ON_CLOSE_NOTIFY,
        servers: &[BackendId::Nginx],
        tls13: false,
        close: eof_at_close,
        reason: NGINX_NO_CLOSE_NOTIFY,
    },
    CloseQuirk {
        clients: INSIST_ON_CLOSE_NOTIFY,
        servers: &[BackendId::Node8],
        tls13: false,
        close: eof_at_close,
        reason: NODE8_NO_CLOSE_NOTIFY,
    },
    CloseQuirk {
        clients: &[BackendId::Gnutls],
        servers: &[BackendId::Jsse11],
        tls13: true,
        close: || CloseExpect {
            // user_canceled is a warning (no fatal alert crosses either way): gnutls-cli's own text says which.
            client: Some(SideExpect {
                error: Some(ErrorClass::Local),
                message_contains: [(BackendId::Gnutls, "*** Received alert [90]: User canceled".to_string())].into(),
                ..SideExpect::default()
            }),
            server: None,
        },
        reason: "Java 11.0.13's TLS 1.3 server answers the client's close_notify with a warning user_canceled before its \
             own close_notify (wire: C->S Alert(warning, close_notify), S->C Alert(warning, user_canceled), S->C \
             Alert(warning, close_notify)); Java 17 and 21 send close_notify alone. gnutls-cli takes user_canceled as \
             fatal (\"*** Received alert [90]: User canceled; *** Fatal error: A TLS fatal alert has been \
             received\") and fails after the exchange completed, while the server saw a clean connection.",
    },
    CloseQuirk {
        clients: &[BackendId::Go],
        servers: &[BackendId::Jsse11],
        tls13: true,
        close: || CloseExpect {
            client: Some(SideExpect {
                received_alert: AlertExpect::Exactly(Alert::USER_CANCELED),
                error: Some(ErrorClass::PeerAlert),
                message: [(BackendId::Go, "remote error: tls: user canceled".to_string())].into(),
                ..SideExpect::default()
            }),
            server: None,
        },
        reason: "Java 11.0.13's TLS 1.3 server answers the client's close_notify with a warning user_canceled before its \
             own close_notify (wire: C->S Alert(warning, close_notify), S->C Alert(warning, user_canceled), S->C \
             Alert(warning, close_notify)). crypto/tls (Go 1.19, conn.go readRecordOrCCS) takes any alert but \
             close_notify as an error under TLS 1.3 and fails its read after the exchange with \"remote error: tls: \
             user canceled\", while the server saw a clean connection.",
    },
];

/// A cell with its decision, made once: the harness turns it into a trial (ignored or run), the runner plays it as
/// decided, and neither asks the capability model again.
#[derive(Clone, Debug)]
pub struct Planned {
    /// The cell.
    pub cell: Cell,
    /// What to do with it.
    pub decision: Decision,
}

/// Something the runner can play: a cell already planned, or a cell it plans as it starts it.
pub trait Plannable: Send + 'static {
    /// The cell with its decision.
    fn planned(self, registry: &Registry) -> Planned;
    /// The cell.
    fn cell(&self) -> &Cell;
}

impl Plannable for Planned {
    fn planned(self, _: &Registry) -> Planned {
        self
    }
    fn cell(&self) -> &Cell {
        &self.cell
    }
}

impl Plannable for Cell {
    fn planned(self, registry: &Registry) -> Planned {
        let decision = self.decide(registry);
        Planned { cell: self, decision }
    }
    fn cell(&self) -> &Cell {
        self
    }
}

/// Every cell with its decision.
pub fn plan(cells: Vec<Cell>, registry: &Registry) -> Vec<Planned> {
    cells.into_iter().map(|c| c.planned(registry)).collect()
}

/// What a cell does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Run it and compare with the expectation (`because`: the override's reason, if one applied).
    Run {
        /// The expectation (boxed: it is most of the enum's size).
        expectation: Box<Expectation>,
        /// The reason of the applied override.
        because: Option<String>,
    },
    /// Do not run it.
    Unsupported(String),
}

/// Which backends play which side.
#[derive(Clone, Debug)]
pub struct Selection {
    /// Client backends.
    pub clients: Vec<BackendId>,
    /// Server backends.
    pub servers: Vec<BackendId>,
}

/// Every backend on both sides: an external peer whose runtime is missing turns its cells `unsupported` with the
/// install hint, so the default run is the whole matrix this machine can play and says what it cannot.
impl Default for Selection {
    fn default() -> Self {
        Selection { clients: BackendId::ALL.to_vec(), servers: BackendId::ALL.to_vec() }
    }
}

impl Selection {
    /// The backends linked into this binary, on both sides (the benchmark's catalog, which must not measure JVMs).
    pub fn in_process() -> Self {
        Selection { clients: BackendId::IN_PROCESS.to_vec(), servers: BackendId::IN_PROCESS.to_vec() }
    }
}

/// Every cell of the scenarios, scenario by scenario, clients outer, servers inner.
pub fn cells(scenarios: &[Arc<Scenario>], sel: &Selection) -> Vec<Cell> {
    let mut out = Vec::new();
    for s in scenarios {
        for &client in &sel.clients {
            for &server in &sel.servers {
                out.push(Cell { scenario: s.clone(), client, server });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(extra: &str) -> Cell {
        let text = format!(
            "description: x\nserver:\n  certificate: server-ec\n{extra}client:\n  trust: [root-a]\n  server_name: localhost\nexpect:\n  result: success\n"
        );
        let fixtures = ["server-ec", "root-a"].map(String::from).into_iter().collect();
        let s = Scenario::parse("t::x".into(), std::path::Path::new("t.yaml"), &text, &fixtures).unwrap();
        Cell { scenario: Arc::new(s), client: BackendId::Gnutls, server: BackendId::Jsse11 }
    }

    /// A close quirk applies where it shows (a success expected that says nothing of the close, TLS 1.3 possible),
    /// in any scenario, and nowhere else; where it applies, the cell runs with the quirk's close block and reason.
    #[test]
    fn close_quirks_apply_where_the_quirk_shows() {
        let registry = Registry::all();
        let tls13 = cell("");
        let tls12 = cell("  versions: [tls1.2]\n");
        assert!(tls13.quirk(&tls13.scenario.expect).is_some());
        assert!(tls12.quirk(&tls12.scenario.expect).is_none());
        let mut failing = tls13.scenario.expect.clone();
        failing.result = ExpectedResult::Failure;
        assert!(tls13.quirk(&failing).is_none());
        let mut own = tls13.scenario.expect.clone();
        own.close = Some(CloseExpect::default());
        assert!(tls13.quirk(&own).is_none(), "a scenario's own close block wins");
        let other = Cell { client: BackendId::Openssl, ..tls13.clone() };
        assert!(other.quirk(&other.scenario.expect).is_none());
        let available = |id, role| registry.get(id).is_some_and(|b| b.capabilities(role).unavailable.is_none());
        if available(BackendId::Jsse11, Role::Server) && available(BackendId::Gnutls, Role::Client) {
            let Decision::Run { expectation, because } = tls13.decide(&registry) else { panic!("runs") };
            assert!(expectation.close.is_some_and(|c| c.client.is_some() && c.server.is_none()));
            assert!(because.is_some_and(|b| b.contains("user_canceled")));
        }
    }
}
