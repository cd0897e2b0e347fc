//! pcapng export (being written).
/// Stub.
pub fn write(_c: &[super::Capture], _k: &str, _o: &mut impl std::io::Write) -> std::io::Result<()> {
    Ok(())
}
