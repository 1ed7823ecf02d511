//! A generator of realistic synthetic captures, for benchmarks and tests.
//!
//! It imitates `sysflow/mpm-event_full_capture.scap` (Apache httpd, event MPM, under `ab`
//! load, 35 860 events; see `../shared/captures/`): the same event types in the same
//! proportions, with the parameter counts and sizes that capture has (its 2019 writer put
//! fewer parameters on some events than today's table), a few hundred threads that keep the
//! CPU for several syscalls in a row, and the timing of a busy server (median gap about 1 µs,
//! mean about 190 µs). Values (paths, request text, fds) are drawn from small pools, as on a
//! real server that serves the same files over and over; nothing is copied from the capture.
//!
//! Output is a pure function of the seed: the pseudo-random source is written here, not taken
//! from a crate whose sequence could change between versions.

use std::path::Path;

use ed25519_dalek::SigningKey;

use crate::error::Error;
use crate::event::EventHeader;
use crate::meta::Metadata;
use crate::state::{
    Container, DropRecord, Fd, FdTable, Interface, Machine, State, Thread, User, fd_kind,
};
use crate::writer::{WriteSummary, Writer, WriterOptions};

/// SplitMix64: small, fast, and its sequence is fixed by its definition.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n.max(1))) >> 64) as u64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    /// Exponentially distributed with the given mean.
    pub fn exp(&mut self, mean: f64) -> u64 {
        let u = ((self.next_u64() >> 11) as f64 + 1.0) / ((1u64 << 53) as f64 + 1.0);
        (-u.ln() * mean) as u64
    }
}

/// The actions a server thread takes, with their weights (events per action in brackets):
/// counts of the imitated capture.
#[derive(Debug, Clone, Copy)]
enum Action {
    Read,      // read > <        4470
    Close,     // close > <       4419
    Open,      // open > <        4350
    Generic,   // syscall > <     1688
    Procinfo,  // procinfo >      1177
    Switch,    // switch >         744
    Futex,     // futex > <        512
    Mmap,      // mmap > <         465
    Stat,      // stat/lstat > <   184
    Clone,     // clone > < <      179
    Fstat,     // fstat > <        108
    Fcntl,     // fcntl > <         96
    EpollWait, // epoll_wait > <    81
    Munmap,    // munmap > <        75
    Mount,     // mount > <         62
}

const ACTIONS: [(Action, u64); 15] = [
    (Action::Read, 4470),
    (Action::Close, 4419),
    (Action::Open, 4350),
    (Action::Generic, 1688),
    (Action::Procinfo, 1177),
    (Action::Switch, 744),
    (Action::Futex, 512),
    (Action::Mmap, 465),
    (Action::Stat, 184),
    (Action::Clone, 90),
    (Action::Fstat, 108),
    (Action::Fcntl, 96),
    (Action::EpollWait, 81),
    (Action::Munmap, 75),
    (Action::Mount, 62),
];

const DOCS: [&str; 12] = [
    "/usr/local/apache2/htdocs/index.html",
    "/usr/local/apache2/htdocs/favicon.ico",
    "/usr/local/apache2/htdocs/img/logo.png",
    "/usr/local/apache2/htdocs/css/site.css",
    "/usr/local/apache2/htdocs/js/app.js",
    "/usr/local/apache2/.htaccess",
    "/usr/local/apache2/htdocs/.htaccess",
    "/etc/localtime",
    "/etc/hosts",
    "/dev/urandom",
    "/proc/self/stat",
    "/usr/local/apache2/logs/access_log",
];

const SYSCALLS: [u16; 8] = [1, 32, 73, 153, 166, 231, 298, 305];

/// Generates events and the state that goes with them.
#[derive(Debug, Clone)]
pub struct Generator {
    rng: Rng,
    ts: u64,
    threads: Vec<i64>,
    current: usize,
    next_procinfo: u64,
    total_weight: u64,
    scratch: Vec<u8>,
}

/// Start of synthetic time: 2019-04-11 19:43:34 UTC, as the imitated capture.
pub const START_TS: u64 = 1_555_011_813_999_999_999;

impl Generator {
    pub fn new(seed: u64) -> Generator {
        let mut threads: Vec<i64> = (0..240).map(|i| 10_300 + i).collect();
        threads.extend([1, 7, 10, 290, 381, 684, 782, 1205, 1206, 1215, 31075, 31077]);
        Generator {
            rng: Rng::new(seed),
            ts: START_TS,
            threads,
            current: 0,
            next_procinfo: START_TS,
            total_weight: ACTIONS.iter().map(|(_, w)| w).sum(),
            scratch: Vec::with_capacity(4096),
        }
    }

    /// The state a capture of this workload starts with.
    pub fn initial_state(&self) -> Vec<State> {
        let container = "b199b3b57988";
        let cgroups: Vec<u8> = ["cpuset", "cpu", "memory", "pids", "blkio"]
            .iter()
            .flat_map(|c| {
                format!(
                    "{c}=/docker/{container}5d7a8e2c0f41b3c9a6e4d2f1b0c8a7e6d5c4b3a2918f7e6d5c4b\0"
                )
                .into_bytes()
            })
            .collect();
        let threads = self
            .threads
            .iter()
            .map(|&tid| Thread {
                tid,
                pid: if tid >= 10_300 { 10_310 + (tid - 10_300) % 4 } else { tid },
                ptid: 10_310,
                vtid: tid - 10_000,
                vpid: tid - 10_000,
                comm: b"httpd".to_vec(),
                exe: b"httpd".to_vec(),
                exepath: b"/usr/local/apache2/bin/httpd".to_vec(),
                args: b"-DFOREGROUND\0".to_vec(),
                cwd: b"/usr/local/apache2/".to_vec(),
                env: [
                    &b"PATH=/usr/local/apache2/bin:/usr/local/sbin:/usr/bin\0"[..],
                    b"HTTPD_PREFIX=/usr/local/apache2\0",
                ]
                .concat(),
                root: b"/".to_vec(),
                uid: 33,
                gid: 33,
                euid: 33,
                egid: 33,
                loginuid: u32::MAX,
                start_time: START_TS - 5_000_000_000,
                cgroups: cgroups.clone(),
                container_id: container.into(),
                fdlimit: 1_048_576,
                ..Thread::default()
            })
            .collect();
        let fds = vec![FdTable {
            tid: 10_310,
            fds: vec![
                Fd { fd: 0, kind: fd_kind::FILE, name: b"/dev/null".to_vec(), ..Fd::default() },
                Fd { fd: 2, kind: fd_kind::FIFO, name: b"pipe:[81923]".to_vec(), ..Fd::default() },
                Fd {
                    fd: 3,
                    kind: fd_kind::IPV4_SERVSOCK,
                    l4proto: 2,
                    sip: vec![0, 0, 0, 0],
                    sport: 80,
                    ..Fd::default()
                },
            ],
        }];
        vec![
            State::Machine(vec![Machine {
                hostname: "synth-host".into(),
                kernel_release: "4.15.0-47-generic".into(),
                cpu_count: 2,
                memory_bytes: 8 << 30,
                ..Machine::default()
            }]),
            State::Interfaces(vec![
                Interface {
                    name: "lo".into(),
                    addr: vec![127, 0, 0, 1],
                    netmask: vec![255, 0, 0, 0],
                    broadcast: vec![127, 0, 0, 1],
                    link_speed: None,
                },
                Interface {
                    name: "eth0".into(),
                    addr: vec![172, 17, 0, 4],
                    netmask: vec![255, 255, 0, 0],
                    broadcast: vec![172, 17, 255, 255],
                    link_speed: Some(10_000),
                },
            ]),
            State::Users(vec![
                User {
                    uid: 0,
                    gid: 0,
                    name: "root".into(),
                    home: "/root".into(),
                    shell: "/bin/bash".into(),
                    ..User::default()
                },
                User {
                    uid: 33,
                    gid: 33,
                    name: "www-data".into(),
                    home: "/var/www".into(),
                    shell: "/usr/sbin/nologin".into(),
                    container_id: container.into(),
                    ..User::default()
                },
                User {
                    is_group: true,
                    gid: 33,
                    name: "www-data".into(),
                    container_id: container.into(),
                    ..User::default()
                },
            ]),
            State::Containers(vec![Container {
                id: container.into(),
                name: "httpd_event".into(),
                image: "httpd_event:latest".into(),
                image_repo: "httpd_event".into(),
                image_tag: "latest".into(),
                runtime: "docker".into(),
                ip: "172.17.0.4".into(),
                labels: vec![("app".into(), "web".into())],
                pod_name: "web-7d9f".into(),
                pod_namespace: "default".into(),
                ..Container::default()
            }]),
            State::Threads(threads),
            State::Fds(fds),
        ]
    }

    /// A drop record as a recorder under pressure would write one.
    pub fn drops(&self) -> State {
        State::Drops(vec![DropRecord {
            cpu: 1,
            from_ts: self.ts - 1_000_000,
            to_ts: self.ts,
            lost: 42,
        }])
    }

    fn tick(&mut self, small: bool) -> u64 {
        self.ts += if small {
            200 + self.rng.below(3_000)
        } else if self.rng.chance(0.25) {
            self.rng.exp(1_500_000.0)
        } else {
            200 + self.rng.below(4_000)
        };
        self.ts
    }

    /// A worker spawns a shell in the container, which reads `/etc/shadow` and writes a file
    /// below `/usr/bin`: current-layout events, as a recent recorder writes them.
    pub fn intrusion(&mut self, emit: &mut impl FnMut(&EventHeader, &[&[u8]])) {
        let parent = self.threads[0];
        let child = 10_999i64;
        let i64b = |v: i64| v.to_le_bytes();
        let u32b = |v: u32| v.to_le_bytes();
        let cgroups =
            b"cpu=/docker/b199b3b579885d7a8e2c0f41b3c9a6e4d2f1b0c8a7e6d5c4b3a2918f7e6d5c4b\0"
                .to_vec();
        let mut ts = self.ts + 1_000_000;
        let mut at = |code: u16, tid: i64| {
            ts += 50_000;
            EventHeader { ts, tid, cpu: 0, code, flags: 0 }
        };
        let clone_params = |res: i64, tid: i64| -> Vec<Vec<u8>> {
            vec![
                i64b(res).to_vec(),
                b"httpd\0".to_vec(),
                b"-DFOREGROUND\0".to_vec(),
                i64b(tid).to_vec(),
                i64b(tid).to_vec(),
                i64b(parent).to_vec(),
                b"/usr/local/apache2/\0".to_vec(),
                i64b(1024).to_vec(),
                0u64.to_le_bytes().to_vec(),
                0u64.to_le_bytes().to_vec(),
                u32b(0).to_vec(),
                u32b(0).to_vec(),
                u32b(0).to_vec(),
                b"httpd\0".to_vec(),
                cgroups.clone(),
                u32b(0).to_vec(),
                u32b(33).to_vec(),
                u32b(33).to_vec(),
                i64b(tid - 10_000).to_vec(),
                i64b(tid - 10_000).to_vec(),
                0u64.to_le_bytes().to_vec(),
            ]
        };
        let emit_vec =
            |emit: &mut dyn FnMut(&EventHeader, &[&[u8]]), h: EventHeader, p: &[Vec<u8>]| {
                let refs: Vec<&[u8]> = p.iter().map(Vec::as_slice).collect();
                emit(&h, &refs);
            };
        emit_vec(emit, at(223, parent), &clone_params(child, parent));
        emit_vec(emit, at(223, child), &clone_params(0, child));
        emit(&at(292, child), &[b"/bin/sh\0"]);
        let exec: Vec<Vec<u8>> = vec![
            i64b(0).to_vec(),
            b"/bin/sh\0".to_vec(),
            b"-c\0id\0".to_vec(),
            i64b(child).to_vec(),
            i64b(child).to_vec(),
            i64b(parent).to_vec(),
            b"/usr/local/apache2/\0".to_vec(),
            1024u64.to_le_bytes().to_vec(),
            0u64.to_le_bytes().to_vec(),
            0u64.to_le_bytes().to_vec(),
            u32b(0).to_vec(),
            u32b(0).to_vec(),
            u32b(0).to_vec(),
            b"sh\0".to_vec(),
            cgroups.clone(),
            b"PATH=/usr/bin\0".to_vec(),
            u32b(0).to_vec(),
            i64b(child).to_vec(),
            u32b(u32::MAX).to_vec(),
            u32b(2).to_vec(),
            0u64.to_le_bytes().to_vec(),
            0u64.to_le_bytes().to_vec(),
            0u64.to_le_bytes().to_vec(),
            0u64.to_le_bytes().to_vec(),
            0u64.to_le_bytes().to_vec(),
            0u64.to_le_bytes().to_vec(),
            u32b(33).to_vec(),
            b"/bin/sh\0".to_vec(),
            i64b(child).to_vec(),
            u32b(33).to_vec(),
            b"/bin/sh\0".to_vec(),
        ];
        emit_vec(emit, at(293, child), &exec);
        let open: Vec<Vec<u8>> = vec![
            i64b(5).to_vec(),
            b"/etc/shadow\0".to_vec(),
            u32b(1).to_vec(),
            u32b(0).to_vec(),
            u32b(0).to_vec(),
            0u64.to_le_bytes().to_vec(),
        ];
        emit_vec(
            emit,
            at(2, child),
            &[b"/etc/shadow\0".to_vec(), u32b(1).to_vec(), u32b(0).to_vec()],
        );
        emit_vec(emit, at(3, child), &open);
        let write: Vec<Vec<u8>> = vec![
            i64b(6).to_vec(),
            i64b(-100).to_vec(),
            b"/usr/bin/.cache\0".to_vec(),
            u32b(6).to_vec(),
            u32b(0o755).to_vec(),
            u32b(0).to_vec(),
            0u64.to_le_bytes().to_vec(),
        ];
        emit_vec(emit, at(307, child), &write);
        self.ts = ts;
    }

    /// Generates the next action's events (one to three) and hands each to `emit`.
    pub fn next(&mut self, emit: &mut impl FnMut(&EventHeader, &[&[u8]])) {
        if self.rng.chance(0.3) {
            // Mostly the same handful of busy workers, sometimes anyone.
            let n = self.threads.len() as u64;
            let pick = if self.rng.chance(0.8) { self.rng.below(16) } else { self.rng.below(n) };
            self.current = pick as usize;
        }
        let tid = self.threads[self.current];
        let cpu = (self.current % 2) as u16;
        let mut pick = self.rng.below(self.total_weight);
        let mut action = Action::Read;
        for (a, w) in ACTIONS {
            if pick < w {
                action = a;
                break;
            }
            pick -= w;
        }
        let ts = self.tick(false);
        let enter = EventHeader { ts, tid, cpu, code: 0, flags: 0 };
        let fd = 8 + self.rng.below(24) as i64;
        let r = &mut self.rng;
        let exit_ts = ts + 300 + r.below(2_500);
        let exit = EventHeader { ts: exit_ts, ..enter };
        let i64b = |v: i64| v.to_le_bytes();
        let u32b = |v: u32| v.to_le_bytes();
        match action {
            Action::Read => {
                emit(&EventHeader { code: 6, ..enter }, &[&i64b(fd), &u32b(8000)]);
                self.scratch.clear();
                let res = if r.chance(0.14) {
                    let doc = DOCS[r.below(5) as usize];
                    let req = format!(
                        "GET {} HTTP/1.0\r\nHost: 172.17.0.4\r\nUser-Agent: \
                        ApacheBench/2.3\r\nAccept: */*\r\n\r\n",
                        &doc[25..]
                    );
                    let n = req.len().min(80);
                    self.scratch.extend_from_slice(&req.as_bytes()[..n]);
                    req.len() as i64
                } else {
                    -11
                };
                emit(&EventHeader { code: 7, ..exit }, &[&i64b(res), &self.scratch]);
            }
            Action::Close => {
                emit(&EventHeader { code: 4, ..enter }, &[&i64b(fd)]);
                emit(&EventHeader { code: 5, ..exit }, &[&i64b(0)]);
            }
            Action::Open => {
                emit(&EventHeader { code: 2, ..enter }, &[]);
                let path = DOCS[(r.below(6) + r.below(7)) as usize % DOCS.len()];
                self.scratch.clear();
                self.scratch.extend_from_slice(path.as_bytes());
                self.scratch.push(0);
                let res = if r.chance(0.3) { -2 } else { fd };
                emit(
                    &EventHeader { code: 3, ..exit },
                    &[&i64b(res), &self.scratch, &u32b(4097), &u32b(0)],
                );
            }
            Action::Generic => {
                let id = SYSCALLS[r.below(SYSCALLS.len() as u64) as usize];
                emit(
                    &EventHeader { code: 0, ..enter },
                    &[&id.to_le_bytes(), &(id + 1).to_le_bytes()],
                );
                emit(&EventHeader { code: 1, ..exit }, &[&id.to_le_bytes()]);
            }
            Action::Procinfo => {
                // Written for every process once a second, all with the same timestamp.
                let second = self.next_procinfo;
                if ts >= second {
                    self.next_procinfo = second + 1_000_000_000;
                }
                let usr = r.below(5_000);
                let sys = r.below(30_000);
                emit(
                    &EventHeader { code: 234, ts: second.max(START_TS), ..enter },
                    &[&usr.to_le_bytes(), &sys.to_le_bytes()],
                );
            }
            Action::Switch => {
                let next = self.threads[r.below(16) as usize];
                let f = r.below(500);
                emit(
                    &EventHeader { code: 152, ..enter },
                    &[
                        &i64b(next),
                        &0u64.to_le_bytes(),
                        &f.to_le_bytes(),
                        &u32b(45_848),
                        &u32b(7_988),
                        &u32b(0),
                    ],
                );
            }
            Action::Futex => {
                let addr = 0x7f3a_5c00_0000u64 + r.below(64) * 64;
                emit(
                    &EventHeader { code: 64, ..enter },
                    &[&addr.to_le_bytes(), &129u16.to_le_bytes(), &1u64.to_le_bytes()],
                );
                emit(&EventHeader { code: 65, ..exit }, &[&i64b(0)]);
            }
            Action::Mmap => {
                let len = 4096u64 << r.below(8);
                emit(
                    &EventHeader { code: 160, ..enter },
                    &[
                        &0u64.to_le_bytes(),
                        &len.to_le_bytes(),
                        &u32b(3),
                        &u32b(34),
                        &i64b(-1),
                        &0u64.to_le_bytes(),
                    ],
                );
                let addr = 0x7f3a_6000_0000i64 + (r.below(4096) as i64) * 4096;
                emit(
                    &EventHeader { code: 161, ..exit },
                    &[&i64b(addr), &u32b(45_848), &u32b(7_988), &u32b(0)],
                );
            }
            Action::Stat => {
                let lstat = r.chance(0.35);
                let code = if lstat { 68 } else { 66 };
                emit(&EventHeader { code, ..enter }, &[]);
                self.scratch.clear();
                let path = DOCS[r.below(DOCS.len() as u64) as usize];
                self.scratch.extend_from_slice(
                    b"/var/lib/docker/overlay2/0b620165364f8f7a5b97c64bd52e67ba/merged",
                );
                self.scratch.extend_from_slice(path.as_bytes());
                self.scratch.push(0);
                emit(&EventHeader { code: code + 1, ..exit }, &[&i64b(0), &self.scratch]);
            }
            Action::Clone => {
                emit(&EventHeader { code: 222, ..enter }, &[]);
                let child = 10_500 + r.below(2_000) as i64;
                let cgroup =
                    "/docker/b199b3b579885d7a8e2c0f41b3c9a6e4d2f1b0c8a7e6d5c4b3a2918f7e6d5c4b";
                let cgroups = format!(
                    "cpuset={cgroup}\0cpu={cgroup}\0{}",
                    format!("memory={cgroup}\0").repeat(10)
                );
                for (res, t) in [(child, tid), (0, child)] {
                    let h = EventHeader { code: 223, tid: t, ..exit };
                    emit(
                        &h,
                        &[
                            &i64b(res),
                            b"httpd\0",
                            b"-DFOREGROUND\0",
                            &i64b(t),
                            &i64b(10_310),
                            &i64b(10_310),
                            &[0],
                            &i64b(1_048_576),
                            &0u64.to_le_bytes(),
                            &0u64.to_le_bytes(),
                            &u32b(45_848),
                            &u32b(7_988),
                            &u32b(0),
                            b"httpd\0",
                            cgroups.as_bytes(),
                            &u32b(0x0001_0f00),
                            &u32b(33),
                            &u32b(33),
                            &i64b(t - 10_000),
                            &i64b(300),
                        ],
                    );
                }
            }
            Action::Fstat => {
                emit(&EventHeader { code: 70, ..enter }, &[&i64b(fd)]);
                emit(&EventHeader { code: 71, ..exit }, &[&i64b(0)]);
            }
            Action::Fcntl => {
                emit(&EventHeader { code: 150, ..enter }, &[&i64b(fd), &[2]]);
                emit(&EventHeader { code: 151, ..exit }, &[&i64b(0)]);
            }
            Action::EpollWait => {
                emit(&EventHeader { code: 78, ..enter }, &[&i64b(10)]);
                emit(&EventHeader { code: 79, ..exit }, &[&i64b(r.below(3) as i64)]);
            }
            Action::Munmap => {
                let addr = 0x7f3a_6000_0000u64 + r.below(4096) * 4096;
                emit(
                    &EventHeader { code: 164, ..enter },
                    &[&addr.to_le_bytes(), &(4096u64 << r.below(8)).to_le_bytes()],
                );
                emit(
                    &EventHeader { code: 165, ..exit },
                    &[&i64b(0), &u32b(45_848), &u32b(7_988), &u32b(0)],
                );
            }
            Action::Mount => {
                emit(&EventHeader { code: 256, ..enter }, &[&u32b(20480)]);
                let source = b"/var/lib/docker/containers/b199b3b57988/hosts\0";
                let target =
                    b"/var/lib/docker/overlay2/0b620165364f8f7a5b97c64bd52e67ba/merged/etc/hosts\0";
                emit(&EventHeader { code: 257, ..exit }, &[&i64b(0), source, target, b"bind\0"]);
            }
        }
        self.ts = self.ts.max(exit_ts);
    }
}

/// Writes a synthetic capture of exactly `events` events (the last action may be cut short).
pub fn write_capture(
    path: &Path,
    events: u64,
    seed: u64,
    options: WriterOptions,
    key: Option<&SigningKey>,
) -> Result<WriteSummary, Error> {
    write_capture_with(path, events, seed, options, key, false)
}

/// Like [`write_capture`]; with `scenario`, a short intrusion follows the workload: a worker
/// spawns `sh -c id` in the container, the shell reads `/etc/shadow` and drops a file in
/// `/usr/bin`. The events are made up; they exist to show findings on a sample.
pub fn write_capture_with(
    path: &Path,
    events: u64,
    seed: u64,
    options: WriterOptions,
    key: Option<&SigningKey>,
    scenario: bool,
) -> Result<WriteSummary, Error> {
    let metadata = Metadata {
        hostname: "synth-host".into(),
        kernel_release: "4.15.0-47-generic".into(),
        cpu_count: 2,
        memory_bytes: 8 << 30,
        capture_start: START_TS,
        dredge_version: env!("CARGO_PKG_VERSION").into(),
        snaplen: 80,
        source: format!("synth:httpd-mpm-event seed={seed}"),
        ..Metadata::default()
    };
    let mut writer = Writer::create(path, &metadata, options)?;
    let mut generator = Generator::new(seed);
    for state in generator.initial_state() {
        writer.state(&state)?;
    }
    let mut written = 0u64;
    let mut failed = None;
    let mut drops_at = events / 2;
    while written < events && failed.is_none() {
        generator.next(&mut |h, params| {
            if failed.is_none() && written < events {
                written += 1;
                if let Err(e) = writer.push(h, params.iter().copied()) {
                    failed = Some(e);
                }
            }
        });
        if written >= drops_at && events >= 1000 {
            writer.state(&generator.drops())?;
            drops_at = u64::MAX;
        }
    }
    if let Some(e) = failed {
        return Err(e);
    }
    if scenario {
        generator.intrusion(&mut |h, params| {
            if failed.is_none()
                && let Err(e) = writer.push(h, params.iter().copied())
            {
                failed = Some(e);
            }
        });
        if let Some(e) = failed {
            return Err(e);
        }
    }
    writer.finish(key)
}
