//! Exact integer encodings of values, shared by the client (which encodes uploads and decodes
//! results) and the query planner (which encodes literals the same way).

/// Exact decimal parsing: (mantissa, scale) with trailing fractional zeros removed.
pub fn parse_decimal(s: &str) -> Option<(i128, u32)> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let frac = frac.trim_end_matches('0');
    if int.len() + frac.len() > 36 {
        return None;
    }
    let mut m: i128 = 0;
    for b in int.bytes().chain(frac.bytes()) {
        m = m * 10 + (b - b'0') as i128;
    }
    Some((if neg { -m } else { m }, frac.len() as u32))
}

/// Days since 1970-01-01 of a YYYY-MM-DD date (proleptic Gregorian).
pub fn parse_date(s: &str) -> Option<i128> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y: i64 = s[..4].parse().ok()?;
    let m: i64 = s[5..7].parse().ok()?;
    let d: i64 = s[8..].parse().ok()?;
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let dim = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&m) || d < 1 || d > dim[(m - 1) as usize] {
        return None;
    }
    // days from civil (H. Hinnant)
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468) as i128)
}

/// Packs short text (<= 15 UTF-8 bytes) reversibly into an integer below 2^120.
pub fn pack_label(s: &str) -> Option<i128> {
    let b = s.as_bytes();
    if b.len() > 15 || b.contains(&0) {
        return None;
    }
    let mut v: u128 = 0;
    for (i, &x) in b.iter().enumerate() {
        v |= (x as u128) << (8 * i);
    }
    Some(v as i128)
}

/// The inverse of [`pack_label`].
pub fn unpack_label(v: i128) -> String {
    let bytes: Vec<u8> = (0..15).map(|i| ((v as u128) >> (8 * i)) as u8).take_while(|&b| b != 0).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}
