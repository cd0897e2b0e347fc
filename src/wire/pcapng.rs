//! pcapng export (being written).
