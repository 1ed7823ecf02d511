//! Round trips through a real file: every parameter type and every block kind, written by the
//! `Writer` and read back by `Capture`, must come back exactly.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on purpose")]

use std::net::{Ipv4Addr, Ipv6Addr};

use dredge_format::param::{ALL_PARAM_TYPES, SockAddr, SockTuple, family};
use dredge_format::state::*;
use dredge_format::{
    BlockKind, Capture, EventHeader, Metadata, ParamType, State, Value, Writer, WriterOptions,
    sign, verify,
};
use proptest::prelude::*;

/// A canonical value of `kind` built from `seed`: one that `decode(encode(v)) == v` must hold
/// for. String types get seeds without NUL bytes.
fn canonical(kind: ParamType, seed: &[u8]) -> Value<'_> {
    use ParamType as T;
    let n = |k: usize| {
        let mut b = [0u8; 8];
        for (i, x) in seed.iter().take(k).enumerate() {
            b[i] = *x;
        }
        u64::from_le_bytes(b)
    };
    let sext = |v: u64, bits: u32| ((v << (64 - bits)) as i64) >> (64 - bits);
    let v4 = |s: &[u8]| Ipv4Addr::new(s[0], s[1], s[2], s[3]);
    let v6 = |s: &[u8]| {
        let mut b = [0u8; 16];
        b.copy_from_slice(&s[..16]);
        Ipv6Addr::from(b)
    };
    let mut pad = [7u8; 64];
    for (i, b) in seed.iter().take(64).enumerate() {
        pad[i] = *b;
    }
    let pad: &[u8] = Box::leak(Box::new(pad));
    if seed.first() == Some(&0xEE) {
        return Value::Empty;
    }
    match kind {
        T::Int8 => Value::Int(sext(n(1), 8)),
        T::Int16 => Value::Int(sext(n(2), 16)),
        T::Int32 => Value::Int(sext(n(4), 32)),
        T::Int64 => Value::Int(n(8) as i64),
        T::Uint8 => Value::Uint(n(1)),
        T::Uint16 => Value::Uint(n(2)),
        T::Uint32 => Value::Uint(n(4)),
        T::Uint64 => Value::Uint(n(8)),
        T::Charbuf | T::FsPath | T::FsRelPath => Value::Str(seed),
        T::Bytebuf | T::None => Value::Bytes(if seed.is_empty() { b"x" } else { seed }),
        T::CharbufArray | T::CharbufPairArray => {
            Value::StrList(if seed.is_empty() { b"a\0b" } else { seed })
        }
        T::Errno => Value::Errno(n(8) as i64),
        T::Fd => Value::Fd(n(8) as i64),
        T::Pid => Value::Pid(n(8) as i64),
        T::Fd32 => Value::Fd(sext(n(4), 32)),
        T::Pid32 => Value::Pid(sext(n(4), 32)),
        T::SockAddr => Value::SockAddr(match n(1) % 4 {
            0 => SockAddr::V4 { ip: v4(&pad[1..]), port: n(2) as u16 },
            1 => SockAddr::V6 { ip: v6(&pad[1..]), port: n(2) as u16 },
            2 => SockAddr::Unix { path: seed.get(1..).unwrap_or(b"") },
            _ => SockAddr::Other { family: 16, rest: seed },
        }),
        T::SockTuple => Value::SockTuple(match n(1) % 4 {
            0 => SockTuple::V4 { sip: v4(pad), sport: 1, dip: v4(&pad[4..]), dport: n(2) as u16 },
            1 => SockTuple::V6 { sip: v6(pad), sport: 2, dip: v6(&pad[16..]), dport: 443 },
            2 => SockTuple::Unix { source: n(8), dest: 9, path: seed.get(1..).unwrap_or(b"") },
            _ => SockTuple::Other { family: 17, rest: seed },
        }),
        T::FdList => {
            Value::FdList(seed.iter().map(|&b| (i64::from(b) - 3, u16::from(b))).collect())
        }
        T::SyscallId => Value::SyscallId(n(2) as u16),
        T::SigType => Value::Signal(n(1) as u8),
        T::RelTime => Value::RelTime(n(8)),
        T::AbsTime => Value::AbsTime(n(8)),
        T::Port => Value::Port(n(2) as u16),
        T::L4Proto => Value::L4Proto(n(1) as u8),
        T::SockFamily => Value::SockFamily(n(1) as u8),
        T::Bool => Value::Bool(n(1) & 1 == 1),
        T::Ipv4Addr => Value::Ipv4(v4(pad)),
        T::Dyn => Value::Dyn { index: n(1) as u8, raw: seed.get(1..).unwrap_or(b"") },
        T::Flags8 => Value::Flags(n(1) as u32),
        T::Flags16 => Value::Flags(n(2) as u32),
        T::Flags32 => Value::Flags(n(4) as u32),
        T::EnumFlags8 => Value::Enum(n(1) as u32),
        T::EnumFlags16 => Value::Enum(n(2) as u32),
        T::EnumFlags32 => Value::Enum(n(4) as u32),
        T::Uid => Value::Uid(n(4) as u32),
        T::Gid => Value::Gid(n(4) as u32),
        T::Double => Value::Double((n(4) as f64) / 7.0),
        T::SigSet => Value::SigSet(n(4) as u32),
        T::Mode => Value::Mode(n(4) as u32),
        T::Ipv4Net | T::IpNet if n(1) & 1 == 0 => {
            Value::Ipv4Net { addr: v4(pad), mask: v4(&pad[4..]) }
        }
        T::Ipv4Net => Value::Ipv4Net { addr: v4(pad), mask: Ipv4Addr::new(255, 255, 0, 0) },
        T::IpNet | T::Ipv6Net => Value::Ipv6Net { addr: v6(pad), mask: v6(&pad[16..]) },
        T::Ipv6Addr => Value::Ipv6(v6(pad)),
        T::IpAddr if n(1) & 1 == 0 => Value::Ipv4(v4(pad)),
        T::IpAddr => Value::Ipv6(v6(pad)),
    }
}

fn is_text(kind: ParamType) -> bool {
    matches!(
        kind,
        ParamType::Charbuf
            | ParamType::FsPath
            | ParamType::FsRelPath
            | ParamType::SockAddr
            | ParamType::SockTuple
    )
}

fn param() -> impl Strategy<Value = (ParamType, Vec<u8>)> {
    prop::sample::select(ALL_PARAM_TYPES.to_vec()).prop_flat_map(|kind| {
        let seed = if is_text(kind) {
            prop::collection::vec(1u8..=255, 0..40).boxed()
        } else {
            prop::collection::vec(any::<u8>(), 0..40).boxed()
        };
        (Just(kind), seed)
    })
}

fn header() -> impl Strategy<Value = EventHeader> {
    (any::<u64>(), any::<i64>(), any::<u16>(), prop_oneof![0u16..460, any::<u16>()], any::<u32>())
        .prop_map(|(ts, tid, cpu, code, flags)| EventHeader { ts, tid, cpu, code, flags })
}

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_./:= -]{0,24}"
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..48)
}

fn thread() -> impl Strategy<Value = Thread> {
    (prop::collection::vec(any::<u64>(), 30), prop::collection::vec(bytes(), 8), text()).prop_map(
        |(n, b, cid)| Thread {
            tid: n[0] as i64,
            pid: n[1] as i64,
            ptid: n[2] as i64,
            vtid: n[3] as i64,
            vpid: n[4] as i64,
            sid: n[5] as i64,
            pgid: n[6] as i64,
            vpgid: n[7] as i64,
            comm: b[0].clone(),
            exe: b[1].clone(),
            exepath: b[2].clone(),
            args: b[3].clone(),
            cwd: b[4].clone(),
            env: b[5].clone(),
            root: b[6].clone(),
            cgroups: b[7].clone(),
            uid: n[8] as u32,
            gid: n[9] as u32,
            euid: n[10] as u32,
            egid: n[11] as u32,
            loginuid: n[12] as u32,
            start_time: n[13],
            pidns_init_start_ts: n[14],
            container_id: cid,
            tty: n[15] as u32,
            cap_inheritable: n[16],
            cap_permitted: n[17],
            cap_effective: n[18],
            flags: n[19] as u32,
            fdlimit: n[20],
            vm_size_kb: n[21] as u32,
            vm_rss_kb: n[22] as u32,
            vm_swap_kb: n[23] as u32,
            pf_major: n[24],
            pf_minor: n[25],
            exe_writable: n[26] & 1 == 1,
            exe_upper_layer: n[26] & 2 == 2,
            exe_lower_layer: n[26] & 4 == 4,
            exe_from_memfd: n[26] & 8 == 8,
            exe_ino: n[27],
            exe_ino_ctime: n[28],
            exe_ino_mtime: n[29],
        },
    )
}

fn fd() -> impl Strategy<Value = Fd> {
    (prop::collection::vec(any::<u64>(), 9), bytes(), bytes(), bytes()).prop_map(
        |(n, name, sip, dip)| Fd {
            fd: n[0] as i64,
            ino: n[1],
            kind: n[2] as u8,
            open_flags: n[3] as u32,
            dev: n[4] as u32,
            name,
            l4proto: n[5] as u8,
            sip,
            sport: n[6] as u16,
            dip,
            dport: n[7] as u16,
            unix_source: n[8],
            unix_dest: n[8] ^ 1,
        },
    )
}

fn pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec((text(), text()), 0..4)
}

fn container() -> impl Strategy<Value = Container> {
    (prop::collection::vec(text(), 16), pairs(), pairs(), any::<u64>(), any::<bool>()).prop_map(
        |(t, labels, pod_labels, created, privileged)| Container {
            id: t[0].clone(),
            full_id: t[1].clone(),
            name: t[2].clone(),
            image: t[3].clone(),
            image_id: t[4].clone(),
            image_digest: t[5].clone(),
            image_repo: t[6].clone(),
            image_tag: t[7].clone(),
            runtime: t[8].clone(),
            privileged,
            labels,
            mounts: vec![Mount {
                source: t[9].clone(),
                destination: t[10].clone(),
                mode: "ro".into(),
                rw: privileged,
                propagation: t[11].clone(),
            }],
            ip: t[12].clone(),
            created_time: created,
            pod_name: t[13].clone(),
            pod_namespace: t[14].clone(),
            pod_uid: t[15].clone(),
            pod_labels,
            raw: "{\"container\":{}}".into(),
        },
    )
}

fn state() -> impl Strategy<Value = State> {
    prop_oneof![
        (text(), text(), any::<u32>(), any::<u64>(), any::<u64>()).prop_map(|(h, k, c, m, b)| {
            State::Machine(vec![Machine {
                hostname: h,
                kernel_release: k,
                cpu_count: c,
                memory_bytes: m,
                max_pid: 1,
                boot_time: b,
                flags: 3,
            }])
        }),
        prop::collection::vec(thread(), 0..4).prop_map(State::Threads),
        prop::collection::vec((any::<i64>(), prop::collection::vec(fd(), 0..4)), 0..3).prop_map(
            |v| State::Fds(v.into_iter().map(|(tid, fds)| FdTable { tid, fds }).collect())
        ),
        prop::collection::vec(container(), 0..3).prop_map(State::Containers),
        prop::collection::vec((any::<bool>(), any::<u32>(), any::<u32>(), text(), text()), 0..4)
            .prop_map(|v| State::Users(
                v.into_iter()
                    .map(|(g, uid, gid, name, cid)| User {
                        is_group: g,
                        uid,
                        gid,
                        home: format!("/home/{name}"),
                        shell: "/bin/sh".into(),
                        name,
                        container_id: cid,
                    })
                    .collect()
            )),
        prop::collection::vec((text(), bytes(), bytes(), prop::option::of(any::<u64>())), 0..3)
            .prop_map(|v| State::Interfaces(
                v.into_iter()
                    .map(|(name, addr, netmask, link_speed)| Interface {
                        name,
                        broadcast: addr.clone(),
                        addr,
                        netmask,
                        link_speed,
                    })
                    .collect()
            )),
        prop::collection::vec((any::<u16>(), any::<u64>(), any::<u64>(), any::<u64>()), 0..4)
            .prop_map(|v| State::Drops(
                v.into_iter()
                    .map(|(cpu, from_ts, to_ts, lost)| DropRecord {
                        cpu,
                        from_ts,
                        to_ts,
                        lost: lost >> 8
                    })
                    .collect()
            )),
    ]
}

#[derive(Debug, Clone)]
enum Item {
    Event(EventHeader, Vec<(ParamType, Vec<u8>)>),
    State(State),
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        6 => (header(), prop::collection::vec(param(), 0..8)).prop_map(|(h, p)| Item::Event(h, p)),
        1 => state().prop_map(Item::State),
    ]
}

fn metadata() -> impl Strategy<Value = Metadata> {
    (prop::collection::vec(text(), 10), prop::collection::vec(any::<u64>(), 4), pairs()).prop_map(
        |(t, n, extra)| Metadata {
            hostname: t[0].clone(),
            kernel_release: t[1].clone(),
            boot_id: t[2].clone(),
            machine_id: t[3].clone(),
            cpu_count: n[0] as u32,
            memory_bytes: n[1],
            boot_time: n[2],
            capture_start: n[3],
            dredge_version: t[4].clone(),
            command_line: vec![t[5].clone(), t[6].clone()],
            filter: t[7].clone(),
            snaplen: n[0] as u32 ^ 80,
            recorded_by: t[8].clone(),
            source: t[9].clone(),
            extra,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn everything_written_reads_back(
        meta in metadata(),
        items in prop::collection::vec(item(), 0..120),
        sign in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rt.dcap");
        let key = sign::SigningKey::from_bytes(&[9u8; 32]);
        let options = WriterOptions { block_bytes: 700, level: 3, queue: 2 };
        let mut w = Writer::create(&path, &meta, options).unwrap();
        for it in &items {
            match it {
                Item::Event(h, params) => {
                    let raws: Vec<Vec<u8>> = params.iter().map(|(k, seed)| {
                        let mut raw = Vec::new();
                        let v = canonical(*k, seed);
                        v.encode(*k, &mut raw);
                        // Typed values survive their encoding.
                        prop_assert_eq!(Value::decode(*k, &raw), Ok(v), "{}", k);
                        Ok(raw)
                    }).collect::<Result<_, TestCaseError>>()?;
                    w.push(h, raws.iter().map(|r| &r[..])).unwrap();
                }
                Item::State(s) => w.state(s).unwrap(),
            }
        }
        w.finish(sign.then_some(&key)).unwrap();

        let c = Capture::open(&path).unwrap();
        prop_assert!(c.losses().is_empty());
        prop_assert_eq!(c.metadata(), &meta);
        let mut events = Vec::new();
        for b in c.event_blocks() {
            let b = b.unwrap();
            for e in b.iter() {
                let params: Vec<Vec<u8>> = e.params.iter().map(|p| p.to_vec()).collect();
                events.push((e.num, e.header, params));
            }
        }
        let states: Vec<State> = c.states().map(|(_, s)| s.unwrap()).collect();
        let mut want_events = Vec::new();
        let mut want_states = Vec::new();
        for it in &items {
            match it {
                Item::Event(h, params) => {
                    let raws = params.iter().map(|(k, seed)| {
                        let mut raw = Vec::new();
                        canonical(*k, seed).encode(*k, &mut raw);
                        raw
                    }).collect::<Vec<_>>();
                    want_events.push((want_events.len() as u64, *h, raws));
                }
                Item::State(s) => want_states.push(s.clone()),
            }
        }
        prop_assert_eq!(events, want_events);
        prop_assert_eq!(states, want_states);

        let report = verify::verify(&path, sign.then(|| key.verifying_key()).as_ref()).unwrap();
        prop_assert!(report.ok(), "{:?}", report.problems);
        let kinds: std::collections::BTreeSet<BlockKind> =
            c.blocks().iter().map(|b| b.header.kind).collect();
        prop_assert!(kinds.contains(&BlockKind::Header));
    }
}

/// Every block kind, in one file, checked by name.
#[test]
fn one_file_holds_every_block_kind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("all.dcap");
    let key = sign::SigningKey::from_bytes(&[3u8; 32]);
    let options = WriterOptions { block_bytes: 4096, ..WriterOptions::default() };
    dredge_format::synth::write_capture(&path, 3000, 5, options, Some(&key)).unwrap();
    let c = Capture::open(&path).unwrap();
    let kinds: std::collections::BTreeSet<BlockKind> =
        c.blocks().iter().map(|b| b.header.kind).collect();
    for k in [
        BlockKind::Header,
        BlockKind::Events,
        BlockKind::Machine,
        BlockKind::Threads,
        BlockKind::Fds,
        BlockKind::Containers,
        BlockKind::Users,
        BlockKind::Interfaces,
        BlockKind::Drops,
    ] {
        assert!(kinds.contains(&k), "{k:?}");
    }
    assert!(c.footer().is_some());
    assert_eq!(c.signature().unwrap().public_key, key.verifying_key().to_bytes());
    assert_eq!(c.event_count(), 3000);
    let _ = family::INET;
}

#[test]
fn time_range_reads_only_the_blocks_it_needs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("range.dcap");
    let options = WriterOptions { block_bytes: 8192, ..WriterOptions::default() };
    dredge_format::synth::write_capture(&path, 30_000, 9, options, None).unwrap();
    let c = Capture::open(&path).unwrap();
    let all: Vec<u64> = c
        .event_blocks()
        .flat_map(|b| b.unwrap().iter().map(|e| e.ts()).collect::<Vec<_>>())
        .collect();
    let (lo, hi) = (all[all.len() / 3], all[all.len() / 2]);
    let want = all.iter().filter(|&&t| lo <= t && t <= hi).count();
    let blocks: Vec<_> = c.event_blocks_in(lo, hi).map(|b| b.unwrap()).collect();
    let got = blocks.iter().flat_map(|b| b.iter()).filter(|e| lo <= e.ts() && e.ts() <= hi).count();
    assert_eq!(got, want);
    assert!(blocks.len() < c.event_entries().count() / 2, "{} blocks read", blocks.len());
}
