#!/usr/bin/env pwsh
# azd postdeploy hook (Windows): the same steps as postdeploy.sh, all in postdeploy.py (refresh Key Vault
# references, wait for indexing, read the blobs_extension key, warm the app, create the Event Grid subscription).
# Needs Python 3 (the py launcher or python on PATH) and az (signed in).
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$script = Join-Path $PSScriptRoot 'postdeploy.py'
if (Get-Command py -ErrorAction SilentlyContinue) {
    & py -3 $script @args
} elseif (Get-Command python -ErrorAction SilentlyContinue) {
    & python $script @args
} else {
    Write-Error 'postdeploy: Python 3 is not installed (neither py nor python is on PATH); install it, then run scripts/postdeploy.ps1 again.'
}
exit $LASTEXITCODE
