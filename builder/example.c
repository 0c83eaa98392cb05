/* SPDX-License-Identifier: Apache-2.0 */
#include "builder/builder.h"

/* The image `nib build --example` makes: a static busybox from the host
 * (staged into the example context by the command), one RUN, one COPY. */
const char bld_example_containerfile[] =
    "# syntax=docker/dockerfile:1\n"
    "ARG GREETING=hello\n"
    "FROM scratch AS base\n"
    "COPY busybox /bin/busybox\n"
    "RUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n"
    "\n"
    "FROM base\n"
    "ARG GREETING\n"
    "ENV GREETING=${GREETING}\n"
    "WORKDIR /app\n"
    "COPY hello.sh /app/hello.sh\n"
    "RUN chmod 0755 /app/hello.sh && echo \"built by nib\" > /app/stamp\n"
    "LABEL org.opencontainers.image.title=\"nib example\"\n"
    "CMD [\"/app/hello.sh\"]\n";
