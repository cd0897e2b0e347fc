//! The one byte bridge between the harness's socket and an external peer's own connection: a tool process per
//! connection (`cli/`) and an adapter process serving many (`peer/`) both play their side over a socket of their own,
//! and this copies it to the cell's socket byte for byte, half-closes and resets included.

use std::future::Future;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How much of each direction the bridge keeps: enough for the server's plaintext first flight (`cli/hello.rs`).
const TAP_LIMIT: usize = 64 * 1024;

/// What crossed the bridge, each direction's first [`TAP_LIMIT`] bytes.
#[derive(Default)]
pub(crate) struct Tapped {
    /// From the harness's peer to the external peer.
    pub to_tool: Vec<u8>,
    /// From the external peer to the harness's peer.
    pub from_tool: Vec<u8>,
}

/// Copies bytes both ways between the harness's socket `io` and the external peer's connection `tool`, passing each
/// half-close on (so close_notify followed by FIN reaches the other side as it left the peer).
///
/// - The peer-to-harness direction is always copied to its end: it carries the peer's last alert or close_notify.
/// - The harness-to-peer direction is copied until its end, or until `upstream_done` resolves (an adapter that has
///   reported its outcome reads no more, and the harness's side may never close: a stalled fault).
/// - A write error ends its direction: the other side already went away, and its own output says why.
/// - A reset of the harness's socket is passed on as a reset: the peer's connection is dropped at once with
///   SO_LINGER 0, so the peer meets the reset its own peer sent (otherwise it would write its alert into the bridge,
///   which takes it, where a direct connection would have failed the write).
///
/// The taps are filled as bytes pass, so what was seen survives the future being dropped.
pub(crate) async fn bridge(
    io: TcpStream,
    tool: TcpStream,
    tapped: &mut Tapped,
    upstream_done: impl Future<Output = ()>,
) {
    let (mut ir, mut iw) = io.into_split();
    let (mut tr, mut tw) = tool.into_split();
    let reset = {
        let up = pump(&mut ir, &mut tw, &mut tapped.to_tool);
        let down = pump(&mut tr, &mut iw, &mut tapped.from_tool);
        tokio::pin!(up, down, upstream_done);
        let (mut up_done, mut down_done) = (false, false);
        loop {
            tokio::select! {
                end = &mut up, if !up_done => {
                    up_done = true;
                    if end == End::Reset {
                        break true;
                    }
                }
                _ = &mut down, if !down_done => down_done = true,
                () = &mut upstream_done, if !up_done => up_done = true,
            }
            if up_done && down_done {
                break false;
            }
        }
    };
    if reset {
        // Whole again, so dropping it closes without the FIN a dropped write half would send first.
        if let Ok(tool) = tr.reunite(tw) {
            let _ = tool.set_zero_linger();
        }
    }
}

/// How one direction of the bridge ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// End of stream (passed on as a half-close), or the other side stopped taking bytes.
    Closed,
    /// The read failed: the connection was reset.
    Reset,
}

async fn pump(
    from: &mut (impl AsyncReadExt + Unpin),
    to: &mut (impl AsyncWriteExt + Unpin),
    seen: &mut Vec<u8>,
) -> End {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) => break,
            Err(_) => return End::Reset,
            Ok(n) => n,
        };
        if seen.len() < TAP_LIMIT {
            seen.extend_from_slice(&buf[..n.min(TAP_LIMIT - seen.len())]);
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
    End::Closed
}
