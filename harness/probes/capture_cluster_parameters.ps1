# qmaudit-probe: capture_cluster_parameters
# qmaudit-kind: read
# The private properties (Get-ClusterParameter) of every cluster resource in the named VMs'
# groups (capture): name, value as text and parameter type, per resource with its type and
# state. A group this cluster does not have is reported, not thrown. Read only.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

$names = @(foreach ($name in $Params.vm_names) { [string]$name })
Import-QmModule 'FailoverClusters'

$allGroups = @(Get-ClusterGroup)
$groups = @(foreach ($name in $names) {
    $entry = [ordered]@{ vm = $name; group = $null; found = $false; resources = @() }
    $match = @($allGroups | Where-Object { $_.Name -eq $name })
    if ($match.Count -gt 0) {
        $group = $match[0]
        $entry.group = [string]$group.Name
        $entry.found = $true
        $entry.resources = @(foreach ($r in @(Get-ClusterResource | Where-Object { $_.OwnerGroup.Name -eq $group.Name })) {
            $parameters = @(foreach ($p in @($r | Get-ClusterParameter)) {
                # The table shows the type as "Type"; the object's property is ParameterType.
                $type = $null
                foreach ($property in @('ParameterType', 'Type')) {
                    if ($null -ne $p.PSObject.Properties[$property]) { $type = [string]$p.$property; break }
                }
                $value = $null
                if ($null -ne $p.Value) { $value = [string](@($p.Value) -join ',') }
                [ordered]@{ name = [string]$p.Name; value = $value; type = $type }
            })
            [ordered]@{
                name          = [string]$r.Name
                resource_type = [string]$r.ResourceType.Name
                state         = [string]$r.State
                parameters    = $parameters
            }
        })
    }
    $entry
})

$doc = [ordered]@{
    node     = [string]$env:COMPUTERNAME
    host_utc = $null
    groups   = $groups
}
$doc.host_utc = ConvertTo-QmUtc ([DateTime]::UtcNow)
ConvertTo-Json -InputObject $doc -Depth 8 -Compress
