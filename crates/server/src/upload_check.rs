//! What the three parties check together before they commit an uploaded version. The client
//! library validates every value before sharing it, but a provider can bypass it; every circuit
//! later sized by a column's public bound (comparisons, sorts, truncations) would then return
//! wrong bits silently. So, over the uploaded shares and without opening a value:
//!
//! 1. **Consistency.** Party i holds components (x_i, x_{i+1}) and party i+1 holds
//!    (x_{i+1}, x_{i+2}): each party sends the next a hash of its second components, which must
//!    equal the next party's first. Otherwise the shares do not define one value.
//! 2. **Ranges.** Every value lies within its column's declared bound (|v| < 2^bits; booleans
//!    0 or 1), every not-NULL flag is 0 or 1, and every NULL's value is 0
//!    (`mitsu_mpc_ops::all_within`). One bit per column is opened, to the parties: whether every
//!    check of the column passed (always, for an upload a correct client made).
//!
//! Semi-honest parties are assumed: a corrupted party could still lie about its own check. That
//! gap closes with malicious security (SECURITY.md).

use crate::job::Fail;
use crate::state::State;
use crate::tables::Readable;
use mitsu_algebra::Ring;
use mitsu_api::Kind;
use mitsu_mpc_core::{Channel, Engine, Payload};
use mitsu_mpc_ops::all_within;
use mitsu_mpc_rep3::{AShare, Rep3};

/// Rows checked per call of the range circuit.
const BATCH: usize = 1 << 20;

/// Checks staged version `t` with all three parties, under mesh job `sub`.
pub(crate) fn check(state: &State, sub: u64, upload: &Readable) -> Result<(), Fail> {
    let (t, schema) = (upload.info(), upload.schema());
    let rows = t.rows as usize;
    let ncols = schema.stored_columns();
    let read = |c: usize| upload.column(state, c).map_err(|e| Fail(500, format!("reading the upload: {e}")));
    let started = std::time::Instant::now();
    let mut ch = Channel::new(state.me, Box::new(state.mesh.transport(sub)));
    // 1. consistency: a hash of each column's first and second components
    let mut first = Vec::new();
    let mut second = Vec::new();
    for c in 0..ncols {
        let size = schema.stored_ring(c).expect("stored column") as usize / 8;
        let bytes = read(c)?;
        let (mut ha, mut hb) =
            (ring::digest::Context::new(&ring::digest::SHA256), ring::digest::Context::new(&ring::digest::SHA256));
        let mut off = 0;
        let mut row = 0;
        while row < rows {
            let n = (rows - row).min(mitsu_api::CHUNK_ROWS);
            ha.update(&bytes[off..off + n * size]);
            hb.update(&bytes[off + n * size..off + 2 * n * size]);
            off += 2 * n * size;
            row += n;
        }
        first.extend(words(ha.finish().as_ref()));
        second.extend(words(hb.finish().as_ref()));
    }
    let me = state.me;
    let got = ch.round(vec![(me.next(), Payload::U64(second))], &[me.prev()])?;
    let theirs: Vec<u64> = got.into_iter().next().expect("one message").into_ring(me.prev(), first.len())?;
    let consistent = theirs == first;
    // everyone learns whether any pair disagreed
    let peers = [me.next(), me.prev()];
    let bits = ch.round(peers.iter().map(|&p| (p, Payload::U64(vec![consistent as u64]))).collect(), &peers)?;
    let mut all = consistent;
    for (p, b) in peers.iter().zip(bits) {
        all &= b.into_ring::<u64>(*p, 1)?[0] == 1;
    }
    if !all {
        return Err(Fail(
            409,
            "the uploaded shares are inconsistent between the parties (they were not made by a correct client); \
             upload the table again with mitsu upload"
                .into(),
        ));
    }
    // 2. ranges, column by column, in batches; one bit per column is opened
    let mut p = Rep3::setup(ch)?;
    let mut oks: Option<mitsu_mpc_rep3::BShare> = None;
    for (i, c) in schema.columns.iter().enumerate() {
        let (lo, hi) = match c.kind {
            Kind::Boolean => (0, 1),
            _ => {
                let m = (1i128 << c.value_bits()) - 1;
                (-m, m)
            }
        };
        let flags = match schema.not_null_column(i) {
            Some(k) => Some(read(k)?),
            None => None,
        };
        let bytes = read(i)?;
        let mut ok = if c.ring_bits() == 64 {
            column::<u64>(&mut p, &bytes, flags.as_deref(), rows, lo, hi)?
        } else {
            column::<u128>(&mut p, &bytes, flags.as_deref(), rows, lo, hi)?
        };
        // a text column's payload chunks: below 2^120 (they are only moved and opened, but a
        // chunk out of range would decode as another label's bytes), zero under NULL
        for k in schema.payload_columns(i) {
            let m = (1i128 << schema.stored_bits(k).expect("a payload column")) - 1;
            let chunk = column::<u128>(&mut p, &read(k)?, flags.as_deref(), rows, -m, m)?;
            ok = p.b_and(&ok, &chunk)?;
        }
        oks = Some(match oks {
            None => ok,
            Some(prev) => p.b_concat_elems(&prev, &ok),
        });
    }
    let opened = match &oks {
        Some(b) => p.open_b(b, mitsu_mpc_core::Reveal::UploadCheck)?,
        None => mitsu_algebra::Planes::zeros(1, 0),
    };
    let bad: Vec<&str> =
        schema.columns.iter().enumerate().filter(|(i, _)| !opened.get(0, *i)).map(|(_, c)| c.name.as_str()).collect();
    if !bad.is_empty() {
        return Err(Fail(
            409,
            format!(
                "columns {} hold values outside their declared range, not-NULL flags other than 0/1, or values \
                 under NULL (the upload was not made by a correct client); the version was refused",
                bad.iter().map(|b| format!("{b:?}")).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    tracing::info!(
        table = %t.name,
        version = t.version,
        rows,
        ms = started.elapsed().as_millis() as u64,
        "checked the upload's {ncols} stored columns"
    );
    Ok(())
}

fn words(d: &[u8]) -> Vec<u64> {
    d.chunks(8).map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes"))).collect()
}

/// Shares of one stored column (chunks of [first components][second components]).
fn load<R: Ring>(bytes: &[u8], rows: usize) -> Result<AShare<R>, Fail> {
    crate::tables::shares::<R>(bytes, rows).map_err(|e| Fail(409, format!("the upload is malformed: {e}")))
}

/// A boolean share (one element) of "every check of this column passed": its values in
/// [lo, hi], its flags in {0, 1}, and value 0 wherever the flag says NULL.
fn column<R: Ring>(
    p: &mut Rep3,
    bytes: &[u8],
    flags: Option<&[u8]>,
    rows: usize,
    lo: i128,
    hi: i128,
) -> Result<mitsu_mpc_rep3::BShare, Fail> {
    let x = load::<R>(bytes, rows)?;
    let f = flags.map(|f| load::<u64>(f, rows)).transpose()?;
    let mut oks = Vec::new();
    let mut at = 0;
    while at < rows {
        let end = (at + BATCH).min(rows);
        let xs = p.slice(&x, at..end);
        oks.push(all_within(p, &xs, lo, hi)?);
        if let Some(f) = &f {
            let fs = p.slice(f, at..end);
            oks.push(all_within(p, &fs, 0, 1)?);
            // x * (1 - flag) must be 0: a NULL's value share is 0 everywhere (sums skip NULLs so)
            let fr: AShare<R> = if R::BITS == 64 {
                mitsu_query::as_ring(fs).map_err(|e| Fail(500, e.to_string()))?
            } else {
                mitsu_query::as_ring(p.extend(&fs, 1)?).map_err(|e| Fail(500, e.to_string()))?
            };
            let null = p.add_public(&p.neg(&fr), &[R::ONE]);
            let under_null = p.mul(&xs, &null)?;
            oks.push(all_within(p, &under_null, 0, 0)?);
        }
        at = end;
    }
    let mut all = match oks.pop() {
        Some(b) => b,
        None => {
            return Ok(p.b_constant(&{
                let mut one = mitsu_algebra::Planes::zeros(1, 1);
                one.not_assign();
                one
            }));
        }
    };
    for b in oks {
        all = p.b_concat_elems(&all, &b);
    }
    Ok(mitsu_mpc_ops::all(p, all)?)
}
