# qmaudit-probe: lab_set_time_sync
# qmaudit-kind: lab-only
# Only the embedded lab cluster implements this action; on a real cluster it refuses to run.
throw 'qmaudit: lab_set_time_sync is a lab-only action and is never run on a real cluster'
