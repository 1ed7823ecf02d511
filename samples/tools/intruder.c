/* intruder: the acts of the sample scenarios that busybox has no applet for, done the way
 * intruders' tools do them. Built static by samples/record.sh and put in the sample image as
 * /bin/intruder; nothing else uses it.
 *
 *   intruder memfd-exec PROG ARG...   copies PROG into a memfd and executes it from there
 *                                     (fileless execution), with ARG... as its argv
 *   intruder ptrace                   forks a child, attaches to it with PTRACE_ATTACH, opens
 *                                     its /proc/PID/mem for writing (as an injector does),
 *                                     detaches and ends it
 *   intruder bpf                      asks the kernel to load a two-instruction BPF program
 *                                     (a container should never; it is refused here)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/bpf.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int memfd_exec(char **argv)
{
	int src = open(argv[0], O_RDONLY);
	struct stat st;
	if (src < 0 || fstat(src, &st) < 0) {
		perror(argv[0]);
		return 1;
	}
	int mem = memfd_create("payload", MFD_CLOEXEC);
	if (mem < 0 || sendfile(mem, src, NULL, st.st_size) != st.st_size) {
		perror("memfd");
		return 1;
	}
	close(src);
	extern char **environ;
	syscall(SYS_execveat, mem, "", argv + 1, environ, AT_EMPTY_PATH);
	perror("execveat");
	return 1;
}

static int trace(void)
{
	pid_t child = fork();
	if (child == 0) {
		pause();
		_exit(0);
	}
	usleep(100000);
	if (ptrace(PTRACE_ATTACH, child, 0, 0) < 0)
		perror("PTRACE_ATTACH");
	else
		waitpid(child, NULL, 0);
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/mem", child);
	int fd = open(path, O_RDWR);
	if (fd < 0)
		perror(path);
	else
		close(fd);
	ptrace(PTRACE_DETACH, child, 0, 0);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	return 0;
}

static int bpf_load(void)
{
	struct bpf_insn prog[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	attr.insns = (unsigned long)prog;
	attr.insn_cnt = 2;
	attr.license = (unsigned long)"GPL";
	long fd = syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
	if (fd < 0)
		perror("bpf");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && !strcmp(argv[1], "memfd-exec"))
		return memfd_exec(argv + 2);
	if (argc == 2 && !strcmp(argv[1], "ptrace"))
		return trace();
	if (argc == 2 && !strcmp(argv[1], "bpf"))
		return bpf_load();
	fprintf(stderr, "usage: intruder memfd-exec PROG ARG... | ptrace | bpf\n");
	return 2;
}
