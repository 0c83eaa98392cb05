/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for containerfile/ expansion: BuildKit's shell lexer tables
 * (envVarTest, wordsTest, the pattern and replacement cases), copied here as
 * data, plus nib's own rows for nesting limits and the word-splitting API.
 */
#define NIB_CONTAINERFILE_INTERNAL
#include "containerfile/cf_internal.h"
#include "tests/unit/unit.h"

#include <string.h>

struct env {
	const char *lines; /* "K=V\nK2=V2" */
};

/* Look `name` up in "K=V\n..." lines (the last one wins). */
static const char *env_lookup(void *ud, const char *name)
{
	static char value[65536];
	const char *s = ((struct env *)ud)->lines, *found = NULL;
	size_t n = strlen(name);

	while (s && *s) {
		const char *nl = strchr(s, '\n');
		size_t len = nl ? (size_t)(nl - s) : strlen(s);
		if (len >= n && strncmp(s, name, n) == 0 && (len == n || s[n] == '=')) {
			size_t vl = len > n ? len - n - 1 : 0;
			if (vl >= sizeof(value))
				vl = sizeof(value) - 1;
			memcpy(value, len > n ? s + n + 1 : "", vl);
			value[vl] = '\0';
			found = value;
		}
		s = nl ? nl + 1 : NULL;
	}
	return found;
}

static const struct {
	int line;
	const char *in, *want;
} envvar_rows[] = {
    /* BuildKit shell/envVarTest rows (platforms A and U), env: PWD=/home
     * SHELL=bash KOREAN=\355\225\234\352\265\255\354\226\264 NULL= ; "error" means the expansion
     * fails. */
    {1, "hello", "hello"},
    {2, "he'll'o", "hello"},
    {3, "he'llo", "error"},
    {4, "he\\'llo", "he'llo"},
    {5, "he\\\\'llo", "error"},
    {6, "abc\\tdef", "abctdef"},
    {7, "\"abc\\tdef\"", "abc\\tdef"},
    {8, "\"abc\\\\tdef\"", "abc\\tdef"},
    {9, "'abc\\tdef'", "abc\\tdef"},
    {10, "hello\\", "hello"},
    {11, "hello\\\\", "hello\\"},
    {12, "\"hello", "error"},
    {13, "\"hello\\\"", "error"},
    {14, "\"hel'lo\"", "hel'lo"},
    {15, "'hello", "error"},
    {16, "'hello\\'", "hello\\"},
    {17, "'hello\\there'", "hello\\there"},
    {18, "'hello\\\\there'", "hello\\\\there"},
    {19, "\"''\"", "''"},
    {20, "$.", "$."},
    {21, "he$1x", "hex"},
    {22, "he$.x", "he$.x"},
    {24, "he$pwd.", "he."},
    {26, "he$PWD", "he/home"},
    {27, "he\\$PWD", "he$PWD"},
    {28, "he\\\\$PWD", "he\\/home"},
    {29, "\"he\\$PWD\"", "he$PWD"},
    {30, "\"he\\\\$PWD\"", "he\\/home"},
    {31, "\\${}", "${}"},
    {32, "\\${}aaa", "${}aaa"},
    {33, "he\\${}", "he${}"},
    {34, "he\\${}xx", "he${}xx"},
    {35, "${}", "error"},
    {36, "${}aaa", "error"},
    {37, "he${}", "error"},
    {38, "he${}xx", "error"},
    {39, "he${hi}", "he"},
    {40, "he${hi}xx", "hexx"},
    {41, "he${PWD}", "he/home"},
    {42, "he${.}", "error"},
    {43, "he${XXX:-000}xx", "he000xx"},
    {44, "he${PWD:-000}xx", "he/homexx"},
    {45, "he${XXX:-$PWD}xx", "he/homexx"},
    {46, "he${XXX:-${PWD:-yyy}}xx", "he/homexx"},
    {47, "he${XXX:-${YYY:-yyy}}xx", "heyyyxx"},
    {48, "he${XXX:YYY}", "error"},
    {49, "he${XXX?}", "error"},
    {50, "he${XXX:?}", "error"},
    {51, "he${PWD?}", "he/home"},
    {52, "he${PWD:?}", "he/home"},
    {53, "he${NULL?}", "he"},
    {54, "he${NULL:?}", "error"},
    {55, "he${XXX:+${PWD}}xx", "hexx"},
    {56, "he${PWD:+${XXX}}xx", "hexx"},
    {57, "he${PWD:+${SHELL}}xx", "hebashxx"},
    {58, "he${XXX:+000}xx", "hexx"},
    {59, "he${PWD:+000}xx", "he000xx"},
    {60, "'he${XX}'", "he${XX}"},
    {61, "\"he${PWD}\"", "he/home"},
    {62, "\"he'$PWD'\"", "he'/home'"},
    {63, "\"$PWD\"", "/home"},
    {64, "'$PWD'", "$PWD"},
    {65, "'\\$PWD'", "\\$PWD"},
    {66, "'\"hello\"'", "\"hello\""},
    {67, "he\\$PWD", "he$PWD"},
    {68, "\"he\\$PWD\"", "he$PWD"},
    {69, "'he\\$PWD'", "he\\$PWD"},
    {70, "he${PWD", "error"},
    {71, "he${PWD:=000}xx", "error"},
    {72, "he${PWD:+${PWD}:}xx", "he/home:xx"},
    {73, "he${XXX:-\\$PWD:}xx", "he$PWD:xx"},
    {74, "he${XXX:-\\${PWD}z}xx", "he${PWDz}xx"},
    {75, "\354\225\210\353\205\225\355\225\230\354\204\270\354\232\224",
     "\354\225\210\353\205\225\355\225\230\354\204\270\354\232\224"},
    {76, "\354\225\210'\353\205\225'\355\225\230\354\204\270\354\232\224",
     "\354\225\210\353\205\225\355\225\230\354\204\270\354\232\224"},
    {77, "\354\225\210'\353\205\225\355\225\230\354\204\270\354\232\224", "error"},
    {78, "\354\225\210\353\205\225\\'\355\225\230\354\204\270\354\232\224",
     "\354\225\210\353\205\225'\355\225\230\354\204\270\354\232\224"},
    {79, "\354\225\210\\\\'\353\205\225\355\225\230\354\204\270\354\232\224", "error"},
    {80, "\354\225\210\353\205\225\\t\355\225\230\354\204\270\354\232\224",
     "\354\225\210\353\205\225t\355\225\230\354\204\270\354\232\224"},
    {81, "\"\354\225\210\353\205\225\\t\355\225\230\354\204\270\354\232\224\"",
     "\354\225\210\353\205\225\\t\355\225\230\354\204\270\354\232\224"},
    {82, "'\354\225\210\353\205\225\\t\355\225\230\354\204\270\354\232\224", "error"},
    {83, "\354\225\210\353\205\225\355\225\230\354\204\270\354\232\224\\",
     "\354\225\210\353\205\225\355\225\230\354\204\270\354\232\224"},
    {84, "\354\225\210\353\205\225\355\225\230\354\204\270\354\232\224\\\\",
     "\354\225\210\353\205\225\355\225\230\354\204\270\354\232\224\\"},
    {85, "\"\354\225\210\353\205\225\355\225\230\354\204\270\354\232\224", "error"},
    {86, "\"\354\225\210\353\205\225\355\225\230\354\204\270\354\232\224\\\"", "error"},
    {87, "\"\354\225\210\353\205\225'\355\225\230\354\204\270\354\232\224\"",
     "\354\225\210\353\205\225'\355\225\230\354\204\270\354\232\224"},
    {88, "'\354\225\210\353\205\225\355\225\230\354\204\270\354\232\224", "error"},
    {89, "'\354\225\210\353\205\225\355\225\230\354\204\270\354\232\224\\'",
     "\354\225\210\353\205\225\355\225\230\354\204\270\354\232\224\\"},
    {90, "\354\225\210\353\205\225$1x", "\354\225\210\353\205\225x"},
    {91, "\354\225\210\353\205\225$.x", "\354\225\210\353\205\225$.x"},
    {93, "\354\225\210\353\205\225$pwd.", "\354\225\210\353\205\225."},
    {95, "\354\225\210\353\205\225$PWD", "\354\225\210\353\205\225/home"},
    {96, "\354\225\210\353\205\225\\$PWD", "\354\225\210\353\205\225$PWD"},
    {97, "\354\225\210\353\205\225\\\\$PWD", "\354\225\210\353\205\225\\/home"},
    {98, "\354\225\210\353\205\225\\${}", "\354\225\210\353\205\225${}"},
    {99, "\354\225\210\353\205\225\\${}xx", "\354\225\210\353\205\225${}xx"},
    {100, "\354\225\210\353\205\225${}", "error"},
    {101, "\354\225\210\353\205\225${}xx", "error"},
    {102, "\354\225\210\353\205\225${hi}", "\354\225\210\353\205\225"},
    {103, "\354\225\210\353\205\225${hi}xx", "\354\225\210\353\205\225xx"},
    {104, "\354\225\210\353\205\225${PWD}", "\354\225\210\353\205\225/home"},
    {105, "\354\225\210\353\205\225${.}", "error"},
    {106, "\354\225\210\353\205\225${XXX:-000}xx", "\354\225\210\353\205\225000xx"},
    {107, "\354\225\210\353\205\225${PWD:-000}xx", "\354\225\210\353\205\225/homexx"},
    {108, "\354\225\210\353\205\225${XXX:-$PWD}xx", "\354\225\210\353\205\225/homexx"},
    {109, "\354\225\210\353\205\225${XXX:-${PWD:-yyy}}xx", "\354\225\210\353\205\225/homexx"},
    {110, "\354\225\210\353\205\225${XXX:-${YYY:-yyy}}xx", "\354\225\210\353\205\225yyyxx"},
    {111, "\354\225\210\353\205\225${XXX:YYY}", "error"},
    {112, "\354\225\210\353\205\225${XXX:+${PWD}}xx", "\354\225\210\353\205\225xx"},
    {113, "\354\225\210\353\205\225${PWD:+${XXX}}xx", "\354\225\210\353\205\225xx"},
    {114, "\354\225\210\353\205\225${PWD:+${SHELL}}xx", "\354\225\210\353\205\225bashxx"},
    {115, "\354\225\210\353\205\225${XXX:+000}xx", "\354\225\210\353\205\225xx"},
    {116, "\354\225\210\353\205\225${PWD:+000}xx", "\354\225\210\353\205\225000xx"},
    {117, "'\354\225\210\353\205\225${XX}'", "\354\225\210\353\205\225${XX}"},
    {118, "\"\354\225\210\353\205\225${PWD}\"", "\354\225\210\353\205\225/home"},
    {119, "\"\354\225\210\353\205\225'$PWD'\"", "\354\225\210\353\205\225'/home'"},
    {120, "'\"\354\225\210\353\205\225\"'", "\"\354\225\210\353\205\225\""},
    {121, "\354\225\210\353\205\225\\$PWD", "\354\225\210\353\205\225$PWD"},
    {122, "\"\354\225\210\353\205\225\\$PWD\"", "\354\225\210\353\205\225$PWD"},
    {123, "'\354\225\210\353\205\225\\$PWD'", "\354\225\210\353\205\225\\$PWD"},
    {124, "\354\225\210\353\205\225${PWD", "error"},
    {125, "\354\225\210\353\205\225${PWD:=000}xx", "error"},
    {126, "\354\225\210\353\205\225${PWD:+${PWD}:}xx", "\354\225\210\353\205\225/home:xx"},
    {127, "\354\225\210\353\205\225${XXX:-\\$PWD:}xx", "\354\225\210\353\205\225$PWD:xx"},
    {128, "\354\225\210\353\205\225${XXX:-\\${PWD}z}xx", "\354\225\210\353\205\225${PWDz}xx"},
    {129, "$KOREAN", "\355\225\234\352\265\255\354\226\264"},
    {130, "\354\225\210\353\205\225$KOREAN",
     "\354\225\210\353\205\225\355\225\234\352\265\255\354\226\264"},
    {131, "${{aaa}", "error"},
    {132, "${aaa}}", "}"},
    {133, "${aaa", "error"},
    {134, "${{aaa:-bbb}", "error"},
    {135, "${aaa:-bbb}}", "bbb}"},
    {136, "${aaa:-bbb", "error"},
    {137, "${aaa:-bbb}", "bbb"},
    {138, "${aaa:-${bbb:-ccc}}", "ccc"},
    {139, "${aaa:-bbb ${foo}", "error"},
    {140, "${aaa:-bbb {foo}", "bbb {foo"},
    {141, "${:}", "error"},
    {142, "${:-bbb}", "error"},
    {143, "${:+bbb}", "error"},
    {147, "$1", ""},
    {148, "${1}", ""},
    {149, "${1:+bbb}", ""},
    {150, "${1:-bbb}", "bbb"},
    {151, "$2", ""},
    {152, "${2}", ""},
    {153, "${2:+bbb}", ""},
    {154, "${2:-bbb}", "bbb"},
    {155, "$3", ""},
    {156, "${3}", ""},
    {157, "${3:+bbb}", ""},
    {158, "${3:-bbb}", "bbb"},
    {159, "$4", ""},
    {160, "${4}", ""},
    {161, "${4:+bbb}", ""},
    {162, "${4:-bbb}", "bbb"},
    {163, "$5", ""},
    {164, "${5}", ""},
    {165, "${5:+bbb}", ""},
    {166, "${5:-bbb}", "bbb"},
    {167, "$6", ""},
    {168, "${6}", ""},
    {169, "${6:+bbb}", ""},
    {170, "${6:-bbb}", "bbb"},
    {171, "$7", ""},
    {172, "${7}", ""},
    {173, "${7:+bbb}", ""},
    {174, "${7:-bbb}", "bbb"},
    {175, "$8", ""},
    {176, "${8}", ""},
    {177, "${8:+bbb}", ""},
    {178, "${8:-bbb}", "bbb"},
    {179, "$9", ""},
    {180, "${9}", ""},
    {181, "${9:+bbb}", ""},
    {182, "${9:-bbb}", "bbb"},
    {183, "$999", ""},
    {184, "${999}", ""},
    {185, "${999:+bbb}", ""},
    {186, "${999:-bbb}", "bbb"},
    {187, "$999aaa", "aaa"},
    {188, "${999}aaa", "aaa"},
    {189, "${999:+bbb}aaa", "aaa"},
    {190, "${999:-bbb}aaa", "bbbaaa"},
    {191, "$001", ""},
    {192, "${001}", ""},
    {193, "${001:+bbb}", ""},
    {194, "${001:-bbb}", "bbb"},
    {195, "$001aaa", "aaa"},
    {196, "${001}aaa", "aaa"},
    {197, "${001:+bbb}aaa", "aaa"},
    {198, "${001:-bbb}aaa", "bbbaaa"},
    {202, "$@", ""},
    {203, "${@}", ""},
    {204, "${@:+bbb}", ""},
    {205, "${@:-bbb}", "bbb"},
    {206, "$@@@", "@@"},
    {207, "$@aaa", "aaa"},
    {208, "${@}aaa", "aaa"},
    {209, "${@:+bbb}aaa", "aaa"},
    {210, "${@:-bbb}aaa", "bbbaaa"},
    {211, "$*", ""},
    {212, "${*}", ""},
    {213, "${*:+bbb}", ""},
    {214, "${*:-bbb}", "bbb"},
    {215, "$#", ""},
    {216, "${#}", ""},
    {217, "${#:+bbb}", ""},
    {218, "${#:-bbb}", "bbb"},
    {219, "$?", ""},
    {220, "${?}", ""},
    {221, "${?:+bbb}", ""},
    {222, "${?:-bbb}", "bbb"},
    {223, "$-", ""},
    {224, "${-}", ""},
    {225, "${-:+bbb}", ""},
    {226, "${-:-bbb}", "bbb"},
    {227, "$$", ""},
    {228, "${$}", ""},
    {229, "${$:+bbb}", ""},
    {230, "${$:-bbb}", "bbb"},
    {231, "$!", ""},
    {232, "${!}", ""},
    {233, "${!:+bbb}", ""},
    {234, "${!:-bbb}", "bbb"},
    {235, "$0", ""},
    {236, "${0}", ""},
    {237, "${0:+bbb}", ""},
    {238, "${0:-bbb}", "bbb"},
};

static void test_envvar_table(void)
{
	struct env e = {
	    "PWD=/home\nSHELL=bash\nKOREAN=\355\225\234\352\265\255\354\226\264\nNULL="};

	for (size_t i = 0; i < ARRAY_SIZE(envvar_rows); i++) {
		struct nib_error err = {0};
		char *out = NULL, name[96], why[512];
		int r = cf_expand_word(envvar_rows[i].in, '\\', 0, env_lookup, &e, &out, &err);
		bool want_err = strcmp(envvar_rows[i].want, "error") == 0;
		bool ok = want_err ? r < 0 : (r == 0 && strcmp(out, envvar_rows[i].want) == 0);
		snprintf(name, sizeof(name), "envVarTest line %d", envvar_rows[i].line);
		snprintf(why, sizeof(why), "input '%s': got %s '%s', want '%s'", envvar_rows[i].in,
			 r < 0 ? "error" : "value", r < 0 ? (err.msg ? err.msg : "") : out,
			 envvar_rows[i].want);
		unit_row(name, ok, ok ? NULL : why);
		free(out);
		nib_err_clear(&err);
	}
}

static const struct {
	int line;
	const char *env, *in, *want; /* want: words joined with ',' or "error" */
} words_rows[] = {
    {1, "", "hello", "hello"},
    {2, "", "hello${hi}bye", "hellobye"},
    {4, "hi=hi", "hello${hi}bye", "hellohibye"},
    {6, "hi=hi\nspace=abc  def", "hello${space}bye", "helloabc,defbye"},
    {7, "hi=hi\nspace=abc  def", "hello\"${space}\"bye", "helloabc  defbye"},
    {8, "hi=hi\nspace=abc  def", "hello \"${space}\"bye", "hello,abc  defbye"},
    {10, "hi=hi\nspace=abc  def\nleading=  ab c", "hello${leading}def", "hello,ab,cdef"},
    {11, "hi=hi\nspace=abc  def\nleading=  ab c", "hello\"${leading}\" def", "hello  ab c,def"},
    {12, "hi=hi\nspace=abc  def\nleading=  ab c", "hello\"${leading}\"", "hello  ab c"},
    {13, "hi=hi\nspace=abc  def\nleading=  ab c", "hello${leading}", "hello,ab,c"},
    {16, "hi=hi\nspace=abc  def\nleading=  ab c\ntrailing=ab c   ", "hello${trailing}",
     "helloab,c"},
    {17, "hi=hi\nspace=abc  def\nleading=  ab c\ntrailing=ab c   ", "hello${trailing}d",
     "helloab,c,d"},
    {18, "hi=hi\nspace=abc  def\nleading=  ab c\ntrailing=ab c   ", "hello\"${trailing}\"d",
     "helloab c   d"},
    {20, "hi=hi\nspace=abc  def\nleading=  ab c\ntrailing=ab c   ", "hel\"lo${trailing}\"",
     "helloab c   "},
    {21, "hi=hi\nspace=abc  def\nleading=  ab c\ntrailing=ab c   ", "hello\" there  \"",
     "hello there  "},
    {22, "hi=hi\nspace=abc  def\nleading=  ab c\ntrailing=ab c   ", "hello there", "hello,there"},
    {23, "hi=hi\nspace=abc  def\nleading=  ab c\ntrailing=ab c   ", "hello\\ there", "hello there"},
    {24, "hi=hi\nspace=abc  def\nleading=  ab c\ntrailing=ab c   ", "hello\" there", "error"},
    {25, "hi=hi\nspace=abc  def\nleading=  ab c\ntrailing=ab c   ", "hello\\\" there",
     "hello\",there"},
    {26, "hi=hi\nspace=abc  def\nleading=  ab c\ntrailing=ab c   ", "hello\"\\\\there\"",
     "hello\\there"},
    {27, "hi=hi\nspace=abc  def\nleading=  ab c\ntrailing=ab c   ", "hello\"\\there\"",
     "hello\\there"},
    {28, "hi=hi\nspace=abc  def\nleading=  ab c\ntrailing=ab c   ", "hello'\\\\there'",
     "hello\\\\there"},
    {29, "hi=hi\nspace=abc  def\nleading=  ab c\ntrailing=ab c   ", "hello'\\there'",
     "hello\\there"},
    {30, "hi=hi\nspace=abc  def\nleading=  ab c\ntrailing=ab c   ", "hello'$there'", "hello$there"},
};

static void test_words_table(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(words_rows); i++) {
		struct env e = {words_rows[i].env};
		struct nib_strv w = {0};
		struct nib_error err = {0};
		char name[96], why[512];
		char *got;
		int r = cf_expand_words(words_rows[i].in, '\\', 0, env_lookup, &e, &w, &err);
		got = r < 0 ? xstrdup("error") : nib_strv_join(&w, ",");
		bool ok = strcmp(got, words_rows[i].want) == 0;
		snprintf(name, sizeof(name), "wordsTest line %d", words_rows[i].line);
		snprintf(why, sizeof(why), "input '%s': got '%s', want '%s'", words_rows[i].in, got,
			 words_rows[i].want);
		unit_row(name, ok, ok ? NULL : why);
		free(got);
		nib_strv_free(&w);
		nib_err_clear(&err);
	}
}

/* BuildKit's pattern and modifier cases; want NULL = error */
static const struct {
	const char *in, *env, *want;
} mod_rows[] = {
    {"x", "DUMMY=dummy", "x"},
    {"x ${UNUSED}", "DUMMY=dummy", "x "},
    {"x ${FOO}", "FOO=y", "x y"},
    {"${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}", "FOO=xxx\nBAR=", "xxx  ccc"},
    {"${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}", "FOO=xxx\nBAR=", "xxx bbb ccc"},
    {"${FOO:-}", "FOO=xxx\nBAR=", "xxx"},
    {"${FOO:-}", "", ""},
    {"${FOO+aaa} ${BAR+bbb} ${BAZ+ccc}", "FOO=xxx\nBAR=", "aaa bbb "},
    {"${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}", "FOO=xxx\nBAR=", "aaa  "},
    {"${FOO?aaa}", "FOO=xxx\nBAR=", "xxx"},
    {"${BAR?bbb}", "FOO=xxx\nBAR=", ""},
    {"${BAZ?ccc}", "FOO=xxx\nBAR=", NULL},
    {"${FOO:?aaa}", "FOO=xxx\nBAR=", "xxx"},
    {"${BAR:?bbb}", "FOO=xxx\nBAR=", NULL},
    {"${BAZ:?ccc}", "FOO=xxx\nBAR=", NULL},
    {"${BAZ:?}", "FOO=xxx\nBAR=", NULL},
    {"${FOO=aaa}", "FOO=xxx\nBAR=", NULL},
    {"${FOO=:aaa}", "FOO=xxx\nBAR=", NULL},
    {"${FOO=}", "", NULL},
    {"${FOO#()[]{\\}^$.\\*\\?|\\\\}", "FOO=()[]{}^$.*?|\\x", "x"},
    {"${FOO%%\\**}", "FOO=xx**", "xx"},
    {"${FOO#*x*y}", "FOO=xxyy", "y"},
    {"${FOO#*}", "FOO=xxyy", "xxyy"},
    {"${FOO#$BAR}", "FOO=xxyy\nBAR=x", "xyy"},
    {"${FOO#$BAR}", "FOO=xxyy\nBAR=", "xxyy"},
    {"${FOO#}", "FOO=xxyy", "xxyy"},
    {"${FOO##*x}", "FOO=xxyy", "yy"},
    {"${FOO##}", "FOO=xxyy", "xxyy"},
    {"${FOO#?\\?}", "FOO=???y", "?y"},
    {"${ABC:-.}${FOO%x}${ABC:-.}", "FOO=xxyy", ".xxyy."},
    {"${FOO%%\\**\\*}", "FOO=a***yy*", "a"},
    {"${FOO%}", "FOO=xxyy", "xxyy"},
    {"${FOO%%$BAR}", "FOO=xxyy\nBAR=", "xxyy"},
    {"${FOO%y}", "FOO=xxyy", "xxy"},
    {"${FOO%%y*}", "FOO=xxyy", "xx"},
    {"${FOO%y*}", "FOO=xxyy", "xxy"},
    {"${FOO#x}", "FOO=xxyy", "xyy"},
    {"${FOO##x*}", "FOO=xxyy", ""},
    {"${FOO%.*}", "FOO=archive.tar.gz", "archive.tar"},
    {"${FOO%%.*}", "FOO=archive.tar.gz", "archive"},
    {"${FOO#*/}", "FOO=a/b/c", "b/c"},
    {"${FOO##*/}", "FOO=a/b/c", "c"},
    {"${FOO#\\x}", "FOO=xx", NULL},
    {"${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}", "FOO=/foo*/*/*.txt\nNEEDLE=\\*/",
     "/foo.*/*.txt - /foo..*.txt"},
    {"${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}", "FOO=/tmp/tmp/bar.txt\nNEEDLE=/tmp",
     "/tmp/bar.txt - /bar.txt"},
    {"${FOO/$NEEDLE/$REPLACEMENT} - ${FOO//$NEEDLE/$REPLACEMENT}",
     "FOO=/a/foo/b/c.txt\nNEEDLE=/?/\nREPLACEMENT=/", "/foo/b/c.txt - /foo/c.txt"},
    {"${FOO/$NEEDLE/$REPLACEMENT}", "FOO=http://google.de\nNEEDLE=http://\nREPLACEMENT=https://",
     "https://google.de"},
    {"${FOO//\\//\\/}", "FOO=/tmp/foo.txt", "\\/tmp\\/foo.txt"},
    {"${FOO/$BAR/ww}", "FOO=xxyy\nBAR=", "wwxxyy"},
    {"${FOO//ww}", "FOO=xxyy", NULL},
    {"${FOO//}", "FOO=xxyy", NULL},
    {"${FOO///}", "FOO=xxyy", "xxyy"},
    {"${FOO///}", "", ""},
    {"${FOO/x/X}", "FOO=xxyy", "Xxyy"},
    {"${FOO//x/X}", "FOO=xxyy", "XXyy"},
    {"${FOO//y*/Z}", "FOO=xxyy", "xxZ"},
    {"${FOO//?/-}", "FOO=abc", "---"},
    {"something-${VERSION}.${TARGETOS}-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}.tar.gz",
     "VERSION=v1.2.3\nTARGETOS=linux\nTARGETARCH=arm\nTARGETVARIANT=v7",
     "something-v1.2.3.linux-arm-v7.tar.gz"},
    {"something-${VERSION}.${TARGETOS}-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}.tar.gz",
     "VERSION=v1.2.3\nTARGETOS=linux\nTARGETARCH=amd64\nTARGETVARIANT=",
     "something-v1.2.3.linux-amd64.tar.gz"},
    {"${VAR:?message here$ARG}", "VAR=plain\nARG=x", "plain"},
    {"${VAR:?message here$ARG}", "VAR=\nARG=x", NULL},
    {"${VAR:?message here$ARG}", "ARG=x", NULL},
    {"${VAR?message here$ARG}", "VAR=plain\nARG=x", "plain"},
    {"${VAR?message here$ARG}", "VAR=\nARG=x", ""},
    {"${VAR?message here$ARG}", "ARG=x", NULL},
    {"\\$FOO", "FOO=x", "$FOO"},
    {"'$FOO'", "FOO=x", "$FOO"},
    {"\"$FOO\"", "FOO=x y", "x y"},
    {"${FOO:-\"a b\"}", "", "a b"},
    {"${FOO:-'$BAR'}", "BAR=z", "$BAR"},
};

static void test_modifier_table(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(mod_rows); i++) {
		struct env e = {mod_rows[i].env};
		struct nib_error err = {0};
		char *out = NULL, name[160], why[512];
		int r = cf_expand_word(mod_rows[i].in, '\\', 0, env_lookup, &e, &out, &err);
		bool ok = mod_rows[i].want ? (r == 0 && strcmp(out, mod_rows[i].want) == 0) : r < 0;
		snprintf(name, sizeof(name), "modifier %zu: %s", i, mod_rows[i].in);
		snprintf(why, sizeof(why), "got %s '%s', want '%s'", r < 0 ? "error" : "value",
			 r < 0 ? (err.msg ? err.msg : "") : out,
			 mod_rows[i].want ? mod_rows[i].want : "error");
		unit_row(name, ok, ok ? NULL : why);
		free(out);
		nib_err_clear(&err);
	}
}

static void test_error_messages(void)
{
	struct env e = {"SET=1"};
	struct nib_error err = {0};
	char *out = NULL;

	CHECK(cf_expand_word("${NEED:?you must set NEED}", '\\', 0, env_lookup, &e, &out, &err) <
	      0);
	CHECK(err.msg && strstr(err.msg, "NEED: you must set NEED"));
	nib_err_clear(&err);
	CHECK(cf_expand_word("${NEED:?}", '\\', 0, env_lookup, &e, &out, &err) < 0);
	CHECK(err.msg && strstr(err.msg, "NEED: is not allowed to be empty") == NULL &&
	      strstr(err.msg, "NEED: is not allowed to be unset"));
	nib_err_clear(&err);
	CHECK(cf_expand_word("${SET", '\\', 0, env_lookup, &e, &out, &err) < 0);
	CHECK(err.msg && strstr(err.msg, "missing '}'"));
	nib_err_clear(&err);
	CHECK(cf_expand_word("\"open", '\\', 0, env_lookup, &e, &out, &err) < 0);
	CHECK(err.msg && strstr(err.msg, "double-quote"));
	nib_err_clear(&err);
}

static void test_escape_token(void)
{
	struct env e = {"A=1"};
	char *out = NULL;

	/* with `escape=`\``, the backtick escapes and the backslash is literal */
	CHECK(cf_expand_word("C:\\dir\\$A", '`', 0, env_lookup, &e, &out, NULL) == 0);
	CHECK_STREQ(out, "C:\\dir\\1");
	free(out);
	CHECK(cf_expand_word("`$A", '`', 0, env_lookup, &e, &out, NULL) == 0);
	CHECK_STREQ(out, "$A");
	free(out);
	CHECK(cf_expand_word("\"a`\"b\"", '`', 0, env_lookup, &e, &out, NULL) == 0);
	CHECK_STREQ(out, "a\"b");
	free(out);
}

static void test_flags(void)
{
	struct env e = {"A=1"};
	char *out = NULL;

	CHECK(cf_expand_word("'q' \"$A\" $B", '\\', CF_EXPAND_RAW_QUOTES | CF_EXPAND_KEEP_UNSET,
			     env_lookup, &e, &out, NULL) == 0);
	CHECK_STREQ(out, "'q' \"1\" $B");
	free(out);
	CHECK(cf_expand_word("\"$A\" ${B:-x}", '\\', CF_EXPAND_NO_QUOTES | CF_EXPAND_KEEP_UNSET,
			     env_lookup, &e, &out, NULL) == 0);
	CHECK_STREQ(out, "\"1\" ${B:-x}");
	free(out);
	CHECK(cf_expand_word("a\\b", '\\', CF_EXPAND_RAW_ESCAPES, env_lookup, &e, &out, NULL) == 0);
	CHECK_STREQ(out, "a\\b");
	free(out);
	/* no lookup function: every variable is unset */
	CHECK(cf_expand_word("x${A:-y}", '\\', 0, NULL, NULL, &out, NULL) == 0);
	CHECK_STREQ(out, "xy");
	free(out);
}

static void test_limits(void)
{
	struct env e = {"A=1"};
	struct nib_buf b = {0};
	struct nib_error err = {0};
	char *out = NULL;

	/* deeply nested ${...} is refused, not a stack overflow */
	for (int i = 0; i < 100000; i++)
		nib_buf_puts(&b, "${A:-");
	for (int i = 0; i < 100000; i++)
		nib_buf_putc(&b, '}');
	CHECK(cf_expand_word(b.data, '\\', 0, env_lookup, &e, &out, &err) < 0);
	CHECK(err.msg && strstr(err.msg, "nested"));
	nib_err_clear(&err);
	nib_buf_reset(&b);
	/* nesting below the limit works */
	for (int i = 0; i < CF_MAX_EXPAND_DEPTH - 1; i++)
		nib_buf_puts(&b, "${X:-");
	nib_buf_puts(&b, "$A");
	for (int i = 0; i < CF_MAX_EXPAND_DEPTH - 1; i++)
		nib_buf_putc(&b, '}');
	CHECK(cf_expand_word(b.data, '\\', 0, env_lookup, &e, &out, &err) == 0);
	CHECK_STREQ(out, "1");
	free(out);
	nib_buf_reset(&b);
	/* a long value with a pathological pattern stays linear */
	for (int i = 0; i < 20000; i++)
		nib_buf_putc(&b, 'a');
	_cleanup_free_ char *envs = xasprintf("V=%s", b.data);
	struct env e2 = {envs};
	CHECK(cf_expand_word("${V##*a*a*a*a*a*b}", '\\', 0, env_lookup, &e2, &out, &err) == 0);
	CHECK(out && strlen(out) == 20000);
	free(out);
	CHECK(cf_expand_word("${V//a/bb}", '\\', 0, env_lookup, &e2, &out, &err) == 0);
	CHECK(out && strlen(out) == 40000);
	free(out);
	nib_buf_free(&b);
}

static const char *big_lookup(void *ud, const char *name)
{
	return streq(name, "BIG") ? ud : streq(name, "A") ? "aaaa" : NULL;
}

static const char *a_lookup(void *ud, const char *name)
{
	return streq(name, "a") ? ud : NULL;
}

/* An expansion result is capped (CF_MAX_EXPAND_SIZE beyond the text). */
static void test_size_cap(void)
{
	size_t n = CF_MAX_EXPAND_SIZE / 2 + 1000;
	_cleanup_free_ char *big = xmalloc(n + 1), *lit = xmalloc(2 * CF_MAX_EXPAND_SIZE + 1);
	struct nib_error err = {0};
	char *out = NULL;

	memset(big, 'a', n);
	big[n] = '\0';
	CHECK(cf_expand_word("$BIG", '\\', 0, big_lookup, big, &out, &err) == 0);
	CHECK(out && strlen(out) == n);
	free(out);
	out = NULL;
	static const char *const over[] = {"$BIG$BIG",	     "${BIG}x${BIG}", "\"$BIG\"$BIG",
					   "${X:-$BIG$BIG}", "${BIG//a/bb}",  "${A//a/$BIG}"};
	for (size_t i = 0; i < ARRAY_SIZE(over); i++) {
		int r = cf_expand_word(over[i], '\\', 0, big_lookup, big, &out, &err);
		unit_row(over[i],
			 r < 0 && !out && err.kind == NIB_ERR_SYNTAX && err.msg &&
			     strstr(err.msg, "variable expansion result longer than") &&
			     strlen(err.msg) < 300,
			 err.msg);
		free(out);
		out = NULL;
		nib_err_clear(&err);
	}
	/* words: the same cap */
	struct nib_strv w = {0};
	CHECK(cf_expand_words("$BIG $BIG $BIG", '\\', 0, big_lookup, big, &w, &err) < 0);
	CHECK(err.msg && strstr(err.msg, "longer than"));
	nib_strv_free(&w);
	nib_err_clear(&err);
	/* long text as written (a heredoc body) is not growth */
	memset(lit, 'x', 2 * CF_MAX_EXPAND_SIZE);
	lit[2 * CF_MAX_EXPAND_SIZE] = '\0';
	CHECK(cf_expand_word(lit, '\\', CF_EXPAND_NO_QUOTES, big_lookup, big, &out, &err) == 0);
	CHECK(out && strlen(out) == 2 * CF_MAX_EXPAND_SIZE);
	free(out);
}

/* "ENV a=$a$a" line after line: refused at the line that passes the cap,
 * quickly, with file:line; thousands of lines near the cap hit the total. */
static void test_size_cap_plan(void)
{
	struct nib_buf b = {0};
	struct nib_error err = {0};
	struct cf_file *f;

	nib_buf_puts(&b, "FROM scratch\nENV a=x\n");
	for (int i = 0; i < 40; i++)
		nib_buf_puts(&b, "ENV a=$a$a\n");
	f = cf_parse_buffer("Doubling", b.data, b.len, &err);
	CHECK(f && cf_file_plan(f, NULL, &err) < 0);
	CHECK(err.kind == NIB_ERR_SYNTAX);
	/* x doubled 21 times passes the cap: the 23rd line */
	CHECK(err.msg && strstr(err.msg, "Doubling:23:") &&
	      strstr(err.msg, "variable expansion result longer than"));
	cf_file_free(f);
	nib_err_clear(&err);

	nib_buf_reset(&b);
	nib_buf_puts(&b, "FROM scratch\nENV a=x\n");
	for (int i = 0; i < 19; i++)
		nib_buf_puts(&b, "ENV a=$a$a\n");
	for (int i = 0; i < 300; i++)
		nib_buf_printf(&b, "ENV b%d=$a\n", i);
	f = cf_parse_buffer("Many", b.data, b.len, &err);
	CHECK(f && cf_file_plan(f, NULL, &err) < 0);
	CHECK(err.msg && strstr(err.msg, "Many:") &&
	      strstr(err.msg, "expanded instructions of this file exceed 64 MiB"));
	cf_file_free(f);
	nib_err_clear(&err);

	/* below the caps all is well, and expanding again (each stage at
	 * build time: cf_stage_bind) does not count twice */
	nib_buf_reset(&b);
	nib_buf_puts(&b, "FROM scratch\nENV a=x\n");
	for (int i = 0; i < 19; i++)
		nib_buf_puts(&b, "ENV a=$a$a\n");
	for (int i = 0; i < 20; i++)
		nib_buf_printf(&b, "ENV b%d=$a\n", i);
	f = cf_parse_buffer("Fine", b.data, b.len, &err);
	CHECK(f && cf_file_plan(f, NULL, &err) == 0);
	for (int round = 0; f && round < 10; round++) {
		struct cf_stage_steps ss;
		CHECK(cf_stage_bind(f, 0, NULL, NULL, &ss, &err) == 0);
		cf_stage_steps_free(&ss);
	}
	/* and so does the expander itself, into one step again and again */
	_cleanup_free_ char *half = xmalloc((CF_MAX_EXPAND_SIZE >> 1) + 1);
	memset(half, 'x', CF_MAX_EXPAND_SIZE >> 1);
	half[CF_MAX_EXPAND_SIZE >> 1] = '\0';
	struct cf_step step = {0};
	for (int round = 0; f && round < 100; round++)
		CHECK(cf_instr_expand(f->instrs[2], a_lookup, half, &step, &err) == 0);
	cf_step_clear(&step);
	cf_file_free(f);
	nib_buf_free(&b);
	nib_err_clear(&err);
}

int main(void)
{
	test_envvar_table();
	test_words_table();
	test_modifier_table();
	RUN(test_error_messages);
	RUN(test_escape_token);
	RUN(test_flags);
	RUN(test_limits);
	RUN(test_size_cap);
	RUN(test_size_cap_plan);
	return unit_done();
}
