<#
.SYNOPSIS
  Builds aiproc and runs it on Docker Desktop's Kubernetes (or the context given with -Context).

.DESCRIPTION
  The same steps as build-and-run.sh, in the same order (a test compares their step lists):
  pre-flight checks, the project's packages, the Kubernetes version check, the platform (cert-manager,
  Knative Serving + Kourier, Knative Eventing, the RabbitMQ operators, the RabbitMQ source), Knative
  settings, the NVIDIA device plugin or the CPU-only fallback, the Secret, the image, synth, apply,
  wait, and the URLs. Re-running is safe; -Down removes aiproc but keeps the data volumes.

.EXAMPLE
  .\build-and-run.ps1
.EXAMPLE
  .\build-and-run.ps1 -Models codellama-7b,codellama-34b -GpuSharing 2
.EXAMPLE
  .\build-and-run.ps1 -CpuOnly
.EXAMPLE
  .\build-and-run.ps1 -DryRun
.EXAMPLE
  .\build-and-run.ps1 -Down
.EXAMPLE
  .\build-and-run.ps1 -Expose
#>
[CmdletBinding()]
param(
  # Model slugs to deploy (default: every model in the models file).
  [string[]]$Models = @(),
  # The models config.
  [string]$ModelsFile = $(if ($env:AIPROC_MODELS_FILE) { $env:AIPROC_MODELS_FILE } else { 'models.json' }),
  # Run every model on CPU; no NVIDIA device plugin.
  [switch]$CpuOnly,
  # Let this many pods share one GPU (NVIDIA time-slicing; 1 = no sharing).
  [ValidateRange(1, 16)][int]$GpuSharing = 1,
  [string]$Namespace = $(if ($env:AIPROC_NAMESPACE) { $env:AIPROC_NAMESPACE } else { 'aiproc' }),
  [string]$Context = $(if ($env:AIPROC_KUBE_CONTEXT) { $env:AIPROC_KUBE_CONTEXT } else { 'docker-desktop' }),
  # Do not install Knative, cert-manager, the RabbitMQ operators.
  [switch]$SkipPlatform,
  # Do not build the image.
  [switch]$SkipBuild,
  # Print what would be installed, built and applied; change nothing.
  [switch]$DryRun,
  # Remove aiproc but keep the data volumes (and the Secret they need).
  [switch]$Down,
  # Give OpenWebUI and n8n LoadBalancer Services (default: reached through kubectl port-forward).
  [switch]$Expose
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

# --- Versions (override by environment) -------------------------------------------------------
function Get-Setting([string]$Name, [string]$Default) { $v = [Environment]::GetEnvironmentVariable($Name); if ($v) { $v } else { $Default } }
$KnativeServingVersion = Get-Setting 'KNATIVE_SERVING_VERSION' '1.23.0'
$KnativeEventingVersion = Get-Setting 'KNATIVE_EVENTING_VERSION' '1.22.0'
$EventingRabbitmqVersion = Get-Setting 'EVENTING_RABBITMQ_VERSION' '1.22.0'
$CertManagerVersion = Get-Setting 'CERT_MANAGER_VERSION' '1.19.1'
$RabbitmqClusterOperatorVersion = Get-Setting 'RABBITMQ_CLUSTER_OPERATOR_VERSION' '2.22.0'
$RabbitmqTopologyOperatorVersion = Get-Setting 'RABBITMQ_TOPOLOGY_OPERATOR_VERSION' '1.20.0'
# The Knative releases above need at least this Kubernetes (major.minor).
$MinKubernetes = Get-Setting 'MIN_KUBERNETES' '1.34'
$WaitTimeoutS = [int](Get-Setting 'AIPROC_WAIT_TIMEOUT_S' '3600')

$Root = $PSScriptRoot
Set-Location $Root
$ModelList = ($Models | ForEach-Object { $_ -split ',' } | Where-Object { $_ }) -join ','
if (-not $ModelList -and $env:AIPROC_MODELS) { $ModelList = $env:AIPROC_MODELS }
$script:CpuOnlyMode = [bool]$CpuOnly -or [bool]$env:AIPROC_CPU_ONLY
$NodeExe = if ($env:OS -eq 'Windows_NT') { Join-Path $Root 'node_modules\.bin\node.cmd' } else { Join-Path $Root 'node_modules/.bin/node' }
$ImageRepo = 'dev.local/aiproc-functions'
$script:ImageTag = ''
$script:StepNo = 0
# What -Down deletes (by the label every aiproc object carries); PersistentVolumeClaims are not in it.
$DownKinds = 'rabbitmqsources.sources.knative.dev,services.serving.knative.dev,deployment,statefulset,job,service,configmap,rabbitmqcluster,exchanges.rabbitmq.com,queues.rabbitmq.com,bindings.rabbitmq.com,networkpolicy'

# --- Helpers ----------------------------------------------------------------------------------
function Say([string]$Text) { Write-Host $Text }
function Notice([string]$Text) { Write-Host ''; Write-Host "  NOTICE: $Text" -ForegroundColor Yellow; Write-Host '' }
function Fail([string]$Text) { Write-Host ''; Write-Host "ERROR: $Text" -ForegroundColor Red; exit 1 }

# Runs a native command for its exit code and output only, its stderr dropped. (Windows
# PowerShell 5.1 turns a native command's redirected stderr into errors, which 'Stop' would throw.)
function Invoke-Quiet([scriptblock]$Block) {
  $eap = $ErrorActionPreference
  $ErrorActionPreference = 'Continue'
  try { & $Block 2>$null } finally { $ErrorActionPreference = $eap }
}

# Runs a native command (failing on a non-zero exit), or in a dry run prints it.
function Invoke-Run([string]$Exe, [string[]]$Arguments) {
  if ($DryRun) { Say "  would run: $Exe $($Arguments -join ' ')"; return }
  & $Exe @Arguments
  if ($LASTEXITCODE -ne 0) { Fail "$Exe $($Arguments -join ' ') failed (exit $LASTEXITCODE)" }
}

function Invoke-Kubectl([string[]]$Arguments) { Invoke-Run 'kubectl' (@('--context', $Context) + $Arguments) }

# Applies manifests server-side (some CRDs are too large for client-side apply).
function Apply-Url([string]$Url) {
  Say "  applying $Url"
  Invoke-Kubectl @('apply', '--server-side', '--force-conflicts', '-f', $Url)
}

function Wait-Deployments([string]$Ns) {
  Say "  waiting for the deployments in $Ns"
  Invoke-Kubectl @('-n', $Ns, 'wait', '--for=condition=Available', 'deployment', '--all', '--timeout=600s')
}

# The settings the charts read (charts/config.ts).
function Set-SynthEnv {
  $env:AIPROC_NAMESPACE = $Namespace
  $env:AIPROC_MODELS = $ModelList
  $env:AIPROC_MODELS_FILE = $ModelsFile
  $env:AIPROC_CPU_ONLY = $(if ($script:CpuOnlyMode) { '1' } else { '' })
  $env:AIPROC_GPU_SHARING = "$GpuSharing"
  $env:AIPROC_IMAGE_TAG = $(if ($script:ImageTag) { $script:ImageTag } else { 'dev' })
  $env:AIPROC_EXPOSE_UI = $(if ($Expose -or $env:AIPROC_EXPOSE_UI) { '1' } else { '' })
}

# A content hash of what goes into the functions image, so a changed image gets a new tag.
function Get-ImageTag {
  $paths = @('functions', 'supabase', 'images', 'package.json', 'package-lock.json', 'models.json') | Where-Object { Test-Path $_ }
  $files = Get-ChildItem -Path $paths -Recurse -File | Sort-Object { $_.FullName.Substring($Root.Length).Replace('\', '/') } -CaseSensitive
  $lines = $files | ForEach-Object { (Get-FileHash -Algorithm SHA256 $_.FullName).Hash.ToLower() + '  ' + $_.FullName.Substring($Root.Length + 1).Replace('\', '/') }
  $bytes = [Text.Encoding]::UTF8.GetBytes(($lines -join "`n") + "`n")
  $sha = [Security.Cryptography.SHA256]::Create()
  (($sha.ComputeHash($bytes) | ForEach-Object { $_.ToString('x2') }) -join '').Substring(0, 12)
}

function Invoke-Step([string]$Name, [string]$Title) {
  $script:StepNo++
  Write-Host ''
  Write-Host "==> [$($script:StepNo)] ${Name}: $Title" -ForegroundColor Cyan
  & "Step-$Name"
}

# --- Steps ------------------------------------------------------------------------------------
function Step-preflight {
  if ($DryRun) {
    Say '  would check: docker is installed and its engine runs'
    Say "  would check: kubectl is installed and context '$Context' answers"
    Say '  would check: npm is installed (it brings Node 24 into node_modules)'
    return
  }
  if (-not (Get-Command docker -ErrorAction SilentlyContinue)) { Fail 'docker is not installed. Install Docker Desktop and enable Kubernetes (Settings > Kubernetes).' }
  Invoke-Quiet { docker info } | Out-Null
  if ($LASTEXITCODE -ne 0) { Fail "the Docker engine does not answer. Start Docker Desktop and wait until it says 'Engine running'." }
  if (-not (Get-Command kubectl -ErrorAction SilentlyContinue)) { Fail 'kubectl is not installed (Docker Desktop ships one; add it to PATH).' }
  Invoke-Quiet { kubectl config get-contexts $Context } | Out-Null
  if ($LASTEXITCODE -ne 0) { Fail "no kubectl context '$Context'. Enable Kubernetes in Docker Desktop (Settings > Kubernetes), or pass -Context NAME." }
  Invoke-Quiet { kubectl --context $Context get --raw /readyz } | Out-Null
  if ($LASTEXITCODE -ne 0) { Fail "the cluster of context '$Context' does not answer. Is Kubernetes running in Docker Desktop?" }
  if (-not (Get-Command npm -ErrorAction SilentlyContinue)) { Fail 'npm is not installed (https://nodejs.org); it installs the project''s Node 24.' }
  Say "  docker, kubectl (context $Context) and npm are ready"
}

function Step-dependencies {
  $marker = Join-Path $Root 'node_modules/.package-lock.json'
  if ((Test-Path $NodeExe) -and (Test-Path $marker) -and ((Get-Item $marker).LastWriteTime -gt (Get-Item (Join-Path $Root 'package-lock.json')).LastWriteTime)) {
    Say '  node_modules is up to date'
  } else {
    # npm install only if npm ci refuses the lock file (see images/functions.Dockerfile).
    if ($DryRun) { Invoke-Run 'npm' @('ci', '--no-audit', '--no-fund'); return }
    npm ci --no-audit --no-fund
    if ($LASTEXITCODE -ne 0) { Invoke-Run 'npm' @('install', '--no-audit', '--no-fund') }
  }
}

function Step-kubernetes-version {
  if ($DryRun) {
    Say "  would check: the cluster runs Kubernetes $MinKubernetes or later (Knative Serving $KnativeServingVersion needs it)"
    return
  }
  $v = (kubectl --context $Context version -o json | ConvertFrom-Json).serverVersion
  $ver = [version]("$($v.major).$($v.minor)" -replace '\+', '')
  if ($ver -lt [version]$MinKubernetes) {
    Fail "the cluster runs Kubernetes $ver; Knative Serving $KnativeServingVersion needs $MinKubernetes or later. Update Docker Desktop (its Kubernetes version comes with it)."
  }
  Say "  Kubernetes $ver (needs $MinKubernetes or later)"
}

function Step-platform {
  if ($SkipPlatform) { Say '  skipped (-SkipPlatform)'; return }
  $gh = 'https://github.com'
  Apply-Url "$gh/cert-manager/cert-manager/releases/download/v$CertManagerVersion/cert-manager.yaml"
  Wait-Deployments 'cert-manager'
  Apply-Url "$gh/knative/serving/releases/download/knative-v$KnativeServingVersion/serving-crds.yaml"
  Apply-Url "$gh/knative/serving/releases/download/knative-v$KnativeServingVersion/serving-core.yaml"
  Apply-Url "$gh/knative-extensions/net-kourier/releases/download/knative-v$KnativeServingVersion/kourier.yaml"
  Wait-Deployments 'knative-serving'
  Wait-Deployments 'kourier-system'
  Apply-Url "$gh/knative/eventing/releases/download/knative-v$KnativeEventingVersion/eventing-crds.yaml"
  Apply-Url "$gh/knative/eventing/releases/download/knative-v$KnativeEventingVersion/eventing-core.yaml"
  Wait-Deployments 'knative-eventing'
  Apply-Url "$gh/rabbitmq/cluster-operator/releases/download/v$RabbitmqClusterOperatorVersion/cluster-operator.yml"
  Wait-Deployments 'rabbitmq-system'
  Apply-Url "$gh/rabbitmq/messaging-topology-operator/releases/download/v$RabbitmqTopologyOperatorVersion/messaging-topology-operator-with-certmanager.yaml"
  Wait-Deployments 'rabbitmq-system'
  Apply-Url "$gh/knative-extensions/eventing-rabbitmq/releases/download/knative-v$EventingRabbitmqVersion/rabbitmq-source.yaml"
  Wait-Deployments 'knative-sources'
}

function Patch-ConfigMap([string]$Ns, [string]$Name, [string]$Data) {
  Say "  $Ns/${Name}: $Data"
  # Through a file: Windows PowerShell mangles the quotes of JSON passed to native commands.
  $file = New-TemporaryFile
  Set-Content -Path $file -Value "{`"data`":$Data}" -Encoding ascii
  try { Invoke-Kubectl @('-n', $Ns, 'patch', 'configmap', $Name, '--type', 'merge', '--patch-file', $file.FullName) } finally { Remove-Item $file }
}

function Step-knative-config {
  if ($SkipPlatform) { Say '  skipped (-SkipPlatform)'; return }
  Patch-ConfigMap 'knative-serving' 'config-network' '{"ingress-class":"kourier.ingress.networking.knative.dev"}'
  # Docker Desktop publishes Kourier on localhost; sslip.io names resolve to 127.0.0.1.
  Patch-ConfigMap 'knative-serving' 'config-domain' '{"127.0.0.1.sslip.io":""}'
  Patch-ConfigMap 'knative-serving' 'config-features' '{"kubernetes.podspec-persistent-volume-claim":"enabled","kubernetes.podspec-persistent-volume-write":"enabled","kubernetes.podspec-tolerations":"enabled","kubernetes.podspec-nodeselector":"enabled","kubernetes.podspec-securitycontext":"enabled"}'
  # Streamed answers run long: the splitter asks for 3600 s, above the 600 s default ceiling.
  Patch-ConfigMap 'knative-serving' 'config-defaults' '{"max-revision-timeout-seconds":"3600"}'
  # A first model pull takes long; dev.local images are local, never resolved in a registry.
  Patch-ConfigMap 'knative-serving' 'config-deployment' '{"progress-deadline":"3600s","registries-skipping-tag-resolving":"kind.local,ko.local,dev.local"}'
}

function Get-GpuCount {
  # JSON rather than a jsonpath with quotes: Windows PowerShell mangles quotes in native arguments.
  $nodes = Invoke-Quiet { kubectl --context $Context get nodes -o json } | Out-String | ConvertFrom-Json
  $n = 0
  foreach ($node in $nodes.items) {
    $gpu = $node.status.allocatable.PSObject.Properties['nvidia.com/gpu']
    if ($gpu) { $n += [int]$gpu.Value }
  }
  $n
}

function Step-gpu {
  if ($script:CpuOnlyMode) {
    Notice 'CPU-only (-CpuOnly): every model runs on CPU; answers from the large models will be slow.'
    return
  }
  Say "  installing the NVIDIA device plugin (time-slicing: $GpuSharing pod(s) per GPU)"
  if ($DryRun) {
    Say '  would apply the aiproc-gpu chart from dist/ and wait up to 90 s for nvidia.com/gpu on a node'
    Say '  would fall back to CPU-only, with a notice, if no GPU becomes schedulable'
    return
  }
  Set-SynthEnv
  $tmp = Join-Path ([IO.Path]::GetTempPath()) ("aiproc-gpu-" + [guid]::NewGuid())
  $env:CDK8S_OUTDIR = $tmp
  try {
    & $NodeExe charts/main.ts
    if ($LASTEXITCODE -ne 0) { Fail 'the charts do not synthesise (see above)' }
    Invoke-Kubectl @('apply', '-f', (Get-ChildItem $tmp -Filter '*-aiproc-gpu.k8s.yaml').FullName)
  } finally { Remove-Item Env:CDK8S_OUTDIR; Remove-Item -Recurse -Force $tmp -ErrorAction SilentlyContinue }
  $n = 0
  for ($i = 1; $i -le 18; $i++) {
    $n = Get-GpuCount
    if ($n -gt 0) { break }
    Start-Sleep -Seconds 5
  }
  if ($n -gt 0) {
    Say "  $n GPU slot(s) schedulable"
  } else {
    $script:CpuOnlyMode = $true
    Notice ("no GPU is schedulable in this cluster, so every model runs on CPU (slow for large models).`n" +
      "  GPU in Docker Desktop's Kubernetes needs the NVIDIA driver on Windows, WSL 2, and the NVIDIA container`n" +
      "  runtime for the device plugin; it is not there out of the box. See docs/deployment.md. Re-run with`n" +
      '  -CpuOnly to skip this check.')
  }
}

function Step-secrets {
  Say "  namespace $Namespace and Secret aiproc-secrets (generated once, kept on re-run and -Down)"
  if ($DryRun) {
    Say '  would create the namespace if missing and, if the Secret is missing, generate it with node charts/generate-secrets.ts (else add the keys it lacks: --missing)'
    return
  }
  kubectl --context $Context create namespace $Namespace '--dry-run=client' -o yaml | kubectl --context $Context apply -f '-' | Out-Null
  Invoke-Quiet { kubectl --context $Context -n $Namespace get secret aiproc-secrets } | Out-Null
  if ($LASTEXITCODE -eq 0) {
    # Keys a later release added (e.g. AIPROC_EVENT_KEYS) are generated into it; its values stay.
    $patch = kubectl --context $Context -n $Namespace get secret aiproc-secrets -o json | & $NodeExe charts/generate-secrets.ts --missing
    if ($patch) {
      # Through a file: Windows PowerShell mangles the quotes of a JSON argument to a native command.
      $patchFile = Join-Path ([System.IO.Path]::GetTempPath()) "aiproc-secret-patch-$PID.json"
      Set-Content -Path $patchFile -Value $patch -Encoding ascii
      kubectl --context $Context -n $Namespace patch secret aiproc-secrets --type merge --patch-file $patchFile | Out-Null
      Remove-Item $patchFile -ErrorAction SilentlyContinue
      if ($LASTEXITCODE -ne 0) { Fail 'could not add the new keys to the Secret' }
      Say '  Secret exists; kept, with the keys this release adds'
    } else {
      Say '  Secret exists; kept'
    }
  } else {
    $env:AIPROC_NAMESPACE = $Namespace
    & $NodeExe charts/generate-secrets.ts | kubectl --context $Context apply -f '-' | Out-Null
    if ($LASTEXITCODE -ne 0) { Fail 'could not create the Secret' }
    Say '  Secret generated'
  }
}

function Step-build {
  $script:ImageTag = Get-ImageTag
  if ($SkipBuild) { Say "  skipped (-SkipBuild); using ${ImageRepo}:$($script:ImageTag)"; return }
  Say "  building ${ImageRepo}:$($script:ImageTag) from images/functions.Dockerfile"
  $env:DOCKER_BUILDKIT = '1'
  Invoke-Run 'docker' @('build', '-f', 'images/functions.Dockerfile', '-t', "${ImageRepo}:$($script:ImageTag)", '.')
}

function Step-synth {
  Set-SynthEnv
  if ($DryRun) {
    $models = if ($ModelList) { $ModelList } else { "all in $ModelsFile" }
    Say "  would run: npm run synth (models: $models; cpu-only: $(if ($script:CpuOnlyMode) { 'yes' } else { 'no' }); image tag $($script:ImageTag))"
    if (Test-Path $NodeExe) {
      $tmp = Join-Path ([IO.Path]::GetTempPath()) ("aiproc-plan-" + [guid]::NewGuid())
      $env:CDK8S_OUTDIR = $tmp
      try {
        & $NodeExe charts/main.ts
        if ($LASTEXITCODE -ne 0) { Fail 'the charts do not synthesise (see above)' }
        & $NodeExe charts/plan.ts summary $tmp | ForEach-Object { Say "  would apply dist/$_" }
      } finally { Remove-Item Env:CDK8S_OUTDIR; Remove-Item -Recurse -Force $tmp -ErrorAction SilentlyContinue }
    }
    return
  }
  npm run synth --silent
  if ($LASTEXITCODE -ne 0) { Fail 'the charts do not synthesise (see above)' }
}

function Get-DistFile([string]$Chart) { Get-ChildItem (Join-Path $Root 'dist') -Filter "*-$Chart.k8s.yaml" -ErrorAction SilentlyContinue | ForEach-Object { $_.FullName } }

function Step-apply {
  foreach ($f in (Get-DistFile 'aiproc-platform')) { Invoke-Kubectl @('apply', '--server-side', '--force-conflicts', '-f', $f) }
  Say '  waiting for RabbitMQ and its queues, exchanges and bindings'
  Invoke-Kubectl @('-n', $Namespace, 'wait', '--for=condition=AllReplicasReady', 'rabbitmqcluster/aiproc-rabbitmq', '--timeout=600s')
  Invoke-Kubectl @('-n', $Namespace, 'wait', '--for=condition=Ready', 'exchanges.rabbitmq.com,queues.rabbitmq.com,bindings.rabbitmq.com', '--all', '--timeout=300s')
  # A RabbitmqSource's spec cannot change once created: delete the ones whose spec hash changed.
  if (-not $DryRun) {
    foreach ($line in (& $NodeExe charts/plan.ts sources dist)) {
      $name, $hash = $line -split "`t"
      $live = kubectl --context $Context -n $Namespace get rabbitmqsource $name --ignore-not-found -o 'jsonpath={.metadata.name}/{.metadata.annotations.aiproc\.dev/spec-hash}'
      if ($live -and $live -ne "$name/$hash") {
        Say "  source $name changed: recreating it"
        Invoke-Kubectl @('-n', $Namespace, 'delete', 'rabbitmqsource', $name, '--wait=true')
      }
    }
  } else {
    Say '  would recreate every RabbitmqSource whose spec hash differs from the live one'
  }
  foreach ($f in @(Get-DistFile 'aiproc-functions') + @(Get-DistFile 'aiproc-ui')) { Invoke-Kubectl @('apply', '--server-side', '--force-conflicts', '-f', $f) }
}

function Step-wait {
  Say '  waiting for the database migrations'
  Invoke-Kubectl @('-n', $Namespace, 'wait', '--for=condition=complete', 'job', '-l', 'app.kubernetes.io/name=supabase-migrate', '--timeout=900s')
  Say '  waiting for the Knative Services (a first model pull can take many minutes)'
  if ($DryRun) {
    Say "  would wait up to $WaitTimeoutS s for every Knative Service to be Ready, showing progress"
  } else {
    $start = Get-Date
    while ($true) {
      Invoke-Quiet { kubectl --context $Context -n $Namespace wait '--for=condition=Ready' ksvc --all '--timeout=20s' } | Out-Null
      if ($LASTEXITCODE -eq 0) { break }
      $elapsed = [int]((Get-Date) - $start).TotalSeconds
      if ($elapsed -ge $WaitTimeoutS) { Fail "not ready after $WaitTimeoutS s; see: kubectl -n $Namespace get ksvc,pods" }
      Invoke-Quiet { kubectl --context $Context -n $Namespace get ksvc --no-headers } | ForEach-Object {
        $cols = $_ -split '\s+'
        Say ('    {0,-28} ready={1}' -f $cols[0], $cols[2])
      }
      Say "    ... $elapsed s"
    }
  }
  Say '  waiting for n8n and OpenWebUI'
  Invoke-Kubectl @('-n', $Namespace, 'wait', '--for=condition=Available', 'deployment/n8n', 'deployment/openwebui', '--timeout=900s')
}

# Forwards localhost:Port to a Service in a hidden background process that outlives the script.
function Start-PortForward([string]$Svc, [int]$Port) {
  if ($DryRun) {
    Say "  would run: kubectl -n $Namespace port-forward svc/$Svc ${Port}:$Port (in the background)"
    return
  }
  $p = Start-Process -FilePath kubectl -ArgumentList @('--context', $Context, '-n', $Namespace, 'port-forward', "svc/$Svc", "${Port}:$Port") -WindowStyle Hidden -PassThru
  Say "  port-forward localhost:$Port -> $Svc (process $($p.Id); stop it with: Stop-Process -Id $($p.Id))"
}

function Step-urls {
  $api = "http://splitter.$Namespace.127.0.0.1.sslip.io"
  if (-not $DryRun) {
    $url = Invoke-Quiet { kubectl --context $Context -n $Namespace get ksvc splitter -o 'jsonpath={.status.url}' }
    if ($url) { $api = $url }
  }
  # OpenWebUI and n8n are ClusterIP (unless -Expose): reached from this machine only, through port-forward.
  if (-not ($Expose -or $env:AIPROC_EXPOSE_UI)) {
    Start-PortForward 'openwebui' 3000
    Start-PortForward 'n8n' 5678
  }
  Say ''
  Say '  OpenWebUI:  http://localhost:3000'
  Say '  n8n:        http://localhost:5678'
  Say "  API:        $api/v1   (OpenAI-compatible)"
  Say "  API key:    kubectl -n $Namespace get secret aiproc-secrets -o jsonpath='{.data.AIPROC_API_KEYS}' (base64)"
  Say "  admin key:  kubectl -n $Namespace get secret aiproc-secrets -o jsonpath='{.data.AIPROC_ADMIN_KEYS}' (base64; all jobs, /v1/rules)"
  # AIPROC_MONITORING=1 (read by the charts) adds Prometheus and Grafana with the aiproc dashboard.
  if (@('1', 'true', 'yes', 'on') -contains "$env:AIPROC_MONITORING".Trim().ToLower()) {
    if (-not ($Expose -or $env:AIPROC_EXPOSE_UI)) { Start-PortForward 'grafana' 3001 }
    Say '  Grafana:    http://localhost:3001   (the aiproc dashboard; docs/observability.md)'
  }
}

function Step-down {
  Say "  removing aiproc from namespace $Namespace; keeping its data volumes and the Secret they need"
  # RabbitMQ's volume and its user and cookie Secrets belong to the cluster object and would go
  # with it; detached, they survive, and a later run's cluster takes them up again (the operator
  # reuses an existing default-user Secret, which matches the users stored on the volume).
  Say "  detaching RabbitMQ's volume and credentials from its cluster object so they survive"
  if (-not $DryRun) {
    $patch = New-TemporaryFile
    Set-Content -Path $patch -Value '[{"op":"remove","path":"/metadata/ownerReferences"}]' -Encoding ascii
    $objs = @(Invoke-Quiet { kubectl --context $Context -n $Namespace get pvc -l app.kubernetes.io/name=aiproc-rabbitmq -o name }) + @('secret/aiproc-rabbitmq-default-user', 'secret/aiproc-rabbitmq-erlang-cookie')
    foreach ($obj in $objs) {
      if ($obj) { Invoke-Quiet { kubectl --context $Context -n $Namespace patch $obj --type json --patch-file $patch.FullName } | Out-Null }
    }
    Remove-Item $patch
  } else {
    Say '  would remove the ownerReferences of the RabbitMQ volume claims and its default-user and erlang-cookie Secrets'
  }
  # By label and kind, never PersistentVolumeClaims: the data stays.
  Invoke-Kubectl @('-n', $Namespace, 'delete', '--ignore-not-found', '--wait=false', $DownKinds, '-l', 'app.kubernetes.io/part-of=aiproc')
  Say "  kept: namespace $Namespace, its PersistentVolumeClaims, Secret aiproc-secrets, StorageClass aiproc-local, the platform (Knative, operators)"
}

# --- Main -------------------------------------------------------------------------------------
Say "aiproc build-and-run$(if ($DryRun) { ' (dry run: nothing is changed)' })"
Say "  context: $Context   namespace: $Namespace   models: $(if ($ModelList) { $ModelList } else { "all in $ModelsFile" })   cpu-only: $(if ($script:CpuOnlyMode) { 'yes' } else { 'no' })   gpu sharing: $GpuSharing"
Say "  versions: Knative Serving $KnativeServingVersion (Kourier), Eventing $KnativeEventingVersion, eventing-rabbitmq $EventingRabbitmqVersion, cert-manager $CertManagerVersion, RabbitMQ cluster operator $RabbitmqClusterOperatorVersion, topology operator $RabbitmqTopologyOperatorVersion"

if ($Down) {
  Invoke-Step 'preflight' 'Check docker, kubectl and the cluster'
  Invoke-Step 'down' 'Remove aiproc, keep the data'
  exit 0
}

Invoke-Step 'preflight' 'Check docker, kubectl and the cluster'
Invoke-Step 'dependencies' "Install the project's packages (Node 24 included)"
Invoke-Step 'kubernetes-version' "Check the cluster's Kubernetes is new enough for Knative"
Invoke-Step 'platform' 'Install or upgrade cert-manager, Knative Serving + Kourier, Knative Eventing, RabbitMQ operators, RabbitMQ source'
Invoke-Step 'knative-config' 'Configure Knative: volumes, GPU scheduling, long timeouts, local images'
Invoke-Step 'gpu' 'NVIDIA device plugin, or the CPU-only fallback'
Invoke-Step 'secrets' 'Create the namespace and its Secret'
Invoke-Step 'build' 'Build the functions image'
Invoke-Step 'synth' 'Synthesise the manifests (cdk8s)'
Invoke-Step 'apply' 'Apply the manifests'
Invoke-Step 'wait' 'Wait until everything is ready'
Invoke-Step 'urls' 'Where to open things'
