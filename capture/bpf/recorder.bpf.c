/* dredge's recorder, the kernel side.
 *
 * One tp_btf program on sys_exit looks up the syscall in `syscalls` (filled by user space: the
 * event code, the filler and whether it is wanted) and tail-calls that filler, which writes one
 * record and sends it to the `events` ring buffer. Events are emitted at syscall exit only,
 * with the arguments read from the saved registers, as libs' modern probe does; a successful
 * execve is emitted from sched_process_exec (the new image is in place then) and thread exits
 * from sched_process_exit.
 *
 * A record is already in the capture's parameter form, so user space only slices it:
 *
 *     u64 ts (boot-time ns)  u32 tid  u16 code  u16 cpu  u16 nparams  u16 len[nparams]  bytes
 *
 * little-endian; a zero length means the parameter was not collected. Records are sent without
 * a wake-up (user space drains the ring on a timer; a wake-up per event would cost more than
 * the event). A record that does not fit counts in `drops` for its CPU.
 */
#include "kernel.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* Set by user space before load. */
const volatile u32 self_tgid = 0;     /* the recorder itself is never recorded */
const volatile u32 snaplen = 80;      /* bytes of I/O data kept */
const volatile u32 args_max = 4096;   /* bytes of execve arguments kept */
const volatile u32 containers_only = 0; /* record only tasks below the host's pid namespace */

/* Writes to /dev/null carry applications' tracer spans (issue 7): kept whole up to this. */
#define DEV_NULL_MAX 16384
#define DEV_NULL_RDEV ((1 << 20) | 3) /* MKDEV(1, 3) as the kernel encodes dev_t */

/* Fillers: the index of each program in `fillers`; user space uses the same numbers. */
enum filler {
	F_GENERIC = 0,     /* generic exit (code 1): the syscall id and native number */
	F_RES = 1,         /* the syscall's own exit with only its return value */
	F_IO = 2,          /* read/write: res, data, fd, size */
	F_CLONE = 3,       /* clone, fork, vfork, clone3 (parent and child) */
	F_EXECVE = 4,      /* execve, execveat that failed (success comes from sched_process_exec) */
	F_ARGS = 5,        /* any syscall described by its spec in `specs` (below) */
	F_MAX = 16,
};

/* Event codes the kernel side emits by itself (format/src/table/events.tbl). */
#define CODE_GENERIC_X 1
#define CODE_EXECVE_X 293
#define CODE_EXECVEAT_X 331
#define CODE_PROCEXIT 186

#define HDR 18          /* ts, tid, code, cpu, nparams */
#define MAX_PARAMS 32
#define HALF 32768      /* every write starts below HALF and is at most HALF long */
#define SCRATCH (2 * HALF)
#define PATH_MAX 4096

/* One per syscall number: code (bits 0-15), filler (16-23), wanted (bit 24), and bit 25: wanted
 * only when the fd (the first argument) is the null device. Writes to /dev/null carry tracer
 * spans, so they are kept even when I/O is not recorded. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 512);
	__type(key, u32);
	__type(value, u32);
} syscalls SEC(".maps");

/* For F_ARGS syscalls, one byte per exit parameter (at most 8, lowest byte first): the reader
 * in bits 0-3 (enum reader) and the source in bits 4-7 (0 the return value, 1-6 the
 * arguments). User space derives them from the event table and a line per syscall. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 512);
	__type(key, u32);
	__type(value, u64);
} specs SEC(".maps");

enum reader {
	R_END = 0,
	R_EMPTY = 1,
	R_U8 = 2,
	R_U16 = 3,
	R_U32 = 4,
	R_U64 = 5,      /* the return value, or a 64-bit argument */
	R_INT = 6,      /* a C int argument (fds, pids), widened with its sign */
	R_STR = 7,      /* a NUL-terminated string in user memory */
	R_SOCKADDR = 8, /* a user sockaddr; its length is the next argument */
	R_TUPLE_OUT = 9, /* the socket tuple of the fd, local to remote */
	R_TUPLE_IN = 10, /* the socket tuple of the fd, remote to local */
	R_DATA = 11,    /* a user buffer, min(return value, snaplen) bytes */
	R_FD0 = 12,     /* the first int of a user int[2] (pipe fds) */
	R_FD1 = 13,     /* the second */
};

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, F_MAX);
	__type(key, u32);
	__type(value, u32);
} fillers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 24); /* user space sets the size */
} events SEC(".maps");

/* Records lost because the ring was full, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} drops SEC(".maps");

/* Where records are assembled, one per CPU (programs here never run nested on one CPU).
 * max_entries is set to the number of possible CPUs by user space. */
struct scratch {
	u8 data[SCRATCH];
};
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

/* A record being written. */
struct rec {
	u8 *data;
	u32 pos;     /* next payload byte */
	u32 param;   /* next parameter index */
};

/* The fixed header of a record: time, thread, event code, CPU, parameter count. */
static __always_inline void put_header(u8 *d, u16 code, u16 nparams, u64 pid_tgid, u32 cpu)
{
	*(u64 *)&d[0] = bpf_ktime_get_boot_ns();
	*(u32 *)&d[8] = (u32)pid_tgid;
	*(u16 *)&d[12] = code;
	*(u16 *)&d[14] = (u16)cpu;
	*(u16 *)&d[16] = nparams;
}

static __always_inline bool rec_begin(struct rec *r, u16 code, u16 nparams)
{
	u32 cpu = bpf_get_smp_processor_id();
	struct scratch *s = bpf_map_lookup_elem(&scratch, &cpu);
	if (!s)
		return false;
	r->data = s->data;
	r->param = 0;
	r->pos = HDR + 2 * (nparams & (MAX_PARAMS - 1));
	put_header(r->data, code, nparams, bpf_get_current_pid_tgid(), cpu);
	return true;
}

static __always_inline void rec_len(struct rec *r, u32 len)
{
	*(u16 *)&r->data[HDR + 2 * (r->param & (MAX_PARAMS - 1))] = (u16)len;
	r->param++;
	r->pos += len;
}

static __always_inline void push_u64(struct rec *r, u64 v)
{
	*(u64 *)&r->data[r->pos & (HALF - 1)] = v;
	rec_len(r, 8);
}

static __always_inline void push_u32(struct rec *r, u32 v)
{
	*(u32 *)&r->data[r->pos & (HALF - 1)] = v;
	rec_len(r, 4);
}

static __always_inline void push_u16(struct rec *r, u16 v)
{
	*(u16 *)&r->data[r->pos & (HALF - 1)] = v;
	rec_len(r, 2);
}

static __always_inline void push_u8(struct rec *r, u8 v)
{
	r->data[r->pos & (HALF - 1)] = v;
	rec_len(r, 1);
}

static __always_inline void push_empty(struct rec *r)
{
	rec_len(r, 0);
}

/* A NUL-terminated string from user memory, NUL included; empty when unreadable. */
static __always_inline void push_user_str(struct rec *r, const void *src, u32 max)
{
	long n = bpf_probe_read_user_str(&r->data[r->pos & (HALF - 1)], max & (HALF - 1), src);
	rec_len(r, n > 0 ? n : 0);
}

static __always_inline void push_kernel_str(struct rec *r, const void *src, u32 max)
{
	long n = bpf_probe_read_kernel_str(&r->data[r->pos & (HALF - 1)], max & (HALF - 1), src);
	rec_len(r, n > 0 ? n : 0);
}

/* `v & mask`, done where the verifier sees it: the compiler may drop a mask it can prove
 * useless and then hand the helper a copy the verifier knows no bound for. */
#define BOUND(v, mask) ({ u64 __b = (v); asm volatile("%0 &= " #mask : "+r"(__b)); __b; })

/* Bytes from user memory; empty when unreadable. */
static __always_inline void push_user_bytes(struct rec *r, const void *src, u32 len)
{
	u64 n = BOUND(len, 32767);
	if (n && bpf_probe_read_user(&r->data[r->pos & (HALF - 1)], n, src) != 0)
		n = 0;
	rec_len(r, n);
}

static __always_inline void count_drop(void)
{
	u32 zero = 0;
	u64 *n = bpf_map_lookup_elem(&drops, &zero);
	if (n)
		__sync_fetch_and_add(n, 1);
}

static __always_inline void rec_send(struct rec *r)
{
	u32 len = r->pos;
	if (len > HALF) {
		count_drop(); /* cannot happen with the caps on every parameter; never send junk */
		return;
	}
	len &= SCRATCH - 1; /* the verifier's bound: the compiler may not reuse the checked copy */
	if (bpf_ringbuf_output(&events, r->data, len, BPF_RB_NO_WAKEUP) != 0)
		count_drop();
}

static __always_inline bool is_self(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == self_tgid;
}

/* With --containers-only, whether the current task is the host's (its pid namespace is the
 * initial one). Without it, always false, and the verifier drops the check. */
static __always_inline bool skip_host(void)
{
	if (!containers_only)
		return false;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	return BPF_CORE_READ(task, thread_pid, level) == 0;
}

static __always_inline struct file *fd_file(long fd);

/* ------------------------------------------------------------------------------------------
 * The dispatcher */

/* read/write with at most IO_SMALL bytes of data are the commonest events by far (a busy
 * process makes millions a second): written straight into the ring by the dispatcher, with
 * no tail call and no copy through the scratch area. */
#define IO_SMALL 16
#define IO_SMALL_LEN (HDR + 8 + 8 + IO_SMALL + 8 + 4)

static __always_inline bool io_small(struct pt_regs *regs, long ret, u16 code, u64 id)
{
	long n = ret < 0 ? 0 : ret;
	if (n > snaplen)
		n = snaplen;
	if (n > IO_SMALL)
		return false;
	u8 *e = bpf_ringbuf_reserve(&events, IO_SMALL_LEN, 0);
	if (!e) {
		count_drop();
		return true;
	}
	put_header(e, code, 4, id, bpf_get_smp_processor_id());
	*(u64 *)&e[HDR + 8] = ret;
	u64 len = BOUND(n, 31);
	if (len > IO_SMALL)
		len = IO_SMALL;
	if (len && bpf_probe_read_user(&e[HDR + 16], len, (const void *)regs->si) != 0)
		len = 0;
	u64 at = HDR + 16 + BOUND(len, 31);
	if (at > HDR + 16 + IO_SMALL)
		at = HDR + 16 + IO_SMALL;
	*(u64 *)&e[at] = (s64)(int)regs->di;
	*(u32 *)&e[at + 8] = (u32)regs->dx;
	*(u16 *)&e[HDR] = 8;
	*(u16 *)&e[HDR + 2] = len;
	*(u16 *)&e[HDR + 4] = 8;
	*(u16 *)&e[HDR + 6] = 4;
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
	return true;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
{
	u64 id = bpf_get_current_pid_tgid();
	if ((id >> 32) == self_tgid || skip_host())
		return 0;
	u32 nr = (u32)regs->orig_ax;
	u32 *slot = bpf_map_lookup_elem(&syscalls, &nr);
	if (!slot)
		return 0;
	u32 s = *slot;
	if (!(s >> 24))
		return 0;
	if (s >> 25) {
		struct file *file = fd_file((int)regs->di);
		if (!file || BPF_CORE_READ(file, f_inode, i_rdev) != DEV_NULL_RDEV)
			return 0;
	}
	u32 filler = (s >> 16) & 0xff;
	if (filler == F_IO && io_small(regs, ret, s & 0xffff, id))
		return 0;
	bpf_tail_call(ctx, &fillers, filler);
	return 0;
}

static __always_inline u32 slot_of(struct pt_regs *regs)
{
	u32 nr = (u32)regs->orig_ax;
	u32 *slot = bpf_map_lookup_elem(&syscalls, &nr);
	return slot ? *slot : 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(fill_generic, struct pt_regs *regs, long ret)
{
	struct rec r;
	if (!rec_begin(&r, CODE_GENERIC_X, 2))
		return 0;
	/* The syscall id (syscalls.tbl) rides in the slot's code bits for generic syscalls. */
	push_u16(&r, slot_of(regs) & 0xffff);
	push_u16(&r, (u16)regs->orig_ax);
	rec_send(&r);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(fill_res, struct pt_regs *regs, long ret)
{
	struct rec r;
	if (!rec_begin(&r, slot_of(regs) & 0xffff, 1))
		return 0;
	push_u64(&r, ret);
	rec_send(&r);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(fill_io, struct pt_regs *regs, long ret)
{
	struct rec r;
	if (!rec_begin(&r, slot_of(regs) & 0xffff, 4))
		return 0;
	push_u64(&r, ret);
	long n = ret < 0 ? 0 : ret;
	if (n > snaplen) {
		/* Only when the data is longer than the snaplen is the fd looked at, so small
		 * I/O pays nothing for this. */
		struct file *file = fd_file((int)regs->di);
		if (file && BPF_CORE_READ(file, f_inode, i_rdev) == DEV_NULL_RDEV)
			n = n > DEV_NULL_MAX ? DEV_NULL_MAX : n;
		else
			n = snaplen;
	}
	push_user_bytes(&r, (const void *)regs->si, n);
	push_u64(&r, (s64)(int)regs->di);
	push_u32(&r, (u32)regs->dx);
	rec_send(&r);
	return 0;
}

/* ------------------------------------------------------------------------------------------
 * Syscalls described by a spec */

static __always_inline u64 arg_of(struct pt_regs *regs, u32 i)
{
	switch (i) {
	case 0: return regs->di;
	case 1: return regs->si;
	case 2: return regs->dx;
	case 3: return regs->r10;
	case 4: return regs->r8;
	default: return regs->r9;
	}
}

static __always_inline struct file *fd_file(long fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *file = 0;
	bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
	return file;
}

#define S_IFMT 0170000
#define S_IFSOCK 0140000
#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10

/* The tuple of socket `fd` in the capture's form: family, source address and port, then
 * destination; `inbound` puts the peer first. IPv4 takes 13 bytes, IPv6 37. Other families
 * and non-sockets give an empty parameter. */
static __always_inline void push_tuple(struct rec *r, long fd, bool inbound)
{
	struct file *file = fd_file(fd);
	struct inode *inode = BPF_CORE_READ(file, f_inode);
	if (!file || (BPF_CORE_READ(inode, i_mode) & S_IFMT) != S_IFSOCK) {
		push_empty(r);
		return;
	}
	struct socket *sock = BPF_CORE_READ(file, private_data);
	struct sock *sk = BPF_CORE_READ(sock, sk);
	u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	u16 lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	u16 rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	u8 *out = &r->data[r->pos & (HALF - 1)];
	if (family == AF_INET) {
		u32 laddr = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		u32 raddr = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		out[0] = AF_INET;
		*(u32 *)&out[1] = inbound ? raddr : laddr;
		*(u16 *)&out[5] = inbound ? rport : lport;
		*(u32 *)&out[7] = inbound ? laddr : raddr;
		*(u16 *)&out[11] = inbound ? lport : rport;
		rec_len(r, 13);
	} else if (family == AF_INET6) {
		out[0] = AF_INET6;
		/* Whole addresses: the destination's type gives the size read. */
		struct in6_addr *src = (struct in6_addr *)&out[1], *dst = (struct in6_addr *)&out[19];
		if (inbound) {
			BPF_CORE_READ_INTO(src, sk, __sk_common.skc_v6_daddr);
			BPF_CORE_READ_INTO(dst, sk, __sk_common.skc_v6_rcv_saddr);
		} else {
			BPF_CORE_READ_INTO(src, sk, __sk_common.skc_v6_rcv_saddr);
			BPF_CORE_READ_INTO(dst, sk, __sk_common.skc_v6_daddr);
		}
		*(u16 *)&out[17] = inbound ? rport : lport;
		*(u16 *)&out[35] = inbound ? lport : rport;
		rec_len(r, 37);
	} else {
		push_empty(r);
	}
}

SEC("tp_btf/sys_exit")
int BPF_PROG(fill_args, struct pt_regs *regs, long ret)
{
	u32 nr = (u32)regs->orig_ax;
	u64 *specp = bpf_map_lookup_elem(&specs, &nr);
	if (!specp)
		return 0;
	u64 spec = *specp;
	u32 count = 0;
	for (int i = 0; i < 8; i++) {
		if (!((spec >> (8 * i)) & 0xf))
			break;
		count++;
	}
	struct rec r;
	if (!rec_begin(&r, slot_of(regs) & 0xffff, count))
		return 0;
	for (int i = 0; i < 8; i++) {
		u8 p = spec >> (8 * i);
		u32 reader = p & 0xf, src = p >> 4;
		if (reader == R_END)
			break;
		u64 v = src == 0 ? (u64)ret : arg_of(regs, src - 1);
		switch (reader) {
		case R_U8: push_u8(&r, v); break;
		case R_U16: push_u16(&r, v); break;
		case R_U32: push_u32(&r, v); break;
		case R_U64: push_u64(&r, v); break;
		case R_INT: push_u64(&r, (s64)(int)v); break;
		case R_STR: push_user_str(&r, (const void *)v, PATH_MAX); break;
		case R_SOCKADDR: {
			u32 len = arg_of(regs, src);
			push_user_bytes(&r, (const void *)v, len > 128 ? 128 : len);
			break;
		}
		case R_TUPLE_OUT: push_tuple(&r, (int)v, false); break;
		case R_TUPLE_IN: push_tuple(&r, (int)v, true); break;
		case R_DATA: {
			long n = ret < 0 ? 0 : ret;
			push_user_bytes(&r, (const void *)v, n > snaplen ? snaplen : n);
			break;
		}
		case R_FD0:
		case R_FD1: {
			int fds[2] = {-1, -1};
			bpf_probe_read_user(fds, sizeof(fds), (const void *)v);
			push_u64(&r, (s64)(reader == R_FD0 ? fds[0] : fds[1]));
			break;
		}
		default: push_empty(&r); break;
		}
		/* Forget how far each reader went, so the verifier's states after every
		 * parameter are alike and it does not walk 13^8 paths. */
		r.pos = BOUND(r.pos, 32767);
	}
	rec_send(&r);
	return 0;
}

/* ------------------------------------------------------------------------------------------
 * Processes */

/* Where `task`'s id in its own pid namespace is kept, and that namespace's depth below the
 * host's (0 for the host). */
static __always_inline struct upid *own_upid(struct task_struct *task, unsigned int *level)
{
	struct pid *pid = BPF_CORE_READ(task, thread_pid);
	*level = BPF_CORE_READ(pid, level);
	struct upid *numbers = __builtin_preserve_access_index(&pid->numbers[0]);
	return &numbers[*level & 31];
}

/* The thread id of `task` as its own pid namespace sees it. */
static __always_inline s64 ns_pid(struct task_struct *task)
{
	unsigned int level;
	int nr = 0;
	bpf_probe_read_kernel(&nr, sizeof(nr), &own_upid(task, &level)->nr);
	return nr;
}

static __always_inline s64 ns_tgid(struct task_struct *task)
{
	return ns_pid(BPF_CORE_READ(task, group_leader));
}

/* exe (argv[0]) and args (the rest, NUL-separated) from the process's argument area. */
static __always_inline void push_mm_args(struct rec *r, struct task_struct *task)
{
	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	unsigned long start = BPF_CORE_READ(mm, arg_start);
	unsigned long end = BPF_CORE_READ(mm, arg_end);
	if (!mm || end <= start) {
		push_empty(r);
		push_empty(r);
		return;
	}
	u32 before = r->pos;
	push_user_str(r, (const void *)start, PATH_MAX);
	u32 exe_len = r->pos - before;
	unsigned long len = end - start;
	if (len > args_max)
		len = args_max;
	len = len > exe_len ? len - exe_len : 0;
	push_user_bytes(r, (const void *)(start + exe_len), len);
}

/* exe and args from a user argv array (a failed execve: the old image is still there). */
static __always_inline void push_argv(struct rec *r, const char *const *argv)
{
	const char *arg = 0;
	bpf_probe_read_user(&arg, sizeof(arg), &argv[0]);
	if (!arg) {
		push_empty(r);
		push_empty(r);
		return;
	}
	push_user_str(r, arg, PATH_MAX);
	u32 start = r->pos, total = 0;
	for (int i = 1; i < 32; i++) {
		arg = 0;
		bpf_probe_read_user(&arg, sizeof(arg), &argv[i]);
		if (!arg || total >= args_max)
			break;
		long n = bpf_probe_read_user_str(&r->data[(start + total) & (HALF - 1)], 1024, arg);
		if (n <= 0)
			break;
		total += n;
	}
	rec_len(r, total & (HALF - 1));
}

/* One controller's cgroup path, `name=/a/b`: the v2 cgroup when the task is below the v2 root,
 * else the v1 memory controller (where the runtimes put containers on hybrid hosts). */
#define CGROUP_DEPTH 8
static __always_inline void push_cgroups(struct rec *r, struct task_struct *task)
{
	struct css_set *cgroups = BPF_CORE_READ(task, cgroups);
	struct cgroup *cg = BPF_CORE_READ(cgroups, dfl_cgrp);
	const char *ctrl = "unified=";
	if (BPF_CORE_READ(cg, level) == 0) {
		int id = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
		cg = BPF_CORE_READ(cgroups, subsys[id], cgroup);
		ctrl = "memory=";
	}
	struct kernfs_node *nodes[CGROUP_DEPTH] = {};
	struct kernfs_node *kn = BPF_CORE_READ(cg, kn);
	int depth = 0;
	for (int i = 0; i < CGROUP_DEPTH; i++) {
		struct kernfs_node *parent;
		if (bpf_core_field_exists(kn->__parent))
			parent = BPF_CORE_READ(kn, __parent);
		else
			parent = BPF_CORE_READ((struct kernfs_node___old *)kn, parent);
		if (!parent)
			break; /* kn is the root: no name of its own */
		nodes[i] = kn;
		depth = i + 1;
		kn = parent;
	}
	u32 start = r->pos, off = 0;
	long n = bpf_probe_read_kernel_str(&r->data[start & (HALF - 1)], 16, ctrl);
	off = n > 0 ? n - 1 : 0;
	if (depth == 0) {
		r->data[(start + off) & (HALF - 1)] = '/';
		off++;
	}
	for (int i = CGROUP_DEPTH - 1; i >= 0; i--) {
		if (i >= depth)
			continue;
		r->data[(start + off) & (HALF - 1)] = '/';
		off++;
		const char *name = BPF_CORE_READ(nodes[i], name);
		n = bpf_probe_read_kernel_str(&r->data[(start + off) & (HALF - 1)], 256, name);
		if (n > 0)
			off += n - 1;
	}
	r->data[(start + off) & (HALF - 1)] = 0;
	rec_len(r, (off + 1) & (HALF - 1));
}

/* The task fields clone and execve share: tid, pid, ptid, cwd, fdlimit, page faults, vm sizes,
 * comm and cgroups (clone params 3-14, execve params 3-14). */
static __always_inline void push_task(struct rec *r, struct task_struct *task)
{
	push_u64(r, BPF_CORE_READ(task, pid));
	push_u64(r, BPF_CORE_READ(task, tgid));
	push_u64(r, BPF_CORE_READ(task, real_parent, tgid));
	push_empty(r); /* cwd: user space knows it from the snapshot and chdir */
	push_u64(r, BPF_CORE_READ(task, signal, rlim[7].rlim_cur)); /* RLIMIT_NOFILE */
	push_u64(r, BPF_CORE_READ(task, maj_flt));
	push_u64(r, BPF_CORE_READ(task, min_flt));
	push_u32(r, BPF_CORE_READ(task, mm, total_vm) << 2); /* pages to KiB */
	push_empty(r); /* vm_rss */
	push_empty(r); /* vm_swap */
	char comm[16];
	bpf_get_current_comm(comm, sizeof(comm));
	push_kernel_str(r, comm, sizeof(comm));
	push_cgroups(r, task);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(fill_clone, struct pt_regs *regs, long ret)
{
	struct rec r;
	u32 code = slot_of(regs) & 0xffff;
	if (!rec_begin(&r, code, 20))
		return 0;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	push_u64(&r, ret);
	push_mm_args(&r, task);
	push_task(&r, task);
	/* Raw Linux clone flags; user space maps them to the table's flag bits. clone3 passes them
	 * in a struct, fork and vfork imply them. */
	u64 flags = 0;
	u32 nr = (u32)regs->orig_ax;
	if (nr == 56)
		flags = regs->di;
	else if (nr == 435)
		bpf_probe_read_user(&flags, sizeof(flags), (void *)regs->di);
	else if (nr == 58)
		flags = 0x4000 | 0x100; /* CLONE_VFORK | CLONE_VM */
	/* The child lives in a pid namespace below the host's: its ids in `res` are not host
	 * ids. Marked with bit 7, which no exit signal number uses; user space turns it into the
	 * table's CLONE_CHILD_IN_PIDNS. */
	unsigned int level;
	struct pid_namespace *ns = 0;
	bpf_probe_read_kernel(&ns, sizeof(ns), &own_upid(task, &level)->ns);
	if (level != 0 || BPF_CORE_READ(task, nsproxy, pid_ns_for_children) != ns)
		flags |= 0x80;
	push_u32(&r, (u32)flags);
	const struct cred *cred = BPF_CORE_READ(task, cred);
	push_u32(&r, BPF_CORE_READ(cred, euid.val));
	push_u32(&r, BPF_CORE_READ(cred, egid.val));
	push_u64(&r, ns_pid(task));
	push_u64(&r, ns_tgid(task));
	rec_send(&r);
	return 0;
}

/* The execve exit parameters after the task fields: env, tty, vpgid, loginuid, flags, caps,
 * exe inode, uid, trusted_exepath, pgid, gid (execve params 15-29). */
static __always_inline void push_exec_tail(struct rec *r, struct task_struct *task, u32 flags)
{
	push_empty(r); /* env: not recorded by default */
	struct tty_struct *tty = BPF_CORE_READ(task, signal, tty);
	u32 dev = 0;
	if (tty) {
		int major = BPF_CORE_READ(tty, driver, major);
		int minor = BPF_CORE_READ(tty, driver, minor_start) + BPF_CORE_READ(tty, index);
		dev = (major << 20) | minor;
	}
	push_u32(r, dev);
	push_empty(r); /* vpgid */
	push_u32(r, BPF_CORE_READ(task, loginuid.val));
	push_u32(r, flags);
	const struct cred *cred = BPF_CORE_READ(task, cred);
	push_u64(r, BPF_CORE_READ(cred, cap_inheritable.val));
	push_u64(r, BPF_CORE_READ(cred, cap_permitted.val));
	push_u64(r, BPF_CORE_READ(cred, cap_effective.val));
	push_empty(r); /* exe_ino */
	push_empty(r); /* exe_ino_ctime */
	push_empty(r); /* exe_ino_mtime */
	push_u32(r, BPF_CORE_READ(cred, euid.val));
	push_empty(r); /* trusted_exepath */
	push_empty(r); /* pgid */
	push_u32(r, BPF_CORE_READ(cred, egid.val));
}

SEC("tp_btf/sys_exit")
int BPF_PROG(fill_execve, struct pt_regs *regs, long ret)
{
	if (ret == 0)
		return 0; /* sched_process_exec sent it */
	struct rec r;
	u32 nr = (u32)regs->orig_ax;
	bool at = nr == 322;
	if (!rec_begin(&r, at ? CODE_EXECVEAT_X : CODE_EXECVE_X, at ? 30 : 31))
		return 0;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	push_u64(&r, ret);
	push_argv(&r, (const char *const *)(at ? regs->dx : regs->si));
	push_task(&r, task);
	push_exec_tail(&r, task, 0);
	if (!at)
		push_user_str(&r, (const void *)regs->di, PATH_MAX);
	rec_send(&r);
	return 0;
}

/* The execve exit's flags the recorder knows: PPM_EXE_FROM_MEMFD (4) when the program runs
 * from a memfd (its file is named `memfd:...`), as fileless malware does. */
static __always_inline u32 exe_flags(struct linux_binprm *bprm)
{
	char name[6] = {};
	const unsigned char *file = BPF_CORE_READ(bprm, file, f_path.dentry, d_name.name);
	bpf_probe_read_kernel(name, sizeof(name), file);
	return name[0] == 'm' && name[1] == 'e' && name[2] == 'm' && name[3] == 'f' &&
	       name[4] == 'd' && name[5] == ':' ? 4 : 0;
}

/* Whether the exec under way is wanted: the sys_exit slot of execve says so. */
static __always_inline bool exec_wanted(void)
{
	u32 nr = 59;
	u32 *slot = bpf_map_lookup_elem(&syscalls, &nr);
	return slot && (*slot >> 24);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(sched_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	if (is_self() || skip_host() || !exec_wanted())
		return 0;
	struct rec r;
	if (!rec_begin(&r, CODE_EXECVE_X, 31))
		return 0;
	push_u64(&r, 0);
	push_mm_args(&r, p);
	push_task(&r, p);
	push_exec_tail(&r, p, exe_flags(bprm));
	push_kernel_str(&r, BPF_CORE_READ(bprm, filename), PATH_MAX);
	rec_send(&r);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(sched_exit, struct task_struct *p)
{
	if (is_self() || skip_host())
		return 0;
	struct rec r;
	if (!rec_begin(&r, CODE_PROCEXIT, 5))
		return 0;
	int code = BPF_CORE_READ(p, exit_code);
	push_u64(&r, code);                   /* status: the raw wait status */
	push_u64(&r, (code >> 8) & 0xff);     /* ret: the exit code */
	push_u8(&r, code & 0x7f);             /* sig */
	push_u8(&r, (code & 0x80) ? 1 : 0);   /* core */
	push_empty(&r);                       /* reaper_tid */
	rec_send(&r);
	return 0;
}
