/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nib serve: the web page, builder/serve/web.html (plain HTML, CSS and
 * JavaScript, no build step), put into the binary as it is with the
 * assembler's .incbin and a NUL after it.
 */
#define BLD_SERVE_INTERNAL
#include "builder/serve/serve_internal.h"

__asm__(".section .rodata\n"
	".global bld_srv_web_html\n"
	".type bld_srv_web_html, @object\n"
	"bld_srv_web_html:\n"
	".incbin \"builder/serve/web.html\"\n"
	".byte 0\n"
	".size bld_srv_web_html, . - bld_srv_web_html\n"
	".previous\n");
