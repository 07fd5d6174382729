//! Exact integer encodings of values, shared by the client (which encodes uploads and decodes
//! results) and the query planner (which encodes literals the same way).

/// Most significant digits an exact number may have (it must fit far inside Z_2^128).
pub const MAX_DIGITS: usize = 36;

/// Exact decimal parsing: (mantissa, scale) with trailing fractional zeros removed. Accepts
/// exponent notation as spreadsheets and pandas write it (`1e5`, `1.5E-3`), exactly. `None` for
/// anything else, and for numbers beyond [`MAX_DIGITS`] significant digits or decimal places.
pub fn parse_decimal(s: &str) -> Option<(i128, u32)> {
    let (neg, digits, exp) = decompose(s)?;
    if digits.is_empty() {
        return Some((0, 0));
    }
    // value = digits * 10^exp: an integer with appended zeros, or `digits` at scale -exp
    let (total, scale) = if exp >= 0 { (digits.len() as i64 + exp, 0) } else { (digits.len() as i64, -exp) };
    if total > MAX_DIGITS as i64 || scale > MAX_DIGITS as i64 {
        return None;
    }
    let m: i128 = digits.parse::<i128>().ok()? * 10i128.pow(exp.max(0) as u32);
    Some((if neg { -m } else { m }, scale as u32))
}

/// A number's digits and exponent: value = ±digits * 10^exp, `digits` without leading or
/// trailing zeros ("" for zero). Accepts what [`number_like`] accepts with digits, of any length
/// (the exponent has at most 4 digits). `None` for anything else.
pub fn decompose(s: &str) -> Option<(bool, String, i64)> {
    let (neg, rest) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (num, exp) = match rest.find(['e', 'E']) {
        Some(i) => {
            let e = &rest[i + 1..];
            let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
            if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (&rest[..i], e.parse::<i64>().ok()?)
        }
        None => (rest, 0),
    };
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let all: String = int.chars().chain(frac.chars()).collect();
    let mut exp = exp - frac.len() as i64;
    let trimmed = all.trim_start_matches('0');
    let digits = trimmed.trim_end_matches('0');
    exp += (trimmed.len() - digits.len()) as i64;
    Some((neg, digits.to_string(), exp))
}

/// `v * 10^scale` rounded half away from zero, for a `real` column. `Err` when the value does
/// not fit 38 digits at that scale, `None` when `s` is not a finite number.
pub fn parse_real(s: &str, scale: u32) -> Option<Result<i128, String>> {
    let (neg, digits, exp) = decompose(s)?;
    if digits.is_empty() {
        return Some(Ok(0));
    }
    let k = exp + scale as i64;
    let too_large = || Err(format!("is too large: with {scale} decimal places it needs more than 38 digits"));
    let v: i128 = if k >= 0 {
        if digits.len() as i64 + k > 38 {
            return Some(too_large());
        }
        let m: i128 = digits.parse().ok()?;
        m * 10i128.pow(k as u32)
    } else {
        let drop = (-k) as usize;
        if drop > digits.len() {
            0
        } else {
            let head = &digits[..digits.len() - drop];
            if head.len() > 38 {
                return Some(too_large());
            }
            let m: i128 = if head.is_empty() { 0 } else { head.parse().ok()? };
            // half away from zero: the first dropped digit decides
            m + i128::from(digits.as_bytes()[digits.len() - drop] >= b'5')
        }
    };
    Some(Ok(if neg { -v } else { v }))
}

/// Half a unit in the last place of `scale` decimals, as text: `5e-7` for 6.
pub fn half_unit(scale: u32) -> String {
    if scale == 0 { "0.5".into() } else { format!("5e-{}", scale + 1) }
}

/// Cells that mean "no value" in a number column, as R (`NA`) and pandas (`NaN`, `inf` when
/// written with `na_rep`) export them: NULL where the column allows it.
pub fn missing_marker(s: &str) -> bool {
    let t = s.strip_prefix(['+', '-']).unwrap_or(s).to_ascii_lowercase();
    ["na", "nan", "n/a", "null", "inf", "infinity"].contains(&t.as_str())
}

/// Whether text looks like a number (digits with a point or an exponent, or a non-finite word
/// such as `NaN` or `inf`), whether or not it can be stored exactly.
pub fn number_like(s: &str) -> bool {
    let t = s.strip_prefix(['+', '-']).unwrap_or(s);
    if ["nan", "inf", "infinity"].contains(&t.to_ascii_lowercase().as_str()) {
        return true;
    }
    let (num, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    let digits = |x: &str| x.bytes().all(|b| b.is_ascii_digit());
    !(int.is_empty() && frac.is_empty())
        && digits(int)
        && digits(frac)
        && exp.is_none_or(|e| {
            let e = e.strip_prefix(['+', '-']).unwrap_or(e);
            !e.is_empty() && digits(e)
        })
}

/// Whether text has the shape of a date (YYYY-MM-DD), valid or not.
pub fn date_like(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
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

/// Longest category label, in UTF-8 bytes.
pub const MAX_LABEL_BYTES: usize = 15;

/// Packs short text (at most 15 UTF-8 bytes, no NUL) into an integer below 256^width, first byte
/// most significant and padded with zero bytes to `width`: for labels packed at one width,
/// integer order is byte-wise UTF-8 order (SQLite's BINARY collation), a shorter prefix first.
/// A label packed at width w equals the same label at width w' > w times 256^(w' - w).
pub fn pack_label(s: &str, width: usize) -> Option<i128> {
    let b = s.as_bytes();
    if b.len() > width || width > MAX_LABEL_BYTES || b.contains(&0) {
        return None;
    }
    let mut v: u128 = 0;
    for i in 0..width {
        v = (v << 8) | *b.get(i).unwrap_or(&0) as u128;
    }
    Some(v as i128)
}

/// The inverse of [`pack_label`] at the same width.
pub fn unpack_label(v: i128, width: usize) -> String {
    let bytes: Vec<u8> =
        (0..width.min(MAX_LABEL_BYTES)).rev().map(|i| ((v as u128) >> (8 * i)) as u8).take_while(|&b| b != 0).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Longest text label, in UTF-8 bytes (341 Japanese characters).
pub const MAX_TEXT_BYTES: usize = 1024;
/// Bytes of a text label per payload chunk (each below 2^120, so sums of chunks never matter:
/// chunks are only moved and opened).
pub const TEXT_CHUNK_BYTES: usize = 15;
/// Bits of the hash text is compared, grouped and joined on.
pub const TEXT_HASH_BITS: u32 = 96;

/// Deterministic 96-bit hash of a text value (equal text, equal hash, at every provider): the
/// value of key columns and the comparison value of text columns. 96 bits keep collisions
/// negligible (n^2 / 2^97 for n distinct labels) and leave room in Z_2^128 for sorting the
/// composite join or group key (key, validity, side, row index).
pub fn key_of(s: &str) -> i128 {
    let d = ring::digest::digest(&ring::digest::SHA256, s.as_bytes());
    let mut v: u128 = 0;
    for (i, &x) in d.as_ref()[..12].iter().enumerate() {
        v |= (x as u128) << (8 * i);
    }
    v as i128
}

/// A label's bytes in `chunks` payload chunks of [`TEXT_CHUNK_BYTES`], each packed first byte
/// most significant and padded with zero bytes. None when the label does not fit or holds a NUL.
pub fn text_chunks(s: &str, chunks: usize) -> Option<Vec<i128>> {
    let b = s.as_bytes();
    if b.len() > chunks * TEXT_CHUNK_BYTES || b.contains(&0) {
        return None;
    }
    Some(
        (0..chunks)
            .map(|k| {
                let mut v: u128 = 0;
                for i in 0..TEXT_CHUNK_BYTES {
                    v = (v << 8) | *b.get(k * TEXT_CHUNK_BYTES + i).unwrap_or(&0) as u128;
                }
                v as i128
            })
            .collect(),
    )
}

/// The inverse of [`text_chunks`]. Bytes that are not UTF-8 (a hash collision's mixed chunks
/// cannot produce them from a correct client) print as replacement characters.
pub fn unpack_text(chunks: &[i128]) -> String {
    let mut bytes = Vec::with_capacity(chunks.len() * TEXT_CHUNK_BYTES);
    for &c in chunks {
        for i in (0..TEXT_CHUNK_BYTES).rev() {
            bytes.push(((c as u128) >> (8 * i)) as u8);
        }
    }
    while bytes.last() == Some(&0) {
        bytes.pop();
    }
    String::from_utf8_lossy(&bytes).into_owned()
}
