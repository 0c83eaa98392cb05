#!/bin/bash
# run.sh: long 1
# deploy/ as shipped: every manifest parses and meets Pod Security
# "restricted" (init containers included), the Tekton Task has the catalog
# buildah Task's interface and takes its params from the environment, nib's
# global options come first, the seccomp profile is RuntimeDefault plus
# exactly the calls nib makes, the SELinux module builds; then the commands
# in the manifests run for real, as the pod user of the restricted-pod
# simulation, against Debian's docker-registry on loopback: the Tekton step,
# the Kubernetes Job's init container and nib container, the OpenShift Job
# with the legacy .dockercfg secret and the service CA, the Jenkinsfile's
# steps in the Jenkins pod template and the GitLab CI job.
# (nib's own image, deploy/Containerfile, is built in tests/e2e/deploy_image.sh.)
. "$(dirname "$0")/../lib.sh"
. "$NIB_SRC/tests/lib/registry.sh"
. "$NIB_SRC/tests/lib/users.sh"
. "$NIB_SRC/tests/lib/podsim.sh"

D=$NIB_SRC/deploy
M=$NIB_SRC/tests/lib/manifests.py
S=$NIB_SRC/tests/lib/seccomp_check.py
DOCKER_DEFAULT=/usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json
# the calls nib.json adds to RuntimeDefault, and only these
NIB_SECCOMP_CALLS="clone unshare mount umount2 pivot_root sethostname mount_setattr fsopen fsconfig fsmount move_mount open_tree chroot"
YAMLS=("$D"/*.yaml "$D"/seccomp/*.yaml "$D"/gitlab/.gitlab-ci.yml)

have_yaml() { python3 -c 'import yaml' 2>/dev/null; }

# ---- the files as text -----------------------------------------------------------------

t "every YAML manifest parses (python3-yaml), every JSON file too"
if have_yaml; then
	for f in "${YAMLS[@]}"; do
		run python3 -c 'import sys, yaml; d = [x for x in yaml.safe_load_all(open(sys.argv[1])) if x]; assert d, "empty"' "$f"
		assert_status 0 "$f"
	done
	run python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$D/seccomp/nib.json"
	assert_status 0
	run python3 -c 'import sys, tomllib; tomllib.load(open(sys.argv[1], "rb"))' "$D/gitlab/runner-config.toml"
	assert_status 0
else
	skip "python3-yaml is not installed (make deps)"
fi

t "every pod spec meets Pod Security restricted, init containers included"
if have_yaml; then
	run python3 "$M" pods "$D"/*.yaml
	assert_status 0
	# each shipped pod spec is seen: Job, OpenShift Template, Tekton Task, Jenkins
	assert_match "$out" 'kubernetes-job.yaml.*fetch-context, nib'
	assert_match "$out" 'openshift-job-template.yaml.*fetch-context, nib'
	assert_match "$out" 'tekton-task.yaml.*build-and-push'
	assert_match "$out" 'jenkins-pod-template.yaml.*jnlp, nib'
	# the check itself: an init container without a security context fails
	python3 - "$D/kubernetes-job.yaml" "$T/bad-job.yaml" <<'EOF'
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
del d["spec"]["template"]["spec"]["initContainers"][0]["securityContext"]
yaml.safe_dump(d, open(sys.argv[2], "w"))
EOF
	run python3 "$M" pods "$T/bad-job.yaml"
	assert_status 1 "a broken init container must fail the check"
	assert_match "$out" 'container fetch-context: allowPrivilegeEscalation is not false'
else
	skip "python3-yaml is not installed (make deps)"
fi

t "the GitLab runner config makes every job container restricted, with a seccomp profile"
run python3 "$M" gitlab-runner "$D/gitlab/runner-config.toml"
assert_status 0

t "the Tekton Task has the catalog buildah Task's interface and takes params only from the environment"
if have_yaml; then
	run python3 "$M" tekton "$D/tekton-task.yaml"
	assert_status 0
	# the check itself: a param spliced into the script fails it
	sed 's/"--tag=\$PARAM_IMAGE"/"--tag=$(params.IMAGE)"/' "$D/tekton-task.yaml" >"$T/bad-task.yaml"
	run python3 "$M" tekton "$T/bad-task.yaml"
	assert_status 1 "a param in the script must fail the check"
	assert_match "$out" 'script uses \$\(params'
else
	skip "python3-yaml is not installed (make deps)"
fi

t "nib's global options come before the command in every manifest"
if have_yaml; then
	run python3 "$M" nibargv "${YAMLS[@]}" "$D/Jenkinsfile"
	assert_status 0
	for f in kubernetes-job.yaml openshift-job-template.yaml tekton-task.yaml Jenkinsfile .gitlab-ci.yml; do
		assert_match "$out" "nib call $f: nib " "$f has a nib command line"
	done
	assert_match "$out" 'tekton-task.yaml: nib --log-format=json build '
	# the check itself: the old Task's `nib build ... --log-format=json` fails
	sed 's/nib --log-format=json build /nib build --log-format=json /' "$D/tekton-task.yaml" >"$T/late.yaml"
	run python3 "$M" nibargv "$T/late.yaml"
	assert_status 1
	assert_match "$out" 'global option --log-format=json after the command build'
	# and nib itself refuses that order (exit 2), accepts the shipped one
	run "$NIB" build --log-format=json --help
	assert_status 2
	run "$NIB" --log-format=json build --help
	assert_status 0
else
	skip "python3-yaml is not installed (make deps)"
fi

t "the Kubernetes Job takes its context from a tarball URL, never a ConfigMap"
if have_yaml; then
	run python3 - "$D/kubernetes-job.yaml" "$D/openshift-job-template.yaml" <<'EOF'
import sys, yaml, json
for p in sys.argv[1:]:
    text = json.dumps(list(yaml.safe_load_all(open(p))))
    assert '"configMap"' not in text, p + ": a ConfigMap volume"
    assert "CONTEXT_URL" in text and "fetch-context" in text, p + ": no context fetch"
EOF
	assert_status 0
else
	skip "python3-yaml is not installed (make deps)"
fi

t "OpenShift: the Job runs as nib-builder, which may push, with the dockercfg secret OpenShift makes"
if have_yaml; then
	run python3 - "$D/openshift-job-template.yaml" "$D/openshift-serviceaccount.yaml" <<'EOF'
import sys, yaml
tmpl = yaml.safe_load(open(sys.argv[1]))
assert tmpl["kind"] == "Template", "not a Template"
job = [o for o in tmpl["objects"] if o["kind"] == "Job"]
assert len(job) == 1, "one Job"
pod = job[0]["spec"]["template"]["spec"]
assert pod["serviceAccountName"] == "nib-builder", pod.get("serviceAccountName")
assert "runAsUser" not in (pod.get("securityContext") or {}), "restricted-v2 assigns the UID"
sec = [v for v in pod["volumes"] if "secret" in v]
assert len(sec) == 1, sec
items = sec[0]["secret"]["items"]
assert sec[0]["secret"]["secretName"] == "${DOCKERCFG_SECRET}", sec
assert [i["key"] for i in items] == [".dockercfg"], items
params = {p["name"]: p for p in tmpl["parameters"]}
assert params["DOCKERCFG_SECRET"].get("required"), "DOCKERCFG_SECRET required"
nib = [c for c in pod["containers"] if c["name"] == "nib"][0]
mount = [m for m in nib["volumeMounts"] if m["name"] == sec[0]["name"]][0]["mountPath"]
assert any(a == "--authfile=%s/.dockercfg" % mount for a in nib["args"]), nib["args"]
sa = yaml.safe_load(open(sys.argv[2]))["items"]
kinds = {o["kind"]: o for o in sa}
assert kinds["ServiceAccount"]["metadata"]["name"] == "nib-builder"
rb = kinds["RoleBinding"]
assert rb["roleRef"]["name"] == "system:image-builder", rb["roleRef"]
assert rb["subjects"] == [{"kind": "ServiceAccount", "name": "nib-builder"}], rb["subjects"]
EOF
	assert_status 0
else
	skip "python3-yaml is not installed (make deps)"
fi

t "the SCC is OpenShift's restricted-v2 plus the Localhost profile nib.json"
if have_yaml; then
	run python3 - "$D/openshift-scc.yaml" <<'EOF'
import sys, yaml
# OpenShift 4's restricted-v2, as `oc get scc restricted-v2 -o yaml` shows it
restricted_v2 = {
    "allowHostDirVolumePlugin": False, "allowHostIPC": False, "allowHostNetwork": False,
    "allowHostPID": False, "allowHostPorts": False, "allowPrivilegeEscalation": False,
    "allowPrivilegedContainer": False, "allowedCapabilities": ["NET_BIND_SERVICE"],
    "defaultAddCapabilities": None, "fsGroup": {"type": "MustRunAs"}, "groups": [],
    "priority": None, "readOnlyRootFilesystem": False, "requiredDropCapabilities": ["ALL"],
    "runAsUser": {"type": "MustRunAsRange"}, "seLinuxContext": {"type": "MustRunAs"},
    "seccompProfiles": ["runtime/default"], "supplementalGroups": {"type": "RunAsAny"},
    "users": [], "volumes": ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                             "persistentVolumeClaim", "projected", "secret"],
}
items = yaml.safe_load(open(sys.argv[1]))["items"]
scc = [o for o in items if o["kind"] == "SecurityContextConstraints"][0]
body = {k: v for k, v in scc.items() if k not in ("apiVersion", "kind", "metadata")}
for k, v in restricted_v2.items():
    if k == "seccompProfiles":
        continue
    assert body.get(k, "absent") == v, "%s: %r, restricted-v2 has %r" % (k, body.get(k), v)
extra = set(body) - set(restricted_v2)
assert not extra, "fields restricted-v2 does not set: %s" % extra
assert body["seccompProfiles"][0] == "runtime/default", body["seccompProfiles"]
assert "localhost/nib.json" in body["seccompProfiles"], body["seccompProfiles"]
assert set(body["seccompProfiles"]) <= {"runtime/default", "localhost/nib.json",
                                        "localhost/operator/nib.json"}, body["seccompProfiles"]
role = [o for o in items if o["kind"] == "ClusterRole"][0]
rule = role["rules"][0]
assert rule["verbs"] == ["use"] and rule["resourceNames"] == [scc["metadata"]["name"]], rule
EOF
	assert_status 0
else
	skip "python3-yaml is not installed (make deps)"
fi

# ---- seccomp ----------------------------------------------------------------------------

t "nib.json is Docker's default profile resolved for no capabilities, plus exactly nib's calls"
if [ -f "$DOCKER_DEFAULT" ]; then
	# shellcheck disable=SC2086
	run python3 "$S" profile "$DOCKER_DEFAULT" "$D/seccomp/nib.json" $NIB_SECCOMP_CALLS
	assert_status 0
	# a drift fails: one call more, or one rule of the default changed
	python3 -c '
import json, sys
p = json.load(open(sys.argv[1]))
p["syscalls"][-1]["names"].append("setns")
json.dump(p, open(sys.argv[2], "w"))
p["syscalls"][-1]["names"].remove("setns")
p["syscalls"][0]["names"].append("kexec_load")
json.dump(p, open(sys.argv[3], "w"))' "$D/seccomp/nib.json" "$T/more.json" "$T/changed.json"
	# shellcheck disable=SC2086
	run python3 "$S" profile "$DOCKER_DEFAULT" "$T/more.json" $NIB_SECCOMP_CALLS
	assert_status 1 "an extra call must fail"
	assert_match "$out" "extra \['setns'\]"
	# shellcheck disable=SC2086
	run python3 "$S" profile "$DOCKER_DEFAULT" "$T/changed.json" $NIB_SECCOMP_CALLS
	assert_status 1 "a changed default rule must fail"
	# the generator writes the same files
	mkdir -p "$T/gen"
	run python3 "$D/seccomp/generate.py" "$DOCKER_DEFAULT" "$T/gen"
	assert_status 0
	run cmp "$T/gen/nib.json" "$D/seccomp/nib.json"
	assert_status 0 "deploy/seccomp/generate.py must reproduce nib.json"
	run cmp "$T/gen/seccompprofile.yaml" "$D/seccomp/seccompprofile.yaml"
	assert_status 0 "deploy/seccomp/generate.py must reproduce seccompprofile.yaml"
else
	skip "$DOCKER_DEFAULT is missing (golang-github-docker-docker-dev, make deps)"
fi

t "every capability-gated call in nib's sources is in nib.json's rule, and each of its calls is made"
if [ -f "$DOCKER_DEFAULT" ]; then
	run python3 "$S" sources "$D/seccomp/nib.json" "$DOCKER_DEFAULT" "$NIB_SRC"
	assert_status 0
	assert_match "$out" 'call pivot_root: builder/runtime_setup.c'
	assert_match "$out" 'call unshare: '
else
	skip "$DOCKER_DEFAULT is missing (golang-github-docker-docker-dev, make deps)"
fi

t "the Security Profiles Operator's SeccompProfile carries nib.json's rules"
if have_yaml; then
	run python3 "$S" spo "$D/seccomp/nib.json" "$D/seccomp/seccompprofile.yaml"
	assert_status 0
else
	skip "python3-yaml is not installed (make deps)"
fi

# ---- deploy/Containerfile as text -------------------------------------------------------

t "deploy/Containerfile: ARG BASE, no other registry, the Makefile's build packages"
cf=$D/Containerfile
assert_match "$(grep -E '^ARG BASE=' "$cf")" '^ARG BASE=docker\.io/library/debian:bookworm$'
assert_eq "$(grep -v '^#' "$cf" | grep -c 'docker\.io')" 1 "docker.io only in ARG BASE's default"
assert_eq "$(grep -c '^FROM \${BASE}' "$cf")" 2 "both stages FROM \${BASE}"
assert_match "$(grep -A4 '^RUN apt-get update' "$cf" | head -5)" 'print-deb-build-nib'
run make -s -C "$NIB_SRC" print-deb-build-nib
assert_status 0
for p in libdeflate-dev zlib1g-dev libarchive-dev libcurl4-openssl-dev gcc make; do
	assert_match " $out " " $p " "build package $p"
done
assert_no_match "$out" 'clang' "no fuzzing or formatting tools in the image's build"

t "deploy/Containerfile's runtime packages are exactly the libraries build/nib loads"
if command -v dpkg >/dev/null && [ -f "$NIB_BUILD/lazy/lazy.c" ]; then
	# sonames: linked (NEEDED) and loaded on first use (builder/lazylibs.sh)
	sonames=$( (objdump -p "$NIB" | awk '$1 == "NEEDED" { print $2 }'
		grep -o '"lib[^"]*\.so\.[0-9]*"' "$NIB_BUILD/lazy/lazy.c" | tr -d '"') | sort -u)
	want=""
	for so in $sonames; do
		path=$(ldconfig -p | awk -v s="$so" '$1 == s && /x86-64|AArch64|aarch64/ { print $NF; exit }')
		[ -n "$path" ] || path=$(ldconfig -p | awk -v s="$so" '$1 == s { print $NF; exit }')
		pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -n 1 | cut -d: -f1)
		[ -n "$pkg" ] || pkg=$(dpkg -S "$path" 2>/dev/null | head -n 1 | cut -d: -f1)
		[ -n "$pkg" ] || fail "no package owns $so ($path)"
		want+="$pkg"$'\n'
	done
	# libc6 is in every Debian base; sanitizer runtimes only in `make asan`'s nib
	want=$(printf '%s' "$want" | grep -v -E '^libc6$|^lib(a|ub|l|t|hwa)san[0-9]' | sort -u)
	have=$(awk '/^FROM / { n++ } n == 2' "$cf" | sed -n '/apt-get install/,/apt-get clean/p' |
		tr ' \\' '\n\n' | grep -E '^lib|^zlib' | sort -u)
	assert_eq "$have" "$want" "runtime library packages vs what nib loads"
	assert_match "$have" 'libdeflate0'
	assert_match "$(cat "$cf")" 'rm -rf /var/lib/apt/lists/\*'
	assert_match "$(cat "$cf")" 'apt-get clean'
	assert_match "$(grep '^USER' "$cf")" '^USER [1-9][0-9]*:0$'
	assert_match "$(cat "$cf")" 'chmod -R g=u /home/nib /var/lib/nib'
else
	skip "needs dpkg and build/lazy/lazy.c (a build with LAZY_LIBS)"
fi

t ".containerignore keeps build/ and .git out of deploy/Containerfile's context"
mkdir -p "$T/ci/src/build" "$T/ci/src/.git" "$T/ci/src/deploy" "$T/ci/src/builder"
cp "$NIB_SRC/.containerignore" "$T/ci/src/"
echo stale >"$T/ci/src/build/nib"
echo ref >"$T/ci/src/.git/HEAD"
echo 'int main(void);' >"$T/ci/src/builder/main.c"
echo 'all:' >"$T/ci/src/Makefile"
printf 'FROM scratch\nCOPY . /src\n' >"$T/ci/src/deploy/Containerfile"
run "$NIB" --root "$T/ci/root" build -q -f "$T/ci/src/deploy/Containerfile" -o "type=local,dest=$T/ci/out" "$T/ci/src"
assert_status 0
assert_file "$T/ci/out/src/builder/main.c"
assert_file "$T/ci/out/src/Makefile"
assert_no_file "$T/ci/out/src/build"
assert_no_file "$T/ci/out/src/.git"

# ---- SELinux ----------------------------------------------------------------------------

t "the SELinux module compiles to a policy package with Debian's selinux-policy-dev"
SEL_MK=/usr/share/selinux/devel/Makefile
if [ -f "$SEL_MK" ] && command -v checkmodule >/dev/null && command -v semodule_package >/dev/null; then
	mkdir -p "$T/sel"
	cp "$D"/selinux/nib_builder.te "$T/sel/"
	run make -C "$T/sel" -f "$SEL_MK" nib_builder.pp
	assert_status 0
	assert_file "$T/sel/nib_builder.pp"
	assert_match "$(file "$T/sel/nib_builder.pp")" 'SE Linux modular policy.*module name nib_builder'
	assert_no_match "$out$err" 'deprecated|Warning' "no deprecated interfaces"
	# the check itself: a rule on a class the policy lacks does not compile
	sed 's/^allow nib_builder_t self:process { ptrace/allow nib_builder_t self:nosuchclass { ptrace/' \
		"$D/selinux/nib_builder.te" >"$T/sel/bad.te"
	mkdir -p "$T/selbad" && mv "$T/sel/bad.te" "$T/selbad/nib_builder.te"
	run make -C "$T/selbad" -f "$SEL_MK" nib_builder.pp
	assert_ne "$status" 0 "an unknown class must not compile"
else
	skip "selinux-policy-dev, checkpolicy and semodule-utils are needed (make deps)"
fi

t "the SELinux module links into Debian's policy with the reference container module"
SEL_SRC=/usr/src/selinux-policy-src.tar.zst
if [ -f "$T/sel/nib_builder.pp" ] && [ -f "$SEL_SRC" ] && ls /usr/share/selinux/default/base.pp* >/dev/null 2>&1 &&
	command -v semodule >/dev/null; then
	# Debian's binary policy leaves the container module out: build it from
	# Debian's policy sources, then a whole policy store in a scratch root
	mkdir -p "$T/selc" "$T/selpp"
	tar --zstd -xf "$SEL_SRC" -C "$T/selc" --wildcards '*/policy/modules/services/container.*'
	cp "$T"/selc/*/policy/modules/services/container.{te,fc} "$T/selpp/"
	run make -C "$T/selpp" -f "$SEL_MK" container.pp
	assert_status 0 "container.pp from Debian's sources"
	for f in /usr/share/selinux/default/*.pp*; do
		case $f in
		*.bz2) bunzip2 -c "$f" >"$T/selpp/$(basename "$f" .bz2)" ;;
		*) cp "$f" "$T/selpp/" ;;
		esac
	done
	sel_store() { # ROOT MODULES...
		local r=$1
		shift
		rm -rf "$r"
		mkdir -p "$r/etc/selinux/nibtest" "$r/var/lib/selinux"
		printf 'module-store = direct\nexpand-check = 1\n' >"$r/etc/selinux/semanage.conf"
		printf 'SELINUX=disabled\nSELINUXTYPE=nibtest\n' >"$r/etc/selinux/config"
		(cd "$T/selpp" && semodule -p "$r" -s nibtest -n -i base.pp "$@")
	}
	mapfile -t debian_modules < <(cd "$T/selpp" && ls ./*.pp | grep -v -e '^./base.pp$' -e '^./container.pp$')
	run sel_store "$T/selroot" "${debian_modules[@]}" container.pp "$T/sel/nib_builder.pp"
	assert_status 0
	assert_file "$T/selroot/etc/selinux/nibtest/policy/policy.33"
	run bash -c "bunzip2 -c '$T/selroot/var/lib/selinux/nibtest/active/modules/400/nib_builder/cil' 2>/dev/null || cat '$T/selroot/var/lib/selinux/nibtest/active/modules/400/nib_builder/cil'"
	assert_match "$out" '\(type nib_builder_t\)'
	assert_match "$out" 'typeattributeset .*container_domain.*nib_builder_t|container_domain.*nib_builder_t'
	# without the container module, the store refuses it (requirements checked)
	run sel_store "$T/selroot2" "$T/sel/nib_builder.pp"
	assert_match "$err" 'Failed' "semodule names the failure"
	assert_ne "$status" 0 "nib_builder without the container module must not link"
else
	skip "needs selinux-policy-default, selinux-policy-src and policycoreutils (make deps)"
fi

# ---- the manifests' commands, for real ----------------------------------------------------

if ! have_yaml || ! command -v docker-registry >/dev/null || ! podsim_available || ! users_setup; then
	skip_cases "needs python3-yaml, docker-registry, root, unshare and setpriv" \
		"Tekton Task step" "Kubernetes Job" "OpenShift Job" "Jenkins pod template and Jenkinsfile" \
		"GitLab CI job"
	finish
	exit
fi

registry_start basic || fail "basic registry"
BREG=$REG
# plain HTTP on loopback: marked insecure as a cluster's registries.conf would
cat >"$T/registries.conf" <<EOF
[[registry]]
location = "$BREG"
insecure = true
EOF
chmod 0644 "$T/registries.conf"
AUTH_B64=$(printf '%s:%s' "$REG_USER" "$REG_PASS" | base64 -w0)
BASE_ENV=(--base-env "PATH=$T/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
	--base-env HOME=/home/nib --base-env WORKDIR=/home/nib)

# empty_dir NAME: a folder as the kubelet makes an emptyDir (0777)
empty_dir() {
	mkdir -p "$T/vol/$1"
	chmod 0777 "$T/vol/$1"
	echo "$T/vol/$1"
}
# image_home: the image's HOME, group 0 writable as deploy/Containerfile makes it
image_home() {
	mkdir -p "$T/vol/$1"
	chgrp 0 "$T/vol/$1"
	chmod 0775 "$T/vol/$1"
	echo "$T/vol/$1"
}
# a small context without RUN: it builds under every seccomp profile
make_ctx() { # DIR
	mkdir -p "$1"
	cat >"$1/Containerfile" <<'EOF'
FROM scratch
ARG GREETING=none
COPY hello.txt /hello.txt
LABEL greeting=$GREETING
EOF
	echo "hello from $1" >"$1/hello.txt"
	chmod -R a+rX "$1"
}
# registry_digest HOST REPO TAG: the manifest digest the registry serves
registry_digest() {
	curl -s -I -u "$REG_USER:$REG_PASS" ${4:+--cacert "$4"} \
		-H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		-H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
		"${5:-http}://$1/v2/$2/manifests/$3" | tr -d '\r' | awk -F': ' 'tolower($1) == "docker-content-digest" { print $2 }'
}

t "Tekton Task step: builds and pushes as the pod user; IMAGE_DIGEST and IMAGE_URL are right"
src=$(empty_dir tk-source)
make_ctx "$src/app"
dcfg=$(empty_dir tk-dockercfg)
# a kubernetes.io/dockercfg secret as the dockerconfig workspace (OpenShift's)
printf '{"%s":{"auth":"%s","email":""}}' "$BREG" "$AUTH_B64" >"$dcfg/.dockercfg"
chmod 0644 "$dcfg/.dockercfg"
res=$(empty_dir tk-results)
store=$(empty_dir tk-storage)
home=$(image_home tk-home)
run python3 "$M" runner "$T/tk.sh" "$D/tekton-task.yaml" --container build-and-push "${BASE_ENV[@]}" \
	--param "IMAGE=$BREG/team/tekton:v1" --param CONTEXT=app --param DOCKERFILE=app/Containerfile \
	--param TLSVERIFY=false --param "BUILD_ARGS=GREETING=tekton" \
	--param 'BUILD_EXTRA_ARGS=--label extra=yes  --timestamp 0' \
	--workspace "source=$src" --workspace "dockerconfig=$dcfg" \
	--result "IMAGE_DIGEST=$res/IMAGE_DIGEST" --result "IMAGE_URL=$res/IMAGE_URL" \
	--map "/var/lib/nib=$store" --map "/home/nib=$home"
assert_status 0
run podsim "$T/tk.sh"
assert_status 0 "the step script"
assert_match "$out$err" '"event":"image"' "JSON logs"
assert_eq "$(cat "$res/IMAGE_URL" 2>/dev/null)" "$BREG/team/tekton:v1"
dig=$(registry_digest "$BREG" team/tekton v1)
assert_match "$dig" '^sha256:[0-9a-f]{64}$' "pushed"
assert_eq "$(cat "$res/IMAGE_DIGEST" 2>/dev/null)" "$dig" "IMAGE_DIGEST is the pushed manifest's digest"
run "$NIB" --root "$T/tk-check" pull -q --tls-verify=false --creds "$REG_USER:$REG_PASS" "$BREG/team/tekton:v1"
assert_status 0
run "$NIB" --root "$T/tk-check" inspect "$BREG/team/tekton:v1"
assert_match "$out" '"greeting": ?"tekton"' "BUILD_ARGS reached --build-arg"
assert_match "$out" '"extra": ?"yes"' "BUILD_EXTRA_ARGS reached the build"
assert_eq "$(stat -c %u "$store")" 0 "the storage emptyDir stays the kubelet's"
assert_ne "$(find "$store" -mindepth 1 -maxdepth 1 | wc -l)" 0 "nib used the storage volume"

t "Tekton Task step: SKIP_PUSH, extra args never evaluated, a dockerconfig without credentials"
rm -f "$res"/*
run python3 "$M" runner "$T/tk2.sh" "$D/tekton-task.yaml" --container build-and-push "${BASE_ENV[@]}" \
	--param "IMAGE=$BREG/team/tekton:skip" --param CONTEXT=app --param DOCKERFILE=app/Containerfile \
	--param TLSVERIFY=false --param SKIP_PUSH=true \
	--param "BUILD_EXTRA_ARGS=--label=x=\$(id>$T/pwned) --label=g=*" \
	--workspace "source=$src" \
	--result "IMAGE_DIGEST=$res/IMAGE_DIGEST" --result "IMAGE_URL=$res/IMAGE_URL" \
	--map "/var/lib/nib=$store" --map "/home/nib=$home"
assert_status 0
run podsim "$T/tk2.sh"
assert_status 0
assert_match "$out" 'push skipped'
assert_no_file "$T/pwned"
assert_no_file "$res/IMAGE_DIGEST"
assert_eq "$(cat "$res/IMAGE_URL" 2>/dev/null)" "$BREG/team/tekton:skip"
assert_eq "$(registry_digest "$BREG" team/tekton skip)" "" "nothing pushed"
run "$NIB" --root "$store" inspect "$BREG/team/tekton:skip"
assert_match "$out" '"x": ?"\$\(id>' "the extra args reach nib literally"
assert_match "$out" '"g": ?"\*"' "and are never globbed"
empty=$(empty_dir tk-emptycfg)
run python3 "$M" runner "$T/tk3.sh" "$D/tekton-task.yaml" --container build-and-push "${BASE_ENV[@]}" \
	--param "IMAGE=$BREG/team/tekton:v3" --param CONTEXT=app --param DOCKERFILE=app/Containerfile \
	--workspace "source=$src" --workspace "dockerconfig=$empty" \
	--result "IMAGE_DIGEST=$res/IMAGE_DIGEST" --result "IMAGE_URL=$res/IMAGE_URL" \
	--map "/var/lib/nib=$store" --map "/home/nib=$home"
run podsim "$T/tk3.sh"
assert_status 1
assert_match "$err" 'dockerconfig workspace has no config.json'

t "Kubernetes Job: the init container fetches the tarball, nib builds and pushes it"
srv=$(mktemp -d "$T/www.XXXXXX")
make_ctx "$T/tarsrc/app-main"
tar -C "$T/tarsrc" -czf "$srv/app-main.tar.gz" app-main
port=$(free_port)
python3 -m http.server --bind 127.0.0.1 --directory "$srv" "$port" >"$T/www.log" 2>&1 &
at_exit "kill $!"
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.1; done
ws=$(empty_dir job-workspace)
store=$(empty_dir job-storage)
home=$(image_home job-home)
auth=$(mktemp -d "$T/secret.XXXXXX")
chmod 0755 "$auth"
printf '{"auths":{"%s":{"auth":"%s"}}}' "$BREG" "$AUTH_B64" >"$auth/config.json"
chmod 0644 "$auth/config.json"
run python3 "$M" runner "$T/job-init.sh" "$D/kubernetes-job.yaml" --container fetch-context "${BASE_ENV[@]}" \
	--env "CONTEXT_URL=http://127.0.0.1:$port/app-main.tar.gz" --map "/workspace=$ws" --map "/home/nib=$home"
assert_status 0
run podsim "$T/job-init.sh"
assert_status 0 "the init container"
assert_file "$ws/Containerfile"
assert_file "$ws/hello.txt"
run python3 "$M" runner "$T/job-nib.sh" "$D/kubernetes-job.yaml" --container nib "${BASE_ENV[@]}" \
	--env "IMAGE=$BREG/team/job:latest" --env "CONTAINERS_REGISTRIES_CONF=$T/registries.conf" \
	--map "/workspace=$ws" --map "/var/lib/nib=$store" --map "/auth=$auth" --map "/home/nib=$home"
assert_status 0
assert_match "$(tail -n 1 "$T/job-nib.sh")" " nib --log-format=json build --push "
run podsim "$T/job-nib.sh"
assert_status 0 "the nib container"
assert_match "$(registry_digest "$BREG" team/job latest)" '^sha256:' "pushed"

t "OpenShift Job: the dockercfg secret (.dockercfg) and the service CA through --cert-dir"
registry_start tls || fail "tls registry"
TREG=$REG
ws=$(empty_dir os-workspace)
store=$(empty_dir os-storage)
home=$(image_home os-home)
push=$(mktemp -d "$T/ospush.XXXXXX")
sa=$(mktemp -d "$T/ossa.XXXXXX")
chmod 0755 "$push" "$sa"
# what OpenShift mounts: the builder secret's .dockercfg, and the service
# CA beside the account's token (here the test registry's CA)
printf '{"%s":{"username":"serviceaccount","password":"tok","email":"serviceaccount@example.org","auth":"%s"}}' \
	"$TREG" "$(printf 'serviceaccount:tok' | base64 -w0)" >"$push/.dockercfg"
cp "$REG_CA" "$sa/service-ca.crt"
echo token >"$sa/token"
chmod 0644 "$push/.dockercfg" "$sa/service-ca.crt" "$sa/token"
params=(--param "IMAGE=$TREG/project/app:latest" --param "CONTEXT_URL=http://127.0.0.1:$port/app-main.tar.gz"
	--param DOCKERCFG_SECRET=nib-builder-dockercfg-abcde)
run python3 "$M" runner "$T/os-init.sh" "$D/openshift-job-template.yaml" --container fetch-context \
	"${BASE_ENV[@]}" "${params[@]}" --map "/workspace=$ws" --map "/home/nib=$home"
assert_status 0
run podsim "$T/os-init.sh"
assert_status 0 "the init container"
run python3 "$M" runner "$T/os-nib.sh" "$D/openshift-job-template.yaml" --container nib \
	"${BASE_ENV[@]}" "${params[@]}" --map "/workspace=$ws" --map "/var/lib/nib=$store" \
	--map "/var/run/secrets/openshift.io/push=$push" \
	--map "/var/run/secrets/kubernetes.io/serviceaccount=$sa" --map "/home/nib=$home"
assert_status 0
run podsim "$T/os-nib.sh"
assert_status 0 "the nib container: TLS verified with the service CA"
assert_match "$(registry_digest "$TREG" project/app latest "$REG_CA" https)" '^sha256:' "pushed"

t "Tekton Task step: the sslcertdir workspace makes a TLS registry trusted"
certs=$(empty_dir tk-certs)
cp "$REG_CA" "$certs/ca.crt"
chmod 0644 "$certs/ca.crt"
rm -f "$res"/*
store=$(empty_dir tk-storage-tls)
run python3 "$M" runner "$T/tk4.sh" "$D/tekton-task.yaml" --container build-and-push "${BASE_ENV[@]}" \
	--param "IMAGE=$TREG/team/tekton:tls" --param CONTEXT=app --param DOCKERFILE=app/Containerfile \
	--workspace "source=$src" --workspace "sslcertdir=$certs" \
	--result "IMAGE_DIGEST=$res/IMAGE_DIGEST" --result "IMAGE_URL=$res/IMAGE_URL" \
	--map "/var/lib/nib=$store" --map "/home/nib=$home"
assert_status 0
run podsim "$T/tk4.sh"
assert_status 0 "TLSVERIFY=true with the workspace's CA"
assert_eq "$(cat "$res/IMAGE_DIGEST" 2>/dev/null)" "$(registry_digest "$TREG" team/tekton tls "$REG_CA" https)"
# without the workspace, the same push is refused: the CA is not trusted
run python3 "$M" runner "$T/tk5.sh" "$D/tekton-task.yaml" --container build-and-push "${BASE_ENV[@]}" \
	--param "IMAGE=$TREG/team/tekton:tls2" --param CONTEXT=app --param DOCKERFILE=app/Containerfile \
	--workspace "source=$src" \
	--result "IMAGE_DIGEST=$res/IMAGE_DIGEST" --result "IMAGE_URL=$res/IMAGE_URL" \
	--map "/var/lib/nib=$store" --map "/home/nib=$home"
run podsim "$T/tk5.sh"
assert_status 1 "an untrusted CA"

t "Jenkins pod template and Jenkinsfile: the sh steps in the nib container, any UID"
run python3 "$M" jenkins "$D/Jenkinsfile"
assert_status 0
steps=$out
assert_lines "$steps" 3
for who in 1000590000:0 1000:1000; do
	agent=$(empty_dir "jk-agent-${who%%:*}")
	store=$(empty_dir "jk-storage-${who%%:*}")
	mkdir -p "$agent/workspace/app"
	make_ctx "$agent/workspace/app"
	chmod 0777 "$agent/workspace" "$agent/workspace/app"
	jauth=$(mktemp "$T/jauth.XXXXXX")
	printf '{"auths":{"%s":{"auth":"%s"}}}' "$BREG" "$AUTH_B64" >"$jauth"
	chmod 0644 "$jauth"
	# the container's environment from the pod template, the step's from
	# Jenkins: an exec into the container, in the job's workspace
	i=0
	while IFS= read -r step; do
		i=$((i + 1))
		cmd=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1]))' "$step")
		run python3 "$M" runner "$T/jk.sh" "$D/jenkins-pod-template.yaml" --container nib \
			"${BASE_ENV[@]}" --env "CONTAINERS_REGISTRIES_CONF=$T/registries.conf" \
			--env "WORKSPACE=$agent/workspace/app" --env "IMAGE=$BREG/team/jenkins:${who%%:*}" \
			--env "REGISTRY_AUTH_FILE=$jauth" --workdir "$agent/workspace/app" \
			--map "/home/jenkins/agent=$agent" --map "/var/lib/nib=$store" \
			--cmd sh --cmd -ec --cmd "$cmd"
		assert_status 0
		PODSIM_UID=${who%%:*} PODSIM_GID=${who##*:} run podsim "$T/jk.sh"
		assert_status 0 "step $i as $who: $cmd"
	done <<<"$steps"
	assert_match "$(registry_digest "$BREG" team/jenkins "${who%%:*}")" '^sha256:' "pushed as $who"
	assert_file "$agent/workspace/app/image-digest"
done

t "GitLab CI job: the script with the Kubernetes executor's variables, as the pod user"
builds=$(empty_dir gl-builds)
mkdir -p "$builds/team/app"
make_ctx "$builds/team/app"
chmod 0777 "$builds/team" "$builds/team/app"
home=$(image_home gl-home)
run python3 "$M" gitlab "$T/gl.sh" "$D/gitlab/.gitlab-ci.yml" build-image \
	--env "CI_BUILDS_DIR=$builds" --env "CI_PROJECT_DIR=$builds/team/app" \
	--env "CI_REGISTRY=$BREG" --env "CI_REGISTRY_IMAGE=$BREG/team/app" \
	--env "CI_REGISTRY_USER=$REG_USER" --env "CI_REGISTRY_PASSWORD=$REG_PASS" \
	--env CI_COMMIT_SHORT_SHA=0123abcd --env "HOME=$home" \
	--env "PATH=$T/bin:/usr/local/bin:/usr/bin:/bin" --env "CONTAINERS_REGISTRIES_CONF=$T/registries.conf"
assert_status 0
run podsim bash "$T/gl.sh"
assert_status 0 "the job"
assert_match "$out" "pushed $BREG/team/app:0123abcd@sha256:"
assert_match "$(registry_digest "$BREG" team/app 0123abcd)" '^sha256:' "pushed"
assert_no_file "$builds/.nib/auth.json"
assert_no_match "$out$err" "$REG_PASS" "the password never shows"

finish
