/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for containerfile/: a table of Containerfiles, valid and
 * invalid, each with the plan nib must make of it (stages, instructions with
 * lines, flags and arguments after Docker's expansion) or the error it must
 * give (FILE:LINE:COL: what). Every row is one test.
 */
#define NIB_CONTAINERFILE_INTERNAL
#include "containerfile/cf_internal.h"
#include "tests/unit/unit.h"

#define SHA_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

struct pcase {
	const char *name;
	const char *text;
	const char *build_args; /* "K=V;K2=V2" */
	const char *target;
	/* Lines that must each be a whole line of the summary, or "!" and a
	 * part of the error message. Summary lines:
	 *   S<index> <name|-> <base> [platform=P] [needed]
	 *   <line> <KIND>[ --flag=value...] :: arg | arg ... [(json)]
	 *   <<NAME[-][noexpand] content-with-\n-escaped
	 *   global K=V */
	const char *want;
};

static void esc(struct nib_buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\n')
			nib_buf_puts(b, "\\n");
		else if (*s == '\t')
			nib_buf_puts(b, "\\t");
		else
			nib_buf_putc(b, *s);
	}
}

static void summary_instr(struct nib_buf *b, const struct cf_instr *in, const struct cf_step *st)
{
	const struct nib_strv *w = st && st->expanded ? &st->words : &in->args;

	nib_buf_printf(b, "%d %s", in->line, cf_kind_name(in->kind));
	for (size_t i = 0; i < in->n_flags; i++)
		nib_buf_printf(b, " --%s=%s", in->flags[i].name,
			       st && st->in == in ? st->flags[i].value : in->flags[i].value);
	nib_buf_puts(b, " ::");
	for (size_t i = 0; i < w->len; i++) {
		nib_buf_puts(b, i ? " | " : " ");
		esc(b, w->v[i]);
	}
	if (in->exec_form)
		nib_buf_puts(b, " (json)");
	nib_buf_putc(b, '\n');
	const struct cf_instr *h = in->trigger ? in->trigger : in;
	for (size_t i = 0; i < h->n_heredocs; i++) {
		const struct cf_heredoc *hd = &h->heredocs[i];
		nib_buf_printf(b, "<<%s%s%s ", hd->name, hd->chomp ? "-" : "",
			       hd->expand ? "" : "noexpand");
		esc(b, st && st->in == h && st->heredocs[i] ? st->heredocs[i] : hd->content);
		nib_buf_putc(b, '\n');
	}
}

static char *summary(const struct cf_file *f)
{
	struct nib_buf b = {0};

	nib_buf_puts(&b, "");
	for (size_t i = 0; i < f->meta_args.len; i++)
		nib_buf_printf(&b, "global %s\n", f->meta_args.v[i]);
	for (size_t i = 0; i < f->n_stages; i++) {
		const struct cf_stage *st = &f->stages[i];
		nib_buf_printf(&b, "S%d %s %s%s%s%s\n", st->index, st->name ? st->name : "-",
			       st->base, st->platform ? " platform=" : "",
			       st->platform ? st->platform : "", st->needed ? " needed" : "");
		for (size_t k = 0; k < st->n_instrs; k++)
			summary_instr(&b, st->instrs[k], st->steps ? &st->steps[k] : NULL);
	}
	return nib_buf_steal(&b);
}

static bool has_line(const char *text, const char *line, size_t n)
{
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		if (len == n && strncmp(p, line, n) == 0)
			return true;
		p = nl ? nl + 1 : p + len;
	}
	return false;
}

static void run_case(const struct pcase *c)
{
	struct nib_error err = {0};
	struct nib_strv args = {0};
	_cleanup_free_ char *got = NULL;
	_cleanup_buf_ struct nib_buf why = {0};
	struct cf_file *f;
	bool ok = true;

	if (c->build_args) {
		_cleanup_free_ char *dup = xstrdup(c->build_args);
		for (char *s = strtok(dup, ";"); s; s = strtok(NULL, ";"))
			nib_strv_push(&args, s);
	}
	struct cf_plan_opts o = {
	    .build_args = (const char *const *)args.v,
	    .target = c->target,
	    .target_platform = "linux/arm64",
	    .build_platform = "linux/amd64",
	};
	f = cf_parse_buffer("Containerfile", c->text, strlen(c->text), &err);
	if (f && cf_file_plan(f, &o, &err) < 0) {
		cf_file_free(f);
		f = NULL;
	}
	if (c->want[0] == '!') {
		ok = !f && err.msg && strstr(err.msg, c->want + 1) && nib_err_exit_code(&err) == 2;
		if (!ok)
			nib_buf_printf(&why, "want error '%s', got %s", c->want + 1,
				       err.msg ? err.msg : "success");
	} else if (!f) {
		ok = false;
		nib_buf_printf(&why, "unexpected error: %s", err.msg);
	} else {
		got = summary(f);
		for (const char *p = c->want; *p;) {
			const char *nl = strchr(p, '\n');
			size_t len = nl ? (size_t)(nl - p) : strlen(p);
			if (!has_line(got, p, len)) {
				ok = false;
				nib_buf_printf(&why, "missing line '%.*s'", (int)len, p);
			}
			p = nl ? nl + 1 : p + len;
		}
		if (!ok)
			nib_buf_printf(&why, "\n--- summary:\n%s---", got);
	}
	unit_row(c->name, ok, ok ? NULL : why.data);
	cf_file_free(f);
	nib_strv_free(&args);
	nib_err_clear(&err);
}

static const struct pcase cases[] = {
    /* ---- instructions, one by one ---- */
    {"FROM image", "FROM alpine\n", NULL, NULL, "S0 - alpine needed"},
    {"FROM AS name is lower-cased", "FROM alpine AS Build\n", NULL, NULL, "S0 build alpine needed"},
    {"FROM as (lower case keyword)", "from alpine as b\nrun true\n", NULL, NULL,
     "S0 b alpine needed\n2 RUN :: true"},
    {"FROM --platform", "FROM --platform=linux/amd64 alpine\n", NULL, NULL,
     "S0 - alpine platform=linux/amd64 needed"},
    {"FROM --platform=$BUILDPLATFORM", "FROM --platform=$BUILDPLATFORM alpine\n", NULL, NULL,
     "S0 - alpine platform=linux/amd64 needed"},
    {"FROM --platform=$TARGETPLATFORM", "FROM --platform=${TARGETPLATFORM} alpine\n", NULL, NULL,
     "S0 - alpine platform=linux/arm64 needed"},
    {"FROM two words", "FROM a b\n", NULL, NULL,
     "!Containerfile:1:1: FROM requires either one or three arguments"},
    {"FROM four words", "FROM a AS b c\n", NULL, NULL, "!FROM requires either one or three"},
    {"FROM without image", "FROM\n", NULL, NULL, "!FROM requires either one or three"},
    {"FROM bad stage name", "FROM a AS 1x\n", NULL, NULL,
     "!Containerfile:1:11: invalid name for build stage: \"1x\""},
    {"FROM stage name with symbols", "FROM a AS b$c\n", NULL, NULL,
     "!invalid name for build stage"},
    {"FROM stage name scratch reserved", "FROM a AS scratch\n", NULL, NULL,
     "!'scratch' is reserved"},
    {"FROM stage name with dots and dashes", "FROM a AS my-stage_1.0\n", NULL, NULL,
     "S0 my-stage_1.0 a needed"},
    {"FROM unknown flag", "FROM --plat=x a\n", NULL, NULL,
     "!Containerfile:1:6: FROM: unknown flag: plat"},
    {"RUN shell form", "FROM a\nRUN echo \"$HOME\" 'x'\n", NULL, NULL,
     "2 RUN :: echo \"$HOME\" 'x'"},
    {"RUN exec form", "FROM a\nRUN [\"echo\", \"$HOME\"]\n", NULL, NULL,
     "2 RUN :: echo | $HOME (json)"},
    {"RUN --mount cache", "FROM a\nRUN --mount=type=cache,target=/root/.cache go build\n", NULL,
     NULL, "2 RUN --mount=type=cache,target=/root/.cache :: go build"},
    {"RUN --mount twice",
     "FROM a\nRUN --mount=type=tmpfs,target=/t --mount=type=secret,id=x true\n", NULL, NULL,
     "2 RUN --mount=type=tmpfs,target=/t --mount=type=secret,id=x :: true"},
    {"RUN --mount bind from stage", "FROM a AS s\nFROM b\nRUN --mount=from=s,target=/s ls /s\n",
     NULL, NULL, "S0 s a needed\nS1 - b needed"},
    {"RUN --mount ssh", "FROM a\nRUN --mount=type=ssh,required=true git clone x\n", NULL, NULL,
     "2 RUN --mount=type=ssh,required=true :: git clone x"},
    {"RUN --mount expands ARGs", "FROM a\nARG T=/c\nRUN --mount=type=cache,target=$T true\n", NULL,
     NULL, "3 RUN --mount=type=cache,target=/c :: true"},
    {"RUN --mount bad type", "FROM a\nRUN --mount=type=nfs,target=/x true\n", NULL, NULL,
     "!Containerfile:2:5: RUN: unsupported mount type \"nfs\""},
    {"RUN --mount unknown key", "FROM a\nRUN --mount=type=bind,target=/x,colour=red true\n", NULL,
     NULL, "!unexpected key 'colour'"},
    {"RUN --mount cache needs target", "FROM a\nRUN --mount=type=cache true\n", NULL, NULL,
     "!mount type cache needs a target"},
    {"RUN --mount bad sharing", "FROM a\nRUN --mount=type=cache,target=/x,sharing=all true\n", NULL,
     NULL, "!unsupported sharing value \"all\""},
    {"RUN --network", "FROM a\nRUN --network=none true\n", NULL, NULL,
     "2 RUN --network=none :: true"},
    {"RUN --network bad", "FROM a\nRUN --network=bridge true\n", NULL, NULL,
     "!unsupported network mode \"bridge\""},
    {"RUN --security", "FROM a\nRUN --security=insecure true\n", NULL, NULL,
     "2 RUN --security=insecure :: true"},
    {"RUN --security bad", "FROM a\nRUN --security=loose true\n", NULL, NULL,
     "!unsupported security mode"},
    {"RUN --network twice", "FROM a\nRUN --network=none --network=host true\n", NULL, NULL,
     "!Containerfile:2:20: RUN: duplicate flag specified: network"},
    {"RUN without command is accepted", "FROM a\nRUN\nRUN --network=none\n", NULL, NULL,
     "2 RUN ::\n3 RUN --network=none ::"},
    {"RUN unknown flag", "FROM a\nRUN --privileged true\n", NULL, NULL,
     "!Containerfile:2:5: RUN: unknown flag: privileged"},
    {"RUN flag without value", "FROM a\nRUN --network true\n", NULL, NULL,
     "!missing a value on flag: network"},
    {"CMD shell form", "FROM a\nCMD echo hi\n", NULL, NULL, "2 CMD :: echo hi"},
    {"CMD exec form", "FROM a\nCMD [\"a\",\"b c\"]\n", NULL, NULL, "2 CMD :: a | b c (json)"},
    {"CMD empty JSON", "FROM a\nCMD []\n", NULL, NULL, "2 CMD :: (json)"},
    {"CMD bad JSON falls back to shell form", "FROM a\nCMD [\"a\", 'b']\n", NULL, NULL,
     "2 CMD :: [\"a\", 'b']"},
    {"CMD unterminated JSON falls back", "FROM a\nCMD [\"a\"\n", NULL, NULL, "2 CMD :: [\"a\""},
    {"CMD JSON with trailing text falls back", "FROM a\nCMD [\"a\"] b\n", NULL, NULL,
     "2 CMD :: [\"a\"] b"},
    {"CMD JSON with numbers is an error", "FROM a\nCMD [\"a\", 1]\n", NULL, NULL,
     "!Containerfile:2:5: when using JSON array syntax, arrays must be comprised of strings"},
    {"CMD JSON null is an error", "FROM a\nCMD [null]\n", NULL, NULL, "!comprised of strings only"},
    {"CMD JSON escapes", "FROM a\nCMD [\"\\u00e9\\t\\\"q\\\"\"]\n", NULL, NULL,
     "2 CMD :: \303\251\\t\"q\" (json)"},
    {"CMD is not expanded", "FROM a\nENV X=1\nCMD echo $X\n", NULL, NULL, "3 CMD :: echo $X"},
    {"LABEL key=value pairs", "FROM a\nLABEL a=b \"c d\"=\"e f\" g=h\\ i\n", NULL, NULL,
     "2 LABEL :: a=b | c d=e f | g=h i"},
    {"LABEL legacy form", "FROM a\nLABEL maintainer me@example.com\n", NULL, NULL,
     "2 LABEL :: maintainer=me@example.com"},
    {"LABEL expands", "FROM a\nARG V=1.0\nLABEL version=$V\n", NULL, NULL,
     "3 LABEL :: version=1.0"},
    {"LABEL empty value", "FROM a\nLABEL a=\n", NULL, NULL, "2 LABEL :: a="},
    {"LABEL blank name", "FROM a\nLABEL =x\n", NULL, NULL,
     "!Containerfile:2:7: LABEL names can not be blank"},
    {"LABEL without arguments", "FROM a\nLABEL\n", NULL, NULL,
     "!LABEL requires at least one argument"},
    {"MAINTAINER", "FROM a\nMAINTAINER Jane Doe <j@d>\n", NULL, NULL,
     "2 MAINTAINER :: Jane Doe <j@d>"},
    {"MAINTAINER without argument", "FROM a\nMAINTAINER\n", NULL, NULL,
     "!MAINTAINER requires exactly one argument"},
    {"EXPOSE ports", "FROM a\nEXPOSE 80 443/tcp 53/udp 8000-8010\n", NULL, NULL,
     "2 EXPOSE :: 80 | 443/tcp | 53/udp | 8000-8010"},
    {"EXPOSE expands and splits", "FROM a\nENV P=\"80 81\"\nEXPOSE $P\n", NULL, NULL,
     "3 EXPOSE :: 80 | 81"},
    {"EXPOSE bad port", "FROM a\nEXPOSE http\n", NULL, NULL,
     "!Containerfile:2:1: EXPOSE: invalid port \"http\""},
    {"EXPOSE bad protocol", "FROM a\nEXPOSE 80/icmp\n", NULL, NULL, "!invalid port \"80/icmp\""},
    {"EXPOSE without port", "FROM a\nEXPOSE\n", NULL, NULL, "!EXPOSE requires at least one"},
    {"ENV key=value", "FROM a\nENV A=1 B=\"two words\" C=three\\ words\n", NULL, NULL,
     "2 ENV :: A=1 | B=two words | C=three words"},
    {"ENV legacy form keeps spaces", "FROM a\nENV A a  b   c\n", NULL, NULL, "2 ENV :: A=a  b   c"},
    {"ENV legacy form removes quotes", "FROM a\nENV A \"x y\" z\n", NULL, NULL, "2 ENV :: A=x y z"},
    {"ENV sees earlier ENV", "FROM a\nENV A=1\nENV B=$A-x\n", NULL, NULL, "3 ENV :: B=1-x"},
    {"ENV same line uses the old value", "FROM a\nENV A=1\nENV A=2 B=$A\n", NULL, NULL,
     "3 ENV :: A=2 | B=1"},
    {"ENV single quotes do not expand", "FROM a\nENV A=1 B='$A'\n", NULL, NULL,
     "2 ENV :: A=1 | B=$A"},
    {"ENV escaped dollar", "FROM a\nENV A=\\$HOME\n", NULL, NULL, "2 ENV :: A=$HOME"},
    {"ENV unset variable is empty", "FROM a\nENV A=x${NOPE}y\n", NULL, NULL, "2 ENV :: A=xy"},
    {"ENV default operator", "FROM a\nENV A=${NOPE:-dflt}\n", NULL, NULL, "2 ENV :: A=dflt"},
    {"ENV alternative operator", "FROM a\nENV B=1\nENV A=${B:+set} C=${NOPE+set}\n", NULL, NULL,
     "3 ENV :: A=set | C="},
    {"ENV required variable missing", "FROM a\nENV A=${NEED:?please_set_NEED}\n", NULL, NULL,
     "!Containerfile:2:5: failed to process \"${NEED:?please_set_NEED}\": NEED: please_set_NEED"},
    {"ENV words split at spaces even inside ${}", "FROM a\nENV A=${NEED:?set it}\n", NULL, NULL,
     "!Containerfile:2:19: Syntax error - can't find = in \"it}\""},
    {"ENV required variable present", "FROM a\nARG NEED=ok\nENV A=${NEED:?x}\n", NULL, NULL,
     "3 ENV :: A=ok"},
    {"ENV required but empty", "FROM a\nARG NEED=\nENV A=${NEED:?}\n", NULL, NULL,
     "!NEED: is not allowed to be empty"},
    {"ENV ? allows empty", "FROM a\nARG NEED=\nENV A=${NEED?}x\n", NULL, NULL, "3 ENV :: A=x"},
    {"ENV prefix/suffix removal", "FROM a\nENV F=archive.tar.gz\nENV B=${F%%.*} E=${F#*.}\n", NULL,
     NULL, "3 ENV :: B=archive | E=tar.gz"},
    {"ENV longest prefix and shortest suffix",
     "FROM a\nENV P=/usr/local/bin\nENV A=${P##*/} B=${P%/*}\n", NULL, NULL,
     "3 ENV :: A=bin | B=/usr/local"},
    {"ENV replace first and all", "FROM a\nENV V=a-b-c\nENV X=${V/-/_} Y=${V//-/_}\n", NULL, NULL,
     "3 ENV :: X=a_b-c | Y=a_b_c"},
    {"ENV nested defaults", "FROM a\nENV A=${X:-${Y:-${Z:-deep}}}\n", NULL, NULL,
     "2 ENV :: A=deep"},
    {"ENV unterminated ${", "FROM a\nENV A=${B\n", NULL, NULL,
     "!Containerfile:2:5: failed to process \"${B\": syntax error: missing '}'"},
    {"ENV bad substitution", "FROM a\nENV A=${}\n", NULL, NULL, "!bad substitution"},
    {"ENV unterminated quote", "FROM a\nENV A=\"open\n", NULL, NULL,
     "!unexpected end of statement while looking for matching double-quote"},
    {"ENV no value", "FROM a\nENV A\n", NULL, NULL, "!ENV must have two arguments"},
    {"ENV unknown flag", "FROM a\nENV --x=1 A=1\n", NULL, NULL, "!ENV: unknown flag: x"},
    {"ENV key expansion", "FROM a\nARG K=NAME\nENV $K=v\n", NULL, NULL, "3 ENV :: NAME=v"},
    {"ADD with flags", "FROM a\nADD --chown=1:2 --chmod=0644 --link src /dst/\n", NULL, NULL,
     "2 ADD --chown=1:2 --chmod=0644 --link=true :: src | /dst/"},
    {"ADD --checksum --keep-git-dir",
     "FROM a\nADD --checksum=sha256:" SHA_A " --keep-git-dir=true https://x/y.git /y\n", NULL, NULL,
     "2 ADD --checksum=sha256:" SHA_A " --keep-git-dir=true :: https://x/y.git | /y"},
    {"ADD --checksum not a digest", "FROM a\nADD --checksum=sha256:abc https://x/y /y\n", NULL,
     NULL,
     "!Containerfile:2:5: ADD: invalid --checksum=sha256:abc: expected sha256:<64 hex digits>"},
    {"ADD --checksum of a local file", "FROM a\nADD --checksum=sha256:" SHA_A " y.txt /y\n", NULL,
     NULL, "!Containerfile:2:5: ADD: checksum requires HTTP(S) sources: y.txt"},
    {"ADD --checksum of two sources",
     "FROM a\nADD --checksum=sha256:" SHA_A " https://x/a https://x/b /y/\n", NULL, NULL,
     "!ADD: checksum can't be specified for multiple sources"},
    {"COPY --chmod octal out of range", "FROM a\nCOPY --chmod=0999 a /b\n", NULL, NULL,
     "!Containerfile:2:6: COPY: invalid --chmod=0999: it should be octal and between 0 and 07777"},
    {"COPY --chmod symbolic", "FROM a\nCOPY --chmod=u+x,go-w a /b\n", NULL, NULL,
     "2 COPY --chmod=u+x,go-w :: a | /b"},
    {"COPY --chmod neither", "FROM a\nARG M=rwx\nCOPY --chmod=$M a /b\n", NULL, NULL,
     "!Containerfile:3:6: COPY: invalid --chmod=rwx: not an octal or symbolic mode"},
    {"COPY --exclude bad pattern", "FROM a\nCOPY --exclude=[z- a /b\n", NULL, NULL,
     "!Containerfile:2:6: COPY: --exclude=[z-:"},
    {"ADD --exclude repeated", "FROM a\nADD --exclude=*.md --exclude=*.txt . /app\n", NULL, NULL,
     "2 ADD --exclude=*.md --exclude=*.txt :: . | /app"},
    {"ADD --unpack", "FROM a\nADD --unpack=false a.tar /\n", NULL, NULL,
     "2 ADD --unpack=false :: a.tar | /"},
    {"ADD --link=false", "FROM a\nADD --link=FALSE a /\n", NULL, NULL,
     "2 ADD --link=false :: a | /"},
    {"ADD bad bool", "FROM a\nADD --link=maybe a /\n", NULL, NULL,
     "!ADD: expecting boolean value for flag link, not: maybe"},
    {"ADD bool with empty value", "FROM a\nADD --link= a /\n", NULL, NULL,
     "!missing a value on flag: link"},
    {"ADD --from is not an ADD flag", "FROM a\nADD --from=x a /\n", NULL, NULL,
     "!Containerfile:2:5: ADD: unknown flag: from"},
    {"ADD one argument", "FROM a\nADD onlysrc\n", NULL, NULL,
     "!Containerfile:2:1: ADD requires at least two arguments, but only one was provided"},
    {"ADD JSON form", "FROM a\nADD [\"a b\", \"/c d/\"]\n", NULL, NULL,
     "2 ADD :: a b | /c d/ (json)"},
    {"COPY sources and dest", "FROM a\nCOPY a b c /d/\n", NULL, NULL, "2 COPY :: a | b | c | /d/"},
    {"COPY all flags",
     "FROM a\nCOPY --from=img:1 --chown=u:g --chmod=755 --link --parents --exclude=x a /\n", NULL,
     NULL,
     "2 COPY --from=img:1 --chown=u:g --chmod=755 --link=true --parents=true --exclude=x :: a | /"},
    {"COPY expands sources, dest and flags",
     "FROM a\nARG U=app D=/srv\nCOPY --chown=$U:$U ${D}/x $D/\n", NULL, NULL,
     "3 COPY --chown=app:app :: /srv/x | /srv/"},
    {"COPY JSON form expands too", "FROM a\nENV D=/x\nCOPY [\"$D\", \"/y\"]\n", NULL, NULL,
     "3 COPY :: /x | /y (json)"},
    {"COPY --from stage name", "FROM a AS build\nFROM b\nCOPY --from=build /o /o\n", NULL, NULL,
     "S0 build a needed\n3 COPY --from=build :: /o | /o"},
    {"COPY --from stage name is case-insensitive",
     "FROM a AS build\nFROM b\nCOPY --from=BUILD /o /o\n", NULL, NULL, "S0 build a needed"},
    {"COPY --from index", "FROM a\nFROM b\nCOPY --from=0 /o /o\n", NULL, NULL, "S0 - a needed"},
    {"COPY --from image is not a stage", "FROM a AS x\nFROM b\nCOPY --from=nginx:1 /o /o\n", NULL,
     NULL, "S0 x a\nS1 - b needed"},
    {"COPY --from bad index", "FROM a\nFROM b\nCOPY --from=5 /o /o\n", NULL, NULL,
     "!Containerfile:3:6: COPY: invalid stage index 5"},
    {"COPY --from ARG", "ARG S=build\nFROM a AS build\nFROM b\nARG S\nCOPY --from=$S /o /o\n", NULL,
     NULL, "S0 build a needed\n5 COPY --from=build :: /o | /o"},
    {"COPY --from itself is a cycle", "FROM a AS x\nCOPY --from=x /o /o\n", NULL, NULL,
     "!Containerfile:2:1: circular dependency detected on stage: x"},
    {"COPY one argument", "FROM a\nCOPY x\n", NULL, NULL, "!COPY requires at least two arguments"},
    {"COPY no arguments", "FROM a\nCOPY\n", NULL, NULL, "!COPY requires at least two arguments"},
    {"COPY -- ends the flags", "FROM a\nCOPY -- --weird /x\n", NULL, NULL,
     "2 COPY :: --weird | /x"},
    {"COPY quoted flag value", "FROM a\nCOPY --chown=\"a b\" x /y\n", NULL, NULL,
     "2 COPY --chown=a b :: x | /y"},
    {"COPY spaces in a word need JSON", "FROM a\nCOPY \"a b\" /y\n", NULL, NULL,
     "!unexpected end of statement while looking for matching double-quote"},
    {"COPY --chmod twice", "FROM a\nCOPY --chmod=1 --chmod=2 a b\n", NULL, NULL,
     "!duplicate flag specified: chmod"},
    {"ENTRYPOINT exec", "FROM a\nENTRYPOINT [\"/bin/app\", \"--serve\"]\n", NULL, NULL,
     "2 ENTRYPOINT :: /bin/app | --serve (json)"},
    {"ENTRYPOINT shell", "FROM a\nENTRYPOINT exec app \"$@\"\n", NULL, NULL,
     "2 ENTRYPOINT :: exec app \"$@\""},
    {"ENTRYPOINT empty", "FROM a\nENTRYPOINT []\n", NULL, NULL, "2 ENTRYPOINT :: (json)"},
    {"VOLUME JSON", "FROM a\nVOLUME [\"/data\", \"/logs\"]\n", NULL, NULL,
     "2 VOLUME :: /data | /logs (json)"},
    {"VOLUME plain", "FROM a\nVOLUME /data /logs\n", NULL, NULL, "2 VOLUME :: /data | /logs"},
    {"VOLUME expands", "FROM a\nARG D=/data\nVOLUME $D\n", NULL, NULL, "3 VOLUME :: /data"},
    {"VOLUME empty string", "FROM a\nVOLUME [\"\"]\n", NULL, NULL,
     "!VOLUME specified can not be an empty string"},
    {"VOLUME without argument", "FROM a\nVOLUME\n", NULL, NULL, "!VOLUME requires at least one"},
    {"USER", "FROM a\nUSER app:app\n", NULL, NULL, "2 USER :: app:app"},
    {"USER expands", "FROM a\nARG UID=1000\nUSER ${UID}:0\n", NULL, NULL, "3 USER :: 1000:0"},
    {"USER without argument", "FROM a\nUSER\n", NULL, NULL, "!USER requires exactly one argument"},
    {"WORKDIR", "FROM a\nWORKDIR /app\n", NULL, NULL, "2 WORKDIR :: /app"},
    {"WORKDIR expands ENV", "FROM a\nENV HOME=/home/u\nWORKDIR $HOME/src\n", NULL, NULL,
     "3 WORKDIR :: /home/u/src"},
    {"WORKDIR keeps spaces", "FROM a\nWORKDIR /a b\n", NULL, NULL, "2 WORKDIR :: /a b"},
    {"WORKDIR without argument", "FROM a\nWORKDIR\n", NULL, NULL, "!WORKDIR requires exactly one"},
    {"STOPSIGNAL", "FROM a\nSTOPSIGNAL SIGTERM\n", NULL, NULL, "2 STOPSIGNAL :: SIGTERM"},
    {"STOPSIGNAL expands", "FROM a\nARG S=9\nSTOPSIGNAL $S\n", NULL, NULL, "3 STOPSIGNAL :: 9"},
    {"STOPSIGNAL without argument", "FROM a\nSTOPSIGNAL\n", NULL, NULL,
     "!STOPSIGNAL requires exactly one argument"},
    {"SHELL", "FROM a\nSHELL [\"/bin/bash\", \"-eo\", \"pipefail\", \"-c\"]\n", NULL, NULL,
     "2 SHELL :: /bin/bash | -eo | pipefail | -c (json)"},
    {"SHELL needs JSON", "FROM a\nSHELL /bin/bash -c\n", NULL, NULL,
     "!SHELL requires the arguments to be in JSON form"},
    {"SHELL empty", "FROM a\nSHELL []\n", NULL, NULL, "!SHELL requires at least one argument"},
    {"HEALTHCHECK CMD shell",
     "FROM a\nHEALTHCHECK --interval=5s --retries=3 CMD curl -f http://x/\n", NULL, NULL,
     "2 HEALTHCHECK --interval=5s --retries=3 :: CMD | curl -f http://x/"},
    {"HEALTHCHECK CMD exec", "FROM a\nHEALTHCHECK CMD [\"/bin/check\", \"-q\"]\n", NULL, NULL,
     "2 HEALTHCHECK :: CMD | /bin/check | -q (json)"},
    {"HEALTHCHECK NONE", "FROM a\nHEALTHCHECK NONE\n", NULL, NULL, "2 HEALTHCHECK :: NONE"},
    {"HEALTHCHECK all durations",
     "FROM a\nHEALTHCHECK --interval=1m30s --timeout=10s --start-period=1s --start-interval=500ms "
     "--retries=0 CMD true\n",
     NULL, NULL,
     "2 HEALTHCHECK --interval=1m30s --timeout=10s --start-period=1s --start-interval=500ms "
     "--retries=0 :: CMD | true"},
    {"HEALTHCHECK NONE with arguments", "FROM a\nHEALTHCHECK NONE x\n", NULL, NULL,
     "!HEALTHCHECK NONE takes no arguments"},
    {"HEALTHCHECK unknown type", "FROM a\nHEALTHCHECK CONNECT TCP 7000\n", NULL, NULL,
     "!Containerfile:2:13: Unknown type \"CONNECT\" in HEALTHCHECK (try CMD)"},
    {"HEALTHCHECK CMD without command", "FROM a\nHEALTHCHECK CMD\n", NULL, NULL,
     "!Missing command after HEALTHCHECK CMD"},
    {"HEALTHCHECK without arguments", "FROM a\nHEALTHCHECK\n", NULL, NULL,
     "!HEALTHCHECK requires at least one argument"},
    {"HEALTHCHECK bad duration", "FROM a\nHEALTHCHECK --interval=5 CMD true\n", NULL, NULL,
     "!Containerfile:2:13: HEALTHCHECK: invalid duration \"5\" for --interval"},
    {"HEALTHCHECK too short", "FROM a\nHEALTHCHECK --timeout=10us CMD true\n", NULL, NULL,
     "!cannot be less than 1ms"},
    {"HEALTHCHECK negative retries", "FROM a\nHEALTHCHECK --retries=-1 CMD true\n", NULL, NULL,
     "!--retries cannot be negative"},
    {"HEALTHCHECK bad retries", "FROM a\nHEALTHCHECK --retries=x CMD true\n", NULL, NULL,
     "!invalid --retries value"},
    {"HEALTHCHECK unknown flag", "FROM a\nHEALTHCHECK --every=5s CMD true\n", NULL, NULL,
     "!HEALTHCHECK: unknown flag: every"},
    {"ONBUILD RUN", "FROM a\nONBUILD RUN echo $HOME\n", NULL, NULL, "2 ONBUILD :: RUN echo $HOME"},
    {"ONBUILD COPY with flags", "FROM a\nONBUILD COPY --chown=1 . /app\n", NULL, NULL,
     "2 ONBUILD :: COPY --chown=1 . /app"},
    {"ONBUILD ONBUILD", "FROM a\nONBUILD ONBUILD RUN x\n", NULL, NULL,
     "!Containerfile:2:9: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"},
    {"ONBUILD FROM", "FROM a\nONBUILD FROM b\n", NULL, NULL,
     "!FROM isn't allowed as an ONBUILD trigger"},
    {"ONBUILD MAINTAINER", "FROM a\nONBUILD MAINTAINER me\n", NULL, NULL,
     "!MAINTAINER isn't allowed as an ONBUILD trigger"},
    {"ONBUILD unknown trigger", "FROM a\nONBUILD FOO bar\n", NULL, NULL,
     "!Containerfile:2:9: unknown instruction: FOO"},
    {"ONBUILD bad trigger flag", "FROM a\nONBUILD COPY --nope=1 a b\n", NULL, NULL,
     "!Containerfile:2:14: COPY: unknown flag: nope"},
    {"ONBUILD without trigger", "FROM a\nONBUILD\n", NULL, NULL, "!ONBUILD requires at least one"},
    {"ONBUILD heredoc", "FROM a\nONBUILD RUN <<EOF\necho hi\nEOF\nRUN true\n", NULL, NULL,
     "2 ONBUILD :: RUN <<EOF\n<<EOF echo hi\\n\n5 RUN :: true"},
    {"unknown instruction", "FROM a\nFROB x\n", NULL, NULL,
     "!Containerfile:2:1: unknown instruction: FROB"},
    {"unknown instruction keeps case", "FROM a\n  Frob x\n", NULL, NULL,
     "!Containerfile:2:3: unknown instruction: Frob"},
    {"instruction before FROM", "RUN true\nFROM a\n", NULL, NULL,
     "!Containerfile:1:1: no build stage in current context"},
    {"keywords are case-insensitive", "from a\nrUn true\ncopy a b\nEnV A=1\n", NULL, NULL,
     "2 RUN :: true\n3 COPY :: a | b\n4 ENV :: A=1"},
    {"leading white space", "   FROM a\n\t RUN  true  \n", NULL, NULL, "2 RUN :: true"},
    /* ---- parser directives ---- */
    {"escape directive backtick",
     "# escape=`\nFROM a\nRUN dir c:\\ `\n  && echo hi\nENV P=C:\\Windows\\$X\n", NULL, NULL,
     "3 RUN :: dir c:\\   && echo hi\n5 ENV :: P=C:\\Windows\\"},
    {"escape directive is case-insensitive", "# ESCAPE = `\nFROM a\nRUN a `\nb\n", NULL, NULL,
     "3 RUN :: a b"},
    {"escape directive after a comment is a comment", "# hello\n# escape=`\nFROM a\nRUN a `\n",
     NULL, NULL, "4 RUN :: a `"},
    {"escape directive after an empty line is a comment", "\n# escape=`\nFROM a\nRUN a \\\nb\n",
     NULL, NULL, "4 RUN :: a b"},
    {"escape directive after an instruction is a comment", "FROM a\n# escape=`\nRUN a \\\nb\n",
     NULL, NULL, "3 RUN :: a b"},
    {"syntax and escape directives",
     "# syntax=docker/dockerfile:1\n# escape=`\nFROM a\nRUN x `\ny\n", NULL, NULL, "4 RUN :: x y"},
    {"check directive", "# check=skip=all\nFROM a\n", NULL, NULL, "S0 - a needed"},
    {"unknown directive ends the directives", "# foo=bar\n# escape=`\nFROM a\nRUN a `\n", NULL,
     NULL, "4 RUN :: a `"},
    {"directive with BOM", "\xEF\xBB\xBF# escape=`\nFROM a\nRUN a `\nb\n", NULL, NULL,
     "3 RUN :: a b"},
    {"invalid escape value", "# escape=\\\\\nFROM a\n", NULL, NULL, "!invalid escape token"},
    /* ---- comments and continuations ---- */
    {"comment lines are ignored", "# c1\nFROM a\n  # indented comment\nRUN true # not a comment\n",
     NULL, NULL, "4 RUN :: true # not a comment"},
    {"continuation joins lines", "FROM a\nRUN echo a \\\n    b \\\n    c\n", NULL, NULL,
     "2 RUN :: echo a     b     c"},
    {"continuation with trailing blanks", "FROM a\nRUN echo a \\  \t\nb\n", NULL, NULL,
     "2 RUN :: echo a b"},
    {"comment inside a continuation", "FROM a\nRUN echo a \\\n# comment\n  # another\n  b\n", NULL,
     NULL, "2 RUN :: echo a   b"},
    {"empty line inside a continuation", "FROM a\nRUN echo a \\\n\n   \nb\nRUN next\n", NULL, NULL,
     "2 RUN :: echo a b\n6 RUN :: next"},
    {"double backslash is not a continuation", "FROM a\nENV A=x\\\\\nENV B=y\n", NULL, NULL,
     "2 ENV :: A=x\\\n3 ENV :: B=y"},
    {"lone backslash line continues", "FROM a\nENV E hello\\\n\\\nworld\n", NULL, NULL,
     "2 ENV :: E=helloworld"},
    {"continuation at end of file", "FROM a\nRUN something \\", NULL, NULL, "2 RUN :: something"},
    {"CRLF line endings", "FROM a\r\nRUN a \\\r\n b\r\nENV X=1\r\n", NULL, NULL,
     "2 RUN :: a  b\n4 ENV :: X=1"},
    {"thousands of continuations", NULL, NULL, NULL, "2 RUN :: x"},
    {"instruction line numbers after a long continuation", "FROM a\nRUN a \\\nb \\\nc\nUSER u\n",
     NULL, NULL, "5 USER :: u"},
    /* ---- heredocs ---- */
    {"RUN heredoc", "FROM a\nRUN <<EOF\necho $HOME\nls\nEOF\nUSER x\n", NULL, NULL,
     "2 RUN :: <<EOF\n<<EOF echo $HOME\\nls\\n\n6 USER :: x"},
    {"RUN heredoc with a program", "FROM a\nRUN python3 <<EOF\nprint(1)\nEOF\n", NULL, NULL,
     "2 RUN :: python3 <<EOF\n<<EOF print(1)\\n"},
    {"heredoc <<- strips tabs", "FROM a\nRUN <<-EOT\n\techo a\n\t\techo b\n\tEOT\n", NULL, NULL,
     "<<EOT- echo a\\necho b\\n"},
    {"heredoc quoted delimiter does not expand", "FROM a\nARG X=1\nCOPY <<\"EOF\" /f\n$X\nEOF\n",
     NULL, NULL, "<<EOFnoexpand $X\\n"},
    {"heredoc single-quoted delimiter", "FROM a\nRUN <<'EOF'\n$X\nEOF\n", NULL, NULL,
     "<<EOFnoexpand $X\\n"},
    {"COPY heredoc expands", "FROM a\nARG X=1\nCOPY <<EOF /f\nx=$X \"q\" \\$Y\nEOF\n", NULL, NULL,
     "3 COPY :: <<EOF | /f\n<<EOF x=1 \"q\" $Y\\n"},
    {"ADD heredoc", "FROM a\nADD <<EOF /f\nhi\nEOF\n", NULL, NULL,
     "2 ADD :: <<EOF | /f\n<<EOF hi\\n"},
    {"two heredocs on one line", "FROM a\nCOPY <<A <<B /dir/\naaa\nA\nbbb\nB\nRUN true\n", NULL,
     NULL, "2 COPY :: <<A | <<B | /dir/\n<<A aaa\\n\n<<B bbb\\n\n7 RUN :: true"},
    {"heredoc with redirection", "FROM a\nRUN cat <<EOF > /f\nx\nEOF\n", NULL, NULL,
     "2 RUN :: cat <<EOF > /f\n<<EOF x\\n"},
    {"heredoc with fd", "FROM a\nRUN 3<<EOF cat /dev/fd/3\nx\nEOF\n", NULL, NULL, "<<EOF x\\n"},
    {"heredoc empty body", "FROM a\nRUN <<EOF\nEOF\n", NULL, NULL, "<<EOF "},
    {"heredoc keeps blank and comment lines", "FROM a\nRUN <<EOF\n# not a comment\n\nx\nEOF\n",
     NULL, NULL, "<<EOF # not a comment\\n\\nx\\n"},
    {"no heredoc in exec form", "FROM a\nRUN [\"cat\", \"<<EOF\"]\nEOF\n", NULL, NULL,
     "!Containerfile:3:1: unknown instruction: EOF"},
    {"no heredoc in ENV", "FROM a\nENV A=<<EOF\n", NULL, NULL, "2 ENV :: A=<<EOF"},
    {"heredoc terminator must match exactly", "FROM a\nRUN <<EOF\n EOF\nEOF\n", NULL, NULL,
     "<<EOF  EOF\\n"},
    {"unterminated heredoc", "FROM a\nRUN <<EOF\nnever ends\n", NULL, NULL,
     "!Containerfile:2:5: unterminated heredoc EOF"},
    {"COPY heredoc as destination", "FROM a\nCOPY x <<EOF\nhi\nEOF\n", NULL, NULL,
     "!COPY cannot accept a heredoc as a destination"},
    {"<<< is not a heredoc", "FROM a\nRUN cat <<<word\nUSER u\n", NULL, NULL,
     "2 RUN :: cat <<<word\n3 USER :: u"},
    /* ---- ARG scoping and build args ---- */
    {"global ARG used by FROM", "ARG IMG=alpine\nARG TAG=3\nFROM $IMG:${TAG}\n", NULL, NULL,
     "global IMG=alpine\nglobal TAG=3\nS0 - alpine:3 needed"},
    {"build arg overrides global ARG", "ARG TAG=3\nFROM alpine:$TAG\n", "TAG=edge", NULL,
     "global TAG=edge\nS0 - alpine:edge needed"},
    {"global ARG is not visible in a stage", "ARG V=1\nFROM a\nENV X=v$V\n", NULL, NULL,
     "3 ENV :: X=v"},
    {"global ARG re-declared in a stage", "ARG V=1\nFROM a\nARG V\nENV X=v$V\n", NULL, NULL,
     "3 ARG :: V=1\n4 ENV :: X=v1"},
    {"re-declared global ARG takes the build arg", "ARG V=1\nFROM a\nARG V\nENV X=$V\n", "V=2",
     NULL, "4 ENV :: X=2"},
    {"stage ARG default", "FROM a\nARG V=dflt\nENV X=$V\n", NULL, NULL, "3 ENV :: X=dflt"},
    {"stage ARG overridden by build arg", "FROM a\nARG V=dflt\nENV X=$V\n", "V=given", NULL,
     "3 ENV :: X=given"},
    {"ARG without value is unset", "FROM a\nARG V\nENV X=${V-unset}\n", NULL, NULL,
     "3 ENV :: X=unset"},
    {"ARG is visible only after it", "FROM a\nENV X=$V\nARG V=1\nENV Y=$V\n", NULL, NULL,
     "2 ENV :: X=\n4 ENV :: Y=1"},
    {"ARG in one stage is not in the next", "FROM a\nARG V=1\nFROM b\nENV X=${V:-none}\n", NULL,
     NULL, "4 ENV :: X=none"},
    {"several ARGs on one line", "FROM a\nARG A=1 B C=\"x y\"\nENV R=$A$B$C\n", NULL, NULL,
     "2 ARG :: A=1 | B | C=x y\n3 ENV :: R=1x y"},
    {"ARG default uses earlier ARG", "FROM a\nARG A=1\nARG B=${A}2\nENV R=$B\n", NULL, NULL,
     "4 ENV :: R=12"},
    {"global ARG default uses earlier global ARG", "ARG A=x\nARG B=$A-y\nFROM $B\n", NULL, NULL,
     "S0 - x-y needed"},
    {"ENV overrides ARG", "FROM a\nARG V=arg\nENV V=env\nRUN true\nENV R=$V\n", "V=ba", NULL,
     "5 ENV :: R=env"},
    {"ARG blank name", "FROM a\nARG =x\n", NULL, NULL, "!ARG names can not be blank"},
    {"ARG without name", "FROM a\nARG\n", NULL, NULL, "!ARG requires at least one argument"},
    {"TARGETARCH needs ARG in a stage", "FROM a\nENV A=${TARGETARCH:-unset}\n", NULL, NULL,
     "2 ENV :: A=unset"},
    {"predefined platform args",
     "FROM a\nARG TARGETPLATFORM TARGETOS TARGETARCH TARGETVARIANT BUILDPLATFORM BUILDOS "
     "BUILDARCH\n"
     "ENV T=$TARGETPLATFORM/$TARGETOS/$TARGETARCH/$TARGETVARIANT "
     "B=$BUILDPLATFORM/$BUILDOS/$BUILDARCH\n",
     NULL, NULL, "3 ENV :: T=linux/arm64/linux/arm64/ | B=linux/amd64/linux/amd64"},
    {"predefined platform args in FROM", "FROM image-$TARGETARCH\n", NULL, NULL,
     "S0 - image-arm64 needed"},
    {"build arg overrides a predefined arg", "FROM a\nARG TARGETARCH\nENV A=$TARGETARCH\n",
     "TARGETARCH=riscv64", NULL, "3 ENV :: A=riscv64"},
    {"FROM with empty base", "ARG IMG\nFROM $IMG\n", NULL, NULL,
     "!Containerfile:2:6: base name ($IMG) should not be blank"},
    {"FROM with a required ARG", "ARG IMG\nFROM ${IMG:?set_IMG}\n", NULL, NULL,
     "!Containerfile:2:6: failed to process \"${IMG:?set_IMG}\": IMG: set_IMG"},
    {"proxy build args are not reported unused", "FROM a\n", "HTTP_PROXY=http://p;FOO=1", NULL,
     "S0 - a needed"},
    /* ---- stages, target, cycles ---- */
    {"FROM an earlier stage", "FROM a AS base\nENV X=1\nFROM base\nENV Y=$X\n", NULL, NULL,
     "S1 - base needed\n4 ENV :: Y=1"},
    {"FROM an earlier stage: the name is case-insensitive",
     "FROM a AS Base_Stage\nENV X=1\nFROM BASE_stage\nENV Y=$X\n", NULL, NULL,
     "S1 - BASE_stage needed\n4 ENV :: Y=1"},
    {"FROM a later stage name is an image", "FROM later\nFROM b AS later\n", NULL, NULL,
     "S0 - later"},
    {"stage named like its image", "FROM node AS node\nFROM node\n", NULL, NULL,
     "S0 node node needed\nS1 - node needed"},
    {"duplicate stage names", "FROM a AS x\nFROM b AS X\n", NULL, NULL,
     "!Containerfile:2:11: duplicate stage name \"x\" (first used on line 1)"},
    {"target selects a stage and its needs",
     "FROM a AS base\nFROM base AS build\nFROM c AS other\nFROM d AS final\nCOPY --from=build / "
     "/\n",
     NULL, "build", "S0 base a needed\nS1 build base needed\nS2 other c\nS3 final d"},
    {"target is case-insensitive", "FROM a AS Build\nFROM b\n", NULL, "BUILD",
     "S0 build a needed\nS1 - b"},
    {"unknown target", "FROM a AS x\n", NULL, "nope", "!target stage \"nope\" could not be found"},
    {"default target is the last stage",
     "FROM a AS one\nFROM b AS two\nCOPY --from=one / /\nFROM c AS three\n", NULL, NULL,
     "S0 one a\nS1 two b\nS2 three c needed"},
    {"errors in stages the target does not need are ignored",
     "FROM a AS broken\nENV X=${NEED:?}\nFROM b AS good\n", NULL, "good", "S1 good b needed"},
    {"errors in needed stages are reported", "FROM a AS broken\nENV X=${NEED:?}\nFROM b AS good\n",
     NULL, "broken", "!NEED: is not allowed to be unset"},
    {"cycle through COPY --from",
     "FROM a AS one\nCOPY --from=two / /\nFROM b AS two\nCOPY --from=one / /\n", NULL, NULL,
     "!circular dependency detected on stage"},
    {"cycle through RUN --mount",
     "FROM a AS one\nRUN --mount=from=two,target=/x true\nFROM one AS two\n", NULL, NULL,
     "!Containerfile:3:1: circular dependency detected on stage: two"},
    {"forward COPY --from without a cycle", "FROM a AS one\nCOPY --from=two / /\nFROM b AS two\n",
     NULL, "one", "S0 one a needed\nS1 two b needed"},
    {"ENV is inherited from the base stage", "FROM a AS s\nENV P=/opt\nFROM s\nWORKDIR $P/app\n",
     NULL, NULL, "4 WORKDIR :: /opt/app"},
    {"ARG is not inherited from the base stage",
     "FROM a AS s\nARG P=/opt\nFROM s\nWORKDIR ${P:-/x}\n", NULL, NULL, "4 WORKDIR :: /x"},
    /* ---- whole files ---- */
    {"file with no instructions", "# just a comment\n\n", NULL, NULL,
     "!Containerfile:2:1: file with no instructions"},
    {"only ARG, no FROM", "ARG A=1\n", NULL, NULL, "!no FROM instruction"},
    {"no newline at end of file", "FROM a\nRUN true", NULL, NULL, "2 RUN :: true"},
    {"blank lines between instructions", "\n\nFROM a\n\n\n\nRUN true\n", NULL, NULL,
     "7 RUN :: true"},
    {"tabs between words", "FROM\ta\nCOPY\t\ta\t\tb\n", NULL, NULL, "2 COPY :: a | b"},
    {"unicode in arguments", "FROM a\nLABEL desc=\"h\303\251llo w\303\266rld\"\n", NULL, NULL,
     "2 LABEL :: desc=h\303\251llo w\303\266rld"},
    {"error names the column of the word", "FROM a\nCOPY   --chown=1 a b\nWORKDIR  ${X:?x}\n", NULL,
     NULL, "!Containerfile:3:10: failed to process"},
    {"error in a continued line names the physical line",
     "FROM a\nENV A=1 \\\n    B=${NO:?missing}\n", NULL, NULL,
     "!Containerfile:3:5: failed to process \"${NO:?missing}\": NO: missing"},
    {"error message shows the offending line", "FROM a\nBOGUS thing\n", NULL, NULL,
     "!unknown instruction: BOGUS\n    BOGUS thing"},
};

static void test_cases(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct pcase c = cases[i];
		_cleanup_buf_ struct nib_buf gen = {0};
		if (!c.text) {
			/* thousands of continuations */
			nib_buf_puts(&gen, "FROM a\nRUN x\\\n");
			for (int k = 0; k < 20000; k++)
				nib_buf_puts(&gen, "\\\n");
			nib_buf_puts(&gen, "y\nUSER u\n");
			c.text = gen.data;
			c.want = "2 RUN :: xy\n20004 USER :: u";
		}
		run_case(&c);
	}
}

static const char *map_lookup(void *ud, const char *name)
{
	const char *const *kv = ud;
	for (; kv[0]; kv += 2)
		if (streq(kv[0], name))
			return kv[1];
	return NULL;
}

/* The builder's use: a stage's steps once its base image's ENV and
 * ONBUILD triggers are known. */
static void test_stage_bind(void)
{
	static const char text[] =
	    "FROM a\nARG A=planned\nCOPY --chown=$U src/$F /dst/\nRUN echo $U\n"
	    "COPY <<EOF /f\n$U\nEOF\nCOPY $T$A /t\n";
	char *env[] = {"U=app", "F=x.txt", NULL};
	char *triggers[] = {"ENV T=trig", "ARG A=trigger", NULL};
	struct nib_error err = {0};
	struct cf_stage_steps ss;
	struct cf_file *f = cf_parse_buffer("Containerfile", text, sizeof(text) - 1, &err);

	CHECK(f && cf_file_plan(f, NULL, &err) == 0);
	if (!f)
		return;
	/* the plan knew no U: */
	CHECK(f->stages[0].steps[1].copy.chown == NULL);
	CHECK_INTEQ(cf_stage_bind(f, 0, env, triggers, &ss, &err), 0);
	CHECK_INTEQ((int)ss.n, 7);
	CHECK_INTEQ((int)ss.n_triggers, 2);
	CHECK(f->stages[0].steps == NULL); /* replaced */
	const struct cf_step *copy = &ss.v[3];
	CHECK_STREQ(copy->copy.srcs.v[0], "src/x.txt");
	CHECK_STREQ(copy->copy.dest, "/dst/");
	CHECK_STREQ(copy->copy.chown, "app");
	CHECK_INTEQ(copy->flags[0].line, 3);
	CHECK_INTEQ(copy->flags[0].col, 6);
	/* the raw words stay as written */
	CHECK_STREQ(copy->in->args.v[0], "src/$F");
	const struct cf_step *run = &ss.v[4];
	CHECK_STREQ(run->words.v[0], "echo $U");
	CHECK_STREQ(run->run.script, "echo $U");
	const struct cf_step *hd = &ss.v[5];
	CHECK_INTEQ((int)hd->copy.n_heredocs, 1);
	CHECK_STREQ(hd->copy.heredocs[0].data, "app\n");
	CHECK_STREQ(hd->in->heredocs[0].content, "$U\n");
	CHECK_INTEQ(hd->in->line, 5);
	CHECK_INTEQ(hd->in->end_line, 7);
	CHECK_INTEQ(hd->in->heredocs[0].line, 6);
	/* a trigger's ENV counts for the steps after it; an ARG keeps the
	 * plan's value (a trigger's ARG declares nothing) */
	CHECK_INTEQ(ss.v[0].in->line, 1);
	CHECK_STREQ(ss.v[6].copy.srcs.v[0], "trigplanned");
	cf_stage_steps_free(&ss);
	/* a bad trigger names the FROM line */
	char *bad[] = {"COPY", NULL};
	f->stages[0].steps = NULL;
	CHECK_INTEQ(cf_stage_bind(f, 0, env, bad, &ss, &err), -1);
	CHECK(err.msg && strstr(err.msg, "Containerfile:1: ONBUILD trigger of the base image"));
	nib_err_clear(&err);
	cf_file_free(f);

	/* an expansion error names the position */
	const char *env3[] = {NULL};
	struct cf_step st = {0};
	struct cf_file *g = cf_parse_buffer("C", "FROM a\nWORKDIR ${D:?no D}\n", 26, &err);
	CHECK(g && cf_instr_expand(g->stages[0].instrs[0], map_lookup, env3, &st, &err) < 0);
	CHECK(err.msg && strstr(err.msg, "C:2:9: failed to process"));
	cf_step_clear(&st);
	nib_err_clear(&err);
	cf_file_free(g);
}

static void test_lookups(void)
{
	static const char text[] = "ARG A=1\nARG B\nFROM x AS one\nFROM y AS two\n";
	struct nib_error err = {0};
	struct cf_file *f = cf_parse_buffer("Containerfile", text, sizeof(text) - 1, &err);
	const char *ba[] = {"UNUSED=1", NULL};
	struct cf_plan_opts o = {.build_args = ba};

	CHECK(f && cf_file_plan(f, &o, &err) == 0);
	if (!f)
		return;
	CHECK_STREQ(cf_file_meta_arg(f, "A"), "1");
	CHECK(cf_file_meta_arg(f, "B") == NULL);
	CHECK(cf_file_meta_arg(f, "C") == NULL);
	CHECK(cf_file_stage(f, "TWO") == &f->stages[1]);
	CHECK(cf_file_stage(f, "0") == &f->stages[0]);
	CHECK(cf_file_stage(f, "2") == NULL);
	CHECK(cf_file_stage(f, "three") == NULL);
	CHECK_INTEQ(f->unused_args.len, 1);
	CHECK_STREQ(f->unused_args.v[0], "UNUSED");
	CHECK(cf_arg_is_proxy("https_proxy"));
	CHECK(!cf_arg_is_proxy("PROXY"));
	CHECK_STREQ(cf_kind_name(CF_HEALTHCHECK), "HEALTHCHECK");
	CHECK_INTEQ(cf_kind_from_name("stopSignal"), CF_STOPSIGNAL);
	CHECK_INTEQ(cf_kind_from_name("nope"), -1);
	char *name = NULL;
	bool chomp, expand;
	CHECK(cf_heredoc_marker("<<-'EOF'", &name, &chomp, &expand));
	CHECK_STREQ(name, "EOF");
	CHECK(chomp && !expand);
	free(name);
	CHECK(!cf_heredoc_marker("<<", &name, &chomp, &expand));
	CHECK(!cf_heredoc_marker("x<<EOF", &name, &chomp, &expand));
	cf_file_free(f);
}

static void test_json_output(void)
{
	static const char text[] = "ARG V=1\nFROM a AS b\nRUN --mount=type=tmpfs,target=/t "
				   "--mount=type=tmpfs,target=/u echo \"\\x\"\nCOPY <<EOF /f\n"
				   "\xff\x01\nEOF\nCMD [\"a\"]\n";
	struct nib_error err = {0};
	struct cf_file *f = cf_parse_buffer("Containerfile", text, sizeof(text) - 1, &err);

	CHECK(f && cf_file_plan(f, NULL, &err) == 0);
	if (!f)
		return;
	_cleanup_free_ char *j = cf_file_json(f);
	CHECK(strstr(j, "\"args\":[\"V=1\"]") != NULL);
	CHECK(strstr(j, "\"mount\":[\"type=tmpfs,target=/t\",\"type=tmpfs,target=/u\"]") != NULL);
	CHECK(strstr(j, "\"content\":\"\xef\xbf\xbd\\u0001\\n\"") != NULL);
	CHECK(
	    strstr(j, "\"instruction\":\"CMD\",\"flags\":{},\"args\":[\"a\"],\"exec_form\":true") !=
	    NULL);
	CHECK(strstr(j, "\"echo \\\"\\\\x\\\"\"") != NULL);
	_cleanup_free_ char *t = cf_file_text(f);
	CHECK(strstr(t, "stage 0 \"b\": FROM a") != NULL);
	cf_file_free(f);
}

static void test_limits(void)
{
	struct nib_error err = {0};
	struct nib_buf b = {0};
	struct cf_file *f;

	/* a line of 4 MiB */
	nib_buf_puts(&b, "FROM a\nRUN echo ");
	for (int i = 0; i < (4 << 20) / 8; i++)
		nib_buf_puts(&b, "abcdefg ");
	nib_buf_puts(&b, "\n");
	f = cf_parse_buffer("C", b.data, b.len, &err);
	CHECK(f && cf_file_plan(f, NULL, &err) == 0);
	CHECK(f && strlen(f->stages[0].steps[0].words.v[0]) > (4 << 20) - 16);
	cf_file_free(f);
	nib_buf_reset(&b);
	/* a file above the limit is refused before anything else */
	size_t big = CF_MAX_FILE_SIZE + 1;
	char *data = xmalloc(big);
	memset(data, '#', big);
	f = cf_parse_buffer("C", data, big, &err);
	CHECK(f == NULL && err.msg && strstr(err.msg, "MiB"));
	nib_err_clear(&err);
	free(data);
	/* 20000 stages, each FROM the one before, and as many COPY --from */
	nib_buf_puts(&b, "FROM scratch AS s0\n");
	for (int i = 1; i < 20000; i++)
		nib_buf_printf(&b, "FROM s%d AS s%d\nCOPY --from=s%d / /\n", i - 1, i, i / 2);
	f = cf_parse_buffer("C", b.data, b.len, &err);
	CHECK(f && cf_file_plan(f, NULL, &err) == 0);
	CHECK(f && f->stages[0].needed && f->stages[19999].base_stage == 19998);
	cf_file_free(f);
	nib_buf_reset(&b);
	/* 100000 ENV pairs in one stage, each reading the one before */
	nib_buf_puts(&b, "FROM a\nENV V0=x\n");
	for (int i = 1; i < 100000; i++)
		nib_buf_printf(&b, "ENV V%d=$V%d\n", i % 1000, (i - 1) % 1000);
	f = cf_parse_buffer("C", b.data, b.len, &err);
	CHECK(f == NULL && err.msg && strstr(err.msg, "C:50001:1: more than 50000 instructions"));
	nib_err_clear(&err);
	nib_buf_reset(&b);
	nib_buf_puts(&b, "FROM a\nENV V0=x");
	for (int i = 1; i < 100000; i++)
		nib_buf_printf(&b, " V%d=$V%d", i, i - 1);
	nib_buf_puts(&b, "\nENV LAST=$V99999\n");
	f = cf_parse_buffer("C", b.data, b.len, &err);
	CHECK(f && cf_file_plan(f, NULL, &err) == 0);
	/* one ENV line sees the values from before it */
	CHECK(f && streq(f->stages[0].steps[1].words.v[0], "LAST="));
	cf_file_free(f);
	nib_buf_free(&b);
}

/* A base image's ONBUILD triggers, checked again when they run. */
static void test_trigger_parse(void)
{
	static const struct {
		const char *trigger, *want; /* want: the kind, or "!" and the error */
	} rows[] = {
	    {"RUN echo triggered > /trigger", "RUN"},
	    {"COPY --chown=1 . /app", "COPY"},
	    {"run a \\\n b", "RUN"},
	    {"ONBUILD RUN echo nested",
	     "!ONBUILD:2:1: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"},
	    {"onbuild onbuild run x", "!Chaining ONBUILD"},
	    {"ONBUILD FROM busybox", "!FROM isn't allowed as an ONBUILD trigger"},
	    {"FROM busybox", "!ONBUILD:2:1: FROM isn't allowed as an ONBUILD trigger"},
	    {"from busybox AS x", "!FROM isn't allowed as an ONBUILD trigger"},
	    {"MAINTAINER someone", "!ONBUILD:2:1: MAINTAINER isn't allowed as an ONBUILD trigger"},
	    {"", "!exactly one instruction, not 0"},
	    {"# only a comment", "!exactly one instruction, not 0"},
	    {"RUN a\nRUN b", "!exactly one instruction, not 2"},
	    {"FOO bar", "!ONBUILD:2:1: unknown instruction"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		struct nib_error err = {0};
		struct cf_instr *in = (struct cf_instr *)1;
		struct cf_file *f = cf_trigger_parse(rows[i].trigger, &in, &err);
		bool ok;
		if (rows[i].want[0] == '!')
			ok = !f && !in && err.kind == NIB_ERR_SYNTAX && err.msg &&
			     strstr(err.msg, rows[i].want + 1);
		else
			ok = f && in && streq(cf_kind_name(in->kind), rows[i].want) &&
			     in == f->instrs[1];
		unit_row(rows[i].trigger, ok, err.msg ? err.msg : "accepted");
		cf_file_free(f);
		nib_err_clear(&err);
	}
}

static void test_csv_split(void)
{
	struct nib_strv v = {0};

	CHECK(cf_csv_split("type=bind,\"source=a,b\",ro", &v) == 0);
	CHECK_INTEQ((int)v.len, 3);
	CHECK_STREQ(v.v[1], "source=a,b");
	CHECK_STREQ(v.v[2], "ro");
	nib_strv_free(&v);
	CHECK(cf_csv_split("target=\"x\"\"y\",,", &v) == 0);
	CHECK_INTEQ((int)v.len, 3);
	CHECK_STREQ(v.v[0], "target=x\"y");
	CHECK_STREQ(v.v[1], "");
	nib_strv_free(&v);
	CHECK(cf_csv_split("a=\"open", &v) == -1);
	nib_strv_free(&v);
}

int main(void)
{
	test_cases();
	RUN(test_csv_split);
	RUN(test_trigger_parse);
	RUN(test_stage_bind);
	RUN(test_lookups);
	RUN(test_json_output);
	RUN(test_limits);
	return unit_done();
}
