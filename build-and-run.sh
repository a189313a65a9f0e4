#!/usr/bin/env bash
# Builds aiproc and runs it on Kubernetes (Docker Desktop's, or the current context with --context).
# The same steps as build-and-run.ps1, in the same order: a test compares their step lists.
#
#   ./build-and-run.sh                       build, install what is missing, deploy, print the URLs
#   ./build-and-run.sh --models a,b          deploy only these models (slugs from models.json)
#   ./build-and-run.sh --cpu-only            no GPU: every model on CPU
#   ./build-and-run.sh --dry-run             print the plan, change nothing
#   ./build-and-run.sh --down                remove aiproc, keep the data volumes (and the Secret they need)
#   ./build-and-run.sh --expose              OpenWebUI and n8n as LoadBalancers (default: port-forward)
#
# Re-running is safe: installed pieces are re-applied, the Secret is kept, changed RabbitMQ sources
# are recreated (their spec cannot change in place).
set -euo pipefail

# --- Versions (override by environment) -------------------------------------------------------
KNATIVE_SERVING_VERSION="${KNATIVE_SERVING_VERSION:-1.23.0}"
KNATIVE_EVENTING_VERSION="${KNATIVE_EVENTING_VERSION:-1.22.0}"
EVENTING_RABBITMQ_VERSION="${EVENTING_RABBITMQ_VERSION:-1.22.0}"
CERT_MANAGER_VERSION="${CERT_MANAGER_VERSION:-1.19.1}"
RABBITMQ_CLUSTER_OPERATOR_VERSION="${RABBITMQ_CLUSTER_OPERATOR_VERSION:-2.22.0}"
RABBITMQ_TOPOLOGY_OPERATOR_VERSION="${RABBITMQ_TOPOLOGY_OPERATOR_VERSION:-1.20.0}"
# The Knative releases above need at least this Kubernetes (major.minor).
MIN_KUBERNETES="${MIN_KUBERNETES:-1.34}"
WAIT_TIMEOUT_S="${AIPROC_WAIT_TIMEOUT_S:-3600}"

# --- Parameters -------------------------------------------------------------------------------
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MODELS="${AIPROC_MODELS:-}"
MODELS_FILE="${AIPROC_MODELS_FILE:-models.json}"
CPU_ONLY="${AIPROC_CPU_ONLY:-}"
GPU_SHARING="${AIPROC_GPU_SHARING:-1}"
NAMESPACE="${AIPROC_NAMESPACE:-aiproc}"
CONTEXT="${AIPROC_KUBE_CONTEXT:-docker-desktop}"
DRY_RUN=""
DOWN=""
SKIP_PLATFORM=""
SKIP_BUILD=""
EXPOSE="${AIPROC_EXPOSE_UI:-}"

usage() {
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
  cat <<EOF

Options:
  --models SLUGS        comma-separated model slugs to deploy (default: all in the models file)
  --models-file FILE    the models config (default: models.json)
  --cpu-only            run every model on CPU; no NVIDIA device plugin
  --gpu-sharing N       let N pods share one GPU (NVIDIA time-slicing; default 1 = no sharing)
  --namespace NS        the namespace (default: aiproc)
  --context CTX         the kubectl context (default: docker-desktop)
  --skip-platform       do not install Knative, cert-manager, the RabbitMQ operators
  --skip-build          do not build the image (use what is there)
  --dry-run             print what would be installed, built and applied; change nothing
  --down                remove aiproc but keep the data volumes
  --expose              give OpenWebUI and n8n LoadBalancer Services (default: reached through
                        kubectl port-forward, started at the end, never exposed beyond this machine)
EOF
}

while [ $# -gt 0 ]; do
  case "$1" in
    --models) MODELS="${2:?--models needs a value}"; shift 2 ;;
    --models-file) MODELS_FILE="${2:?--models-file needs a value}"; shift 2 ;;
    --cpu-only) CPU_ONLY=1; shift ;;
    --gpu-sharing) GPU_SHARING="${2:?--gpu-sharing needs a number}"; shift 2 ;;
    --namespace) NAMESPACE="${2:?--namespace needs a value}"; shift 2 ;;
    --context) CONTEXT="${2:?--context needs a value}"; shift 2 ;;
    --skip-platform) SKIP_PLATFORM=1; shift ;;
    --skip-build) SKIP_BUILD=1; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    --down) DOWN=1; shift ;;
    --expose) EXPOSE=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
  esac
done
case "$GPU_SHARING" in ''|*[!0-9]*) echo "--gpu-sharing must be a whole number" >&2; exit 2 ;; esac

cd "$ROOT"
NODE="$ROOT/node_modules/.bin/node"
IMAGE_REPO="dev.local/aiproc-functions"
IMAGE_TAG=""
KUBECTL=(kubectl --context "$CONTEXT")
STEP_NO=0
# What --down deletes (by the label every aiproc object carries); PersistentVolumeClaims are not in it.
DOWN_KINDS="rabbitmqsources.sources.knative.dev,services.serving.knative.dev,deployment,statefulset,job,service,configmap,rabbitmqcluster,exchanges.rabbitmq.com,queues.rabbitmq.com,bindings.rabbitmq.com,networkpolicy"

# --- Helpers ----------------------------------------------------------------------------------
say() { printf '%s\n' "$*"; }
notice() { printf '\n  NOTICE: %s\n\n' "$*"; }
fail() { printf '\nERROR: %s\n' "$*" >&2; exit 1; }

# Runs a command, or in a dry run prints it.
run() {
  if [ -n "$DRY_RUN" ]; then say "  would run: $*"; else "$@"; fi
}

# Applies manifests server-side (some CRDs are too large for client-side apply).
apply_url() {
  say "  applying $1"
  run "${KUBECTL[@]}" apply --server-side --force-conflicts -f "$1"
}

wait_deployments() {
  local ns="$1"
  say "  waiting for the deployments in $ns"
  run "${KUBECTL[@]}" -n "$ns" wait --for=condition=Available deployment --all --timeout=600s
}

# The settings the charts read (charts/config.ts).
synth_env() {
  export AIPROC_NAMESPACE="$NAMESPACE" AIPROC_MODELS="$MODELS" AIPROC_MODELS_FILE="$MODELS_FILE"
  export AIPROC_CPU_ONLY="$CPU_ONLY" AIPROC_GPU_SHARING="$GPU_SHARING" AIPROC_IMAGE_TAG="${IMAGE_TAG:-dev}"
  export AIPROC_EXPOSE_UI="$EXPOSE"
}

# sha256sum (Linux) or shasum (macOS).
sha256() { if command -v sha256sum >/dev/null; then sha256sum "$@"; else shasum -a 256 "$@"; fi; }

# A content hash of what goes into the functions image, so a changed image gets a new tag.
image_tag() {
  find functions supabase images package.json package-lock.json models.json -type f 2>/dev/null \
    | LC_ALL=C sort | while IFS= read -r f; do sha256 "$f"; done | sha256 | cut -c1-12
}

run_step() {
  local name="$1" title="$2"
  STEP_NO=$((STEP_NO + 1))
  printf '\n==> [%s] %s: %s\n' "$STEP_NO" "$name" "$title"
  "step_${name//-/_}"
}

# --- Steps ------------------------------------------------------------------------------------
step_preflight() {
  if [ -n "$DRY_RUN" ]; then
    say "  would check: docker is installed and its engine runs"
    say "  would check: kubectl is installed and context '$CONTEXT' answers"
    say "  would check: npm is installed (it brings Node 24 into node_modules)"
    return
  fi
  command -v docker >/dev/null || fail "docker is not installed. Install Docker Desktop and enable Kubernetes (Settings > Kubernetes)."
  docker info >/dev/null 2>&1 || fail "the Docker engine does not answer. Start Docker Desktop and wait until it says 'Engine running'."
  command -v kubectl >/dev/null || fail "kubectl is not installed (Docker Desktop ships one; add it to PATH)."
  "${KUBECTL[@]}" config get-contexts "$CONTEXT" >/dev/null 2>&1 \
    || fail "no kubectl context '$CONTEXT'. Enable Kubernetes in Docker Desktop (Settings > Kubernetes), or pass --context NAME."
  "${KUBECTL[@]}" get --raw /readyz >/dev/null 2>&1 || fail "the cluster of context '$CONTEXT' does not answer. Is Kubernetes running in Docker Desktop?"
  command -v npm >/dev/null || fail "npm is not installed (https://nodejs.org); it installs the project's Node 24."
  say "  docker, kubectl (context $CONTEXT) and npm are ready"
}

step_dependencies() {
  if [ -x "$NODE" ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
    say "  node_modules is up to date"
  else
    # npm install only if npm ci refuses the lock file (see images/functions.Dockerfile).
    run npm ci --no-audit --no-fund || run npm install --no-audit --no-fund
  fi
}

step_kubernetes_version() {
  local need_minor="${MIN_KUBERNETES#*.}"
  if [ -n "$DRY_RUN" ]; then
    say "  would check: the cluster runs Kubernetes $MIN_KUBERNETES or later (Knative Serving $KNATIVE_SERVING_VERSION needs it)"
    return
  fi
  local ver minor
  # shellcheck disable=SC2016 # a JavaScript template literal, not a shell expansion
  ver="$("${KUBECTL[@]}" version -o json | "$NODE" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s).serverVersion;console.log(`${v.major}.${v.minor}`.replace(/\+/g,""))})')"
  minor="${ver#*.}"
  if [ "${ver%%.*}" -lt "${MIN_KUBERNETES%%.*}" ] || { [ "${ver%%.*}" -eq "${MIN_KUBERNETES%%.*}" ] && [ "$minor" -lt "$need_minor" ]; }; then
    fail "the cluster runs Kubernetes $ver; Knative Serving $KNATIVE_SERVING_VERSION needs $MIN_KUBERNETES or later. Update Docker Desktop (its Kubernetes version comes with it)."
  fi
  say "  Kubernetes $ver (needs $MIN_KUBERNETES or later)"
}

step_platform() {
  if [ -n "$SKIP_PLATFORM" ]; then say "  skipped (--skip-platform)"; return; fi
  local gh=https://github.com
  apply_url "$gh/cert-manager/cert-manager/releases/download/v$CERT_MANAGER_VERSION/cert-manager.yaml"
  wait_deployments cert-manager
  apply_url "$gh/knative/serving/releases/download/knative-v$KNATIVE_SERVING_VERSION/serving-crds.yaml"
  apply_url "$gh/knative/serving/releases/download/knative-v$KNATIVE_SERVING_VERSION/serving-core.yaml"
  apply_url "$gh/knative-extensions/net-kourier/releases/download/knative-v$KNATIVE_SERVING_VERSION/kourier.yaml"
  wait_deployments knative-serving
  wait_deployments kourier-system
  apply_url "$gh/knative/eventing/releases/download/knative-v$KNATIVE_EVENTING_VERSION/eventing-crds.yaml"
  apply_url "$gh/knative/eventing/releases/download/knative-v$KNATIVE_EVENTING_VERSION/eventing-core.yaml"
  wait_deployments knative-eventing
  apply_url "$gh/rabbitmq/cluster-operator/releases/download/v$RABBITMQ_CLUSTER_OPERATOR_VERSION/cluster-operator.yml"
  wait_deployments rabbitmq-system
  apply_url "$gh/rabbitmq/messaging-topology-operator/releases/download/v$RABBITMQ_TOPOLOGY_OPERATOR_VERSION/messaging-topology-operator-with-certmanager.yaml"
  wait_deployments rabbitmq-system
  apply_url "$gh/knative-extensions/eventing-rabbitmq/releases/download/knative-v$EVENTING_RABBITMQ_VERSION/rabbitmq-source.yaml"
  wait_deployments knative-sources
}

patch_cm() {
  say "  $1/$2: $3"
  run "${KUBECTL[@]}" -n "$1" patch configmap "$2" --type merge -p "{\"data\":$3}"
}

step_knative_config() {
  if [ -n "$SKIP_PLATFORM" ]; then say "  skipped (--skip-platform)"; return; fi
  patch_cm knative-serving config-network '{"ingress-class":"kourier.ingress.networking.knative.dev"}'
  # Docker Desktop publishes Kourier on localhost; sslip.io names resolve to 127.0.0.1.
  patch_cm knative-serving config-domain '{"127.0.0.1.sslip.io":""}'
  patch_cm knative-serving config-features '{"kubernetes.podspec-persistent-volume-claim":"enabled","kubernetes.podspec-persistent-volume-write":"enabled","kubernetes.podspec-tolerations":"enabled","kubernetes.podspec-nodeselector":"enabled","kubernetes.podspec-securitycontext":"enabled"}'
  # Streamed answers run long: the splitter asks for 3600 s, above the 600 s default ceiling.
  patch_cm knative-serving config-defaults '{"max-revision-timeout-seconds":"3600"}'
  # A first model pull takes long; dev.local images are local, never resolved in a registry.
  patch_cm knative-serving config-deployment '{"progress-deadline":"3600s","registries-skipping-tag-resolving":"kind.local,ko.local,dev.local"}'
}

gpu_count() {
  "${KUBECTL[@]}" get nodes -o jsonpath='{range .items[*]}{.status.allocatable.nvidia\.com/gpu}{"\n"}{end}' 2>/dev/null \
    | awk '{ n += $1 } END { print n + 0 }'
}

step_gpu() {
  if [ -n "$CPU_ONLY" ]; then
    notice "CPU-only (--cpu-only): every model runs on CPU; answers from the large models will be slow."
    return
  fi
  say "  installing the NVIDIA device plugin (time-slicing: $GPU_SHARING pod(s) per GPU)"
  if [ -n "$DRY_RUN" ]; then
    say "  would apply the aiproc-gpu chart from dist/ and wait up to 90 s for nvidia.com/gpu on a node"
    say "  would fall back to CPU-only, with a notice, if no GPU becomes schedulable"
    return
  fi
  synth_env
  local tmp; tmp="$(mktemp -d)"
  CDK8S_OUTDIR="$tmp" "$NODE" charts/main.ts
  run "${KUBECTL[@]}" apply -f "$tmp"/*-aiproc-gpu.k8s.yaml
  rm -rf "$tmp"
  local _ n=0
  for _ in $(seq 1 18); do
    n="$(gpu_count)"
    [ "$n" -gt 0 ] && break
    sleep 5
  done
  if [ "$n" -gt 0 ]; then
    say "  $n GPU slot(s) schedulable"
  else
    CPU_ONLY=1
    notice "no GPU is schedulable in this cluster, so every model runs on CPU (slow for large models).
  GPU in Docker Desktop's Kubernetes needs the NVIDIA driver on Windows, WSL 2, and the NVIDIA container
  runtime for the device plugin; it is not there out of the box. See docs/deployment.md. Re-run with
  --cpu-only to skip this check."
  fi
}

step_secrets() {
  say "  namespace $NAMESPACE and Secret aiproc-secrets (generated once, kept on re-run and --down)"
  if [ -n "$DRY_RUN" ]; then
    say "  would create the namespace if missing and, if the Secret is missing, generate it with node charts/generate-secrets.ts (else add the keys it lacks: --missing)"
    return
  fi
  "${KUBECTL[@]}" create namespace "$NAMESPACE" --dry-run=client -o yaml | "${KUBECTL[@]}" apply -f - >/dev/null
  if "${KUBECTL[@]}" -n "$NAMESPACE" get secret aiproc-secrets >/dev/null 2>&1; then
    # Keys a later release added (e.g. AIPROC_EVENT_KEYS) are generated into it; its values stay.
    local patch
    patch="$("${KUBECTL[@]}" -n "$NAMESPACE" get secret aiproc-secrets -o json | "$NODE" charts/generate-secrets.ts --missing)"
    if [ -n "$patch" ]; then
      "${KUBECTL[@]}" -n "$NAMESPACE" patch secret aiproc-secrets --type merge -p "$patch" >/dev/null
      say "  Secret exists; kept, with the keys this release adds"
    else
      say "  Secret exists; kept"
    fi
  else
    AIPROC_NAMESPACE="$NAMESPACE" "$NODE" charts/generate-secrets.ts | "${KUBECTL[@]}" apply -f - >/dev/null
    say "  Secret generated"
  fi
}

step_build() {
  IMAGE_TAG="$(image_tag)"
  if [ -n "$SKIP_BUILD" ]; then say "  skipped (--skip-build); using $IMAGE_REPO:$IMAGE_TAG"; return; fi
  say "  building $IMAGE_REPO:$IMAGE_TAG from images/functions.Dockerfile"
  DOCKER_BUILDKIT=1 run docker build -f images/functions.Dockerfile -t "$IMAGE_REPO:$IMAGE_TAG" .
}

step_synth() {
  synth_env
  if [ -n "$DRY_RUN" ]; then
    say "  would run: npm run synth (models: ${MODELS:-all in $MODELS_FILE}; cpu-only: ${CPU_ONLY:-no}; image tag $IMAGE_TAG)"
    if [ -x "$NODE" ]; then
      local tmp; tmp="$(mktemp -d)"
      if CDK8S_OUTDIR="$tmp" "$NODE" charts/main.ts; then
        "$NODE" charts/plan.ts summary "$tmp" | sed 's/^/  would apply dist\//'
      else
        rm -rf "$tmp"; fail "the charts do not synthesise (see above)"
      fi
      rm -rf "$tmp"
    fi
    return
  fi
  npm run synth --silent
}

step_apply() {
  local f
  for f in dist/*-aiproc-platform.k8s.yaml; do run "${KUBECTL[@]}" apply --server-side --force-conflicts -f "$f"; done
  say "  waiting for RabbitMQ and its queues, exchanges and bindings"
  run "${KUBECTL[@]}" -n "$NAMESPACE" wait --for=condition=AllReplicasReady rabbitmqcluster/aiproc-rabbitmq --timeout=600s
  run "${KUBECTL[@]}" -n "$NAMESPACE" wait --for=condition=Ready exchanges.rabbitmq.com,queues.rabbitmq.com,bindings.rabbitmq.com --all --timeout=300s
  # A RabbitmqSource's spec cannot change once created: delete the ones whose spec hash changed.
  if [ -z "$DRY_RUN" ]; then
    local name hash live
    while IFS=$'\t' read -r name hash; do
      live="$("${KUBECTL[@]}" -n "$NAMESPACE" get rabbitmqsource "$name" --ignore-not-found -o jsonpath='{.metadata.name}/{.metadata.annotations.aiproc\.dev/spec-hash}')"
      if [ -n "$live" ] && [ "$live" != "$name/$hash" ]; then
        say "  source $name changed: recreating it"
        "${KUBECTL[@]}" -n "$NAMESPACE" delete rabbitmqsource "$name" --wait=true
      fi
    done < <("$NODE" charts/plan.ts sources dist)
  else
    say "  would recreate every RabbitmqSource whose spec hash differs from the live one"
  fi
  for f in dist/*-aiproc-functions.k8s.yaml dist/*-aiproc-ui.k8s.yaml; do run "${KUBECTL[@]}" apply --server-side --force-conflicts -f "$f"; done
}

step_wait() {
  say "  waiting for the database migrations"
  run "${KUBECTL[@]}" -n "$NAMESPACE" wait --for=condition=complete job -l app.kubernetes.io/name=supabase-migrate --timeout=900s
  say "  waiting for the Knative Services (a first model pull can take many minutes)"
  if [ -n "$DRY_RUN" ]; then
    say "  would wait up to $WAIT_TIMEOUT_S s for every Knative Service to be Ready, showing progress"
  else
    local start=$SECONDS
    until "${KUBECTL[@]}" -n "$NAMESPACE" wait --for=condition=Ready ksvc --all --timeout=20s >/dev/null 2>&1; do
      [ $((SECONDS - start)) -ge "$WAIT_TIMEOUT_S" ] && fail "not ready after $WAIT_TIMEOUT_S s; see: kubectl -n $NAMESPACE get ksvc,pods"
      "${KUBECTL[@]}" -n "$NAMESPACE" get ksvc --no-headers 2>/dev/null | awk '{ printf "    %-28s ready=%s\n", $1, $3 }'
      say "    ... $((SECONDS - start)) s"
    done
  fi
  say "  waiting for n8n and OpenWebUI"
  run "${KUBECTL[@]}" -n "$NAMESPACE" wait --for=condition=Available deployment/n8n deployment/openwebui --timeout=900s
}

# Forwards localhost:PORT to a Service in the background; it outlives the script (stop it with kill).
port_forward() {
  local svc="$1" port="$2"
  if [ -n "$DRY_RUN" ]; then
    say "  would run: kubectl -n $NAMESPACE port-forward svc/$svc $port:$port (in the background)"
    return
  fi
  nohup "${KUBECTL[@]}" -n "$NAMESPACE" port-forward "svc/$svc" "$port:$port" >"${TMPDIR:-/tmp}/aiproc-port-forward-$svc.log" 2>&1 &
  say "  port-forward localhost:$port → $svc (pid $!; stop it with: kill $!)"
}

step_urls() {
  local api="http://splitter.$NAMESPACE.127.0.0.1.sslip.io"
  if [ -z "$DRY_RUN" ]; then
    api="$("${KUBECTL[@]}" -n "$NAMESPACE" get ksvc splitter -o jsonpath='{.status.url}' 2>/dev/null || echo "$api")"
  fi
  # OpenWebUI and n8n are ClusterIP (unless --expose): reached from this machine only, through port-forward.
  if [ -z "$EXPOSE" ]; then
    port_forward openwebui 3000
    port_forward n8n 5678
  fi
  say ""
  say "  OpenWebUI:  http://localhost:3000"
  say "  n8n:        http://localhost:5678"
  say "  API:        $api/v1   (OpenAI-compatible)"
  say "  API key:    kubectl -n $NAMESPACE get secret aiproc-secrets -o jsonpath='{.data.AIPROC_API_KEYS}' | base64 -d"
  say "  admin key:  kubectl -n $NAMESPACE get secret aiproc-secrets -o jsonpath='{.data.AIPROC_ADMIN_KEYS}' | base64 -d   (all jobs, /v1/rules)"
  # AIPROC_MONITORING=1 (read by the charts) adds Prometheus and Grafana with the aiproc dashboard.
  case "$(printf '%s' "${AIPROC_MONITORING:-}" | tr '[:upper:]' '[:lower:]')" in
    1|true|yes|on)
      [ -n "$EXPOSE" ] || port_forward grafana 3001
      say "  Grafana:    http://localhost:3001   (the aiproc dashboard; docs/observability.md)" ;;
  esac
}

step_down() {
  say "  removing aiproc from namespace $NAMESPACE; keeping its data volumes and the Secret they need"
  # RabbitMQ's volume and its user and cookie Secrets belong to the cluster object and would go
  # with it; detached, they survive, and a later run's cluster takes them up again (the operator
  # reuses an existing default-user Secret, which matches the users stored on the volume).
  say "  detaching RabbitMQ's volume and credentials from its cluster object so they survive"
  if [ -z "$DRY_RUN" ]; then
    local obj
    for obj in $("${KUBECTL[@]}" -n "$NAMESPACE" get pvc -l app.kubernetes.io/name=aiproc-rabbitmq -o name 2>/dev/null) \
      secret/aiproc-rabbitmq-default-user secret/aiproc-rabbitmq-erlang-cookie; do
      "${KUBECTL[@]}" -n "$NAMESPACE" patch "$obj" --type json -p '[{"op":"remove","path":"/metadata/ownerReferences"}]' >/dev/null 2>&1 || true
    done
  else
    say "  would remove the ownerReferences of the RabbitMQ volume claims and its default-user and erlang-cookie Secrets"
  fi
  # By label and kind, never PersistentVolumeClaims: the data stays.
  run "${KUBECTL[@]}" -n "$NAMESPACE" delete --ignore-not-found --wait=false \
    "$DOWN_KINDS" -l app.kubernetes.io/part-of=aiproc
  say "  kept: namespace $NAMESPACE, its PersistentVolumeClaims, Secret aiproc-secrets, StorageClass aiproc-local, the platform (Knative, operators)"
}

# --- Main -------------------------------------------------------------------------------------
say "aiproc build-and-run${DRY_RUN:+ (dry run: nothing is changed)}"
say "  context: $CONTEXT   namespace: $NAMESPACE   models: ${MODELS:-all in $MODELS_FILE}   cpu-only: ${CPU_ONLY:-no}   gpu sharing: $GPU_SHARING"
say "  versions: Knative Serving $KNATIVE_SERVING_VERSION (Kourier), Eventing $KNATIVE_EVENTING_VERSION, eventing-rabbitmq $EVENTING_RABBITMQ_VERSION, cert-manager $CERT_MANAGER_VERSION, RabbitMQ cluster operator $RABBITMQ_CLUSTER_OPERATOR_VERSION, topology operator $RABBITMQ_TOPOLOGY_OPERATOR_VERSION"

if [ -n "$DOWN" ]; then
  run_step preflight "Check docker, kubectl and the cluster"
  run_step down "Remove aiproc, keep the data"
  exit 0
fi

run_step preflight "Check docker, kubectl and the cluster"
run_step dependencies "Install the project's packages (Node 24 included)"
run_step kubernetes-version "Check the cluster's Kubernetes is new enough for Knative"
run_step platform "Install or upgrade cert-manager, Knative Serving + Kourier, Knative Eventing, RabbitMQ operators, RabbitMQ source"
run_step knative-config "Configure Knative: volumes, GPU scheduling, long timeouts, local images"
run_step gpu "NVIDIA device plugin, or the CPU-only fallback"
run_step secrets "Create the namespace and its Secret"
run_step build "Build the functions image"
run_step synth "Synthesise the manifests (cdk8s)"
run_step apply "Apply the manifests"
run_step wait "Wait until everything is ready"
run_step urls "Where to open things"
