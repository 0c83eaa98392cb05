/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nib-netprobe: what a RUN step reaches on the network, run inside the
 * step (linked statically: test images have no libc).
 *
 *   nib-netprobe tcp ADDR PORT    connect to an IPv4 address
 *   nib-netprobe abstract NAME    connect to the abstract Unix socket @NAME
 *
 * Prints "WHAT: connected" (and the first line the server sends) or
 * "WHAT: ERROR"; exit status 0 either way.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_in in = {.sin_family = AF_INET};
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	struct timeval tv = {3, 0};
	struct sockaddr *sa;
	socklen_t len;
	char what[160], buf[256];
	int fd;

	if (argc == 4 && !strcmp(argv[1], "tcp")) {
		in.sin_port = htons((unsigned short)atoi(argv[3]));
		inet_pton(AF_INET, argv[2], &in.sin_addr);
		sa = (struct sockaddr *)&in;
		len = sizeof(in);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		snprintf(what, sizeof(what), "tcp %s:%s", argv[2], argv[3]);
	} else if (argc == 3 && !strcmp(argv[1], "abstract")) {
		size_t n = strlen(argv[2]);
		if (n > sizeof(un.sun_path) - 1)
			n = sizeof(un.sun_path) - 1;
		memcpy(un.sun_path + 1, argv[2], n); /* sun_path[0] == '\0': abstract */
		sa = (struct sockaddr *)&un;
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		snprintf(what, sizeof(what), "abstract @%s", argv[2]);
	} else {
		fprintf(stderr, "usage: nib-netprobe tcp ADDR PORT | abstract NAME\n");
		return 2;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (fd < 0 || connect(fd, sa, len) < 0) {
		printf("%s: %s\n", what, strerror(errno));
		return 0;
	}
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	printf("%s: connected%s%s\n", what, n > 0 ? ": " : "", buf);
	return 0;
}
