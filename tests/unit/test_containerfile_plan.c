/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for the typed plan (containerfile/steps.c, mount.c, chmod.c):
 * what cf_file_plan() makes of each instruction the builder executes: RUN
 * mounts with their stage references, network and security modes and the
 * shell's script; COPY/ADD sources, heredocs, destination and flags;
 * HEALTHCHECK durations; EXPOSE ports; the stage graph. Errors are in
 * test_containerfile.c's table.
 */
#include "containerfile/containerfile.h"
#include "tests/unit/unit.h"

static struct cf_file *plan(const char *text)
{
	struct nib_error err = {0};
	struct cf_file *f = cf_parse_buffer("Containerfile", text, strlen(text), &err);

	if (!f || cf_file_plan(f, NULL, &err) < 0) {
		fprintf(stderr, "plan of %s: %s\n", text, err.msg);
		exit(1);
	}
	return f;
}

static void test_run_mounts(void)
{
	struct cf_file *f =
	    plan("FROM a AS src\nFROM b\n"
		 "RUN --mount=type=bind,from=src,source=/x,target=/y,rw "
		 "--mount=type=cache,target=c,id=go,sharing=locked,uid=1,gid=2,mode=0700 "
		 "--mount=type=tmpfs,dst=/t --mount=type=secret,id=tok,required "
		 "--mount=from=0,target=/z --mount=from=img:1,target=/i,ro "
		 "--mount=type=ssh --network=none --security=insecure make\n");
	const struct cf_step *st = &f->stages[1].steps[0];
	const struct cf_run *r = &st->run;

	CHECK_INTEQ((int)r->n_mounts, 7);
	CHECK(r->mounts[0].type == CF_MOUNT_BIND && r->mounts[0].from_stage == 0);
	CHECK_STREQ(r->mounts[0].from, "src");
	CHECK_STREQ(r->mounts[0].source, "/x");
	CHECK_STREQ(r->mounts[0].target, "/y");
	CHECK(r->mounts[0].rw && !r->mounts[0].readonly);
	CHECK_INTEQ(r->mounts[0].line, 3);
	CHECK_INTEQ(r->mounts[0].col, 5);
	CHECK(r->mounts[1].type == CF_MOUNT_CACHE && r->mounts[1].sharing == CF_SHARING_LOCKED);
	CHECK_STREQ(r->mounts[1].target, "c"); /* relative: the executor joins WORKDIR */
	CHECK_STREQ(r->mounts[1].id, "go");
	CHECK(r->mounts[1].uid == 1 && r->mounts[1].gid == 2 && r->mounts[1].mode == 0700);
	CHECK(r->mounts[2].type == CF_MOUNT_TMPFS && r->mounts[2].from == NULL);
	CHECK(r->mounts[2].uid == -1 && r->mounts[2].mode == -1);
	CHECK(r->mounts[3].type == CF_MOUNT_SECRET && r->mounts[3].required);
	CHECK(r->mounts[3].target == NULL);
	CHECK(r->mounts[4].from_stage == 0);					   /* by index */
	CHECK(r->mounts[5].from_stage == -1 && streq(r->mounts[5].from, "img:1")); /* an image */
	CHECK(r->mounts[5].readonly);
	CHECK(r->mounts[6].type == CF_MOUNT_SSH);
	CHECK(r->network == CF_NETWORK_NONE && r->security == CF_SECURITY_INSECURE);
	CHECK_STREQ(r->script, "make");
	/* the graph: stage 1 needs stage 0 (once) */
	CHECK_INTEQ((int)f->stages[1].n_deps, 1);
	CHECK_INTEQ(f->stages[1].deps[0], 0);
	cf_file_free(f);
}

static void test_run_forms(void)
{
	struct cf_file *f = plan("FROM a\nRUN [\"echo\", \"x\"]\nRUN <<EOF\necho one\nEOF\n"
				 "RUN cat <<A <<B\nfirst\nA\nsecond\nB\nRUN --network=host true\n");
	const struct cf_step *s = f->stages[0].steps;

	CHECK(s[0].run.script == NULL);
	CHECK_INTEQ((int)s[0].words.len, 2);
	CHECK(s[0].run.network == CF_NETWORK_UNSET);
	CHECK_STREQ(s[1].run.script, "echo one\n");
	CHECK_STREQ(s[2].run.script, "cat <<A <<B\nfirst\nA\nsecond\nB\n");
	CHECK_STREQ(s[2].words.v[0], "cat <<A <<B");
	CHECK(s[3].run.network == CF_NETWORK_HOST);
	cf_file_free(f);
}

static void test_copy(void)
{
	struct cf_file *f = plan(
	    "FROM a AS build\nFROM b\nARG D=/dst\n"
	    "COPY --from=build --chown=app:app --chmod=u+x,go-w --link --parents --exclude=*.md "
	    "--exclude=tmp/ a/ b $D/\n"
	    "ADD --chmod=0640 --checksum=sha256:"
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef "
	    "https://example.org/x.tgz /x\n"
	    "ADD --unpack=false --chown= x.tar /\n"
	    "COPY --from= x /y\n"
	    "COPY <<one <<two /etc/\n$D\nEOF\none\n\"$D\"\ntwo\n");
	const struct cf_step *s = f->stages[1].steps;
	const struct cf_copy *c = &s[1].copy;

	CHECK_INTEQ((int)c->srcs.len, 2);
	CHECK_STREQ(c->srcs.v[0], "a/");
	CHECK_STREQ(c->dest, "/dst/");
	CHECK_STREQ(c->from, "build");
	CHECK_INTEQ(c->from_stage, 0);
	CHECK_STREQ(c->chown, "app:app");
	CHECK(c->chmod.set && c->chmod.symbolic);
	CHECK_INTEQ(cf_chmod_apply(&c->chmod, 0666, false), 0744);
	CHECK(c->link && c->parents && !c->unpack && !c->keep_git_dir);
	CHECK_INTEQ((int)c->excludes.len, 2);
	CHECK_STREQ(c->excludes.v[1], "tmp/");
	CHECK(c->checksum == NULL);

	c = &s[2].copy;
	CHECK(c->chmod.set && !c->chmod.symbolic && c->chmod.mode == 0640);
	CHECK_STREQ(c->checksum,
		    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	CHECK(c->unpack); /* ADD's default */
	CHECK(c->from == NULL && c->from_stage == -1);

	c = &s[3].copy;
	CHECK(!c->unpack);
	CHECK(c->chown == NULL); /* empty is none */
	CHECK(s[4].copy.from == NULL && s[4].copy.from_stage == -1);

	/* heredoc sources: named, expanded unless quoted (COPY's are not
	 * quoted here: both expand, quotes kept) */
	c = &s[5].copy;
	CHECK_INTEQ((int)c->srcs.len, 0);
	CHECK_INTEQ((int)c->n_heredocs, 2);
	CHECK_STREQ(c->heredocs[0].name, "one");
	CHECK_STREQ(c->heredocs[0].data, "/dst\nEOF\n");
	CHECK_STREQ(c->heredocs[1].data, "\"/dst\"\n");
	CHECK_STREQ(c->dest, "/etc/");
	cf_file_free(f);
}

static void test_healthcheck_and_expose(void)
{
	struct cf_file *f =
	    plan("FROM a\nHEALTHCHECK --interval=1m30s --timeout=500ms "
		 "--start-period=1.5s --start-interval=2s --retries=4 CMD curl -f x\n"
		 "HEALTHCHECK CMD [\"/bin/true\", \"-v\"]\nHEALTHCHECK none\n"
		 "EXPOSE 80 53/UDP 8000-8010/tcp\n");
	const struct cf_step *s = f->stages[0].steps;
	const struct cf_healthcheck *h = &s[0].health;

	CHECK(!h->none);
	CHECK_INTEQ((int)h->test.len, 2);
	CHECK_STREQ(h->test.v[0], "CMD-SHELL");
	CHECK_STREQ(h->test.v[1], "curl -f x");
	CHECK(h->interval == 90000000000LL && h->timeout == 500000000LL);
	CHECK(h->start_period == 1500000000LL && h->start_interval == 2000000000LL);
	CHECK(h->retries == 4);
	h = &s[1].health;
	CHECK_STREQ(h->test.v[0], "CMD");
	CHECK_STREQ(h->test.v[2], "-v");
	CHECK(h->interval == 0 && h->retries == 0);
	CHECK(s[2].health.none && streq(s[2].health.test.v[0], "NONE"));
	CHECK_INTEQ((int)s[3].ports.len, 3);
	CHECK_STREQ(s[3].ports.v[0], "80/tcp");
	CHECK_STREQ(s[3].ports.v[1], "53/udp");
	CHECK_STREQ(s[3].ports.v[2], "8000-8010/tcp");
	cf_file_free(f);
}

/* ENV wins over an ARG of the same name, in the plan as in the build */
static void test_scope(void)
{
	struct cf_file *f = plan("FROM a\nENV V=env\nARG V=arg\nCOPY $V /\nARG W=arg\nCOPY $W /\n");

	CHECK_STREQ(f->stages[0].steps[2].copy.srcs.v[0], "env");
	CHECK_STREQ(f->stages[0].steps[4].copy.srcs.v[0], "arg");
	cf_file_free(f);
}

/* At build time a stage's steps may name only the stages the plan made it
 * need: the scheduler built those before it. */
static void test_bind_graph(void)
{
	struct cf_file *f = plan("FROM a AS one\nFROM b AS two\nCOPY --from=one /x /y\n");
	char *ok[] = {"COPY --from=one /a /b", NULL}, *other[] = {"COPY --from=two /a /b", NULL};
	struct cf_stage_steps ss;
	struct nib_error err = {0};

	CHECK_INTEQ(cf_stage_bind(f, 1, NULL, ok, &ss, &err), 0);
	CHECK(ss.n == 2 && ss.v[0].copy.from_stage == 0);
	cf_stage_steps_free(&ss);
	CHECK_INTEQ(cf_stage_bind(f, 0, NULL, other, &ss, &err), -1);
	CHECK(err.msg && strstr(err.msg, "\"two\" names a stage this one was not planned to need"));
	nib_err_clear(&err);
	cf_file_free(f);
}

static void test_mount_parse(void)
{
	struct cf_mount m;
	struct nib_error err = {0};

	/* CSV fields, case-insensitive keys, bare booleans */
	CHECK_INTEQ(cf_mount_parse("Type=cache,\"target=/a,b\",RO", CF_MOUNT_DOCKERFILE, &m, &err),
		    0);
	CHECK(m.type == CF_MOUNT_CACHE && streq(m.target, "/a,b") && m.readonly);
	cf_mount_clear(&m);
	/* buildah's keys are accepted and change nothing */
	CHECK_INTEQ(cf_mount_parse("type=bind,target=/x,z,U,bind-propagation=rprivate",
				   CF_MOUNT_DOCKERFILE, &m, &err),
		    0);
	cf_mount_clear(&m);
	CHECK_INTEQ(cf_mount_parse("type=bind,target=/x,rw=maybe", CF_MOUNT_DOCKERFILE, &m, &err),
		    -1);
	CHECK(err.msg && strstr(err.msg, "invalid value \"maybe\" for rw"));
	CHECK_INTEQ(cf_mount_parse("type=tmpfs,target=/x,from=s", CF_MOUNT_DOCKERFILE, &m, &err),
		    -1);
	CHECK(err.msg && strstr(err.msg, "from= is not allowed for mount type tmpfs"));
	CHECK_INTEQ(cf_mount_parse("type=cache,target=/x,uid=-1", CF_MOUNT_DOCKERFILE, &m, &err),
		    -1);
	/* tmpfs size= (BuildKit) and tmpfs-size= (buildah), in bytes or units */
	CHECK_INTEQ(cf_mount_parse("type=tmpfs,target=/t,size=64m", CF_MOUNT_DOCKERFILE, &m, &err),
		    0);
	CHECK(m.size == 64u << 20);
	cf_mount_clear(&m);
	CHECK_INTEQ(
	    cf_mount_parse("type=tmpfs,target=/t,tmpfs-size=1GiB", CF_MOUNT_DOCKERFILE, &m, &err),
	    0);
	CHECK(m.size == 1u << 30);
	cf_mount_clear(&m);
	CHECK_INTEQ(cf_mount_parse("type=tmpfs,target=/t,size=4096", CF_MOUNT_DOCKERFILE, &m, &err),
		    0);
	CHECK(m.size == 4096);
	cf_mount_clear(&m);
	static const char *const bad_sizes[] = {
	    "", "0", "abc", "-1", "1x", "1mm", "99999999999999t"};
	for (size_t i = 0; i < ARRAY_SIZE(bad_sizes); i++) {
		char spec[64];
		snprintf(spec, sizeof(spec), "type=tmpfs,target=/t,size=%s", bad_sizes[i]);
		CHECK_INTEQ(cf_mount_parse(spec, CF_MOUNT_DOCKERFILE, &m, &err), -1);
		CHECK(err.msg && strstr(err.msg, "invalid size"));
	}
	CHECK_INTEQ(cf_mount_parse("type=cache,target=/t,size=1m", CF_MOUNT_DOCKERFILE, &m, &err),
		    -1);
	CHECK(err.msg && strstr(err.msg, "unexpected key 'size' for mount type 'cache'"));
	/* a secret's env= */
	CHECK_INTEQ(cf_mount_parse("type=secret,id=t,env=API_KEY", CF_MOUNT_DOCKERFILE, &m, &err),
		    0);
	CHECK(m.env && streq(m.env, "API_KEY") && !m.target);
	cf_mount_clear(&m);
	CHECK_INTEQ(cf_mount_parse("type=secret,id=t,env=1X", CF_MOUNT_DOCKERFILE, &m, &err), -1);
	CHECK(err.msg && strstr(err.msg, "invalid variable name \"1X\""));
	CHECK_INTEQ(cf_mount_parse("type=secret,id=t,env=A-B", CF_MOUNT_DOCKERFILE, &m, &err), -1);
	CHECK_INTEQ(cf_mount_parse("type=bind,target=/t,env=A", CF_MOUNT_DOCKERFILE, &m, &err), -1);
	CHECK(err.msg && strstr(err.msg, "unexpected key 'env' for mount type 'bind'"));
	CHECK_INTEQ(cf_mount_parse("target=/x,\"open", CF_MOUNT_DOCKERFILE, &m, &err), -1);
	CHECK(err.msg && strstr(err.msg, "unterminated quote"));
	nib_err_clear(&err);
}

int main(void)
{
	RUN(test_run_mounts);
	RUN(test_run_forms);
	RUN(test_copy);
	RUN(test_healthcheck_and_expose);
	RUN(test_scope);
	RUN(test_bind_graph);
	RUN(test_mount_parse);
	return unit_done();
}
