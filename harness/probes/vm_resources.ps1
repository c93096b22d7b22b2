# qmaudit-probe: vm_resources
# qmaudit-kind: read
# The VM's 'Virtual Machine' and 'Virtual Machine Configuration' cluster resources (QM-13, QM-01):
# identity, owner, state, OfflineAction, VmID, and the same resource as this node's registry shows
# it under HKLM:\Cluster\Resources\<id>; every private property, the common properties and the
# VM's group that the whole-VM fingerprint compares. The registry is only read here, never written.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

# Name -> value as text (arrays joined with ';') of a list of Get-ClusterParameter objects.
function ConvertTo-QmValues($Parameters) {
    $out = [ordered]@{}
    foreach ($p in @($Parameters | Sort-Object -Property Name)) {
        $value = $null
        if ($null -ne $p.Value) { $value = (@($p.Value) | ForEach-Object { [string]$_ }) -join ';' }
        $out[[string]$p.Name] = $value
    }
    return $out
}

# Every value of a registry key as text (PS* provider properties left out).
function Get-QmRegistryValues([string] $Path) {
    $out = [ordered]@{}
    if (-not (Test-Path -LiteralPath $Path -PathType Container)) { return $out }
    $values = Get-ItemProperty -LiteralPath $Path
    foreach ($p in @($values.PSObject.Properties | Where-Object { $_.Name -notlike 'PS*' } | Sort-Object -Property Name)) {
        $value = $null
        if ($null -ne $p.Value) { $value = (@($p.Value) | ForEach-Object { [string]$_ }) -join ';' }
        $out[[string]$p.Name] = $value
    }
    return $out
}

# A registry value as text, or null when the value does not exist.
function Get-QmRegistryText($Properties, [string] $Name) {
    if ($null -eq $Properties) { return $null }
    $property = $Properties.PSObject.Properties[$Name]
    if ($null -eq $property -or $null -eq $property.Value) { return $null }
    return [string]$property.Value
}

$vmId = ConvertTo-QmGuid $Params.vm_id
if ($null -eq $vmId) { throw 'qmaudit: vm_resources needs the parameter vm_id (a GUID)' }

Import-QmModule 'FailoverClusters'

$types = @('Virtual Machine', 'Virtual Machine Configuration')
$group = $null
$resources = @(foreach ($r in @(Get-ClusterResource | Where-Object { $types -contains $_.ResourceType.Name })) {
    $parameters = @($r | Get-ClusterParameter)
    $vmIdParameter = @($parameters | Where-Object { $_.Name -eq 'VmID' })
    $resourceVmId = $null
    if ($vmIdParameter.Count -gt 0) { $resourceVmId = ConvertTo-QmGuid $vmIdParameter[0].Value }
    if ($resourceVmId -ne $vmId) { continue }

    $offlineAction = $null
    $offlineParameter = @($parameters | Where-Object { $_.Name -eq 'OfflineAction' })
    if ($offlineParameter.Count -gt 0 -and $null -ne $offlineParameter[0].Value) {
        $offlineAction = [int]$offlineParameter[0].Value
    }

    $key = 'HKLM:\Cluster\Resources\' + [string]$r.Id
    $registry = [ordered]@{ present = $false; name = $null; type = $null; vm_id = $null; parameters = [ordered]@{} }
    if (Test-Path -LiteralPath $key -PathType Container) {
        $values = Get-ItemProperty -LiteralPath $key
        $registry.present = $true
        $registry.name = Get-QmRegistryText $values 'Name'
        $registry.type = Get-QmRegistryText $values 'Type'
        $parametersKey = $key + '\Parameters'
        if (Test-Path -LiteralPath $parametersKey -PathType Container) {
            $registry.parameters = Get-QmRegistryValues $parametersKey
            $rawVmId = Get-QmRegistryText (Get-ItemProperty -LiteralPath $parametersKey) 'VmID'
            # Normalised like every other VMId in the documents; an unparsable value is kept raw.
            $registry.vm_id = $rawVmId
            if ($null -ne (ConvertTo-QmGuid $rawVmId)) { $registry.vm_id = ConvertTo-QmGuid $rawVmId }
        }
    }

    if ($null -eq $group) {
        $g = $r.OwnerGroup
        $group = [ordered]@{
            name               = [string]$g.Name
            priority           = [string]$g.Priority
            failover_threshold = [string]$g.FailoverThreshold
            failover_period    = [string]$g.FailoverPeriod
            auto_failback_type = [string]$g.AutoFailbackType
            failback_window    = ('{0}-{1}' -f $g.FailbackWindowStart, $g.FailbackWindowEnd)
            preferred_owners   = (@(foreach ($o in @(($g | Get-ClusterOwnerNode).OwnerNodes)) { [string]$o.Name }) -join ';')
        }
    }
    $common = [ordered]@{
        restart_action          = [string]$r.RestartAction
        restart_threshold       = [string]$r.RestartThreshold
        restart_period          = [string]$r.RestartPeriod
        pending_timeout         = [string]$r.PendingTimeout
        retry_period_on_failure = [string]$r.RetryPeriodOnFailure
        possible_owners         = (@(foreach ($o in @(($r | Get-ClusterOwnerNode).OwnerNodes)) { [string]$o.Name }) -join ';')
    }

    [ordered]@{
        id             = ConvertTo-QmGuid $r.Id
        name           = [string]$r.Name
        resource_type  = [string]$r.ResourceType.Name
        owner_group    = [string]$r.OwnerGroup.Name
        owner_node     = [string]$r.OwnerNode.Name
        state          = [string]$r.State
        offline_action = $offlineAction
        vm_id          = $resourceVmId
        registry       = $registry
        private        = ConvertTo-QmValues $parameters
        common         = $common
    }
})

$doc = [ordered]@{
    node      = [string]$env:COMPUTERNAME
    host_utc  = $null
    resources = $resources
    group     = $group
}
$doc.host_utc = ConvertTo-QmUtc ([DateTime]::UtcNow)
ConvertTo-Json -InputObject $doc -Depth 8 -Compress
