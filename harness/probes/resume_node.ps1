# qmaudit-probe: resume_node
# qmaudit-kind: action
# Resumes a paused node after a drain (QM-18) without failing roles back to it, so the audit
# alone decides what moves next: Resume-ClusterNode -Failback NoFailback. Cluster errors are
# rethrown with their Win32 code.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

$nodeName = [string]$Params.node
if ([string]::IsNullOrEmpty($nodeName)) { throw 'qmaudit: resume_node needs the parameter node' }

Import-QmModule 'FailoverClusters'

try {
    $target = Resume-ClusterNode -Name $nodeName -Failback NoFailback
} catch {
    $failure = $_
    throw ("qmaudit: resuming '{0}' failed: {1} (Win32 error {2})" -f $nodeName, (Get-QmFailureText $failure), (Get-QmWin32Code $failure))
}

$doc = [ordered]@{
    node     = [string]$env:COMPUTERNAME
    host_utc = $null
    target   = [ordered]@{
        name         = [string]$target.Name
        state        = [string]$target.State
        drain_status = [string]$target.DrainStatus
    }
}
$doc.host_utc = ConvertTo-QmUtc ([DateTime]::UtcNow)
ConvertTo-Json -InputObject $doc -Depth 8 -Compress
