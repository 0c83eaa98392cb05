/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests for containerfile/ at the syntax level: BuildKit's parser
 * testfiles (each Dockerfile with the AST BuildKit prints for it, copied
 * here as data) are read with the instruction checks off and printed in
 * BuildKit's s-expression form.
 */
#define NIB_CONTAINERFILE_INTERNAL
#include "containerfile/cf_internal.h"
#include "tests/unit/unit.h"

/* Go's strconv.Quote */
static void quote(struct nib_buf *b, const char *s)
{
	size_t n = strlen(s), i = 0, w;

	nib_buf_putc(b, '"');
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		uint32_t r = nib_utf8_decode(s + i, n - i, &w);
		if (r == 0xFFFD && w == 1) {
			nib_buf_printf(b, "\\x%02x", c);
		} else if (c == '"' || c == '\\') {
			nib_buf_putc(b, '\\');
			nib_buf_putc(b, (char)c);
		} else if (c < 0x20 || c == 0x7f) {
			const char *esc = c == '\a'   ? "\\a"
					  : c == '\b' ? "\\b"
					  : c == '\f' ? "\\f"
					  : c == '\n' ? "\\n"
					  : c == '\r' ? "\\r"
					  : c == '\t' ? "\\t"
					  : c == '\v' ? "\\v"
						      : NULL;
			if (esc)
				nib_buf_puts(b, esc);
			else
				nib_buf_printf(b, "\\x%02x", c);
		} else {
			nib_buf_append(b, s + i, w);
		}
		i += w;
	}
	nib_buf_putc(b, '"');
}

static void dump(struct nib_buf *b, const struct cf_instr *in)
{
	for (const char *k = in->keyword; *k; k++)
		nib_buf_putc(b, (char)(*k >= 'A' && *k <= 'Z' ? *k + 32 : *k));
	if (in->n_flags) {
		nib_buf_puts(b, " [");
		for (size_t i = 0; i < in->n_flags; i++) {
			_cleanup_free_ char *s =
			    in->flags[i].value
				? xasprintf("--%s=%s", in->flags[i].name, in->flags[i].value)
				: xasprintf("--%s", in->flags[i].name);
			if (i)
				nib_buf_putc(b, ' ');
			quote(b, s);
		}
		nib_buf_putc(b, ']');
	}
	if (in->kind == CF_ONBUILD && in->trigger) {
		nib_buf_puts(b, " (");
		dump(b, in->trigger);
		nib_buf_puts(b, ")");
		return;
	}
	if (in->kind == CF_ENV || in->kind == CF_LABEL) {
		for (size_t i = 0; i < in->n_kvs; i++) {
			nib_buf_putc(b, ' ');
			quote(b, in->kvs[i].key);
			nib_buf_putc(b, ' ');
			quote(b, in->kvs[i].value);
			nib_buf_puts(b, in->legacy_kv ? " \"\"" : " \"=\"");
		}
		return;
	}
	for (size_t i = 0; i < in->args.len; i++) {
		nib_buf_putc(b, ' ');
		quote(b, in->args.v[i]);
	}
}

static char *ast(const char *text, struct nib_error *err)
{
	_cleanup_(cf_file_freep) struct cf_file *f =
	    cf_parse_buffer_mode("Dockerfile", text, strlen(text), true, err);
	struct nib_buf b = {0};

	if (!f)
		return NULL;
	nib_buf_puts(&b, "");
	for (size_t i = 0; i < f->n_instrs; i++) {
		nib_buf_putc(&b, '(');
		dump(&b, f->instrs[i]);
		nib_buf_puts(&b, ")\n");
	}
	return nib_buf_steal(&b);
}

/* BuildKit frontend/dockerfile/parser/testfiles/<name>/{Dockerfile,result}.
 * "json" differs in one place: nib refuses \u0000 inside an argument. */
static const struct {
	const char *name, *dockerfile, *result;
} buildkit_cases[] = {
    {"ADD-COPY-with-JSON",
     "FROM\tubuntu:14.04\n"
     "LABEL\tmaintainer\tSeongyeol Lim <seongyeol37@gmail.com>\n"
     "\n"
     "COPY\t.\t/go/src/github.com/docker/docker\n"
     "ADD\t\t.\t/\n"
     "ADD\t\tnull /\n"
     "COPY\tnullfile /tmp\n"
     "ADD\t\t[ \"vimrc\", \"/tmp\" ]\n"
     "COPY\t[ \"bashrc\", \"/tmp\" ]\n"
     "COPY\t[ \"test file\", \"/tmp\" ]\n"
     "ADD\t\t[ \"test file\", \"/tmp/test file\" ]\n"
     "",
     "(from \"ubuntu:14.04\")\n"
     "(label \"maintainer\" \"Seongyeol Lim <seongyeol37@gmail.com>\" \"\")\n"
     "(copy \".\" \"/go/src/github.com/docker/docker\")\n"
     "(add \".\" \"/\")\n"
     "(add \"null\" \"/\")\n"
     "(copy \"nullfile\" \"/tmp\")\n"
     "(add \"vimrc\" \"/tmp\")\n"
     "(copy \"bashrc\" \"/tmp\")\n"
     "(copy \"test file\" \"/tmp\")\n"
     "(add \"test file\" \"/tmp/test file\")\n"
     ""},
    {"args",
     "ARG foo bar=baz\n"
     "FROM ubuntu\n"
     "ARG abc=\"123 456\" def\n"
     "",
     "(arg \"foo\" \"bar=baz\")\n"
     "(from \"ubuntu\")\n"
     "(arg \"abc=\\\"123 456\\\"\" \"def\")\n"
     ""},
    {"brimstone-consuldock",
     "#escape=\\\n"
     "FROM brimstone/ubuntu:14.04\n"
     "\n"
     "LABEL maintainer brimstone@the.narro.ws\n"
     "\n"
     "# TORUN -v /var/run/docker.sock:/var/run/docker.sock\n"
     "\n"
     "ENV GOPATH /go\n"
     "\n"
     "# Set our command\n"
     "ENTRYPOINT [\"/usr/local/bin/consuldock\"]\n"
     "\n"
     "# Install the packages we need, clean up after them and us\n"
     "RUN apt-get update \\\n"
     "\t&& dpkg -l | awk '/^ii/ {print $2}' > /tmp/dpkg.clean \\\n"
     "    && apt-get --no-install-recommends install -y git golang ca-certificates \\\n"
     "    && apt-get clean \\\n"
     "    && rm -rf /var/lib/apt/lists \\\n"
     "\n"
     "\t&& go get -v github.com/brimstone/consuldock \\\n"
     "    && mv $GOPATH/bin/consuldock /usr/local/bin/consuldock \\\n"
     "\n"
     "\t&& dpkg -l | awk '/^ii/ {print $2}' > /tmp/dpkg.dirty \\\n"
     "\t&& apt-get remove --purge -y $(diff /tmp/dpkg.clean /tmp/dpkg.dirty | awk '/^>/ {print "
     "$2}') \\\n"
     "\t&& rm /tmp/dpkg.* \\\n"
     "\t&& rm -rf $GOPATH\n"
     "",
     "(from \"brimstone/ubuntu:14.04\")\n"
     "(label \"maintainer\" \"brimstone@the.narro.ws\" \"\")\n"
     "(env \"GOPATH\" \"/go\" \"\")\n"
     "(entrypoint \"/usr/local/bin/consuldock\")\n"
     "(run \"apt-get update \\t&& dpkg -l | awk '/^ii/ {print $2}' > /tmp/dpkg.clean     && "
     "apt-get --no-install-recommends install -y git golang ca-certificates     && apt-get clean   "
     "  && rm -rf /var/lib/apt/lists \\t&& go get -v github.com/brimstone/consuldock     && mv "
     "$GOPATH/bin/consuldock /usr/local/bin/consuldock \\t&& dpkg -l | awk '/^ii/ {print $2}' > "
     "/tmp/dpkg.dirty \\t&& apt-get remove --purge -y $(diff /tmp/dpkg.clean /tmp/dpkg.dirty | awk "
     "'/^>/ {print $2}') \\t&& rm /tmp/dpkg.* \\t&& rm -rf $GOPATH\")\n"
     ""},
    {"brimstone-docker-consul",
     "FROM brimstone/ubuntu:14.04\n"
     "\n"
     "CMD []\n"
     "\n"
     "ENTRYPOINT [\"/usr/bin/consul\", \"agent\", \"-server\", \"-data-dir=/consul\", "
     "\"-client=0.0.0.0\", \"-ui-dir=/webui\"]\n"
     "\n"
     "EXPOSE 8500 8600 8400 8301 8302\n"
     "\n"
     "RUN apt-get update \\\n"
     "    && apt-get --no-install-recommends install -y unzip wget \\\n"
     "\t&& apt-get clean \\\n"
     "\t&& rm -rf /var/lib/apt/lists\n"
     "\n"
     "RUN cd /tmp \\\n"
     "    && wget https://dl.bintray.com/mitchellh/consul/0.3.1_web_ui.zip \\\n"
     "       -O web_ui.zip \\\n"
     "    && unzip web_ui.zip \\\n"
     "    && mv dist /webui \\\n"
     "    && rm web_ui.zip\n"
     "\n"
     "RUN apt-get update \\\n"
     "\t&& dpkg -l | awk '/^ii/ {print $2}' > /tmp/dpkg.clean \\\n"
     "    && apt-get --no-install-recommends install -y unzip wget \\\n"
     "    && apt-get clean \\\n"
     "    && rm -rf /var/lib/apt/lists \\\n"
     "\n"
     "    && cd /tmp \\\n"
     "    && wget https://dl.bintray.com/mitchellh/consul/0.3.1_web_ui.zip \\\n"
     "       -O web_ui.zip \\\n"
     "    && unzip web_ui.zip \\\n"
     "    && mv dist /webui \\\n"
     "    && rm web_ui.zip \\\n"
     "\n"
     "\t&& dpkg -l | awk '/^ii/ {print $2}' > /tmp/dpkg.dirty \\\n"
     "\t&& apt-get remove --purge -y $(diff /tmp/dpkg.clean /tmp/dpkg.dirty | awk '/^>/ {print "
     "$2}') \\\n"
     "\t&& rm /tmp/dpkg.*\n"
     "\n"
     "ENV GOPATH /go\n"
     "\n"
     "RUN apt-get update \\\n"
     "\t&& dpkg -l | awk '/^ii/ {print $2}' > /tmp/dpkg.clean \\\n"
     "    && apt-get --no-install-recommends install -y git golang ca-certificates build-essential "
     "\\\n"
     "    && apt-get clean \\\n"
     "    && rm -rf /var/lib/apt/lists \\\n"
     "\n"
     "\t&& go get -v github.com/hashicorp/consul \\\n"
     "\t&& mv $GOPATH/bin/consul /usr/bin/consul \\\n"
     "\n"
     "\t&& dpkg -l | awk '/^ii/ {print $2}' > /tmp/dpkg.dirty \\\n"
     "\t&& apt-get remove --purge -y $(diff /tmp/dpkg.clean /tmp/dpkg.dirty | awk '/^>/ {print "
     "$2}') \\\n"
     "\t&& rm /tmp/dpkg.* \\\n"
     "\t&& rm -rf $GOPATH\n"
     "",
     "(from \"brimstone/ubuntu:14.04\")\n"
     "(cmd)\n"
     "(entrypoint \"/usr/bin/consul\" \"agent\" \"-server\" \"-data-dir=/consul\" "
     "\"-client=0.0.0.0\" \"-ui-dir=/webui\")\n"
     "(expose \"8500\" \"8600\" \"8400\" \"8301\" \"8302\")\n"
     "(run \"apt-get update     && apt-get --no-install-recommends install -y unzip wget \\t&& "
     "apt-get clean \\t&& rm -rf /var/lib/apt/lists\")\n"
     "(run \"cd /tmp     && wget https://dl.bintray.com/mitchellh/consul/0.3.1_web_ui.zip        "
     "-O web_ui.zip     && unzip web_ui.zip     && mv dist /webui     && rm web_ui.zip\")\n"
     "(run \"apt-get update \\t&& dpkg -l | awk '/^ii/ {print $2}' > /tmp/dpkg.clean     && "
     "apt-get --no-install-recommends install -y unzip wget     && apt-get clean     && rm -rf "
     "/var/lib/apt/lists     && cd /tmp     && wget "
     "https://dl.bintray.com/mitchellh/consul/0.3.1_web_ui.zip        -O web_ui.zip     && unzip "
     "web_ui.zip     && mv dist /webui     && rm web_ui.zip \\t&& dpkg -l | awk '/^ii/ {print $2}' "
     "> /tmp/dpkg.dirty \\t&& apt-get remove --purge -y $(diff /tmp/dpkg.clean /tmp/dpkg.dirty | "
     "awk '/^>/ {print $2}') \\t&& rm /tmp/dpkg.*\")\n"
     "(env \"GOPATH\" \"/go\" \"\")\n"
     "(run \"apt-get update \\t&& dpkg -l | awk '/^ii/ {print $2}' > /tmp/dpkg.clean     && "
     "apt-get --no-install-recommends install -y git golang ca-certificates build-essential     && "
     "apt-get clean     && rm -rf /var/lib/apt/lists \\t&& go get -v github.com/hashicorp/consul "
     "\\t&& mv $GOPATH/bin/consul /usr/bin/consul \\t&& dpkg -l | awk '/^ii/ {print $2}' > "
     "/tmp/dpkg.dirty \\t&& apt-get remove --purge -y $(diff /tmp/dpkg.clean /tmp/dpkg.dirty | awk "
     "'/^>/ {print $2}') \\t&& rm /tmp/dpkg.* \\t&& rm -rf $GOPATH\")\n"
     ""},
    {"continue-at-eof",
     "FROM alpine:3.5\n"
     "\n"
     "RUN something \\",
     "(from \"alpine:3.5\")\n"
     "(run \"something\")\n"
     ""},
    {"continueIndent",
     "FROM ubuntu:14.04\n"
     "\n"
     "RUN echo hello\\\n"
     "  world\\\n"
     "  goodnight  \\\n"
     "  moon\\\n"
     "  light\\\n"
     "ning\n"
     "RUN echo hello  \\\n"
     "  world\n"
     "RUN echo hello  \\\n"
     "world\n"
     "RUN echo hello \\\n"
     "goodbye\\\n"
     "frog\n"
     "RUN echo hello  \\  \n"
     "world\n"
     "RUN echo hi \\\n"
     " \\\n"
     " world \\\n"
     "\\\n"
     " good\\\n"
     "\\\n"
     "night\n"
     "RUN echo goodbye\\\n"
     "frog\n"
     "RUN echo good\\\n"
     "bye\\\n"
     "frog\n"
     "\n"
     "RUN echo hello \\\n"
     "# this is a comment\n"
     "\n"
     "# this is a comment with a blank line surrounding it\n"
     "\n"
     "this is some more useful stuff\n"
     "",
     "(from \"ubuntu:14.04\")\n"
     "(run \"echo hello  world  goodnight    moon  lightning\")\n"
     "(run \"echo hello    world\")\n"
     "(run \"echo hello  world\")\n"
     "(run \"echo hello goodbyefrog\")\n"
     "(run \"echo hello  world\")\n"
     "(run \"echo hi   world  goodnight\")\n"
     "(run \"echo goodbyefrog\")\n"
     "(run \"echo goodbyefrog\")\n"
     "(run \"echo hello this is some more useful stuff\")\n"
     ""},
    {"cpuguy83-nagios",
     "FROM cpuguy83/ubuntu\n"
     "ENV NAGIOS_HOME /opt/nagios\n"
     "ENV NAGIOS_USER nagios\n"
     "ENV NAGIOS_GROUP nagios\n"
     "ENV NAGIOS_CMDUSER nagios\n"
     "ENV NAGIOS_CMDGROUP nagios\n"
     "ENV NAGIOSADMIN_USER nagiosadmin\n"
     "ENV NAGIOSADMIN_PASS nagios\n"
     "ENV APACHE_RUN_USER nagios\n"
     "ENV APACHE_RUN_GROUP nagios\n"
     "ENV NAGIOS_TIMEZONE UTC\n"
     "\n"
     "RUN sed -i 's/universe/universe multiverse/' /etc/apt/sources.list\n"
     "RUN apt-get update && apt-get --no-install-recommends install -y iputils-ping netcat "
     "build-essential snmp snmpd snmp-mibs-downloader php5-cli apache2 libapache2-mod-php5 runit "
     "bc postfix bsd-mailx\n"
     "RUN ( egrep -i  \"^${NAGIOS_GROUP}\" /etc/group || groupadd $NAGIOS_GROUP ) && ( egrep -i "
     "\"^${NAGIOS_CMDGROUP}\" /etc/group || groupadd $NAGIOS_CMDGROUP )\n"
     "RUN ( id -u $NAGIOS_USER || useradd --system $NAGIOS_USER -g $NAGIOS_GROUP -d $NAGIOS_HOME ) "
     "&& ( id -u $NAGIOS_CMDUSER || useradd --system -d $NAGIOS_HOME -g $NAGIOS_CMDGROUP "
     "$NAGIOS_CMDUSER )\n"
     "\n"
     "ADD "
     "http://downloads.sourceforge.net/project/nagios/nagios-3.x/nagios-3.5.1/"
     "nagios-3.5.1.tar.gz?r=http%3A%2F%2Fwww.nagios.org%2Fdownload%2Fcore%2Fthanks%2F%3Ft%"
     "3D1398863696&ts=1398863718&use_mirror=superb-dca3 /tmp/nagios.tar.gz\n"
     "RUN cd /tmp && tar -zxvf nagios.tar.gz && cd nagios  && ./configure --prefix=${NAGIOS_HOME} "
     "--exec-prefix=${NAGIOS_HOME} --enable-event-broker "
     "--with-nagios-command-user=${NAGIOS_CMDUSER} --with-command-group=${NAGIOS_CMDGROUP} "
     "--with-nagios-user=${NAGIOS_USER} --with-nagios-group=${NAGIOS_GROUP} && make all && make "
     "install && make install-config && make install-commandmode && cp sample-config/httpd.conf "
     "/etc/apache2/conf.d/nagios.conf\n"
     "ADD http://www.nagios-plugins.org/download/nagios-plugins-1.5.tar.gz /tmp/\n"
     "RUN cd /tmp && tar -zxvf nagios-plugins-1.5.tar.gz && cd nagios-plugins-1.5 && ./configure "
     "--prefix=${NAGIOS_HOME} && make && make install\n"
     "\n"
     "RUN sed -i.bak 's/.*\\=www\\-data//g' /etc/apache2/envvars\n"
     "RUN export DOC_ROOT=\"DocumentRoot $(echo $NAGIOS_HOME/share)\"; sed -i "
     "\"s,DocumentRoot.*,$DOC_ROOT,\" /etc/apache2/sites-enabled/000-default\n"
     "\n"
     "RUN ln -s ${NAGIOS_HOME}/bin/nagios /usr/local/bin/nagios && mkdir -p /usr/share/snmp/mibs "
     "&& chmod 0755 /usr/share/snmp/mibs && touch /usr/share/snmp/mibs/.foo\n"
     "\n"
     "RUN echo \"use_timezone=$NAGIOS_TIMEZONE\" >> ${NAGIOS_HOME}/etc/nagios.cfg && echo \"SetEnv "
     "TZ \\\"${NAGIOS_TIMEZONE}\\\"\" >> /etc/apache2/conf.d/nagios.conf\n"
     "\n"
     "RUN mkdir -p ${NAGIOS_HOME}/etc/conf.d && mkdir -p ${NAGIOS_HOME}/etc/monitor && ln -s "
     "/usr/share/snmp/mibs ${NAGIOS_HOME}/libexec/mibs\n"
     "RUN echo \"cfg_dir=${NAGIOS_HOME}/etc/conf.d\" >> ${NAGIOS_HOME}/etc/nagios.cfg\n"
     "RUN echo \"cfg_dir=${NAGIOS_HOME}/etc/monitor\" >> ${NAGIOS_HOME}/etc/nagios.cfg\n"
     "RUN download-mibs && echo \"mibs +ALL\" > /etc/snmp/snmp.conf\n"
     "\n"
     "RUN sed -i 's,/bin/mail,/usr/bin/mail,' /opt/nagios/etc/objects/commands.cfg && \\\n"
     "  sed -i 's,/usr/usr,/usr,' /opt/nagios/etc/objects/commands.cfg\n"
     "RUN cp /etc/services /var/spool/postfix/etc/\n"
     "\n"
     "RUN mkdir -p /etc/sv/nagios && mkdir -p /etc/sv/apache && rm -rf /etc/sv/getty-5 && mkdir -p "
     "/etc/sv/postfix\n"
     "ADD nagios.init /etc/sv/nagios/run\n"
     "ADD apache.init /etc/sv/apache/run\n"
     "ADD postfix.init /etc/sv/postfix/run\n"
     "ADD postfix.stop /etc/sv/postfix/finish\n"
     "\n"
     "ADD start.sh /usr/local/bin/start_nagios\n"
     "\n"
     "ENV APACHE_LOCK_DIR /var/run\n"
     "ENV APACHE_LOG_DIR /var/log/apache2\n"
     "\n"
     "EXPOSE 80\n"
     "\n"
     "VOLUME [\"/opt/nagios/var\", \"/opt/nagios/etc\", \"/opt/nagios/libexec\", "
     "\"/var/log/apache2\", \"/usr/share/snmp/mibs\"]\n"
     "\n"
     "CMD [\"/usr/local/bin/start_nagios\"]\n"
     "",
     "(from \"cpuguy83/ubuntu\")\n"
     "(env \"NAGIOS_HOME\" \"/opt/nagios\" \"\")\n"
     "(env \"NAGIOS_USER\" \"nagios\" \"\")\n"
     "(env \"NAGIOS_GROUP\" \"nagios\" \"\")\n"
     "(env \"NAGIOS_CMDUSER\" \"nagios\" \"\")\n"
     "(env \"NAGIOS_CMDGROUP\" \"nagios\" \"\")\n"
     "(env \"NAGIOSADMIN_USER\" \"nagiosadmin\" \"\")\n"
     "(env \"NAGIOSADMIN_PASS\" \"nagios\" \"\")\n"
     "(env \"APACHE_RUN_USER\" \"nagios\" \"\")\n"
     "(env \"APACHE_RUN_GROUP\" \"nagios\" \"\")\n"
     "(env \"NAGIOS_TIMEZONE\" \"UTC\" \"\")\n"
     "(run \"sed -i 's/universe/universe multiverse/' /etc/apt/sources.list\")\n"
     "(run \"apt-get update && apt-get --no-install-recommends install -y iputils-ping netcat "
     "build-essential snmp snmpd snmp-mibs-downloader php5-cli apache2 libapache2-mod-php5 runit "
     "bc postfix bsd-mailx\")\n"
     "(run \"( egrep -i  \\\"^${NAGIOS_GROUP}\\\" /etc/group || groupadd $NAGIOS_GROUP ) && ( "
     "egrep -i \\\"^${NAGIOS_CMDGROUP}\\\" /etc/group || groupadd $NAGIOS_CMDGROUP )\")\n"
     "(run \"( id -u $NAGIOS_USER || useradd --system $NAGIOS_USER -g $NAGIOS_GROUP -d "
     "$NAGIOS_HOME ) && ( id -u $NAGIOS_CMDUSER || useradd --system -d $NAGIOS_HOME -g "
     "$NAGIOS_CMDGROUP $NAGIOS_CMDUSER )\")\n"
     "(add "
     "\"http://downloads.sourceforge.net/project/nagios/nagios-3.x/nagios-3.5.1/"
     "nagios-3.5.1.tar.gz?r=http%3A%2F%2Fwww.nagios.org%2Fdownload%2Fcore%2Fthanks%2F%3Ft%"
     "3D1398863696&ts=1398863718&use_mirror=superb-dca3\" \"/tmp/nagios.tar.gz\")\n"
     "(run \"cd /tmp && tar -zxvf nagios.tar.gz && cd nagios  && ./configure "
     "--prefix=${NAGIOS_HOME} --exec-prefix=${NAGIOS_HOME} --enable-event-broker "
     "--with-nagios-command-user=${NAGIOS_CMDUSER} --with-command-group=${NAGIOS_CMDGROUP} "
     "--with-nagios-user=${NAGIOS_USER} --with-nagios-group=${NAGIOS_GROUP} && make all && make "
     "install && make install-config && make install-commandmode && cp sample-config/httpd.conf "
     "/etc/apache2/conf.d/nagios.conf\")\n"
     "(add \"http://www.nagios-plugins.org/download/nagios-plugins-1.5.tar.gz\" \"/tmp/\")\n"
     "(run \"cd /tmp && tar -zxvf nagios-plugins-1.5.tar.gz && cd nagios-plugins-1.5 && "
     "./configure --prefix=${NAGIOS_HOME} && make && make install\")\n"
     "(run \"sed -i.bak 's/.*\\\\=www\\\\-data//g' /etc/apache2/envvars\")\n"
     "(run \"export DOC_ROOT=\\\"DocumentRoot $(echo $NAGIOS_HOME/share)\\\"; sed -i "
     "\\\"s,DocumentRoot.*,$DOC_ROOT,\\\" /etc/apache2/sites-enabled/000-default\")\n"
     "(run \"ln -s ${NAGIOS_HOME}/bin/nagios /usr/local/bin/nagios && mkdir -p "
     "/usr/share/snmp/mibs && chmod 0755 /usr/share/snmp/mibs && touch "
     "/usr/share/snmp/mibs/.foo\")\n"
     "(run \"echo \\\"use_timezone=$NAGIOS_TIMEZONE\\\" >> ${NAGIOS_HOME}/etc/nagios.cfg && echo "
     "\\\"SetEnv TZ \\\\\\\"${NAGIOS_TIMEZONE}\\\\\\\"\\\" >> /etc/apache2/conf.d/nagios.conf\")\n"
     "(run \"mkdir -p ${NAGIOS_HOME}/etc/conf.d && mkdir -p ${NAGIOS_HOME}/etc/monitor && ln -s "
     "/usr/share/snmp/mibs ${NAGIOS_HOME}/libexec/mibs\")\n"
     "(run \"echo \\\"cfg_dir=${NAGIOS_HOME}/etc/conf.d\\\" >> ${NAGIOS_HOME}/etc/nagios.cfg\")\n"
     "(run \"echo \\\"cfg_dir=${NAGIOS_HOME}/etc/monitor\\\" >> ${NAGIOS_HOME}/etc/nagios.cfg\")\n"
     "(run \"download-mibs && echo \\\"mibs +ALL\\\" > /etc/snmp/snmp.conf\")\n"
     "(run \"sed -i 's,/bin/mail,/usr/bin/mail,' /opt/nagios/etc/objects/commands.cfg &&   sed -i "
     "'s,/usr/usr,/usr,' /opt/nagios/etc/objects/commands.cfg\")\n"
     "(run \"cp /etc/services /var/spool/postfix/etc/\")\n"
     "(run \"mkdir -p /etc/sv/nagios && mkdir -p /etc/sv/apache && rm -rf /etc/sv/getty-5 && mkdir "
     "-p /etc/sv/postfix\")\n"
     "(add \"nagios.init\" \"/etc/sv/nagios/run\")\n"
     "(add \"apache.init\" \"/etc/sv/apache/run\")\n"
     "(add \"postfix.init\" \"/etc/sv/postfix/run\")\n"
     "(add \"postfix.stop\" \"/etc/sv/postfix/finish\")\n"
     "(add \"start.sh\" \"/usr/local/bin/start_nagios\")\n"
     "(env \"APACHE_LOCK_DIR\" \"/var/run\" \"\")\n"
     "(env \"APACHE_LOG_DIR\" \"/var/log/apache2\" \"\")\n"
     "(expose \"80\")\n"
     "(volume \"/opt/nagios/var\" \"/opt/nagios/etc\" \"/opt/nagios/libexec\" \"/var/log/apache2\" "
     "\"/usr/share/snmp/mibs\")\n"
     "(cmd \"/usr/local/bin/start_nagios\")\n"
     ""},
    {"docker",
     "# This file describes the standard way to build Docker, using docker\n"
     "#\n"
     "# Usage:\n"
     "#\n"
     "# # Assemble the full dev environment. This is slow the first time.\n"
     "# docker build -t docker .\n"
     "#\n"
     "# # Mount your source in an interactive container for quick testing:\n"
     "# docker run -v `pwd`:/go/src/github.com/docker/docker --privileged -i -t docker bash\n"
     "#\n"
     "# # Run the test suite:\n"
     "# docker run --privileged docker hack/make.sh test-unit test-integration test-docker-py\n"
     "#\n"
     "# Note: AppArmor used to mess with privileged mode, but this is no longer\n"
     "# the case. Therefore, you don't have to disable it anymore.\n"
     "#\n"
     "\n"
     "FROM\tubuntu:14.04\n"
     "LABEL\tmaintainer\tTianon Gravi <admwiggin@gmail.com> (@tianon)\n"
     "\n"
     "# Packaged dependencies\n"
     "RUN\tapt-get update && DEBIAN_FRONTEND=noninteractive apt-get --no-install-recommends "
     "install -yq \\\n"
     "\tapt-utils \\\n"
     "\taufs-tools \\\n"
     "\tautomake \\\n"
     "\tbtrfs-tools \\\n"
     "\tbuild-essential \\\n"
     "\tcurl \\\n"
     "\tdpkg-sig \\\n"
     "\tgit \\\n"
     "\tiptables \\\n"
     "\tlibapparmor-dev \\\n"
     "\tlibcap-dev \\\n"
     "\tmercurial \\\n"
     "\tpandoc \\\n"
     "\tparallel \\\n"
     "\treprepro \\\n"
     "\truby1.9.1 \\\n"
     "\truby1.9.1-dev \\\n"
     "\ts3cmd=1.1.0* \\\n"
     "\t--no-install-recommends\n"
     "\n"
     "# Get lvm2 source for compiling statically\n"
     "RUN\tgit clone --no-checkout https://git.fedorahosted.org/git/lvm2.git /usr/local/lvm2 && cd "
     "/usr/local/lvm2 && git checkout -q v2_02_103\n"
     "# see https://git.fedorahosted.org/cgit/lvm2.git/refs/tags for release tags\n"
     "# note: we don't use \"git clone -b\" above because it then spews big nasty warnings about "
     "'detached HEAD' state that we can't silence as easily as we can silence them using \"git "
     "checkout\" directly\n"
     "\n"
     "# Compile and install lvm2\n"
     "RUN\tcd /usr/local/lvm2 && ./configure --enable-static_link && make device-mapper && make "
     "install_device-mapper\n"
     "# see https://git.fedorahosted.org/cgit/lvm2.git/tree/INSTALL\n"
     "\n"
     "# Install Go\n"
     "RUN\tcurl -sSL https://golang.org/dl/go1.3.src.tar.gz | tar -v -C /usr/local -xz\n"
     "ENV\tPATH\t/usr/local/go/bin:$PATH\n"
     "ENV\tGOPATH\t/go:/go/src/github.com/docker/docker/vendor\n"
     "RUN\tcd /usr/local/go/src && ./make.bash --no-clean 2>&1\n"
     "\n"
     "# Compile Go for cross compilation\n"
     "ENV\tDOCKER_CROSSPLATFORMS\t\\\n"
     "\tlinux/386 linux/arm \\\n"
     "\tdarwin/amd64 darwin/386 \\\n"
     "\tfreebsd/amd64 freebsd/386 freebsd/arm\n"
     "# (set an explicit GOARM of 5 for maximum compatibility)\n"
     "ENV\tGOARM\t5\n"
     "RUN\tcd /usr/local/go/src && bash -xc 'for platform in $DOCKER_CROSSPLATFORMS; do "
     "GOOS=${platform%/*} GOARCH=${platform##*/} ./make.bash --no-clean 2>&1; done'\n"
     "\n"
     "# Grab Go's cover tool for dead-simple code coverage testing\n"
     "RUN\tgo get golang.org/x/tools/cmd/cover\n"
     "\n"
     "# TODO replace FPM with some very minimal debhelper stuff\n"
     "RUN\tgem install --no-rdoc --no-ri fpm --version 1.0.2\n"
     "\n"
     "# Get the \"busybox\" image source so we can build locally instead of pulling\n"
     "RUN\tgit clone -b buildroot-2014.02 https://github.com/jpetazzo/docker-busybox.git "
     "/docker-busybox\n"
     "\n"
     "# Setup s3cmd config\n"
     "RUN\t/bin/echo -e '[default]\\naccess_key=$AWS_ACCESS_KEY\\nsecret_key=$AWS_SECRET_KEY' > "
     "/.s3cfg\n"
     "\n"
     "# Set user.email so crosbymichael's in-container merge commits go smoothly\n"
     "RUN\tgit config --global user.email 'docker-dummy@example.com'\n"
     "\n"
     "# Add an unprivileged user to be used for tests which need it\n"
     "RUN groupadd -r docker\n"
     "RUN useradd --create-home --gid docker unprivilegeduser\n"
     "\n"
     "VOLUME\t/var/lib/docker\n"
     "WORKDIR\t/go/src/github.com/docker/docker\n"
     "ENV\tDOCKER_BUILDTAGS\tapparmor selinux\n"
     "\n"
     "# Wrap all commands in the \"docker-in-docker\" script to allow nested containers\n"
     "ENTRYPOINT\t[\"hack/dind\"]\n"
     "\n"
     "# Upload docker source\n"
     "COPY\t.\t/go/src/github.com/docker/docker\n"
     "",
     "(from \"ubuntu:14.04\")\n"
     "(label \"maintainer\" \"Tianon Gravi <admwiggin@gmail.com> (@tianon)\" \"\")\n"
     "(run \"apt-get update && DEBIAN_FRONTEND=noninteractive apt-get --no-install-recommends "
     "install -yq \\tapt-utils \\taufs-tools \\tautomake \\tbtrfs-tools \\tbuild-essential \\tcurl "
     "\\tdpkg-sig \\tgit \\tiptables \\tlibapparmor-dev \\tlibcap-dev \\tmercurial \\tpandoc "
     "\\tparallel \\treprepro \\truby1.9.1 \\truby1.9.1-dev \\ts3cmd=1.1.0* "
     "\\t--no-install-recommends\")\n"
     "(run \"git clone --no-checkout https://git.fedorahosted.org/git/lvm2.git /usr/local/lvm2 && "
     "cd /usr/local/lvm2 && git checkout -q v2_02_103\")\n"
     "(run \"cd /usr/local/lvm2 && ./configure --enable-static_link && make device-mapper && make "
     "install_device-mapper\")\n"
     "(run \"curl -sSL https://golang.org/dl/go1.3.src.tar.gz | tar -v -C /usr/local -xz\")\n"
     "(env \"PATH\" \"/usr/local/go/bin:$PATH\" \"\")\n"
     "(env \"GOPATH\" \"/go:/go/src/github.com/docker/docker/vendor\" \"\")\n"
     "(run \"cd /usr/local/go/src && ./make.bash --no-clean 2>&1\")\n"
     "(env \"DOCKER_CROSSPLATFORMS\" \"linux/386 linux/arm \\tdarwin/amd64 darwin/386 "
     "\\tfreebsd/amd64 freebsd/386 freebsd/arm\" \"\")\n"
     "(env \"GOARM\" \"5\" \"\")\n"
     "(run \"cd /usr/local/go/src && bash -xc 'for platform in $DOCKER_CROSSPLATFORMS; do "
     "GOOS=${platform%/*} GOARCH=${platform##*/} ./make.bash --no-clean 2>&1; done'\")\n"
     "(run \"go get golang.org/x/tools/cmd/cover\")\n"
     "(run \"gem install --no-rdoc --no-ri fpm --version 1.0.2\")\n"
     "(run \"git clone -b buildroot-2014.02 https://github.com/jpetazzo/docker-busybox.git "
     "/docker-busybox\")\n"
     "(run \"/bin/echo -e "
     "'[default]\\\\naccess_key=$AWS_ACCESS_KEY\\\\nsecret_key=$AWS_SECRET_KEY' > /.s3cfg\")\n"
     "(run \"git config --global user.email 'docker-dummy@example.com'\")\n"
     "(run \"groupadd -r docker\")\n"
     "(run \"useradd --create-home --gid docker unprivilegeduser\")\n"
     "(volume \"/var/lib/docker\")\n"
     "(workdir \"/go/src/github.com/docker/docker\")\n"
     "(env \"DOCKER_BUILDTAGS\" \"apparmor selinux\" \"\")\n"
     "(entrypoint \"hack/dind\")\n"
     "(copy \".\" \"/go/src/github.com/docker/docker\")\n"
     ""},
    {"env",
     "FROM ubuntu\n"
     "ENV name value\n"
     "ENV name=value\n"
     "ENV name=value name2=value2\n"
     "ENV name=\"value value1\"\n"
     "ENV name=value\\ value2\n"
     "ENV name=\"value'quote space'value2\"\n"
     "ENV name='value\"double quote\"value2'\n"
     "ENV name=value\\ value2 name2=value2\\ value3\n"
     "ENV name=\"a\\\"b\"\n"
     "ENV name=\"a\\'b\"\n"
     "ENV name='a\\'b'\n"
     "ENV name='a\\'b''\n"
     "ENV name='a\\\"b'\n"
     "ENV name=\"''\"\n"
     "# don't put anything after the next line - it must be the last line of the\n"
     "# Dockerfile and it must end with \\\n"
     "ENV name=value \\\n"
     "    name1=value1 \\\n"
     "    name2=\"value2a \\\n"
     "           value2b\" \\\n"
     "    name3=\"value3a\\n\\\"value3b\\\"\" \\\n"
     "\tname4=\"value4a\\\\nvalue4b\" \\\n"
     "",
     "(from \"ubuntu\")\n"
     "(env \"name\" \"value\" \"\")\n"
     "(env \"name\" \"value\" \"=\")\n"
     "(env \"name\" \"value\" \"=\" \"name2\" \"value2\" \"=\")\n"
     "(env \"name\" \"\\\"value value1\\\"\" \"=\")\n"
     "(env \"name\" \"value\\\\ value2\" \"=\")\n"
     "(env \"name\" \"\\\"value'quote space'value2\\\"\" \"=\")\n"
     "(env \"name\" \"'value\\\"double quote\\\"value2'\" \"=\")\n"
     "(env \"name\" \"value\\\\ value2\" \"=\" \"name2\" \"value2\\\\ value3\" \"=\")\n"
     "(env \"name\" \"\\\"a\\\\\\\"b\\\"\" \"=\")\n"
     "(env \"name\" \"\\\"a\\\\'b\\\"\" \"=\")\n"
     "(env \"name\" \"'a\\\\'b'\" \"=\")\n"
     "(env \"name\" \"'a\\\\'b''\" \"=\")\n"
     "(env \"name\" \"'a\\\\\\\"b'\" \"=\")\n"
     "(env \"name\" \"\\\"''\\\"\" \"=\")\n"
     "(env \"name\" \"value\" \"=\" \"name1\" \"value1\" \"=\" \"name2\" \"\\\"value2a            "
     "value2b\\\"\" \"=\" \"name3\" \"\\\"value3a\\\\n\\\\\\\"value3b\\\\\\\"\\\"\" \"=\" "
     "\"name4\" \"\\\"value4a\\\\\\\\nvalue4b\\\"\" \"=\")\n"
     ""},
    {"escape",
     "#escape = `\n"
     "\n"
     "FROM image\n"
     "LABEL maintainer foo@bar.com\n"
     "ENV GOPATH `\n"
     "\\go",
     "(from \"image\")\n"
     "(label \"maintainer\" \"foo@bar.com\" \"\")\n"
     "(env \"GOPATH\" \"\\\\go\" \"\")\n"
     ""},
    {"escape-after-comment",
     "# Comment here. Should not be looking for the following parser directive.\n"
     "# Hence the following line will be ignored, and the subsequent backslash\n"
     "# continuation will be the default.\n"
     "# escape = `\n"
     "\n"
     "FROM image\n"
     "LABEL maintainer foo@bar.com\n"
     "ENV GOPATH \\\n"
     "\\go",
     "(from \"image\")\n"
     "(label \"maintainer\" \"foo@bar.com\" \"\")\n"
     "(env \"GOPATH\" \"\\\\go\" \"\")\n"
     ""},
    {"escape-nonewline",
     "# escape = `\n"
     "# There is no white space line after the directives. This still succeeds, but goes\n"
     "# against best practices.\n"
     "FROM image\n"
     "LABEL maintainer foo@bar.com\n"
     "ENV GOPATH `\n"
     "\\go\n"
     "",
     "(from \"image\")\n"
     "(label \"maintainer\" \"foo@bar.com\" \"\")\n"
     "(env \"GOPATH\" \"\\\\go\" \"\")\n"
     ""},
    {"escape-with-syntax",
     "# syntax = docker/dockerfile\n"
     "# escape = `\n"
     "\n"
     "FROM `\n"
     "    image\n"
     "",
     "(from \"image\")\n"
     ""},
    {"escapes",
     "FROM ubuntu:14.04\n"
     "LABEL maintainer Erik \\\\Hollensbe <erik@hollensbe.org>\\\"\n"
     "\n"
     "RUN apt-get \\update && \\\n"
     "  apt-get \\\"install znc -y\n"
     "ADD \\conf\\\\\" /.znc\n"
     "\n"
     "RUN foo \\\n"
     "\n"
     "bar \\\n"
     "\n"
     "baz\n"
     "\n"
     "CMD [ \"\\/usr\\\\\\\"/bin/znc\", \"-f\", \"-r\" ]\n"
     "",
     "(from \"ubuntu:14.04\")\n"
     "(label \"maintainer\" \"Erik \\\\\\\\Hollensbe <erik@hollensbe.org>\\\\\\\"\" \"\")\n"
     "(run \"apt-get \\\\update &&   apt-get \\\\\\\"install znc -y\")\n"
     "(add \"\\\\conf\\\\\\\\\\\"\" \"/.znc\")\n"
     "(run \"foo bar baz\")\n"
     "(cmd \"/usr\\\\\\\"/bin/znc\" \"-f\" \"-r\")\n"
     ""},
    {"flags",
     "FROM scratch\n"
     "COPY foo /tmp/\n"
     "COPY --user=me foo /tmp/\n"
     "COPY --doit=true foo /tmp/\n"
     "COPY --user=me --doit=true foo /tmp/\n"
     "COPY --doit=true -- foo /tmp/\n"
     "COPY -- foo /tmp/\n"
     "CMD --doit [ \"a\", \"b\" ]\n"
     "CMD --doit=true -- [ \"a\", \"b\" ]\n"
     "CMD --doit -- [ ]\n"
     "",
     "(from \"scratch\")\n"
     "(copy \"foo\" \"/tmp/\")\n"
     "(copy [\"--user=me\"] \"foo\" \"/tmp/\")\n"
     "(copy [\"--doit=true\"] \"foo\" \"/tmp/\")\n"
     "(copy [\"--user=me\" \"--doit=true\"] \"foo\" \"/tmp/\")\n"
     "(copy [\"--doit=true\"] \"foo\" \"/tmp/\")\n"
     "(copy \"foo\" \"/tmp/\")\n"
     "(cmd [\"--doit\"] \"a\" \"b\")\n"
     "(cmd [\"--doit=true\"] \"a\" \"b\")\n"
     "(cmd [\"--doit\"])\n"
     ""},
    {"health",
     "FROM debian\n"
     "ADD check.sh main.sh /app/\n"
     "CMD /app/main.sh\n"
     "HEALTHCHECK\n"
     "HEALTHCHECK --interval=5s --timeout=3s --retries=3 \\\n"
     "  CMD /app/check.sh --quiet\n"
     "HEALTHCHECK CMD\n"
     "HEALTHCHECK   CMD   a b\n"
     "HEALTHCHECK --timeout=3s CMD [\"foo\"]\n"
     "HEALTHCHECK CONNECT TCP 7000\n"
     "HEALTHCHECK --start-period=0s --start-interval=0s --interval=5s --timeout=0s --retries=0 CMD "
     "[\"foo\"]\n"
     "",
     "(from \"debian\")\n"
     "(add \"check.sh\" \"main.sh\" \"/app/\")\n"
     "(cmd \"/app/main.sh\")\n"
     "(healthcheck)\n"
     "(healthcheck [\"--interval=5s\" \"--timeout=3s\" \"--retries=3\"] \"CMD\" \"/app/check.sh "
     "--quiet\")\n"
     "(healthcheck \"CMD\")\n"
     "(healthcheck \"CMD\" \"a b\")\n"
     "(healthcheck [\"--timeout=3s\"] \"CMD\" \"foo\")\n"
     "(healthcheck \"CONNECT\" \"TCP 7000\")\n"
     "(healthcheck [\"--start-period=0s\" \"--start-interval=0s\" \"--interval=5s\" "
     "\"--timeout=0s\" \"--retries=0\"] \"CMD\" \"foo\")\n"
     ""},
    {"influxdb",
     "FROM ubuntu:14.04\n"
     "\n"
     "RUN apt-get update && apt-get install wget -y\n"
     "RUN wget http://s3.amazonaws.com/influxdb/influxdb_latest_amd64.deb\n"
     "RUN dpkg -i influxdb_latest_amd64.deb\n"
     "RUN rm -r /opt/influxdb/shared\n"
     "\n"
     "VOLUME /opt/influxdb/shared\n"
     "\n"
     "CMD /usr/bin/influxdb --pidfile /var/run/influxdb.pid -config "
     "/opt/influxdb/shared/config.toml\n"
     "\n"
     "EXPOSE 8083\n"
     "EXPOSE 8086\n"
     "EXPOSE 8090\n"
     "EXPOSE 8099\n"
     "",
     "(from \"ubuntu:14.04\")\n"
     "(run \"apt-get update && apt-get install wget -y\")\n"
     "(run \"wget http://s3.amazonaws.com/influxdb/influxdb_latest_amd64.deb\")\n"
     "(run \"dpkg -i influxdb_latest_amd64.deb\")\n"
     "(run \"rm -r /opt/influxdb/shared\")\n"
     "(volume \"/opt/influxdb/shared\")\n"
     "(cmd \"/usr/bin/influxdb --pidfile /var/run/influxdb.pid -config "
     "/opt/influxdb/shared/config.toml\")\n"
     "(expose \"8083\")\n"
     "(expose \"8086\")\n"
     "(expose \"8090\")\n"
     "(expose \"8099\")\n"
     ""},
    {"jeztah-invalid-json-json-inside-string",
     "CMD '[\"echo\", \"Well, JSON in a string is JSON too?\"]'\n"
     "",
     "(cmd \"'[\\\"echo\\\", \\\"Well, JSON in a string is JSON too?\\\"]'\")\n"
     ""},
    {"jeztah-invalid-json-json-inside-string-double",
     "CMD \"[\\\"echo\\\", \\\"Phew, I just managed to escaped those double quotes\\\"]\"\n"
     "",
     "(cmd \"\\\"[\\\\\\\"echo\\\\\\\", \\\\\\\"Phew, I just managed to escaped those double "
     "quotes\\\\\\\"]\\\"\")\n"
     ""},
    {"jeztah-invalid-json-single-quotes",
     "CMD ['echo','single quotes are invalid JSON']\n"
     "",
     "(cmd \"['echo','single quotes are invalid JSON']\")\n"
     ""},
    {"jeztah-invalid-json-unterminated-bracket",
     "CMD [\"echo\", \"Please, close the brackets when you're done\"\n"
     "",
     "(cmd \"[\\\"echo\\\", \\\"Please, close the brackets when you're done\\\"\")\n"
     ""},
    {"jeztah-invalid-json-unterminated-string",
     "CMD [\"echo\", \"look ma, no quote!]\n"
     "",
     "(cmd \"[\\\"echo\\\", \\\"look ma, no quote!]\")\n"
     ""},
    {"json",
     "CMD []\n"
     "CMD [\"\"]\n"
     "CMD [\"a\"]\n"
     "CMD [\"a\",\"b\"]\n"
     "CMD [ \"a\", \"b\" ]\n"
     "CMD [\t\"a\",\t\"b\"\t]\n"
     "CMD\t[\t\"a\",\t\"b\"\t]\t\n"
     "CMD [\"abc 123\", \"\342\231\245\", \"\342\230\203\", \"\\\" \\\\ \\/ \\b \\f \\n \\r "
     "\\t\"]\n"
     "",
     "(cmd)\n"
     "(cmd \"\")\n"
     "(cmd \"a\")\n"
     "(cmd \"a\" \"b\")\n"
     "(cmd \"a\" \"b\")\n"
     "(cmd \"a\" \"b\")\n"
     "(cmd \"a\" \"b\")\n"
     "(cmd \"abc 123\" \"\342\231\245\" \"\342\230\203\" \"\\\" \\\\ / \\b \\f \\n \\r \\t\")\n"
     ""},
    {"kartar-entrypoint-oddities",
     "FROM ubuntu:14.04\n"
     "LABEL maintainer James Turnbull \"james@example.com\"\n"
     "ENV REFRESHED_AT 2014-06-01\n"
     "RUN apt-get update\n"
     "RUN apt-get --no-install-recommends install -y redis-server redis-tools\n"
     "EXPOSE 6379\n"
     "ENTRYPOINT [ \"/usr/bin/redis-server\" ]\n"
     "",
     "(from \"ubuntu:14.04\")\n"
     "(label \"maintainer\" \"James Turnbull \\\"james@example.com\\\"\" \"\")\n"
     "(env \"REFRESHED_AT\" \"2014-06-01\" \"\")\n"
     "(run \"apt-get update\")\n"
     "(run \"apt-get --no-install-recommends install -y redis-server redis-tools\")\n"
     "(expose \"6379\")\n"
     "(entrypoint \"/usr/bin/redis-server\")\n"
     ""},
    {"lk4d4-the-edge-case-generator",
     "FROM busybox:buildroot-2014.02\n"
     "\n"
     "LABEL maintainer docker <docker@docker.io>\n"
     "\n"
     "ONBUILD RUN [\"echo\", \"test\"]\n"
     "ONBUILD RUN echo test\n"
     "ONBUILD COPY . /\n"
     "\n"
     "\n"
     "# RUN Commands \\\n"
     "# linebreak in comment \\\n"
     "RUN [\"ls\", \"-la\"]\n"
     "RUN [\"echo\", \"'1234'\"]\n"
     "RUN echo \"1234\"\n"
     "RUN echo 1234\n"
     "RUN echo '1234' && \\\n"
     "    echo \"456\" && \\\n"
     "    echo 789\n"
     "RUN    sh -c 'echo root:testpass \\\n"
     "        > /tmp/passwd'\n"
     "RUN mkdir -p /test /test2 /test3/test\n"
     "\n"
     "# ENV \\\n"
     "ENV SCUBA 1 DUBA 3\n"
     "ENV SCUBA \"1 DUBA 3\"\n"
     "\n"
     "# CMD \\\n"
     "CMD [\"echo\", \"test\"]\n"
     "CMD echo test\n"
     "CMD echo \"test\"\n"
     "CMD echo 'test'\n"
     "CMD echo 'test' | wc -\n"
     "\n"
     "#EXPOSE\\\n"
     "EXPOSE 3000\n"
     "EXPOSE 9000 5000 6000\n"
     "\n"
     "USER docker\n"
     "USER docker:root\n"
     "\n"
     "VOLUME [\"/test\"]\n"
     "VOLUME [\"/test\", \"/test2\"]\n"
     "VOLUME /test3\n"
     "\n"
     "WORKDIR /test\n"
     "\n"
     "ADD . /\n"
     "COPY . copy\n"
     "",
     "(from \"busybox:buildroot-2014.02\")\n"
     "(label \"maintainer\" \"docker <docker@docker.io>\" \"\")\n"
     "(onbuild (run \"echo\" \"test\"))\n"
     "(onbuild (run \"echo test\"))\n"
     "(onbuild (copy \".\" \"/\"))\n"
     "(run \"ls\" \"-la\")\n"
     "(run \"echo\" \"'1234'\")\n"
     "(run \"echo \\\"1234\\\"\")\n"
     "(run \"echo 1234\")\n"
     "(run \"echo '1234' &&     echo \\\"456\\\" &&     echo 789\")\n"
     "(run \"sh -c 'echo root:testpass         > /tmp/passwd'\")\n"
     "(run \"mkdir -p /test /test2 /test3/test\")\n"
     "(env \"SCUBA\" \"1 DUBA 3\" \"\")\n"
     "(env \"SCUBA\" \"\\\"1 DUBA 3\\\"\" \"\")\n"
     "(cmd \"echo\" \"test\")\n"
     "(cmd \"echo test\")\n"
     "(cmd \"echo \\\"test\\\"\")\n"
     "(cmd \"echo 'test'\")\n"
     "(cmd \"echo 'test' | wc -\")\n"
     "(expose \"3000\")\n"
     "(expose \"9000\" \"5000\" \"6000\")\n"
     "(user \"docker\")\n"
     "(user \"docker:root\")\n"
     "(volume \"/test\")\n"
     "(volume \"/test\" \"/test2\")\n"
     "(volume \"/test3\")\n"
     "(workdir \"/test\")\n"
     "(add \".\" \"/\")\n"
     "(copy \".\" \"copy\")\n"
     ""},
    {"mail",
     "FROM ubuntu:14.04\n"
     "\n"
     "RUN apt-get update -qy && apt-get install mutt offlineimap vim-nox abook elinks curl tmux "
     "cron zsh -y\n"
     "ADD .muttrc /\n"
     "ADD .offlineimaprc /\n"
     "ADD .tmux.conf /\n"
     "ADD mutt /.mutt\n"
     "ADD vim /.vim\n"
     "ADD vimrc /.vimrc\n"
     "ADD crontab /etc/crontab\n"
     "RUN chmod 644 /etc/crontab\n"
     "RUN mkdir /Mail\n"
     "RUN mkdir /.offlineimap\n"
     "RUN echo \"export TERM=screen-256color\" >/.zshenv\n"
     "\n"
     "CMD setsid cron; tmux -2\n"
     "",
     "(from \"ubuntu:14.04\")\n"
     "(run \"apt-get update -qy && apt-get install mutt offlineimap vim-nox abook elinks curl tmux "
     "cron zsh -y\")\n"
     "(add \".muttrc\" \"/\")\n"
     "(add \".offlineimaprc\" \"/\")\n"
     "(add \".tmux.conf\" \"/\")\n"
     "(add \"mutt\" \"/.mutt\")\n"
     "(add \"vim\" \"/.vim\")\n"
     "(add \"vimrc\" \"/.vimrc\")\n"
     "(add \"crontab\" \"/etc/crontab\")\n"
     "(run \"chmod 644 /etc/crontab\")\n"
     "(run \"mkdir /Mail\")\n"
     "(run \"mkdir /.offlineimap\")\n"
     "(run \"echo \\\"export TERM=screen-256color\\\" >/.zshenv\")\n"
     "(cmd \"setsid cron; tmux -2\")\n"
     ""},
    {"multiple-volumes",
     "FROM foo\n"
     "\n"
     "VOLUME /opt/nagios/var /opt/nagios/etc /opt/nagios/libexec /var/log/apache2 "
     "/usr/share/snmp/mibs\n"
     "",
     "(from \"foo\")\n"
     "(volume \"/opt/nagios/var\" \"/opt/nagios/etc\" \"/opt/nagios/libexec\" \"/var/log/apache2\" "
     "\"/usr/share/snmp/mibs\")\n"
     ""},
    {"mumble",
     "FROM ubuntu:14.04\n"
     "\n"
     "RUN apt-get update && apt-get install libcap2-bin mumble-server -y\n"
     "\n"
     "ADD ./mumble-server.ini /etc/mumble-server.ini\n"
     "\n"
     "CMD /usr/sbin/murmurd\n"
     "",
     "(from \"ubuntu:14.04\")\n"
     "(run \"apt-get update && apt-get install libcap2-bin mumble-server -y\")\n"
     "(add \"./mumble-server.ini\" \"/etc/mumble-server.ini\")\n"
     "(cmd \"/usr/sbin/murmurd\")\n"
     ""},
    {"nginx",
     "FROM ubuntu:14.04\n"
     "LABEL maintainer Erik Hollensbe <erik@hollensbe.org>\n"
     "\n"
     "RUN apt-get update && apt-get install nginx-full -y\n"
     "RUN rm -rf /etc/nginx\n"
     "ADD etc /etc/nginx\n"
     "RUN chown -R root:root /etc/nginx\n"
     "RUN /usr/sbin/nginx -qt\n"
     "RUN mkdir /www\n"
     "\n"
     "CMD [\"/usr/sbin/nginx\"]\n"
     "\n"
     "VOLUME /www\n"
     "EXPOSE 80\n"
     "",
     "(from \"ubuntu:14.04\")\n"
     "(label \"maintainer\" \"Erik Hollensbe <erik@hollensbe.org>\" \"\")\n"
     "(run \"apt-get update && apt-get install nginx-full -y\")\n"
     "(run \"rm -rf /etc/nginx\")\n"
     "(add \"etc\" \"/etc/nginx\")\n"
     "(run \"chown -R root:root /etc/nginx\")\n"
     "(run \"/usr/sbin/nginx -qt\")\n"
     "(run \"mkdir /www\")\n"
     "(cmd \"/usr/sbin/nginx\")\n"
     "(volume \"/www\")\n"
     "(expose \"80\")\n"
     ""},
    {"tf2",
     "FROM ubuntu:12.04\n"
     "\n"
     "EXPOSE 27015\n"
     "EXPOSE 27005\n"
     "EXPOSE 26901\n"
     "EXPOSE 27020\n"
     "\n"
     "RUN apt-get update && apt-get install libc6-dev-i386 curl unzip -y\n"
     "RUN mkdir -p /steam\n"
     "RUN curl http://media.steampowered.com/client/steamcmd_linux.tar.gz | tar vxz -C /steam\n"
     "ADD ./script /steam/script\n"
     "RUN /steam/steamcmd.sh +runscript /steam/script\n"
     "RUN curl http://mirror.pointysoftware.net/alliedmodders/mmsource-1.10.0-linux.tar.gz | tar "
     "vxz -C /steam/tf2/tf\n"
     "RUN curl http://mirror.pointysoftware.net/alliedmodders/sourcemod-1.5.3-linux.tar.gz | tar "
     "vxz -C /steam/tf2/tf\n"
     "ADD ./server.cfg /steam/tf2/tf/cfg/server.cfg\n"
     "ADD ./ctf_2fort.cfg /steam/tf2/tf/cfg/ctf_2fort.cfg\n"
     "ADD ./sourcemod.cfg /steam/tf2/tf/cfg/sourcemod/sourcemod.cfg\n"
     "RUN rm -r /steam/tf2/tf/addons/sourcemod/configs\n"
     "ADD ./configs /steam/tf2/tf/addons/sourcemod/configs\n"
     "RUN mkdir -p /steam/tf2/tf/addons/sourcemod/translations/en\n"
     "RUN cp /steam/tf2/tf/addons/sourcemod/translations/*.txt "
     "/steam/tf2/tf/addons/sourcemod/translations/en\n"
     "\n"
     "CMD cd /steam/tf2 && ./srcds_run -port 27015 +ip 0.0.0.0 +map ctf_2fort -autoupdate "
     "-steam_dir /steam -steamcmd_script /steam/script +tf_bot_quota 12 +tf_bot_quota_mode fill\n"
     "",
     "(from \"ubuntu:12.04\")\n"
     "(expose \"27015\")\n"
     "(expose \"27005\")\n"
     "(expose \"26901\")\n"
     "(expose \"27020\")\n"
     "(run \"apt-get update && apt-get install libc6-dev-i386 curl unzip -y\")\n"
     "(run \"mkdir -p /steam\")\n"
     "(run \"curl http://media.steampowered.com/client/steamcmd_linux.tar.gz | tar vxz -C "
     "/steam\")\n"
     "(add \"./script\" \"/steam/script\")\n"
     "(run \"/steam/steamcmd.sh +runscript /steam/script\")\n"
     "(run \"curl http://mirror.pointysoftware.net/alliedmodders/mmsource-1.10.0-linux.tar.gz | "
     "tar vxz -C /steam/tf2/tf\")\n"
     "(run \"curl http://mirror.pointysoftware.net/alliedmodders/sourcemod-1.5.3-linux.tar.gz | "
     "tar vxz -C /steam/tf2/tf\")\n"
     "(add \"./server.cfg\" \"/steam/tf2/tf/cfg/server.cfg\")\n"
     "(add \"./ctf_2fort.cfg\" \"/steam/tf2/tf/cfg/ctf_2fort.cfg\")\n"
     "(add \"./sourcemod.cfg\" \"/steam/tf2/tf/cfg/sourcemod/sourcemod.cfg\")\n"
     "(run \"rm -r /steam/tf2/tf/addons/sourcemod/configs\")\n"
     "(add \"./configs\" \"/steam/tf2/tf/addons/sourcemod/configs\")\n"
     "(run \"mkdir -p /steam/tf2/tf/addons/sourcemod/translations/en\")\n"
     "(run \"cp /steam/tf2/tf/addons/sourcemod/translations/*.txt "
     "/steam/tf2/tf/addons/sourcemod/translations/en\")\n"
     "(cmd \"cd /steam/tf2 && ./srcds_run -port 27015 +ip 0.0.0.0 +map ctf_2fort -autoupdate "
     "-steam_dir /steam -steamcmd_script /steam/script +tf_bot_quota 12 +tf_bot_quota_mode "
     "fill\")\n"
     ""},
    {"trailing-backslash",
     "# https://github.com/docker/for-win/issues/5254\n"
     "\n"
     "FROM hello-world\n"
     "\n"
     "ENV A path\n"
     "ENV B another\\\\path\n"
     "ENV C trailing\\\\backslash\\\\\n"
     "ENV D This should not be appended to C\n"
     "ENV E hello\\\n"
     "\\\n"
     "world\n"
     "ENV F hello\\\n"
     " \\\n"
     "world\n"
     "ENV G hello \\\n"
     "\\\n"
     "world\n"
     "",
     "(from \"hello-world\")\n"
     "(env \"A\" \"path\" \"\")\n"
     "(env \"B\" \"another\\\\\\\\path\" \"\")\n"
     "(env \"C\" \"trailing\\\\\\\\backslash\\\\\\\\\" \"\")\n"
     "(env \"D\" \"This should not be appended to C\" \"\")\n"
     "(env \"E\" \"helloworld\" \"\")\n"
     "(env \"F\" \"hello world\" \"\")\n"
     "(env \"G\" \"hello world\" \"\")\n"
     ""},
    {"weechat",
     "FROM ubuntu:14.04\n"
     "\n"
     "RUN apt-get update -qy && apt-get install tmux zsh weechat-curses -y\n"
     "\n"
     "ADD .weechat /.weechat\n"
     "ADD .tmux.conf /\n"
     "RUN echo \"export TERM=screen-256color\" >/.zshenv\n"
     "\n"
     "CMD zsh -c weechat\n"
     "",
     "(from \"ubuntu:14.04\")\n"
     "(run \"apt-get update -qy && apt-get install tmux zsh weechat-curses -y\")\n"
     "(add \".weechat\" \"/.weechat\")\n"
     "(add \".tmux.conf\" \"/\")\n"
     "(run \"echo \\\"export TERM=screen-256color\\\" >/.zshenv\")\n"
     "(cmd \"zsh -c weechat\")\n"
     ""},
    {"znc",
     "FROM ubuntu:14.04\n"
     "LABEL maintainer Erik Hollensbe <erik@hollensbe.org>\n"
     "\n"
     "RUN apt-get update && apt-get install znc -y\n"
     "ADD conf /.znc\n"
     "\n"
     "CMD [ \"/usr/bin/znc\", \"-f\", \"-r\" ]\n"
     "",
     "(from \"ubuntu:14.04\")\n"
     "(label \"maintainer\" \"Erik Hollensbe <erik@hollensbe.org>\" \"\")\n"
     "(run \"apt-get update && apt-get install znc -y\")\n"
     "(add \"conf\" \"/.znc\")\n"
     "(cmd \"/usr/bin/znc\" \"-f\" \"-r\")\n"
     ""},
};

static void test_buildkit_testfiles(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(buildkit_cases); i++) {
		struct nib_error err = {0};
		char name[128];
		char *got = ast(buildkit_cases[i].dockerfile, &err);
		bool ok = got && strcmp(got, buildkit_cases[i].result) == 0;
		snprintf(name, sizeof(name), "buildkit testfile %s", buildkit_cases[i].name);
		if (!ok)
			printf("--- got:\n%s\n--- want:\n%s\n", got ? got : err.msg,
			       buildkit_cases[i].result);
		unit_row(name, ok, NULL);
		free(got);
		nib_err_clear(&err);
	}
}

/* BuildKit testfiles-negative: every one of them is refused. */
static const struct {
	const char *name, *dockerfile, *error;
} negative_cases[] = {
    {"empty_dockerfile", "", "Dockerfile:1:1: file with no instructions"},
    {"only_comments", "# Hello\n# These are just comments\n", "file with no instructions"},
    {"env_no_value", "FROM busybox\n\nENV PATH\n", "Dockerfile:3:5: ENV must have two arguments"},
    {"shykes-nested-json", "CMD [ \"echo\", [ \"nested json\" ] ]\n",
     "Dockerfile:1:5: when using JSON array syntax, arrays must be comprised of strings only"},
    {"json with \\u0000", "FROM a\nCMD [\"a\\u0000b\"]\n", "Dockerfile:2:5: a NUL character"},
    {"unterminated heredoc", "FROM a\nRUN cat <<EOF\nhello\n",
     "Dockerfile:2:9: unterminated heredoc"},
    {"second heredoc unterminated", "FROM a\nRUN <<A <<B\na\nA\nb\n", "unterminated heredoc B"},
    {"duplicate escape directive", "# escape=`\n# escape=\\\nFROM a\n",
     "Dockerfile:2:1: only one escape parser directive can be used"},
    {"duplicate syntax directive", "# syntax=a\n# SYNTAX=b\nFROM a\n",
     "only one syntax parser directive can be used"},
    {"bad escape token", "# escape=x\nFROM a\n",
     "Dockerfile:1:10: invalid escape token 'x' does not match ` or \\"},
    {"NUL byte", "FROM a\nRUN a\000b\n", "Dockerfile:2:6: a NUL byte"},
    {"ENV without =", "FROM a\nENV a=b c\n",
     "Dockerfile:2:9: Syntax error - can't find = in \"c\""},
    {"LABEL one word", "FROM a\nLABEL foo\n", "LABEL must have two arguments"},
};

static void test_negative(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(negative_cases); i++) {
		struct nib_error err = {0};
		char name[128], why[512];
		size_t len = strlen(negative_cases[i].dockerfile);
		if (strstr(negative_cases[i].name, "NUL"))
			len = 14;
		struct cf_file *f =
		    cf_parse_buffer("Dockerfile", negative_cases[i].dockerfile, len, &err);
		bool ok = !f && err.msg && strstr(err.msg, negative_cases[i].error) &&
			  err.kind == NIB_ERR_SYNTAX;
		snprintf(name, sizeof(name), "refused: %s", negative_cases[i].name);
		snprintf(why, sizeof(why), "got '%s', want '%s'", err.msg ? err.msg : "(parsed)",
			 negative_cases[i].error);
		unit_row(name, ok, ok ? NULL : why);
		cf_file_free(f);
		nib_err_clear(&err);
	}
}

int main(void)
{
	test_buildkit_testfiles();
	test_negative();
	return unit_done();
}
