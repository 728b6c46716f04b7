#!/usr/bin/env bash
# Validates deploy/kubernetes offline (no cluster; `kubectl apply --dry-run=client` needs an API server, so it is
# not used):
#   1. renders the kustomization with `kubectl kustomize` when kubectl is there (else the plain files in the
#      kustomization's order);
#   2. kubernetes-validate (PyPI; installed into .build-venv-k8s/) --strict against the Kubernetes schemas of the
#      versions below: every field known, every type right;
#   3. a copy with a misspelled field must be refused (the validator can fail);
#   4. scripts/validate_kubernetes.py: how the parts fit (seeds, probes, grace period, security context, Secret).
# PASS/FAIL lines and "N passed, M failed"; exit 1 when something failed.
# Env: K8S_VERSIONS (default "1.29.0 1.37.0"), ROCKETWS_K8S_VENV (.build-venv-k8s).
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dir=$root/deploy/kubernetes
venv=${ROCKETWS_K8S_VENV:-$root/.build-venv-k8s}
versions=${K8S_VERSIONS:-1.29.0 1.37.0}
work=$(mktemp -d "${TMPDIR:-/tmp}/rocketws-k8s.XXXXXX")
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit $?; }

if [ ! -x "$venv/bin/kubernetes-validate" ]; then
    echo "installing kubernetes-validate into $venv (once)"
    python3 -m venv "$venv" >/dev/null 2>&1 &&
        "$venv/bin/pip" install -q --disable-pip-version-check --timeout 30 kubernetes-validate >"$work/pip.log" 2>&1 ||
        { tail -5 "$work/pip.log"; fail "pip install kubernetes-validate"; finish; }
fi

if command -v kubectl >/dev/null && timeout 60 kubectl kustomize "$dir" >"$work/rendered.yaml" 2>"$work/kustomize.err"; then
    pass "kubectl kustomize deploy/kubernetes renders ($(grep -c '^kind:' "$work/rendered.yaml") resources, namespace $(sed -n 's/^  namespace: //p' "$work/rendered.yaml" | sort -u | tr '\n' ' '))"
else
    [ -s "$work/kustomize.err" ] && { fail "kubectl kustomize: $(cat "$work/kustomize.err")"; }
    echo "note: no kubectl; validating the files in the kustomization's order without rendering"
    for file in $(sed -n 's/^  - \(.*\.yaml\)$/\1/p' "$dir/kustomization.yaml"); do
        cat "$dir/$file"; echo "---"
    done >"$work/rendered.yaml"
fi

for version in $versions; do
    if "$venv/bin/kubernetes-validate" --strict --quiet -k "$version" "$work/rendered.yaml" >"$work/validate.out" 2>&1; then
        pass "kubernetes-validate --strict, Kubernetes $version: $(grep -c '^kind:' "$work/rendered.yaml") resources valid"
    else
        fail "kubernetes-validate --strict, Kubernetes $version: $(grep -v '^INFO' "$work/validate.out" | head -5)"
    fi
done

# The validator must be able to say no: a misspelled field in the StatefulSet.
sed 's/^  podManagementPolicy:/  podManagmentPolicy:/' "$work/rendered.yaml" >"$work/broken.yaml"
if ! grep -q podManagmentPolicy "$work/broken.yaml"; then
    fail "could not make the misspelled copy"
elif "$venv/bin/kubernetes-validate" --strict --quiet "$work/broken.yaml" >"$work/broken.out" 2>&1; then
    fail "kubernetes-validate accepted a misspelled field (podManagmentPolicy)"
else
    pass "kubernetes-validate refuses a misspelled field: $(grep -o "Additional properties.*" "$work/broken.out" | head -1)"
fi

"$venv/bin/python" "$root/scripts/validate_kubernetes.py" "$work/rendered.yaml" "$root/deploy/compose/Dockerfile" | tee "$work/fit.out"
passed=$((passed + $(grep -c '^PASS' "$work/fit.out"))); failed=$((failed + $(grep -c '^FAIL' "$work/fit.out")))
grep -q . "$work/fit.out" || fail "validate_kubernetes.py printed nothing"
finish
