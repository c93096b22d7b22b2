# qmaudit-probe: guest_kvp
# qmaudit-kind: read
# The Data Exchange (KVP) values the host pushes into the guest, read inside the guest through
# PowerShell Direct from HKLM:\SOFTWARE\Microsoft\Virtual Machine\Guest\Parameters (QM-14:
# PhysicalHostName follows the VM to its new host). Run it on the VM's current owner.
# PowerShell Direct requires guest credentials: they arrive only as the parameters guest_user and
# guest_password, never as source text, and the password is masked in every error message.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

$vmName = [string]$Params.vm_name
if ([string]::IsNullOrEmpty($vmName)) { throw 'qmaudit: guest_kvp needs the parameter vm_name' }
$guestUser = [string]$Params.guest_user
$guestPassword = [string]$Params.guest_password
if ([string]::IsNullOrEmpty($guestUser) -or [string]::IsNullOrEmpty($guestPassword)) {
    throw 'qmaudit: guest_kvp needs the parameters guest_user and guest_password (PowerShell Direct requires guest credentials)'
}

$secret = ConvertTo-SecureString -String $guestPassword -AsPlainText -Force
$credential = [System.Management.Automation.PSCredential]::new($guestUser, $secret)

try {
    # Name/value pairs as plain strings, flattened: deserialised dictionaries and decorated strings
    # would not serialise to plain JSON on Windows PowerShell 5.1.
    $pairs = @(Invoke-Command -VMName $vmName -Credential $credential -ScriptBlock {
            $key = Get-Item -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Virtual Machine\Guest\Parameters'
            foreach ($valueName in $key.GetValueNames()) {
                [string]$valueName
                [string]$key.GetValue($valueName)
            }
        })
} catch {
    $message = [string]$_.Exception.Message
    throw ("qmaudit: PowerShell Direct to VM '{0}' on {1} failed: {2}" -f $vmName, $env:COMPUTERNAME, $message.Replace($guestPassword, '********'))
}

if ($pairs.Count % 2 -ne 0) {
    throw ("qmaudit: VM '{0}' answered an odd number of KVP name/value strings ({1})" -f $vmName, $pairs.Count)
}
$items = [ordered]@{}
for ($i = 0; $i -lt $pairs.Count; $i += 2) {
    $items[[string]$pairs[$i]] = [string]$pairs[$i + 1]
}

$doc = [ordered]@{
    node     = [string]$env:COMPUTERNAME
    host_utc = $null
    items    = $items
}
$doc.host_utc = ConvertTo-QmUtc ([DateTime]::UtcNow)
ConvertTo-Json -InputObject $doc -Depth 8 -Compress
