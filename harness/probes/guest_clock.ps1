# qmaudit-probe: guest_clock
# qmaudit-kind: read
# The guest's UTC clock and last boot time read through PowerShell Direct, bracketed by this
# host's UTC clock sampled just before and just after (QM-15, QM-19). Run it on the VM's current
# owner: PowerShell Direct reaches only VMs running on the local host.
# PowerShell Direct requires guest credentials (Invoke-Command -VMName has a mandatory
# -Credential): they arrive only as the parameters guest_user and guest_password, never as source
# text, and the password is masked in every error message this probe writes.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

$vmName = [string]$Params.vm_name
if ([string]::IsNullOrEmpty($vmName)) { throw 'qmaudit: guest_clock needs the parameter vm_name' }
$guestUser = [string]$Params.guest_user
$guestPassword = [string]$Params.guest_password
if ([string]::IsNullOrEmpty($guestUser) -or [string]::IsNullOrEmpty($guestPassword)) {
    throw 'qmaudit: guest_clock needs the parameters guest_user and guest_password (PowerShell Direct requires guest credentials)'
}

$secret = ConvertTo-SecureString -String $guestPassword -AsPlainText -Force
$credential = [System.Management.Automation.PSCredential]::new($guestUser, $secret)

$before = [DateTime]::UtcNow
try {
    # Strings only cross the session: deserialised objects carry PSComputerName and friends.
    $answer = @(Invoke-Command -VMName $vmName -Credential $credential -ScriptBlock {
            $format = "yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'"
            $culture = [Globalization.CultureInfo]::InvariantCulture
            $now = [DateTime]::UtcNow.ToString($format, $culture)
            $boot = (Get-CimInstance -ClassName Win32_OperatingSystem).LastBootUpTime.ToUniversalTime()
            @($now, $boot.ToString($format, $culture))
        })
} catch {
    $message = [string]$_.Exception.Message
    throw ("qmaudit: PowerShell Direct to VM '{0}' on {1} failed: {2}" -f $vmName, $env:COMPUTERNAME, $message.Replace($guestPassword, '********'))
}
$after = [DateTime]::UtcNow

if ($answer.Count -ne 2) {
    throw ("qmaudit: VM '{0}' answered {1} values instead of 2 (guest UTC, last boot)" -f $vmName, $answer.Count)
}

$doc = [ordered]@{
    node                = [string]$env:COMPUTERNAME
    host_utc            = $null
    host_utc_before     = ConvertTo-QmUtc $before
    guest_utc           = [string]$answer[0]
    host_utc_after      = ConvertTo-QmUtc $after
    guest_last_boot_utc = [string]$answer[1]
}
$doc.host_utc = ConvertTo-QmUtc ([DateTime]::UtcNow)
ConvertTo-Json -InputObject $doc -Depth 8 -Compress
