/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nib-tiocsti: what a RUN step can do with the caller's terminal, run
 * inside the step (linked statically: test images have no libc).
 *
 *   nib-tiocsti TEXT
 *
 * Prints "ctty: yes|no (ERRNO)" (whether /dev/tty opens: the process has a
 * controlling terminal), "inject /dev/tty: ok|ERRNO" and "inject stdin:
 * ok|ERRNO|not a tty" (TIOCSTI of TEXT, as keystrokes the terminal's
 * reader would get), and "session leader: yes|no".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static const char *inject(int fd, const char *text)
{
	for (const char *c = text; *c; c++)
		if (ioctl(fd, TIOCSTI, c) < 0)
			return strerror(errno);
	return "ok";
}

int main(int argc, char **argv)
{
	const char *text = argc > 1 ? argv[1] : "";
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY);

	if (fd < 0) {
		printf("ctty: no (%s)\n", strerror(errno));
		printf("inject /dev/tty: %s\n", strerror(errno));
	} else {
		printf("ctty: yes\n");
		printf("inject /dev/tty: %s\n", inject(fd, text));
		close(fd);
	}
	printf("inject stdin: %s\n", isatty(0) ? inject(0, text) : "not a tty");
	printf("session leader: %s\n", getsid(0) == getpid() ? "yes" : "no");
	return 0;
}
