//! Validity bounds: offsets from the moment of the run (`-1d`) or fixed UTC dates (`2020-02-01`).

/// A validity bound: a fixed UTC date (`2020-02-01`, `2020-02-01T12:30:00Z`) or an offset from `now`, in seconds
/// since the epoch.
pub fn parse_time(s: &str, now: i64) -> Result<i64, String> {
    let t = s.trim();
    if t.len() >= 10 && t.as_bytes()[4] == b'-' {
        return parse_date(t).ok_or_else(|| {
            format!("`{t}`: expected a UTC date like 2020-02-01 or 2020-02-01T12:30:00Z (years 1950 to 9999)")
        });
    }
    parse_offset(t).map(|secs| now + secs)
}

/// `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SSZ` into seconds since the epoch (the proleptic Gregorian calendar).
fn parse_date(s: &str) -> Option<i64> {
    let (date, time) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t.strip_suffix('Z')?)),
        None => (s, None),
    };
    let num =
        |x: &str| (!x.is_empty() && x.bytes().all(|b| b.is_ascii_digit())).then(|| x.parse::<i64>().ok()).flatten();
    let mut d = date.split('-');
    let (y, m, day) = (num(d.next()?)?, num(d.next()?)?, num(d.next()?)?);
    if d.next().is_some() || !(1950..=9999).contains(&y) || !(1..=12).contains(&m) {
        return None;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=month_days[(m - 1) as usize]).contains(&day) {
        return None;
    }
    let secs = match time {
        None => 0,
        Some(t) => {
            let mut p = t.split(':');
            let (h, mi, se) = (num(p.next()?)?, num(p.next()?)?, num(p.next()?)?);
            if p.next().is_some() || h > 23 || mi > 59 || se > 59 {
                return None;
            }
            h * 3600 + mi * 60 + se
        }
    };
    // Days from 1970-01-01 (Howard Hinnant's days_from_civil).
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468) * 86_400 + secs)
}

/// Parses a relative offset such as `-1d`, `12h`, `30m`, `0` into seconds.
pub fn parse_offset(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if s == "0" {
        return Ok(0);
    }
    // The unit is the last character, whatever its width (a non-ASCII one is an error, never a split inside it).
    let unit_at = s.char_indices().last().map_or(0, |(i, _)| i);
    let (num, unit) = s.split_at(unit_at);
    let mult = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        _ => return Err(format!("`{s}`: expected an offset like -1d, 12h, 30m, 10s or 0")),
    };
    num.parse::<i64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|secs| secs.unsigned_abs() <= 200 * 365 * 86_400)
        .ok_or_else(|| format!("`{s}`: expected an offset like -1d, 12h, 30m, 10s or 0, within 200 years"))
}
