# Registry fixtures for tests. Source after tests/lib.sh.
#
#   registry_start plain|basic|token|tls   start Debian's docker-registry on a
#       free loopback port with its own storage folder; sets
#         REG       host:port
#         REG_DIR   its folder (config.yml, storage/, log)
#         REG_USER REG_PASS   credentials (basic, token)
#         REG_CA    CA certificate (tls)
#         TOKEN_DIR token server folder (token: requests.log, mode)
#       Everything started is stopped at exit.
#   make_image DIR TAG [LAYERS] [SALT]   an OCI layout at DIR with image TAG:
#       a busybox-static rootfs layer, then LAYERS-1 small layers whose
#       content depends on SALT (plus $IMAGE_BIG_KB kB of random data each).
#       Sets IMAGE_MANIFEST, IMAGE_CONFIG, IMAGE_LAYERS (digests).
#   free_port                            print a free TCP port on 127.0.0.1

REG_USER=nibtest
REG_PASS='s3cret-pässword'
export REG_USER REG_PASS

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

_reg_wait() { # URL CURL_ARGS...
	local url=$1 i code
	shift
	for ((i = 0; i < 100; i++)); do
		code=$(curl -s -o /dev/null -w '%{http_code}' "$@" "$url" 2>/dev/null)
		case $code in 200 | 401) return 0 ;; esac
		sleep 0.1
	done
	return 1
}

_reg_tls_material() { # DIR: ca.pem ca.key server.pem server.key
	local d=$1
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/ca.key" -out "$d/ca.pem" -days 2 \
		-subj "/CN=nib test CA" -addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null || return 1
	openssl req -newkey rsa:2048 -nodes -keyout "$d/server.key" -out "$d/server.csr" \
		-subj "/CN=127.0.0.1" 2>/dev/null || return 1
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$d/ext"
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
		-out "$d/server.pem" -days 2 -extfile "$d/ext" 2>/dev/null
}

registry_start() { # VARIANT
	local variant=$1 dir port tport pid scheme=http curl_args=()
	command -v docker-registry >/dev/null || return 1
	dir=$(mktemp -d "$T/registry.XXXXXX")
	chmod 0755 "$dir"
	mkdir -p "$dir/storage"
	port=$(free_port)
	cat >"$dir/config.yml" <<YAML
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  secret: nib-test-secret
YAML
	case $variant in
	plain) ;;
	basic)
		htpasswd -Bbn "$REG_USER" "$REG_PASS" >"$dir/htpasswd" 2>/dev/null || return 1
		cat >>"$dir/config.yml" <<YAML
auth:
  htpasswd:
    realm: nib-test
    path: $dir/htpasswd
YAML
		;;
	token)
		TOKEN_DIR=$dir/token
		mkdir -p "$TOKEN_DIR"
		openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TOKEN_DIR/key.pem" \
			-out "$TOKEN_DIR/cert.pem" -days 2 -subj "/CN=nib test token issuer" \
			2>/dev/null || return 1
		echo "$REG_USER:$REG_PASS" >"$TOKEN_DIR/users"
		tport=$(free_port)
		python3 "$NIB_SRC/tests/lib/token_server.py" "$TOKEN_DIR" "$tport" \
			>"$TOKEN_DIR/log" 2>&1 &
		pid=$!
		at_exit "kill $pid"
		TOKEN_URL=http://127.0.0.1:$tport/token
		# TOKEN_REALM_HOST: name the token server by another host name
		TOKEN_REALM=http://${TOKEN_REALM_HOST:-127.0.0.1}:$tport/token
		_reg_wait "http://127.0.0.1:$tport/token" || return 1
		: >"$TOKEN_DIR/requests.log"
		cat >>"$dir/config.yml" <<YAML
auth:
  token:
    realm: $TOKEN_REALM
    service: nib-test-registry
    issuer: nib-test-issuer
    rootcertbundle: $TOKEN_DIR/cert.pem
YAML
		export TOKEN_DIR TOKEN_URL
		;;
	tls)
		_reg_tls_material "$dir" || return 1
		cat >>"$dir/config.yml" <<YAML
  tls:
    certificate: $dir/server.pem
    key: $dir/server.key
YAML
		REG_CA=$dir/ca.pem
		export REG_CA
		scheme=https
		curl_args=(--cacert "$REG_CA")
		;;
	*) return 1 ;;
	esac
	docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
	pid=$!
	at_exit "kill $pid"
	REG=127.0.0.1:$port
	REG_DIR=$dir
	export REG REG_DIR
	_reg_wait "$scheme://$REG/v2/" "${curl_args[@]}" || {
		echo "docker-registry did not start:" >&2
		cat "$dir/log" >&2
		return 1
	}
}

# A deterministic gzip'd tar of the folder $1, written to $2.
_tar_gz() {
	tar -C "$1" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - . | gzip -n >"$2"
}

_sha() { sha256sum "$1" | cut -d' ' -f1; }

make_image() { # DIR TAG [LAYERS] [SALT]
	local dir=$1 tag=$2 layers=${3:-1} salt=${4:-}
	local work i d cfg man ldesc="" diffs="" sep=""
	IMAGE_LAYERS=""
	work=$(mktemp -d "$T/img.XXXXXX")
	mkdir -p "$dir/blobs/sha256" "$work/l1/bin" "$work/l1/etc" "$work/l1/tmp"
	cp /bin/busybox "$work/l1/bin/busybox"
	for c in sh ls cat echo true; do ln -sf busybox "$work/l1/bin/$c"; done
	echo "nib test image $salt" >"$work/l1/etc/nib-release"
	chmod 1777 "$work/l1/tmp"
	for ((i = 2; i <= layers; i++)); do
		mkdir -p "$work/l$i/data"
		echo "layer $i $salt" >"$work/l$i/data/layer$i.txt"
		# IMAGE_BIG_KB: incompressible data in every layer after the first
		if [ -n "${IMAGE_BIG_KB:-}" ]; then
			head -c "$((IMAGE_BIG_KB * 1024))" /dev/urandom >"$work/l$i/data/big$i.bin"
		fi
	done
	for ((i = 1; i <= layers; i++)); do
		_tar_gz "$work/l$i" "$work/l$i.tgz"
		gzip -dc "$work/l$i.tgz" >"$work/l$i.tar"
		d=$(_sha "$work/l$i.tgz")
		cp "$work/l$i.tgz" "$dir/blobs/sha256/$d"
		IMAGE_LAYERS+=" sha256:$d"
		ldesc+="$sep{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$d\",\"size\":$(stat -c %s "$work/l$i.tgz")}"
		diffs+="$sep\"sha256:$(_sha "$work/l$i.tar")\""
		sep=,
	done
	printf '{"architecture":"%s","os":"linux","config":{"Cmd":["/bin/sh"],"Env":["PATH=/bin"]},"rootfs":{"type":"layers","diff_ids":[%s]},"history":[{"created_by":"nib tests"}]}' \
		"${IMAGE_ARCH:-amd64}" "$diffs" >"$work/config.json"
	cfg=$(_sha "$work/config.json")
	cp "$work/config.json" "$dir/blobs/sha256/$cfg"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
		"$cfg" "$(stat -c %s "$work/config.json")" "$ldesc" >"$work/manifest.json"
	man=$(_sha "$work/manifest.json")
	cp "$work/manifest.json" "$dir/blobs/sha256/$man"
	echo '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
		"$man" "$(stat -c %s "$work/manifest.json")" "$tag" >"$dir/index.json"
	rm -rf "$work"
	IMAGE_MANIFEST=sha256:$man
	IMAGE_CONFIG=sha256:$cfg
}

# make_index DIR TAG: an OCI layout at DIR whose TAG is an index of two
# images, linux/amd64 and linux/arm64/v8 (salts "amd64" and "arm64").
# Sets INDEX_DIGEST, AMD64_MANIFEST, ARM64_MANIFEST.
make_index() { # DIR TAG
	local dir=$1 tag=$2 a b idx
	make_image "$T/.idx-a" x 1 amd64
	AMD64_MANIFEST=$IMAGE_MANIFEST
	IMAGE_ARCH=arm64 make_image "$T/.idx-b" x 1 arm64
	ARM64_MANIFEST=$IMAGE_MANIFEST
	mkdir -p "$dir/blobs/sha256"
	cp "$T"/.idx-a/blobs/sha256/* "$T"/.idx-b/blobs/sha256/* "$dir/blobs/sha256/"
	a=$(stat -c %s "$dir/blobs/sha256/${AMD64_MANIFEST#sha256:}")
	b=$(stat -c %s "$dir/blobs/sha256/${ARM64_MANIFEST#sha256:}")
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"platform":{"architecture":"amd64","os":"linux"}},{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"platform":{"architecture":"arm64","os":"linux","variant":"v8"}}]}' \
		"$AMD64_MANIFEST" "$a" "$ARM64_MANIFEST" "$b" >"$T/.idx.json"
	idx=$(_sha "$T/.idx.json")
	cp "$T/.idx.json" "$dir/blobs/sha256/$idx"
	echo '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
		"$idx" "$(stat -c %s "$T/.idx.json")" "$tag" >"$dir/index.json"
	rm -rf "$T/.idx-a" "$T/.idx-b" "$T/.idx.json"
	INDEX_DIGEST=sha256:$idx
}

# skopeo copy to the registry started last (plain or tls as configured).
skopeo_push() { # OCI_DIR:TAG REPO:TAG [skopeo args]
	local src=$1 dst=$2
	shift 2
	skopeo copy -q --dest-tls-verify=false "$@" "oci:$src" "docker://$REG/$dst" >/dev/null
}

# proxy_start UPSTREAM: the fault-injecting proxy (tests/lib/fault_proxy.py)
# in front of UPSTREAM (host:port); sets PROXY (host:port) and PROXY_DIR
# (rules, log). With PROXY_TLS_CERT and PROXY_TLS_KEY set it speaks HTTPS
# (_reg_tls_material makes a CA and a server certificate for 127.0.0.1).
proxy_start() {
	local up=$1 port pid
	PROXY_DIR=$(mktemp -d "$T/proxy.XXXXXX")
	port=$(free_port)
	python3 "$NIB_SRC/tests/lib/fault_proxy.py" "$PROXY_DIR" "$port" "$up" >"$PROXY_DIR/out" 2>&1 &
	pid=$!
	at_exit "kill $pid"
	PROXY=127.0.0.1:$port
	export PROXY PROXY_DIR
	if [ -n "${PROXY_TLS_CERT:-}" ]; then
		_reg_wait "https://$PROXY/v2/" -k
	else
		_reg_wait "http://$PROXY/v2/"
	fi
}
