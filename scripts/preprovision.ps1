#!/usr/bin/env pwsh
# azd preprovision hook (Windows): the same checks as preprovision.sh, all in preprovision.py (the azd
# environment's choices; with CUSTOM_VISION_SKU=F0, no other free Custom Vision account of the same kind).
# Needs Python 3 (the py launcher or python on PATH), and az (signed in) only for F0.
$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$script = Join-Path $PSScriptRoot 'preprovision.py'
if (Get-Command py -ErrorAction SilentlyContinue) {
    & py -3 $script @args
} elseif (Get-Command python -ErrorAction SilentlyContinue) {
    & python $script @args
} else {
    Write-Error 'preprovision: Python 3 is not installed (neither py nor python is on PATH); install it, then run scripts/preprovision.ps1 again.'
}
exit $LASTEXITCODE
