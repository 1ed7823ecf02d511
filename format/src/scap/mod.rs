//! sysdig and Falco `.scap` captures: reading them, converting them to `.dcap` and back.
//!
//! A scap file is pcapng-like framing around sysdig's metadata blocks (machine, interfaces,
//! users, process list, fd lists) and event blocks; it may be gzip-compressed. Years of
//! evidence exist in this format, and sysdig, Falco and Stratoshark read it, so dredge reads
//! every variant written since 2014 ([`read`]), converts it without loss ([`import`]), and
//! writes its own captures back as scap that sysdig 0.29 reads ([`export`]).

pub mod export;
pub mod import;
pub mod read;

/// Block type codes (§2 of the scap notes). Pre-release aliases are mapped by [`canonical`].
pub mod code {
    pub const SHB: u32 = 0x0A0D_0D0A;
    pub const MI: u32 = 0x201;
    pub const PL_V1: u32 = 0x202;
    pub const FDL_V1: u32 = 0x203;
    pub const EV: u32 = 0x204;
    pub const IL_V1: u32 = 0x205;
    pub const UL_V1: u32 = 0x206;
    pub const PL_V2: u32 = 0x207;
    pub const EVF: u32 = 0x208;
    pub const PL_V3: u32 = 0x209;
    pub const PL_V4: u32 = 0x210;
    pub const PL_V5: u32 = 0x211;
    pub const PL_V6: u32 = 0x212;
    pub const PL_V7: u32 = 0x213;
    pub const PL_V8: u32 = 0x214;
    pub const PL_V9: u32 = 0x215;
    pub const EV_V2: u32 = 0x216;
    pub const EVF_V2: u32 = 0x217;
    pub const FDL_V2: u32 = 0x218;
    pub const IL_V2: u32 = 0x219;
    pub const UL_V2: u32 = 0x220;
    pub const EV_V2_LARGE: u32 = 0x221;
    pub const EVF_V2_LARGE: u32 = 0x222;
}

/// Maps the pre-release block codes still accepted by libscap to their released ones.
pub fn canonical(block_type: u32) -> u32 {
    match block_type {
        0x8002_ABCD => code::MI,
        0x8000_ABCD => code::PL_V1,
        0x8013_ABCD => code::PL_V2,
        0x8014_ABCD => code::PL_V3,
        0x8001_ABCD => code::FDL_V1,
        0x8010_ABCD => code::EV,
        0x8011_ABCD => code::IL_V1,
        0x8012_ABCD => code::UL_V1,
        other => other,
    }
}

/// The byte-order magic in a section header: little-endian files only.
pub const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

/// True when `bytes` start like a scap file, plain or gzip-compressed.
pub fn looks_like_scap(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]) || bytes.starts_with(&[0x1f, 0x8b])
}
