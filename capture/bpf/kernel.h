/* The kernel types the recorder reads, declared by hand instead of a 130k-line vmlinux.h.
 *
 * Only the fields used are listed. Every struct is marked preserve_access_index, so each field
 * access becomes a CO-RE relocation: the loader finds the field's real offset in the running
 * kernel's BTF, and the order or completeness of the fields here does not matter. Names must
 * match the kernel's. Where a field was renamed across versions, a `___flavour` struct (the
 * suffix is ignored when matching) declares the other name, and bpf_core_field_exists picks.
 */
#ifndef DREDGE_KERNEL_H
#define DREDGE_KERNEL_H

#define __VMLINUX_H__ /* makes bpf_tracing.h use the kernel's pt_regs field names */

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef signed char __s8;
typedef short __s16;
typedef int __s32;
typedef long long __s64;
typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef __s64 s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef int pid_t;
typedef _Bool bool;
#define true 1
#define false 0

enum bpf_map_type {
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PROG_ARRAY = 3,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_RINGBUF = 27,
};

enum {
	BPF_RB_NO_WAKEUP = 1,
	BPF_RB_FORCE_WAKEUP = 2,
};

enum {
	BPF_ANY = 0,
};

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

struct pt_regs {
	unsigned long di, si, dx, r10, r8, r9;
	unsigned long orig_ax;
};

typedef struct {
	unsigned int val;
} kuid_t;
typedef struct {
	unsigned int val;
} kgid_t;
typedef struct {
	u64 val;
} kernel_cap_t;

struct cred {
	kuid_t uid, euid;
	kgid_t gid, egid;
	kernel_cap_t cap_inheritable, cap_permitted, cap_effective;
};

struct rlimit {
	unsigned long rlim_cur, rlim_max;
};

struct tty_driver {
	int major, minor_start;
};

struct tty_struct {
	struct tty_driver *driver;
	int index;
};

struct signal_struct {
	struct rlimit rlim[16];
	struct tty_struct *tty;
};

struct inode {
	unsigned short i_mode;
	unsigned int i_rdev;
	unsigned long i_ino;
};

struct qstr {
	const unsigned char *name;
};

struct dentry {
	struct qstr d_name;
};

struct path {
	struct dentry *dentry;
};

struct file {
	void *private_data;
	struct inode *f_inode;
	struct path f_path;
};

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
};

struct files_struct {
	struct fdtable *fdt;
};

struct in6_addr {
	union {
		u8 u6_addr8[16];
	} in6_u;
};

/* Fields of sock_common sit in anonymous unions in the kernel; CO-RE finds them by name. */
struct sock_common {
	__be32 skc_daddr, skc_rcv_saddr;
	__be16 skc_dport;
	u16 skc_num;
	unsigned short skc_family;
	struct in6_addr skc_v6_daddr, skc_v6_rcv_saddr;
};

struct sock {
	struct sock_common __sk_common;
};

struct socket {
	struct sock *sk;
};

struct mm_struct {
	unsigned long arg_start, arg_end, env_start, env_end;
	unsigned long total_vm;
	struct file *exe_file;
};

struct kernfs_node {
	struct kernfs_node *__parent; /* 6.15 and later */
	const char *name;
};

struct kernfs_node___old {
	struct kernfs_node *parent; /* before 6.15 */
};

struct cgroup {
	int level;
	struct kernfs_node *kn;
};

struct cgroup_subsys_state {
	struct cgroup *cgroup;
};

struct css_set {
	struct cgroup_subsys_state *subsys[16];
	struct cgroup *dfl_cgrp;
};

enum cgroup_subsys_id {
	cpuset_cgrp_id,
	memory_cgrp_id,
};

struct pid_namespace {
	unsigned int level;
};

struct nsproxy {
	struct pid_namespace *pid_ns_for_children;
};

struct upid {
	int nr;
	struct pid_namespace *ns;
};

struct pid {
	unsigned int level;
	struct upid numbers[1];
};

struct task_struct {
	unsigned int flags;
	int exit_code;
	pid_t pid, tgid;
	struct task_struct *real_parent, *group_leader;
	struct pid *thread_pid;
	u64 start_time;
	unsigned long min_flt, maj_flt;
	const struct cred *cred;
	struct mm_struct *mm;
	struct signal_struct *signal;
	struct files_struct *files;
	struct nsproxy *nsproxy;
	kuid_t loginuid;
	struct css_set *cgroups;
};

struct linux_binprm {
	const char *filename;
	struct file *file;
};

#pragma clang attribute pop

#endif
