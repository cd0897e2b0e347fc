/*
 * Preloaded into gnutls-serv (LD_PRELOAD) by the gnutls backend, src/backend/cli/gnutls.rs; built by build.rs.
 *
 * gnutls-serv listens on the wildcard addresses (getaddrinfo(NULL, port) with AI_PASSIVE, one socket for 0.0.0.0 and
 * one for ::) and has no option to choose its address, nor does it say which port it got for `--port 0`. This
 * library keeps it on loopback and makes it report its port:
 *   - an IPv4 bind() goes to 127.0.0.1 whatever address was asked for;
 *   - an IPv6 bind() is refused (EADDRNOTAVAIL): gnutls-serv reports "bind() failed" and goes on with IPv4 alone;
 *   - a successful listen() on IPv4 writes "tlsmatrix-listening PORT" on its own line to stderr, after which the
 *     socket accepts connections;
 *   - stdout is made line-buffered, so each line gnutls-serv prints reaches the pipe at once (it is a pipe, so stdio
 *     would otherwise hold it until exit, and the backend ends gnutls-serv with SIGKILL).
 * Nothing else changes.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

typedef int (*bind_fn)(int, const struct sockaddr *, socklen_t);
typedef int (*listen_fn)(int, int);

__attribute__((constructor)) static void tlsmatrix_line_buffered_stdout(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
}

int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	bind_fn next = (bind_fn)dlsym(RTLD_NEXT, "bind");
	if (next == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if (addr != NULL && addr->sa_family == AF_INET6) {
		errno = EADDRNOTAVAIL;
		return -1;
	}
	if (addr != NULL && addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		struct sockaddr_in in;
		memcpy(&in, addr, sizeof in);
		in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return next(fd, (const struct sockaddr *)&in, sizeof in);
	}
	return next(fd, addr, len);
}

int listen(int fd, int backlog)
{
	listen_fn next = (listen_fn)dlsym(RTLD_NEXT, "listen");
	struct sockaddr_in in;
	socklen_t len = sizeof in;
	int r;
	if (next == NULL) {
		errno = ENOSYS;
		return -1;
	}
	r = next(fd, backlog);
	if (r == 0 && getsockname(fd, (struct sockaddr *)&in, &len) == 0 && in.sin_family == AF_INET)
		fprintf(stderr, "\ntlsmatrix-listening %u\n", (unsigned)ntohs(in.sin_port));
	return r;
}
