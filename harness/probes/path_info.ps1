# qmaudit-probe: path_info
# qmaudit-kind: read
# Whether this node reaches a path (a CSV folder, a cluster disk mount point or an SMB share) and
# what it resolves to (QM-12). Read only.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

$path = [string]$Params.path
if ([string]::IsNullOrEmpty($path)) { throw 'qmaudit: path_info needs the parameter path' }

# -LiteralPath everywhere: a folder named with [brackets] is a name, not a wildcard.
$exists = Test-Path -LiteralPath $path
$isDirectory = $false
$resolved = $null
if ($exists) {
    $isDirectory = Test-Path -LiteralPath $path -PathType Container
    $resolved = [string](Resolve-Path -LiteralPath $path).ProviderPath
}

$doc = [ordered]@{
    node          = [string]$env:COMPUTERNAME
    host_utc      = $null
    exists        = [bool]$exists
    is_directory  = [bool]$isDirectory
    resolved_path = $resolved
}
$doc.host_utc = ConvertTo-QmUtc ([DateTime]::UtcNow)
ConvertTo-Json -InputObject $doc -Depth 8 -Compress
