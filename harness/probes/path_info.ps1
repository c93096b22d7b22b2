# qmaudit-probe: path_info
# qmaudit-kind: read
# Whether this node reaches a path (a CSV folder, a cluster disk mount point or an SMB share) and
# what it resolves to (QM-12); for a UNC path, whether this node's SMB connections to its share
# are continuously available (QM-02). Read only.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

$path = [string]$Params.path
if ([string]::IsNullOrEmpty($path)) { throw 'qmaudit: path_info needs the parameter path' }

# -LiteralPath everywhere: a folder named with [brackets] is a name, not a wildcard.
# Without network credentials (NTLM, Kerberos without delegation: the second hop) a share
# refuses this session although Hyper-V reaches it as the computer account; Test-Path would only
# say False, so the refusal is told apart from a missing path (docs/windows-fidelity.md).
$exists = $false
$accessDenied = $false
try {
    $null = Get-Item -LiteralPath $path -Force -ErrorAction Stop
    $exists = $true
} catch {
    $reason = $_.Exception
    if ($reason -is [System.UnauthorizedAccessException] -or [string]$_.CategoryInfo.Category -eq 'PermissionDenied') {
        $accessDenied = $true
    }
}
$isDirectory = $false
$resolved = $null
if ($exists) {
    $isDirectory = Test-Path -LiteralPath $path -PathType Container
    $resolved = [string](Resolve-Path -LiteralPath $path).ProviderPath
}

# For a UNC path: what this node's SMB client says about its connections to that share
# (Get-SmbConnection, MSFT_SmbConnection.ContinuouslyAvailable). Test-Path above opened one
# if the share was reachable. Several connections (one per user and credential) must all be
# continuously available; with none the node cannot tell (null).
$smb = $null
$unc = $path -replace '^\\\\\?\\UNC\\', '\\'
if ($unc -match '^\\\\([^\\?.][^\\]*)\\([^\\]+)') {
    $server = $Matches[1]
    $share = $Matches[2]
    $connections = @(Get-SmbConnection -ServerName $server -ErrorAction SilentlyContinue |
        Where-Object { $_.ShareName -eq $share })
    $available = $null
    if ($connections.Count -gt 0) {
        $available = -not ($connections | Where-Object { -not $_.ContinuouslyAvailable })
    }
    $smb = [ordered]@{
        server                 = [string]$server
        share                  = [string]$share
        connections            = [int]$connections.Count
        continuously_available = $available
    }
}

$doc = [ordered]@{
    node          = [string]$env:COMPUTERNAME
    host_utc      = $null
    exists        = [bool]$exists
    is_directory  = [bool]$isDirectory
    resolved_path = $resolved
    access_denied = [bool]$accessDenied
    smb           = $smb
}
$doc.host_utc = ConvertTo-QmUtc ([DateTime]::UtcNow)
ConvertTo-Json -InputObject $doc -Depth 8 -Compress
