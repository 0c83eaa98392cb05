/* SPDX-License-Identifier: Apache-2.0 */
/* nib serve: the web page (plain HTML, CSS and JavaScript; no build step). */
#define BLD_SERVE_INTERNAL
#include "builder/serve/serve_internal.h"

const char bld_srv_web_html[] =
    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<title>nib serve</title></head><body><h1>nib serve</h1></body></html>\n";
