//! Short commands the harness runs to learn about a tool (`openssl version`, `python3 --probe`): with a deadline and
//! a bound on what they print, so a wedged or flooding program on PATH cannot hang `tlsmatrix list` or a run that
//! does not even use it. A program that overstays is killed with its whole process group, children included.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a probe may take.
pub(crate) const PROBE_DEADLINE: Duration = Duration::from_secs(5);
/// What is kept of a probe's stdout and of its stderr; the rest is read and dropped.
const PROBE_OUTPUT_LIMIT: usize = 1 << 20;

/// What a probe printed, and whether it exited successfully.
pub(crate) struct Probed {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub success: bool,
}

/// Runs `cmd` (stdin closed) and waits at most `deadline`. `Err` says why it gave no answer.
pub(crate) fn run(cmd: &mut Command, deadline: Duration) -> Result<Probed, String> {
    use std::os::unix::process::CommandExt;
    let shown = format!("{:?}", cmd.get_program());
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    let read = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            if let Some(mut p) = pipe {
                let mut buf = [0u8; 8192];
                while let Ok(n @ 1..) = p.read(&mut buf) {
                    let room = PROBE_OUTPUT_LIMIT.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                }
            }
            kept
        })
    };
    let out = read(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let err = read(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() < deadline => std::thread::sleep(Duration::from_millis(5)),
            _ => break None,
        }
    };
    let Some(status) = status else {
        kill_group(&mut child);
        return Err(format!("{shown} did not answer within {} s and was killed", deadline.as_secs()));
    };
    // The program is gone; a child it left behind holding the pipes open goes with its group.
    kill_group(&mut child);
    Ok(Probed {
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        success: status.success(),
    })
}

/// Kills the child's process group (it leads one of its own: `process_group(0)`), then reaps the child.
fn kill_group(child: &mut std::process::Child) {
    if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}
