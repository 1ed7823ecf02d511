//! Malformed tracer writes between valid ones: every valid record still decodes as itself,
//! and nothing panics.
//!
//! The junk is of the kinds applications really write to `/dev/null` (and attackers could):
//! a wrong direction, records cut anywhere, huge tag and argument lists, JSON cut short,
//! binary noise. It comes from a fixed-seed generator, so a failure repeats.

use dredge_analyze::spans::fragments::{Fragments, Outcome};
use dredge_analyze::spans::{Parsed, parse};

/// xorshift64*: enough randomness for junk, with no dependency.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

const VALID: &[&[u8]] = &[
    b">:t:root::",
    b">:12345:mysql.query.init:user=loris,db=mydb:",
    b"<:12345:mysql.query.init::",
    b">::website-latency::\n",
    b"<:-5:neg::",
    br">:t:esc\.aped:k=v\,1:",
    br#"[">", 777, ["json","tag"], [{"k1":"v1"}, {"k2":"v2"}]]"#,
    br#"["<", "t", ["j1"], []]"#,
    b">:0123:zero::",
];

fn junk(noise: &mut Noise) -> Vec<u8> {
    let valid = VALID[noise.below(VALID.len())];
    match noise.below(8) {
        // A wrong direction.
        0 => [b"=", &valid[1..]].concat(),
        // A valid record cut anywhere.
        1 => valid[..noise.below(valid.len())].to_vec(),
        // A huge tag list, finished or not.
        2 => {
            let mut r = b">:t:".to_vec();
            for i in 0..noise.below(20_000) {
                r.extend_from_slice(format!("t{i}.").as_bytes());
            }
            if noise.below(2) == 0 {
                r.extend_from_slice(b"end::");
            }
            r
        }
        // A huge argument list.
        3 => {
            let mut r = b"<:t:x:".to_vec();
            for i in 0..noise.below(10_000) {
                r.extend_from_slice(format!("a{i}=v,").as_bytes());
            }
            r
        }
        // JSON cut short or bent.
        4 => {
            let mut r = VALID[6].to_vec();
            let at = noise.below(r.len());
            if noise.below(2) == 0 {
                r.truncate(at);
            } else {
                r[at] = b"[]{},\"\\:"[noise.below(8)];
            }
            r
        }
        // A valid record with one byte changed.
        5 => {
            let mut r = valid.to_vec();
            let at = noise.below(r.len());
            r[at] = noise.next() as u8;
            r
        }
        // Binary noise, sometimes starting like a record.
        6 => {
            let n = noise.below(300);
            let mut r = noise.bytes(n);
            if noise.below(2) == 0 {
                r.splice(0..0, b">:".iter().copied());
            }
            r
        }
        _ => Vec::new(),
    }
}

const ROUNDS: usize = 4_000;

#[test]
fn valid_records_after_junk_decode_as_themselves() {
    let mut noise = Noise(0x5eed_1234_abcd_0042);
    let mut fragments = Fragments::default();
    let mut decoded = 0;
    for round in 0..ROUNDS {
        let tid = noise.below(3) as i64;
        for _ in 0..noise.below(4) {
            // Junk may be anything, even a record: only that it returns matters.
            let _ = fragments.write(tid, &junk(&mut noise));
        }
        let valid = VALID[noise.below(VALID.len())];
        let Parsed::Tracer(want) = parse(valid) else { panic!("{valid:?} does not parse") };
        match fragments.write(tid, valid) {
            Outcome::Tracer(got) => assert_eq!(got, want, "round {round}"),
            other => panic!("round {round}: {:?} gave {other:?}", String::from_utf8_lossy(valid)),
        }
        decoded += 1;
    }
    assert_eq!(decoded, ROUNDS);
}

#[test]
fn any_bytes_parse_without_panicking() {
    let mut noise = Noise(7);
    for _ in 0..200_000 {
        let n = noise.below(64);
        let mut data = noise.bytes(n);
        // Mostly bytes that mean something to the parser, so it goes deep.
        for b in &mut data {
            if noise.below(4) != 0 {
                const MEANINGFUL: &[u8] = b"><:.,=\\[]{}\"t0-9 \n";
                *b = MEANINGFUL[noise.below(MEANINGFUL.len())];
            }
        }
        let _ = parse(&data);
    }
}
